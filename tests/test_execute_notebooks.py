"""tools/execute_notebooks.py: what storing a chapter writes, the stored chapters, and the install cell."""

import importlib.util
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
    return sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))


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


def test_install_cell_installs_the_package_from_a_git_url_offline(tmp_path):
    """The stored cell's pip command, pointed at this clone, in a fresh venv: nothing is downloaded.

    --no-deps and --no-index (PIP_* variables) keep pip off the network; the venv's own setuptools (from
    ensurepip) is too old to build pyproject.toml, so the build uses the project's, lent through
    PYTHONPATH, without build isolation. The package's dependencies (torch, numpy, ...) are lent by a
    .pth file, which puts this environment's packages *after* the fresh venv's own: the package itself
    must come from the fresh install."""
    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=True)
    python = str(fresh / "bin" / "python")
    import setuptools
    import torch

    fresh_site = next((fresh / "lib").glob("python3*/site-packages"))
    (fresh_site / "lent-dependencies.pth").write_text(os.path.dirname(os.path.dirname(torch.__file__)) + "\n")

    lent = tmp_path / "build-tools"
    lent.mkdir()
    site = os.path.dirname(os.path.dirname(setuptools.__file__))
    for name in ("setuptools", "_distutils_hack", "pkg_resources", f"setuptools-{setuptools.__version__}.dist-info"):
        (lent / name).symlink_to(os.path.join(site, name))
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    commit = head.stdout.strip()
    pip_env = dict(PIP_NO_INDEX="1", PIP_NO_DEPS="1", PIP_NO_BUILD_ISOLATION="0", PYTHONPATH=str(lent))
    result = run_install_cell(python, f"git+file://{ROOT}@{commit}", tmp_path, **pip_env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith(str(fresh / "lib")), result.stdout
