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

from wgan_teach.interactive import (  # noqa: E402
    FRAME_COLORS,
    LIVE_SCALE,
    MAX_FRAMES,
    SCALE,
    SCRUBBER_ENV,
    Slider,
    SliderFigure,
    figure_png,
    live_png,
    slider_figure,
)


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
    with matplotlib.rc_context({"figure.dpi": 80}):  # 2 x 1.5 inches shown at 160 x 120 px
        html = figure.static_html()
    data = payload(html)
    assert len(data["frames"]) == 6
    # Row-major over the sliders: the last slider varies fastest.
    assert data["readouts"] == [readout(s, c) for s in (-1.0, 0.0, 1.0) for c in ("k", "r")]
    assert data["labels"] == [["-1.00", "0.00", "1.00"], ["k", "r"]]
    # Each frame is a real PNG of the figure drawn for its parameters, and frames differ.
    images = [Image.open(io.BytesIO(base64.b64decode(f))) for f in data["frames"]]
    # Sharp: twice the pixels of the size it is shown at, which the page is told; a small palette.
    assert all(im.format == "PNG" and im.size == (SCALE * 160, SCALE * 120) for im in images)
    assert all(im.mode == "P" and len(im.getcolors()) <= FRAME_COLORS for im in images)
    assert re.search(r'<img class="wgan-scrubber-frame" width="160" ', html)
    assert len(set(data["frames"])) == 6
    # The initial frame (slope -1, colour r) is the one shown before any interaction.
    assert f'src="data:image/png;base64,{data["frames"][1]}"' in html
    assert "slope = -1.0 (r)" in html
    # No network: no external URL anywhere in the scrubber.
    assert not re.search(r"https?://", html)


def test_scrubber_frames_follow_the_dpi_they_are_shown_at():
    figure = slider_figure(draw_line, [Slider("slope", (0.0, 1.0))], dpi=50, colors=16)
    html = figure.static_html()
    images = [Image.open(io.BytesIO(base64.b64decode(f))) for f in payload(html)["frames"]]
    assert [im.size for im in images] == [(SCALE * 100, SCALE * 75)] * 2
    assert all(len(im.getcolors()) <= 16 for im in images)
    assert 'width="100"' in html


def test_a_draw_that_returns_no_figure_is_named():
    def sketch(slope):
        plt.subplots()  # forgot `return fig`

    figure = slider_figure(sketch, [Slider("slope", (0.0, 1.0))])
    with pytest.raises(TypeError, match=r"draw must return a matplotlib Figure, but draw \(sketch\) returned NoneType"):
        figure.static_html()
    with pytest.raises(TypeError, match=r"draw \(sketch\) returned NoneType: end it with `return fig`"):
        figure.widget()
    with pytest.raises(TypeError, match=r"draw \(<lambda>\) returned Axes"):
        slider_figure(lambda slope: plt.subplots()[1], [Slider("slope", (0.0,))]).frame(slope=0.0)
    plt.close("all")


def test_frames_of_different_sizes_are_refused():
    def grows(slope):
        fig = draw_line(slope)
        fig.set_size_inches(2 + slope, 1.5)
        return fig

    with pytest.raises(ValueError, match="figures of one size"):
        slider_figure(grows, [Slider("slope", (0.0, 1.0))]).static_html()


def test_static_html_is_cached_and_deterministic():
    make = lambda: slider_figure(draw_line, [Slider("slope", (0.0, 1.0))])  # noqa: E731
    first = make()
    assert first.static_html() is first.static_html()
    assert make().static_html() == first.static_html()


class CountingDraw:
    def __init__(self):
        self.calls = 0

    def __call__(self, slope):
        self.calls += 1
        return draw_line(slope)


def test_live_display_draws_one_frame_and_offers_only_the_widget(monkeypatch):
    monkeypatch.delenv(SCRUBBER_ENV, raising=False)
    draw = CountingDraw()
    bundle = slider_figure(draw, [Slider("slope", (0.0, 1.0, 2.0))])._repr_mimebundle_()
    assert set(bundle) == {"application/vnd.jupyter.widget-view+json", "text/plain"}
    assert bundle["text/plain"] == "<SliderFigure draw(slope[3])>"
    assert draw.calls == 1  # the scrubber's frames are not rendered live


def test_stored_display_is_the_scrubber_alone(monkeypatch):
    monkeypatch.setenv(SCRUBBER_ENV, "1")
    draw = CountingDraw()
    bundle = slider_figure(draw, [Slider("slope", (0.0, 1.0, 2.0))], readout=readout)._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert bundle["text/html"].startswith('<div class="wgan-scrubber"')
    assert draw.calls == 3  # one frame per grid value, no live widget


def test_scrubber_controls_start_hidden_behind_a_note_that_its_script_replaces():
    """Without scripts (an untrusted notebook) a reader sees the first frame and the note, no dead controls."""
    html = slider_figure(draw_line, [Slider("slope", (0.0, 1.0))]).static_html()
    assert '<div class="wgan-scrubber-controls" style="display:none">' in html
    assert '<p class="wgan-scrubber-note"><em>Run the cell for live sliders.</em></p>' in html
    script = html[html.rindex("<script>"):]
    assert '.querySelector(".wgan-scrubber-controls").style.display = ""' in script
    assert '.querySelector(".wgan-scrubber-note").remove()' in script


def test_live_widget_redraws_on_change():
    figure = SliderFigure(draw_line, [Slider("slope", (-1.0, 0.0, 1.0), fmt="{:+.0f}")], readout=readout)
    box = figure.widget()
    slider, image, text = box.children
    assert [label for label, _ in slider.options] == ["-1", "+0", "+1"]
    first_png, first_text = image.value, text.value
    assert first_text == '<div style="font-family:monospace;white-space:pre-wrap">slope = -1.0 (k)</div>'
    slider.value = 1.0
    assert ">slope = 1.0 (k)<" in text.value
    assert image.value != first_png
    # Sharp: shown at figure.dpi like any inline figure (2 x 1.5 inches at 90 -> 180 px wide),
    # rendered with LIVE_SCALE times those pixels.
    with matplotlib.rc_context({"figure.dpi": 90}):
        slider.value = 0.0
    assert Image.open(io.BytesIO(image.value)).size == (LIVE_SCALE * 180, LIVE_SCALE * 135)
    assert image.layout.width == "180px" and image.layout.max_width == "100%"


def test_figure_png_is_a_small_palette_png_and_closes_the_figure():
    fig = draw_line(1.0)
    png = figure_png(fig, dpi=50)
    image = Image.open(io.BytesIO(png))
    assert image.mode == "P" and image.size == (100, 75)
    assert not plt.fignum_exists(fig.number)
    assert Image.open(io.BytesIO(figure_png(draw_line(1.0), dpi=50, colors=None))).mode == "RGBA"


def test_live_png_has_twice_the_pixels_of_its_display_width():
    with matplotlib.rc_context({"figure.dpi": 72}):
        png, width = live_png(draw_line(1.0))  # 2 x 1.5 inches
    assert width == 144 and Image.open(io.BytesIO(png)).size == (LIVE_SCALE * 144, LIVE_SCALE * 108)


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
    with pytest.raises(TypeError, match="values of slider 'x' must be a sequence of values, got the string 'abc'"):
        Slider("x", "abc")
    with pytest.raises(TypeError, match="values of slider 'x' must be a sequence of values, got 5"):
        Slider("x", 5)
    with pytest.raises(TypeError, match="static_values of slider 'x' must be a sequence"):
        Slider("x", (1, 2), static_values=1)
    with pytest.raises(ValueError, match="fmt '{:d}' of slider 'x' cannot format its value 0.5"):
        Slider("x", (0.5, 1.0), fmt="{:d}")
    with pytest.raises(TypeError, match="fmt of slider 'x' must be a format string"):
        Slider("x", (1, 2), fmt=2)
    with pytest.raises(TypeError, match="label of slider 'x' must be a string"):
        Slider("x", (1, 2), label=3)
    with pytest.raises(TypeError, match=r"sliders must be a list of Slider, got the single Slider 'x': pass \[Slider"):
        slider_figure(draw_line, Slider("x", (1, 2)))
    with pytest.raises(TypeError, match="sliders must be a non-empty sequence of Slider, got 5"):
        slider_figure(draw_line, 5)
    with pytest.raises(TypeError, match="sequence of Slider"):
        slider_figure(draw_line, "slope")
    with pytest.raises(ValueError, match="dpi must be a positive integer"):
        slider_figure(draw_line, [Slider("x", (1, 2))], dpi=0)
    with pytest.raises(ValueError, match="colors must be an integer from 2 to 256, got 1000"):
        slider_figure(draw_line, [Slider("x", (1, 2))], colors=1000)
    with pytest.raises(TypeError, match="alt must be a string"):
        slider_figure(draw_line, [Slider("x", (1, 2))], alt=None)
    too_many = int(np.ceil(np.sqrt(MAX_FRAMES + 1)))
    with pytest.raises(ValueError, match="frames"):
        SliderFigure(draw_line, [Slider("a", range(too_many)), Slider("b", range(too_many))])


def test_static_values_limit_the_scrubber_but_not_the_live_slider():
    figure = slider_figure(
        draw_line,
        [
            Slider("slope", (-1.0, 0.0, 1.0), initial=0.0, static_values=(0.0, 1.0)),
            Slider("colour", ("k", "r"), static_values=("k",)),
        ],
        readout=readout,
    )
    data = payload(figure.static_html())
    assert data["readouts"] == [readout(0.0, "k"), readout(1.0, "k")]
    assert data["labels"] == [["0.00", "1.00"], ["k"]]
    assert "disabled" in figure.static_html()  # the one-value slider is shown but fixed
    assert len(figure.widget().children[0].options) == 3
    with pytest.raises(ValueError, match="static_values"):
        Slider("x", (1, 2, 3), initial=3, static_values=(1, 2))


def test_in_ipython_the_first_frame_is_drawn_once_the_cell_has_run(monkeypatch):
    """The notebook builds the sliders while the kernel draws: the draw waits for post_run_cell."""
    import ipywidgets
    from IPython.core.events import EventManager, available_events

    import wgan_teach.interactive as interactive

    class Shell:
        pass

    shell = Shell()
    shell.events = EventManager(shell, available_events)
    monkeypatch.setattr(interactive, "_running_shell", lambda: shell)
    monkeypatch.delenv(SCRUBBER_ENV, raising=False)
    draw = CountingDraw()
    bundle = slider_figure(draw, [Slider("slope", (0.0, 1.0))], readout=readout)._repr_mimebundle_()
    box = ipywidgets.widgets.widget._instances[bundle["application/vnd.jupyter.widget-view+json"]["model_id"]]
    image, text = box.children[-2:]
    assert draw.calls == 0 and image.value == b""
    shell.events.trigger("post_run_cell", None)
    assert draw.calls == 1 and image.value[:4] == b"\x89PNG" and "slope = 0.0" in text.value
    shell.events.trigger("post_run_cell", None)  # the next cell does not draw it again
    assert draw.calls == 1
