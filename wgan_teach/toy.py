r"""Toy distributions: 1-D families on a grid, and the 2-D mixtures of the WGAN-GP paper's toy code.

A distribution on a grid is a probability vector ``p`` with ``p[i]`` the mass at ``grid[i]``, so
the divergences of :mod:`wgan_teach.distances` (which need a common support) and the 1-D W1
(``w1_cdf(grid, grid, p, q)``) apply to it directly.

The 2-D data sets, as the paper's toy experiments define them (:func:`sample`):

* ``8gaussians``: centres :math:`2(\cos k\pi/4, \sin k\pi/4)`, std 0.02, all divided by 1.414;
* ``25gaussians``: centres :math:`(2i, 2j)`, :math:`i, j \in \{-2, \dots, 2\}`, std 0.05, divided by 2.828;
* ``swissroll``: the swiss roll :math:`(t \cos t, t \sin t)`, :math:`t = \tfrac{3\pi}{2}(1 + 2u)`,
  :math:`u \sim U[0, 1]`, with Gaussian noise of std 0.25, divided by 7.5.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from scipy.stats import norm

from .checks import finite_number, normalised_weights, number, positive_int, real_array, torch_generator

__all__ = ["point_mass", "gaussian_on_grid", "mixture_on_grid", "DATASETS", "sample", "mode_centres", "mode_std"]

DATASETS = ("8gaussians", "25gaussians", "swissroll")
_MIXTURES = {  # name -> (unscaled centres, std, divisor)
    "8gaussians": (
        [(2 * math.cos(k * math.pi / 4), 2 * math.sin(k * math.pi / 4)) for k in range(8)],
        0.02,
        1.414,
    ),
    "25gaussians": ([(2.0 * i, 2.0 * j) for i in range(-2, 3) for j in range(-2, 3)], 0.05, 2.828),
}


def _grid(grid) -> np.ndarray:
    grid = real_array(grid, "grid")
    if grid.ndim != 1 or grid.size < 1:
        raise ValueError(f"grid must be a non-empty 1-D array, got shape {grid.shape}")
    if not np.all(np.isfinite(grid)) or np.any(np.diff(grid) <= 0):
        raise ValueError("grid must be finite and strictly increasing")
    return grid


def point_mass(grid, at: float) -> np.ndarray:
    r"""The point mass :math:`\delta_{a}` as a probability vector on ``grid`` (``at`` must be a grid point)."""
    grid = _grid(grid)
    hits = np.isclose(grid, finite_number(at, "at"), rtol=0, atol=1e-9)
    if hits.sum() != 1:
        raise ValueError(f"at={at!r} is not a point of the grid")
    return hits.astype(float)


def gaussian_on_grid(grid, mean: float, std: float) -> np.ndarray:
    r""":math:`\mathcal{N}(\mu, \sigma^2)` discretised on ``grid``: each point gets the mass of its cell.

    Cells are bounded by the midpoints between grid points; the two end cells take the tails,
    so the vector sums to one exactly. ``mean`` must be finite and ``std`` finite and positive.
    """
    grid = _grid(grid)
    mean = finite_number(mean, "mean")
    std = number(std, "std")
    if not 0 < std < np.inf:
        raise ValueError(f"std must be positive and finite, got {std!r}")
    edges = np.concatenate([[-np.inf], 0.5 * (grid[1:] + grid[:-1]), [np.inf]])
    with np.errstate(over="ignore"):  # (edge - mean) / std beyond the float range is +-inf: F = 0 or 1, as it should
        mass = np.diff(norm.cdf(edges, loc=mean, scale=std))
    mass = mass.clip(min=0.0)  # differences of nearly equal CDF values can round below zero (std >> grid spacing)
    return mass / mass.sum()


def mixture_on_grid(grid, means, std: float, weights=None) -> np.ndarray:
    r""":math:`\sum_k w_k \mathcal{N}(\mu_k, \sigma^2)` on ``grid`` (equal weights by default, normalised).

    ``means`` (a number or a 1-D array) must be finite; ``weights``, one per mean, finite and
    non-negative with a positive sum.
    """
    means = np.atleast_1d(real_array(means, "means"))
    if means.ndim != 1 or means.size == 0:
        raise ValueError(f"means must be a number or a non-empty 1-D array, got shape {means.shape}")
    if not np.all(np.isfinite(means)):
        raise ValueError("means must be finite (found NaN or inf)")
    weights = normalised_weights(np.full(means.size, 1.0 / means.size) if weights is None else weights,
                                 "weights", means.shape, "means")
    return sum(w * gaussian_on_grid(grid, m, std) for w, m in zip(weights, means))


@functools.lru_cache(maxsize=None)
def _unscaled_centres(name: str, device: torch.device | None) -> torch.Tensor:
    """A mixture's centres before scaling, made once per device (training draws thousands of batches)."""
    return torch.tensor(_MIXTURES[name][0], dtype=torch.float32, device=device)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(DATASETS)}")
    return name


def mode_centres(name: str) -> torch.Tensor:
    """The (scaled) centres of a mixture data set, shape (modes, 2); not defined for ``swissroll``."""
    if _check_name(name) not in _MIXTURES:
        raise ValueError(f"{name!r} has no modes; mixtures: {', '.join(_MIXTURES)}")
    centres, _, divisor = _MIXTURES[name]
    return torch.tensor(centres, dtype=torch.float32) / divisor


def mode_std(name: str) -> float:
    """The (scaled) standard deviation of each mode of a mixture data set."""
    mode_centres(name)  # validates
    _, std, divisor = _MIXTURES[name]
    return std / divisor


def sample(name: str, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` samples of a 2-D toy data set (module docstring), a float32 tensor of shape (n, 2).

    The samples are drawn on the device of ``generator`` (the CPU without one).
    """
    _check_name(name)
    n = positive_int(n, "n")
    torch_generator(generator)
    device = generator.device if generator is not None else None
    if name == "swissroll":
        u = torch.rand(n, generator=generator, device=device)
        t = 1.5 * math.pi * (1 + 2 * u)
        roll = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
        return (roll + 0.25 * torch.randn(n, 2, generator=generator, device=device)) / 7.5
    _, std, divisor = _MIXTURES[name]
    centres = _unscaled_centres(name, device)
    which = torch.randint(len(centres), (n,), generator=generator, device=device)
    return (centres[which] + std * torch.randn(n, 2, generator=generator, device=device)) / divisor
