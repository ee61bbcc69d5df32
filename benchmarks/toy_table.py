"""Chapter 6's results table at chosen settings: every data set x method x seed, trained and measured.

    python benchmarks/toy_table.py                       # the chapter's CPU quick settings
    python benchmarks/toy_table.py --scale 4 --seeds 5   # 4x the generator steps, 5 seeds

Prints one line per run and a summary (mean ± std over seeds) per data set and method.
"""

import argparse
import time

import numpy as np

from wgan_teach.experiments import CPU_STEPS, ToyRun, run_many


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the chapter's generator steps")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--methods", nargs="+", default=["gan", "wgan-clip", "wgan-gp", "wgan-gp-two-sided", "wgan-gp-lam0.1"])
    parser.add_argument("--datasets", nargs="+", default=list(CPU_STEPS))
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    runs = [ToyRun(d, m, s, steps=int(CPU_STEPS[d] * args.scale))
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
