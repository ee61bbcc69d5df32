"""Chapter 6's runs of the two variants of Algorithm 1's penalty, trained once and stored.

    python benchmarks/toy_penalty_variants.py     # writes wgan_teach/results/toy_penalty_variants.json

The variants are the one-sided penalty and the paper's toy-code lambda of 0.1, each differing from
Algorithm 1 in that one thing (wgan_teach.experiments.METHODS). Chapter 6 compares them with
Algorithm 1 on the two data sets where Algorithm 1 fails, 25 Gaussians and the swiss roll, with
seeds 0, 1 and 2, at the chapter's CPU recipe (the defaults of ToyRun). The chapter trains its 45
headline runs itself and reads these 12 from the stored file: on a 2-core machine they would add
about a minute of arithmetic to a chapter meant to run in two. The runs are trained exactly as the
chapter would train them, one stack per variant (wgan_teach.experiments.run_many), so on the
machine that stored them the chapter's ``run_many(variant_runs)`` gives the same numbers; the
chapter checks that the stored runs are the runs it describes.
"""

import json
import time

from toy_lr_sweep import provenance
from wgan_teach.experiments import PENALTY_VARIANTS, ToyRun, results_record, run_many
from wgan_teach.files import write_atomically

VARIANTS = ("wgan-gp-one-sided", "wgan-gp-lam0.1")
DATASETS = ("25gaussians", "swissroll")  # where Algorithm 1 fails
SEEDS = (0, 1, 2)


def variant_runs() -> list[ToyRun]:
    """The 12 runs, in the order Chapter 6 lists them: by variant, data set, seed."""
    return [ToyRun(name, method, seed) for method in VARIANTS for name in DATASETS for seed in SEEDS]


def main():
    runs = variant_runs()
    start = time.perf_counter()
    results = run_many(runs)
    seconds = time.perf_counter() - start
    record = {"results": results_record(results),
              "provenance": provenance("python benchmarks/toy_penalty_variants.py", seconds)}
    write_atomically(PENALTY_VARIANTS, json.dumps(record) + "\n")
    for result in results:
        print(f"{result.run.method:17s} {result.run.dataset:11s} seed {result.run.seed}: {result.quality}")
    print(f"{len(runs)} runs in {seconds:.0f} s; written to {PENALTY_VARIANTS}")


if __name__ == "__main__":
    main()
