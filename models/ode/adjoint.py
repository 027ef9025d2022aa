"""``odeint_adjoint``: ``odeint`` whose backward pass does not keep the forward graph."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import torch

from .adjoint_continuous import ContinuousAdjoint
from .adjoint_discrete import DiscreteAdjoint
from .adjoint_spec import AdjointSpec
from .odeint import check_tolerances, solve
from .problem import UserFunc, make_problem
from .registry import resolve
from .stats import SolveStats


class AdjointMode(StrEnum):
    CONTINUOUS = "continuous"
    DISCRETE = "discrete"


# Keys of adjoint_options that configure the adjoint itself rather than the backward solver.
_ADJOINT_KEYS = frozenset({"mode", "seminorm"})
# Forward options that do not carry over to the backward solve.
_FORWARD_ONLY = frozenset({"norm", "first_step"})


def odeint_adjoint(
    func: UserFunc,
    y0: torch.Tensor,
    t: torch.Tensor,
    *,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    method: str | None = "dopri5",
    options: Mapping[str, Any] | None = None,
    adjoint_rtol: float | None = None,
    adjoint_atol: float | None = None,
    adjoint_method: str | None = None,
    adjoint_options: Mapping[str, Any] | None = None,
    adjoint_params: tuple[torch.Tensor, ...] | list[torch.Tensor] | None = None,
    stats: SolveStats | None = None,
    adjoint_stats: SolveStats | None = None,
) -> torch.Tensor:
    """``odeint`` with gradients by an adjoint method instead of backpropagation through steps.

    ``adjoint_options["mode"]`` picks how:

    - ``"continuous"`` (default): the lecture's Algorithm 1. The forward solve keeps no graph; the
      backward pass solves ``[z, a, a_θ]`` from ``t[-1]`` back to ``t[0]``, adding ``dL/dy(t_i)``
      to ``a`` and resetting ``z`` to the forward solution at every output time, carrying its
      step size across them. Memory does not grow with the number of steps. Its gradient is
      accurate to the backward tolerances (``adjoint_rtol``, ``adjoint_atol``; default rtol, atol).
      ``adjoint_options["seminorm"]`` (default True) leaves ``a_θ`` out of the error norm. Other
      keys are options of ``adjoint_method`` (default: the forward method and its options).
    - ``"discrete"``: the exact gradient of the computed solution. The forward solve keeps each
      accepted step's state (memory: steps x state size); the backward pass recomputes one step
      at a time with a graph and backpropagates through it and its dense output.

    Args:
        adjoint_params: the tensors to differentiate besides y0; default ``func.parameters()``
            when func is a ``torch.nn.Module``. Those not requiring grad are left out.
        stats, adjoint_stats: filled with the forward and backward counters.

    Gradients with respect to ``t`` are not computed (``t`` must not require grad).
    """
    problem = make_problem(func, y0, t)
    check_tolerances(rtol, atol)
    forward_method, forward_options = resolve(method, options)
    adjoint_options = dict(adjoint_options or {})
    mode_name = adjoint_options.get("mode", AdjointMode.CONTINUOUS)
    try:
        mode = AdjointMode(mode_name)
    except ValueError:
        raise ValueError(
            f"adjoint_options['mode'] must be 'continuous' or 'discrete', got {mode_name!r}"
        ) from None
    spec = AdjointSpec(
        problem=problem,
        method=forward_method,
        options=forward_options,
        rtol=rtol,
        atol=atol,
        params=_differentiable_params(func, adjoint_params),
        stats=stats if stats is not None else SolveStats(),
        adjoint_stats=adjoint_stats if adjoint_stats is not None else SolveStats(),
    )
    if mode is AdjointMode.DISCRETE:
        _reject_backward_settings(adjoint_rtol, adjoint_atol, adjoint_method, adjoint_options)
        function: type[DiscreteAdjoint] | type[ContinuousAdjoint] = DiscreteAdjoint
    else:
        spec = _with_backward_solver(
            spec, method, options, adjoint_rtol, adjoint_atol, adjoint_method, adjoint_options
        )
        function = ContinuousAdjoint
    if len(problem.times) == 1:
        return y0.unsqueeze(0).clone()
    if torch.is_grad_enabled() and (y0.requires_grad or spec.params):
        ys = function.apply(spec, y0, *spec.params)
    else:  # nothing to differentiate: no checkpoints, no backward
        ys = solve(problem, forward_method, forward_options, rtol, atol, spec.stats)
    return ys.view(len(problem.times), *problem.shape)


def _differentiable_params(
    func: UserFunc, adjoint_params: tuple[torch.Tensor, ...] | list[torch.Tensor] | None
) -> tuple[torch.Tensor, ...]:
    if adjoint_params is None:
        if not isinstance(func, torch.nn.Module):
            raise ValueError(
                "func is not a torch.nn.Module, so its parameters are unknown: pass "
                "adjoint_params=(...) with the tensors to differentiate, or () for none"
            )
        adjoint_params = tuple(func.parameters())
    params = tuple(adjoint_params)
    if not all(isinstance(p, torch.Tensor) for p in params):
        raise ValueError("adjoint_params must be a sequence of tensors")
    # A tensor listed twice would get its gradient twice.
    unique = {id(p): p for p in params if p.requires_grad}
    return tuple(unique.values())


def _reject_backward_settings(
    rtol: float | None, atol: float | None, method: str | None, options: Mapping[str, Any]
) -> None:
    extra = sorted(set(options) - {"mode"})
    given = [
        name
        for name, value in (
            ("adjoint_rtol", rtol),
            ("adjoint_atol", atol),
            ("adjoint_method", method),
        )
        if value is not None
    ]
    if extra or given:
        raise ValueError(
            f"the discrete adjoint replays the forward steps and has no backward solver; "
            f"remove {given + [f'adjoint_options[{k!r}]' for k in extra]}"
        )


def _with_backward_solver(
    spec: AdjointSpec,
    method: str | None,
    options: Mapping[str, Any] | None,
    rtol: float | None,
    atol: float | None,
    adjoint_method: str | None,
    adjoint_options: dict[str, Any],
) -> AdjointSpec:
    backward_rtol = spec.rtol if rtol is None else rtol
    backward_atol = spec.atol if atol is None else atol
    check_tolerances(backward_rtol, backward_atol, prefix="adjoint_")
    adjoint_options = dict(adjoint_options)
    if adjoint_options.get("norm") == "seminorm":  # torchdiffeq's spelling
        del adjoint_options["norm"]
        adjoint_options.setdefault("seminorm", True)
    seminorm = adjoint_options.get("seminorm", True)
    if not isinstance(seminorm, bool):
        raise ValueError(f"adjoint_options['seminorm'] must be True or False, got {seminorm!r}")
    solver_options = {k: v for k, v in adjoint_options.items() if k not in _ADJOINT_KEYS}
    if adjoint_method is None or adjoint_method == method:
        inherited = {k: v for k, v in (options or {}).items() if k not in _FORWARD_ONLY}
        solver_options = inherited | solver_options
    backward_method, backward_options = resolve(
        adjoint_method or method, solver_options, name="adjoint_options"
    )
    return dataclasses.replace(
        spec,
        backward_method=backward_method,
        backward_options=backward_options,
        backward_rtol=backward_rtol,
        backward_atol=backward_atol,
        seminorm=seminorm,
        backward_user_norm=backward_options.norm,
    )
