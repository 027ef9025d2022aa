"""An initial value problem as the solvers see it: validated inputs, a flat state, float64 times."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .controller import FlatNorm, rms_norm
from .options import Norm
from .stats import SolveStats

UserFunc = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Problem:
    """``dy/dt = func(t, y)``, ``y(times[0]) = y0``, wanted at every time in ``times``.

    Attributes:
        func: the user's vector field, called as ``func(t, y)`` with y shaped like y0.
        y0: the initial state as given, shape [*batch, D].
        times: output times in float64, strictly monotone, shape [T] (on the CPU).
        times_tensor: the same times, float64, on y0's device, shape [T].
        direction: +1.0 for increasing times, -1.0 for decreasing.
        t_dtype: dtype of the time the user's func receives (that of the given t).
    """

    func: UserFunc
    y0: torch.Tensor
    times: np.ndarray
    times_tensor: torch.Tensor
    direction: float
    t_dtype: torch.dtype

    @property
    def shape(self) -> torch.Size:
        return self.y0.shape

    def field(self, stats: SolveStats) -> VectorField:
        return VectorField(self.func, self.y0.shape, self.t_dtype, self.y0.device, stats)


def make_problem(func: UserFunc, y0: torch.Tensor, t: torch.Tensor) -> Problem:
    """Check ``func``, ``y0`` and ``t``; raise ValueError (TypeError for wrong types)."""
    if not callable(func):
        raise TypeError(f"func must be callable as func(t, y), got {type(func).__name__}")
    if not isinstance(y0, torch.Tensor) or y0.dtype not in (torch.float32, torch.float64):
        got = y0.dtype if isinstance(y0, torch.Tensor) else type(y0).__name__
        raise TypeError(
            f"y0 must be a float32 or float64 tensor, got {got}; half precision cannot meet "
            "solver tolerances (under autocast, keep y0 in float32: func's result is cast back)"
        )
    if y0.numel() == 0:
        raise ValueError("y0 is empty: give at least one state variable")
    if not bool(torch.isfinite(y0).all()):
        raise ValueError("y0 contains NaN or infinite values")
    if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.dim() != 1:
        raise ValueError("t must be a 1-D floating-point tensor of output times")
    if t.numel() == 0:
        raise ValueError("t is empty: give at least the initial time")
    if t.requires_grad:
        raise ValueError(
            "gradients with respect to t are not supported; pass t.detach() (the output times "
            "are treated as constants)"
        )
    # A copy: the backward pass reads these times after the caller may have changed t.
    times = t.detach().to(dtype=torch.float64, device="cpu").numpy().copy()
    not_finite = np.flatnonzero(~np.isfinite(times))
    if not_finite.size:
        i = int(not_finite[0])
        raise ValueError(f"t[{i}] is {float(times[i])}: every time must be finite")
    direction = 1.0 if len(times) < 2 or times[1] > times[0] else -1.0
    out_of_order = np.flatnonzero(np.diff(times) * direction <= 0)
    if out_of_order.size:
        i = int(out_of_order[0]) + 1
        raise ValueError(
            f"t must be strictly increasing or strictly decreasing, but t[{i - 1}]="
            f"{float(times[i - 1])!r} and t[{i}]={float(times[i])!r}; sort it and drop duplicates"
        )
    times_tensor = torch.from_numpy(times).to(y0.device)
    return Problem(func, y0, times, times_tensor, direction, t.dtype)


class VectorField:
    """The user's ``func`` on flat states with float64 times, counting its evaluations."""

    def __init__(
        self,
        func: UserFunc,
        shape: torch.Size,
        t_dtype: torch.dtype,
        device: torch.device,
        stats: SolveStats,
    ) -> None:
        self.func = func
        self.shape = shape
        self.t_dtype = t_dtype
        self.device = device
        self.stats = stats

    def time(self, t: float) -> torch.Tensor:
        return torch.full((), t, dtype=self.t_dtype, device=self.device)

    def __call__(self, t: float, y: torch.Tensor) -> torch.Tensor:
        self.stats.n_fevals += 1
        dy = self.func(self.time(t), y.view(self.shape))
        if not isinstance(dy, torch.Tensor) or dy.shape != self.shape or not dy.is_floating_point():
            got = (
                f"{tuple(dy.shape)} {dy.dtype}"
                if isinstance(dy, torch.Tensor)
                else type(dy).__name__
            )
            raise ValueError(
                f"func(t, y) must return a floating-point tensor shaped like y "
                f"{tuple(self.shape)}, got {got}"
            )
        # Under autocast func may answer in half precision; the solver keeps y's dtype.
        return dy.reshape(-1).to(y.dtype)


def flat_norm(norm: Norm | None, shape: torch.Size) -> FlatNorm:
    """The error norm on flat vectors: RMS by default, else the user's norm on y0's shape."""
    if norm is None:
        return rms_norm
    return lambda flat: norm(flat.view(shape))
