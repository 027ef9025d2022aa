"""The continuous adjoint (the lecture's Algorithm 1), carrying the step size across outputs."""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import once_differentiable

from .adjoint import AdjointSpec
from .integrator import Integrator
from .odeint import solve
from .problem import UserFunc
from .stats import SolveStats


class ContinuousAdjoint(torch.autograd.Function):
    """Forward: solve without a graph. Backward: solve the augmented system back to t[0]."""

    @staticmethod
    def forward(
        ctx: Any, spec: AdjointSpec, y0: torch.Tensor, *params: torch.Tensor
    ) -> torch.Tensor:
        problem = spec.problem
        ys = solve(problem, spec.method, spec.options, spec.rtol, spec.atol, spec.stats)
        ctx.spec = spec
        ctx.save_for_backward(ys)
        return ys

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_ys: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (ys,) = ctx.saved_tensors
        grad_y0, grad_params = _solve_backward(ctx.spec, ys, grad_ys)
        return (None, grad_y0, *grad_params)


class AugmentedField:
    """``d/dt [z, a, a_θ] = [f(t, z), -aᵀ ∂f/∂z, -aᵀ ∂f/∂θ]`` on the flat augmented state.

    One evaluation is one call of f with a graph and one vector-Jacobian product.
    """

    def __init__(
        self,
        func: UserFunc,
        shape: torch.Size,
        t_dtype: torch.dtype,
        params: tuple[torch.Tensor, ...],
        stats: SolveStats,
    ) -> None:
        self.func = func
        self.shape = shape
        self.size = shape.numel()
        self.t_dtype = t_dtype
        self.params = params
        self.stats = stats

    def __call__(self, t: float, state: torch.Tensor) -> torch.Tensor:
        self.stats.n_fevals += 1
        n = self.size
        with torch.enable_grad():
            z = state[:n].detach().view(self.shape).requires_grad_(True)
            time = torch.full((), t, dtype=self.t_dtype, device=state.device)
            dz = self.func(time, z)
            minus_a = -state[n : 2 * n].view(self.shape)
            grads = torch.autograd.grad(dz, (z, *self.params), minus_a, allow_unused=True)
        pieces = [dz.detach().reshape(-1)]
        for grad, like in zip(grads, (z, *self.params), strict=True):
            piece = torch.zeros_like(like) if grad is None else grad
            pieces.append(piece.reshape(-1).to(state.dtype))
        return torch.cat(pieces)


def _solve_backward(
    spec: AdjointSpec, ys: torch.Tensor, grad_ys: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Integrate the adjoint from t[-1] to t[0]; return dL/dy0 and dL/dθ for each parameter."""
    problem = spec.problem
    assert spec.backward_method is not None and spec.backward_options is not None
    n = problem.y0.numel()
    grad_ys = grad_ys.reshape(len(problem.times), n)
    param_sizes = [p.numel() for p in spec.params]
    state = torch.cat([ys[-1], grad_ys[-1], ys.new_zeros(sum(param_sizes))])
    field = AugmentedField(
        problem.func, problem.shape, problem.t_dtype, spec.params, spec.adjoint_stats
    )
    integrator = Integrator(
        spec.backward_method,
        field,
        float(problem.times[-1]),
        state,
        direction=-problem.direction,
        rtol=spec.backward_rtol,
        atol=spec.backward_atol,
        norm=spec.backward_norm(n),
        options=spec.backward_options,
        stats=spec.adjoint_stats,
        label=f"{spec.backward_method.name} (continuous adjoint, backward solve)",
    )
    for i in range(len(problem.times) - 2, -1, -1):
        integrator.advance_to(float(problem.times[i]))
        state = integrator.y.clone()
        state[:n] = ys[i]  # z back on the forward solution, as Algorithm 1 restarts from z(t_i)
        state[n : 2 * n] += grad_ys[i]
        if i > 0:
            integrator.restart(state)
    grad_y0 = state[n : 2 * n].view(problem.shape)
    grad_params = []
    offset = 2 * n
    for param, size in zip(spec.params, param_sizes, strict=True):
        grad_params.append(state[offset : offset + size].view_as(param).to(param.dtype))
        offset += size
    return grad_y0, grad_params
