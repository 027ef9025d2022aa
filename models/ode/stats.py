"""Counters a caller can read after a solve."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SolveStats:
    """What a solve cost. Pass one as ``stats=`` and the solve adds its counts to it.

    Attributes:
        n_fevals: evaluations of the vector field (for the continuous adjoint's backward solve,
            of the augmented field: each is one call of f and one vector-Jacobian product).
        n_accepted: accepted steps.
        n_rejected: rejected steps (adaptive methods only).
    """

    n_fevals: int = 0
    n_accepted: int = 0
    n_rejected: int = 0

    @property
    def n_steps(self) -> int:
        return self.n_accepted + self.n_rejected
