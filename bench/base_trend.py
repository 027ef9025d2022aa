"""The seasonal base alone on the long quality cases: one line against a trend with knots.

Run from the repository root (needs the bench extra for co2, sunspots and Prophet)::

    .venv/bin/python bench/base_trend.py            # line against the default knots
    .venv/bin/python bench/base_trend.py --sweep    # knot spacings and ridges around the default

For every long case with a season (``bench/quality_long.py``: the same split, the next season
held out for extrapolation and 30% of the four before it for interpolation), the base of
``models/latent/base.py`` is fitted to the training points and scored where the benchmark
scores the model: its MSE on the held-out season and on the hidden points, beside Prophet's
(fitted once per case on the same points) and beside the one-line base. This measures the base,
not what the service forecasts (the latent ODE on the residuals and the blend come on top); it is
what chose ``KNOT_SEASONS``, ``MAX_KNOTS`` and ``TREND_RIDGE``. ``--sweep`` sets those module
constants in this process only.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
from quality_long import LONG_CASES, LongSplit, prophet_answers, split_long

from models.latent import base

SWEEP_SPACINGS = (1.0, 2.0, 4.0)
SWEEP_RIDGES = (0.0, 0.3, 1.0, 3.0)


def scores(split: LongSplit, *, bends: bool) -> tuple[float, float, int]:
    """The base's MSE on the held-out season and on the hidden points, and its knot count."""
    fitted = base.fit_base(split.training, split.period, bends=bends)
    extrap = float(np.mean((fitted(split.extrap_times) - split.extrap_values) ** 2))
    interp = float(np.mean((fitted(split.interp_times) - split.interp_values) ** 2))
    return extrap, interp, len(fitted.knots)


def prophet_extrapolation(name: str, split: LongSplit) -> float | None:
    answers = prophet_answers(name)
    if answers is None:
        return None
    return float(np.mean((answers.extrapolation.mean - split.extrap_values) ** 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweep", action="store_true", help="knot spacings x ridges")
    args = parser.parse_args()
    print("case                 knots  extrap MSE  / line  / Prophet   interp MSE  / line")
    for name, case in LONG_CASES.items():
        if case.season is None:
            continue
        split = split_long(case.load().series[0], case.season)
        prophet = prophet_extrapolation(name, split)
        line_extrap, line_interp, _ = scores(split, bends=False)
        print(f"{name:20s} line   {line_extrap:10.4g}  {'':6s}  {_ratio(line_extrap, prophet)}")
        settings = [(base.KNOT_SEASONS, base.TREND_RIDGE)]
        if args.sweep:
            settings = list(itertools.product(SWEEP_SPACINGS, SWEEP_RIDGES))
        for spacing, ridge in settings:
            base.KNOT_SEASONS, base.TREND_RIDGE = spacing, ridge
            extrap, interp, knots = scores(split, bends=True)
            print(
                f"{'':20s} {knots:5d}  {extrap:10.4g}  {extrap / line_extrap:6.2f}  "
                f"{_ratio(extrap, prophet)}   {interp:10.4g}  {interp / line_interp:6.2f}"
                f"   (every {spacing:g} seasons, ridge {ridge:g})"
            )


def _ratio(mse: float, reference: float | None) -> str:
    return "     -" if reference is None else f"{mse / reference:7.2f}"


if __name__ == "__main__":
    main()
