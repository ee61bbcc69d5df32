"""tools/execute_notebooks.py: what storing a chapter writes, the stored chapters, and the install cell."""

import importlib.util
import json
import os
import subprocess
import sys
import venv

import nbformat
import pytest

from conftest import ROOT

spec = importlib.util.spec_from_file_location("execute_notebooks", ROOT / "tools" / "execute_notebooks.py")
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def chapters():
    """Every notebook of the book: the chapters, their sections and the appendices."""
    return sorted((ROOT / "book").glob("*.ipynb"))


def widget_output():
    return nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": "m"}, "text/plain": "0%| | 0/3"})


def test_install_cell_goes_first_once_and_follows_the_requirement():
    cells = [nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("x = 1")]
    notebook = nbformat.v4.new_notebook(cells=cells)
    tool.with_install_cell(notebook, "git+https://example.org/a@main")
    tool.with_install_cell(notebook, "git+https://example.org/b@main")
    notebook.cells[0].id = "renumbered"  # a tool that rewrites cell ids: known by its first line
    tool.with_install_cell(notebook, "git+https://example.org/c@main")
    first, *rest = notebook.cells
    assert first.source == tool.install_source("git+https://example.org/c@main")
    assert '"git+https://example.org/c@main"' in first.source
    assert first.metadata.tags == ["remove-cell"] and first.id == tool.INSTALL_CELL_ID
    assert [c.source for c in rest] == ["# Title", "x = 1"]
    nbformat.validate(notebook)


def test_widget_views_are_dropped_and_other_outputs_kept():
    cell = nbformat.v4.new_code_cell("run()")
    printed = nbformat.v4.new_output("stream", name="stdout", text="done\n")
    cell.outputs = [widget_output(), printed]
    notebook = tool.without_widget_views(nbformat.v4.new_notebook(cells=[cell]))
    assert notebook.cells[0].outputs == [printed]


def test_kernelspec_is_the_one_jupyterlab_writes():
    stored = {"display_name": "Python 3", "language": "python", "name": "python3"}
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": stored})
    assert tool.with_jupyter_kernelspec(notebook).metadata.kernelspec == {
        "display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def test_execute_stores_scrubbers_and_no_widget_views(tmp_path):
    path = tmp_path / "chapter.ipynb"
    draw = (
        "import matplotlib.pyplot as plt\n"
        "from tqdm.auto import tqdm\n"
        "from wgan_teach.interactive import Slider, slider_figure\n"
        "def draw(a):\n"
        "    fig, ax = plt.subplots(figsize=(1, 1))\n"
        "    ax.plot([0, a])\n"
        "    return fig\n"
    )
    cells = [draw, "slider_figure(draw, [Slider('a', (1, 2))])", "for _ in tqdm(range(3)):\n    pass\nprint('done')"]
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), path)
    tool.execute(path, "git+file:///nowhere@main")
    stored = nbformat.read(path, as_version=4)
    install, _, figure, progress = stored.cells
    assert install.source == tool.install_source("git+file:///nowhere@main") and install.outputs == []
    [scrubber] = figure.outputs
    assert set(scrubber.data) == {"text/html", "text/plain"}
    assert scrubber.data["text/html"].startswith('<div class="wgan-scrubber"')
    assert [o.get("text") for o in progress.outputs] == ["done\n"]
    assert stored.metadata.kernelspec.display_name == "Python 3 (ipykernel)"


@pytest.mark.parametrize("path", chapters(), ids=lambda p: p.stem)
def test_stored_chapter_is_stored_by_the_tool(path):
    """First the install cell for the repository of _config.yml; scrubbers, no widget views; Jupyter's kernelspec.

    Fails on a chapter stored some other way: run `make execute` (or the tool on that chapter)."""
    notebook = nbformat.read(path, as_version=4)
    assert notebook.cells[0].source == tool.install_source(tool.published_requirement()), (
        f"{path.name} does not start with the install cell for the repository in _config.yml")
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if WIDGET_VIEW in o.get("data", {})], f"{path.name} stores widget views"
    assert notebook.metadata.kernelspec.display_name == "Python 3 (ipykernel)", f"{path.name}: kernelspec"


def run_install_cell(python, requirement, cwd, **env):
    """The cell, then the import the chapter's next cell makes, in one process (a kernel)."""
    code = tool.install_source(requirement) + "\nimport wgan_teach\nprint(wgan_teach.__file__)"
    return subprocess.run([python, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={"PATH": os.environ["PATH"], "HOME": str(cwd), "PIP_CONFIG_FILE": os.devnull, **env})


def test_install_cell_does_nothing_where_the_package_imports(tmp_path):
    result = run_install_cell(sys.executable, "git+file:///nowhere@main", tmp_path, PIP_NO_INDEX="1")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.strip() == str(ROOT / "wgan_teach" / "__init__.py")


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory):
    """A fresh venv that can install the package from a git URL offline: (its python, pip's environment).

    --no-deps and --no-index (PIP_* variables) keep pip off the network; the venv's own setuptools (from
    ensurepip) is too old to build pyproject.toml, so the build uses the project's, lent through
    PYTHONPATH, without build isolation. The package's dependencies (torch, numpy, ...) and Jupyter's
    kernel are lent by a .pth file, which puts this environment's packages *after* the fresh venv's own:
    the package itself must come from the fresh install."""
    root = tmp_path_factory.mktemp("fresh")
    fresh = root / "venv"
    venv.create(fresh, with_pip=True)
    import setuptools
    import torch

    fresh_site = next((fresh / "lib").glob("python3*/site-packages"))
    (fresh_site / "lent-dependencies.pth").write_text(os.path.dirname(os.path.dirname(torch.__file__)) + "\n")

    lent = root / "build-tools"
    lent.mkdir()
    site = os.path.dirname(os.path.dirname(setuptools.__file__))
    for name in ("setuptools", "_distutils_hack", "pkg_resources", f"setuptools-{setuptools.__version__}.dist-info"):
        (lent / name).symlink_to(os.path.join(site, name))
    pip_env = dict(PIP_NO_INDEX="1", PIP_NO_DEPS="1", PIP_NO_BUILD_ISOLATION="0", PYTHONPATH=str(lent))
    return fresh / "bin" / "python", pip_env


def local_requirement():
    """This clone's committed HEAD as a pip git URL (what a reader's install cell fetches, but local)."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    return f"git+file://{ROOT}@{head.stdout.strip()}"


@pytest.fixture(scope="module")
def installed(fresh_python, tmp_path_factory):
    """The stored install cell's pip command, pointed at this clone, run in the fresh venv: what it printed."""
    python, pip_env = fresh_python
    return run_install_cell(str(python), local_requirement(), tmp_path_factory.mktemp("install"), **pip_env)


def test_install_cell_installs_the_package_from_a_git_url_offline(fresh_python, installed):
    """The package imports from the fresh venv, not from this environment, with its published runs."""
    python, _ = fresh_python
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert installed.stdout.startswith(str(python.parents[1] / "lib")), installed.stdout


RUN_IN_FRESH_KERNEL = """\
import sys
import nbformat
from nbclient import NotebookClient

path = sys.argv[1]
notebook = nbformat.read(path, as_version=4)
NotebookClient(notebook, kernel_name="fresh", timeout=600, resources={"metadata": {"path": "."}}).execute()
nbformat.write(notebook, path)
"""


def test_chapter_7_runs_outside_a_checkout(fresh_python, installed, tmp_path):
    """Chapter 7 as a Colab reader runs it: a folder holding only the notebook, no CIFAR-10, a kernel of
    the fresh venv where the install cell installed the package from a git URL. It reads the runs
    published with the package (not book/runs of a checkout) and runs to its end; a last cell added here
    says where the package and the published runs it read came from."""
    python, pip_env = fresh_python
    assert installed.returncode == 0, installed.stderr[-3000:]
    kernels = python.parents[1] / "share" / "jupyter" / "kernels" / "fresh"
    kernels.mkdir(parents=True, exist_ok=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (kernels / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "fresh", "language": "python"}))

    folder = tmp_path / "reader"
    folder.mkdir()
    notebook = nbformat.read(ROOT / "book" / "07_cifar10.ipynb", as_version=4)
    tool.with_install_cell(notebook, local_requirement())
    where = "import wgan_teach, wgan_teach.publish as p\nprint(wgan_teach.__file__)\nprint(p.PUBLISHED)"
    notebook.cells.append(nbformat.v4.new_code_cell(where))
    nbformat.write(notebook, folder / "07_cifar10.ipynb")
    assert [p.name for p in folder.iterdir()] == ["07_cifar10.ipynb"]

    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PIP_CONFIG_FILE": os.devnull,
           "OMP_NUM_THREADS": "1", "MPLBACKEND": "agg", **pip_env}
    result = subprocess.run([str(python), "-c", RUN_IN_FRESH_KERNEL, "07_cifar10.ipynb"], cwd=folder,
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    ran = nbformat.read(folder / "07_cifar10.ipynb", as_version=4)
    code = [c for c in ran.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "a cell did not run"
    printed = "".join(o.get("text", "") for c in code for o in c.outputs)
    assert "CIFAR-10 is not on this machine" in printed  # the reader's case: no data, cells skipped
    package, published = "".join(o.get("text", "") for o in code[-1].outputs).split()  # one stream or two
    fresh_lib = str(python.parents[1] / "lib")
    assert package.startswith(fresh_lib) and published.startswith(fresh_lib), (package, published)
