"""FID's pitfalls, measured once with real CIFAR-10 images: Chapter 7 shows what this writes.

    python benchmarks/fid_protocol.py --data ../shared/data/cifar10-jpeg --out wgan_teach/published/fid-protocol \\
        --inception ../shared/models/tf-inception-fid/inception-2015-12-05-fp16r.pt.xz \\
        --generator wgan_teach/published/cpu-wgan-clip --n 1000 --sizes 100 250 500 1000 --quantisation-n 500

Inception features are computed once, for the first 2 x N of a fixed random order (seed 0, as
wgan_teach.run_fid.fid_of_real draws them) of the training images and the first N of the test images
(seed 0, as wgan_teach.run_fid.FidScorer draws its reference); every FID below comes from subsets of
those features, all under the protocol of wgan_teach.fid:

* the floor: n training images against n test images, for several n (the bias of the estimator);
* the same with a second set of n training images as the reference, so the test set's own difference
  from the training set shows by comparison;
* quantisation: the same images of a generator (--generator, a published run folder; --quantisation-n
  of them) scored unquantised, as floats on the 0-255 scale, and quantised to uint8 as the protocol
  says, both against as many test images.

Writes ``results.json`` (numbers, protocol, image counts, provenance) into --out. On a 2-core CPU
Inception runs at about 7 images/s: N = 2000 takes about 15 minutes.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from wgan_teach import fid
from wgan_teach.data import load_images, to_images
from wgan_teach.files import write_atomically
from wgan_teach.run_fid import REFERENCE_SEED
from wgan_teach.run_folder import load_generator


def first(images: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """The first ``n`` images of the fixed random order of ``images`` drawn with ``seed``."""
    return images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]]


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return fid.frechet_distance(*fid.feature_statistics(a), *fid.feature_statistics(b))


def archive(folder: Path, split: str) -> Path:
    """``folder``'s ``split.tar.xz`` (the JPEG copy), or ``folder`` itself (python batches, image folders)."""
    candidate = folder / f"{split}.tar.xz"
    return candidate if candidate.is_file() else folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="CIFAR-10: its folder (train.tar.xz and test.tar.xz, or python batches)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--inception", default=None)
    parser.add_argument("--generator", type=Path, default=None, help="a published run folder, for the quantisation test")
    parser.add_argument("--n", type=int, default=2000, help="test images; twice as many training images")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 250, 500, 1000, 2000])
    parser.add_argument("--quantisation-n", type=int, default=None, help="generated images for the quantisation test (default: N)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    quantisation_n = args.quantisation_n or args.n
    start = time.perf_counter()
    network = fid.inception_network(args.inception)
    train, _, _ = load_images(archive(args.data, "train"), split="train")
    test, _, _ = load_images(archive(args.data, "test"), split="test")
    train_features = fid.inception_features(first(train, 2 * args.n, seed=0), network, progress=True)
    test_features = fid.inception_features(first(test, args.n, seed=REFERENCE_SEED), network, progress=True)
    sizes = [n for n in args.sizes if n <= args.n]
    floor = {n: distance(train_features[:n], test_features[:n]) for n in sizes}
    train_vs_train = {n: distance(train_features[:n], train_features[args.n:args.n + n]) for n in sizes}
    result = {
        "protocol": fid.PROTOCOL,
        "data": str(args.data),
        "train_vs_test": {str(n): v for n, v in floor.items()},
        "train_vs_train": {str(n): v for n, v in train_vs_train.items()},
        "images": {"train": 2 * args.n, "test": args.n, "order_seed": 0, "reference_seed": REFERENCE_SEED},
    }
    if args.generator:
        config = json.loads((args.generator / "config.json").read_text())
        generator = load_generator(args.generator, args.generator / "generator.pt").eval()
        z = torch.randn(quantisation_n, config["latent_dim"], generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            images = generator(z).float().clamp(-1, 1)
        quantised = to_images(images)
        as_floats = (images + 1) * 127.5  # the same images, unquantised, on the uint8 scale
        features_q = fid.inception_features(quantised, network, progress=True)
        features_f = fid.inception_features(as_floats, network, progress=True)
        result["quantisation"] = {
            "generator": str(args.generator), "n": quantisation_n,
            "uint8": distance(features_q, test_features[:quantisation_n]),
            "float": distance(features_f, test_features[:quantisation_n]),
        }
    result["provenance"] = {
        "command": " ".join(["python", *sys.argv]),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "torch": torch.__version__, "python": platform.python_version(),
        "machine": f"{platform.machine()} CPU, {len(os.sched_getaffinity(0))} cores, {args.threads} torch threads",
        "wall_seconds": round(time.perf_counter() - start), "date": time.strftime("%Y-%m-%d"),
    }
    write_atomically(args.out / "results.json", json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "provenance"}, indent=1))


if __name__ == "__main__":
    main()
