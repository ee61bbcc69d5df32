"""A neural critic trained with the gradient penalty estimates W1 between two sample sets."""

import numpy as np
import pytest
import torch

from wgan_teach.critic import critic_estimate, fit_critic
from wgan_teach.distances import w1_cdf, w1_exact
from wgan_teach.nets import critic_mlp
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
    assert {k: v for k, v in a.history.items() if k != "grad_norms"} == {
        k: v for k, v in b.history.items() if k != "grad_norms"
    }
    assert all((u == v).all() for u, v in zip(a.history["grad_norms"], b.history["grad_norms"]))
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


def test_callback_sees_every_step():
    seen = []
    real, fake = two_gaussians(1.0, n=100, seed=6)
    fit_critic(real, fake, steps=7, log_every=7, callback=lambda step, critic: seen.append(step))
    assert seen == list(range(1, 8))


def test_figure_1b_clipping_explodes_or_vanishes_gradients_the_penalty_does_not():
    """Deep (12 hidden layers) ReLU critic on swiss roll vs real + noise, as in the WGAN-GP paper."""
    from wgan_teach.penalties import layer_gradient_norms
    from wgan_teach.toy import sample

    g = torch.Generator().manual_seed(0)
    real = sample("swissroll", 1000, g)
    fake = real + 0.5 * torch.randn(1000, 2, generator=g)
    ratio = {}
    for name, kwargs in (
        ("clip 0.1", dict(constraint="clip", c=0.1)),
        ("clip 0.01", dict(constraint="clip", c=0.01)),
        ("gp", dict(constraint="gp", lam=10.0, one_sided=False)),
    ):
        fit = fit_critic(real, fake, width=128, depth=12, steps=100, batch_size=256, **kwargs)
        norms = layer_gradient_norms(fit.critic, real[:256], fake[:256])
        ratio[name] = float(norms[0] / norms[-1])  # first layer / last layer
    assert ratio["clip 0.1"] > 10  # explode towards the input
    assert ratio["clip 0.01"] < 0.1  # vanish towards the input
    assert 0.2 < ratio["gp"] < 5  # within a factor of a few


def test_critic_estimate_leaves_the_training_mode_as_it_found_it():
    real, fake = two_gaussians(1.0, n=50, seed=7)
    critic = fit_critic(real, fake, steps=2, norm="batch").critic
    critic.eval()
    critic_estimate(critic, real, fake)
    assert not critic.training
    critic.train()
    critic_estimate(critic, real, fake)
    assert critic.training


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(lr=0), ValueError, "lr must be positive, got 0"),  # once trained silently at the default rate
        (dict(lr=float("inf")), ValueError, "lr must be finite"),
        (dict(lam=float("inf")), ValueError, "lam must be finite"),
        (dict(penalty_at="middle"), ValueError, "penalty_at must be one of"),  # once named `at`
        (dict(one_sided="no"), TypeError, "one_sided must be True or False"),
        (dict(seed=float("nan")), ValueError, "seed must be an integer"),
        (dict(critic=5), TypeError, "critic must be a torch.nn.Module"),
        (dict(callback=5), TypeError, "callback must be callable"),
        (dict(constraint="clip", c=float("inf")), ValueError, "c must be finite"),
    ],
)
def test_fit_critic_refuses_what_it_would_silently_misuse(kwargs, error, message):
    real, fake = two_gaussians(1.0, n=20)
    with pytest.raises(error, match=message):
        fit_critic(real, fake, steps=2, **kwargs)


def test_a_diverging_fit_raises_instead_of_returning_nan():
    real, fake = two_gaussians(1.0, n=64)
    with pytest.raises(FloatingPointError, match="estimate became nan at step 1: training diverged; lower lr"):
        fit_critic(real, fake, steps=3, batch_size=8, width=8, depth=1, log_every=1, lr=1e30)


def test_a_critic_built_for_another_dimension_is_named():
    real, fake = two_gaussians(1.0, n=20)  # 2-D points
    with pytest.raises(ValueError, match="critic takes 3 features .*, but the real and fake samples have 2"):
        fit_critic(real, fake, critic=critic_mlp(3, width=8), steps=2)


@pytest.mark.parametrize("constraint, lr", [("gp", 2e38), ("clip", 1e39)])
def test_a_learning_rate_whose_first_step_overflows_float32_is_named(constraint, lr):
    """Adam's first step is lr / (1 - beta1) = 2 lr: 4e38 is beyond float32 (3.4e38); torch would fail
    inside the optimiser with 'value cannot be converted to type float without overflow'."""
    real, fake = two_gaussians(1.0, n=20)
    with pytest.raises(ValueError, match=r"lr=.* is too large: .* overflows torch.float32"):
        fit_critic(real, fake, constraint=constraint, lr=lr, steps=2)
