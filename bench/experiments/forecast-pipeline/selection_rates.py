"""How often the forecasting rule serves the last value on random walks and a seasonal
candidate on noisy seasonal series (240 points, and 72 as six years of monthly data), at
several significance levels and origins per horizon (100 seeds each).

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
        "| significance | origins per horizon | random walks served the last value | seasonal "
        "series served a seasonal candidate | short seasonal series |"
    )
    print("| --- | --- | --- | --- | --- |")
    for level, steps in ((0.05, 1), (0.1, 1), (0.2, 1), (0.1, 2), (0.1, 4)):
        policy = replace(DEFAULT_POLICY, significance=level, origin_steps=steps)
        walks = seasonal = short = 0
        for seed in range(SEEDS):
            rng = np.random.default_rng(seed)
            times = np.sort(rng.uniform(0, 300, 300))
            walk = np.cumsum(rng.normal(size=300))
            recipe = choose_forecast([Series("w", times, walk[:, None])], (), policy)
            walks += recipe.dims[0].candidate == "last_value"
            for points in (240, 72):
                times = np.sort(rng.uniform(0, points, points))
                wave = 2 * np.sin(2 * np.pi * times / SEASON) + rng.normal(size=points)
                recipe = choose_forecast([Series("s", times, wave[:, None])], (SEASON,), policy)
                found = recipe.dims[0].season == SEASON
                seasonal += found and points == 240
                short += found and points == 72
        print(f"| {level} | {steps} | {walks} | {seasonal} | {short} |")


if __name__ == "__main__":
    main()
