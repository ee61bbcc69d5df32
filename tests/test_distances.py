"""W1 in 1-D: the CDF, quantile and linear-programming forms against SciPy and against the axioms."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import wasserstein_distance

from wgan_teach.distances import as_distribution, cdf, quantile, w1_cdf, w1_coupling, w1_dual, w1_quantile

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
