"""Time to quality of one 2-D run: generator steps per second and when every mode is first covered.

    python benchmarks/toy_time_to_quality.py 8gaussians                  # the book's CPU recipe
    python benchmarks/toy_time_to_quality.py 25gaussians --method wgan-gp-one-sided --steps 3000 --batch-size 256
    python benchmarks/toy_time_to_quality.py 25gaussians --paper --device cuda   # 512-wide nets, batch 256, lr 1e-4, 100k steps

Quality is checked every --every generator steps on 1,000 samples (that time is not counted).
"""

import argparse

import torch

from wgan_teach import toy
from wgan_teach.experiments import METHODS, ToyRun, run_toy


def main():
    defaults = ToyRun()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["8gaussians", "25gaussians"])
    parser.add_argument("--method", default="wgan-gp", choices=list(METHODS))
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--paper", action="store_true", help="the paper's toy sizes: 3 x 512 nets, batch 256, lr 1e-4, 100k steps")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sizes = dict(steps=args.steps, batch_size=args.batch_size)
    if args.paper:
        sizes = dict(critic_width=512, generator_width=512, batch_size=256, lr=1e-4, steps=100_000)
    run = ToyRun(args.dataset, args.method, args.seed, snapshot_every=args.every, **sizes)
    result = run_toy(run, device=args.device, progress=True)
    modes = toy.mode_centres(args.dataset).shape[0]
    print(run)
    print(f"{run.steps / result.seconds:.1f} generator steps/s ({result.seconds:.1f} s of training on {args.device})")
    for threshold in (0.5, 0.8, 0.85):
        hit = next((s for s in result.snapshots
                    if s.quality["modes_covered"] == modes and s.quality["high_quality"] >= threshold), None)
        reached = f"step {hit.step}, {hit.seconds:.1f} s" if hit else "not reached"
        print(f"all {modes} modes and >= {threshold:.0%} high quality: {reached}")
    print("final:", {k: round(v, 3) for k, v in result.quality.items()})


if __name__ == "__main__":
    main()
