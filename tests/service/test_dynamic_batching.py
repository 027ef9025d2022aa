"""Dynamic batching: concurrent asks of one model share a solve, answer as they would alone, and
fail alone."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from models.latent.predict import Ask, predict
from models.synthetic import damped_oscillator
from service.batching import PredictionBatcher
from service.gate import Gate

# Asks decoded together share one adaptive solve, whose steps depend on the whole batch: answers
# agree with the solo ones within ten times the decoder's tolerances (rtol 1e-4, atol 1e-5).
SOLVE_RTOL, SOLVE_ATOL = 1e-3, 1e-4


def _asks(count: int) -> list[Ask]:
    contexts = damped_oscillator(count, n_points=12, seed=21).series
    return [
        Ask(c, np.linspace(-1.0, 13.0, 5 + i), quantiles=(0.1, 0.9), seed=i)
        for i, c in enumerate(contexts)
    ]


def _concurrently(batcher: PredictionBatcher, tiny_model, asks: list[Ask]) -> list:
    start = threading.Barrier(len(asks))

    def one(ask: Ask):
        start.wait()
        try:
            return batcher.predict(tiny_model, ask)
        except Exception as error:  # returned, to check which asks failed
            return error

    with ThreadPoolExecutor(len(asks)) as pool:
        return list(pool.map(one, asks))


def test_concurrent_asks_share_batches_and_answer_as_alone(tiny_model):
    batcher = PredictionBatcher(Gate(1), window_s=0.5, max_size=4)
    asks = _asks(8)
    answers = _concurrently(batcher, tiny_model, asks)
    assert batcher.batched == 8 and batcher.batches < 8  # full batches of 4 leave early
    for ask, answer in zip(asks, answers, strict=True):
        alone = predict(tiny_model, ask.context, ask.times, quantiles=ask.quantiles, seed=ask.seed)
        np.testing.assert_allclose(answer.mean, alone.mean, rtol=SOLVE_RTOL, atol=SOLVE_ATOL)
        np.testing.assert_allclose(
            answer.quantiles[0.9], alone.quantiles[0.9], rtol=SOLVE_RTOL, atol=SOLVE_ATOL
        )


def test_a_failing_ask_fails_alone(tiny_model):
    batcher = PredictionBatcher(Gate(1), window_s=0.5, max_size=3)
    asks = _asks(3)
    bad = Ask(asks[1].context, asks[1].times, n_samples=0)
    answers = _concurrently(batcher, tiny_model, [asks[0], bad, asks[2]])
    assert isinstance(answers[1], ValueError) and "n_samples" in str(answers[1])
    for ask, answer in ((asks[0], answers[0]), (asks[2], answers[2])):
        alone = predict(tiny_model, ask.context, ask.times, quantiles=ask.quantiles, seed=ask.seed)
        np.testing.assert_allclose(answer.mean, alone.mean, rtol=SOLVE_RTOL, atol=SOLVE_ATOL)


@pytest.mark.parametrize("window_s", [0.0, 0.5])
def test_batching_off_runs_each_ask_alone(tiny_model, window_s):
    batcher = PredictionBatcher(Gate(1), window_s, max_size=1)
    assert not batcher.enabled
    answers = _concurrently(batcher, tiny_model, _asks(3))
    assert batcher.batches == 3 and all(a.mean.shape[1] == 2 for a in answers)


def test_without_a_window_asks_gather_while_the_gate_is_busy(tiny_model):
    gate = Gate(1)
    batcher = PredictionBatcher(gate, window_s=0.0, max_size=64)
    asks = _asks(6)
    assert gate.acquire(timeout=5)  # a batch computing: the next one stays open meanwhile
    with ThreadPoolExecutor(len(asks)) as pool:
        futures = [pool.submit(batcher.predict, tiny_model, ask) for ask in asks]
        deadline = time.monotonic() + 10
        while sum(len(b.requests) for b in batcher._open.values()) < len(asks):
            assert time.monotonic() < deadline, "the asks did not all join the open batch"
            time.sleep(0.01)
        gate.release()
        answers = [f.result(timeout=60) for f in futures]
    assert batcher.batches == 1 and batcher.batched == 6 and len(answers) == 6


def test_light_endpoints_never_wait_behind_predictions(client, fitted):
    """While a prediction batch holds the gate, /healthz, /models and /jobs still answer."""
    gate = client.app.state.batcher.gate
    assert gate.acquire(timeout=5)
    try:
        for path in (
            "/healthz",
            "/models",
            f"/models/{fitted['model_id']}",
            f"/jobs/{fitted['job_id']}",
        ):
            assert client.get(path, timeout=5).status_code == 200, path
    finally:
        gate.release()
    params = {"model_id": fitted["model_id"], "series_id": "s0", "t": [1.0]}
    assert client.get("/predict", params=params).status_code == 200


def test_a_batch_never_holds_more_sampled_values_than_its_budget(tiny_model):
    from service.batching import sampled_values

    asks = _asks(4)
    budget = max(sampled_values(a) for a in asks[:2]) + min(sampled_values(a) for a in asks[:2])
    gate = Gate(1)
    batcher = PredictionBatcher(gate, window_s=0.0, max_size=64, max_values=budget)
    assert gate.acquire(timeout=5)
    with ThreadPoolExecutor(len(asks)) as pool:
        futures = [pool.submit(batcher.predict, tiny_model, ask) for ask in asks]
        time.sleep(0.5)  # every ask has joined a batch (two asks fit the budget, not three)
        gate.release()
        for future in futures:
            future.result(timeout=60)
    assert batcher.batched == 4 and batcher.batches >= 2
    chunked = PredictionBatcher(Gate(1), 0.0, 64, max_values=budget)
    outcomes = chunked.predict_all(tiny_model, asks)
    assert chunked.batches >= 2 and all(not isinstance(o, Exception) for o in outcomes)
