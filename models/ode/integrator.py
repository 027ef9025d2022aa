"""The one integration loop: advances a solution step by step and reports each accepted step."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .controller import FlatNorm, error_ratio, initial_step_size, next_step_size
from .errors import NonFiniteStateError, StepSizeUnderflowError, TooManyStepsError
from .method import Field, Method, MethodState, StepResult
from .options import SolverOptions
from .stats import SolveStats

OnStep = Callable[[MethodState, StepResult], None]

# A step smaller than this many float64 ulps of the current time cannot move time reliably.
_UNDERFLOW_ULPS = 16


class Integrator:
    """Advances one solution through time and keeps its step size between calls to ``advance_to``.

    The continuous adjoint relies on this: it advances from one output time to the next, changes
    the state there (``restart``), and goes on with the step size it had.
    """

    def __init__(
        self,
        method: Method,
        field: Field,
        t0: float,
        y0: torch.Tensor,
        *,
        direction: float,
        rtol: float,
        atol: float,
        norm: FlatNorm,
        options: SolverOptions,
        stats: SolveStats,
        label: str,
    ) -> None:
        self.method = method
        self.field = field
        self.direction = direction
        self.rtol = rtol
        self.atol = atol
        self.norm = norm
        self.options = options
        self.stats = stats
        self.label = label
        self.state = self._start(t0, y0)
        self._h: float | None = None
        self._trial_was_non_finite = False
        # max_num_steps bounds this solve, whatever the stats object counted before.
        self._counts_before = (stats.n_accepted, stats.n_rejected)

    @property
    def t(self) -> float:
        return self.state.t

    @property
    def y(self) -> torch.Tensor:
        return self.state.y

    def restart(self, y: torch.Tensor) -> None:
        """Replace the state at the current time (a jump), keeping the step size."""
        self.state = self._start(self.t, y)

    def advance_to(self, t_target: float, on_step: OnStep | None = None) -> None:
        """Integrate to exactly ``t_target``; call ``on_step(before, result)`` per accepted step."""
        if self.method.adaptive:
            self._advance_adaptive(t_target, on_step)
        else:
            self._advance_fixed(t_target, on_step)

    def _start(self, t0: float, y0: torch.Tensor) -> MethodState:
        state = self.method.start(self.field, t0, y0)
        if not _all_finite(state.f):
            raise NonFiniteStateError(
                f"{self.label}: the vector field returned NaN or infinite values at t={t0:.10g}. "
                "Check the dynamics for overflow or invalid operations at the initial state.",
                t=t0,
                method=self.method.name,
            )
        return state

    def _ahead(self, t_target: float) -> float:
        return (t_target - self.t) * self.direction

    def _advance_fixed(self, t_target: float, on_step: OnStep | None) -> None:
        step_size = self.options.step_size
        while self._ahead(t_target) > 0:
            self._check_budget(t_target)
            t1 = t_target
            if step_size is not None:
                candidate = self.t + self.direction * step_size
                # Land on t_target rather than leave a sliver of a last step.
                if (t_target - candidate) * self.direction > 1e-9 * step_size:
                    t1 = candidate
            result = self.method.step(self.field, self.state, t1, with_error=False)
            if not _all_finite(result.state.y, result.state.f):
                raise self._non_finite(t1)
            self._accept(result, on_step)

    def _advance_adaptive(self, t_target: float, on_step: OnStep | None) -> None:
        if self._h is None:
            self._h = self.direction * self._first_step_size()
        while self._ahead(t_target) > 0:
            self._check_budget(t_target)
            self._attempt_step(t_target, on_step)

    def _first_step_size(self) -> float:
        """The user's first_step or the initial-step rule, raised to what time can resolve."""
        magnitude = self.options.first_step
        if magnitude is None:
            magnitude = initial_step_size(
                self.field,
                self.t,
                self.y,
                self.state.f,
                direction=self.direction,
                order=self.method.order,
                rtol=self.rtol,
                atol=self.atol,
                norm=self.norm,
            )
        smallest = 2 * _UNDERFLOW_ULPS * math.ulp(self.t)
        return max(magnitude, smallest) if math.isfinite(magnitude) else smallest

    def _attempt_step(self, t_target: float, on_step: OnStep | None) -> None:
        """Try one step of the proposed size (shortened to land on t_target); set the next size."""
        options = self.options
        assert self._h is not None
        proposal = self.direction * min(max(abs(self._h), options.min_step), options.max_step)
        clipped = abs(proposal) >= self._ahead(t_target)
        t1 = t_target if clipped else self.t + proposal
        h = t1 - self.t
        if not clipped and abs(h) < _UNDERFLOW_ULPS * math.ulp(max(abs(self.t), abs(t1))):
            raise self._non_finite_trials(h) if self._trial_was_non_finite else self._underflow(h)
        result = self.method.step(self.field, self.state, t1, with_error=True)
        assert result.error is not None
        ratio = error_ratio(
            result.error, h, self.y, result.state.y, self.rtol, self.atol, self.norm
        )
        self._trial_was_non_finite = not math.isfinite(ratio)
        at_min_step = abs(proposal) <= options.min_step
        if self._trial_was_non_finite and at_min_step:
            raise self._non_finite_trials(h)
        accepted = ratio <= 1.0 or at_min_step
        if accepted:
            self._accept(result, on_step)
        else:
            self.stats.n_rejected += 1
        h_next = next_step_size(
            h,
            ratio,
            order=self.method.order,
            safety=options.safety,
            ifactor=options.ifactor,
            dfactor=options.dfactor,
        )
        # A step shortened to land on t_target says nothing against the step proposed before.
        if accepted and clipped:
            h_next = self.direction * max(abs(h_next), abs(proposal))
        self._h = h_next

    def _accept(self, result: StepResult, on_step: OnStep | None) -> None:
        self.stats.n_accepted += 1
        if on_step is not None:
            on_step(self.state, result)
        self.state = result.state

    def _check_budget(self, t_target: float) -> None:
        accepted = self.stats.n_accepted - self._counts_before[0]
        rejected = self.stats.n_rejected - self._counts_before[1]
        if accepted + rejected < self.options.max_num_steps:
            return
        if self.method.adaptive:
            advice = (
                f"loosen rtol/atol (now {self.rtol:g}/{self.atol:g}), or check whether the "
                "dynamics are stiff there"
            )
        elif self.options.step_size is None:
            advice = "or ask for fewer output times (without step_size each one is a step)"
        else:
            advice = f"or use a larger step_size (now {self.options.step_size})"
        raise TooManyStepsError(
            f"{self.label}: gave up after {accepted + rejected} steps "
            f"({accepted} accepted, {rejected} rejected) at "
            f"t={self.t:.10g} on the way to t={t_target:.10g}. Raise "
            f"options['max_num_steps'] (now {self.options.max_num_steps}), {advice}.",
            t=self.t,
            method=self.method.name,
        )

    def _underflow(self, h: float) -> StepSizeUnderflowError:
        return StepSizeUnderflowError(
            f"{self.label}: the step size fell to {abs(h):.3g} at t={self.t:.10g}, below what "
            "float64 time can resolve there, because the error estimate kept failing the "
            "tolerance. The solution may blow up or have a singularity near this time. Loosen "
            "rtol/atol, bound the dynamics, or set options['min_step'] to force steps through.",
            t=self.t,
            method=self.method.name,
        )

    def _non_finite_trials(self, h: float) -> NonFiniteStateError:
        return NonFiniteStateError(
            f"{self.label}: every trial step after t={self.t:.10g}, down to a step of "
            f"{abs(h):.3g}, gave NaN or infinite values. The vector field is not finite just "
            "past this time: check it for overflow, division by zero or invalid inputs there.",
            t=self.t,
            method=self.method.name,
        )

    def _non_finite(self, t1: float) -> NonFiniteStateError:
        return NonFiniteStateError(
            f"{self.label}: the state or its derivative became NaN or infinite between "
            f"t={self.t:.10g} and t={t1:.10g}. Use a smaller step_size, or an adaptive method "
            "such as dopri5, or check the dynamics for overflow.",
            t=self.t,
            method=self.method.name,
        )


def _all_finite(*tensors: torch.Tensor) -> bool:
    # One device synchronisation for all of them.
    return bool(torch.stack([torch.isfinite(x).all() for x in tensors]).all())
