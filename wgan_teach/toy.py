"""Toy distributions: 1-D families on a grid, for the chapters that compare divergences.

A distribution on a grid is a probability vector ``p`` with ``p[i]`` the mass at ``grid[i]``, so
the divergences of :mod:`wgan_teach.distances` (which need a common support) and the 1-D W1
(``w1_cdf(grid, grid, p, q)``) apply to it directly.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

__all__ = ["point_mass", "gaussian_on_grid", "mixture_on_grid"]


def _grid(grid) -> np.ndarray:
    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 1 or grid.size < 1:
        raise ValueError(f"grid must be a non-empty 1-D array, got shape {grid.shape}")
    if not np.all(np.isfinite(grid)) or np.any(np.diff(grid) <= 0):
        raise ValueError("grid must be finite and strictly increasing")
    return grid


def point_mass(grid, at: float) -> np.ndarray:
    r"""The point mass :math:`\delta_{a}` as a probability vector on ``grid`` (``at`` must be a grid point)."""
    grid = _grid(grid)
    hits = np.isclose(grid, at, rtol=0, atol=1e-9)
    if hits.sum() != 1:
        raise ValueError(f"at={at!r} is not a point of the grid")
    return hits.astype(float)


def gaussian_on_grid(grid, mean: float, std: float) -> np.ndarray:
    r""":math:`\mathcal{N}(\mu, \sigma^2)` discretised on ``grid``: each point gets the mass of its cell.

    Cells are bounded by the midpoints between grid points; the two end cells take the tails,
    so the vector sums to one exactly.
    """
    grid = _grid(grid)
    if not std > 0:
        raise ValueError(f"std must be positive, got {std!r}")
    edges = np.concatenate([[-np.inf], 0.5 * (grid[1:] + grid[:-1]), [np.inf]])
    mass = np.diff(norm.cdf(edges, loc=mean, scale=std))
    return mass / mass.sum()


def mixture_on_grid(grid, means, std: float, weights=None) -> np.ndarray:
    r""":math:`\sum_k w_k \mathcal{N}(\mu_k, \sigma^2)` on ``grid`` (equal weights by default)."""
    means = np.atleast_1d(np.asarray(means, dtype=float))
    weights = np.full(means.size, 1.0 / means.size) if weights is None else np.asarray(weights, dtype=float)
    if weights.shape != means.shape or np.any(weights < 0) or not weights.sum() > 0:
        raise ValueError("weights must be non-negative, one per mean, with a positive sum")
    weights = weights / weights.sum()
    return sum(w * gaussian_on_grid(grid, m, std) for w, m in zip(weights, means))
