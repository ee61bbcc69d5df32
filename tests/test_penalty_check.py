"""check_penalty names each mistake of a gradient-penalty function, and passes correct ones."""

import pytest
import torch
from torch import nn

import wgan_teach
from wgan_teach.penalties import gradient_penalty
from wgan_teach.penalty_check import MISTAKES, check_penalty


def epsilon(real):
    return torch.rand(real.shape[0], *[1] * (real.ndim - 1))


def grad_at(critic, x_hat, create_graph=True):
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=create_graph)
    return grad


def interpolate(real, fake, eps):
    return (eps * real + (1 - eps) * fake).detach().requires_grad_(True)


def correct(critic, real, fake):
    grad = grad_at(critic, interpolate(real, fake, epsilon(real)))
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def correct_times_ten(critic, real, fake):
    return 10 * correct(critic, real, fake)


def one_sided(critic, real, fake):
    grad = grad_at(critic, interpolate(real, fake, epsilon(real)))
    return ((grad.flatten(1).norm(2, dim=1) - 1).clamp(min=0) ** 2).mean()


def epsilon_per_element(critic, real, fake):
    grad = grad_at(critic, interpolate(real, fake, torch.rand_like(real)))
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def epsilon_normal(critic, real, fake):
    eps = torch.randn(real.shape[0], *[1] * (real.ndim - 1))
    grad = grad_at(critic, interpolate(real, fake, eps))
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def epsilon_normal_per_element(critic, real, fake):
    grad = grad_at(critic, interpolate(real, fake, torch.randn_like(real)))
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def epsilon_clamped_normal(critic, real, fake):
    eps = (0.5 + 0.3 * torch.randn(real.shape[0], *[1] * (real.ndim - 1))).clamp(0, 1)
    grad = grad_at(critic, interpolate(real, fake, eps))
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def one_epsilon(critic, real, fake):
    grad = grad_at(critic, interpolate(real, fake, torch.rand(1)))
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def at_real(critic, real, fake):
    """The penalty at the real samples (epsilon = 1), as labml's annotated WGAN-GP does."""
    real.requires_grad_()
    grad = grad_at(critic, real)
    return ((grad.reshape(real.shape[0], -1).norm(2, dim=-1) - 1) ** 2).mean()


def at_fake(critic, real, fake):
    grad = grad_at(critic, fake.detach().clone().requires_grad_(True))
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def norm_over_dim_1(critic, real, fake):
    grad = grad_at(critic, interpolate(real, fake, epsilon(real)))
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()


def norm_over_batch(critic, real, fake):
    grad = grad_at(critic, interpolate(real, fake, epsilon(real)))
    return (grad.norm(2) - 1) ** 2


def squared_norm(critic, real, fake):
    grad = grad_at(critic, interpolate(real, fake, epsilon(real)))
    return ((grad.flatten(1).pow(2).sum(1) - 1) ** 2).mean()


def summed(critic, real, fake):
    grad = grad_at(critic, interpolate(real, fake, epsilon(real)))
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).sum()


def sqrt_of_sum(critic, real, fake):
    grad = grad_at(critic, interpolate(real, fake, epsilon(real)))
    return ((grad.flatten(1).pow(2).sum(1).sqrt() - 1) ** 2).mean()


def sqrt_with_guard(critic, real, fake):
    grad = grad_at(critic, interpolate(real, fake, epsilon(real)))
    return (((grad.flatten(1).pow(2).sum(1) + 1e-12).sqrt() - 1) ** 2).mean()


def no_create_graph(critic, real, fake):
    grad = grad_at(critic, interpolate(real, fake, epsilon(real)), create_graph=False)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def for_points_only(critic, real, fake):
    """Broadcasts a (batch, 1) epsilon: right for points (batch, d), an error for images."""
    eps = torch.rand(real.shape[0], 1)
    grad = grad_at(critic, interpolate(real, fake, eps))
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()


def package_penalty(critic, real, fake):
    return gradient_penalty(critic, real, fake)  # (penalty, norms): the first item is used


@pytest.mark.parametrize("penalty", [correct, one_sided, sqrt_with_guard, package_penalty])
def test_correct_penalties_pass(penalty):
    report = check_penalty(penalty)
    assert report.ok, str(report)
    assert report.lam == pytest.approx(1.0)
    assert str(report) == f"{penalty.__name__}: no mistake found"


def test_a_constant_factor_is_read_as_lambda_not_a_mistake():
    report = check_penalty(correct_times_ten)
    assert report.ok and report.lam == pytest.approx(10.0)
    assert "λ = 10" in str(report)


@pytest.mark.parametrize(
    "penalty, mistakes",
    [
        (epsilon_per_element, ("epsilon per element",)),
        (epsilon_normal, ("epsilon not uniform",)),
        (epsilon_normal_per_element, ("epsilon per element", "epsilon not uniform")),
        (epsilon_clamped_normal, ("epsilon not uniform",)),
        (one_epsilon, ("one epsilon per batch",)),
        (at_real, ("penalty at real samples",)),
        (at_fake, ("penalty at generated samples",)),
        (norm_over_dim_1, ("norm over wrong dimensions",)),
        (norm_over_batch, ("norm over wrong dimensions",)),
        (squared_norm, ("squared norm",)),
        (summed, ("summed over the batch",)),
        (sqrt_of_sum, ("NaN at zero gradient",)),
        (no_create_graph, ("no create_graph",)),
        (for_points_only, ("raises an error",)),
    ],
)
def test_each_mistake_is_named(penalty, mistakes):
    report = check_penalty(penalty)
    assert report.mistakes == mistakes, str(report)
    assert all(m in MISTAKES for m in report.mistakes)
    assert str(report).startswith(f"{penalty.__name__}: {len(mistakes)} mistake")
    assert all(len(line) <= 88 for line in str(report).splitlines())


def test_dimension_mistakes_say_which_dimensions():
    assert "dimension 1 only" in str(check_penalty(norm_over_dim_1))
    assert "whole batch" in str(check_penalty(norm_over_batch))


def test_batch_norm_in_the_critic_is_named():
    with_bn = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    with_ln = nn.Sequential(nn.Linear(2, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 1))
    assert check_penalty(correct, critic=with_bn).mistakes == ("batch norm in the critic",)
    assert check_penalty(correct, critic=with_ln).ok


def test_generated_samples_must_be_detached_in_the_critic_step():
    def attached(critic, generator, real, z):
        fake = generator(z)
        return critic(fake).mean() - critic(real).mean() + 10 * correct(critic, real, fake)

    def detached(critic, generator, real, z):
        fake = generator(z).detach()
        return critic(fake).mean() - critic(real).mean() + 10 * correct(critic, real, fake)

    assert check_penalty(correct, critic_loss=attached).mistakes == ("fake samples not detached",)
    assert check_penalty(correct, critic_loss=detached).ok


def test_the_reader_rng_is_left_alone_and_results_are_repeatable():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = str(check_penalty(epsilon_clamped_normal))
    assert torch.equal(torch.rand(3), expected)
    assert str(check_penalty(epsilon_clamped_normal)) == first


def test_exported_from_the_package_and_arguments_checked():
    assert wgan_teach.check_penalty is check_penalty
    with pytest.raises(TypeError, match="penalty"):
        check_penalty("not a function")
    with pytest.raises(TypeError, match="critic"):
        check_penalty(correct, critic="not a module")
