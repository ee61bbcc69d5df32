"""Chapter 6's experiment runner: validation, the quality measures on known generators, determinism
across processes, and the test that proves the trainer works."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from wgan_teach import experiments, toy
from wgan_teach.experiments import (METHODS, ToyRun, evaluate, lr_sweep, penalty_variants, recipe_search,
                                    results_from_record, results_record, run_many, run_toy)


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
    with pytest.raises(ValueError, match="critic_width must be a positive integer"):
        ToyRun(critic_width=0)
    with pytest.raises(ValueError, match="init must be one of"):
        ToyRun(init="xavier")
    with pytest.raises(ValueError, match="snapshot_every must be a positive integer"):
        ToyRun(snapshot_every=0)
    with pytest.raises(TypeError, match="runs must be ToyRun objects"):
        run_many([{"dataset": "8gaussians"}])
    assert ToyRun(method="wgan-clip").recipe().optimizer == "rmsprop"
    assert ToyRun(lr=1e-3).recipe().lr == 1e-3 and ToyRun().recipe().lr == METHODS["wgan-gp"].lr


def test_the_chapters_wgan_gp_is_algorithm_1():
    recipe = METHODS["wgan-gp"]
    assert (recipe.loss, recipe.lam, recipe.one_sided, recipe.critic_steps) == ("wgan-gp", 10.0, False, 5)
    assert (recipe.optimizer, recipe.betas) == ("adam", (0.0, 0.9))


def test_stacks_hold_runs_that_differ_only_in_data_set_and_seed():
    a = ToyRun("8gaussians", "wgan-gp", seed=0, snapshot_every=5)
    assert a.stack_key() == ToyRun("swissroll", "wgan-gp", seed=3).stack_key()
    assert a.stack_key() != ToyRun("8gaussians", "wgan-gp", seed=0, lr=1e-3).stack_key()
    assert a.stack_key() != ToyRun("8gaussians", "gan", seed=0).stack_key()


def test_parallel_stacks_equal_the_same_stacks_in_process():
    runs = [ToyRun(name, m, seed=s, steps=20) for m in ("gan", "wgan-clip") for name, s in (("8gaussians", 1), ("swissroll", 2))]
    parallel = run_many(runs, workers=2, progress=False)
    in_process = run_many(runs, workers=1, progress=False)
    for run, result, alone in zip(runs, parallel, in_process):
        assert result.run == run and result.stacked == 2
        assert np.array_equal(result.samples, alone.samples)
        assert result.quality == alone.quality


def test_a_stack_trained_live_and_measured_by_a_worker_equals_one_done_in_process(monkeypatch):
    monkeypatch.setattr(experiments, "_live_frame", lambda run, snapshot, critic: None)
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: None)
    runs = [ToyRun("8gaussians", "gan", seed=0, steps=20, snapshot_every=10), ToyRun("swissroll", "gan", seed=1, steps=20),
            ToyRun("25gaussians", "wgan-clip", seed=2, steps=20)]
    live = run_many(runs, workers=1, progress=False, live=runs[0])  # the gan stack here, measured by the worker
    in_process = run_many(runs, workers=1, progress=False)  # every stack trained and measured here
    for result, alone in zip(live, in_process):
        assert np.array_equal(result.samples, alone.samples)
        assert result.quality == alone.quality and result.quality


def test_results_are_stored_and_read_back_exactly():
    result = run_toy(ToyRun("8gaussians", "wgan-gp", seed=0, steps=5))
    (back,) = results_from_record(json.loads(json.dumps(results_record([result]))))
    assert back.run == result.run and back.quality == result.quality and back.seconds == result.seconds
    assert back.samples.dtype == np.float32 and np.array_equal(back.samples, result.samples)
    assert back.history == {"step": result.history["step"], "grad_norm_mean": result.history["grad_norm_mean"]}


def test_the_stored_variant_runs_are_chapter_6s_and_measure_what_they_store():
    results, provenance = penalty_variants()
    assert provenance["command"] == "python benchmarks/toy_penalty_variants.py"
    assert [r.run for r in results] == [ToyRun(name, method, seed) for method in ("wgan-gp-one-sided", "wgan-gp-lam0.1")
                                        for name in ("25gaussians", "swissroll") for seed in range(3)]
    for result in results:
        assert result.samples.shape == (experiments.EVAL_SIZE, 2) and np.isfinite(result.samples).all()
        assert result.history["step"] == list(range(1, 1501)) and len(result.history["grad_norm_mean"]) == 1500
        assert result.stacked == 6 and result.seconds > 0
    for result in (results[0], results[3]):  # the stored quality is what the stored samples measure
        assert experiments._measure(result.samples, result.run.dataset) == result.quality


def test_snapshots_record_the_run():
    result = run_toy(ToyRun("swissroll", "wgan-gp", seed=0, steps=40, snapshot_every=20))
    assert [s.step for s in result.snapshots] == [0, 20, 40]
    assert [s.seconds for s in result.snapshots] == sorted(s.seconds for s in result.snapshots)
    assert np.isnan(result.snapshots[0].w1_estimate)
    assert result.snapshots[1].w1_estimate == pytest.approx(np.mean(result.history["w1_estimate"][:20]))
    last = result.critic_at(2)
    _, critic = result.run.networks()
    assert not torch.equal(last[0].weight, critic[0].weight)  # trained weights, not the initial ones


@pytest.mark.parametrize("dataset, keys", [("8gaussians", {"w1", "modes_covered", "high_quality"}), ("swissroll", {"w1"})])
def test_a_generator_that_outputs_nan_scores_nan_with_the_data_sets_keys(dataset, keys):
    quality = evaluate(lambda z: torch.full_like(z, float("nan")), dataset)
    assert set(quality) == keys and np.isnan(quality["w1"])


def test_the_methods_learning_rates_are_the_stored_sweeps_best():
    sweep = lr_sweep()
    for method, best in sweep["best"].items():
        scores = {float(lr): score for lr, score in sweep["scores"][method].items()}
        assert best == min(scores, key=scores.get) == METHODS[method].lr
    assert METHODS["wgan-gp-one-sided"].lr == METHODS["wgan-gp-lam0.1"].lr == METHODS["wgan-gp"].lr
    recipe = {k: v for k, v in vars(ToyRun()).items() if k not in ("dataset", "method", "seed", "lr")}
    assert recipe.pop("lr_decay")  # the sweep predates this field; it decayed the rate, as the default does
    assert sweep["recipe"] == recipe


def test_the_stored_recipe_search_is_whole_and_uses_other_seeds():
    search = recipe_search()
    assert not set(search["seeds"]) & set(range(5))  # the chapter reports seeds 0-4
    assert search["provenance"]["command"] == "python benchmarks/toy_recipe_search.py"
    for stage in search["stages"].values():
        for i, config in enumerate(stage["configs"]):
            run = ToyRun(**config)  # every stored configuration is a valid run of the chapter's kind
            assert run.method.startswith("wgan-gp") and METHODS[run.method].lam == 10.0
            rows = [r for r in stage["runs"] if r["config"] == i]
            assert sorted(r["seed"] for r in rows) == search["seeds"]
            assert all(r["seconds"] > 0 and r["w1"] > 0 for r in rows)
            assert all(0 <= r["modes_covered"] <= {"8gaussians": 8, "25gaussians": 25}[config["dataset"]]
                       for r in rows if config["dataset"] != "swissroll")


def test_live_redraws_the_chosen_run_only(monkeypatch):
    drawn = []
    monkeypatch.setattr(experiments, "_live_frame", lambda run, snapshot, critic: drawn.append((run, snapshot.step)))
    handle = type("Handle", (), {"update": lambda self, frame: None})()
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: handle)
    runs = [ToyRun("8gaussians", "gan", seed=seed, steps=10, snapshot_every=5) for seed in (0, 1)]
    results = run_many(runs, progress=False, live=runs[1])
    assert drawn == [(runs[1], 0), (runs[1], 5), (runs[1], 10)]
    assert [len(r.snapshots) for r in results] == [3, 3]
    drawn.clear()
    run_many(runs, progress=False, live=True)  # True: the first run that asks for snapshots
    assert [run for run, _ in drawn] == [runs[0]] * 3
    with pytest.raises(ValueError, match="live"):
        run_many(runs, progress=False, live=ToyRun("swissroll", "gan", seed=0, steps=10, snapshot_every=5))
    with pytest.raises(TypeError, match="live"):
        run_many(runs, progress=False, live="yes")


def test_a_stack_stopped_by_the_clock_keeps_its_schedule_and_final_weights():
    runs = [ToyRun(name, "wgan-gp", seed=s, steps=400, lr_decay=False, critic_width=8, generator_width=8)
            for name, s in (("8gaussians", 0), ("swissroll", 1))]
    results = run_many(runs, workers=1, progress=False, stop_after=1e-9)
    for result in results:
        assert result.history["step"] == [1]  # the first step after the time ran out
        assert result.history["lr"] == [result.run.recipe().lr]  # constant: lr_decay=False
        generator, critic = result.run.networks()
        generator.load_state_dict(result.generator)
        critic.load_state_dict(result.critic)
        assert np.array_equal(experiments._samples(generator, len(result.samples)).numpy(), result.samples)
    full = run_toy(replace(runs[0], steps=3))
    assert full.history["lr"] == [runs[0].recipe().lr] * 3
    with pytest.raises(ValueError, match="stop_after"):
        run_many(runs, stop_after=0)
    with pytest.raises(ValueError, match="device"):
        run_many(runs, device="tpu")
    with pytest.raises(TypeError, match="lr_decay"):
        ToyRun(lr_decay=1)


def test_the_gpu_command_trains_the_papers_2d_runs(tmp_path, monkeypatch):
    """tools/gpu_toy.py: the paper's sizes and the two penalties, and a tiny run of the command on a CPU."""
    import importlib.util
    import sys
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("gpu_toy", Path(__file__).parents[1] / "tools" / "gpu_toy.py")
    gpu_toy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_toy)
    runs = gpu_toy.paper_runs(100_000, [0], 10_000)
    assert len(runs) == 6 and {r.dataset for r in runs} == set(toy.DATASETS)
    for run in runs:
        recipe = run.recipe()
        assert (run.critic_width, run.generator_width, run.depth, run.batch_size) == (512, 512, 3, 256)
        assert (recipe.lr, recipe.lr_decay, recipe.critic_steps, recipe.betas, recipe.one_sided) == (1e-4, False, 5, (0.0, 0.9), False)
    assert sorted(r.recipe().lam for r in runs) == [0.1] * 3 + [10.0] * 3
    monkeypatch.setenv("OUT", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["gpu_toy.py", "0.0001", "--steps", "50", "--snapshot-every", "25", "--device", "cpu",
                                      "--width", "8", "--batch-size", "16"])
    gpu_toy.main()
    record = json.loads((tmp_path / "toy-paper-size.json").read_text())
    assert len(record["runs"]) == 6 and all(1 <= row["steps_done"] <= 50 for row in record["runs"])
    assert all(row["run"]["batch_size"] == 16 and "w1" in row["quality"] for row in record["runs"])
    saved = torch.load(tmp_path / "toy-paper-size.pt", weights_only=True)
    assert len(saved) == 6 and saved[0]["samples"].shape == (2000, 2) and saved[0]["critic"]["0.weight"].dtype == torch.float16
