"""The shared figures draw what they claim: the CDF steps, one arrow per moved mass, the plan's numbers."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from wgan_teach import plots  # noqa: E402
from wgan_teach.distances import cdf, w1_cdf, w1_coupling, w1_dual  # noqa: E402

P, Q = np.array([0.0, 2.0]), np.array([1.0, 3.0])


def test_cdf_panel_draws_both_step_functions_and_the_shaded_gap_has_area_w1():
    fig, ax = plt.subplots()
    plots.plot_cdfs(ax, P, Q)
    step_p, step_q = ax.lines[:2]
    x = step_p.get_xdata()
    np.testing.assert_array_equal(step_p.get_ydata(), cdf(x, P))
    np.testing.assert_array_equal(step_q.get_ydata(), cdf(x, Q))
    # Area of the shaded gap, integrated as the step function it is.
    gap = np.abs(cdf(x, P) - cdf(x, Q))
    assert np.sum(gap[:-1] * np.diff(x)) == w1_cdf(P, Q)
    plt.close(fig)


def test_transport_draws_one_arrow_per_moved_mass():
    coupling = w1_coupling([0.0], [0.0, 1.0, 2.0, 3.0])
    fig, ax = plt.subplots()
    plots.plot_transport(ax, coupling)
    arrows = [child for child in ax.get_children() if isinstance(child, matplotlib.text.Annotation)]
    assert len(arrows) == int(np.sum(coupling.plan > 1e-9)) == 4
    labels = sorted(t.get_text() for t in ax.texts if "×" in t.get_text())
    assert labels == ["0.25×0", "0.25×1", "0.25×2", "0.25×3"]
    plt.close(fig)


def test_plan_heat_map_is_annotated_with_the_plan():
    coupling = w1_coupling(P, Q)
    fig, ax = plt.subplots()
    plots.plot_plan(ax, coupling)
    numbers = [float(t.get_text()) for t in ax.texts]
    np.testing.assert_allclose(numbers, coupling.plan.ravel(), atol=0.005)
    plt.close(fig)


def test_potential_is_drawn_through_the_dual_values():
    dual = w1_dual(P, Q)
    fig, ax = plt.subplots()
    plots.plot_potential(ax, dual, P, Q)
    curve = ax.lines[0]
    np.testing.assert_array_equal(curve.get_xdata(), dual.support)
    np.testing.assert_array_equal(curve.get_ydata(), dual.f)
    plt.close(fig)


def test_book_style_sets_readable_fonts_outside_ipython():
    with matplotlib.rc_context():
        plots.book_style()  # no IPython here: only the rc settings
        for key, value in plots.BOOK_STYLE.items():
            assert plt.rcParams[key] == value
        sizes = [v for k, v in plots.BOOK_STYLE.items() if k.endswith("size")]
        assert min(sizes) * plots.BOOK_STYLE["figure.dpi"] / 72 >= 8  # no text under 8 CSS px


def test_penalty_geometry_pins_slope_one_on_the_plan_and_its_critic_is_optimal():
    """The plan is optimal (its cost is POT's W1); h = (f+ + f-)/2 is 1-Lipschitz with slope exactly 1
    on the plan's segments, and E_real h - E_fake h = W1 (checked at the samples, by autograd-free
    finite differences and against ot.emd2)."""
    import ot
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + [1.5, 0.0]
    geometry = plots.penalty_geometry(real, fake, rng.uniform(size=40))
    uniform = np.full(40, 1 / 40)
    assert np.isclose(geometry["w1"], ot.emd2(uniform, uniform, cdist(real, fake)))
    assert np.all(geometry["grad_norm"] <= 1 + 1e-9) and np.any(geometry["grad_norm"] < 0.9)
    on_plan = plots.penalty_geometry(real, fake[geometry["plan"]], np.full(40, 0.4))
    assert np.allclose(on_plan["grad_norm"], 1.0)
    # the slope is that of a finite difference of h, rebuilt here from the potentials
    _, log = ot.emd(uniform, uniform, cdist(real, fake), log=True)

    def h(x):
        x = np.atleast_2d(x)
        up = np.min(cdist(x, fake) - log["v"][None, :], axis=1)
        down = np.max(log["u"][None, :] - cdist(x, real), axis=1)
        return (up + down) / 2

    assert np.isclose(h(real).mean() - h(fake).mean(), geometry["w1"])
    x, step = geometry["interpolates"][:10], 1e-6
    numeric = np.stack([(h(x + [step, 0]) - h(x - [step, 0])) / (2 * step),
                        (h(x + [0, step]) - h(x - [0, step])) / (2 * step)], axis=1)
    assert np.allclose(np.linalg.norm(numeric, axis=1), geometry["grad_norm"][:10], atol=1e-5)


def test_penalty_geometry_refuses_mismatched_samples_and_draws_both_panels():
    import pytest

    real = np.zeros((5, 2)) + np.arange(5)[:, None]
    with pytest.raises(ValueError, match="fake"):
        plots.penalty_geometry(real, np.zeros((4, 2)), np.full(5, 0.5))
    with pytest.raises(ValueError, match="epsilon"):
        plots.penalty_geometry(real, real + 1, np.full(5, 1.5))
    geometry = plots.penalty_geometry(real, real[::-1] + 0.1, np.full(5, 0.5))
    fig, (a, b) = plt.subplots(1, 2)
    dots = plots.plot_penalty_geometry(a, b, real, real[::-1] + 0.1, geometry, segments=3)
    assert len(a.lines) == 3 and len(b.lines) == 3 and len(dots.get_offsets()) == 5
    plt.close(fig)
