"""The fast step computes what the plain step computes; the moving average, the time limit and the
optimiser hand-over between speeds. CPU only: the CUDA graph lever is exercised by
``python -m wgan_teach bench`` on a GPU (see the note of the GPU issue)."""

import copy
import json
import functools
import time

import pytest
import torch

from wgan_teach import bench, toy
from wgan_teach.__main__ import main
from wgan_teach.nets import critic_mlp, generator_mlp
from wgan_teach.nets import StackedMLP, ema_update
from wgan_teach.recipes import RECIPES
from wgan_teach.speed import PLAIN, Speed, fast_step, fastest, make_optimizer, set_lr
from wgan_teach.train import Draw, Recipe, draw, load_checkpoint, train, train_step

EIGHT = functools.partial(toy.sample, "8gaussians")
CPU_LEVERS = Speed(one_forward=True, channels_last=True, fused_optimizers=True)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(
    "name, speed, steps",
    [
        ("cnn32-wgangp", CPU_LEVERS, 2),
        ("cnn32-gan", CPU_LEVERS, 2),
        ("cnn32-wgan-clip", Speed(one_forward=True), 1),
        ("res32-wgangp", CPU_LEVERS, 1),
    ],
)
def test_in_float64_the_fast_step_computes_the_plain_step(name, speed, steps):
    """In float64 rounding is ~1e-16, so any difference in the maths would show far above 1e-8."""
    diff = bench.update_difference(name, speed, steps=steps, batch_size=4)
    assert diff["generator"] < 1e-8 and diff["critic"] < 1e-8 and diff["critic_loss"] < 1e-12, diff


def _plain_and_fast(networks, recipe, real, latent_dim, runs=1, steps=2):
    """The weights and logs after ``steps`` steps of train_step, and of fast_step with every lever off,
    on copies of ``networks`` and the same draws."""
    results = []
    for fast in (False, True):
        generator, critic = copy.deepcopy(networks)
        opt_g, opt_c = (make_optimizer(recipe.optimizer, net.parameters(), lr=recipe.lr, betas=recipe.betas,
                                       speed=PLAIN, device=torch.device("cpu")) for net in (generator, critic))
        rngs = [torch.Generator().manual_seed(seed) for seed in range(runs)]
        noise = lambda n, rng: torch.randn(n, latent_dim, generator=rng, dtype=torch.float64)
        step = fast_step(generator, critic, opt_g, opt_c, recipe, speed=PLAIN, device=torch.device("cpu"), runs=runs)
        for _ in range(steps):
            inputs = Draw.cat([draw(recipe, real, functools.partial(noise, rng=rng), rng) for rng in rngs])
            logs = step(inputs) if fast else train_step(generator, critic, opt_g, opt_c, recipe, inputs, runs)
        results.append((torch.cat([p.detach().flatten() for p in [*generator.parameters(), *critic.parameters()]]),
                        logs if fast else None))
    return results


@pytest.mark.parametrize("loss", ["wgan-gp", "wgan-clip", "gan"])
def test_with_every_lever_off_the_fast_step_is_the_plain_step_bit_for_bit(loss):
    """The fast step and train_step share the losses; with no lever on, nothing else may differ:
    float64 on a CPU, equal to the last bit (an image recipe, and three stacked 2-D runs)."""
    optimizer = "rmsprop" if loss == "wgan-clip" else "adam"
    recipe = Recipe(loss=loss, optimizer=optimizer, steps=2, critic_steps=2, batch_size=4, lr=1e-3)
    torch.manual_seed(0)
    images = tuple(net.double() for net in RECIPES["cnn32-w16-wgangp"].networks())
    real = lambda n, rng: bench.random_images(16).sample(n, rng).double()
    (plain, _), (fast, _) = _plain_and_fast(images, recipe, real, RECIPES["cnn32-w16-wgangp"].latent_dim)
    assert torch.equal(plain, fast)
    torch.manual_seed(0)
    stacked = tuple(StackedMLP([make().double() for _ in range(3)]) for make in
                    (lambda: generator_mlp(2, 2, width=8), lambda: critic_mlp(2, width=8)))
    (plain, _), (fast, _) = _plain_and_fast(stacked, recipe, lambda n, rng: EIGHT(n, rng).double(), 2, runs=3)
    assert torch.equal(plain, fast)


def test_bf16_scores_agree_with_float32_to_bf16_precision():
    diff = bench.update_difference("cnn32-wgangp", Speed(bf16=True), dtype=torch.float32, steps=1, batch_size=4)
    assert diff["critic_loss"] < 1e-2  # bf16 keeps 8 bits of mantissa: about 0.4 % per rounding
    # yet the weights move differently: the first Adam step is close to lr * sign(gradient)
    assert diff["critic"] > 1e-3


def test_graphs_need_a_gpu_and_the_cpu_default_is_the_plain_step():
    with pytest.raises(ValueError, match="graphs=True needs a CUDA device"):
        train(generator_mlp(2, 2), critic_mlp(2), EIGHT, Recipe(steps=1), latent_dim=2, speed=Speed(graphs=True),
              progress=False)
    assert fastest("cpu") == PLAIN and fastest("cuda").graphs and fastest("cuda").bf16
    assert not fastest("cuda").one_forward  # measured slower on an H100 with the other levers on
    labels = [label for label, _ in bench.ladder("cuda")]
    assert labels[:2] == ["plain", "+ one critic forward"] and bench.ladder("cuda")[-1] == ("fast, three forwards", fastest("cuda"))
    assert bench.ladder("cpu") == [("plain", PLAIN)]


def small_run(**kwargs):
    torch.manual_seed(0)
    generator, critic = generator_mlp(2, 2, width=16), critic_mlp(2, width=16)
    recipe = Recipe("wgan-gp", steps=6, batch_size=32, critic_steps=2, lr=1e-3, lr_decay=True)
    history = train(generator, critic, EIGHT, recipe, latent_dim=2, progress=False, log_every=1, **kwargs)
    return generator, history


def test_ema_is_the_moving_average_of_the_generator_weights():
    torch.manual_seed(0)
    average = copy.deepcopy(generator_mlp(2, 2, width=16))
    snapshots = []
    torch.manual_seed(0)
    generator, _ = small_run(ema=average, ema_decay=0.8, callback_every=1,
                             callback=lambda step, g, *_: snapshots.append([p.detach().clone() for p in g.parameters()]))
    expected = snapshots[0]  # the initial weights (callback at step 0)
    for weights in snapshots[1:]:
        expected = [0.8 * e + 0.2 * w for e, w in zip(expected, weights)]
    for e, a in zip(expected, average.parameters()):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-6)
    b = torch.nn.Linear(2, 2)
    before = copy.deepcopy(b)
    ema_update(b, torch.nn.Linear(2, 2), 1.0 - 1e-9)
    torch.testing.assert_close(b.weight, before.weight)


def test_stop_after_ends_at_a_checkpoint_and_resuming_equals_an_uninterrupted_run(tmp_path):
    whole, _ = small_run()
    stopped, history = small_run(checkpoint=tmp_path / "c.pt", stop_after=1e-9)
    assert history["step"] == [1] and load_checkpoint(tmp_path / "c.pt")["step"] == 1
    resumed, history = small_run(checkpoint=tmp_path / "c.pt", resume=True)
    assert history["step"] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_a_checkpoint_of_one_speed_resumes_under_another(tmp_path):
    whole, _ = small_run()
    small_run(checkpoint=tmp_path / "c.pt", until=3, speed=Speed(fused_optimizers=True))
    resumed, _ = small_run(checkpoint=tmp_path / "c.pt", resume=True, speed=PLAIN)
    for a, b in zip(whole.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_history_time_leaves_out_the_callbacks():
    started = time.perf_counter()
    _, history = small_run(callback=lambda *_: time.sleep(0.25), callback_every=2)  # steps 0, 2, 4, 6
    wall = time.perf_counter() - started
    assert wall > 1.0 and history["time"][-1] < wall - 0.9


def test_bench_command_prints_step_time_and_the_rounding_floor(capsys, tmp_path):
    assert main(["bench", "--recipe", "cnn32-wgangp", "--steps", "1", "--batch-size", "2", "--check-steps", "1",
                 "--json", str(tmp_path / "bench.json")]) == 0
    out = capsys.readouterr().out
    assert "cnn32-wgangp on CPU" in out and "ms per generator step" in out
    assert "plain, float32" in out and "vs the plain float64 step" in out
    stored = json.loads((tmp_path / "bench.json").read_text())
    assert stored["ms_per_step"]["plain"] > 0 and stored["maths"]["plain, float32 vs float64"]["critic"] > 0


def test_graphs_refuse_a_decaying_rmsprop_learning_rate():
    with pytest.raises(ValueError, match="RMSProp needs a constant learning rate"):
        Speed(graphs=True).check(torch.device("cuda"), "rmsprop", lr_changes=True)
    Speed(graphs=True).check(torch.device("cuda"), "rmsprop", lr_changes=False)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_graphs_adam_steps_as_the_plain_adam_bit_for_bit(dtype):
    """Under graphs Adam is fused and capturable and reads a learning rate that set_lr changes in
    device memory (PyTorch runs that optimiser on a CPU too): with the rate in the parameters'
    precision, a decaying rate gives the plain Adam's weights bit for bit."""
    torch.manual_seed(0)
    plain = [torch.nn.Parameter(torch.randn(5, 3, dtype=dtype)), torch.nn.Parameter(torch.randn(3, dtype=dtype))]
    graphed = [torch.nn.Parameter(p.detach().clone()) for p in plain]
    optimizers = [make_optimizer("adam", params, lr=1e-3, betas=(0.0, 0.9), speed=speed, device=torch.device("cpu"))
                  for params, speed in ((plain, PLAIN), (graphed, Speed(fused_optimizers=True, graphs=True)))]
    assert isinstance(optimizers[1].param_groups[0]["lr"], torch.Tensor)
    for t in range(1, 6):
        gradients = [torch.randn_like(p) for p in plain]
        for optimizer, params in zip(optimizers, (plain, graphed)):
            set_lr(optimizer, 1e-3 * (1 - t / 6))
            for p, g in zip(params, gradients):
                p.grad = g.clone()
            optimizer.step()
    for p, q in zip(plain, graphed):
        assert torch.equal(p, q)
