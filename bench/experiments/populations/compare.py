"""Which interpolation answer fills the gaps of a population's curves: the corpus's hidden inner
points (``bench/corpus_splits.curve_splits``), one fit per population and seed.

Printed per population: the MSE over linear interpolation's of
- served: what ``/predict`` answers (the fit's blend);
- model: the latent ODE's posterior mean alone;
- model+line: that mean plus the straight line through the curve's residuals from it;
- krige_line: the kriged residuals around each curve's least-squares line (the fit's kernels);
- krige_model: the kriged residuals around the model's mean (kernels fitted on the training
  curves' residuals from the model's mean, each curve read whole);
- pchip, mean_shape: the corpus's references.

Run from the repository root: ``.venv/bin/python
bench/experiments/populations/compare.py --seeds 0 --only Theoph``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/

from corpus_anchors import interpolation_anchors, mean_shape
from corpus_catalog import populations
from corpus_fits import _fit, _series_id
from corpus_splits import curve_splits

from models.latent import tasks
from models.latent.decoding import Request, decode
from models.latent.kriging import Kriging, _blocks, fit_kernel, krige
from models.latent.predict import predict
from models.series import Dataset, Series, TimeKind


def model_mean(trained, context: Series, times: np.ndarray) -> np.ndarray:
    return decode(trained.model, trained.normaliser, [Request(context, times, 0)], n_samples=0)[0][
        0
    ]


def run(name: str, seed: int) -> dict[str, float]:
    population = next(p for p in populations() if p.name == name)
    splits = curve_splits(population)
    contexts = [
        Series(_series_id(c.id), c.times[s.train], c.values[s.train])
        for c, s in zip(population.curves, splits, strict=True)
    ]
    trained, seconds = _fit(Dataset(tuple(contexts), TimeKind.NUMERIC), seed)
    # kernels on every curve's residuals from the model's mean, the curve read whole
    residuals = [c.values - model_mean(trained, c, c.times) for c in contexts]
    kernels = [
        fit_kernel(_blocks([c.times for c in contexts], [r[:, d] for r in residuals]))
        for d in range(contexts[0].dims)
    ]
    line_kriging = trained.calibration.kriging or Kriging(tuple(kernels))
    answers: dict[str, list[np.ndarray]] = {}
    truths = []
    for i, (curve, split, context) in enumerate(
        zip(population.curves, splits, contexts, strict=True)
    ):
        query = curve.times[split.hidden]
        if not len(query):
            continue
        truths.append(curve.values[split.hidden])
        others = [(c.times, c.values) for j, c in enumerate(contexts) if j != i]
        ref = interpolation_anchors(context.times, context.values, query)
        mean_q, mean_c = (
            model_mean(trained, context, query),
            model_mean(trained, context, context.times),
        )
        line = np.empty_like(mean_q)
        krig = np.empty_like(mean_q)
        for d in range(context.dims):
            seen = ~np.isnan(context.values[:, d])
            r = context.values[seen, d] - mean_c[seen, d]
            line[:, d] = mean_q[:, d] + np.interp(query, context.times[seen], r)
            k = kernels[d]
            krig[:, d] = mean_q[:, d] + (krige(k, context.times[seen], r, query)[0] if k else 0)
        served = predict(trained, context, query, n_samples=100).mean
        for key, value in {
            "served": served,
            "model": mean_q,
            "model+line": line,
            "krige_line": line_kriging(context, query).mean,
            "krige_model": krig,
            "pchip": ref["pchip"],
            "gp": ref["gaussian_process"],
            "mean_shape": mean_shape(others, context.times, context.values, query),
            "linear": ref["linear"],
        }.items():
            answers.setdefault(key, []).append(value)
    truth = np.concatenate(truths)
    seen = ~np.isnan(truth)
    mse = {
        k: float(np.mean((np.concatenate(v)[seen] - truth[seen]) ** 2)) for k, v in answers.items()
    }
    ratios = {k: v / mse["linear"] for k, v in mse.items() if k != "linear"}
    ratios["fit_s"] = seconds
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--only", nargs="+", required=True)
    parser.add_argument(
        "--observed", type=float, nargs=2, help="the training interpolation tasks' observed share"
    )
    args = parser.parse_args()
    if args.observed:
        tasks.INTERPOLATION_OBSERVED = tuple(args.observed)
    names = [p.name for p in populations() if any(o in p.name for o in args.only)]
    for name in names:
        for seed in args.seeds:
            ratios = run(name, seed)
            print(name, seed, " ".join(f"{k} {v:.3f}" for k, v in ratios.items()), flush=True)


if __name__ == "__main__":
    main()
