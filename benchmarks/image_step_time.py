"""CPU (or GPU) speed of each image recipe: generator steps per second and real images per second.

    python benchmarks/image_step_time.py                 # every recipe, CPU, 3 timed generator steps
    python benchmarks/image_step_time.py --device cuda --steps 50

Uses random images (speed does not depend on content) and the same loop as a real run.
"""

import argparse
from dataclasses import replace

import torch

from wgan_teach.data import ImageData
from wgan_teach.runs import RECIPES
from wgan_teach.train import train


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    data = ImageData(torch.randint(0, 256, (1024, 3, 32, 32), dtype=torch.uint8), device=args.device)
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}")
    for name in args.recipes:
        recipe = RECIPES[name]
        torch.manual_seed(0)
        generator, critic = recipe.networks()
        training = replace(recipe.training, steps=args.steps + 1)
        history = train(generator, critic, data.sample, training, latent_dim=recipe.latent_dim,
                        device=args.device, log_every=1, progress=False)
        seconds = history["time"][-1] - history["time"][0]  # the first step (warm-up) is not counted
        per_step = seconds / args.steps
        real = training.critic_steps * training.batch_size / per_step
        print(f"{name:16s} {per_step * 1e3:8.0f} ms per generator step, {real:7.0f} real images/s "
              f"(critic steps {training.critic_steps}, batch {training.batch_size}/{training.fake_batch_size})")


if __name__ == "__main__":
    main()
