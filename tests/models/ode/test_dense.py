"""Output times: dense output cost and accuracy, order, direction, shapes and dtypes."""

from __future__ import annotations

import pytest
import torch

from models.ode import SOLVERS, SolveStats, odeint

ADAPTIVE = ["bosh3", "dopri5", "dopri8"]
ALL_PROBLEMS = ["falling_object", "sin_squared", "damped_rotation", "logistic", "stiff_relaxation"]
# Every method with options that make it accurate enough for tests against exact solutions.
EVERY_METHOD = [
    pytest.param("euler", {"step_size": 1e-3}, id="euler"),
    pytest.param("midpoint", {"step_size": 0.01}, id="midpoint"),
    pytest.param("rk4", {"step_size": 0.05}, id="rk4"),
    pytest.param("adams_bashforth", {"step_size": 0.02}, id="adams_bashforth"),
    pytest.param("bosh3", None, id="bosh3"),
    pytest.param("dopri5", None, id="dopri5"),
    pytest.param("dopri8", None, id="dopri8"),
]
# Bounds on the max error of EVERY_METHOD on falling_object over [0, 10] (rtol = atol = 1e-8 for
# the adaptive ones, a tolerance scale of 5e-7), forwards or backwards, about 4x the largest
# measured: euler 3.8e-4, midpoint 2.5e-6, rk4 5.1e-10, adams_bashforth 3.2e-10, bosh3 4.8e-6
# (backwards; 6.4e-7 forwards), dopri5 7.9e-7, dopri8 3.7e-6 (its dense output at this tolerance).
EVERY_METHOD_ERROR = {
    "euler": 2e-3,
    "midpoint": 1e-5,
    "rk4": 2e-9,
    "adams_bashforth": 2e-9,
    "bosh3": 2e-5,
    "dopri5": 4e-6,
    "dopri8": 2e-5,
}


# ----------------------------------------------------------------------------------- cost


@pytest.mark.parametrize("problem", ["sin_squared", "logistic", "stiff_relaxation"], indirect=True)
@pytest.mark.parametrize("method", ADAPTIVE)
def test_thousand_output_times_cost_no_more_than_two(method, problem):
    """Output times never shorten a step: 1,000 of them take exactly the evaluations and steps
    of the solve that only asks for the end points."""
    two, thousand = SolveStats(), SolveStats()
    odeint(problem.func, problem.y0(), problem.times(2), method=method, stats=two)
    odeint(problem.func, problem.y0(), problem.times(1000), method=method, stats=thousand)
    assert two.n_fevals > 0
    assert thousand == two


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("euler", {"step_size": 0.01}),
        ("rk4", {"step_size": 0.1}),
        ("adams_bashforth", {"step_size": 0.1, "order": 4}),
    ],
)
def test_fixed_step_with_step_size_costs_the_same_for_any_number_of_outputs(
    method, options, problems
):
    """With step_size the output times fall inside steps and come from the dense output."""
    problem = problems["logistic"]
    two, thousand = SolveStats(), SolveStats()
    odeint(problem.func, problem.y0(), problem.times(2), method=method, options=options, stats=two)
    ys = odeint(
        problem.func,
        problem.y0(),
        problem.times(1000),
        method=method,
        options=options,
        stats=thousand,
    )
    assert thousand == two
    assert problem.max_error(ys, problem.times(1000)) < 1e-2


# ------------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("problem", ALL_PROBLEMS, indirect=True)
@pytest.mark.parametrize("method", ADAPTIVE)
def test_dense_output_matches_the_exact_solution_to_the_tolerance(method, problem):
    """At 200 output times, mostly between steps, the error stays within 10x the tolerance
    scale at rtol = atol = 1e-6 (measured at most 8.8x for bosh3 and dopri5, 5.2x for dopri8)."""
    tol = 1e-6
    t = problem.times(200)
    ys = odeint(problem.func, problem.y0(), t, rtol=tol, atol=tol, method=method)
    ratio = problem.scaled_error(ys, t, tol, tol)
    assert float(ratio.max()) <= 10.0, f"worst at t={float(t[ratio.argmax()]):.3f}: {ratio.max()}"


@pytest.mark.parametrize("problem", ["sin_squared", "damped_rotation", "logistic"], indirect=True)
def test_dopri8_step_ends_keep_the_tolerance_where_its_dense_output_cannot(problem):
    """dopri8 takes long steps, and its continuous extension is of lower order (5) than the
    method (8): at rtol = atol = 1e-10 the final state (a step end) is within the tolerance
    scale, values between steps within 100x (measured up to 53x on damped_rotation)."""
    tol = 1e-10
    t = problem.times(200)
    ys = odeint(problem.func, problem.y0(), t, rtol=tol, atol=tol, method="dopri8")
    ratio = problem.scaled_error(ys, t, tol, tol)
    assert float(ratio[-1]) <= 1.0
    assert float(ratio.max()) <= 100.0


# ------------------------------------------------------------------- order, start, direction


@pytest.mark.parametrize(("method", "options"), EVERY_METHOD)
def test_output_starts_with_y0_and_follows_irregular_times(method, options, problems):
    """ys[0] is y0 exactly, ys has shape [len(t), *y0.shape], and ys[i] is the solution at t[i]
    for irregular, unevenly spaced times (so outputs come back in the order asked)."""
    problem = problems["falling_object"]
    generator = torch.Generator().manual_seed(1)
    inner = torch.rand(30, generator=generator, dtype=torch.float64).sort().values * 10.0
    t = torch.cat([torch.zeros(1), inner, torch.full((1,), 10.0)]).to(torch.float64)
    y0 = problem.y0()
    ys = odeint(problem.func, y0, t, rtol=1e-8, atol=1e-8, method=method, options=options)
    assert ys.shape == (len(t), *y0.shape)
    assert torch.equal(ys[0], y0)
    assert problem.max_error(ys, t) < EVERY_METHOD_ERROR[method]


@pytest.mark.parametrize(("method", "options"), EVERY_METHOD)
def test_decreasing_times_integrate_backwards(method, options, problems):
    """t from 10 down to 0 integrates backwards: ys[i] is the solution at t[i], starting from
    the exact state at t = 10."""
    problem = problems["falling_object"]
    t = torch.linspace(10.0, 0.0, 25, dtype=torch.float64)
    y10 = problem.exact(t[:1])[0]
    ys = odeint(problem.func, y10, t, rtol=1e-8, atol=1e-8, method=method, options=options)
    assert torch.equal(ys[0], y10)
    error = float((ys - problem.exact(t)).abs().max())
    assert error < EVERY_METHOD_ERROR[method], error


@pytest.mark.parametrize("method", ADAPTIVE)
def test_backward_solve_is_the_mirror_image_of_a_forward_solve(method, problems):
    """Integrating dy/dt = f(t, y) from 4 down to 0 is integrating dz/ds = -f(-s, z) from -4
    up to 0: the two solves take the same steps and agree to round-off."""
    problem = problems["sin_squared"]
    t = torch.linspace(4.0, 0.0, 9, dtype=torch.float64)
    y4 = problem.exact(t[:1])[0]
    backwards = odeint(problem.func, y4, t, method=method)

    def mirrored(s, z):
        return -problem.func(-s, z)

    forwards = odeint(mirrored, y4, -t, method=method)
    torch.testing.assert_close(backwards, forwards, rtol=1e-12, atol=1e-12)


# Not logistic or stiff_relaxation: backwards, their attracting solutions repel, and any error
# at t_end grows by e^10 and e^50 on the way to 0 (an ill-conditioned problem, not the solver).
@pytest.mark.parametrize(
    "problem", ["falling_object", "sin_squared", "damped_rotation"], indirect=True
)
@pytest.mark.parametrize("method", ADAPTIVE)
def test_decreasing_times_meet_the_tolerance(method, problem):
    """Backwards from the exact state at t_end, the adaptive methods keep their dense output
    within 20x the tolerance scale at rtol = atol = 1e-6. Backwards these problems expand (by
    e^1.96 and e^0.6 for falling_object and damped_rotation), so the forward bound of 10x grows
    with them: measured up to 12.1x (bosh3 on damped_rotation, 8.7x forwards)."""
    tol = 1e-6
    t = problem.times(100).flip(0)
    y_end = problem.exact(t[:1])[0]
    ys = odeint(problem.func, y_end, t, rtol=tol, atol=tol, method=method)
    ratio = problem.scaled_error(ys, t, tol, tol)
    assert float(ratio.max()) <= 20.0, float(ratio.max())


def test_a_single_output_time_returns_y0(problems):
    problem = problems["logistic"]
    y0 = problem.y0()
    stats = SolveStats()
    ys = odeint(problem.func, y0, torch.zeros(1, dtype=torch.float64), stats=stats)
    assert ys.shape == (1, *y0.shape)
    assert torch.equal(ys[0], y0)
    assert stats.n_fevals == 0


# ---------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize(("method", "options"), EVERY_METHOD)
@pytest.mark.parametrize("shape", [(4, 2), (2, 3, 2)], ids=["batch", "rank3"])
def test_batched_and_higher_rank_states(method, options, shape, problems):
    """y0 of shape [batch, D] or [*batch, D]: every row follows its own exact solution."""
    problem = problems["damped_rotation"]
    generator = torch.Generator().manual_seed(2)
    y0 = torch.randn(*shape, generator=generator, dtype=torch.float64)
    t = torch.linspace(0.0, 3.0, 13, dtype=torch.float64)
    ys = odeint(problem.func, y0, t, rtol=1e-8, atol=1e-8, method=method, options=options)
    assert ys.shape == (len(t), *shape)
    error = float((ys - problem.exact(t, y0)).abs().max())
    limit = {"euler": 5e-3, "midpoint": 1e-4}.get(method, 1e-6)
    assert error < limit, error


def test_func_sees_the_state_in_its_own_shape_and_t_as_a_0d_tensor(problems):
    """func(t, y) receives y shaped like y0 and t as a 0-d tensor in t's dtype."""
    seen = []

    def func(t, y):
        seen.append((tuple(t.shape), t.dtype, tuple(y.shape), y.dtype))
        return -y

    y0 = torch.ones(2, 3, 2, dtype=torch.float64)
    odeint(func, y0, torch.tensor([0.0, 1.0], dtype=torch.float32))
    assert seen and set(seen) == {((), torch.float32, (2, 3, 2), torch.float64)}


# ---------------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("method", ADAPTIVE)
@pytest.mark.parametrize(
    "problem", ["falling_object", "damped_rotation", "logistic"], indirect=True
)
def test_float32_state_gives_float32_output_at_float32_accuracy(method, problem):
    """A float32 y0 gives a float32 solution, within 10x the tolerance scale at rtol = atol =
    1e-5 (plus float32 round-off)."""
    tol = 1e-5
    t = problem.times(50, dtype=torch.float32)
    y0 = problem.y0(torch.float32).expand(3, -1).contiguous()
    ys = odeint(problem.func, y0, t, rtol=tol, atol=tol, method=method)
    assert ys.dtype == torch.float32
    assert ys.shape == (50, 3, y0.shape[-1])
    exact = problem.exact(t, y0)
    scale = tol + (tol + 1e-6) * exact.abs()
    ratio = float(((ys.double() - exact).abs() / scale).max())
    assert ratio <= 10.0, ratio


@pytest.mark.parametrize(("method", "options"), EVERY_METHOD)
def test_float32_times_with_a_float64_state(method, options, problems):
    """Times given in float32 work with a float64 state: the output is float64 and matches the
    exact solution at those (float32-rounded) times to the method's float64 accuracy."""
    problem = problems["falling_object"]
    t = torch.linspace(0.0, 10.0, 21, dtype=torch.float32)
    ys = odeint(problem.func, problem.y0(), t, rtol=1e-8, atol=1e-8, method=method, options=options)
    assert ys.dtype == torch.float64
    assert problem.max_error(ys, t) < EVERY_METHOD_ERROR[method]


def test_registry_has_every_method_and_flags_the_adaptive_ones():
    assert set(SOLVERS) == {
        "euler",
        "midpoint",
        "rk4",
        "adams_bashforth",
        "bosh3",
        "dopri5",
        "dopri8",
    }
    assert {name for name, info in SOLVERS.items() if info.adaptive} == set(ADAPTIVE)
