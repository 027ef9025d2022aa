"""Dynamic batching: concurrent predictions of one model answered by one ``predict_many``.

The first request for a model opens a batch and waits up to ``window_s`` (less once ``max_size``
requests have joined), then waits for the prediction gate; once it holds it, it closes the batch
and runs every request that joined as one encoder pass and one solve. While one batch computes,
the next stays open, so under load batches grow by themselves. Answers are those the requests
would get alone (their own seeds; ``models.latent.predict.predict_many``). A batch that fails is
rerun request by request, so a failing request fails alone. Nothing else waits on the gate: the
light endpoints never queue behind predictions.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .gate import Gate

if TYPE_CHECKING:
    from models.latent.predict import Ask, Prediction, Servable


@dataclass
class _Pending:
    """One request in a batch: what it asks, and its answer or error once the batch ran."""

    ask: Ask
    done: threading.Event = field(default_factory=threading.Event)
    answer: Prediction | None = None
    error: BaseException | None = None


@dataclass
class _Batch:
    requests: list[_Pending] = field(default_factory=list)
    full: threading.Event = field(default_factory=threading.Event)
    values: int = 0  # sampled values its requests hold, in all


def sampled_values(ask: Ask) -> int:
    """How many sampled values answering ``ask`` holds at once: samples x times x dimensions."""
    return ask.n_samples * len(ask.times) * ask.context.dims


class PredictionBatcher:
    """Per API process: gathers concurrent asks per model (``window_s``, ``max_size``; a size of
    1 turns batching off, a window of 0 waits only for the gate) and runs them under ``gate``."""

    def __init__(
        self,
        gate: Gate,
        window_s: float,
        max_size: int,
        max_values: int = 20_000_000,
    ) -> None:
        self.gate, self.window_s, self.max_size = gate, window_s, max_size
        self.max_values = max_values  # a batch's memory: at most this many sampled values
        self._open: dict[int, _Batch] = {}  # id(trained) -> the batch still taking requests
        self._lock = threading.Lock()
        self.batches = self.batched = 0  # counters for tests and benchmarks

    @property
    def enabled(self) -> bool:
        return self.max_size > 1

    def predict(self, trained: Servable, ask: Ask) -> Prediction:
        """The answer to ``ask``, computed alone or in a batch with concurrent asks of the same
        loaded model; raises what ``predict_many`` raises for this ask alone."""
        pending = _Pending(ask)
        if not self.enabled:
            with self.gate:
                self._run(trained, [pending])
        else:
            batch, leads = self._join(trained, pending)
            if leads:
                try:
                    if self.window_s > 0:
                        batch.full.wait(self.window_s)
                    # The batch stays open while the gate is busy: what arrives while another
                    # batch computes joins this one, so batches grow with the load.
                    with self.gate:
                        self._close(trained, batch)
                        self._run(trained, batch.requests)
                finally:
                    self._close(trained, batch)
                    _abandon(batch.requests)  # the leader died: nobody waits for ever
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.answer is not None
        return pending.answer

    def predict_all(self, trained: Servable, asks: Sequence[Ask]) -> list[Prediction | Exception]:
        """Every ask's answer, or the error it alone raises: in chunks of ``max_size`` asks, one
        chunk at a time under the gate (``POST /predict/batch``, already a batch)."""
        pending = [_Pending(ask) for ask in asks]
        chunk: list[_Pending] = []
        for request in pending:
            if chunk and not self._fits(chunk, request):
                with self.gate:
                    self._run(trained, chunk)
                chunk = []
            chunk.append(request)
        if chunk:
            with self.gate:
                self._run(trained, chunk)
        return [_outcome(p) for p in pending]

    def _fits(self, requests: list[_Pending], request: _Pending) -> bool:
        values = sum(sampled_values(r.ask) for r in requests) + sampled_values(request.ask)
        return len(requests) < self.max_size and values <= self.max_values

    def _close(self, trained: Servable, batch: _Batch) -> None:
        """No more requests join ``batch`` (if a full one was not closed already)."""
        with self._lock:
            if self._open.get(id(trained)) is batch:
                del self._open[id(trained)]

    def _join(self, trained: Servable, pending: _Pending) -> tuple[_Batch, bool]:
        """The open batch of ``trained`` with ``pending`` in it, and whether this request opened
        it (and so runs it)."""
        values = sampled_values(pending.ask)
        with self._lock:
            batch = self._open.get(id(trained))
            if batch is not None and batch.values + values > self.max_values:
                del self._open[id(trained)]  # too big with this one: it runs as it is
                batch.full.set()
                batch = None
            leads = batch is None
            if batch is None:
                batch = self._open[id(trained)] = _Batch()
            batch.requests.append(pending)
            batch.values += values
            if len(batch.requests) >= self.max_size:
                del self._open[id(trained)]  # the next request opens a new batch
                batch.full.set()
            return batch, leads

    def _run(self, trained: Servable, requests: list[_Pending]) -> None:
        """Answer ``requests`` in one ``predict_many`` (the caller holds the gate)."""
        from models.latent.predict import predict_many

        try:
            answers = predict_many(trained, [r.ask for r in requests])
        except Exception as error:  # rerun alone, so that only the culprit fails
            if len(requests) == 1:
                requests[0].error = error
                requests[0].done.set()
                return
            for request in requests:
                self._run(trained, [request])
            return
        with self._lock:
            self.batches += 1
            self.batched += len(requests)
        for request, answer in zip(requests, answers, strict=True):
            request.answer = answer
            request.done.set()


def _abandon(requests: list[_Pending]) -> None:
    """Fail every request of a batch that did not get its answer (its leader was interrupted)."""
    for request in requests:
        if not request.done.is_set():
            request.error = RuntimeError("the prediction batch was interrupted; ask again")
            request.done.set()


def _outcome(pending: _Pending) -> Prediction | Exception:
    if pending.error is not None:
        if isinstance(pending.error, Exception):
            return pending.error
        raise pending.error  # KeyboardInterrupt and the like are not an ask's failure
    assert pending.answer is not None
    return pending.answer
