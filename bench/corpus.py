"""The development corpus: odecast beside the naive methods, statsforecast, Prophet and the
interpolation references, on many real series nobody tuned it to.

    .venv/bin/pip install -e ".[dev,bench]"
    .venv/bin/python bench/corpus.py                 # quick mode: a fixed stratified subset
    .venv/bin/python bench/corpus.py --full --seeds 0 1 --jobs 2

What is scored and how it is cut: ``corpus_catalog`` (the series and populations),
``corpus_splits`` (origins, horizons, hidden points), ``corpus_anchors`` (the references),
``corpus_fits`` (odecast's fits) and ``corpus_report`` (the scores and the tables). Every fit's
scores go as one JSON line to ``--records`` (default
``bench/.corpus-cache/records-<mode>-<code>.jsonl``, <code> a digest of the code that scores) as
soon as it ends; a run given the same file skips what it already holds, so a long run can be
stopped and taken up again, and a change to the code starts a file of its own. The report is
printed at the end (``--report-only`` prints it from the records); ``--write-docs`` puts the
tables into docs/benchmarks.md between its corpus markers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this tree's models, also where another tree is installed
CACHE = HERE / ".corpus-cache"
DOCS = HERE.parent / "docs" / "benchmarks.md"
DOCS_START = "<!-- corpus:start -->"
DOCS_END = "<!-- corpus:end -->"


@dataclass(frozen=True)
class Task:
    """One fit: a single series at origin ``k``, or a population (``k`` = 0)."""

    kind: str  # "series" or "population"
    name: str
    k: int
    seed: int

    @property
    def key(self) -> str:
        return f"{self.kind}|{self.name}|{self.k}|{self.seed}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="every series (default: quick mode)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="training seeds (0)")
    parser.add_argument("--jobs", type=int, default=2, help="fits at once, one thread each (2)")
    parser.add_argument("--only", nargs="*", help="items whose name contains one of these")
    parser.add_argument("--anchors-only", action="store_true", help="the references, no odecast")
    parser.add_argument(
        "--references",
        nargs="+",
        default=["auto_ets", "auto_theta", "auto_arima", "prophet"],
        help="the forecasting references to run (all four; a slow one may be left out)",
    )
    parser.add_argument("--records", type=Path, help="the JSON-lines file of per-fit scores")
    parser.add_argument("--report-only", action="store_true", help="report the records as they are")
    parser.add_argument("--write-docs", action="store_true", help="the tables into benchmarks.md")
    return parser.parse_args(argv)


def tasks(args: argparse.Namespace) -> list[Task]:
    """Every fit the arguments ask for, populations first (they are few and slow)."""
    from corpus_catalog import populations, single_series
    from corpus_splits import ORIGINS

    def wanted(name: str, quick: bool) -> bool:
        chosen = args.full or quick
        return chosen and (not args.only or any(part in name for part in args.only))

    found = [
        Task("population", p.name, 0, seed)
        for p in populations()
        if wanted(p.name, p.quick)
        for seed in args.seeds
    ]
    found += [
        Task("series", s.name, k, seed)
        for s in single_series()
        if wanted(s.name, s.quick)
        for seed in args.seeds
        for k in range(ORIGINS, 0, -1)
    ]
    return found


def run_task(task: Task, anchors_only: bool, references: tuple[str, ...]) -> dict[str, Any]:
    """One fit's scores as a JSON-ready record (in a worker process, one thread)."""
    import torch

    torch.set_num_threads(1)
    from corpus_report import score_population, score_series

    started = time.monotonic()
    if task.kind == "series":
        record = score_series(
            task.name, task.k, task.seed, with_odecast=not anchors_only, references=references
        )
    else:
        record = score_population(task.name, task.seed, with_odecast=not anchors_only)
    record.update(key=task.key, kind=task.kind, name=task.name, k=task.k, seed=task.seed)
    record["wall_s"] = time.monotonic() - started
    return record


def run(
    todo: list[Task], jobs: int, anchors_only: bool, references: tuple[str, ...]
) -> Iterator[dict[str, Any]]:
    """The records of ``todo`` as they finish; a failed fit gives a record with its error."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_task, task, anchors_only, references): task for task in todo}
        for future in as_completed(futures):
            task = futures[future]
            try:
                yield future.result()
            except Exception as error:  # one broken fit must not end a long run
                yield {
                    "key": task.key,
                    "kind": task.kind,
                    "name": task.name,
                    "k": task.k,
                    "seed": task.seed,
                    "error": f"{type(error).__name__}: {error}",
                }


def code_digest() -> str:
    """A digest of the sources a record's scores depend on (the ``models`` package the fits
    import and the corpus scripts), so records of other code are never taken for this code's."""
    import models

    package = Path(models.__file__).resolve().parent
    digest = hashlib.sha256()
    for root, sources in ((package.parent, package.rglob("*.py")), (HERE, HERE.glob("corpus*.py"))):
        for source in sorted(sources):
            digest.update(source.relative_to(root).as_posix().encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()[:10]


def read_records(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {r["key"]: r for r in records}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = "full" if args.full else "quick"
    suffix = "-anchors" if args.anchors_only else ""
    path = args.records or CACHE / f"records-{mode}{suffix}-{code_digest()}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    todo = tasks(args)
    done = read_records(path)
    started = time.monotonic()
    if not args.report_only:
        pending = [t for t in todo if t.key not in done or "error" in done[t.key]]
        log(f"{len(todo)} fits, {len(todo) - len(pending)} already in {path}")
        with path.open("a") as out:
            for record in run(pending, args.jobs, args.anchors_only, tuple(args.references)):
                out.write(json.dumps(record) + "\n")
                out.flush()
                done[record["key"]] = record
                log(_line(record, time.monotonic() - started))
    from corpus_report import report

    wanted = {t.key for t in todo}
    text = report([r for k, r in done.items() if k in wanted], mode=mode, seeds=args.seeds)
    print(text)
    if args.write_docs:
        _write_docs(text, " ".join(["--full"] * args.full + ["--seeds", *map(str, args.seeds)]))
    return 0


def _line(record: dict[str, Any], elapsed: float) -> str:
    where = f"{record['name']} k={record['k']} seed={record['seed']}"
    if "error" in record:
        return f"[{elapsed:6.0f}s] {where}: ERROR {record['error']}"
    ratio = record.get("headline")
    return f"[{elapsed:6.0f}s] {where}: {ratio} ({record['wall_s']:.0f}s)"


def _write_docs(text: str, flags: str) -> None:
    docs = DOCS.read_text()
    if DOCS_START not in docs:
        raise SystemExit(f"{DOCS} has no {DOCS_START} marker")
    head, rest = docs.split(DOCS_START, 1)
    _, tail = rest.split(DOCS_END, 1)
    command = f".venv/bin/python bench/corpus.py {flags}".strip()
    block = f"{DOCS_START}\nPrinted by `{command}`:\n\n{text.strip()}\n{DOCS_END}"
    DOCS.write_text(head + block + tail)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
