r"""Distances between probability distributions, written out from their definitions.

For two distributions :math:`p` and :math:`q` on the real line the Wasserstein-1 distance
(earth mover's distance) is the cheapest way to move the mass of :math:`p` onto :math:`q`
when moving mass :math:`m` over a distance :math:`d` costs :math:`m \cdot d`:

.. math::

    W_1(p, q) = \inf_{\pi \in \Pi(p, q)} \mathbb{E}_{(x, y) \sim \pi} |x - y|.

In one dimension it has three equivalent closed forms, each implemented here:

* the CDF form        :math:`W_1 = \int_{-\infty}^{\infty} |F_p(x) - F_q(x)|\,dx`  (:func:`w1_cdf`),
* the quantile form   :math:`W_1 = \int_0^1 |F_p^{-1}(t) - F_q^{-1}(t)|\,dt`         (:func:`w1_quantile`),
* the linear program over couplings :math:`\pi` (:func:`w1_coupling`) and its
  Kantorovich–Rubinstein dual :math:`\sup_{\|f\|_L \le 1} \mathbb{E}_p f - \mathbb{E}_q f`
  (:func:`w1_dual`).

Between point clouds in any dimension, :func:`w1_exact` solves the transport problem exactly with
POT's network simplex. For probability vectors on a common support, :func:`kl_divergence`,
:func:`js_divergence` and :func:`total_variation` are the divergences W1 is compared with.

The argument conventions follow :func:`scipy.stats.wasserstein_distance`: ``u_values`` are the
atoms of :math:`p`, ``u_weights`` their (not necessarily normalised) masses, default uniform.
Arrays may be anything numpy reads as real numbers, or torch tensors (their values are used);
complex numbers, text, NaN and infinite atoms are refused (:mod:`wgan_teach.checks`).

Every W1 here is homogeneous, :math:`W_1(s p, s q) = |s|\, W_1(p, q)`, and each function uses it to
stay exact at any scale: values near the float limit are halved before their differences are
taken; the linear programs are solved on values divided by a power of two that brings the largest
into :math:`[1, 2)` (HiGHS treats numbers from :math:`10^{20}` up as infinite, and costs below its
tolerances as zero); and so are the point clouds of :func:`w1_exact`, whose squared distances
would otherwise over- or underflow at :math:`10^{\pm 300}`. Powers of two rescale without rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import ot
from scipy.optimize import linprog
from scipy.spatial.distance import cdist
from scipy.special import rel_entr

from .checks import normalised_weights, real_array

__all__ = [
    "as_distribution",
    "cdf",
    "quantile",
    "w1_cdf",
    "w1_quantile",
    "w1_coupling",
    "w1_dual",
    "kr_potential_1d",
    "w1_exact",
    "kl_divergence",
    "js_divergence",
    "total_variation",
    "Coupling",
    "DualPotential",
]


def as_distribution(values, weights=None, values_name: str = "values", weights_name: str = "weights"):
    """Validate a discrete distribution sum_i w_i delta_{x_i}; return (values, weights / sum(weights)).

    Raises ``ValueError``/``TypeError`` naming the argument for empty, non-1-D, non-finite or
    complex values, and for weights of the wrong shape, negative, non-finite or summing to zero.
    Weights whose sum overflows (``[1e308, 1e308]``) are first divided by the largest of them.
    """
    values = real_array(values, values_name)
    if values.ndim != 1:
        raise ValueError(f"{values_name} must be 1-D, got shape {values.shape}")
    if values.size == 0:
        raise ValueError(f"{values_name} must not be empty")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{values_name} must be finite (found NaN or inf)")
    if weights is None:
        return values, np.full(values.size, 1.0 / values.size)
    return values, normalised_weights(weights, weights_name, values.shape, values_name)


def _points(x, name: str) -> np.ndarray:
    """Evaluation points: real numbers, any shape; NaN refused (infinities are legal points)."""
    x = real_array(x, name)
    if np.isnan(x).any():
        raise ValueError(f"{name} must not contain NaN")
    return x


_HUGE = 2.0**1022  # from here on, the difference of two floats can overflow


def _difference_scale(*arrays: np.ndarray) -> float:
    """2 if some value is beyond 2^1022 (halving them keeps every difference finite), else 1."""
    return 2.0 if max(float(np.abs(a).max()) for a in arrays) >= _HUGE else 1.0


def _unit_scale(*arrays: np.ndarray) -> float:
    r"""The power of two :math:`s` with :math:`\max |v| / s \in [1, 2)` (1 if every value is 0)."""
    largest = max(float(np.abs(a).max()) for a in arrays)
    return math.ldexp(1.0, math.frexp(largest)[1] - 1) if largest > 0 else 1.0


def _sorted_cumulative(values, weights):
    """Atoms in increasing order and the cumulative masses F(x_(1)), F(x_(2)), ... at them."""
    order = np.argsort(values, kind="stable")
    return values[order], np.cumsum(weights[order])


def _cdf_on_grid(values, weights, grid):
    r"""F(x) = \sum_{i: x_i \le x} w_i evaluated at every point of ``grid``."""
    sorted_values, cumulative = _sorted_cumulative(values, weights)
    return np.concatenate([[0.0], cumulative])[np.searchsorted(sorted_values, grid, side="right")]


def _quantile_on_grid(sorted_values, cumulative, levels):
    r"""F^{-1}(t) = \min\{x : F(x) \ge t\} evaluated at every level ``t`` in (0, 1)."""
    index = np.minimum(np.searchsorted(cumulative, levels, side="left"), sorted_values.size - 1)
    return sorted_values[index]


def cdf(x, values, weights=None):
    r"""The CDF :math:`F(x) = \sum_{i:\,x_i \le x} w_i` of a discrete distribution, at each point of ``x``."""
    values, weights = as_distribution(values, weights)
    return _cdf_on_grid(values, weights, _points(x, "x"))


def quantile(t, values, weights=None):
    r"""The quantile function :math:`F^{-1}(t) = \min\{x : F(x) \ge t\}`, at each level of ``t`` in (0, 1]."""
    values, weights = as_distribution(values, weights)
    t = real_array(t, "t")
    if not np.all((t > 0) & (t <= 1)):  # written so that NaN fails too
        raise ValueError("t must lie in (0, 1]")
    return _quantile_on_grid(*_sorted_cumulative(values, weights), t)


def w1_cdf(u_values, v_values, u_weights=None, v_weights=None) -> float:
    r"""Wasserstein-1 distance in 1-D from the CDF formula.

    .. math::  W_1(p, q) = \int_{-\infty}^{\infty} |F_p(x) - F_q(x)|\,dx

    Both CDFs are step functions that only jump at atoms, so after sorting all atoms
    :math:`z_0 \le z_1 \le \dots` the integral is the finite sum
    :math:`\sum_k |F_p(z_k) - F_q(z_k)|\,(z_{k+1} - z_k)`.

    Same arguments and result as :func:`scipy.stats.wasserstein_distance`.
    """
    u_values, u_weights = as_distribution(u_values, u_weights, "u_values", "u_weights")
    v_values, v_weights = as_distribution(v_values, v_weights, "v_values", "v_weights")
    s = _difference_scale(u_values, v_values)  # W1(p, q) = s W1(p / s, q / s)
    u_values, v_values = u_values / s, v_values / s
    z = np.sort(np.concatenate([u_values, v_values]))
    left_ends, widths = z[:-1], np.diff(z)
    gap = np.abs(
        _cdf_on_grid(u_values, u_weights, left_ends) - _cdf_on_grid(v_values, v_weights, left_ends)
    )
    return s * float(np.sum(gap * widths))


def w1_quantile(u_values, v_values, u_weights=None, v_weights=None) -> float:
    r"""Wasserstein-1 distance in 1-D from the quantile formula.

    .. math::  W_1(p, q) = \int_0^1 |F_p^{-1}(t) - F_q^{-1}(t)|\,dt

    Both quantile functions are constant between consecutive cumulative masses, so the
    integral is a sum over the merged breakpoints :math:`0 = t_0 < t_1 < \dots < t_K = 1`,
    each piece evaluated at its midpoint. Arguments as :func:`w1_cdf`.
    """
    u_values, u_weights = as_distribution(u_values, u_weights, "u_values", "u_weights")
    v_values, v_weights = as_distribution(v_values, v_weights, "v_values", "v_weights")
    s = _difference_scale(u_values, v_values)  # W1(p, q) = s W1(p / s, q / s)
    u_values, v_values = u_values / s, v_values / s
    u_sorted, u_cumulative = _sorted_cumulative(u_values, u_weights)
    v_sorted, v_cumulative = _sorted_cumulative(v_values, v_weights)
    breaks = np.unique(np.concatenate([[0.0, 1.0], u_cumulative, v_cumulative]))
    breaks = breaks[breaks <= 1.0]
    breaks[-1] = 1.0
    mids, widths = 0.5 * (breaks[:-1] + breaks[1:]), np.diff(breaks)
    gap = np.abs(
        _quantile_on_grid(u_sorted, u_cumulative, mids)
        - _quantile_on_grid(v_sorted, v_cumulative, mids)
    )
    return s * float(np.sum(gap * widths))


@dataclass(frozen=True)
class Coupling:
    """An optimal transport plan: ``plan[i, j]`` is the mass moved from ``u_values[i]`` to ``v_values[j]``."""

    value: float
    plan: np.ndarray
    u_values: np.ndarray
    v_values: np.ndarray


# HiGHS at its tightest feasibility tolerances (the defaults, 1e-7, leave W1 about 1e-7 off) and
# without presolve, which on masses spanning many orders of magnitude can declare a feasible
# transport problem infeasible.
_HIGHS = dict(method="highs", options=dict(primal_feasibility_tolerance=1e-10, dual_feasibility_tolerance=1e-10,
                                          presolve=False))


def _linprog(*args, **kwargs):
    result = linprog(*args, **kwargs, **_HIGHS)
    if not result.success:  # pragma: no cover - both programs are feasible and bounded
        raise RuntimeError(f"linprog failed on a feasible, bounded program: {result.message}")
    return result


def w1_coupling(u_values, v_values, u_weights=None, v_weights=None) -> Coupling:
    r"""Wasserstein-1 distance as the linear program over couplings (Kantorovich's primal).

    .. math::

        W_1 = \min_{\pi \ge 0} \sum_{i,j} \pi_{ij}\,|x_i - y_j|
        \quad\text{s.t.}\quad \sum_j \pi_{ij} = a_i,\ \ \sum_i \pi_{ij} = b_j

    Solved with :func:`scipy.optimize.linprog` (HiGHS, feasibility tolerances 1e-10) on the values
    divided by the power of two :math:`s` that brings the largest into :math:`[1, 2)`; the value is
    :math:`s` times the scaled program's, within about :math:`10^{-9} s`. Meant for small supports:
    the program has ``len(u_values) * len(v_values)`` variables. Arguments as :func:`w1_cdf`.
    """
    x, a = as_distribution(u_values, u_weights, "u_values", "u_weights")
    y, b = as_distribution(v_values, v_weights, "v_values", "v_weights")
    s = _unit_scale(x, y)
    m, n = x.size, y.size
    cost = np.abs(x[:, None] / s - y[None, :] / s).ravel()  # |x_i - y_j| / s
    row_sums = np.kron(np.eye(m), np.ones((1, n)))  # sum_j pi_ij
    col_sums = np.kron(np.ones((1, m)), np.eye(n))  # sum_i pi_ij
    result = _linprog(cost, A_eq=np.vstack([row_sums, col_sums]), b_eq=np.concatenate([a, b]), bounds=(0, None))
    plan = np.clip(result.x.reshape(m, n), 0.0, None)
    return Coupling(value=s * float(result.fun), plan=plan, u_values=x, v_values=y)


@dataclass(frozen=True)
class DualPotential:
    """A 1-Lipschitz critic ``f`` on the merged support ``support`` attaining ``value`` = E_p f − E_q f."""

    value: float
    support: np.ndarray
    f: np.ndarray


def w1_dual(u_values, v_values, u_weights=None, v_weights=None) -> DualPotential:
    r"""Wasserstein-1 distance from the Kantorovich–Rubinstein dual, as a linear program.

    .. math::

        W_1(p, q) = \sup_{\|f\|_L \le 1} \ \mathbb{E}_{x \sim p} f(x) - \mathbb{E}_{y \sim q} f(y)

    On a discrete problem only the values of :math:`f` on the merged support
    :math:`z_0 < z_1 < \dots < z_K` matter, and in 1-D the Lipschitz condition reduces to
    :math:`|f(z_{k+1}) - f(z_k)| \le z_{k+1} - z_k` between neighbours. The constant in
    :math:`f` is fixed by :math:`f(z_0) = 0`. The optimal :math:`f` is not unique: this
    returns the one the solver finds. Arguments as :func:`w1_cdf`.

    Solved with :func:`scipy.optimize.linprog` (HiGHS, feasibility tolerances 1e-10) on the support
    divided by the power of two :math:`s` that brings the largest into :math:`[1, 2)`; :math:`f` is
    then scaled back. The solver may overstep a constraint by its tolerance, so each step of its
    :math:`f` is clipped back to :math:`\pm (z_{k+1} - z_k)`: the returned :math:`f` is 1-Lipschitz
    (up to the rounding of the sum that rebuilds it), and ``value`` is its
    :math:`\mathbb{E}_p f - \mathbb{E}_q f`, within about :math:`10^{-9} s` of :math:`W_1`.
    """
    x, a = as_distribution(u_values, u_weights, "u_values", "u_weights")
    y, b = as_distribution(v_values, v_weights, "v_values", "v_weights")
    support = np.unique(np.concatenate([x, y]))
    k = support.size
    mass = np.zeros(k)  # p(z) - q(z): the objective's coefficient on f(z)
    np.add.at(mass, np.searchsorted(support, x), a)
    np.add.at(mass, np.searchsorted(support, y), -b)
    if k == 1:
        return DualPotential(value=0.0, support=support, f=np.zeros(1))
    s = _unit_scale(support)
    steps = np.eye(k)[1:] - np.eye(k)[:-1]  # rows: f(z_{k+1}) - f(z_k)
    gaps = np.diff(support / s)
    bounds = [(0.0, 0.0)] + [(None, None)] * (k - 1)
    result = _linprog(-mass, A_ub=np.vstack([steps, -steps]), b_ub=np.concatenate([gaps, gaps]), bounds=bounds)
    f = s * np.concatenate([[0.0], np.cumsum(np.clip(np.diff(result.x), -gaps, gaps))])
    return DualPotential(value=float(mass @ f), support=support, f=f)


def kr_potential_1d(x, u_values, v_values, u_weights=None, v_weights=None) -> np.ndarray:
    r"""The optimal 1-D critic in closed form: :math:`f' = \operatorname{sign}(F_q - F_p)`, at the points ``x``.

    Integrating by parts, :math:`\mathbb{E}_p f - \mathbb{E}_q f = -\int f'(t)\,(F_p(t) - F_q(t))\,dt`,
    so among functions with :math:`|f'| \le 1` the best slope is :math:`-1` where :math:`p` is ahead
    (:math:`F_p > F_q`), :math:`+1` where :math:`q` is, and the maximum is :math:`\int |F_p - F_q|\,dt = W_1`.
    Normalised by :math:`f = 0` at the leftmost atom; constant outside the atoms.
    """
    u_values, u_weights = as_distribution(u_values, u_weights, "u_values", "u_weights")
    v_values, v_weights = as_distribution(v_values, v_weights, "v_values", "v_weights")
    x = _points(x, "x")
    z = np.unique(np.concatenate([u_values, v_values]))
    slope = np.sign(_cdf_on_grid(v_values, v_weights, z[:-1]) - _cdf_on_grid(u_values, u_weights, z[:-1]))
    s = _difference_scale(z)  # f scales with the atoms: f(x) = s f_{1/s}(x / s)
    f_at_z = np.concatenate([[0.0], np.cumsum(slope * np.diff(z / s))])
    return s * np.interp(x / s, z / s, f_at_z)


def _point_cloud(points, name: str) -> np.ndarray:
    """Validate a point cloud: (n,) is read as n points on the line, (n, d) as n points in R^d."""
    points = real_array(points, name)
    if points.ndim == 1:
        points = points[:, None]
    if points.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, d), got {points.shape}")
    if points.shape[0] == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return points


def w1_exact(x, y, a=None, b=None) -> float:
    r"""Exact Wasserstein-1 distance between weighted point clouds, Euclidean ground cost.

    .. math::

        W_1 = \min_{\pi \ge 0} \sum_{i,j} \pi_{ij}\,\lVert x_i - y_j \rVert_2
        \quad\text{s.t.}\quad \pi \mathbf{1} = a,\ \pi^\top \mathbf{1} = b

    ``x`` has shape (n, d) or (n,), ``y`` shape (m, d) or (m,); ``a`` and ``b`` are their masses
    (uniform by default, normalised). Solved by POT's network simplex (:func:`ot.emd2`), exact up
    to floating point; its cost grows roughly cubically, so keep n, m to a few thousand.

    The distances are computed from the differences, :math:`\sqrt{\sum_k (x_{ik} - y_{jk})^2}`
    (:func:`scipy.spatial.distance.cdist`), not as :math:`\sqrt{|x|^2 + |y|^2 - 2 x \cdot y}`,
    which cancels (equal clouds would be :math:`10^{-8}` apart, and points :math:`10^{-6}` apart
    near 1000 none), and on the points divided by the power of two that brings the largest
    coordinate into :math:`[1, 2)`, so that the squares neither overflow nor underflow. If the
    simplex stops at its iteration limit before the optimum, a RuntimeError says so.
    """
    x, y = _point_cloud(x, "x"), _point_cloud(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    _, a = as_distribution(np.zeros(len(x)), a, "x", "a")
    _, b = as_distribution(np.zeros(len(y)), b, "y", "b")
    s = _unit_scale(x, y)
    cost = cdist(x / s, y / s)  # ||x_i - y_j|| / s
    value, log = ot.emd2(a, b, cost, numItermax=10_000_000, log=True)
    if log["warning"] is not None:
        raise RuntimeError(f"the network simplex did not reach the optimum: {log['warning']}")
    return s * float(value)


def _probability_vectors(p, q):
    """Validate two probability vectors on a common support (same shape, >= 0, each summing to 1)."""
    arrays = []
    for name, v in (("p", p), ("q", q)):
        v = real_array(v, name, what="an array of probabilities")
        if v.size == 0:
            raise ValueError(f"{name} must not be empty")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name} must be finite (found NaN or inf)")
        if np.any(v < 0):
            raise ValueError(f"{name} must be non-negative")
        if abs(v.sum() - 1.0) > 1e-9:
            raise ValueError(f"{name} must sum to 1 (within 1e-9), sums to {v.sum():.12g}")
        arrays.append(v)
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(f"p and q must have the same shape, got {arrays[0].shape} and {arrays[1].shape}")
    return arrays


def kl_divergence(p, q) -> float:
    r"""Kullback–Leibler divergence of probability vectors, natural log.

    .. math::  \mathrm{KL}(p \Vert q) = \sum_x p(x) \log \frac{p(x)}{q(x)}

    with :math:`0 \log \frac{0}{q} = 0`; it is :math:`+\infty` as soon as some :math:`p(x) > 0 = q(x)`.
    """
    p, q = _probability_vectors(p, q)
    return float(np.sum(rel_entr(p, q)))


def js_divergence(p, q) -> float:
    r"""Jensen–Shannon divergence of probability vectors, natural log.

    .. math::

        \mathrm{JS}(p, q) = \tfrac12 \mathrm{KL}(p \Vert m) + \tfrac12 \mathrm{KL}(q \Vert m),
        \qquad m = \tfrac12 (p + q)

    Always finite, :math:`0 \le \mathrm{JS} \le \log 2`, with :math:`\log 2` exactly when the
    supports of :math:`p` and :math:`q` are disjoint.
    """
    p, q = _probability_vectors(p, q)
    m = 0.5 * (p + q)
    return float(0.5 * np.sum(rel_entr(p, m)) + 0.5 * np.sum(rel_entr(q, m)))


def total_variation(p, q) -> float:
    r"""Total variation distance of probability vectors, :math:`\delta(p, q) = \tfrac12 \sum_x |p(x) - q(x)|`."""
    p, q = _probability_vectors(p, q)
    return float(0.5 * np.sum(np.abs(p - q)))
