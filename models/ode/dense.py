"""Dense output: the solution anywhere inside an accepted step, for many times at once."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

# Cubic Hermite on the slopes [f0, (y1 - y0) / h, f1]; row r holds the coefficients of θ^(r+1).
HERMITE_WEIGHTS = ((1.0, 0.0, 0.0), (-2.0, 3.0, -1.0), (1.0, -2.0, 1.0))


@dataclass(frozen=True)
class DenseStep:
    """``y(t0 + θ h) = y0 + h Σ_m w_m(θ) slopes[m]`` on one accepted step, θ in [0, 1].

    Attributes:
        t0: start of the step (float64).
        h: signed step size (float64).
        y0: state at t0, shape [N].
        slopes: m derivative-like vectors of shape [N] (Runge-Kutta stages, or Hermite's).
        weights: shape [p + 1, m + 1], from ``polynomial_weights``: row r holds the coefficients
            of θ^r, column 0 is y0's weight (always 1) and column j the weight of slope j - 1.
    """

    t0: float
    h: float
    y0: torch.Tensor
    slopes: Sequence[torch.Tensor]
    weights: torch.Tensor

    def evaluate(self, times: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """The solution at ``times`` (float64, shape [n], inside the step): shape [n, N].

        One matrix product for all the times: ``[n, m+1] @ [y0; slopes]``, written to ``out``
        when given. Folding y0 into the product avoids a broadcast pass over the output.
        """
        return torch.mm(self.coefficients(times), self.basis(), out=out)

    def coefficients(self, times: torch.Tensor) -> torch.Tensor:
        """The weights of ``basis()``'s rows at ``times`` (float64, [n], inside the step):
        [n, m+1]."""
        theta = ((times - self.t0) / self.h).to(self.y0.dtype)
        weights = self.weights.clone()
        weights[:, 1:] *= self.h
        return torch.linalg.vander(theta, N=len(self.weights)) @ weights

    def basis(self) -> torch.Tensor:
        """y0 and the slopes as rows: [m+1, N]."""
        return torch.stack([self.y0, *self.slopes])


def polynomial_weights(
    weights: Sequence[Sequence[float]], dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """``DenseStep.weights`` from slope weights [p][m] (row r: the coefficients of θ^(r+1))."""
    powers, slopes = len(weights), len(weights[0])
    extended = torch.zeros(powers + 1, slopes + 1, dtype=dtype, device=device)
    extended[0, 0] = 1.0
    extended[1:, 1:] = torch.tensor(weights, dtype=dtype, device=device)
    return extended


def hermite_step(
    t0: float, h: float, y0: torch.Tensor, y1: torch.Tensor, f0: torch.Tensor, f1: torch.Tensor
) -> DenseStep:
    """Cubic Hermite interpolation between two states and their derivatives (third order)."""
    weights = _hermite_weights(y0.dtype, y0.device)
    return DenseStep(t0, h, y0, (f0, (y1 - y0) / h, f1), weights)


@functools.lru_cache(maxsize=16)
@torch.inference_mode(False)  # cached for later solves, which may need them saved for backward
def _hermite_weights(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return polynomial_weights(HERMITE_WEIGHTS, dtype, device)
