r"""Making a generator step fast on a GPU without changing its maths.

A WGAN-GP step on 32 x 32 images is a few hundred kernels: three critic forwards, a double
backward, two optimiser updates, each launched from Python. Each field of :class:`Speed` is one
lever; all off is the plain step. :func:`fast_step` is :func:`wgan_teach.train.train_step` with the
levers: the same loss functions (:mod:`wgan_teach.losses`) on the same random inputs; with every
lever off it computes the plain step bit for bit (``tests/test_speed.py``). Measured on an H100 (``python -m wgan_teach bench``, Chapter 7),
bfloat16 is the lever that pays; with it on, removing the one critic forward halves the step again.

``one_forward``
    Score real, generated and interpolated images with one critic forward over
    :math:`[x;\ \tilde x;\ \hat x]` instead of three. Exact: the critic has no batch norm (WGAN-GP
    forbids it, since the penalty is per sample), so each row of the output depends on its own input
    only. It trades launches for arithmetic: the penalty's backward now also computes input gradients
    for :math:`x` and :math:`\tilde x`, which are thrown away — a loss on a compute-bound CPU.
``channels_last``
    Images and convolution weights in NHWC memory order, the layout of cuDNN's tensor-core kernels,
    and ``torch.backends.cudnn.benchmark`` (cuDNN times its algorithms once per shape).
``bf16``
    The networks run under autocast in bfloat16; the scores, losses and the penalty's gradient norms
    are reduced in float32 (:func:`wgan_teach.penalties.penalty_from_scores`).
``fused_optimizers``
    One fused kernel per Adam update (foreach for RMSProp) instead of a loop over parameters.
``graphs``
    The whole generator step — its critic steps, the generator update and the EMA — is recorded
    once as a CUDA graph and replayed (:class:`CapturedStep`). Random numbers are drawn outside the
    graph, in the plain step's order, so both consume the same random stream.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Callable

import torch
from torch.utils._pytree import tree_leaves, tree_map

from .losses import critic_loss, generator_loss, log_keys
from .nets import ema_update
from .penalties import clip_weights

__all__ = ["Speed", "PLAIN", "at_least_float32", "fastest", "fast_step", "CapturedStep", "make_optimizer", "set_lr",
           "load_optimizer"]


@dataclass(frozen=True)
class Speed:
    """Which levers of the module docstring a step uses. ``Speed()`` is the plain step."""

    one_forward: bool = False
    channels_last: bool = False
    bf16: bool = False
    fused_optimizers: bool = False
    graphs: bool = False

    def __post_init__(self):
        for name, value in vars(self).items():
            if not isinstance(value, bool):  # "no" or 0 would otherwise switch a lever by truthiness
                raise TypeError(f"Speed.{name} must be True or False, got {value!r}")

    def check(self, device: torch.device, optimizer: str = "adam", lr_changes: bool = False) -> None:
        """Refuse what cannot work: graphs off CUDA, and a changing RMSProp learning rate inside a
        graph (torch's RMSProp turns a tensor learning rate into a number, so a graph would keep the first)."""
        if self.graphs and device.type != "cuda":
            raise ValueError(f"graphs=True needs a CUDA device, got {device}")
        if self.graphs and optimizer == "rmsprop" and lr_changes:
            raise ValueError("graphs=True with RMSProp needs a constant learning rate (lr_decay=False)")

    def autocast(self, device: torch.device):
        """The bf16 autocast region of the networks (a no-op without ``bf16``)."""
        if not self.bf16:
            return contextlib.nullcontext()
        # cache_enabled=False: cached casts of the weights would go stale inside a replayed graph
        return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False)

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` in channels-last order when that lever is on and ``x`` is a batch of images."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.ndim == 4 else x

    @property
    def changes_step(self) -> bool:
        """Whether a lever changes how the step computes (all but ``fused_optimizers``, which only
        chooses the optimisers' implementation): then the loop runs :func:`fast_step`."""
        return self.one_forward or self.channels_last or self.bf16 or self.graphs

    def prepare(self, device: torch.device, *networks: torch.nn.Module | None) -> None:
        """Move ``networks`` to ``device`` in training mode, in channels-last order with that lever
        (and let cuDNN pick the fastest convolutions for these shapes)."""
        memory = torch.channels_last if self.channels_last else torch.preserve_format
        for network in networks:
            if network is not None:
                network.to(device, memory_format=memory).train()
        if self.channels_last and device.type == "cuda":
            torch.backends.cudnn.benchmark = True


PLAIN = Speed()


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32 if it is in a lower precision (bf16 under autocast); float64 stays float64."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def fastest(device: str | torch.device) -> Speed:
    """Every lever but ``one_forward`` on CUDA; the plain step on a CPU. The one critic forward also
    computes the input gradients of the real and generated parts, which the penalty does not need,
    and is slower on both: 1.15 s against 0.80 s per cnn32 step at batch 32 on 2 CPU cores; with the
    other levers on, on an H100, 15.6 against 9.2 ms (cnn32) and 64.8 against 42.0 ms (res32)."""
    if torch.device(device).type == "cuda":
        return Speed(channels_last=True, bf16=True, fused_optimizers=True, graphs=True)
    return PLAIN


def make_optimizer(name: str, parameters, *, lr: float, betas, speed: Speed, device: torch.device):
    """Adam or RMSProp for ``parameters``; fused (Adam) or foreach (RMSProp), and capturable, when
    ``speed`` asks; under graphs Adam's learning rate is a device tensor, which :func:`set_lr` updates
    in place, in the parameters' precision (a float32 rate would round every float64 update by about 1e-8)."""
    parameters = list(parameters)
    options = {}
    if speed.fused_optimizers:
        options = {"fused": True} if name == "adam" else {"foreach": True}
    if speed.graphs:
        options["capturable"] = True
        if name == "adam":  # the captured update reads the learning rate from device memory
            lr = torch.tensor(lr, device=device, dtype=parameters[0].dtype if parameters else None)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr, betas=betas, **options)
    return torch.optim.RMSprop(parameters, lr=lr, **options)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate in place, so that a captured update sees it."""
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


_OPTIONS = ("lr", "foreach", "fused", "capturable")


def load_optimizer(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load ``state`` but keep this optimiser's implementation options, so a checkpoint written with
    one :class:`Speed` resumes under another (state steps moved to where this implementation wants them)."""
    kept = [{key: group[key] for key in _OPTIONS if key in group} for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, options in zip(optimizer.param_groups, kept):
        group.update(options)
        on_device = group.get("capturable") or group.get("fused")
        for parameter in group["params"]:
            slot = optimizer.state.get(parameter, {})
            if "step" in slot:
                step = slot["step"].to(torch.float32)
                slot["step"] = step.to(parameter.device) if on_device else step.cpu()


def fast_step(generator, critic, opt_g, opt_c, recipe, *, speed: Speed, device: torch.device,
              ema: torch.nn.Module | None = None, ema_decay: float = 0.999, runs: int = 1) -> Callable:
    """:func:`wgan_teach.train.train_step` with the levers of ``speed``, and the moving average ``ema``:
    the same loss functions (:mod:`wgan_teach.losses`) on the same inputs (a
    :class:`wgan_teach.train.Draw`), computed in another layout, precision or number of critic
    forwards, or replayed as a CUDA graph. ``step(inputs)`` returns the logged values
    (:func:`wgan_teach.losses.log_keys`) as one tensor of shape (values, runs), so that a captured
    graph has a single output. With every lever off it computes what the plain step computes, bit for bit."""
    keys = log_keys(recipe)

    def score(parts: list[torch.Tensor]) -> list[torch.Tensor]:
        with speed.autocast(device):
            if speed.one_forward:
                scores = critic(speed.layout(torch.cat([speed.layout(x) for x in parts])))
                return list(at_least_float32(scores).split([len(x) for x in parts]))
            return [at_least_float32(critic(speed.layout(x))) for x in parts]

    def step(inputs) -> torch.Tensor:
        with torch.no_grad(), speed.autocast(device):
            fakes = at_least_float32(generator(inputs.z_critic)).unflatten(0, (runs, recipe.critic_steps, -1)).unbind(1)
        for real, fake, epsilon in zip(inputs.reals, fakes, inputs.epsilons):
            loss, logs = critic_loss(recipe, critic, speed.layout(real), speed.layout(fake.flatten(0, 1)),
                                     epsilon=epsilon, score=score, runs=runs)
            opt_c.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt_c.step()
            if recipe.loss == "wgan-clip":
                clip_weights(critic, recipe.clip)
        critic.requires_grad_(False)
        try:
            with speed.autocast(device):
                fake = at_least_float32(generator(inputs.z_generator))
            g_loss = generator_loss(recipe, critic, fake, score, runs)
            opt_g.zero_grad(set_to_none=True)
            g_loss.sum().backward()
            opt_g.step()
        finally:
            critic.requires_grad_(True)
        if ema is not None:
            ema_update(ema, generator, ema_decay)
        logs["generator_loss"] = g_loss.detach()
        return torch.stack([logs[key].float() for key in keys])

    return CapturedStep(step) if speed.graphs else step


class CapturedStep:
    """Run ``step(inputs) -> tensor`` as a replayed CUDA graph (``inputs``: tensors in tuples,
    lists or named tuples, such as a :class:`wgan_teach.train.Draw`).

    The first ``warmup`` calls run eagerly on a side stream (they are real steps: optimiser state,
    cuDNN's algorithm search and the allocator settle). The next call records the step once into a
    graph with static copies of the inputs, and every call from then on copies its inputs into
    those and replays the graph. The returned tensor is a copy of the graph's output. Should the
    capture fail (an operation that cannot be recorded), it warns and runs the step eagerly from then on.
    """

    def __init__(self, step: Callable, warmup: int = 3):
        self.step, self.warmup, self.calls, self.failed = step, warmup, 0, False
        self.graph: torch.cuda.CUDAGraph | None = None
        self.inputs = None
        self.output: torch.Tensor | None = None

    def __call__(self, inputs) -> torch.Tensor:
        if self.graph is None and self.calls < self.warmup:
            self.calls += 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                output = self.step(inputs)
            torch.cuda.current_stream().wait_stream(side)
            return output
        if self.failed:
            return self.step(inputs)
        if self.graph is None:
            self.inputs = tree_map(lambda x: x.clone() if isinstance(x, torch.Tensor) else x, inputs)
            self.graph = torch.cuda.CUDAGraph()
            try:
                with torch.cuda.graph(self.graph):
                    self.output = self.step(self.inputs)
            except RuntimeError as err:  # nothing ran during the failed capture: go on without a graph
                warnings.warn(f"CUDA graph capture failed, continuing without graphs: {err}", RuntimeWarning)
                self.failed, self.graph = True, None
                return self.step(inputs)
        for static, x in zip(tree_leaves(self.inputs), tree_leaves(inputs)):
            if isinstance(x, torch.Tensor):
                static.copy_(x)
        self.graph.replay()
        return self.output.clone()
