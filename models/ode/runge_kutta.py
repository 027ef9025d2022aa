"""One generic explicit Runge-Kutta step; a concrete method is its tableau."""

from __future__ import annotations

import torch

from .dense import DenseStep
from .method import Field, MethodState, StepResult, start_with_derivative
from .tableau import ButcherTableau, tableau_tensors


class RungeKutta:
    """An explicit Runge-Kutta method given by its Butcher tableau."""

    def __init__(self, tableau: ButcherTableau) -> None:
        self.tableau = tableau
        self.name = tableau.name
        self.order = tableau.order
        self.adaptive = tableau.adaptive

    def start(self, field: Field, t0: float, y0: torch.Tensor) -> MethodState:
        return start_with_derivative(field, t0, y0)

    def step(
        self, field: Field, state: MethodState, t1: float, *, with_error: bool = True
    ) -> StepResult:
        tab = self.tableau
        t0, y0 = state.t, state.y
        h = t1 - t0
        coeffs = tableau_tensors(tab, y0.dtype, y0.device)
        stages = [state.f]
        stage_input = y0
        for i in range(1, tab.stages):
            # Stage input y0 + h Σ_j a_ij k_j as one matrix-vector product.
            stage_input = torch.addmv(y0, torch.stack(stages).T, coeffs.a_rows[i], alpha=h)
            stages.append(field(t0 + tab.c[i] * h, stage_input))
        k = torch.stack(stages).T  # [N, s]: stacking rows and transposing is a cheap copy
        if tab.fsal:
            y1, f1 = stage_input, stages[-1]
        else:
            y1 = torch.addmv(y0, k, coeffs.b, alpha=h)
            f1 = field(t1, y1)
        error = None
        if with_error and coeffs.b_error is not None:
            error = torch.mv(k, coeffs.b_error)
        dense = DenseStep(t0, h, y0, stages, coeffs.dense)
        return StepResult(MethodState((y1, f1), (t1,)), error, dense)
