"""Time of the ``GET /predict.png`` chart, ours against the same chart drawn with matplotlib's
figures, in one process.

Run from the repository root::

    .venv/bin/python bench/charts.py              # 20 renders of each case after 3 warm-ups
    .venv/bin/python bench/charts.py --renders 50

The cases: 1, 2 and 8 panels of 100 predicted times, 40 observations and two bands, 900 px wide,
260 px a panel (the endpoint's defaults). ``service.plotting.render_png`` draws straight onto
matplotlib's Agg rasteriser; the reference draws the same content the usual way (a ``Figure``
with constrained layout, ``fill_between``, ``plot``, ``axvspan``, a legend) and encodes it with the
same PNG settings. It prints one JSON line per case: the median milliseconds of each and their
ratio.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from service.canvas import PNG_COMPRESSION
from service.plot_inputs import Band
from service.plotting import render_png

WIDTH, HEIGHT_PER_PANEL, DPI = 900, 260, 100


def inputs(panels: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    observed_times = np.sort(rng.uniform(0.0, 10.0, 40))
    observed_values = rng.normal(size=(40, panels))
    times = np.linspace(0.0, 12.0, 100)
    mean = rng.normal(size=(100, panels)).cumsum(axis=0) / 5
    return {
        "title": "model m-1 / series s-1",
        "observed_times": observed_times,
        "observed_values": observed_values,
        "times": times,
        "mean": mean,
        "bands": [Band("90%", mean - 1.5, mean + 1.5), Band("80%", mean - 1.0, mean + 1.0)],
        "first_observed": float(observed_times[0]),
        "last_observed": float(observed_times[-1]),
    }


def with_figures(arguments: dict[str, Any]) -> bytes:
    """The reference: the same chart with matplotlib's figures and constrained layout."""
    panels = arguments["observed_values"].shape[1]
    height = 64 + panels * HEIGHT_PER_PANEL
    figure = Figure(figsize=(WIDTH / DPI, height / DPI), dpi=DPI, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    axes = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    times, last = arguments["times"], arguments["last_observed"]
    for dim, ax in enumerate(axes):

        def label(text: str, dim: int = dim) -> str:  # one legend entry per kind, not per panel
            return text if dim == 0 else f"_{text}"

        ax.axvspan(last, times[-1], color="#e6e6e6", linewidth=0, label=label("extrapolation"))
        for band, alpha in zip(arguments["bands"], (0.15, 0.4), strict=True):
            lower, upper = band.lower[:, dim], band.upper[:, dim]
            ax.fill_between(times, lower, upper, alpha=alpha, label=label(band.label))
        ax.plot(times, arguments["mean"][:, dim], linewidth=1.8, label=label("mean"))
        observed = arguments["observed_values"][:, dim]
        ax.plot(
            arguments["observed_times"],
            observed,
            "o",
            markersize=4,
            color="#222222",
            label=label("observations"),
        )
        ax.axvline(
            last, color="#555555", linestyle="--", linewidth=1.2, label=label("last observation")
        )
        ax.set_ylabel(f"dim {dim}")
        ax.grid(True, color="#cccccc", linewidth=0.5, alpha=0.7)
    axes[-1].set_xlabel("time")
    figure.suptitle(arguments["title"], fontsize=11)
    figure.legend(loc="outside lower center", ncols=6, fontsize=8, frameon=False)
    canvas.draw()
    pixels = Image.fromarray(np.asarray(canvas.buffer_rgba()), "RGBA").convert("RGB")
    buffer = io.BytesIO()
    pixels.save(buffer, format="PNG", compress_level=PNG_COMPRESSION)
    return buffer.getvalue()


def median_ms(render: Callable[[], bytes], renders: int) -> float:
    for _ in range(3):
        render()
    durations = []
    for _ in range(renders):
        started = time.perf_counter()
        render()
        durations.append((time.perf_counter() - started) * 1e3)
    return statistics.median(durations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=20, help="timed renders per case")
    args = parser.parse_args()
    for panels in (1, 2, 8):
        arguments = inputs(panels)
        ours = median_ms(lambda a=arguments: render_png(**a), args.renders)
        reference = median_ms(lambda a=arguments: with_figures(a), args.renders)
        line = {
            "panels": panels,
            "ours_ms": round(ours, 1),
            "matplotlib_figure_ms": round(reference, 1),
            "ratio": round(ours / reference, 3),
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
