"""One slider figure, two ways to drag it: live in Jupyter, kernel-free in the HTML book.

A chapter describes an interactive figure once, as a function ``draw(**params) -> Figure`` and a
grid of values for each parameter::

    slider_figure(draw, [Slider("shift", np.linspace(0, 3, 13))], readout=w1_text)

Displayed in a running kernel, the object shows real ipywidgets sliders that call ``draw`` again
on every change. The figure is shown at the size Jupyter shows other figures (matplotlib's
``figure.dpi`` CSS pixels per inch) and rendered with twice those pixels, so that it stays sharp.
In IPython the first figure is drawn just after the cell's own code has run (a ``post_run_cell``
callback, still within the cell), so that the notebook builds the sliders while the kernel draws:
the cell is done when its figure is, and shows the same figure, sooner.

When a chapter is executed to store its outputs for the book (``tools/execute_notebooks.py`` sets
``WGAN_TEACH_SCRUBBERS=1`` in the kernel's environment), it displays instead a self-contained HTML
scrubber: every frame on the grid rendered beforehand to a palette PNG with ``SCALE`` times the pixels
of its displayed size (sharp beside the book's other figures, which are stored the same way), with plain
``<input type="range">`` controls and a few lines of inline JavaScript to swap them. The built book
shows it, working in a plain browser with no kernel and no network. The controls start hidden
behind the words "Run the cell for live sliders", which the script replaces by the controls: where
scripts do not run (an untrusted notebook in JupyterLab), a reader sees the first frame and that
sentence rather than controls that do nothing. Only the stored run pays for the frames.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from PIL import Image

__all__ = ["Slider", "SliderFigure", "slider_figure", "figure_png", "live_png", "SCRUBBER_ENV"]

MAX_FRAMES = 400
SCRUBBER_ENV = "WGAN_TEACH_SCRUBBERS"  # "1": display the kernel-free scrubber instead of the live widget
SCALE = 2  # a figure has this many pixels per CSS pixel, live and in the scrubber: sharp on screens up to 2x
LIVE_SCALE = SCALE
FRAME_COLORS = 64  # a scrubber frame's palette: enough for the book's colour maps, a third the bytes of full colour
READOUT_STYLE = "font-family:monospace;white-space:pre-wrap"  # columns of numbers stay aligned


@dataclass(frozen=True)
class Slider:
    """A named parameter of a figure and the grid of values it can take.

    ``name`` is the keyword passed to ``draw``; ``values`` may be numbers or strings
    (a categorical choice); ``fmt`` formats a value for display; ``initial`` is the starting
    value (the first by default). ``static_values``, a subset of ``values`` that contains
    ``initial``, limits the precomputed HTML scrubber to fewer frames than the live slider offers.
    """

    name: str
    values: Sequence[Any]
    label: str | None = None
    fmt: str = "{:.2f}"
    initial: Any = None
    static_values: Sequence[Any] | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"name must be a Python identifier, got {self.name!r}")
        values = _as_tuple(self.values, f"values of slider {self.name!r}")
        if not values:
            raise ValueError(f"values of slider {self.name!r} must not be empty")
        if self.initial is not None and self.initial not in values:
            raise ValueError(f"initial value {self.initial!r} of slider {self.name!r} is not in its values")
        object.__setattr__(self, "values", values)
        if self.label is not None and not isinstance(self.label, str):
            raise TypeError(f"label of slider {self.name!r} must be a string or None, got {self.label!r}")
        if not isinstance(self.fmt, str):
            raise TypeError(f"fmt of slider {self.name!r} must be a format string such as '{{:.2f}}', got {self.fmt!r}")
        for value in values:
            try:
                self.format(value)
            except (ValueError, TypeError, IndexError, KeyError) as error:
                raise ValueError(
                    f"fmt {self.fmt!r} of slider {self.name!r} cannot format its value {value!r}: {error}"
                ) from None
        if self.static_values is not None:
            static = _as_tuple(self.static_values, f"static_values of slider {self.name!r}")
            if not static or any(v not in values for v in static) or values[self.initial_index] not in static:
                raise ValueError(
                    f"static_values of slider {self.name!r} must be a non-empty subset of its values "
                    "that contains the initial value"
                )
            object.__setattr__(self, "static_values", static)

    def format(self, value) -> str:
        return value if isinstance(value, str) else self.fmt.format(value)

    @property
    def initial_index(self) -> int:
        return 0 if self.initial is None else self.values.index(self.initial)

    @property
    def static(self) -> tuple[Any, ...]:
        """The values the HTML scrubber offers."""
        return self.values if self.static_values is None else self.static_values

    @property
    def text(self) -> str:
        return self.label or self.name


def _as_tuple(values, what: str) -> tuple:
    """``values`` as a tuple; a string or a scalar is refused rather than split or wrapped."""
    if isinstance(values, (str, bytes)):
        raise TypeError(
            f"{what} must be a sequence of values, got the string {values!r}: write ({values!r},) for one value"
        )
    try:
        return tuple(values)
    except TypeError:
        raise TypeError(f"{what} must be a sequence of values, got {values!r}") from None


def figure_png(fig, *, dpi: int = 80, colors: int | None = 256, compress_level: int = 6) -> bytes:
    """Render a matplotlib figure to a palette PNG (``colors`` colours; None: full colour) and close it.

    ``compress_level`` (0-9) trades bytes for time: 1 for a live frame that is sent once, 6 and an
    optimised palette PNG for frames that are stored.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": compress_level})
    plt.close(fig)
    if colors is None:
        return buffer.getvalue()
    image = Image.open(buffer).convert("RGB").quantize(colors=colors, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def display_width(fig, dpi: float | None = None) -> int:
    """The width in CSS pixels a figure is shown at: its width in inches times ``dpi`` CSS pixels per
    inch (by default matplotlib's ``figure.dpi``, the size Jupyter shows other figures at)."""
    return round(fig.get_size_inches()[0] * (plt.rcParams["figure.dpi"] if dpi is None else dpi))


def live_png(fig) -> tuple[bytes, int]:
    """A figure for a live display, and the width in CSS pixels to show it at; closes the figure.

    Shown at the size Jupyter shows other figures (matplotlib's ``figure.dpi`` pixels per inch),
    rendered in full colour with ``SCALE`` times those pixels, so that it stays sharp; encoded
    with light compression, since it is sent once and never stored.
    """
    width = display_width(fig)
    return figure_png(fig, dpi=SCALE * plt.rcParams["figure.dpi"], colors=None, compress_level=1), width


class SliderFigure:
    """A figure of one or more slider parameters; see the module docstring."""

    def __init__(
        self,
        draw: Callable[..., Any],
        sliders: Sequence[Slider],
        readout: Callable[..., str] | None = None,
        *,
        dpi: int | None = None,
        alt: str = "",
        colors: int = FRAME_COLORS,
    ):
        if not callable(draw):
            raise TypeError("draw must be callable: draw(**params) -> matplotlib Figure")
        if readout is not None and not callable(readout):
            raise TypeError("readout must be callable: readout(**params) -> str, or None")
        if isinstance(sliders, Slider):
            raise TypeError(
                f"sliders must be a list of Slider, got the single Slider {sliders.name!r}: pass [Slider(...)]"
            )
        try:
            sliders = tuple(sliders)
        except TypeError:
            raise TypeError(f"sliders must be a non-empty sequence of Slider, got {sliders!r}") from None
        if not sliders or not all(isinstance(s, Slider) for s in sliders):
            raise TypeError("sliders must be a non-empty sequence of Slider")
        if len({s.name for s in sliders}) != len(sliders):
            raise ValueError("sliders must have distinct names")
        if dpi is not None and (isinstance(dpi, bool) or not isinstance(dpi, int) or dpi <= 0):
            raise ValueError(f"dpi must be a positive integer or None, got {dpi!r}")
        if isinstance(colors, bool) or not isinstance(colors, int) or not 2 <= colors <= 256:
            raise ValueError(f"colors must be an integer from 2 to 256, got {colors!r}")
        if not isinstance(alt, str):
            raise TypeError(f"alt must be a string, got {alt!r}")
        n_frames = 1
        for s in sliders:
            n_frames *= len(s.static)
        if n_frames > MAX_FRAMES:
            raise ValueError(f"sliders span {n_frames} frames; at most {MAX_FRAMES} keep the page small")
        self.draw, self.sliders, self.readout = draw, sliders, readout
        self.dpi, self.alt, self.colors = dpi, alt, colors
        self._static_html: str | None = None

    def figure(self, **params) -> Figure:
        """``draw(**params)``, checked to be a matplotlib Figure."""
        fig = self.draw(**params)
        if not isinstance(fig, Figure):
            name = getattr(self.draw, "__name__", "draw")
            hint = ": end it with `return fig`" if fig is None else ""
            raise TypeError(
                f"draw must return a matplotlib Figure, but draw ({name}) returned {type(fig).__name__}{hint}"
            )
        return fig

    def frame(self, **params) -> tuple[bytes, str]:
        """The scrubber's PNG and readout text for one setting of the parameters.

        The PNG is a palette of ``colors`` colours with ``SCALE`` times the pixels of the figure's
        displayed width (:meth:`frame_width`).
        """
        return self._frame(params)[0], self._readout_text(params)

    def _frame(self, params) -> tuple[bytes, int]:
        fig = self.figure(**params)
        dpi = plt.rcParams["figure.dpi"] if self.dpi is None else self.dpi
        return figure_png(fig, dpi=SCALE * dpi, colors=self.colors), display_width(fig, dpi)

    def _readout_text(self, params) -> str:
        return self.readout(**params) if self.readout else ""

    # -- live: ipywidgets in a running kernel -------------------------------------------------
    def widget(self):
        """Real ipywidgets sliders that redraw the figure on every change."""
        box, update = self._live_parts()
        update()
        return box

    def _live_parts(self):
        """The widget, and the function that draws its figure for the sliders' values (not yet called)."""
        import ipywidgets as widgets

        # One layout and one style shared by every slider: fewer widget models for the notebook to build.
        layout = widgets.Layout(width="420px")
        style = widgets.SliderStyle(description_width="initial")
        controls = {
            s.name: widgets.SelectionSlider(
                options=[(s.format(v), v) for v in s.values],
                value=s.values[s.initial_index],
                description=s.text,
                continuous_update=False,
                style=style,
                layout=layout,
            )
            for s in self.sliders
        }
        image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        text = widgets.HTML()

        def update(_change=None):
            params = {name: c.value for name, c in controls.items()}
            png, width = live_png(self.figure(**params))
            image.value, image.layout.width = png, f"{width}px"
            text.value = f'<div style="{READOUT_STYLE}">{html.escape(self._readout_text(params))}</div>'

        for control in controls.values():
            control.observe(update, names="value")
        return widgets.VBox([*controls.values(), image, text]), update

    # -- kernel-free: precomputed frames and a few lines of JavaScript ------------------------
    def static_html(self) -> str:
        """A self-contained scrubber: every frame on the grid, inline, no network needed."""
        if self._static_html is None:
            self._static_html = self._render_static()
        return self._static_html

    def _render_static(self) -> str:
        frames, widths, readouts = [], set(), []
        for values in itertools.product(*(s.static for s in self.sliders)):
            params = {s.name: v for s, v in zip(self.sliders, values)}
            png, width = self._frame(params)
            frames.append(base64.b64encode(png).decode("ascii"))
            widths.add(width)
            readouts.append(self._readout_text(params))
        if len(widths) > 1:
            raise ValueError(f"draw must return figures of one size for every setting, got widths {sorted(widths)} px")
        labels = [[s.format(v) for v in s.static] for s in self.sliders]
        payload = json.dumps({"frames": frames, "readouts": readouts, "labels": labels})
        uid = "wgan-scrubber-" + hashlib.sha1(payload.encode()).hexdigest()[:12]
        starts = [s.static.index(s.values[s.initial_index]) for s in self.sliders]
        start = 0
        for s, i in zip(self.sliders, starts):
            start = start * len(s.static) + i
        controls = "\n".join(
            f'<label style="display:block;margin:2px 0">{html.escape(s.text)} '
            f'<input type="range" min="0" max="{len(s.static) - 1}" step="1" value="{i}" '
            f'aria-label="{html.escape(s.text)}" style="vertical-align:middle;width:260px"'
            f'{" disabled" if len(s.static) == 1 else ""}> '
            f"<output>{html.escape(s.format(s.static[i]))}</output></label>"
            for s, i in zip(self.sliders, starts)
        )
        return _SCRUBBER_TEMPLATE.format(
            uid=uid,
            controls=controls,
            src=frames[start],
            width=widths.pop(),
            alt=html.escape(self.alt or "figure; drag the sliders above to change it"),
            readout=html.escape(readouts[start]),
            readout_style=READOUT_STYLE,
            payload=payload.replace("</", "<\\/"),
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The live widget, or the kernel-free scrubber where ``SCRUBBER_ENV`` is "1" (stored outputs)."""
        if os.environ.get(SCRUBBER_ENV) == "1":
            return {"text/html": self.static_html(), "text/plain": repr(self)}
        box, update = self._live_parts()
        shell = _running_shell()
        if shell is None:
            update()
        else:  # draw once the cell's code has run, while the notebook builds the sliders
            def first_draw(*_result):
                shell.events.unregister("post_run_cell", first_draw)
                update()

            shell.events.register("post_run_cell", first_draw)
        return {**box._repr_mimebundle_(), "text/plain": repr(self)}

    def __repr__(self) -> str:
        names = ", ".join(f"{s.name}[{len(s.values)}]" for s in self.sliders)
        return f"<SliderFigure {getattr(self.draw, '__name__', 'draw')}({names})>"


def _running_shell():
    """The IPython shell this code runs in, or None."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


# The controls start hidden behind a note; the script shows them and removes the note. Where scripts
# do not run (an untrusted notebook), the first frame and the note remain.
_SCRUBBER_TEMPLATE = """<div class="wgan-scrubber" id="{uid}">
<div class="wgan-scrubber-controls" style="display:none">
{controls}
</div>
<p class="wgan-scrubber-note"><em>Run the cell for live sliders.</em></p>
<img class="wgan-scrubber-frame" width="{width}" style="max-width:100%;height:auto" alt="{alt}" src="data:image/png;base64,{src}">
<div class="wgan-scrubber-readout" style="{readout_style}">{readout}</div>
<script type="application/json" class="wgan-scrubber-data">{payload}</script>
<script>
(function () {{
  var root = document.getElementById("{uid}");
  root.querySelector(".wgan-scrubber-controls").style.display = "";
  root.querySelector(".wgan-scrubber-note").remove();
  var data = JSON.parse(root.querySelector(".wgan-scrubber-data").textContent);
  var inputs = root.querySelectorAll("input[type=range]");
  var outputs = root.querySelectorAll("output");
  var img = root.querySelector(".wgan-scrubber-frame");
  var readout = root.querySelector(".wgan-scrubber-readout");
  function show() {{
    var index = 0;
    for (var k = 0; k < inputs.length; k++) {{
      var i = Number(inputs[k].value);
      index = index * data.labels[k].length + i;
      outputs[k].textContent = data.labels[k][i];
    }}
    img.src = "data:image/png;base64," + data.frames[index];
    readout.textContent = data.readouts[index];
  }}
  for (var k = 0; k < inputs.length; k++) inputs[k].addEventListener("input", show);
}})();
</script>
</div>"""


def slider_figure(draw, sliders, readout=None, **kwargs) -> SliderFigure:
    """Build a :class:`SliderFigure`; displaying it shows live sliders or the static scrubber."""
    return SliderFigure(draw, sliders, readout, **kwargs)
