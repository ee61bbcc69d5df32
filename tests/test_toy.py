"""Toy data: the 2-D mixtures of the WGAN-GP paper (centres, spreads) and the 1-D grid families."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from wgan_teach.distances import w1_cdf
from wgan_teach.toy import DATASETS, gaussian_on_grid, mixture_on_grid, mode_centres, mode_std, point_mass, sample


@pytest.mark.parametrize("name, modes, std", [("8gaussians", 8, 0.02 / 1.414), ("25gaussians", 25, 0.05 / 2.828)])
def test_mixture_modes_have_the_right_centres_and_spreads(name, modes, std):
    x = sample(name, 50_000, torch.Generator().manual_seed(0))
    centres = mode_centres(name)
    assert centres.shape == (modes, 2) and mode_std(name) == pytest.approx(std)
    nearest = torch.cdist(x, centres).argmin(1)
    counts = torch.bincount(nearest, minlength=modes).float()
    assert counts.min() > 0.8 * len(x) / modes  # modes equally likely
    for k in range(modes):
        members = x[nearest == k]
        torch.testing.assert_close(members.mean(0), centres[k], atol=4 * std / math.sqrt(len(members)) + 1e-6, rtol=0)
        assert members.std(0).numpy() == pytest.approx([std, std], rel=0.06)


def test_eight_gaussians_lie_on_a_circle_and_25_on_a_grid():
    radii = mode_centres("8gaussians").norm(dim=1)
    torch.testing.assert_close(radii, torch.full((8,), 2 / 1.414))
    grid = mode_centres("25gaussians") * 2.828 / 2
    torch.testing.assert_close(grid, grid.round())
    assert set(grid[:, 0].tolist()) == {-2.0, -1.0, 0.0, 1.0, 2.0}


def test_swissroll_is_the_scaled_noisy_spiral():
    x = sample("swissroll", 20_000, torch.Generator().manual_seed(1)) * 7.5
    radius = x.norm(dim=1)
    # t in [1.5 pi, 4.5 pi]: the noiseless radius is t itself
    assert radius.min() > 1.5 * math.pi - 1.5 and radius.max() < 4.5 * math.pi + 1.5
    angle = torch.atan2(x[:, 1], x[:, 0])
    # on the spiral, (r cos r, r sin r): the angle equals the radius modulo 2 pi, up to the noise
    # (std 0.25, so a median absolute residual near 0.25 * 0.674 = 0.17; uniform angles would give pi / 2)
    residual = torch.remainder(angle - radius + math.pi, 2 * math.pi) - math.pi
    assert 0.12 < residual.abs().median() < 0.22


def test_sampling_is_reproducible_and_validated():
    a = sample("8gaussians", 10, torch.Generator().manual_seed(3))
    b = sample("8gaussians", 10, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(ValueError, match="valid names: 8gaussians, 25gaussians, swissroll"):
        sample("moons", 10)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        sample("swissroll", 0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None, got str"):
        sample("8gaussians", 10, generator="cpu")  # once an AttributeError
    with pytest.raises(ValueError, match="has no modes"):
        mode_centres("swissroll")
    assert DATASETS == ("8gaussians", "25gaussians", "swissroll")


def test_grid_families():
    grid = np.round(np.arange(-10, 10.001, 0.01), 10)
    p = gaussian_on_grid(grid, 1.0, 0.5)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.dot(grid, p) == pytest.approx(1.0, abs=1e-9)
    assert np.sqrt(np.dot((grid - 1.0) ** 2, p)) == pytest.approx(0.5, rel=1e-3)
    # shifting a Gaussian by t moves it by W1 = t
    assert w1_cdf(grid, grid, p, gaussian_on_grid(grid, 3.0, 0.5)) == pytest.approx(2.0, abs=1e-9)
    mixture = mixture_on_grid(grid, [-2.0, 2.0], 0.1, weights=[1, 3])
    assert mixture[grid < 0].sum() == pytest.approx(0.25, abs=1e-9)
    np.testing.assert_array_equal(point_mass(grid, 0.5), grid == 0.5)
    with pytest.raises(ValueError, match="not a point of the grid"):
        point_mass(grid, 0.005)
    with pytest.raises(ValueError, match="std must be positive"):
        gaussian_on_grid(grid, 0.0, 0.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        gaussian_on_grid([0.0, 0.0], 0.0, 1.0)


finite = st.floats(-1e300, 1e300)


@settings(max_examples=100, deadline=None)
@given(finite, st.floats(1e-300, 1e300), st.lists(finite, min_size=1, max_size=4), st.floats(0.0, 1e308))
def test_grid_families_are_probability_vectors_for_every_legal_parameter(mean, std, means, big):
    """Any finite mean, any finite positive std, any non-negative weights with a positive sum: a
    probability vector, never NaN (NaN or infinite parameters once gave all-NaN vectors)."""
    grid = np.linspace(-3, 3, 13)
    for p in (gaussian_on_grid(grid, mean, std), mixture_on_grid(grid, means, std, weights=[big + 1.0] * len(means))):
        assert np.all(np.isfinite(p)) and np.all(p >= 0) and p.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda g: gaussian_on_grid(g, np.nan, 1.0), "mean must be a number"),
        (lambda g: gaussian_on_grid(g, np.inf, 1.0), "mean must be finite"),
        (lambda g: gaussian_on_grid(g, 0.0, np.inf), "std must be positive and finite"),
        (lambda g: mixture_on_grid(g, [0.0, np.nan], 1.0), "means must be finite"),
        (lambda g: mixture_on_grid(g, [0.0, 1.0], 1.0, weights=[1.0, np.inf]), "weights must be finite"),
        (lambda g: mixture_on_grid(g, [], 1.0), "means must be a number or a non-empty 1-D array"),
        (lambda g: point_mass(g, np.nan), "at must be a number"),
    ],
)
def test_nan_and_infinite_parameters_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call(np.linspace(-1, 1, 5))
