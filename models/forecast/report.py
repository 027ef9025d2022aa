"""The backtest behind a recipe, as users read it (``GET /models/{id}/backtest``): per origin
and per lead time, the served candidate's MSE beside the naive methods' on the same points.
Where the trained model serves a dimension instead (``model_serves``), the table shows the
candidate it beat on the held-out tails."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .backtest import Backtest
from .candidates import Variant
from .pipeline import Recipe

NAIVE = ("last_value", "drift", "seasonal_naive")
LEAD_BINS = 4  # the lead times are reported in this many equal stretches of the horizon
SERVED = "served"


def backtest_table(recipe: Recipe, evidence: Sequence[Backtest]) -> dict[str, Any]:
    """Per dimension: the horizon, each origin's MSEs and each lead stretch's (JSON-ready),
    from the backtests the recipe was chosen on (``choose_forecast_with_evidence``)."""
    dims = []
    for dim, tested in zip(recipe.dims, evidence, strict=True):
        served = dim.variant().label
        naive = [
            label
            for label, variant in tested.variants.items()
            if isinstance(variant, Variant)
            and variant.candidate.name in NAIVE
            and not variant.log
            and label != served
        ]
        dims.append({**_table(tested, served, naive), "model_serves": dim.model_serves})
    return {"dims": dims}


def _table(evidence: Backtest, served: str, naive: list[str]) -> dict[str, Any]:
    scored = evidence.candidates()
    names = [served, *[n for n in naive if n in scored]]
    if served not in scored:
        return {"served": served, "horizon": evidence.horizon, "origins": [], "by_lead": []}

    def named(label: str) -> str:
        return SERVED if label == served else label

    origins = [
        {
            "series": o.series,
            "cut": o.cut,
            "points": len(o.truth),
            "mse": {named(n): o.mse(n) for n in names},
        }
        for o in evidence.origins
    ]
    leads = np.concatenate([o.leads for o in evidence.origins]) / evidence.horizon
    edges = np.linspace(0.0, max(1.0, float(leads.max())), LEAD_BINS + 1)
    by_lead = []
    for low, high in itertools.pairwise(edges):
        errors: dict[str, list[np.ndarray]] = {n: [] for n in names}
        for o in evidence.origins:
            inside = (o.leads / evidence.horizon > low) & (o.leads / evidence.horizon <= high)
            for n in names:
                errors[n].append((o.forecasts[n][inside] - o.truth[inside]) ** 2)
        counts = sum(len(e) for e in errors[served])
        if counts:
            by_lead.append(
                {
                    "from": float(low),
                    "to": float(high),
                    "points": int(counts),
                    "mse": {named(n): float(np.mean(np.concatenate(errors[n]))) for n in names},
                }
            )
    return {"served": served, "horizon": evidence.horizon, "origins": origins, "by_lead": by_lead}


def finite_json(value: Any) -> Any:
    """``value`` with every non-finite float as None: a model's record is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value
