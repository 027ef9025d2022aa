"""``LatentODE``: encoder to q(z0), latent ODE decoder, readout, Gaussian likelihood, KL."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..ode import SOLVERS, odeint, odeint_adjoint
from ..ode.scattered import odeint_scattered
from .batching import Batch
from .normaliser import DEFAULT_MODEL_SPAN


class EncoderKind(StrEnum):
    RNN = "rnn"  # a GRU read backwards over the observations, fed the time gaps
    ODERNN = "odernn"  # Rubanova et al.: the hidden state also follows an ODE between them


class GradientMode(StrEnum):
    CONTINUOUS_ADJOINT = "continuous_adjoint"
    DISCRETE_ADJOINT = "discrete_adjoint"
    BACKPROP = "backprop"


@dataclass(frozen=True)
class ModelConfig:
    """Every size and choice of a latent ODE; saved in its checkpoints.

    Attributes:
        latent_dim: size of z.
        hidden_dim: width of the dynamics MLP (two hidden layers, tanh).
        encoder: the encoder kind; encoder_dim: its hidden size.
        solver, rtol, atol: the decoder's ODE solver (``models.ode.SOLVERS``).
        max_steps: the solver's step budget per solve; past it training fails with a
            ``SolverError`` instead of running on for hours (stiff or exploding dynamics).
        gradient: how gradients pass through the decoder's solve.
        learn_noise: learn the observation noise per dimension (else fixed at noise_std).
        noise_std: the (initial) observation noise, in standardised units.
        model_span: the training series' median time span (or the window), in model time
            units.
        window: the window length for long series, in the data's time units (seconds for
            datetime data); None chooses it from the data (``models.latent.windows``).
    """

    latent_dim: int = 16
    hidden_dim: int = 64
    encoder: EncoderKind = EncoderKind.RNN
    encoder_dim: int = 64
    solver: str = "dopri5"
    rtol: float = 1e-4
    atol: float = 1e-5
    gradient: GradientMode = GradientMode.DISCRETE_ADJOINT
    learn_noise: bool = True
    noise_std: float = 0.1
    model_span: float = DEFAULT_MODEL_SPAN
    max_steps: int = 10_000
    window: float | None = None

    def __post_init__(self) -> None:
        for name in ("latent_dim", "hidden_dim", "encoder_dim", "max_steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        info = SOLVERS.get(self.solver)
        if info is None or not info.adaptive:
            adaptive = sorted(name for name, s in SOLVERS.items() if s.adaptive)
            raise ValueError(f"solver must be an adaptive method, one of {adaptive}")
        if not (self.rtol >= 0 and self.atol > 0 and self.noise_std > 0):
            raise ValueError("rtol must be >= 0, atol and noise_std > 0")
        if self.window is not None and not self.window > 0:
            raise ValueError(f"window must be positive, got {self.window!r}")
        object.__setattr__(self, "encoder", EncoderKind(self.encoder))
        object.__setattr__(self, "gradient", GradientMode(self.gradient))

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, StrEnum) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelConfig:
        return cls(**data)


@dataclass(frozen=True)
class LossParts:
    """A batch's training loss and what it is made of (per observed entry, per series)."""

    loss: torch.Tensor
    nll: float
    kl: float
    mse: float


def tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh computed as ``2 sigmoid(2x) - 1``, the same function: torch's CPU tanh runs about 10x
    slower than its sigmoid (torch 2.13, AVX-512: 0.43 ms against 0.04 ms for 200k floats), and
    the decoder's solve spent most of a prediction batch in this activation. Solves without
    gradients fold the affine parts into the weights instead (``Dynamics.folded``)."""
    if torch.is_grad_enabled() and x.requires_grad:
        return 2 * torch.sigmoid(2 * x) - 1
    return torch.sigmoid(x * 2).mul_(2).sub_(1)  # in place: nothing keeps it for backward


class Tanh(nn.Module):
    """``tanh`` as a module (the MLP's layers stay an ``nn.Sequential``: the checkpoints' keys)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return tanh(x)


class Dynamics(nn.Module):
    """``dz/dt = f(z)``: an MLP. Autonomous on purpose: a series' time origin is arbitrary."""

    def __init__(self, latent_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim),
            Tanh(),
            nn.Linear(hidden_dim, hidden_dim),
            Tanh(),
            nn.Linear(hidden_dim, latent_dim),
        )

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        # The layers called directly: a solve evaluates this ~60 times per prediction, and the
        # modules' call machinery cost about a fifth of each evaluation.
        first, _, second, _, last = cast("tuple[nn.Linear, ...]", tuple(self.net))
        hidden = tanh(F.linear(z, first.weight, first.bias))
        hidden = tanh(F.linear(hidden, second.weight, second.bias))
        return F.linear(hidden, last.weight, last.bias)

    @torch.no_grad()
    def folded(self) -> FoldedDynamics:
        """The same field for solves without gradients, its tanh's affine parts folded into the
        weights: an evaluation is three ``linear`` and two in-place ``sigmoid``, five torch calls
        instead of eleven. Build it per solve: it copies the weights as they are now."""
        first, _, second, _, last = cast("tuple[nn.Linear, ...]", tuple(self.net))
        # tanh(a) = 2 s(2a) - 1 with s the sigmoid, so with s1, s2 the layers' sigmoids:
        # 2 a1 = 2 W1 z + 2 b1;  2 a2 = 4 W2 s1 + 2 (b2 - W2 1);  f = 2 W3 s2 + (b3 - W3 1).
        return FoldedDynamics(
            (2 * first.weight, 2 * first.bias),
            (4 * second.weight, 2 * (second.bias - second.weight.sum(dim=1))),
            (2 * last.weight, last.bias - last.weight.sum(dim=1)),
        )


class FoldedDynamics:
    """``Dynamics.folded()``: the field as three (weight, bias) pairs with sigmoids between."""

    def __init__(self, *layers: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.first, self.second, self.last = layers

    def __call__(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        hidden = torch.sigmoid_(F.linear(z, *self.first))
        hidden = torch.sigmoid_(F.linear(hidden, *self.second))
        return F.linear(hidden, *self.last)


def masked_inputs(batch: Batch) -> torch.Tensor:
    """The encoder's inputs with every unobserved value multiplied by its zero mask, so that
    nothing under a missing entry can reach the network."""
    inputs = batch.encoder_inputs
    dims = (inputs.shape[-1] - 1) // 2
    values, mask, gaps = inputs.split([dims, dims, 1], dim=-1)
    return torch.cat([values * mask, mask, gaps], dim=-1)


class Posterior(nn.Linear):
    """An encoder's final state (and, for instance-scaled contexts, their center and log spread,
    [B, 2D]) to the mean and log standard deviation of q(z0). A ``Linear`` so that checkpoints
    from before instance scaling keep their parameter names."""

    def __init__(self, config: ModelConfig, stats_dim: int) -> None:
        super().__init__(config.encoder_dim + stats_dim, 2 * config.latent_dim)
        self.uses_stats = stats_dim > 0

    def forward(  # type: ignore[override]
        self, hidden: torch.Tensor, batch: Batch
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.uses_stats:
            hidden = torch.cat([hidden, batch.context_stats], dim=-1)
        mean, log_std = super().forward(hidden).chunk(2, dim=-1)
        return mean, log_std


class GRUEncoder(nn.Module):
    """A GRU over the context read backwards; its last state gives q(z0) at the first time."""

    def __init__(self, dims: int, config: ModelConfig, stats_dim: int) -> None:
        super().__init__()
        self.gru = nn.GRU(2 * dims + 1, config.encoder_dim, batch_first=True)
        self.to_posterior = Posterior(config, stats_dim)

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        packed = nn.utils.rnn.pack_padded_sequence(
            masked_inputs(batch), batch.context_lengths, batch_first=True, enforce_sorted=False
        )
        _, hidden = self.gru(packed)  # [1, B, H]
        return self.to_posterior(hidden[0], batch)


class ODERNNEncoder(nn.Module):
    """Rubanova et al.'s ODE-RNN, read backwards: between observations the hidden state follows
    ``dh/dt = g(h)`` for the gap, then a GRU cell takes the observation.

    Every series evolves over its own gap at once: the ODE is solved on s in [0, 1] with the
    field scaled by each row's gap, so one solve per observation index serves the batch.
    """

    def __init__(self, dims: int, config: ModelConfig, stats_dim: int) -> None:
        super().__init__()
        self.hidden_dim = config.encoder_dim
        self.dynamics = Dynamics(config.encoder_dim, config.encoder_dim)
        self.cell = nn.GRUCell(2 * dims, config.encoder_dim)
        self.to_posterior = Posterior(config, stats_dim)

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = masked_inputs(batch)  # [B, T, 2D + 1]
        hidden = inputs.new_zeros(inputs.shape[0], self.hidden_dim)
        unit = torch.tensor([0.0, 1.0], dtype=torch.float64)
        for i in range(inputs.shape[1]):
            gaps = inputs[:, i, -1:]  # [B, 1]; 0 for padding and the first read
            if i > 0:

                def scaled(
                    t: torch.Tensor, h: torch.Tensor, gaps: torch.Tensor = gaps
                ) -> torch.Tensor:
                    return gaps * self.dynamics(t, h)

                hidden = odeint(scaled, hidden, unit, method="rk4", options={"step_size": 0.5})[-1]
            valid = (i < batch.context_lengths).to(inputs)[:, None]  # [B, 1]
            updated = self.cell(inputs[:, i, :-1], hidden)
            hidden = valid * updated + (1 - valid) * hidden
        return self.to_posterior(hidden, batch)


class LatentODE(nn.Module):
    """The latent ODE of the lecture's seq2seq: q(z0 | context), z(t) by ODE, x(t) by readout.

    ``instance_scaled``: contexts come scaled by their own mean and spread (windowed data), and
    the encoder also reads those two, so that nothing about the level is lost.
    """

    def __init__(self, config: ModelConfig, dims: int, *, instance_scaled: bool = False) -> None:
        super().__init__()
        self.config = config
        self.dims = dims
        self.instance_scaled = instance_scaled
        encoder = GRUEncoder if config.encoder is EncoderKind.RNN else ODERNNEncoder
        self.encoder = encoder(dims, config, 2 * dims if instance_scaled else 0)
        self.dynamics = Dynamics(config.latent_dim, config.hidden_dim)
        self.readout = nn.Linear(config.latent_dim, dims)
        log_noise = torch.full((dims,), math.log(config.noise_std))
        if config.learn_noise:
            self.log_noise = nn.Parameter(log_noise)
        else:
            self.register_buffer("log_noise", log_noise)

    def posterior(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of q(z0), each [B, L]."""
        mean, log_std = self.encoder(batch)
        return mean, torch.exp(log_std.clamp(-8.0, 4.0))

    def decode(self, z0: torch.Tensor, grid: np.ndarray) -> torch.Tensor:
        """z at every grid time: z0 [S, B, L] at model time 0 -> [G, S, B, L].

        Times after 0 are solved forwards, times before it backwards, each in one solve.
        """
        after, before = grid[grid >= 0], grid[grid < 0]
        parts = []
        if before.size:
            backwards = self._solve(z0, np.concatenate([[0.0], before[::-1]]))[1:]
            parts.append(backwards.flip(0))
        if after.size:
            starts_at_zero = after[0] == 0.0
            times = after if starts_at_zero else np.concatenate([[0.0], after])
            forwards = self._solve(z0, times)
            parts.append(forwards if starts_at_zero else forwards[1:])
        return torch.cat(parts)

    def _solve(self, z0: torch.Tensor, times: np.ndarray) -> torch.Tensor:
        config = self.config
        t = torch.as_tensor(times, dtype=torch.float64, device=z0.device)
        if len(t) == 1:
            return z0.unsqueeze(0)
        solve: Callable[..., torch.Tensor] = odeint
        if config.gradient is not GradientMode.BACKPROP and torch.is_grad_enabled():
            adjoint = (
                "continuous" if config.gradient is GradientMode.CONTINUOUS_ADJOINT else "discrete"
            )
            solve = functools.partial(odeint_adjoint, adjoint_options={"mode": adjoint})
        return solve(
            self.dynamics,
            z0,
            t,
            rtol=config.rtol,
            atol=config.atol,
            method=config.solver,
            options={"max_num_steps": config.max_steps},
        )

    def predict_targets(self, batch: Batch, z0: torch.Tensor) -> torch.Tensor:
        """Readout at every target row: z0 [S, B, L] -> [S, N, D] (standardised values).

        Training decodes every series on the batch's union grid (one solve the adjoint can walk
        back). Without gradients each target row is decoded for its own series at its own time
        only (``odeint_scattered``): a prediction batch mixes many series with different times,
        and the union grid would grow with the square of the batch.
        """
        if torch.is_grad_enabled():
            z = self.decode(z0, batch.grid)  # [G, S, B, L]
            z_targets = z[batch.target_grid, :, batch.target_series]  # [N, S, L]
            return self.readout(z_targets).transpose(0, 1)
        read = self._decode_scattered(z0, batch)  # [N, S, D], the readout's weight only
        return (read + self.readout.bias).transpose(0, 1)

    def _decode_scattered(self, z0: torch.Tensor, batch: Batch) -> torch.Tensor:
        """The readout's linear part of z at every target row, [N, S, D]: applied inside the
        solve to each step's dense output, so the rows are written D wide instead of L."""
        config = self.config
        return odeint_scattered(
            self.dynamics.folded(),
            z0,
            0.0,
            batch.grid[batch.target_grid.cpu().numpy()],
            batch.target_series,
            axis=1,
            rtol=config.rtol,
            atol=config.atol,
            method=config.solver,
            options={"max_num_steps": config.max_steps},
            readout=self.readout.weight,
        )

    def loss(self, batch: Batch, *, n_samples: int, kl_weight: float, iwae: bool) -> LossParts:
        """Negative ELBO (or IWAE bound) per observed entry, averaged over the batch's series."""
        mean, std = self.posterior(batch)
        noise = torch.randn(n_samples, *mean.shape, dtype=mean.dtype, device=mean.device)
        z0 = mean + std * noise  # [S, B, L]
        predicted = self.predict_targets(batch, z0)  # [S, N, D]
        mask = batch.target_mask
        sigma = torch.exp(self.log_noise)
        log_likelihood = -0.5 * (
            ((batch.target_values - predicted) / sigma) ** 2
            + 2 * self.log_noise
            + math.log(2 * math.pi)
        )
        per_series = _sum_per_series(log_likelihood * mask, batch)  # [S, B]
        kl = _kl_standard_normal(mean, std)  # [B]
        entries = _sum_per_series(mask.unsqueeze(0).expand_as(predicted), batch)[0].clamp(min=1)
        if iwae and n_samples > 1:
            log_prior_ratio = _log_prior_ratio(z0, mean, std)  # [S, B]
            weights = per_series + log_prior_ratio
            bound = torch.logsumexp(weights, dim=0) - math.log(n_samples)
            loss = -(bound / entries).mean()
        else:
            loss = (-(per_series.mean(0)) + kl_weight * kl).div(entries).mean()
        with torch.no_grad():
            squared = ((predicted - batch.target_values) ** 2 * mask).sum() / (
                mask.sum() * n_samples
            ).clamp(min=1)
        return LossParts(
            loss=loss,
            nll=float(-(per_series.detach().mean(0) / entries).mean()),
            kl=float((kl.detach() / entries).mean()),
            mse=float(squared),
        )


def _sum_per_series(rows: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Sum [S, N, D] target-row terms into [S, B] per-series totals."""
    totals = rows.new_zeros(rows.shape[0], batch.size)
    return totals.index_add(1, batch.target_series, rows.sum(-1))


def _kl_standard_normal(mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, std²) || N(0, I)) per series, [B]."""
    return 0.5 * (mean**2 + std**2 - 1.0 - 2.0 * torch.log(std)).sum(-1)


def _log_prior_ratio(z0: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """log p(z0) - log q(z0) per sample and series, [S, B] (the normalising constants cancel)."""
    log_prior = -0.5 * (z0**2).sum(-1)
    log_posterior = -0.5 * (((z0 - mean) / std) ** 2).sum(-1) - torch.log(std).sum(-1)
    return log_prior - log_posterior
