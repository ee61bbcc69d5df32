r"""Chapter 6's experiments: GAN, WGAN with clipping and WGAN-GP trained on the 2-D mixtures, and measured.

A :class:`ToyRun` names one run: data set, method (a key of :data:`METHODS`), seed and sizes.
:func:`run_many` trains many runs: those that differ only in data set and seed are stacked into one
network and trained together (:func:`wgan_teach.train.train_stacked`), and the stacks are spread
over the CPU cores. :func:`run_toy` trains one run in this process and can redraw it live in
Jupyter. Both return a :class:`ToyResult` per run: its quality and, for a run that asks for them,
snapshots for a training movie. Every run is deterministic for its seed and its stack.

Quality is measured on 2,000 generated against 2,000 fresh real samples: the exact
:math:`W_1` between the two sets (POT's network simplex) and, for the mixtures, the modes covered and
the high-quality share of :func:`wgan_teach.metrics.mode_coverage`.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import astuple, dataclass, field, replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import tqdm

from . import metrics, toy
from .distances import w1_exact
from .checks import positive_int, positive_number, torch_device
from .interactive import live_png
from .nets import INITS, critic_mlp, generator_mlp
from .plots import plot_critic
from .train import Recipe, train_stacked

__all__ = ["METHODS", "LR_SWEEP", "lr_sweep", "RECIPE_SEARCH", "recipe_search", "PENALTY_VARIANTS", "penalty_variants",
           "ToyRun", "ToyResult", "Snapshot", "evaluate", "run_toy", "run_many", "results_record", "results_from_record"]

LATENT_DIM = 2  # as the paper's toy code: z ~ N(0, I_2)
EVAL_SIZE = 2000

_ALGORITHM_1 = Recipe(loss="wgan-gp", critic_steps=5, optimizer="adam", lr=4e-3, betas=(0.0, 0.9), lam=10.0)

# The methods compared, as recipes; the schedule's length and the batch come from the ToyRun. Each
# learning rate is the best of the stored sweep for that method (LR_SWEEP, printed in Chapter 6).
METHODS: dict[str, Recipe] = {
    "gan": Recipe(loss="gan", critic_steps=1, optimizer="adam", lr=4e-3, betas=(0.5, 0.9)),
    "wgan-clip": Recipe(loss="wgan-clip", critic_steps=5, optimizer="rmsprop", lr=1e-3, clip=0.01),
    "wgan-gp": _ALGORITHM_1,  # the paper's Algorithm 1: two-sided penalty, lambda 10, 5 critic steps, Adam (0, 0.9)
    "wgan-gp-one-sided": replace(_ALGORITHM_1, one_sided=True),
    "wgan-gp-lam0.1": replace(_ALGORITHM_1, lam=0.1),  # the lambda of the paper's toy code
}


LR_SWEEP = Path(__file__).with_name("results") / "toy_lr_sweep.json"
RECIPE_SEARCH = LR_SWEEP.with_name("toy_recipe_search.json")
PENALTY_VARIANTS = LR_SWEEP.with_name("toy_penalty_variants.json")


def lr_sweep() -> dict:
    """The learning-rate sweep that chose the learning rates of :data:`METHODS`, as
    ``benchmarks/toy_lr_sweep.py`` stored it: grids, runs, scores, the best rate per method, provenance."""
    return json.loads(LR_SWEEP.read_text())


def recipe_search() -> dict:
    """The search for a CPU recipe of Algorithm 1, as ``benchmarks/toy_recipe_search.py`` stored it:
    per stage the reason, the configurations (:class:`ToyRun` fields) and every run's quality and
    training seconds; the seeds, the W1 floors and provenance."""
    return json.loads(RECIPE_SEARCH.read_text())


def penalty_variants() -> tuple[list[ToyResult], dict]:
    """Chapter 6's runs of the two variants of Algorithm 1's penalty, as
    ``benchmarks/toy_penalty_variants.py`` trained and stored them (:func:`results_from_record`),
    and that file's provenance."""
    record = json.loads(PENALTY_VARIANTS.read_text())
    return results_from_record(record["results"]), record["provenance"]


@dataclass(frozen=True)
class ToyRun:
    """One training run on a 2-D data set: ``method`` is a key of :data:`METHODS`.

    The defaults are the book's CPU recipe: a critic of 3 hidden layers of 32 units, a generator
    of 3 × 64, both initialised as in the paper's toy code (``init="he"``, see
    :func:`wgan_teach.nets.mlp`), batch 64, 1,500 generator steps, and the method's learning rate
    (``lr=None``) decayed linearly to zero (``lr_decay=False``: constant, as Algorithm 1 and the
    paper's toy code have it). ``snapshot_every`` asks for a
    :class:`Snapshot` every that many steps (it changes what is recorded, not the training).
    """

    dataset: str = "8gaussians"
    method: str = "wgan-gp"
    seed: int = 0
    steps: int = 1500
    batch_size: int = 64
    lr: float | None = None
    critic_width: int = 32
    generator_width: int = 64
    depth: int = 3
    init: str = "he"
    lr_decay: bool = True
    snapshot_every: int | None = None

    def __post_init__(self):
        if self.dataset not in toy.DATASETS:
            raise ValueError(f"unknown data set {self.dataset!r}; valid names: {', '.join(toy.DATASETS)}")
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; valid names: {', '.join(METHODS)}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.lr_decay, bool):
            raise TypeError(f"lr_decay must be True or False, got {self.lr_decay!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if self.snapshot_every is not None and (not isinstance(self.snapshot_every, int) or self.snapshot_every < 1):
            raise ValueError(f"snapshot_every must be a positive integer or None, got {self.snapshot_every!r}")
        for name in ("critic_width", "generator_width", "depth"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.recipe()  # validates steps, batch_size and lr

    def recipe(self) -> Recipe:
        method = METHODS[self.method]
        return replace(method, steps=self.steps, batch_size=self.batch_size, lr=method.lr if self.lr is None else self.lr,
                       lr_decay=self.lr_decay)

    def networks(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        """A fresh generator and critic, initialised from ``seed``."""
        torch.manual_seed(self.seed)
        generator = generator_mlp(LATENT_DIM, 2, width=self.generator_width, depth=self.depth, init=self.init)
        critic = critic_mlp(2, width=self.critic_width, depth=self.depth, init=self.init)
        return generator, critic

    def stack_key(self) -> tuple:
        """Runs with equal keys share a recipe and network sizes, so they can be trained as one stack."""
        return astuple(replace(self, dataset=toy.DATASETS[0], seed=0, snapshot_every=None))


@dataclass
class Snapshot:
    """The state of a run at one generator step: training time so far (the run's share of its stack's
    time, snapshots excluded), samples at fixed latents, the critic's weights, exact and estimated
    :math:`W_1`, and the quality measures."""

    step: int
    seconds: float
    samples: np.ndarray
    critic: dict
    w1: float
    w1_estimate: float
    quality: dict


@dataclass
class ToyResult:
    """What a run measured: final quality, training time (the run's share of the wall time of its
    stack of ``stacked`` runs), history, final samples, snapshots and final weights."""

    run: ToyRun
    quality: dict
    seconds: float
    history: dict
    samples: np.ndarray
    snapshots: list[Snapshot] = field(default_factory=list)
    stacked: int = 1
    generator: dict | None = None  # the final weights (state dicts, on the CPU)
    critic: dict | None = None

    def critic_at(self, index: int) -> torch.nn.Module:
        """The critic of snapshot ``index``, rebuilt from its weights."""
        _, critic = self.run.networks()
        critic.load_state_dict(self.snapshots[index].critic)
        return critic.eval()


# What a stored result keeps of a run's history: the step and the penalty's gradient norm (Chapter 6
# reads the norm's first and last steps). Float32 values are written in their shortest exact form.
_STORED_HISTORY = ("step", "grad_norm_mean")


def results_record(results: list[ToyResult]) -> list[dict]:
    """``results`` as JSON-ready rows: the run's fields, quality, training seconds, stack size, the
    final samples and the history's :data:`_STORED_HISTORY` (no snapshots, no weights).
    :func:`results_from_record` reads them back exactly."""
    exact = lambda values: [float(str(np.float32(v))) for v in values]  # shortest text that is the same float32
    return [{"run": vars(r.run), "quality": r.quality, "seconds": r.seconds, "stacked": r.stacked,
             "samples": [exact(row) for row in r.samples],
             "history": {k: r.history[k] if k == "step" else exact(r.history[k]) for k in _STORED_HISTORY}}
            for r in results]


def results_from_record(rows: list[dict]) -> list[ToyResult]:
    """The :class:`ToyResult` s of :func:`results_record`'s rows (their history holds only the stored keys)."""
    as_float32 = lambda values: np.asarray(values, dtype=np.float32)
    return [ToyResult(ToyRun(**row["run"]), row["quality"], row["seconds"],
                      {k: v if k == "step" else as_float32(v).tolist() for k, v in row["history"].items()},
                      as_float32(row["samples"]), stacked=row["stacked"]) for row in rows]


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
    """The picture redrawn during live training (an IPython image): critic, gradient field, real and
    generated samples."""
    import IPython.display  # only where a run is watched live: a GPU machine may have no IPython

    real = toy.sample(run.dataset, len(snapshot.samples), torch.Generator().manual_seed(0))
    fig, ax = plt.subplots(figsize=(4.2, 4.2), layout="constrained")
    plot_critic(ax, critic, real, snapshot.samples, extent=(-2, 2, -2, 2))
    quality = ", ".join(f"{k} {v:.3g}" for k, v in snapshot.quality.items())
    ax.set_title(f"{run.method} on {run.dataset}, step {snapshot.step}\n{quality}", fontsize=8)
    png, width = live_png(fig)
    return IPython.display.Image(png, width=width)


class _Snapshots:
    """The callback of a stack's training: a :class:`Snapshot` of every run that asks for them, every
    ``snapshot_every`` of its steps, and the live picture of the run ``live``, redrawn in place."""

    def __init__(self, runs: list[ToyRun], live: ToyRun | None, size: int):
        self.runs, self.live, self.size = runs, live, size
        self.kept: dict[int, list[Snapshot]] = {i: [] for i, run in enumerate(runs) if run.snapshot_every}
        self.every = math.gcd(*(runs[i].snapshot_every for i in self.kept)) if self.kept else None
        self.displays: dict = {}  # run index -> IPython display handle

    def __call__(self, step, generators, critics, histories) -> None:
        for i, kept in self.kept.items():
            run = self.runs[i]
            if step % run.snapshot_every:
                continue
            generator, critic = copy.deepcopy(generators[i]), copy.deepcopy(critics[i])
            samples = _samples(generator, self.size)
            quality = _quality(samples, run.dataset, seed=step + 1)
            history = histories[i]
            estimate = float(np.mean(history["w1_estimate"][-run.snapshot_every:])) if history else float("nan")
            seconds = history["time"][-1] / len(self.runs) if history else 0.0
            kept.append(Snapshot(step, seconds, samples.numpy(), critic.state_dict(), quality["w1"], estimate, quality))
            if run == self.live:
                self._show(i, _live_frame(run, kept[-1], critic))

    def _show(self, i: int, frame) -> None:
        if i not in self.displays:  # outside IPython display() prints a repr and returns no handle
            import IPython.display

            self.displays[i] = IPython.display.display(frame, display_id=True)
        elif self.displays[i] is not None:
            self.displays[i].update(frame)


def _train_stack(runs: list[ToyRun], *, live: ToyRun | None = None, progress: bool = False, device: str = "cpu",
                 snapshot_size: int = 1000, stop_after: float | None = None, measure: bool = True) -> list[ToyResult]:
    """Train ``runs`` (equal :meth:`ToyRun.stack_key`) as one stack in this process, on ``device``, and
    measure them (``measure=False``: quality left empty, for :func:`_measure` elsewhere); the run ``live``
    (one of ``runs``) is redrawn in place at every snapshot; ``stop_after`` seconds of training end
    the stack early (the history says at which step)."""
    recipe, stacked = runs[0].recipe(), len(runs)
    generators, critics = map(list, zip(*(run.networks() for run in runs)))
    snapshots = _Snapshots(runs, live, snapshot_size)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # networks this small gain nothing from more threads, and lose to contention
    try:
        histories = train_stacked(
            generators, critics, [functools.partial(toy.sample, run.dataset) for run in runs], recipe,
            latent_dim=LATENT_DIM, seeds=[run.seed for run in runs], device=device,
            log_every=max(recipe.steps // 10, 1), callback=snapshots if snapshots.kept else None,
            callback_every=snapshots.every or 1, stop_after=stop_after, progress=progress,
        )
    finally:
        torch.set_num_threads(threads)
    seconds = histories[0]["time"][-1] / stacked
    results = []
    for i, (run, generator, critic, history) in enumerate(zip(runs, generators, critics, histories)):
        samples = _samples(generator, EVAL_SIZE).numpy()
        quality = _measure(samples, run.dataset) if measure else {}
        results.append(ToyResult(run, quality, seconds, history, samples, snapshots.kept.get(i, []), stacked,
                                 generator.state_dict(), critic.state_dict()))
    return results


def _measure(samples: np.ndarray, dataset: str) -> dict:
    """A run's final quality from its :data:`EVAL_SIZE` samples at the fixed latents."""
    return _quality(torch.from_numpy(samples), dataset, seed=1)


def _measure_shared(pool: ProcessPoolExecutor, results: list[ToyResult]) -> None:
    """Measure ``results`` in place, in the pool's workers and in this process, whichever is free first."""
    futures = [pool.submit(_measure, r.samples, r.run.dataset) for r in results]
    for result, future in reversed(list(zip(results, futures))):
        if future.cancel():  # no worker has taken it yet
            result.quality = _measure(result.samples, result.run.dataset)
    for result, future in zip(results, futures):
        if not future.cancelled():
            result.quality = future.result()


def run_toy(run: ToyRun, *, live: bool = False, progress: bool = False, device: str = "cpu") -> ToyResult:
    """Train one run in this process, on ``device``, and measure it; with ``live=True`` (in Jupyter)
    its critic and samples are redrawn in place at every snapshot (``run.snapshot_every``)."""
    if not isinstance(run, ToyRun):
        raise TypeError(f"run must be a ToyRun, got {type(run).__name__}")
    return _train_stack([run], live=run if live else None, progress=progress, device=device)[0]


def run_many(runs, *, workers: int | None = None, progress: bool = True, live: bool | ToyRun = False,
             device: str = "cpu", stop_after: float | None = None) -> list[ToyResult]:
    """Train and measure every run; results come back in the order of ``runs``.

    Runs with equal :meth:`ToyRun.stack_key` (the same method, sizes and steps; any data set and
    seed) are trained as one stack, on one thread, and the stacks run in parallel over ``workers``
    processes (default: one per CPU core, less the one this process takes for a live stack),
    largest first. A run's result depends on its seed and on the runs stacked with it (they change
    the round-off, not the maths), never on the number of workers. With ``live`` (in Jupyter) one run is redrawn in place at every snapshot while its
    stack trains in this process (its runs are then measured by the workers and this process
    together): the run given, or for ``live=True`` the first run of ``runs`` that asks
    for snapshots. ``device`` trains every stack there (on "cuda", the worker processes
    share the GPU); ``stop_after`` seconds of training end each stack early.
    """
    runs = list(runs)
    if not all(isinstance(r, ToyRun) for r in runs):
        raise TypeError("runs must be ToyRun objects")
    if workers is not None:
        workers = positive_int(workers, "workers")
    torch_device(device)
    if stop_after is not None:
        positive_number(stop_after, "stop_after")
    if not isinstance(live, (bool, ToyRun)):
        raise TypeError(f"live must be a bool or one of the runs, got {type(live).__name__}")
    watched = next((r for r in runs if r.snapshot_every), None) if live is True else live or None
    if watched is not None and (watched not in runs or not watched.snapshot_every):
        raise ValueError("live must be one of runs, with snapshot_every set")
    stacks: dict[tuple, list[int]] = {}
    for i, run in enumerate(runs):
        stacks.setdefault(run.stack_key(), []).append(i)
    cost = lambda stack: len(stack) * runs[stack[0]].recipe().steps * runs[stack[0]].recipe().critic_steps
    order = sorted(stacks.values(), key=cost, reverse=True)
    watched_at = runs.index(watched) if watched is not None else None
    here = next((s for s in order if watched_at in s), None)
    away = [s for s in order if s is not here]
    cores = len(os.sched_getaffinity(0)) - (here is not None)  # this process trains too: one process per core
    workers = min(workers or max(cores, 1), len(away))
    results: list[ToyResult | None] = [None] * len(runs)

    def keep(stack, stack_results, bar):
        for i, result in zip(stack, stack_results):
            results[i] = result
        bar.update(len(stack))

    train_stack = functools.partial(_train_stack, device=device, stop_after=stop_after)
    with tqdm(total=len(runs), disable=not progress, desc="runs") as bar:
        if workers <= 1 and here is None:  # nothing to overlap: every stack in this process
            for stack in away:
                keep(stack, train_stack([runs[i] for i in stack]), bar)
            return results
        context = multiprocessing.get_context("spawn")  # fork after torch has started threads can deadlock
        with ProcessPoolExecutor(max(workers, 1), mp_context=context) as pool:
            futures = {pool.submit(train_stack, [runs[i] for i in stack]): stack for stack in away}
            if here is not None:
                here_results = train_stack([runs[i] for i in here], live=watched, measure=not away)
                if away:
                    _measure_shared(pool, here_results)
                keep(here, here_results, bar)
            for future in as_completed(futures):
                keep(futures[future], future.result(), bar)
    return results
