"""Why a solve stopped early. Every message names the time reached and what to change."""

from __future__ import annotations


class SolverError(RuntimeError):
    """A solve that could not reach its final time.

    Attributes:
        t: the time the solver had reached (float64).
        method: the method's name.
    """

    def __init__(self, message: str, *, t: float, method: str) -> None:
        super().__init__(message)
        self.t = t
        self.method = method


class TooManyStepsError(SolverError):
    """More accepted and rejected steps than ``options["max_num_steps"]``."""


class StepSizeUnderflowError(SolverError):
    """The step size fell below what float64 time can resolve (16 ulps of t)."""


class NonFiniteStateError(SolverError):
    """The state or its derivative became NaN or infinite."""
