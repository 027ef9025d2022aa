"""The Butcher tableau of an explicit Runge-Kutta method, with its dense output.

A tableau is plain data: it checks its own consistency when it is built, so a typo in a
coefficient fails at import time instead of silently lowering a method's order.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from .dense import polynomial_weights

_TOLERANCE = 1e-12


@dataclass(frozen=True)
class ButcherTableau:
    """An explicit Runge-Kutta method with s stages.

    Attributes:
        name: the method's name, as used in error messages.
        order: the order of the solution weights ``b``.
        c: stage times as fractions of the step, shape [s].
        a: lower-triangular stage weights; row i has i entries (row 0 is empty).
        b: solution weights, shape [s].
        b_error: weights of the embedded error estimate (``b - b_hat``), shape [s], or None for a
            fixed-step method.
        dense: continuous extension: ``dense[j][m]`` is the coefficient of ``θ**(m+1)`` in the
            weight of stage j, so that ``y(t0 + θ h) = y0 + h Σ_j b_j(θ) k_j``; shape [s][p].
        fsal: the last stage is evaluated at the new solution (first same as last), so it is the
            next step's first stage.
    """

    name: str
    order: int
    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    b_error: tuple[float, ...] | None
    dense: tuple[tuple[float, ...], ...]
    fsal: bool = False

    def __post_init__(self) -> None:
        stages = len(self.c)
        problems = []
        if len(self.a) != stages or any(len(row) != i for i, row in enumerate(self.a)):
            problems.append(f"a must be strictly lower triangular with {stages} rows")
        elif any(abs(sum(row) - ci) > _TOLERANCE for row, ci in zip(self.a, self.c, strict=True)):
            problems.append("each row of a must sum to its c")
        if len(self.b) != stages or abs(sum(self.b) - 1.0) > _TOLERANCE:
            problems.append("b must have one weight per stage and sum to 1")
        if self.b_error is not None and (
            len(self.b_error) != stages or abs(sum(self.b_error)) > _TOLERANCE
        ):
            problems.append("b_error must have one weight per stage and sum to 0")
        if len(self.dense) != stages:
            problems.append("dense must have one polynomial per stage")
        else:
            at_end = [sum(poly) for poly in self.dense]
            if any(abs(e - bi) > 1e-10 for e, bi in zip(at_end, self.b, strict=True)):
                problems.append("the dense output at theta=1 must equal b (continuity)")
            if abs(sum(poly[0] for poly in self.dense) - 1.0) > 1e-10:
                problems.append("the dense output's weights must sum to θ near θ=0 (consistency)")
        if self.fsal and (self.c[-1] != 1.0 or self.a[-1] != self.b[:-1] or self.b[-1] != 0.0):
            problems.append("fsal needs a last stage at c=1 with weights b")
        if problems:
            raise ValueError(f"invalid Butcher tableau {self.name!r}: " + "; ".join(problems))

    @property
    def stages(self) -> int:
        return len(self.c)

    @property
    def adaptive(self) -> bool:
        return self.b_error is not None


@dataclass(frozen=True)
class TableauTensors:
    """A tableau's coefficients as tensors on one device and dtype, built once per solve.

    a_rows[i]: [i]; b, b_error: [s]; dense: as ``DenseStep.weights``, [p + 1, s + 1].
    """

    a_rows: tuple[torch.Tensor, ...]
    b: torch.Tensor
    b_error: torch.Tensor | None
    dense: torch.Tensor


@functools.lru_cache(maxsize=64)
@torch.inference_mode(False)  # cached for later solves, which may need them saved for backward
def tableau_tensors(
    tableau: ButcherTableau, dtype: torch.dtype, device: torch.device
) -> TableauTensors:
    def as_tensor(values: object) -> torch.Tensor:
        return torch.tensor(values, dtype=dtype, device=device)

    # Power-major: row r holds every stage's coefficient of θ^(r+1).
    by_power = [list(row) for row in zip(*tableau.dense, strict=True)]
    dense = polynomial_weights(by_power, dtype, device)
    return TableauTensors(
        a_rows=tuple(as_tensor(row) for row in tableau.a),
        b=as_tensor(tableau.b),
        b_error=None if tableau.b_error is None else as_tensor(tableau.b_error),
        dense=dense,
    )


def hermite_dense(b: tuple[float, ...]) -> tuple[tuple[float, ...], ...]:
    """Cubic Hermite dense output written as stage weights (third order).

    Uses y0, f0 = k_0, y1 = y0 + h sum b_j k_j and f1 = k_last, which is f(t1, y1) for a FSAL
    method. ``y(theta) = y0 + (3θ²-2θ³)(y1-y0) + h[(θ-2θ²+θ³) f0 + (θ³-θ²) f1]``.
    """
    polys = []
    for j, bj in enumerate(b):
        poly = [0.0, 3.0 * bj, -2.0 * bj]
        if j == 0:
            poly = [poly[0] + 1.0, poly[1] - 2.0, poly[2] + 1.0]
        if j == len(b) - 1:
            poly = [poly[0], poly[1] - 1.0, poly[2] + 1.0]
        polys.append(tuple(poly))
    return tuple(polys)


def quartic_dense(b: tuple[float, ...], mid: tuple[float, ...]) -> tuple[tuple[float, ...], ...]:
    """Quartic dense output through y0, f0, y1, f1 and a midpoint value (fourth order).

    ``mid`` are the weights giving ``y(t0 + h/2) = y0 + h sum_j mid_j k_j``; the last stage must
    be f(t1, y1) (FSAL). The quartic p(θ) with p(0)=y0, p'(0)=h f0, p(1)=y1, p'(1)=h f1 and
    p(1/2)=y_mid is linear in those values, so it is a polynomial weight per stage.
    """
    # Rows: conditions on p(θ) - y0 = sum_m x_m θ^m (m = 1..4); columns: monomials θ..θ⁴.
    conditions = np.array(
        [
            [1.0, 0.0, 0.0, 0.0],  # p'(0)
            [1.0, 1.0, 1.0, 1.0],  # p(1) - y0
            [1.0, 2.0, 3.0, 4.0],  # p'(1)
            [0.5, 0.25, 0.125, 0.0625],  # p(1/2) - y0
        ]
    )
    inverse = np.linalg.inv(conditions)
    last = len(b) - 1
    polys = []
    for j in range(len(b)):
        # Right-hand side per unit h*k_j: [f0, y1-y0, f1, y_mid-y0] contributions of stage j.
        rhs = np.array([1.0 if j == 0 else 0.0, b[j], 1.0 if j == last else 0.0, mid[j]])
        polys.append(tuple(float(x) for x in inverse @ rhs))
    return tuple(polys)
