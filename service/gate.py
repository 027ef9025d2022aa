"""The gate of an API process: how many heavy computations (prediction batches, charts) run at
once, and in which order.

A chart holds the GIL for about 0.1 s (matplotlib is Python), so it runs under the gate, not
beside a prediction batch, which would slow to a crawl waiting for the GIL between its torch
calls. But in a queue where charts and batches simply take turns as they come, a prediction
waited behind every chart queued before it: under ``bench/load.py``'s mix, charts held the gate
half the time. So the two kinds alternate: when both wait, a batch goes after a chart and a
chart after a batch; each kind in the order it came. A prediction then waits for at most one
chart, and a chart for at most one batch, whatever the load.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from types import TracebackType


class Turn(StrEnum):
    PREDICTION = "prediction"  # a prediction batch
    CHART = "chart"


class Gate:
    """``slots`` heavy computations at once; ``with gate:`` (or ``acquire``/``release``) holds a
    slot for a prediction batch, ``with gate.turn(Turn.CHART):`` for a chart."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"a gate needs at least one slot, got {slots}")
        self._free = slots
        self._changed = threading.Condition()
        self._waiting: dict[Turn, deque[object]] = {turn: deque() for turn in Turn}
        self._last = Turn.PREDICTION

    def acquire(self, timeout: float | None = None, turn: Turn = Turn.PREDICTION) -> bool:
        """Wait for a slot (at most ``timeout`` seconds); whether it was taken."""
        ticket = object()
        other = Turn.CHART if turn is Turn.PREDICTION else Turn.PREDICTION
        with self._changed:
            queue = self._waiting[turn]
            queue.append(ticket)

            def my_turn() -> bool:
                alternating = bool(self._waiting[other]) and self._last is turn
                return self._free > 0 and queue[0] is ticket and not alternating

            taken = self._changed.wait_for(my_turn, timeout)
            queue.remove(ticket)
            if taken:
                self._free -= 1
                self._last = turn
            self._changed.notify_all()  # the next in line may be eligible now
            return taken

    def waiting(self, turn: Turn) -> int:
        """How many of ``turn``'s kind wait for a slot now."""
        with self._changed:
            return len(self._waiting[turn])

    def release(self) -> None:
        with self._changed:
            self._free += 1
            self._changed.notify_all()

    @contextmanager
    def turn(self, turn: Turn) -> Iterator[None]:
        """Hold a slot for ``turn``'s kind of computation."""
        self.acquire(turn=turn)
        try:
            yield
        finally:
            self.release()

    def __enter__(self) -> Gate:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
