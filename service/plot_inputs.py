"""What ``GET /predict.png``'s chart accepts: the :class:`Band` type, the size limits, and the
checks that turn bad arrays or sizes into a ValueError naming the first problem."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_WIDTH_PX = 200
MAX_WIDTH_PX = 8000
MIN_HEIGHT_PX_PER_DIM = 80
MAX_HEIGHT_PX_PER_DIM = 2000
MIN_DPI = 20
MAX_DPI = 600


@dataclass(frozen=True)
class Band:
    """An uncertainty band: ``lower`` and ``upper`` are ``[T, D]``, like the mean."""

    label: str
    lower: np.ndarray
    upper: np.ndarray


def validated_arrays(
    observed_times: np.ndarray,
    observed_values: np.ndarray,
    times: np.ndarray,
    mean: np.ndarray,
    bands: Sequence[Band],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[Band]]:
    """The inputs as float64 arrays, or ValueError naming the first one of the wrong shape."""
    obs_t = as_float_array("observed_times", observed_times, ndim=1)
    obs_v = as_float_array("observed_values", observed_values, ndim=2)
    pred_t = as_float_array("times", times, ndim=1)
    pred_mean = as_float_array("mean", mean, ndim=2)
    if obs_v.shape[0] != obs_t.shape[0]:
        raise ValueError(
            f"observed_values has {obs_v.shape[0]} rows but observed_times has {obs_t.shape[0]}"
        )
    dims = obs_v.shape[1]
    if dims < 1:
        raise ValueError("observed_values must have at least one dimension (column)")
    if pred_t.shape[0] < 1:
        raise ValueError("times must hold at least one predicted time")
    expected = (pred_t.shape[0], dims)
    check_shape("mean", pred_mean, expected)
    if not np.all(np.isfinite(obs_t)):
        raise ValueError("observed_times must be finite")
    if not np.all(np.isfinite(pred_t)):
        raise ValueError("times must be finite")
    checked = [validated_band(i, band, expected) for i, band in enumerate(bands)]
    return obs_t, obs_v, pred_t, pred_mean, checked


def validated_band(index: int, band: Band, expected: tuple[int, int]) -> Band:
    if not isinstance(band, Band):
        raise ValueError(f"bands[{index}] must be a Band, not {type(band).__name__}")
    if not isinstance(band.label, str):
        raise ValueError(f"bands[{index}].label must be a str")
    lower = as_float_array(f"bands[{index}].lower", band.lower, ndim=2)
    upper = as_float_array(f"bands[{index}].upper", band.upper, ndim=2)
    check_shape(f"bands[{index}].lower", lower, expected)
    check_shape(f"bands[{index}].upper", upper, expected)
    return Band(band.label, lower, upper)


def as_float_array(name: str, value: np.ndarray, *, ndim: int) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {array.shape}")
    return array


def check_shape(name: str, array: np.ndarray, expected: tuple[int, int]) -> None:
    if array.shape != expected:
        raise ValueError(f"{name} has shape {array.shape}, expected [T, D] = {expected}")


def validated_boundary(first_observed: float, last_observed: float) -> tuple[float, float]:
    first, last = float(first_observed), float(last_observed)
    if not (math.isfinite(first) and math.isfinite(last)):
        raise ValueError("first_observed and last_observed must be finite")
    if first > last:
        raise ValueError(f"first_observed ({first}) is after last_observed ({last})")
    return first, last


def validate_size(width_px: int, height_px_per_dim: int, dpi: int) -> None:
    check_int_range("width_px", width_px, MIN_WIDTH_PX, MAX_WIDTH_PX)
    check_int_range(
        "height_px_per_dim", height_px_per_dim, MIN_HEIGHT_PX_PER_DIM, MAX_HEIGHT_PX_PER_DIM
    )
    check_int_range("dpi", dpi, MIN_DPI, MAX_DPI)


def check_int_range(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
