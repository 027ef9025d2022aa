"""The forecasting pipeline, top to bottom: backtest the candidates on the data set's own series,
choose one by the conservative rule, calibrate its intervals on its backtest errors, and keep
those choices as a versioned ``Recipe``; ``forecast`` answers from a recipe and a context.

Choices are made per dimension, pooled over the data set's series (each series' origins are
evidence for the same choice), so one recipe also answers a series the fit never saw.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from ..seasons import CALENDAR_PERIODS_S, find_season
from ..series import Series, TimeKind
from .backtest import Backtest, backtest, longest_horizon, pooled, step_scale
from .candidates import CANDIDATES, SIMPLEST, Combined, Forecaster, Variant, variants
from .family import FAMILY_CANDIDATES, MeanCurve, family_variant, family_variants
from .intervals import (
    GAUSSIAN,
    LeadVariance,
    ResidualQuantiles,
    calibrating,
    fit_lead_variance,
    fit_residual_quantiles,
)
from .policy import DEFAULT_POLICY, Policy
from .selection import Choice, choose

RECIPE_VERSION = 5
READABLE_VERSIONS = (1, 2, 3, 4, 5)  # 1: no family candidates; 1 and 2: Gaussian quantiles;
# 1 to 3: seasonal shapes weigh every cycle alike, one choice for every lead; 1 to 4: no partner
MIN_POINTS = 3  # fewer observations are not backtested: 2 to fit on, 1 to forecast at least
CALENDAR_POINTS = 2  # a calendar period is tried when it holds at least this many spacings
SAME_PERIOD = 0.1  # a found season this close (relative) to a calendar period or a harmonic of
# it is that period

# A context answers a dimension from the recipe only with this many observations of it (one
# value has no scale for an interval); fewer, and the latent ODE answers.
MIN_RECIPE_POINTS = 2


@dataclass(frozen=True)
class LeadBand:
    """The choice that serves a dimension's forecasts from a lead time on, made on the
    backtest errors at the leads of its band only.

    Attributes:
        after: it serves leads beyond this (time units after a context's last observation),
            up to the next band's.
        candidate, season, log: what serves.
        variance: its forecast variance by lead, fitted on those leads' errors.
        best, ratios, p_value, origins, reason: as ``DimensionRecipe``'s, on those leads.
        partner, partner_season, partner_log: as ``DimensionRecipe``'s, on those leads.
    """

    after: float
    candidate: str
    season: float | None
    log: bool
    variance: LeadVariance
    best: str
    ratios: dict[str, float]
    p_value: float
    origins: int
    reason: str
    partner: str | None = None
    partner_season: float | None = None
    partner_log: bool = False

    def variant(self) -> Variant | Combined:
        return _served(Variant(CANDIDATES[self.candidate], self.season, self.log), self)


@dataclass(frozen=True)
class DimensionRecipe:
    """One dimension's choice.

    Attributes:
        candidate: the candidate that serves.
        season: the season it serves at (time units), or None.
        log: whether it serves on the logarithm of the values.
        variance: its forecast variance by lead time, in squared step scales.
        best: the candidate with the least backtest error.
        ratios: candidate -> its backtest error over the served candidate's (geometric mean).
        p_value: the rule's p-value for the served candidate against the best.
        origins: the backtest origins the choice rests on.
        reason: why it serves, in one line.
        model_serves: whether the trained model's own forecast serves instead (it beat the
            candidate on held-out tails: ``model_evidence.judge_model``).
        model_ratio: the model's error over the candidate's there (geometric mean; NaN when
            not judged).
        model_p_value: the paired test's p-value that the model is better.
        model_origins: the held-out tails (units of evidence) that judgement rests on.
        family: the family's mean curve the family candidates read (``family``); None when
            they were not tried.
        quantiles: its standardised forecast error's quantiles (``intervals``), at every lead.
        beyond: the choices for leads past the backtest horizon, nearest first (``LeadBand``);
            empty when one choice serves every lead.
        partner, partner_season, partner_log: the best candidate, at its season and scale,
            whose forecast is averaged with the chosen one's (``Policy.combine_best``); None
            when the chosen one serves alone.
    """

    candidate: str
    season: float | None
    log: bool
    variance: LeadVariance
    best: str
    ratios: dict[str, float]
    p_value: float
    origins: int
    reason: str
    model_serves: bool = False
    model_ratio: float = float("nan")
    model_p_value: float = 1.0
    model_origins: int = 0
    family: MeanCurve | None = None
    quantiles: ResidualQuantiles = GAUSSIAN
    beyond: tuple[LeadBand, ...] = ()
    partner: str | None = None
    partner_season: float | None = None
    partner_log: bool = False

    def variant(self) -> Variant | Combined:
        """The served candidate at its season, on its scale (with its partner, if any)."""
        if self.candidate in FAMILY_CANDIDATES:
            if self.family is None:
                raise ValueError(f"{self.candidate} needs the family's mean curve")
            return family_variant(self.candidate, self.family)
        return _served(Variant(CANDIDATES[self.candidate], self.season, self.log), self)


def _served(chosen: Variant, choice: LeadBand | DimensionRecipe) -> Variant | Combined:
    """``chosen``, or its mean with ``choice``'s partner where it has one."""
    if choice.partner is None:
        return chosen
    partner = Variant(CANDIDATES[choice.partner], choice.partner_season, choice.partner_log)
    return Combined(chosen, partner)


@dataclass(frozen=True)
class Recipe:
    """The forecasting choices of one fit, saved with its checkpoint.

    Attributes:
        seasons: the seasons the candidates were tried at, in time units.
        dims: per dimension, its choice.
        policy: the thresholds they were made under.
        version: the recipe format.
    """

    seasons: tuple[float, ...]
    dims: tuple[DimensionRecipe, ...]
    policy: Policy = DEFAULT_POLICY
    version: int = RECIPE_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "seasons": list(self.seasons),
            "policy": {
                k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.policy).items()
            },
            "dims": [
                {
                    **asdict(replace(d, family=None)),
                    "variance": asdict(d.variance),
                    "model_ratio": d.model_ratio if math.isfinite(d.model_ratio) else None,
                    "family": None if d.family is None else d.family.to_json(),
                    "quantiles": list(d.quantiles.sizes),
                    "beyond": [asdict(band) for band in d.beyond],
                }
                for d in self.dims
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Recipe:
        """The recipe saved by ``to_json``; ValueError for another format or unknown names."""
        if data.get("version") not in READABLE_VERSIONS:
            raise ValueError(
                f"forecast recipe version {data.get('version')!r} is not one of {READABLE_VERSIONS}"
            )
        policy: dict[str, Any] = {
            "shape_half_life": None,  # versions 1 to 3 have none: every cycle alike
            "lead_band_growth": None,  # recipes before lead bands have none: one choice
            **{k: tuple(v) if isinstance(v, list) else v for k, v in data["policy"].items()},
        }
        dims = []
        for d in data["dims"]:
            family = None if d.get("family") is None else MeanCurve.from_json(d["family"])
            known = d["candidate"] in CANDIDATES or (
                d["candidate"] in FAMILY_CANDIDATES and family is not None
            )
            if not known:
                raise ValueError(f"unknown forecast candidate {d['candidate']!r}")
            bands = tuple(
                LeadBand(**{**b, "variance": LeadVariance(**b["variance"])})
                for b in d.get("beyond", ())  # versions 1 to 3 have none
            )
            named = [d.get("partner")]  # versions 1 to 4 have no partner
            named += [name for b in bands for name in (b.candidate, b.partner)]
            unknown = [n for n in named if n is not None and n not in CANDIDATES]
            if unknown:
                raise ValueError(f"unknown forecast candidate {unknown[0]!r}")
            _check_partners(d, bands)
            ratio = d.get("model_ratio")
            sizes = d.get("quantiles")  # versions 1 and 2 have none: Gaussian
            fields = {
                **d,
                "model_ratio": math.nan if ratio is None else ratio,
                "family": family,
                "variance": LeadVariance(**d["variance"]),
                "quantiles": GAUSSIAN if sizes is None else ResidualQuantiles(tuple(sizes)),
                "beyond": bands,
            }
            dims.append(DimensionRecipe(**fields))
        return cls(tuple(data["seasons"]), tuple(dims), Policy(**policy), data["version"])


def _check_partners(dim: dict[str, Any], bands: tuple[LeadBand, ...]) -> None:
    """ValueError for a partner a recipe cannot serve: beside a family candidate, or a seasonal
    candidate without its season."""
    partners = [(dim["candidate"], dim.get("partner"), dim.get("partner_season"))]
    partners += [(b.candidate, b.partner, b.partner_season) for b in bands]
    for candidate, partner, season in partners:
        if partner is None:
            continue
        if candidate in FAMILY_CANDIDATES:
            raise ValueError(f"{candidate} serves alone, not with partner {partner!r}")
        if CANDIDATES[partner].seasonal and season is None:
            raise ValueError(f"partner {partner!r} needs its season")


def _family(
    seen: list[tuple[str, np.ndarray, np.ndarray]], policy: Policy, time_kind: TimeKind
) -> MeanCurve | None:
    """The mean curve of one dimension's observed series (id, times, values) when the family
    candidates are tried there: numeric times, ``policy.family_series`` series or more."""
    curves = [(t, v) for _, t, v in seen if len(t)]
    if time_kind is TimeKind.DATETIME or len(curves) < policy.family_series:
        return None
    return MeanCurve.fit(curves, policy.family_points)


def _family_horizons(policy: Policy) -> Policy:
    """``policy`` with a family's backtest horizon (``Policy.family_horizon_share``)."""
    return replace(policy, max_horizon_share=policy.family_horizon_share)


def candidate_seasons(series: Sequence[Series], time_kind: TimeKind) -> tuple[float, ...]:
    """The periods seasonal candidates are tried at: for datetime data, the calendar periods
    (a year, a week, a day) that hold ``CALENDAR_POINTS`` spacings; and the season the
    periodogram finds in the series with the most points (``models.seasons``), unless it is
    one of those."""
    longest = max(series, key=len)
    gaps = np.diff(longest.times)
    step = float(np.median(gaps)) if len(gaps) else 0.0
    found: list[float] = []
    if time_kind is TimeKind.DATETIME and step > 0:
        found += [p for p in CALENDAR_PERIODS_S if p >= CALENDAR_POINTS * step]
    season = find_season(longest, time_kind)
    if season is not None and not any(_harmonic(season, p) for p in found):
        found.append(season)
    return tuple(sorted(found))


def calendar_seasons(seasons: tuple[float, ...], time_kind: TimeKind) -> tuple[float, ...]:
    """The ``seasons`` the calendar gives (within ``SAME_PERIOD`` of one; datetime data only):
    the ones lead bands reach out to. A season the periodogram found is an estimate, and
    repeated far ahead its error in period grows into a wrong phase."""
    if time_kind is not TimeKind.DATETIME:
        return ()
    return tuple(
        p for p in seasons if any(abs(p / c - 1) <= SAME_PERIOD for c in CALENDAR_PERIODS_S)
    )


def choose_forecast(
    series: Sequence[Series],
    seasons: tuple[float, ...],
    policy: Policy = DEFAULT_POLICY,
    time_kind: TimeKind = TimeKind.NUMERIC,
) -> Recipe:
    """Backtest, choose and calibrate, per dimension, on every series of a data set."""
    return choose_forecast_with_evidence(series, seasons, policy, time_kind)[0]


def choose_forecast_with_evidence(
    series: Sequence[Series],
    seasons: tuple[float, ...],
    policy: Policy = DEFAULT_POLICY,
    time_kind: TimeKind = TimeKind.NUMERIC,
) -> tuple[Recipe, tuple[Backtest, ...]]:
    """``choose_forecast``'s recipe and, per dimension, the pooled backtest it chose on."""
    dims, evidences = [], []
    for d in range(series[0].values.shape[1]):
        seen = [(s.id, *observed(s, d)) for s in series]
        family = _family(seen, policy, time_kind)
        horizons = policy if family is None else _family_horizons(policy)
        tested = [(series_id, t, v) for series_id, t, v in seen if len(t) >= MIN_POINTS]
        tried = [
            variants(t, v, seasons, policy) + family_variants(family and family.without(t, v))
            for _, t, v in tested
        ]
        tests = [
            backtest(t, v, seasons, found, horizons, series_id)
            for (series_id, t, v), found in zip(tested, tried, strict=True)
        ]
        evidence = pooled(tests).complete(policy.min_origins)
        choice = choose(evidence, policy)
        evidence, served = _combined(evidence, choice, policy)
        variance, quantiles = _calibrated(evidence, served.label, policy)
        beyond: tuple[LeadBand, ...] = ()
        if family is None and policy.lead_band_growth is not None:
            known = calendar_seasons(seasons, time_kind)
            beyond = _lead_bands(
                tested, tried, seasons, known, evidence.horizon, choice.served, policy
            )
        fields = _serving(choice, served)
        dims.append(
            DimensionRecipe(
                **fields,
                variance=variance,
                best=choice.best,
                ratios=choice.ratios,
                p_value=choice.p_value,
                origins=choice.origins,
                family=family if fields["candidate"] in FAMILY_CANDIDATES else None,
                quantiles=quantiles,
                beyond=beyond,
            )
        )
        evidences.append(evidence)
    return Recipe(seasons, tuple(dims), policy), tuple(evidences)


def _combined(
    evidence: Backtest, choice: Choice, policy: Policy
) -> tuple[Backtest, Variant | Combined]:
    """What serves, and the evidence holding its backtest forecasts: the chosen variant, or,
    under ``policy.combine_best``, its mean with the best where the choice is neither the
    simplest nor the best (the family candidates serve alone)."""
    chosen = evidence.variants.get(choice.served, Variant(CANDIDATES[SIMPLEST], None))
    best = evidence.variants.get(choice.best)
    if (
        policy.combine_best
        and choice.served not in (SIMPLEST, choice.best)
        and isinstance(chosen, Variant)
        and isinstance(best, Variant)
        and chosen.candidate.name in CANDIDATES
        and best.candidate.name in CANDIDATES
    ):
        pair = Combined(chosen, best)
        return evidence.with_combined(pair), pair
    return evidence, chosen


def _serving(choice: Choice, served: Variant | Combined) -> dict[str, Any]:
    """The recipe fields that say what serves: the chosen candidate, its season and scale,
    its partner's where it serves with one, and why."""
    chosen = served.first if isinstance(served, Combined) else served
    fields: dict[str, Any] = {
        "candidate": chosen.candidate.name,
        "season": chosen.season,
        "log": chosen.log,
        "reason": choice.reason,
    }
    if isinstance(served, Combined):
        partner = served.second
        fields |= {
            "partner": partner.candidate.name,
            "partner_season": partner.season,
            "partner_log": partner.log,
            "reason": f"{choice.reason}; served as the mean of {choice.served} and {choice.best}",
        }
    return fields


def _calibrated(
    evidence: Backtest, served: str, policy: Policy
) -> tuple[LeadVariance, ResidualQuantiles]:
    """The variance by lead and the quantiles of what serves (label ``served``), from its
    backtest errors at the origins that can calibrate (``intervals.calibrating``); a random
    walk's with fewer than ``policy.min_origins`` of them, as the rule then has no evidence."""
    evidence = calibrating(evidence)
    if len(evidence.origins) < policy.min_origins or served not in evidence.candidates():
        return LeadVariance(1.0, 1.0, 1.0), GAUSSIAN  # a random walk's, in steps
    variance = fit_lead_variance(evidence, served, policy)
    return variance, fit_residual_quantiles(evidence, served, variance, policy)


def _lead_bands(
    seen: list[tuple[str, np.ndarray, np.ndarray]],
    tried: list[list[Variant]],
    seasons: tuple[float, ...],
    known: tuple[float, ...],
    first: float,
    nearest: str,
    policy: Policy,
) -> tuple[LeadBand, ...]:
    """Choices for the leads past the ``first`` horizon: one backtest over the longest usable
    ``known`` season, its errors split into bands of lead ``policy.lead_band_growth`` times as
    far out each, and the rule applied to each band's errors alone, the choice at nearer
    leads (``nearest`` first) staying unless significantly worse."""
    growth = policy.lead_band_growth
    lengths = [longest_horizon(t, known, policy) for _, t, _ in seen]
    longer = [length for length in lengths if length > first * (1 + SAME_PERIOD)]
    if growth is None or not (first > 0 and longer):
        return ()
    tests = [
        backtest(t, v, seasons, found, policy, series_id, length)
        for (series_id, t, v), found, length in zip(seen, tried, lengths, strict=True)
        if length in longer
    ]
    evidence = pooled(tests)
    step = min(longer) / policy.origin_steps  # the closest origins: the most overlap
    bands: list[LeadBand] = []
    for low, high in itertools.pairwise(lead_edges(first, max(longer), growth)):
        within = evidence.within(low, high).complete(policy.min_origins)
        if len(within.origins) < policy.min_origins:
            break  # no evidence to change on: the nearer choice serves on
        overlap = min(policy.origin_steps, math.ceil((high - low) / step - 1e-9))
        choice = choose(within, policy, max(1, overlap), incumbent=nearest)
        within, served = _combined(within, choice, policy)
        variance, _ = _calibrated(within, served.label, policy)
        nearest = choice.served
        bands.append(
            LeadBand(
                after=low,
                **_serving(choice, served),
                variance=variance,
                best=choice.best,
                ratios=choice.ratios,
                p_value=choice.p_value,
                origins=choice.origins,
            )
        )
    return tuple(bands)


def lead_edges(first: float, longest: float, growth: float) -> list[float]:
    """The lead bands' edges from ``first`` to ``longest``, each ``growth`` times the one
    before; the last is ``longest``, merged into the one before when within ``SAME_PERIOD``."""
    edges = [first]
    while edges[-1] * growth < longest:
        edges.append(edges[-1] * growth)
    if len(edges) > 1 and longest <= edges[-1] * (1 + SAME_PERIOD):
        edges[-1] = longest
    else:
        edges.append(longest)
    return edges


def forecast_moments(
    recipe: Recipe, context: Series, query: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The recipe's mean [Q, D] and variance [Q, D] at ``query`` [Q] after ``context``'s
    observations; NaN in a dimension the context never observes."""
    query = np.asarray(query, dtype=np.float64)
    mean = np.full((len(query), len(recipe.dims)), np.nan)
    variance = mean.copy()
    for d, dim in enumerate(recipe.dims):
        times, values = observed(context, d)
        if not len(times):
            continue
        leads, scale = query - times[-1], step_scale(values)
        forecasters: dict[str, Forecaster] = {}
        nearer: Forecaster | None = None
        for after, variant, lead_variance in [
            (-math.inf, dim.variant(), dim.variance),
            *[(band.after, band.variant(), band.variance) for band in dim.beyond],
        ]:
            served = leads > after  # a later band overwrites the leads past its start
            if not served.any():
                break
            if variant.label not in forecasters:
                try:
                    forecasters[variant.label] = variant.fit(times, values, recipe.policy)
                except ValueError:  # a context too short for the season, or not positive
                    forecasters[variant.label] = nearer or CANDIDATES[SIMPLEST].fit(
                        times, values, None, recipe.policy
                    )
            nearer = forecasters[variant.label]
            mean[served, d] = nearer(query[served])
            variance[served, d] = lead_variance(leads[served], scale)
    return mean, variance


def backcast_moments(
    recipe: Recipe, context: Series, query: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The recipe's mean [Q, D] and variance [Q, D] at ``query`` [Q] before ``context``'s
    first observation: its forecast of the context with time reversed, the backcast of a
    time series (Box & Jenkins, *Time Series Analysis*, 1970, section 9.2, on backforecasting).
    NaN in a dimension the context never observes, and in one served by a family candidate,
    whose mean curve runs forward in time only."""
    mirrored = Series(context.id, -context.times[::-1], context.values[::-1])
    mean, variance = forecast_moments(recipe, mirrored, -np.asarray(query, dtype=np.float64))
    for d, dim in enumerate(recipe.dims):
        if dim.candidate in FAMILY_CANDIDATES:
            mean[:, d] = variance[:, d] = np.nan
    return mean, variance


def standard_quantiles(recipe: Recipe, levels: np.ndarray) -> np.ndarray:
    """Each dimension's standardised forecast error at ``levels`` [L]: [L, D]."""
    return np.stack([dim.quantiles(levels) for dim in recipe.dims], axis=1)


def forecast(
    recipe: Recipe, context: Series, query: np.ndarray, levels: tuple[float, ...]
) -> tuple[np.ndarray, dict[float, np.ndarray]]:
    """The recipe's mean [Q, D] and quantiles (level -> [Q, D]) at ``query`` [Q]."""
    mean, variance = forecast_moments(recipe, context, query)
    sd = np.sqrt(variance)
    z = standard_quantiles(recipe, np.asarray(levels, dtype=np.float64))  # [L, D]
    return mean, {q: mean + z[i] * sd for i, q in enumerate(levels)}


def _harmonic(season: float, period: float) -> bool:
    """Whether ``season`` is ``period`` or one of its harmonics (period / k), within
    ``SAME_PERIOD``: a calendar period's own shape already holds its harmonics."""
    multiple = period / season
    return round(multiple) >= 1 and abs(multiple / round(multiple) - 1) <= SAME_PERIOD


def observed(series: Series, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Dimension ``d``'s observed times [N] and values [N] of ``series``."""
    seen = ~np.isnan(series.values[:, d])
    return series.times[seen], series.values[seen, d]
