"""Chapter 6's results table at chosen settings: every data set x method x seed, trained and measured.

    python benchmarks/toy_table.py                              # the chapter's CPU recipe, seeds 0-4
    python benchmarks/toy_table.py --steps 4000 --batch-size 256 --seeds 5

Prints one line per run and a summary (mean ± std over seeds) per data set and method.
"""

import argparse
import time

import numpy as np

from wgan_teach import toy
from wgan_teach.experiments import METHODS, ToyRun, run_many


def main():
    defaults = ToyRun()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--datasets", nargs="+", default=list(toy.DATASETS), choices=list(toy.DATASETS))
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    runs = [ToyRun(d, m, s, steps=args.steps, batch_size=args.batch_size)
            for d in args.datasets for m in args.methods for s in range(args.seeds)]
    start = time.perf_counter()
    results = run_many(runs, workers=args.workers)
    print(f"{len(runs)} runs in {time.perf_counter() - start:.0f} s wall time")
    for r in results:
        print(r.run, {k: round(v, 3) for k, v in r.quality.items()}, f"{r.seconds:.1f} s")
    for d in args.datasets:
        for m in args.methods:
            group = [r for r in results if r.run.dataset == d and r.run.method == m]
            cells = [f"{key} {np.mean(v):.3f} ± {np.std(v):.3f}" for key in group[0].quality
                     for v in [[r.quality[key] for r in group]]]
            seconds = [r.seconds for r in group]
            print(f"{d:12s} {m:18s} " + "  ".join(cells) + f"  time {np.mean(seconds):.1f} ± {np.std(seconds):.1f} s")


if __name__ == "__main__":
    main()
