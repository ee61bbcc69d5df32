"""Run folders under faults: a kill, a damaged checkpoint, a read-only folder, a full disk, two runs at once.

The fault handling does not depend on the networks' size, so these runs swap the recipe's networks for
tiny ones (a few MB of checkpoint, milliseconds per step); the command line is the real one."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from wgan_teach import runs
from wgan_teach.__main__ import main
from wgan_teach.files import write_atomically

HERE = Path(__file__).resolve().parent
ARGS = ["--recipe", "cnn32-wgangp", "--batch-size", "4", "--checkpoint-every", "2", "--log-every", "1", "--ema", "0.9"]


def tiny_networks(latent_dim: int = 128):
    """A generator and a critic for 32 x 32 images, small enough that a step takes milliseconds."""
    generator = nn.Sequential(nn.Linear(latent_dim, 3 * 32 * 32), nn.Tanh(), nn.Unflatten(1, (3, 32, 32)))
    critic = nn.Sequential(nn.Conv2d(3, 4, 4, 4), nn.Flatten(), nn.Linear(4 * 8 * 8, 1))
    return generator, critic


def main_with_tiny_networks(argv):
    """``python -m wgan_teach`` with tiny networks, for a subprocess: the exit code of main."""
    torch.set_num_threads(1)
    runs.NETWORKS["cnn32"] = tiny_networks
    return main(argv)


@pytest.fixture(autouse=True)
def tiny(monkeypatch, one_torch_thread):
    monkeypatch.setitem(runs.NETWORKS, "cnn32", tiny_networks)


@pytest.fixture(scope="module")
def images(image_folder):
    """A folder of two classes of four random 32 x 32 PNG images."""
    return image_folder(4)


@pytest.fixture(scope="module")
def finished(images, tmp_path_factory):
    """A finished 4-step run (checkpoints at 0, 2, 4, with a moving average); copy it with `linked_copy`."""
    run = tmp_path_factory.mktemp("finished") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(runs.NETWORKS, "cnn32", tiny_networks)
        assert main(train(images, run)) == 0
    return run


def linked_copy(run: Path, to: Path) -> Path:
    """A copy of a run folder made of hard links: cheap, and safe since every write replaces a file."""
    shutil.copytree(run, to, copy_function=os.link)
    return to


def train(images, out, *extra, steps=4):
    """The arguments of a training command: 4 steps by default, checkpoints at every second."""
    return ["train", "--data", str(images), "--out", str(out), *ARGS, "--steps", str(steps), *extra]


def whole_files(run: Path) -> dict[str, bytes]:
    """Every file of a run folder but its lock, by relative path; fails on a temporary file or a part-written one."""
    files = {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file() and p.name != ".lock"}
    assert not [name for name in files if name.endswith((".tmp", ".partial"))], files.keys()
    json.loads(files.get("config.json", b"{}"))
    for line in files.get("metrics.jsonl", b"").decode().splitlines():
        json.loads(line)
    for name in files:
        if name.endswith(".pt"):
            torch.load(run / name, map_location="cpu", weights_only=name != "checkpoint.pt")
        elif name.endswith(".png"):
            with Image.open(run / name) as image:
                image.verify()
    return files


def one_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert "Traceback" not in err and lines[-1].startswith("error: "), err
    return lines[-1]


@pytest.mark.parametrize("kwargs, message", [
    (dict(log_every=0), "log_every must be a positive integer"),  # once wrote config.json and metrics.jsonl first
    (dict(checkpoint_every=0), "checkpoint_every must be a positive integer"),  # once ZeroDivisionError
    (dict(device="banana"), "device must be a device such as 'cpu' or 'cuda'"),
    (dict(ema_decay=1.0), r"ema_decay must be in \(0, 1\)"),
    (dict(batch_size=True), "batch_size must be a positive integer"),
])
def test_arguments_are_checked_before_anything_is_written(images, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        runs.train_run("cnn32-wgangp", images, tmp_path / "run", steps=2, **kwargs)
    assert not (tmp_path / "run").exists()
    with pytest.raises(FileNotFoundError):  # refused later (no such data): the folder it made is removed again
        runs.train_run("cnn32-wgangp", tmp_path / "no-data", tmp_path / "run", steps=2)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("damage", ["empty", "garbage", "truncated"])
def test_resume_from_a_damaged_checkpoint_names_it_and_says_what_to_do(finished, images, tmp_path, capsys, damage):
    run = linked_copy(finished, tmp_path / "run")
    checkpoint = run / "checkpoint.pt"
    good = checkpoint.read_bytes()
    checkpoint.unlink()  # a new file: the hard-linked original stays intact
    checkpoint.write_bytes({"empty": b"", "garbage": b"not a checkpoint\n" * 10, "truncated": good[: len(good) // 2]}[damage])
    with pytest.raises(SystemExit) as exit_:
        main(train(images, run, "--resume"))
    assert exit_.value.code == 2
    line = one_line(capsys.readouterr().err)
    assert f"{checkpoint} is damaged and cannot be read" in line and "restore it from a copy" in line
    for name in ("config.json", "metrics.jsonl"):  # nothing written
        assert (run / name).read_bytes() == (finished / name).read_bytes()


def test_resume_re_creates_what_a_kill_after_the_checkpoint_lost(finished, images, tmp_path):
    """Killed after checkpoint.pt at step 4 was written but before its generator, moving average, grid
    and metrics rows: resuming writes them, equal to what the uninterrupted run wrote."""
    run = linked_copy(finished, tmp_path / "run")
    for lost in ("generators/step-000004.pt", "ema/step-000004.pt", "samples/step-000004.png"):
        (run / lost).unlink()
    lines = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:40])  # a torn line, as appends left them
    (run / "generators" / ".step-000004.pt.123-abcd.tmp").write_bytes(b"half a generator")
    (run / "checkpoint.pt.partial").write_bytes(b"half a checkpoint")
    assert main(train(images, run, "--resume")) == 0
    assert whole_files(run) == whole_files(finished)


def test_a_second_run_into_a_folder_in_use_is_refused(finished, images, tmp_path, capsys):
    run = linked_copy(finished, tmp_path / "run")
    with runs.locked(run):
        with pytest.raises(SystemExit) as exit_:
            main(train(images, run, "--resume"))
        assert exit_.value.code == 2
        assert f"{run} is in use by another run (process {os.getpid()})" in one_line(capsys.readouterr().err)
        with pytest.raises(runs.RunFolderBusy):
            runs.fid_run(run, images)
    assert main(train(images, run, "--resume")) == 0  # released with the block


def test_a_killed_run_resumes_and_a_second_run_meanwhile_is_refused(images, tmp_path, capsys):
    """A real SIGKILL of a training process that writes constantly (a checkpoint every 2 steps, metrics every
    step), after it has written a few checkpoints; meanwhile a second run into its folder is refused."""
    run, log = tmp_path / "run", tmp_path / "stderr.txt"
    command = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(HERE)!r}); import test_runs; "
               "sys.exit(test_runs.main_with_tiny_networks(sys.argv[1:]))", *train(images, run, steps=100_000)]
    with open(log, "wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env={**os.environ, "OMP_NUM_THREADS": "1"})
    resume = train(images, run, "--resume", steps=100_000)
    try:
        deadline = time.monotonic() + 120
        while len(list((run / "generators").glob("step-*.pt"))) < 4:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.05)
        with pytest.raises(SystemExit) as exit_:
            main(resume)
        assert exit_.value.code == 2 and f"in use by another run (process {process.pid})" in capsys.readouterr().err
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert main([*resume, "--stop-after", "1e-9"]) == 0
    files = whole_files(run)
    steps = [row["step"] for row in map(json.loads, files["metrics.jsonl"].decode().splitlines())]
    assert steps == list(range(1, steps[-1] + 1))
    last_checkpoint = max(s for s in steps if s % 2 == 0)
    for step in range(0, last_checkpoint + 1, 2):
        for name in (f"generators/step-{step:06d}.pt", f"ema/step-{step:06d}.pt", f"samples/step-{step:06d}.png"):
            assert name in files


def test_a_read_only_folder_is_one_line_and_exit_code_4(images, tmp_path, capsys):
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() == 0:  # root writes through chmod: mount a read-only file system instead
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(folder)], capture_output=True).returncode:
            pytest.skip("running as root, and mount is not permitted here: no way to make a folder read-only")
    else:
        folder.chmod(0o555)
    try:
        assert main(train(images, folder / "run")) == 4
        line = one_line(capsys.readouterr().err)
        assert str(folder / "run") in line and ("read-only" in line or "permission denied" in line)
        assert not (folder / "run").exists()
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(folder)], check=True)
        else:
            folder.chmod(0o755)


@pytest.mark.parametrize("size, fails_at", [("1m", "generators/step-000000.pt"), ("5m", "checkpoint.pt")])
def test_a_full_disk_is_one_line_exit_code_4_and_no_part_written_file(images, tmp_path, capsys, size, fails_at):
    """1 MB holds config and metrics but not the first generator; 5 MB holds the first generator (and
    average) but not the first checkpoint (torch.save straight to a path, which fails with a RuntimeError)."""
    if os.geteuid() != 0:
        pytest.skip("a small tmpfs needs root to mount")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("mount is not permitted here")
    try:
        assert main(train(images, disk / "run")) == 4
        line = one_line(capsys.readouterr().err)
        assert f"{disk / 'run' / fails_at}: the disk is full" in line
        files = whole_files(disk / "run")
        assert "config.json" in files and fails_at not in files
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_fid_keeps_the_scores_it_computed_before_a_damaged_generator(finished, tmp_path, monkeypatch):
    run = linked_copy(finished, tmp_path / "run")
    damaged = run / "generators" / "step-000004.pt"
    damaged.unlink()
    damaged.write_bytes(b"half a generator")

    class Scorer:  # FID without the Inception network: the row fid_run would write, with a made-up value
        def __init__(self, *args, **kwargs):
            pass

        def __call__(self, generator, latent_dim):
            return {"fid": 1.0, "n": 2, "reference": "stand-in", "protocol": "stand-in"}

    monkeypatch.setattr(runs, "FidScorer", Scorer)
    with pytest.raises(ValueError, match=f"{damaged} is damaged or not this run's generator"):
        runs.fid_run(run, "unused")
    scored = [row for row in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "fid" in row]
    assert [row["step"] for row in scored] == [0, 2]  # once nothing: rows were appended only at the end
    with pytest.raises(ValueError, match=f"{damaged} is damaged"):
        runs.sample_grid(run, tmp_path / "grid.png", checkpoint=damaged)
    write_atomically(damaged, (finished / "generators" / "step-000004.pt").read_bytes())
    assert runs.sample_grid(run, tmp_path / "grid.png").is_file()


def test_fid_by_the_clock_scores_once_per_mark_and_not_again_after_a_resume(images, tmp_path, monkeypatch):
    class Scorer:  # FID without the Inception network: a row with a made-up value
        def __init__(self, *args, **kwargs):
            pass

        def __call__(self, generator, latent_dim):
            return {"fid": 1.0, "n": 2, "reference": "stand-in", "protocol": "stand-in"}

    monkeypatch.setattr(runs, "FidScorer", Scorer)
    monkeypatch.setitem(runs.NETWORKS, "cnn32", tiny_networks)
    run, never = tmp_path / "run", 1e9
    # the first mark passes at the first logged step, the second never; stop after that step, then resume
    common = dict(steps=6, batch_size=4, checkpoint_every=4, log_every=1, ema_decay=0.9, fid_reference="unused",
                  fid_at=[never, 1e-9], progress=False)
    runs.train_run("cnn32-wgangp", images, run, stop_after=1e-9, **common)
    runs.train_run("cnn32-wgangp", images, run, resume=True, **common)
    scored = [row for row in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "fid" in row]
    assert [(row["step"], row["ema"]) for row in scored] == [(1, False), (1, True), (4, False), (4, True),
                                                               (6, False), (6, True)]
    logged = {row["step"]: row["time"] for row in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
              if "fid" not in row}
    assert all(row["time"] == logged[row["step"]] for row in scored)
    assert sorted(p.name for p in (run / "ema").iterdir()) == [f"step-00000{s}.pt" for s in (0, 1, 4, 6)]
    assert (run / "samples" / "step-000001.png").is_file()


@pytest.mark.parametrize("fid_at, error", [("120", TypeError), ([120, -1], ValueError), ([float("nan")], ValueError)])
def test_fid_by_the_clock_refuses_bad_marks(images, tmp_path, fid_at, error):
    with pytest.raises(error, match="fid_at"):
        runs.train_run("cnn32-wgangp", images, tmp_path / "run", fid_at=fid_at)
    assert not (tmp_path / "run").exists()


def test_windowed_metrics_average_each_window_and_keep_the_fid_rows():
    rows = [{"step": s, "lr": 1 / s, "time": 0.5 * s, "w1_estimate": float(s)} for s in range(1, 251)]
    rows.insert(200, {"step": 200, "fid": 30.0, "ema": False, "time": 100.0})
    thinned = runs.windowed(rows, 100)
    assert [(r["step"], r.get("fid")) for r in thinned] == [(100, None), (200, None), (200, 30.0), (250, None)]
    assert [r["w1_estimate"] for r in thinned if "fid" not in r] == [50.5, 150.5, 225.5]
    assert [(r["lr"], r["time"], r["steps_averaged"]) for r in thinned if "fid" not in r][-1] == (1 / 250, 125.0, 50)
    assert runs.windowed(thinned, 100) == thinned  # averaging again over the same windows changes nothing
    (coarse,) = [row for row in runs.windowed(thinned, 250) if "fid" not in row]
    assert coarse["w1_estimate"] == pytest.approx(125.5) and coarse["steps_averaged"] == 250
    with pytest.raises(ValueError, match="every"):
        runs.windowed(rows, 0)
