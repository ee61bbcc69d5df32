r"""The training lab: a GAN, a WGAN with weight clipping and WGAN-GP, trained live in the page.

:func:`show` returns an HTML object that IPython displays: the trainer of ``lab.js`` (plain
JavaScript, beside this file) inlined, with its controls, its picture of the critic and its
curves. It needs no kernel once drawn and no network, so the book's HTML page trains as well as a
running notebook does; several labs may share one page.

The penalty's gradient with respect to the critic's weights
-----------------------------------------------------------
Training the critic on :math:`\lambda\,\mathbb{E}\,\varphi(\lVert \nabla_x f(\hat x) \rVert)`, with
:math:`\varphi(s) = (s - 1)^2` (two-sided) or :math:`\max(0, s - 1)^2` (one-sided), needs the
derivative of a *gradient* with respect to the weights: autograd's double backward. For a ReLU MLP
it has a closed form, which the JavaScript computes and :func:`penalty_gradient` states in NumPy.

Write the critic as :math:`z_l = W_l a_{l-1} + b_l`, :math:`a_l = \mathrm{relu}(z_l)`
(:math:`l < L`), :math:`a_0 = x`, :math:`f = z_L`, and :math:`D_l = \mathrm{diag}(\mathbb{1}[z_l > 0])`
for the ReLU masks at :math:`x`. Let

.. math::

    \delta_l = \frac{\partial f}{\partial z_l}, \quad \delta_L = 1, \quad
    \delta_l = D_l W_{l+1}^\top \delta_{l+1}; \qquad
    A_l = \frac{\partial a_{l-1}}{\partial x} = D_{l-1} W_{l-1} \cdots D_1 W_1, \quad A_1 = I.

Then :math:`g = \nabla_x f = A_l^\top W_l^\top \delta_l` for every :math:`l`, and with the masks
held fixed neither :math:`A_l` nor :math:`\delta_l` contains :math:`W_l`. For the per-sample
direction :math:`r = \partial P / \partial g = \tfrac{1}{n}\varphi'(\lVert g \rVert)\, g / \lVert g \rVert`,

.. math::

    \langle r, g \rangle = \delta_l^\top W_l\, (A_l r)
    \quad\Longrightarrow\quad
    \frac{\partial P}{\partial W_l} = \sum_i \delta_{l,i}\, \rho_{l,i}^\top, \quad
    \rho_{l,i} = A_l r_i .

So :math:`\rho_1 = r` and :math:`\rho_{l+1} = D_l W_l \rho_l`: the direction :math:`r` goes
*forward* through the same masks, without biases, while :math:`\delta_l` is the ordinary backward
pass of :math:`f`. The biases appear in neither :math:`A_l` nor :math:`\delta_l`, only in the
masks, which are piecewise constant: :math:`\partial P / \partial b_l = 0` wherever no
pre-activation sits exactly at 0, that is almost everywhere. The masks themselves get no gradient
(:math:`\mathrm{relu}'' = 0` away from 0), which is also what autograd computes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import textwrap
from pathlib import Path

import numpy as np

from . import toy
from .checks import non_negative_number, number, positive_int, positive_number

__all__ = ["LOSSES", "RECIPES", "TrainingLab", "show", "lab_js", "critic_forward", "penalty_gradient"]

LOSSES = ("gan", "wgan-clip", "wgan-gp", "wgan-gp-one-sided")
# The book's recipe per loss (wgan_teach.experiments.METHODS, Chapter 6): what the lab loads when a
# loss is chosen; any value given to show() replaces it.
RECIPES = {
    "gan": {"n_critic": 1, "lr": 4e-3, "beta1": 0.5, "beta2": 0.9},
    "wgan-clip": {"n_critic": 5, "lr": 1e-3, "clip": 0.01},
    "wgan-gp": {"n_critic": 5, "lr": 4e-3, "beta1": 0.0, "beta2": 0.9, "lam": 10.0},
    "wgan-gp-one-sided": {"n_critic": 5, "lr": 4e-3, "beta1": 0.0, "beta2": 0.9, "lam": 10.0},
}
_LAB_JS = Path(__file__).with_name("lab.js")
_ids = itertools.count()


def lab_js() -> str:
    """The trainer's JavaScript source (``lab.js``, package data)."""
    return _LAB_JS.read_text(encoding="utf-8")


class TrainingLab:
    """A lab to display: IPython shows its HTML (:meth:`_repr_html_`); ``options`` are what the page gets."""

    def __init__(self, options: dict, uid: str):
        self.options, self.uid = options, uid

    def html(self) -> str:
        """The self-contained HTML: a placeholder that the inline script replaces by the lab. Where
        scripts do not run (an untrusted notebook), the placeholder's sentence stays."""
        source = lab_js().replace("</", "<\\/")  # no "</script>" inside the inline script
        options = json.dumps(self.options).replace("</", "<\\/")
        return (f'<div class="wgan-lab" id="{self.uid}">'
                '<p class="wgan-lab-note"><em>Run the cell to start the training lab.</em></p></div>\n'
                f"<script>\n{source}\n</script>\n"
                f'<script>WganLab.mount("{self.uid}", {options});</script>')

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:  # wrapped to the width of a notebook's output
        settings = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return textwrap.fill(f"<TrainingLab {settings}>", width=88, subsequent_indent="    ")


def show(dataset: str = "8gaussians", loss: str = "wgan-gp", *, lam: float | None = None, clip: float | None = None,
         n_critic: int | None = None, lr: float | None = None, beta1: float | None = None, beta2: float | None = None,
         batch_size: int = 64, critic_width: int = 32, hold_generator: bool = False, lr_decay: bool = True,
         steps: int = 1500, seed: int = 0, autoplay: bool = False) -> TrainingLab:
    r"""The training lab, ready to display: Chapter 6's recipe by default.

    ``dataset``: a name of :data:`wgan_teach.toy.DATASETS`; ``loss``: one of :data:`LOSSES`
    (``"wgan-gp"`` is Algorithm 1, the two-sided penalty). ``lam``, ``clip``, ``n_critic``, ``lr``,
    ``beta1`` and ``beta2`` default to the book's recipe for the loss (:data:`RECIPES`). The
    networks are those of :class:`wgan_teach.experiments.ToyRun`: a critic of 3 hidden layers of
    ``critic_width`` ReLU units, a generator of 3 × 64, the paper's toy initialisation, drawn from
    ``seed``; batch ``batch_size``; with ``lr_decay`` the learning rate falls linearly to 0 over
    ``steps`` generator steps, where the run stops. ``hold_generator=True`` freezes the generator:
    the critic trains alone against its samples (the critic-only mode of Chapters 4 and 5).
    ``autoplay`` starts training as soon as the page shows the lab.
    """
    if not isinstance(dataset, str) or dataset not in toy.DATASETS:
        raise ValueError(f"dataset must be one of {toy.DATASETS}, got {dataset!r}")
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    recipe = {"lam": 10.0, "clip": 0.01, "beta1": 0.0, "beta2": 0.9, **RECIPES[loss]}
    given = {"lam": lam, "clip": clip, "n_critic": n_critic, "lr": lr, "beta1": beta1, "beta2": beta2}
    settings = {k: recipe[k] if v is None else v for k, v in given.items()}
    non_negative_number(settings["lam"], "lam")
    positive_number(settings["clip"], "clip")
    positive_number(settings["lr"], "lr")
    for name in ("beta1", "beta2"):
        if not 0 <= number(settings[name], name) < 1:
            raise ValueError(f"{name} must lie in [0, 1), got {settings[name]!r}")
    for name, value in (("n_critic", settings["n_critic"]), ("batch_size", batch_size),
                        ("critic_width", critic_width), ("steps", steps)):
        positive_int(value, name)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    for name, value in (("hold_generator", hold_generator), ("lr_decay", lr_decay), ("autoplay", autoplay)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}")
    if not math.isfinite(settings["lr"]):
        raise ValueError(f"lr must be finite, got {settings['lr']!r}")
    options = {
        "dataset": dataset, "loss": loss, "lam": float(settings["lam"]), "clip": float(settings["clip"]),
        "nCritic": int(settings["n_critic"]), "lr": float(settings["lr"]), "beta1": float(settings["beta1"]),
        "beta2": float(settings["beta2"]), "batch": int(batch_size), "width": int(critic_width),
        "hold": hold_generator, "decay": lr_decay, "steps": int(steps), "seed": int(seed), "autoplay": autoplay,
    }
    key = json.dumps(options, sort_keys=True) + str(next(_ids))
    return TrainingLab(options, "wgan-lab-" + hashlib.sha1(key.encode()).hexdigest()[:12])


# -- the reference maths, in float64 NumPy ----------------------------------------------------------


def _layers(weights, biases) -> tuple[list[np.ndarray], list[np.ndarray]]:
    weights = [np.asarray(w, dtype=np.float64) for w in weights]
    biases = [np.asarray(b, dtype=np.float64) for b in biases]
    if not weights or len(weights) != len(biases):
        raise ValueError("weights and biases must be non-empty lists of one array per layer")
    for l, (w, b) in enumerate(zip(weights, biases)):
        if w.ndim != 2 or b.shape != (w.shape[0],) or (l and w.shape[1] != weights[l - 1].shape[0]):
            raise ValueError(f"layer {l}: weights must be (n_out, n_in) matrices that chain, biases (n_out,), "
                             f"got {w.shape} and {b.shape}")
    if weights[-1].shape[0] != 1:
        raise ValueError(f"the last layer must have one output (a critic), got {weights[-1].shape[0]}")
    return weights, biases


def critic_forward(weights, biases, x) -> tuple[np.ndarray, list[np.ndarray]]:
    r"""A ReLU MLP critic :math:`f(x)` (module docstring) at the rows of ``x``; returns ``(f, masks)``,
    ``masks[l]`` the boolean :math:`\mathbb{1}[z_{l+1} > 0]` of hidden layer :math:`l + 1`, shape (n, n_l)."""
    weights, biases = _layers(weights, biases)
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != weights[0].shape[1]:
        raise ValueError(f"x must have shape (n, {weights[0].shape[1]}), got {a.shape}")
    masks = []
    for w, b in zip(weights[:-1], biases[:-1]):
        z = a @ w.T + b
        masks.append(z > 0)
        a = np.where(masks[-1], z, 0.0)
    return (a @ weights[-1].T + biases[-1])[:, 0], masks


def penalty_gradient(weights, biases, x_hat, *, one_sided: bool = False) -> dict:
    r"""The gradient penalty :math:`P = \tfrac1n \sum_i \varphi(\lVert \nabla_x f(\hat x_i) \rVert)` of a
    ReLU MLP critic and its gradient with respect to every weight and bias, in closed form (module
    docstring): :math:`\partial P / \partial W_l = \sum_i \delta_{l,i} \rho_{l,i}^\top`,
    :math:`\partial P / \partial b_l = 0`.

    ``weights[l]`` has shape (n_out, n_in) (``nn.Linear.weight``), ``biases[l]`` (n_out,);
    ``x_hat`` (n, d) holds the points. Returns ``{"penalty", "grad_norms", "weights", "biases"}``,
    the last two lists of gradients shaped like the parameters.
    """
    if not isinstance(one_sided, bool):
        raise TypeError(f"one_sided must be True or False, got {one_sided!r}")
    weights, biases = _layers(weights, biases)
    _, masks = critic_forward(weights, biases, x_hat)
    n, L = np.asarray(x_hat).shape[0], len(weights)
    # backward pass of f: delta_L = 1, delta_l = D_l W_{l+1}^T delta_{l+1}; g = W_1^T delta_1
    deltas = [None] * L
    deltas[L - 1] = np.ones((n, 1))
    for l in range(L - 2, -1, -1):
        deltas[l] = (deltas[l + 1] @ weights[l + 1]) * masks[l]
    g = deltas[0] @ weights[0]
    norms = np.linalg.norm(g, axis=1)
    excess = norms - 1 if not one_sided else np.maximum(norms - 1, 0.0)
    safe = np.where(norms > 0, norms, 1.0)
    r = (2 * excess / n / safe)[:, None] * g  # dP/dg_i
    # forward pass of r through the same masks: rho_1 = r, rho_{l+1} = D_l W_l rho_l
    rho, grads = r, []
    for l in range(L):
        grads.append(deltas[l].T @ rho)  # sum_i delta_{l,i} rho_{l,i}^T
        if l < L - 1:
            rho = (rho @ weights[l].T) * masks[l]
    return {"penalty": float(np.mean(excess**2)), "grad_norms": norms, "weights": grads,
            "biases": [np.zeros_like(b) for b in biases]}
