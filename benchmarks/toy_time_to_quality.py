"""Time to quality of one 2-D run: generator steps per second and when every mode is first covered.

    python benchmarks/toy_time_to_quality.py 8gaussians                 # the book's CPU recipe
    python benchmarks/toy_time_to_quality.py 25gaussians --steps 4000
    python benchmarks/toy_time_to_quality.py 25gaussians --paper --device cuda   # 512-wide nets, lr 1e-4, 100k steps

Quality is checked every --every generator steps on 1,000 samples (that time is not counted).
"""

import argparse

import torch

from wgan_teach import toy
from wgan_teach.experiments import CPU_STEPS, ToyRun, run_toy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["8gaussians", "25gaussians"])
    parser.add_argument("--method", default="wgan-gp")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--paper", action="store_true", help="the paper's toy sizes: 3 x 512 nets, lr 1e-4, 100k steps")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sizes = dict(critic_width=512, generator_width=512, lr=1e-4, steps=100_000) if args.paper else {}
    if args.steps:
        sizes["steps"] = args.steps
    run = ToyRun(args.dataset, args.method, args.seed, **{"steps": CPU_STEPS[args.dataset], **sizes})
    result = run_toy(run, snapshot_every=args.every, device=args.device, progress=True)
    modes = toy.mode_centres(args.dataset).shape[0]
    print(run)
    print(f"{run.steps / result.seconds:.1f} generator steps/s ({result.seconds:.1f} s of training on {args.device})")
    for threshold in (0.5, 0.8):
        hit = next((s for s in result.snapshots
                    if s.quality["modes_covered"] == modes and s.quality["high_quality"] >= threshold), None)
        reached = f"step {hit.step}, {hit.seconds:.1f} s" if hit else "not reached"
        print(f"all {modes} modes and >= {threshold:.0%} high quality: {reached}")
    print("final:", {k: round(v, 3) for k, v in result.quality.items()})


if __name__ == "__main__":
    main()
