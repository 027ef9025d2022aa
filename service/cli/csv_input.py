"""The CSV reader of ``odecast fit``: a long-format file, one row per observation, into series.

It keeps the file line of each observation, to point at when the server rejects one.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path
from typing import Any

from service.cli.arguments import time_value
from service.cli.errors import EXIT_USAGE, CliError


@dataclasses.dataclass
class CsvSeries:
    """A long-format CSV file read into the API's series: ``lines[(series_id, index)]`` is the
    file line of each observation, to point at when the server rejects one."""

    series: list[dict[str, Any]]
    value_cols: list[str]
    lines: dict[tuple[str, int], int]
    rows: int
    skipped: list[int]


def read_series_csv(
    path: Path, id_col: str = "id", time_col: str = "time", value_cols: list[str] | None = None
) -> CsvSeries:
    """Read a long-format CSV file (stdlib ``csv``): one row per observation. A time is a number
    if ``float()`` reads it, else sent as text (ISO-8601; the server checks it); an empty value
    cell is missing (null); rows whose values are all empty are skipped. Problems with the file
    itself are usage errors (exit code 2); the server judges the series."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            return _read_series(csv.reader(file), str(path), id_col, time_col, value_cols)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}", EXIT_USAGE) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CliError(f"{path} is not a readable CSV file: {exc}", EXIT_USAGE) from None


def _read_series(
    reader: Any, name: str, id_col: str, time_col: str, value_cols: list[str] | None
) -> CsvSeries:
    header = [h.strip() for h in next(reader, [])]
    if not any(header):
        raise CliError(f"{name} is empty: it needs a header row", EXIT_USAGE)
    found = ", ".join(repr(h) for h in header)
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise CliError(
            f"{name}: column(s) {duplicated} appear twice (columns: {found})", EXIT_USAGE
        )
    missing = [c for c in (id_col, time_col) if c not in header]
    if missing:
        raise CliError(
            f"{name} has no column {' or '.join(repr(c) for c in missing)} (columns: {found}); "
            "name the id and time columns with --id-col and --time-col",
            EXIT_USAGE,
        )
    if value_cols is None:
        value_cols = [h for h in header if h and h not in (id_col, time_col)]
    unknown = [c for c in value_cols if c not in header or c in (id_col, time_col)]
    if unknown or not value_cols or len(set(value_cols)) < len(value_cols):
        raise CliError(
            f"{name}: bad value columns {value_cols} (columns: {found}); give --value-cols as "
            "distinct columns other than the id and time columns",
            EXIT_USAGE,
        )
    id_at, time_at = header.index(id_col), header.index(time_col)
    value_at = [header.index(c) for c in value_cols]

    series: dict[str, dict[str, Any]] = {}
    lines: dict[tuple[str, int], int] = {}
    rows, skipped = 0, []
    for cells in reader:
        line = reader.line_num
        if any("\n" in c for c in cells):  # legal CSV, but no id, time or value holds one
            # (an unterminated quote takes the file's last line break into its cell too)
            spread = max(c.rstrip("\r\n").count("\n") for c in cells)
            raise CliError(
                f"{name} line {line - spread}: a quoted cell runs on over {spread + 1} line(s); "
                'is its closing quote (") missing?',
                EXIT_USAGE,
            )
        if not any(c.strip() for c in cells):
            continue  # a blank line
        if any(c.strip() for c in cells[len(header) :]):
            raise CliError(
                f"{name} line {line}: {len(cells)} cells, but the header has {len(header)}",
                EXIT_USAGE,
            )
        cells = [c.strip() for c in cells[: len(header)]] + [""] * (len(header) - len(cells))
        values = [_value_cell(cells[i], name, line, header[i]) for i in value_at]
        if all(v is None for v in values):
            skipped.append(line)
            continue
        series_id, stamp = cells[id_at], cells[time_at]
        if not series_id or not stamp:
            empty = id_col if not series_id else time_col
            raise CliError(f"{name} line {line}: empty {empty!r} cell", EXIT_USAGE)
        entry = series.setdefault(series_id, {"id": series_id, "times": [], "values": []})
        lines[(series_id, len(entry["times"]))] = line
        entry["times"].append(time_value(stamp))
        entry["values"].append(values)
        rows += 1
    if not series:
        raise CliError(f"{name} has no observations", EXIT_USAGE)
    return CsvSeries(list(series.values()), value_cols, lines, rows, skipped)


def _value_cell(text: str, name: str, line: int, column: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise CliError(
            f"{name} line {line}, column {column!r}: {_shown(text)} is not a finite number "
            "(leave the cell empty for a missing value)",
            EXIT_USAGE,
        )
    return value


def _shown(text: str, most: int = 40) -> str:
    """``text`` quoted for a message, cut to ``most`` characters."""
    return repr(text if len(text) <= most else text[:most] + "...")
