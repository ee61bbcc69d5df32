"""A CIFAR-10 run on this machine's CPU, published for Chapter 7: train for a fixed number of steps,
then score FID at every saved generator, then export the run into wgan_teach/published/NAME with its
provenance.

    python tools/cpu_job.py RECIPE NAME --steps N --checkpoint-every K [--batch-size B] [--lr LR]
        --data ../shared/data/cifar10-jpeg --inception ../shared/models/tf-inception-fid/... [--fid-n 1000]

Training and FID are separate passes, so that evaluation never interrupts the timed training (its
``time`` column is training only), and the machine can be left alone while it trains. The run
folder itself stays in runs/NAME (git-ignored); wgan_teach/published/NAME gets config, metrics (with
the FIDs and their protocol), sample grids, the final generator in float16 and provenance.json (commands,
commit, machine, wall and training times).
"""

import argparse
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch

from wgan_teach.publish import PUBLISHED, export_run
from wgan_teach.recipes import RECIPES
from wgan_teach.run_fid import fid_run
from wgan_teach.run_training import train_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", choices=list(RECIPES))
    parser.add_argument("name")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--checkpoint-every", type=int, required=True)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--data", type=Path, required=True, help="CIFAR-10: a folder with train.tar.xz and test.tar.xz")
    parser.add_argument("--inception", required=True)
    parser.add_argument("--fid-n", type=int, default=1000)
    args = parser.parse_args()
    run, dest = Path("runs") / args.name, PUBLISHED / args.name
    train_data, test_data = args.data / "train.tar.xz", args.data / "test.tar.xz"
    started = time.perf_counter()
    history = train_run(args.recipe, train_data, run, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                        checkpoint_every=args.checkpoint_every, log_every=10, device="cpu")
    trained = time.perf_counter() - started
    scored = fid_run(run, test_data, n=args.fid_n, inception=args.inception)
    scoring = time.perf_counter() - started - trained
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    export_run(run, dest, provenance={
        "commands": [shlex.join([sys.executable, *sys.argv])],
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "machine": f"{cpu}, {len(os.sched_getaffinity(0))} cores, {torch.get_num_threads()} torch threads",
        "data": f"CIFAR-10, JPEG q75 copy ({args.data})",
        "training_seconds": round(history["time"][-1], 1), "training_wall_seconds": round(trained, 1),
        "fid_seconds": round(scoring, 1), "fid_scores": len(scored),
    })
    print(f"{args.name}: {history['step'][-1]} steps in {history['time'][-1]:.0f} s of training; "
          f"{len(scored)} FIDs in {scoring:.0f} s; published in {dest}")


if __name__ == "__main__":
    main()
