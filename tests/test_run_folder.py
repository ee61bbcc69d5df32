"""A run folder's lock and its saved generators: one writer at a time, a damaged generator named.
Tiny networks (tiny_runs.py), the real command line."""

import os

import pytest

from tiny_runs import finished, images, linked_copy, one_line, tiny, train  # noqa: F401
from wgan_teach.__main__ import main
from wgan_teach.files import write_atomically
from wgan_teach.run_fid import fid_run
from wgan_teach.run_folder import RunFolderBusy, locked, sample_grid

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
