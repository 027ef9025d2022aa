"""What every solver method provides: a state, and one step from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from .dense import DenseStep

# The vector field as the methods see it: time as a float64 number, the state flattened to [N].
Field = Callable[[float, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class MethodState:
    """Everything a method carries from one step to the next.

    Attributes:
        tensors: ``(y, f(t, y), *older derivatives)``, each of shape [N]. Runge-Kutta methods keep
            ``(y, f)``; Adams-Bashforth keeps the derivatives its formula needs, newest first.
        times: the times of ``y`` and of each older derivative, newest first (float64).
    """

    tensors: tuple[torch.Tensor, ...]
    times: tuple[float, ...]

    @property
    def t(self) -> float:
        return self.times[0]

    @property
    def y(self) -> torch.Tensor:
        return self.tensors[0]

    @property
    def f(self) -> torch.Tensor:
        return self.tensors[1]


@dataclass(frozen=True)
class StepResult:
    """One attempted step from ``MethodState`` to ``state``.

    Attributes:
        state: the state at the end of the step.
        error: the embedded error estimate divided by h, shape [N], or None (fixed-step methods,
            or when it was not asked for).
        dense: the continuous extension on the step.
    """

    state: MethodState
    error: torch.Tensor | None
    dense: DenseStep


class Method(Protocol):
    """A solver method: how to start, and how to take one step of a given size."""

    name: str
    order: int
    adaptive: bool

    def start(self, field: Field, t0: float, y0: torch.Tensor) -> MethodState: ...

    def step(
        self, field: Field, state: MethodState, t1: float, *, with_error: bool
    ) -> StepResult: ...


def start_with_derivative(field: Field, t0: float, y0: torch.Tensor) -> MethodState:
    """The common start: the state and its derivative at t0 (one evaluation)."""
    return MethodState((y0, field(t0, y0)), (t0,))
