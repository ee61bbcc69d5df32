"""The slider figure: one description, a live widget and a kernel-free scrubber that agree."""

import base64
import io
import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from wgan_teach.interactive import MAX_FRAMES, Slider, SliderFigure, figure_png, slider_figure  # noqa: E402


def draw_line(slope, colour="k"):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    x = np.linspace(0, 1, 5)
    ax.plot(x, slope * x, color=colour)
    ax.set_ylim(-2, 2)
    return fig


def readout(slope, colour="k"):
    return f"slope = {slope:.1f} ({colour})"


def payload(html):
    match = re.search(r'<script type="application/json" class="wgan-scrubber-data">(.*?)</script>', html, re.S)
    return json.loads(match.group(1).replace("<\\/", "</"))


def test_static_scrubber_holds_every_frame_in_grid_order():
    figure = slider_figure(
        draw_line,
        [Slider("slope", (-1.0, 0.0, 1.0)), Slider("colour", ("k", "r"), initial="r")],
        readout=readout,
    )
    html = figure.static_html()
    data = payload(html)
    assert len(data["frames"]) == 6
    # Row-major over the sliders: the last slider varies fastest.
    assert data["readouts"] == [readout(s, c) for s in (-1.0, 0.0, 1.0) for c in ("k", "r")]
    assert data["labels"] == [["-1.00", "0.00", "1.00"], ["k", "r"]]
    # Each frame is a real PNG of the figure drawn for its parameters, and frames differ.
    images = [Image.open(io.BytesIO(base64.b64decode(f))) for f in data["frames"]]
    assert all(im.format == "PNG" and im.size == (160, 120) for im in images)
    assert len(set(data["frames"])) == 6
    # The initial frame (slope -1, colour r) is the one shown before any interaction.
    assert f'src="data:image/png;base64,{data["frames"][1]}"' in html
    assert "slope = -1.0 (r)" in html
    # No network: no external URL anywhere in the scrubber.
    assert not re.search(r"https?://", html)


def test_static_html_is_cached_and_deterministic():
    make = lambda: slider_figure(draw_line, [Slider("slope", (0.0, 1.0))])  # noqa: E731
    first = make()
    assert first.static_html() is first.static_html()
    assert make().static_html() == first.static_html()


def test_mimebundle_offers_widget_and_scrubber():
    bundle = slider_figure(draw_line, [Slider("slope", (0.0, 1.0))], readout=readout)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"].startswith('<div class="wgan-scrubber"')
    assert bundle["text/plain"] == "<SliderFigure draw_line(slope[2])>"


def test_live_widget_redraws_on_change():
    figure = SliderFigure(draw_line, [Slider("slope", (-1.0, 0.0, 1.0), fmt="{:+.0f}")], readout=readout)
    box = figure.widget()
    slider, image, text = box.children
    assert [label for label, _ in slider.options] == ["-1", "+0", "+1"]
    first_png, first_text = image.value, text.value
    assert first_text == "slope = -1.0 (k)"
    slider.value = 1.0
    assert text.value == "slope = 1.0 (k)"
    assert image.value != first_png
    # the live frame for a value is the static frame for the same value
    assert base64.b64encode(image.value).decode() == payload(figure.static_html())["frames"][2]


def test_figure_png_is_a_small_palette_png_and_closes_the_figure():
    fig = draw_line(1.0)
    png = figure_png(fig, dpi=50)
    image = Image.open(io.BytesIO(png))
    assert image.mode == "P" and image.size == (100, 75)
    assert not plt.fignum_exists(fig.number)


def test_bad_sliders_are_rejected():
    with pytest.raises(ValueError, match="identifier"):
        Slider("not a name", (1, 2))
    with pytest.raises(ValueError, match="must not be empty"):
        Slider("x", ())
    with pytest.raises(ValueError, match="initial value 3"):
        Slider("x", (1, 2), initial=3)
    with pytest.raises(TypeError, match="draw must be callable"):
        SliderFigure(None, [Slider("x", (1, 2))])
    with pytest.raises(TypeError, match="sequence of Slider"):
        SliderFigure(draw_line, [])
    with pytest.raises(ValueError, match="distinct names"):
        SliderFigure(draw_line, [Slider("x", (1, 2)), Slider("x", (3, 4))])
    too_many = int(np.ceil(np.sqrt(MAX_FRAMES + 1)))
    with pytest.raises(ValueError, match="frames"):
        SliderFigure(draw_line, [Slider("a", range(too_many)), Slider("b", range(too_many))])


def test_static_values_limit_the_scrubber_but_not_the_live_slider():
    figure = slider_figure(
        draw_line,
        [Slider("slope", (-1.0, 0.0, 1.0), initial=0.0, static_values=(0.0, 1.0)), Slider("colour", ("k", "r"), static_values=("k",))],
        readout=readout,
    )
    data = payload(figure.static_html())
    assert data["readouts"] == [readout(0.0, "k"), readout(1.0, "k")]
    assert data["labels"] == [["0.00", "1.00"], ["k"]]
    assert "disabled" in figure.static_html()  # the one-value slider is shown but fixed
    assert len(figure.widget().children[0].options) == 3
    with pytest.raises(ValueError, match="static_values"):
        Slider("x", (1, 2, 3), initial=3, static_values=(1, 2))
