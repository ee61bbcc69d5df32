"""Named image recipes: which networks, which latent size, and the training loop's :class:`Recipe`.

:data:`RECIPES` holds the published recipes (``cnn32-wgangp``, ``res32-wgangp``, ``cnn32-wgan-clip``,
``cnn32-gan``) and, for a laptop CPU, the WGAN ones with narrower networks (``-w16``/``-w32`` for
cnn32, ``-w32``/``-w64`` for res32); :func:`recipe_by_name` looks one up.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from .nets import cnn32, res32
from .train import Recipe

__all__ = ["NETWORKS", "ImageRecipe", "RECIPES", "recipe_by_name"]

NETWORKS = {"cnn32": cnn32, "res32": res32}


@dataclass(frozen=True)
class ImageRecipe:
    """A named image recipe: which networks (``net`` in :data:`NETWORKS`), latent size, and the loop's
    :class:`Recipe`. ``width`` narrows the networks: cnn32's ``width`` (64 as published), res32's
    ``channels`` (128 as published); None keeps the published size."""

    net: str
    training: Recipe
    latent_dim: int = 128
    width: int | None = None

    def networks(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        if self.width is None:
            return NETWORKS[self.net](self.latent_dim)
        return NETWORKS[self.net](self.latent_dim, **{"cnn32": {"width": self.width}, "res32": {"channels": self.width}}[self.net])

    def sized(self, steps: int | None = None, batch_size: int | None = None, lr: float | None = None) -> Recipe:
        """The loop's :class:`Recipe` with ``steps``, ``batch_size`` (both batches) and ``lr`` overridden where given."""
        training = self.training if steps is None else replace(self.training, steps=steps)
        if batch_size is not None:
            training = replace(training, batch_size=batch_size, generator_batch_size=batch_size)
        return training if lr is None else replace(training, lr=lr)


_ADAM_WGAN = dict(optimizer="adam", lr=2e-4, betas=(0.0, 0.9), lam=10.0, lr_decay=True, steps=100_000)
RECIPES: dict[str, ImageRecipe] = {
    # the common PyTorch WGAN-GP baseline: SNGAN-style CNN, one critic step, larger generator batch
    "cnn32-wgangp": ImageRecipe("cnn32", Recipe("wgan-gp", critic_steps=1, batch_size=128, generator_batch_size=256, **_ADAM_WGAN)),
    # the WGAN-GP paper's CIFAR-10 ResNet and schedule
    "res32-wgangp": ImageRecipe("res32", Recipe("wgan-gp", critic_steps=5, batch_size=64, generator_batch_size=128, **_ADAM_WGAN)),
    # WGAN (Arjovsky et al. 2017): RMSProp 5e-5, clipping at 0.01, five critic steps
    "cnn32-wgan-clip": ImageRecipe("cnn32", Recipe("wgan-clip", critic_steps=5, batch_size=64, optimizer="rmsprop", lr=5e-5, clip=0.01, steps=100_000)),
    # the non-saturating GAN, for contrast (DCGAN's Adam settings)
    "cnn32-gan": ImageRecipe("cnn32", Recipe("gan", critic_steps=1, batch_size=128, optimizer="adam", lr=2e-4, betas=(0.5, 0.999), steps=100_000)),
}
# Candidates for a laptop CPU (Chapter 7): the same recipes with narrower networks and smaller batches.
for _name, _recipe in list(RECIPES.items()):
    if _name != "cnn32-gan":
        _net, _rest = _name.split("-", 1)
        for _width in {"cnn32": (16, 32), "res32": (32, 64)}[_net]:
            RECIPES[f"{_net}-w{_width}-{_rest}"] = replace(_recipe, width=_width)


def recipe_by_name(name: str) -> ImageRecipe:
    """The :class:`ImageRecipe` called ``name`` in :data:`RECIPES`; a ValueError lists the names otherwise."""
    if not isinstance(name, str) or name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; valid names: {', '.join(RECIPES)}")
    return RECIPES[name]
