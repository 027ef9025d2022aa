"""Kriging alone on the long quality cases: the trend plus kriged residuals against linear
interpolation, on the points the quality benchmark hides.

Run from the repository root (needs the bench extra for co2 and sunspots)::

    .venv/bin/python bench/kriging.py
    .venv/bin/python bench/kriging.py --cases co2 sunspots

For every long case (``bench/quality_long.py``'s split: 30% of the four seasons before the held-out
one hidden), ``models.latent.kriging`` is fitted to the training points with the trend the service
would choose for them (``Normaliser.fit``: the seasonal base where the model has one, else a line)
and answers at the hidden points. This measures the candidate the interpolation blend may lean on,
not what the service serves (the model's mean and the blend's weights come on top). Times are this
process's: the kernel's fit (once per model, after training) and one answer at every hidden point.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from quality_long import LONG_CASES, ideal_answers, split_long

from models.latent.kriging import Kriging, fit_kriging
from models.latent.normaliser import Normaliser
from models.series import Dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="*", choices=list(LONG_CASES), default=list(LONG_CASES))
    args = parser.parse_args()
    print(f"{'case':20s} linear MSE  kriged/linear  ideal/linear  {'kernel':40s} fit s  answer ms")
    for name in args.cases:
        dataset = LONG_CASES[name].load()
        split = split_long(dataset.series[0], LONG_CASES[name].season)
        training = split.training
        normaliser = Normaliser.fit(Dataset((training,), dataset.time_kind))
        period = normaliser.season if normaliser.base else None
        started = time.perf_counter()
        kriging = fit_kriging([training], period, normaliser.bends)
        fit_s = time.perf_counter() - started
        observed = ~np.isnan(training.values[:, 0])
        truth = split.interp_values[:, 0]
        linear = np.interp(
            split.interp_times, training.times[observed], training.values[observed, 0]
        )
        linear_mse = float(np.mean((linear - truth) ** 2))
        started = time.perf_counter()
        kriged = kriging(training, split.interp_times).mean[:, 0] if kriging else linear
        answer_ms = 1000 * (time.perf_counter() - started)
        kriged_mse = float(np.mean((kriged - truth) ** 2))
        ideal = ideal_answers(name)
        ideal_mse = None if ideal is None else float(np.mean((ideal[0].mean[:, 0] - truth) ** 2))
        ideal_ratio = "-" if ideal_mse is None else f"{ideal_mse / linear_mse:.3f}"
        trend = "base" if period is not None else "line"
        print(
            f"{name:20s} {linear_mse:10.4g}  {kriged_mse / linear_mse:13.3f}  {ideal_ratio:>12s}  "
            f"{trend + '; ' + described(kriging):40s} {fit_s:5.2f}  {answer_ms:9.1f}"
        )


def described(kriging: Kriging | None) -> str:
    kernel = kriging.kernels[0] if kriging else None
    if kernel is None:
        return "none"
    return f"nu {kernel.smoothness}, length {kernel.length:.3g}, noise {kernel.noise_share:.2g}"


if __name__ == "__main__":
    main()
