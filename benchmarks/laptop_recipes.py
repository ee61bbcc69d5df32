"""Which CIFAR-10 recipe can a laptop CPU train in half an hour? Times a generator step of each
candidate (the fast step for the CPU, batch 64 for all) and writes what Chapter 7 shows.

    python benchmarks/laptop_recipes.py --out wgan_teach/published/laptop-recipes [--steps 6] [--threads 2] \
        [--probe RUN_FOLDER ...]

Random images stand in for the data (wgan_teach.bench.step_time): the step alone is timed. Run it
on an otherwise idle machine; on the 2-core build machine it takes about three minutes. ``--probe``
adds short trial runs (run folders of ``python -m wgan_teach train``): their training settings,
steps, training time and FIDs, as their metrics recorded them, and their last sample grids.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from wgan_teach.bench import step_time
from wgan_teach.files import write_atomically
from wgan_teach.recipes import RECIPES
from wgan_teach.speed import fastest

CANDIDATES = ("cnn32-w16-wgangp", "cnn32-w32-wgangp", "cnn32-wgangp", "res32-w32-wgangp", "res32-w64-wgangp",
              "cnn32-w16-wgan-clip")
BATCH = 64


def probe(folder: Path, out: Path) -> dict:
    """A trial run's recipe, training settings, last step and training time, and its FIDs; its last
    sample grid is copied into ``out`` as ``probe-FOLDER.png``."""
    config = json.loads((folder / "config.json").read_text())
    grid = sorted((folder / "samples").glob("step-*.png"))[-1]
    write_atomically(out / f"probe-{folder.name}.png", grid.read_bytes())
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    logged = [row for row in rows if "fid" not in row]
    return {"folder": folder.name, "grid": f"probe-{folder.name}.png", "grid_step": int(grid.stem.split("-")[1]),
            "recipe": config["recipe"], "training": config["training"],
            "ema_decay": config.get("ema_decay"), "steps": logged[-1]["step"],
            "training_seconds": round(logged[-1]["time"], 1),
            "fids": [{k: row[k] for k in ("step", "fid", "n", "ema", "reference", "protocol")} for row in rows if "fid" in row]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per recipe, after as many untimed ones")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--probe", type=Path, nargs="*", default=[], help="run folders of short trial runs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    rows = []
    for name in CANDIDATES:
        recipe = RECIPES[name]
        ms = step_time(name, fastest("cpu"), steps=args.steps, warmup=args.steps, batch_size=BATCH)
        generator, critic = recipe.networks()
        rows.append({"recipe": name, "loss": recipe.training.loss, "critic_steps": recipe.training.critic_steps,
                     "batch_size": BATCH, "generator_parameters": sum(p.numel() for p in generator.parameters()),
                     "critic_parameters": sum(p.numel() for p in critic.parameters()), "ms_per_step": round(ms, 1),
                     "steps_in_30_min": int(1800e3 / ms)})
        print(json.dumps(rows[-1]), flush=True)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    result = {"candidates": rows, "probes": [probe(folder, args.out) for folder in args.probe], "provenance": {
        "command": " ".join(["python", *sys.argv]),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "machine": f"{cpu}, {len(os.sched_getaffinity(0))} cores, {args.threads} torch threads",
        "torch": torch.__version__, "wall_seconds": round(time.perf_counter() - start), "date": time.strftime("%Y-%m-%d")}}
    write_atomically(args.out / "results.json", json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
