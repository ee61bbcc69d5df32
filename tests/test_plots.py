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
