"""Checking a reader's gradient-penalty function for the mistakes people make (Chapter 5).

A WGAN-GP critic step adds λ·GP to the critic loss, with

    GP = E (‖∇f(x̂)‖₂ − 1)²,   x̂ = ε x + (1 − ε) x̃,   ε ~ U[0, 1], one ε per sample.

`check_penalty(penalty)` calls a function written as `penalty(critic, real, fake)` on critics
and samples built so that each common mistake shows:

* where the critic is evaluated: with real samples all 1 and generated ones all 0, every point
  x̂ = ε·1 + (1 − ε)·0 the critic is asked about *is* its ε. One ε per pixel shows as a sample
  whose coordinates differ; ε from a normal distribution as points outside [0, 1]; the penalty
  at the real (or generated) samples as ε = 1 (or 0) everywhere.
* the value: a linear critic f(x) = ⟨w, x⟩ has ∇f = w at every point, so the penalty must be
  λ (‖w‖ − 1)² for one constant λ, whatever ‖w‖ and the batch size. Norms over the wrong
  dimensions, a squared norm, or a sum over the batch give other values, each recognisable.
* that the penalty reaches the critic's weights (the gradient taken with create_graph=True),
  and that their gradient stays finite for a flat critic (w = 0), where sqrt(Σ g²) has an
  infinite derivative: one dead region of a ReLU critic turns every weight into NaN.

Two mistakes live outside the penalty function, and are checked when the objects are given:
batch normalisation in the critic (`critic=`), and generated samples that are not detached in
the critic step (`critic_loss=`, a function `critic_loss(critic, generator, real, z)`).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = ["MISTAKES", "Finding", "PenaltyReport", "check_penalty"]

MISTAKES = {
    "epsilon per element": "ε is drawn for every element (pixel) instead of once per sample",
    "epsilon not uniform": "ε is not drawn from U[0, 1] (from a normal distribution?)",
    "one epsilon per batch": "one ε is shared by the whole batch",
    "penalty at real samples": "the gradient is taken at the real samples only (ε = 1)",
    "penalty at generated samples": "the gradient is taken at the generated samples only (ε = 0)",
    "norm over wrong dimensions": "the gradient norm is not taken over each sample's dimensions",
    "squared norm": "the squared norm ‖∇f‖² is pushed to 1 instead of the norm",
    "summed over the batch": "the penalty is summed over the batch instead of averaged",
    "wrong value": "the value is not λ·mean(‖∇f(x̂)‖₂ − 1)² for any constant λ",
    "no create_graph": "the penalty does not reach the critic's weights",
    "NaN at zero gradient": "a flat critic (∇f = 0) gives NaN (the square root of a zero norm)",
    "batch norm in the critic": "the critic holds batch normalisation",
    "fake samples not detached": "the critic step sends gradients into the generator",
    "raises an error": "the function raised an exception",
}

FLAT, IMAGE = (2,), (3, 4, 4)  # sample shapes: points in the plane, and small 3-channel images
_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Finding:
    """One mistake found: its name (a key of ``MISTAKES``) and what was seen."""

    mistake: str
    detail: str


@dataclass
class PenaltyReport:
    """What :func:`check_penalty` found. ``ok`` is True when no mistake was found; ``lam`` is the
    constant factor λ the function multiplies the penalty by (1.0 if none), when it could be read."""

    name: str
    findings: list[Finding] = field(default_factory=list)
    lam: float | None = None

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def mistakes(self) -> tuple[str, ...]:
        """The names of the mistakes found, each once, in the order found."""
        return tuple(dict.fromkeys(f.mistake for f in self.findings))

    def __str__(self) -> str:
        if self.ok:
            factor = "" if self.lam in (None, 1.0) else f" (the value includes λ = {self.lam:g})"
            return f"{self.name}: no mistake found{factor}"
        lines = [f"{self.name}: {len(self.mistakes)} mistake{'s' if len(self.mistakes) > 1 else ''} found"]
        for finding in self.findings:
            text = f"- {finding.mistake}: {finding.detail}"
            lines += textwrap.wrap(text, width=88, subsequent_indent="  ")
        return "\n".join(lines)

    __repr__ = __str__


class _LinearCritic(nn.Module):
    """f(x) = ⟨w, x⟩ over all of a sample's elements: ∇f = w everywhere. Remembers its inputs."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.weight = nn.Parameter(weight.clone())
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x)
        return (x.flatten(1) * self.weight.flatten()).sum(1, keepdim=True)


def _weight(shape, norm: float) -> torch.Tensor:
    """A weight of the given shape and norm with unequal entries of both signs."""
    size = math.prod(shape)
    w = torch.linspace(1.0, 2.0, size) * torch.tensor([1.0, -1.0]).repeat((size + 1) // 2)[:size]
    return (w * norm / w.norm()).reshape(shape)


def _as_scalar(value) -> torch.Tensor:
    """The penalty from what the function returned: a tensor, or a tuple whose first item is one."""
    if isinstance(value, (tuple, list)) and value:
        value = value[0]
    if not isinstance(value, torch.Tensor):
        value = torch.tensor(float(value))
    return value


def _shape_name(batch: int, shape) -> str:
    return f"({batch}, {', '.join(str(s) for s in shape)})"


# Values of the penalty for a linear critic under each way of reducing the gradient g (B, ...),
# every row of which is w. A function whose value is a constant multiple λ of one of them, over
# all probes, computes that reduction.
_REDUCTIONS = {
    None: lambda g: ((g.flatten(1).norm(dim=1) - 1) ** 2).mean(),
    "norm over wrong dimensions": {
        "dimension 1 only (one norm per pixel of an image)": lambda g: ((g.norm(dim=1) - 1) ** 2).mean(),
        "the whole batch (one norm for all samples)": lambda g: (g.norm() - 1) ** 2,
        "the batch dimension (one norm per element)": lambda g: ((g.norm(dim=0) - 1) ** 2).mean(),
    },
    "squared norm": lambda g: ((g.flatten(1).pow(2).sum(1) - 1) ** 2).mean(),
    "summed over the batch": lambda g: ((g.flatten(1).norm(dim=1) - 1) ** 2).sum(),
}


def _explains(values, expected) -> float | None:
    """The constant λ with values = λ·expected (within the tolerance), or None."""
    ratios = [v / e for v, e in zip(values, expected) if e > 0]
    if len(ratios) != len(values) or not all(math.isfinite(r) for r in ratios):
        return None
    lam = sum(ratios) / len(ratios)
    if lam <= 0 or max(abs(r - lam) for r in ratios) > _TOLERANCE * lam:
        return None
    return float(f"{lam:.3g}")  # 1 - 1e-7 is λ = 1: the function has no factor


class _Runner:
    """Calls the reader's function with the global RNG seeded (and restored), catching errors."""

    def __init__(self, penalty):
        self.penalty = penalty
        self.errors: dict[tuple, str] = {}

    def __call__(self, critic, real, fake):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            try:
                return _as_scalar(self.penalty(critic, real, fake))
            except Exception as error:  # noqa: BLE001 - the reader's code may raise anything
                self.errors.setdefault(tuple(real.shape[1:]), f"{type(error).__name__}: {error}")
                return None


def _check_points(run: _Runner, shape, batch: int = 4000) -> list[Finding]:
    """Where the critic is evaluated: real = 1 and fake = 0, so each point x̂ is its ε."""
    critic = _LinearCritic(_weight(shape, 2.0))
    real, fake = torch.ones(batch, *shape), torch.zeros(batch, *shape)
    if run(critic, real, fake) is None:
        return []
    asked = [x for x in critic.inputs if x.requires_grad] or critic.inputs
    if not asked:
        return [Finding("wrong value", "the function never calls the critic")]
    points = asked[0].detach().flatten(1).double()
    where = f"for samples of shape {_shape_name(batch, shape)}"
    findings = []
    spread = points.max(1).values - points.min(1).values
    per_element = points.shape[1] > 1 and float((spread > 1e-6).double().mean()) > 0.5
    if per_element:
        findings.append(Finding(
            "epsilon per element",
            f"{float((spread > 1e-6).double().mean()):.0%} of the points x̂ are off the segment from x̃ to x: "
            f"their elements were mixed with different ε ({where}); draw ε with shape (batch, 1, ...)"))
    eps = points.flatten() if per_element else points.mean(1)
    outside = (eps < -1e-6) | (eps > 1 + 1e-6)
    if bool(outside.any()):
        findings.append(Finding(
            "epsilon not uniform",
            f"{float(outside.double().mean()):.0%} of the ε lie outside [0, 1] (from {float(eps.min()):.2f} "
            f"to {float(eps.max()):.2f}, {where}), so x̂ lands beyond the ends of its segment; "
            f"ε ~ U[0, 1] keeps every x̂ between x̃ and x"))
        return findings
    if float(eps.std()) < 1e-6:
        value = float(eps.mean())
        if abs(value - 1) < 1e-6:
            return findings + [Finding("penalty at real samples", f"every x̂ equals its real sample x ({where})")]
        if abs(value) < 1e-6:
            return findings + [Finding("penalty at generated samples",
                                       f"every x̂ equals its generated sample x̃ ({where})")]
        return findings + [Finding("one epsilon per batch", f"every sample got the same ε = {value:.3f} ({where})")]
    at_ends = float(((eps == 0) | (eps == 1)).double().mean())
    if at_ends > 0.01:
        findings.append(Finding(
            "epsilon not uniform",
            f"{at_ends:.0%} of the ε are exactly 0 or 1 (clamped?), so that many x̂ sit on a sample "
            f"instead of between the two ({where})"))
        return findings
    # Kolmogorov-Smirnov distance between the ε seen and U[0, 1]; the bound has p ≈ 1e-4.
    sorted_eps = torch.sort(eps).values
    n = len(sorted_eps)
    ranks = torch.arange(1, n + 1, dtype=torch.float64)
    distance = float(torch.maximum(ranks / n - sorted_eps, sorted_eps - (ranks - 1) / n).max())
    if distance > 2.23 / math.sqrt(n):
        findings.append(Finding(
            "epsilon not uniform",
            f"the ε seen do not look uniform on [0, 1] (Kolmogorov–Smirnov distance {distance:.3f} "
            f"over {n} values, {where})"))
    return findings


def _check_value(run: _Runner, shapes) -> tuple[list[Finding], float | None]:
    """The value for linear critics of several norms and batch sizes, against each reduction."""
    values, gradients = [], []
    for shape in shapes:
        for batch in (64, 256):
            for norm in (2.0, 3.0, 5.0):
                critic = _LinearCritic(_weight(shape, norm))
                value = run(critic, torch.ones(batch, *shape), torch.zeros(batch, *shape))
                if value is None:
                    return [], None
                if value.numel() != 1:
                    return [Finding("wrong value", f"the function returns a tensor of shape {tuple(value.shape)}, "
                                                   f"not one number")], None
                values.append(float(value.detach()))
                gradients.append(critic.weight.detach().expand(batch, *shape))
    if not all(math.isfinite(v) for v in values):
        return [Finding("wrong value", "the penalty is not finite for a linear critic of norm 2")], None
    lam = _explains(values, [float(_REDUCTIONS[None](g)) for g in gradients])
    if lam is not None:
        return [], lam
    for mistake, reductions in _REDUCTIONS.items():
        if mistake is None:
            continue
        variants = reductions.items() if isinstance(reductions, dict) else [(None, reductions)]
        for how, reduce in variants:
            lam = _explains(values, [float(reduce(g)) for g in gradients])
            if lam is not None:
                detail = {
                    "norm over wrong dimensions": f"the norm is taken over {how}; take it per sample, "
                                                  "over all other dimensions: g.flatten(1).norm(2, dim=1)",
                    "squared norm": "the value matches mean(‖∇f‖² − 1)²: the norm's square root is missing",
                    "summed over the batch": "the value grows with the batch size: use .mean() over the samples",
                }[mistake]
                return [Finding(mistake, detail)], lam
    norm_2 = values[0]
    return [Finding("wrong value", f"for a linear critic with ‖∇f‖ = 2 everywhere the function returns "
                                   f"{norm_2:.4g}; the penalty is λ·(2 − 1)² = λ, and the values for "
                                   f"‖∇f‖ = 3 and 5 ({values[1]:.4g}, {values[2]:.4g}) should be 4λ and 16λ")], None


def _check_weights(run: _Runner, shape) -> list[Finding]:
    """The penalty must reach the critic's weights, and stay finite where ∇f = 0."""
    findings = []
    critic = _LinearCritic(_weight(shape, 2.0))
    value = run(critic, torch.ones(16, *shape), torch.zeros(16, *shape))
    if value is None:
        return []
    grad = None
    if value.requires_grad:
        (grad,) = torch.autograd.grad(value.sum(), critic.weight, allow_unused=True)
    if grad is None or not bool(grad.abs().sum() > 0):
        return [Finding("no create_graph",
                        "the penalty's gradient with respect to the critic's weights is missing or zero, so "
                        "the penalty cannot train the critic: take ∇f with torch.autograd.grad(..., "
                        "create_graph=True) and do not detach it")]
    flat = _LinearCritic(torch.zeros(shape))
    value = run(flat, torch.ones(16, *shape), torch.zeros(16, *shape))
    if value is None:
        return findings
    if not bool(torch.isfinite(value).all()):
        return [Finding("NaN at zero gradient", f"the penalty itself is {float(value.detach().sum())} for a flat critic")]
    (grad,) = torch.autograd.grad(value.sum(), flat.weight, allow_unused=True)
    if grad is not None and not bool(torch.isfinite(grad).all()):
        findings.append(Finding("NaN at zero gradient",
                                "for a flat critic (∇f = 0) the penalty's gradient with respect to the weights is "
                                "NaN: the derivative of sqrt at 0 is infinite. Use torch.linalg.vector_norm (or "
                                ".norm), whose gradient at 0 is 0, or sqrt(Σ g² + 1e-12)"))
    return findings


def _check_critic(critic: nn.Module) -> list[Finding]:
    batch_norms = [f"{name or 'the critic'} ({type(m).__name__})" for name, m in critic.named_modules()
                   if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not batch_norms:
        return []
    return [Finding("batch norm in the critic",
                    f"module{'s' if len(batch_norms) > 1 else ''} {', '.join(batch_norms)}: batch norm makes "
                    f"f(x̂ᵢ) depend on the other samples of the batch, so ∇f(x̂ᵢ) is not the gradient of one "
                    f"function of x̂ᵢ; use layer norm, or none")]


def _check_critic_loss(critic_loss) -> list[Finding]:
    """Run one critic loss on a small critic and generator; the generator must receive no gradient."""
    generator = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    critic = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        try:
            loss = _as_scalar(critic_loss(critic, generator, torch.randn(64, 2), torch.randn(64, 4)))
            loss.sum().backward()
        except Exception as error:  # noqa: BLE001
            return [Finding("raises an error", f"critic_loss: {type(error).__name__}: {error}")]
    reached = [name for name, p in generator.named_parameters() if p.grad is not None and bool(p.grad.abs().sum() > 0)]
    if not reached:
        return []
    return [Finding("fake samples not detached",
                    "the critic loss's backward pass reached the generator's parameters: detach the generated "
                    "samples (generator(z).detach(), or generate under torch.no_grad()) in the critic step")]


def check_penalty(penalty, *, critic: nn.Module | None = None, critic_loss=None,
                  name: str | None = None) -> PenaltyReport:
    """Run ``penalty(critic, real, fake)`` on constructed cases and name each mistake it makes.

    ``penalty`` computes GP = mean over the batch of (‖∇f(x̂)‖₂ − 1)², possibly times a constant λ
    (reported, not a mistake), at x̂ = ε x + (1 − ε) x̃ with one ε ~ U[0, 1] per sample. It may return
    the penalty or a tuple whose first item is the penalty. It is called on samples of shape (B, 2)
    and (B, 3, 4, 4); the global torch RNG is seeded for the calls and restored afterwards.
    Optional: ``critic``, the reader's critic, is checked for batch normalisation; ``critic_loss``,
    a function ``critic_loss(critic, generator, real, z)`` returning the critic step's loss, is run
    on a small critic and generator to check that the generator receives no gradient.
    Returns a :class:`PenaltyReport` headed by ``name`` (by default the function's name);
    printing it lists the mistakes.
    """
    if not callable(penalty):
        raise TypeError(f"penalty must be a function penalty(critic, real, fake), got {type(penalty).__name__}")
    if critic is not None and not isinstance(critic, nn.Module):
        raise TypeError(f"critic must be a torch.nn.Module, got {type(critic).__name__}")
    if critic_loss is not None and not callable(critic_loss):
        raise TypeError("critic_loss must be a function critic_loss(critic, generator, real, z)")
    if name is None:
        name = getattr(penalty, "__name__", None) or getattr(getattr(penalty, "func", None), "__name__", "penalty")
    report = PenaltyReport(name=name)
    run = _Runner(penalty)
    for shape in (FLAT, IMAGE):
        report.findings += _check_points(run, shape)
    working = [shape for shape in (FLAT, IMAGE) if shape not in run.errors]
    if working:
        findings, report.lam = _check_value(run, working)
        report.findings += findings
        report.findings += _check_weights(run, working[0])
    for shape, error in run.errors.items():
        report.findings.append(Finding("raises an error", f"on samples of shape (B, {', '.join(map(str, shape))}): {error}"))
    if critic is not None:
        report.findings += _check_critic(critic)
    if critic_loss is not None:
        report.findings += _check_critic_loss(critic_loss)
    # One finding per mistake, the first seen: the same slip often shows in both shapes.
    seen, unique = set(), []
    for finding in report.findings:
        if finding.mistake not in seen:
            seen.add(finding.mistake)
            unique.append(finding)
    report.findings = unique
    return report
