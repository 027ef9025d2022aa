"""``bench/forecast_policy.py`` with ``models.seasons``' detrending before the periodogram made
quadratic instead of linear: whether removing a curving trend keeps the periodogram from reading
a growth curve's curvature as a long season.

    .venv/bin/python bench/experiments/evidence-units/season_detrending.py quadratic \
        --policies default
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # this tree's models
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/

import numpy as np

import models.seasons as seasons


def quadratic_detrended(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` [T] less their least-squares quadratic in ``times`` [T]."""
    centred = (times - times.mean()) / max(float(np.ptp(times)), 1e-300)
    return values - np.polyval(np.polyfit(centred, values, 2), centred)


if __name__ == "__main__":
    mode = sys.argv.pop(1)
    if mode == "quadratic":
        seasons._detrended = quadratic_detrended
    elif mode != "linear":
        raise SystemExit("the first argument is linear or quadratic")
    import forecast_policy

    sys.exit(forecast_policy.main(sys.argv[1:]))
