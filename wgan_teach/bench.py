"""How fast is a generator step, and does the fast step compute the same thing as the plain one?

:func:`step_time` times the training loop of :mod:`wgan_teach.train` on a named image recipe with a
given :class:`wgan_teach.speed.Speed`, on random images already on the device (the compute alone,
as in the reference timings). :func:`update_difference` trains two copies of the same networks
from the same seed for a few steps, one plain and one fast, and compares what the steps did to
the weights. :func:`ladder` adds the levers one at a time. ``python -m wgan_teach bench`` prints both.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import torch

from .checks import positive_int
from .data import ImageData
from .recipes import RECIPES, recipe_by_name
from .speed import PLAIN, Speed, fastest
from .train import train

__all__ = ["random_images", "step_time", "update_difference", "ladder"]


def random_images(n: int = 1024, *, device="cpu", seed: int = 0) -> ImageData:
    """``n`` random 32 x 32 uint8 images on ``device``: the data costs nothing, only the step is timed."""
    g = torch.Generator().manual_seed(seed)
    return ImageData(torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g), device=device)


def _networks(name: str, seed: int):
    torch.manual_seed(seed)
    return RECIPES[name].networks()


def step_time(name: str, speed: Speed, *, device="cpu", steps: int = 200, warmup: int = 25,
              batch_size: int | None = None, seed: int = 0) -> float:
    """Milliseconds per generator step of recipe ``name`` under ``speed``, averaged over ``steps``
    steps (rounded up to a multiple of ``warmup``) after ``warmup`` untimed ones (graph capture,
    cuDNN's algorithm search). The clock reads after the device has finished its queued work."""
    recipe = recipe_by_name(name)
    steps, warmup = positive_int(steps, "steps"), positive_int(warmup, "warmup")
    steps = math.ceil(steps / warmup) * warmup
    training = recipe.sized(warmup + steps, batch_size)
    generator, critic = _networks(name, seed)
    marks: dict[int, float] = {}
    train(generator, critic, random_images(device=device).sample, training, latent_dim=recipe.latent_dim, seed=seed,
          device=device, speed=speed, log_every=warmup, callback=lambda step, *_: marks.setdefault(step, time.perf_counter()),
          callback_every=warmup, progress=False)
    return 1000 * (marks[warmup + steps] - marks[warmup]) / steps


def _trained(name: str, speed: Speed, dtype: torch.dtype, *, device, steps: int, batch_size, seed: int):
    """The networks of recipe ``name`` (initial weights from ``seed``, in ``dtype``) after ``steps``
    generator steps under ``speed``, with the logged critic losses."""
    recipe = recipe_by_name(name)
    training = recipe.sized(steps, batch_size)
    data = random_images(device=device)
    generator, critic = (net.to(dtype) for net in _networks(name, seed))
    history = train(generator, critic, lambda n, rng: data.sample(n, rng).to(dtype), training, latent_dim=recipe.latent_dim,
                    seed=seed, device=device, speed=speed, log_every=steps, progress=False)
    return generator, critic, torch.tensor(history["critic_loss"], dtype=torch.float64)


def update_difference(name: str, speed: Speed, *, dtype: torch.dtype = torch.float64, reference: Speed = PLAIN,
                      reference_dtype: torch.dtype | None = None, device="cpu", steps: int = 8,
                      batch_size: int | None = None, seed: int = 0) -> dict[str, float]:
    r"""Train the networks of recipe ``name`` from the same initial weights and seed for ``steps``
    generator steps twice — under ``reference`` in ``reference_dtype`` (default ``dtype``) and under
    ``speed`` in ``dtype`` — and return, for the generator and the critic,
    :math:`\lVert \Delta - \Delta_\text{ref} \rVert / \lVert \Delta_\text{ref} \rVert`, where
    :math:`\Delta` is the change of all weights over the steps, and the largest relative difference
    of the logged critic loss.

    In float64 rounding is negligible, so a result near 1e-12 shows that both steps compute the
    same function. In float32 the first Adam / RMSProp steps, being close to sign steps, turn
    rounding differences into visible ones; the plain float32 step against the plain float64 one
    (``dtype=torch.float32, reference_dtype=torch.float64``) measures that floor.
    """
    recipe_by_name(name)
    positive_int(steps, "steps")
    ref_g, ref_c, ref_loss = _trained(name, reference, reference_dtype or dtype, device=device, steps=steps,
                                      batch_size=batch_size, seed=seed)
    g, c, loss = _trained(name, speed, dtype, device=device, steps=steps, batch_size=batch_size, seed=seed)
    start = _networks(name, seed)
    flat = lambda net: torch.cat([p.detach().double().cpu().flatten() for p in net.parameters()])
    result = {}
    for part, initial, ref, trained in (("generator", start[0], ref_g, g), ("critic", start[1], ref_c, c)):
        expected = flat(ref) - flat(initial)
        result[part] = float((flat(trained) - flat(initial) - expected).norm() / expected.norm())
    result["critic_loss"] = float(((loss - ref_loss).abs() / ref_loss.abs().clamp(min=1e-12)).max())
    return result


def ladder(device) -> list[tuple[str, Speed]]:
    """The plain step, then the levers added one at a time — on CUDA ``one_forward`` first, then
    those of :func:`wgan_teach.speed.fastest` (bf16 last, so the step before it is in float32) —
    then, on CUDA, the fast step itself, which leaves the one critic forward out."""
    top = fastest(device)
    cuda = torch.device(device).type == "cuda"
    every = replace(top, one_forward=True) if cuda else top
    rungs, speed = [("plain", PLAIN)], PLAIN
    for field, label in (("one_forward", "+ one critic forward"), ("channels_last", "+ channels-last"),
                         ("fused_optimizers", "+ fused optimisers"), ("graphs", "+ CUDA graphs"), ("bf16", "+ bf16")):
        if getattr(every, field):
            speed = replace(speed, **{field: True})
            rungs.append((label, speed))
    if cuda:  # it trades launches for extra arithmetic: measured, is it worth it with the rest on?
        rungs.append(("fast, three forwards", top))
    return rungs
