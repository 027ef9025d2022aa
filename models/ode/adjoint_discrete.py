"""The discrete adjoint: the exact gradient of the computed solution, one step at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.autograd.function import once_differentiable

from .adjoint_spec import AdjointSpec
from .method import MethodState, StepResult
from .odeint import solve


@dataclass(frozen=True)
class Checkpoint:
    """An accepted step: the state it started from, where it ended, the outputs [i0, i1) in it."""

    state: MethodState
    t1: float
    i0: int
    i1: int


class DiscreteAdjoint(torch.autograd.Function):
    """Forward: solve without a graph, keeping each accepted step's starting state.

    Backward: for each step in reverse, recompute it with a graph and backpropagate the adjoint
    of its end state and of the outputs inside it; only one step's graph exists at a time.
    """

    @staticmethod
    def forward(
        ctx: Any, spec: AdjointSpec, y0: torch.Tensor, *params: torch.Tensor
    ) -> torch.Tensor:
        checkpoints: list[Checkpoint] = []

        def record(before: MethodState, result: StepResult, i0: int, i1: int) -> None:
            checkpoints.append(Checkpoint(before, result.state.t, i0, i1))

        ys = solve(
            spec.problem, spec.method, spec.options, spec.rtol, spec.atol, spec.stats, record
        )
        ctx.spec = spec
        ctx.checkpoints = checkpoints
        # So that changing y0 or a parameter in place before backward is an error.
        ctx.save_for_backward(y0, *params)
        return ys

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_ys: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        spec: AdjointSpec = ctx.spec
        ctx.saved_tensors  # noqa: B018 (unpacking checks that none was changed in place)
        problem = spec.problem
        grad_ys = grad_ys.reshape(len(problem.times), -1)
        field = problem.field(spec.adjoint_stats)
        params = spec.params
        grad_params = [torch.zeros_like(p) for p in params]
        adjoint: tuple[torch.Tensor | None, ...] = ()
        for checkpoint in reversed(ctx.checkpoints):
            with torch.enable_grad():
                inputs = tuple(x.detach().requires_grad_(True) for x in checkpoint.state.tensors)
                state = MethodState(inputs, checkpoint.state.times)
                result = spec.method.step(field, state, checkpoint.t1, with_error=False)
                outputs = list(result.state.tensors)
                cotangents = list(adjoint) or [None] * len(outputs)
                if checkpoint.i1 > checkpoint.i0:
                    times = problem.times_tensor[checkpoint.i0 : checkpoint.i1]
                    outputs.append(result.dense.evaluate(times))
                    cotangents.append(grad_ys[checkpoint.i0 : checkpoint.i1])
                adjoint = _backpropagate(outputs, cotangents, inputs, params, grad_params)
            spec.adjoint_stats.n_accepted += 1
        with torch.enable_grad():
            y0 = problem.y0.detach().reshape(-1).requires_grad_(True)
            start = spec.method.start(field, float(problem.times[0]), y0)
            (grad_y0,) = _backpropagate(
                list(start.tensors), list(adjoint), (y0,), params, grad_params
            )
        grad_y0 = grad_ys[0] if grad_y0 is None else grad_y0 + grad_ys[0]
        return (None, grad_y0.view(problem.shape), *grad_params)


def _backpropagate(
    outputs: list[torch.Tensor],
    cotangents: list[torch.Tensor | None],
    inputs: tuple[torch.Tensor, ...],
    params: tuple[torch.Tensor, ...],
    grad_params: list[torch.Tensor],
) -> tuple[torch.Tensor | None, ...]:
    """Vector-Jacobian product of one step; adds into ``grad_params``, returns the inputs' adjoint.

    Outputs without a cotangent (the end state of the last step) carry no gradient.
    """
    pairs = [
        (o, c)
        for o, c in zip(outputs, cotangents, strict=True)
        if c is not None and o.requires_grad
    ]
    if not pairs:
        return (None,) * len(inputs)
    grads = torch.autograd.grad(
        [o for o, _ in pairs], (*inputs, *params), [c for _, c in pairs], allow_unused=True
    )
    for total, grad in zip(grad_params, grads[len(inputs) :], strict=True):
        if grad is not None:
            total += grad
    return grads[: len(inputs)]
