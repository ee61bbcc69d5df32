"""Train a named recipe into a run folder (:mod:`wgan_teach.run_folder`), with checkpoints, resume and FID.

:func:`train_run` trains (or, with ``resume=True``, continues) with :func:`wgan_teach.train.train`,
the loop of the 2-D chapters (at the speed of :mod:`wgan_teach.speed`), and can score FID at its
checkpoints as it goes (:class:`wgan_teach.run_fid.FidScorer`).

A run survives faults. All arguments are checked before the folder is touched; the folder is
locked for the call (:func:`wgan_teach.run_folder.locked`); every file is written atomically.
Resuming reads the checkpoint first (a damaged one is a ValueError naming the file and the way
out), rebuilds ``metrics.jsonl`` up to the checkpoint's step from the checkpoint's own history
(keeping the FID rows already scored), and re-creates what a kill between the checkpoint and its
files may have cost: the generator, moving average and grid of that step, and its FID scores.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from PIL import Image

from .checks import number, positive_int, positive_number, torch_device
from .checks import path as checked_path, seed as check_seed
from .data import ImageData, load_images
from .files import remove_leftovers, torch_bytes, write_atomically
from .recipes import recipe_by_name
from .run_fid import FidScorer
from .run_folder import generator_path, locked, merged_rows, read_config, read_metrics, save_grid
from .speed import Speed, fastest
from .train import load_checkpoint, train

__all__ = ["CHECKPOINT_KEYS", "read_checkpoint", "train_run"]


def _check_train_arguments(*, resume, progress, steps, device, seed, batch_size, speed, ema_decay, checkpoint_every, log_every,
                           stop_after, fid_n, fid_every, fid_at=()) -> None:
    """Every argument of :func:`train_run` that can be checked before anything is read or written."""
    for name, flag in (("resume", resume), ("progress", progress)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    for name, value in (("steps", steps), ("batch_size", batch_size), ("fid_every", fid_every)):
        if value is not None:
            positive_int(value, name)
    for name, value in (("checkpoint_every", checkpoint_every), ("log_every", log_every), ("fid_n", fid_n)):
        positive_int(value, name)
    if fid_every is not None and fid_every % checkpoint_every:
        raise ValueError(f"fid_every ({fid_every}) must be a multiple of checkpoint_every ({checkpoint_every})")
    torch_device(device)
    check_seed(seed)
    if speed is not None and not isinstance(speed, Speed):
        raise TypeError(f"speed must be a wgan_teach.speed.Speed or None, got {type(speed).__name__}")
    if ema_decay is not None and not 0 < number(ema_decay, "ema_decay") < 1:
        raise ValueError(f"ema_decay must be in (0, 1), got {ema_decay!r}")
    if stop_after is not None:
        positive_number(stop_after, "stop_after")
    if isinstance(fid_at, (str, bytes)) or not hasattr(fid_at, "__iter__"):
        raise TypeError(f"fid_at must be a sequence of seconds, got {type(fid_at).__name__}")
    for seconds in fid_at:
        positive_number(seconds, "fid_at")


CHECKPOINT_KEYS = {"step", "elapsed", "history", "recipe", "seed", "latent_dim", "rng", "generator", "critic",
                   "opt_g", "opt_c"}


def read_checkpoint(path: str | Path) -> dict:
    """The payload of a checkpoint written by training; a damaged or foreign file is a ValueError that
    names it and says what to do (a truncated, empty or overwritten ``checkpoint.pt``)."""
    path = checked_path(path, "path", what="a checkpoint file")
    payload = load_checkpoint(path)
    missing = CHECKPOINT_KEYS - set(payload) if isinstance(payload, dict) else CHECKPOINT_KEYS
    if missing:
        raise ValueError(f"{path} is not a training checkpoint (it lacks {sorted(missing)}); restore it from a copy, "
                         "or start the run again in another folder")
    return payload


def train_run(
    recipe: str,
    data: str | Path,
    out: str | Path,
    *,
    steps: int | None = None,
    device: str = "cpu",
    seed: int = 0,
    resume: bool = False,
    batch_size: int | None = None,
    lr: float | None = None,
    speed: Speed | None = None,
    ema_decay: float | None = None,
    checkpoint_every: int = 1000,
    log_every: int = 100,
    stop_after: float | None = None,
    fid_reference: str | Path | None = None,
    fid_n: int = 10_000,
    fid_every: int | None = None,
    fid_at: Sequence[float] = (),
    inception=None,
    progress: bool = True,
) -> dict:
    """Train ``recipe`` on the images of ``data`` (any :func:`wgan_teach.data.load_images` source) into
    the run folder ``out`` (:mod:`wgan_teach.run_folder`); returns the history. ``steps``, ``batch_size`` and
    ``lr`` override the recipe's (``batch_size`` sets both batches: for quick trials). ``speed`` defaults to
    :func:`wgan_teach.speed.fastest` for ``device``. ``ema_decay`` keeps a moving average of the
    generator too. ``stop_after`` seconds ends this call cleanly at a checkpoint, to resume later.

    With ``fid_reference`` (the real images; their test split), every ``fid_every``-th step (default:
    every checkpoint; it must be a multiple of ``checkpoint_every``) and the last also score FID
    (``fid_n`` images, :data:`wgan_teach.fid.PROTOCOL`) of the generator and its average, appended
    to ``metrics.jsonl`` with the training time so far; evaluation time is not counted as training.
    ``fid_at`` adds FIDs by the clock: at the first logged step after each of these seconds of
    training, the generator and its average are saved (``generators/``, ``ema/``, a sample grid) and scored.
    On a NaN the run stops with :class:`wgan_teach.train.NonFiniteLoss`, ``checkpoint.pt`` holding
    the last good state.

    Faults (module docstring): every argument is checked before the folder is touched; the folder
    is locked for the call (:func:`wgan_teach.run_folder.locked`); every file is written atomically;
    ``resume=True`` first re-creates what the checkpoint implies and an earlier run may have lost to a kill."""
    image_recipe = recipe_by_name(recipe)
    checked_path(data, "data", what="a path to images (wgan_teach.data.load_images)")
    checked_path(out, "out", what="a run folder")
    if fid_reference is not None:
        checked_path(fid_reference, "fid_reference", what="a path to images (wgan_teach.data.load_images)")
    _check_train_arguments(resume=resume, progress=progress, steps=steps, device=device, seed=seed, batch_size=batch_size, speed=speed,
                           ema_decay=ema_decay, checkpoint_every=checkpoint_every, log_every=log_every,
                           stop_after=stop_after, fid_n=fid_n, fid_every=fid_every, fid_at=fid_at)
    out = Path(out)
    speed = fastest(device) if speed is None else speed
    fid_every = fid_every or checkpoint_every
    training = image_recipe.sized(steps, batch_size, lr)
    config = {"recipe": recipe, "net": image_recipe.net, "width": image_recipe.width, "latent_dim": image_recipe.latent_dim,
              "training": asdict(training), "ema_decay": ema_decay, "data": str(data), "seed": seed,
              "device": device, "speed": asdict(speed)}
    checkpoint = out / "checkpoint.pt"
    with locked(out) as created:
        try:
            remove_leftovers(out)  # temporary files of a writer that was killed
            (out / (checkpoint.name + ".partial")).unlink(missing_ok=True)
            state = _resumed_state(out, config) if resume else None
            if not resume and checkpoint.exists():
                raise FileExistsError(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
            images, _, _ = load_images(data, split="train")
            real = ImageData(images, device=device)
            scorer = (FidScorer(fid_reference, n=fid_n, inception=inception, device=device, cache=out / "fid-cache")
                      if fid_reference is not None else None)
        except BaseException:
            if created:  # refused before anything was written: leave no empty folder behind
                shutil.rmtree(out, ignore_errors=True)
            raise
        return _train_in(out, image_recipe, training, config, state, real, scorer, seed=seed, device=device,
                         speed=speed, ema_decay=ema_decay, checkpoint_every=checkpoint_every, log_every=log_every,
                         stop_after=stop_after, fid_every=fid_every, fid_at=sorted(fid_at), progress=progress)


def _resumed_state(out: Path, config: dict) -> dict:
    """The checkpoint of the run in ``out``, after checking that it exists, is intact and was started with ``config``."""
    checkpoint = out / "checkpoint.pt"
    if not (out / "config.json").is_file() or not checkpoint.is_file():
        raise FileNotFoundError(f"nothing to resume: no config.json and checkpoint.pt in {out}")
    free = ("device", "speed")  # a run may resume on another device, at another speed
    stored = read_config(out)
    if {k: v for k, v in stored.items() if k not in free} != {k: v for k, v in json.loads(json.dumps(config)).items() if k not in free}:
        raise ValueError(f"the run in {out} was started with other settings; resume with the same arguments")
    return read_checkpoint(checkpoint)


def _train_in(out, image_recipe, training, config, state, real, scorer, *, seed, device, speed, ema_decay,
              checkpoint_every, log_every, stop_after, fid_every, fid_at, progress) -> dict:
    """The part of :func:`train_run` that writes: config, metrics, the repair on resume, then training."""
    write_atomically(out / "config.json", json.dumps(config, indent=2) + "\n")
    torch.manual_seed(seed)  # the initial weights
    generator, critic = image_recipe.networks()
    ema = copy.deepcopy(generator) if ema_decay is not None else None
    record = _Record(out, image_recipe.latent_dim, training.steps, scorer, generator, ema,
                     checkpoint_every=checkpoint_every, fid_every=fid_every, fid_at=fid_at)
    if state is not None:
        record.resume(state)
    else:
        record.write()  # an empty metrics.jsonl: a new run
    history = train(
        generator, critic, real.sample, training, latent_dim=image_recipe.latent_dim, seed=seed, device=device,
        speed=speed, ema=ema, ema_decay=ema_decay or 0.999, checkpoint=out / "checkpoint.pt",
        checkpoint_every=checkpoint_every, resume=state is not None, stop_after=stop_after, log_every=log_every,
        callback=record, callback_every=math.gcd(log_every, checkpoint_every), progress=progress,
    )
    if record.written < len(history["step"]):
        record(history["step"][-1], generator, critic, history)
    return history


class _Record:
    """What a run folder records while it trains (the callback of :func:`wgan_teach.train.train`):
    ``metrics.jsonl``, rewritten whole and atomically whenever it grows; at each checkpoint (and each
    clock mark of ``fid_at``) the generator, its moving average and a sample grid; and, where a
    ``scorer`` is given, the FID of both generators."""

    def __init__(self, out: Path, latent_dim: int, steps: int, scorer, generator, ema, *,
                 checkpoint_every: int, fid_every: int, fid_at: Sequence[float]):
        self.out, self.latent_dim, self.steps, self.scorer = out, latent_dim, steps, scorer
        self.generator, self.ema = generator, ema
        self.checkpoint_every, self.fid_every, self.marks = checkpoint_every, fid_every, list(fid_at)
        self.lines: list[str] = []  # metrics.jsonl, one JSON text per row
        self.written = 0  # history rows already in lines

    def is_checkpoint(self, step: int) -> bool:
        return step % self.checkpoint_every == 0 or step == self.steps

    def scores_fid(self, step: int) -> bool:
        return self.scorer is not None and step > 0 and (step % self.fid_every == 0 or step == self.steps)

    def score(self, step: int, seconds: float, only_missing: bool = False) -> list[dict]:
        """FID rows of the generator and its average at ``step`` (``only_missing``: those not in the metrics yet)."""
        have = {(row["step"], row.get("ema")) for row in map(json.loads, self.lines)
                if "fid" in row and "generator" not in row}
        return [{**self.scorer(net, self.latent_dim), "step": step, "time": seconds, "ema": averaged}
                for averaged, net in ((False, self.generator), (True, self.ema))
                if net is not None and not (only_missing and (step, averaged) in have)]

    def append(self, rows: list[dict]) -> None:
        if rows:
            self.lines += [json.dumps(row) for row in rows]
            self.write()

    def write(self) -> None:
        """``metrics.jsonl`` as the lines say, replaced atomically."""
        write_atomically(self.out / "metrics.jsonl", "".join(line + "\n" for line in self.lines))

    def resume(self, state: dict) -> None:
        """Rebuild the metrics up to the checkpoint's step from its history (keeping the FID rows scored so
        far), load the generators, and re-create what a kill after the checkpoint may have cost."""
        step, history = state["step"], state["history"]
        kept = [row for row in read_metrics(self.out) if "fid" in row and (row["step"] is None or row["step"] <= step)]
        self.lines = [json.dumps(row) for row in merged_rows(_history_rows(history, 0), kept)]
        self.written = len(history.get("step", []))
        self.write()
        self.generator.load_state_dict(state["generator"])
        if self.ema is not None and "ema" in state:
            self.ema.load_state_dict(state["ema"])
        if self.is_checkpoint(step):
            _save_networks(self.out, step, self.generator, self.ema, self.latent_dim, only_missing=True)
            if self.scores_fid(step):
                self.append(self.score(step, history["time"][-1], only_missing=True))
        trained = history["time"][-1] if history.get("time") else 0.0
        self.marks = [seconds for seconds in self.marks if seconds > trained]  # clock marks still ahead

    def __call__(self, step: int, generator, critic, history: dict) -> None:
        rows = _history_rows(history, self.written)
        self.written += len(rows)
        seconds = history["time"][-1] if history.get("time") else 0.0
        by_clock = self.scorer is not None and bool(self.marks) and seconds >= self.marks[0]
        while self.marks and seconds >= self.marks[0]:
            self.marks.pop(0)
        if self.is_checkpoint(step) or by_clock:
            _save_networks(self.out, step, generator, self.ema, self.latent_dim)
            if by_clock or self.scores_fid(step):
                rows += self.score(step, seconds)
        self.append(rows)


def _history_rows(history: dict, start: int) -> list[dict]:
    """The metrics rows of history entries ``start``, ``start + 1``, ... (one per logged generator step)."""
    return [{key: history[key][i] for key in history} for i in range(start, len(history.get("step", [])))]


def _save_networks(out: Path, step: int, generator, ema, latent_dim: int, only_missing: bool = False) -> None:
    """The checkpoint files of ``step``: generator, moving average (if any) and sample grid (``only_missing``:
    those that are missing or unreadable)."""
    for folder, net in (("generators", generator), ("ema", ema)):
        path = generator_path(out, step, folder)
        if net is not None and not (only_missing and _readable(path)):
            write_atomically(path, torch_bytes(net.state_dict()))
    grid = out / "samples" / f"step-{step:06d}.png"
    if not (only_missing and _readable(grid)):
        save_grid(generator, latent_dim, grid)


def _readable(path: Path) -> bool:
    """Whether ``path`` exists and opens as what it claims to be (weights, or a PNG)."""
    if not path.is_file():
        return False
    try:
        if path.suffix == ".png":
            with Image.open(path) as image:
                image.verify()
        else:
            torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # truncated or overwritten: many failure types
        return False
    return True

