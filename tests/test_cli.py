"""``python -m wgan_teach``: run folders, deterministic resume after an interruption, FID and sample
commands, NaN handling, and one-line errors with exit code 2 for bad arguments. Tiny settings on CPU."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from wgan_teach.__main__ import main
from wgan_teach.data import ImageData

NETWORK = Path(__file__).resolve().parents[2] / "shared/models/tf-inception-fid/inception-2015-12-05-fp16r.pt.xz"
TINY = ["--recipe", "cnn32-wgangp", "--steps", "4", "--batch-size", "4", "--checkpoint-every", "2", "--log-every", "1"]


@pytest.fixture(scope="module")
def images(image_folder):
    """A folder of two classes of six random 32 x 32 PNG images."""
    return image_folder(6)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def rows(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_train_writes_a_run_folder(images, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(images), "--out", str(run), *TINY]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["recipe"] == "cnn32-wgangp" and config["training"]["steps"] == 4 and config["training"]["lam"] == 10.0
    logged = rows(run)
    assert [r["step"] for r in logged] == [1, 2, 3, 4]
    for key in ("critic_loss", "w1_estimate", "penalty", "grad_norm_mean", "grad_norm_std", "generator_loss", "lr", "time"):
        assert all(np.isfinite(r[key]) for r in logged), key
    assert logged[0]["lr"] == 2e-4 and logged[1]["lr"] == pytest.approx(2e-4 * 3 / 4)  # linear decay over 4 steps
    saved = ["step-000000.pt", "step-000002.pt", "step-000004.pt"]  # the initial generator too
    assert sorted(p.name for p in (run / "generators").iterdir()) == saved
    assert Image.open(run / "samples" / "step-000004.png").size == (8 * 34 + 2, 8 * 34 + 2)
    assert "trained to step 4" in capsys.readouterr().out
    grid = tmp_path / "grid.png"
    assert main(["sample", "--run", str(run), "--n", "16", "--out", str(grid)]) == 0
    assert Image.open(grid).size == (4 * 34 + 2, 4 * 34 + 2)


def test_interrupted_then_resumed_run_equals_an_uninterrupted_one(images, tmp_path, monkeypatch):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main(["train", "--data", str(images), "--out", str(whole), *TINY]) == 0
    calls = {"n": 0}
    sample = ImageData.sample

    def interrupted(self, n, generator):  # the reader presses Ctrl-C during generator step 3
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return sample(self, n, generator)

    monkeypatch.setattr(ImageData, "sample", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(["train", "--data", str(images), "--out", str(cut), *TINY])
    monkeypatch.setattr(ImageData, "sample", sample)
    assert main(["train", "--data", str(images), "--out", str(cut), *TINY, "--resume"]) == 0
    for name in ("step-000002.pt", "step-000004.pt"):
        a, b = (torch.load(run / "generators" / name, weights_only=True) for run in (whole, cut))
        assert all(torch.equal(a[k], b[k]) for k in a), name
    strip = lambda logged: [{k: v for k, v in r.items() if k != "time"} for r in logged]
    assert strip(rows(cut)) == strip(rows(whole))


def test_nan_stops_with_exit_code_3_and_keeps_the_checkpoint(images, tmp_path, monkeypatch, capsys):
    calls = {"n": 0}
    sample = ImageData.sample

    def poisoned(self, n, generator):
        calls["n"] += 1
        batch = sample(self, n, generator)
        return batch * float("nan") if calls["n"] >= 3 else batch

    monkeypatch.setattr(ImageData, "sample", poisoned)
    run = tmp_path / "run"
    assert main(["train", "--data", str(images), "--out", str(run), *TINY]) == 3
    assert "critic_loss became nan at generator step 3" in capsys.readouterr().err
    assert torch.load(run / "checkpoint.pt", weights_only=False)["step"] == 2


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["train", "--recipe", "dcgan", "--data", "{images}", "--out", "{tmp}/a"], "unknown recipe 'dcgan'; valid names: cnn32-wgangp"),
        (["train", "--recipe", "cnn32-wgangp", "--data", "{tmp}/missing", "--out", "{tmp}/b"], "missing"),
        (["train", "--recipe", "cnn32-wgangp", "--data", "{images}", "--out", "{tmp}/c", "--steps", "0"], "must be a positive integer"),
        (["train", "--recipe", "cnn32-wgangp", "--data", "{images}", "--out", "{tmp}/d", "--resume"], "nothing to resume"),
        (["train", "--recipe", "cnn32-wgangp", "--data", "{images}", "--out", "{tmp}/e", "--checkpoint-every", "2",
          "--fid-every", "3", "--fid-reference", "{images}"], "fid_every (3) must be a multiple of checkpoint_every (2)"),
        (["train", "--recipe", "cnn32-wgangp", "--data", "{images}", "--out", "{tmp}/f", "--seed", str(2**70)],
         "seed must be an integer from 0 to 2**64 - 1"),  # once "Overflow when unpacking long long"
        (["sample", "--run", "{tmp}/nowhere", "--out", "{tmp}/x.png"], "no run at"),
        (["bench", "--recipe", "cnn32-wgangp", "--device", "mps"], "must be cpu or cuda"),
        (["fid", "--run", "{tmp}/r", "--reference", "{images}", "--device", "cuda:x"], "not a device"),
        (["fid", "--run", "{tmp}/nowhere", "--reference", "{images}"], "no run at"),
        (["fid", "--real", "", "--reference", "{images}"], "data must be a path to the real images"),  # once read as --run
    ],
)
def test_bad_arguments_give_one_line_and_exit_code_2(arguments, message, images, tmp_path):
    filled = [a.format(images=images, tmp=tmp_path) for a in arguments]
    result = subprocess.run([sys.executable, "-m", "wgan_teach", *filled], capture_output=True, text=True)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(("error:", "usage:", "python -m wgan_teach"))


def test_a_finished_run_is_not_overwritten(images, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--data", str(images), "--out", str(run), *TINY]) == 0
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--data", str(images), "--out", str(run), *TINY])
    assert exit_.value.code == 2


@pytest.mark.skipif(not NETWORK.is_file(), reason="the offline Inception copy is not in ../shared")
def test_fid_command_appends_to_the_metrics(images, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--data", str(images), "--out", str(run), *TINY]) == 0
    assert main(["fid", "--run", str(run), "--reference", str(images), "--split", "train", "--n", "12",
                 "--inception", str(NETWORK), "--checkpoint", str(run / "generators" / "step-000004.pt")]) == 0
    scored = [r for r in rows(run) if "fid" in r]
    assert len(scored) == 1 and scored[0]["step"] == 4 and scored[0]["n"] == 12
    assert np.isfinite(scored[0]["fid"]) and scored[0]["fid"] > 0
    assert list((run / "fid-cache").glob("fid-reference-*.npz"))


def test_ema_generators_are_saved_and_stop_after_resumes_to_the_same_run(images, tmp_path, capsys):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main(["train", "--data", str(images), "--out", str(whole), *TINY, "--ema", "0.9"]) == 0
    assert sorted(p.name for p in (whole / "ema").iterdir()) == ["step-000000.pt", "step-000002.pt", "step-000004.pt"]
    assert main(["train", "--data", str(images), "--out", str(cut), *TINY, "--ema", "0.9", "--stop-after", "1e-9"]) == 0
    assert "trained to step 1 " in capsys.readouterr().out
    assert main(["train", "--data", str(images), "--out", str(cut), *TINY, "--ema", "0.9", "--resume"]) == 0
    for folder in ("generators", "ema"):
        a, b = (torch.load(run / folder / "step-000004.pt", weights_only=True) for run in (whole, cut))
        assert all(torch.equal(a[k], b[k]) for k in a), folder
    strip = lambda logged: [{k: v for k, v in r.items() if k != "time"} for r in logged]
    assert strip(rows(cut)) == strip(rows(whole))


@pytest.mark.skipif(not NETWORK.is_file(), reason="the offline Inception copy is not in ../shared")
def test_fid_during_training_and_of_real_images(images, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(images), "--out", str(run), *TINY[:-2], "--log-every", "2", "--steps", "6",
                 "--ema", "0.9", "--fid-reference", str(images), "--fid-n", "6", "--fid-every", "4",
                 "--inception", str(NETWORK)]) == 0
    scored = [r for r in rows(run) if "fid" in r]
    assert [(r["step"], r["ema"]) for r in scored] == [(4, False), (4, True), (6, False), (6, True)]  # and the last
    assert all(r["n"] == 6 and r["fid"] > 0 and "test, 6 of 12 images, seed 0" in r["reference"] for r in scored)
    logged = {r["step"]: r["time"] for r in rows(run) if "fid" not in r}
    assert all(r["time"] == logged[r["step"]] for r in scored)  # training time at that step
    assert main(["fid", "--run", str(run), "--reference", str(images), "--split", "train", "--n", "6", "--ema",
                 "--inception", str(NETWORK), "--checkpoint", str(run / "ema" / "step-000002.pt")]) == 0
    assert rows(run)[-1]["ema"] is True
    capsys.readouterr()
    assert main(["fid", "--real", str(images), "--reference", str(images), "--n", "6", "--inception", str(NETWORK)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("FID ") and "6 of 12 images" in out
