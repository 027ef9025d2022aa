"""Skill: a trained model's held-out errors in the data's units, next to the naive methods'.

A user should see at once whether the model beats what they would try first: linear
interpolation when filling gaps; the last value, the drift, a linear trend and (when the data
have a season) the seasonal naive method when forecasting. Besides the MSE of the predictive
mean: how often the 80% and 90% intervals hold the held-out observations, and the CRPS of the
predictive samples (a proper score of the whole distribution, in the data's units).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..baselines import (
    EXTRAPOLATION_BASELINES,
    FORECAST_PARTNERS,
    Baseline,
    linear_interpolation,
    per_dimension,
    seasonal,
    seasonal_name,
)
from ..forecast.pipeline import MIN_RECIPE_POINTS
from ..forecast.policy import DEFAULT_POLICY
from ..forecast.selection import paired_p_value
from ..series import Series
from .blend import (
    KRIGE,
    ExtrapolationBlend,
    InterpolationBlend,
    cross_fitted_shift,
    fit_weights,
    gap_widths,
    interpolation_features,
    neighbour_times,
    pooled,
    respread,
    shifted,
)
from .calibration import (
    GAP_SPACINGS,
    LEVELS,
    Calibration,
    context_variance,
    coverage,
    cross_fitted,
    fit_scale,
    floored,
)
from .decoding import Request, decode
from .holdout import HeldOut, Holdout, in_sample_forecasts
from .kriging import Kriging, fit_kriging
from .model import LatentODE
from .normaliser import Normaliser

SKILL_SAMPLES = 100
INTERPOLATION_PARTNER = "linear_interpolation"
# The interpolation blend's weights that serve linear interpolation itself (``blend.py``).
LINEAR_ONLY = (1.0, 1.0, 0.0, 0.0)
# Those that serve the kriged answer alone (``models.latent.kriging``), the monotone cubic alone.
KRIGED_ONLY = (0.0, 0.0, 1.0, 0.0)
PCHIP_ONLY = (0.0, 0.0, 0.0, 1.0)
# The extrapolation blend's weight that serves the naive forecast itself.
NAIVE_ONLY = (1.0,)
# Relative float rounding: a model serving linear interpolation does not "beat" it by less.
ROUNDING = 1e-9


def assess(
    model: LatentODE, normaliser: Normaliser, holdout: Holdout, seed: int
) -> tuple[Calibration, dict[str, Any]]:
    """The calibration chosen on ``holdout`` and the skill figures (JSON-ready) under it."""
    extrapolation = dict(EXTRAPOLATION_BASELINES)
    if normaliser.season is not None:
        extrapolation["seasonal_naive"] = seasonal(normaliser.season)
    companions = normaliser.companions if normaliser.base else ()
    for companion in companions:
        extrapolation[seasonal_name(companion)] = seasonal(companion)
    with_base = normaliser.base and _base_alone_is_better(model, normaliser, holdout)
    period = normaliser.season if normaliser.base else None
    kriging = fit_kriging(holdout.train, period, normaliser.bends, companions)
    limit = gap_limit(holdout.train) if holdout.by_series else None

    def interpolation(
        entries: Callable[[HeldOut], np.ndarray] | None,
    ) -> tuple[dict[str, Any] | None, _Choice]:
        return _job_skill(
            model,
            normaliser,
            holdout.interpolation + holdout.gaps,
            {INTERPOLATION_PARTNER: linear_interpolation},
            seed,
            with_base=False,
            kriging=kriging,
            model_free=holdout.training_gaps,
            entries=entries,
            by_series=holdout.by_series,
        )

    # a family's narrow gaps (a stored series missing a few points) and wide ones apart
    interp, interp_choice = interpolation(None if limit is None else _narrow(limit))
    wide, wide_choice = (None, _Choice()) if limit is None else interpolation(_wide(limit))
    if limit is not None and not interp_choice.weights:
        # no narrow gap held out: narrow gaps take the wide gaps' choice, not the model alone
        interp, interp_choice = wide, wide_choice
    extrap, extrap_choice = _job_skill(
        model,
        normaliser,
        holdout.extrapolation,
        extrapolation,
        seed,
        with_base=with_base,
        floor=interp_choice.error,
        in_sample=in_sample_forecasts(holdout),
        # a short series' context cannot tell a mean and a rate of return to it
        partners=FORECAST_PARTNERS if normaliser.windowed else None,
    )
    held_out = "in_sample" if holdout.in_sample else ("series" if holdout.by_series else "points")
    figures = {
        "held_out": held_out,
        "season": normaliser.season,
        "window": normaliser.window,
        "base": normaliser.base,
        "companions": list(companions),
        "extrapolation_method": "seasonal_base" if with_base else "latent_ode",
        "interpolation": interp,
        "extrapolation": extrap,
    }
    if limit is not None:
        figures.update(gap_limit=limit, wide_gap_interpolation=wide)
    extrapolation_blend = (
        ExtrapolationBlend(extrap_choice.baseline, *extrap_choice.weights)
        if extrap_choice.weights
        else ExtrapolationBlend()
    )
    interpolation_blend = InterpolationBlend(*interp_choice.weights)
    wide_blend = InterpolationBlend(*wide_choice.weights) if wide_choice.weights else None
    leans_on_kriging = any(b.krige for b in (interpolation_blend, wide_blend) if b is not None)
    calibration = Calibration(
        interpolation_scale=interp_choice.scale,
        extrapolation_scale=extrap_choice.scale,
        extrapolate_with_base=with_base,
        interpolation_blend=interpolation_blend,
        extrapolation_blend=extrapolation_blend,
        extrapolation_floor=interp_choice.error,
        kriging=kriging if leans_on_kriging else None,
        wide_gap_blend=wide_blend,
        wide_gap_scale=wide_choice.scale,
        gap_limit=limit if wide_blend is not None else None,
    )
    return calibration, figures


def gap_limit(series: list[Series]) -> float | None:
    """``GAP_SPACINGS`` median spacings of ``series``' observations (any dimension), the
    widest gap a stored series' own blend fills; None without two observations in a series."""
    spacings = [np.diff(s.times) for s in series if len(s) >= 2]
    if not spacings:
        return None
    return GAP_SPACINGS * float(np.median(np.concatenate(spacings)))


def _inside(
    entries: Callable[[HeldOut], np.ndarray] | None,
) -> Callable[[HeldOut], np.ndarray]:
    """``entries`` less those outside a case's context in their dimension (before its first
    observation there or after its last): the recipe's backcast and forecast answer those
    (``models.latent.predict``), so they judge no interpolation choice. A dimension observed
    fewer than ``MIN_RECIPE_POINTS`` times is the model's: the context's range bounds it."""

    def chosen(case: HeldOut) -> np.ndarray:
        first, last = case.context.observed_range(MIN_RECIPE_POINTS)  # [D]
        first = np.where(np.isnan(first), case.context.times[0], first)
        last = np.where(np.isnan(last), case.context.times[-1], last)
        t = case.times[:, None]
        within = (t >= first[None]) & (t <= last[None])  # [T, D]
        return within if entries is None else entries(case) & within

    return chosen


def _narrow(limit: float) -> Callable[[HeldOut], np.ndarray]:
    """Which entries [T, D] of a case fill a gap of at most ``limit``."""
    return lambda case: gap_widths(case.context, case.times) <= limit


def _wide(limit: float) -> Callable[[HeldOut], np.ndarray]:
    """Which entries [T, D] of a case fill a gap wider than ``limit``."""
    return lambda case: ~(gap_widths(case.context, case.times) <= limit)


@dataclass(frozen=True)
class _Choice:
    """What one job's held-out points chose: the blend's weights (and naive partner), then the
    interval scale. No weights: nothing was held out."""

    weights: tuple[float, ...] = ()
    baseline: str = ""
    scale: float = 1.0
    # Per dimension: the served mean's held-out squared error over its context's variance.
    error: tuple[float, ...] | None = None


def _base_alone_is_better(model: LatentODE, normaliser: Normaliser, holdout: Holdout) -> bool:
    """Whether to forecast with the seasonal base alone: unless base + ODE forecasts the held-out
    tails clearly better (``_clearly_better``), the simpler base. One long series has one short
    tail, and on white noise around a base which of the two did better there is a coin toss,
    while the ODE's forecast of the residuals drifts over the next season."""
    cases = _usable(holdout.extrapolation)
    if not cases:
        return False
    requests = [Request(c.context, c.times) for c in cases]
    truth = np.concatenate([c.values for c in cases])
    mask = ~np.isnan(truth)
    means = []
    for alone in (False, True):
        answers = decode(model, normaliser, requests, n_samples=0, extrapolate_with_base=alone)
        means.append(np.concatenate(answers, axis=1)[:, mask])  # [1, M]
    with_ode, base_alone = means
    return not _clearly_better(with_ode, base_alone, truth[mask])


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
    floor: tuple[float, ...] | None = None,
    in_sample: list[HeldOut] | None = None,
    kriging: Kriging | None = None,
    partners: Mapping[str, Baseline] | None = None,
    model_free: list[HeldOut] | None = None,
    entries: Callable[[HeldOut], np.ndarray] | None = None,
    by_series: bool = False,
) -> tuple[dict[str, Any] | None, _Choice]:
    """One job's figures, and the blend and interval scale fitted on all its held-out entries;
    ``floor`` is the least variance of its samples per dimension, as a share of each context's
    variance (``Calibration.extrapolation_floor``); ``kriging`` gives the interpolation blend
    its kriged answer; ``partners``, forecasts the blend may lean on beside ``baselines``
    (whichever of them all did best on the held-out tails), though the figures compare with
    ``baselines`` only; ``model_free``, interpolation cases that judge only the answers that do
    not use the model (``Holdout.training_gaps``); ``entries``, which entries [T, D] of a case
    are scored (all by default); ``by_series``, whether whole series were held out, each then
    one unit of evidence for the interpolation choices (``_clear_gain``).

    ``in_sample``: forecasts of points training saw, from many origins (``in_sample_forecasts``);
    the blend's weights are fitted on them too, never scored on them. A held-out tail is one
    short stretch, and a model that happens to do well there can drift at other origins: weights
    from the tail alone were a lottery over training seeds.

    Interpolation is the job whose only baseline is linear interpolation. The figures are out of
    sample: each half of the entries is blended and widened by what the other half chose
    (``cross_fitted_shift``, ``cross_fitted``). Unless the blend so measured beats linear
    interpolation as the blend serves it (``LINEAR_ONLY``: the model's mean where a dimension
    has no observation on both sides, with the model's calibrated spread) by the pipeline's
    paired test (``_clearly_better``), linear interpolation is served (or the kriged answer
    or the monotone cubic alone, if it clearly beats linear interpolation:
    ``_unless_clearly_better``): a few dozen held-out points cannot tell a small gain from luck,
    and blends chosen on such gains lost to linear interpolation at later points
    (bench/experiments/whole-corpus-service/README.md). Forecasting, the fitted
    blend must beat the naive forecast on the held-out tails, or the naive forecast is served
    (``_naive_unless_better``). The figures are those of what is served, so they lean slightly
    optimistic.
    """
    cases = _usable(cases)
    if not cases:
        return None, _Choice()
    interpolating = list(baselines) == [INTERPOLATION_PARTNER]
    if interpolating:
        entries = _inside(entries)
    truth = np.concatenate([c.values for c in cases])  # [N, D] raw
    mask = ~np.isnan(truth)
    if entries is not None:
        mask &= np.concatenate([entries(c) for c in cases])
        model_free = [c for c in model_free or [] if entries(c).any()]
        if not mask.any():
            return None, _Choice()
    observed = truth[mask]  # [M]
    fallback = np.asarray(normaliser.mean)
    candidates = {**baselines, **(partners or {})}
    in_sample = _usable(in_sample or [])
    naive = {
        name: np.concatenate([per_dimension(method, c.context, c.times, fallback) for c in cases])
        for name, method in candidates.items()
    }  # name -> [N, D]
    errors = {name: _mse(values, truth, mask) for name, values in naive.items()}
    partner = _partner(candidates, naive, truth, in_sample, fallback)
    errors = {name: errors[name] for name in baselines}
    best = min(errors, key=errors.__getitem__)
    forecast = None if interpolating else naive[partner]
    samples, features, kriged_variance = _samples_and_features(
        model, normaliser, cases, seed, with_base, forecast, kriging
    )  # [S, N, D], [K, N, D], [N, D] or None
    samples, features = samples[:, mask], features[:, mask]  # [S, M], [K, M]
    variance = None if kriged_variance is None else kriged_variance[mask]  # [M]
    mean = samples.mean(axis=0)
    extra = _in_sample_evidence(
        model, normaliser, in_sample, seed, with_base, candidates[partner], fallback
    )
    shifted_honestly = cross_fitted_shift(samples, features, observed, extra, variance)
    honest = cross_fitted(shifted_honestly, observed)
    fixed: tuple[float, ...] | None = None
    if interpolating:
        extra_errors, extra_ids = _model_free_errors(_usable(model_free or []), kriging, entries)
        ids = np.concatenate([np.full(c.values.shape, c.context.id, dtype=object) for c in cases])
        fixed, honest = _unless_clearly_better(
            samples,
            features,
            observed,
            variance,
            honest,
            extra_errors,
            (ids[mask], extra_ids) if by_series else None,
        )
    else:
        fixed, honest = _naive_unless_better(samples, features, observed, honest)
    dims = np.nonzero(mask)[1]  # [M] the dimension of each entry
    spread = np.concatenate(
        [np.broadcast_to(context_variance(c.context), c.values.shape) for c in cases]
    )[mask]  # [M] the variance of each entry's context, in its dimension
    if floor is not None:
        honest = floored(honest, np.asarray(floor)[dims] * spread)
    squared = (honest.mean(axis=0) - observed) ** 2
    mse = float(np.mean(squared))
    per_dim = share_of_variance(squared, spread, dims, truth.shape[1])
    weights = fixed if fixed is not None else fit_weights(*pooled(features, observed - mean, extra))
    blend = InterpolationBlend(*weights) if interpolating else ExtrapolationBlend(partner, *weights)
    figures = {
        "points": int(mask.sum()),
        "mse": mse,
        "model_mse": float(np.mean((mean - observed) ** 2)),
        "blend": blend.to_json(),
        "baselines": errors,
        "best_baseline": best,
        "ratio": mse / errors[best] if errors[best] > 0 else None,
        "beats_naive": bool(mse < errors[best] * (1 - ROUNDING)),
        "coverage": {str(level): coverage(honest, observed, level) for level in LEVELS},
        "crps": _crps(honest, observed),
    }
    served = shifted(samples, features, weights)
    if variance is not None:
        served = respread(served, variance, weights[KRIGE])
    scale = fit_scale(served, observed)
    return figures, _Choice(weights, partner, scale, tuple(float(x) for x in per_dim))


def _partner(
    candidates: Mapping[str, Baseline],
    naive: Mapping[str, np.ndarray],
    truth: np.ndarray,
    in_sample: list[HeldOut],
    fallback: np.ndarray,
) -> str:
    """The candidate whose forecasts ``naive`` (name -> [N, D]) of the held-out ``truth``
    [N, D], pooled with its forecasts of the ``in_sample`` cases, have the least squared error.
    A naive method never saw the in-sample targets, so they are fair evidence for choosing one,
    and many: on one short tail of a mean-reverting series the last value and the return to the
    mean were a coin toss, and the tail's choice forecast the next season with 1.2-3.6x the
    error of the other."""
    errors = {name: _squared_errors(naive[name], truth) for name in candidates}
    for case in in_sample:
        for name, method in candidates.items():
            forecast = per_dimension(method, case.context, case.times, fallback)
            errors[name] += _squared_errors(forecast, case.values)
    observed = int((~np.isnan(truth)).sum()) + sum(
        int((~np.isnan(c.values)).sum()) for c in in_sample
    )
    return min(errors, key=errors.__getitem__) if observed else next(iter(candidates))


def _squared_errors(predicted: np.ndarray, truth: np.ndarray) -> float:
    """The sum of squared errors [N, D] over ``truth``'s observed entries."""
    observed = ~np.isnan(truth)
    return float(np.sum((predicted[observed] - truth[observed]) ** 2))


def _unless_clearly_better(
    samples: np.ndarray,
    features: np.ndarray,
    truth: np.ndarray,
    variance: np.ndarray | None,
    honest: np.ndarray,
    extra_errors: Mapping[tuple[float, ...], np.ndarray] | None = None,
    series: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[tuple[float, ...] | None, np.ndarray]:
    """The interpolation blend's fixed weights and their out-of-sample samples [S, M] when the
    fitted blend (``honest``) does not clearly beat the simplest answer; (None, ``honest``)
    when it does.

    The simplest answer is linear interpolation (``LINEAR_ONLY``), unless the kriged answer
    alone (``KRIGED_ONLY``, with ``variance`` [M]) or the monotone cubic alone (``PCHIP_ONLY``)
    clearly beats it (the better of them then), judged on the held-out entries and on
    ``extra_errors`` (weights -> squared errors [E] at other entries, ``_model_free_errors``).
    None of them has a weight fitted on the held-out points, so their figures there are out of
    sample as they are, and the model plays no part in them, so any gap the model was trained
    on can judge them: a family's few held-out series often cannot. ``series``: the series of
    each held-out entry [M] and of each other entry [E], when every series is one unit of
    evidence (``_clear_gain``)."""
    answers = {LINEAR_ONLY: cross_fitted(shifted(samples, features, LINEAR_ONLY), truth)}
    answers[PCHIP_ONLY] = cross_fitted(shifted(samples, features, PCHIP_ONLY), truth)
    if variance is not None:
        kriged = respread(shifted(samples, features, KRIGED_ONLY), variance, 1.0)
        answers[KRIGED_ONLY] = cross_fitted(kriged, truth)
    errors = {w: (a.mean(axis=0) - truth) ** 2 for w, a in answers.items()}  # w -> [M]
    held_out, others = (None, None) if series is None else series
    groups = held_out
    extra = extra_errors or {}
    if all(w in extra for w in answers):
        errors = {w: np.concatenate([e, extra[w]]) for w, e in errors.items()}
        groups = None if series is None else np.concatenate([held_out, others])
    clear = [
        w
        for w in (PCHIP_ONLY, KRIGED_ONLY)
        if w in errors and _clear_gain(errors[LINEAR_ONLY] - errors[w], groups)
    ]
    simplest = min(clear, key=lambda w: float(errors[w].mean()), default=LINEAR_ONLY)
    if _clearly_better(honest, answers[simplest], truth, held_out):
        return None, honest
    return simplest, answers[simplest]


def _model_free_errors(
    cases: list[HeldOut],
    kriging: Kriging | None,
    entries: Callable[[HeldOut], np.ndarray] | None = None,
) -> tuple[dict[tuple[float, ...], np.ndarray], np.ndarray]:
    """Squared errors [E] at ``cases``' observed entries (those ``entries`` selects) of linear
    interpolation, the monotone cubic and (with ``kriging``) the kriged answer, keyed by the
    blend weights that serve each, and each entry's series id [E]; entries a kriging kernel
    does not cover are left out of all three (empty without cases)."""
    found: dict[tuple[float, ...], list[np.ndarray]] = {}
    ids: list[np.ndarray] = []
    for case in cases:
        known_times = _with_neighbours(case)
        nothing = np.zeros((len(known_times), case.context.dims))  # no model: a mean of 0
        kriged = None if kriging is None else kriging(case.context, case.times).mean
        features = interpolation_features(case.context, case.times, known_times, nothing, kriged)
        keep = ~np.isnan(case.values)
        if entries is not None:
            keep &= entries(case)
        if kriged is not None:
            keep &= ~np.isnan(kriged)
        for weights in (LINEAR_ONLY, PCHIP_ONLY) + ((KRIGED_ONLY,) if kriging else ()):
            answer = np.tensordot(np.asarray(weights), features, axes=1)  # [T, D]
            found.setdefault(weights, []).append((answer - case.values)[keep] ** 2)
        ids.append(np.full(int(keep.sum()), case.context.id, dtype=object))
    errors = {w: np.concatenate(e) for w, e in found.items()}
    return errors, np.concatenate(ids) if ids else np.empty(0, dtype=object)


def _naive_unless_better(
    samples: np.ndarray, features: np.ndarray, truth: np.ndarray, honest: np.ndarray
) -> tuple[tuple[float, ...] | None, np.ndarray]:
    """The extrapolation blend's fixed weight and its out-of-sample samples [S, M] when the
    fitted blend (``honest``) forecasts the held-out tails no better than the naive forecast:
    the naive forecast itself (``NAIVE_ONLY``, with the model's spread); (None, ``honest``)
    when the fitted blend does better. The weight is fitted on in-sample forecasts too, whose
    targets training saw, so they can make the model look better than it is; the held-out tail
    decides. Not by the paired test, as for interpolation: a tail is one stretch of a few dozen
    points, too few for a test to tell a seasonal base with half the seasonal naive method's
    expected error from it."""
    naive = cross_fitted(shifted(samples, features, NAIVE_ONLY), truth)
    if np.mean((honest.mean(axis=0) - truth) ** 2) < np.mean((naive.mean(axis=0) - truth) ** 2):
        return None, honest
    return NAIVE_ONLY, naive


def _in_sample_evidence(
    model: LatentODE,
    normaliser: Normaliser,
    cases: list[HeldOut],
    seed: int,
    with_base: bool,
    partner: Baseline,
    fallback: np.ndarray,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The extrapolation blend's features [1, E] and residuals [E] at ``cases``' observed
    entries, with ``partner`` as the naive forecast; None without cases."""
    if not cases:
        return None
    truth = np.concatenate([c.values for c in cases])  # [N, D]
    mask = ~np.isnan(truth)
    naive = np.concatenate([per_dimension(partner, c.context, c.times, fallback) for c in cases])
    samples, features, _ = _samples_and_features(model, normaliser, cases, seed, with_base, naive)
    return features[:, mask], truth[mask] - samples.mean(axis=0)[mask]


def _samples_and_features(
    model: LatentODE,
    normaliser: Normaliser,
    cases: list[HeldOut],
    seed: int,
    with_base: bool,
    naive: np.ndarray | None,
    kriging: Kriging | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Posterior predictive samples at every case's held-out times, raw units, [S, N, D], the
    blend's features there, [K, N, D], and the kriged answer's variance there, [N, D] (None
    without ``kriging``): the interpolation features (with ``kriging``'s answer) when ``naive``
    is None, else the gap between the naive forecast ``naive`` [N, D] and the samples' mean."""
    wanted = [c.times if naive is not None else _with_neighbours(c) for c in cases]
    requests = [
        Request(c.context, times, seed + index)
        for index, (c, times) in enumerate(zip(cases, wanted, strict=True))
    ]
    answers = decode(
        model, normaliser, requests, n_samples=SKILL_SAMPLES, extrapolate_with_base=with_base
    )
    if naive is not None:
        samples = np.concatenate(answers, axis=1)
        return samples, (naive - samples.mean(axis=0))[None], None
    rows, features, variances = [], [], []
    for case, known_times, known in zip(cases, wanted, answers, strict=True):
        rows.append(known[:, np.searchsorted(known_times, case.times)])
        kriged = None if kriging is None else kriging(case.context, case.times)
        features.append(
            interpolation_features(
                case.context,
                case.times,
                known_times,
                known.mean(axis=0),
                None if kriged is None else kriged.mean,
            )
        )
        if kriged is not None:
            variances.append(kriged.variance)
    variance = np.concatenate(variances) if kriging is not None else None
    return np.concatenate(rows, axis=1), np.concatenate(features, axis=1), variance


def _with_neighbours(case: HeldOut) -> np.ndarray:
    return np.union1d(case.times, neighbour_times(case.context, case.times))


def share_of_variance(
    squared: np.ndarray, variance: np.ndarray, dims: np.ndarray, n_dims: int
) -> np.ndarray:
    """Per dimension [n_dims], squared errors [M] as a share of their contexts' variances [M]
    (``dims`` [M]: each entry's dimension). A ratio of sums, since a mean of ratios is ruled by
    the few contexts that barely vary, and a floor so measured can exceed the contexts' variance
    and make every interval far too wide. 0 in a dimension whose contexts do not vary
    at all (a constant series held out): there is no scale to measure the errors against, and a
    floor of errors over nothing was infinite and turned every forecast into NaN."""
    errors, spread = np.bincount(dims, squared, n_dims), np.bincount(dims, variance, n_dims)
    share = errors / np.where(spread > 0, spread, 1.0)
    return np.where((spread > 0) & np.isfinite(share), share, 0.0)


def _clearly_better(
    samples: np.ndarray, simpler: np.ndarray, truth: np.ndarray, groups: np.ndarray | None = None
) -> bool:
    """Whether the mean of ``samples`` [S, M] beats that of ``simpler`` [S, M] at ``truth`` [M]
    clearly (``_clear_gain``; ``groups`` [M]: each entry's unit of evidence)."""
    gain = (simpler.mean(axis=0) - truth) ** 2 - (samples.mean(axis=0) - truth) ** 2
    return _clear_gain(gain, groups)


def _clear_gain(gain: np.ndarray, groups: np.ndarray | None = None) -> bool:
    """Whether paired gains [M] (the simpler answer's squared errors less the other's) show the
    other answer better: by the forecasting pipeline's one rule, the one-sided paired t-test at
    its significance (``selection.paired_p_value``), on the entries, or (``groups`` [M]: a
    held-out series' entries share its errors, so a series is one unit) on the groups' mean
    gains; never on fewer than 2 units."""
    if groups is not None:
        _, group = np.unique(groups.astype(str), return_inverse=True)
        gain = np.bincount(group, gain) / np.bincount(group)
    return len(gain) >= 2 and paired_p_value(gain) < DEFAULT_POLICY.significance


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
