"""Solver options: one validated, frozen set per solve, with every default named here."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
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
        cls, options: Mapping[str, Any] | None, allowed: frozenset[str], method: str
    ) -> SolverOptions:
        """Validate a user's ``options`` dict for ``method``; raise ValueError naming the key."""
        options = dict(options or {})
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise ValueError(
                f"options {unknown} do not apply to method {method!r}; it accepts {sorted(allowed)}"
            )
        parsed = cls(**options)
        parsed._check()
        return parsed

    def _check(self) -> None:
        positive = {
            "step_size": self.step_size,
            "first_step": self.first_step,
            "max_step": self.max_step,
            "safety": self.safety,
            "dfactor": self.dfactor,
        }
        for name, value in positive.items():
            if value is not None and not (isinstance(value, int | float) and value > 0):
                raise ValueError(f"options[{name!r}] must be a positive number, got {value!r}")
        if not (isinstance(self.min_step, int | float) and 0 <= self.min_step <= self.max_step):
            raise ValueError(
                f"options['min_step'] must be between 0 and max_step ({self.max_step}), "
                f"got {self.min_step!r}"
            )
        if not (isinstance(self.ifactor, int | float) and self.ifactor >= 1):
            raise ValueError(f"options['ifactor'] must be at least 1, got {self.ifactor!r}")
        if self.dfactor > 1 or self.safety > 1:
            raise ValueError("options['dfactor'] and options['safety'] must be at most 1")
        if not (isinstance(self.max_num_steps, int) and self.max_num_steps >= 1):
            raise ValueError(
                f"options['max_num_steps'] must be a positive integer, got {self.max_num_steps!r}"
            )
        if self.norm is not None and not callable(self.norm):
            raise ValueError("options['norm'] must be a callable mapping a tensor to a number")


OPTION_NAMES = frozenset(f.name for f in fields(SolverOptions))
