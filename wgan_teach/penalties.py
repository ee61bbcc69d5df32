r"""Keeping the critic 1-Lipschitz: the gradient penalty of WGAN-GP and the weight clipping of WGAN.

**Gradient penalty** (Gulrajani et al. 2017). A differentiable :math:`f` is 1-Lipschitz exactly
when :math:`\lVert \nabla f \rVert \le 1` everywhere, and the optimal critic has
:math:`\lVert \nabla f \rVert = 1` on the straight lines between coupled real and generated
points. So the penalty is evaluated at random points on such lines,

.. math::

    \hat x = \epsilon\, x + (1 - \epsilon)\, \tilde x, \qquad
    x \sim p_r,\ \tilde x \sim p_g,\ \epsilon \sim U[0, 1] \text{ (one per sample)},

    \text{GP} = \mathbb{E}_{\hat x} \big(\lVert \nabla_{\hat x} f(\hat x) \rVert_2 - 1\big)^2
    \quad\text{(two-sided)}, \qquad
    \mathbb{E}_{\hat x} \max\big(0, \lVert \nabla_{\hat x} f(\hat x) \rVert_2 - 1\big)^2
    \quad\text{(one-sided)},

and the critic minimises :math:`\mathbb{E}_{\tilde x} f(\tilde x) - \mathbb{E}_{x} f(x) + \lambda\,\text{GP}`.

**Weight clipping** (Arjovsky et al. 2017) instead forces every weight into :math:`[-c, c]`
after each critic step, which bounds the Lipschitz constant by some (unknown) multiple of a power of c.
"""

from __future__ import annotations

import copy
import math
import numbers

import torch
from torch import nn

from .checks import network_output, torch_generator

__all__ = ["PENALTY_POINTS", "interpolates", "gradient_penalty", "penalty_from_scores", "clip_weights", "layer_gradient_norms", "critic_weights"]


def _check_pair(real: torch.Tensor, fake: torch.Tensor) -> None:
    for name, t in (("real", real), ("fake", fake)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")
        if t.ndim < 2 or t.shape[0] == 0:
            raise ValueError(f"{name} must have shape (batch, ...) with batch >= 1, got {tuple(t.shape)}")
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")


def interpolates(real: torch.Tensor, fake: torch.Tensor, *, generator: torch.Generator | None = None,
                 epsilon: torch.Tensor | None = None) -> torch.Tensor:
    r""":math:`\hat x = \epsilon x + (1 - \epsilon) \tilde x` with one :math:`\epsilon \sim U[0, 1]` per sample.

    :math:`\epsilon` is drawn with ``generator``, or given as ``epsilon`` (one value per sample).
    """
    _check_pair(real, fake)
    torch_generator(generator)
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    if epsilon is None:
        epsilon = torch.rand(shape, generator=generator, dtype=real.dtype, device=real.device)
    elif not isinstance(epsilon, torch.Tensor) or not epsilon.is_floating_point():
        raise TypeError(f"epsilon must be a floating-point tensor, one value per sample, got {type(epsilon).__name__}")
    elif epsilon.numel() != real.shape[0]:
        raise ValueError(f"epsilon must hold one value per sample ({real.shape[0]}), got shape {tuple(epsilon.shape)}")
    epsilon = epsilon.reshape(shape)
    return epsilon * real.detach() + (1 - epsilon) * fake.detach()


PENALTY_POINTS = ("interpolates", "real", "fake")


def gradient_penalty(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    one_sided: bool = False,
    at: str = "interpolates",
    generator: torch.Generator | None = None,
    epsilon: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The WGAN-GP penalty :math:`\mathbb{E}_{\hat x}(\lVert \nabla f(\hat x) \rVert - 1)^2` (module docstring).

    Returns ``(penalty, grad_norms)``: the batch mean (a scalar that keeps its graph, so that
    ``(loss + lam * penalty).backward()`` reaches the critic's parameters through the double
    backward) and the per-sample norms :math:`\lVert \nabla f(\hat x_i) \rVert_2`, detached, for
    monitoring. Works for any input shape (batch, ...). ``generator`` makes :math:`\epsilon` reproducible;
    ``epsilon`` gives it (one value per sample).

    ``at`` chooses where the gradient is taken: ``"interpolates"`` (WGAN-GP), or — to demonstrate
    two common mistakes — ``"real"`` (:math:`\epsilon = 1`) or ``"fake"`` (:math:`\epsilon = 0`).
    NaN or infinite samples, an ``epsilon`` outside [0, 1], and a critic that cannot take samples
    of this shape (say, of another dimension) raise a ValueError.
    """
    if not isinstance(at, str) or at not in PENALTY_POINTS:
        raise ValueError(f"at must be one of {PENALTY_POINTS}, got {at!r}")
    _check_penalty_inputs(critic, real, fake, one_sided, epsilon)
    if at == "interpolates":
        x_hat = interpolates(real, fake, generator=generator, epsilon=epsilon)
    else:
        _check_pair(real, fake)
        x_hat = (real if at == "real" else fake).detach().clone()
    x_hat.requires_grad_(True)
    return penalty_from_scores(network_output(critic, x_hat), x_hat, one_sided=one_sided)


def _check_penalty_inputs(critic, real, fake, one_sided, epsilon) -> None:
    r"""What :func:`gradient_penalty` needs beyond shapes: a callable critic, a bool ``one_sided``,
    samples of one dtype with finite values, and :math:`\epsilon \in [0, 1]`. A NaN among the samples
    would not always show in the penalty (a linear critic's gradient ignores its input), so it is refused."""
    if not callable(critic):
        raise TypeError(f"critic must be a callable network, got {type(critic).__name__}")
    if not isinstance(one_sided, bool):
        raise TypeError(f"one_sided must be True or False, got {one_sided!r}")
    _check_pair(real, fake)
    if real.dtype != fake.dtype:
        raise TypeError(f"real and fake must have the same dtype, got {real.dtype} and {fake.dtype}")
    for name, t in (("real", real), ("fake", fake)):
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} must be finite (found NaN or inf)")
    if isinstance(epsilon, torch.Tensor) and not ((epsilon >= 0) & (epsilon <= 1)).all():
        raise ValueError("epsilon must lie in [0, 1] (found a value outside, or NaN)")


def penalty_from_scores(f_hat: torch.Tensor, x_hat: torch.Tensor, *, one_sided: bool = False,
                        runs: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The penalty's second half: from the scores :math:`f(\hat x)` of points :math:`\hat x` that
    require grad, :math:`\mathbb{E}(\lVert \nabla f(\hat x) \rVert - 1)^2` and the per-sample norms.

    Split out so that a step which scores real, generated and interpolated points in one critic
    forward (:mod:`wgan_teach.speed`) shares this code. The norms are reduced in at least float32
    whatever the precision of the critic. With ``runs``, the batch holds the points of that many
    independent runs one after another (:class:`wgan_teach.nets.StackedMLP`), and the penalty is
    the mean over each run's points, shape (runs,).
    """
    for name, t in (("f_hat", f_hat), ("x_hat", x_hat)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not x_hat.requires_grad or not f_hat.requires_grad:
        raise ValueError("f_hat must be the critic's scores of x_hat, computed after x_hat.requires_grad_(True)")
    (grad,) = torch.autograd.grad(f_hat.sum(), x_hat, create_graph=True)
    grad_norms = grad.flatten(start_dim=1).norm(2, dim=1, dtype=torch.promote_types(grad.dtype, torch.float32))  # ‖∇x̂ f(x̂)‖₂
    excess = grad_norms - 1
    if one_sided:
        excess = excess.clamp(min=0)
    terms = excess**2
    return (terms.mean() if runs is None else terms.reshape(runs, -1).mean(1)), grad_norms.detach()


@torch.no_grad()
def clip_weights(critic: nn.Module, c: float) -> None:
    r"""WGAN's constraint: clamp every parameter of the critic into :math:`[-c, c]`, in place.
    ``c`` must be a finite positive number (not a bool)."""
    if not isinstance(critic, nn.Module):
        raise TypeError(f"critic must be a torch.nn.Module, got {type(critic).__name__}")
    if isinstance(c, bool) or not isinstance(c, numbers.Real):
        raise TypeError(f"c must be a positive number, got {c!r}")
    if not 0 < c < math.inf:
        raise ValueError(f"c must be a positive number, got {c!r}")
    for parameter in critic.parameters():
        parameter.clamp_(-c, c)


def layer_gradient_norms(
    critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, *, dtype: torch.dtype | None = None
) -> torch.Tensor:
    r"""How the critic loss's gradient flows backwards: :math:`\lVert \partial L / \partial h_l \rVert`
    for the output :math:`h_l` of every ``nn.Linear`` layer, first layer first.

    :math:`L = \mathbb{E}_{\tilde x} f(\tilde x) - \mathbb{E}_{x} f(x)` on the given batches (the
    critic loss without penalty); norms are Frobenius norms over the batch. Exploding or vanishing
    gradients show as a geometric trend along the layers. With ``dtype=torch.float64`` the probe
    runs on a float64 copy of the critic: vanishing gradients of order 1e-23 have squares below
    float32's smallest number, and their norm would come out as exactly 0.
    """
    _linear_layers(critic)
    _check_pair(real, fake)
    if dtype is not None:
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating-point torch.dtype or None, got {dtype!r}")
        critic, real, fake = copy.deepcopy(critic).to(dtype), real.to(dtype), fake.to(dtype)
    outputs: list[torch.Tensor] = []

    def keep(_module, _inputs, output):
        output.retain_grad()
        outputs.append(output)

    hooks = [m.register_forward_hook(keep) for m in _linear_layers(critic)]
    try:
        batch = torch.cat([fake, real])
        values = network_output(critic, batch).squeeze(-1)
        n = len(fake)
        loss = values[:n].mean() - values[n:].mean()
        loss.backward()
    finally:
        for hook in hooks:
            hook.remove()
    critic.zero_grad(set_to_none=True)
    return torch.stack([h.grad.norm() for h in outputs])


def critic_weights(critic: nn.Module) -> torch.Tensor:
    """Every weight of every ``nn.Linear`` layer (biases excluded), flattened into one tensor."""
    return torch.cat([m.weight.detach().flatten() for m in _linear_layers(critic)])


def _linear_layers(critic) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of ``critic``, first layer first; a critic without one is refused."""
    if not isinstance(critic, nn.Module):
        raise TypeError(f"critic must be a torch.nn.Module, got {type(critic).__name__}")
    layers = [m for m in critic.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError("critic must have nn.Linear layers: these probes read and watch them")
    return layers
