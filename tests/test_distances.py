"""W1 in 1-D: the CDF, quantile and linear-programming forms against SciPy and against the axioms."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import wasserstein_distance

from wgan_teach.distances import (
    as_distribution,
    cdf,
    kr_potential_1d,
    quantile,
    w1_cdf,
    w1_coupling,
    w1_dual,
    w1_quantile,
)

N_CASES = 600

# Atoms on a coarse grid so that ties (shared atoms, repeated atoms) are common.
atoms = st.integers(-40, 40).map(lambda k: k / 4)
weights = st.one_of(st.just(0.0), st.floats(0.0, 10.0, allow_nan=False, allow_infinity=False))


@st.composite
def weighted_distributions(draw, max_size=9):
    n = draw(st.integers(1, max_size))
    values = draw(st.lists(atoms, min_size=n, max_size=n))
    if draw(st.booleans()):
        return np.array(values), None
    w = draw(st.lists(weights, min_size=n, max_size=n))
    if sum(w) <= 0:
        w[draw(st.integers(0, n - 1))] = 1.0
    return np.array(values), np.array(w)


def close(a, b, rel=1e-12):
    return math.isclose(a, b, rel_tol=rel, abs_tol=rel)


@settings(max_examples=N_CASES, deadline=None)
@given(weighted_distributions(), weighted_distributions())
def test_w1_cdf_matches_scipy(p, q):
    (u, u_w), (v, v_w) = p, q
    assert close(w1_cdf(u, v, u_w, v_w), wasserstein_distance(u, v, u_w, v_w))


@settings(max_examples=200, deadline=None)
@given(weighted_distributions(max_size=6), weighted_distributions(max_size=6))
def test_quantile_and_linear_programs_agree_with_cdf_form(p, q):
    (u, u_w), (v, v_w) = p, q
    reference = w1_cdf(u, v, u_w, v_w)
    assert close(w1_quantile(u, v, u_w, v_w), reference, rel=1e-9)
    assert close(w1_coupling(u, v, u_w, v_w).value, reference, rel=1e-7)
    assert close(w1_dual(u, v, u_w, v_w).value, reference, rel=1e-7)


@settings(max_examples=200, deadline=None)
@given(weighted_distributions(), weighted_distributions())
def test_symmetry_and_identity(p, q):
    (u, u_w), (v, v_w) = p, q
    assert close(w1_cdf(u, v, u_w, v_w), w1_cdf(v, u, v_w, u_w))
    assert w1_cdf(u, u, u_w, u_w) == 0.0


@settings(max_examples=200, deadline=None)
@given(weighted_distributions(), st.floats(-50, 50), st.floats(-20, 20).filter(lambda a: abs(a) > 1e-3))
def test_translation_and_scaling(p, t, a):
    u, u_w = p
    # W1(p, p + t) = |t|: translating a distribution moves every unit of mass by exactly |t|.
    assert close(w1_cdf(u, u + t, u_w, u_w), abs(t), rel=1e-9)
    # W1(a p, a q) = |a| W1(p, q)
    v = np.roll(u, 1) + 0.5
    assert close(w1_cdf(a * u, a * v, u_w, u_w), abs(a) * w1_cdf(u, v, u_w, u_w), rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(weighted_distributions(), weighted_distributions(), weighted_distributions())
def test_triangle_inequality(p, q, r):
    (u, u_w), (v, v_w), (s, s_w) = p, q, r
    direct = w1_cdf(u, s, u_w, s_w)
    assert direct <= w1_cdf(u, v, u_w, v_w) + w1_cdf(v, s, v_w, s_w) + 1e-9


@settings(max_examples=100, deadline=None)
@given(weighted_distributions(max_size=6), weighted_distributions(max_size=6))
def test_coupling_is_a_feasible_plan_and_dual_is_1_lipschitz(p, q):
    (u, u_w), (v, v_w) = p, q
    coupling = w1_coupling(u, v, u_w, v_w)
    _, a = as_distribution(u, u_w)
    _, b = as_distribution(v, v_w)
    assert np.all(coupling.plan >= 0)
    np.testing.assert_allclose(coupling.plan.sum(axis=1), a, atol=1e-9)
    np.testing.assert_allclose(coupling.plan.sum(axis=0), b, atol=1e-9)
    cost = np.sum(coupling.plan * np.abs(coupling.u_values[:, None] - coupling.v_values[None, :]))
    assert close(cost, coupling.value, rel=1e-9)

    dual = w1_dual(u, v, u_w, v_w)
    if dual.support.size > 1:
        slopes = np.abs(np.diff(dual.f) / np.diff(dual.support))
        assert slopes.max() <= 1 + 1e-9
    gap = np.dot(a, np.interp(u, dual.support, dual.f)) - np.dot(b, np.interp(v, dual.support, dual.f))
    assert close(gap, dual.value, rel=1e-7)


def test_worked_example():
    p, q = [0.0, 2.0], [1.0, 3.0]
    assert w1_cdf(p, q) == w1_quantile(p, q) == 1.0
    assert close(w1_coupling(p, q).value, 1.0) and close(w1_dual(p, q).value, 1.0)
    np.testing.assert_allclose(w1_coupling(p, q).plan, [[0.5, 0.0], [0.0, 0.5]], atol=1e-12)
    # the CDF gap on (-inf, 0), [0, 1), [1, 2), [2, 3), [3, inf)
    left_ends = [-1.0, 0.0, 1.0, 2.0, 3.0]
    np.testing.assert_array_equal(np.abs(cdf(left_ends, p) - cdf(left_ends, q)), [0, 0.5, 0, 0.5, 0])


def test_point_masses():
    assert w1_cdf([0.0], [3.0]) == 3.0 and w1_cdf([0.0], [5.0]) == 5.0


def test_cdf_and_quantile_are_inverse_on_atoms():
    values, w = np.array([3.0, -1.0, 2.0, 2.0]), np.array([0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(cdf([-2, -1, 0, 2, 3], values, w), [0, 0.2, 0.2, 0.9, 1.0])
    np.testing.assert_array_equal(quantile([0.1, 0.2, 0.21, 0.9, 0.95, 1.0], values, w), [-1, -1, 2, 2, 3, 3])
    with pytest.raises(ValueError, match="t must lie"):
        quantile([0.0], values, w)


FUNCTIONS = [w1_cdf, w1_quantile, lambda *a: w1_coupling(*a).value, lambda *a: w1_dual(*a).value]


@pytest.mark.parametrize("w1", FUNCTIONS, ids=["cdf", "quantile", "coupling", "dual"])
@pytest.mark.parametrize(
    "args, message",
    [
        (([], [1.0]), "u_values must not be empty"),
        (([0.0], []), "v_values must not be empty"),
        (([0.0, np.nan], [1.0]), "u_values must be finite"),
        (([0.0], [np.inf]), "v_values must be finite"),
        (([[0.0, 1.0]], [1.0]), r"u_values must be 1-D"),
        (([0.0, 1.0], [1.0], [1.0, -0.5]), "u_weights must be non-negative"),
        (([0.0, 1.0], [1.0], None, [0.0]), "v_weights must have a positive sum"),
        (([0.0, 1.0], [1.0], [1.0]), "u_weights must have the same shape as u_values"),
        (([0.0, 1.0], [1.0], [1.0, np.nan]), "u_weights must be finite"),
    ],
)
def test_bad_input_is_named(w1, args, message):
    with pytest.raises(ValueError, match=message):
        w1(*args)


def test_non_numeric_input_is_a_type_error():
    with pytest.raises(TypeError, match="u_values"):
        w1_cdf(["a", "b"], [1.0])
    with pytest.raises(TypeError, match="v_weights"):
        w1_cdf([0.0], [1.0], None, [object()])


# ---------------------------------------------------------------------------------------------
# Exact at any scale: weights that overflow their sum, values near the float limits, LPs to 1e-9


@settings(max_examples=100, deadline=None)
@given(weighted_distributions(), weighted_distributions(), st.sampled_from([1e-300, 1e-100, 1e100, 1e300, 1.7e307]))
def test_weights_are_normalised_without_overflow_or_underflow(p, q, c):
    """W1 depends on the weights only through w / sum(w): multiplying them by c changes nothing, even
    when the sum of c w overflows ([1e308, 1e308] once gave W1 = 1.0 instead of 0.5)."""
    (u, u_w), (v, v_w) = p, q
    u_w = np.ones(u.size) if u_w is None else u_w
    scaled = c * (u_w / u_w.max())  # largest weight exactly c, so none overflows alone
    assert close(w1_cdf(u, v, scaled, v_w), w1_cdf(u, v, u_w, v_w), rel=1e-12)
    assert close(w1_quantile(u, v, scaled, v_w), w1_quantile(u, v, u_w, v_w), rel=1e-12)
    _, normalised = as_distribution(u, scaled)
    assert np.all(np.isfinite(normalised)) and normalised.sum() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(weighted_distributions(max_size=6), weighted_distributions(max_size=6),
       st.sampled_from([1e-300, 1e-30, 1e-6, 1e20, 1e100, 2.0**1000]))
def test_every_form_is_homogeneous_at_any_scale(p, q, s):
    """W1(s p, s q) = s W1(p, q): HiGHS once failed from 1e20 up ("linprog failed"), answered 0 below
    its tolerances, and differences near the float limit overflowed."""
    (u, u_w), (v, v_w) = p, q
    reference = w1_cdf(u, v, u_w, v_w)
    assert close(w1_cdf(s * u, s * v, u_w, v_w) / s, reference, rel=1e-12)
    assert close(w1_quantile(s * u, s * v, u_w, v_w) / s, reference, rel=1e-9)
    assert close(w1_coupling(s * u, s * v, u_w, v_w).value / s, reference, rel=1e-9)
    assert close(w1_dual(s * u, s * v, u_w, v_w).value / s, reference, rel=1e-9)


def test_values_near_the_float_limit():
    huge = np.finfo(float).max
    assert w1_cdf([-huge, huge], [-huge, huge]) == 0.0  # once NaN: 0 * inf
    assert w1_cdf([-huge / 2], [huge / 2]) == huge
    assert w1_coupling([-huge, huge], [0.0]).value == huge and w1_dual([-huge, huge], [0.0]).value == huge
    assert kr_potential_1d(0.0, [-huge], [huge]) == -huge  # slope -1 from f(-huge) = 0


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_linear_programs_are_exact_to_1e_9_on_hard_masses(seed):
    """Masses spanning 300 orders of magnitude: HiGHS's presolve once declared such transport
    problems infeasible, and its default tolerances left W1 about 1e-7 off."""
    rng = np.random.default_rng(seed)
    m, n = rng.integers(1, 25, size=2)
    u, v = rng.normal(size=m), rng.normal(size=n)
    u_w, v_w = 10.0 ** rng.uniform(-300, 0, m), 10.0 ** rng.uniform(-15, 0, n)
    reference = w1_cdf(u, v, u_w, v_w)
    assert abs(w1_coupling(u, v, u_w, v_w).value - reference) <= 1e-9 * max(reference, 1.0)
    dual = w1_dual(u, v, u_w, v_w)
    assert abs(dual.value - reference) <= 1e-9 * max(reference, 1.0) and dual.value <= reference + 1e-12
    if dual.support.size > 1:
        rounding = 4 * np.finfo(float).eps * np.abs(dual.f).max()  # of the cumulative sum that rebuilds f
        assert np.all(np.abs(np.diff(dual.f)) <= np.diff(dual.support) + rounding)  # 1-Lipschitz, not 1 + 1e-10


def test_pot_gaussians_500_vs_600_bins_are_exact():
    """POT's test of dual potentials, at 500 and 600 bins: N(100, 5^2) against N(200, 10^2). The
    quantiles differ by 100 + 5 z, positive wherever there is mass, so W1 = 100 to 7 decimals; the
    dual LP once stopped at 99.9999995."""
    from ot.datasets import make_1D_gauss

    x, y = np.arange(500, dtype=float), np.arange(600, dtype=float)
    a, b = make_1D_gauss(500, m=100, s=5), make_1D_gauss(600, m=200, s=10)
    assert w1_cdf(x, y, a, b) == pytest.approx(100.0, abs=1e-7)
    assert w1_dual(x, y, a, b).value == pytest.approx(w1_cdf(x, y, a, b), abs=1e-9)
    assert w1_coupling(x[::5], y[::5], a[::5], b[::5]).value == pytest.approx(w1_cdf(x[::5], y[::5], a[::5], b[::5]), abs=1e-8)


def test_nan_evaluation_points_are_refused():
    values = [0.0, 1.0]
    with pytest.raises(ValueError, match="x must not contain NaN"):
        cdf([0.5, np.nan], values)  # once 1.0
    with pytest.raises(ValueError, match="x must not contain NaN"):
        kr_potential_1d(np.nan, values, [2.0])
    with pytest.raises(ValueError, match=r"t must lie in \(0, 1\]"):
        quantile(np.nan, values)  # once 1.0
    np.testing.assert_array_equal(cdf([-np.inf, np.inf], values), [0.0, 1.0])  # infinite points are legal
