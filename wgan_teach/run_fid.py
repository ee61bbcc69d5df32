"""FID of a run folder's saved generators, and of real images: the floor of the protocol.

:class:`FidScorer` loads the Inception network and the reference statistics once and scores a
generator (or a batch of images) under :data:`wgan_teach.fid.PROTOCOL`; :func:`fid_run` scores the
generators a run saved and appends each score to its ``metrics.jsonl`` as soon as it has it;
:func:`fid_of_real` scores real training images, what a generator that samples the training set
perfectly would score.
"""

from __future__ import annotations

from pathlib import Path

import torch

from . import fid as fid_module
from .checks import path as checked_path, positive_int
from .checks import seed as check_seed
from .data import load_images
from .run_folder import append_metrics, load_generator, locked, read_config

__all__ = ["REFERENCE_SEED", "FidScorer", "fid_run", "fid_of_real"]

REFERENCE_SEED = 0  # the reference subset of FID when it uses fewer images than the split has


_REAL_IMAGES = "a path to the real images (wgan_teach.data.load_images)"  # what data and reference are


class FidScorer:
    """FID (:data:`wgan_teach.fid.PROTOCOL`) of ``n`` images against ``n`` of the ``split`` images of
    ``reference`` (all of them if there are no more than ``n``; otherwise a fixed random subset, seed
    :data:`REFERENCE_SEED`), with the Inception network and the reference statistics loaded once
    (statistics cached in ``cache``). Equal sizes keep the estimator's bias that of "n against n",
    the floor that :func:`fid_of_real` measures; on a CPU, where Inception is slow, n is small."""

    def __init__(self, reference, *, split: str = "test", n: int = 10_000, inception=None, device: str = "cpu",
                 cache: Path | None = None, batch: int = 200, progress: bool = False):
        checked_path(reference, "reference", what=_REAL_IMAGES)
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


def fid_run(run: str | Path, reference: str | Path, *, split: str = "test", n: int = 10_000, inception=None,
            checkpoints=None, ema: bool = False, device: str = "cpu", batch: int = 200, progress: bool = True) -> list[dict]:
    """FID (protocol :data:`wgan_teach.fid.PROTOCOL`) of a run's saved generators (``ema``: of their
    moving averages) against the ``split`` images of ``reference``, ``n`` generated images each;
    appended to ``metrics.jsonl`` and returned. The reference statistics are cached in the run folder.

    Each score is written as soon as it is computed, so an interruption (or a damaged generator
    file, a ValueError naming it) loses none of those before it. The run folder is locked
    (:func:`wgan_teach.run_folder.locked`) meanwhile: not while a training run writes to it."""
    config = read_config(run)
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
            append_metrics(run, rows[-1:])
    return rows


def fid_of_real(data: str | Path, reference: str | Path, *, split: str = "test", n: int = 10_000, seed: int = 0,
                inception=None, device: str = "cpu", batch: int = 200, progress: bool = True) -> dict:
    """FID of ``n`` real training images of ``data`` (drawn without replacement, seeded) against the
    ``split`` images of ``reference``: what a generator that samples the training set perfectly
    would score under the protocol — the floor set by the estimator's bias at this sample size."""
    checked_path(data, "data", what=_REAL_IMAGES)
    checked_path(reference, "reference", what=_REAL_IMAGES)
    images, _, _ = load_images(data, split="train")
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= len(images):
        raise ValueError(f"n must be an integer in [2, {len(images)}] (the training images of {data}), got {n!r}")
    check_seed(seed)
    chosen = images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]]
    scorer = FidScorer(reference, split=split, n=n, inception=inception, device=device, batch=batch, progress=progress)
    return {**scorer(chosen), "data": f"{data} (train, {n} of {len(images)} images, seed {seed})"}
