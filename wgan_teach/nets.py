"""Small networks for the 1-D and 2-D chapters: a multilayer perceptron critic and generator.

The critic maps a point :math:`x \\in \\mathbb{R}^d` to one real number :math:`f(x)`. Its hidden
layers may carry a normalisation, which matters for the gradient penalty (Chapter 5):

* ``"none"``  — what WGAN-GP prescribes;
* ``"layer"`` — layer norm, normalises each sample on its own, so the per-sample penalty stays valid;
* ``"batch"`` — batch norm, mixes the samples of a batch, so :math:`f(x_i)` depends on the other
  :math:`x_j` and :math:`\\nabla_{x_i} f` is no longer the gradient of one function.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["NORMS", "mlp", "critic_mlp", "generator_mlp", "cnn32", "res32"]

NORMS = ("none", "layer", "batch")


def _norm_layer(norm: str, width: int) -> list[nn.Module]:
    if norm == "none":
        return []
    if norm == "layer":
        return [nn.LayerNorm(width)]
    if norm == "batch":
        return [nn.BatchNorm1d(width)]
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def mlp(
    in_dim: int, out_dim: int, *, width: int = 64, depth: int = 3, norm: str = "none", spectral_norm: bool = False
) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units, each Linear → [norm] → ReLU, then a Linear output."""
    for name, value in (("in_dim", in_dim), ("out_dim", out_dim), ("width", width), ("depth", depth)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    _norm_layer(norm, 1)  # validate before building
    def linear(n_in, n_out):
        layer = nn.Linear(n_in, n_out)
        return nn.utils.parametrizations.spectral_norm(layer) if spectral_norm else layer

    layers: list[nn.Module] = []
    size = in_dim
    for _ in range(depth):
        layers += [linear(size, width), *_norm_layer(norm, width), nn.ReLU()]
        size = width
    layers.append(linear(size, out_dim))
    return nn.Sequential(*layers)


def critic_mlp(
    dim: int = 2, *, width: int = 64, depth: int = 3, norm: str = "none", spectral_norm: bool = False
) -> nn.Sequential:
    r"""A critic :math:`f: \mathbb{R}^{d} \to \mathbb{R}`; returns shape (batch, 1)."""
    return mlp(dim, 1, width=width, depth=depth, norm=norm, spectral_norm=spectral_norm)


def generator_mlp(latent_dim: int = 2, dim: int = 2, *, width: int = 64, depth: int = 3) -> nn.Sequential:
    r"""A generator :math:`G: \mathbb{R}^{k} \to \mathbb{R}^{d}`, :math:`z \sim \mathcal{N}(0, I_k)`."""
    return mlp(latent_dim, dim, width=width, depth=depth)


# -- 32 x 32 images (Chapter 7) ---------------------------------------------------------------------
# Generators map z ~ N(0, I) to images in [-1, 1] (tanh), shape (batch, 3, 32, 32); critics map
# images to one number, shape (batch, 1). Parameter counts are tested in tests/test_image_nets.py.


def _glorot(module: nn.Module) -> nn.Module:
    nn.init.xavier_uniform_(module.weight)
    nn.init.zeros_(module.bias)
    return module


def _he(module: nn.Module) -> nn.Module:
    nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
    nn.init.zeros_(module.bias)
    return module


class _Reshape(nn.Module):
    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


def cnn32(latent_dim: int = 128) -> tuple[nn.Module, nn.Module]:
    r"""The "standard CNN" of SNGAN (Miyato et al. 2018, Table 3), as common WGAN-GP baselines use it.

    Generator: :math:`z \to` linear :math:`\to 4\times4\times512 \to` three stride-2 transposed
    convolutions (4 × 4 kernels; 256, 128, 64 channels; batch norm + ReLU) :math:`\to` 3 × 3 conv
    :math:`\to \tanh`. Critic, no normalisation: seven 3 × 3 / 4 × 4 convolutions (64 … 512 channels,
    LeakyReLU 0.1, three of stride 2) :math:`\to 4\times4\times512 \to` linear. PyTorch's default
    initialisation, as in those baselines.
    """
    _positive_int("latent_dim", latent_dim)
    up = lambda c_in, c_out: [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.ReLU()]
    generator = nn.Sequential(
        nn.Linear(latent_dim, 4 * 4 * 512), _Reshape(512, 4, 4), nn.BatchNorm2d(512), nn.ReLU(),
        *up(512, 256), *up(256, 128), *up(128, 64),
        nn.Conv2d(64, 3, 3, 1, 1), nn.Tanh(),
    )
    layers: list[nn.Module] = []
    for c_in, c_out, kernel, stride in ((3, 64, 3, 1), (64, 128, 4, 2), (128, 128, 3, 1), (128, 256, 4, 2),
                                        (256, 256, 3, 1), (256, 512, 4, 2), (512, 512, 3, 1)):
        layers += [nn.Conv2d(c_in, c_out, kernel, stride, 1), nn.LeakyReLU(0.1)]
    critic = nn.Sequential(*layers, nn.Flatten(), nn.Linear(4 * 4 * 512, 1))
    return generator, critic


class _ResBlock(nn.Module):
    r"""A residual block of the WGAN-GP paper's CIFAR-10 ResNet: :math:`x + F(x)` with
    :math:`F` = norm → ReLU → [up] conv 3 × 3 → norm → ReLU → conv 3 × 3 → [mean-pool down], and a
    1 × 1 convolution on the shortcut when the resolution changes. ``first`` (the critic's input
    block) omits the leading norm and ReLU, since its input is the image itself."""

    def __init__(self, channels: int, c_in: int, resample: str | None, norm: str, first: bool = False):
        super().__init__()
        norms = {"batch": nn.BatchNorm2d, "layer": lambda c: nn.GroupNorm(1, c), "none": lambda c: nn.Identity()}
        self.resample, self.first = resample, first
        norm = "none" if first else norm  # the paper's first critic block has no normalisation
        self.norm1, self.norm2 = norms[norm](c_in), norms[norm](channels)
        self.conv1, self.conv2 = _he(nn.Conv2d(c_in, channels, 3, 1, 1)), _he(nn.Conv2d(channels, channels, 3, 1, 1))
        self.shortcut = _glorot(nn.Conv2d(c_in, channels, 1)) if resample or c_in != channels else None

    def _resample(self, x):
        if self.resample == "up":
            return nn.functional.interpolate(x, scale_factor=2, mode="nearest")
        if self.resample == "down":
            return nn.functional.avg_pool2d(x, 2)
        return x

    def forward(self, x):
        h = x if self.first else torch.relu(self.norm1(x))
        if self.resample == "up":
            h = self._resample(h)
        h = self.conv2(torch.relu(self.norm2(self.conv1(h))))
        if self.resample == "down":
            h = self._resample(h)
        if self.shortcut is None:
            return x + h
        if self.resample == "up":
            return self.shortcut(self._resample(x)) + h
        if self.first:  # the paper's optimised first block: pool, then 1 x 1 conv
            return self.shortcut(self._resample(x)) + h
        return self._resample(self.shortcut(x)) + h


def res32(latent_dim: int = 128, *, channels: int = 128, critic_norm: str = "none") -> tuple[nn.Module, nn.Module]:
    r"""The WGAN-GP paper's CIFAR-10 ResNet (Gulrajani et al. 2017, appendix).

    Generator: :math:`z \to` linear :math:`\to 4\times4\times128 \to` three up-sampling residual blocks
    (batch norm) :math:`\to 32\times32\times128 \to` BN, ReLU, 3 × 3 conv :math:`\to \tanh`. Critic: two
    down-sampling residual blocks and two plain ones (no batch norm; ``critic_norm="layer"`` adds layer
    norm, which the paper discusses as compatible with the penalty), ReLU, global mean pool, linear.
    Initialisation as the paper's code: He-uniform for the convolutions inside the blocks,
    Glorot-uniform for shortcuts, the first and last layers.
    """
    _positive_int("latent_dim", latent_dim)
    _positive_int("channels", channels)
    if critic_norm not in ("none", "layer"):
        raise ValueError(f"critic_norm must be 'none' or 'layer' (batch norm breaks the penalty), got {critic_norm!r}")
    c = channels
    generator = nn.Sequential(
        _glorot(nn.Linear(latent_dim, 4 * 4 * c)), _Reshape(c, 4, 4),
        *(_ResBlock(c, c, "up", "batch") for _ in range(3)),
        nn.BatchNorm2d(c), nn.ReLU(), _glorot(nn.Conv2d(c, 3, 3, 1, 1)), nn.Tanh(),
    )
    critic = nn.Sequential(
        _ResBlock(c, 3, "down", critic_norm, first=True), _ResBlock(c, c, "down", critic_norm),
        _ResBlock(c, c, None, critic_norm), _ResBlock(c, c, None, critic_norm),
        nn.ReLU(), _MeanPool(), _glorot(nn.Linear(c, 1)),
    )
    return generator, critic


class _MeanPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


def _positive_int(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
