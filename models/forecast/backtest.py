"""Rolling-origin backtests: every candidate refitted on a series' past at several origins and
scored on the horizon after each (Tashman 2000, "Out-of-sample tests of forecasting accuracy").

The horizon is the shortest season the series spans ``policy.min_seasons`` times, else
``policy.horizon_points`` median spacings, and at most ``policy.max_horizon_share`` of the span.
Origins step back ``1 / policy.origin_steps`` of a horizon at a time from the end (so their
horizons overlap when ``origin_steps`` > 1, and a season's phases are all forecast from),
spanning at most ``policy.origins`` horizons, while the earliest leaves ``policy.min_fit_share``
of the span to fit on; an origin whose horizon holds no observation (a gap) is skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .candidates import Combined, Variant, spacing, usable_season
from .policy import Policy


@dataclass(frozen=True)
class OriginErrors:
    """One origin's targets and every candidate's forecasts of them.

    Attributes:
        leads: [N] the targets' times after the origin's last fitted observation.
        truth: [N] the observed values.
        forecasts: variant label -> [N] its point forecasts.
        scale: the fitted part's typical one-step change (``step_scale``), the unit of errors
            that compare across series.
        cut: the time of the origin's last fitted observation.
        series: the id of the series it belongs to.
        fitted: how many observations the candidates were fitted on.
    """

    leads: np.ndarray
    truth: np.ndarray
    forecasts: dict[str, np.ndarray]
    scale: float
    cut: float = 0.0
    series: str = ""
    fitted: int = 0

    def mse(self, name: str) -> float:
        return float(np.mean((self.forecasts[name] - self.truth) ** 2))


@dataclass(frozen=True)
class Backtest:
    """The origins of one series (or several pooled), oldest first.

    Attributes:
        horizon: what each origin forecasts, in time units.
        origins: each origin's targets and forecasts.
        variants: label -> the variant scored under it.
    """

    horizon: float
    origins: tuple[OriginErrors, ...]
    variants: dict[str, Variant | Combined]

    def complete(self, least: int) -> Backtest:
        """These origins less those where a variant could not be fitted (the earliest, where a
        season's variants lack the history they need), when at least ``least`` remain: the
        candidates are then compared on fewer origins rather than some left out of the
        comparison."""
        full = tuple(o for o in self.origins if set(o.forecasts) >= set(self.variants))
        return replace(self, origins=full) if len(full) >= least else self

    def within(self, low: float, high: float) -> Backtest:
        """These origins' targets at leads in (``low``, ``high``] only (time units), origins
        without one dropped: the evidence for a choice that serves those leads."""
        kept = []
        for o in self.origins:
            inside = (o.leads > low) & (o.leads <= high)
            if inside.any():
                forecasts = {name: f[inside] for name, f in o.forecasts.items()}
                leads, truth = o.leads[inside], o.truth[inside]
                kept.append(replace(o, leads=leads, truth=truth, forecasts=forecasts))
        return replace(self, origins=tuple(kept))

    def with_combined(self, pair: Combined) -> Backtest:
        """These origins with ``pair``'s forecasts (the mean of its members') where both
        members have one."""
        first, second = pair.first.label, pair.second.label
        origins = tuple(
            replace(
                o,
                forecasts={
                    **o.forecasts,
                    pair.label: (o.forecasts[first] + o.forecasts[second]) / 2,
                },
            )
            if first in o.forecasts and second in o.forecasts
            else o
            for o in self.origins
        )
        return replace(self, origins=origins, variants={**self.variants, pair.label: pair})

    def candidates(self) -> list[str]:
        """The candidates scored at every origin."""
        if not self.origins:
            return []
        names = set(self.origins[0].forecasts)
        for origin in self.origins[1:]:
            names &= set(origin.forecasts)
        return sorted(names)


def horizon(times: np.ndarray, seasons: tuple[float, ...], policy: Policy) -> float:
    """The backtest horizon of a series observed at ``times`` [T], in time units."""
    span = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    usable = [p for p in seasons if usable_season(times, p, policy) is not None]
    wanted = min(usable) if usable else policy.horizon_points * spacing(times)
    return min(wanted, policy.max_horizon_share * span) if span > 0 else 0.0


def longest_horizon(times: np.ndarray, seasons: tuple[float, ...], policy: Policy) -> float:
    """The longest usable season, at most ``policy.max_horizon_share`` of the span; 0.0
    without a usable season."""
    span = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    usable = [p for p in seasons if usable_season(times, p, policy) is not None]
    return min(max(usable), policy.max_horizon_share * span) if usable else 0.0


def step_scale(values: np.ndarray) -> float:
    """The root mean square of consecutive changes, a series' scale that a trend or a level
    does not inflate (at least a tiny positive number)."""
    changes = np.diff(values)
    scale = float(np.sqrt(np.mean(changes**2))) if len(changes) else 0.0
    return scale if scale > 0 else max(float(np.abs(values).max(initial=0.0)), 1.0) * 1e-12


def backtest(
    times: np.ndarray,
    values: np.ndarray,
    seasons: tuple[float, ...],
    variants: list[Variant],
    policy: Policy,
    series: str = "",
    length: float | None = None,
) -> Backtest:
    """Backtest ``variants`` on one dimension's observations (``times`` [T] increasing,
    ``values`` [T]) over ``length`` (time units; ``horizon`` by default); a variant that cannot
    be fitted at an origin is left out there."""
    h = horizon(times, seasons, policy) if length is None else length
    named: dict[str, Variant | Combined] = {v.label: v for v in variants}
    if not h > 0:
        return Backtest(0.0, (), named)
    end, span = float(times[-1]), float(times[-1] - times[0])
    step = h / policy.origin_steps
    room = math.floor(((1 - policy.min_fit_share) * span - h) / step + 1e-9) + 1
    count = min(policy.most_origins, room)
    found = []
    for k in range(count - 1, -1, -1):
        cut = end - h - k * step
        past = times <= cut
        ahead = (times > cut) & (times <= cut + h)
        if past.sum() < 2 or not ahead.any():
            continue
        t, y = times[past], values[past]
        forecasts = {}
        for variant in variants:
            try:
                forecaster = variant.fit(t, y, policy)
            except ValueError:
                continue
            forecasts[variant.label] = forecaster(times[ahead])
        leads = times[ahead] - t[-1]
        found.append(
            OriginErrors(
                leads, values[ahead], forecasts, step_scale(y), float(t[-1]), series, len(t)
            )
        )
    return Backtest(h, tuple(found), named)


def pooled(backtests: list[Backtest]) -> Backtest:
    """Several series' backtests as one (their origins together; the longest horizon)."""
    origins = tuple(o for b in backtests for o in b.origins)
    named = {label: v for b in backtests for label, v in b.variants.items()}
    return Backtest(max((b.horizon for b in backtests), default=0.0), origins, named)
