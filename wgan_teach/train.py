r"""One training loop for every GAN in the book: Algorithm 1 of WGAN-GP, with WGAN and the GAN as variants.

Each generator step :math:`t` first trains the critic :math:`f` for ``critic_steps`` steps, then
the generator :math:`G` once:

.. math::

    \text{critic:}\quad x \sim p_r,\ z \sim \mathcal{N}(0, I),\ \tilde x = G(z), \qquad
    \min_f\ L_f(x, \tilde x); \qquad
    \text{generator:}\quad \min_G\ L_G\big(f(G(z))\big).

The three losses (``Recipe.loss``):

* ``"wgan-gp"`` (Gulrajani et al. 2017): :math:`L_f = \mathbb{E} f(\tilde x) - \mathbb{E} f(x) + \lambda\,
  \mathbb{E}(\lVert \nabla f(\hat x) \rVert - 1)^2`, :math:`L_G = -\mathbb{E} f(G(z))`, Adam;
* ``"wgan-clip"`` (Arjovsky et al. 2017): the same without the penalty, every critic weight clipped
  to :math:`[-c, c]` after each critic step, RMSProp;
* ``"gan"`` (Goodfellow et al. 2014, non-saturating): :math:`f` outputs a logit,
  :math:`L_f = \mathbb{E}\,\mathrm{softplus}(-f(x)) + \mathbb{E}\,\mathrm{softplus}(f(\tilde x))` (the
  binary cross-entropy), :math:`L_G = \mathbb{E}\,\mathrm{softplus}(-f(G(z))) = -\mathbb{E} \log \sigma(f(G(z)))`.

Every step logs the critic loss, :math:`\widehat{W} = \mathbb{E} f(x) - \mathbb{E} f(\tilde x)` (the
critic's running estimate of :math:`W_1`; for the GAN only a logit gap), the generator loss, the
learning rate, and for WGAN-GP the penalty and the mean and std of :math:`\lVert \nabla f(\hat x)\rVert`.
Values stay on the device and reach the host every ``log_every`` steps, in one transfer. A
non-finite loss stops the run with :class:`NonFiniteLoss`; checkpoints are written only after the
values since the last one were checked, so the last checkpoint on disk is always a good one.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .checks import non_negative_number, number, positive_int, positive_number
from .files import first_line, torch_bytes, write_atomically
from .nets import StackedMLP
from .penalties import clip_weights, interpolates, penalty_from_scores
from .speed import PLAIN, CapturedStep, Speed, at_least_float32, load_optimizer, make_optimizer, set_lr

__all__ = ["LOSSES", "Recipe", "NonFiniteLoss", "History", "critic_loss", "generator_loss", "ema_update", "train", "train_stacked", "load_checkpoint"]

LOSSES = ("wgan-gp", "wgan-clip", "gan")
OPTIMIZERS = ("adam", "rmsprop")
CHECKED = ("critic_loss", "generator_loss", "penalty")  # quantities whose non-finite value stops a run


@dataclass(frozen=True)
class Recipe:
    """Everything about a run except the networks and the data.

    ``steps`` counts generator steps; ``lr_decay`` decays both learning rates linearly to zero over
    them (as the WGAN-GP paper's CIFAR-10 runs do). ``generator_batch_size`` defaults to
    ``batch_size``. ``lam`` and ``one_sided`` are used by ``"wgan-gp"``, ``clip`` by ``"wgan-clip"``.
    """

    loss: str = "wgan-gp"
    steps: int = 10_000
    critic_steps: int = 5
    batch_size: int = 256
    generator_batch_size: int | None = None
    optimizer: str = "adam"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)
    lam: float = 10.0
    one_sided: bool = False
    clip: float = 0.01
    lr_decay: bool = False

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        for name in ("steps", "critic_steps", "batch_size"):
            positive_int(getattr(self, name), name)
        if self.generator_batch_size is not None:
            positive_int(self.generator_batch_size, "generator_batch_size")
        for name in ("lr", "clip"):
            positive_number(getattr(self, name), name)
        non_negative_number(self.lam, "lam")
        for name in ("one_sided", "lr_decay"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if not isinstance(self.betas, (tuple, list)) or len(self.betas) != 2:
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        betas = tuple(number(b, "betas") for b in self.betas)
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        object.__setattr__(self, "betas", betas)

    @property
    def fake_batch_size(self) -> int:
        return self.generator_batch_size or self.batch_size

    def lr_at(self, step: int) -> float:
        """The learning rate of generator step ``step`` (counted from 1): ``lr``, or with ``lr_decay``
        ``lr * (1 - (step - 1) / steps)``."""
        return self.lr * max(0.0, 1 - (step - 1) / self.steps) if self.lr_decay else self.lr


class NonFiniteLoss(FloatingPointError):
    """A loss became NaN or infinite; ``step`` and ``quantity`` say where."""

    def __init__(self, step: int, quantity: str, value: float, checkpoint: Path | None):
        self.step, self.quantity, self.value, self.checkpoint = step, quantity, value, checkpoint
        kept = f"; the last good checkpoint is {checkpoint}" if checkpoint else ""
        super().__init__(f"{quantity} became {value} at generator step {step}: training stopped{kept}")


History = dict  # name -> list of floats, one entry per generator step ("step" holds the step numbers)


def critic_loss(recipe: Recipe, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, rng=None, *,
                epsilon: torch.Tensor | None = None, score: Callable | None = None, runs: int = 1):
    r"""The critic's objective :math:`L_f` of ``recipe.loss`` (module docstring) on one batch.

    :math:`\epsilon` of the interpolates is drawn with ``rng`` or given as ``epsilon``. ``score(parts)``
    returns the critic's scores of a list of batches (default: one forward each; the fast step of
    :mod:`wgan_teach.speed` scores them in one). With ``runs`` > 1 the batches hold those of that
    many independent runs one after another (a stacked critic, :class:`wgan_teach.nets.StackedMLP`)
    and every expectation is taken over each run's own samples. Returns ``(loss, logs)``: the loss,
    one value per run (shape (runs,)), keeps its graph — backpropagating its sum gives each run's
    weights the gradient of their own loss; ``logs`` holds detached values to record, one per run.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    _check_runs(runs, len(real))
    score = score or (lambda parts: [critic(part) for part in parts])
    if recipe.loss == "wgan-gp":
        x_hat = interpolates(real, fake, generator=rng, epsilon=epsilon).requires_grad_(True)
        f_real, f_fake, f_hat = score([real, fake, x_hat])
    else:
        f_real, f_fake = score([real, fake])
    mean = lambda values: values.reshape(runs, -1).mean(1)  # E over each run's samples
    gap = mean(f_real) - mean(f_fake)
    if recipe.loss == "gan":
        loss = mean(F.softplus(-f_real)) + mean(F.softplus(f_fake))
    else:
        loss = -gap
    logs = {"w1_estimate": gap.detach()}
    if recipe.loss == "wgan-gp":
        penalty, grad_norms = penalty_from_scores(f_hat, x_hat, one_sided=recipe.one_sided, runs=runs)
        loss = loss + recipe.lam * penalty
        grad_norms = grad_norms.reshape(runs, -1)
        logs.update(penalty=penalty.detach(), grad_norm_mean=grad_norms.mean(1), grad_norm_std=grad_norms.std(1))
    logs["critic_loss"] = loss.detach()
    return loss, logs


def generator_loss(recipe: Recipe, critic: nn.Module, fake: torch.Tensor, score: Callable | None = None,
                   runs: int = 1) -> torch.Tensor:
    r"""The generator's objective :math:`L_G`: :math:`-\mathbb{E} f(\tilde x)`, or for the GAN
    :math:`\mathbb{E}\,\mathrm{softplus}(-f(\tilde x))`; one value per run (see :func:`critic_loss`)."""
    _check_runs(runs, len(fake))
    scores = score([fake])[0] if score else critic(fake)
    losses = F.softplus(-scores) if recipe.loss == "gan" else -scores
    return losses.reshape(runs, -1).mean(1)


def _check_runs(runs, rows: int) -> None:
    if not isinstance(runs, int) or isinstance(runs, bool) or runs < 1 or rows % runs:
        raise ValueError(f"runs must be a positive integer that divides the batch ({rows} rows), got {runs!r}")


@torch.no_grad()
def ema_update(average: nn.Module, model: nn.Module, decay: float) -> None:
    r"""Exponential moving average of the weights: :math:`\bar\theta \leftarrow \beta \bar\theta + (1 - \beta)\,\theta`
    with :math:`\beta` = ``decay``, for every parameter and floating-point buffer (batch-norm
    statistics); integer buffers are copied."""
    for a, p in zip(average.parameters(), model.parameters()):
        a.lerp_(p, 1 - decay)
    for a, b in zip(average.buffers(), model.buffers()):
        if a.is_floating_point():
            a.lerp_(b, 1 - decay)
        else:
            a.copy_(b)


def _save(path: Path, payload: dict) -> None:
    """Write atomically: a crash or a full disk while saving leaves the previous checkpoint intact."""
    write_atomically(path, torch_bytes(payload))


def load_checkpoint(path, generator: nn.Module | None = None, critic: nn.Module | None = None) -> dict:
    """Read a checkpoint written by :func:`train`; load its weights into ``generator`` / ``critic`` if given.
    A damaged file (truncated, empty, overwritten) is a ValueError that names it and says what to do."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # a truncated zip, an empty file, garbage: torch fails in many ways
        raise ValueError(f"{path} is damaged and cannot be read ({first_line(err)}); restore it from a copy, "
                         "or start the run again in another folder") from err
    if generator is not None:
        generator.load_state_dict(payload["generator"])
    if critic is not None:
        critic.load_state_dict(payload["critic"])
    return payload


def _flush(pending: list[dict], history: History, checkpoint: Path | None) -> None:
    """Move the pending per-step values to the host in one transfer and check them."""
    if not pending:
        return
    keys = [k for k in pending[0] if isinstance(pending[0][k], torch.Tensor)]
    values = torch.stack([torch.stack([p[k].float() for k in keys]) for p in pending]).cpu().tolist()
    for row, record in zip(values, pending):
        row = dict(zip(keys, row))
        for key in CHECKED:
            if key in row and not math.isfinite(row[key]):
                raise NonFiniteLoss(record["step"], key, row[key], checkpoint if checkpoint and checkpoint.exists() else None)
        for key, value in record.items():
            history.setdefault(key, []).append(row.get(key, value))
    pending.clear()


def _draw(recipe: Recipe, real: Callable, noise: Callable, rng: torch.Generator) -> list[torch.Tensor]:
    r"""All random inputs of one generator step, in a fixed order: the latents of the critic steps'
    fakes; per critic step a real batch and (WGAN-GP) one :math:`\epsilon` per sample; the generator's latents."""
    inputs = [noise(recipe.critic_steps * recipe.batch_size)]
    for _ in range(recipe.critic_steps):
        batch = real(recipe.batch_size, rng)
        inputs.append(batch)
        if recipe.loss == "wgan-gp":
            inputs.append(torch.rand(recipe.batch_size, generator=rng, device=batch.device).to(batch.dtype))
    inputs.append(noise(recipe.fake_batch_size))
    return inputs


def _log_keys(recipe: Recipe) -> list[str]:
    penalty = ["penalty", "grad_norm_mean", "grad_norm_std"] if recipe.loss == "wgan-gp" else []
    return ["w1_estimate", *penalty, "critic_loss", "generator_loss"]


def _make_step(generator, critic, opt_g, opt_c, recipe: Recipe, speed: Speed, device, ema, runs: int = 1) -> Callable:
    """One generator step of Algorithm 1 on the inputs of :func:`_draw` (for stacked networks, the
    inputs of ``runs`` runs joined run by run); returns the logged values (:func:`_log_keys`) as one
    tensor of shape (values, runs), so that a captured graph has a single output."""
    keys = _log_keys(recipe)
    per_critic_step = 2 if recipe.loss == "wgan-gp" else 1

    def score(parts: list[torch.Tensor]) -> list[torch.Tensor]:
        with speed.autocast(device):
            if speed.one_forward:
                scores = critic(speed.layout(torch.cat([speed.layout(x) for x in parts])))
                return list(at_least_float32(scores).split([len(x) for x in parts]))
            return [at_least_float32(critic(speed.layout(x))) for x in parts]

    def step(inputs: list[torch.Tensor]) -> torch.Tensor:
        z_critic, *batches, z_generator = inputs
        with torch.no_grad(), speed.autocast(device):  # G is fixed during the critic steps: one forward
            fakes = at_least_float32(generator(z_critic)).unflatten(0, (runs, recipe.critic_steps, -1)).unbind(1)
        for i, fake in enumerate(fakes):
            real, *epsilon = batches[i * per_critic_step : (i + 1) * per_critic_step]
            loss, logs = critic_loss(recipe, critic, speed.layout(real), speed.layout(fake.flatten(0, 1)),
                                     epsilon=epsilon[0] if epsilon else None, score=score, runs=runs)
            opt_c.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt_c.step()
            if recipe.loss == "wgan-clip":
                clip_weights(critic, recipe.clip)
        critic.requires_grad_(False)  # the generator step needs gradients through f, not for f's weights
        try:
            with speed.autocast(device):
                fake = at_least_float32(generator(z_generator))
            g_loss = generator_loss(recipe, critic, fake, score, runs)
            opt_g.zero_grad(set_to_none=True)
            g_loss.sum().backward()
            opt_g.step()
        finally:  # also after an interruption, so that a later run trains the critic again
            critic.requires_grad_(True)
        if ema is not None:
            ema_update(ema[0], generator, ema[1])
        logs["generator_loss"] = g_loss.detach()
        return torch.stack([logs[key].float() for key in keys])

    return step


def train(
    generator: nn.Module,
    critic: nn.Module,
    real: Callable[[int, torch.Generator], torch.Tensor],
    recipe: Recipe,
    *,
    latent_dim: int,
    seed: int = 0,
    device: str | torch.device = "cpu",
    speed: Speed = PLAIN,
    ema: nn.Module | None = None,
    ema_decay: float = 0.999,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 1000,
    resume: bool = False,
    until: int | None = None,
    stop_after: float | None = None,
    log_every: int = 100,
    callback: Callable[[int, nn.Module, nn.Module, History], None] | None = None,
    callback_every: int = 100,
    progress: bool = True,
) -> History:
    r"""Train ``generator`` against ``critic`` by ``recipe`` (module docstring); returns the history.

    ``real(n, rng)`` draws ``n`` real samples on ``device`` using the torch generator ``rng``
    (for the toy data: ``functools.partial(toy.sample, name)``). Latents are
    :math:`z \sim \mathcal{N}(0, I_d)` with :math:`d` = ``latent_dim``. All randomness of the loop — latents,
    real batches and the penalty's :math:`\epsilon` — comes from one generator seeded by ``seed``,
    so a CPU run is reproducible bit for bit. ``speed`` (:class:`wgan_teach.speed.Speed`) chooses
    how the step is computed, not what it computes. ``ema``, a copy of the generator, is kept as the
    exponential moving average of its weights (:func:`ema_update`, :math:`\beta` = ``ema_decay``).

    ``checkpoint`` (a file path) is written every ``checkpoint_every`` steps and at the end: the
    networks, optimisers, random state, step and history. With ``resume=True`` the run continues
    from it, and an interrupted-then-resumed run equals an uninterrupted one. ``until`` stops after
    that generator step (the schedule still spans ``recipe.steps``), ``stop_after`` at the first
    logging point after that many seconds of this call, both to be continued later.
    ``callback(step, generator, critic, history)`` runs at step 0 (fresh runs) and every
    ``callback_every`` steps, after the history is up to date. The history's ``time`` is training
    wall time: the time spent in callbacks (evaluation) is left out.
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    if not isinstance(speed, Speed):
        raise TypeError(f"speed must be a Speed, got {type(speed).__name__}")
    if not callable(real):
        raise TypeError("real must be callable: real(n, rng) -> tensor of n real samples")
    for name, value in (("latent_dim", latent_dim), ("checkpoint_every", checkpoint_every),
                        ("log_every", log_every), ("callback_every", callback_every)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if until is not None:
        positive_int(until, "until")
    if stop_after is not None:
        positive_number(stop_after, "stop_after")
    if not 0 < number(ema_decay, "ema_decay") < 1:
        raise ValueError(f"ema_decay must be in (0, 1), got {ema_decay!r}")
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    if resume and (checkpoint is None or not checkpoint.is_file()):
        raise FileNotFoundError(f"resume=True but there is no checkpoint at {checkpoint}")

    device = torch.device(device)
    speed.check(device, recipe.optimizer, recipe.lr_decay)
    memory = torch.channels_last if speed.channels_last else torch.preserve_format
    for network in (generator, critic, ema):
        if network is not None:
            network.to(device, memory_format=memory).train()
    if speed.channels_last and device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # pick the fastest convolution algorithms for these shapes
    opt_g, opt_c = (make_optimizer(recipe.optimizer, net.parameters(), lr=recipe.lr, betas=recipe.betas, speed=speed,
                                   device=device) for net in (generator, critic))
    rng = torch.Generator(device).manual_seed(seed)
    history: History = {}
    start, elapsed = 0, 0.0
    if resume:
        state = load_checkpoint(checkpoint, generator, critic)
        if state["recipe"] != asdict(recipe) or state["seed"] != seed or state["latent_dim"] != latent_dim:
            raise ValueError(f"{checkpoint} was written by a run with a different recipe, seed or latent_dim")
        if ema is not None:
            if "ema" not in state:
                raise ValueError(f"{checkpoint} holds no moving average of the generator: resume without ema")
            ema.load_state_dict(state["ema"])
        load_optimizer(opt_g, state["opt_g"])
        load_optimizer(opt_c, state["opt_c"])
        rng.set_state(state["rng"])
        start, elapsed, history = state["step"], state["elapsed"], state["history"]

    dtype = next(generator.parameters()).dtype

    def noise(n: int) -> torch.Tensor:  # drawn in float32 whatever the precision, so the stream is the same
        return torch.randn(n, latent_dim, generator=rng, device=device).to(dtype)

    def now() -> float:  # wall time, with the work queued on the device done
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter()

    def save(step: int) -> None:
        _save(checkpoint, {
            "step": step, "elapsed": elapsed + time.perf_counter() - t0 - paused, "history": history,
            "recipe": asdict(recipe), "seed": seed, "latent_dim": latent_dim, "rng": rng.get_state(),
            "generator": generator.state_dict(), "critic": critic.state_dict(),
            "opt_g": opt_g.state_dict(), "opt_c": opt_c.state_dict(),
            **({"ema": ema.state_dict()} if ema is not None else {}),
        })

    def call(step: int) -> float:  # run the callback; return the seconds it took
        began = now()
        callback(step, generator, critic, history)
        return now() - began

    step_fn = _make_step(generator, critic, opt_g, opt_c, recipe, speed, device, (ema, ema_decay) if ema is not None else None)
    if speed.graphs:
        step_fn = CapturedStep(step_fn)
    keys = _log_keys(recipe)
    end = recipe.steps if until is None else min(until, recipe.steps)
    t0 = started = time.perf_counter()
    paused = 0.0
    pending: list[dict] = []
    if callback is not None and start == 0:
        paused += call(0)
    with tqdm(initial=start, total=end, disable=not progress, desc=recipe.loss) as bar:
        for step in range(start + 1, end + 1):
            lr = recipe.lr_at(step)
            set_lr(opt_g, lr)
            set_lr(opt_c, lr)
            values = step_fn(_draw(recipe, real, noise, rng))[:, 0]
            pending.append({**dict(zip(keys, values.unbind())), "step": step, "lr": lr,
                            "time": elapsed + time.perf_counter() - t0 - paused})

            last = step == end
            saving = checkpoint is not None and step % checkpoint_every == 0
            calling = callback is not None and step % callback_every == 0
            if step % log_every == 0 or last or saving or calling:
                window = len(pending)
                _flush(pending, history, checkpoint)
                seconds = history["time"][-1] - (history["time"][-window - 1] if len(history["time"]) > window else 0.0)
                real_images = window * recipe.critic_steps * recipe.batch_size  # real samples the critic saw
                bar.set_postfix(W1_estimate=f"{history['w1_estimate'][-1]:.3f}",
                                real_per_s=f"{real_images / max(seconds, 1e-9):.0f}", refresh=False)
                last = last or (stop_after is not None and time.perf_counter() - started >= stop_after)
            if checkpoint is not None and (saving or last):
                save(step)
            if calling:
                paused += call(step)
            bar.update()  # counted before a break, so that a finished run ends at its total
            if last:
                break
    return history


def train_stacked(
    generators: Sequence[nn.Sequential],
    critics: Sequence[nn.Sequential],
    reals: Sequence[Callable[[int, torch.Generator], torch.Tensor]],
    recipe: Recipe,
    *,
    latent_dim: int,
    seeds: Sequence[int],
    device: str | torch.device = "cpu",
    emas: Sequence[nn.Sequential] | None = None,
    ema_decay: float = 0.999,
    log_every: int = 100,
    callback: Callable[[int, list, list, list[History]], None] | None = None,
    callback_every: int = 100,
    stop_after: float | None = None,
    progress: bool = True,
) -> list[History]:
    r"""Train ``len(seeds)`` independent runs of one recipe as one: run ``r`` trains ``generators[r]``
    against ``critics[r]`` on ``reals[r]`` from seed ``seeds[r]``; returns one history per run.

    The networks (MLPs of one shape per role) are stacked into :class:`wgan_teach.nets.StackedMLP`
    s and each step of Algorithm 1 runs once for all runs, on ``device``. Every run draws its random
    inputs from its own generator in the order :func:`train` does, so run ``r`` equals
    ``train(generators[r], critics[r], reals[r], recipe, latent_dim=latent_dim, seed=seeds[r])`` up to
    float32 round-off (the stacked products add in another order, and the optimisers are torch's fused
    ones: the same update in one kernel). The trained weights are copied back
    into ``generators`` and ``critics``; with ``emas`` (copies of the generators), the moving average of
    each generator's weights (:func:`ema_update`, :math:`\beta` = ``ema_decay``) is kept and copied into
    them. The histories' ``time`` is the wall time of all runs together,
    callbacks excluded. ``callback(step, generators, critics, histories)`` runs at step 0 and every
    ``callback_every`` steps with the current weights copied back. ``stop_after`` seconds of training
    end the runs at the first step after them (with the schedule still spanning ``recipe.steps``).
    Nothing mixes the runs, so a run
    whose losses turn NaN does not stop or disturb the others: its history records the NaN.
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    generators, critics, reals, seeds = list(generators), list(critics), list(reals), list(seeds)
    if not seeds or not len(generators) == len(critics) == len(reals) == len(seeds):
        raise ValueError("generators, critics, reals and seeds must be non-empty and of one length (one per run)")
    if not all(callable(real) for real in reals):
        raise TypeError("reals must hold callables: real(n, rng) -> tensor of n real samples")
    for name, value in (("latent_dim", latent_dim), ("log_every", log_every), ("callback_every", callback_every)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if stop_after is not None:
        positive_number(stop_after, "stop_after")
    if emas is not None and len(emas) != len(seeds):
        raise ValueError(f"emas must hold one generator copy per run ({len(seeds)}), got {len(emas)}")
    if not 0 < ema_decay < 1:
        raise ValueError(f"ema_decay must be in (0, 1), got {ema_decay!r}")
    runs, device = len(seeds), torch.device(device)
    generator, critic = StackedMLP(generators).to(device), StackedMLP(critics).to(device)
    ema = StackedMLP(emas).to(device).requires_grad_(False) if emas is not None else None
    speed = Speed(fused_optimizers=True)  # one kernel per update: a fifth of a small stack's step time on a CPU
    opt_g, opt_c = (make_optimizer(recipe.optimizer, net.parameters(), lr=recipe.lr, betas=recipe.betas,
                                   speed=speed, device=device) for net in (generator, critic))
    rngs = [torch.Generator(device).manual_seed(seed) for seed in seeds]
    noises = [lambda n, rng=rng: torch.randn(n, latent_dim, generator=rng, device=device) for rng in rngs]
    step_fn = _make_step(generator, critic, opt_g, opt_c, recipe, speed, device,
                         (ema, ema_decay) if ema is not None else None, runs)
    keys = _log_keys(recipe)
    histories: list[History] = [{} for _ in seeds]
    paused, pending = 0.0, []

    def now() -> float:  # wall time, with the work queued on the device done
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter()

    def call(step: int) -> float:
        began = now()
        _unstack(generator, generators, critic, critics, ema, emas)
        callback(step, generators, critics, histories)
        return now() - began

    t0 = now()
    if callback is not None:
        paused += call(0)
    for step in tqdm(range(1, recipe.steps + 1), disable=not progress, desc=f"{recipe.loss} x {runs}"):
        set_lr(opt_g, recipe.lr_at(step))
        set_lr(opt_c, recipe.lr_at(step))
        draws = [_draw(recipe, real, noise, rng) for real, noise, rng in zip(reals, noises, rngs)]
        pending.append((step, recipe.lr_at(step), now() - t0 - paused,
                        step_fn([torch.cat(parts) for parts in zip(*draws)])))
        calling = callback is not None and step % callback_every == 0
        stopping = stop_after is not None and step < recipe.steps and time.perf_counter() - t0 - paused >= stop_after
        last = step == recipe.steps or stopping
        if step % log_every == 0 or last or calling:
            values = torch.stack([v for *_, v in pending]).tolist()  # (steps, keys, runs), one transfer
            for (step_, lr, seconds, _), row in zip(pending, values):
                for history, run_values in zip(histories, zip(*row)):
                    for key, value in (*zip(keys, run_values), ("step", step_), ("lr", lr), ("time", seconds)):
                        history.setdefault(key, []).append(value)
            pending.clear()
        if calling:
            paused += call(step)
        if stopping:  # only then: a loop that runs out ends its progress bar at its total (green)
            break
    _unstack(generator, generators, critic, critics, ema, emas)
    return histories


def _unstack(*pairs) -> None:
    """Copy the weights of each stacked network into its list of networks (pairs: stacked, list)."""
    for stacked, networks in zip(pairs[::2], pairs[1::2]):
        if stacked is not None:
            stacked.unstack(networks)
