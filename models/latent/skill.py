"""Skill: a trained model's held-out errors in the data's units, next to the naive methods'.

A user should see at once whether the model beats what they would try first: linear
interpolation when filling gaps; the last value, the drift, a linear trend and (when the data
have a season) the seasonal naive method when forecasting. Besides the MSE of the predictive
mean: how often the 80% and 90% intervals hold the held-out observations, and the CRPS of the
predictive samples (a proper score of the whole distribution, in the data's units).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..baselines import (
    EXTRAPOLATION_BASELINES,
    Baseline,
    linear_interpolation,
    per_dimension,
    seasonal,
)
from .calibration import LEVELS, Calibration, coverage, cross_fitted, fit_scale
from .decoding import Request, decode
from .holdout import HeldOut, Holdout
from .model import LatentODE
from .normaliser import Normaliser

SKILL_SAMPLES = 100


def assess(
    model: LatentODE, normaliser: Normaliser, holdout: Holdout, seed: int
) -> tuple[Calibration, dict[str, Any]]:
    """The calibration chosen on ``holdout`` and the skill figures (JSON-ready) under it."""
    extrapolation = dict(EXTRAPOLATION_BASELINES)
    if normaliser.season is not None:
        extrapolation["seasonal_naive"] = seasonal(normaliser.season)
    with_base = normaliser.base and _base_alone_is_better(model, normaliser, holdout)
    interp, interp_scale = _job_skill(
        model,
        normaliser,
        holdout.interpolation,
        {"linear_interpolation": linear_interpolation},
        seed,
        with_base=False,
    )
    extrap, extrap_scale = _job_skill(
        model, normaliser, holdout.extrapolation, extrapolation, seed, with_base=with_base
    )
    held_out = "in_sample" if holdout.in_sample else ("series" if holdout.by_series else "points")
    figures = {
        "held_out": held_out,
        "season": normaliser.season,
        "window": normaliser.window,
        "base": normaliser.base,
        "extrapolation_method": "seasonal_base" if with_base else "latent_ode",
        "interpolation": interp,
        "extrapolation": extrap,
    }
    return Calibration(interp_scale, extrap_scale, with_base), figures


def _base_alone_is_better(model: LatentODE, normaliser: Normaliser, holdout: Holdout) -> bool:
    """Whether the seasonal base alone forecasts the held-out tails better than base + ODE."""
    cases = _usable(holdout.extrapolation)
    if not cases:
        return False
    requests = [Request(c.context, c.times) for c in cases]
    truth = np.concatenate([c.values for c in cases])
    mask = ~np.isnan(truth)
    errors = []
    for alone in (False, True):
        answers = decode(model, normaliser, requests, n_samples=0, extrapolate_with_base=alone)
        errors.append(_mse(np.concatenate(answers, axis=1)[0], truth, mask))
    return errors[1] < errors[0]


def _usable(cases: list[HeldOut]) -> list[HeldOut]:
    return [c for c in cases if len(c.times) and len(c.context)]


def _job_skill(
    model: LatentODE,
    normaliser: Normaliser,
    cases: list[HeldOut],
    baselines: dict[str, Baseline],
    seed: int,
    *,
    with_base: bool,
) -> tuple[dict[str, Any] | None, float]:
    """One job's figures, and the interval scale fitted on all its held-out entries."""
    cases = _usable(cases)
    if not cases:
        return None, 1.0
    truth = np.concatenate([c.values for c in cases])  # [N, D] raw
    mask = ~np.isnan(truth)
    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    requests = [Request(c.context, c.times) for c in cases]
    answers = decode(
        model,
        normaliser,
        requests,
        n_samples=SKILL_SAMPLES,
        generator=generator,
        extrapolate_with_base=with_base,
    )
    samples = np.concatenate(answers, axis=1)[:, mask]  # [S, M] observed entries
    observed = truth[mask]
    fallback = np.asarray(normaliser.mean)
    naive = {
        name: _mse(
            np.concatenate([per_dimension(method, c.context, c.times, fallback) for c in cases]),
            truth,
            mask,
        )
        for name, method in baselines.items()
    }
    mse = float(np.mean((samples.mean(axis=0) - observed) ** 2))
    best = min(naive, key=naive.__getitem__)
    honest = cross_fitted(samples, observed)
    figures = {
        "points": int(mask.sum()),
        "mse": mse,
        "baselines": naive,
        "best_baseline": best,
        "ratio": mse / naive[best] if naive[best] > 0 else None,
        "beats_naive": bool(mse < naive[best]),
        "coverage": {str(level): coverage(honest, observed, level) for level in LEVELS},
        "crps": _crps(honest, observed),
    }
    return figures, fit_scale(samples, observed)


def _mse(predicted: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    return float(np.mean((predicted[mask] - truth[mask]) ** 2))


def _crps(samples: np.ndarray, truth: np.ndarray) -> float:
    """Mean sample CRPS, E|X - y| - E|X - X'| / 2, over entries: samples [S, M], truth [M]."""
    x = np.sort(samples, axis=0)
    s = x.shape[0]
    to_truth = np.abs(x - truth).mean(axis=0)
    weights = (2 * np.arange(1, s + 1) - s - 1)[:, None]
    between = 2 * (weights * x).sum(axis=0) / s**2
    return float((to_truth - 0.5 * between).mean())
