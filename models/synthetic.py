"""Synthetic families of irregularly sampled series, shared by tests and benchmarks.

Every generator is deterministic under its seed, samples each series at its own random times,
and, for more than one dimension, leaves entries unobserved at random (never a whole row).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np

from .series import Dataset, Series, TimeKind

GRAVITY = 9.8
DEFAULT_MISSING = 0.1


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


FAMILIES: Mapping[str, Callable[..., Dataset]] = MappingProxyType(
    {
        "falling_object": falling_object,
        "spirals": spirals,
        "periodic": periodic,
        "damped_oscillator": damped_oscillator,
    }
)


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
