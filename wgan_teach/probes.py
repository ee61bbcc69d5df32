r"""Probes of a trained 2-D critic: how steep it is, how many linear pieces it uses, where its weights sit.

A ReLU network is piecewise linear: every on/off pattern of its ReLUs is one linear piece, so the
number of patterns met over a region counts the pieces the critic uses there (:func:`linear_pieces`).
Its Lipschitz constant on a region is its largest gradient norm there (:func:`max_gradient_norm`);
dividing :math:`f` by it gives a 1-Lipschitz function, whose dual objective is at most :math:`W_1`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .checks import finite_number, non_negative_number, positive_int, positive_number, real_array, takes_features
from .plots import critic_field

__all__ = ["max_gradient_norm", "linear_pieces", "share_at_bounds"]


def _region(extent, n) -> tuple[tuple[float, float, float, float], int]:
    """Validate ``extent = (x_min, x_max, y_min, y_max)`` (finite, min < max) and the grid size ``n``."""
    if isinstance(extent, (str, bytes)) or not hasattr(extent, "__len__") or len(extent) != 4:
        raise ValueError(f"extent must be four numbers (x_min, x_max, y_min, y_max), got {extent!r}")
    x_min, x_max, y_min, y_max = (finite_number(v, "extent") for v in extent)
    if not (x_min < x_max and y_min < y_max):
        raise ValueError(f"extent must have x_min < x_max and y_min < y_max, got {tuple(extent)!r}")
    return (x_min, x_max, y_min, y_max), positive_int(n, "n")


def max_gradient_norm(critic: nn.Module, extent, n: int = 150) -> float:
    r""":math:`\max \lVert \nabla f \rVert` over an ``n`` × ``n`` grid on ``extent``: the critic's Lipschitz constant there."""
    if not isinstance(critic, nn.Module):
        raise TypeError(f"critic must be a torch.nn.Module, got {type(critic).__name__}")
    takes_features(critic, 2, what="points of the plane")
    extent, n = _region(extent, n)
    _, _, _, gx, gy = critic_field(critic, extent, n=n)
    return float(np.hypot(gx, gy).max())


@torch.no_grad()
def linear_pieces(critic: nn.Sequential, extent, n: int = 200) -> int:
    """The number of distinct ReLU on/off patterns of ``critic`` on an ``n`` × ``n`` grid over ``extent``."""
    if not isinstance(critic, nn.Sequential) or not any(isinstance(layer, nn.ReLU) for layer in critic):
        raise ValueError("critic must be an nn.Sequential with nn.ReLU layers")
    takes_features(critic, 2, what="points of the plane")
    extent, n = _region(extent, n)
    xs, ys = np.meshgrid(np.linspace(*extent[:2], n), np.linspace(*extent[2:], n))
    h = torch.tensor(np.column_stack([xs.ravel(), ys.ravel()]), dtype=torch.float32)
    patterns = []
    for layer in critic:
        h = layer(h)
        if isinstance(layer, nn.ReLU):
            patterns.append((h > 0).numpy())
    return len(np.unique(np.packbits(np.concatenate(patterns, axis=1), axis=1), axis=0))


def share_at_bounds(weights, c: float, tolerance: float = 0.01) -> float:
    r"""The fraction of ``weights`` within ``tolerance`` × c of one of the clipping bounds :math:`\pm c`.

    ``weights``: a non-empty array (or tensor) of finite numbers; ``c`` finite and positive,
    ``tolerance`` finite and non-negative."""
    c = positive_number(c, "c")
    tolerance = non_negative_number(tolerance, "tolerance")
    weights = real_array(weights, "weights")
    if weights.size == 0 or not np.all(np.isfinite(weights)):
        raise ValueError(f"weights must be a non-empty array of finite numbers, got shape {weights.shape}")
    return float(np.mean(np.abs(np.abs(weights) - c) <= tolerance * c))
