"""``odeint``: solve an initial value problem and return the solution at the requested times."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from .integrator import Integrator
from .method import Method, MethodState, StepResult
from .options import SolverOptions, is_real
from .problem import Problem, UserFunc, flat_norm, make_problem
from .registry import resolve
from .stats import SolveStats

# Called once per accepted step with the output indices [i0, i1) that fell inside it.
Recorder = Callable[[MethodState, StepResult, int, int], None]


def odeint(
    func: UserFunc,
    y0: torch.Tensor,
    t: torch.Tensor,
    *,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    method: str | None = "dopri5",
    options: Mapping[str, Any] | None = None,
    stats: SolveStats | None = None,
) -> torch.Tensor:
    """Solve ``dy/dt = func(t, y)``, ``y(t[0]) = y0`` and return y at every time in ``t``.

    Args:
        func: the vector field, ``func(t, y) -> dy/dt`` with t a 0-d tensor (t's dtype) and y
            shaped like y0.
        y0: initial state, any shape ``[*batch, D]``, float32 or float64, on any device.
        t: 1-D, strictly increasing or strictly decreasing output times; ``t[0]`` is the start.
            Time is handled in float64 whatever t's dtype.
        rtol, atol: tolerances of adaptive methods: a step is accepted when the RMS of
            ``error / (atol + rtol * max(|y0|, |y1|))`` is at most 1.
        method: a name in ``SOLVERS``.
        options: method options (see ``SolverOptions``); unknown keys raise ValueError.
        stats: filled with the evaluation and step counts of this solve.

    Returns:
        Tensor of shape ``[len(t), *y0.shape]``, ``result[0] == y0``. Values between steps come
        from each method's dense output, so output times never shorten a step.

    Raises:
        ValueError: bad ``t``, ``y0``, tolerances, method or options.
        SolverError: the solve could not reach ``t[-1]`` (too many steps, step-size underflow,
            non-finite state); the message names the time reached and what to change.
    """
    problem = make_problem(func, y0, t)
    check_tolerances(rtol, atol)
    solver, solver_options = resolve(method, options)
    result = solve(problem, solver, solver_options, rtol, atol, stats or SolveStats())
    return result.view(len(problem.times), *problem.shape)


def check_tolerances(rtol: float, atol: float, prefix: str = "") -> None:
    if not is_real(rtol) or not math.isfinite(rtol) or rtol < 0:
        raise ValueError(f"{prefix}rtol must be a finite number >= 0, got {rtol!r}")
    if not is_real(atol) or not math.isfinite(atol) or atol <= 0:
        raise ValueError(
            f"{prefix}atol must be a finite number > 0, got {atol!r}: a component at 0 has no "
            "relative scale; for an almost purely relative tolerance use a tiny atol like 1e-12"
        )


def solve(
    problem: Problem,
    method: Method,
    options: SolverOptions,
    rtol: float,
    atol: float,
    stats: SolveStats,
    record: Recorder | None = None,
) -> torch.Tensor:
    """The solution at ``problem.times`` as a [T, N] tensor (N = y0.numel())."""
    y0 = problem.y0.reshape(-1)
    writer = OutputWriter(problem, y0, track_grad=torch.is_grad_enabled(), record=record)
    if len(problem.times) > 1:
        integrator = Integrator(
            method,
            problem.field(stats),
            float(problem.times[0]),
            y0,
            direction=problem.direction,
            rtol=rtol,
            atol=atol,
            norm=flat_norm(options.norm, problem.shape),
            options=options,
            stats=stats,
            label=method.name,
        )
        for stop in stops(problem, method, options):
            integrator.advance_to(stop, writer)
    return writer.result()


def stops(problem: Problem, method: Method, options: SolverOptions) -> list[float]:
    """Times a solve must land on: only the last, unless a fixed-step method has no step_size,
    in which case it steps from one output time to the next (as torchdiffeq does)."""
    if method.adaptive or options.step_size is not None:
        return [float(problem.times[-1])]
    return problem.times[1:].tolist()


class OutputWriter:
    """Fills the output times that fall inside each accepted step, all of them at once."""

    def __init__(
        self, problem: Problem, y0: torch.Tensor, *, track_grad: bool, record: Recorder | None
    ) -> None:
        self.keys = problem.times * problem.direction  # increasing, for searchsorted
        self.direction = problem.direction
        self.times = problem.times_tensor
        self.record = record
        self.next = 1
        # Writing into one buffer saves a copy, but autograd needs separate pieces.
        self.chunks: list[torch.Tensor] | None = [y0[None]] if track_grad else None
        self.buffer: torch.Tensor | None = None
        if not track_grad:
            self.buffer = torch.empty(len(self.keys), y0.numel(), dtype=y0.dtype, device=y0.device)
            self.buffer[0] = y0

    def __call__(self, before: MethodState, result: StepResult) -> None:
        start = self.next
        end = int(np.searchsorted(self.keys, self.direction * result.state.t, side="right"))
        if end > start:
            times = self.times[start:end]
            if self.buffer is not None:
                result.dense.evaluate(times, out=self.buffer[start:end])
            else:
                assert self.chunks is not None
                self.chunks.append(result.dense.evaluate(times))
            self.next = end
        if self.record is not None:
            self.record(before, result, start, end)

    def result(self) -> torch.Tensor:
        if self.buffer is not None:
            return self.buffer
        assert self.chunks is not None
        # A copy even for a single time: the result must not alias the caller's y0.
        return torch.cat(self.chunks) if len(self.chunks) > 1 else self.chunks[0].clone()
