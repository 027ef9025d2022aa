"""How often the forecasting rule serves the last value on random walks and a seasonal
candidate on noisy seasonal series, at several significance levels (100 seeds each).

    .venv/bin/python bench/experiments/forecast-pipeline/selection_rates.py
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from models.forecast.pipeline import choose_forecast
from models.forecast.policy import DEFAULT_POLICY
from models.series import Series

SEEDS = 100
SEASON = 12.0


def main() -> None:
    print(
        "| significance | random walks served the last value | seasonal series served a "
        "seasonal candidate |"
    )
    print("| --- | --- | --- |")
    for level in (0.05, 0.1, 0.2):
        policy = replace(DEFAULT_POLICY, significance=level)
        walks = seasonal = 0
        for seed in range(SEEDS):
            rng = np.random.default_rng(seed)
            times = np.sort(rng.uniform(0, 300, 300))
            walk = np.cumsum(rng.normal(size=300))
            recipe = choose_forecast([Series("w", times, walk[:, None])], (), policy)
            walks += recipe.dims[0].candidate == "last_value"
            times = np.sort(rng.uniform(0, 240, 240))
            wave = 2 * np.sin(2 * np.pi * times / SEASON) + rng.normal(size=240)
            recipe = choose_forecast([Series("s", times, wave[:, None])], (SEASON,), policy)
            seasonal += recipe.dims[0].season == SEASON
        print(f"| {level} | {walks} | {seasonal} |")


if __name__ == "__main__":
    main()
