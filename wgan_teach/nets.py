"""Small networks for the 1-D and 2-D chapters: a multilayer perceptron critic and generator.

The critic maps a point :math:`x \\in \\mathbb{R}^d` to one real number :math:`f(x)`. Its hidden
layers may carry a normalisation, which matters for the gradient penalty (Chapter 5):

* ``"none"``  — what WGAN-GP prescribes;
* ``"layer"`` — layer norm, normalises each sample on its own, so the per-sample penalty stays valid;
* ``"batch"`` — batch norm, mixes the samples of a batch, so :math:`f(x_i)` depends on the other
  :math:`x_j` and :math:`\\nabla_{x_i} f` is no longer the gradient of one function.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["NORMS", "INITS", "mlp", "critic_mlp", "generator_mlp", "StackedMLP", "ema_update", "cnn32", "res32", "layer_table"]

NORMS = ("none", "layer", "batch")
INITS = ("torch", "he")


def _norm_layer(norm: str, width: int) -> list[nn.Module]:
    if norm == "none":
        return []
    if norm == "layer":
        return [nn.LayerNorm(width)]
    if norm == "batch":
        return [nn.BatchNorm1d(width)]
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def mlp(
    in_dim: int, out_dim: int, *, width: int = 64, depth: int = 3, norm: str = "none", spectral_norm: bool = False,
    init: str = "torch",
) -> nn.Sequential:
    r"""``depth`` hidden layers of ``width`` units, each Linear → [norm] → ReLU, then a Linear output.

    ``init`` draws the weights: ``"torch"``, PyTorch's default, :math:`U(\pm 1/\sqrt{n_\text{in}})` for
    weights and biases; ``"he"``, the WGAN-GP paper's toy code (``gan_toy.py``): hidden layers
    He-uniform, :math:`U(\pm\sqrt{6 / n_\text{in}})`, the output layer Glorot-uniform,
    :math:`U(\pm\sqrt{6 / (n_\text{in} + n_\text{out})})`, biases zero. He's scale keeps the
    activations' size through the ReLU layers, so a generator starts spread over the plane; with
    PyTorch's default its first samples are a tiny cloud at the origin.
    """
    for name, value in (("in_dim", in_dim), ("out_dim", out_dim), ("width", width), ("depth", depth)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    _norm_layer(norm, 1)  # validate before building
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")

    def linear(n_in, n_out, gain):
        layer = nn.Linear(n_in, n_out)
        if init == "he":
            bound = math.sqrt(3 * gain / n_in) if gain else math.sqrt(6 / (n_in + n_out))  # sqrt(3) x std
            nn.init.uniform_(layer.weight, -bound, bound)
            nn.init.zeros_(layer.bias)
        return nn.utils.parametrizations.spectral_norm(layer) if spectral_norm else layer

    layers: list[nn.Module] = []
    size = in_dim
    for _ in range(depth):
        layers += [linear(size, width, gain=2), *_norm_layer(norm, width), nn.ReLU()]
        size = width
    layers.append(linear(size, out_dim, gain=None))
    return nn.Sequential(*layers)


def critic_mlp(
    dim: int = 2, *, width: int = 64, depth: int = 3, norm: str = "none", spectral_norm: bool = False,
    init: str = "torch",
) -> nn.Sequential:
    r"""A critic :math:`f: \mathbb{R}^{d} \to \mathbb{R}`; returns shape (batch, 1). ``init``: see :func:`mlp`."""
    return mlp(dim, 1, width=width, depth=depth, norm=norm, spectral_norm=spectral_norm, init=init)


def generator_mlp(latent_dim: int = 2, dim: int = 2, *, width: int = 64, depth: int = 3,
                  init: str = "torch") -> nn.Sequential:
    r"""A generator :math:`G: \mathbb{R}^{k} \to \mathbb{R}^{d}`, :math:`z \sim \mathcal{N}(0, I_k)`. ``init``: see :func:`mlp`."""
    return mlp(latent_dim, dim, width=width, depth=depth, init=init)


class StackedMLP(nn.Module):
    r"""Several MLPs of one shape, each with its own weights, evaluated as one network.

    Chapter 6 trains dozens of small, independent runs. Each of its networks is too small to keep a
    CPU core busy, so :math:`R` of them are stacked: the input's rows fall into :math:`R` equal
    blocks, block :math:`r` goes through copy :math:`r`, and every layer is one batched product
    :math:`h_r \leftarrow h_r W_r + b_r` for all copies at once (``torch.baddbmm``). Nothing mixes
    the copies, so a loss that sums the copies' own losses gives each copy exactly the gradient of
    its own loss, and Adam, RMSProp and clipping act on each copy's weights as they would alone.

    ``mlps`` are networks built by :func:`mlp` with equal sizes and no normalisation (Linear and
    ReLU layers only). Their weights are copied in; :meth:`unstack` copies them back out.
    """

    def __init__(self, mlps: Sequence[nn.Sequential]):
        super().__init__()
        mlps = list(mlps)
        if not mlps or not all(isinstance(m, nn.Sequential) for m in mlps):
            raise TypeError("mlps must be a non-empty sequence of nn.Sequential networks made by mlp()")
        kinds = [tuple(type(layer) for layer in m) for m in mlps]
        if any(kind not in (nn.Linear, nn.ReLU) for kind in kinds[0]) or any(
            hasattr(layer, "parametrizations") for layer in mlps[0]):
            raise ValueError("StackedMLP stacks plain Linear / ReLU networks (no normalisation, no spectral norm)")
        shapes = [[tuple(layer.weight.shape) for layer in m if isinstance(layer, nn.Linear)] for m in mlps]
        if any(kind != kinds[0] for kind in kinds) or any(shape != shapes[0] for shape in shapes):
            raise ValueError("every network in mlps must have the same layers and sizes")
        self.runs = len(mlps)
        layers = [[layer for layer in m if isinstance(layer, nn.Linear)] for m in mlps]
        with torch.no_grad():
            self.weights = nn.ParameterList(  # W_r of layer l, shape (R, in, out)
                torch.stack([copy[l].weight.T for copy in layers]).contiguous() for l in range(len(layers[0])))
            self.biases = nn.ParameterList(  # b_r of layer l, shape (R, 1, out)
                torch.stack([copy[l].bias[None] for copy in layers]).contiguous() for l in range(len(layers[0])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[0] % self.runs:
            raise ValueError(f"x must have shape (rows, features) with rows a multiple of {self.runs}, got {tuple(x.shape)}")
        h = x.reshape(self.runs, -1, x.shape[1])
        last = len(self.weights) - 1
        for l, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(bias, h, weight)  # h_r W_r + b_r for every copy r
            if l < last:
                h = h.relu_()  # in place: the product's backward needs its inputs, not its output
        return h.reshape(-1, h.shape[2])

    @torch.no_grad()
    def unstack(self, mlps: Sequence[nn.Sequential]) -> None:
        """Copy each copy's weights back into ``mlps`` (networks of the same shape), in place."""
        mlps = list(mlps)
        if len(mlps) != self.runs:
            raise ValueError(f"mlps must hold {self.runs} networks, got {len(mlps)}")
        for r, m in enumerate(mlps):
            for layer, weight, bias in zip([x for x in m if isinstance(x, nn.Linear)], self.weights, self.biases):
                layer.weight.copy_(weight[r].T)
                layer.bias.copy_(bias[r, 0])


@torch.no_grad()
def ema_update(average: nn.Module, model: nn.Module, decay: float) -> None:
    r"""Exponential moving average of the weights: :math:`\bar\theta \leftarrow \beta \bar\theta + (1 - \beta)\,\theta`
    with :math:`\beta` = ``decay``, for every parameter and floating-point buffer (batch-norm
    statistics); integer buffers are copied."""
    for a, p in zip(average.parameters(), model.parameters()):
        a.lerp_(p, 1 - decay)
    for a, b in zip(average.buffers(), model.buffers()):
        if a.is_floating_point():
            a.lerp_(b, 1 - decay)
        else:
            a.copy_(b)


# -- 32 x 32 images (Chapter 7) ---------------------------------------------------------------------
# Generators map z ~ N(0, I) to images in [-1, 1] (tanh), shape (batch, 3, 32, 32); critics map
# images to one number, shape (batch, 1). Parameter counts are tested in tests/test_image_nets.py.


def _glorot(module: nn.Module) -> nn.Module:
    nn.init.xavier_uniform_(module.weight)
    nn.init.zeros_(module.bias)
    return module


def _he(module: nn.Module) -> nn.Module:
    r"""The WGAN-GP code's "He" initialisation (``tflib/ops/conv2d.py``, ``he_init=True``): uniform
    with standard deviation :math:`\sqrt{4 / (\text{fan}_\text{in} + \text{fan}_\text{out})}`, fans
    :math:`c_\text{in} k^2` and :math:`c_\text{out} k^2`, zero bias. It equals PyTorch's He-uniform
    :math:`\sqrt{2 / \text{fan}_\text{in}}` where :math:`c_\text{in} = c_\text{out}`, but not on the
    critic's first convolution (3 → 128 channels), where He-uniform would be 4.7 times wider."""
    receptive = module.weight[0, 0].numel()  # k^2
    fan_in, fan_out = module.weight.shape[1] * receptive, module.weight.shape[0] * receptive
    bound = math.sqrt(3) * math.sqrt(4 / (fan_in + fan_out))  # U(-b, b) has std b / sqrt(3)
    nn.init.uniform_(module.weight, -bound, bound)
    nn.init.zeros_(module.bias)
    return module


def _normal(network: nn.Module) -> nn.Module:
    """The common PyTorch baseline's initialisation: N(0, 0.02^2) weights and zero biases for every
    linear and (transposed) convolution layer; batch norm keeps PyTorch's (scale 1, shift 0)."""
    for module in network.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
    return network


class _Reshape(nn.Module):
    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


def cnn32(latent_dim: int = 128, *, width: int = 64) -> tuple[nn.Module, nn.Module]:
    r"""The "standard CNN" of SNGAN (Miyato et al. 2018, Table 3), as common WGAN-GP baselines use it.

    Generator: :math:`z \to` linear :math:`\to 4\times4\times512 \to` three stride-2 transposed
    convolutions (4 × 4 kernels; 256, 128, 64 channels; batch norm + ReLU) :math:`\to` 3 × 3 conv
    :math:`\to \tanh`. Critic, no normalisation: seven 3 × 3 / 4 × 4 convolutions (64 … 512 channels,
    LeakyReLU 0.1, three of stride 2) :math:`\to 4\times4\times512 \to` linear. ``width`` (64 in the
    standard CNN) scales every channel count: 8, 4, 2, 1 times ``width`` in the generator, 1 to 8
    times in the critic; ``width=16`` is a network with about 1/16 of the parameters and arithmetic.
    Initialised as those baselines do (pytorch-gan-collections' ``initialize``), not with PyTorch's
    defaults: every weight of the linear and (transposed) convolution layers
    :math:`\sim \mathcal{N}(0, 0.02^2)`, biases zero, batch norm at scale 1, shift 0.
    """
    _positive_int("latent_dim", latent_dim)
    _positive_int("width", width)
    w = width
    up = lambda c_in, c_out: [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.ReLU()]
    generator = nn.Sequential(
        nn.Linear(latent_dim, 4 * 4 * 8 * w), _Reshape(8 * w, 4, 4), nn.BatchNorm2d(8 * w), nn.ReLU(),
        *up(8 * w, 4 * w), *up(4 * w, 2 * w), *up(2 * w, w),
        nn.Conv2d(w, 3, 3, 1, 1), nn.Tanh(),
    )
    layers: list[nn.Module] = []
    for c_in, c_out, kernel, stride in ((3, w, 3, 1), (w, 2 * w, 4, 2), (2 * w, 2 * w, 3, 1), (2 * w, 4 * w, 4, 2),
                                        (4 * w, 4 * w, 3, 1), (4 * w, 8 * w, 4, 2), (8 * w, 8 * w, 3, 1)):
        layers += [nn.Conv2d(c_in, c_out, kernel, stride, 1), nn.LeakyReLU(0.1)]
    critic = nn.Sequential(*layers, nn.Flatten(), nn.Linear(4 * 4 * 8 * w, 1))
    return _normal(generator), _normal(critic)


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
    Initialisation as the paper's code: its "He" uniform for the convolutions inside the blocks
    (standard deviation :math:`\sqrt{4 / (\text{fan}_\text{in} + \text{fan}_\text{out})}`, the first
    critic convolution included), Glorot-uniform for shortcuts, the first and last layers, zero biases.
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


def layer_table(network: nn.Module, input_shape: tuple[int, ...]) -> list[tuple[str, tuple[int, ...], int]]:
    """The layers of ``network`` as it runs on one input of shape ``input_shape`` (batch of 2, in eval
    mode): for each top-level layer, its name, its output shape without the batch axis and its number
    of parameters. The parameters of the rows add up to the network's."""
    rows = []
    hooks = [layer.register_forward_hook(
                 lambda module, _, output, name=name: rows.append((name, tuple(output.shape[1:]),
                                                                   sum(p.numel() for p in module.parameters()))))
             for name, layer in network.named_children()]
    was_training = network.training
    try:
        network.eval()
        with torch.no_grad():
            network(torch.zeros(2, *input_shape))
    finally:
        network.train(was_training)
        for hook in hooks:
            hook.remove()
    layers = dict(network.named_children())
    return [(_layer_name(layers[name]), shape, count) for name, shape, count in rows]


def _layer_name(layer: nn.Module) -> str:
    name = type(layer).__name__.lstrip("_")
    if isinstance(layer, _ResBlock):
        return f"{name}, {'resample ' + layer.resample if layer.resample else 'same size'}"
    if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
        return f"{name} {layer.kernel_size[0]}x{layer.kernel_size[1]}, stride {layer.stride[0]}"
    return name
