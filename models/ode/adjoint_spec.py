"""``AdjointSpec``: what a backward pass of ``odeint_adjoint`` needs besides tensors (shared by the
continuous and the discrete adjoint, which ``models.ode.adjoint`` chooses between)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .controller import FlatNorm, rms_norm
from .method import Method
from .options import SolverOptions
from .problem import Problem
from .stats import SolveStats


@dataclass(frozen=True)
class AdjointSpec:
    """Everything a backward pass needs besides tensors.

    Attributes:
        problem: the forward problem.
        method, options, rtol, atol: the forward solve.
        params: the parameters that receive gradients (those of adjoint_params requiring grad).
        stats: forward counters; adjoint_stats: backward counters.
        backward_method, backward_options, backward_rtol, backward_atol, backward_norm: the
            continuous adjoint's backward solve (unused by the discrete mode).
    """

    problem: Problem
    method: Method
    options: SolverOptions
    rtol: float
    atol: float
    params: tuple[torch.Tensor, ...]
    stats: SolveStats
    adjoint_stats: SolveStats
    backward_method: Method | None = None
    backward_options: SolverOptions | None = None
    backward_rtol: float = 0.0
    backward_atol: float = 0.0
    seminorm: bool = True
    backward_user_norm: FlatNorm | None = None

    def backward_norm(self, state_size: int) -> FlatNorm:
        """The backward solve's error norm; the seminorm leaves the parameter adjoint out."""
        if self.backward_user_norm is not None:
            return self.backward_user_norm
        if self.seminorm:
            return lambda error: rms_norm(error[: 2 * state_size])
        return rms_norm
