"""FID: the Fréchet distance against scipy and closed forms, the TF1 resize against its formula, and the
real Inception network (the offline copy in ../shared, when present) on CIFAR-10 test images."""

from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from wgan_teach.data import load_images
from wgan_teach.fid import (
    INCEPTION_ENV,
    feature_statistics,
    fid,
    frechet_distance,
    inception_features,
    inception_network,
    reference_statistics,
    tf1_resize,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"
NETWORK = SHARED / "models/tf-inception-fid/inception-2015-12-05-fp16r.pt.xz"
TEST_IMAGES = SHARED / "data/cifar10-jpeg/test.tar.xz"


def random_spd(d, rng, rank=None):
    a = rng.normal(size=(d, rank or d))
    return a @ a.T / d + (0 if rank else 0.1 * np.eye(d))


@pytest.mark.parametrize("seed", range(5))
def test_frechet_distance_matches_scipy_sqrtm(seed):
    rng = np.random.default_rng(seed)
    d = 30
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = random_spd(d, rng), random_spd(d, rng)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    direct = (mu1 - mu2) @ (mu1 - mu2) + np.trace(s1 + s2 - 2 * root)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(direct, rel=1e-9)


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    mu, sigma = rng.normal(size=8), random_spd(8, rng)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-10 * np.trace(sigma)
    assert frechet_distance(mu, sigma, mu + 0.5, sigma) == pytest.approx(8 * 0.25, rel=1e-9)
    a, b = rng.uniform(0, 2, size=8), rng.uniform(0, 2, size=8)
    a[:3] = 0  # singular: as when there are fewer images than features
    expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)  # commuting covariances
    assert frechet_distance(np.zeros(8), np.diag(a), np.zeros(8), np.diag(b)) == pytest.approx(expected, rel=1e-9)
    low1, low2 = random_spd(40, rng, rank=10), random_spd(40, rng, rank=10)
    value = frechet_distance(np.zeros(40), low1, np.zeros(40), low2)
    assert np.isfinite(value) and value >= 0


def test_frechet_distance_and_statistics_validation():
    with pytest.raises(ValueError, match="mu1 must be a finite"):
        frechet_distance([np.nan, 0], np.eye(2), [0, 0], np.eye(2))
    with pytest.raises(ValueError, match=r"sigma2 must be a finite \(2, 2\) matrix"):
        frechet_distance([0, 0], np.eye(2), [0, 0], np.eye(3))
    with pytest.raises(ValueError, match="sigma1 must be symmetric"):
        frechet_distance([0, 0], [[1, 1], [0, 1]], [0, 0], np.eye(2))
    with pytest.raises(ValueError, match=r"features must have shape \(n, d\) with n >= 2"):
        feature_statistics(np.zeros((1, 4)))
    features = np.random.default_rng(0).normal(size=(50, 3))
    mu, sigma = feature_statistics(features)
    assert np.allclose(mu, features.mean(0)) and np.allclose(sigma, np.cov(features.T))


def tf1_reference(image, size):
    """TensorFlow 1 resize_bilinear(align_corners=False), written out: output j reads input j * n_in / n_out."""
    n_in = image.shape[-1]
    src = np.arange(size) * n_in / size
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    t = src - lo
    rows = image[..., lo, :] * (1 - t)[:, None] + image[..., hi, :] * t[:, None]
    return rows[..., lo] * (1 - t) + rows[..., hi] * t


@pytest.mark.parametrize("n_in, size", [(4, 7), (32, 299)])
def test_tf1_resize_follows_the_tensorflow_formula(n_in, size):
    image = torch.rand(2, 3, n_in, n_in, dtype=torch.float64)
    ours = tf1_resize(image, size).numpy()
    assert np.allclose(ours, tf1_reference(image.numpy(), size), atol=1e-10)
    plain = torch.nn.functional.interpolate(image, size=size, mode="bilinear", align_corners=False).numpy()
    assert not np.allclose(plain, ours, atol=1e-3)  # the half-pixel convention really differs


def test_network_loading_errors(tmp_path, monkeypatch):
    monkeypatch.delenv(INCEPTION_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="no Inception network at"):
        inception_network(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a network")
    with pytest.raises(ValueError, match="is not a TorchScript network"):
        inception_network(junk)
    monkeypatch.setenv(INCEPTION_ENV, str(tmp_path / "from-env.pt"))
    with pytest.raises(FileNotFoundError, match="from-env.pt"):
        inception_network()


@pytest.fixture(scope="module")
def inception():
    if not NETWORK.is_file():
        pytest.skip("the offline Inception copy is not in ../shared")
    return inception_network(NETWORK)


@pytest.fixture(scope="module")
def cifar_test_images():
    if not TEST_IMAGES.is_file():
        pytest.skip("the CIFAR-10 JPEG test archive is not in ../shared")
    images, labels, _ = load_images(TEST_IMAGES, split="test")
    g = torch.Generator().manual_seed(0)
    return images[torch.randperm(len(images), generator=g)[:40]]


def test_fid_with_the_real_network(inception, cifar_test_images, tmp_path):
    half_a, half_b = cifar_test_images[:20], cifar_test_images[20:]
    features = inception_features(half_a, inception, batch=20)
    assert features.shape == (20, 2048) and np.all(np.isfinite(features))
    stats_a = feature_statistics(features)
    # 20 images, 2048 features: singular covariances, whose null spaces leave round-off of ~1e-7 of the trace
    assert abs(frechet_distance(*stats_a, *stats_a)) < 1e-6 * np.trace(stats_a[1])
    stats_b = reference_statistics(half_b, inception, key="test-half-b", cache=tmp_path)
    between = frechet_distance(*stats_a, *stats_b)
    assert 50 < between < 500  # 20 vs 20 images: small-sample bias dominates, but finite and positive
    shuffled = half_a[torch.randperm(20, generator=torch.Generator().manual_seed(1))]
    assert fid(shuffled, stats_b, inception=inception) == pytest.approx(between, rel=1e-6)
    cached = reference_statistics(half_b, None, key="test-half-b", cache=tmp_path)  # no network needed now
    assert all(np.array_equal(x, y) for x, y in zip(cached, stats_b))
    flat = torch.full_like(half_a[:10], 128)
    assert fid(flat, stats_b, inception=inception) > 1.8 * between  # a constant image set is far from CIFAR


class _MeanFeatures(torch.nn.Module):
    """A stand-in for the Inception network: 2048 features that are the images' channel means, repeated."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, x):
        return (x.mean(dim=(2, 3)) * self.scale).repeat(1, 683)[:, :2048]


def test_frechet_distance_refuses_what_is_not_a_covariance():
    with pytest.raises(ValueError, match=r"sigma1 must be a covariance \(positive semi-definite\)"):
        frechet_distance([0, 0], -np.eye(2), [0, 0], -np.eye(2))  # once -4.0
    with pytest.raises(ValueError, match="sigma2 must be a covariance"):
        frechet_distance([0, 0], np.eye(2), [0, 0], [[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3 and -1
    rank_one = np.outer([1.0, 2.0], [1.0, 2.0])  # singular, with round-off below zero: legal
    assert frechet_distance([0, 0], rank_one, [0, 0], rank_one) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("scale", [1e-150, 1e-100, 1e100, 1e150])
def test_frechet_distance_scales_as_the_square_of_the_features(scale):
    """FID(s mu, s^2 Sigma) = s^2 FID: no overflow to NaN or underflow to 0 at either end."""
    rng = np.random.default_rng(0)
    mu1, mu2, s1, s2 = rng.normal(size=4), rng.normal(size=4), random_spd(4, rng), random_spd(4, rng)
    value = frechet_distance(mu1, s1, mu2, s2)
    assert frechet_distance(scale * mu1, scale**2 * s1, scale * mu2, scale**2 * s2) == pytest.approx(scale**2 * value, rel=1e-9)
    mu, sigma = feature_statistics(scale * rng.normal(size=(50, 3)))
    assert np.all(np.isfinite(sigma)) and np.all(np.linalg.eigvalsh(sigma) > 0)
    with pytest.raises(ValueError, match="features are too large"):
        feature_statistics([[1e200], [-1e200], [0.0]])  # a covariance of 1e400 does not exist in float64


def test_bad_fid_arguments_are_named():
    u8 = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    network = _MeanFeatures()
    with pytest.raises(TypeError, match=r"reference must be a uint8 image tensor or the pair \(mu, sigma\)"):
        fid(u8, [u8], inception=network)  # once "missing sigma2"
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        fid(u8, u8, inception=network, batch=0)
    with pytest.raises(ValueError, match="generator_or_images must be uint8 images"):
        fid(u8.float(), u8, inception=network)
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        inception_features(u8, network, batch=-1)
    with pytest.raises(TypeError, match="inception must be a file path or a loaded network"):
        inception_network(5)
    with pytest.raises(ValueError, match="inception must be a file path or a loaded network, got an empty string"):
        inception_network("")  # once looked for the current folder
    with pytest.raises(TypeError, match="network must be the Inception network"):
        inception_features(u8, None)  # once an AttributeError
    with pytest.raises(ValueError, match=r"seed must be an integer from 0 to 2\*\*64 - 1"):
        fid(torch.nn.Linear(2, 2), u8, inception=network, seed=2**70)  # once torch's "Overflow when unpacking long long"
    with pytest.raises(TypeError, match="cache must be a folder"):
        reference_statistics(u8, network, key="k", cache=5)
    with pytest.raises(ValueError, match="generator_or_images takes 2 features .its first Linear layer., but the latents"):
        fid(torch.nn.Sequential(torch.nn.Linear(2, 2)), u8, inception=network, n=2, latent_dim=128)
    with pytest.raises(ValueError, match=r"generator_or_images cannot take the latents \(shape \(128,\)"):
        fid(torch.nn.Linear(2, 2), u8, inception=network, n=2, latent_dim=128)  # once torch's matmul message
    for size in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="size must be a positive integer"):
            tf1_resize(torch.zeros(1, 3, 4, 4), size)  # size=0 once divided by zero
    with pytest.raises(TypeError, match="images must be a torch.Tensor"):
        tf1_resize(np.zeros((1, 3, 4, 4)), 8)
    assert tf1_resize(torch.zeros(0, 3, 4, 4), 8).shape == (0, 3, 8, 8)


def test_a_damaged_statistics_cache_is_computed_again(tmp_path):
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    network = _MeanFeatures()
    stats = reference_statistics(images, network, key="k", cache=tmp_path)
    (cached,) = tmp_path.glob("fid-reference-*.npz")
    cached.write_bytes(cached.read_bytes()[:100])  # as an interrupted in-place write once left it
    again = reference_statistics(images, network, key="k", cache=tmp_path)
    assert all(np.array_equal(x, y) for x, y in zip(stats, again))
    assert [p.name for p in tmp_path.iterdir()] == [cached.name]  # replaced whole, no temporary file left


def test_a_network_file_rewritten_on_disk_is_read_again(tmp_path):
    path = tmp_path / "network.pt"
    path.write_bytes(b"not a network")
    with pytest.raises(ValueError, match="not a TorchScript"):
        inception_network(path)
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path)
    network = inception_network(path)  # the same path, new contents: not the bytes read before
    assert network(torch.ones(1, 2)).shape == (1, 2)
