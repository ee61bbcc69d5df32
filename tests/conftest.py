"""Shared fixtures: the repository root, one build of the HTML book per test session, folders of images
and headless Chromium."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock
from hypothesis import settings
from PIL import Image

# Under pytest-xdist every worker shares the cores with the others: one thread each, in this process and
# in what it starts (notebook kernels, the command line), instead of threads that wait on one another.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)

# In CI, property tests draw the same examples on every run, so a landing never hinges on luck.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]

# Where the tests find CIFAR-10: the JPEG copy beside this checkout, when the build machine has one (the
# package itself looks only where a reader keeps data: an argument, WGAN_TEACH_DATA, the user's cache).
# Set here, before any kernel starts, so that nbval's chapter kernels inherit it; a value already set wins.
SHARED_CIFAR10 = ROOT.parent / "shared" / "data" / "cifar10-jpeg"
if SHARED_CIFAR10.is_dir():
    os.environ.setdefault("WGAN_TEACH_DATA", str(SHARED_CIFAR10))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's; never a downloaded one
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def book_build(tmp_path_factory, worker_id):
    """Build the book once, with warnings as errors, into a temporary folder.

    Returns (html folder, build log). The build uses the committed, executed chapters. Under
    pytest-xdist (``make test`` runs ``-n auto --dist loadfile``) the first worker that needs the
    book builds it into the folder the workers share, and the others wait for it and read it.
    """
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    out, record = shared / "book", shared / "book-build.json"
    with FileLock(str(shared / "book-build.lock")):
        if not record.exists():
            jupyter_book = Path(sys.executable).with_name("jupyter-book")
            result = subprocess.run(
                [str(jupyter_book), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
                capture_output=True,
                text=True,
                timeout=900,
            )
            record.write_text(json.dumps({"returncode": result.returncode, "log": result.stdout + result.stderr}))
        built = json.loads(record.read_text())
    assert built["returncode"] == 0, f"book build failed:\n{built['log'][-5000:]}"
    return out / "_build" / "html", built["log"]


@pytest.fixture
def one_torch_thread():
    """Big convolutions on one thread: steadier timings, and no thrashing beside other work."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    """Makes a folder of two classes ("cat", "dog") of ``per_class`` random 32 x 32 PNG images each."""

    def make(per_class: int) -> Path:
        root = tmp_path_factory.mktemp("images")
        rng = np.random.default_rng(0)
        for name in ("cat", "dog"):
            (root / name).mkdir()
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
        return root

    return make


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (the browser and JupyterLab tests), one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()
