r"""The three losses the book trains with: what the critic :math:`f` and the generator :math:`G` minimise.

On a batch of real samples :math:`x \sim p_r` and generated ones :math:`\tilde x = G(z)`,
:math:`z \sim \mathcal{N}(0, I)`:

* ``"wgan-gp"`` (Gulrajani et al. 2017), with :math:`\hat x = \epsilon x + (1 - \epsilon)\tilde x`,
  :math:`\epsilon \sim U[0, 1]`:

  .. math::

      L_f = \mathbb{E} f(\tilde x) - \mathbb{E} f(x)
            + \lambda\, \mathbb{E}\big(\lVert \nabla f(\hat x) \rVert - 1\big)^2,
      \qquad L_G = -\mathbb{E} f(G(z));

* ``"wgan-clip"`` (Arjovsky et al. 2017): the same without the penalty,

  .. math::

      L_f = \mathbb{E} f(\tilde x) - \mathbb{E} f(x), \qquad L_G = -\mathbb{E} f(G(z)),

  every critic weight clipped to :math:`[-c, c]` after each critic step;
* ``"gan"`` (Goodfellow et al. 2014, non-saturating): :math:`f` outputs a logit and

  .. math::

      L_f = \mathbb{E}\,\mathrm{softplus}(-f(x)) + \mathbb{E}\,\mathrm{softplus}(f(\tilde x)),
      \qquad L_G = \mathbb{E}\,\mathrm{softplus}(-f(G(z))) = -\mathbb{E} \log \sigma(f(G(z))),

  the binary cross-entropy of real against generated.

:math:`\widehat{W} = \mathbb{E} f(x) - \mathbb{E} f(\tilde x)` is the critic's running estimate
of :math:`W_1` (for the GAN only a logit gap). Which loss, :math:`\lambda` and the one-sided
variant come from a :class:`wgan_teach.train.Recipe` (its fields ``loss``, ``lam``, ``one_sided``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import torch
import torch.nn.functional as F
from torch import nn

from .penalties import interpolates, penalty_from_scores

if TYPE_CHECKING:
    from .train import Recipe

__all__ = ["LOSSES", "critic_loss", "generator_loss"]

LOSSES = ("wgan-gp", "wgan-clip", "gan")


def critic_loss(recipe: Recipe, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                rng=None, *, epsilon: torch.Tensor | None = None,
                score: Callable | None = None, runs: int = 1):
    r"""The critic's objective :math:`L_f` of ``recipe.loss`` (module docstring) on one batch.

    :math:`\epsilon` of the interpolates is drawn with ``rng`` or given as ``epsilon``. ``score(parts)``
    returns the critic's scores of a list of batches (default: one forward each; the fast step of
    :mod:`wgan_teach.speed` scores them in one). With ``runs`` > 1 the batches hold those of that
    many independent runs one after another (a stacked critic, :class:`wgan_teach.nets.StackedMLP`)
    and every expectation is taken over each run's own samples. Returns ``(loss, logs)``: the loss,
    one value per run (shape (runs,)), keeps its graph — backpropagating its sum gives each run's
    weights the gradient of their own loss; ``logs`` holds detached values to record, one per run:
    :math:`\widehat{W}` (``w1_estimate``), the loss, and for WGAN-GP the penalty and the mean and
    standard deviation of :math:`\lVert \nabla f(\hat x) \rVert`.
    """
    if real.shape != fake.shape:
        raise ValueError("real and fake must have the same shape, "
                         f"got {tuple(real.shape)} and {tuple(fake.shape)}")
    _check_runs(runs, len(real))
    score = score or (lambda parts: [critic(part) for part in parts])
    if recipe.loss == "wgan-gp":
        x_hat = interpolates(real, fake, generator=rng, epsilon=epsilon)
        x_hat.requires_grad_(True)
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
        penalty, grad_norms = penalty_from_scores(f_hat, x_hat, runs=runs,
                                                  one_sided=recipe.one_sided)
        loss = loss + recipe.lam * penalty
        grad_norms = grad_norms.reshape(runs, -1)
        logs.update(penalty=penalty.detach(), grad_norm_mean=grad_norms.mean(1),
                    grad_norm_std=grad_norms.std(1))
    logs["critic_loss"] = loss.detach()
    return loss, logs


def generator_loss(recipe: Recipe, critic: nn.Module, fake: torch.Tensor,
                   score: Callable | None = None, runs: int = 1) -> torch.Tensor:
    r"""The generator's objective :math:`L_G`: :math:`-\mathbb{E} f(\tilde x)`, or for the GAN
    :math:`\mathbb{E}\,\mathrm{softplus}(-f(\tilde x))`; one value per run (see :func:`critic_loss`)."""
    _check_runs(runs, len(fake))
    scores = score([fake])[0] if score else critic(fake)
    losses = F.softplus(-scores) if recipe.loss == "gan" else -scores
    return losses.reshape(runs, -1).mean(1)


def log_keys(recipe: Recipe) -> list[str]:
    """The names of the values one generator step logs, in the order :func:`critic_loss` and
    :func:`generator_loss` produce them."""
    penalty = ["penalty", "grad_norm_mean", "grad_norm_std"] if recipe.loss == "wgan-gp" else []
    return ["w1_estimate", *penalty, "critic_loss", "generator_loss"]


def _check_runs(runs, rows: int) -> None:
    if not isinstance(runs, int) or isinstance(runs, bool) or runs < 1 or rows % runs:
        raise ValueError(f"runs must be a positive integer that divides the batch ({rows} rows), got {runs!r}")
