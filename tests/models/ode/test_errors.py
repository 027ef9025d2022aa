"""Failures: solver errors name the time reached and what to change; bad inputs raise early."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.ode import (
    SOLVERS,
    NonFiniteStateError,
    SolverError,
    SolveStats,
    StepSizeUnderflowError,
    TooManyStepsError,
    odeint,
    odeint_adjoint,
)

ADAPTIVE = ["bosh3", "dopri5", "dopri8"]
FIXED = {
    "euler": {"step_size": 0.1},
    "midpoint": {"step_size": 0.1},
    "rk4": {"step_size": 0.1},
    "adams_bashforth": {"step_size": 0.1},
}
EVERY_METHOD = [(name, None) for name in ADAPTIVE] + list(FIXED.items())


def decay(t, y):
    return -y


def one(dtype=torch.float64):
    return torch.ones(1, dtype=dtype)


def times(*values):
    return torch.tensor(values, dtype=torch.float64)


def names_the_time(error: SolverError) -> bool:
    """The message quotes error.t as the solver formats it."""
    return f"t={error.t:.10g}" in str(error)


# ------------------------------------------------------------------------------ too many steps


@pytest.mark.parametrize("method", ADAPTIVE)
def test_too_many_steps_names_the_time_reached_and_the_option(method):
    with pytest.raises(TooManyStepsError) as caught:
        odeint(
            decay, one(), times(0.0, 20.0), rtol=1e-10, atol=1e-10, method=method,
            options={"max_num_steps": 5},
        )  # fmt: skip
    error = caught.value
    assert isinstance(error, SolverError) and isinstance(error, RuntimeError)
    assert error.method == method
    assert 0.0 < error.t < 20.0
    assert names_the_time(error)
    assert "max_num_steps" in str(error) and "5" in str(error)


def test_too_many_fixed_steps_stops_where_the_budget_ends():
    """Five steps of 0.01 reach t = 0.05."""
    with pytest.raises(TooManyStepsError) as caught:
        odeint(
            decay, one(), times(0.0, 1.0), method="rk4",
            options={"step_size": 0.01, "max_num_steps": 5},
        )  # fmt: skip
    assert caught.value.t == pytest.approx(0.05, abs=1e-12)
    assert caught.value.method == "rk4"
    assert names_the_time(caught.value) and "max_num_steps" in str(caught.value)


def test_max_num_steps_counts_across_output_times():
    """The budget is for the whole solve, not per output interval."""
    t = torch.linspace(0.0, 1.0, 11, dtype=torch.float64)
    with pytest.raises(TooManyStepsError):
        odeint(decay, one(), t, method="euler", options={"max_num_steps": 5})
    assert odeint(decay, one(), t, method="euler", options={"max_num_steps": 10}).shape == (11, 1)


# ------------------------------------------------------------------------- step-size underflow


def square(t, y):
    return y**2


@pytest.mark.parametrize("method", ADAPTIVE)
def test_blow_up_raises_step_size_underflow_near_the_singularity(method):
    """y' = y^2, y(0) = 1 is 1 / (1 - t): integrating to t = 2 must stop near t = 1."""
    with pytest.raises(StepSizeUnderflowError) as caught:
        odeint(square, one(), times(0.0, 2.0), method=method)
    error = caught.value
    assert isinstance(error, SolverError)
    assert error.method == method
    assert error.t == pytest.approx(1.0, abs=1e-3)
    assert names_the_time(error)
    assert "min_step" in str(error)


# --------------------------------------------------------------------------- non-finite states


@pytest.mark.parametrize(("method", "options"), EVERY_METHOD)
def test_nan_at_the_initial_state_raises_non_finite_state(method, options):
    def nan_field(t, y):
        return torch.full_like(y, math.nan)

    with pytest.raises(NonFiniteStateError) as caught:
        odeint(nan_field, one(), times(0.0, 1.0), method=method, options=options)
    error = caught.value
    assert error.t == 0.0
    assert error.method.startswith(method)
    assert names_the_time(error) and "NaN" in str(error)


@pytest.mark.parametrize("method", ["midpoint", "rk4", "euler", "adams_bashforth"])
def test_nan_later_in_a_fixed_step_solve_names_the_step(method):
    """A field that turns NaN after t = 0.5: every fixed-step method stops at the step
    0.5 -> 0.6, whether the NaN shows in the new state (midpoint and rk4 evaluate inside the
    step) or only in its derivative f(0.6) (euler and Adams-Bashforth)."""
    last_finite = 0.5

    def field(t, y):
        return torch.where(t > 0.5, torch.full_like(y, math.nan), -y)

    with pytest.raises(NonFiniteStateError) as caught:
        odeint(field, one(), times(0.0, 1.0), method=method, options=FIXED[method])
    error = caught.value
    assert error.t == pytest.approx(last_finite, abs=1e-9)
    assert names_the_time(error)
    assert "step_size" in str(error)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fixed_step_state_overflow_raises_non_finite_state(dtype):
    """rk4 with h = 0.1 on y' = y^2 steps over the singularity at t = 1 and overflows after
    it: the error says where."""
    with pytest.raises(NonFiniteStateError) as caught:
        odeint(
            square, one(dtype), times(0.0, 2.0).to(dtype), method="rk4",
            options={"step_size": 0.1},
        )  # fmt: skip
    assert 1.0 <= caught.value.t < 2.0
    assert names_the_time(caught.value)


@pytest.mark.parametrize("method", ADAPTIVE)
def test_nan_later_in_an_adaptive_solve_stops_at_that_time(method):
    """An adaptive method rejects NaN trial steps (a smaller step may avoid an overflow) and
    shrinks its step; when every trial down to the smallest step is NaN it stops at t = 0.5
    with a NonFiniteStateError, not a step-size underflow."""

    def field(t, y):
        return torch.where(t > 0.5, torch.full_like(y, math.nan), -y)

    with pytest.raises(NonFiniteStateError) as caught:
        odeint(field, one(), times(0.0, 1.0), method=method)
    error = caught.value
    assert error.t == pytest.approx(0.5, abs=1e-9)
    assert names_the_time(error)
    assert "NaN" in str(error)


# ------------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("t", "match"),
    [
        ((0.0, 2.0, 1.0), "strictly increasing or strictly decreasing"),
        ((2.0, 1.0, 1.5), "strictly increasing or strictly decreasing"),
        ((0.0, 1.0, 1.0), "strictly increasing or strictly decreasing"),
        ((0.0, 0.0), "strictly increasing or strictly decreasing"),
        ((0.0, math.inf), "finite"),
        ((0.0, math.nan, 1.0), "finite"),
        ((-math.inf, 0.0), "finite"),
    ],
    ids=["non_monotone", "non_monotone_decreasing", "duplicate", "zero_span", "inf", "nan", "-inf"],
)
def test_bad_output_times_raise_value_error(t, match):
    with pytest.raises(ValueError, match=match):
        odeint(decay, one(), times(*t))


def test_bad_output_times_message_names_the_offending_pair():
    with pytest.raises(ValueError) as caught:
        odeint(decay, one(), times(0.0, 1.0, 3.0, 2.0))
    assert "t[2]" in str(caught.value) and "t[3]" in str(caught.value)


@pytest.mark.parametrize(
    "t",
    [torch.zeros(0, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64), [0.0, 1.0]],
    ids=["empty", "2d", "list"],
)
def test_malformed_output_times_raise_value_error(t):
    with pytest.raises(ValueError):
        odeint(decay, one(), t)


def test_times_that_require_grad_raise_value_error():
    t = times(0.0, 1.0).requires_grad_()
    with pytest.raises(ValueError, match=r"t\.detach"):
        odeint(decay, one(), t)
    with pytest.raises(ValueError, match=r"t\.detach"):
        odeint_adjoint(decay, one(), t, adjoint_params=())


@pytest.mark.parametrize("value", [math.nan, math.inf], ids=["nan", "inf"])
def test_non_finite_y0_raises_value_error(value):
    y0 = torch.tensor([1.0, value], dtype=torch.float64)
    with pytest.raises(ValueError, match="y0"):
        odeint(decay, y0, times(0.0, 1.0))


@pytest.mark.parametrize("dtype", [torch.int64, torch.float16, torch.bfloat16])
def test_empty_integer_or_half_precision_y0_is_rejected(dtype):
    with pytest.raises(ValueError, match="empty"):
        odeint(decay, torch.zeros(0, dtype=torch.float64), times(0.0, 1.0))
    with pytest.raises(TypeError, match="float32 or float64"):
        odeint(decay, torch.ones(2, dtype=dtype), times(0.0, 1.0))


def test_func_returning_the_wrong_shape_or_an_integer_tensor_raises_value_error():
    with pytest.raises(ValueError, match="shaped like y"):
        odeint(lambda t, y: y.sum(), torch.ones(3, dtype=torch.float64), times(0.0, 1.0))
    with pytest.raises(ValueError, match="floating-point"):
        odeint(lambda t, y: y.long(), torch.ones(3, dtype=torch.float64), times(0.0, 1.0))


def test_a_lower_precision_result_is_cast_back_to_the_state_dtype():
    """Under autocast func answers in half precision; the solve stays in y0's dtype."""
    ys = odeint(lambda t, y: (-y).half(), torch.ones(3, dtype=torch.float32), times(0.0, 1.0))
    assert ys.dtype == torch.float32
    assert float(ys[-1, 0]) == pytest.approx(math.exp(-1.0), rel=1e-3)


def test_unknown_method_raises_value_error_listing_the_methods():
    with pytest.raises(ValueError, match="rk45") as caught:
        odeint(decay, one(), times(0.0, 1.0), method="rk45")
    assert all(name in str(caught.value) for name in SOLVERS)


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("dopri5", {"step_size": 0.1}),
        ("bosh3", {"order": 3}),
        ("rk4", {"first_step": 0.1}),
        ("euler", {"rtol": 1e-3}),
        ("adams_bashforth", {"max_step": 1.0}),
    ],
)
def test_option_that_does_not_apply_to_the_method_raises_value_error(method, options):
    with pytest.raises(ValueError, match=next(iter(options))):
        odeint(decay, one(), times(0.0, 1.0), method=method, options=options)


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("rk4", {"step_size": -0.1}),
        ("rk4", {"step_size": 0.0}),
        ("adams_bashforth", {"order": 5}),
        ("adams_bashforth", {"order": 0}),
        ("dopri5", {"max_num_steps": 0}),
        ("dopri5", {"safety": 1.5}),
        ("dopri5", {"ifactor": 0.5}),
        ("dopri5", {"min_step": 1.0, "max_step": 0.1}),
        ("dopri5", {"norm": "rms"}),
    ],
)
def test_invalid_option_values_raise_value_error(method, options):
    with pytest.raises(ValueError):
        odeint(decay, one(), times(0.0, 1.0), method=method, options=options)


@pytest.mark.parametrize(
    ("rtol", "atol", "match"),
    [
        (-1e-3, 1e-6, "rtol"),
        (1e-3, -1e-6, "atol"),
        (math.nan, 1e-6, "rtol"),
        (1e-6, 0.0, "atol"),
        (True, 1e-6, "rtol"),
    ],
)
def test_bad_tolerances_raise_value_error(rtol, atol, match):
    with pytest.raises(ValueError, match=match):
        odeint(decay, one(), times(0.0, 1.0), rtol=rtol, atol=atol)


def test_pure_absolute_or_nearly_relative_tolerance_is_allowed():
    for rtol, atol in ((0.0, 1e-8), (1e-8, 1e-300)):
        ys = odeint(decay, one(), times(0.0, 1.0), rtol=rtol, atol=atol)
        assert float(ys[-1]) == pytest.approx(math.exp(-1.0), rel=1e-6)


def test_inputs_are_checked_before_any_evaluation():
    """A bad argument fails before func is ever called."""
    calls = []

    def func(t, y):
        calls.append(t)
        return -y

    for kwargs in ({"method": "nope"}, {"rtol": -1.0}, {"options": {"bogus": 1}}):
        with pytest.raises(ValueError):
            odeint(func, one(), times(0.0, 1.0), **kwargs)
    assert calls == []


@pytest.mark.parametrize("method", ADAPTIVE)
def test_nan_at_min_step_stops_at_once_instead_of_looping(method):
    """With min_step set, a NaN trial at the smallest step cannot be rejected into a smaller
    one: the solve stops there with NonFiniteStateError, not after max_num_steps tries."""

    def field(t, y):
        return torch.where(t > 0.5, torch.full_like(y, math.nan), -y)

    stats = SolveStats()
    with pytest.raises(NonFiniteStateError) as caught:
        odeint(
            field, one(), times(0.0, 1.0), method=method, options={"min_step": 1e-3}, stats=stats
        )
    assert caught.value.t == pytest.approx(0.5, abs=2e-3)
    assert stats.n_steps < 100


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"dfactor": 1.0}, "dfactor"),
        ({"max_num_steps": True}, "max_num_steps"),
        ({"max_num_steps": 2.5}, "max_num_steps"),
        ({"first_step": math.nan}, "first_step"),
    ],
)
def test_option_values_of_the_wrong_kind_are_rejected(options, key):
    with pytest.raises(ValueError, match=key):
        odeint(decay, one(), times(0.0, 1.0), options=options)


def test_adams_order_must_be_an_integer_and_numpy_integers_count():
    with pytest.raises(ValueError, match="order"):
        odeint(decay, one(), times(0.0, 1.0), method="adams_bashforth", options={"order": 2.0})
    ys = odeint(
        decay,
        one(),
        times(0.0, 1.0),
        method="adams_bashforth",
        options={"order": np.int64(2), "step_size": 0.1, "max_num_steps": np.int64(50)},
    )
    assert float(ys[-1]) == pytest.approx(math.exp(-1.0), rel=1e-2)


def test_max_num_steps_bounds_each_solve_not_the_stats_object():
    """A SolveStats reused across a training loop accumulates; the budget is per solve."""
    stats = SolveStats()
    for _ in range(30):
        odeint(
            decay,
            one(),
            times(0.0, 1.0),
            method="rk4",
            options={"step_size": 0.1, "max_num_steps": 100},
            stats=stats,
        )
    assert stats.n_accepted == 300


def test_a_first_step_below_time_resolution_is_raised_not_an_underflow():
    """At millisecond-epoch times the first-step rule can ask for less than float64 resolves."""
    t = torch.tensor([1.7e12, 1.7e12 + 1000.0], dtype=torch.float64)
    ys = odeint(lambda t, y: torch.zeros_like(y) + 1e-3, torch.zeros(2, dtype=torch.float64), t)
    assert float(ys[-1, 0]) == pytest.approx(1.0, rel=1e-9)
    ys = odeint(decay, one(), times(1e6, 1e6 + 1.0), options={"first_step": 1e-12})
    assert float(ys[-1]) == pytest.approx(math.exp(-1.0), rel=1e-6)
