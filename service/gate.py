"""The gate of an API process: how many heavy computations (prediction batches, charts) run at
once, and in which order.

A chart holds the GIL for about 25 ms (its text and the PNG's encoding), so it runs under the
gate, not beside a prediction batch, which would slow to a crawl waiting for the GIL between its
torch calls. But while charts and batches queued for it in the order they came, a prediction waited
behind every chart queued before it: under ``bench/load.py``'s mix, charts held the gate
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
    slot for a prediction batch, ``with gate.turn(Turn.CHART):`` for a chart.

    A released slot is handed to the next waiter directly (its own event): waking every waiter
    to let one through cost the unbatched configuration a quarter of its throughput with 32
    requests waiting (``bench/serving.py``)."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"a gate needs at least one slot, got {slots}")
        self._slots = self._free = slots
        self._lock = threading.Lock()
        self._waiting: dict[Turn, deque[threading.Event]] = {turn: deque() for turn in Turn}
        self._last = Turn.PREDICTION

    def acquire(self, timeout: float | None = None, turn: Turn = Turn.PREDICTION) -> bool:
        """Wait for a slot (at most ``timeout`` seconds); whether it was taken."""
        with self._lock:
            if self._free > 0:  # a free slot means nobody waits: they are handed slots at once
                self._take(turn)
                return True
            handed = threading.Event()
            self._waiting[turn].append(handed)
        try:
            if handed.wait(timeout):
                return True
        except BaseException:  # interrupted: leave the line, or pass on a slot handed meanwhile
            with self._lock:
                if handed.is_set():
                    self._give_back()
                else:
                    self._waiting[turn].remove(handed)
            raise
        with self._lock:
            if handed.is_set():  # handed over just as the wait timed out
                return True
            self._waiting[turn].remove(handed)
            return False

    def release(self) -> None:
        with self._lock:
            if self._free >= self._slots:
                raise ValueError("the gate was released more often than it was acquired")
            self._give_back()

    def _give_back(self) -> None:
        """A slot is free again: hand it to whoever's turn it is (the caller holds the lock)."""
        self._free += 1
        while self._free > 0 and (turn := self._next_turn()) is not None:
            self._take(turn)
            self._waiting[turn].popleft().set()

    def waiting(self, turn: Turn) -> int:
        """How many of ``turn``'s kind wait for a slot now."""
        with self._lock:
            return len(self._waiting[turn])

    def _next_turn(self) -> Turn | None:
        """Whose turn it is among those waiting: the other kind than the last, when both wait."""
        waiting = [turn for turn in Turn if self._waiting[turn]]
        if len(waiting) == 2:
            return Turn.CHART if self._last is Turn.PREDICTION else Turn.PREDICTION
        return waiting[0] if waiting else None

    def _take(self, turn: Turn) -> None:
        self._free -= 1
        self._last = turn

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
