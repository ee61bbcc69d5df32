r"""Chapter 6's experiments: GAN, WGAN with clipping and WGAN-GP trained on the 2-D mixtures, and measured.

A :class:`ToyRun` names one run (data set, method, seed, size of the networks and of the run);
:func:`run_toy` trains it with :func:`wgan_teach.train.train` and returns a :class:`ToyResult`
(measurements and, optionally, snapshots for a training movie); :func:`run_many` runs many of
them on all CPU cores. Every run is deterministic for its seed.

Quality is measured on 2,000 generated against 2,000 fresh real samples: the exact
:math:`W_1` between the two sets (POT's network simplex) and, for the mixtures, the modes covered and
the high-quality share of :func:`wgan_teach.metrics.mode_coverage`.
"""

from __future__ import annotations

import copy
import functools
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace

import IPython.display
import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import tqdm

from . import metrics, toy
from .distances import w1_exact
from .interactive import figure_png
from .nets import critic_mlp, generator_mlp
from .plots import plot_critic
from .train import Recipe, train

__all__ = ["METHODS", "CPU_STEPS", "ToyRun", "ToyResult", "Snapshot", "evaluate", "run_toy", "run_many"]

LATENT_DIM = 2  # as the paper's toy code: z ~ N(0, I_2)
EVAL_SIZE = 2000
# Generator steps of the chapter's CPU runs, per data set (25 modes take longer to place).
CPU_STEPS = {"8gaussians": 1500, "25gaussians": 4000, "swissroll": 1500}

# The methods compared, as recipes; the schedule's length and the batch come from the ToyRun.
METHODS: dict[str, Recipe] = {
    "gan": Recipe(loss="gan", critic_steps=1, optimizer="adam", lr=2e-3, betas=(0.5, 0.9)),
    "wgan-clip": Recipe(loss="wgan-clip", critic_steps=5, optimizer="rmsprop", lr=5e-4, clip=0.01),
    "wgan-gp": Recipe(loss="wgan-gp", critic_steps=5, lr=2e-3, betas=(0.5, 0.9), lam=10.0, one_sided=True),
    "wgan-gp-two-sided": Recipe(loss="wgan-gp", critic_steps=5, lr=2e-3, betas=(0.5, 0.9), lam=10.0),
    "wgan-gp-lam0.1": Recipe(loss="wgan-gp", critic_steps=5, lr=2e-3, betas=(0.5, 0.9), lam=0.1),
}


@dataclass(frozen=True)
class ToyRun:
    """One training run on a 2-D data set: ``method`` is a key of :data:`METHODS`.

    The defaults are the book's CPU recipe: a critic of 3 hidden layers of 32 units, a generator
    of 3 × 128, batch 256, and the method's learning rate (``lr=None``; 2e-3 for Adam, 5e-4 for
    WGAN's RMSProp) decayed linearly to zero over ``steps`` generator steps.
    """

    dataset: str = "8gaussians"
    method: str = "wgan-gp"
    seed: int = 0
    steps: int = 1500
    batch_size: int = 256
    lr: float | None = None
    critic_width: int = 32
    generator_width: int = 128
    depth: int = 3

    def __post_init__(self):
        if self.dataset not in toy.DATASETS:
            raise ValueError(f"unknown data set {self.dataset!r}; valid names: {', '.join(toy.DATASETS)}")
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; valid names: {', '.join(METHODS)}")
        self.recipe()  # validates steps, batch_size and lr

    def recipe(self) -> Recipe:
        method = METHODS[self.method]
        return replace(method, steps=self.steps, batch_size=self.batch_size, lr=self.lr or method.lr, lr_decay=True)

    def networks(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        """A fresh generator and critic, initialised from ``seed``."""
        torch.manual_seed(self.seed)
        generator = generator_mlp(LATENT_DIM, 2, width=self.generator_width, depth=self.depth)
        critic = critic_mlp(2, width=self.critic_width, depth=self.depth)
        return generator, critic


@dataclass
class Snapshot:
    """The state of a run at one generator step: training time so far (snapshots excluded), samples
    at fixed latents, the critic's weights, exact and estimated :math:`W_1`, and the quality measures."""

    step: int
    seconds: float
    samples: np.ndarray
    critic: dict
    w1: float
    w1_estimate: float
    quality: dict


@dataclass
class ToyResult:
    """What :func:`run_toy` measured: final quality, wall time (training only), history, snapshots."""

    run: ToyRun
    quality: dict
    seconds: float
    history: dict
    samples: np.ndarray
    snapshots: list[Snapshot] = field(default_factory=list)

    def critic_at(self, index: int) -> torch.nn.Module:
        """The critic of snapshot ``index``, rebuilt from its weights."""
        _, critic = self.run.networks()
        critic.load_state_dict(self.snapshots[index].critic)
        return critic.eval()


def _fixed_latents(n: int) -> torch.Tensor:
    return torch.randn(n, LATENT_DIM, generator=torch.Generator().manual_seed(2017))


def evaluate(generator: torch.nn.Module, dataset: str, *, n: int = EVAL_SIZE, seed: int = 1) -> dict:
    r"""Quality of a generator: exact :math:`W_1` between ``n`` generated and ``n`` real samples, and
    for the mixtures the modes covered and high-quality share (:func:`wgan_teach.metrics.mode_coverage`)."""
    return _quality(_samples(generator, n), dataset, seed)


def _samples(generator: torch.nn.Module, n: int) -> torch.Tensor:
    """The generator's output at the ``n`` fixed latents every measurement uses."""
    with torch.no_grad():
        return generator(_fixed_latents(n)).float()


def _quality(fake: torch.Tensor, dataset: str, seed: int) -> dict:
    real = toy.sample(dataset, len(fake), torch.Generator().manual_seed(seed))
    mixture = dataset != "swissroll"
    if not torch.isfinite(fake).all():
        return {"w1": float("nan"), **({"modes_covered": 0, "high_quality": 0.0} if mixture else {})}
    quality = {"w1": w1_exact(fake.numpy(), real.numpy())}
    if mixture:
        coverage = metrics.mode_coverage(fake, dataset)
        quality.update(modes_covered=coverage["modes_covered"], high_quality=coverage["high_quality"])
    return quality


def _live_frame(run: ToyRun, snapshot: Snapshot, critic: torch.nn.Module):
    """The picture redrawn during live training: critic, gradient field, real and generated samples."""
    real = toy.sample(run.dataset, len(snapshot.samples), torch.Generator().manual_seed(0))
    fig, ax = plt.subplots(figsize=(4.2, 4.2), layout="constrained")
    plot_critic(ax, critic, real, snapshot.samples, extent=(-2, 2, -2, 2))
    quality = ", ".join(f"{k} {v:.3g}" for k, v in snapshot.quality.items())
    ax.set_title(f"{run.method}, step {snapshot.step}: {quality}", fontsize=8)
    return figure_png(fig)


def run_toy(
    run: ToyRun,
    *,
    snapshot_every: int | None = None,
    snapshot_size: int = 1000,
    live: bool = False,
    device: str = "cpu",
    progress: bool = False,
) -> ToyResult:
    """Train ``run`` and measure it; with ``snapshot_every``, also keep :class:`Snapshot` s for a movie.

    Snapshots hold ``snapshot_size`` samples at fixed latents, the critic's weights and the exact
    :math:`W_1` on ``snapshot_size`` samples per side; their cost is excluded from ``seconds``.
    With ``live=True`` (in Jupyter) the critic and samples are redrawn in place at every snapshot.
    """
    generator, critic = run.networks()
    snapshots: list[Snapshot] = []
    paused = 0.0
    display = None

    def snapshot(step, generator, critic, history):
        nonlocal paused, display
        start = time.perf_counter()
        generator, critic = copy.deepcopy(generator).cpu(), copy.deepcopy(critic).cpu()
        samples = _samples(generator, snapshot_size)
        quality = _quality(samples, run.dataset, seed=step + 1)
        estimate = float(np.mean(history["w1_estimate"][-snapshot_every:])) if history else float("nan")
        seconds = start - began - paused
        snapshots.append(Snapshot(step, seconds, samples.numpy(), critic.state_dict(), quality["w1"], estimate, quality))
        if live:
            frame = IPython.display.Image(_live_frame(run, snapshots[-1], critic))
            if display is None:
                display = IPython.display.display(frame, display_id=True)
            else:
                display.update(frame)
        paused += time.perf_counter() - start

    began = time.perf_counter()
    history = train(
        generator, critic, functools.partial(toy.sample, run.dataset), run.recipe(),
        latent_dim=LATENT_DIM, seed=run.seed, device=device, log_every=max(run.steps // 10, 1),
        callback=snapshot if snapshot_every else None, callback_every=snapshot_every or 1, progress=progress,
    )
    seconds = time.perf_counter() - began - paused
    samples = _samples(generator.cpu(), EVAL_SIZE)
    return ToyResult(run, _quality(samples, run.dataset, seed=1), seconds, history, samples.numpy(), snapshots)


def _run_quietly(run: ToyRun) -> ToyResult:
    torch.set_num_threads(1)  # one core per run: small networks gain nothing from more
    return run_toy(run)


def run_many(runs, *, workers: int | None = None, progress: bool = True) -> list[ToyResult]:
    """:func:`run_toy` for every run, in parallel over ``workers`` processes (default: all CPU cores).

    Results come back in the order of ``runs``; each is the same as a sequential run would give.
    """
    runs = list(runs)
    if not all(isinstance(r, ToyRun) for r in runs):
        raise TypeError("runs must be ToyRun objects")
    workers = workers or len(os.sched_getaffinity(0))
    if workers == 1:
        return [run_toy(r) for r in tqdm(runs, disable=not progress, desc="runs")]
    context = multiprocessing.get_context("spawn")  # fork after torch has started threads can deadlock
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(tqdm(pool.map(_run_quietly, runs), total=len(runs), disable=not progress, desc="runs"))
