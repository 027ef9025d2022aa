"""Shared test problems for ``models.ode``: initial value problems with exact solutions.

Test modules ask for them by name through the ``problem`` fixture, e.g.
``@pytest.mark.parametrize("problem", ["logistic"], indirect=True)``, so nothing is imported
across test files. Every problem works on states of any shape ``[*batch, D]``, in float32 or
float64, on any device.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch

Func = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ExactProblem:
    """``dy/dt = func(t, y)``, ``y(0) = y0`` on ``[0, t_end]`` with a known solution.

    Attributes:
        name: the id used in test parameters.
        func: the vector field, ``func(t, y)`` with y shaped ``[*batch, D]``.
        initial: the initial state, shape [D].
        t_end: the end of the time span the tests integrate over.
        solution: ``solution(t, y0)``: the exact state at the float64 times ``t`` (shape [T])
            from the initial state ``y0`` (shape [D], float64), shape [T, D].
        stiff: whether explicit methods are limited by stability rather than accuracy.
    """

    name: str
    func: Func
    initial: tuple[float, ...]
    t_end: float
    solution: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    stiff: bool = False

    def y0(
        self, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"
    ) -> torch.Tensor:
        return torch.tensor(self.initial, dtype=dtype, device=device)

    def times(self, n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``n`` evenly spaced output times on ``[0, t_end]``."""
        return torch.linspace(0.0, self.t_end, n, dtype=dtype)

    def exact(self, t: torch.Tensor, y0: torch.Tensor | None = None) -> torch.Tensor:
        """The exact solution at ``t`` (any dtype, any device) from ``y0`` (default: initial).

        ``y0`` may be batched, ``[*batch, D]``; the result is ``[T, *batch, D]`` in float64 on
        the CPU.
        """
        t64 = t.detach().to("cpu", torch.float64)
        start = self.y0() if y0 is None else y0.detach().to("cpu", torch.float64)
        rows = start.reshape(-1, start.shape[-1])
        columns = [self.solution(t64, row) for row in rows]
        return torch.stack(columns, dim=1).reshape(len(t64), *start.shape)

    def scaled_error(
        self,
        ys: torch.Tensor,
        t: torch.Tensor,
        rtol: float,
        atol: float,
        y0: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``|ys - exact| / (atol + rtol |exact|)`` per time: the max over the state, shape [T].

        An adaptive solve that meets its tolerance keeps this of order 1.
        """
        exact = self.exact(t, y0)
        scale = atol + rtol * exact.abs()
        ratio = (ys.detach().to("cpu", torch.float64) - exact).abs() / scale
        return ratio.reshape(len(t), -1).amax(dim=1)

    def max_error(self, ys: torch.Tensor, t: torch.Tensor) -> float:
        """The largest absolute error over every output time and component."""
        return float((ys.detach().to("cpu", torch.float64) - self.exact(t)).abs().max())


# ------------------------------------------------------------------------------- the problems


def _falling_object(t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    # The lecture's falling object: dv/dt = g - (c/m) v with g = 9.8, c/m = 0.196.
    return 9.8 - 0.196 * v


def _falling_object_solution(t: torch.Tensor, v0: torch.Tensor) -> torch.Tensor:
    terminal = 9.8 / 0.196  # 50
    return (terminal + (v0 - terminal) * torch.exp(-0.196 * t))[:, None].expand(-1, len(v0))


def _sin_squared(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return y * torch.sin(t) ** 2


def _sin_squared_solution(t: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
    return y0 * torch.exp(t / 2 - torch.sin(2 * t) / 4)[:, None]


_DAMPING, _FREQUENCY = 0.1, 1.0


def _damped_rotation(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # y' = A y with A = [[-d, w], [-w, -d]]: a damped oscillator in first-order form.
    a = torch.tensor(
        [[-_DAMPING, _FREQUENCY], [-_FREQUENCY, -_DAMPING]], dtype=y.dtype, device=y.device
    )
    return y @ a.T


def _damped_rotation_solution(t: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
    # exp(A t) = exp(-d t) [[cos wt, sin wt], [-sin wt, cos wt]].
    decay = torch.exp(-_DAMPING * t)
    cos, sin = torch.cos(_FREQUENCY * t), torch.sin(_FREQUENCY * t)
    first = decay * (cos * y0[0] + sin * y0[1])
    second = decay * (-sin * y0[0] + cos * y0[1])
    return torch.stack([first, second], dim=1)


_RATE = 2.0


def _logistic(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _RATE * y * (1 - y)


def _logistic_solution(t: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
    return 1 / (1 + (1 / y0 - 1) * torch.exp(-_RATE * t)[:, None])


_STIFFNESS = 50.0


def _stiff_relaxation(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # y' = -k (y - cos t): a fast transient onto the slowly moving cos t (eigenvalue -50).
    return -_STIFFNESS * (y - torch.cos(t))


def _stiff_relaxation_solution(t: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
    k = _STIFFNESS
    slow = k / (k * k + 1) * (k * torch.cos(t) + torch.sin(t))
    slow_at_0 = k * k / (k * k + 1)
    return slow[:, None] + (y0 - slow_at_0) * torch.exp(-k * t)[:, None]


PROBLEMS: dict[str, ExactProblem] = {
    p.name: p
    for p in (
        ExactProblem("falling_object", _falling_object, (48.0,), 10.0, _falling_object_solution),
        ExactProblem("sin_squared", _sin_squared, (1.0,), 4.0, _sin_squared_solution),
        ExactProblem(
            "damped_rotation", _damped_rotation, (1.0, 0.5), 6.0, _damped_rotation_solution
        ),
        ExactProblem("logistic", _logistic, (0.1,), 5.0, _logistic_solution),
        ExactProblem(
            "stiff_relaxation",
            _stiff_relaxation,
            (0.0,),
            1.0,
            _stiff_relaxation_solution,
            stiff=True,
        ),
    )
}


@pytest.fixture
def problem(request: pytest.FixtureRequest) -> ExactProblem:
    """The problem named by an indirect parameter: ``parametrize("problem", [...], indirect)``."""
    return PROBLEMS[request.param]


@pytest.fixture
def problems() -> dict[str, ExactProblem]:
    """Every problem by name."""
    return PROBLEMS


@pytest.fixture(autouse=True)
def _fixed_seed() -> None:
    """Every test starts from the same random state."""
    torch.manual_seed(0)
