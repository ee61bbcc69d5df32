"""Chapter 6's experiment runner: validation, the quality measures on known generators, determinism
across processes, and the test that proves the trainer works."""

import numpy as np
import pytest
import torch

from wgan_teach import toy
from wgan_teach.experiments import METHODS, ToyRun, evaluate, run_many, run_toy


class FromData(torch.nn.Module):
    """A 'generator' that ignores z and returns fresh real samples: the best a generator can do."""

    def __init__(self, name):
        super().__init__()
        self.name = name

    def forward(self, z):
        return toy.sample(self.name, len(z), torch.Generator().manual_seed(99))


@pytest.mark.parametrize("name, modes", [("8gaussians", 8), ("25gaussians", 25)])
def test_evaluate_a_perfect_generator(name, modes):
    quality = evaluate(FromData(name), name)
    assert quality["modes_covered"] == modes
    assert abs(quality["high_quality"] - (1 - np.exp(-4.5))) < 0.01
    # Two samples of one distribution differ only by noise, mostly in how many samples each mode holds.
    assert quality["w1"] < 0.15


def test_evaluate_a_shifted_generator_and_the_swissroll():
    shift = torch.tensor([0.3, 0.0])
    # seed=99: the real samples are the very ones FromData returns, so the fake set is their translate
    shifted = evaluate(lambda z: FromData("8gaussians")(z) + shift, "8gaussians", seed=99)
    assert shifted["modes_covered"] == 0 and shifted["high_quality"] == 0.0
    assert shifted["w1"] == pytest.approx(0.3, abs=1e-6)  # W1 of a translation is its length
    assert set(evaluate(FromData("swissroll"), "swissroll")) == {"w1"}


def test_toy_run_validation():
    with pytest.raises(ValueError, match="unknown data set 'moons'; valid names: 8gaussians"):
        ToyRun(dataset="moons")
    with pytest.raises(ValueError, match="unknown method 'lsgan'; valid names: gan"):
        ToyRun(method="lsgan")
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        ToyRun(steps=0)
    with pytest.raises(TypeError, match="runs must be ToyRun objects"):
        run_many([{"dataset": "8gaussians"}])
    assert ToyRun(method="wgan-clip").recipe().optimizer == "rmsprop"
    assert ToyRun(lr=1e-3).recipe().lr == 1e-3 and ToyRun().recipe().lr == METHODS["wgan-gp"].lr


def test_parallel_runs_equal_sequential_ones():
    runs = [ToyRun("8gaussians", m, seed=1, steps=20) for m in ("gan", "wgan-clip")]
    parallel = run_many(runs, workers=2, progress=False)
    for run, result in zip(runs, parallel):
        alone = run_toy(run)
        assert result.run == run
        assert np.array_equal(result.samples, alone.samples)
        assert result.quality == alone.quality


def test_snapshots_record_the_run():
    result = run_toy(ToyRun("swissroll", "wgan-gp", seed=0, steps=40), snapshot_every=20, snapshot_size=200)
    assert [s.step for s in result.snapshots] == [0, 20, 40]
    assert [s.seconds for s in result.snapshots] == sorted(s.seconds for s in result.snapshots)
    assert np.isnan(result.snapshots[0].w1_estimate)
    assert result.snapshots[1].w1_estimate == pytest.approx(np.mean(result.history["w1_estimate"][:20]))
    last = result.critic_at(2)
    _, critic = result.run.networks()
    assert not torch.equal(last[0].weight, critic[0].weight)  # trained weights, not the initial ones


def test_wgan_gp_with_the_chapter_cpu_recipe_finds_all_eight_modes():
    """The test that proves the trainer works; the benchmark reports the real figures."""
    result = run_toy(ToyRun("8gaussians", "wgan-gp", seed=0))
    assert result.quality["modes_covered"] == 8
    assert result.quality["high_quality"] >= 0.5


@pytest.mark.parametrize("dataset, keys", [("8gaussians", {"w1", "modes_covered", "high_quality"}), ("swissroll", {"w1"})])
def test_a_generator_that_outputs_nan_scores_nan_with_the_data_sets_keys(dataset, keys):
    quality = evaluate(lambda z: torch.full_like(z, float("nan")), dataset)
    assert set(quality) == keys and np.isnan(quality["w1"])
