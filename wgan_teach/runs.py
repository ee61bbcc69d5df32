"""Image training runs in a folder: named recipes, training with checkpoints and sample grids, FID, sampling.

A run folder holds::

    config.json          recipe name and settings, data source, seed, device
    metrics.jsonl        one JSON object per logged generator step (and one per FID evaluation)
    checkpoint.pt        the latest resumable state (networks, optimisers, random state, step, moving average)
    generators/step-NNNNNN.pt   the generator's weights at every checkpoint, for FID over training
    ema/step-NNNNNN.pt          the same for the moving average of the generator (with ``ema_decay``)
    samples/step-NNNNNN.png     an 8 x 8 grid at fixed latents at every checkpoint
    .lock                       the lock of the process writing the folder (:func:`locked`)

:func:`train_run` trains (or, with ``resume=True``, continues) with :func:`wgan_teach.train.train`,
the loop of the 2-D chapters (at the speed of :mod:`wgan_teach.speed`), and can score FID at its
checkpoints as it goes; :func:`fid_run` scores saved generators afterwards, :func:`fid_of_real` real
images (the floor of the protocol); :func:`sample_grid` draws a grid.

A run folder survives faults. Every file in it is written atomically
(:func:`wgan_teach.files.write_atomically`: a kill or a full disk leaves the old version or the
new one); ``metrics.jsonl`` is rewritten whole, from memory, whenever it grows. All arguments are
checked before the folder is touched. One process at a time may write a folder: training and
:func:`fid_run` hold an ``fcntl`` lock on it, and a second one is refused (:class:`RunFolderBusy`).
Resuming reads the checkpoint first (a damaged one is a ValueError naming the file and the way
out), rebuilds ``metrics.jsonl`` up to the checkpoint's step from the checkpoint's own history
(keeping the FID rows already scored), and re-creates what a kill between the checkpoint and its
files may have cost: the generator, moving average and grid of that step, and its FID scores.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import fcntl
import json
import math
import numbers
import os
import platform
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from PIL import Image

from . import fid as fid_module
from .checks import number, positive_int, positive_number, torch_device
from .data import ImageData, load_images, to_images
from .files import first_line, png_bytes, remove_leftovers, torch_bytes, write_atomically
from .nets import cnn32, res32
from .speed import Speed, fastest
from .train import Recipe, load_checkpoint, train

__all__ = ["ImageRecipe", "RECIPES", "recipe_by_name", "RunFolderBusy", "locked", "read_checkpoint", "train_run",
           "FidScorer", "fid_run", "fid_of_real", "sample_grid", "load_generator", "windowed", "export_run", "PublishedRun",
           "published_runs"]

NETWORKS = {"cnn32": cnn32, "res32": res32}
GRID_SEED = 12345
REFERENCE_SEED = 0  # the reference subset of FID when it uses fewer images than the split has
LOCK = ".lock"


@dataclass(frozen=True)
class ImageRecipe:
    """A named image recipe: which networks (``net`` in :data:`NETWORKS`), latent size, and the loop's
    :class:`Recipe`. ``width`` narrows the networks: cnn32's ``width`` (64 as published), res32's
    ``channels`` (128 as published); None keeps the published size."""

    net: str
    training: Recipe
    latent_dim: int = 128
    width: int | None = None

    def networks(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        if self.width is None:
            return NETWORKS[self.net](self.latent_dim)
        return NETWORKS[self.net](self.latent_dim, **{"cnn32": {"width": self.width}, "res32": {"channels": self.width}}[self.net])

    def sized(self, steps: int | None = None, batch_size: int | None = None, lr: float | None = None) -> Recipe:
        """The loop's :class:`Recipe` with ``steps``, ``batch_size`` (both batches) and ``lr`` overridden where given."""
        training = self.training if steps is None else replace(self.training, steps=steps)
        if batch_size is not None:
            training = replace(training, batch_size=batch_size, generator_batch_size=batch_size)
        return training if lr is None else replace(training, lr=lr)


_ADAM_WGAN = dict(optimizer="adam", lr=2e-4, betas=(0.0, 0.9), lam=10.0, lr_decay=True, steps=100_000)
RECIPES: dict[str, ImageRecipe] = {
    # the common PyTorch WGAN-GP baseline: SNGAN-style CNN, one critic step, larger generator batch
    "cnn32-wgangp": ImageRecipe("cnn32", Recipe("wgan-gp", critic_steps=1, batch_size=128, generator_batch_size=256, **_ADAM_WGAN)),
    # the WGAN-GP paper's CIFAR-10 ResNet and schedule
    "res32-wgangp": ImageRecipe("res32", Recipe("wgan-gp", critic_steps=5, batch_size=64, generator_batch_size=128, **_ADAM_WGAN)),
    # WGAN (Arjovsky et al. 2017): RMSProp 5e-5, clipping at 0.01, five critic steps
    "cnn32-wgan-clip": ImageRecipe("cnn32", Recipe("wgan-clip", critic_steps=5, batch_size=64, optimizer="rmsprop", lr=5e-5, clip=0.01, steps=100_000)),
    # the non-saturating GAN, for contrast (DCGAN's Adam settings)
    "cnn32-gan": ImageRecipe("cnn32", Recipe("gan", critic_steps=1, batch_size=128, optimizer="adam", lr=2e-4, betas=(0.5, 0.999), steps=100_000)),
}
# Candidates for a laptop CPU (Chapter 7): the same recipes with narrower networks and smaller batches.
for _name, _recipe in list(RECIPES.items()):
    if _name != "cnn32-gan":
        _net, _rest = _name.split("-", 1)
        for _width in {"cnn32": (16, 32), "res32": (32, 64)}[_net]:
            RECIPES[f"{_net}-w{_width}-{_rest}"] = replace(_recipe, width=_width)


def recipe_by_name(name: str) -> ImageRecipe:
    """The :class:`ImageRecipe` called ``name`` in :data:`RECIPES`; a ValueError lists the names otherwise."""
    if not isinstance(name, str) or name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; valid names: {', '.join(RECIPES)}")
    return RECIPES[name]


class RunFolderBusy(RuntimeError):
    """Another process holds the run folder (:func:`locked`): two runs must not write one folder."""


@contextlib.contextmanager
def locked(out: str | Path):
    """Hold the run folder ``out`` (created if missing) for the length of the ``with`` block.

    The lock is ``fcntl.flock`` on ``out/.lock``, exclusive and not waited for: while one process
    holds it, another entering gets :class:`RunFolderBusy` at once, naming the holder's process id.
    The kernel releases it when the holder ends, however it ends (a kill included), so a stale
    lock file never blocks a later run. Yields whether this call created the folder.
    """
    out = Path(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise RunFolderBusy(f"{out} is in use by another run (process {holder}); wait for it to end, "
                                "or choose another folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield created
    finally:
        os.close(fd)


def _grid_image(generator: torch.nn.Module, latent_dim: int, n: int = 64) -> Image.Image:
    """An image grid of ``n`` samples at fixed latents (``GRID_SEED``), generator in eval mode."""
    device = next(iter(generator.parameters())).device
    z = torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(GRID_SEED)).to(device)
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        images = to_images(generator(z)).cpu()
    generator.train(was_training)
    columns = math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    h, w = images.shape[2:]
    canvas = torch.full((3, rows * (h + 2) + 2, columns * (w + 2) + 2), 255, dtype=torch.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        canvas[:, 2 + r * (h + 2) : 2 + r * (h + 2) + h, 2 + c * (w + 2) : 2 + c * (w + 2) + w] = image
    return Image.fromarray(canvas.permute(1, 2, 0).numpy())


def _save_grid(generator: torch.nn.Module, latent_dim: int, path: Path, n: int = 64) -> Path:
    return write_atomically(path, png_bytes(_grid_image(generator, latent_dim, n)))


def _check_train_arguments(*, steps, device, seed, batch_size, speed, ema_decay, checkpoint_every, log_every,
                           stop_after, fid_n, fid_every, fid_at=()) -> None:
    """Every argument of :func:`train_run` that can be checked before anything is read or written."""
    for name, value in (("steps", steps), ("batch_size", batch_size), ("fid_every", fid_every)):
        if value is not None:
            positive_int(value, name)
    for name, value in (("checkpoint_every", checkpoint_every), ("log_every", log_every), ("fid_n", fid_n)):
        positive_int(value, name)
    if fid_every is not None and fid_every % checkpoint_every:
        raise ValueError(f"fid_every ({fid_every}) must be a multiple of checkpoint_every ({checkpoint_every})")
    torch_device(device)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer, got {seed!r}")
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
    path = Path(path)
    payload = load_checkpoint(path)
    missing = CHECKPOINT_KEYS - set(payload) if isinstance(payload, dict) else CHECKPOINT_KEYS
    if missing:
        raise ValueError(f"{path} is not a training checkpoint (it lacks {sorted(missing)}); restore it from a copy, "
                         "or start the run again in another folder")
    return payload


def _read_config(out: Path) -> dict:
    path = out / "config.json"
    try:
        config = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is damaged ({first_line(err)}); restore it from a copy, "
                         "or start the run again in another folder") from err
    if not isinstance(config, dict) or not {"net", "latent_dim"} <= config.keys():
        raise ValueError(f"{path} is not the config of a run; restore it from a copy, "
                         "or start the run again in another folder")
    return config


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
    the run folder ``out`` (module docstring); returns the history. ``steps``, ``batch_size`` and
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
    is locked for the call (:func:`locked`); every file is written atomically; ``resume=True`` first
    re-creates what the checkpoint implies and an earlier run may have lost to a kill."""
    image_recipe = recipe_by_name(recipe)
    if not isinstance(out, (str, os.PathLike)) or not isinstance(data, (str, os.PathLike)):
        raise TypeError(f"data and out must be paths, got {type(data).__name__} and {type(out).__name__}")
    _check_train_arguments(steps=steps, device=device, seed=seed, batch_size=batch_size, speed=speed,
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
    stored = _read_config(out)
    if {k: v for k, v in stored.items() if k not in free} != {k: v for k, v in json.loads(json.dumps(config)).items() if k not in free}:
        raise ValueError(f"the run in {out} was started with other settings; resume with the same arguments")
    return read_checkpoint(checkpoint)


def _train_in(out, image_recipe, training, config, state, real, scorer, *, seed, device, speed, ema_decay,
              checkpoint_every, log_every, stop_after, fid_every, fid_at, progress) -> dict:
    """The part of :func:`train_run` that writes: config, metrics, the repair on resume, then training."""
    checkpoint = out / "checkpoint.pt"
    write_atomically(out / "config.json", json.dumps(config, indent=2) + "\n")
    torch.manual_seed(seed)  # the initial weights
    generator, critic = image_recipe.networks()
    ema = copy.deepcopy(generator) if ema_decay is not None else None
    lines: list[str] = []  # metrics.jsonl, one JSON text per row, rewritten whole (atomically) when it grows
    written = {"n": 0}  # history rows already in lines

    def is_checkpoint(step: int) -> bool:
        return step % checkpoint_every == 0 or step == training.steps

    def score(step: int, seconds: float, only_missing: bool = False) -> list[dict]:
        """FID rows of the generator and its average at ``step`` (``only_missing``: those not in the metrics yet)."""
        have = {(row["step"], row.get("ema")) for row in map(json.loads, lines) if "fid" in row and "generator" not in row}
        return [{**scorer(net, image_recipe.latent_dim), "step": step, "time": seconds, "ema": averaged}
                for averaged, net in ((False, generator), (True, ema))
                if net is not None and not (only_missing and (step, averaged) in have)]

    if state is not None:  # the checkpoint's history is the record up to its step; keep the FID rows scored so far
        resumed_at, history = state["step"], state["history"]
        kept = [row for row in _read_metrics(out) if "fid" in row and (row["step"] is None or row["step"] <= resumed_at)]
        lines += [json.dumps(row) for row in _merged(_history_rows(history, 0), kept)]
        written["n"] = len(history.get("step", []))
        write_atomically(out / "metrics.jsonl", "".join(line + "\n" for line in lines))
        generator.load_state_dict(state["generator"])
        if ema is not None and "ema" in state:
            ema.load_state_dict(state["ema"])
        if is_checkpoint(resumed_at):  # a kill after the checkpoint may have cost these
            _save_networks(out, resumed_at, generator, ema, image_recipe.latent_dim, only_missing=True)
            if scorer is not None and resumed_at > 0 and (resumed_at % fid_every == 0 or resumed_at == training.steps):
                rows = score(resumed_at, history["time"][-1], only_missing=True)
                if rows:
                    lines += [json.dumps(row) for row in rows]
                    write_atomically(out / "metrics.jsonl", "".join(line + "\n" for line in lines))
    else:
        write_atomically(out / "metrics.jsonl", "")
    trained = state["history"]["time"][-1] if state is not None and state["history"].get("time") else 0.0
    marks = [seconds for seconds in fid_at if seconds > trained]  # clock marks still ahead

    def record(step, generator, critic, history):
        rows = _history_rows(history, written["n"])
        written["n"] += len(rows)
        seconds = history["time"][-1] if history.get("time") else 0.0
        by_clock = scorer is not None and bool(marks) and seconds >= marks[0]
        while marks and seconds >= marks[0]:
            marks.pop(0)
        if is_checkpoint(step) or by_clock:
            _save_networks(out, step, generator, ema, image_recipe.latent_dim)
            if scorer is not None and step > 0 and (by_clock or step % fid_every == 0 or step == training.steps):
                rows += score(step, seconds)
        if rows:
            lines.extend(json.dumps(row) for row in rows)
            write_atomically(out / "metrics.jsonl", "".join(line + "\n" for line in lines))

    try:
        history = train(
            generator, critic, real.sample, training, latent_dim=image_recipe.latent_dim, seed=seed, device=device,
            speed=speed, ema=ema, ema_decay=ema_decay or 0.999, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
            resume=state is not None, stop_after=stop_after, log_every=log_every, callback=record,
            callback_every=math.gcd(log_every, checkpoint_every), progress=progress,
        )
        if written["n"] < len(history["step"]):
            record(history["step"][-1], generator, critic, history)
    except RuntimeError as err:  # torch.save straight to a path on a full disk: "unexpected pos ..." (train.py)
        if "inline_container" not in str(err) and "PytorchStreamWriter" not in str(err):
            raise
        full = shutil.disk_usage(out).free < 64 << 20
        raise OSError(errno.ENOSPC if full else errno.EIO, f"writing failed ({first_line(err)})", str(checkpoint)) from err
    finally:
        (out / (checkpoint.name + ".partial")).unlink(missing_ok=True)
    return history


def _history_rows(history: dict, start: int) -> list[dict]:
    """The metrics rows of history entries ``start``, ``start + 1``, ... (one per logged generator step)."""
    return [{key: history[key][i] for key in history} for i in range(start, len(history.get("step", [])))]


def _merged(step_rows: list[dict], fid_rows: list[dict]) -> list[dict]:
    """Step rows in order, each followed by the FID rows of its step, as training writes them; other FID rows last."""
    by_step: dict = {}
    for row in fid_rows:
        by_step.setdefault(row["step"], []).append(row)
    merged = []
    for row in step_rows:
        merged += [row, *by_step.pop(row["step"], [])]
    return merged + [row for rows in by_step.values() for row in rows]


def _save_networks(out: Path, step: int, generator, ema, latent_dim: int, only_missing: bool = False) -> None:
    """The checkpoint files of ``step``: generator, moving average (if any) and sample grid (``only_missing``:
    those that are missing or unreadable)."""
    for folder, net in (("generators", generator), ("ema", ema)):
        path = _generator_path(out, step, folder)
        if net is not None and not (only_missing and _readable(path)):
            write_atomically(path, torch_bytes(net.state_dict()))
    grid = out / "samples" / f"step-{step:06d}.png"
    if not (only_missing and _readable(grid)):
        _save_grid(generator, latent_dim, grid)


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


class FidScorer:
    """FID (:data:`wgan_teach.fid.PROTOCOL`) of ``n`` images against ``n`` of the ``split`` images of
    ``reference`` (all of them if there are no more than ``n``; otherwise a fixed random subset, seed
    :data:`REFERENCE_SEED`), with the Inception network and the reference statistics loaded once
    (statistics cached in ``cache``). Equal sizes keep the estimator's bias that of "n against n",
    the floor that :func:`fid_of_real` measures; on a CPU, where Inception is slow, n is small."""

    def __init__(self, reference, *, split: str = "test", n: int = 10_000, inception=None, device: str = "cpu",
                 cache: Path | None = None, batch: int = 200, progress: bool = False):
        self.network = fid_module.inception_network(inception, device=device)
        images, _, _ = load_images(reference, split=split)
        total = len(images)
        if n < total:
            images = images[torch.randperm(total, generator=torch.Generator().manual_seed(REFERENCE_SEED))[:n]]
        chosen = f"{len(images)} of {total} images, seed {REFERENCE_SEED}" if n < total else f"{total} images"
        self.n, self.batch, self.reference = n, batch, f"{reference} ({split}, {chosen})"
        self.stats = fid_module.reference_statistics(images, self.network, key=f"{Path(reference).resolve()}|{split}",
                                                     cache=cache, batch=batch, progress=progress)

    def __call__(self, generator_or_images, latent_dim: int = 128) -> dict:
        """A metrics row: the FID of a generator (``n`` images) or of a uint8 image tensor (all of it)."""
        value = fid_module.fid(generator_or_images, self.stats, inception=self.network, n=self.n,
                               latent_dim=latent_dim, batch=self.batch)
        n = len(generator_or_images) if isinstance(generator_or_images, torch.Tensor) else self.n
        return {"fid": value, "n": n, "reference": self.reference, "protocol": fid_module.PROTOCOL}


def _generator_path(out: Path, step: int, folder: str = "generators") -> Path:
    return out / folder / f"step-{step:06d}.pt"


def _read_metrics(out: Path) -> list[dict]:
    """The rows of ``out/metrics.jsonl``. A torn last line (a kill during an append, by versions that
    appended in place) is dropped; damage anywhere else is a ValueError naming the file."""
    path = out / "metrics.jsonl"
    if not path.is_file():
        return []
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    rows = []
    for i, line in enumerate(lines):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            if i == len(lines) - 1:
                break
            raise ValueError(f"{path} is damaged at line {i + 1} ({err.msg}); restore it from a copy") from err
    return rows


def _write_metrics(run: Path, rows: list[dict]) -> None:
    """Write ``rows`` as ``run/metrics.jsonl``, one JSON object per line, atomically."""
    write_atomically(run / "metrics.jsonl", "".join(json.dumps(row) + "\n" for row in rows))


def _append_metrics(run: Path, rows: list[dict]) -> None:
    """Add ``rows`` to ``run/metrics.jsonl``, rewriting it atomically."""
    _write_metrics(run, [*_read_metrics(run), *rows])


def _config(run: str | Path) -> dict:
    if not isinstance(run, (str, os.PathLike)):
        raise TypeError(f"run must be the path of a run folder, got {type(run).__name__}")
    path = Path(run) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no run at {run}: {path} is missing")
    return _read_config(Path(run))


def load_generator(run: str | Path, checkpoint: str | Path | None = None, *, device: str = "cpu") -> torch.nn.Module:
    """The generator of a run: from ``checkpoint`` (a ``generators/step-*.pt`` file) or the latest one.
    A damaged file is a ValueError that names it."""
    config = _config(run)
    generator, _ = ImageRecipe(config["net"], Recipe(), config["latent_dim"], config.get("width")).networks()
    if checkpoint is None:
        saved = sorted((Path(run) / "generators").glob("step-*.pt"))
        if not saved:
            raise FileNotFoundError(f"no saved generator in {Path(run) / 'generators'}")
        checkpoint = saved[-1]
    if not Path(checkpoint).is_file():
        raise FileNotFoundError(f"no generator file at {checkpoint}")
    try:
        weights = torch.load(checkpoint, map_location="cpu", weights_only=True)
        generator.load_state_dict(weights)
    except Exception as err:  # truncated, overwritten, or another network's weights
        raise ValueError(f"{checkpoint} is damaged or not this run's generator ({first_line(err)}); delete it, or "
                         "re-create the latest one with train --resume") from err
    return generator.to(torch_device(device)).eval()


def sample_grid(run: str | Path, out: str | Path, *, n: int = 64, checkpoint=None) -> Path:
    """Save a grid of ``n`` samples (fixed latents) from a run's generator to the PNG ``out`` (atomically)."""
    n = positive_int(n, "n")
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a path, got {type(out).__name__}")
    return _save_grid(load_generator(run, checkpoint), _config(run)["latent_dim"], Path(out), n)


def fid_run(run: str | Path, reference: str | Path, *, split: str = "test", n: int = 10_000, inception=None,
            checkpoints=None, ema: bool = False, device: str = "cpu", batch: int = 200, progress: bool = True) -> list[dict]:
    """FID (protocol :data:`wgan_teach.fid.PROTOCOL`) of a run's saved generators (``ema``: of their
    moving averages) against the ``split`` images of ``reference``, ``n`` generated images each;
    appended to ``metrics.jsonl`` and returned. The reference statistics are cached in the run folder.

    Each score is written as soon as it is computed, so an interruption (or a damaged generator
    file, a ValueError naming it) loses none of those before it. The run folder is locked
    (:func:`locked`) meanwhile: not while a training run writes to it."""
    config = _config(run)
    run = Path(run)
    n, batch = positive_int(n, "n"), positive_int(batch, "batch")
    folder = run / ("ema" if ema else "generators")
    paths = [Path(c) for c in checkpoints] if checkpoints else sorted(folder.glob("step-*.pt"))
    if not paths:
        raise FileNotFoundError(f"no saved generator in {folder}")
    with locked(run):
        scorer = FidScorer(reference, split=split, n=n, inception=inception, device=device, cache=run / "fid-cache",
                           batch=batch, progress=progress)
        rows = []
        for path in paths:
            row = scorer(load_generator(run, path, device=device), config["latent_dim"])
            step = int(path.stem.split("-")[-1]) if path.stem.startswith("step-") else None
            rows.append({**row, "step": step, "ema": path.parent.name == "ema", "generator": str(path)})
            _append_metrics(run, rows[-1:])
    return rows


def fid_of_real(data: str | Path, reference: str | Path, *, split: str = "test", n: int = 10_000, seed: int = 0,
                inception=None, device: str = "cpu", batch: int = 200, progress: bool = True) -> dict:
    """FID of ``n`` real training images of ``data`` (drawn without replacement, seeded) against the
    ``split`` images of ``reference``: what a generator that samples the training set perfectly
    would score under the protocol — the floor set by the estimator's bias at this sample size."""
    images, _, _ = load_images(data, split="train")
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= len(images):
        raise ValueError(f"n must be an integer in [2, {len(images)}] (the training images of {data}), got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    chosen = images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]]
    scorer = FidScorer(reference, split=split, n=n, inception=inception, device=device, batch=batch, progress=progress)
    return {**scorer(chosen), "data": f"{data} (train, {n} of {len(images)} images, seed {seed})"}


def windowed(rows: list[dict], every: int) -> list[dict]:
    """Metrics rows with the step rows averaged over windows of ``every`` generator steps: one row per
    window, holding the mean of each logged quantity over the window, and its last row's ``step``,
    ``lr`` and ``time`` (rows that are already means count with their ``steps_averaged``, so that
    averaging twice over the same windows changes nothing); FID rows are kept as they are, after
    the row of their step. For publishing a
    long run, whose every step is logged, at a size a book can carry."""
    every = positive_int(every, "every")
    step_rows = [row for row in rows if "fid" not in row]
    windows: dict[int, list[dict]] = {}
    for row in step_rows:
        windows.setdefault(-(-row["step"] // every), []).append(row)
    averaged = []
    for window in windows.values():
        last, weights = window[-1], [row.get("steps_averaged", 1) for row in window]  # rows already averaged weigh more
        kept = ("step", "lr", "time", "steps_averaged")
        means = {key: sum(w * row[key] for w, row in zip(weights, window)) / sum(weights) for key in last if key not in kept}
        averaged.append({**means, "step": last["step"], "lr": last["lr"], "time": last["time"], "steps_averaged": sum(weights)})
    return _merged(averaged, [row for row in rows if "fid" in row])


def export_run(run: str | Path, dest: str | Path, *, provenance: dict | None = None, every: int | None = None) -> Path:
    """Copy what a reader needs of run folder ``run`` into ``dest``, small enough to publish with the book:
    ``config.json``, ``metrics.jsonl`` (with ``every``, its step rows averaged over windows of that
    many steps: :func:`windowed`), ``samples/``, the latest generator (``generator.pt``) and moving
    average (``generator-ema.pt``) with their weights stored in float16, and ``provenance.json``
    (``provenance`` — e.g. commands, commit, wall times — plus Python, torch and the device).
    Every file is written atomically."""
    config = _config(run)
    run, dest = Path(run), Path(dest)
    write_atomically(dest / "config.json", (run / "config.json").read_bytes())
    if every is None:
        write_atomically(dest / "metrics.jsonl", (run / "metrics.jsonl").read_bytes())
    else:
        _write_metrics(dest, windowed(_read_metrics(run), every))
    for grid in sorted((run / "samples").glob("step-*.png")):
        write_atomically(dest / "samples" / grid.name, grid.read_bytes())
    for folder, name in (("generators", "generator.pt"), ("ema", "generator-ema.pt")):
        saved = sorted((run / folder).glob("step-*.pt"))
        if saved:
            weights = torch.load(saved[-1], map_location="cpu", weights_only=True)
            half = {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}
            write_atomically(dest / name, torch_bytes(half))
    device = config["device"]
    if device.startswith("cuda") and torch.cuda.is_available():
        device = f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    steps = [row["step"] for row in _read_metrics(run) if "fid" not in row]
    record = {"python": platform.python_version(), "torch": torch.__version__, "device": device,
              "final_step": steps[-1] if steps else 0, **(provenance or {})}
    write_atomically(dest / "provenance.json", json.dumps(record, indent=2) + "\n")
    return dest


@dataclass(frozen=True)
class PublishedRun:
    """A run as :func:`export_run` published it (Chapter 7 reads these): its folder, ``config``,
    ``provenance`` and the rows of ``metrics.jsonl``."""

    folder: Path
    config: dict
    provenance: dict
    metrics: tuple

    @classmethod
    def read(cls, folder: str | Path) -> "PublishedRun":
        folder = Path(folder)
        provenance = json.loads((folder / "provenance.json").read_text())
        return cls(folder, _config(folder), provenance, tuple(_read_metrics(folder)))

    @property
    def name(self) -> str:
        return self.folder.name

    def logged(self, key: str) -> tuple[list[int], list[float]]:
        """Steps and values of a logged quantity (``w1_estimate``, ``grad_norm_mean``, ``time``, ...)."""
        rows = [row for row in self.metrics if "fid" not in row and key in row]
        return [row["step"] for row in rows], [row[key] for row in rows]

    def fids(self, *, ema: bool = False) -> list[dict]:
        """The FID rows (step, fid, n, reference, protocol) of the generator or of its moving average, by step."""
        return sorted((row for row in self.metrics if "fid" in row and row.get("ema", False) == ema),
                      key=lambda row: row["step"])

    def samples(self) -> list[Path]:
        """The sample grids, by step."""
        return sorted((self.folder / "samples").glob("step-*.png"))

    def generator(self, *, ema: bool = False) -> torch.nn.Module:
        """The final generator (or its moving average), in float32 and eval mode."""
        return load_generator(self.folder, self.folder / ("generator-ema.pt" if ema else "generator.pt"))


def published_runs(root: str | Path) -> list[PublishedRun]:
    """Every published run in ``root`` (the folders holding a ``provenance.json``), by name."""
    return [PublishedRun.read(folder) for folder in sorted(Path(root).iterdir())
            if (folder / "provenance.json").is_file() and (folder / "config.json").is_file()]
