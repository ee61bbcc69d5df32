"""A run folder: the files an image training run leaves, read and written safely.

A run folder holds::

    config.json          recipe name and settings, data source, seed, device
    metrics.jsonl        one JSON object per logged generator step (and one per FID evaluation)
    checkpoint.pt        the latest resumable state (networks, optimisers, random state, step, moving average)
    generators/step-NNNNNN.pt   the generator's weights at every checkpoint, for FID over training
    ema/step-NNNNNN.pt          the same for the moving average of the generator (with ``ema_decay``)
    samples/step-NNNNNN.png     an 8 x 8 grid at fixed latents at every checkpoint
    .lock                       the lock of the process writing the folder (:func:`locked`)

:mod:`wgan_teach.run_training` trains into one, :mod:`wgan_teach.run_fid` scores its generators and
:mod:`wgan_teach.publish` exports it; this module holds what they share: the lock, the config and
metrics files, the saved generators and the sample grids.

Every file is written atomically (:func:`wgan_teach.files.write_atomically`: a kill or a full disk
leaves the old version or the new one); ``metrics.jsonl`` is rewritten whole whenever it grows. One
process at a time may write a folder: it holds an ``fcntl`` lock on it, and a second one is refused
(:class:`RunFolderBusy`). A damaged file is a ValueError that names it and says what to do.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
from pathlib import Path

import torch
from PIL import Image

from .checks import path as checked_path, positive_int, torch_device
from .data import to_images
from .files import first_line, png_bytes, write_atomically
from .recipes import ImageRecipe
from .train import Recipe

__all__ = ["RunFolderBusy", "locked", "read_config", "read_metrics", "write_metrics", "append_metrics", "merged_rows",
           "generator_path", "grid_image", "save_grid", "load_generator", "sample_grid"]

GRID_SEED = 12345
LOCK = ".lock"


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
    out = checked_path(out, "out", what="a run folder")
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


def read_config(run: str | Path) -> dict:
    """The ``config.json`` of the run folder ``run``; a missing one is a FileNotFoundError, a damaged
    one a ValueError naming the file."""
    path = checked_path(run, "run", what="the path of a run folder") / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no run at {run}: {path} is missing")
    try:
        config = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is damaged ({first_line(err)}); restore it from a copy, "
                         "or start the run again in another folder") from err
    if not isinstance(config, dict) or not {"net", "latent_dim"} <= config.keys():
        raise ValueError(f"{path} is not the config of a run; restore it from a copy, "
                         "or start the run again in another folder")
    return config


def read_metrics(run: Path) -> list[dict]:
    """The rows of ``run/metrics.jsonl``. A torn last line (a kill during an append, by versions that
    appended in place) is dropped; damage anywhere else is a ValueError naming the file."""
    path = run / "metrics.jsonl"
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


def write_metrics(run: Path, rows: list[dict]) -> None:
    """Write ``rows`` as ``run/metrics.jsonl``, one JSON object per line, atomically."""
    write_atomically(run / "metrics.jsonl", "".join(json.dumps(row) + "\n" for row in rows))


def append_metrics(run: Path, rows: list[dict]) -> None:
    """Add ``rows`` to ``run/metrics.jsonl``, rewriting it atomically."""
    write_metrics(run, [*read_metrics(run), *rows])


def merged_rows(step_rows: list[dict], fid_rows: list[dict]) -> list[dict]:
    """Step rows in order, each followed by the FID rows of its step, as training writes them; other FID rows last."""
    by_step: dict = {}
    for row in fid_rows:
        by_step.setdefault(row["step"], []).append(row)
    merged = []
    for row in step_rows:
        merged += [row, *by_step.pop(row["step"], [])]
    return merged + [row for rows in by_step.values() for row in rows]


def generator_path(out: Path, step: int, folder: str = "generators") -> Path:
    """Where the weights of ``step`` are saved (``folder``: ``generators`` or ``ema``)."""
    return out / folder / f"step-{step:06d}.pt"


def grid_image(generator: torch.nn.Module, latent_dim: int, n: int = 64) -> Image.Image:
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


def save_grid(generator: torch.nn.Module, latent_dim: int, path: Path, n: int = 64) -> Path:
    """Save :func:`grid_image` as the PNG ``path``, atomically."""
    return write_atomically(path, png_bytes(grid_image(generator, latent_dim, n)))


def load_generator(run: str | Path, checkpoint: str | Path | None = None, *, device: str = "cpu") -> torch.nn.Module:
    """The generator of a run: from ``checkpoint`` (a ``generators/step-*.pt`` file) or the latest one.
    A damaged file is a ValueError that names it."""
    config = read_config(run)
    generator, _ = ImageRecipe(config["net"], Recipe(), config["latent_dim"], config.get("width")).networks()
    if checkpoint is None:
        saved = sorted((Path(run) / "generators").glob("step-*.pt"))
        if not saved:
            raise FileNotFoundError(f"no saved generator in {Path(run) / 'generators'}")
        checkpoint = saved[-1]
    if not checked_path(checkpoint, "checkpoint", what="a generators/step-*.pt file").is_file():
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
    out = checked_path(out, "out", what="the path of a PNG file")
    return save_grid(load_generator(run, checkpoint), read_config(run)["latent_dim"], out, n)
