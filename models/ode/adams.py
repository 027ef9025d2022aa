"""Explicit Adams-Bashforth of orders 1-4 on any grid, started with RK4."""

from __future__ import annotations

import math

import torch

from .dense import hermite_step
from .method import Field, MethodState, StepResult, start_with_derivative
from .runge_kutta import RungeKutta
from .tables import RK4

# Two-point Gauss-Legendre on [0, 1]: exact for the cubic Lagrange polynomials of order 4.
_GAUSS_NODES = (0.5 - 0.5 / math.sqrt(3.0), 0.5 + 0.5 / math.sqrt(3.0))
# The weights grow like the ratios between step lengths; past this ratio (output times bunched
# together, without step_size) the method restarts from RK4 instead of amplifying errors.
MAX_STEP_RATIO = 5.0


def adams_bashforth_weights(times: tuple[float, ...], t1: float) -> list[float]:
    """Weights β_j with ``y1 = y0 + h Σ_j β_j f(times[j])``, h = t1 - times[0].

    β_j is the mean over [times[0], t1] of the Lagrange polynomial that is 1 at times[j] and 0 at
    the other times, so unequal spacing (a shortened last step, an irregular grid) stays exact for
    polynomials of degree len(times) - 1. On an even grid these are the textbook coefficients.
    """
    t0 = times[0]
    h = t1 - t0
    weights = []
    for j, tj in enumerate(times):
        mean = 0.0
        for node in _GAUSS_NODES:
            s = t0 + node * h
            basis = 1.0
            for m, tm in enumerate(times):
                if m != j:
                    basis *= (s - tm) / (tj - tm)
            mean += 0.5 * basis
        weights.append(mean)
    return weights


def steps_comparable(times: tuple[float, ...], t1: float) -> bool:
    """Whether the new step and the earlier ones differ in length by at most MAX_STEP_RATIO."""
    lengths = [abs(b - a) for a, b in zip((t1, *times[:-1]), times, strict=True)]
    return max(lengths) <= MAX_STEP_RATIO * min(lengths)


class AdamsBashforth:
    """Explicit k-step Adams-Bashforth (one evaluation a step); the first k-1 steps use RK4, and
    so does a step much longer or shorter than the earlier ones, which restarts the history.

    Its dense output is cubic Hermite between steps (third order).
    """

    adaptive = False

    def __init__(self, order: int = 4) -> None:
        if order not in (1, 2, 3, 4):
            raise ValueError(f"adams_bashforth order must be 1, 2, 3 or 4, got {order!r}")
        self.order = order
        self.name = f"adams_bashforth (order {order})"
        self._starter = RungeKutta(RK4)

    def start(self, field: Field, t0: float, y0: torch.Tensor) -> MethodState:
        return start_with_derivative(field, t0, y0)

    def step(
        self, field: Field, state: MethodState, t1: float, *, with_error: bool = False
    ) -> StepResult:
        history = state.tensors[1:]
        if len(history) < self.order or not steps_comparable(state.times, t1):
            started = self._starter.step(field, state, t1, with_error=False)
            y1, f1 = started.state.tensors
            if len(history) >= self.order:  # a restart: the old derivatives are spaced too far
                return StepResult(MethodState((y1, f1), (t1,)), None, started.dense)
            dense = started.dense
        else:
            h = t1 - state.t
            y1 = state.y
            # Python-float weights: no host-to-device copy per step on a GPU.
            for weight, derivative in zip(
                adams_bashforth_weights(state.times, t1), history, strict=True
            ):
                y1 = torch.add(y1, derivative, alpha=h * weight)
            f1 = field(t1, y1)
            dense = hermite_step(state.t, h, state.y, y1, state.f, f1)
        keep = self.order - 1
        new_state = MethodState((y1, f1, *history[:keep]), (t1, *state.times[:keep]))
        return StepResult(new_state, None, dense)
