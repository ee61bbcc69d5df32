"""Image training runs in a folder: named recipes, training with checkpoints and sample grids, FID, sampling.

A run folder holds::

    config.json          recipe name and settings, data source, seed, device
    metrics.jsonl        one JSON object per logged generator step (and one per FID evaluation)
    checkpoint.pt        the latest resumable state (networks, optimisers, schedules, random state, step)
    generators/step-NNNNNN.pt   the generator's weights at every checkpoint, for FID over training
    samples/step-NNNNNN.png     an 8 x 8 grid at fixed latents at every checkpoint

:func:`train_run` trains (or, with ``resume=True``, continues) with :func:`wgan_teach.train.train`,
the loop of the 2-D chapters; :func:`fid_run` scores saved generators; :func:`sample_grid` draws one.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from PIL import Image

from . import fid as fid_module
from .data import ImageData, load_images, to_images
from .nets import cnn32, res32
from .train import Recipe, load_checkpoint, train

__all__ = ["ImageRecipe", "RECIPES", "train_run", "fid_run", "sample_grid", "load_generator"]

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


def _recipe(name: str) -> ImageRecipe:
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
    checkpoint_every: int = 1000,
    log_every: int = 100,
    progress: bool = True,
) -> dict:
    """Train ``recipe`` on the images of ``data`` (any :func:`wgan_teach.data.load_images` source) into
    the run folder ``out`` (module docstring); returns the history. ``steps`` and ``batch_size``
    override the recipe's (``batch_size`` sets both batches: for quick trials). On a NaN the run
    stops with :class:`wgan_teach.train.NonFiniteLoss`, ``checkpoint.pt`` holding the last good state."""
    image_recipe = _recipe(recipe)
    out = Path(out)
    training = image_recipe.training
    if steps is not None:
        training = replace(training, steps=steps)
    if batch_size is not None:
        training = replace(training, batch_size=batch_size, generator_batch_size=batch_size)
    config = {"recipe": recipe, "net": image_recipe.net, "latent_dim": image_recipe.latent_dim,
              "training": asdict(training), "data": str(data), "seed": seed, "device": device}
    checkpoint = out / "checkpoint.pt"
    if resume:
        if not (out / "config.json").is_file() or not checkpoint.is_file():
            raise FileNotFoundError(f"nothing to resume: no config.json and checkpoint.pt in {out}")
        stored = json.loads((out / "config.json").read_text())
        if {k: v for k, v in stored.items() if k != "device"} != {k: v for k, v in json.loads(json.dumps(config)).items() if k != "device"}:
            raise ValueError(f"the run in {out} was started with other settings; resume with the same arguments")
    elif checkpoint.exists():
        raise FileExistsError(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
    images, _, _ = load_images(data, split="train")
    real = ImageData(images, device=device)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    torch.manual_seed(seed)  # the initial weights
    generator, critic = image_recipe.networks()
    written = {"n": 0}
    kept: list[dict] = []
    if resume:  # drop rows logged after the checkpoint: the resumed run logs those steps again
        resumed_at = load_checkpoint(checkpoint)["step"]
        kept = [row for row in _read_metrics(out) if "fid" in row or row["step"] <= resumed_at]
        written["n"] = sum("fid" not in row for row in kept)
    (out / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in kept))

    def record(step, generator, critic, history):
        rows = [{key: history[key][i] for key in history} for i in range(written["n"], len(history.get("step", [])))]
        with open(out / "metrics.jsonl", "a") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
        written["n"] += len(rows)
        if step % checkpoint_every == 0 or step == training.steps:
            torch.save(generator.state_dict(), _generator_path(out, step))
            _save_grid(generator, image_recipe.latent_dim, out / "samples" / f"step-{step:06d}.png")

    history = train(
        generator, critic, real.sample, training, latent_dim=image_recipe.latent_dim, seed=seed, device=device,
        checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume, log_every=log_every,
        callback=record, callback_every=math.gcd(log_every, checkpoint_every), progress=progress,
    )
    if written["n"] < len(history["step"]):
        record(history["step"][-1], generator, critic, history)
    return history


def _generator_path(out: Path, step: int) -> Path:
    path = out / "generators" / f"step-{step:06d}.pt"
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
            checkpoints=None, device: str = "cpu", batch: int = 200, progress: bool = True) -> list[dict]:
    """FID (protocol :data:`wgan_teach.fid.PROTOCOL`) of a run's saved generators against the
    ``split`` images of ``reference``, ``n`` generated images each; appended to ``metrics.jsonl``
    and returned. The reference statistics are cached in the run folder."""
    config = _config(run)
    paths = [Path(c) for c in checkpoints] if checkpoints else sorted((Path(run) / "generators").glob("step-*.pt"))
    if not paths:
        raise FileNotFoundError(f"no saved generator in {Path(run) / 'generators'}")
    network = fid_module.inception_network(inception, device=device)
    images, _, _ = load_images(reference, split=split)
    key = f"{Path(reference).resolve()}|{split}"
    stats = fid_module.reference_statistics(images, network, key=key, cache=Path(run) / "fid-cache", batch=batch, progress=progress)
    rows = []
    for path in paths:
        generator = load_generator(run, path, device=device)
        value = fid_module.fid(generator, stats, inception=network, n=n, latent_dim=config["latent_dim"], batch=batch)
        step = int(path.stem.split("-")[-1]) if path.stem.startswith("step-") else None
        rows.append({"step": step, "fid": value, "n": n, "reference": f"{reference} ({split}, {len(images)} images)",
                     "protocol": fid_module.PROTOCOL, "generator": str(path)})
    with open(Path(run) / "metrics.jsonl", "a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return rows

