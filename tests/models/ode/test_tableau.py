"""Butcher tableaux check themselves; Adams-Bashforth weights are the textbook ones."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from models.ode import tables
from models.ode.adams import AdamsBashforth, adams_bashforth_weights
from models.ode.tableau import ButcherTableau

# Heun's method with its Euler embedding, a valid adaptive tableau to break one piece at a time.
HEUN = ButcherTableau(
    name="heun",
    order=2,
    c=(0.0, 1.0),
    a=((), (1.0,)),
    b=(0.5, 0.5),
    b_error=(-0.5, 0.5),
    dense=((1.0, -0.5), (0.0, 0.5)),
)


def test_a_consistent_tableau_builds():
    assert HEUN.stages == 2 and HEUN.adaptive
    assert not dataclasses.replace(HEUN, b_error=None).adaptive


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"a": ((), (0.9,))}, "row of a must sum to its c"),
        ({"c": (0.0, 0.5)}, "row of a must sum to its c"),
        ({"b": (0.5, 0.6), "dense": ((1.0, -0.5), (0.0, 0.6))}, "b must .* sum to 1"),
        ({"b": (1.0,)}, "b must have one weight per stage"),
        ({"b_error": (-0.5, 0.4)}, "b_error must .* sum to 0"),
        ({"b_error": (0.0,)}, "b_error must have one weight per stage"),
        ({"a": ((), (0.5, 0.5))}, "strictly lower triangular"),
        ({"a": ((),)}, "strictly lower triangular"),
        ({"dense": ((1.0, -0.5), (0.0, 0.4))}, "continuity"),
        ({"dense": ((0.8, -0.3), (0.0, 0.5))}, "sum to θ near θ=0"),
        ({"dense": ((1.0, -0.5),)}, "one polynomial per stage"),
        ({"fsal": True, "a": ((), (1.0,)), "b": (0.5, 0.5)}, "fsal"),
    ],
    ids=[
        "row_sum",
        "c_mismatch",
        "b_sum",
        "b_length",
        "b_error_sum",
        "b_error_length",
        "a_not_lower_triangular",
        "a_rows_missing",
        "dense_discontinuous",
        "dense_wrong_start_slope",
        "dense_length",
        "fsal_without_last_stage_at_b",
    ],
)
def test_an_inconsistent_tableau_raises_value_error(changes, match):
    """Each broken piece is reported by name, with the tableau's name."""
    with pytest.raises(ValueError, match=match) as caught:
        dataclasses.replace(HEUN, **changes)
    assert "heun" in str(caught.value)


def test_a_one_digit_typo_in_a_real_tableau_is_caught():
    """Changing one coefficient of dopri5's a breaks its row sum."""
    rows = list(tables.DOPRI5.a)
    rows[3] = (rows[3][0] + 1e-6, *rows[3][1:])
    with pytest.raises(ValueError, match="dopri5"):
        dataclasses.replace(tables.DOPRI5, a=tuple(rows))


@pytest.mark.parametrize(
    "tableau",
    [tables.EULER, tables.MIDPOINT, tables.RK4, tables.BOSH3, tables.DOPRI5, tables.DOPRI8],
    ids=lambda tableau: tableau.name,
)
def test_shipped_tableaux_satisfy_the_order_conditions_up_to_order_3(tableau):
    """Beyond the row sums the constructor checks: sum b c = 1/2, sum b c^2 = 1/3 and
    sum b a c = 1/6, as far as the method's order reaches."""
    b, c, a = tableau.b, tableau.c, tableau.a
    assert sum(b) == pytest.approx(1.0, abs=1e-14)
    if tableau.order >= 2:
        assert sum(bi * ci for bi, ci in zip(b, c, strict=True)) == pytest.approx(0.5, abs=1e-14)
    if tableau.order >= 3:
        assert sum(bi * ci**2 for bi, ci in zip(b, c, strict=True)) == pytest.approx(
            1 / 3, abs=1e-14
        )
        bac = sum(b[i] * sum(a[i][j] * c[j] for j in range(i)) for i in range(tableau.stages))
        assert bac == pytest.approx(1 / 6, abs=1e-14)


# ------------------------------------------------------------------------------ Adams weights

TEXTBOOK = {
    1: [Fraction(1)],
    2: [Fraction(3, 2), Fraction(-1, 2)],
    3: [Fraction(23, 12), Fraction(-16, 12), Fraction(5, 12)],
    4: [Fraction(55, 24), Fraction(-59, 24), Fraction(37, 24), Fraction(-9, 24)],
}


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("h", [1.0, 0.1, -0.25])
def test_adams_bashforth_weights_on_an_even_grid_are_the_textbook_ones(order, h):
    """times newest first, t0, t0 - h, ...; the weights do not depend on h or its sign."""
    t0 = 2.0
    times = tuple(t0 - j * h for j in range(order))
    weights = adams_bashforth_weights(times, t0 + h)
    assert weights == pytest.approx([float(x) for x in TEXTBOOK[order]], abs=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_adams_bashforth_weights_integrate_polynomials_on_an_uneven_grid(order):
    """h sum_j beta_j p(t_j) is the integral of p over [t0, t1] for deg p < order."""
    times = (1.0, 0.7, 0.55, 0.1)[:order]
    t1 = 1.3
    weights = adams_bashforth_weights(times, t1)
    for degree in range(order):
        quadrature = (t1 - times[0]) * sum(
            w * tj**degree for w, tj in zip(weights, times, strict=True)
        )
        integral = (t1 ** (degree + 1) - times[0] ** (degree + 1)) / (degree + 1)
        assert quadrature == pytest.approx(integral, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("order", [0, 5, 2.5])
def test_adams_bashforth_rejects_orders_outside_1_to_4(order):
    with pytest.raises(ValueError, match="order"):
        AdamsBashforth(order)
