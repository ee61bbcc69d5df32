"""JS, KL and total variation on probability vectors; exact W1 between point clouds with POT."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment
from scipy.stats import wasserstein_distance

from wgan_teach.distances import js_divergence, kl_divergence, total_variation, w1_cdf, w1_exact

LOG2 = math.log(2)


@st.composite
def probability_pairs(draw, max_size=12):
    n = draw(st.integers(1, max_size))
    raw = st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1.0)), min_size=n, max_size=n)
    vectors = []
    for _ in range(2):
        v = np.array(draw(raw))
        if v.sum() == 0:
            v[draw(st.integers(0, n - 1))] = 1.0
        vectors.append(v / v.sum())
    return vectors


@settings(max_examples=300, deadline=None)
@given(probability_pairs())
def test_js_is_symmetric_bounded_and_zero_only_on_equal(pq):
    p, q = pq
    js = js_divergence(p, q)
    assert js == pytest.approx(js_divergence(q, p), abs=1e-15)
    assert -1e-15 <= js <= LOG2 + 1e-12
    assert js_divergence(p, p) == pytest.approx(0.0, abs=1e-15)
    # JS <= log 2 * TV (the two agree on disjoint supports) and KL >= 2 TV^2 (Pinsker)
    assert js <= LOG2 * total_variation(p, q) + 1e-12
    assert kl_divergence(p, q) >= 2 * total_variation(p, q) ** 2 - 1e-12


@pytest.mark.parametrize("theta", [1, 2, 7, 25])
def test_disjoint_point_masses(theta):
    """delta_0 vs delta_theta on a grid: JS = log 2, KL = inf, TV = 1, W1 = theta, for every theta != 0."""
    support = np.arange(30)
    p = (support == 0).astype(float)
    q = (support == theta).astype(float)
    assert abs(js_divergence(p, q) - LOG2) <= 1e-12
    assert kl_divergence(p, q) == math.inf
    assert total_variation(p, q) == 1.0
    assert w1_cdf(support, support, p, q) == theta


def test_js_of_partially_overlapping_masses_matches_hand_computation():
    # p = (1/2, 1/2, 0), q = (0, 1/2, 1/2): m = (1/4, 1/2, 1/4); KL(p||m) = 1/2 log 2 = KL(q||m)
    assert js_divergence([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]) == pytest.approx(0.5 * LOG2, abs=1e-15)
    assert kl_divergence([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3))


@pytest.mark.parametrize(
    "p, q, message",
    [
        ([0.5, 0.6], [0.5, 0.5], "p must sum to 1"),
        ([0.5, 0.5], [1.5, -0.5], "q must be non-negative"),
        ([0.5, 0.5], [1.0], "same shape"),
        ([], [], "p must not be empty"),
        ([np.nan, 1.0], [0.5, 0.5], "p must be finite"),
    ],
)
@pytest.mark.parametrize("divergence", [js_divergence, kl_divergence, total_variation])
def test_probability_vectors_are_validated(divergence, p, q, message):
    with pytest.raises(ValueError, match=message):
        divergence(p, q)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(-10, 10), min_size=1, max_size=15),
    st.lists(st.floats(-10, 10), min_size=1, max_size=15),
)
def test_w1_exact_in_1d_matches_scipy(u, v):
    assert w1_exact(u, v) == pytest.approx(wasserstein_distance(u, v), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_w1_exact_matches_assignment_for_equal_uniform_clouds(dim, seed):
    """With n points each of mass 1/n on both sides, an optimal plan is a permutation."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(40, dim)), rng.normal(size=(40, dim)) + 1.0
    cost = np.linalg.norm(x[:, None] - y[None], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    assert w1_exact(x, y) == pytest.approx(cost[rows, cols].mean(), rel=1e-10)


def test_w1_exact_weights_and_translation():
    x = np.array([[0.0, 0.0], [1.0, 1.0]])
    assert w1_exact(x, x + [3.0, 4.0]) == pytest.approx(5.0)
    assert w1_exact(x, x[:1], a=[3.0, 1.0]) == pytest.approx(0.25 * math.sqrt(2))


@pytest.mark.parametrize(
    "args, error, message",
    [
        (([], [[0.0]]), ValueError, "x must not be empty"),
        (([[0.0, 1.0]], [[0.0]]), ValueError, "same dimension"),
        (([[[0.0]]], [[0.0]]), ValueError, r"x must have shape"),
        (([[np.nan]], [[0.0]]), ValueError, "x must be finite"),
        (([[0.0]], [[0.0]], [-1.0]), ValueError, "a must be non-negative"),
        (([[0.0]], [[0.0]], None, [0.0]), ValueError, "b must have a positive sum"),
        ((["a"], [[0.0]]), TypeError, "x must be"),
    ],
)
def test_w1_exact_validates(args, error, message):
    with pytest.raises(error, match=message):
        w1_exact(*args)


# ---------------------------------------------------------------------------------------------
# w1_exact without cancellation, at any scale


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1e-300, 1e-8, 1.0, 1e3, 1e8, 1e300]))
def test_w1_exact_is_exact_for_equal_and_for_nearby_clouds(seed, scale):
    """Distances come from differences, not from |x|^2 + |y|^2 - 2 x.y: a cloud is at distance 0
    from itself (once about 1e-8), and a shift by 1e-6 of a cloud near 1000 is 1e-6 (once 0.0)."""
    rng = np.random.default_rng(seed)
    x = scale * (1000 + rng.normal(size=(12, 3)))
    assert w1_exact(x, x[::-1]) == 0.0
    shift = np.zeros(3)
    shift[rng.integers(3)] = 1e-6 * scale
    assert w1_exact(x, x + shift) == pytest.approx(1e-6 * scale, rel=1e-6)


def test_w1_exact_near_the_float_limits():
    assert w1_exact([[1e300, 0.0]], [[-1e300, 0.0]]) == pytest.approx(2e300, rel=1e-15)  # once inf
    assert w1_exact([[1e-300, 0.0]], [[-1e-300, 0.0]]) == pytest.approx(2e-300, rel=1e-15)  # once 0
    assert w1_exact([[0.0], [1.0]], [[0.0]], a=[1e308, 1e308]) == pytest.approx(0.5)  # weights summing past the limit
