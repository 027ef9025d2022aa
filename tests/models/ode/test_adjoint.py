"""Gradients: gradcheck through odeint and both adjoints, adjoints against backpropagation."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.autograd import gradcheck

from models.ode import SOLVERS, SolveStats, odeint, odeint_adjoint

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

# Every method with what makes finite differences of its solution smooth enough for gradcheck.
# Adaptive steps depend on y0 through the error norm, but autograd (like torchdiffeq) treats them
# as constants; finite differences see that dependence, at about tol / eps, so the adaptive
# methods run at tight tolerances (dopri8 fails gradcheck at 1e-10: 2.3e-4 between batch rows).
GRADCHECK_METHODS = [
    pytest.param("euler", {"options": {"step_size": 0.1}}, id="euler"),
    pytest.param("midpoint", {"options": {"step_size": 0.1}}, id="midpoint"),
    pytest.param("rk4", {"options": {"step_size": 0.1}}, id="rk4"),
    pytest.param(
        "adams_bashforth", {"options": {"step_size": 0.1, "order": 4}}, id="adams_bashforth4"
    ),
    pytest.param(
        "adams_bashforth", {"options": {"step_size": 0.1, "order": 2}}, id="adams_bashforth2"
    ),
    pytest.param("bosh3", {"rtol": 1e-8, "atol": 1e-8}, id="bosh3"),
    pytest.param("dopri5", {"rtol": 1e-10, "atol": 1e-10}, id="dopri5"),
    pytest.param("dopri8", {"rtol": 1e-12, "atol": 1e-12}, id="dopri8"),
]


def make_func(theta: torch.Tensor):
    """A small nonlinear, time-dependent field with a 2 x 2 parameter matrix."""

    def func(t, y):
        return torch.tanh(y @ theta) - 0.3 * y * torch.cos(t)

    return func


def gradcheck_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    theta = (0.5 * torch.randn(2, 2, generator=generator, dtype=torch.float64)).requires_grad_()
    y0 = torch.randn(2, 2, generator=generator, dtype=torch.float64).requires_grad_()
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    return y0, theta, t


@pytest.mark.parametrize(("method", "settings"), GRADCHECK_METHODS)
def test_gradcheck_through_odeint(method, settings):
    """Backpropagation through the solver's steps is the derivative of its output."""
    y0, theta, t = gradcheck_inputs()

    def solve(y0, theta):
        return odeint(make_func(theta), y0, t, method=method, **settings)

    assert gradcheck(solve, (y0, theta))


@pytest.mark.parametrize(("method", "settings"), GRADCHECK_METHODS)
def test_gradcheck_through_the_discrete_adjoint(method, settings):
    """The discrete adjoint is the exact derivative of the computed solution."""
    y0, theta, t = gradcheck_inputs()

    def solve(y0, theta):
        return odeint_adjoint(
            make_func(theta),
            y0,
            t,
            method=method,
            adjoint_params=(theta,),
            adjoint_options={"mode": "discrete"},
            **settings,
        )

    assert gradcheck(solve, (y0, theta))


# The continuous adjoint solves its own backward ODE, so it matches finite differences only to
# the accuracy of both solves, with gradcheck's atol = 1e-5. Measured: bosh3 and dopri5 pass from
# rtol = atol = 1e-8, dopri8 needs 1e-12 (at 1e-10 finite differences see its step sizes move,
# as through odeint), rk4 passes with h = 0.1 (its backward solve is 4th order). Fixed-step
# methods of low order fail by design: euler's gradient is 8% off, midpoint's 2e-4.
@pytest.mark.parametrize(
    ("method", "settings"),
    [
        pytest.param("rk4", {"options": {"step_size": 0.1}}, id="rk4"),
        pytest.param("bosh3", {"rtol": 1e-9, "atol": 1e-9}, id="bosh3"),
        pytest.param("dopri5", {"rtol": 1e-12, "atol": 1e-12}, id="dopri5"),
        pytest.param("dopri8", {"rtol": 1e-12, "atol": 1e-12}, id="dopri8"),
    ],
)
def test_gradcheck_through_the_continuous_adjoint(method, settings):
    y0, theta, t = gradcheck_inputs()

    def solve(y0, theta):
        return odeint_adjoint(
            make_func(theta),
            y0,
            t,
            method=method,
            adjoint_params=(theta,),
            adjoint_options={"mode": "continuous"},
            **settings,
        )

    assert gradcheck(solve, (y0, theta), atol=1e-5)


# ------------------------------------------------------------- adjoints against backprop


class Field(nn.Module):
    """dy/dt = tanh(A y + b) cos(t) - c y, with A, b, c parameters."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(4)
        self.weight = nn.Parameter(0.5 * torch.randn(2, 2, generator=generator))
        self.bias = nn.Parameter(0.5 * torch.randn(2, generator=generator))
        self.decay = nn.Parameter(torch.tensor(0.1))

    def forward(self, t, y):
        return torch.tanh(y @ self.weight.T + self.bias) * torch.cos(t) - self.decay * y


def make_field(device: str = "cpu") -> Field:
    return Field().to(device=device, dtype=torch.float64)


def loss_gradients(solver, field: Field, y0: torch.Tensor, t: torch.Tensor, **kwargs):
    """Gradients of a weighted sum of every output with respect to y0 and every parameter that
    requires grad, flattened into one vector."""
    y0 = y0.detach().clone().requires_grad_()
    ys = solver(field, y0, t, **kwargs)
    weights = torch.linspace(0.5, 1.5, ys.numel(), dtype=ys.dtype, device=ys.device)
    loss = (ys * weights.view_as(ys)).sum()
    inputs = [y0, *(p for p in field.parameters() if p.requires_grad)]
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, inputs)])


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


TIME_GRIDS = {
    "two_times": lambda: torch.tensor([0.0, 2.0], dtype=torch.float64),
    "decreasing": lambda: torch.linspace(2.0, 0.0, 5, dtype=torch.float64),
    "200_times": lambda: torch.linspace(0.0, 2.0, 200, dtype=torch.float64),
}

ADJOINT_METHODS = [
    pytest.param("euler", {"options": {"step_size": 0.05}}, id="euler"),
    pytest.param("midpoint", {"options": {"step_size": 0.05}}, id="midpoint"),
    pytest.param("rk4", {"options": {"step_size": 0.1}}, id="rk4"),
    pytest.param("rk4", {}, id="rk4_between_outputs"),
    pytest.param(
        "adams_bashforth", {"options": {"step_size": 0.05, "order": 4}}, id="adams_bashforth4"
    ),
    pytest.param(
        "adams_bashforth", {"options": {"step_size": 0.05, "order": 2}}, id="adams_bashforth2"
    ),
    pytest.param("bosh3", {"rtol": 1e-6, "atol": 1e-8}, id="bosh3"),
    pytest.param("dopri5", {"rtol": 1e-8, "atol": 1e-10}, id="dopri5"),
    pytest.param("dopri8", {"rtol": 1e-8, "atol": 1e-10}, id="dopri8"),
]


@pytest.mark.parametrize("grid", list(TIME_GRIDS))
@pytest.mark.parametrize(("method", "settings"), ADJOINT_METHODS)
def test_discrete_adjoint_equals_backpropagation(method, settings, grid):
    """The discrete adjoint replays the accepted steps: same gradient as backpropagation
    through odeint to 1e-9 relative (measured 1e-16), for every method, increasing or
    decreasing times, and many output times."""
    field = make_field()
    y0 = torch.tensor([[0.3, -0.8], [1.1, 0.4], [-0.5, 0.9]], dtype=torch.float64)
    t = TIME_GRIDS[grid]()
    backprop = loss_gradients(odeint, field, y0, t, method=method, **settings)
    discrete = loss_gradients(
        odeint_adjoint, field, y0, t, method=method, adjoint_options={"mode": "discrete"},
        **settings,
    )  # fmt: skip
    assert relative_error(discrete, backprop) < 1e-9


@pytest.mark.parametrize("grid", list(TIME_GRIDS))
@pytest.mark.parametrize("method", ["dopri5", "dopri8"])
def test_continuous_adjoint_matches_backpropagation_to_the_tolerance(method, grid):
    """At rtol = 1e-8, atol = 1e-10 in float64, the continuous adjoint's gradient is within
    1e-4 relative of backpropagation through odeint (measured about 3e-9)."""
    field = make_field()
    y0 = torch.tensor([[0.3, -0.8], [1.1, 0.4], [-0.5, 0.9]], dtype=torch.float64)
    t = TIME_GRIDS[grid]()
    settings = {"method": method, "rtol": 1e-8, "atol": 1e-10}
    backprop = loss_gradients(odeint, field, y0, t, **settings)
    continuous = loss_gradients(
        odeint_adjoint, field, y0, t, adjoint_options={"mode": "continuous"}, **settings
    )
    assert relative_error(continuous, backprop) < 1e-4


def test_continuous_adjoint_accuracy_follows_the_backward_tolerance():
    """adjoint_rtol / adjoint_atol set the backward solve's accuracy: a loose backward
    tolerance gives a visibly worse gradient than a tight one."""
    field = make_field()
    y0 = torch.tensor([[0.3, -0.8]], dtype=torch.float64)
    t = torch.linspace(0.0, 3.0, 4, dtype=torch.float64)
    backprop = loss_gradients(odeint, field, y0, t, rtol=1e-11, atol=1e-11)
    errors = []
    for backward_tol in (1e-3, 1e-10):
        gradient = loss_gradients(
            odeint_adjoint, field, y0, t, rtol=1e-11, atol=1e-11,
            adjoint_rtol=backward_tol, adjoint_atol=backward_tol,
        )  # fmt: skip
        errors.append(relative_error(gradient, backprop))
    assert errors[1] < 1e-7
    assert errors[1] < errors[0] / 100, errors


class LinearField(nn.Module):
    """dy/dt = A y with A a lightly damped rotation."""

    def __init__(self) -> None:
        super().__init__()
        self.matrix = nn.Parameter(torch.tensor([[-0.1, 2.0], [-2.0, -0.1]], dtype=torch.float64))

    def forward(self, t, y):
        return y @ self.matrix.T


def test_continuous_adjoint_error_control_covers_the_adjoint_state():
    """With y0 = 0 the forward state stays 0 and only the adjoint a(t) = exp(A^T (T - t)) w
    moves: the backward step control must see a, or it takes huge steps. dL/dy0 for
    L = w . y(T) is exp(A^T T) w (measured 1e-7 relative at tol 1e-8)."""
    field = LinearField()
    y0 = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    weights = torch.tensor([1.0, -0.5], dtype=torch.float64)
    t = torch.tensor([0.0, 5.0], dtype=torch.float64)
    ys = odeint_adjoint(field, y0, t, rtol=1e-8, atol=1e-8)
    (ys[-1] * weights).sum().backward()
    exact = torch.linalg.matrix_exp(field.matrix.detach().T * 5.0) @ weights
    assert relative_error(y0.grad, exact) < 1e-5


class Relaxation(nn.Module):
    """dy/dt = -k (y - cos t): contracting forwards, so unstable when solved backwards."""

    def __init__(self) -> None:
        super().__init__()
        self.rate = nn.Parameter(torch.tensor(10.0, dtype=torch.float64))

    def forward(self, t, y):
        return -self.rate * (y - torch.cos(t))


def test_continuous_adjoint_restarts_from_the_forward_solution_at_output_times():
    """Solved backwards, the state's errors grow like e^(10 t): over [0, 3] that is e^30, but
    the backward solve resets the state to the forward solution at each of the 31 output times
    (Algorithm 1), so the gradient stays within 1e-4 of backpropagation (measured 3e-8)."""
    field = Relaxation()
    t = torch.linspace(0.0, 3.0, 31, dtype=torch.float64)
    gradients = []
    for solver in (odeint, odeint_adjoint):
        y0 = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        ys = solver(field, y0, t, rtol=1e-8, atol=1e-10)
        grads = torch.autograd.grad(ys.pow(2).sum(), (y0, field.rate))
        gradients.append(torch.cat([g.reshape(-1) for g in grads]))
    assert relative_error(gradients[1], gradients[0]) < 1e-4


@pytest.mark.parametrize("seminorm", [True, False])
def test_continuous_adjoint_with_and_without_seminorm(seminorm):
    """The seminorm (parameter adjoint left out of the error norm) saves steps and keeps the
    gradient accurate; without it the result is accurate too."""
    field = make_field()
    y0 = torch.tensor([[0.3, -0.8]], dtype=torch.float64)
    t = torch.linspace(0.0, 2.0, 3, dtype=torch.float64)
    backprop = loss_gradients(odeint, field, y0, t, rtol=1e-8, atol=1e-10)
    gradient = loss_gradients(
        odeint_adjoint, field, y0, t, rtol=1e-8, atol=1e-10,
        adjoint_options={"mode": "continuous", "seminorm": seminorm},
    )  # fmt: skip
    assert relative_error(gradient, backprop) < 1e-4


@pytest.mark.parametrize("mode", ["continuous", "discrete"])
def test_frozen_parameter_gets_no_gradient_and_the_others_are_right(mode):
    """A parameter with requires_grad=False is left out: its .grad stays None, and the other
    parameters and y0 get the gradients backpropagation gives."""
    field = make_field()
    field.bias.requires_grad_(False)
    y0 = torch.tensor([[0.3, -0.8], [1.1, 0.4]], dtype=torch.float64)
    t = torch.linspace(0.0, 2.0, 5, dtype=torch.float64)
    settings = {"rtol": 1e-9, "atol": 1e-11}
    backprop = loss_gradients(odeint, field, y0, t, **settings)

    y0_leaf = y0.clone().requires_grad_()
    ys = odeint_adjoint(field, y0_leaf, t, adjoint_options={"mode": mode}, **settings)
    weights = torch.linspace(0.5, 1.5, ys.numel(), dtype=ys.dtype).view_as(ys)
    (ys * weights).sum().backward()
    assert field.bias.grad is None
    assert field.weight.grad is not None and field.decay.grad is not None
    adjoint = torch.cat(
        [y0_leaf.grad.reshape(-1), field.weight.grad.reshape(-1), field.decay.grad.reshape(-1)]
    )
    assert relative_error(adjoint, backprop) < 1e-6


@pytest.mark.parametrize("mode", ["continuous", "discrete"])
def test_adjoint_of_a_plain_function_needs_adjoint_params(mode):
    def func(t, y):
        return -y

    y0 = torch.ones(2, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    with pytest.raises(ValueError, match="adjoint_params"):
        odeint_adjoint(func, y0, t, adjoint_options={"mode": mode})


@pytest.mark.parametrize("mode", ["continuous", "discrete"])
def test_adjoint_of_a_plain_function_with_adjoint_params(mode):
    """A closure's tensors passed as adjoint_params get their gradient (d/dk of y0 e^{-k t} at
    t = 1 is -y0 e^{-k})."""
    rate = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)

    def func(t, y):
        return -rate * y

    y0 = torch.tensor([2.0], dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    ys = odeint_adjoint(
        func, y0, t, rtol=1e-10, atol=1e-12, adjoint_params=(rate,),
        adjoint_options={"mode": mode},
    )  # fmt: skip
    ys[-1].sum().backward()
    expected = -2.0 * torch.exp(torch.tensor(-0.7, dtype=torch.float64))
    torch.testing.assert_close(rate.grad, expected, rtol=1e-7, atol=0)


@pytest.mark.parametrize("mode", ["continuous", "discrete"])
def test_adjoint_fills_both_stats(mode):
    """stats counts the forward solve, adjoint_stats the backward pass."""
    field = make_field()
    y0 = torch.tensor([[0.3, -0.8]], dtype=torch.float64, requires_grad=True)
    t = torch.linspace(0.0, 2.0, 4, dtype=torch.float64)
    forward, backward = SolveStats(), SolveStats()
    ys = odeint_adjoint(
        field, y0, t, stats=forward, adjoint_stats=backward, adjoint_options={"mode": mode}
    )
    assert forward.n_fevals > 0 and forward.n_accepted > 0
    assert backward == SolveStats()  # nothing before the backward pass
    ys.sum().backward()
    assert backward.n_fevals > 0 and backward.n_accepted > 0


def test_adjoint_rejects_bad_settings():
    field = make_field()
    y0 = torch.tensor([[0.3, -0.8]], dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    with pytest.raises(ValueError, match="mode"):
        odeint_adjoint(field, y0, t, adjoint_options={"mode": "checkpointed"})
    with pytest.raises(ValueError, match="adjoint_rtol"):
        odeint_adjoint(field, y0, t, adjoint_rtol=1e-6, adjoint_options={"mode": "discrete"})
    with pytest.raises(ValueError, match="seminorm"):
        odeint_adjoint(field, y0, t, adjoint_options={"seminorm": "yes"})
    with pytest.raises(ValueError, match="adjoint_rtol"):
        odeint_adjoint(field, y0, t, adjoint_rtol=-1.0)


def test_adjoint_with_a_single_output_time_returns_y0():
    field = make_field()
    y0 = torch.tensor([[0.3, -0.8]], dtype=torch.float64, requires_grad=True)
    ys = odeint_adjoint(field, y0, torch.zeros(1, dtype=torch.float64))
    assert ys.shape == (1, 1, 2)
    ys.sum().backward()
    torch.testing.assert_close(y0.grad, torch.ones_like(y0))


# ---------------------------------------------------------------------------------- devices


@pytest.mark.parametrize("device", DEVICES)
def test_dopri5_and_both_adjoints_on_every_available_device(device):
    """dopri5 and both adjoints run on each device, give the same solution as on the CPU, and
    their gradients agree with backpropagation there."""
    field = make_field(device)
    y0 = torch.tensor([[0.3, -0.8], [1.1, 0.4]], dtype=torch.float64, device=device)
    t = torch.linspace(0.0, 2.0, 7, dtype=torch.float64, device=device)
    settings = {"rtol": 1e-8, "atol": 1e-10}
    with torch.no_grad():
        ys = odeint(field, y0, t, **settings)
        ys_cpu = odeint(make_field("cpu"), y0.cpu(), t.cpu(), **settings)
    assert ys.device.type == device
    torch.testing.assert_close(ys.cpu(), ys_cpu, rtol=1e-10, atol=1e-12)
    backprop = loss_gradients(odeint, field, y0, t, **settings)
    for mode, bound in (("continuous", 1e-4), ("discrete", 1e-9)):
        gradient = loss_gradients(
            odeint_adjoint, field, y0, t, adjoint_options={"mode": mode}, **settings
        )
        assert gradient.device.type == device
        assert relative_error(gradient, backprop) < bound, mode


@pytest.mark.parametrize("method", [name for name in SOLVERS if not SOLVERS[name].adaptive])
def test_fixed_step_gradients_in_float32(method):
    """float32 states backpropagate in float32 and the discrete adjoint agrees with backprop."""
    field = make_field().float()
    y0 = torch.tensor([[0.3, -0.8]], dtype=torch.float32)
    t = torch.linspace(0.0, 1.0, 3, dtype=torch.float32)
    settings = {"method": method, "options": {"step_size": 0.1}}
    backprop = loss_gradients(odeint, field, y0, t, **settings)
    discrete = loss_gradients(
        odeint_adjoint, field, y0, t, adjoint_options={"mode": "discrete"}, **settings
    )
    assert backprop.dtype == torch.float32
    assert relative_error(discrete, backprop) < 1e-5


MODES = ["continuous", "discrete"]


@pytest.mark.parametrize("mode", MODES)
def test_a_field_that_depends_on_neither_y_nor_parameters(mode):
    """dy/dt = 1: ys = [y0, y0 + 1], so d(sum ys)/dy0 = 2, with no vector-Jacobian product."""
    y0 = torch.ones(2, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    ys = odeint_adjoint(
        lambda t, y: torch.ones_like(y), y0, t, adjoint_params=(), adjoint_options={"mode": mode}
    )
    ys.sum().backward()
    torch.testing.assert_close(y0.grad, torch.full_like(y0, 2.0))


@pytest.mark.parametrize("mode", MODES)
def test_changing_a_parameter_in_place_before_backward_is_an_error(mode):
    weight = torch.ones(2, dtype=torch.float64, requires_grad=True)
    y0 = torch.ones(2, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    ys = odeint_adjoint(
        lambda t, y: -weight * y, y0, t, adjoint_params=(weight,), adjoint_options={"mode": mode}
    )
    with torch.no_grad():
        weight.mul_(2.0)
    with pytest.raises(RuntimeError, match="inplace"):
        ys.sum().backward()


@pytest.mark.parametrize("mode", MODES)
def test_changing_t_in_place_before_backward_does_not_change_the_gradient(mode):
    field = make_field()
    y0 = torch.randn(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    t = torch.linspace(0.0, 1.0, 3, dtype=torch.float64)
    expected = loss_gradients(odeint, field, y0, t.clone(), rtol=1e-10, atol=1e-10)
    field.zero_grad()
    y0 = y0.clone().requires_grad_(True)
    ys = odeint_adjoint(field, y0, t, rtol=1e-10, atol=1e-10, adjoint_options={"mode": mode})
    t.mul_(3.0)
    weights = torch.linspace(0.5, 1.5, ys.numel(), dtype=ys.dtype).view_as(ys)  # as loss_gradients
    (ys * weights).sum().backward()
    got = torch.cat([y0.grad.flatten(), *(p.grad.flatten() for p in field.parameters())])
    assert relative_error(got, expected) < 1e-6


def test_odeint_adjoint_under_no_grad_returns_a_plain_tensor():
    field = make_field()
    y0 = torch.ones(3, 2, dtype=torch.float64, requires_grad=True)
    t = torch.linspace(0.0, 1.0, 5, dtype=torch.float64)
    with torch.no_grad():
        ys = odeint_adjoint(field, y0, t, adjoint_options={"mode": "discrete"})
    assert ys.grad_fn is None and not ys.requires_grad


def test_torchdiffeq_spelling_of_the_seminorm_and_a_default_method_are_accepted():
    field = make_field()
    y0 = torch.ones(3, 2, dtype=torch.float64, requires_grad=True)
    t = torch.linspace(0.0, 1.0, 5, dtype=torch.float64)
    ys = odeint_adjoint(field, y0, t, method=None, adjoint_options={"norm": "seminorm"})
    ys.sum().backward()
    assert y0.grad is not None


def test_bad_backward_options_are_named_adjoint_options():
    field = make_field()
    y0 = torch.ones(3, 2, dtype=torch.float64)
    t = torch.linspace(0.0, 1.0, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"adjoint_options\['safety'\]"):
        odeint_adjoint(field, y0, t, adjoint_options={"safety": -1.0})


def test_solves_under_inference_mode_do_not_poison_later_training():
    """Coefficient tensors are cached; built under inference_mode they could not be saved for
    backward by a later solve."""
    from models.ode.tableau import tableau_tensors

    tableau_tensors.cache_clear()
    with torch.inference_mode():
        odeint(lambda t, y: -y, torch.ones(3), torch.tensor([0.0, 1.0]))
    weight = torch.ones(3, requires_grad=True)
    odeint(lambda t, y: -weight * y, torch.ones(3), torch.tensor([0.0, 1.0])).sum().backward()
    assert weight.grad is not None


def test_odeint_with_one_time_does_not_alias_y0():
    y0 = torch.ones(2, requires_grad=True)
    ys = odeint(lambda t, y: -y, y0, torch.tensor([0.0]))
    assert ys.data_ptr() != y0.data_ptr()
