"""Training into a run folder under faults: a kill, a damaged checkpoint, a read-only folder, a full disk,
two runs at once; FID by the clock. Tiny networks (tiny_runs.py), the real command line."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tiny_runs import finished, images, linked_copy, one_line, tiny, tiny_networks, train, whole_files  # noqa: F401
from wgan_teach import recipes, run_training
from wgan_teach.__main__ import main
from wgan_teach.run_training import train_run

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.usefixtures("tiny")


@pytest.mark.parametrize("kwargs, message", [
    (dict(log_every=0), "log_every must be a positive integer"),  # once wrote config.json and metrics.jsonl first
    (dict(checkpoint_every=0), "checkpoint_every must be a positive integer"),  # once ZeroDivisionError
    (dict(device="banana"), "device must be a device such as 'cpu' or 'cuda'"),
    (dict(ema_decay=1.0), r"ema_decay must be in \(0, 1\)"),
    (dict(batch_size=True), "batch_size must be a positive integer"),
    (dict(seed=2**70), r"seed must be an integer from 0 to 2\*\*64 - 1"),  # once "Overflow when unpacking long long"
    (dict(seed=-1), r"seed must be an integer from 0 to 2\*\*64 - 1"),  # torch would take it as 2**64 - 1
])
def test_arguments_are_checked_before_anything_is_written(images, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        train_run("cnn32-wgangp", images, tmp_path / "run", steps=2, **kwargs)
    assert not (tmp_path / "run").exists()
    with pytest.raises(FileNotFoundError):  # refused later (no such data): the folder it made is removed again
        train_run("cnn32-wgangp", tmp_path / "no-data", tmp_path / "run", steps=2)
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


def test_a_killed_run_resumes_and_a_second_run_meanwhile_is_refused(images, tmp_path, capsys):
    """A real SIGKILL of a training process that writes constantly (a checkpoint every 2 steps, metrics every
    step), after it has written a few checkpoints; meanwhile a second run into its folder is refused."""
    run, log = tmp_path / "run", tmp_path / "stderr.txt"
    command = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(HERE)!r}); import tiny_runs; "
               "sys.exit(tiny_runs.main_with_tiny_networks(sys.argv[1:]))", *train(images, run, steps=100_000)]
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


def test_fid_by_the_clock_scores_once_per_mark_and_not_again_after_a_resume(images, tmp_path, monkeypatch):
    class Scorer:  # FID without the Inception network: a row with a made-up value
        def __init__(self, *args, **kwargs):
            pass

        def __call__(self, generator, latent_dim):
            return {"fid": 1.0, "n": 2, "reference": "stand-in", "protocol": "stand-in"}

    monkeypatch.setattr(run_training, "FidScorer", Scorer)
    monkeypatch.setitem(recipes.NETWORKS, "cnn32", tiny_networks)
    run, never = tmp_path / "run", 1e9
    # the first mark passes at the first logged step, the second never; stop after that step, then resume
    common = dict(steps=6, batch_size=4, checkpoint_every=4, log_every=1, ema_decay=0.9, fid_reference="unused",
                  fid_at=[never, 1e-9], progress=False)
    train_run("cnn32-wgangp", images, run, stop_after=1e-9, **common)
    train_run("cnn32-wgangp", images, run, resume=True, **common)
    scored = [row for row in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "fid" in row]
    assert [(row["step"], row["ema"]) for row in scored] == [(1, False), (1, True), (4, False), (4, True),
                                                               (6, False), (6, True)]
    logged = {row["step"]: row["time"] for row in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
              if "fid" not in row}
    assert all(row["time"] == logged[row["step"]] for row in scored)
    assert sorted(p.name for p in (run / "ema").iterdir()) == [f"step-00000{s}.pt" for s in (0, 1, 4, 6)]
    assert (run / "samples" / "step-000001.png").is_file()


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(out=""), ValueError, "out must be a run folder, got an empty string"),  # once a run in the current folder
    (dict(data=5), TypeError, "data must be a path to images"),
    (dict(fid_reference=""), ValueError, "fid_reference must be a path to images"),
    (dict(resume="yes"), TypeError, "resume must be True or False"),
    (dict(progress=2), TypeError, "progress must be True or False"),
])
def test_bad_paths_and_flags_are_named_before_anything_is_read(images, tmp_path, monkeypatch, kwargs, error, message):
    monkeypatch.chdir(tmp_path)
    arguments = dict(recipe="cnn32-wgangp", data=images, out=tmp_path / "run", steps=2) | kwargs
    with pytest.raises(error, match=message):
        train_run(**arguments)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("fid_at, error", [("120", TypeError), ([120, -1], ValueError), ([float("nan")], ValueError)])
def test_fid_by_the_clock_refuses_bad_marks(images, tmp_path, fid_at, error):
    with pytest.raises(error, match="fid_at"):
        train_run("cnn32-wgangp", images, tmp_path / "run", fid_at=fid_at)
    assert not (tmp_path / "run").exists()
