"""FID of a run folder's generators: each score kept as soon as it is computed. Tiny networks
(tiny_runs.py); the scorer stands in for the Inception network (tests/test_cli.py runs the real one)."""

import json

import pytest

from tiny_runs import finished, images, linked_copy, tiny  # noqa: F401
from wgan_teach import run_fid

pytestmark = pytest.mark.usefixtures("tiny")


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

    monkeypatch.setattr(run_fid, "FidScorer", Scorer)
    with pytest.raises(ValueError, match=f"{damaged} is damaged or not this run's generator"):
        run_fid.fid_run(run, "unused")
    scored = [row for row in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "fid" in row]
    assert [row["step"] for row in scored] == [0, 2]  # once nothing: rows were appended only at the end
