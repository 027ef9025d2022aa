"""Kriging: a Gaussian process's interpolation of a series' residuals around its trend.

Filling a gap, linear interpolation trusts the two neighbouring observations entirely: their noise
passes straight into the answer, and the curve between them is a chord. A Gaussian process with a
Matérn kernel plus white noise weighs the nearby observations by how the series actually varies:
it smooths where the data are noisy, follows the curvature where they are smooth, and reduces to
something close to the chord where neither helps. The trend (the seasonal base where the model has
one, else a least-squares line) is taken out first, so the process models what is left.

The kernel (smoothness 1/2, 3/2 or 5/2, a length and a noise share) is chosen per dimension by
maximum likelihood on the training series, with the variance profiled out: a grid over lengths
(one eigendecomposition per block of observations), every noise share priced from it at once.
Alone, the trend plus kriged residuals fill gaps with less error than linear interpolation where
a series is noisy or curved, and about as well elsewhere (bench/experiments/kriging/README.md).
The answer at a time reads only its ``NEIGHBOURS`` nearest observations (a Matérn process's
screening makes far observations negligible), so a 2,000-point context costs a few small solves,
not one of 2,000.

The model's mean is blended towards the kriged answer by a weight fitted on held-out points
(``models.latent.blend``): the kriging is a candidate, never imposed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ..series import Series
from .base import fit_base

# Matérn smoothness values tried (1/2: rough, like a random walk pulled back; 5/2: smooth).
SMOOTHNESS = (0.5, 1.5, 2.5)
# Lengths tried, in multiples of the median spacing of the observations; noise variances tried,
# as shares of the process's variance.
LENGTHS = np.geomspace(0.25, 1000.0, 17)
# The best length on that grid is then refined on a grid this many times finer around it.
REFINE = 4
NOISE_SHARES = np.geomspace(1e-4, 100.0, 49)
# The likelihood reads at most FIT_POINTS observations per dimension (the latest of each series
# first), in consecutive blocks of at most BLOCK (their correlations across blocks are ignored);
# with many dimensions, FIT_POINTS_IN_ALL shared among them, but at least FIT_POINTS_LEAST each
# (every job ends with one fit per dimension, whose cost grows with the points it reads;
# bench/experiments/kriging/README.md).
FIT_POINTS = 600
FIT_POINTS_IN_ALL = 2400
FIT_POINTS_LEAST = 150
BLOCK = 200
# Fewer observations than this in a dimension: no kernel for it (it is not kriged).
MIN_POINTS = 8
# An answer reads this many observations around its time, or all of them when a context has at
# most EXACT_POINTS (one factor then serves every query).
NEIGHBOURS = 32
EXACT_POINTS = 64
# Queries solved per batch (memory: QUERY_CHUNK x NEIGHBOURS^2 floats).
QUERY_CHUNK = 1024
# Relative jitter on the kernel's diagonal, for the solves with almost no noise.
JITTER = 1e-8

Trend = Callable[[np.ndarray], np.ndarray]  # times [T] -> values [T, D]


@dataclass(frozen=True)
class Kernel:
    """A Matérn kernel plus white noise, for one dimension.

    Attributes:
        smoothness: the Matérn nu (0.5, 1.5 or 2.5).
        length: its length, in the data's time units.
        noise_share: the white noise's variance over the process's (the process's own variance
            does not change the interpolation, so it is not kept).
    """

    smoothness: float
    length: float
    noise_share: float

    def __post_init__(self) -> None:
        if self.smoothness not in SMOOTHNESS:
            raise ValueError(f"smoothness must be one of {SMOOTHNESS}, got {self.smoothness}")
        if not (self.length > 0 and self.noise_share >= 0):
            raise ValueError(f"kernel length > 0 and noise share >= 0, got {self}")

    def correlation(self, lags: np.ndarray) -> np.ndarray:
        """The process's correlation at time ``lags`` (any shape)."""
        return matern(lags / self.length, self.smoothness)

    def gram(self, times: np.ndarray) -> np.ndarray:
        """The noisy observations' correlation matrix at ``times`` [..., n]: [..., n, n]."""
        lags = times[..., :, None] - times[..., None, :]
        return self.correlation(lags) + (self.noise_share + JITTER) * np.eye(times.shape[-1])

    def whitening(self, times: np.ndarray) -> np.ndarray:
        """L^-1 [..., n, n], with L L' the ``gram`` at ``times`` [..., n]: L^-1 r has unit
        covariance, so k'K^-1 r = (L^-1 k)'(L^-1 r). A Cholesky factor costs a third of an
        inverse (torch's, batched: numpy has no batched triangular solve)."""
        gram = torch.from_numpy(self.gram(times))
        lower = torch.linalg.cholesky(gram)
        identity = torch.eye(gram.shape[-1], dtype=gram.dtype).expand_as(gram)
        return torch.linalg.solve_triangular(lower, identity, upper=False).numpy()


@dataclass(frozen=True)
class Kriged:
    """A kriged answer at [Q] times, [Q, D] each (NaN where a dimension is not kriged).

    Attributes:
        mean: the trend plus the residuals' posterior mean.
        variance: the variance of a new observation there: the posterior variance plus the
            noise, on the process's variance estimated from the context (``process_variance``),
            so that a series on another scale than the training data's gets its own.
    """

    mean: np.ndarray
    variance: np.ndarray


@dataclass(frozen=True)
class Kriging:
    """Kernels per dimension (None: that dimension is not kriged) and the trend under them.

    Attributes:
        kernels: [D] one kernel or None per dimension.
        period: the seasonal base's season for the trend, or None for a least-squares line.
        bends: whether that base's trend bends (``models.latent.base.fit_base``).
        companions: the calendar periods that base carries beside the season.
    """

    kernels: tuple[Kernel | None, ...]
    period: float | None = None
    bends: bool = True
    companions: tuple[float, ...] = ()

    def __call__(self, context: Series, query: np.ndarray) -> Kriged:
        """The kriged answer from ``context`` at ``query`` [Q]; NaN in a dimension without a
        kernel or with fewer than two observations."""
        trend = fit_trend(context, self.period, self.bends, self.companions)
        at_query = trend(query)
        residual = context.values - trend(context.times)
        mean = np.full((len(query), context.dims), np.nan)
        variance = np.full((len(query), context.dims), np.nan)
        for d, kernel in enumerate(self.kernels):
            observed = ~np.isnan(residual[:, d])
            if kernel is not None and observed.sum() >= 2:
                times, values = context.times[observed], residual[observed, d]
                kriged, variance[:, d] = _krige_scaled(kernel, times, values, query)
                mean[:, d] = at_query[:, d] + kriged
        return Kriged(mean, variance)

    def to_json(self) -> dict[str, Any]:
        return {
            "kernels": [None if k is None else _kernel_json(k) for k in self.kernels],
            "period": self.period,
            "bends": self.bends,
            "companions": list(self.companions),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Kriging | None:
        if not data:
            return None
        kernels = tuple(None if k is None else Kernel(**k) for k in data["kernels"])
        period = data.get("period")
        companions = tuple(float(x) for x in data.get("companions", ()))
        return cls(
            kernels, None if period is None else float(period), bool(data["bends"]), companions
        )


def _kernel_json(kernel: Kernel) -> dict[str, float]:
    return {
        "smoothness": kernel.smoothness,
        "length": kernel.length,
        "noise_share": kernel.noise_share,
    }


def matern(distance: np.ndarray, smoothness: float) -> np.ndarray:
    """The Matérn correlation at ``distance`` (in lengths, any shape) for nu 1/2, 3/2 or 5/2."""
    r = np.abs(distance)
    if smoothness == 0.5:
        return np.exp(-r)
    if smoothness == 1.5:
        s = np.sqrt(3.0) * r
        return (1.0 + s) * np.exp(-s)
    s = np.sqrt(5.0) * r
    return (1.0 + s + s * s / 3.0) * np.exp(-s)


def fit_trend(
    context: Series, period: float | None, bends: bool, companions: tuple[float, ...] = ()
) -> Trend:
    """The trend of ``context``, as a function of times [T] -> [T, D]: its seasonal base at
    ``period`` (``models.latent.base``, with its ``companions``), or a least-squares line
    without one."""
    if period is not None:
        return fit_base(context, period, bends=bends, companions=companions)
    return fit_line(context)


def fit_line(context: Series) -> Trend:
    """Per dimension, the least-squares line through its observations (their mean with fewer
    than two distinct times, 0 with none)."""
    coefficients = np.zeros((2, context.dims))  # level at the last time, slope
    origin = float(context.times[-1])
    for d in range(context.dims):
        observed = ~np.isnan(context.values[:, d])
        times, values = context.times[observed] - origin, context.values[observed, d]
        if not len(times):
            continue
        centred = times - times.mean()
        spread = float(centred @ centred)  # 0 with fewer than two distinct times
        slope = float(centred @ (values - values.mean())) / spread if spread > 0 else 0.0
        coefficients[:, d] = values.mean() - slope * times.mean(), slope
    return lambda times: coefficients[0] + np.outer(np.asarray(times) - origin, coefficients[1])


def krige(
    kernel: Kernel, times: np.ndarray, residual: np.ndarray, query: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The process's posterior mean at ``query`` [Q] from the residuals [N] observed at ``times``
    [N] (increasing), and the variance of a new observation there as a share of the process's
    variance: [Q] each. Each answer reads the ``NEIGHBOURS`` observations nearest to it, or all
    of them when there are at most ``EXACT_POINTS``."""
    if len(times) <= EXACT_POINTS:
        mean, share, _ = _krige_exact(kernel, times, residual, query)
        return mean, share
    mean, share = np.empty(len(query)), np.empty(len(query))
    for start in range(0, len(query), QUERY_CHUNK):
        done = slice(start, start + QUERY_CHUNK)
        mean[done], share[done] = _krige_near(kernel, times, residual, query[done])
    return mean, share


def _krige_scaled(
    kernel: Kernel, times: np.ndarray, residual: np.ndarray, query: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``krige``'s mean [Q] and the variance of a new observation [Q] on the process's variance
    (``process_variance``). A context of at most ``EXACT_POINTS`` is one block for both, so its
    factor is computed once, not once for each (bench/experiments/kriging/README.md)."""
    if len(times) > EXACT_POINTS:
        mean, share = krige(kernel, times, residual, query)
        return mean, share * process_variance(kernel, times, residual)
    mean, share, white_residual = _krige_exact(kernel, times, residual, query)
    return mean, share * float(white_residual @ white_residual) / len(times)


def _krige_exact(
    kernel: Kernel, times: np.ndarray, residual: np.ndarray, query: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``krige`` from all of at most ``EXACT_POINTS`` observations with one factor: the mean
    [Q], the share [Q], and the whitened residuals L^-1 r [N] (``process_variance``'s too)."""
    whiten = kernel.whitening(times)  # [N, N]
    white_residual = whiten @ residual  # [N] L^-1 r
    white_cross = whiten @ kernel.correlation(times[:, None] - query)  # [N, Q] L^-1 k
    return (
        white_residual @ white_cross,
        _share(kernel, np.sum(white_cross**2, axis=0)),
        white_residual,
    )


def _krige_near(
    kernel: Kernel, times: np.ndarray, residual: np.ndarray, query: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``krige`` at ``query`` [C], each answer from its ``NEIGHBOURS`` nearest observations."""
    m = NEIGHBOURS
    first = np.clip(np.searchsorted(times, query) - m // 2, 0, len(times) - m)
    # queries between the same observations share their window: one factor per window
    windows, window_of = np.unique(first, return_inverse=True)
    near = windows[:, None] + np.arange(m)  # [U, m] indices of each window's observations
    whiten = kernel.whitening(times[near])  # [U, m, m]
    white_residual = np.matmul(whiten, residual[near][:, :, None])[:, :, 0]  # [U, m] L^-1 r
    cross = kernel.correlation(query[:, None] - times[near[window_of]])  # [C, m]
    white_cross = np.matmul(whiten[window_of], cross[:, :, None])[:, :, 0]  # [C, m] L^-1 k
    mean = np.einsum("cm,cm->c", white_cross, white_residual[window_of])  # k'K^-1 r
    return mean, _share(kernel, np.einsum("cm,cm->c", white_cross, white_cross))


def _share(kernel: Kernel, explained: np.ndarray) -> np.ndarray:
    """A new observation's variance, as a share of the process's, where the neighbours explain
    ``explained`` (k'K^-1 k, any shape) of it."""
    return np.maximum(1.0 - explained, 0.0) + kernel.noise_share


def process_variance(kernel: Kernel, times: np.ndarray, residual: np.ndarray) -> float:
    """The process's variance that makes the latest ``FIT_POINTS`` residuals [N] at ``times``
    [N] most likely under ``kernel``'s shape: r'(R + s I)^-1 r / n, in consecutive blocks of
    ``NEIGHBOURS`` (one block up to ``EXACT_POINTS``): unbiased whatever the blocks, and small
    ones cost a fraction of large ones."""
    times, residual = times[-FIT_POINTS:], residual[-FIT_POINTS:]
    m = len(times) if len(times) <= EXACT_POINTS else NEIGHBOURS
    blocks = len(times) // m
    # the latest points in whole blocks, and the few left over before them as one more
    split = len(times) - blocks * m
    whole_times = times[split:].reshape(blocks, m)
    white = np.einsum(
        "bij,bj->bi", kernel.whitening(whole_times), residual[split:].reshape(blocks, m)
    )
    quadratic = float(np.sum(white**2))
    if split:
        rest = kernel.whitening(times[:split]) @ residual[:split]
        quadratic += float(rest @ rest)
    return quadratic / len(times)


def fit_kriging(
    series: Sequence[Series],
    period: float | None,
    bends: bool,
    companions: tuple[float, ...] = (),
) -> Kriging | None:
    """Kernels fitted by maximum likelihood to ``series``' residuals around their trends
    (``fit_trend``); None when no dimension has ``MIN_POINTS`` observations."""
    if not series:
        return None
    residuals = [s.values - fit_trend(s, period, bends, companions)(s.times) for s in series]
    dims = series[0].dims
    limit = min(FIT_POINTS, max(FIT_POINTS_LEAST, FIT_POINTS_IN_ALL // dims))
    kernels = tuple(
        fit_kernel(_blocks([s.times for s in series], [r[:, d] for r in residuals], limit))
        for d in range(dims)
    )
    if all(k is None for k in kernels):
        return None
    return Kriging(kernels, period, bends, companions)


def _blocks(
    times: list[np.ndarray], values: list[np.ndarray], limit: int = FIT_POINTS
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Consecutive blocks of at most ``BLOCK`` observed points, the latest of each series first,
    ``limit`` in all (blocks of fewer than 3 points carry no lag and are dropped)."""
    blocks, total = [], 0
    for t, v in zip(times, values, strict=True):
        observed = ~np.isnan(v)
        t, v = t[observed][-(limit - total) :], v[observed][-(limit - total) :]
        for start in range(0, len(t), BLOCK):
            if len(t[start : start + BLOCK]) >= 3:
                blocks.append((t[start : start + BLOCK], v[start : start + BLOCK]))
        total += len(t)
        if total >= limit:
            break
    return blocks


def fit_kernel(blocks: list[tuple[np.ndarray, np.ndarray]]) -> Kernel | None:
    """The kernel of largest profile likelihood on ``blocks`` of (times, residuals), or None with
    fewer than ``MIN_POINTS`` points, no spacing or no variation: every smoothness over the
    ``LENGTHS`` grid, then the best length refined ``REFINE`` times finer around it."""
    n = sum(len(t) for t, _ in blocks)
    gaps = np.concatenate([np.diff(t) for t, _ in blocks]) if blocks else np.empty(0)
    gaps = gaps[gaps > 0]
    values = np.concatenate([v for _, v in blocks]) if blocks else np.empty(0)
    if n < MIN_POINTS or not len(gaps) or not np.ptp(values) > 0:
        return None
    scaled = [(t, v / float(np.std(values))) for t, v in blocks]
    spacing = float(np.median(gaps))
    candidates = [(nu, length) for nu in SMOOTHNESS for length in LENGTHS * spacing]
    # OpenBLAS's threads spin against each other when the cores are busy (training, other
    # processes), and small eigendecompositions gain nothing from threads: one thread each
    # (bench/experiments/kriging/README.md).
    with threadpool_limits(limits=1, user_api="blas"):
        best = _best(scaled, candidates)
        if best is None:
            return None
        step = (LENGTHS[1] / LENGTHS[0]) ** (1.0 / REFINE)
        finer = [(best.smoothness, best.length * step**k) for k in range(1 - REFINE, REFINE) if k]
        return _best(scaled, [(best.smoothness, best.length), *finer])


def _best(
    blocks: list[tuple[np.ndarray, np.ndarray]], candidates: list[tuple[float, float]]
) -> Kernel | None:
    """The kernel of least profile cost among (smoothness, length) ``candidates`` and every
    noise share."""
    best: tuple[float, Kernel] | None = None
    for smoothness, length in candidates:
        costs = _profile_costs(blocks, smoothness, length)  # per noise share
        i = int(np.argmin(costs))
        if np.isfinite(costs[i]) and (best is None or costs[i] < best[0]):
            best = (float(costs[i]), Kernel(smoothness, float(length), float(NOISE_SHARES[i])))
    return None if best is None else best[1]


def _profile_costs(
    blocks: list[tuple[np.ndarray, np.ndarray]], smoothness: float, length: float
) -> np.ndarray:
    """Minus the log likelihood, the variance profiled out, for each of ``NOISE_SHARES``:
    n/2 log(y'(R + s I)^-1 y / n) + 1/2 log|R + s I|, summed over the blocks. R's
    eigendecomposition prices every share at once; blocks of one size are decomposed together
    (a family of equally long series is one batched call)."""
    quadratic = np.zeros(len(NOISE_SHARES))
    log_det = np.zeros(len(NOISE_SHARES))
    n = 0
    for size in sorted({len(t) for t, _ in blocks}):
        times = np.stack([t for t, _ in blocks if len(t) == size])  # [B, size]
        values = np.stack([v for t, v in blocks if len(t) == size])  # [B, size]
        correlation = matern((times[:, :, None] - times[:, None, :]) / length, smoothness)
        eigenvalues, vectors = np.linalg.eigh(correlation)  # [B, size], [B, size, size]
        projected = np.einsum("bij,bi->bj", vectors, values) ** 2  # [B, size]
        shifted = np.maximum(eigenvalues, 0.0)[:, None, :] + NOISE_SHARES[:, None] + JITTER
        quadratic += (projected[:, None, :] / shifted).sum(axis=(0, 2))
        log_det += np.log(shifted).sum(axis=(0, 2))
        n += times.size
    return 0.5 * n * np.log(quadratic / n) + 0.5 * log_det
