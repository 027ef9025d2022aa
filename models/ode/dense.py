"""Dense output: the solution anywhere inside an accepted step, for many times at once."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

# Cubic Hermite on the columns [f0, (y1 - y0) / h, f1]; rows are the powers θ, θ², θ³.
HERMITE_WEIGHTS = ((1.0, 0.0, 0.0), (-2.0, 3.0, -1.0), (1.0, -2.0, 1.0))


@dataclass(frozen=True)
class DenseStep:
    """``y(t0 + θ h) = y0 + h Σ_m w_m(θ) slopes[:, m]`` on one accepted step, θ in [0, 1].

    Attributes:
        t0: start of the step (float64).
        h: signed step size (float64).
        y0: state at t0, shape [N].
        slopes: derivative-like vectors, shape [N, m] (the Runge-Kutta stages, or Hermite's).
        weights: polynomial weights, shape [p, m]: row r holds the coefficients of θ^(r+1).
        exponents: [1, ..., p] in the state's dtype, shape [p].
    """

    t0: float
    h: float
    y0: torch.Tensor
    slopes: torch.Tensor
    weights: torch.Tensor
    exponents: torch.Tensor

    def evaluate(self, times: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """The solution at ``times`` (float64, shape [n], inside the step): shape [n, N].

        All times are computed in one matrix product; with ``out`` the result is written there.
        """
        theta = ((times - self.t0) / self.h).to(self.y0.dtype)
        stage_weights = (theta[:, None] ** self.exponents) @ self.weights  # [n, m]
        if out is None:
            return torch.addmm(self.y0, stage_weights, self.slopes.T, alpha=self.h)
        return torch.addmm(self.y0, stage_weights, self.slopes.T, alpha=self.h, out=out)


def hermite_step(
    t0: float, h: float, y0: torch.Tensor, y1: torch.Tensor, f0: torch.Tensor, f1: torch.Tensor
) -> DenseStep:
    """Cubic Hermite interpolation between two states and their derivatives (third order)."""
    slopes = torch.stack([f0, (y1 - y0) / h, f1], dim=1)
    weights, exponents = _hermite_tensors(y0.dtype, y0.device)
    return DenseStep(t0, h, y0, slopes, weights, exponents)


@functools.lru_cache(maxsize=16)
def _hermite_tensors(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    weights = torch.tensor(HERMITE_WEIGHTS, dtype=dtype, device=device)
    return weights, torch.arange(1, 4, dtype=dtype, device=device)
