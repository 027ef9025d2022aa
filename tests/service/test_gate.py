"""The gate: prediction batches and charts alternate when both wait, each kind in its order."""

from __future__ import annotations

import threading
import time

import pytest

from service.gate import Gate, Turn

P, C = Turn.PREDICTION, Turn.CHART


def _order_after_release(gate: Gate, arrivals: list[tuple[str, Turn]]) -> list[str]:
    """Hold the gate, queue ``arrivals`` one after another, release: who got it, in order."""
    taken: list[str] = []
    assert gate.acquire(timeout=5)

    def take(name: str, turn: Turn) -> None:
        with gate.turn(turn):
            taken.append(name)

    threads = []
    for name, turn in arrivals:
        before = gate.waiting(turn)
        thread = threading.Thread(target=take, args=(name, turn), daemon=True)
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 5
        while gate.waiting(turn) == before and time.monotonic() < deadline:
            time.sleep(0.001)  # queued before the next one arrives
    gate.release()
    for thread in threads:
        thread.join(timeout=5)
    return taken


def test_a_prediction_waits_for_at_most_one_chart():
    arrivals = [("chart 1", C), ("chart 2", C), ("chart 3", C), ("batch", P)]
    assert _order_after_release(Gate(1), arrivals) == ["chart 1", "batch", "chart 2", "chart 3"]


def test_a_chart_waits_for_at_most_one_batch():
    arrivals = [("batch 1", P), ("batch 2", P), ("chart", C), ("batch 3", P)]
    # the holder was a prediction: the waiting chart goes first, then the batches in order
    assert _order_after_release(Gate(1), arrivals) == ["chart", "batch 1", "batch 2", "batch 3"]


def test_both_kinds_alternate_each_in_its_order():
    arrivals = [("c1", C), ("p1", P), ("c2", C), ("p2", P), ("p3", P), ("c3", C)]
    assert _order_after_release(Gate(1), arrivals) == ["c1", "p1", "c2", "p2", "c3", "p3"]


def test_a_timed_out_wait_leaves_the_line():
    gate = Gate(1)
    assert gate.acquire(timeout=5)
    assert not gate.acquire(timeout=0.05)
    assert not gate.acquire(timeout=0.05, turn=C)
    assert gate.waiting(P) == gate.waiting(C) == 0
    gate.release()
    with gate.turn(C):
        assert not gate.acquire(timeout=0.01)
    assert gate.acquire(timeout=1)


def test_several_slots_are_held_at_once():
    gate = Gate(2)
    assert gate.acquire(timeout=1) and gate.acquire(timeout=1, turn=C)
    assert not gate.acquire(timeout=0.01)
    gate.release()
    assert gate.acquire(timeout=1)


def test_a_gate_needs_a_slot():
    with pytest.raises(ValueError, match="at least one slot"):
        Gate(0)


class _InterruptedOnce(threading.Event):
    """An event whose first wait is interrupted, as by Ctrl-C."""

    interrupted = False

    def wait(self, timeout: float | None = None) -> bool:
        if not _InterruptedOnce.interrupted:
            _InterruptedOnce.interrupted = True
            raise KeyboardInterrupt
        return super().wait(timeout)


def test_an_interrupted_wait_leaves_the_line_and_loses_no_slot(monkeypatch):
    gate = Gate(1)
    assert gate.acquire(timeout=5)
    monkeypatch.setattr(_InterruptedOnce, "interrupted", False)
    monkeypatch.setattr("service.gate.threading.Event", _InterruptedOnce)
    with pytest.raises(KeyboardInterrupt), gate.turn(C):
        pass
    assert gate.waiting(C) == 0
    gate.release()
    assert gate.acquire(timeout=1)  # the slot came back, and nobody holds it for the dead wait


def test_releasing_more_than_acquired_is_an_error():
    gate = Gate(1)
    with pytest.raises(ValueError, match="released more often"):
        gate.release()
