"""The forecasting pipeline alone (``models.forecast``) under several ``Policy`` values, on every
single series of the development corpus at its 3 origins: what each threshold buys.

    .venv/bin/python bench/forecast_policy.py [--quick] [--policies default origins-20 ...]

No latent ODE is trained, so the whole corpus takes minutes. Per policy: the geometric mean over
series of the forecast MSE ratio to the best naive method (as ``corpus_report`` defines it), the
same per frequency group, the worst series, the pooled 80% and 90% coverage, and how often each
candidate serves. The references' figures on the same points are in ``bench/corpus.py``'s report.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this tree's models

import numpy as np
from corpus_anchors import AnchorCache, forecast_anchors
from corpus_catalog import single_series
from corpus_report import NAIVE, REFERENCES, SMALL_GROUP, geometric_mean, series_ratios
from corpus_splits import origins
from quality_scores import Forecast

from models.forecast.pipeline import candidate_seasons, choose_forecast, forecast
from models.forecast.policy import DEFAULT_POLICY, Policy
from models.series import Series, TimeKind

POLICIES: dict[str, Policy] = {
    "default": DEFAULT_POLICY,
    "origins-6": replace(DEFAULT_POLICY, origins=6),
    "origins-12": replace(DEFAULT_POLICY, origins=12),
    "origins-20": replace(DEFAULT_POLICY, origins=20),
    "alpha-0.1": replace(DEFAULT_POLICY, significance=0.1),
    "alpha-0.2": replace(DEFAULT_POLICY, significance=0.2),
    "alpha-0.01": replace(DEFAULT_POLICY, significance=0.01),
    "no-log": replace(DEFAULT_POLICY, log_variants=False),
    "origins-20-alpha-0.1": replace(DEFAULT_POLICY, origins=20, significance=0.1),
    "one-step": replace(DEFAULT_POLICY, origin_steps=1),
    "gaussian": replace(DEFAULT_POLICY, quantile_residuals=10**9),
    "material-1.05": replace(DEFAULT_POLICY, material_ratio=1.05),
    "material-1.1": replace(DEFAULT_POLICY, material_ratio=1.1),
    "material-1.2": replace(DEFAULT_POLICY, material_ratio=1.2),
    "steps-2": replace(DEFAULT_POLICY, origin_steps=2),
    "steps-3": replace(DEFAULT_POLICY, origin_steps=3),
    "steps-4": replace(DEFAULT_POLICY, origin_steps=4),
    "steps-6": replace(DEFAULT_POLICY, origin_steps=6),
    **{f"half-life-{k:g}": replace(DEFAULT_POLICY, shape_half_life=k) for k in (1.5, 3, 5, 8)},
    "every-cycle-alike": replace(DEFAULT_POLICY, shape_half_life=None),
    "one-lead-choice": replace(DEFAULT_POLICY, lead_band_growth=None),
    "bands-x4": replace(DEFAULT_POLICY, lead_band_growth=4.0),
    "choice-alone": replace(DEFAULT_POLICY, combine_best=False),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the quick subset only")
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), choices=list(POLICIES))
    parser.add_argument(
        "--references",
        action="store_true",
        help="also the pipeline over the best reference per group (AutoETS, AutoTheta, AutoARIMA, "
        "Prophet from bench/corpus.py's anchor cache; computed where missing, which takes long)",
    )
    args = parser.parse_args(argv)
    corpus = [s for s in single_series() if s.quick or not args.quick]
    records: dict[str, dict[str, list[dict]]] = {p: defaultdict(list) for p in args.policies}
    served: dict[str, Counter[str]] = {p: Counter() for p in args.policies}
    for series in corpus:
        kind = TimeKind.DATETIME if series.datetime else TimeKind.NUMERIC
        for origin in origins(series):
            naive = forecast_anchors(series, origin.train, origin.ahead, methods=NAIVE)
            if args.references:
                naive |= forecast_anchors(
                    series, origin.train, origin.ahead, cache=AnchorCache(), methods=REFERENCES
                )
            truth = series.values[origin.ahead]
            context = Series("s", series.times[origin.train], series.values[origin.train, None])
            seasons = candidate_seasons([context], kind)
            base = {m: _figures(f, truth) for m, f in naive.items() if f is not None}
            for name in args.policies:
                recipe = choose_forecast([context], seasons, POLICIES[name], kind)
                dim = recipe.dims[0]
                served[name][
                    dim.candidate
                    + ("@season" if dim.season else "")
                    + ("+best" if dim.partner else "")
                ] += 1
                mean, q = forecast(
                    recipe, context, series.times[origin.ahead], (0.05, 0.1, 0.9, 0.95)
                )
                answer = Forecast(mean, {k: v for k, v in q.items()})
                record = {
                    "frequency": str(series.frequency),
                    "variance": float(np.var(series.values[origin.train])),
                    "forecast": {**base, "pipeline": _figures(answer, truth)},
                }
                records[name][series.name].append(record)
        print(f"{series.name} done", file=sys.stderr, flush=True)
    print(_table(records, served, corpus))
    if args.references:
        print(_against_references(records, corpus))
    return 0


def _figures(answer: Forecast, truth: np.ndarray) -> dict[str, float]:
    figures = {
        "mse": float(np.mean((answer.mean[:, 0] - truth) ** 2)),
        "n": len(truth),
        "crps": 0.0,
    }
    for nominal, (lo, hi) in {"80": (0.1, 0.9), "90": (0.05, 0.95)}.items():
        if answer.quantiles:
            inside = (answer.quantiles[lo][:, 0] <= truth) & (truth <= answer.quantiles[hi][:, 0])
            figures[f"cov{nominal}"] = 100 * float(np.mean(inside))
    return figures


def _table(records, served, corpus) -> str:
    frequency = {s.name: str(s.frequency) for s in corpus}
    groups = sorted(set(frequency.values()))
    lines = [
        "| policy | all | "
        + " | ".join(groups)
        + " | worst | series > 1.25 | cover 80 | cover 90 | 80 outside 60-95 |",
        "| --- " * (len(groups) + 7) + "|",
    ]
    for name, named in records.items():
        ratios = {n: series_ratios(rs)["pipeline"] for n, rs in named.items()}
        cells = [name, f"{geometric_mean(ratios.values()):.3f}"]
        for g in groups:
            members = [r for n, r in ratios.items() if frequency[n] == g]
            cells.append(f"{geometric_mean(members):.3f}")
        worst = max(ratios, key=ratios.__getitem__)
        cells += [f"{ratios[worst]:.2f} ({worst})", str(sum(r > 1.25 for r in ratios.values()))]
        for nominal in ("80", "90"):
            pairs = [
                (r["forecast"]["pipeline"][f"cov{nominal}"], r["forecast"]["pipeline"]["n"])
                for rs in named.values()
                for r in rs
            ]
            cells.append(f"{sum(c * n for c, n in pairs) / sum(n for _, n in pairs):.1f}")
        outside = 0
        for rs in named.values():
            figures = [r["forecast"]["pipeline"] for r in rs]
            covered = sum(f["cov80"] * f["n"] for f in figures) / sum(f["n"] for f in figures)
            outside += not 60 <= covered <= 95
        cells.append(str(outside))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for name, named in records.items():
        ratios = {n: series_ratios(rs)["pipeline"] for n, rs in named.items()}
        above = sorted((r, n) for n, r in ratios.items() if r > 1.25)[::-1]
        lines.append(f"- {name}, above 1.25: " + ", ".join(f"{n} {r:.2f}" for r, n in above))
    lines.append("")
    for name, counts in served.items():
        total = sum(counts.values())
        shares = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in counts.most_common())
        lines.append(f"- {name}: {shares}")
    return "\n".join(lines)


def _against_references(records, corpus) -> str:
    """Per policy and frequency group: the pipeline's geometric mean over the best reference's
    (each reference's own geometric mean on the same points), the groups of ``SMALL_GROUP`` or
    more series marked."""
    frequency = {s.name: str(s.frequency) for s in corpus}
    groups = ["all", *sorted(set(frequency.values()))]
    lines = [
        "| policy / best reference | " + " | ".join(groups) + " |",
        "| --- " * (len(groups) + 1) + "|",
    ]
    for name, named in records.items():
        ratios = {n: series_ratios(rs) for n, rs in named.items()}
        cells = [name]
        for g in groups:
            members = [r for n, r in ratios.items() if g == "all" or frequency[n] == g]
            means = {m: geometric_mean(r[m] for r in members) for m in ("pipeline", *REFERENCES)}
            best = min(REFERENCES, key=means.__getitem__)
            mark = "" if len(members) >= SMALL_GROUP else "*"
            cells.append(f"{means['pipeline'] / means[best]:.3f} ({best}){mark}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\n*: fewer than {SMALL_GROUP} series, not judged"


if __name__ == "__main__":
    sys.exit(main())
