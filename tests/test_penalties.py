"""The gradient penalty against analytic critics and finite differences; weight clipping; critic nets."""

import pytest
import torch
from torch import nn

from wgan_teach.nets import critic_mlp, generator_mlp
from wgan_teach.penalties import (
    clip_weights, critic_weights, gradient_penalty, interpolates, layer_gradient_norms, penalty_from_scores,
)


@pytest.fixture(autouse=True)
def float64():
    """Exact comparisons with finite differences need double precision (restored afterwards)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


class Linear(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float64))

    def forward(self, x):
        return (x.flatten(1) @ self.w)[:, None]


class SquaredNorm(nn.Module):
    def forward(self, x):
        return (x.flatten(1) ** 2).sum(1, keepdim=True)


def batch(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g), torch.randn(shape, generator=g)


@pytest.mark.parametrize("w", [[3.0, 4.0], [0.6, 0.8], [0.1, -0.2]])
def test_linear_critic_has_gradient_norm_w_everywhere(w):
    real, fake = batch((64, 2), 0)
    penalty, norms = gradient_penalty(Linear(w), real, fake)
    norm_w = torch.tensor(w).norm()
    torch.testing.assert_close(norms, norm_w.expand(64))
    torch.testing.assert_close(penalty, (norm_w - 1) ** 2)
    one_sided, _ = gradient_penalty(Linear(w), real, fake, one_sided=True)
    torch.testing.assert_close(one_sided, torch.clamp(norm_w - 1, min=0) ** 2)


def test_squared_norm_critic_has_gradient_2_x_hat_for_images():
    real, fake = batch((16, 3, 4, 4), 1)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    _, norms = gradient_penalty(SquaredNorm(), real, fake, generator=g1)
    x_hat = interpolates(real, fake, generator=g2)
    torch.testing.assert_close(norms, 2 * x_hat.flatten(1).norm(dim=1))


def test_interpolates_lie_on_the_segments_with_one_epsilon_per_sample():
    real, fake = batch((32, 3, 2, 2), 2)
    x_hat = interpolates(real, fake, generator=torch.Generator().manual_seed(0))
    epsilon = (x_hat - fake) / (real - fake)
    per_sample = epsilon.flatten(1)
    torch.testing.assert_close(per_sample, per_sample[:, :1].expand_as(per_sample))
    assert per_sample.min() >= 0 and per_sample.max() <= 1


def test_one_sided_is_zero_when_all_norms_are_below_one():
    real, fake = batch((50, 2), 3)
    penalty, norms = gradient_penalty(Linear([0.3, 0.4]), real, fake, one_sided=True)
    assert norms.max() < 1 and penalty.item() == 0.0


def test_grad_norms_match_finite_differences_for_a_random_mlp():
    torch.manual_seed(0)
    critic = critic_mlp(3, width=16, depth=2)
    real, fake = batch((8, 3), 4)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    _, norms = gradient_penalty(critic, real, fake, generator=g1)
    x_hat = interpolates(real, fake, generator=g2)
    h = 1e-6
    grads = torch.stack(
        [(critic(x_hat + h * e) - critic(x_hat - h * e)).squeeze(1) / (2 * h) for e in torch.eye(3)], dim=1
    )
    torch.testing.assert_close(norms, grads.norm(dim=1), rtol=1e-6, atol=1e-8)


def test_penalty_gradient_wrt_parameters_matches_finite_differences():
    """The double backward: d(penalty)/d(theta) through the input-gradient."""
    torch.manual_seed(1)
    critic = critic_mlp(2, width=8, depth=2, norm="layer")
    real, fake = batch((6, 2), 5)

    def penalty():
        return gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(11))[0]

    critic.zero_grad()
    penalty().backward()
    weight = critic[0].weight
    analytic = weight.grad.clone()
    numeric = torch.zeros_like(weight)
    h = 1e-6

    def penalty_moved(index, step):
        with torch.no_grad():
            weight.view(-1)[index] += step
        value = penalty().item()  # needs autograd: the penalty is built from an input-gradient
        with torch.no_grad():
            weight.view(-1)[index] -= step
        return value

    for index in range(weight.numel()):
        numeric.view(-1)[index] = (penalty_moved(index, h) - penalty_moved(index, -h)) / (2 * h)
    torch.testing.assert_close(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_penalty_is_reproducible_with_a_generator():
    critic = critic_mlp(2, width=8, depth=1)
    real, fake = batch((10, 2), 6)
    a = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(5))[1]
    b = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(5))[1]
    torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize(
    "real, fake, error, message",
    [
        (torch.zeros(4, 2), torch.zeros(5, 2), ValueError, "same shape"),
        (torch.zeros(4, 2, dtype=torch.int64), torch.zeros(4, 2), TypeError, "real must be a floating-point"),
        (torch.zeros(4), torch.zeros(4), ValueError, "batch"),
        ([[0.0, 1.0]], torch.zeros(1, 2), TypeError, "real must be a torch.Tensor"),
    ],
)
def test_gradient_penalty_validates(real, fake, error, message):
    with pytest.raises(error, match=message):
        gradient_penalty(critic_mlp(2), real, fake)


def test_clip_weights_clamps_every_parameter():
    torch.manual_seed(2)
    critic = critic_mlp(2, width=32, depth=2)
    clip_weights(critic, 0.01)
    assert all(p.abs().max() <= 0.01 for p in critic.parameters())
    with pytest.raises(ValueError, match="c must be a positive"):
        clip_weights(critic, 0.0)


def test_networks_shapes_and_norm_options():
    x = torch.randn(5, 2)
    for norm, count in (("none", 0), ("layer", 3), ("batch", 3)):
        critic = critic_mlp(2, width=16, depth=3, norm=norm)
        assert critic(x).shape == (5, 1)
        assert sum(isinstance(m, (nn.LayerNorm, nn.BatchNorm1d)) for m in critic) == count
    assert generator_mlp(4, 2)(torch.randn(7, 4)).shape == (7, 2)
    with pytest.raises(ValueError, match="norm must be one of"):
        critic_mlp(2, norm="group")
    with pytest.raises(ValueError, match="width must be a positive integer"):
        critic_mlp(2, width=0)


def test_layer_gradient_norms_of_a_deep_linear_chain_follow_the_weight_scales():
    """For f = w_L ... W_2 W_1 x (no activations), dL/dh_l scales by the product of later weights."""
    scales = [2.0, 0.5, 3.0]
    layers = []
    for s in scales:
        layer = nn.Linear(2, 2, bias=False)
        nn.init.eye_(layer.weight)
        layer.weight.data *= s
        layers.append(layer)
    head = nn.Linear(2, 1, bias=False)
    head.weight.data = torch.tensor([[1.0, 0.0]])
    critic = nn.Sequential(*layers, head)
    real, fake = batch((8, 2), 9)
    norms = layer_gradient_norms(critic, real, fake)
    # dL/dh_last = head weight / batch per sample, for fake and real halves: norm = |w| sqrt(2n)/n
    last = torch.tensor(1.0) * (16**0.5) / 8
    expected = torch.stack([last * 3.0 * 0.5, last * 3.0, last, last])
    torch.testing.assert_close(norms, expected)
    assert all(p.grad is None for p in critic.parameters())  # the probe leaves no gradients behind



def test_penalty_at_real_or_fake_uses_those_points():
    real, fake = batch((16, 2), 8)
    critic = SquaredNorm()
    _, at_real = gradient_penalty(critic, real, fake, at="real")
    _, at_fake = gradient_penalty(critic, real, fake, at="fake")
    torch.testing.assert_close(at_real, 2 * real.norm(dim=1))
    torch.testing.assert_close(at_fake, 2 * fake.norm(dim=1))
    with pytest.raises(ValueError, match="at must be one of"):
        gradient_penalty(critic, real, fake, at="middle")


def test_spectral_norm_critic_is_1_lipschitz():
    torch.manual_seed(4)
    critic = critic_mlp(2, width=32, depth=3, spectral_norm=True)
    for _ in range(20):  # let the power iteration converge
        critic(torch.randn(8, 2))
    critic.eval()
    x = torch.randn(400, 2)
    y = torch.randn(400, 2)
    with torch.no_grad():
        ratios = (critic(x) - critic(y)).abs().squeeze(1) / (x - y).norm(dim=1)
    assert ratios.max() <= 1.0 + 1e-3


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(epsilon=torch.full((4,), float("nan"), dtype=torch.float64)), ValueError, r"epsilon must lie in \[0, 1\]"),
        (dict(epsilon=torch.full((4,), 2.0, dtype=torch.float64)), ValueError, r"epsilon must lie in \[0, 1\]"),
        (dict(epsilon=[0.5] * 4), TypeError, "epsilon must be a floating-point tensor"),
        (dict(real=torch.full((4, 2), float("nan"), dtype=torch.float64)), ValueError, "real must be finite"),
        (dict(fake=torch.full((4, 2), float("inf"), dtype=torch.float64), at="fake"), ValueError, "fake must be finite"),
        (dict(one_sided="no"), TypeError, "one_sided must be True or False"),
        (dict(real=torch.zeros(4, 2, dtype=torch.float32)), TypeError, "real and fake must have the same dtype"),
        (dict(critic=5), TypeError, "critic must be a callable network"),
    ],
)
def test_gradient_penalty_refuses_inputs_that_would_give_a_finite_wrong_number(kwargs, error, message):
    """A linear critic's gradient does not depend on its input, so a NaN sample or epsilon once gave
    a finite penalty."""
    arguments = dict(critic=Linear([0.6, 0.8]), real=torch.zeros(4, 2), fake=torch.ones(4, 2)) | kwargs
    with pytest.raises(error, match=message):
        gradient_penalty(**arguments)


@pytest.mark.parametrize("c, error", [(True, TypeError), (float("inf"), ValueError), (float("nan"), ValueError), ("0.1", TypeError)])
def test_clip_weights_refuses_what_is_not_a_finite_positive_number(c, error):
    with pytest.raises(error, match="c must be a positive number"):
        clip_weights(critic_mlp(2), c)
    with pytest.raises(TypeError, match="critic must be a torch.nn.Module"):
        clip_weights(lambda x: x, 0.1)


@pytest.mark.parametrize("make_critic, samples, message", [
    (lambda: critic_mlp(3), (4, 2), r"critic takes 3 features \(its first Linear layer\), but the samples have 2"),
    (lambda: critic_mlp(3, spectral_norm=True), (4, 2), "critic takes 3 features"),
    (lambda: nn.Sequential(nn.Conv2d(3, 4, 4, 4), nn.Flatten(), nn.Linear(64, 1)), (4, 3, 8, 8),
     r"critic cannot take the samples \(shape \(3, 8, 8\), torch.float\d+\): mat1 and mat2 shapes cannot be multiplied"),
    (lambda: nn.Sequential(nn.Conv2d(3, 4, 4, 4), nn.Flatten(), nn.Linear(64, 1)), (4, 1, 32, 32),
     r"critic cannot take the samples \(shape \(1, 32, 32\)"),
])
def test_a_critic_built_for_other_samples_is_named(make_critic, samples, message):
    """Once torch's matmul or convolution message, which names neither the critic nor the data."""
    x = torch.randn(samples)
    with pytest.raises(ValueError, match=message):
        gradient_penalty(make_critic().to(x.dtype), x, x)


def test_bad_penalty_arguments_are_named():
    x = torch.zeros(4, 2)
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None, got str"):
        interpolates(x, x, generator="cpu")  # once torch.rand's "invalid combination of arguments"
    with pytest.raises(TypeError, match="f_hat must be a torch.Tensor"):
        penalty_from_scores(None, x)
    with pytest.raises(ValueError, match="computed after x_hat.requires_grad_"):
        penalty_from_scores(x.sum(1), x)  # once autograd's "element 0 of tensors does not require grad"
    with pytest.raises(TypeError, match="critic must be a torch.nn.Module"):
        critic_weights(lambda t: t)
    with pytest.raises(ValueError, match="critic must have nn.Linear layers"):
        critic_weights(nn.ReLU())  # once torch.cat's "expected a non-empty list"
