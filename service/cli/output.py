"""How the client commands print: tables, fields, JSON, CSV, numbers, times, skill, notes, files."""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from service.cli.errors import EXIT_OK, EXIT_USAGE, CliError

# The held-out skills a model reports, in the order they are shown.
SKILL_JOBS = ("interpolation", "extrapolation")


def note(text: str, *, quiet: bool = False) -> None:
    """A remark for the person at the terminal, on stderr so that stdout stays data."""
    if not quiet:
        print(f"odecast: {text}", file=sys.stderr, flush=True)


def fmt(value: Any, spec: str = ".4g") -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


def fmt_seconds(value: float | None) -> str:
    """Seconds as the progress line writes them (42s, 3m07s, 2h05m); empty for None."""
    from service.client.progress import duration  # loaded by then: the answer came through it

    return "" if value is None else duration(value)


def fmt_when(stamp: str | None) -> str:
    """An ISO-8601 time to the second (the API's are UTC)."""
    return "" if not stamp else stamp[:19].replace("T", " ")


def skill_text(skill: dict[str, Any] | None, job: str) -> str:
    """A job's held-out skill in a few words: "0.62x linear_interpolation, 80% holds 79%"."""
    figures = (skill or {}).get(job)
    if not figures or figures.get("ratio") is None:
        return ""
    verdict = "" if figures["beats_naive"] else " (no better)"
    held = figures.get("coverage", {}).get("80")
    cover = "" if held is None else f", 80% holds {held:.0%}"
    return f"{figures['ratio']:.2f}x {figures['best_baseline']}{verdict}{cover}"


def prediction_table(prediction: Any) -> tuple[list[str], list[list[Any]]]:
    """One row per time and dimension (``Prediction.to_rows``): time, dim, mean, lower_L and
    upper_L per level, q_Q per quantile, kind (interpolation or extrapolation)."""
    rows = prediction.to_rows()
    headers = list(rows[0]) if rows else ["time", "dim", "mean", "kind"]
    return headers, [list(r.values()) for r in rows]


def print_fields(fields: dict[str, Any]) -> None:
    width = max(16, *(len(k) + 2 for k in fields))  # one width for every block
    for key, value in fields.items():
        print(f"{key:<{width}}{value}", flush=True)


def print_table(headers: list[str], rows: list[list[str]], empty: str = "") -> None:
    if not rows and empty:
        print(f"({empty})")
        return
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    numeric = [all(_is_number(r[i]) for r in rows) and rows != [] for i in range(len(headers))]
    for row in [headers, *rows]:
        cells = [
            str(c).rjust(w) if num else str(c).ljust(w)
            for c, w, num in zip(row, widths, numeric, strict=True)
        ]
        print("  ".join(cells).rstrip())


def _is_number(text: str) -> bool:
    if text == "":
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _plain(obj: Any) -> Any:
    """JSON for the client's results: the API's answer as sent where the result keeps it."""
    if getattr(obj, "raw", None):
        return obj.raw
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = (f.name for f in dataclasses.fields(obj) if f.name != "raw")
        return {name: _plain(getattr(obj, name)) for name in fields}
    if hasattr(obj, "_asdict"):
        return {k: _plain(v) for k, v in obj._asdict().items()}
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def print_json(obj: Any) -> int:
    print(json.dumps(_plain(obj), indent=2))
    return EXIT_OK


def csv_text(headers: list[str], rows: list[list[Any]]) -> str:
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue()


def write_file(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}", EXIT_USAGE) from None
