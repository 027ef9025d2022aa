"""Quality benchmark of the latent ODE (``models.latent``) against naive methods and Prophet.

Run from the repository root (``make bench`` installs the ``bench`` extra: statsmodels for the
real series, Prophet for the reference forecaster)::

    .venv/bin/python bench/quality.py                   # every case, seeds 0 1 2: hours on 2 cores
    .venv/bin/python bench/quality.py --short           # the short families only
    .venv/bin/python bench/quality.py --long --cases co2 sunspots --seeds 0
    .venv/bin/python bench/quality.py --quick --cases trend_season --seeds 0  # smoke test
    .venv/bin/python bench/quality.py --cases --chen    # only Chen et al.'s spiral setting

Two groups of cases, each trained with the service's defaults (``ModelConfig()`` and the default
``TrainingConfig`` except its ``seed``, one per ``--seeds`` value, and ``max_seconds``, by default
the training default ``TrainingConfig().max_seconds``, ``--seconds`` to change it):

- short (``bench/quality_short.py``): every family of ``models.synthetic.FAMILIES``, 200
  training series and 50 held-out ones; interpolation MSE <= 0.5x linear interpolation and
  extrapolation MSE <= 0.15x the best naive method;
- long (``bench/quality_long.py``): one long series per fit, the synthetic
  ``models.synthetic.LONG_FAMILIES`` and the real series of ``bench/real_series.py``;
  interpolation MSE <= 0.8x linear (synthetic) or 1.0x (real), extrapolation MSE <= 0.7x the
  best naive method and <= 1.2x Prophet's (``bench/prophet_reference.py``).

In both, the 80% and 90% intervals must cover 80% and 90% of the held-out points within 5 points,
and CRPS is reported beside MSE (``bench/quality_scores.py``). Every target is judged on the mean
of the seeds; the worst seed is printed beside it.

Output: one JSON line per case and seed on stdout as each finishes, then a summary line (every
figure per seed, its mean, worst seed and ok, and ``all_ok``); progress and, at the end, a
human-readable table on stderr. ``--quick`` trains 30 s per fit on fewer short series (64 and
20), for smoke tests only. ``--chen`` adds Chen et al.'s spiral setting (training seed 0).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch
from quality_latent import log
from quality_long import LONG_CASES, long_case
from quality_scores import CaseRun, SeedFigures, table
from quality_short import ShortSettings, chen_case, family_case

from models.latent.train import TrainingConfig
from models.synthetic import FAMILIES

DEFAULT_SEEDS = (0, 1, 2)
QUICK_SECONDS = 30.0


@dataclass(frozen=True)
class Settings:
    """What every fit shares: its budget, the posterior samples and the torch device."""

    seconds: float
    n_samples: int
    device: str
    short: ShortSettings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="the short families (default: both)")
    parser.add_argument("--long", action="store_true", help="the long cases (default: both)")
    parser.add_argument(
        "--cases",
        "--families",
        nargs="*",
        choices=[*FAMILIES, *LONG_CASES],
        help="cases to run (all of the chosen groups; give none with --chen for Chen's alone)",
    )
    parser.add_argument(
        "--seeds", nargs="+", type=int, default=list(DEFAULT_SEEDS), help="training seeds (0 1 2)"
    )
    parser.add_argument("--seconds", type=float, help="training budget per fit (the default)")
    parser.add_argument("--quick", action="store_true", help="30 s per fit, fewer short series")
    parser.add_argument("--train-series", type=int, help="training series per family (200)")
    parser.add_argument("--test-series", type=int, help="held-out series per family (50)")
    parser.add_argument("--samples", type=int, default=100, help="posterior samples (100)")
    parser.add_argument("--chen", action="store_true", help="add Chen et al.'s spiral setting")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (2)")
    parser.add_argument("--device", default="cpu", help="torch device (cpu)")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    if args.seconds is not None:
        seconds = args.seconds
    else:
        seconds = QUICK_SECONDS if args.quick else TrainingConfig().max_seconds
    short = ShortSettings(
        n_train=args.train_series or (64 if args.quick else 200),
        n_test=args.test_series or (20 if args.quick else 50),
        n_samples=args.samples,
    )
    return Settings(seconds=seconds, n_samples=args.samples, device=args.device, short=short)


def chosen_cases(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """(short families, long cases) to run, in their listing order."""
    both = not (args.short or args.long)
    wanted = set(args.cases) if args.cases is not None else None
    short = [n for n in FAMILIES if (both or args.short) and (wanted is None or n in wanted)]
    long = [n for n in LONG_CASES if (both or args.long) and (wanted is None or n in wanted)]
    return short, long


def runs(
    short: list[str], long: list[str], seeds: list[int], settings: Settings
) -> Iterator[tuple[str, int, CaseRun]]:
    """Every (case, seed) fit, short families first, as it finishes."""
    for name in short:
        for seed in seeds:
            run = family_case(
                name, settings.short, seed=seed, seconds=settings.seconds, device=settings.device
            )
            yield name, seed, run
    for name in long:
        for seed in seeds:
            run = long_case(
                name,
                seed=seed,
                seconds=settings.seconds,
                n_samples=settings.n_samples,
                device=settings.device,
            )
            yield name, seed, run


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = settings_from(args)
    short, long = chosen_cases(args)
    started = time.monotonic()
    figures: dict[str, dict[str, SeedFigures]] = {}
    for name, seed, run in runs(short, long, args.seeds, settings):
        emit(run.record)
        case = figures.setdefault(name, {})
        for figure, value in run.values.items():
            seeds = case.setdefault(figure, SeedFigures(run.targets[figure]))
            seeds.per_seed[seed] = value
            seeds.ideal = run.ideal.get(figure, seeds.ideal)
    summary: dict[str, Any] = {
        "summary": True,
        "quick": args.quick,
        "seeds": args.seeds,
        "settings": asdict(settings),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "figures": {c: {f: s.record() for f, s in named.items()} for c, named in figures.items()},
        "all_ok": bool(figures)
        and all(s.target.ok(s.mean) for named in figures.values() for s in named.values()),
    }
    if args.chen:
        chen = chen_case(settings.short, seconds=settings.seconds, device=settings.device)
        emit(chen)
        summary["chen"] = chen.get("extrapolation")
    summary["wall_s"] = time.monotonic() - started
    emit(summary)
    if figures:
        log("\n" + table(figures))
    return 0


def emit(record: dict[str, Any]) -> None:
    """A result as one JSON line on stdout."""
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    sys.exit(main())
