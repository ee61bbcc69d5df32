"""The critic explorer: how the Lipschitz constraint shapes a critic between data and a generator.

Real samples come from a toy data set; the "generator" is a Gaussian blob (std 0.5) whose centre
sits ``offset`` to the right of the origin. For a choice of constraint — none, weight clipping
with bound ``c``, gradient penalty with strength ``lam``, or its one-sided form — a small MLP
critic is trained and drawn after ``steps`` critic steps: its value as colour, its gradient field
as arrows, with the estimate :math:`\\mathbb{E}_p f - \\mathbb{E}_q f` next to the exact W1.

Trained critics are cached per (constraint, strength, offset) with snapshots at every value of the
``steps`` slider, so moving the steps slider, or returning to a setting, only redraws.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import torch

from . import plots, toy
from .critic import critic_estimate, fit_critic
from .distances import w1_exact
from .interactive import Slider, SliderFigure
from .penalties import gradient_penalty

__all__ = ["CONSTRAINT_CHOICES", "CriticExplorer"]

CONSTRAINT_CHOICES = ("none", "clip", "GP", "GP one-sided")


class CriticExplorer:
    """Trains and draws critics on demand; :meth:`figure` returns the slider figure.

    A critic is a ``depth`` x ``width`` ReLU MLP trained for ``max(steps)`` steps on minibatches of
    128, small enough that a live change which needs a new critic responds in about half a second
    on a 2-core CPU (``benchmarks/explorer_response.py``).
    """

    def __init__(
        self,
        data: str = "8gaussians",
        *,
        n: int = 512,
        lams=(0.1, 1.0, 10.0, 100.0),
        cs=(0.001, 0.01, 0.1),
        steps=(25, 100, 250),
        offsets=(0.0, 0.5, 1.0, 1.5, 2.0),
        width: int = 32,
        depth: int = 3,
        seed: int = 0,
    ):
        generator = torch.Generator().manual_seed(seed)
        self.real = toy.sample(data, n, generator)
        self.blob = 0.5 * torch.randn(n, 2, generator=generator)
        self.data, self.lams, self.cs, self.steps, self.offsets = data, tuple(lams), tuple(cs), tuple(steps), tuple(offsets)
        self.width, self.depth, self.seed = width, depth, seed
        self._trained = lru_cache(maxsize=None)(self._train)
        self._exact = lru_cache(maxsize=None)(lambda offset: w1_exact(self.real.numpy(), self.fake(offset).numpy()))

    def fake(self, offset: float) -> torch.Tensor:
        return self.blob + torch.tensor([offset, 0.0])

    def _train(self, constraint: str, strength: float, offset: float) -> dict[int, torch.nn.Module]:
        """Snapshots of one training run at every value of the steps slider."""
        if constraint not in CONSTRAINT_CHOICES:
            raise ValueError(f"constraint must be one of {CONSTRAINT_CHOICES}, got {constraint!r}")
        snapshots: dict[int, torch.nn.Module] = {}
        wanted = set(self.steps)

        def keep(step, critic):
            if step in wanted:
                snapshots[step] = copy.deepcopy(critic)

        kind = {"none": "none", "clip": "clip", "GP": "gp", "GP one-sided": "gp"}[constraint]
        fit_critic(
            self.real,
            self.fake(offset),
            constraint=kind,
            lam=strength if kind == "gp" else 0.0,
            one_sided=constraint == "GP one-sided",
            c=strength if kind == "clip" else 0.01,
            steps=max(self.steps),
            batch_size=128,
            width=self.width,
            depth=self.depth,
            seed=self.seed,
            log_every=max(self.steps),
            callback=keep,
        )
        return snapshots

    def critic(self, constraint: str, lam: float, c: float, steps: int, offset: float) -> torch.nn.Module:
        strength = {"none": 0.0, "clip": c}.get(constraint, lam)
        return self._trained(constraint, strength, offset)[steps]

    def draw(self, constraint, lam, c, steps, offset):
        critic = self.critic(constraint, lam, c, steps, offset)
        fig, ax = plots.figure(1, width=5.0, height=3.6)
        plots.plot_critic(ax, critic, self.real[:256], self.fake(offset)[:256], extent=(-2.5, 4.0, -2.2, 2.2))
        ax.set_title(f"{self._setting(constraint, lam, c)}, {steps} critic steps", fontsize=9)
        return fig

    def readout(self, constraint, lam, c, steps, offset) -> str:
        critic = self.critic(constraint, lam, c, steps, offset)
        fake = self.fake(offset)
        estimate = critic_estimate(critic, self.real, fake)
        _, norms = gradient_penalty(critic, self.real, fake, generator=torch.Generator().manual_seed(0))
        return (
            f"estimate E_p f - E_q f = {estimate:.3g}   exact W1 = {self._exact(offset):.3f}   "
            f"|grad f| at interpolates: mean {float(norms.mean()):.3g}, std {float(norms.std()):.2g}"
        )

    @staticmethod
    def _setting(constraint, lam, c) -> str:
        if constraint == "clip":
            return f"clip c = {c:g}"
        if constraint.startswith("GP"):
            return f"{constraint} λ = {lam:g}"
        return "no constraint"

    def figure(self, *, static_offsets=(0.0, 1.0, 2.0), lam=10.0, c=0.01) -> SliderFigure:
        """The explorer as a slider figure. The HTML scrubber covers every constraint, steps value
        and ``static_offsets`` at the paper's ``lam`` and WGAN's ``c``; live, every slider moves."""
        return SliderFigure(
            self.draw,
            [
                Slider("constraint", CONSTRAINT_CHOICES, initial="GP"),
                Slider("lam", self.lams, label="λ (GP)", fmt="{:g}", initial=lam, static_values=(lam,)),
                Slider("c", self.cs, label="c (clip)", fmt="{:g}", initial=c, static_values=(c,)),
                Slider("steps", self.steps, label="critic steps", fmt="{:d}", initial=self.steps[-1]),
                Slider("offset", self.offsets, label="generator offset", fmt="{:.1f}", initial=static_offsets[1],
                       static_values=static_offsets),
            ],
            readout=self.readout,
            alt="critic value and gradient field between real samples and a generator blob",
        )
