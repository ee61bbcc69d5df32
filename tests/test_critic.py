"""A neural critic trained with the gradient penalty estimates W1 between two sample sets."""

import numpy as np
import pytest
import torch

from wgan_teach.critic import critic_estimate, fit_critic
from wgan_teach.distances import w1_cdf, w1_exact
from wgan_teach.penalties import critic_weights


def two_gaussians(distance, n=2000, dim=2, seed=0):
    rng = np.random.default_rng(seed)
    shift = np.zeros(dim)
    shift[0] = distance
    return rng.normal(size=(n, dim)), rng.normal(size=(n, dim)) + shift


def test_default_critic_estimates_w1_within_5_percent_in_2d():
    real, fake = two_gaussians(3.0)
    exact = w1_exact(real, fake)
    fit = fit_critic(real, fake)
    assert abs(fit.estimate - exact) / exact < 0.05, (fit.estimate, exact)
    # the reported estimate is the dual objective of the returned critic on the full sets
    assert fit.estimate == pytest.approx(critic_estimate(fit.critic, real, fake), rel=1e-6)
    # the penalty holds the gradient norm near 1 at interpolates
    assert 0.9 < fit.history["grad_norm_mean"][-1] < 1.1


def test_critic_estimates_w1_in_1d():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=2000), rng.normal(size=2000) * 0.5 + 2.0
    exact = w1_cdf(real, fake)
    assert abs(fit_critic(real, fake, seed=1).estimate - exact) / exact < 0.05


def test_soft_two_sided_penalty_overshoots_by_w_over_2_lambda():
    """On a translation by W, the penalised optimum has slope 1 + W / (2 lambda)."""
    real, fake = two_gaussians(3.0, seed=2)
    exact = w1_exact(real, fake)
    fit = fit_critic(real, fake, lam=10.0, one_sided=False)
    assert fit.estimate / exact == pytest.approx(1 + 3.0 / (2 * 10.0), abs=0.04)


def test_without_a_constraint_the_estimate_is_meaningless():
    real, fake = two_gaussians(3.0, seed=3)
    fit = fit_critic(real, fake, lam=0.0, steps=300)
    assert fit.estimate > 3 * w1_exact(real, fake)


def test_training_is_deterministic_and_logged():
    real, fake = two_gaussians(1.0, n=300, seed=4)
    a = fit_critic(real, fake, steps=40, log_every=10, seed=5)
    b = fit_critic(real, fake, steps=40, log_every=10, seed=5)
    assert a.history == b.history
    assert a.history["step"] == [10, 20, 30, 40]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(real=np.zeros((3, 2)), fake=np.zeros((3, 3))), "same dimension"),
        (dict(real=np.zeros((0, 2)), fake=np.zeros((3, 2))), "real must have shape"),
        (dict(real=np.full((3, 2), np.nan), fake=np.zeros((3, 2))), "real must be finite"),
        (dict(real=np.zeros((3, 2)), fake=np.zeros((3, 2)), lam=-1.0), "lam must be >= 0"),
        (dict(real=np.zeros((3, 2)), fake=np.zeros((3, 2)), steps=0), "steps must be a positive integer"),
    ],
)
def test_fit_critic_validates(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_critic(**kwargs)


def test_clipped_training_pushes_weights_to_the_bounds():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(500, 2, generator=g)
    fake = real + 1.0
    fit = fit_critic(real, fake, constraint="clip", c=0.01, steps=150, width=32, depth=3)
    weights = critic_weights(fit.critic)
    assert weights.abs().max() <= 0.01 + 1e-9
    share_at_bounds = (weights.abs() - 0.01).abs().le(1e-4).double().mean().item()
    assert share_at_bounds >= 0.5, share_at_bounds
