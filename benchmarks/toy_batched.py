"""Runs per second on one CPU core: Chapter 6's 2-D runs one at a time against the same runs stacked.

    python benchmarks/toy_batched.py                        # 5 WGAN-GP runs of 300 steps, the chapter's sizes
    python benchmarks/toy_batched.py --method gan --runs 15 --steps 500

Each run is a ToyRun of the chapter (data sets taken in turn, seeds 0, 1, ...) cut to --steps
generator steps. "One at a time" trains them with run_toy, each alone; "stacked" trains them as one
StackedMLP stack (wgan_teach.train.train_stacked). Both include the final evaluation (exact W1 by
POT), which is the same work in both; the training-only rates are printed as well.
"""

import argparse
import time

import torch

from wgan_teach import toy
from wgan_teach.experiments import METHODS, ToyRun, run_many, run_toy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="wgan-gp", choices=list(METHODS))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = [ToyRun(toy.DATASETS[i % len(toy.DATASETS)], args.method, seed=i, steps=args.steps) for i in range(args.runs)]

    start = time.perf_counter()
    alone = [run_toy(run) for run in runs]
    one_at_a_time = time.perf_counter() - start
    start = time.perf_counter()
    stacked = run_many(runs, workers=1, progress=False)
    as_one = time.perf_counter() - start

    train_alone = sum(r.seconds for r in alone)
    train_stacked = stacked[0].seconds * len(runs)
    print(f"{args.runs} x {args.method}, {args.steps} generator steps each, one thread")
    print(f"one at a time: {args.runs / one_at_a_time:6.2f} runs/s ({args.runs * args.steps / train_alone:7.0f} "
          f"generator steps/s of training)")
    print(f"stacked:       {args.runs / as_one:6.2f} runs/s ({args.runs * args.steps / train_stacked:7.0f} "
          f"generator steps/s of training)")
    print(f"speed-up: {one_at_a_time / as_one:.2f}x overall, {train_alone / train_stacked:.2f}x in training")


if __name__ == "__main__":
    main()
