"""Execute book chapters in place, storing their outputs (what the HTML book shows and nbval checks).

    python tools/execute_notebooks.py book/01_wasserstein.ipynb [...]

Storing a chapter also makes it what a reader should open:

- its first cell installs ``wgan_teach`` where it is missing (Colab, a fresh Python), from the
  repository that ``_config.yml`` names (``repository.url`` and ``branch``); in a checkout it does
  nothing. The cell is replaced on every run, so it follows ``_config.yml``;
- slider figures are stored as their kernel-free scrubbers (the kernel runs with
  ``wgan_teach.interactive.SCRUBBER_ENV`` set), which the book shows. Only here are their frames
  drawn: a reader's kernel and nbval's show the live widget, one frame at a time;
- no widget view is stored: widget state is not, so a stored view (a progress bar) could only show
  its text fallback, frozen at "0%";
- the kernelspec is stored as Jupyter writes it ("Python 3 (ipykernel)"), so that opening and
  closing a chapter in JupyterLab leaves it unchanged.
"""

import os
import sys
import time
from pathlib import Path

import nbformat
import yaml
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

from wgan_teach.interactive import SCRUBBER_ENV

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "python3"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
INSTALL_CELL_ID = "install-wgan-teach"
INSTALL_SOURCE = """\
# Outside a checkout of the book (Colab, a fresh Python), install its package from the repository.
try:
    import wgan_teach  # noqa: F401
except ImportError:
    import subprocess
    import sys

    package = "{requirement}"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", package], check=True)"""


def published_requirement(config: Path = ROOT / "_config.yml") -> str:
    """The pip requirement of the package on the branch the book is published from."""
    repository = yaml.safe_load(config.read_text())["repository"]
    return f"git+{repository['url']}@{repository['branch']}"


def install_source(requirement: str) -> str:
    return INSTALL_SOURCE.format(requirement=requirement)


def is_install_cell(cell) -> bool:
    """Known by its id, or by its first line where a tool renumbered the cells."""
    return cell.get("id") == INSTALL_CELL_ID or cell.source.startswith(INSTALL_SOURCE.splitlines()[0])


def with_install_cell(notebook, requirement: str):
    """Put the install cell first, replacing the one a previous run stored."""
    cell = nbformat.v4.new_code_cell(install_source(requirement), id=INSTALL_CELL_ID)
    cell.metadata["tags"] = ["remove-cell"]  # the HTML book does not show it
    notebook.cells = [cell] + [c for c in notebook.cells if not is_install_cell(c)]
    return notebook


def without_widget_views(notebook):
    """Drop every output that shows a widget: with no stored widget state it cannot be shown."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]
    return notebook


def with_jupyter_kernelspec(notebook):
    """The kernelspec as JupyterLab writes it on opening, read from the installed kernel."""
    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    notebook.metadata["kernelspec"] = {"display_name": spec.display_name, "language": spec.language, "name": KERNEL}
    return notebook


def execute(path: Path, requirement: str) -> float:
    """Run every cell of the chapter at ``path`` in a fresh kernel and store the result; returns seconds."""
    notebook = with_install_cell(nbformat.read(path, as_version=4), requirement)
    client = NotebookClient(
        notebook,
        timeout=1800,
        kernel_name=KERNEL,
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute(env={**os.environ, SCRUBBER_ENV: "1"})
    seconds = time.perf_counter() - start
    nbformat.write(with_jupyter_kernelspec(without_widget_views(notebook)), path)
    return seconds


if __name__ == "__main__":
    requirement = published_requirement()
    for name in sys.argv[1:]:
        print(f"{name}: executed in {execute(Path(name), requirement):.1f} s", flush=True)
