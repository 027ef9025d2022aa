"""Whether a trained model's own forecasts should serve instead of the recipe's candidate.

The model cannot be refitted at every backtest origin as the candidates are; what it never
trained on are the held-out tails (``models.latent.holdout``). Each tail is cut into
``policy.tail_origins`` consecutive stretches, each forecast from everything before it (the
context and the tail's earlier points, which a forecast may read though training did not), by
the model and by the recipe's candidate. A tail's stretches share one stretch of the data's
history and one state of the model, so each tail is one unit of evidence: the mean of its
stretches' log error ratios. The model serves a dimension only when these units beat the
candidate by the same one-sided paired test the candidates face (``selection.paired_p_value``
at ``policy.significance``), on at least ``policy.min_origins`` of them: the most complex
candidate, on the least evidence, must show the most. One series holds out one tail, so its
forecasts are the recipe's; a family's held-out series, or several series' tails, can let the
model serve (bench/experiments/whole-corpus-service/README.md: on one series' stretches the
model passed and then lost at the later origins).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..series import Series
from .backtest import step_scale
from .pipeline import Recipe, forecast
from .selection import LOG_FLOOR, paired_p_value

# [(context, times [Q])] -> the model's served point forecasts [Q, D], one per ask
ModelForecast = Callable[[Sequence[tuple[Series, np.ndarray]]], list[np.ndarray]]


@dataclass(frozen=True)
class Tail:
    """Held-out points after a context: ``times`` [Q] and raw ``values`` [Q, D] (NaN where not
    observed)."""

    context: Series
    times: np.ndarray
    values: np.ndarray


def judge_model(
    recipe: Recipe,
    tails: Sequence[Tail],
    model_forecast: ModelForecast,
) -> Recipe:
    """``recipe`` with each dimension's ``model_serves`` and evidence set from ``tails``, each
    tail one unit of evidence."""
    cut = [_stretches(tail, recipe.policy.tail_origins) for tail in tails]
    origins = [o for stretches in cut for o in stretches]
    owners = [i for i, stretches in enumerate(cut) for _ in stretches]
    if not origins:
        return recipe
    judged = [
        [_judged(context, values, d) for d in range(len(recipe.dims))]
        for context, _, values in origins
    ]  # per stretch, per dimension: whether it can judge that dimension
    usable = [
        {owner for owner, can in zip(owners, judged, strict=True) if can[d]}
        for d in range(len(recipe.dims))
    ]  # per dimension, the tails that can judge it
    if max(len(tails_seen) for tails_seen in usable) < recipe.policy.min_origins:
        # too few tails to pass anywhere: the model's forecasts need not be decoded
        counted = zip(recipe.dims, usable, strict=True)
        return replace(recipe, dims=tuple(replace(dim, model_origins=len(u)) for dim, u in counted))
    model = model_forecast([(context, times) for context, times, _ in origins])
    dims = []
    for d, dim in enumerate(recipe.dims):
        log_ratios: list[float] = []
        units: list[int] = []
        for (context, times, values), by_model, owner, can in zip(
            origins, model, owners, judged, strict=True
        ):
            if not can[d]:
                continue
            seen = ~np.isnan(values[:, d])
            observed = ~np.isnan(context.values[:, d])
            by_recipe = forecast(recipe, context, times[seen], ())[0][:, d]
            floor = LOG_FLOOR * step_scale(context.values[observed, d]) ** 2
            model_mse = float(np.mean((by_model[seen, d] - values[seen, d]) ** 2))
            recipe_mse = float(np.mean((by_recipe - values[seen, d]) ** 2))
            log_ratios.append(np.log(max(recipe_mse, floor)) - np.log(max(model_mse, floor)))
            units.append(owner)
        differences = _unit_means(np.asarray(log_ratios), np.asarray(units, dtype=int))
        if len(differences) >= recipe.policy.min_origins:
            p = paired_p_value(differences)
            ratio = float(np.exp(-differences.mean()))
        else:
            p, ratio = 1.0, float("nan")
        serves = p < recipe.policy.significance
        dims.append(
            replace(
                dim,
                model_serves=serves,
                model_ratio=ratio,
                model_p_value=p,
                model_origins=len(differences),
            )
        )
    return replace(recipe, dims=tuple(dims))


def _judged(context: Series, values: np.ndarray, d: int) -> bool:
    """Whether a stretch's held-out ``values`` [Q, D] can judge dimension ``d``: some observed,
    and the context observes it twice at least."""
    return bool((~np.isnan(values[:, d])).any() and (~np.isnan(context.values[:, d])).sum() >= 2)


def _unit_means(values: np.ndarray, units: np.ndarray) -> np.ndarray:
    """The mean of ``values`` [N] per unit (``units`` [N]), in the units' order."""
    if not len(values):
        return values
    _, unit = np.unique(units, return_inverse=True)
    return np.bincount(unit, values) / np.bincount(unit)


def _stretches(tail: Tail, count: int) -> list[tuple[Series, np.ndarray, np.ndarray]]:
    """The tail cut into ``count`` stretches of equal time, each after all before it."""
    if not len(tail.times) or not len(tail.context.times):
        return []
    start, end = float(tail.context.times[-1]), float(tail.times[-1])
    edges = np.linspace(start, end, count + 1)
    found = []
    for low, high in itertools.pairwise(edges):
        before = tail.times <= low
        inside = (tail.times > low) & (tail.times <= high)
        if not inside.any():
            continue
        context = Series(
            tail.context.id,
            np.concatenate([tail.context.times, tail.times[before]]),
            np.concatenate([tail.context.values, tail.values[before]]),
        )
        rows = ~np.isnan(context.values).all(axis=1)
        context = Series(context.id, context.times[rows], context.values[rows])
        found.append((context, tail.times[inside], tail.values[inside]))
    return found
