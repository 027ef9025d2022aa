"""The forecasting candidates: small methods behind one interface, simplest first.

A candidate is fitted on one dimension of one series (``times`` [T] increasing, ``values`` [T]
observed) and answers a point forecast at any later times; intervals come from the backtests
(``intervals``), so that every candidate's are calibrated the same way. Times may be irregular:
every method here reads the gaps between observations, none needs a grid.

- ``last_value``, ``seasonal_naive``, ``drift``: the naive methods (``models.baselines``;
  Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, section 5.2).
- ``mean_reversion``: an AR(1) (Ornstein-Uhlenbeck) return to the mean at irregular times
  (``models.baselines.fit_reversion``).
- ``ses``: simple exponential smoothing of the seasonally adjusted series, each observation's
  weight grown with the gap before it (Wright 1986, "Forecasting data published at irregular
  time intervals using an extension of Holt's method", Management Science 32(4)).
- ``theta``: the Theta method (Assimakopoulos & Nikolopoulos 2000; as SES with drift, Hyndman &
  Billah 2003): ``ses`` plus half the slope of the adjusted series' least-squares line.
- ``combination``: the mean of the naive method, ``ses`` and ``theta`` (Bates & Granger 1969).
- ``momentum``: an autoregression on the seasonally adjusted series' differences with a drift
  (ARIMA(p,1,0); Box & Jenkins 1970, chapter 4), its order chosen by AIC: a change that persists
  (a recession, a rising rate) carries on and fades into the drift.

The seasonal adjustment (``SeasonalShape``) subtracts a Fourier series fitted to the values less
their moving average over one season (classical decomposition, on times instead of a grid), the
recent cycles weighing most.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from ..baselines import drift, fit_reversion, last_value, seasonal_naive
from .policy import Policy

Forecaster = Callable[[np.ndarray], np.ndarray]  # query times [Q] -> point forecast [Q]
SMOOTHED_FITS = 64  # seasonal adjustments and smoothings kept for the candidates that share them
MOMENTUM_STEPS = 4096  # the momentum recursion's most steps; further out the change is its limit


@dataclass(frozen=True)
class Candidate:
    """A forecasting method.

    Attributes:
        name: how recipes and records name it.
        complexity: its rank among the candidates (0 the simplest); a more complex one replaces
            a simpler one only on evidence across backtest origins (``selection``).
        seasonal: whether it needs a season.
        adjusts: whether it is also tried at each season (seasonally adjusted or repeated).
        fit: (times [T], values [T], season or None, policy) -> its forecaster.
    """

    name: str
    complexity: int
    seasonal: bool
    adjusts: bool
    fit: Callable[[np.ndarray, np.ndarray, float | None, Policy], Forecaster]


def spacing(times: np.ndarray) -> float:
    """The median gap between consecutive times (1.0 for fewer than two)."""
    gaps = np.diff(times)
    return float(np.median(gaps)) if len(gaps) else 1.0


def usable_season(times: np.ndarray, season: float | None, policy: Policy) -> float | None:
    """``season`` when the observations span at least ``policy.min_seasons`` of it, else None."""
    if season is None or len(times) < 2:
        return None
    return season if times[-1] - times[0] >= policy.min_seasons * season else None


# ----------------------------------------------------------------------------- seasonal shape


@dataclass(frozen=True)
class SeasonalShape:
    """A zero-mean periodic component: ``sum_k a_k cos(2 pi k t / P) + b_k sin(2 pi k t / P)``.

    Attributes:
        period: P, in time units.
        coefficients: [2K], the cosine then sine weights of harmonics 1..K.
    """

    period: float
    coefficients: np.ndarray

    def __call__(self, query: np.ndarray) -> np.ndarray:
        return _fourier(np.asarray(query, dtype=np.float64), self.period, self.harmonics) @ (
            self.coefficients
        )

    @property
    def harmonics(self) -> int:
        return len(self.coefficients) // 2


def fit_shape(
    times: np.ndarray, values: np.ndarray, season: float | None, policy: Policy
) -> SeasonalShape | None:
    """The season's shape in ``values`` [T], or None without a usable season.

    The values less their centred moving average over one season (the mean over that time of
    the lines between observations, where the window lies inside them) are regressed on
    ``K = min(policy.harmonics, P / (2 spacing))`` harmonics, so a shape finer than the
    sampling is not invented; by weighted least squares, an observation's weight halving every
    ``policy.shape_half_life`` cycles back from the last, so a season that changes over the
    years (as Holt-Winters' seasonal states do) is answered with its recent shape.
    """
    period = usable_season(times, season, policy)
    if period is None:
        return None
    harmonics = min(policy.harmonics, int(period / (2 * spacing(times))))
    if harmonics < 1:
        return None
    half = period / 2
    inside = (times - half >= times[0]) & (times + half <= times[-1])
    if inside.sum() < 2 * harmonics + 1:
        return None
    area = _running_area(times, values)
    level = (area(times[inside] + half) - area(times[inside] - half)) / period
    detrended = values[inside] - level
    design = np.column_stack([np.ones(inside.sum()), _fourier(times[inside], period, harmonics)])
    if policy.shape_half_life is not None:
        age = (times[-1] - times[inside]) / (policy.shape_half_life * period)
        root = np.sqrt(0.5**age)  # weighted least squares: rows scaled by the weights' roots
        design, detrended = design * root[:, None], detrended * root
    solution, *_ = np.linalg.lstsq(design, detrended, rcond=None)
    return SeasonalShape(period, solution[1:])


def _running_area(times: np.ndarray, values: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """x -> the integral from ``times[0]`` to x of the straight lines between the observations:
    a moving average over a season taken from it weighs time, not observations, so it holds no
    season however the observations fall in it."""
    gaps = np.diff(times)
    cumulative = np.concatenate([[0.0], np.cumsum(gaps * (values[1:] + values[:-1]) / 2)])
    slopes = np.diff(values) / gaps

    def area(x: np.ndarray) -> np.ndarray:
        i = np.clip(np.searchsorted(times, x, side="right") - 1, 0, len(times) - 2)
        dx = x - times[i]
        return cumulative[i] + dx * values[i] + 0.5 * dx**2 * slopes[i]

    return area


def _fourier(times: np.ndarray, period: float, harmonics: int) -> np.ndarray:
    """[T, 2K]: cos(2 pi k t / P) for k = 1..K, then the sines."""
    angle = 2 * math.pi * np.outer(times, np.arange(1, harmonics + 1)) / period
    return np.concatenate([np.cos(angle), np.sin(angle)], axis=1)


# ----------------------------------------------------------------------------- smoothing


@dataclass(frozen=True)
class Smoothed:
    """Exponential smoothing's end state on irregular times.

    Attributes:
        level: the smoothed level at the last observation.
        alpha: the weight of a new observation one median spacing after the previous one.
        last_time: the last observation's time.
        step: the median spacing.
    """

    level: float
    alpha: float
    last_time: float
    step: float


def smooth(times: np.ndarray, values: np.ndarray, policy: Policy) -> Smoothed:
    """Simple exponential smoothing with the alpha (of ``policy.smoothing_levels``) whose
    one-step-ahead errors over the last ``policy.smoothing_points`` observations are least. An
    observation after a gap of ``g`` spacings moves the level by ``1 - (1 - alpha)^g`` of its
    error (Wright 1986)."""
    times, values = times[-policy.smoothing_points :], values[-policy.smoothing_points :]
    step = spacing(times)
    low, high, count = policy.smoothing_levels
    alphas = np.geomspace(low, high, count)  # [A]
    gaps = np.diff(times) / step  # [T-1]
    level = np.full(len(alphas), values[0])
    squared = np.zeros(len(alphas))
    for gap, value in zip(gaps, values[1:], strict=True):
        error = value - level
        squared += error**2
        level = level + (1 - (1 - alphas) ** gap) * error
    best = int(np.argmin(squared)) if len(values) > 1 else len(alphas) // 2
    return Smoothed(float(level[best]), float(alphas[best]), float(times[-1]), step)


@functools.lru_cache(maxsize=SMOOTHED_FITS)
def _smoothed_fit(
    times: bytes, values: bytes, season: float | None, policy: Policy
) -> tuple[np.ndarray, SeasonalShape | None, Smoothed]:
    t, v = np.frombuffer(times), np.frombuffer(values)
    shape = fit_shape(t, v, season, policy)
    adjusted = v if shape is None else v - shape(t)
    adjusted.setflags(write=False)  # shared by every caller of the same fit
    return adjusted, shape, smooth(t, adjusted, policy)


def _adjusted_and_smoothed(
    times: np.ndarray, values: np.ndarray, season: float | None, policy: Policy
) -> tuple[np.ndarray, Forecaster, Smoothed]:
    """The seasonally adjusted values [T], the seasonal component to add back, and the adjusted
    values' smoothing. ``ses``, ``theta`` and ``combination`` fitted at one origin and season
    ask for the same one, so the latest ``SMOOTHED_FITS`` are kept."""
    t = np.ascontiguousarray(times, dtype=np.float64).tobytes()
    v = np.ascontiguousarray(values, dtype=np.float64).tobytes()
    adjusted, shape, state = _smoothed_fit(t, v, season, policy)
    return adjusted, (np.zeros_like if shape is None else shape), state


def fit_ses(
    times: np.ndarray, values: np.ndarray, season: float | None, policy: Policy
) -> Forecaster:
    _, seasonal, state = _adjusted_and_smoothed(times, values, season, policy)

    def forecast(query: np.ndarray) -> np.ndarray:
        return state.level + seasonal(query)

    return forecast


def fit_theta(
    times: np.ndarray, values: np.ndarray, season: float | None, policy: Policy
) -> Forecaster:
    """SES plus half the least-squares slope: ``level + b/2 (t - t_T + step (1/alpha - 1))``
    (Hyndman & Billah 2003's drift, with lead times in time units)."""
    adjusted, seasonal, state = _adjusted_and_smoothed(times, values, season, policy)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    slope = float(np.polyfit(times - times[-1], adjusted, 1)[0]) if span > 0 else 0.0
    offset = state.step * (1 / state.alpha - 1)

    def forecast(query: np.ndarray) -> np.ndarray:
        lead = np.asarray(query, dtype=np.float64) - state.last_time
        return state.level + slope / 2 * (lead + offset) + seasonal(query)

    return forecast


def fit_combination(
    times: np.ndarray, values: np.ndarray, season: float | None, policy: Policy
) -> Forecaster:
    """The mean of ``ses``, ``theta`` and the naive method (the seasonal one at a season, else
    the last value): combined forecasts err less than their average member, and less often
    badly (Bates & Granger 1969; the M4 competition's combinations)."""
    naive = _fit_seasonal_naive if season is not None else _naive(last_value)
    members = [fit(times, values, season, policy) for fit in (naive, fit_ses, fit_theta)]
    return lambda query: np.mean([member(query) for member in members], axis=0)


def fit_momentum(
    times: np.ndarray, values: np.ndarray, season: float | None, policy: Policy
) -> Forecaster:
    """ARIMA(p,1,0) with drift on the seasonally adjusted values, read on a grid of the median
    spacing ending at the last observation (linear between observations, at most
    ``policy.smoothing_points`` steps back). Differences are regressed on their ``p`` previous
    ones and a constant by least squares, rows that read a grid point more than one spacing
    from an observation (inside a gap) left out; ``p`` of 0..``policy.momentum_lags`` by AIC on
    the rows all orders share, an explosive fit (a root of its polynomial on or inside the unit
    circle) not taken. The forecast cumulates the differences' recursive forecasts from the
    last value."""
    adjusted, seasonal, state = _adjusted_and_smoothed(times, values, season, policy)
    step = state.step
    count = min(policy.smoothing_points, int((times[-1] - times[0]) / step) + 1)
    grid = times[-1] - step * np.arange(count - 1, -1, -1)  # [G] increasing, ends at the last
    level = np.interp(grid, times, adjusted)
    differences = np.diff(level)  # [G-1]
    nearest = np.abs(times[np.clip(np.searchsorted(times, grid), 0, len(times) - 1)] - grid)
    before = np.abs(times[np.clip(np.searchsorted(times, grid) - 1, 0, len(times) - 1)] - grid)
    observed = np.minimum(nearest, before) <= step * (1 + 1e-9)  # [G] near an observation
    trusted = observed[1:] & observed[:-1]  # [G-1] differences between near-observed points
    coefficients = _momentum_order(differences, trusted, policy.momentum_lags)  # [1 + p]
    order = len(coefficients) - 1
    last_value = float(level[-1])
    limit = coefficients[0] / (1 - float(np.sum(coefficients[1:])))  # the drift it fades into
    latest = differences[::-1][:order]  # [<= p] the latest first

    def forecast(query: np.ndarray) -> np.ndarray:
        query = np.asarray(query, dtype=np.float64)
        lead = (query - state.last_time) / step  # [Q] in grid steps
        furthest = float(np.max(lead[np.isfinite(lead)], initial=0.0))
        steps = min(MOMENTUM_STEPS, max(1, math.ceil(furthest)))
        lags = np.full(order, limit)  # a history shorter than the order starts from the drift
        lags[: len(latest)] = latest
        path = np.empty(steps + 1)  # [S + 1] the level at leads 0..S steps
        path[0] = last_value
        for k in range(1, steps + 1):
            change = coefficients[0] + float(coefficients[1:] @ lags)
            lags[1:] = lags[:-1].copy()
            if order:
                lags[0] = change
            path[k] = path[k - 1] + change
        at = np.interp(lead, np.arange(steps + 1, dtype=np.float64), path)
        at = np.where(lead > steps, path[-1] + limit * (lead - steps), at)
        return np.where(lead >= 0, at, last_value) + seasonal(query)

    return forecast


def _momentum_order(differences: np.ndarray, trusted: np.ndarray, most: int) -> np.ndarray:
    """[1 + p]: the constant then the lag weights of the AIC-best non-explosive AR(p) of
    ``differences`` [N] (p at most ``most``), fitted on the rows whose differences are all
    ``trusted`` [N]; the mean alone (a drift) where none fits."""
    mean = float(np.mean(differences[trusted])) if trusted.any() else 0.0
    best, best_aic = np.array([mean]), math.inf
    rows = np.arange(most, len(differences))
    if len(rows) == 0:
        return best
    usable = np.all([trusted[rows - lag] for lag in range(most + 1)], axis=0)
    rows = rows[usable]
    if len(rows) < 2 * (most + 1) + 2:
        return best
    target = differences[rows]
    for order in range(most + 1):
        lagged = [differences[rows - k] for k in range(1, order + 1)]
        design = np.column_stack([np.ones(len(rows)), *lagged])
        solution, *_ = np.linalg.lstsq(design, target, rcond=None)
        residual = float(np.mean((target - design @ solution) ** 2))
        aic = len(rows) * math.log(max(residual, 1e-300)) + 2 * (order + 1)
        if aic < best_aic and _stationary(solution[1:]):
            best, best_aic = solution, aic
    return best


def _stationary(weights: np.ndarray) -> bool:
    """Whether the AR polynomial ``1 - sum_k w_k z^k`` has every root outside the unit circle
    (its companion matrix's eigenvalues inside)."""
    if len(weights) == 0:
        return True
    companion = np.zeros((len(weights), len(weights)))
    companion[0] = weights
    companion[1:, :-1] = np.eye(len(weights) - 1)
    return bool(np.max(np.abs(np.linalg.eigvals(companion))) < 1)


# ----------------------------------------------------------------------------- the registry


def _naive(
    method: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
) -> Callable[[np.ndarray, np.ndarray, float | None, Policy], Forecaster]:
    def fit(times: np.ndarray, values: np.ndarray, season: float | None, policy: Policy):
        return lambda query: method(times, values, np.asarray(query, dtype=np.float64))

    return fit


def _fit_seasonal_naive(
    times: np.ndarray, values: np.ndarray, season: float | None, policy: Policy
) -> Forecaster:
    period = usable_season(times, season, policy)
    if period is None:
        raise ValueError("seasonal_naive needs a season the observations span")
    return lambda query: seasonal_naive(times, values, np.asarray(query, np.float64), period)


def _fit_reversion(
    times: np.ndarray, values: np.ndarray, season: float | None, policy: Policy
) -> Forecaster:
    return fit_reversion(times, values)


CANDIDATES: MappingProxyType[str, Candidate] = MappingProxyType(
    {
        c.name: c
        for c in (
            Candidate("last_value", 0, False, False, _naive(last_value)),
            Candidate("seasonal_naive", 0, True, True, _fit_seasonal_naive),
            Candidate("drift", 1, False, False, _naive(drift)),
            Candidate("mean_reversion", 2, False, False, _fit_reversion),
            Candidate("ses", 2, False, True, fit_ses),
            Candidate("theta", 3, False, True, fit_theta),
            Candidate("momentum", 4, False, True, fit_momentum),
            Candidate("combination", 4, False, True, fit_combination),
        )
    }
)
SIMPLEST = "last_value"


@dataclass(frozen=True)
class Variant:
    """A candidate at one season (None for the non-seasonal ones), on the values or on their
    logarithm, as backtests score it.

    Attributes:
        candidate: the method.
        season: the period it repeats or adjusts for, in time units, or None.
        log: fitted to log(values) and answered as exp of its forecast: a season whose size
            grows with the level (multiplicative), for positive data only.
    """

    candidate: Candidate
    season: float | None
    log: bool = False

    @property
    def label(self) -> str:
        """``name``, ``name@period`` with a season, ``...:log`` on the logarithm."""
        name = self.candidate.name
        label = name if self.season is None else f"{name}@{self.season:g}"
        return f"{label}:log" if self.log else label

    @property
    def complexity(self) -> int:
        """A seasonal variant counts one more than the candidate without a season, and one on
        the logarithm one more again."""
        return self.candidate.complexity + (self.season is not None) + self.log

    def fit(self, times: np.ndarray, values: np.ndarray, policy: Policy) -> Forecaster:
        if not self.log:
            return self.candidate.fit(times, values, self.season, policy)
        if not np.all(values > 0):
            raise ValueError("a variant on the logarithm needs positive values")
        on_log = self.candidate.fit(times, np.log(values), self.season, policy)
        return lambda query: np.exp(on_log(query))


@dataclass(frozen=True)
class Combined:
    """The mean of two variants' forecasts: a combination errs less than either member on
    average, and less often badly (Bates & Granger 1969; Clemen 1989's review of equal
    weights).

    Attributes:
        first: the variant the rule chose.
        second: the variant with the least backtest error.
    """

    first: Variant
    second: Variant

    @property
    def label(self) -> str:
        """``first+second``."""
        return f"{self.first.label}+{self.second.label}"

    @property
    def complexity(self) -> int:
        return max(self.first.complexity, self.second.complexity)

    def fit(self, times: np.ndarray, values: np.ndarray, policy: Policy) -> Forecaster:
        """The mean's forecaster; ``first``'s alone where ``second`` cannot be fitted (a
        context shorter than its season, or not positive for its logarithm)."""
        first = self.first.fit(times, values, policy)
        try:
            second = self.second.fit(times, values, policy)
        except ValueError:
            return first
        return lambda query: (first(query) + second(query)) / 2


def variants(
    times: np.ndarray, values: np.ndarray, seasons: tuple[float, ...], policy: Policy
) -> list[Variant]:
    """Every candidate at no season and, for the seasonal ones and those that adjust for a
    season, at each of ``seasons`` the observations span (with positive values, also on their
    logarithm where the candidate adjusts for a season); simplest first."""
    usable = [p for p in seasons if usable_season(times, p, policy) is not None]
    found = [Variant(c, None) for c in CANDIDATES.values() if not c.seasonal]
    found += [Variant(c, p) for p in usable for c in CANDIDATES.values() if c.adjusts]
    if policy.log_variants and len(values) and np.all(values > 0):
        adjusting = [c for c in CANDIDATES.values() if c.adjusts and not c.seasonal]
        found += [Variant(c, p, log=True) for p in usable for c in adjusting]
    return sorted(found, key=lambda v: v.complexity)
