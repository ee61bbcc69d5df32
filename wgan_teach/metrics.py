r"""Sample-quality measures: for the 2-D mixtures, modes covered and the share of high-quality samples;
for images, the Fréchet Inception Distance (defined in :mod:`wgan_teach.fid`, re-exported here).

As in the unrolled-GAN, VEEGAN and PacGAN papers, a generated sample is *high quality* when it lies
within three standard deviations of some mode centre, :math:`\lVert x - \mu_k \rVert \le 3\sigma`,
and a mode is *covered* when at least ``min_count`` samples lie that close to it (those papers use
20 out of 2,500 samples). For a perfect generator the expected high-quality share is the mass of a
2-D Gaussian within 3 std of its mean, :math:`1 - e^{-9/2} \approx 0.989`.
"""

from __future__ import annotations

import torch

from . import toy
from .checks import positive_int, real_array
from .fid import feature_statistics, fid, frechet_distance

__all__ = ["mode_coverage", "frechet_distance", "feature_statistics", "fid"]


def mode_coverage(samples, name: str, *, min_count: int = 20) -> dict:
    """Modes covered and high-quality share of ``samples`` (n, 2) for the mixture data set ``name``.

    Returns ``{"modes_covered", "modes", "high_quality", "counts"}`` with ``counts[k]`` the number
    of samples within 3 std of mode k. Not defined for ``swissroll`` (no modes): ValueError.
    """
    centres, std = toy.mode_centres(name), toy.mode_std(name)
    samples = torch.as_tensor(real_array(samples, "samples"), dtype=torch.float32)
    if samples.ndim != 2 or samples.shape[1] != 2 or samples.shape[0] == 0:
        raise ValueError(f"samples must have shape (n, 2) with n >= 1, got {tuple(samples.shape)}")
    if not torch.isfinite(samples).all():
        raise ValueError("samples must be finite (found NaN or inf)")
    positive_int(min_count, "min_count")
    distance, nearest = torch.cdist(samples, centres).min(dim=1)
    close = distance <= 3 * std
    counts = torch.bincount(nearest[close], minlength=len(centres))
    return {
        "modes_covered": int((counts >= min_count).sum()),
        "modes": len(centres),
        "high_quality": float(close.float().mean()),
        "counts": counts.tolist(),
    }
