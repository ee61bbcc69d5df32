"""Small networks for the 1-D and 2-D chapters: a multilayer perceptron critic and generator.

The critic maps a point :math:`x \\in \\mathbb{R}^d` to one real number :math:`f(x)`. Its hidden
layers may carry a normalisation, which matters for the gradient penalty (Chapter 5):

* ``"none"``  — what WGAN-GP prescribes;
* ``"layer"`` — layer norm, normalises each sample on its own, so the per-sample penalty stays valid;
* ``"batch"`` — batch norm, mixes the samples of a batch, so :math:`f(x_i)` depends on the other
  :math:`x_j` and :math:`\\nabla_{x_i} f` is no longer the gradient of one function.
"""

from __future__ import annotations

from torch import nn

__all__ = ["NORMS", "mlp", "critic_mlp", "generator_mlp"]

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
