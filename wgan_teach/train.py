r"""Training a GAN: Algorithm 1 of WGAN-GP (:func:`train_step`), with WGAN and the GAN as variants,
and the one loop (:func:`loop`) that every training in the book runs in.

Each generator step :math:`t` first trains the critic :math:`f` for ``critic_steps`` steps, then
the generator :math:`G` once:

.. math::

    \text{critic:}\quad x \sim p_r,\ z \sim \mathcal{N}(0, I),\ \tilde x = G(z), \qquad
    \min_f\ L_f(x, \tilde x); \qquad
    \text{generator:}\quad \min_G\ L_G\big(f(G(z))\big),

with the losses :math:`L_f`, :math:`L_G` of :mod:`wgan_teach.losses` (``Recipe.loss``: ``"wgan-gp"``
with Adam, ``"wgan-clip"`` with RMSProp and the critic's weights clipped, ``"gan"``).

:func:`train` trains one run, :func:`train_stacked` many small runs as one stacked network, and
:func:`wgan_teach.critic.fit_critic` a critic alone against fixed samples; all three are
configurations of :func:`loop`, which draws, steps, logs, checks for NaN, checkpoints, stops on time
and shows progress. Every step logs the critic loss, :math:`\widehat{W} = \mathbb{E} f(x) - \mathbb{E} f(\tilde x)`
(the critic's running estimate of :math:`W_1`; for the GAN only a logit gap), the generator loss,
the learning rate, and for WGAN-GP the penalty and the mean and std of :math:`\lVert \nabla f(\hat x)\rVert`.
Values stay on the device and reach the host every ``log_every`` steps, in one transfer. A
non-finite loss stops the run with :class:`NonFiniteLoss`; checkpoints are written only after the
values since the last one were checked, so the last checkpoint on disk is always a good one.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from .checks import non_negative_number, number, positive_int, positive_number
from .files import first_line, torch_bytes, write_atomically
from .losses import LOSSES, critic_loss, generator_loss, log_keys
from .nets import StackedMLP, ema_update
from .penalties import clip_weights
from .speed import PLAIN, Speed, fast_step, load_optimizer, make_optimizer, set_lr

__all__ = ["LOSSES", "Recipe", "NonFiniteLoss", "History", "Draw", "draw", "train_step", "make_step", "loop", "train",
           "train_stacked", "load_checkpoint"]

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

    def __init__(self, step: int, quantity: str, value: float, checkpoint: Path | None, unit: str = "generator step"):
        self.step, self.quantity, self.value, self.checkpoint = step, quantity, value, checkpoint
        kept = f"; the last good checkpoint is {checkpoint}" if checkpoint else ""
        super().__init__(f"{quantity} became {value} at {unit} {step}: training stopped{kept}")


History = dict  # name -> list of floats, one entry per generator step ("step" holds the step numbers)


class Draw(NamedTuple):
    r"""The random inputs of one generator step (:func:`draw`): the latents of all critic steps'
    fakes, one real batch and (WGAN-GP) one :math:`\epsilon` per sample for each critic step, and
    the generator's latents. For stacked runs each field holds the runs' inputs one run after another."""

    z_critic: torch.Tensor
    reals: tuple[torch.Tensor, ...]
    epsilons: tuple[torch.Tensor | None, ...]
    z_generator: torch.Tensor

    @staticmethod
    def cat(draws: Sequence[Draw]) -> Draw:
        """The draws of several runs joined run by run, for a stacked step."""
        join = lambda parts: None if parts[0] is None else torch.cat(parts)
        return Draw(join([d.z_critic for d in draws]), tuple(map(join, zip(*(d.reals for d in draws)))),
                    tuple(map(join, zip(*(d.epsilons for d in draws)))), join([d.z_generator for d in draws]))


def draw(recipe: Recipe, real: Callable, noise: Callable, rng: torch.Generator) -> Draw:
    r"""All random inputs of one generator step, in a fixed order: the latents of the critic steps'
    fakes; per critic step a real batch and (WGAN-GP) one :math:`\epsilon` per sample; the generator's latents."""
    z_critic = noise(recipe.critic_steps * recipe.batch_size)
    reals, epsilons = [], []
    for _ in range(recipe.critic_steps):
        reals.append(real(recipe.batch_size, rng))
        epsilons.append(torch.rand(recipe.batch_size, generator=rng, device=reals[-1].device).to(reals[-1].dtype)
                        if recipe.loss == "wgan-gp" else None)
    return Draw(z_critic, tuple(reals), tuple(epsilons), noise(recipe.fake_batch_size))


def train_step(generator: nn.Module, critic: nn.Module, opt_g, opt_c,
               recipe: Recipe, inputs: Draw, runs: int = 1) -> dict[str, torch.Tensor]:
    r"""One generator step of Algorithm 1 (Gulrajani et al. 2017) on the random inputs of :func:`draw`::

        for i = 1, ..., n_critic:
            x ~ p_r,  z ~ N(0, I),  eps ~ U[0, 1],  x~ = G(z)
            w <- Adam(grad_w L_f(x, x~))        (WGAN: RMSProp, then clip w to [-c, c])
        theta <- Adam(grad_theta L_G(G(z)))     (z ~ N(0, I))

    with :math:`L_f`, :math:`L_G` of :mod:`wgan_teach.losses`. With ``runs`` > 1 (stacked networks) the
    batches hold the runs' rows one run after another; the logs returned hold one value per run.
    """
    with torch.no_grad():  # G is fixed during the critic steps: all their fakes at once
        fakes = generator(inputs.z_critic)
    fakes = fakes.unflatten(0, (runs, recipe.critic_steps, -1)).unbind(1)
    for real, fake, epsilon in zip(inputs.reals, fakes, inputs.epsilons):
        loss, logs = critic_loss(recipe, critic, real, fake.flatten(0, 1),
                                 epsilon=epsilon, runs=runs)
        opt_c.zero_grad(set_to_none=True)
        loss.sum().backward()  # summed over runs: each run gets its own gradient
        opt_c.step()
        if recipe.loss == "wgan-clip":
            clip_weights(critic, recipe.clip)
    critic.requires_grad_(False)  # gradients through f, not for f's weights
    try:
        fake = generator(inputs.z_generator)
        g_loss = generator_loss(recipe, critic, fake, runs=runs)
        opt_g.zero_grad(set_to_none=True)
        g_loss.sum().backward()
        opt_g.step()
    finally:  # also after an interruption, so that a later run trains the critic again
        critic.requires_grad_(True)
    return {**logs, "generator_loss": g_loss.detach()}


def make_step(generator, critic, opt_g, opt_c, recipe: Recipe, *, speed: Speed = PLAIN, device="cpu",
              ema: nn.Module | None = None, ema_decay: float = 0.999, runs: int = 1) -> Callable[[Draw], torch.Tensor]:
    """The step the loop calls: ``step(inputs)`` runs :func:`train_step` (or, with a lever of
    ``speed`` that changes the step, :func:`wgan_teach.speed.fast_step`) and the moving average
    ``ema``, and returns the logged values (:func:`wgan_teach.losses.log_keys`), shape (values, runs)."""
    if speed.changes_step:
        return fast_step(generator, critic, opt_g, opt_c, recipe, speed=speed, device=torch.device(device),
                         ema=ema, ema_decay=ema_decay, runs=runs)
    keys = log_keys(recipe)

    def step(inputs: Draw) -> torch.Tensor:
        logs = train_step(generator, critic, opt_g, opt_c, recipe, inputs, runs)
        if ema is not None:
            ema_update(ema, generator, ema_decay)
        return torch.stack([logs[key].float() for key in keys])

    return step


_REFUSED = re.compile(r"Unsupported global: GLOBAL (\S+)")  # torch's word for an object that is not data


def _save(path: Path, payload: dict) -> None:
    """Write atomically: a crash or a full disk while saving leaves the previous checkpoint intact."""
    write_atomically(path, torch_bytes(payload))


def load_checkpoint(path, generator: nn.Module | None = None, critic: nn.Module | None = None) -> dict:
    """Read a checkpoint written by :func:`train`; load its weights into ``generator`` / ``critic`` if given.

    A checkpoint holds only tensors, numbers, strings, lists, tuples and dicts, and is read with
    ``torch.load(..., weights_only=True)``: one that carries any other object (a pickled function
    could run code when read) is refused with a ValueError. A damaged file (truncated, empty,
    overwritten) is a ValueError that names it and says what to do."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated zip, an empty file, garbage: torch fails in many ways
        refused = _REFUSED.search(str(err))
        if refused:
            raise ValueError(f"{path} holds {refused.group(1)}, not only tensors, numbers, strings, lists and "
                             "dicts: refused, since unpickling it could run code") from err
        raise ValueError(f"{path} is damaged and cannot be read ({first_line(err)}); restore it from a copy, "
                         "or start the run again in another folder") from err
    if not isinstance(payload, dict):
        raise ValueError(f"{path} is not a checkpoint of wgan_teach.train (it holds a {type(payload).__name__})")
    if generator is not None:
        generator.load_state_dict(payload["generator"])
    if critic is not None:
        critic.load_state_dict(payload["critic"])
    return payload


def _flush(pending: list, histories: list[History], keys: Sequence[str], stop_on_nan: bool,
           checkpoint: Path | None, unit: str) -> None:
    """Move the pending per-step values to the host in one transfer, check them and append them."""
    if not pending:
        return
    values = torch.stack([v for *_, v in pending]).cpu().tolist()  # (steps, keys, runs)
    for (step, lr, seconds, _), row in zip(pending, values):
        for history, run_values in zip(histories, zip(*row)):
            named = dict(zip(keys, run_values))
            for key in CHECKED if stop_on_nan else ():
                if key in named and not math.isfinite(named[key]):
                    kept = checkpoint if checkpoint and checkpoint.exists() else None
                    raise NonFiniteLoss(step, key, named[key], kept, unit)
            for key, value in (*named.items(), ("step", step), ("lr", lr), ("time", seconds)):
                history.setdefault(key, []).append(value)
    pending.clear()


class _Clock:
    """Training wall time, with the time spent in callbacks (timed once the device is done) left out."""

    def __init__(self, device: torch.device, elapsed: float = 0.0):
        self.device, self.elapsed, self.paused = device, elapsed, 0.0
        self.started = self.now()

    def now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def training(self) -> float:
        """Seconds of training so far, earlier calls (``elapsed``) included; read without waiting for
        the device, so that steps keep queueing (a callback's pause waits for it)."""
        return self.elapsed + time.perf_counter() - self.started - self.paused

    def pause_for(self, call: Callable[[int], None], step: int) -> None:
        began = self.now()
        call(step)
        self.paused += self.now() - began


def loop(step: Callable[[int], torch.Tensor], keys: Sequence[str], *, steps: int, lr_at: Callable[[int], float],
         optimizers: Sequence[torch.optim.Optimizer], histories: list[History], start: int = 0, end: int | None = None,
         elapsed: float = 0.0, device="cpu", log_every: int = 100, stop_on_nan: bool = True,
         on_log: Callable[[int], None] | None = None, save: Callable[[int, float], None] | None = None,
         checkpoint: Path | None = None, checkpoint_every: int = 1000, callback: Callable[[int], None] | None = None,
         callback_every: int = 100, stop_after: float | None = None, samples_per_step: int = 0,
         progress: bool = True, desc: str = "", unit: str = "generator step") -> list[History]:
    """The one training loop: steps ``start + 1`` to ``end`` (default ``steps``) of a schedule of ``steps``.

    Each step sets every optimiser's learning rate to ``lr_at(t)`` and calls ``step(t)``, which
    draws its random inputs, trains, and returns the values named ``keys``, shape (keys, runs),
    left on the device. Every ``log_every`` steps, at the last step, before a checkpoint and before
    a callback, the values go to the host in one transfer and are appended to ``histories`` (one
    per run) with ``step``, ``lr`` and ``time`` (training seconds, ``elapsed`` before this call
    included, callbacks left out); then, with ``stop_on_nan``, a non-finite loss stops training
    with :class:`NonFiniteLoss`, and ``on_log(t)`` runs. ``save(t, seconds)`` writes the
    checkpoint ``checkpoint`` every ``checkpoint_every`` steps and at the end; ``callback(t)`` runs
    at step 0 (when ``start`` is 0) and every ``callback_every`` steps. ``stop_after`` seconds of
    this call (callbacks included) end the loop after the step that passes them. A progress bar (tqdm) counts the steps
    and ends at its total when the loop runs to its end (green in Jupyter).
    """
    end = steps if end is None else end
    clock, pending = _Clock(torch.device(device), elapsed), []
    if callback is not None and start == 0:
        clock.pause_for(callback, 0)
    with tqdm(initial=start, total=end, disable=not progress, desc=desc) as bar:
        for t in range(start + 1, end + 1):
            lr = lr_at(t)
            for optimizer in optimizers:
                set_lr(optimizer, lr)
            values = step(t)
            pending.append((t, lr, clock.training(), values))
            stopping = stop_after is not None and t < end and time.perf_counter() - clock.started >= stop_after
            last = t == end or stopping
            saving = save is not None and (t % checkpoint_every == 0 or last)
            calling = callback is not None and t % callback_every == 0
            if t % log_every == 0 or last or saving or calling:
                window = len(pending)
                _flush(pending, histories, keys, stop_on_nan, checkpoint, unit)
                _show(bar, histories[0], window, samples_per_step)
                if on_log is not None:
                    on_log(t)
            if saving:
                save(t, clock.training())
            if calling:
                clock.pause_for(callback, t)
            bar.update()  # counted before a break: a run stopped by the clock ends short of its total
            if stopping:
                break
    return histories


def _show(bar, history: History, window: int, samples_per_step: int) -> None:
    """The progress bar's note: the critic's estimate and the real samples the critic saw per second."""
    times = history["time"]
    seconds = times[-1] - (times[-window - 1] if len(times) > window else 0.0)
    note = {"W1_estimate": f"{history['w1_estimate'][-1]:.3f}"} if "w1_estimate" in history else {}
    if samples_per_step:
        note["real_per_s"] = f"{window * samples_per_step / max(seconds, 1e-9):.0f}"
    bar.set_postfix(note, refresh=False)


def _check_counts(**counts) -> None:
    for name, value in counts.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_first_step(optimizer: str, lr: float, betas, dtype: torch.dtype) -> None:
    """Refuse a learning rate whose first update overflows the weights' precision: Adam's first
    step is ``lr / (1 - beta1)`` per weight, RMSProp's ``lr`` times a bounded ratio."""
    size = lr / (1 - betas[0]) if optimizer == "adam" else lr
    if not size <= torch.finfo(dtype).max:
        raise ValueError(f"lr={lr!r} is too large: {optimizer}'s first step ({size:.3g}) overflows {dtype} "
                         f"(largest {torch.finfo(dtype).max:.3g}); lower lr")


def _check_train(recipe, speed, real, latent_dim, checkpoint_every, log_every, callback_every, until, stop_after,
                 ema_decay, checkpoint, resume) -> Path | None:
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    if not isinstance(speed, Speed):
        raise TypeError(f"speed must be a Speed, got {type(speed).__name__}")
    if not callable(real):
        raise TypeError("real must be callable: real(n, rng) -> tensor of n real samples")
    _check_counts(latent_dim=latent_dim, checkpoint_every=checkpoint_every, log_every=log_every,
                  callback_every=callback_every)
    if until is not None:
        positive_int(until, "until")
    if stop_after is not None:
        positive_number(stop_after, "stop_after")
    if not 0 < number(ema_decay, "ema_decay") < 1:
        raise ValueError(f"ema_decay must be in (0, 1), got {ema_decay!r}")
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    if resume and (checkpoint is None or not checkpoint.is_file()):
        raise FileNotFoundError(f"resume=True but there is no checkpoint at {checkpoint}")
    return checkpoint


def _resume(checkpoint: Path, recipe, seed, latent_dim, generator, critic, ema, opt_g, opt_c, rng):
    """Load the state of ``checkpoint`` into the networks, optimisers and ``rng``; return (step, elapsed, history)."""
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
    return state["step"], state["elapsed"], state["history"]


def train(generator: nn.Module, critic: nn.Module, real: Callable[[int, torch.Generator], torch.Tensor],
          recipe: Recipe, *, latent_dim: int, seed: int = 0, device: str | torch.device = "cpu", speed: Speed = PLAIN,
          ema: nn.Module | None = None, ema_decay: float = 0.999, checkpoint: str | Path | None = None,
          checkpoint_every: int = 1000, resume: bool = False, until: int | None = None,
          stop_after: float | None = None, log_every: int = 100,
          callback: Callable[[int, nn.Module, nn.Module, History], None] | None = None, callback_every: int = 100,
          progress: bool = True) -> History:
    r"""Train ``generator`` against ``critic`` by ``recipe`` (module docstring); returns the history.

    ``real(n, rng)`` draws ``n`` real samples on ``device`` using the torch generator ``rng``
    (for the toy data: ``functools.partial(toy.sample, name)``). Latents are
    :math:`z \sim \mathcal{N}(0, I_d)` with :math:`d` = ``latent_dim``. All randomness of the loop — latents,
    real batches and the penalty's :math:`\epsilon` — comes from one generator seeded by ``seed``,
    so a CPU run is reproducible bit for bit. ``speed`` (:class:`wgan_teach.speed.Speed`) chooses
    how the step is computed, not what it computes. ``ema``, a copy of the generator, is kept as the
    exponential moving average of its weights (:func:`wgan_teach.nets.ema_update`, :math:`\beta` = ``ema_decay``).

    ``checkpoint`` (a file path) is written every ``checkpoint_every`` steps and at the end: the
    networks, optimisers, random state, step and history. With ``resume=True`` the run continues
    from it, and an interrupted-then-resumed run equals an uninterrupted one. ``until`` stops after
    that generator step (the schedule still spans ``recipe.steps``), ``stop_after`` after the step
    that passes that many seconds of training in this call, both to be continued later.
    ``callback(step, generator, critic, history)`` runs at step 0 (fresh runs) and every
    ``callback_every`` steps, after the history is up to date. The history's ``time`` is training
    wall time: the time spent in callbacks (evaluation) is left out.
    """
    checkpoint = _check_train(recipe, speed, real, latent_dim, checkpoint_every, log_every, callback_every, until,
                              stop_after, ema_decay, checkpoint, resume)
    device = torch.device(device)
    speed.check(device, recipe.optimizer, recipe.lr_decay)
    speed.prepare(device, generator, critic, ema)
    dtype = next(generator.parameters()).dtype
    check_first_step(recipe.optimizer, recipe.lr, recipe.betas, dtype)
    opt_g, opt_c = (make_optimizer(recipe.optimizer, net.parameters(), lr=recipe.lr, betas=recipe.betas, speed=speed,
                                   device=device) for net in (generator, critic))
    rng = torch.Generator(device).manual_seed(seed)
    start, elapsed, history = 0, 0.0, {}
    if resume:
        start, elapsed, history = _resume(checkpoint, recipe, seed, latent_dim, generator, critic, ema, opt_g, opt_c,
                                          rng)
    noise = lambda n: torch.randn(n, latent_dim, generator=rng, device=device).to(dtype)  # float32 draws in any dtype
    step = make_step(generator, critic, opt_g, opt_c, recipe, speed=speed, device=device, ema=ema, ema_decay=ema_decay)

    def save(t: int, seconds: float) -> None:
        _save(checkpoint, {
            "step": t, "elapsed": seconds, "history": history, "recipe": asdict(recipe), "seed": seed,
            "latent_dim": latent_dim, "rng": rng.get_state(), "generator": generator.state_dict(),
            "critic": critic.state_dict(), "opt_g": opt_g.state_dict(), "opt_c": opt_c.state_dict(),
            **({"ema": ema.state_dict()} if ema is not None else {}),
        })

    loop(lambda t: step(draw(recipe, real, noise, rng)), log_keys(recipe), steps=recipe.steps, lr_at=recipe.lr_at,
         optimizers=(opt_g, opt_c), histories=[history], start=start, elapsed=elapsed,
         end=recipe.steps if until is None else min(until, recipe.steps), device=device, log_every=log_every,
         save=save if checkpoint is not None else None, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
         callback=(lambda t: callback(t, generator, critic, history)) if callback is not None else None,
         callback_every=callback_every, stop_after=stop_after, progress=progress, desc=recipe.loss,
         samples_per_step=recipe.critic_steps * recipe.batch_size)
    return history


def train_stacked(generators: Sequence[nn.Sequential], critics: Sequence[nn.Sequential],
                  reals: Sequence[Callable[[int, torch.Generator], torch.Tensor]], recipe: Recipe, *, latent_dim: int,
                  seeds: Sequence[int], device: str | torch.device = "cpu", emas: Sequence[nn.Sequential] | None = None,
                  ema_decay: float = 0.999, log_every: int = 100,
                  callback: Callable[[int, list, list, list[History]], None] | None = None, callback_every: int = 100,
                  stop_after: float | None = None, progress: bool = True) -> list[History]:
    r"""Train ``len(seeds)`` independent runs of one recipe as one: run ``r`` trains ``generators[r]``
    against ``critics[r]`` on ``reals[r]`` from seed ``seeds[r]``; returns one history per run.

    The networks (MLPs of one shape per role) are stacked into :class:`wgan_teach.nets.StackedMLP`
    s and each :func:`train_step` runs once for all runs, on ``device``. Every run draws its random
    inputs from its own generator in the order :func:`train` does, so run ``r`` equals
    ``train(generators[r], critics[r], reals[r], recipe, latent_dim=latent_dim, seed=seeds[r])`` up to
    float32 round-off (the stacked products add in another order, and the optimisers are torch's fused
    ones: the same update in one kernel). The trained weights are copied back
    into ``generators`` and ``critics``; with ``emas`` (copies of the generators), the moving average of
    each generator's weights (:func:`wgan_teach.nets.ema_update`, :math:`\beta` = ``ema_decay``) is kept
    and copied into them. The histories' ``time`` is the wall time of all runs together,
    callbacks excluded. ``callback(step, generators, critics, histories)`` runs at step 0 and every
    ``callback_every`` steps with the current weights copied back. ``stop_after`` seconds of training
    end the runs at the first step after them (with the schedule still spanning ``recipe.steps``).
    Nothing mixes the runs, so a run
    whose losses turn NaN does not stop or disturb the others: its history records the NaN.
    """
    generators, critics, reals, seeds = _check_stack(generators, critics, reals, seeds, recipe, emas, ema_decay,
                                                     latent_dim, log_every, callback_every, stop_after)
    runs, device = len(seeds), torch.device(device)
    generator, critic = StackedMLP(generators).to(device), StackedMLP(critics).to(device)
    ema = StackedMLP(emas).to(device).requires_grad_(False) if emas is not None else None
    speed = Speed(fused_optimizers=True)  # one kernel per update: a fifth of a small stack's step time on a CPU
    dtype = next(generator.parameters()).dtype
    check_first_step(recipe.optimizer, recipe.lr, recipe.betas, dtype)
    opt_g, opt_c = (make_optimizer(recipe.optimizer, net.parameters(), lr=recipe.lr, betas=recipe.betas,
                                   speed=speed, device=device) for net in (generator, critic))
    rngs = [torch.Generator(device).manual_seed(seed) for seed in seeds]
    noises = [lambda n, rng=rng: torch.randn(n, latent_dim, generator=rng, device=device).to(dtype) for rng in rngs]
    step = make_step(generator, critic, opt_g, opt_c, recipe, speed=speed, device=device, ema=ema,
                     ema_decay=ema_decay, runs=runs)
    histories: list[History] = [{} for _ in seeds]

    def call(t: int) -> None:
        _unstack(generator, generators, critic, critics, ema, emas)
        callback(t, generators, critics, histories)

    loop(lambda t: step(Draw.cat([draw(recipe, *args) for args in zip(reals, noises, rngs)])), log_keys(recipe),
         steps=recipe.steps, lr_at=recipe.lr_at, optimizers=(opt_g, opt_c), histories=histories, device=device,
         log_every=log_every, stop_on_nan=False, callback=call if callback is not None else None,
         callback_every=callback_every, stop_after=stop_after, progress=progress, desc=f"{recipe.loss} x {runs}",
         samples_per_step=recipe.critic_steps * recipe.batch_size)
    _unstack(generator, generators, critic, critics, ema, emas)
    return histories


def _check_stack(generators, critics, reals, seeds, recipe, emas, ema_decay, latent_dim, log_every, callback_every,
                 stop_after) -> tuple[list, list, list, list]:
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    generators, critics, reals, seeds = list(generators), list(critics), list(reals), list(seeds)
    if not seeds or not len(generators) == len(critics) == len(reals) == len(seeds):
        raise ValueError("generators, critics, reals and seeds must be non-empty and of one length (one per run)")
    if not all(callable(real) for real in reals):
        raise TypeError("reals must hold callables: real(n, rng) -> tensor of n real samples")
    _check_counts(latent_dim=latent_dim, log_every=log_every, callback_every=callback_every)
    if stop_after is not None:
        positive_number(stop_after, "stop_after")
    if emas is not None and len(emas) != len(seeds):
        raise ValueError(f"emas must hold one generator copy per run ({len(seeds)}), got {len(emas)}")
    if not 0 < ema_decay < 1:
        raise ValueError(f"ema_decay must be in (0, 1), got {ema_decay!r}")
    return generators, critics, reals, seeds


def _unstack(*pairs) -> None:
    """Copy the weights of each stacked network into its list of networks (pairs: stacked, list)."""
    for stacked, networks in zip(pairs[::2], pairs[1::2]):
        if stacked is not None:
            stacked.unstack(networks)
