"""ODE solvers with dense output and adjoint gradients, call-compatible with torchdiffeq."""

from .adjoint import odeint_adjoint
from .errors import NonFiniteStateError, SolverError, StepSizeUnderflowError, TooManyStepsError
from .odeint import odeint
from .registry import SOLVERS
from .stats import SolveStats

__all__ = [
    "SOLVERS",
    "NonFiniteStateError",
    "SolveStats",
    "SolverError",
    "StepSizeUnderflowError",
    "TooManyStepsError",
    "odeint",
    "odeint_adjoint",
]
