"""The training loop: determinism, resume, the NaN guard, stacked runs, checkpoints."""

import copy
import functools
import math

import pytest
import torch

from wgan_teach import toy
from wgan_teach.nets import critic_mlp, generator_mlp
from wgan_teach.train import NonFiniteLoss, Recipe, load_checkpoint, train, train_stacked

EIGHT = functools.partial(toy.sample, "8gaussians")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"loss": "lsgan"}, "loss must be one of"),
        ({"optimizer": "sgd"}, "optimizer must be one of"),
        ({"steps": 0}, "steps must be a positive integer"),
        ({"critic_steps": 1.5}, "critic_steps must be a positive integer"),
        ({"lr": -1e-4}, "lr must be positive"),
        ({"lam": float("nan")}, "lam must be a number"),
        ({"lam": float("inf")}, "lam must be finite"),
        ({"betas": (0.5, 1.0)}, "betas must be two numbers"),
        ({"betas": (0.5,)}, "betas must be two numbers"),
        ({"generator_batch_size": True}, "generator_batch_size must be a positive integer"),
        ({"batch_size": 2.0}, "batch_size must be a positive integer"),
    ],
)
def test_recipe_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Recipe(**kwargs)


@pytest.mark.parametrize("kwargs, message", [({"lr": True}, "lr must be a number"), ({"one_sided": 1}, "one_sided must be True or False"),
                                             ({"lr_decay": "yes"}, "lr_decay must be True or False"),
                                             ({"betas": ("a", 0.9)}, "betas must be a real number")])
def test_recipe_refuses_wrong_types(kwargs, message):
    with pytest.raises(TypeError, match=message):
        Recipe(**kwargs)


def test_a_damaged_checkpoint_is_named(tmp_path):
    path = tmp_path / "run.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=f"{path} is damaged and cannot be read.*restore it"):
        load_checkpoint(path)


def small_run(recipe, seed=0, init_seed=None, **kwargs):
    torch.manual_seed(seed if init_seed is None else init_seed)
    generator, critic = generator_mlp(2, 2, width=16), critic_mlp(2, width=16)
    history = train(generator, critic, EIGHT, recipe, latent_dim=2, seed=seed, progress=False, log_every=3, **kwargs)
    return generator, critic, history


def parameters(*modules):
    return torch.cat([p.detach().flatten() for m in modules for p in m.parameters()])


def test_a_checkpoint_that_carries_a_callable_is_refused_unread(tmp_path):
    """load_checkpoint reads with weights_only=True: a pickled function (which could run code when
    unpickled) is refused with a ValueError naming it, and never called."""
    path = tmp_path / "run.pt"
    recipe = Recipe(steps=2, batch_size=8)
    small_run(recipe, checkpoint=path)
    state = load_checkpoint(path)
    assert state["step"] == 2 and set(state) >= {"generator", "critic", "opt_g", "opt_c", "rng", "history"}
    calls = []
    torch.save({**state, "hook": print}, path)  # a checkpoint someone else made, carrying a callable
    with pytest.raises(ValueError, match=r"holds print, not only tensors.*refused"):
        load_checkpoint(path)
    torch.save({**state, "hook": calls.append}, path)
    with pytest.raises(ValueError, match="refused"):
        train(*small_networks(0), EIGHT, recipe, latent_dim=2, checkpoint=path, resume=True, progress=False)
    assert calls == []


def test_history_and_linear_learning_rate_decay():
    recipe = Recipe(steps=10, batch_size=32, lr=1e-3, lr_decay=True)
    _, _, history = small_run(recipe)
    assert history["step"] == list(range(1, 11))
    assert history["lr"] == pytest.approx([1e-3 * (1 - i / 10) for i in range(10)])
    for key in ("critic_loss", "w1_estimate", "penalty", "grad_norm_mean", "grad_norm_std", "generator_loss", "time"):
        assert len(history[key]) == 10, key
    assert history["time"] == sorted(history["time"])


def test_runs_are_reproducible_and_seeds_differ():
    recipe = Recipe(steps=5, batch_size=32)
    a, b = small_run(recipe, seed=3), small_run(recipe, seed=3)
    assert torch.equal(parameters(*a[:2]), parameters(*b[:2]))
    assert a[2]["critic_loss"] == b[2]["critic_loss"]
    c = small_run(recipe, seed=4)
    assert not torch.equal(parameters(*a[:2]), parameters(*c[:2]))


@pytest.mark.parametrize("loss", ["wgan-gp", "wgan-clip", "gan"])
def test_interrupted_then_resumed_run_equals_an_uninterrupted_one(loss, tmp_path):
    recipe = Recipe(loss=loss, steps=8, batch_size=32, lr=1e-3, lr_decay=True,
                    optimizer="rmsprop" if loss == "wgan-clip" else "adam")
    whole = small_run(recipe)
    path = tmp_path / "run.pt"
    first = small_run(recipe, checkpoint=path, checkpoint_every=2, until=5)
    assert load_checkpoint(path)["step"] == 5
    # A fresh process would build fresh networks (another init) and resume from the file.
    resumed = small_run(recipe, seed=0, init_seed=99, checkpoint=path, resume=True)
    assert not torch.equal(parameters(*first[:2]), parameters(*whole[:2]))
    assert torch.equal(parameters(*resumed[:2]), parameters(*whole[:2]))
    assert resumed[2]["critic_loss"] == whole[2]["critic_loss"]
    assert resumed[2]["step"] == list(range(1, 9))
    assert load_checkpoint(path)["step"] == 8


def test_weight_clipping_keeps_every_critic_weight_in_the_box():
    _, critic, _ = small_run(Recipe(loss="wgan-clip", steps=3, batch_size=32, optimizer="rmsprop", lr=1e-2, clip=0.02))
    weights = parameters(critic)
    assert weights.abs().max() <= 0.02
    assert (weights.abs() == 0.02).float().mean() > 0.5  # with this learning rate most weights sit at the bounds


def test_nan_stops_the_run_naming_step_and_quantity_and_keeps_the_last_good_checkpoint(tmp_path):
    calls = {"n": 0}

    def poisoned(n, rng):
        calls["n"] += 1
        batch = EIGHT(n, rng)
        return batch * float("nan") if calls["n"] > 5 * 6 else batch  # NaN from generator step 7 on

    torch.manual_seed(0)
    generator, critic = generator_mlp(2, 2, width=16), critic_mlp(2, width=16)
    path = tmp_path / "run.pt"
    with pytest.raises(NonFiniteLoss, match=r"critic_loss became nan at generator step 7") as error:
        train(generator, critic, poisoned, Recipe(steps=20, batch_size=16), latent_dim=2, checkpoint=path,
              checkpoint_every=2, log_every=4, progress=False)
    assert (error.value.step, error.value.quantity, error.value.checkpoint) == (7, "critic_loss", path)
    state = load_checkpoint(path, generator, critic)
    assert state["step"] == 6
    assert torch.isfinite(parameters(generator, critic)).all()


def test_bad_arguments(tmp_path):
    recipe = Recipe(steps=2, batch_size=8)
    generator, critic = generator_mlp(2, 2, width=8), critic_mlp(2, width=8)
    with pytest.raises(TypeError, match="recipe must be a Recipe"):
        train(generator, critic, EIGHT, {"loss": "gan"}, latent_dim=2)
    with pytest.raises(TypeError, match="real must be callable"):
        train(generator, critic, torch.zeros(8, 2), recipe, latent_dim=2)
    with pytest.raises(ValueError, match="latent_dim must be a positive integer"):
        train(generator, critic, EIGHT, recipe, latent_dim=0)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(generator, critic, EIGHT, recipe, latent_dim=2, checkpoint=tmp_path / "none.pt", resume=True)
    with pytest.raises(ValueError, match="real and fake must have the same shape"):
        train(generator, critic, lambda n, rng: torch.zeros(n, 3), recipe, latent_dim=2, progress=False)
    path = tmp_path / "run.pt"
    train(generator, critic, EIGHT, recipe, latent_dim=2, checkpoint=path, progress=False)
    with pytest.raises(ValueError, match="different recipe"):
        train(generator, critic, EIGHT, Recipe(steps=2, batch_size=8, lam=1.0), latent_dim=2, checkpoint=path,
              resume=True, progress=False)


def test_an_interruption_during_the_generator_step_leaves_the_critic_trainable():
    torch.manual_seed(0)
    generator, critic = generator_mlp(2, 2, width=8), critic_mlp(2, width=8)

    class Stop(torch.nn.Module):  # a generator whose second forward (the generator step) is interrupted
        def __init__(self):
            super().__init__()
            self.inner, self.calls = generator, 0

        def forward(self, z):
            self.calls += 1
            if self.calls == 2:
                raise KeyboardInterrupt
            return self.inner(z)

    with pytest.raises(KeyboardInterrupt):
        train(Stop(), critic, EIGHT, Recipe(steps=1, batch_size=8, critic_steps=1), latent_dim=2, progress=False)
    assert all(p.requires_grad for p in critic.parameters())


# -- many runs as one stack ---------------------------------------------------------------------

STACK_DATA = ("8gaussians", "swissroll", "25gaussians")


def stack_of_runs(recipe, seeds=(0, 1, 2), **kwargs):
    nets = [small_networks(seed) for seed in seeds]
    generators, critics = [g for g, _ in nets], [c for _, c in nets]
    reals = [functools.partial(toy.sample, name) for name in STACK_DATA[: len(seeds)]]
    histories = train_stacked(generators, critics, reals, recipe, latent_dim=2, seeds=list(seeds), progress=False,
                              log_every=3, **kwargs)
    return generators, critics, histories


def small_networks(seed):
    torch.manual_seed(seed)
    return generator_mlp(2, 2, width=16), critic_mlp(2, width=16)


@pytest.mark.parametrize("loss", ["wgan-gp", "wgan-clip", "gan"])
def test_stacked_runs_equal_runs_one_at_a_time_within_float32_round_off(loss):
    recipe = Recipe(loss=loss, steps=12, batch_size=32, lr=1e-3, lr_decay=True, betas=(0.0, 0.9),
                    optimizer="rmsprop" if loss == "wgan-clip" else "adam", critic_steps=1 if loss == "gan" else 5)
    generators, critics, histories = stack_of_runs(recipe)
    for seed, name, g_stacked, c_stacked, stacked in zip((0, 1, 2), STACK_DATA, generators, critics, histories):
        generator, critic = small_networks(seed)
        alone = train(generator, critic, functools.partial(toy.sample, name), recipe, latent_dim=2, seed=seed,
                      progress=False, log_every=3)
        assert torch.allclose(parameters(generator, critic), parameters(g_stacked, c_stacked), rtol=0, atol=1e-5)
        assert not torch.equal(parameters(generator), parameters(small_networks(seed)[0]))  # they did train
        for key in set(alone) - {"time"}:
            assert stacked[key] == pytest.approx(alone[key], rel=1e-4, abs=1e-5), key


def test_a_stacked_run_that_turns_nan_leaves_the_others_untouched():
    recipe = Recipe(steps=6, batch_size=16)
    calls = {"n": 0}

    def poisoned(n, rng):  # the second run's data turn NaN from its 3rd draw on
        calls["n"] += 1
        batch = EIGHT(n, rng)
        return batch * float("nan") if calls["n"] > 2 else batch

    nets = [small_networks(seed) for seed in (0, 1)]
    generators, critics = [g for g, _ in nets], [c for _, c in nets]
    histories = train_stacked(generators, critics, [EIGHT, poisoned], recipe, latent_dim=2, seeds=[0, 1],
                              progress=False)
    assert all(math.isnan(v) for v in histories[1]["critic_loss"][1:])
    generator, critic = small_networks(0)
    alone = train(generator, critic, EIGHT, recipe, latent_dim=2, seed=0, progress=False)
    assert torch.allclose(parameters(generator, critic), parameters(generators[0], critics[0]), atol=1e-5)
    assert histories[0]["critic_loss"] == pytest.approx(alone["critic_loss"], rel=1e-4)


def test_stacked_moving_average_and_callback():
    recipe = Recipe(steps=6, batch_size=16)
    emas = [small_networks(seed)[0] for seed in (0, 1)]
    seen = []
    generators, _, histories = stack_of_runs(recipe, seeds=(0, 1), emas=emas, ema_decay=0.5,
                                             callback=lambda step, g, c, h: seen.append((step, len(h[0].get("step", [])))),
                                             callback_every=3)
    assert seen == [(0, 0), (3, 3), (6, 6)]
    generator, _ = small_networks(0)
    ema = copy.deepcopy(generator)
    train(generator, small_networks(0)[1], EIGHT, recipe, latent_dim=2, seed=0, progress=False, ema=ema, ema_decay=0.5)
    assert torch.allclose(parameters(ema), parameters(emas[0]), atol=1e-5)


def test_train_stacked_bad_arguments():
    recipe = Recipe(steps=2, batch_size=8)
    g, c = small_networks(0)
    with pytest.raises(ValueError, match="one per run"):
        train_stacked([g], [c], [EIGHT, EIGHT], recipe, latent_dim=2, seeds=[0])
    with pytest.raises(TypeError, match="reals must hold callables"):
        train_stacked([g], [c], [torch.zeros(8, 2)], recipe, latent_dim=2, seeds=[0])
    with pytest.raises(ValueError, match="ema_decay must be in"):
        train_stacked([g], [c], [EIGHT], recipe, latent_dim=2, seeds=[0], emas=[g], ema_decay=1.0)
    with pytest.raises(ValueError, match="same layers and sizes"):
        train_stacked([g, generator_mlp(2, 2, width=8)], [c, c], [EIGHT, EIGHT], recipe, latent_dim=2, seeds=[0, 1])


def test_a_stacked_run_ends_its_progress_bar_at_its_total_unless_the_clock_stops_it(monkeypatch):
    import wgan_teach.train as train_module
    from tqdm.auto import tqdm as real_tqdm

    ends = []

    class Recording(real_tqdm):
        def close(self):
            ends.append((self.n, self.total))
            super().close()

    monkeypatch.setattr(train_module, "tqdm", Recording)
    recipe = Recipe(steps=4, batch_size=8)
    g, c = small_networks(0)
    history = train_stacked([g], [c], [EIGHT], recipe, latent_dim=2, seeds=[0], progress=True)[0]
    assert history["step"] == [1, 2, 3, 4] and ends[-1] == (4, 4)  # green in Jupyter
    g, c = small_networks(0)
    history = train_stacked([g], [c], [EIGHT], recipe, latent_dim=2, seeds=[0], progress=True, stop_after=1e-9)[0]
    assert history["step"] == [1] and ends[-1] == (1, 4)  # stopped early: the bar says so
    with pytest.raises(ValueError, match="stop_after"):
        train_stacked([g], [c], [EIGHT], recipe, latent_dim=2, seeds=[0], stop_after=-1)
