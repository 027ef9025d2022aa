"""Step-size control: the scaled error norm, the next step's size, and the first step's."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .method import Field

FlatNorm = Callable[[torch.Tensor], torch.Tensor | float]


def rms_norm(x: torch.Tensor) -> torch.Tensor:
    """Root mean square of all entries."""
    return torch.linalg.vector_norm(x) / math.sqrt(x.numel())


@torch.no_grad()
def error_ratio(
    error: torch.Tensor,
    h: float,
    y0: torch.Tensor,
    y1: torch.Tensor,
    rtol: float,
    atol: float,
    norm: FlatNorm,
) -> float:
    """``norm(h * error / (atol + rtol * max(|y0|, |y1|)))``: a step is accepted when it is <= 1."""
    tolerance = torch.maximum(y0.abs(), y1.abs()).mul_(rtol).add_(atol)
    return float(norm(error.mul(abs(h)).div_(tolerance)))


def next_step_size(
    h: float, ratio: float, *, order: int, safety: float, ifactor: float, dfactor: float
) -> float:
    """The I-controller: scale h by ``safety * ratio^(-1/order)``, within [dfactor, ifactor].

    An accepted step (ratio <= 1) never shrinks the next one.
    """
    if ratio == 0.0:
        return h * ifactor
    if not math.isfinite(ratio):
        return h * dfactor
    smallest = 1.0 if ratio <= 1.0 else dfactor
    factor = min(ifactor, max(safety * ratio ** (-1.0 / order), smallest))
    return h * factor


@torch.no_grad()
def initial_step_size(
    field: Field,
    t0: float,
    y0: torch.Tensor,
    f0: torch.Tensor,
    *,
    direction: float,
    order: int,
    rtol: float,
    atol: float,
    norm: FlatNorm,
) -> float:
    """A first step from the scale of y and y' (Hairer, Nørsett & Wanner II.4); one evaluation.

    Returns the step's magnitude.
    """
    scale = y0.abs().mul(rtol).add_(atol)
    d0 = float(norm(y0 / scale))
    d1 = float(norm(f0 / scale))
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    y1 = torch.add(y0, f0, alpha=direction * h0)
    f1 = field(t0 + direction * h0, y1)
    d2 = float(norm((f1 - f0) / scale)) / h0
    if max(d1, d2) <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / (order + 1))
    return min(100.0 * h0, h1)
