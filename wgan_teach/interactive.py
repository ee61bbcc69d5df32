"""One slider figure, two ways to drag it: live in Jupyter, kernel-free in the HTML book.

A chapter describes an interactive figure once, as a function ``draw(**params) -> Figure`` and a
grid of values for each parameter::

    slider_figure(draw, [Slider("shift", np.linspace(0, 3, 13))], readout=w1_text)

Displayed in Jupyter, the object shows real ipywidgets sliders that call ``draw`` again on every
change. It also carries a self-contained HTML scrubber: every frame on the grid rendered to a
small PNG beforehand, with plain ``<input type="range">`` controls and a few lines of inline
JavaScript to swap them. The built book shows that one (its mime priority drops the widget view,
see ``_config.yml``), so the sliders work in a plain browser with no kernel and no network.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import matplotlib.pyplot as plt
from PIL import Image

__all__ = ["Slider", "SliderFigure", "slider_figure", "figure_png"]

MAX_FRAMES = 400


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
        values = tuple(self.values)
        if not values:
            raise ValueError(f"values of slider {self.name!r} must not be empty")
        if self.initial is not None and self.initial not in values:
            raise ValueError(f"initial value {self.initial!r} of slider {self.name!r} is not in its values")
        object.__setattr__(self, "values", values)
        if self.static_values is not None:
            static = tuple(self.static_values)
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


def figure_png(fig, *, dpi: int = 80, colors: int = 256) -> bytes:
    """Render a matplotlib figure to a palette PNG (``colors`` colours) and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    image = Image.open(buffer).convert("RGB").quantize(colors=colors)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


class SliderFigure:
    """A figure of one or more slider parameters; see the module docstring."""

    def __init__(
        self,
        draw: Callable[..., Any],
        sliders: Sequence[Slider],
        readout: Callable[..., str] | None = None,
        *,
        dpi: int = 80,
        alt: str = "",
    ):
        if not callable(draw):
            raise TypeError("draw must be callable: draw(**params) -> matplotlib Figure")
        if readout is not None and not callable(readout):
            raise TypeError("readout must be callable: readout(**params) -> str, or None")
        sliders = tuple(sliders)
        if not sliders or not all(isinstance(s, Slider) for s in sliders):
            raise TypeError("sliders must be a non-empty sequence of Slider")
        if len({s.name for s in sliders}) != len(sliders):
            raise ValueError("sliders must have distinct names")
        n_frames = 1
        for s in sliders:
            n_frames *= len(s.static)
        if n_frames > MAX_FRAMES:
            raise ValueError(f"sliders span {n_frames} frames; at most {MAX_FRAMES} keep the page small")
        self.draw, self.sliders, self.readout = draw, sliders, readout
        self.dpi, self.alt = dpi, alt
        self._static_html: str | None = None

    def frame(self, **params) -> tuple[bytes, str]:
        """The PNG and readout text for one setting of the parameters."""
        png = figure_png(self.draw(**params), dpi=self.dpi)
        return png, (self.readout(**params) if self.readout else "")

    def _initial_params(self) -> dict[str, Any]:
        return {s.name: s.values[s.initial_index] for s in self.sliders}

    # -- live: ipywidgets in a running kernel -------------------------------------------------
    def widget(self):
        """Real ipywidgets sliders that redraw the figure on every change."""
        import ipywidgets as widgets

        controls = {
            s.name: widgets.SelectionSlider(
                options=[(s.format(v), v) for v in s.values],
                value=s.values[s.initial_index],
                description=s.text,
                continuous_update=False,
                style={"description_width": "initial"},
                layout=widgets.Layout(width="420px"),
            )
            for s in self.sliders
        }
        image = widgets.Image(format="png")
        text = widgets.HTML()

        def update(_change=None):
            png, readout = self.frame(**{name: c.value for name, c in controls.items()})
            image.value, text.value = png, html.escape(readout)

        for control in controls.values():
            control.observe(update, names="value")
        update()
        return widgets.VBox([*controls.values(), image, text])

    # -- kernel-free: precomputed frames and a few lines of JavaScript ------------------------
    def static_html(self) -> str:
        """A self-contained scrubber: every frame on the grid, inline, no network needed."""
        if self._static_html is None:
            self._static_html = self._render_static()
        return self._static_html

    def _render_static(self) -> str:
        frames, readouts = [], []
        for values in itertools.product(*(s.static for s in self.sliders)):
            png, text = self.frame(**{s.name: v for s, v in zip(self.sliders, values)})
            frames.append(base64.b64encode(png).decode("ascii"))
            readouts.append(text)
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
            alt=html.escape(self.alt or "figure; drag the sliders above to change it"),
            readout=html.escape(readouts[start]),
            payload=payload.replace("</", "<\\/"),
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        """Widget view for Jupyter front ends, the static scrubber for HTML renderers."""
        bundle = dict(self.widget()._repr_mimebundle_())
        bundle.update({"text/html": self.static_html(), "text/plain": repr(self)})
        return bundle

    def __repr__(self) -> str:
        names = ", ".join(f"{s.name}[{len(s.values)}]" for s in self.sliders)
        return f"<SliderFigure {getattr(self.draw, '__name__', 'draw')}({names})>"


_SCRUBBER_TEMPLATE = """<div class="wgan-scrubber" id="{uid}">
<div class="wgan-scrubber-controls">
{controls}
</div>
<img class="wgan-scrubber-frame" style="max-width:100%" alt="{alt}" src="data:image/png;base64,{src}">
<div class="wgan-scrubber-readout" style="font-family:monospace;white-space:pre-wrap">{readout}</div>
<script type="application/json" class="wgan-scrubber-data">{payload}</script>
<script>
(function () {{
  var root = document.getElementById("{uid}");
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
