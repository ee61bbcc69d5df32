"""Image training runs in a folder: named recipes, training with checkpoints and sample grids, FID, sampling.

A run folder holds::

    config.json          recipe name and settings, data source, seed, device
    metrics.jsonl        one JSON object per logged generator step (and one per FID evaluation)
    checkpoint.pt        the latest resumable state (networks, optimisers, random state, step, moving average)
    generators/step-NNNNNN.pt   the generator's weights at every checkpoint, for FID over training
    ema/step-NNNNNN.pt          the same for the moving average of the generator (with ``ema_decay``)
    samples/step-NNNNNN.png     an 8 x 8 grid at fixed latents at every checkpoint

:func:`train_run` trains (or, with ``resume=True``, continues) with :func:`wgan_teach.train.train`,
the loop of the 2-D chapters (at the speed of :mod:`wgan_teach.speed`), and can score FID at its
checkpoints as it goes; :func:`fid_run` scores saved generators afterwards, :func:`fid_of_real` real
images (the floor of the protocol); :func:`sample_grid` draws a grid.
"""

from __future__ import annotations

import copy
import json
import math
import platform
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from PIL import Image

from . import fid as fid_module
from .data import ImageData, load_images, to_images
from .nets import cnn32, res32
from .speed import Speed, fastest
from .train import Recipe, load_checkpoint, train

__all__ = ["ImageRecipe", "RECIPES", "recipe_by_name", "train_run", "FidScorer", "fid_run", "fid_of_real", "sample_grid", "load_generator", "export_run"]

NETWORKS = {"cnn32": cnn32, "res32": res32}
GRID_SEED = 12345


@dataclass(frozen=True)
class ImageRecipe:
    """A named image recipe: which networks (``net`` in :data:`NETWORKS`), latent size, and the loop's :class:`Recipe`."""

    net: str
    training: Recipe
    latent_dim: int = 128

    def networks(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        return NETWORKS[self.net](self.latent_dim)

    def sized(self, steps: int | None = None, batch_size: int | None = None) -> Recipe:
        """The loop's :class:`Recipe` with ``steps`` and ``batch_size`` (both batches) overridden where given."""
        training = self.training if steps is None else replace(self.training, steps=steps)
        if batch_size is not None:
            training = replace(training, batch_size=batch_size, generator_batch_size=batch_size)
        return training


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


def recipe_by_name(name: str) -> ImageRecipe:
    """The :class:`ImageRecipe` called ``name`` in :data:`RECIPES`; a ValueError lists the names otherwise."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; valid names: {', '.join(RECIPES)}")
    return RECIPES[name]


def _save_grid(generator: torch.nn.Module, latent_dim: int, path: Path, n: int = 64) -> Path:
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
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas.permute(1, 2, 0).numpy()).save(path)
    return path


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
    speed: Speed | None = None,
    ema_decay: float | None = None,
    checkpoint_every: int = 1000,
    log_every: int = 100,
    stop_after: float | None = None,
    fid_reference: str | Path | None = None,
    fid_n: int = 10_000,
    fid_every: int | None = None,
    inception=None,
    progress: bool = True,
) -> dict:
    """Train ``recipe`` on the images of ``data`` (any :func:`wgan_teach.data.load_images` source) into
    the run folder ``out`` (module docstring); returns the history. ``steps`` and ``batch_size``
    override the recipe's (``batch_size`` sets both batches: for quick trials). ``speed`` defaults to
    :func:`wgan_teach.speed.fastest` for ``device``. ``ema_decay`` keeps a moving average of the
    generator too. ``stop_after`` seconds ends this call cleanly at a checkpoint, to resume later.

    With ``fid_reference`` (the real images; their test split), every ``fid_every``-th step (default:
    every checkpoint; it must be a multiple of ``checkpoint_every``) and the last also score FID
    (``fid_n`` images, :data:`wgan_teach.fid.PROTOCOL`) of the generator and its average, appended
    to ``metrics.jsonl`` with the training time so far; evaluation time is not counted as training.
    On a NaN the run stops with :class:`wgan_teach.train.NonFiniteLoss`, ``checkpoint.pt`` holding
    the last good state."""
    image_recipe = recipe_by_name(recipe)
    out = Path(out)
    speed = fastest(device) if speed is None else speed
    fid_every = fid_every or checkpoint_every
    if fid_every % checkpoint_every:
        raise ValueError(f"fid_every ({fid_every}) must be a multiple of checkpoint_every ({checkpoint_every})")
    training = image_recipe.sized(steps, batch_size)
    config = {"recipe": recipe, "net": image_recipe.net, "latent_dim": image_recipe.latent_dim,
              "training": asdict(training), "ema_decay": ema_decay, "data": str(data), "seed": seed,
              "device": device, "speed": asdict(speed)}
    checkpoint = out / "checkpoint.pt"
    free = ("device", "speed")  # a run may resume on another device, at another speed
    if resume:
        if not (out / "config.json").is_file() or not checkpoint.is_file():
            raise FileNotFoundError(f"nothing to resume: no config.json and checkpoint.pt in {out}")
        stored = json.loads((out / "config.json").read_text())
        if {k: v for k, v in stored.items() if k not in free} != {k: v for k, v in json.loads(json.dumps(config)).items() if k not in free}:
            raise ValueError(f"the run in {out} was started with other settings; resume with the same arguments")
    elif checkpoint.exists():
        raise FileExistsError(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
    images, _, _ = load_images(data, split="train")
    real = ImageData(images, device=device)
    scorer = (FidScorer(fid_reference, n=fid_n, inception=inception, device=device, cache=out / "fid-cache")
              if fid_reference is not None else None)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    torch.manual_seed(seed)  # the initial weights
    generator, critic = image_recipe.networks()
    ema = copy.deepcopy(generator) if ema_decay is not None else None
    written = {"n": 0}
    kept: list[dict] = []
    if resume:  # drop rows logged after the checkpoint: the resumed run logs (and scores) those steps again
        resumed_at = load_checkpoint(checkpoint)["step"]
        kept = [row for row in _read_metrics(out) if row["step"] is None or row["step"] <= resumed_at]
        written["n"] = sum("fid" not in row for row in kept)
    (out / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in kept))

    def record(step, generator, critic, history):
        rows = [{key: history[key][i] for key in history} for i in range(written["n"], len(history.get("step", [])))]
        written["n"] += len(rows)
        if step % checkpoint_every == 0 or step == training.steps:
            torch.save(generator.state_dict(), _generator_path(out, step))
            if ema is not None:
                torch.save(ema.state_dict(), _generator_path(out, step, "ema"))
            _save_grid(generator, image_recipe.latent_dim, out / "samples" / f"step-{step:06d}.png")
            if scorer is not None and step > 0 and (step % fid_every == 0 or step == training.steps):
                seconds = history["time"][-1]
                for averaged, net in ((False, generator), (True, ema)):
                    if net is not None:
                        rows.append({**scorer(net, image_recipe.latent_dim), "step": step, "time": seconds, "ema": averaged})
        with open(out / "metrics.jsonl", "a") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")

    history = train(
        generator, critic, real.sample, training, latent_dim=image_recipe.latent_dim, seed=seed, device=device,
        speed=speed, ema=ema, ema_decay=ema_decay or 0.999, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
        resume=resume, stop_after=stop_after, log_every=log_every, callback=record,
        callback_every=math.gcd(log_every, checkpoint_every), progress=progress,
    )
    if written["n"] < len(history["step"]):
        record(history["step"][-1], generator, critic, history)
    return history


class FidScorer:
    """FID (:data:`wgan_teach.fid.PROTOCOL`) against the ``split`` images of ``reference``, with the
    Inception network and the reference statistics loaded once (statistics cached in ``cache``)."""

    def __init__(self, reference, *, split: str = "test", n: int = 10_000, inception=None, device: str = "cpu",
                 cache: Path | None = None, batch: int = 200, progress: bool = False):
        self.network = fid_module.inception_network(inception, device=device)
        images, _, _ = load_images(reference, split=split)
        self.n, self.batch, self.reference = n, batch, f"{reference} ({split}, {len(images)} images)"
        self.stats = fid_module.reference_statistics(images, self.network, key=f"{Path(reference).resolve()}|{split}",
                                                     cache=cache, batch=batch, progress=progress)

    def __call__(self, generator_or_images, latent_dim: int = 128) -> dict:
        """A metrics row: the FID of a generator (``n`` images) or of a uint8 image tensor (all of it)."""
        value = fid_module.fid(generator_or_images, self.stats, inception=self.network, n=self.n,
                               latent_dim=latent_dim, batch=self.batch)
        n = len(generator_or_images) if isinstance(generator_or_images, torch.Tensor) else self.n
        return {"fid": value, "n": n, "reference": self.reference, "protocol": fid_module.PROTOCOL}


def _generator_path(out: Path, step: int, folder: str = "generators") -> Path:
    path = out / folder / f"step-{step:06d}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _read_metrics(out: Path) -> list[dict]:
    path = out / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def _config(run: str | Path) -> dict:
    path = Path(run) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no run at {run}: {path} is missing")
    return json.loads(path.read_text())


def load_generator(run: str | Path, checkpoint: str | Path | None = None, *, device: str = "cpu") -> torch.nn.Module:
    """The generator of a run: from ``checkpoint`` (a ``generators/step-*.pt`` file) or the latest one."""
    config = _config(run)
    generator, _ = NETWORKS[config["net"]](config["latent_dim"])
    if checkpoint is None:
        saved = sorted((Path(run) / "generators").glob("step-*.pt"))
        if not saved:
            raise FileNotFoundError(f"no saved generator in {Path(run) / 'generators'}")
        checkpoint = saved[-1]
    generator.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True))
    return generator.to(device).eval()


def sample_grid(run: str | Path, out: str | Path, *, n: int = 64, checkpoint=None) -> Path:
    """Save a grid of ``n`` samples (fixed latents) from a run's generator to the PNG ``out``."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return _save_grid(load_generator(run, checkpoint), _config(run)["latent_dim"], Path(out), n)


def fid_run(run: str | Path, reference: str | Path, *, split: str = "test", n: int = 10_000, inception=None,
            checkpoints=None, ema: bool = False, device: str = "cpu", batch: int = 200, progress: bool = True) -> list[dict]:
    """FID (protocol :data:`wgan_teach.fid.PROTOCOL`) of a run's saved generators (``ema``: of their
    moving averages) against the ``split`` images of ``reference``, ``n`` generated images each;
    appended to ``metrics.jsonl`` and returned. The reference statistics are cached in the run folder."""
    config = _config(run)
    folder = Path(run) / ("ema" if ema else "generators")
    paths = [Path(c) for c in checkpoints] if checkpoints else sorted(folder.glob("step-*.pt"))
    if not paths:
        raise FileNotFoundError(f"no saved generator in {folder}")
    scorer = FidScorer(reference, split=split, n=n, inception=inception, device=device, cache=Path(run) / "fid-cache",
                       batch=batch, progress=progress)
    rows = []
    for path in paths:
        row = scorer(load_generator(run, path, device=device), config["latent_dim"])
        step = int(path.stem.split("-")[-1]) if path.stem.startswith("step-") else None
        rows.append({**row, "step": step, "ema": path.parent.name == "ema", "generator": str(path)})
    with open(Path(run) / "metrics.jsonl", "a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return rows


def fid_of_real(data: str | Path, reference: str | Path, *, split: str = "test", n: int = 10_000, seed: int = 0,
                inception=None, device: str = "cpu", batch: int = 200, progress: bool = True) -> dict:
    """FID of ``n`` real training images of ``data`` (drawn without replacement, seeded) against the
    ``split`` images of ``reference``: what a generator that samples the training set perfectly
    would score under the protocol — the floor set by the estimator's bias at this sample size."""
    images, _, _ = load_images(data, split="train")
    if not isinstance(n, int) or not 2 <= n <= len(images):
        raise ValueError(f"n must be an integer in [2, {len(images)}] (the training images of {data}), got {n!r}")
    chosen = images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]]
    scorer = FidScorer(reference, split=split, n=n, inception=inception, device=device, batch=batch, progress=progress)
    return {**scorer(chosen), "data": f"{data} (train, {n} of {len(images)} images, seed {seed})"}


def export_run(run: str | Path, dest: str | Path, *, provenance: dict | None = None) -> Path:
    """Copy what a reader needs of run folder ``run`` into ``dest``, small enough to publish with the book:
    ``config.json``, ``metrics.jsonl``, ``samples/``, the latest generator (``generator.pt``) and moving
    average (``generator-ema.pt``) with their weights stored in float16, and ``provenance.json``
    (``provenance`` — e.g. commands, commit, wall times — plus Python, torch and the device)."""
    run, dest = Path(run), Path(dest)
    config = _config(run)
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "metrics.jsonl"):
        shutil.copy2(run / name, dest / name)
    if (run / "samples").is_dir():
        shutil.copytree(run / "samples", dest / "samples", dirs_exist_ok=True)
    for folder, name in (("generators", "generator.pt"), ("ema", "generator-ema.pt")):
        saved = sorted((run / folder).glob("step-*.pt"))
        if saved:
            weights = torch.load(saved[-1], map_location="cpu", weights_only=True)
            torch.save({k: v.half() if v.is_floating_point() else v for k, v in weights.items()}, dest / name)
    device = config["device"]
    if device.startswith("cuda") and torch.cuda.is_available():
        device = f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    steps = [row["step"] for row in _read_metrics(run) if "fid" not in row]
    record = {"python": platform.python_version(), "torch": torch.__version__, "device": device,
              "final_step": steps[-1] if steps else 0, **(provenance or {})}
    (dest / "provenance.json").write_text(json.dumps(record, indent=2) + "\n")
    return dest
