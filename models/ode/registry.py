"""Every solver method by name: the one place a method string is resolved."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from . import tables
from .adams import AdamsBashforth
from .method import Method
from .options import ADAMS_OPTIONS, ADAPTIVE_OPTIONS, FIXED_STEP_OPTIONS, SolverOptions
from .runge_kutta import RungeKutta
from .tableau import ButcherTableau


@dataclass(frozen=True)
class SolverInfo:
    """A method's entry: whether it adapts its step, which options it takes, how to build it."""

    name: str
    adaptive: bool
    options: frozenset[str]
    build: Callable[[SolverOptions], Method]


def _runge_kutta(tableau: ButcherTableau) -> SolverInfo:
    method = RungeKutta(tableau)
    return SolverInfo(
        name=tableau.name,
        adaptive=tableau.adaptive,
        options=ADAPTIVE_OPTIONS if tableau.adaptive else FIXED_STEP_OPTIONS,
        build=lambda _options: method,
    )


SOLVERS: Mapping[str, SolverInfo] = MappingProxyType(
    {
        "euler": _runge_kutta(tables.EULER),
        "midpoint": _runge_kutta(tables.MIDPOINT),
        "rk4": _runge_kutta(tables.RK4),
        "adams_bashforth": SolverInfo(
            name="adams_bashforth",
            adaptive=False,
            options=ADAMS_OPTIONS,
            build=lambda options: AdamsBashforth(options.order),
        ),
        "bosh3": _runge_kutta(tables.BOSH3),
        "dopri5": _runge_kutta(tables.DOPRI5),
        "dopri8": _runge_kutta(tables.DOPRI8),
    }
)


DEFAULT_METHOD = "dopri5"


def resolve(
    method: str | None, options: Mapping[str, Any] | None, name: str = "options"
) -> tuple[Method, SolverOptions]:
    """The method called ``method`` (None: dopri5) and its validated options (called ``name`` in
    messages); ValueError names what is wrong."""
    method = DEFAULT_METHOD if method is None else method
    info = SOLVERS.get(method) if isinstance(method, str) else None
    if info is None:
        raise ValueError(f"unknown method {method!r}; choose one of {sorted(SOLVERS)}")
    parsed = SolverOptions.parse(options, info.options, info.name, name)
    return info.build(parsed), parsed
