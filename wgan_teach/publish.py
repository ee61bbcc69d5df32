"""Published runs: what a reader needs of a run folder, small enough to ship with the book.

:func:`export_run` copies a run folder's config, metrics (optionally averaged over windows of
steps, :func:`windowed`), sample grids and float16 generators, with a ``provenance.json``;
:func:`published_runs` reads such folders back as :class:`PublishedRun` objects. The runs that
Chapter 7 reads ship with the package, in ``wgan_teach/published/``: :func:`published_runs`
reads them by default.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

from .checks import path as checked_path, positive_int
from .files import torch_bytes, write_atomically
from .run_folder import load_generator, merged_rows, read_config, read_metrics, write_metrics

__all__ = ["PUBLISHED", "windowed", "export_run", "PublishedRun", "published_runs"]

PUBLISHED = Path(__file__).resolve().parent / "published"  # the runs published with the book


def windowed(rows: list[dict], every: int) -> list[dict]:
    """Metrics rows with the step rows averaged over windows of ``every`` generator steps: one row per
    window, holding the mean of each logged quantity over the window, and its last row's ``step``,
    ``lr`` and ``time`` (rows that are already means count with their ``steps_averaged``, so that
    averaging twice over the same windows changes nothing); FID rows are kept as they are, after
    the row of their step. For publishing a
    long run, whose every step is logged, at a size a book can carry."""
    every = positive_int(every, "every")
    if isinstance(rows, (str, bytes, dict)) or not hasattr(rows, "__iter__"):
        raise TypeError(f"rows must be a list of metrics rows (dicts), got {type(rows).__name__}")
    rows = list(rows)
    for row in rows:
        if not isinstance(row, dict) or "step" not in row:
            raise TypeError(f"rows must be metrics rows: dicts with a 'step', got {row!r:.60}")
    step_rows = [row for row in rows if "fid" not in row]
    windows: dict[int, list[dict]] = {}
    for row in step_rows:
        windows.setdefault(-(-row["step"] // every), []).append(row)
    averaged = []
    for window in windows.values():
        last, weights = window[-1], [row.get("steps_averaged", 1) for row in window]  # rows already averaged weigh more
        kept = ("step", "lr", "time", "steps_averaged")
        means = {key: sum(w * row[key] for w, row in zip(weights, window)) / sum(weights) for key in last if key not in kept}
        averaged.append({**means, "step": last["step"], "lr": last["lr"], "time": last["time"], "steps_averaged": sum(weights)})
    return merged_rows(averaged, [row for row in rows if "fid" in row])


def export_run(run: str | Path, dest: str | Path, *, provenance: dict | None = None, every: int | None = None) -> Path:
    """Copy what a reader needs of run folder ``run`` into ``dest``, small enough to publish with the book:
    ``config.json``, ``metrics.jsonl`` (with ``every``, its step rows averaged over windows of that
    many steps: :func:`windowed`), ``samples/``, the latest generator (``generator.pt``) and moving
    average (``generator-ema.pt``) with their weights stored in float16, and ``provenance.json``
    (``provenance`` — e.g. commands, commit, wall times — plus Python, torch and the device).
    Every file is written atomically."""
    config = read_config(run)
    run, dest = Path(run), checked_path(dest, "dest", what="a folder")
    write_atomically(dest / "config.json", (run / "config.json").read_bytes())
    if every is None:
        write_atomically(dest / "metrics.jsonl", (run / "metrics.jsonl").read_bytes())
    else:
        write_metrics(dest, windowed(read_metrics(run), every))
    for grid in sorted((run / "samples").glob("step-*.png")):
        write_atomically(dest / "samples" / grid.name, grid.read_bytes())
    for folder, name in (("generators", "generator.pt"), ("ema", "generator-ema.pt")):
        saved = sorted((run / folder).glob("step-*.pt"))
        if saved:
            weights = torch.load(saved[-1], map_location="cpu", weights_only=True)
            half = {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}
            write_atomically(dest / name, torch_bytes(half))
    device = config["device"]
    if device.startswith("cuda") and torch.cuda.is_available():
        device = f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    steps = [row["step"] for row in read_metrics(run) if "fid" not in row]
    record = {"python": platform.python_version(), "torch": torch.__version__, "device": device,
              "final_step": steps[-1] if steps else 0, **(provenance or {})}
    write_atomically(dest / "provenance.json", json.dumps(record, indent=2) + "\n")
    return dest


@dataclass(frozen=True)
class PublishedRun:
    """A run as :func:`export_run` published it (Chapter 7 reads these): its folder, ``config``,
    ``provenance`` and the rows of ``metrics.jsonl``."""

    folder: Path
    config: dict
    provenance: dict
    metrics: tuple

    @classmethod
    def read(cls, folder: str | Path) -> "PublishedRun":
        folder = checked_path(folder, "folder", what="a published run's folder")
        provenance = json.loads((folder / "provenance.json").read_text())
        return cls(folder, read_config(folder), provenance, tuple(read_metrics(folder)))

    @property
    def name(self) -> str:
        return self.folder.name

    def logged(self, key: str) -> tuple[list[int], list[float]]:
        """Steps and values of a logged quantity (``w1_estimate``, ``grad_norm_mean``, ``time``, ...)."""
        rows = [row for row in self.metrics if "fid" not in row and key in row]
        return [row["step"] for row in rows], [row[key] for row in rows]

    def fids(self, *, ema: bool = False) -> list[dict]:
        """The FID rows (step, fid, n, reference, protocol) of the generator or of its moving average, by step."""
        return sorted((row for row in self.metrics if "fid" in row and row.get("ema", False) == ema),
                      key=lambda row: row["step"])

    def samples(self) -> list[Path]:
        """The sample grids, by step."""
        return sorted((self.folder / "samples").glob("step-*.png"))

    def generator(self, *, ema: bool = False) -> torch.nn.Module:
        """The final generator (or its moving average), in float32 and eval mode."""
        return load_generator(self.folder, self.folder / ("generator-ema.pt" if ema else "generator.pt"))


def published_runs(root: str | Path | None = None) -> list[PublishedRun]:
    """Every published run in ``root`` (the folders holding a ``provenance.json``), by name; by default
    the runs published with the book (:data:`PUBLISHED`, ``wgan_teach/published``)."""
    root = PUBLISHED if root is None else checked_path(root, "root", what="a folder of published runs")
    if not root.is_dir():
        raise FileNotFoundError(f"no folder of published runs at {root}")
    return [PublishedRun.read(folder) for folder in sorted(root.iterdir())
            if (folder / "provenance.json").is_file() and (folder / "config.json").is_file()]
