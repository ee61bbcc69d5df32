"""Figures the chapters share: point masses, CDFs with the W1 area, quantiles, transport plans, potentials.

Every ``plot_*`` function draws on a given matplotlib ``Axes`` and returns it, so a chapter
composes panels freely. Colours are fixed across the book: ``P_COLOR`` for the data side p,
``Q_COLOR`` for the model side q, ``GAP_COLOR`` for the area between them.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from . import toy
from .distances import Coupling, DualPotential, as_distribution, cdf, quantile

__all__ = [
    "P_COLOR",
    "Q_COLOR",
    "GAP_COLOR",
    "figure",
    "plot_masses",
    "plot_cdfs",
    "plot_quantiles",
    "plot_transport",
    "plot_plan",
    "plot_potential",
    "critic_field",
    "plot_critic",
    "plot_samples",
    "plot_modes",
    "BOOK_STYLE",
    "book_style",
]

P_COLOR = "#1f77b4"
Q_COLOR = "#d62728"
GAP_COLOR = "#9467bd"


# Figures are shown at figure.dpi CSS pixels per inch, so a font of s points is s * 90 / 72 px tall:
# 8 points is 10 px. The text column of the book is about 680 px wide on a desktop screen,
# 7.5 inches at this dpi: a figure that wide is shown at its full size.
BOOK_STYLE = {
    "figure.dpi": 90,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
}


def book_style() -> None:
    """The book's figure style; every chapter calls it in its first cell.

    Sets ``BOOK_STYLE`` (no text smaller than 8 points, which is 10 CSS pixels at 90 dpi) and, in
    IPython, stores inline figures as "retina" PNGs: rendered at twice the pixels and shown at
    their size in CSS pixels, so they are sharp on high-density screens.
    """
    plt.rcParams.update(BOOK_STYLE)
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # plain Python: nothing to display inline
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def figure(ncols: int = 1, *, width: float = 4.2, height: float = 3.0):
    """A figure with ``ncols`` side-by-side axes and a constrained layout."""
    return plt.subplots(1, ncols, figsize=(width * ncols, height), layout="constrained")


def plot_masses(ax, values, weights=None, *, color=P_COLOR, label=None, sign=1.0):
    r"""Point masses :math:`\sum_i w_i \delta_{x_i}` as stems of height :math:`w_i` (``sign=-1`` hangs them down)."""
    values, weights = as_distribution(values, weights)
    ax.vlines(values, 0, sign * weights, color=color, lw=3, label=label)
    ax.plot(values, sign * weights, "o", color=color)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel("x")
    return ax


def _steps(u_values, v_values, margin):
    """The grid on which both step CDFs are drawn: every atom plus a margin on each side."""
    lo = min(u_values.min(), v_values.min()) - margin
    hi = max(u_values.max(), v_values.max()) + margin
    return np.unique(np.concatenate([[lo, hi], u_values, v_values]))


def plot_cdfs(ax, u_values, v_values, u_weights=None, v_weights=None, *, margin=1.0):
    r"""Both CDFs as right-continuous steps, with the area :math:`\int |F_p - F_q|\,dx` shaded."""
    u_values, u_weights = as_distribution(u_values, u_weights, "u_values", "u_weights")
    v_values, v_weights = as_distribution(v_values, v_weights, "v_values", "v_weights")
    grid = _steps(u_values, v_values, margin)
    fu, fv = cdf(grid, u_values, u_weights), cdf(grid, v_values, v_weights)
    ax.fill_between(grid, fu, fv, step="post", color=GAP_COLOR, alpha=0.35, lw=0, label=r"$|F_p - F_q|$")
    ax.step(grid, fu, where="post", color=P_COLOR, lw=2, label="$F_p$")
    ax.step(grid, fv, where="post", color=Q_COLOR, lw=2, ls="--", label="$F_q$")
    ax.set_xlim(grid[0], grid[-1])
    ax.set_ylim(-0.03, 1.05)
    ax.set_xlabel("x")
    ax.set_ylabel("cumulative mass")
    return ax


def plot_quantiles(ax, u_values, v_values, u_weights=None, v_weights=None, *, resolution=2001):
    r"""Both quantile functions on (0, 1] with the area :math:`\int_0^1 |F_p^{-1} - F_q^{-1}|\,dt` shaded."""
    t = np.linspace(0, 1, resolution)[1:]
    qu, qv = quantile(t, u_values, u_weights), quantile(t, v_values, v_weights)
    ax.fill_between(t, qu, qv, color=GAP_COLOR, alpha=0.35, lw=0, label=r"$|F_p^{-1} - F_q^{-1}|$")
    ax.plot(t, qu, color=P_COLOR, lw=2, label="$F_p^{-1}$")
    ax.plot(t, qv, color=Q_COLOR, lw=2, ls="--", label="$F_q^{-1}$")
    ax.set_xlim(0, 1)
    ax.set_xlabel("t (cumulative mass)")
    ax.set_ylabel("x")
    return ax


def plot_transport(ax, coupling: Coupling, *, u_weights=None, v_weights=None, threshold=1e-9):
    r"""The earth mover's picture: p's masses above the axis, q's below, an arrow for each :math:`\pi_{ij} > 0`.

    Arrow width is proportional to the mass moved; the label gives mass × distance.
    """
    x, y, plan = coupling.u_values, coupling.v_values, coupling.plan
    plot_masses(ax, x, plan.sum(axis=1), color=P_COLOR, label="p (to move)")
    plot_masses(ax, y, plan.sum(axis=0), color=Q_COLOR, label="q (target)", sign=-1.0)
    for i, j in zip(*np.nonzero(plan > threshold)):
        mass = plan[i, j]
        ax.annotate(
            "",
            xy=(y[j], -0.05),
            xytext=(x[i], 0.05),
            arrowprops=dict(arrowstyle="-|>", lw=1 + 6 * mass, color="0.25", shrinkA=0, shrinkB=0),
        )
        ax.text(
            (x[i] + y[j]) / 2, 0.12, f"{mass:.2g}×{abs(x[i] - y[j]):.2g}", ha="center", fontsize=8
        )
    ax.set_ylabel("mass (q drawn downwards)")
    return ax


def plot_plan(ax, coupling: Coupling, *, cmap="Purples"):
    r"""The coupling matrix :math:`\pi_{ij}` as an annotated heat map (rows: atoms of p, columns: atoms of q)."""
    plan = coupling.plan
    ax.imshow(plan, cmap=cmap, vmin=0, vmax=max(plan.max(), 1e-12))
    ax.set_xticks(range(plan.shape[1]), [f"{v:g}" for v in coupling.v_values])
    ax.set_yticks(range(plan.shape[0]), [f"{v:g}" for v in coupling.u_values])
    ax.set_xlabel("y (atoms of q)")
    ax.set_ylabel("x (atoms of p)")
    for (i, j), mass in np.ndenumerate(plan):
        ax.text(j, i, f"{mass:.2f}", ha="center", va="center", color="k" if mass < 0.6 * plan.max() else "w")
    return ax


def plot_potential(ax, dual: DualPotential, u_values, v_values, *, margin=0.5):
    r"""A 1-Lipschitz potential f from :func:`~wgan_teach.distances.w1_dual`, drawn piecewise linear.

    The atoms of p and q are marked on the curve, so the reader sees f high on p and low on q.
    """
    z, f = dual.support, dual.f
    ax.plot(z, f, color="k", lw=2, label="f (1-Lipschitz)")
    ax.plot([z[0] - margin, z[0]], [f[0], f[0]], color="k", lw=2, ls=":")
    ax.plot([z[-1], z[-1] + margin], [f[-1], f[-1]], color="k", lw=2, ls=":")
    for values, color, name in ((u_values, P_COLOR, "atoms of p"), (v_values, Q_COLOR, "atoms of q")):
        values = np.asarray(values, dtype=float)
        ax.plot(values, np.interp(values, z, f), "o", ms=9, color=color, label=name)
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    return ax


def critic_field(critic, extent, n: int = 80):
    r"""A critic's values :math:`f(x)` and gradients :math:`\nabla f(x)` on an ``n`` × ``n`` mesh over
    ``extent = (x_min, x_max, y_min, y_max)``. Returns ``(X, Y, F, dF_dx, dF_dy)`` as arrays."""
    x_min, x_max, y_min, y_max = extent
    X, Y = np.meshgrid(np.linspace(x_min, x_max, n), np.linspace(y_min, y_max, n))
    points = torch.tensor(np.column_stack([X.ravel(), Y.ravel()]), dtype=torch.float32, requires_grad=True)
    was_training = critic.training
    critic.eval()
    with torch.enable_grad():
        values = critic(points).squeeze(-1)
        (grad,) = torch.autograd.grad(values.sum(), points)
    critic.train(was_training)
    shape = X.shape
    return X, Y, values.detach().numpy().reshape(shape), *(g.numpy().reshape(shape) for g in grad.T)


def plot_samples(ax, real=None, fake=None, *, size=4, alpha=0.5):
    """Real samples in the data colour, generated ones in the model colour."""
    for points, color, label in ((real, P_COLOR, "real"), (fake, Q_COLOR, "generated")):
        if points is not None:
            points = np.asarray(points)
            ax.scatter(points[:, 0], points[:, 1], s=size, color=color, alpha=alpha, lw=0, label=label)
    ax.set_aspect("equal")
    return ax


def plot_critic(ax, critic, real=None, fake=None, *, extent=(-3, 3, -3, 3), levels=20, arrows=15, cmap="viridis"):
    r"""A 2-D critic as filled contours of :math:`f`, its gradient field :math:`\nabla f` as arrows
    (on an ``arrows`` × ``arrows`` grid) and the two sample sets on top. Returns the contour set.

    Arrows are drawn to scale (a unit gradient spans two thirds of the arrow spacing) up to norm
    :math:`\lVert \nabla f \rVert = 2`; steeper gradients are drawn at that length.
    """
    X, Y, F, _, _ = critic_field(critic, extent, n=100)
    contours = ax.contourf(X, Y, F, levels=levels, cmap=cmap, alpha=0.55)
    ax.contour(X, Y, F, levels=levels, colors="k", linewidths=0.3, alpha=0.4)
    Xa, Ya, _, Gx, Gy = critic_field(critic, extent, n=arrows)
    shrink = np.minimum(1.0, 2.0 / np.maximum(np.hypot(Gx, Gy), 1e-12))
    Gx, Gy = Gx * shrink, Gy * shrink
    ax.quiver(Xa, Ya, Gx, Gy, color="k", alpha=0.7, angles="xy", scale_units="xy", scale=arrows / (extent[1] - extent[0]) * 1.5)
    plot_samples(ax, real, fake)
    ax.set(xlim=extent[:2], ylim=extent[2:])
    return contours


def plot_modes(ax, name: str, *, color="0.25"):
    r"""The 3-std circles :math:`\lVert x - \mu_k \rVert = 3\sigma` of a mixture's modes: a sample inside
    one is *high quality* (:func:`wgan_teach.metrics.mode_coverage`)."""
    radius = 3 * toy.mode_std(name)
    for cx, cy in toy.mode_centres(name).tolist():
        ax.add_patch(plt.Circle((cx, cy), radius, fill=False, color=color, lw=0.8))
    return ax


def penalty_geometry(real, fake, epsilon) -> dict:
    r"""Where the gradient penalty looks, against where an optimal critic is pinned to slope 1.

    Algorithm 1 pairs ``real[i]`` with ``fake[i]`` as drawn (the independent coupling) and puts its
    interpolate :math:`\hat x_i = \epsilon_i x_i + (1 - \epsilon_i)\tilde x_i` on that segment.
    The optimal plan pairs :math:`x_i` with :math:`\tilde x_{\sigma(i)}` instead, the assignment
    that minimises :math:`\sum_i \lVert x_i - \tilde x_{\sigma(i)} \rVert` (for two uniform samples of
    one size it is an optimal transport plan). With optimal dual potentials :math:`u, v`
    (:math:`u_i + v_j \le \lVert x_i - \tilde x_j \rVert`, POT's network simplex), both

    .. math::

        f_+(x) = \min_j \big(\lVert x - \tilde x_j \rVert - v_j\big), \qquad
        f_-(x) = \max_i \big(u_i - \lVert x - x_i \rVert\big)

    are optimal 1-Lipschitz critics; they agree at every sample and along every segment of the plan,
    so their mean :math:`h = (f_+ + f_-)/2` is optimal too. :math:`\lVert \nabla h \rVert = 1` on the
    plan's segments and below 1 where the two cones' directions differ. Returns a dict: ``plan``
    (:math:`\sigma`), ``interpolates`` (the :math:`\hat x_i`), ``grad_norm``
    (:math:`\lVert \nabla h(\hat x_i) \rVert`) and ``w1`` (the plan's mean length).
    """
    real = np.asarray(real, dtype=float)
    fake = np.asarray(fake, dtype=float)
    epsilon = np.asarray(epsilon, dtype=float)
    if real.ndim != 2 or len(real) < 2:
        raise ValueError(f"real must be an (n, d) array of at least two points, got shape {real.shape}")
    if fake.shape != real.shape:
        raise ValueError(f"fake must have the shape of real {real.shape}, got {fake.shape}")
    if epsilon.shape != (len(real),) or not np.all((epsilon >= 0) & (epsilon <= 1)):
        raise ValueError(f"epsilon must hold {len(real)} numbers in [0, 1], got shape {epsilon.shape}")
    import ot  # noqa: PLC0415 (POT is needed by this figure only)
    from scipy.optimize import linear_sum_assignment  # noqa: PLC0415
    from scipy.spatial.distance import cdist  # noqa: PLC0415

    n = len(real)
    cost = cdist(real, fake)
    _, plan = linear_sum_assignment(cost)
    uniform = np.full(n, 1.0 / n)
    _, log = ot.emd(uniform, uniform, cost, log=True)
    u, v = log["u"], log["v"]
    x_hat = epsilon[:, None] * real + (1 - epsilon[:, None]) * fake
    rows = np.arange(n)
    to_fake, to_real = cdist(x_hat, fake), cdist(x_hat, real)
    j = np.argmin(to_fake - v[None, :], axis=1)  # the cone of f_+ that x_hat lies on
    i = np.argmax(u[None, :] - to_real, axis=1)  # the cone of f_-
    grad_plus = (x_hat - fake[j]) / to_fake[rows, j][:, None]
    grad_minus = (real[i] - x_hat) / to_real[rows, i][:, None]
    grad_norm = np.linalg.norm((grad_plus + grad_minus) / 2, axis=1)
    return {"plan": plan, "interpolates": x_hat, "grad_norm": grad_norm, "w1": float(cost[rows, plan].mean())}


def plot_penalty_geometry(ax_random, ax_plan, real, fake, geometry: dict, *, segments: int = 48,
                          cmap="viridis"):
    r"""Two panels of :func:`penalty_geometry`: the first ``segments`` real–fake segments Algorithm 1
    interpolates on, with every interpolate coloured by an optimal critic's slope
    :math:`\lVert \nabla h(\hat x) \rVert` (0 to 1), and the optimal plan's segments, along which every
    optimal critic has slope 1. Returns the interpolates' scatter (for a colour bar)."""
    real, fake = np.asarray(real, dtype=float), np.asarray(fake, dtype=float)
    shown = min(segments, len(real))
    for k in range(shown):
        ax_random.plot(*np.stack([real[k], fake[k]]).T, color="0.55", lw=0.5, zorder=1)
        ax_plan.plot(*np.stack([real[k], fake[geometry["plan"][k]]]).T, color="0.25", lw=0.7, zorder=1)
    dots = ax_random.scatter(*geometry["interpolates"].T, c=geometry["grad_norm"], cmap=cmap, vmin=0, vmax=1,
                             s=7, zorder=3, linewidths=0)
    for ax in (ax_random, ax_plan):
        plot_samples(ax, real, fake, size=3, alpha=0.8)
        ax.set_aspect("equal")
    return dots


__all__ += ["penalty_geometry", "plot_penalty_geometry"]
