"""The critic explorer: how the Lipschitz constraint shapes a critic between data and a generator.

Real samples come from a toy data set; the "generator" is a Gaussian blob (std 0.5) whose centre
sits ``offset`` to the right of the origin. For a choice of constraint a small MLP critic is
trained and drawn after ``steps`` critic steps: its value as colour, its gradient field as
arrows, with the estimate E_p f − E_q f next to the exact W1. The constraints:

* ``"two-sided"`` and ``"one-sided"``: the gradient penalty of strength λ,
  λ·E (‖∇f(x̂)‖ − 1)² or λ·E max(0, ‖∇f(x̂)‖ − 1)²;
* ``"clip"``: WGAN's weight clipping to [−c, c]; c = ∞ is no constraint at all.

Two slider figures show them: :meth:`CriticExplorer.penalty_figure` (penalty form, λ, steps,
offset) and :meth:`CriticExplorer.clipping_figure` (c, steps, offset), so that every slider of
each changes what is drawn. Trained critics are cached per (constraint, strength, offset), with
snapshots at every value of the ``steps`` slider: moving the steps slider, or returning to a
setting, only redraws.
"""

from __future__ import annotations

import copy
import math
from functools import lru_cache

import torch

from . import plots, toy
from .critic import critic_estimate, fit_critic
from .distances import w1_exact
from .interactive import Slider, SliderFigure
from .penalties import gradient_penalty

__all__ = ["CONSTRAINTS", "CriticExplorer"]

CONSTRAINTS = ("two-sided", "one-sided", "clip")
EXTENT = (-2.5, 4.0, -2.2, 2.2)  # the part of the plane drawn: the ring and every blob position


class CriticExplorer:
    """Trains and draws critics on demand; :meth:`penalty_figure` and :meth:`clipping_figure`
    return the slider figures.

    A critic is a ``depth`` × ``width`` ReLU MLP trained for ``max(steps)`` steps on minibatches of
    128; a live change that needs a new critic trains one, in about half a second on a 2-core CPU
    (``benchmarks/explorer_response.py``).
    """

    def __init__(
        self,
        data: str = "8gaussians",
        *,
        n: int = 512,
        lams=(1.0, 10.0, 100.0),
        cs=(0.001, 0.01, 0.1, math.inf),
        steps=(25, 100, 250),
        offsets=(0.0, 0.5, 1.0, 1.5, 2.0),
        width: int = 64,
        depth: int = 3,
        seed: int = 0,
    ):
        generator = torch.Generator().manual_seed(seed)
        self.real = toy.sample(data, n, generator)
        self.blob = 0.5 * torch.randn(n, 2, generator=generator)
        self.data, self.lams, self.cs = data, tuple(lams), tuple(cs)
        self.steps, self.offsets = tuple(steps), tuple(offsets)
        self.width, self.depth, self.seed = width, depth, seed
        self._trained = lru_cache(maxsize=None)(self._train)
        self._exact = lru_cache(maxsize=None)(lambda offset: w1_exact(self.real.numpy(), self.fake(offset).numpy()))

    def fake(self, offset: float) -> torch.Tensor:
        """The generator's samples: the blob moved ``offset`` to the right."""
        return self.blob + torch.tensor([offset, 0.0])

    def exact(self, offset: float) -> float:
        """The exact W1 between the real samples and the blob at ``offset`` (POT)."""
        return self._exact(offset)

    def _train(self, constraint: str, strength: float, offset: float) -> dict[int, torch.nn.Module]:
        """Snapshots of one training run at every value of the steps slider."""
        snapshots: dict[int, torch.nn.Module] = {}
        wanted = set(self.steps)

        def keep(step, critic):
            if step in wanted:
                snapshots[step] = copy.deepcopy(critic)

        if constraint == "clip":
            options = dict(constraint="clip", c=strength) if math.isfinite(strength) else dict(constraint="none")
        else:
            options = dict(constraint="gp", lam=strength, one_sided=constraint == "one-sided")
        fit_critic(self.real, self.fake(offset), steps=max(self.steps), batch_size=128, width=self.width,
                   depth=self.depth, seed=self.seed, log_every=max(self.steps), callback=keep, **options)
        return snapshots

    def critic(self, constraint: str, strength: float, steps: int, offset: float) -> torch.nn.Module:
        """The critic after ``steps`` steps; ``strength`` is λ for a penalty, c for clipping."""
        if constraint not in CONSTRAINTS:
            raise ValueError(f"constraint must be one of {CONSTRAINTS}, got {constraint!r}")
        if steps not in self.steps:
            raise ValueError(f"steps must be one of {self.steps}, got {steps!r}")
        return self._trained(constraint, float(strength), float(offset))[steps]

    def draw(self, constraint: str, strength: float, steps: int, offset: float):
        critic = self.critic(constraint, strength, steps, offset)
        fig, ax = plots.figure(1, width=4.4, height=3.1)
        plots.plot_critic(ax, critic, self.real[:256], self.fake(offset)[:256], extent=EXTENT)
        ax.set_title(f"{self.setting(constraint, strength)}, {steps} critic steps", fontsize=9)
        return fig

    def readout(self, constraint: str, strength: float, steps: int, offset: float) -> str:
        critic = self.critic(constraint, strength, steps, offset)
        fake = self.fake(offset)
        estimate = critic_estimate(critic, self.real, fake)
        _, norms = gradient_penalty(critic, self.real, fake, generator=torch.Generator().manual_seed(0))
        return (
            f"estimate E_p f - E_q f = {estimate:.3g}   exact W1 = {self.exact(offset):.3f}\n"
            f"|grad f| at interpolates: mean {float(norms.mean()):.3g}, std {float(norms.std()):.2g}"
        )

    @staticmethod
    def setting(constraint: str, strength: float) -> str:
        """A short name of the setting, as the figures' titles print it."""
        if constraint == "clip":
            return f"clipping, c = {strength:g}" if math.isfinite(strength) else "no constraint (c = ∞)"
        return f"penalty {constraint}, λ = {strength:g}"

    def _offset_slider(self, static_offsets) -> Slider:
        return Slider("offset", self.offsets, label="generator offset", fmt="{:.1f}", initial=static_offsets[1],
                      static_values=static_offsets)

    def _steps_slider(self) -> Slider:
        return Slider("steps", self.steps, label="critic steps", fmt="{:d}", initial=self.steps[-1])

    def penalty_figure(self, *, static_offsets=(0.0, 1.0, 2.0), lam: float = 10.0) -> SliderFigure:
        """The gradient penalty: form, λ, steps and offset. The HTML scrubber covers every form,
        λ and steps value at ``static_offsets``; live, every offset too."""

        def draw_penalised(penalty, lam, steps, offset):
            return self.draw(penalty, lam, steps, offset)

        def penalised_readout(penalty, lam, steps, offset):
            return self.readout(penalty, lam, steps, offset)

        return SliderFigure(
            draw_penalised,
            [
                Slider("penalty", CONSTRAINTS[:2], initial="two-sided"),
                Slider("lam", self.lams, label="λ", fmt="{:g}", initial=lam),
                self._steps_slider(),
                self._offset_slider(static_offsets),
            ],
            readout=penalised_readout,
            alt="The critic's values over the plane as colour, with its gradient arrows, between "
                "the ring of 8 Gaussians (blue) and a generator blob (red); the sliders set the "
                "penalty's form and strength, the training steps and the blob's position",
        )

    def clipping_figure(self, *, static_offsets=(0.0, 1.0, 2.0), c: float = 0.01) -> SliderFigure:
        """Weight clipping: c (∞: no constraint), steps and offset. The HTML scrubber covers every
        c and steps value at ``static_offsets``; live, every offset too."""

        def draw_clipped(c, steps, offset):
            return self.draw("clip", c, steps, offset)

        def clipped_readout(c, steps, offset):
            return self.readout("clip", c, steps, offset)

        return SliderFigure(
            draw_clipped,
            [
                Slider("c", self.cs, label="c (clipping)", fmt="{:g}", initial=c),
                self._steps_slider(),
                self._offset_slider(static_offsets),
            ],
            readout=clipped_readout,
            alt="The clipped critic's values over the plane as colour, with its gradient arrows, "
                "between the ring of 8 Gaussians (blue) and a generator blob (red); the sliders "
                "set the clipping bound c, the training steps and the blob's position",
        )
