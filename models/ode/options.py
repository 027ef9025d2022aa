"""Solver options: one validated, frozen set per solve, with every default named here."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

DEFAULT_MAX_NUM_STEPS = 100_000
DEFAULT_SAFETY = 0.9
DEFAULT_IFACTOR = 10.0
DEFAULT_DFACTOR = 0.2
DEFAULT_AB_ORDER = 4

FIXED_STEP_OPTIONS = frozenset({"step_size", "max_num_steps"})
ADAMS_OPTIONS = FIXED_STEP_OPTIONS | {"order"}
ADAPTIVE_OPTIONS = frozenset(
    {"first_step", "max_num_steps", "min_step", "max_step", "safety", "ifactor", "dfactor", "norm"}
)

Norm = Callable[[torch.Tensor], torch.Tensor | float]


@dataclass(frozen=True)
class SolverOptions:
    """The ``options`` of a solve.

    Attributes:
        step_size: fixed-step methods: the step; None steps from one output time to the next.
        order: adams_bashforth only: 1-4.
        first_step: adaptive: the first step's size; None picks it (Hairer, Nørsett & Wanner II.4).
        max_num_steps: every method: accepted plus rejected steps before TooManyStepsError.
        min_step: adaptive: no step is smaller; a step at min_step is accepted whatever its error.
        max_step: adaptive: no step is larger.
        safety, ifactor, dfactor: adaptive: the controller's safety factor and its largest
            growth and shrink factors per step.
        norm: adaptive: maps the scaled error (shaped like y0) to a number; default RMS.
    """

    step_size: float | None = None
    order: int = DEFAULT_AB_ORDER
    first_step: float | None = None
    max_num_steps: int = DEFAULT_MAX_NUM_STEPS
    min_step: float = 0.0
    max_step: float = math.inf
    safety: float = DEFAULT_SAFETY
    ifactor: float = DEFAULT_IFACTOR
    dfactor: float = DEFAULT_DFACTOR
    norm: Norm | None = None

    @classmethod
    def parse(
        cls,
        options: Mapping[str, Any] | None,
        allowed: frozenset[str],
        method: str,
        name: str = "options",
    ) -> SolverOptions:
        """Validate a user's options for ``method``; ValueError names the key (as ``name[key]``)."""
        options = dict(options or {})
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise ValueError(
                f"{name} {unknown} do not apply to method {method!r}; it accepts {sorted(allowed)}"
            )
        parsed = cls(**options)
        parsed._check(name)
        return parsed

    def _check(self, name: str) -> None:
        def fail(key: str, rule: str) -> ValueError:
            return ValueError(f"{name}[{key!r}] must be {rule}, got {getattr(self, key)!r}")

        for key in ("step_size", "first_step", "max_step", "safety", "dfactor", "ifactor"):
            value = getattr(self, key)
            if value is not None and not (is_real(value) and value > 0 and not math.isnan(value)):
                raise fail(key, "a positive number")
        if not (is_real(self.min_step) and 0 <= self.min_step <= self.max_step):
            raise fail("min_step", f"between 0 and max_step ({self.max_step})")
        if self.ifactor < 1:
            raise fail("ifactor", "at least 1")
        if self.dfactor >= 1:
            raise fail("dfactor", "below 1 (a rejected step must shrink)")
        if self.safety > 1:
            raise fail("safety", "at most 1")
        if not (is_integer(self.max_num_steps) and self.max_num_steps >= 1):
            raise fail("max_num_steps", "a positive integer")
        if not (is_integer(self.order) and 1 <= self.order <= 4):
            raise fail("order", "1, 2, 3 or 4")
        if self.norm is not None and not callable(self.norm):
            raise fail("norm", "a callable mapping a tensor to a number")


def is_real(value: object) -> bool:
    """A real number, NumPy's included, but not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_integer(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
