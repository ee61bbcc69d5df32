"""The WGAN-GP paper's 2-D experiments at their own size, in one command on the lent GPU machine:
networks of 3 x 512, batch 256, Adam 1e-4 at a constant rate, n_critic = 5, up to 100,000
generator steps — with Algorithm 1's two-sided penalty (lambda = 10, beta = (0, 0.9)) and with the
paper's toy code's lambda = 0.1 (that code's beta = (0.5, 0.9) is not used: only lambda changes),
on the three data sets.

    PYTHONPATH=. python tools/gpu_toy.py MINUTES [--steps 100000] [--seeds 0] [--device cuda]

Each method is one stack of its runs (wgan_teach.experiments.run_many), trained in its own process;
on CUDA the processes share the GPU. MINUTES of training end the stacks early, at whatever step
they reached (stated in the results). Writes to $OUT: toy-paper-size.json (each run's settings,
steps, seconds, final quality — exact W1 of 2,000 points, modes, high-quality share — and its
snapshots' quality) and toy-paper-size.pt (final samples, generator and critic weights in float16).
Needs POT (the exact W1): carry its wheel where it is missing (../.library/device/README.md)."""

import argparse
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch

from wgan_teach import experiments

METHODS = ("wgan-gp", "wgan-gp-lam0.1")
DATASETS = ("8gaussians", "25gaussians", "swissroll")
PAPER = dict(batch_size=256, lr=1e-4, lr_decay=False, critic_width=512, generator_width=512, depth=3)


def paper_runs(steps: int, seeds, snapshot_every: int, **sizes) -> list[experiments.ToyRun]:
    settings = {**PAPER, **sizes}
    return [experiments.ToyRun(dataset, method, seed=seed, steps=steps, snapshot_every=snapshot_every, **settings)
            for method in METHODS for dataset in DATASETS for seed in seeds]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("minutes", type=float, help="minutes of training before the stacks stop")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--snapshot-every", type=int, default=10_000)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--width", type=int, help="narrower networks (a CPU smoke test)")
    parser.add_argument("--batch-size", type=int, help="a smaller batch (a CPU smoke test)")
    args = parser.parse_args()
    sizes = {k: v for k, v in (("critic_width", args.width), ("generator_width", args.width),
                                ("batch_size", args.batch_size)) if v is not None}
    runs = paper_runs(args.steps, args.seeds, args.snapshot_every, **sizes)
    started = time.perf_counter()
    results = experiments.run_many(runs, workers=len(METHODS), device=args.device, stop_after=60 * args.minutes)
    wall = time.perf_counter() - started
    device = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu"
    rows = [{"run": asdict(r.run), "steps_done": r.history["step"][-1], "seconds": r.seconds * r.stacked,
             "stacked": r.stacked, "quality": r.quality,
             "snapshots": [{"step": s.step, "w1": s.w1, "w1_estimate": s.w1_estimate, "quality": s.quality}
                           for s in r.snapshots]} for r in results]
    out = Path(os.environ.get("OUT", "out"))
    out.mkdir(parents=True, exist_ok=True)
    record = {"runs": rows, "wall_seconds": round(wall, 1), "device": device, "torch": torch.__version__,
              "commit": os.environ.get("WGAN_TEACH_COMMIT", "unknown"), "minutes": args.minutes}
    (out / "toy-paper-size.json").write_text(json.dumps(record, indent=1) + "\n")
    half = lambda state: {k: v.half() for k, v in state.items()}
    torch.save([{"samples": torch.from_numpy(r.samples).half(), "generator": half(r.generator),
                 "critic": half(r.critic)} for r in results], out / "toy-paper-size.pt")
    for row in rows:
        run = row["run"]
        print(f"{run['method']:15s} {run['dataset']:12s} seed {run['seed']}: {row['steps_done']:,} steps "
              f"in {row['seconds']:.0f} s, {row['quality']}")


if __name__ == "__main__":
    main()
