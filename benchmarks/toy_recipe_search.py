"""The search for a CPU recipe of the paper's Algorithm 1 on the 2-D data sets (Chapter 6), re-runnable.

Algorithm 1 of Gulrajani et al. (2017) fixes the two-sided gradient penalty with lambda = 10, five
critic steps per generator step and Adam with beta = (0, 0.9). The search changes only what the
chapter may change: network sizes, initialisation, learning rate (always decayed linearly to zero),
batch size and number of generator steps. Runs use seeds 10-14; the chapter reports seeds 0-4.

The target: every mode in every seed with >= 85 % high-quality samples on 8 and 25 Gaussians, and an
exact W1 within 1.5 x its floor on the swiss roll, with <= 30 s of training per run on one core.

    python benchmarks/toy_recipe_search.py                 # every stage; writes wgan_teach/results/toy_recipe_search.json
    python benchmarks/toy_recipe_search.py --stage init    # one stage (see STAGES), printed, not stored
    python benchmarks/toy_recipe_search.py --list          # the stages and why each was tried

Each configuration is one stack of seeds (wgan_teach.experiments.run_many); the stacks of a stage
run in parallel over the CPU cores. Printed per configuration: modes covered, high-quality share
and exact W1 per seed, and the training time per run (its share of the stack's wall time). A full
search stores every run, with the W1 floors and provenance, for Chapter 6 to show; the file is
rewritten (atomically) after each stage, so an interrupted search keeps the stages it finished.
"""

import argparse
import json
import time
from dataclasses import dataclass, field

import numpy as np

from toy_lr_sweep import provenance, w1_floors
from wgan_teach.experiments import RECIPE_SEARCH, ToyRun, run_many
from wgan_teach.files import write_atomically

SEEDS = (10, 11, 12, 13, 14)


@dataclass
class Stage:
    why: str
    configs: list[dict] = field(default_factory=list)  # ToyRun fields; one stack of SEEDS each


def grid(base: dict, **axes) -> list[dict]:
    """Every combination of the values in ``axes`` on top of ``base``."""
    configs = [dict(base)]
    for name, values in axes.items():
        configs = [{**config, name: value} for config in configs for value in values]
    return configs


_8G = dict(dataset="8gaussians", method="wgan-gp", critic_width=32, generator_width=128, batch_size=256, steps=1500)

STAGES = {
    "torch-init": Stage(
        "Algorithm 1 with PyTorch's default initialisation, batch 256: the generator starts as a tiny cloud "
        "at the origin and, in the failing seeds, moves as one blob faster than five critic steps can follow "
        "(the critic's estimate of W1 turns negative).",
        grid({**_8G, "init": "torch", "critic_width": 64}, lr=[1e-3, 2e-3, 4e-3]),
    ),
    "init": Stage(
        "The paper's toy code initialises He-uniform (hidden) and Glorot-uniform (output): the generator "
        "starts spread over the plane. Learning rate and critic width on 8 Gaussians.",
        grid({**_8G, "critic_width": 64}, lr=[1e-3, 2e-3, 4e-3, 6e-3, 8e-3]) + grid(_8G, lr=[4e-3]),
    ),
    "batch": Stage(
        "Smaller batches: cheaper steps, and noisier ones.",
        grid({**_8G, "steps": 2000}, batch_size=[128, 64, 32], lr=[4e-3]),
    ),
    "25gaussians": Stage(
        "Algorithm 1 on 25 Gaussians: the generator collapses onto closed curves through the grid; "
        "the one-sided penalty, all else equal, places the modes.",
        grid({**_8G, "dataset": "25gaussians", "steps": 3000, "lr": 4e-3}, batch_size=[256, 64],
             method=["wgan-gp", "wgan-gp-one-sided"]),
    ),
    "25gaussians-bigger": Stage(
        "Does a wider critic, a lower learning rate or a longer run rescue Algorithm 1 on 25 Gaussians?",
        [{**_8G, "dataset": "25gaussians", "steps": 3000, "lr": 1e-3, "critic_width": 128},
         {**_8G, "dataset": "25gaussians", "steps": 8000, "lr": 1e-3, "batch_size": 64}],
    ),
    "swissroll": Stage(
        "Algorithm 1 and the one-sided penalty on the swiss roll.",
        grid({**_8G, "dataset": "swissroll", "steps": 2000, "lr": 4e-3, "batch_size": 64},
             method=["wgan-gp", "wgan-gp-one-sided"]),
    ),
}


def run_stage(name: str, seeds=SEEDS) -> list[dict]:
    """Train and print one stage; return its runs: configuration, seed, quality, training seconds."""
    stage = STAGES[name]
    print(f"== {name}: {stage.why}", flush=True)
    runs = [ToyRun(**config, seed=seed) for config in stage.configs for seed in seeds]
    start = time.perf_counter()
    results = run_many(runs, progress=False)
    print(f"   {len(runs)} runs in {time.perf_counter() - start:.0f} s wall time")
    for i, config in enumerate(stage.configs):
        group = results[i * len(seeds):(i + 1) * len(seeds)]
        shown = {k: v for k, v in config.items() if k != "dataset"}
        line = [f"   {config['dataset']} {shown}", f"{np.mean([r.seconds for r in group]):.1f} s/run"]
        if "modes_covered" in group[0].quality:
            line.append(f"modes {[r.quality['modes_covered'] for r in group]}")
            line.append(f"high quality {[round(r.quality['high_quality'], 2) for r in group]}")
        line.append(f"W1 {[round(r.quality['w1'], 3) for r in group]}")
        print("  ".join(line), flush=True)
    return [{"config": k // len(seeds), "seed": r.run.seed, **r.quality, "seconds": r.seconds}
            for k, r in enumerate(results)]  # results run configuration by configuration, seeds within


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=list(STAGES), action="append", help="run these stages (default: all)")
    parser.add_argument("--list", action="store_true", help="list the stages and stop")
    args = parser.parse_args()
    if args.list:
        for name, stage in STAGES.items():
            print(f"{name}: {stage.why} ({len(stage.configs)} configurations)")
        return
    if args.stage:  # a partial search is printed, never stored over the full one
        for name in args.stage:
            run_stage(name)
        return
    record = {"seeds": list(SEEDS), "w1_floors": w1_floors(), "stages": {}}
    start = time.perf_counter()
    for name, stage in STAGES.items():
        record["stages"][name] = {"why": stage.why, "configs": stage.configs, "runs": run_stage(name)}
        record["provenance"] = provenance("python benchmarks/toy_recipe_search.py", time.perf_counter() - start)
        write_atomically(RECIPE_SEARCH, json.dumps(record, indent=1) + "\n")
    print(f"written to {RECIPE_SEARCH}")


if __name__ == "__main__":
    main()
