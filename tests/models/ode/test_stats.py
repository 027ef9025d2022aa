"""SolveStats: evaluation and step counts, and the relations the methods' structure implies.

Evaluations per step follow from the tableaux: a first-same-as-last (FSAL) method with s stages
reuses its last stage as the next step's first, so it costs s - 1 per attempted step (bosh3 3,
dopri5 6, dopri8 13); the fixed-step Runge-Kutta methods are not FSAL and evaluate f at the new
state after their s stages, so they cost s per step (euler 1, midpoint 2, rk4 4). Every solve
evaluates f(t0, y0) once at the start, and the adaptive ones once more for the first step's
size unless ``first_step`` is given.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.ode import SolveStats, odeint, odeint_adjoint

FSAL_COST = {"bosh3": 3, "dopri5": 6, "dopri8": 13}
RK_COST = {"euler": 1, "midpoint": 2, "rk4": 4}


class CountingField:
    """cos-modulated decay on a [2, 2] state, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, t, y):
        self.calls += 1
        return -y * torch.cos(t) + 0.1 * torch.sin(3 * t)


Y0 = torch.tensor([[1.0, 2.0], [-0.5, 0.3]], dtype=torch.float64)
T = torch.linspace(0.0, 3.0, 7, dtype=torch.float64)


@pytest.mark.parametrize("tol", [1e-4, 1e-9])
@pytest.mark.parametrize("method", list(FSAL_COST))
def test_adaptive_counts(method, tol):
    """n_fevals = 2 + (s - 1) (accepted + rejected), and it counts every call of func."""
    func, stats = CountingField(), SolveStats()
    odeint(func, Y0, T, rtol=tol, atol=tol, method=method, stats=stats)
    assert stats.n_accepted > 0 and stats.n_rejected >= 0
    assert stats.n_fevals == func.calls
    assert stats.n_fevals == 2 + FSAL_COST[method] * (stats.n_accepted + stats.n_rejected)
    assert stats.n_steps == stats.n_accepted + stats.n_rejected


@pytest.mark.parametrize("method", list(FSAL_COST))
def test_first_step_skips_the_initial_step_evaluation_and_can_be_rejected(method):
    """With first_step there is no step-size guess (one evaluation fewer); a first step far too
    large for rtol = 1e-8 is rejected at least once."""
    func, stats = CountingField(), SolveStats()
    odeint(func, Y0, T, rtol=1e-8, atol=1e-8, method=method, options={"first_step": 3.0},
           stats=stats)  # fmt: skip
    assert stats.n_rejected >= 1
    assert stats.n_fevals == func.calls
    assert stats.n_fevals == 1 + FSAL_COST[method] * (stats.n_accepted + stats.n_rejected)


@pytest.mark.parametrize("method", list(RK_COST))
def test_fixed_step_runge_kutta_counts(method):
    """30 steps of 0.1 over [0, 3]: n_fevals = 1 + s * 30, nothing rejected."""
    func, stats = CountingField(), SolveStats()
    odeint(func, Y0, T, method=method, options={"step_size": 0.1}, stats=stats)
    assert (stats.n_accepted, stats.n_rejected) == (30, 0)
    assert stats.n_fevals == func.calls == 1 + RK_COST[method] * 30


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_adams_bashforth_counts(order):
    """The first order - 1 steps are RK4 (4 evaluations), the rest one evaluation each."""
    func, stats = CountingField(), SolveStats()
    odeint(func, Y0, T, method="adams_bashforth", options={"step_size": 0.1, "order": order},
           stats=stats)  # fmt: skip
    assert (stats.n_accepted, stats.n_rejected) == (30, 0)
    assert stats.n_fevals == func.calls == 1 + 4 * (order - 1) + (30 - (order - 1))


def test_fixed_step_last_step_is_shortened_to_land_on_the_end():
    """step_size 0.4 over [0, 3]: 7 full steps and a shortened eighth of 0.2. On y' = -y an RK4
    step of size h multiplies y by R(-h), R(z) = 1 + z + z^2/2 + z^3/6 + z^4/24."""

    def growth(z: float) -> float:
        return 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24

    stats = SolveStats()
    ys = odeint(lambda t, y: -y, torch.ones(1, dtype=torch.float64),
                torch.tensor([0.0, 3.0], dtype=torch.float64), method="rk4",
                options={"step_size": 0.4}, stats=stats)  # fmt: skip
    assert stats.n_accepted == 8
    assert float(ys[-1]) == pytest.approx(growth(-0.4) ** 7 * growth(-0.2), rel=1e-13)


def test_max_step_bounds_every_step():
    """max_step = 0.01 over [0, 3] needs at least 300 accepted steps."""
    stats = SolveStats()
    odeint(CountingField(), Y0, T, options={"max_step": 0.01}, stats=stats)
    assert stats.n_accepted >= 300


def test_stats_accumulate_over_solves():
    """A SolveStats passed twice holds the sum of both solves."""
    once, twice = SolveStats(), SolveStats()
    odeint(CountingField(), Y0, T, stats=once)
    odeint(CountingField(), Y0, T, stats=twice)
    odeint(CountingField(), Y0, T, stats=twice)
    assert twice.n_fevals == 2 * once.n_fevals
    assert twice.n_accepted == 2 * once.n_accepted
    assert twice.n_rejected == 2 * once.n_rejected


class Decay(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rate = nn.Parameter(torch.tensor(0.7, dtype=torch.float64))

    def forward(self, t, y):
        return -self.rate * y * torch.cos(t)


def test_discrete_adjoint_counts():
    """The backward pass replays each accepted forward step once with dopri5's 6 evaluations,
    plus the start's f(t0, y0): n_accepted matches the forward's and n_fevals = 6 n + 1."""
    forward, backward = SolveStats(), SolveStats()
    y0 = Y0.clone().requires_grad_()
    ys = odeint_adjoint(Decay(), y0, T, stats=forward, adjoint_stats=backward,
                        adjoint_options={"mode": "discrete"})  # fmt: skip
    ys.sum().backward()
    assert backward.n_accepted == forward.n_accepted
    assert backward.n_rejected == 0
    assert backward.n_fevals == 6 * forward.n_accepted + 1


def test_continuous_adjoint_counts():
    """The backward solve is a dopri5 solve of the augmented system (n_fevals counts augmented
    evaluations): 2 + 6 (accepted + rejected), plus one evaluation per restart at each of the
    len(t) - 2 interior output times."""
    forward, backward = SolveStats(), SolveStats()
    y0 = Y0.clone().requires_grad_()
    ys = odeint_adjoint(Decay(), y0, T, stats=forward, adjoint_stats=backward,
                        adjoint_options={"mode": "continuous"})  # fmt: skip
    ys.sum().backward()
    assert forward.n_fevals == 2 + 6 * forward.n_steps
    assert backward.n_accepted > 0
    assert backward.n_fevals == 2 + 6 * backward.n_steps + (len(T) - 2)
