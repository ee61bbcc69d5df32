"""The 32 x 32 image networks: shapes, parameter counts, initialisation, per-sample critics."""

import pytest
import torch

from wgan_teach.nets import cnn32, layer_table, res32
from wgan_teach.penalties import gradient_penalty

# name -> (generator parameters, critic parameters), counted by hand from the layer lists in the docstrings
PARAMETERS = {
    "cnn32": (3_813_379, 5_860_865),
    "res32": (1_204_483, 1_053_825),
    "res32-layer-norm": (1_204_483, 1_055_361),  # + 3 blocks x 2 layer norms x 2 x 128 affine parameters
}
BUILD = {"cnn32": lambda: cnn32(), "res32": lambda: res32(), "res32-layer-norm": lambda: res32(critic_norm="layer")}


def count(module):
    return sum(p.numel() for p in module.parameters())


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", list(PARAMETERS))
def test_shapes_ranges_and_parameter_counts(name):
    torch.manual_seed(0)
    generator, critic = BUILD[name]()
    assert (count(generator), count(critic)) == PARAMETERS[name]
    images = generator(torch.randn(3, 128))
    assert images.shape == (3, 3, 32, 32)
    assert images.abs().max() <= 1  # tanh output, the range of the data after x / 127.5 - 1
    assert critic(images).shape == (3, 1)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in critic.modules())


def test_res32_linear_layer_count_by_hand():
    # generator: linear 128 -> 4*4*128, three up blocks (two 3x3 convs, a 1x1 shortcut, two batch norms), BN, 3x3 conv to RGB
    block = 2 * (128 * 128 * 9 + 128) + (128 * 128 + 128) + 2 * 2 * 128
    assert (128 * 2048 + 2048) + 3 * block + 2 * 128 + (128 * 3 * 9 + 3) == PARAMETERS["res32"][0]


@pytest.mark.parametrize("name", ["cnn32", "res32-layer-norm"])
def test_critic_output_for_one_image_ignores_the_rest_of_the_batch(name):
    """No batch norm in the critic: f(x_i) is a function of x_i alone, as the per-sample penalty needs."""
    torch.manual_seed(0)
    _, critic = BUILD[name]()
    batch = torch.rand(4, 3, 32, 32) * 2 - 1
    moved = batch.clone()
    moved[1:] = -moved[1:]
    with torch.no_grad():
        assert torch.allclose(critic(batch)[0], critic(moved)[0], atol=1e-6)


def test_res32_initialisation_follows_the_paper():
    torch.manual_seed(0)
    _, critic = res32()
    conv = critic[1].conv1.weight  # a 3x3 conv inside a block: He-uniform, bound sqrt(6 / fan_in)
    bound = (6 / (128 * 9)) ** 0.5
    assert conv.abs().max() <= bound and conv.abs().max() > 0.95 * bound
    shortcut = critic[1].shortcut.weight  # Glorot-uniform, bound sqrt(6 / (fan_in + fan_out))
    bound = (6 / (128 + 128)) ** 0.5
    assert shortcut.abs().max() <= bound and shortcut.abs().max() > 0.95 * bound


def test_gradient_penalty_on_images():
    torch.manual_seed(0)
    generator, critic = cnn32()
    real = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        fake = generator(torch.randn(2, 128))
    penalty, norms = gradient_penalty(critic, real, fake)
    assert norms.shape == (2,) and torch.isfinite(penalty)
    penalty.backward()
    # every weight shapes the input gradient (the output bias does not, so it gets none)
    assert all(p.grad is not None for name, p in critic.named_parameters() if name.endswith("weight"))


def test_bad_arguments():
    with pytest.raises(ValueError, match="latent_dim must be a positive integer"):
        cnn32(latent_dim=0)
    with pytest.raises(ValueError, match="critic_norm must be 'none' or 'layer'"):
        res32(critic_norm="batch")


def test_res32_first_critic_convolution_follows_the_official_he_formula():
    """The official "he" init has std sqrt(4 / (fan_in + fan_out)); on the 3 -> 128 first convolution
    that is 4.7 times narrower than PyTorch's He-uniform sqrt(2 / fan_in), which it once used."""
    torch.manual_seed(0)
    _, critic = res32()
    first = critic[0].conv1.weight
    bound = (3 * 4 / (3 * 9 + 128 * 9)) ** 0.5  # uniform on [-b, b]: std b / sqrt(3)
    assert first.abs().max() <= bound and first.abs().max() > 0.95 * bound
    assert (6 / 27) ** 0.5 / bound > 4.6  # the He-uniform bound it replaced
    assert torch.all(critic[0].conv1.bias == 0)


def test_cnn32_is_initialised_as_the_pytorch_baseline():
    """N(0, 0.02^2) weights and zero biases in every linear and (transposed) convolution layer."""
    torch.manual_seed(0)
    for network in cnn32():
        layers = [m for m in network.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
        weights = torch.cat([m.weight.flatten() for m in layers])
        assert abs(weights.std().item() - 0.02) < 2e-4 and abs(weights.mean().item()) < 1e-4
        assert all(torch.all(m.bias == 0) for m in layers)


@pytest.mark.parametrize("build, generator_out", [(lambda: cnn32(width=16), (3, 32, 32)), (lambda: res32(channels=32), (3, 32, 32))])
def test_layer_tables_add_up_and_end_in_the_right_shapes(build, generator_out):
    generator, critic = build()
    for network, shape, last in ((generator, (128,), generator_out), (critic, (3, 32, 32), (1,))):
        rows = layer_table(network, shape)
        assert sum(count for *_, count in rows) == sum(p.numel() for p in network.parameters())
        assert rows[-1][1] == last and len(rows) == len(list(network.children()))
        assert network.training  # left as it was found


def test_cnn32_width_scales_every_layer():
    narrow, full = cnn32(width=16), cnn32()
    for a, b in zip(narrow, full):
        count = lambda module: sum(p.numel() for p in module.parameters())
        assert count(a) < count(b) or count(b) == 0
    with pytest.raises(ValueError, match="width must be a positive integer"):
        cnn32(width=0)
