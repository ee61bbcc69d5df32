"""Chapters 5 and 1 and the training lab in JupyterLab, driven in headless Chromium as a reader would.

The test starts JupyterLab from this environment on a free local port, over copies of the two
chapters (so that autosave never touches book/), with its own settings, workspaces and trust
database: the copies open untrusted, as a fresh download does. For each chapter it checks that

- opening it changes nothing (no unsaved-changes mark: the stored kernelspec is Jupyter's own);
- each stored slider figure shows a plain figure and "Run the cell for live sliders", no controls;
- after Run All Above, the slider cell runs in under ``SLOW_CELL_S``, its live image is sharp
  (twice the pixels of its displayed size), and moving one slider changes the image and prints
  the readout that the model gives, computed here in Python;
- no progress bar ends red or short of its total (Chapter 5 also gets a typed cell with a short
  training run, whose bar must end green).

The training lab's stored output shows only its sentence "Run the cell to start the training lab."
(an untrusted notebook runs no script); after running its cell the lab appears and trains.

The server is stopped however the test ends.
"""

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import numpy as np
import pytest
from playwright.sync_api import expect
from scipy.stats import wasserstein_distance

from conftest import ROOT
from wgan_teach.distances import w1_cdf
from wgan_teach.explorer import CriticExplorer
from wgan_teach.interactive import SCRUBBER_ENV

SLOW_CELL_S = 5.0  # "a few seconds": a slider cell takes under 2 s on the 2-core build machine
RUN_ALL_TIMEOUT_S = 180
UI_MS = 60_000  # the longest wait for JupyterLab to show something, on a busy 2-core machine
CHAPTERS = ("01_wasserstein.ipynb", "05_gradient_penalty.ipynb", "06b_training_lab.ipynb")
TRAINING_CELL = (
    "from wgan_teach.experiments import ToyRun, run_toy\n"
    'run_toy(ToyRun("8gaussians", "wgan-gp", seed=0, steps=20), progress=True);'
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, log: Path, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, f"JupyterLab exited while starting:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"JupyterLab did not answer {url} in {timeout:.0f} s")


def stop(server: subprocess.Popen):
    """Stop the server and its kernels (one process group): a clean shutdown for 20 s, then kill
    whatever of the group is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait()


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """JupyterLab over copies of the chapters; yields (base URL, token)."""
    home = tmp_path_factory.mktemp("jupyterlab")
    notebooks = home / "notebooks"
    notebooks.mkdir()
    for name in CHAPTERS:
        shutil.copy(ROOT / "book" / name, notebooks / name)
    own = ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_SETTINGS_DIR",
           "JUPYTERLAB_WORKSPACES_DIR", "IPYTHONDIR")
    env = {**os.environ, **{name: str(home / name.lower()) for name in own}}
    env.pop(SCRUBBER_ENV, None)  # the live view, as a reader gets it
    notifications = Path(env["JUPYTERLAB_SETTINGS_DIR"], "@jupyterlab", "apputils-extension")
    notifications.mkdir(parents=True)
    (notifications / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')  # no toast over cells
    port, token = free_port(), secrets.token_hex(16)
    base, log = f"http://127.0.0.1:{port}", home / "server.log"
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("jupyter-lab")), "--no-browser", "--allow-root",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}"],
            env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,  # kernels join its group
        )
        try:
            wait_until_up(f"{base}/api/status?token={token}", server, log)
            yield base, token
        finally:
            stop(server)


class LabNotebook:
    """One chapter open in JupyterLab; cells are addressed by their index in the .ipynb file."""

    def __init__(self, browser, jupyterlab, name):
        base, token = jupyterlab
        self.source = nbformat.read(ROOT / "book" / name, as_version=4)
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        local = urlparse(base).netloc
        self.page.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).netloc == local
                        else route.abort())  # nothing leaves this machine
        # A workspace of its own (no other notebook restored beside it); once the launcher lists the
        # kernel, JupyterLab knows the kernelspecs, and a double click opens the chapter with its kernel.
        self.page.goto(f"{base}/lab/workspaces/{Path(name).stem}?token={token}")
        kernel_card = self.page.locator(".jp-LauncherCard", has_text="Python 3 (ipykernel)").first
        expect(kernel_card).to_be_visible(timeout=UI_MS)
        self.page.locator(".jp-DirListing-item", has_text=name).dblclick()
        self.tab = self.page.locator(".lm-TabBar-tab.jp-mod-current", has_text=name)
        expect(self.page.locator(".jp-Notebook-ExecutionIndicator[data-status=idle]")).to_be_visible(timeout=UI_MS)
        self.cells = self.page.locator(".jp-Notebook .jp-Cell")
        expect(self.cells).to_have_count(len(self.source.cells), timeout=UI_MS)

    def index_of(self, text: str) -> int:
        """The first code cell whose source contains ``text``."""
        return next(i for i, c in enumerate(self.source.cells) if c.cell_type == "code" and text in c.source)

    def select(self, index: int):
        cell = self.cells.nth(index)
        cell.scroll_into_view_if_needed()
        cell.locator(".jp-InputPrompt").click()
        expect(cell).to_have_class(re.compile(r"\bjp-mod-selected\b"), timeout=UI_MS)
        return cell

    def run_all_above(self, index: int):
        self.select(index)
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        self.page.locator(".lm-Menu-itemLabel", has_text="Run All Above Selected Cell").click()
        busy = self.page.locator(".jp-InputPrompt", has_text="[*]")
        expect(busy.first).to_be_visible(timeout=UI_MS)
        expect(busy).to_have_count(0, timeout=RUN_ALL_TIMEOUT_S * 1000)
        self.assert_no_errors()

    def run_timed(self, index: int, done_selector: str) -> float:
        """Run one cell (Shift+Enter) and return the seconds until ``done_selector`` shows in its output."""
        cell = self.select(index)
        start = time.perf_counter()
        self.page.keyboard.press("Shift+Enter")
        expect(cell.locator(done_selector).first).to_be_visible(timeout=UI_MS)
        expect(cell.locator(".jp-InputPrompt", has_text="[*]")).to_have_count(0, timeout=UI_MS)
        return time.perf_counter() - start

    def type_cell_below(self, index: int, code: str):
        self.select(index)
        self.page.keyboard.press("b")
        self.page.keyboard.press("Enter")
        self.page.keyboard.insert_text(code)
        self.page.keyboard.press("Shift+Enter")
        expect(self.page.locator(".jp-InputPrompt", has_text="[*]")).to_have_count(0, timeout=UI_MS)
        self.assert_no_errors()

    def assert_no_errors(self):
        errors = self.page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                                   has_text="Traceback")
        assert errors.count() == 0, errors.first.inner_text()[-2000:]

    def assert_unchanged(self):
        assert "jp-mod-dirty" not in (self.tab.get_attribute("class") or ""), "opening the chapter changed it"

    def assert_stored_sliders_are_plain_figures(self):
        scrubbers = self.page.locator(".wgan-scrubber")
        assert scrubbers.count() >= 1, "no stored slider figure"
        for k in range(scrubbers.count()):
            scrubber = scrubbers.nth(k)
            scrubber.scroll_into_view_if_needed()
            expect(scrubber.locator(".wgan-scrubber-note")).to_have_text("Run the cell for live sliders.", timeout=UI_MS)
            expect(scrubber.locator("img.wgan-scrubber-frame")).to_be_visible(timeout=UI_MS)
            expect(scrubber.locator(".wgan-scrubber-controls")).to_be_hidden(timeout=UI_MS)

    def assert_no_red_progress_bar(self):
        bars = self.page.locator(".widget-hprogress .progress-bar")
        for k in range(bars.count()):
            classes = bars.nth(k).get_attribute("class")
            assert "progress-bar-success" in classes, f"a progress bar ended unfinished: {classes}"


class LiveSliders:
    """The live widget of one slider cell: its sliders by label, image and readout."""

    def __init__(self, cell):
        self.cell = cell
        self.image = cell.locator(".jp-OutputArea img.widget-image")
        self.readout = cell.locator(".jp-OutputArea .widget-html-content").last

    def move(self, label: str, key: str, times: int, expected_readout: str) -> str:
        """Press ``key`` on the slider labelled ``label``, wait for the readout the kernel should print,
        check that the figure changed too; returns the value the slider shows."""
        slider = self.cell.locator(".widget-hslider", has=self.cell.page.locator(".widget-label", has_text=label))
        before = self.image.get_attribute("src")
        slider.locator(".noUi-handle").focus()
        for _ in range(times):
            self.cell.page.keyboard.press(key)
        expect(self.readout).to_have_text(expected_readout, timeout=UI_MS)  # whitespace-insensitive
        assert self.readout.inner_text() == expected_readout  # spaces and line breaks as printed
        assert self.image.get_attribute("src") != before, "the figure did not change"
        return slider.locator(".widget-readout").inner_text()

    def assert_sharp(self):
        natural, shown = self.image.evaluate("img => [img.naturalWidth, img.getBoundingClientRect().width]")
        assert natural >= 2 * shown - 1, f"live image of {natural} px shown {shown:.0f} px wide: blurry"


def test_chapter5_critic_explorer_live(browser, jupyterlab, one_torch_thread):
    notebook = LabNotebook(browser, jupyterlab, "05_gradient_penalty.ipynb")
    notebook.assert_unchanged()
    notebook.assert_stored_sliders_are_plain_figures()
    index = notebook.index_of("CriticExplorer(")
    notebook.run_all_above(index)
    seconds = notebook.run_timed(index, "img.widget-image")
    assert seconds < SLOW_CELL_S, f"the explorer cell took {seconds:.1f} s"
    live = LiveSliders(notebook.cells.nth(index))
    live.assert_sharp()
    # The model's readout at the initial setting with the offset one step right, computed here on
    # one torch thread as the chapter runs it: the same critic, bit for bit.
    figure = CriticExplorer("8gaussians").penalty_figure()
    setting = {s.name: s.values[s.initial_index] for s in figure.sliders} | {"offset": 1.5}
    assert live.move("generator offset", "ArrowRight", 1, figure.readout(**setting)) == "1.5"
    notebook.type_cell_below(len(notebook.source.cells) - 1, TRAINING_CELL)
    assert notebook.page.locator(".widget-hprogress").count() >= 1, "the training run showed no progress bar"
    notebook.assert_no_red_progress_bar()
    notebook.page.close()


def test_chapter1_slider_live(browser, jupyterlab):
    notebook = LabNotebook(browser, jupyterlab, "01_wasserstein.ipynb")
    notebook.assert_unchanged()
    notebook.assert_stored_sliders_are_plain_figures()
    index = notebook.index_of("slider_figure(")
    notebook.run_all_above(index)
    seconds = notebook.run_timed(index, "img.widget-image")
    assert seconds < SLOW_CELL_S, f"the slider cell took {seconds:.1f} s"
    live = LiveSliders(notebook.cells.nth(index))
    live.assert_sharp()
    # p: masses 1/2 at 0 and 2; q at shift +2.5 (spread 2, split 1/2): masses 1/2 at 2.5 and 4.5.
    p, q, halves = [0.0, 2.0], [2.5, 4.5], [0.5, 0.5]
    ours, theirs = w1_cdf(p, q, halves, halves), wasserstein_distance(p, q, halves, halves)
    assert np.isclose(ours, 2.5)
    expected = f"W1 = {ours:.4f}   scipy.stats.wasserstein_distance = {theirs:.4f}"
    assert live.move("shift", "ArrowRight", 3, expected) == "+2.5"
    notebook.assert_no_red_progress_bar()
    notebook.page.close()


LAB_STEPS = 5  # "trains a few steps": the step count the lab shows reaches this


def test_training_lab_trains_in_jupyterlab(browser, jupyterlab):
    notebook = LabNotebook(browser, jupyterlab, "06b_training_lab.ipynb")
    notebook.assert_unchanged()
    stored = notebook.page.locator(".wgan-lab").first
    expect(stored.locator(".wgan-lab-note")).to_have_text("Run the cell to start the training lab.", timeout=UI_MS)
    assert stored.locator("canvas").count() == 0, "the stored lab ran a script in an untrusted notebook"
    index = notebook.index_of("lab.show(")
    notebook.run_all_above(index)
    notebook.run_timed(index, ".wgan-lab-play")
    cell = notebook.cells.nth(index)
    lab = cell.locator(".wgan-lab").first
    expect(lab.locator("canvas.wgan-lab-picture")).to_be_visible(timeout=UI_MS)
    lab.locator(".wgan-lab-play").click()
    notebook.page.wait_for_function(
        f"el => Number(el.getAttribute('data-step')) >= {LAB_STEPS} && Number(el.getAttribute('data-frames')) >= 2",
        arg=lab.element_handle(), timeout=UI_MS)
    lab.locator(".wgan-lab-play").click()  # pause
    expect(lab.locator(".wgan-lab-play")).to_have_text("Play", timeout=UI_MS)
    notebook.assert_no_errors()
    notebook.page.close()
