"""odeint_scattered: each output its own time and batch member, as odeint answers them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.ode import odeint
from models.ode.scattered import odeint_scattered


def _rates() -> torch.Tensor:
    return torch.tensor([0.5, -0.3, 1.2], dtype=torch.float64)  # [B]


def _decay(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -_rates()[None, :, None] * y  # y [S, B, D]


@pytest.mark.parametrize("method", ["dopri5", "bosh3", "rk4", "adams_bashforth"])
def test_outputs_match_the_exact_solution_and_odeint(method):
    rng = np.random.default_rng(0)
    y0 = torch.tensor(rng.normal(size=(4, 3, 2)))  # [S, B, D]
    times = np.array([0.7, -0.4, 0.0, 2.5, 1.1, -1.3, 0.7])
    members = torch.tensor([0, 2, 1, 1, 2, 0, 1])
    options = {"step_size": 0.01} if method in ("rk4", "adams_bashforth") else None
    got = odeint_scattered(
        _decay,
        y0,
        0.0,
        times,
        members,
        axis=1,
        rtol=1e-9,
        atol=1e-11,
        method=method,
        options=options,
    )
    assert got.shape == (7, 4, 2)
    rates = _rates()[members].numpy()
    exact = y0[:, members].permute(1, 0, 2).numpy() * np.exp(-rates * times)[:, None, None]
    np.testing.assert_allclose(got.numpy(), exact, rtol=1e-6, atol=1e-8)
    forward = np.unique(times[times >= 0])
    full = odeint(
        _decay, y0, torch.tensor(forward), rtol=1e-9, atol=1e-11, method=method, options=options
    )  # [T, S, B, D]
    for k in np.flatnonzero(times >= 0):
        row = full[int(np.searchsorted(forward, times[k])), :, int(members[k])]
        torch.testing.assert_close(got[k], row, rtol=1e-9, atol=1e-12)


def test_an_output_at_the_start_is_the_initial_state_and_float32_stays_float32():
    y0 = torch.randn(2, 3, 5)
    got = odeint_scattered(_decay32, y0, 1.0, np.array([1.0, 1.0]), torch.tensor([2, 0]), axis=1)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, y0[:, [2, 0]].permute(1, 0, 2))


def _decay32(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -_rates().float()[None, :, None] * y


def test_a_fixed_step_method_needs_its_step():
    y0 = torch.ones(1, 3, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="step_size"):
        odeint_scattered(_decay, y0, 0.0, np.array([1.0]), torch.tensor([0]), axis=1, method="rk4")


def test_a_readout_gives_the_readout_of_every_output():
    rng = np.random.default_rng(1)
    y0 = torch.tensor(rng.normal(size=(4, 3, 2)))  # [S, B, D]
    readout = torch.tensor(rng.normal(size=(5, 2)))  # [E, D]
    times = np.array([0.7, -0.4, 0.0, 2.5, 1.1, -1.3, 0.7])
    members = torch.tensor([0, 2, 1, 1, 2, 0, 1])
    kwargs = {"axis": 1, "rtol": 1e-9, "atol": 1e-11}
    states = odeint_scattered(_decay, y0, 0.0, times, members, **kwargs)  # [n, S, D]
    read = odeint_scattered(_decay, y0, 0.0, times, members, readout=readout, **kwargs)
    assert read.shape == (7, 4, 5)
    torch.testing.assert_close(read, states @ readout.T, rtol=1e-12, atol=1e-12)


def test_the_state_dimension_is_not_a_batch_axis():
    y0 = torch.ones(2, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="batch dimension"):
        odeint_scattered(_decay1, y0, 0.0, np.array([1.0]), torch.tensor([0]), axis=-1)


def _decay1(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -y
