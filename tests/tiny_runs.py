"""Tiny run folders for the tests of the run modules: the recipe's networks swapped for tiny ones.

The fault handling of run folders does not depend on the networks' size, so these runs swap the
recipe's networks for tiny ones (a few MB of checkpoint, milliseconds per step); the command line is
the real one. The test modules import the fixtures they use from here."""

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from wgan_teach import recipes
from wgan_teach.__main__ import main

ARGS = ["--recipe", "cnn32-wgangp", "--batch-size", "4", "--checkpoint-every", "2", "--log-every", "1", "--ema", "0.9"]


def tiny_networks(latent_dim: int = 128):
    """A generator and a critic for 32 x 32 images, small enough that a step takes milliseconds."""
    generator = nn.Sequential(nn.Linear(latent_dim, 3 * 32 * 32), nn.Tanh(), nn.Unflatten(1, (3, 32, 32)))
    critic = nn.Sequential(nn.Conv2d(3, 4, 4, 4), nn.Flatten(), nn.Linear(4 * 8 * 8, 1))
    return generator, critic


def main_with_tiny_networks(argv):
    """``python -m wgan_teach`` with tiny networks, for a subprocess: the exit code of main."""
    torch.set_num_threads(1)
    recipes.NETWORKS["cnn32"] = tiny_networks
    return main(argv)


@pytest.fixture
def tiny(monkeypatch, one_torch_thread):
    monkeypatch.setitem(recipes.NETWORKS, "cnn32", tiny_networks)


@pytest.fixture(scope="module")
def images(image_folder):
    """A folder of two classes of four random 32 x 32 PNG images."""
    return image_folder(4)


@pytest.fixture(scope="module")
def finished(images, tmp_path_factory):
    """A finished 4-step run (checkpoints at 0, 2, 4, with a moving average); copy it with `linked_copy`."""
    run = tmp_path_factory.mktemp("finished") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(recipes.NETWORKS, "cnn32", tiny_networks)
        assert main(train(images, run)) == 0
    return run


def linked_copy(run: Path, to: Path) -> Path:
    """A copy of a run folder made of hard links: cheap, and safe since every write replaces a file."""
    shutil.copytree(run, to, copy_function=os.link)
    return to


def train(images, out, *extra, steps=4):
    """The arguments of a training command: 4 steps by default, checkpoints at every second."""
    return ["train", "--data", str(images), "--out", str(out), *ARGS, "--steps", str(steps), *extra]


def whole_files(run: Path) -> dict[str, bytes]:
    """Every file of a run folder but its lock, by relative path; fails on a temporary file or a part-written one."""
    files = {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file() and p.name != ".lock"}
    assert not [name for name in files if name.endswith((".tmp", ".partial"))], files.keys()
    json.loads(files.get("config.json", b"{}"))
    for line in files.get("metrics.jsonl", b"").decode().splitlines():
        json.loads(line)
    for name in files:
        if name.endswith(".pt"):
            torch.load(run / name, map_location="cpu", weights_only=name != "checkpoint.pt")
        elif name.endswith(".png"):
            with Image.open(run / name) as image:
                image.verify()
    return files


def one_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert "Traceback" not in err and lines[-1].startswith("error: "), err
    return lines[-1]
