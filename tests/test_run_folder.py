"""A run folder's lock and its saved generators: one writer at a time, a damaged generator named.
Tiny networks (tiny_runs.py), the real command line."""

import os

import pytest

from tiny_runs import finished, images, linked_copy, one_line, tiny, train  # noqa: F401
from wgan_teach.__main__ import main
from wgan_teach.files import write_atomically
from wgan_teach.run_fid import fid_run
from wgan_teach.run_folder import RunFolderBusy, load_generator, locked, read_config, sample_grid

pytestmark = pytest.mark.usefixtures("tiny")


def test_a_second_run_into_a_folder_in_use_is_refused(finished, images, tmp_path, capsys):
    run = linked_copy(finished, tmp_path / "run")
    with locked(run):
        with pytest.raises(SystemExit) as exit_:
            main(train(images, run, "--resume"))
        assert exit_.value.code == 2
        assert f"{run} is in use by another run (process {os.getpid()})" in one_line(capsys.readouterr().err)
        with pytest.raises(RunFolderBusy):
            fid_run(run, images)
    assert main(train(images, run, "--resume")) == 0  # released with the block


def test_a_damaged_generator_is_named(finished, tmp_path):
    run = linked_copy(finished, tmp_path / "run")
    damaged = run / "generators" / "step-000004.pt"
    damaged.unlink()
    damaged.write_bytes(b"half a generator")
    with pytest.raises(ValueError, match=f"{damaged} is damaged"):
        sample_grid(run, tmp_path / "grid.png", checkpoint=damaged)
    write_atomically(damaged, (finished / "generators" / "step-000004.pt").read_bytes())
    assert sample_grid(run, tmp_path / "grid.png").is_file()


@pytest.mark.parametrize("call, error, message", [
    (lambda tmp: locked("").__enter__(), ValueError, "out must be a run folder, got an empty string"),
    (lambda tmp: locked(5).__enter__(), TypeError, "out must be a run folder"),
    (lambda tmp: read_config(""), ValueError, "run must be the path of a run folder, got an empty string"),
    (lambda tmp: read_config(tmp), FileNotFoundError, "no run at"),
    (lambda tmp: load_generator(None), TypeError, "run must be the path of a run folder"),
    (lambda tmp: sample_grid(tmp, ""), ValueError, "out must be the path of a PNG file, got an empty string"),
    (lambda tmp: sample_grid(tmp, tmp / "g.png", n=0), ValueError, "n must be a positive integer"),
])
def test_bad_run_folder_arguments_are_named(tmp_path, call, error, message):
    """An empty path once meant the current folder: a run, its lock or a grid written there."""
    with pytest.raises(error, match=message):
        call(tmp_path)
    assert not list(tmp_path.iterdir())
