"""``odeint_scattered``: each output its own time and its own member of the batch.

``odeint`` answers every batch member at every output time. A latent ODE predicting many series
at once asks each series at its own times: through ``odeint`` that is every series at the union
of all their times, so the output (and the dense-output work) grows with the square of the batch.
Here output k is member ``members[k]`` at ``times[k]`` only: one solve forwards and one backwards
from ``t0``, each accepted step answering the outputs that fall inside it from its dense output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from .dense import DenseStep
from .method import MethodState, StepResult
from .odeint import check_tolerances, solve
from .problem import UserFunc, make_problem
from .registry import resolve
from .stats import SolveStats


def odeint_scattered(
    func: UserFunc,
    y0: torch.Tensor,
    t0: float,
    times: np.ndarray,
    members: torch.Tensor,
    *,
    axis: int,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    method: str | None = "dopri5",
    options: Mapping[str, Any] | None = None,
    stats: SolveStats | None = None,
    readout: torch.Tensor | None = None,
) -> torch.Tensor:
    """Solve ``dy/dt = func(t, y)``, ``y(t0) = y0``; output k is ``y(times[k])`` of the batch
    member ``members[k]`` along ``axis``, or ``readout @ y(times[k])`` with a readout.

    Args:
        y0: initial state [*batch, D]; ``axis`` indexes one of the batch dimensions.
        times: output times [n] (float64, any order, before or after ``t0``).
        members: [n] indices along ``axis``, on y0's device.
        readout: an optional linear map [E, D] of every output's last dimension. Being linear,
            it is applied to each accepted step's few dense-output vectors instead of to every
            output, so the outputs are written E wide, not D: a latent state read out to fewer
            dimensions costs that much less to answer.
        the rest: as ``odeint``.

    Returns:
        [n, *rest]: y0's shape without ``axis`` (its last dimension E with a readout), one row per
        output. The solve covers the same steps as ``odeint`` at ``[t0, max(times)]`` (and
        backwards to ``min(times)``), so the answers are those ``odeint`` gives for the same
        times (up to rounding, with a readout).
    """
    check_tolerances(rtol, atol)
    solver, solver_options = resolve(method, options)
    if not solver.adaptive and solver_options.step_size is None:
        # ``odeint`` steps such a method from one output time to the next; here the outputs are
        # scattered over the members, so the step must be given.
        raise ValueError(f"{solver.name} is a fixed-step method: give options={{'step_size': h}}")
    axis = axis % y0.dim()
    if axis == y0.dim() - 1:
        raise ValueError("axis must index a batch dimension, not the state's last one")
    shape = y0.shape if readout is None else (*y0.shape[:-1], readout.shape[0])
    rest = [size for d, size in enumerate(shape) if d != axis]
    out = y0.new_empty(len(times), *rest)
    times = np.asarray(times, dtype=np.float64)
    at_start = np.flatnonzero(times == t0)
    if at_start.size:
        start = _read(y0, readout).index_select(axis, members[at_start])
        out[at_start] = start.movedim(axis, 0)
    for side in (times > t0, times < t0):
        wanted = np.flatnonzero(side)
        if not wanted.size:
            continue
        ordered = wanted[np.argsort(np.abs(times[wanted] - t0), kind="stable")]
        end = float(times[ordered[-1]])
        problem = make_problem(func, y0, torch.tensor([t0, end], dtype=torch.float64))
        writer = _ScatteredWriter(y0.shape, axis, times, ordered, members, out, readout)
        solve(problem, solver, solver_options, rtol, atol, stats or SolveStats(), writer)
    return out


class _ScatteredWriter:
    """Per accepted step: the outputs whose times it reached, from its dense output."""

    def __init__(
        self,
        shape: torch.Size,
        axis: int,
        times: np.ndarray,
        ordered: np.ndarray,
        members: torch.Tensor,
        out: torch.Tensor,
        readout: torch.Tensor | None,
    ) -> None:
        self.state_shape, self.axis, self.out, self.readout = shape, axis, out, readout
        self.ordered = ordered  # output indices, nearest to t0 first
        self.times = times
        self.members_np = members.cpu().numpy()
        self.keys = times[ordered]  # their times, monotone away from t0
        self.next = 0

    def __call__(self, before: MethodState, result: StepResult, start: int, end: int) -> None:
        sign = 1.0 if result.dense.h > 0 else -1.0
        stop = int(np.searchsorted(sign * self.keys, sign * float(result.state.t), side="right"))
        if stop > self.next:
            self._write(result.dense, self.ordered[self.next : stop])
            self.next = stop

    def _write(self, dense: DenseStep, rows: np.ndarray) -> None:
        times = torch.from_numpy(self.times[rows]).to(dense.y0.device)
        coefficients = dense.coefficients(times)  # [n, m+1]
        basis = _read(dense.basis().view(-1, *self.state_shape), self.readout)  # [m+1, *shape]
        basis = basis.movedim(self.axis + 1, 0)  # [B, m+1, *rest]
        by_member = basis.reshape(basis.shape[0], basis.shape[1], -1)  # [B, m+1, R], one copy
        members = self.members_np[rows]
        for member in np.unique(members):
            mine = members == member
            answer = torch.mm(coefficients[torch.from_numpy(mine)], by_member[member])  # [k, R]
            self.out[rows[mine]] = answer.view(-1, *self.out.shape[1:])


def _read(states: torch.Tensor, readout: torch.Tensor | None) -> torch.Tensor:
    """``readout`` applied to the last dimension of ``states`` [..., D]: [..., E]."""
    return states if readout is None else torch.matmul(states, readout.T)
