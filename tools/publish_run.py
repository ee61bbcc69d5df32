"""Publish an exported run (the NAME.tar that tools/gpu_job.py returns, unpacked) into the book:
its config, provenance and chosen sample grids, and its metrics with the step rows averaged over
windows of EVERY steps (wgan_teach.publish.windowed), so that a long run fits beside the book.

    python tools/publish_run.py EXPORTED wgan_teach/published/NAME [--every 100] [--samples 0 7500 70000]

The generators (float16, 7 MB each for cnn32) are left out; the run's commands in provenance.json
re-create them."""

import argparse
import json
import shutil
from pathlib import Path

from wgan_teach.publish import windowed
from wgan_teach.files import write_atomically


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exported", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--samples", type=int, nargs="*", help="steps whose grids to keep (default: all)")
    args = parser.parse_args()
    rows = [json.loads(line) for line in (args.exported / "metrics.jsonl").read_text().splitlines()]
    thinned = windowed(rows, args.every)
    write_atomically(args.dest / "metrics.jsonl", "".join(json.dumps(row) + "\n" for row in thinned))
    for name in ("config.json", "provenance.json"):
        write_atomically(args.dest / name, (args.exported / name).read_bytes())
    grids = sorted((args.exported / "samples").glob("step-*.png"))
    kept = [g for g in grids if args.samples is None or int(g.stem.split("-")[1]) in args.samples]
    missing = set(args.samples or ()) - {int(g.stem.split("-")[1]) for g in kept}
    if missing:
        raise SystemExit(f"no sample grid at steps {sorted(missing)}")
    shutil.rmtree(args.dest / "samples", ignore_errors=True)
    for grid in kept:
        write_atomically(args.dest / "samples" / grid.name, grid.read_bytes())
    print(f"{args.dest}: {len(thinned)} metrics rows (from {len(rows)}), {len(kept)} sample grids")


if __name__ == "__main__":
    main()
