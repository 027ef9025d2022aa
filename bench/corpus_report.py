"""Scores of the development corpus (``bench/corpus.py``): one fit's record, and the report over
many records.

A record holds, per method, the MSE, CRPS, 80% and 90% coverage and target count of its answers
at one origin of a single series (or on one population), in the data's units. The report turns
them into ratios that compare across series:

- **forecast ratio** of a method on a series: the geometric mean over origins of its MSE over the
  best naive method's MSE at that origin, the best naive method being the one of last value,
  drift and seasonal naive with the lowest geometric-mean MSE over the series' origins. Where a
  reference failed at an origin (an AutoARIMA past its time limit), the last value stands in for
  it, as it would for a user;
- **CRPS ratio**: the same with the CRPS (a point forecast's CRPS is its mean absolute error);
- **interpolation ratio**: the geometric mean over origins of the MSE over linear interpolation's;
- aggregates: the geometric mean of the per-series ratios, overall and by frequency, the share
  of series a method beats a reference on, the worst series; coverage pooled over every forecast
  target, and per series pooled over its origins.

Training seeds are scored separately and reported as their mean and the worse one.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from corpus_anchors import (
    AnchorCache,
    forecast_anchors,
    interpolation_anchors,
    mean_curve,
    mean_shape,
)
from corpus_catalog import populations, single_series
from corpus_data import Population, SingleSeries
from corpus_splits import ORIGINS, curve_splits, origins
from quality_scores import QUANTILE_LEVELS, Forecast, Scores

from models.forecast.pipeline import candidate_seasons, choose_forecast, forecast
from models.series import Series, TimeKind

ODECAST = "odecast"
PIPELINE = "pipeline"  # the forecasting pipeline alone, without the latent ODE
NAIVE = ("last_value", "drift", "seasonal_naive")
REFERENCES = ("auto_ets", "auto_theta", "auto_arima", "prophet")
INTERPOLATION_REFERENCES = ("pchip", "gaussian_process")
POPULATION_INTERPOLATION = ("linear", "pchip", "gaussian_process", "mean_shape")
POPULATION_EXTRAPOLATION = ("last_value", "mean_curve")
STAND_IN = "last_value"  # answers for a reference that failed at an origin
RAN_SHARE = 0.9  # a reference is shown when this share of the records ran it (--references)
SMALL_GROUP = 8  # frequency groups with fewer series are reported but not judged
TIME_POINTS = 3000  # fit times are judged on series of at most this many points
MSE_FLOOR = 1e-12  # relative to the series' variance: a ratio's denominator is never 0

# Targets (issue 28): the figure, the limit, and whether lower is better.
TARGET_OVERALL = 0.95  # odecast / best reference, geometric mean over every series
TARGET_GROUP = 1.05  # the same on every frequency group of SMALL_GROUP series or more
TARGET_WORST = 1.25  # no series above this ratio to its best naive method
TARGET_INTERPOLATION = 0.8  # geometric mean over linear interpolation
TARGET_INTERPOLATION_WORST = 1.05  # no series above this over linear interpolation
TARGET_COVERAGE_POINTS = 3.0  # pooled coverage within this many points of nominal
TARGET_SERIES_COVERAGE = (60.0, 95.0)  # every series' 80% coverage in this range
TARGET_POPULATION = 0.8  # each population, interpolation and extrapolation
TARGET_FIT_S = 60.0  # median fit time of series of up to TIME_POINTS points


# ----------------------------------------------------------------------------- one record


@functools.cache
def _series_by_name() -> dict[str, SingleSeries]:
    return {s.name: s for s in single_series()}


@functools.cache
def _populations_by_name() -> dict[str, Population]:
    return {p.name: p for p in populations()}


def score_series(
    name: str, k: int, seed: int, *, with_odecast: bool, references: Sequence[str] = REFERENCES
) -> dict[str, Any]:
    """The record of one origin of a single series."""
    series = _series_by_name()[name]
    origin = origins(series)[ORIGINS - k]
    train = origin.train
    methods = (*NAIVE, *references)
    forecasts: dict[str, Forecast | None] = dict(
        forecast_anchors(series, train, origin.ahead, cache=AnchorCache(), methods=methods)
    )
    interpolations = {
        m: Forecast(v)
        for m, v in interpolation_anchors(
            series.times[train], series.values[train, None], series.times[origin.hidden]
        ).items()
    }
    forecasts[PIPELINE] = _pipeline(series, train, origin.ahead)
    record: dict[str, Any] = {"frequency": str(series.frequency), "points": int(train.sum())}
    if with_odecast:
        from corpus_fits import fit_series

        answers = fit_series(series, origin, seed)
        forecasts[ODECAST] = answers.forecast
        interpolations[ODECAST] = answers.interpolation
        record.update(fit_s=answers.fit_s, served=answers.served)
    ahead = series.values[origin.ahead, None]
    hidden = series.values[origin.hidden, None]
    record["forecast"] = {m: _figures(f, ahead) for m, f in forecasts.items() if f is not None}
    record["failed"] = sorted(m for m, f in forecasts.items() if f is None)
    record["interpolation"] = {m: _figures(f, hidden) for m, f in interpolations.items()}
    record["variance"] = float(np.var(series.values[train]))
    record["headline"] = _headline(record["forecast"])
    return record


def _pipeline(series: SingleSeries, train: np.ndarray, ahead: np.ndarray) -> Forecast:
    """The forecasting pipeline alone (``models.forecast``), the season found as a fit finds it."""
    kind = TimeKind.DATETIME if series.datetime else TimeKind.NUMERIC
    context = Series("s", series.times[train], series.values[train, None])
    recipe = choose_forecast([context], candidate_seasons([context], kind), time_kind=kind)
    mean, quantiles = forecast(recipe, context, series.times[ahead], QUANTILE_LEVELS)
    return Forecast(mean, quantiles)


def score_population(name: str, seed: int, *, with_odecast: bool) -> dict[str, Any]:
    """The record of one population's fit."""
    population = _populations_by_name()[name]
    splits = curve_splits(population)
    inner: dict[str, list[Forecast]] = defaultdict(list)
    tail: dict[str, list[Forecast]] = defaultdict(list)
    pairs = list(zip(population.curves, splits, strict=True))
    reads = [(c.times[s.train], c.values[s.train]) for c, s in pairs]
    for i, (curve, split) in enumerate(pairs):
        times, values = reads[i]
        others = [r for j, r in enumerate(reads) if j != i]
        query, ends = curve.times[split.hidden], curve.times[split.tail]
        for m, answer in interpolation_anchors(times, values, query).items():
            inner[m].append(Forecast(answer))
        inner["mean_shape"].append(Forecast(mean_shape(others, times, values, query)))
        last = _last_observed(values)
        tail["last_value"].append(Forecast(np.broadcast_to(last, (len(ends), len(last))).copy()))
        tail["mean_curve"].append(Forecast(mean_curve(others, ends)))
    record: dict[str, Any] = {"curves": len(population.curves)}
    if with_odecast:
        from corpus_fits import fit_population

        answers = fit_population(population, splits, seed)
        inner[ODECAST], tail[ODECAST] = list(answers.interpolation), list(answers.tail)
        record.update(fit_s=answers.fit_s, served=answers.served)
    hidden = [c.values[s.hidden] for c, s in zip(population.curves, splits, strict=True)]
    ends = [c.values[s.tail] for c, s in zip(population.curves, splits, strict=True)]
    record["interpolation"] = {m: _pooled(f, hidden) for m, f in inner.items()}
    record["extrapolation"] = {m: _pooled(f, ends) for m, f in tail.items()}
    interp = record["interpolation"]
    if ODECAST in interp:
        record["headline"] = f"interp {interp[ODECAST]['mse'] / interp['linear']['mse']:.3f}x lin"
    return record


def _last_observed(values: np.ndarray) -> np.ndarray:
    """Each dimension's last observed value [D] of rows [T, D]."""
    last = np.full(values.shape[1], np.nan)
    for d in range(values.shape[1]):
        seen = values[~np.isnan(values[:, d]), d]
        last[d] = seen[-1] if len(seen) else np.nan
    return last


def _figures(answer: Forecast, targets: np.ndarray) -> dict[str, float]:
    return _pooled([answer], [targets])


def _pooled(forecasts: Sequence[Forecast], targets: Sequence[np.ndarray]) -> dict[str, float]:
    scores = Scores()
    for answer, values in zip(forecasts, targets, strict=True):
        if len(values):
            scores.add("m", answer, values)
    if "m" not in scores.sums:
        return {"mse": float("nan"), "crps": float("nan"), "n": 0}
    summary = scores.summary()
    figures = {"mse": summary["mse"]["m"], "crps": summary["crps"]["m"], "n": summary["targets"]}
    for nominal, value in summary["coverage"].get("m", {}).items():
        figures[f"cov{nominal}"] = value
    return figures


def _headline(forecast: Mapping[str, Mapping[str, float]]) -> str:
    naive = max(min(forecast[m]["mse"] for m in NAIVE if m in forecast), 1e-300)
    parts = [
        f"{m} {forecast[m]['mse'] / naive:.2f}" for m in (ODECAST, "auto_ets") if m in forecast
    ]
    return "forecast / best naive: " + ", ".join(parts)


# ----------------------------------------------------------------------------- the report


def geometric_mean(values: Iterable[float]) -> float:
    values = list(values)
    return float(np.exp(np.mean(np.log(values)))) if values else float("nan")


def series_ratios(records: Sequence[Mapping[str, Any]], figure: str = "mse") -> dict[str, float]:
    """Each method's forecast ratio (``figure`` over the best naive method's) on one series, from
    its records at every origin of one seed."""
    floor = MSE_FLOOR * max(r["variance"] for r in records)
    by_origin = [r["forecast"] for r in records]
    naive = [m for m in NAIVE if all(m in f for f in by_origin)]
    best = min(naive, key=lambda m: geometric_mean(max(f[m][figure], floor) for f in by_origin))
    methods = {m for f in by_origin for m in f} | {*NAIVE, *REFERENCES}
    ratios = {}
    for method in methods:
        values = []
        for f in by_origin:
            answer = f.get(method, f[STAND_IN])
            values.append(max(answer[figure], floor) / max(f[best][figure], floor))
        ratios[method] = geometric_mean(values)
    return ratios


def interpolation_ratios(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Each interpolating method's MSE over linear interpolation's, geometric mean over origins."""
    floor = MSE_FLOOR * max(r["variance"] for r in records)
    ratios: dict[str, list[float]] = defaultdict(list)
    for r in records:
        interp = r["interpolation"]
        if not interp["linear"]["n"]:
            continue
        for method, figures in interp.items():
            ratios[method].append(max(figures["mse"], floor) / max(interp["linear"]["mse"], floor))
    return {m: geometric_mean(v) for m, v in ratios.items()}


def report(records: Sequence[Mapping[str, Any]], *, mode: str, seeds: Sequence[int]) -> str:
    """The corpus tables (markdown) from the records of one run."""
    good = [r for r in records if "error" not in r]
    errors = [r for r in records if "error" in r]
    lines = [f"Corpus, {mode} mode, training seeds {', '.join(map(str, seeds))}."]
    if errors:
        lines.append(
            f"\n{len(errors)} fits failed: "
            + "; ".join(
                f"{r['name']} k={r['k']} seed={r['seed']}: {r['error']}" for r in errors[:5]
            )
        )
    singles = [r for r in good if r["kind"] == "series"]
    groups = [r for r in good if r["kind"] == "population"]
    if singles:
        lines += _singles_report(singles, seeds)
    if groups:
        lines += _populations_report(groups, seeds)
    return "\n".join(lines)


def _per_seed_series(
    singles: Sequence[Mapping[str, Any]], seeds: Sequence[int]
) -> dict[int, dict[str, list[Mapping[str, Any]]]]:
    """seed -> series name -> its records at every origin (complete series only)."""
    by_seed: dict[int, dict[str, list[Mapping[str, Any]]]] = {}
    for seed in seeds:
        named: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for r in singles:
            if r["seed"] == seed:
                named[r["name"]].append(r)
        by_seed[seed] = {n: rs for n, rs in named.items() if len(rs) == ORIGINS}
    return by_seed


def _singles_report(singles: Sequence[Mapping[str, Any]], seeds: Sequence[int]) -> list[str]:
    by_seed = _per_seed_series(singles, seeds)
    names = sorted(set.intersection(*(set(v) for v in by_seed.values())))
    if not names:
        return ["\nNo single series has all its origins scored yet."]
    first = by_seed[seeds[0]]
    frequency = {n: first[n][0]["frequency"] for n in names}
    ratios = {s: {n: series_ratios(by_seed[s][n]) for n in names} for s in seeds}
    crps = {s: {n: series_ratios(by_seed[s][n], "crps") for n in names} for s in seeds}
    interp = {s: {n: interpolation_ratios(by_seed[s][n]) for n in names} for s in seeds}
    with_odecast = all(ODECAST in ratios[s][n] for s in seeds for n in names)
    ran = [m for m in REFERENCES if _share_run(singles, m) >= RAN_SHARE]
    methods = [ODECAST] * with_odecast + [PIPELINE, *NAIVE[:2], *ran]
    methods = [m for m in methods if all(m in ratios[seeds[0]][n] for n in names)]
    lines = [
        f"\n**Forecasts** of {len(names)} single series at {ORIGINS} origins each: "
        "geometric mean of each series' MSE ratio to its best naive method (mean of the "
        "seeds, the worse in brackets where odecast's differ).\n"
    ]
    system = ODECAST if with_odecast else PIPELINE  # the figures judged against the targets
    header = ["group", "series", *methods, f"{system} / best reference", "beats it on"]
    lines += [_row(header), _row(["---"] * len(header))]
    group_names = sorted(
        set(frequency.values()), key=lambda g: -sum(f == g for f in frequency.values())
    )
    verdicts: list[tuple[str, bool]] = []
    for group in [*group_names, "all"]:
        members = [n for n in names if group in ("all", frequency[n])]
        cells = [group, str(len(members))]
        gms = {
            m: [geometric_mean(ratios[s][n][m] for n in members) for s in seeds] for m in methods
        }
        cells += [_seeds(gms[m]) for m in methods]
        best_ref = min(ran, key=lambda m: gms[m][0] if m in gms else math.inf)
        rel = [o / gms[best_ref][0] for o in gms[system]]
        wins = [
            statistics.fmean(ratios[s][n][system] < ratios[s][n][best_ref] for n in members)
            for s in seeds
        ]
        cells += [f"{_seeds(rel)} ({best_ref})", f"{100 * statistics.fmean(wins):.0f}%"]
        limit = TARGET_OVERALL if group == "all" else TARGET_GROUP
        if group == "all" or len(members) >= SMALL_GROUP:
            verdicts.append((f"forecast {group}: {max(rel):.3f} <= {limit}", max(rel) <= limit))
        lines.append(_row(cells))
    lines += _worst(ratios, names, seeds, system, "forecast / best naive", TARGET_WORST, verdicts)
    lines += _crps_and_coverage(crps, by_seed, names, seeds, verdicts, system)
    if with_odecast:
        lines += _interpolation(interp, names, frequency, seeds, verdicts)
        lines += _fit_times(by_seed, names, seeds, verdicts)
    lines += ["\n**Targets**\n"] + [
        f"- {'met' if ok else 'MISSED'}: {text}" for text, ok in verdicts
    ]
    return lines


def _share_run(singles: Sequence[Mapping[str, Any]], method: str) -> float:
    """The share of records in which ``method`` was run (answered, or failed on its own)."""
    ran = [method in r["forecast"] or method in r.get("failed", ()) for r in singles]
    return statistics.fmean(ran) if ran else 0.0


def _worst(
    ratios: Mapping[int, Mapping[str, Mapping[str, float]]],
    names: Sequence[str],
    seeds: Sequence[int],
    method: str,
    what: str,
    limit: float,
    verdicts: list[tuple[str, bool]],
) -> list[str]:
    mean = {n: statistics.fmean(ratios[s][n][method] for s in seeds) for n in names}
    worst = sorted(names, key=lambda n: -mean[n])[:5]
    above = [n for n in names if mean[n] > limit]
    verdicts.append(
        (f"{what}: {len(above)} series above {limit} (worst {mean[worst[0]]:.2f})", not above)
    )
    listed = ", ".join(f"{n} {mean[n]:.2f}" for n in worst)
    return [f"\nWorst series ({what}, mean of seeds): {listed}."]


def _crps_and_coverage(
    crps: Mapping[int, Mapping[str, Mapping[str, float]]],
    by_seed: Mapping[int, Mapping[str, Sequence[Mapping[str, Any]]]],
    names: Sequence[str],
    seeds: Sequence[int],
    verdicts: list[tuple[str, bool]],
    system: str,
) -> list[str]:
    gm = [geometric_mean(crps[s][n][system] for n in names) for s in seeds]
    pooled: dict[str, list[float]] = defaultdict(list)
    outside = []
    for s in seeds:
        totals: dict[str, float] = defaultdict(float)
        count = 0.0
        for n in names:
            series_total, series_count = 0.0, 0.0
            for r in by_seed[s][n]:
                f = r["forecast"][system]
                for nominal in ("80", "90"):
                    totals[nominal] += f[f"cov{nominal}"] * f["n"]
                series_total += f["cov80"] * f["n"]
                series_count += f["n"]
                count += f["n"]
            share = series_total / max(series_count, 1)
            if not TARGET_SERIES_COVERAGE[0] <= share <= TARGET_SERIES_COVERAGE[1]:
                outside.append(n)
        for nominal in ("80", "90"):
            pooled[nominal].append(totals[nominal] / max(count, 1))
    for nominal in ("80", "90"):
        off = max(abs(v - float(nominal)) for v in pooled[nominal])
        verdicts.append(
            (
                f"pooled {nominal}% coverage {_seeds(pooled[nominal], '.1f')} within "
                f"{TARGET_COVERAGE_POINTS} points",
                off <= TARGET_COVERAGE_POINTS,
            )
        )
    lo, hi = TARGET_SERIES_COVERAGE
    verdicts.append(
        (
            f"series with 80% coverage outside {lo:.0f}-{hi:.0f}%: "
            f"{len(set(outside))} of {len(names)}",
            not outside,
        )
    )
    return [
        f"\n{system}'s forecast CRPS over the best naive method's MAE, geometric mean: "
        f"{_seeds(gm)}; pooled coverage 80%: {_seeds(pooled['80'], '.1f')}, "
        f"90%: {_seeds(pooled['90'], '.1f')}; series whose 80% coverage is outside "
        f"{lo:.0f}-{hi:.0f}%: {len(set(outside))} of {len(names)}."
    ]


def _interpolation(
    interp: Mapping[int, Mapping[str, Mapping[str, float]]],
    names: Sequence[str],
    frequency: Mapping[str, str],
    seeds: Sequence[int],
    verdicts: list[tuple[str, bool]],
) -> list[str]:
    scored = [n for n in names if ODECAST in interp[seeds[0]][n]]
    methods = [ODECAST, *INTERPOLATION_REFERENCES]
    lines = [
        "\n**Interpolation** of 30% of the points before each origin: geometric mean of the "
        "MSE ratio to linear interpolation.\n",
        _row(["group", "series", *methods]),
        _row(["---"] * (2 + len(methods))),
    ]
    for group in [*sorted(set(frequency[n] for n in scored)), "all"]:
        members = [n for n in scored if group in ("all", frequency[n])]
        cells = [group, str(len(members))]
        for m in methods:
            cells.append(_seeds([geometric_mean(interp[s][n][m] for n in members) for s in seeds]))
        lines.append(_row(cells))
    overall = [geometric_mean(interp[s][n][ODECAST] for n in scored) for s in seeds]
    best_ref = min(
        geometric_mean(interp[seeds[0]][n][m] for n in scored) for m in INTERPOLATION_REFERENCES
    )
    verdicts.append(
        (
            f"interpolation: {max(overall):.3f} <= {TARGET_INTERPOLATION} x linear",
            max(overall) <= TARGET_INTERPOLATION,
        )
    )
    verdicts.append(
        (
            f"interpolation: {max(overall):.3f} <= 1.0 x the best of PCHIP and the GP "
            f"({best_ref:.3f})",
            max(overall) <= best_ref,
        )
    )
    lines += _worst(
        interp,
        scored,
        seeds,
        ODECAST,
        "interpolation / linear",
        TARGET_INTERPOLATION_WORST,
        verdicts,
    )
    return lines


def _fit_times(
    by_seed: Mapping[int, Mapping[str, Sequence[Mapping[str, Any]]]],
    names: Sequence[str],
    seeds: Sequence[int],
    verdicts: list[tuple[str, bool]],
) -> list[str]:
    times = [
        r["fit_s"]
        for s in seeds
        for n in names
        for r in by_seed[s][n]
        if r["points"] <= TIME_POINTS
    ]
    if not times:
        return []
    median = statistics.median(times)
    verdicts.append(
        (
            f"median fit {median:.0f} s <= {TARGET_FIT_S:.0f} s (series of at most "
            f"{TIME_POINTS} points)",
            median <= TARGET_FIT_S,
        )
    )
    return [
        f"\nodecast fit time (series of at most {TIME_POINTS} points, one thread): median "
        f"{median:.0f} s, 90th percentile {np.percentile(times, 90):.0f} s, max "
        f"{max(times):.0f} s over {len(times)} fits."
    ]


def _populations_report(groups: Sequence[Mapping[str, Any]], seeds: Sequence[int]) -> list[str]:
    names = sorted({r["name"] for r in groups})
    lines = [
        "\n**Populations of short curves**: interpolation MSE over linear interpolation's; "
        "extrapolation (the last 3 points of a third of the curves) MSE over the best of "
        "the last value and the mean curve (mean of the seeds, the worse in brackets).\n"
    ]
    interp_methods = [ODECAST, *POPULATION_INTERPOLATION[1:]]
    header = [
        "population",
        "curves",
        *[f"interp {m}" for m in interp_methods],
        "extrap odecast",
        "odecast fit s",
    ]
    lines += [_row(header), _row(["---"] * len(header))]
    worst: dict[str, dict[str, float]] = {"interpolation": {}, "extrapolation": {}}
    for name in names:
        rs = {r["seed"]: r for r in groups if r["name"] == name}
        if not all(s in rs for s in seeds):
            continue
        cells = [name, str(rs[seeds[0]]["curves"])]
        for m in interp_methods:
            values = [
                rs[s]["interpolation"].get(m, {}).get("mse", math.nan)
                / rs[s]["interpolation"]["linear"]["mse"]
                for s in seeds
            ]
            cells.append(_seeds(values))
        extrap = []
        for s in seeds:
            e = rs[s]["extrapolation"]
            best = min(e[m]["mse"] for m in POPULATION_EXTRAPOLATION)
            extrap.append(e.get(ODECAST, {}).get("mse", math.nan) / best)
        cells.append(_seeds(extrap))
        cells.append(_seeds([rs[s].get("fit_s", math.nan) for s in seeds], ".0f"))
        lines.append(_row(cells))
        interp_odecast = [
            rs[s]["interpolation"].get(ODECAST, {}).get("mse", math.nan)
            / rs[s]["interpolation"]["linear"]["mse"]
            for s in seeds
        ]
        worst["interpolation"][name] = max(interp_odecast)
        worst["extrapolation"][name] = max(extrap)
    lines.append("\n**Targets** (each population, the worse seed)\n")
    for job, scores in worst.items():
        scored = {n: v for n, v in scores.items() if math.isfinite(v)}
        missed = sorted(n for n, v in scored.items() if v > TARGET_POPULATION)
        verdict = "met" if scored and not missed else "MISSED"
        lines.append(
            f"- {verdict}: {job} <= {TARGET_POPULATION} on {len(scored) - len(missed)} of "
            f"{len(scored)} populations" + (f"; missed on {', '.join(missed)}" if missed else "")
        )
    return lines


def _seeds(values: Sequence[float], spec: str = ".3f") -> str:
    mean = statistics.fmean(values)
    if len(values) == 1 or max(values) - min(values) < 5e-4 * abs(mean):
        return format(mean, spec)
    return f"{mean:{spec}} ({max(values):{spec}})"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
