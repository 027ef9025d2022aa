"""Synthetic families of irregularly sampled series, shared by tests and benchmarks.

Every generator is deterministic under its seed, samples each series at its own random times,
and, for more than one dimension, leaves entries unobserved at random (never a whole row).

``FAMILIES`` are collections of short series: ``generate(n_series, *, seed=0, ...)``.
``LONG_FAMILIES`` are single long series (about 2,000 points with a few gaps), the commonest
forecasting case: ``LongFamily.generate(seed, noise=None)`` and the family's true season.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .series import Dataset, Series, TimeKind

GRAVITY = 9.8
DEFAULT_MISSING = 0.1
# Van der Pol: the integration step of the reference path the observations are read from.
VDP_STEP = 0.01
# Long families: points per series, and the gaps (stretches with no observation) in each.
LONG_POINTS = 2000
LONG_GAPS = 3
# Each gap's length as a fraction of the span, and the share of the span (from the start) they
# fall in: the end of a long series, where benchmarks hold points out, is left whole.
GAP_FRACTION = (0.01, 0.025)
GAPPED_SHARE = 0.85
# The long families' observation noise (standard deviation) by default.
TREND_SEASON_NOISE = 0.2
DRIFTING_NOISE = 0.1
MEAN_REVERTING_NOISE = 0.1


def falling_object(
    n_series: int, *, n_points: int = 40, noise: float = 0.5, seed: int = 0
) -> Dataset:
    """The lecture's falling object with air friction: ``dv/dt = g - k v``.

    Initial velocity uniform in [0, 60] m/s, friction k uniform in [0.1, 0.3] 1/s (the lecture's
    0.196 in the middle), times on [0, 20] s; v = g/k + (v0 - g/k) exp(-k t). D = 1.
    """
    rng = np.random.default_rng(seed)
    series = []
    for i in range(n_series):
        times = irregular_times(rng, n_points, 0.0, 20.0)
        v0, k = rng.uniform(0.0, 60.0), rng.uniform(0.1, 0.3)
        terminal = GRAVITY / k
        velocity = terminal + (v0 - terminal) * np.exp(-k * times)
        series.append(_series(f"falling-{i}", times, velocity[:, None], rng, noise, 0.0))
    return Dataset(tuple(series), TimeKind.NUMERIC)


def spirals(
    n_series: int,
    *,
    n_points: int = 100,
    noise: float = 0.3,
    missing: float = DEFAULT_MISSING,
    seed: int = 0,
) -> Dataset:
    """Chen et al.'s 2-D spirals, clockwise or counter-clockwise at random, Gaussian noise 0.3.

    Each series is a stretch of one spiral (parameter on [0, 6π]) of length 6π/10, starting at a
    random point, observed at n_points irregular times measured from the stretch's start. D = 2.
    """
    rng = np.random.default_rng(seed)
    stop, span = 6 * np.pi, 0.6 * np.pi
    series = []
    for i in range(n_series):
        times = irregular_times(rng, n_points, 0.0, span)
        start = rng.uniform(0.0, stop - span)
        clockwise = bool(rng.integers(2))
        points = _spiral(start + times, clockwise, stop)
        series.append(_series(f"spiral-{i}", times, points, rng, noise, missing))
    return Dataset(tuple(series), TimeKind.NUMERIC)


def periodic(n_series: int, *, n_points: int = 50, noise: float = 0.01, seed: int = 0) -> Dataset:
    """Rubanova et al.'s periodic functions: ``sin(2π f t + φ)`` with f uniform in [0.4, 0.8]
    and a random phase, at irregular times on [0, 5]. D = 1."""
    rng = np.random.default_rng(seed)
    series = []
    for i in range(n_series):
        times = irregular_times(rng, n_points, 0.0, 5.0)
        frequency, phase = rng.uniform(0.4, 0.8), rng.uniform(0.0, 2 * np.pi)
        values = np.sin(2 * np.pi * frequency * times + phase)
        series.append(_series(f"periodic-{i}", times, values[:, None], rng, noise, 0.0))
    return Dataset(tuple(series), TimeKind.NUMERIC)


def damped_oscillator(
    n_series: int,
    *,
    n_points: int = 60,
    noise: float = 0.02,
    missing: float = DEFAULT_MISSING,
    seed: int = 0,
) -> Dataset:
    """``x'' + 2ζω x' + ω² x = 0`` observed as (position, velocity), times on [0, 10].

    ω uniform in [1, 2], ζ in [0.05, 0.2], x(0) and x'(0) in [-1, 1]. D = 2.
    """
    rng = np.random.default_rng(seed)
    series = []
    for i in range(n_series):
        times = irregular_times(rng, n_points, 0.0, 10.0)
        omega, zeta = rng.uniform(1.0, 2.0), rng.uniform(0.05, 0.2)
        x0, v0 = rng.uniform(-1.0, 1.0, size=2)
        values = _underdamped(times, omega, zeta, x0, v0)
        series.append(_series(f"oscillator-{i}", times, values, rng, noise, missing))
    return Dataset(tuple(series), TimeKind.NUMERIC)


def van_der_pol(
    n_series: int, *, n_points: int = 55, noise: float = 0.05, seed: int = 0
) -> Dataset:
    """``x'' - μ (1 - x²) x' + x = 0`` observed through its position only, times on [0, 15].

    A partially observed nonlinear system: the velocity, half of the state, is never seen, so a
    model must infer it from the shape of the position. μ uniform in [0.5, 2] (periods of about
    6.3 to 7.6, so two cycles or more per series), x(0) and x'(0) in [-2, 2]. D = 1.
    """
    rng = np.random.default_rng(seed)
    span = 15.0
    times = [irregular_times(rng, n_points, 0.0, span) for _ in range(n_series)]
    mu = rng.uniform(0.5, 2.0, size=n_series)
    start = rng.uniform(-2.0, 2.0, size=(2, n_series))
    grid, position, velocity = _van_der_pol_paths(mu, start, span)
    series = []
    for i in range(n_series):
        values = _hermite(grid, position[:, i], velocity[:, i], times[i])
        series.append(_series(f"van-der-pol-{i}", times[i], values[:, None], rng, noise, 0.0))
    return Dataset(tuple(series), TimeKind.NUMERIC)


FAMILIES: Mapping[str, Callable[..., Dataset]] = MappingProxyType(
    {
        "falling_object": falling_object,
        "spirals": spirals,
        "periodic": periodic,
        "damped_oscillator": damped_oscillator,
        "van_der_pol": van_der_pol,
    }
)


# ----------------------------------------------------------------------------- long series


@dataclass(frozen=True)
class LongFamily:
    """A family of single long series.

    Attributes:
        generate: ``generate(seed, noise=None)`` -> a ``Dataset`` of one series with numeric
            times, ``LONG_POINTS`` rows and D = 1, deterministic under ``seed``; ``noise`` is the
            standard deviation of the observation noise (None: the family's default; 0.0: the
            noiseless values at the same times).
        season: the true period of the series' season in its time units (at the series' end
            where it drifts), or None for a series without one.
        noise: the standard deviation of the observation noise by default.
        process: ``process(seed)``, the random process behind the values of ``generate(seed)``;
            None where the values are a function of time drawn once (the noiseless series is
            then all there is to know). Benchmarks build the ideal predictor from it.
    """

    generate: Callable[[int, float | None], Dataset]
    season: float | None
    noise: float
    process: Callable[[int], OrnsteinUhlenbeck] | None = None


def trend_season(seed: int = 0, noise: float | None = None) -> Dataset:
    """A slowly curving trend plus a season of period 1 (two harmonics), over 40 seasons.

    Trend: slope uniform in [0.03, 0.08] per unit plus a curvature of up to ±0.5 over the span;
    season: ``sin(2π t + φ1) + a2 sin(4π t + φ2)`` with a2 uniform in [0.3, 0.5]. Noise 0.2 by
    default. Times on [0, 40] with ``LONG_GAPS`` gaps.
    """
    rng = np.random.default_rng(seed)
    span = 40.0
    times = gapped_times(rng, LONG_POINTS, span)
    slope, bend = rng.uniform(0.03, 0.08), rng.uniform(-0.5, 0.5)
    second = rng.uniform(0.3, 0.5)
    phase = rng.uniform(0.0, 2 * np.pi, size=2)
    trend = slope * times + bend * (2 * times / span - 1) ** 2
    season = np.sin(2 * np.pi * times + phase[0]) + second * np.sin(4 * np.pi * times + phase[1])
    return _long("trend-season", times, trend + season, rng, _noise(noise, TREND_SEASON_NOISE))


def drifting_oscillator(seed: int = 0, noise: float | None = None) -> Dataset:
    """An oscillation whose frequency and amplitude drift slowly over 40 time units.

    The frequency moves linearly from f0 (uniform in [0.7, 0.85] or [1.15, 1.3]) to exactly 1 at
    the end, so the series ends with a period of 1; the amplitude moves geometrically from 1 to a
    factor uniform in [0.5, 2]. Noise 0.1 by default. Times on [0, 40] with ``LONG_GAPS`` gaps.
    """
    rng = np.random.default_rng(seed)
    span = 40.0
    times = gapped_times(rng, LONG_POINTS, span)
    start = rng.uniform(0.7, 0.85) if rng.random() < 0.5 else rng.uniform(1.15, 1.3)
    growth = rng.uniform(np.log(0.5), np.log(2.0))
    phase = rng.uniform(0.0, 2 * np.pi)
    # ∫ f: f(t) = start + (1 - start) t / span.
    cycles = start * times + (1.0 - start) * times**2 / (2 * span)
    values = np.exp(growth * times / span) * np.sin(2 * np.pi * cycles + phase)
    return _long("drifting-oscillator", times, values, rng, _noise(noise, DRIFTING_NOISE))


def mean_reverting(seed: int = 0, noise: float | None = None) -> Dataset:
    """An Ornstein-Uhlenbeck process ``dX = θ (μ - X) dt + σ dW`` over 100 time units.

    θ uniform in [0.5, 1] (correlation times of 1 to 2 units), μ in [-1, 1], σ = 1, X(0) from the
    stationary law. No season. Noise 0.1 by default. Times on [0, 100] with ``LONG_GAPS`` gaps.
    """
    rng, times, process = _mean_reverting_draws(seed)
    values = ornstein_uhlenbeck(
        rng, times, theta=process.theta, mean=process.mean, sigma=process.sigma
    )
    return _long("mean-reverting", times, values, rng, _noise(noise, MEAN_REVERTING_NOISE))


def mean_reverting_process(seed: int) -> OrnsteinUhlenbeck:
    """The process whose path ``mean_reverting(seed)`` observes."""
    return _mean_reverting_draws(seed)[2]


def _mean_reverting_draws(
    seed: int,
) -> tuple[np.random.Generator, np.ndarray, OrnsteinUhlenbeck]:
    """What ``mean_reverting`` draws before its path: the times [T] and the process, and the
    generator in the state the path is drawn from."""
    rng = np.random.default_rng(seed)
    times = gapped_times(rng, LONG_POINTS, 100.0)
    theta, mean = rng.uniform(0.5, 1.0), rng.uniform(-1.0, 1.0)
    return rng, times, OrnsteinUhlenbeck(theta=float(theta), mean=float(mean), sigma=1.0)


def _noise(given: float | None, default: float) -> float:
    return default if given is None else given


@dataclass(frozen=True)
class OrnsteinUhlenbeck:
    """The stationary process ``dX = θ (μ - X) dt + σ dW``."""

    theta: float
    mean: float
    sigma: float

    @property
    def variance(self) -> float:
        """The stationary variance σ² / 2θ."""
        return self.sigma**2 / (2.0 * self.theta)

    def covariance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cov(X(a_i), X(b_j)) = σ² / 2θ e^{-θ |a_i - b_j|} for times a [A] and b [B]: [A, B]."""
        return self.variance * np.exp(-self.theta * np.abs(a[:, None] - b))


LONG_FAMILIES: Mapping[str, LongFamily] = MappingProxyType(
    {
        "trend_season": LongFamily(trend_season, 1.0, TREND_SEASON_NOISE),
        "drifting_oscillator": LongFamily(drifting_oscillator, 1.0, DRIFTING_NOISE),
        "mean_reverting": LongFamily(
            mean_reverting, None, MEAN_REVERTING_NOISE, mean_reverting_process
        ),
    }
)


def ornstein_uhlenbeck(
    rng: np.random.Generator, times: np.ndarray, *, theta: float, mean: float, sigma: float
) -> np.ndarray:
    """A path of ``dX = θ (μ - X) dt + σ dW`` at increasing ``times`` [T], values [T].

    Exact at any spacing: X(t + Δ) = μ + (X(t) - μ) e^{-θΔ} + σ √((1 - e^{-2θΔ}) / 2θ) ε, and
    X at the first time is drawn from the stationary law N(μ, σ² / 2θ).
    """
    decay = np.exp(-theta * np.diff(times))
    spread = sigma * np.sqrt((1.0 - decay**2) / (2.0 * theta))
    shocks = rng.standard_normal(len(times))
    path = np.empty(len(times))
    path[0] = mean + sigma / np.sqrt(2.0 * theta) * shocks[0]
    for k in range(1, len(times)):
        path[k] = mean + (path[k - 1] - mean) * decay[k - 1] + spread[k - 1] * shocks[k]
    return path


def gapped_times(rng: np.random.Generator, n: int, span: float) -> np.ndarray:
    """n distinct sorted times drawn uniformly on [0, span] outside ``LONG_GAPS`` gaps.

    The gaps, each ``GAP_FRACTION`` of the span long, fall one in each of ``LONG_GAPS`` equal
    slots of the first ``GAPPED_SHARE`` of the span, so they never overlap.
    """
    lengths = rng.uniform(*GAP_FRACTION, size=LONG_GAPS) * span
    slot = GAPPED_SHARE * span / LONG_GAPS
    starts = slot * np.arange(LONG_GAPS) + rng.uniform(0.0, slot - lengths)
    # Draw on the span without the gaps, then open each gap by shifting what lies after it.
    squeezed = irregular_times(rng, n, 0.0, span - lengths.sum())
    squeezed_starts = starts - np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    shift = (squeezed[:, None] >= squeezed_starts[None, :]) @ lengths
    return squeezed + shift


def irregular_times(rng: np.random.Generator, n: int, start: float, stop: float) -> np.ndarray:
    """n distinct sorted times drawn uniformly on [start, stop]."""
    times = np.unique(rng.uniform(start, stop, size=n))
    while len(times) < n:  # a repeated float draw: astronomically rare, but keep n exact
        times = np.unique(np.concatenate([times, rng.uniform(start, stop, size=n - len(times))]))
    return times


def drop_at_random(rng: np.random.Generator, values: np.ndarray, fraction: float) -> np.ndarray:
    """A copy with about ``fraction`` of the entries set to NaN, keeping one per row observed."""
    dropped = rng.random(values.shape) < fraction
    full_rows = dropped.all(axis=1)
    keep = rng.integers(values.shape[1], size=int(full_rows.sum()))
    dropped[np.flatnonzero(full_rows), keep] = False
    return np.where(dropped, np.nan, values)


def _series(
    series_id: str,
    times: np.ndarray,
    clean: np.ndarray,
    rng: np.random.Generator,
    noise: float,
    missing: float,
) -> Series:
    values = clean + noise * rng.standard_normal(clean.shape)
    if values.shape[1] > 1 and missing > 0:
        values = drop_at_random(rng, values, missing)
    return Series(series_id, times, values)


def _long(
    name: str, times: np.ndarray, clean: np.ndarray, rng: np.random.Generator, noise: float
) -> Dataset:
    """One long series of clean values [T] plus Gaussian noise, as a one-series ``Dataset``."""
    return Dataset((_series(name, times, clean[:, None], rng, noise, 0.0),), TimeKind.NUMERIC)


def _spiral(parameter: np.ndarray, clockwise: bool, stop: float) -> np.ndarray:
    """Chen et al.'s two spirals, as points [T, 2]: one winding in around (-5, 0), one out
    around (5, 0)."""
    if clockwise:
        z = stop + 1.0 - parameter
        radius = 0.3 * 50.0 / z
        return np.stack([radius * np.cos(z) - 5.0, radius * np.sin(z)], axis=1)
    radius = 0.3 * parameter
    return np.stack([radius * np.cos(parameter) + 5.0, radius * np.sin(parameter)], axis=1)


def _underdamped(times: np.ndarray, omega: float, zeta: float, x0: float, v0: float) -> np.ndarray:
    damped = omega * np.sqrt(1.0 - zeta**2)
    decay = np.exp(-zeta * omega * times)
    a, b = x0, (v0 + zeta * omega * x0) / damped
    cos, sin = np.cos(damped * times), np.sin(damped * times)
    position = decay * (a * cos + b * sin)
    velocity = decay * (
        (b * damped - zeta * omega * a) * cos - (a * damped + zeta * omega * b) * sin
    )
    return np.stack([position, velocity], axis=1)


def _van_der_pol_paths(
    mu: np.ndarray, start: np.ndarray, span: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Van der Pol paths for every μ [N] from ``start`` (x(0), x'(0)) [2, N], by RK4 with step
    ``VDP_STEP`` on [0, span]: the grid [G] and position and velocity [G, N]."""
    steps = int(np.ceil(span / VDP_STEP))
    grid = np.linspace(0.0, span, steps + 1)
    h = grid[1] - grid[0]

    def slope(state: np.ndarray) -> np.ndarray:
        x, v = state
        return np.stack([v, mu * (1.0 - x**2) * v - x])

    states = np.empty((steps + 1, 2, len(mu)))
    states[0] = start
    for k in range(steps):
        s = states[k]
        k1 = slope(s)
        k2 = slope(s + 0.5 * h * k1)
        k3 = slope(s + 0.5 * h * k2)
        k4 = slope(s + h * k3)
        states[k + 1] = s + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return grid, states[:, 0], states[:, 1]


def _hermite(grid: np.ndarray, x: np.ndarray, dx: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Cubic Hermite interpolation of x [G] with derivative dx [G] on ``grid`` at ``times``."""
    k = np.clip(np.searchsorted(grid, times) - 1, 0, len(grid) - 2)
    h = grid[k + 1] - grid[k]
    u = (times - grid[k]) / h
    h00, h10 = (1 + 2 * u) * (1 - u) ** 2, u * (1 - u) ** 2
    h01, h11 = u**2 * (3 - 2 * u), u**2 * (u - 1)
    return h00 * x[k] + h10 * h * dx[k] + h01 * x[k + 1] + h11 * h * dx[k + 1]
