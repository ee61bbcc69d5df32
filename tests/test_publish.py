"""Published runs: exported small (float16 generators, metrics averaged over windows) and read back."""

import json

import pytest
import torch

from wgan_teach import publish
from wgan_teach.__main__ import main
from wgan_teach.nets import cnn32
from wgan_teach.publish import export_run, published_runs, windowed
from wgan_teach.run_folder import load_generator

TINY = ["--recipe", "cnn32-wgangp", "--steps", "4", "--batch-size", "4", "--checkpoint-every", "2", "--log-every", "1"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def images(image_folder):
    """A folder of two classes of six random 32 x 32 PNG images."""
    return image_folder(6)


def rows(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_windowed_metrics_average_each_window_and_keep_the_fid_rows():
    rows = [{"step": s, "lr": 1 / s, "time": 0.5 * s, "w1_estimate": float(s)} for s in range(1, 251)]
    rows.insert(200, {"step": 200, "fid": 30.0, "ema": False, "time": 100.0})
    thinned = windowed(rows, 100)
    assert [(r["step"], r.get("fid")) for r in thinned] == [(100, None), (200, None), (200, 30.0), (250, None)]
    assert [r["w1_estimate"] for r in thinned if "fid" not in r] == [50.5, 150.5, 225.5]
    assert [(r["lr"], r["time"], r["steps_averaged"]) for r in thinned if "fid" not in r][-1] == (1 / 250, 125.0, 50)
    assert windowed(thinned, 100) == thinned  # averaging again over the same windows changes nothing
    (coarse,) = [row for row in windowed(thinned, 250) if "fid" not in row]
    assert coarse["w1_estimate"] == pytest.approx(125.5) and coarse["steps_averaged"] == 250
    with pytest.raises(ValueError, match="every"):
        windowed(rows, 0)


def test_export_keeps_what_a_reader_needs_in_float16(images, tmp_path):
    run, published = tmp_path / "run", tmp_path / "published"
    assert main(["train", "--data", str(images), "--out", str(run), *TINY, "--ema", "0.9"]) == 0
    export_run(run, published, provenance={"commands": ["python -m wgan_teach train ..."]})
    assert sorted(p.name for p in published.iterdir()) == [
        "config.json", "generator-ema.pt", "generator.pt", "metrics.jsonl", "provenance.json", "samples"]
    provenance = json.loads((published / "provenance.json").read_text())
    assert provenance["final_step"] == 4 and provenance["torch"] == torch.__version__ and provenance["commands"]
    half = torch.load(published / "generator.pt", weights_only=True)
    full = torch.load(run / "generators" / "step-000004.pt", weights_only=True)
    assert half["0.weight"].dtype == torch.float16
    torch.testing.assert_close(half["0.weight"].float(), full["0.weight"], rtol=1e-3, atol=1e-4)
    generator = load_generator(published, published / "generator.pt")
    assert generator(torch.randn(2, 128)).shape == (2, 3, 32, 32)
    windowed = tmp_path / "windowed"
    export_run(run, windowed, every=2)  # the step rows of steps 1-2 and 3-4, each the mean of its window
    logged, averaged = rows(run), rows(windowed)
    assert [(r["step"], r["steps_averaged"]) for r in averaged] == [(2, 2), (4, 2)]
    assert averaged[1]["w1_estimate"] == pytest.approx((logged[2]["w1_estimate"] + logged[3]["w1_estimate"]) / 2)


def test_a_published_narrow_run_reads_back_with_its_width(images, tmp_path):
    run, published = tmp_path / "run", tmp_path / "published" / "narrow"
    tiny = [*TINY[2:], "--recipe", "cnn32-w16-wgangp", "--lr", "1e-3"]
    assert main(["train", "--data", str(images), "--out", str(run), *tiny]) == 0
    export_run(run, published, provenance={"commands": ["python -m wgan_teach train ..."]})
    (read,) = published_runs(published.parent)
    assert read.name == "narrow" and read.config["width"] == 16 and read.config["training"]["lr"] == 1e-3
    steps, estimates = read.logged("w1_estimate")
    assert steps == [1, 2, 3, 4] and len(estimates) == 4 and read.fids() == []
    assert [p.name for p in read.samples()] == ["step-000000.png", "step-000002.png", "step-000004.png"]
    generator = read.generator()
    assert sum(p.numel() for p in generator.parameters()) == sum(p.numel() for p in cnn32(width=16)[0].parameters())
    assert generator(torch.randn(2, 128)).shape == (2, 3, 32, 32)


def test_published_runs_reads_the_packages_folder_by_default(images, tmp_path, monkeypatch):
    assert publish.PUBLISHED == publish.Path(publish.__file__).resolve().parent / "published"
    run, shelf = tmp_path / "run", tmp_path / "shelf"
    assert main(["train", "--data", str(images), "--out", str(run), *TINY]) == 0
    export_run(run, shelf / "tiny", provenance={"commands": []})
    (shelf / "not-a-run").mkdir()  # no provenance.json: skipped
    monkeypatch.setattr(publish, "PUBLISHED", shelf)
    assert [r.name for r in published_runs()] == ["tiny"] == [r.name for r in published_runs(shelf)]


@pytest.mark.parametrize("call, error, message", [
    (lambda tmp: published_runs(""), ValueError, "root must be a folder of published runs, got an empty string"),
    (lambda tmp: published_runs(5), TypeError, "root must be a folder of published runs"),
    (lambda tmp: published_runs(tmp / "nowhere"), FileNotFoundError, "no folder of published runs at"),
    (lambda tmp: windowed(None, 10), TypeError, "rows must be a list of metrics rows"),  # once "not iterable"
    (lambda tmp: windowed([{"fid": 1.0}], 10), TypeError, "rows must be metrics rows: dicts with a 'step'"),
    (lambda tmp: export_run(tmp, ""), ValueError, "dest must be a folder, got an empty string"),
])
def test_bad_publishing_arguments_are_named(tmp_path, call, error, message):
    (tmp_path / "config.json").write_text('{"net": "cnn32", "latent_dim": 128, "device": "cpu"}')
    with pytest.raises(error, match=message):
        call(tmp_path)
