"""The three losses of wgan_teach.losses against their formulas (closed forms for a linear critic, torch's BCE)."""

import pytest
import torch
import torch.nn.functional as F

from wgan_teach.losses import critic_loss, generator_loss
from wgan_teach.nets import StackedMLP, critic_mlp
from wgan_teach.train import Recipe


def linear_critic(slope):
    """f(x) = a·x + b: its gradient is a everywhere, so the penalty is known in closed form."""
    critic = torch.nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([slope], dtype=torch.float32))
        critic.bias.fill_(0.3)
    return critic


def batches(seed=0, n=64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=g) + 2.0, torch.randn(n, 2, generator=g)


@pytest.mark.parametrize("one_sided", [False, True])
@pytest.mark.parametrize("slope", [(0.6, 0.0), (3.0, 4.0)])
def test_wgan_gp_critic_loss_is_the_gap_plus_the_penalty(slope, one_sided):
    critic, (real, fake) = linear_critic(slope), batches()
    recipe = Recipe(loss="wgan-gp", lam=10.0, one_sided=one_sided)
    loss, logs = critic_loss(recipe, critic, real, fake)
    gap = critic(real).mean() - critic(fake).mean()
    norm = torch.tensor(slope).norm()
    penalty = (norm - 1).clamp(min=0) ** 2 if one_sided else (norm - 1) ** 2
    assert torch.allclose(loss, -gap + 10.0 * penalty, atol=1e-5)
    assert torch.allclose(logs["w1_estimate"], gap.detach())
    assert torch.allclose(logs["grad_norm_mean"], norm, atol=1e-5)
    assert float(logs["grad_norm_std"]) < 1e-5


def test_wgan_clip_loss_has_no_penalty_and_gan_loss_is_binary_cross_entropy():
    critic, (real, fake) = linear_critic((3.0, 4.0)), batches()
    loss, logs = critic_loss(Recipe(loss="wgan-clip"), critic, real, fake)
    assert torch.allclose(loss, critic(fake).mean() - critic(real).mean())
    assert "penalty" not in logs
    loss, _ = critic_loss(Recipe(loss="gan"), critic, real, fake)
    bce = F.binary_cross_entropy(torch.sigmoid(critic(real)), torch.ones(64, 1)) + F.binary_cross_entropy(
        torch.sigmoid(critic(fake)), torch.zeros(64, 1)
    )
    assert torch.allclose(loss, bce, atol=1e-5)


def test_generator_losses():
    critic, (_, fake) = linear_critic((1.0, -2.0)), batches()
    assert torch.allclose(generator_loss(Recipe(loss="wgan-gp"), critic, fake), -critic(fake).mean())
    non_saturating = -torch.log(torch.sigmoid(critic(fake))).mean()
    assert torch.allclose(generator_loss(Recipe(loss="gan"), critic, fake), non_saturating, atol=1e-5)




@pytest.mark.parametrize("loss", ["wgan-gp", "wgan-clip", "gan"])
def test_with_runs_each_run_gets_the_loss_it_would_have_alone(loss):
    torch.manual_seed(0)
    critics = [critic_mlp(2, width=8, depth=2) for _ in range(3)]
    recipe = Recipe(loss=loss)
    reals, fakes = zip(*(batches(seed, n=16) for seed in range(3)))
    epsilon = torch.rand(48, generator=torch.Generator().manual_seed(1))
    stacked, logs = critic_loss(recipe, StackedMLP(critics), torch.cat(reals), torch.cat(fakes), epsilon=epsilon, runs=3)
    for r, critic in enumerate(critics):
        alone, alone_logs = critic_loss(recipe, critic, reals[r], fakes[r], epsilon=epsilon[16 * r: 16 * (r + 1)])
        torch.testing.assert_close(stacked[r], alone[0], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(logs["w1_estimate"][r], alone_logs["w1_estimate"][0], rtol=1e-5, atol=1e-6)
        g_alone = generator_loss(recipe, critic, fakes[r])
        torch.testing.assert_close(generator_loss(recipe, StackedMLP(critics), torch.cat(fakes), runs=3)[r], g_alone[0],
                                   rtol=1e-5, atol=1e-6)


def test_runs_must_divide_the_batch():
    real, fake = batches(n=10)
    with pytest.raises(ValueError, match="runs must be a positive integer that divides the batch"):
        critic_loss(Recipe(), torch.nn.Linear(2, 1), real, fake, runs=3)
