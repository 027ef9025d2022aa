"""The one-line progress of a training job (``progress_line``) and how ``Client.wait`` shows it."""

from __future__ import annotations

import math
import time
from typing import IO

from service.client.results import Job

# Off a terminal, ``wait`` writes its progress line at most this often (and the last one).
PROGRESS_LOG_EVERY_S = 5.0


def duration(seconds: float) -> str:
    """Seconds as 42s, 3m07s or 2h05m."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def progress_line(job: Job, width: int = 24) -> str:
    """A one-line summary of a job: status, an epoch bar, loss, validation errors, ETA."""
    p = job.progress
    parts = [f"{job.status:<9}"]
    if job.stage is not None and not job.done:
        parts.append(f"({job.stage} answers)")
    if p.epochs:
        epoch = p.epoch or 0
        filled = min(width, int(width * epoch / p.epochs))
        parts.append(f"[{'#' * filled}{'.' * (width - filled)}] {epoch}/{p.epochs}")
    if p.loss is not None:
        parts.append(f"loss {p.loss:.4g}")
    if p.val_interp_mse is not None or p.val_extrap_mse is not None:
        interp = "-" if p.val_interp_mse is None else f"{p.val_interp_mse:.3g}"
        extrap = "-" if p.val_extrap_mse is None else f"{p.val_extrap_mse:.3g}"
        parts.append(f"val interp {interp} extrap {extrap}")
    if p.elapsed_s is not None:
        parts.append(f"{duration(p.elapsed_s)} elapsed")
    if p.eta_s is not None and not job.done:
        parts.append(f"ETA {duration(p.eta_s)}")
    if job.error:
        parts.append(f"error: {job.error}")
    return "  ".join(parts)


class _ProgressOutput:
    """``Client.wait``'s progress: one line rewritten in place on a terminal; elsewhere a line
    every ``PROGRESS_LOG_EVERY_S`` when it changed, and the final one."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        isatty = getattr(out, "isatty", None)
        self.terminal = bool(isatty and isatty())
        self.shown = ""
        self.logged_at = -math.inf

    def show(self, line: str, *, final: bool) -> None:
        if line == self.shown:
            return
        if self.terminal:
            self.out.write("\r" + line.ljust(len(self.shown)))
        elif final or time.monotonic() - self.logged_at >= PROGRESS_LOG_EVERY_S:
            self.out.write(line + "\n")
            self.logged_at = time.monotonic()
        else:
            return  # a changed line not written yet: the next one replaces it
        self.out.flush()
        self.shown = line

    def interrupt(self) -> None:
        """End the line in place (on a terminal) so that other output starts on its own."""
        if self.terminal and self.shown:
            self.out.write("\n")
            self.out.flush()
            self.shown = ""

    def close(self) -> None:
        self.interrupt()
