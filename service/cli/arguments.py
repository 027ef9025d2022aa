"""Argument types of the ``odecast`` parser: text to a port, count, device, list, time or grid.

Each returns the value or raises ``argparse.ArgumentTypeError`` saying what is wrong, which
argparse prints as a usage error (exit code 2).
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is not in 0-65535")
    return value


def worker_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of workers: {text!r}") from None
    if not 0 <= value <= 64:
        raise argparse.ArgumentTypeError(f"{value} workers: use 0 to 64")
    return value


def api_process_count(text: str) -> int:
    value = worker_count(text)
    if value < 1:
        raise argparse.ArgumentTypeError("the API needs at least 1 process")
    return value


def store_location(text: str) -> str:
    """A store folder or s3:// URL; not empty (an empty one had put the store in the current
    folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the store must not be empty: give a folder or s3://...")
    return text


def device(text: str) -> str:
    if not re.fullmatch(r"auto|cpu|cuda(:[0-9]{1,2})?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not auto, cpu, cuda or cuda:N")
    return text


def positive(kind: Callable[[str], int | float]) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0 or not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
        return value

    return parse


def column_list(text: str) -> list[str]:
    columns = [c.strip() for c in text.split(",")]
    if not all(columns):
        raise argparse.ArgumentTypeError(f"empty column name in {text!r}")
    return columns


def id_list(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise argparse.ArgumentTypeError("give at least one series id")
    return ids


def time_value(text: str) -> float | str:
    """A time as the API takes it: a number if ``float()`` reads it, else the text (ISO-8601,
    which the server checks). The CSV reader reads the time cells the same way."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        return text


def grid(text: str) -> tuple[float | str, float | str, int]:
    """``START:STOP:NUM``, or ``START,STOP,NUM`` (any text with a comma splits on commas, so
    ISO-8601 datetimes, which contain ':', work)."""
    parts = text.split("," if "," in text else ":")
    if len(parts) != 3 or not all(p.strip() for p in parts):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give START:STOP:NUM, or START,STOP,NUM (for ISO-8601 datetimes, "
            "which contain ':')"
        )
    try:
        num = int(parts[2])
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: NUM {parts[2]!r} is not a whole number"
        ) from None
    if num < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: NUM must be at least 1")
    return time_value(parts[0]), time_value(parts[1]), num
