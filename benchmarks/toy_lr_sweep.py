"""The learning-rate sweep behind Chapter 6's table: each method tuned on its own, on seeds the table does not use.

    python benchmarks/toy_lr_sweep.py                      # writes wgan_teach/results/toy_lr_sweep.json
    python benchmarks/toy_lr_sweep.py --out sweep.json --seeds 100 101

For every method of the sweep and every learning rate on its grid, the chapter's CPU recipe (the
defaults of wgan_teach.experiments.ToyRun: same networks, batch and number of generator steps for
every method) is trained on all three data sets with seeds 100 and 101, and scored by the exact W1
of 2,000 generated against 2,000 real samples divided by that data set's W1 floor (two independent
real sets of 2,000), so that the three data sets weigh alike. The best learning rate of a method is the one with
the lowest geometric mean of that ratio over its six runs (a geometric mean, so that one run far off the data
does not outweigh five good ones). Chapter 6 prints this file and uses those learning rates
(wgan_teach.experiments.METHODS); the variants of WGAN-GP use the learning rate of WGAN-GP.
"""

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from wgan_teach import toy
from wgan_teach.experiments import LR_SWEEP, ToyRun, evaluate, run_many

GRIDS = {  # learning rates tried per method: factors of about 2 around the usual values for each
    "gan": [1e-3, 2e-3, 4e-3, 8e-3],
    "wgan-clip": [1e-4, 3e-4, 1e-3, 3e-3],
    "wgan-gp": [1e-3, 2e-3, 4e-3, 8e-3],
}
OUT = LR_SWEEP  # inside the package, so that Chapter 6 finds it wherever wgan_teach is installed


def w1_floors() -> dict[str, float]:
    """Exact W1 between two independent sets of 2,000 real samples, per data set (as Chapter 6 computes it)."""
    return {name: evaluate(lambda z, name=name: toy.sample(name, len(z), torch.Generator().manual_seed(1)), name,
                           seed=2)["w1"] for name in toy.DATASETS}


def geometric_mean(values) -> float:
    """exp(mean(log v)); NaN (a run that diverged) counts as infinitely far."""
    values = np.nan_to_num(np.asarray(values, dtype=float), nan=np.inf)
    return float(np.exp(np.mean(np.log(values))))


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def provenance(command: str, seconds: float) -> dict:
    """What made a stored result: command, commit, torch, machine, wall time and date."""
    return {"command": command, "commit": commit(), "torch": torch.__version__,
            "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
            "wall_seconds": round(seconds, 1), "date": time.strftime("%Y-%m-%d")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    runs = [ToyRun(name, method, seed, lr=lr) for method, lrs in GRIDS.items() for lr in lrs
            for name in toy.DATASETS for seed in args.seeds]
    start = time.perf_counter()
    results = run_many(runs)
    seconds = time.perf_counter() - start
    floors = w1_floors()
    rows = [{"method": r.run.method, "lr": r.run.lr, "dataset": r.run.dataset, "seed": r.run.seed,
             **r.quality, "w1_over_floor": r.quality["w1"] / floors[r.run.dataset]} for r in results]
    best, all_scores = {}, {}
    for method, lrs in GRIDS.items():
        scores = {lr: geometric_mean([row["w1_over_floor"] for row in rows if row["method"] == method and row["lr"] == lr])
                  for lr in lrs}
        best[method] = min(scores, key=lambda lr: (scores[lr], lr))
        all_scores[method] = scores
        print(f"{method:10s} " + "  ".join(f"lr {lr:g}: {score:6.2f}" for lr, score in scores.items())
              + f"   best {best[method]:g}")
    record = {
        "recipe": {k: v for k, v in vars(ToyRun()).items() if k not in ("dataset", "method", "seed", "lr")},
        "seeds": args.seeds, "grids": GRIDS, "w1_floors": floors, "scores": {m: {str(lr): v for lr, v in s.items()} for m, s in all_scores.items()},
        "best": best, "runs": rows,
        "provenance": provenance("python benchmarks/toy_lr_sweep.py", seconds),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"{len(runs)} runs in {seconds:.0f} s; written to {args.out}")


if __name__ == "__main__":
    main()
