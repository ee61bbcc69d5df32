"""One command on the lent GPU machine (../shared/GPU.md): train or continue a recipe for at most
MINUTES, FID-10k of the generator and its moving average at every checkpoint, then put the
publishable part of the run (wgan_teach.publish.export_run) into $OUT as NAME.tar.

    PYTHONPATH=. python tools/gpu_job.py RECIPE NAME MINUTES [--steps N] [--checkpoint-every K] [--fid-every F]
        [--fid-at-minutes 2 4 6 7.5]

Reads the git-ignored folder .gpu/ carried with the run: train.tar.xz and test.tar.xz (the JPEG
CIFAR-10 copy) and inception-2015-12-05-fp16r.pt.xz. The run folder .gpu-runs/NAME (outside .gpu/,
which a carried copy replaces) stays on the machine; the same command run again within its idle
time continues the run (--resume). The published part goes to $OUT in three files, each under
the 16 MiB a file may have there: NAME.tar (config, metrics averaged over 100-step windows — every
step is logged, 20 MB at 70,000 steps —, samples, provenance) and the float16 generator and
moving average, NAME.generator.pt and NAME.generator-ema.pt. MINUTES is the wall time of this
command's training, FIDs included; --fid-at-minutes counts minutes of training alone. Set
WGAN_TEACH_COMMIT to the commit being run: it goes into provenance.json with every command.
"""

import argparse
import json
import os
import shlex
import shutil
import sys
import tarfile
import time
from pathlib import Path

import torch

from wgan_teach.publish import export_run
from wgan_teach.recipes import RECIPES
from wgan_teach.run_training import train_run

GPU = Path(".gpu")
RUNS = Path(".gpu-runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", choices=list(RECIPES))
    parser.add_argument("name")
    parser.add_argument("minutes", type=float)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--checkpoint-every", type=int, default=10_000)
    parser.add_argument("--ema", type=float, default=0.999)
    parser.add_argument("--fid-n", type=int, default=10_000, help="generated images per FID (10,000: the protocol)")
    parser.add_argument("--fid-every", type=int, help="FID every this many steps (default: every checkpoint)")
    parser.add_argument("--fid-at-minutes", type=float, nargs="+", default=(), help="also FID after these minutes of training")
    parser.add_argument("--batch-size", type=int, help="override both batch sizes (smoke tests only)")
    parser.add_argument("--device", default="cuda", help="cuda; cpu for a smoke test")
    parser.add_argument("--no-fid", action="store_true", help="skip FID (a CPU smoke test: 10,000 test images take ~17 min there)")
    args = parser.parse_args()
    out = Path(os.environ.get("OUT", "out"))
    run = RUNS / args.name
    started = time.perf_counter()
    resume = (run / "checkpoint.pt").is_file()
    history = train_run(
        args.recipe, GPU / "train.tar.xz", run, steps=args.steps, device=args.device, resume=resume, ema_decay=args.ema,
        checkpoint_every=args.checkpoint_every, stop_after=60 * args.minutes, fid_reference=None if args.no_fid else GPU / "test.tar.xz",
        fid_n=args.fid_n, fid_every=args.fid_every, fid_at=[60 * m for m in args.fid_at_minutes], inception=GPU / "inception-2015-12-05-fp16r.pt.xz", batch_size=args.batch_size,
    )
    wall = time.perf_counter() - started
    with open(run / "commands.jsonl", "a") as f:
        f.write(json.dumps({"command": shlex.join([sys.executable, *sys.argv]), "resumed": resume,
                            "commit": os.environ.get("WGAN_TEACH_COMMIT", "unknown"), "wall_seconds": round(wall, 1),
                            "to_step": history["step"][-1], "training_seconds": round(history["time"][-1], 1)}) + "\n")
    commands = [json.loads(line) for line in (run / "commands.jsonl").read_text().splitlines()]
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    dest = export_run(run, RUNS / "export" / args.name, every=100, provenance={
        "commands": commands, "data": "CIFAR-10 JPEG copy (../shared/data/cifar10-jpeg)", "cuda": torch.version.cuda,
        "gpu": gpu})
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / f"{args.name}.tar", "w") as tar:
        tar.add(dest, arcname=args.name, filter=lambda member: None if member.name.endswith(".pt") else member)
    for weights in dest.glob("*.pt"):
        shutil.copyfile(weights, out / f"{args.name}.{weights.name}")
    print(f"{args.name}: step {history['step'][-1]}, {history['time'][-1]:.0f} s of training, {wall:.0f} s wall; "
          f"{out / (args.name + '.tar')}")


if __name__ == "__main__":
    main()
