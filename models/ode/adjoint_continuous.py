"""The continuous adjoint (the lecture's Algorithm 1), carrying the step size across outputs."""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import once_differentiable

from .adjoint_spec import AdjointSpec
from .integrator import Integrator
from .odeint import solve
from .problem import VectorField


class ContinuousAdjoint(torch.autograd.Function):
    """Forward: solve without a graph. Backward: solve the augmented system back to t[0]."""

    @staticmethod
    def forward(
        ctx: Any, spec: AdjointSpec, y0: torch.Tensor, *params: torch.Tensor
    ) -> torch.Tensor:
        problem = spec.problem
        ys = solve(problem, spec.method, spec.options, spec.rtol, spec.atol, spec.stats)
        ctx.spec = spec
        # y0 and the parameters too, so that changing them in place before backward is an error.
        ctx.save_for_backward(ys, y0, *params)
        return ys

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_ys: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        ys, *_ = ctx.saved_tensors  # unpacking checks that none was changed in place
        grad_y0, grad_params = _solve_backward(ctx.spec, ys, grad_ys)
        return (None, grad_y0, *grad_params)


class AugmentedField:
    """``d/dt [z, a, a_θ] = [f(t, z), -aᵀ ∂f/∂z, -aᵀ ∂f/∂θ]`` on the flat augmented state.

    One evaluation is one call of f with a graph and one vector-Jacobian product; it counts as
    one evaluation in the field's stats.
    """

    def __init__(self, field: VectorField, params: tuple[torch.Tensor, ...]) -> None:
        self.field = field
        self.size = field.shape.numel()
        self.params = params

    def __call__(self, t: float, state: torch.Tensor) -> torch.Tensor:
        n = self.size
        with torch.enable_grad():
            z = state[:n].detach().requires_grad_(True)
            dz = self.field(t, z)
            inputs = (z, *self.params)
            grads: tuple[torch.Tensor | None, ...]
            if dz.requires_grad:
                grads = torch.autograd.grad(dz, inputs, -state[n : 2 * n], allow_unused=True)
            else:  # f depends on neither z nor a parameter: the adjoint does not move
                grads = (None,) * len(inputs)
        pieces = [dz.detach()]
        for grad, like in zip(grads, inputs, strict=True):
            piece = torch.zeros_like(like) if grad is None else grad
            pieces.append(piece.reshape(-1).to(state))
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
    field = AugmentedField(problem.field(spec.adjoint_stats), spec.params)
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
        grad_params.append(state[offset : offset + size].view_as(param).to(param))
        offset += size
    return grad_y0, grad_params
