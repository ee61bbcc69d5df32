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
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .penalties import clip_weights, gradient_penalty

__all__ = ["LOSSES", "Recipe", "NonFiniteLoss", "History", "critic_loss", "generator_loss", "train", "load_checkpoint"]

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
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.generator_batch_size is not None and (
            not isinstance(self.generator_batch_size, int) or self.generator_batch_size < 1
        ):
            raise ValueError(f"generator_batch_size must be a positive integer or None, got {self.generator_batch_size!r}")
        for name in ("lr", "clip"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not (isinstance(self.lam, (int, float)) and math.isfinite(self.lam) and self.lam >= 0):
            raise ValueError(f"lam must be a non-negative number, got {self.lam!r}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))

    @property
    def fake_batch_size(self) -> int:
        return self.generator_batch_size or self.batch_size


class NonFiniteLoss(FloatingPointError):
    """A loss became NaN or infinite; ``step`` and ``quantity`` say where."""

    def __init__(self, step: int, quantity: str, value: float, checkpoint: Path | None):
        self.step, self.quantity, self.value, self.checkpoint = step, quantity, value, checkpoint
        kept = f"; the last good checkpoint is {checkpoint}" if checkpoint else ""
        super().__init__(f"{quantity} became {value} at generator step {step}: training stopped{kept}")


History = dict  # name -> list of floats, one entry per generator step ("step" holds the step numbers)


def _optimizer(recipe: Recipe, parameters) -> torch.optim.Optimizer:
    if recipe.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=recipe.lr, betas=recipe.betas)
    return torch.optim.RMSprop(parameters, lr=recipe.lr)


def critic_loss(recipe: Recipe, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, rng=None):
    r"""The critic's objective :math:`L_f` of ``recipe.loss`` (module docstring) on one batch.

    Returns ``(loss, logs)``: the loss keeps its graph; ``logs`` holds detached values to record.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    f_real, f_fake = critic(real), critic(fake)
    gap = f_real.mean() - f_fake.mean()
    if recipe.loss == "gan":
        loss = F.softplus(-f_real).mean() + F.softplus(f_fake).mean()
    else:
        loss = -gap
    logs = {"w1_estimate": gap.detach()}
    if recipe.loss == "wgan-gp":
        penalty, grad_norms = gradient_penalty(critic, real, fake, one_sided=recipe.one_sided, generator=rng)
        loss = loss + recipe.lam * penalty
        logs.update(penalty=penalty.detach(), grad_norm_mean=grad_norms.mean(), grad_norm_std=grad_norms.std())
    logs["critic_loss"] = loss.detach()
    return loss, logs


def generator_loss(recipe: Recipe, critic: nn.Module, fake: torch.Tensor) -> torch.Tensor:
    r"""The generator's objective :math:`L_G`: :math:`-\mathbb{E} f(\tilde x)`, or for the GAN :math:`\mathbb{E}\,\mathrm{softplus}(-f(\tilde x))`."""
    scores = critic(fake)
    if recipe.loss == "gan":
        return F.softplus(-scores).mean()
    return -scores.mean()


def _save(path: Path, payload: dict) -> None:
    """Write atomically: a crash while saving leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    os.replace(partial, path)


def load_checkpoint(path, generator: nn.Module | None = None, critic: nn.Module | None = None) -> dict:
    """Read a checkpoint written by :func:`train`; load its weights into ``generator`` / ``critic`` if given."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    payload = torch.load(path, map_location="cpu", weights_only=False)
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


def train(
    generator: nn.Module,
    critic: nn.Module,
    real: Callable[[int, torch.Generator], torch.Tensor],
    recipe: Recipe,
    *,
    latent_dim: int,
    seed: int = 0,
    device: str | torch.device = "cpu",
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 1000,
    resume: bool = False,
    until: int | None = None,
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
    so a CPU run is reproducible bit for bit.

    ``checkpoint`` (a file path) is written every ``checkpoint_every`` steps and at the end: the
    networks, optimisers, schedules, random state, step and history. With ``resume=True`` the run
    continues from it, and an interrupted-then-resumed run equals an uninterrupted one. ``until``
    stops after that generator step (the schedule still spans ``recipe.steps``), to be continued later.
    ``callback(step, generator, critic, history)`` runs at step 0 (fresh runs) and every
    ``callback_every`` steps, after the history is up to date.
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    if not callable(real):
        raise TypeError("real must be callable: real(n, rng) -> tensor of n real samples")
    for name, value in (("latent_dim", latent_dim), ("checkpoint_every", checkpoint_every),
                        ("log_every", log_every), ("callback_every", callback_every)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if until is not None and (not isinstance(until, int) or until < 1):
        raise ValueError(f"until must be a positive integer or None, got {until!r}")
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    if resume and (checkpoint is None or not checkpoint.is_file()):
        raise FileNotFoundError(f"resume=True but there is no checkpoint at {checkpoint}")

    device = torch.device(device)
    generator.to(device).train()
    critic.to(device).train()
    opt_g, opt_c = _optimizer(recipe, generator.parameters()), _optimizer(recipe, critic.parameters())
    decay = (lambda i: max(0.0, 1 - i / recipe.steps)) if recipe.lr_decay else (lambda i: 1.0)
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, decay)
    sched_c = torch.optim.lr_scheduler.LambdaLR(opt_c, decay)
    rng = torch.Generator(device).manual_seed(seed)
    history: History = {}
    start, elapsed = 0, 0.0
    if resume:
        state = load_checkpoint(checkpoint, generator, critic)
        if state["recipe"] != asdict(recipe) or state["seed"] != seed or state["latent_dim"] != latent_dim:
            raise ValueError(f"{checkpoint} was written by a run with a different recipe, seed or latent_dim")
        for obj, key in ((opt_g, "opt_g"), (opt_c, "opt_c"), (sched_g, "sched_g"), (sched_c, "sched_c")):
            obj.load_state_dict(state[key])
        rng.set_state(state["rng"])
        start, elapsed, history = state["step"], state["elapsed"], state["history"]

    def noise(n: int) -> torch.Tensor:
        return torch.randn(n, latent_dim, generator=rng, device=device)

    def save(step: int) -> None:
        _save(checkpoint, {
            "step": step, "elapsed": elapsed + time.perf_counter() - t0, "history": history,
            "recipe": asdict(recipe), "seed": seed, "latent_dim": latent_dim, "rng": rng.get_state(),
            "generator": generator.state_dict(), "critic": critic.state_dict(),
            "opt_g": opt_g.state_dict(), "opt_c": opt_c.state_dict(),
            "sched_g": sched_g.state_dict(), "sched_c": sched_c.state_dict(),
        })

    end = recipe.steps if until is None else min(until, recipe.steps)
    t0 = time.perf_counter()
    pending: list[dict] = []
    if callback is not None and start == 0:
        callback(0, generator, critic, history)
    bar = tqdm(range(start + 1, end + 1), initial=start, total=end, disable=not progress, desc=recipe.loss)
    for step in bar:
        # G is fixed during the critic steps, so their fake batches come from one forward pass.
        with torch.no_grad():
            fakes = generator(noise(recipe.critic_steps * recipe.batch_size)).chunk(recipe.critic_steps)
        for fake_batch in fakes:
            real_batch = real(recipe.batch_size, rng)
            loss, logs = critic_loss(recipe, critic, real_batch, fake_batch, rng)
            opt_c.zero_grad(set_to_none=True)
            loss.backward()
            opt_c.step()
            if recipe.loss == "wgan-clip":
                clip_weights(critic, recipe.clip)
        critic.requires_grad_(False)  # the generator step needs gradients through f, not for f's weights
        g_loss = generator_loss(recipe, critic, generator(noise(recipe.fake_batch_size)))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        critic.requires_grad_(True)
        logs.update(generator_loss=g_loss.detach(), step=step, lr=sched_g.get_last_lr()[0],
                    time=elapsed + time.perf_counter() - t0)
        sched_g.step()
        sched_c.step()
        pending.append(logs)

        saving = checkpoint is not None and (step % checkpoint_every == 0 or step == end)
        calling = callback is not None and step % callback_every == 0
        if step % log_every == 0 or step == end or saving or calling:
            window = len(pending)
            _flush(pending, history, checkpoint)
            seconds = history["time"][-1] - (history["time"][-window - 1] if len(history["time"]) > window else 0.0)
            real_images = window * recipe.critic_steps * recipe.batch_size  # real samples the critic saw
            bar.set_postfix(W1_estimate=f"{history['w1_estimate'][-1]:.3f}",
                            real_per_s=f"{real_images / max(seconds, 1e-9):.0f}", refresh=False)
        if saving:
            save(step)
        if calling:
            callback(step, generator, critic, history)
    bar.close()
    return history
