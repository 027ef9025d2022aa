"""One part of ``odecast up`` as a child process (``Child``) that dies with ``up``, output tagged.

A part starts in its own session behind a launcher (``dying_with_parent``) that ties its life to
``up``'s; its output goes to the terminal line by line behind its name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO

# Run before a part's own program (Linux): the kernel sends it SIGTERM when `odecast up` dies,
# even by SIGKILL, so that no part outlives it (exec keeps the setting). A launcher, not a
# preexec_fn: `up` runs threads, and code between fork and exec is unsafe in a threaded process.
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "parent = int(sys.argv[1])\n"
    "ctypes.CDLL(None).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG\n"
    "if os.getppid() != parent:\n"
    "    sys.exit(0)  # the parent died before the setting took effect\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def dying_with_parent(argv: list[str]) -> list[str]:
    """``argv`` behind a launcher that ties its life to this process's (Linux only)."""
    if not sys.platform.startswith("linux"):
        return argv
    return [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *argv]


class Child:
    """One part of ``odecast up``: a child process in its own session, whose output goes to the
    terminal line by line behind a tag."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        emit: Callable[[str, str], None],
        *,
        backoff_s: float,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.emit = emit
        self.proc: subprocess.Popen[bytes] | None = None
        self.reader: threading.Thread | None = None
        self.started_at = 0.0
        # The restart bookkeeping of the supervisor (Supervisor._tend).
        self.backoff_s = backoff_s  # the wait before the next restart
        self.restart_at: float | None = None  # set while a restart is pending
        self.deaths: list[float] = []  # its deaths since it last ran supervisor.WORKER_STABLE_S
        self.exit_reported = False

    def start(self) -> None:
        # start_new_session: a Ctrl-C in the terminal reaches only `odecast up`, which stops the
        # parts in order; each part leads its own process group, so that killing the group also
        # ends what it forked (RQ's work horses).
        self.proc = subprocess.Popen(
            dying_with_parent(self.argv),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started_at = time.monotonic()
        self.restart_at = None
        self.exit_reported = False
        self.reader = threading.Thread(
            target=self._pump, args=(self.proc.stdout,), name=f"odecast-{self.name}", daemon=True
        )
        self.reader.start()

    def _pump(self, stream: IO[bytes] | None) -> None:
        if stream is None:
            return
        with stream:
            for raw in iter(stream.readline, b""):
                self.emit(self.name, raw.decode("utf-8", "replace").rstrip("\r\n"))

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the part's main process only (as ``docker stop`` does)."""
        if self.alive():
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    def kill_group(self) -> None:
        """SIGKILL the part's process group (RQ work horses have groups of their own; they stop
        when their worker dies, see worker.main)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)

    def join_reader(self, timeout: float = 5.0) -> None:
        if self.reader is not None:
            self.reader.join(timeout)
