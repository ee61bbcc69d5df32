"""The input rules of wgan_teach.checks, pinned across the public functions: complex numbers, NaN and
booleans are refused with a ValueError or TypeError that names the argument; tensors are read as values."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from wgan_teach import checks, critic, data, distances, fid, metrics, penalties, probes, toy

GRID = np.linspace(-1.0, 1.0, 5)
LINEAR = nn.Linear(2, 1)
U8 = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
POINTS = np.random.default_rng(0).normal(size=(8, 2))


def calls_with(bad):
    """(argument name, call) for every public function where a number or an array of numbers goes in,
    with ``bad`` in that argument."""
    bad_array = np.array([bad, 0.5])
    return [
        ("u_values", lambda: distances.w1_cdf(bad_array, [0.0])),
        ("v_weights", lambda: distances.w1_quantile([0.0, 1.0], [0.0, 1.0], None, bad_array)),
        ("u_weights", lambda: distances.w1_coupling([0.0, 1.0], [0.0], bad_array)),
        ("v_values", lambda: distances.w1_dual([0.0], bad_array)),
        ("x", lambda: distances.kr_potential_1d(bad, [0.0], [1.0])),
        ("x", lambda: distances.cdf(bad, [0.0, 1.0])),
        ("t", lambda: distances.quantile(bad, [0.0, 1.0])),
        ("x", lambda: distances.w1_exact(bad_array[:, None], [[0.0]])),
        ("b", lambda: distances.w1_exact([[0.0], [1.0]], [[0.0], [1.0]], None, bad_array)),
        ("p", lambda: distances.kl_divergence(np.array([bad, 0.5]), [0.5, 0.5])),
        ("q", lambda: distances.js_divergence([0.5, 0.5], np.array([bad, 0.5]))),
        ("p", lambda: distances.total_variation(np.array([bad, 0.5]), [0.5, 0.5])),
        ("grid", lambda: toy.gaussian_on_grid(np.append(GRID, bad), 0.0, 1.0)),
        ("mean", lambda: toy.gaussian_on_grid(GRID, bad, 1.0)),
        ("std", lambda: toy.gaussian_on_grid(GRID, 0.0, bad)),
        ("means", lambda: toy.mixture_on_grid(GRID, bad_array, 1.0)),
        ("weights", lambda: toy.mixture_on_grid(GRID, [0.0, 1.0], 1.0, bad_array)),
        ("at", lambda: toy.point_mass(GRID, bad)),
        ("samples", lambda: metrics.mode_coverage(np.array([[bad, 0.0]] * 3), "8gaussians")),
        ("c", lambda: probes.share_at_bounds([0.01], bad)),
        ("weights", lambda: probes.share_at_bounds(bad_array, 0.01)),
        ("tolerance", lambda: probes.share_at_bounds([0.01], 0.01, bad)),
        ("extent", lambda: probes.max_gradient_norm(LINEAR, (bad, 1, 0, 1), n=3)),
        ("real", lambda: critic.as_points(np.array([[bad, 0.0]]), "real")),
        ("lam", lambda: critic.fit_critic(POINTS, POINTS + 1, lam=bad, steps=1)),
        ("lr", lambda: critic.fit_critic(POINTS, POINTS + 1, lr=bad, steps=1)),
        ("c", lambda: critic.fit_critic(POINTS, POINTS + 1, constraint="clip", c=bad, steps=1)),
        ("c", lambda: penalties.clip_weights(LINEAR, bad)),
        ("mu1", lambda: fid.frechet_distance(bad_array, np.eye(2), [0.0, 0.0], np.eye(2))),
        ("sigma2", lambda: fid.frechet_distance([0.0, 0.0], np.eye(2), [0.0, 0.0], np.array([[bad, 0.0], [0.0, 1.0]]))),
        ("features", lambda: fid.feature_statistics(np.array([[bad], [0.0], [1.0]]))),
    ]


def arguments(bad):
    return [pytest.param(name, call, id=f"{i}-{name}") for i, (name, call) in enumerate(calls_with(bad))]


@pytest.mark.parametrize("name, call", arguments(0.5 + 1j))
def test_complex_numbers_are_refused_not_cut_to_their_real_part(name, call):
    with pytest.raises(TypeError, match=name):
        call()


@pytest.mark.parametrize("name, call", arguments(math.nan))
def test_nan_is_refused_wherever_a_number_goes_in(name, call):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize("name, call", arguments("0.5"))
def test_text_is_refused_not_read_as_a_number(name, call):
    with pytest.raises((TypeError, ValueError), match=name):
        call()


@pytest.mark.parametrize(
    "name, call",
    [
        ("c", lambda: penalties.clip_weights(LINEAR, True)),
        ("c", lambda: probes.share_at_bounds([0.01], True)),
        ("std", lambda: toy.gaussian_on_grid(GRID, 0.0, True)),
        ("n", lambda: toy.sample("8gaussians", True)),
        ("min_count", lambda: metrics.mode_coverage(np.zeros((3, 2)), "8gaussians", min_count=True)),
        ("steps", lambda: critic.fit_critic(POINTS, POINTS + 1, steps=True)),
        ("lam", lambda: critic.fit_critic(POINTS, POINTS + 1, lam=True, steps=1)),
        ("one_sided", lambda: critic.fit_critic(POINTS, POINTS + 1, one_sided="no", steps=1)),
        ("size", lambda: fid.tf1_resize(torch.zeros(1, 3, 4, 4), True)),
        ("n", lambda: data.ImageData(U8).sample(True, torch.Generator())),
        ("flip", lambda: data.ImageData(U8, flip="no")),
    ],
)
def test_a_bool_is_not_a_number(name, call):
    with pytest.raises((TypeError, ValueError), match=name):
        call()


@pytest.mark.parametrize(
    "call, expected",
    [
        (lambda t: distances.w1_cdf(t, [0.0]), 0.5),
        (lambda t: distances.w1_exact(t[:, None], [[0.0]]), 0.5),
        (lambda t: distances.total_variation(t / t.sum().detach(), [0.0, 1.0]), 0.0),
        (lambda t: probes.share_at_bounds(t, 1.0), 0.5),
        (lambda t: critic.as_points(t, "real").shape[0], 2),
    ],
)
def test_tensors_that_require_grad_are_read_as_their_values(call, expected):
    assert call(torch.tensor([0.0, 1.0], requires_grad=True)) == pytest.approx(expected)


def test_the_helpers_themselves():
    assert checks.real_array(torch.tensor([1.5], dtype=torch.bfloat16), "x").dtype == np.float64
    assert checks.number(np.float32(2.5), "x") == 2.5 and checks.number(torch.tensor(3), "x") == 3.0
    assert checks.positive_int(np.int64(3), "n") == 3
    with pytest.raises(ValueError, match="n must be a positive integer, got 2.0"):
        checks.positive_int(2.0, "n")
    with pytest.raises(TypeError, match="x must be a real number"):
        checks.number(None, "x")
    with pytest.raises(ValueError, match="x must be finite"):
        checks.finite_number(math.inf, "x")
    with pytest.raises(ValueError, match="x must be finite"):
        checks.real_array([10**400], "x")
    with pytest.raises(TypeError, match="x must be an array of real numbers"):
        checks.real_array([[1.0], [1.0, 2.0]], "x")
    with pytest.raises(ValueError, match="device must be a device such as 'cpu' or 'cuda', got 'banana'"):
        checks.torch_device("banana")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            checks.torch_device("cuda")


def test_paths_seeds_and_generators():
    assert checks.path("a/b", "p") == Path("a/b") and checks.path(Path("c"), "p") == Path("c")
    with pytest.raises(ValueError, match="p must be a folder, got an empty string"):
        checks.path("", "p", what="a folder")  # Path("") is the current folder
    with pytest.raises(TypeError, match=r"p must be a path \(str or os.PathLike\), got int"):
        checks.path(5, "p")
    assert checks.seed(np.int64(7)) == 7 and checks.seed(2**64 - 1) == 2**64 - 1
    torch.Generator().manual_seed(checks.seed(2**64 - 1))  # the largest seed torch takes
    for bad in (2**64, -1, True, 1.0, "3"):
        with pytest.raises(ValueError, match=r"seed must be an integer from 0 to 2\*\*64 - 1"):
            checks.seed(bad)
    rng = torch.Generator()
    assert checks.torch_generator(rng) is rng and checks.torch_generator(None) is None
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None, got str"):
        checks.torch_generator("cpu")
