"""Prophet with its defaults: the forecaster a user would pick instead of odecast, fitted on the
same training points and asked for the same held-out times.

Prophet is a benchmark dependency only (the ``bench`` extra); its wheel bundles CmdStan and the
compiled model, so it fits offline. Prophet needs calendar dates: each case supplies a map from
its times to dates (``Dates``). For numeric times without a calendar (the synthetic families) one
time unit is one day from 2000-01-01 (``unit_days``), so a season of period 1 falls on Prophet's
daily seasonality, which its defaults turn on for data spaced under a day.

The point forecast is Prophet's ``yhat``; the quantiles are those of its 1,000 default predictive
samples (``predictive_samples``, seeded through numpy's global generator, which Prophet draws
from), whose 0.1 and 0.9 quantiles are its default 80% interval ``yhat_lower``/``yhat_upper``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from quality_scores import QUANTILE_LEVELS, Forecast

Dates = Callable[[np.ndarray], pd.DatetimeIndex]
ORIGIN = pd.Timestamp("2000-01-01")
SAMPLE_SEED = 0


def missing_reason() -> str | None:
    """None when Prophet can be imported, else why not."""
    try:
        _quiet()
        import prophet  # noqa: F401
    except Exception as error:  # any import failure means "no Prophet here", never a crash
        return f"{type(error).__name__}: {error}"
    return None


def unit_days(times: np.ndarray) -> pd.DatetimeIndex:
    """Numeric times [T] as dates: one time unit is one day from 2000-01-01."""
    return pd.DatetimeIndex(ORIGIN + pd.to_timedelta(times, unit="D"))


def fit(times: np.ndarray, values: np.ndarray, dates: Dates) -> Any:
    """Prophet with its defaults fitted on observed ``times`` [T] and ``values`` [T]."""
    _quiet()
    from prophet import Prophet

    frame = pd.DataFrame({"ds": dates(times), "y": values})
    return Prophet().fit(frame)


def forecast(model: Any, times: np.ndarray, dates: Dates) -> Forecast:
    """The fitted ``model``'s answers at ``times`` [Q]: ``yhat`` and sample quantiles, [Q, 1]."""
    future = pd.DataFrame({"ds": dates(times)})
    mean = model.predict(future)["yhat"].to_numpy(dtype=np.float64)
    np.random.seed(SAMPLE_SEED)
    samples = model.predictive_samples(future)["yhat"]  # [Q, samples]
    quantiles = {q: np.quantile(samples, q, axis=1)[:, None] for q in QUANTILE_LEVELS}
    return Forecast(mean[:, None], quantiles)


def _quiet() -> None:
    """Keep Prophet's and CmdStan's warnings but not their info lines, nor the notice that plotly
    (for Prophet's interactive plots) is missing."""
    logging.getLogger("prophet").setLevel(logging.WARNING)
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
    cmdstanpy = logging.getLogger("cmdstanpy")
    if not cmdstanpy.handlers:  # else cmdstanpy adds its own INFO handler on first use
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(name)s %(levelname)s: %(message)s"))
        cmdstanpy.addHandler(handler)
    cmdstanpy.setLevel(logging.WARNING)
