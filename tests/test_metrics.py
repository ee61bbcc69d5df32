"""Mode coverage on samples whose answer is known."""

import math

import numpy as np
import pytest
import torch

from wgan_teach.metrics import mode_coverage
from wgan_teach.toy import mode_centres, mode_std, sample


@pytest.mark.parametrize("name, modes", [("8gaussians", 8), ("25gaussians", 25)])
def test_real_samples_cover_every_mode_with_the_gaussian_3_sigma_mass(name, modes):
    result = mode_coverage(sample(name, 20_000, torch.Generator().manual_seed(0)), name)
    assert result["modes_covered"] == result["modes"] == modes
    # mass of a 2-D standard Gaussian within radius 3: 1 - exp(-9/2)
    assert result["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.003)


def test_samples_from_three_modes_cover_three():
    g = torch.Generator().manual_seed(1)
    centres, std = mode_centres("8gaussians"), mode_std("8gaussians")
    picks = centres[torch.tensor([0, 3, 5]).repeat_interleave(100)]
    result = mode_coverage(picks + std * torch.randn(300, 2, generator=g), "8gaussians")
    assert result["modes_covered"] == 3
    assert [k for k, n in enumerate(result["counts"]) if n > 0] == [0, 3, 5]


def test_far_away_samples_cover_nothing_and_min_count_is_applied():
    assert mode_coverage(torch.full((500, 2), 10.0), "25gaussians")["modes_covered"] == 0
    assert mode_coverage(torch.full((500, 2), 10.0), "25gaussians")["high_quality"] == 0.0
    few = mode_centres("8gaussians")[:1].repeat(19, 1)
    assert mode_coverage(few, "8gaussians")["modes_covered"] == 0
    assert mode_coverage(few, "8gaussians", min_count=19)["modes_covered"] == 1


@pytest.mark.parametrize(
    "samples, name, message",
    [
        (torch.zeros(5, 3), "8gaussians", r"shape \(n, 2\)"),
        (torch.full((5, 2), float("nan")), "8gaussians", "finite"),
        (torch.zeros(5, 2), "swissroll", "has no modes"),
        (torch.zeros(5, 2), "moons", "valid names"),
    ],
)
def test_bad_input(samples, name, message):
    with pytest.raises(ValueError, match=message):
        mode_coverage(samples, name)


def test_samples_must_be_real_numbers_and_min_count_an_integer():
    with pytest.raises(TypeError, match="samples must be an array of real numbers, got complex"):
        mode_coverage(np.zeros((3, 2)) + 1j, "8gaussians")  # once cut to the real part
    with pytest.raises(ValueError, match="min_count must be a positive integer, got True"):
        mode_coverage(np.zeros((3, 2)), "8gaussians", min_count=True)
    with pytest.raises(ValueError, match="samples must be finite"):
        mode_coverage(np.full((3, 2), 1e39), "8gaussians")  # beyond float32
