"""One long seasonal series with gaps, through the API as a user sends it (ISO-8601 dates):
filled in better than linear interpolation, forecast better than the seasonal naive method."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from models.baselines import linear_interpolation, seasonal_naive

YEAR_S = 365.25 * 86_400
WEEK_S = 7 * 86_400
START = datetime(2004, 1, 5, tzinfo=UTC).timestamp()


def weekly_series(years: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """About weekly times (jittered by up to a day) with two half-year gaps; a trend, a skewed
    yearly season and noise."""
    rng = np.random.default_rng(seed)
    times = START + np.arange(0, years * YEAR_S, WEEK_S) + rng.uniform(-43_200, 43_200)
    years_in = (times - START) / YEAR_S
    times = times[~(((years_in > 4.0) & (years_in < 4.5)) | ((years_in > 9.2) & (years_in < 9.7)))]
    phase = 2 * np.pi * (times - START) / YEAR_S
    clean = 10 + 0.8 * (times - START) / YEAR_S + 3 * np.sin(phase) + np.cos(2 * phase + 0.5)
    return times, clean + 0.4 * rng.standard_normal(len(times))


def iso(times: np.ndarray) -> list[str]:
    return [datetime.fromtimestamp(t, tz=UTC).isoformat() for t in times]


@pytest.mark.slow
def test_a_long_seasonal_series_beats_linear_interpolation_and_seasonal_naive(
    client, run_worker
) -> None:
    times, values = weekly_series()
    tail = times > times[-1] - YEAR_S
    recent = np.flatnonzero((times > times[-1] - 5 * YEAR_S) & ~tail)
    hidden = np.sort(np.random.default_rng(1).choice(recent, size=len(recent) * 3 // 10))
    kept = np.setdiff1d(np.flatnonzero(~tail), hidden)
    series = {"id": "weekly", "times": iso(times[kept]), "values": values[kept].tolist()}
    body = {"series": [series], "training": {"max_seconds": 60.0, "seed": 0}}
    answer = client.post("/fit", json=body)
    assert answer.status_code == 202, answer.text
    run_worker()
    model_id = answer.json()["model_id"]
    model = client.get(f"/models/{model_id}").json()
    assert model["status"] == "ready", model
    skill = model["skill"]
    assert skill["held_out"] == "points" and skill["season"] == YEAR_S
    assert skill["window"] == pytest.approx(2.5 * YEAR_S, rel=0.05)

    def predicted(asked: np.ndarray) -> np.ndarray:
        query = {"model_id": model_id, "series_id": "weekly", "times": ",".join(iso(asked))}
        response = client.get("/predict", params=query)
        assert response.status_code == 200, response.text
        return np.asarray(response.json()["mean"])[:, 0]

    observed_t, observed_v = times[kept], values[kept]
    interpolation = np.mean((predicted(times[hidden]) - values[hidden]) ** 2)
    linear = np.mean(
        (linear_interpolation(observed_t, observed_v, times[hidden]) - values[hidden]) ** 2
    )
    extrapolation = np.mean((predicted(times[tail]) - values[tail]) ** 2)
    naive = seasonal_naive(observed_t, observed_v, times[tail], YEAR_S)
    seasonal = np.mean((naive - values[tail]) ** 2)
    assert interpolation < linear, (interpolation, linear)
    assert extrapolation < seasonal, (extrapolation, seasonal)
