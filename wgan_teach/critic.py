r"""Fitting a critic between two fixed sample sets: a neural estimate of :math:`W_1`.

By the Kantorovich–Rubinstein duality,

.. math::

    W_1(p, q) = \sup_{\lVert f \rVert_L \le 1} \mathbb{E}_{x \sim p} f(x) - \mathbb{E}_{y \sim q} f(y),

so a network :math:`f` kept (approximately) 1-Lipschitz by the gradient penalty and trained to
maximise the mean gap between the two sets is an estimator of :math:`W_1` — the WGAN critic
without a generator. :func:`fit_critic` minimises

.. math::

    \mathbb{E}_{y \sim q} f(y) - \mathbb{E}_{x \sim p} f(x) + \lambda\, \mathbb{E}_{\hat x}\big(\lVert \nabla f(\hat x) \rVert - 1\big)^2

with Adam on minibatches and reports :math:`\mathbb{E}_p f - \mathbb{E}_q f` on the full sets.

The defaults are those of an *estimator*, not of WGAN-GP training: the penalty is soft, and on a
pure translation by :math:`W` the best critic of slope :math:`s` maximises
:math:`sW - \lambda (s - 1)^2`, so :math:`s = 1 + W / (2\lambda)` and the estimate overshoots by
the factor :math:`1 + W/(2\lambda)` (15 % for :math:`W = 3`, :math:`\lambda = 10`). A large
:math:`\lambda = 100` makes that about 1.5 %; the one-sided penalty keeps it from forcing slope 1
between samples where the optimal critic is flatter (Chapter 5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import math
import numbers

import numpy as np
import torch

from .checks import non_negative_number, positive_int, positive_number, real_array, takes_features
from .nets import critic_mlp
from .penalties import PENALTY_POINTS, clip_weights, gradient_penalty
from .train import check_first_step, loop

__all__ = ["CONSTRAINTS", "CriticFit", "as_points", "critic_estimate", "fit_critic"]


def as_points(samples, name: str) -> torch.Tensor:
    """A float32 tensor of shape (n, d) from an array (or tensor) of shape (n,) or (n, d); validated:
    real numbers, finite, and within float32's range."""
    points = real_array(samples, name)
    if points.ndim == 1:
        points = points[:, None]
    if points.ndim != 2 or points.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n,) or (n, d) with n >= 1, got {tuple(points.shape)}")
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    if np.abs(points).max() > np.finfo(np.float32).max:
        raise ValueError(f"{name} must lie within float32's range (|x| <= 3.4e38), the critic's precision")
    return torch.from_numpy(points.astype(np.float32))


@torch.no_grad()
def critic_estimate(critic, real, fake) -> float:
    r"""The dual objective :math:`\mathbb{E}_{x \sim p} f(x) - \mathbb{E}_{y \sim q} f(y)` on two sample sets."""
    was_training = critic.training
    critic.eval()
    value = critic(as_points(real, "real")).mean() - critic(as_points(fake, "fake")).mean()
    critic.train(was_training)
    return float(value)


@dataclass
class CriticFit:
    """A trained critic, its final estimate of W1 and the training history (one entry per log step)."""

    critic: torch.nn.Module
    estimate: float
    history: dict[str, list] = field(default_factory=dict)


CONSTRAINTS = ("gp", "clip", "none")


def fit_critic(real, fake, *, constraint: str = "gp", lam: float = 100.0, one_sided: bool = True,
               penalty_at: str = "interpolates", c: float = 0.01, steps: int = 800, lr: float | None = None,
               batch_size: int = 512, width: int = 64, depth: int = 3, norm: str = "none",
               critic: torch.nn.Module | None = None, seed: int = 0, log_every: int = 20, progress: bool = False,
               callback=None) -> CriticFit:
    r"""Train an MLP critic between ``real`` (p) and ``fake`` (q) to maximise :math:`\mathbb{E}_p f - \mathbb{E}_q f`.

    ``constraint`` keeps it Lipschitz:

    * ``"gp"``: gradient penalty of strength ``lam`` (``one_sided`` or two-sided, taken at
      ``penalty_at``: interpolates, or real or fake samples to show those mistakes), Adam
      (lr 2e-3 by default, :math:`\beta = (0.5, 0.9)`);
    * ``"clip"``: WGAN's weight clipping to :math:`[-c, c]` after every step, RMSProp (lr 1e-3 by default);
    * ``"none"``: no constraint (Adam), to show that the estimate then means nothing.

    ``real`` and ``fake`` are arrays of shape (n,) or (n, d) (sizes may differ). A ``critic`` may be
    passed in; otherwise an MLP of ``depth`` hidden layers of ``width`` units with ``norm`` is built.
    Each step draws a minibatch of ``batch_size`` from each set, and the learning rate decays
    linearly to zero. Every ``log_every`` steps the history records the full-set estimate, the
    penalty, and the mean, standard deviation and all values (``grad_norms``) of
    :math:`\lVert \nabla f(\hat x) \rVert` at the step's interpolates (computed for monitoring
    whatever the constraint). ``callback(step, critic)``, if given, is called after every step.
    Deterministic for a given ``seed`` on CPU.

    Arguments are checked before training (a ``critic`` must take points of the samples' dimension,
    and ``lr`` must not overflow the optimiser's first step); a fit that still diverges stops with
    a FloatingPointError naming the step, never a NaN estimate. The steps run in :func:`wgan_teach.train.loop`.
    """
    real_t, fake_t, one_sided, lam, c, lr = _check_fit(real, fake, constraint, penalty_at, one_sided, lam, c, lr,
                                                       seed, critic, callback)
    steps, batch_size, log_every = map(positive_int, (steps, batch_size, log_every),
                                       ("steps", "batch_size", "log_every"))
    torch.manual_seed(seed)
    if critic is None:
        critic = critic_mlp(real_t.shape[1], width=width, depth=depth, norm=norm)
    takes_features(critic, real_t.shape[1], "critic", "real and fake samples")
    optimizer = _optimizer(critic, constraint, lr, c)
    lr = optimizer.defaults["lr"]
    rng = torch.Generator().manual_seed(seed)
    last: dict[str, torch.Tensor] = {}  # the latest step's batches, for the monitoring

    def step(t: int) -> torch.Tensor:
        x = real_t[torch.randint(len(real_t), (batch_size,), generator=rng)]
        y = fake_t[torch.randint(len(fake_t), (batch_size,), generator=rng)]
        loss = critic(y).mean() - critic(x).mean()
        if constraint == "gp":
            penalty, _ = gradient_penalty(critic, x, y, one_sided=one_sided, at=penalty_at, generator=rng)
            loss = loss + lam * penalty
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if constraint == "clip":
            clip_weights(critic, c)
        if callback is not None:
            callback(t, critic)
        last.update(x=x, y=y)
        return loss.detach().reshape(1, 1)

    monitor = _Monitor(critic, real_t, fake_t, one_sided, seed, f"lower lr (now {lr}) or lam (now {lam})")
    # The learning rate decays linearly to zero: the last steps settle the critic instead of jittering.
    loop(step, ["critic_loss"], steps=steps, lr_at=lambda t: lr * (1 - (t - 1) / steps), optimizers=[optimizer],
         histories=[{}], log_every=log_every, on_log=lambda t: monitor(t, last["x"], last["y"]), progress=progress,
         desc="critic", unit="step", samples_per_step=batch_size)
    return CriticFit(critic=critic, estimate=monitor.history["estimate"][-1], history=monitor.history)


def _check_fit(real, fake, constraint, penalty_at, one_sided, lam, c, lr, seed, critic, callback):
    """fit_critic's arguments, checked; returns the samples as tensors and the numbers normalised."""
    real_t, fake_t = as_points(real, "real"), as_points(fake, "fake")
    if real_t.shape[1] != fake_t.shape[1]:
        raise ValueError(f"real and fake must have the same dimension, got {real_t.shape[1]} and {fake_t.shape[1]}")
    if not isinstance(constraint, str) or constraint not in CONSTRAINTS:
        raise ValueError(f"constraint must be one of {CONSTRAINTS}, got {constraint!r}")
    if not isinstance(penalty_at, str) or penalty_at not in PENALTY_POINTS:
        raise ValueError(f"penalty_at must be one of {PENALTY_POINTS}, got {penalty_at!r}")
    if not isinstance(one_sided, (bool, np.bool_)):
        raise TypeError(f"one_sided must be True or False, got {one_sided!r}")
    lam, c = non_negative_number(lam, "lam"), positive_number(c, "c")
    lr = None if lr is None else positive_number(lr, "lr")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if critic is not None and not isinstance(critic, torch.nn.Module):
        raise TypeError(f"critic must be a torch.nn.Module or None, got {type(critic).__name__}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable as callback(step, critic), got {type(callback).__name__}")
    return real_t, fake_t, bool(one_sided), lam, c, lr


def _optimizer(critic: torch.nn.Module, constraint: str, lr: float | None, c: float) -> torch.optim.Optimizer:
    """RMSProp (lr 1e-3) for clipping, after a first clip; Adam (lr 2e-3, betas (0.5, 0.9)) otherwise."""
    dtype = next(critic.parameters()).dtype
    if constraint == "clip":
        clip_weights(critic, c)
        lr = 1e-3 if lr is None else lr
        check_first_step("rmsprop", lr, (0.0, 0.0), dtype)
        return torch.optim.RMSprop(critic.parameters(), lr=lr)
    lr = 2e-3 if lr is None else lr
    check_first_step("adam", lr, (0.5, 0.9), dtype)
    return torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.9))


class _Monitor:
    """fit_critic's record at its log steps: the full-set estimate and, at fresh interpolates of the
    step's batch (with their own epsilon, so that monitoring does not shift the training stream),
    the penalty and the gradient norms. A non-finite estimate or penalty stops the fit."""

    KEYS = ("step", "estimate", "penalty", "grad_norm_mean", "grad_norm_std", "grad_norms")

    def __init__(self, critic, real_t, fake_t, one_sided: bool, seed: int, advice: str):
        self.critic, self.real_t, self.fake_t, self.one_sided, self.advice = critic, real_t, fake_t, one_sided, advice
        self.rng = torch.Generator().manual_seed(seed + 1)
        self.history: dict[str, list] = {k: [] for k in self.KEYS}

    def __call__(self, step: int, x: torch.Tensor, y: torch.Tensor) -> None:
        monitor, grad_norms = gradient_penalty(self.critic, x, y, one_sided=self.one_sided, generator=self.rng)
        history = self.history
        history["step"].append(step)
        history["estimate"].append(critic_estimate(self.critic, self.real_t, self.fake_t))
        history["penalty"].append(float(monitor.detach()))
        history["grad_norm_mean"].append(float(grad_norms.mean()))
        history["grad_norm_std"].append(float(grad_norms.std()) if len(grad_norms) > 1 else 0.0)
        history["grad_norms"].append(grad_norms.numpy())
        for key in ("estimate", "penalty"):
            if not math.isfinite(history[key][-1]):
                raise FloatingPointError(f"the critic's {key} became {history[key][-1]} at step {step}: "
                                         f"training diverged; {self.advice}")
