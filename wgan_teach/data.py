r"""CIFAR-10-style image data: read once, decoded once into one ``uint8`` tensor, sampled on the device.

:func:`load_images` reads one of three kinds of source and returns every image of a split as one
``N x 3 x size x size`` ``uint8`` tensor, with ``int64`` labels and the class names:

* the official CIFAR-10 python batches: the folder ``cifar-10-batches-py`` (``data_batch_1`` ...
  ``data_batch_5`` for ``split="train"``, ``test_batch`` for ``split="test"``, ``batches.meta`` for
  the class names), or the archive ``cifar-10-python.tar.gz`` itself, read without unpacking;
* a folder of class folders of images, ``root/<class>/<image>`` (PNG, JPEG, BMP or WebP), where a
  folder named like the split (``root/train/<class>/<image>``) is used when there is one;
* the same class folders in a ``.zip``, ``.tar``, ``.tar.gz``/``.tgz`` or ``.tar.xz`` archive, read
  straight from the archive in one streaming pass.

Classes are sorted by name and images by (class, file name), so the tensor does not depend on the
order of files on disk or in an archive. Folders named ``train`` or ``test`` are split folders, never
classes. Hidden files, files that are not images and images outside a class folder are skipped.

:class:`ImageData` moves that tensor to the device once; each :meth:`ImageData.sample` then draws a
batch there and maps it to the range the generator's ``tanh`` output lives in,

.. math::

    x = \frac{u}{127.5} - 1 \in [-1, 1], \qquad u \in \{0, 1, \dots, 255\},

with a random horizontal flip per image. :func:`to_images` inverts the map,
:math:`u = \operatorname{round}\big(127.5\,(x + 1)\big)` clipped to :math:`[0, 255]`.

:func:`download_cifar10` fetches the official archive for readers who are online; nothing else
here touches the network.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import os
import pickle
import tarfile
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from .checks import path as checked_path, positive_int, torch_device

__all__ = [
    "SPLITS",
    "IMAGE_SUFFIXES",
    "ARCHIVE_SUFFIXES",
    "CIFAR10_URL",
    "CIFAR10_MD5",
    "load_images",
    "ImageData",
    "to_images",
    "download_cifar10",
    "cifar10_cache",
    "find_cifar10",
    "DATA_ENV",
]

SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz")
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
DATA_ENV = "WGAN_TEACH_DATA"  # the folder (or archive) holding CIFAR-10

_META = "batches.meta"
_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
_CIFAR_SIZE = 32
_KINDS = (
    "a CIFAR-10 python batches folder (cifar-10-batches-py) or its cifar-10-python.tar.gz, "
    "a folder of class folders of images, or such class folders in a "
    + ", ".join(ARCHIVE_SUFFIXES)
    + " archive"
)
# What a CIFAR batch pickle may name: numpy arrays (old and new module paths) and the bytes codec
# that Python 3's protocol 2 uses. Anything else is refused, since unpickling can run code.
_PICKLE_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}


def load_images(
    source: str | os.PathLike,
    *,
    split: str = "train",
    size: int = 32,
    resize: bool = False,
    per_class: int | None = None,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Read every image of ``split`` from ``source`` and decode it, once, into one tensor.

    ``source`` is a CIFAR-10 python batches folder or archive, a folder of class folders of
    images, or a zip/tar archive of such class folders (see the module docstring). Images must be
    ``size x size``; with ``resize=True`` others are resized to it (bicubic, antialiased when
    shrinking; non-square images are stretched). Images are converted to RGB (alpha dropped).

    Returns ``(images, labels, classes)``: ``images`` a ``uint8`` tensor ``N x 3 x size x size``,
    ``labels`` an ``int64`` tensor of shape ``(N,)`` indexing ``classes``, and ``classes`` the
    class names (from ``batches.meta`` for CIFAR batches, else the sorted folder names).
    ``per_class`` keeps only the first that many images of each class (in file order), and decodes
    only those: a quick, balanced subset.
    """
    path = checked_path(source, "source", what=f"a path to {_KINDS}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    if per_class is not None:
        per_class = positive_int(per_class, "per_class")
    for name, flag in (("resize", resize), ("progress", progress)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    if not path.exists():
        raise FileNotFoundError(f"source {str(path)!r} does not exist; expected {_KINDS}")
    names, files = _read_source(path, lambda name: _wanted(name, split))
    if _META in {PurePosixPath(name).name for name in files}:
        images, labels, classes = _cifar_batches(path, files, split)
        if per_class is not None:
            keep = torch.cat([torch.nonzero(labels == k).flatten()[:per_class] for k in range(len(classes))]).sort().values
            images, labels = images[keep.numpy()], labels[keep]
        return _resized_batches(path, images, size, resize, progress), labels, classes
    members = _split_members(path, files, names, split)
    if per_class is not None:
        members = [pair for i, pair in enumerate(members) if i < per_class or pair[0] != members[i - per_class][0]]
    return _decode_members(path, members, files, size, resize, progress)


class ImageData:
    """Images held once on a device, sampled as float batches in [-1, 1]: ``data.sample(n, rng)``.

    ``ImageData(*load_images(source), device="cuda")`` builds one from a source in one line.
    ``images`` is the ``uint8`` tensor ``N x 3 x H x W``; ``labels`` (``int64``, shape ``(N,)``)
    and ``classes`` are kept beside it for reference. ``flip=False`` turns the random
    horizontal flip off.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        classes: Iterable[str] | None = None,
        *,
        device: str | torch.device = "cpu",
        flip: bool = True,
    ) -> None:
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
            raise TypeError(f"images must be a uint8 torch.Tensor, got {_describe(images)}")
        if images.ndim != 4 or images.shape[0] < 1 or images.shape[1] != 3:
            raise ValueError(f"images must have shape N x 3 x H x W with N >= 1, got {tuple(images.shape)}")
        labels = None if labels is None else _labels(labels, images.shape[0])
        if isinstance(classes, (str, bytes)) or not (classes is None or isinstance(classes, Iterable)):
            raise TypeError(f"classes must be a sequence of class names, got {type(classes).__name__}")
        if not isinstance(flip, bool):
            raise TypeError(f"flip must be True or False, got {flip!r}")
        self.images = images.to(torch_device(device))
        self.labels = None if labels is None else labels.to(self.images.device)
        self.classes = [str(name) for name in classes or []]
        self.flip = flip

    def __len__(self) -> int:
        return self.images.shape[0]

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Return ``n`` images drawn uniformly with replacement, as a float tensor ``n x 3 x H x W`` in [-1, 1].

        Indices, then flips (each image mirrored left-right with probability 1/2, when ``flip``), come
        from ``generator``, which must live on the images' device; the same seed gives the same batch.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        if not _same_device(generator.device, self.images.device):
            raise ValueError(
                f"generator is on {generator.device} but the images are on {self.images.device}; "
                f"use torch.Generator(device={str(self.images.device)!r})"
            )
        index = torch.randint(len(self), (n,), generator=generator, device=generator.device)
        x = self.images[index].float() / 127.5 - 1
        if not self.flip:
            return x
        flip = torch.rand(n, generator=generator, device=generator.device) < 0.5
        return torch.where(flip[:, None, None, None], x.flip(-1), x)


def to_images(x: torch.Tensor) -> torch.Tensor:
    """Return the ``uint8`` images ``round(127.5 (x + 1))``, clipped to [0, 255], of a float tensor in [-1, 1].

    NaN has no pixel value (casting it to ``uint8`` gives an arbitrary one): a ValueError."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {_describe(x)}")
    if torch.isnan(x).any():
        raise ValueError("x must not contain NaN: the generator's output has no pixel value there")
    return ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


def download_cifar10(root: str | os.PathLike | None = None, *, url: str = CIFAR10_URL, md5: str = CIFAR10_MD5) -> Path:
    """Download the CIFAR-10 python archive into ``root`` (by default the user's cache,
    :func:`cifar10_cache`, where :func:`find_cifar10` looks) and return its path (needs internet).

    A file already there with the right MD5 checksum is kept and nothing is downloaded; one with a
    wrong checksum is deleted and downloaded again. A download whose checksum does not match is
    deleted and raises ValueError. Pass the returned path to :func:`load_images`.
    """
    root = cifar10_cache() if root is None else checked_path(root, "root", what="a folder")
    path = root / CIFAR10_ARCHIVE
    if path.is_file():
        if _md5(path) == md5:
            return path
        path.unlink()
    root.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        urllib.request.urlretrieve(url, partial)
        found = _md5(partial)
        if found != md5:
            raise ValueError(f"MD5 of the file downloaded from {url} is {found}, expected {md5}; it was deleted")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def cifar10_cache() -> Path:
    """The user's cache folder for CIFAR-10, where :func:`download_cifar10` puts the archive by default:
    ``$XDG_CACHE_HOME/wgan_teach/cifar10``, or ``~/.cache/wgan_teach/cifar10`` when that is not set."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wgan_teach" / "cifar10"


def find_cifar10(*places: str | os.PathLike, split: str = "train") -> Path | None:
    """The source of CIFAR-10's ``split`` on this machine (for :func:`load_images`), or None.

    Looked for, in this order, in ``places``, in the folder or archive named by the environment
    variable ``WGAN_TEACH_DATA`` and in the user's cache (:func:`cifar10_cache`, where
    :func:`download_cifar10` puts it). In a folder: ``train.tar.xz`` / ``test.tar.xz`` (a JPEG copy
    of the two splits), the official archive, or its unpacked ``cifar-10-batches-py``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    for place in places:
        checked_path(place, "places", what="folders or archives")
    candidates = [*places, os.environ.get(DATA_ENV), cifar10_cache()]
    for place in (Path(p).expanduser() for p in candidates if p):
        for path in (place / f"{split}.tar.xz", place / CIFAR10_ARCHIVE, place / "cifar-10-batches-py"):
            if path.is_file() or (path / _META).is_file():
                return path
        if place.is_file() or (place / _META).is_file():
            return place
    return None


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _labels(labels, n: int) -> torch.Tensor:
    """Labels as an int64 tensor of shape (n,): integers (or floats with integer values)."""
    try:
        labels = torch.as_tensor(labels)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"labels must be integers, one per image: {error}") from error
    if tuple(labels.shape) != (n,):
        raise ValueError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
    if labels.is_complex() or labels.dtype == torch.bool or (
            labels.is_floating_point() and not (torch.isfinite(labels).all() and torch.equal(labels, labels.round()))):
        raise TypeError(f"labels must be integers, got {labels.dtype} values")
    return labels.to(torch.int64)


def _describe(value: object) -> str:
    return f"tensor of dtype {value.dtype}" if isinstance(value, torch.Tensor) else type(value).__name__


def _wanted(name: str, split: str) -> bool:
    """Whether member ``name`` may hold data for ``split``: a CIFAR batch of it, or an image in a class folder."""
    parts = PurePosixPath(name).parts
    if not parts or any(part.startswith(".") for part in parts):
        return False
    if parts[-1] in (_META, *_BATCHES[split]):
        return True
    in_class_folder = len(parts) >= 2 and parts[-2] not in SPLITS  # a split folder is never a class
    return in_class_folder and parts[-1].lower().endswith(IMAGE_SUFFIXES) and _split_folder(name) in (None, split)


def _read_source(path: Path, wanted: Callable[[str], bool]) -> tuple[list[str], dict[str, bytes]]:
    """Return all file names in ``path`` (a folder or an archive) and the bytes of the ``wanted`` ones."""
    if path.is_dir():
        return _read_folder(path, wanted)
    name = path.name.lower()
    if name.endswith(".zip"):
        reader = _read_zip
    elif name.endswith(ARCHIVE_SUFFIXES):
        reader = _read_tar
    else:
        raise ValueError(f"source {str(path)!r} is not a known kind of source; expected {_KINDS}")
    try:
        return reader(path, wanted)
    except (zipfile.BadZipFile, tarfile.TarError, lzma.LZMAError, zlib.error, EOFError, OSError) as error:
        raise ValueError(f"cannot read archive {str(path)!r}: {error}") from error


def _read_folder(path: Path, wanted: Callable[[str], bool]) -> tuple[list[str], dict[str, bytes]]:
    names = []
    for folder, subfolders, files in os.walk(path):
        subfolders[:] = [sub for sub in subfolders if not sub.startswith(".")]
        names += [(Path(folder) / file).relative_to(path).as_posix() for file in files]
    return names, {name: (path / name).read_bytes() for name in names if wanted(name)}


def _read_zip(path: Path, wanted: Callable[[str], bool]) -> tuple[list[str], dict[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        return names, {name: archive.read(name) for name in names if wanted(name)}


def _read_tar(path: Path, wanted: Callable[[str], bool]) -> tuple[list[str], dict[str, bytes]]:
    names, files = [], {}
    with tarfile.open(path, "r|*") as archive:  # one streaming pass: fast for solid .tar.xz
        for member in archive:
            if member.isfile():
                names.append(member.name)
                if wanted(member.name):
                    files[member.name] = archive.extractfile(member).read()
    return names, files


def _cifar_batches(path: Path, files: dict[str, bytes], split: str) -> tuple[np.ndarray, torch.Tensor, list[str]]:
    """Return the split's images (``N x 3 x 32 x 32`` uint8 array), labels and class names from CIFAR batches."""
    by_name = {}
    for name, data in files.items():
        base = PurePosixPath(name).name
        if base in by_name:
            raise ValueError(f"{str(path)!r} holds more than one {base!r}: {by_name[base][0]!r} and {name!r}")
        by_name[base] = (name, data)
    missing = [base for base in (_META, *_BATCHES[split]) if base not in by_name]
    if missing:
        raise ValueError(f"CIFAR-10 batches in {str(path)!r} lack {missing} for split {split!r}")
    meta_name, meta = by_name[_META]
    classes = [label.decode() for label in _unpickle(path, meta_name, meta, b"label_names")[b"label_names"]]
    arrays, labels = [], []
    for base in _BATCHES[split]:
        name, data = by_name[base]
        batch = _unpickle(path, name, data, b"data", b"labels")
        array = np.asarray(batch[b"data"])
        if array.dtype != np.uint8 or array.ndim != 2 or array.shape[1] != 3 * _CIFAR_SIZE**2:
            raise ValueError(f"{name!r} in {str(path)!r}: data must be uint8 N x 3072, got {array.dtype} {array.shape}")
        if len(batch[b"labels"]) != len(array):
            raise ValueError(f"{name!r} in {str(path)!r}: {len(batch[b'labels'])} labels for {len(array)} images")
        arrays.append(array.reshape(-1, 3, _CIFAR_SIZE, _CIFAR_SIZE))  # rows are channel-major RGB
        labels += batch[b"labels"]
    labels = torch.tensor(labels, dtype=torch.int64)
    if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < len(classes):
        raise ValueError(f"CIFAR-10 labels in {str(path)!r} must lie in [0, {len(classes)}), one per class name")
    return np.concatenate(arrays), labels, classes


def _unpickle(path: Path, name: str, data: bytes, *keys: bytes) -> dict:
    """Return the dict pickled in ``data`` (CIFAR member ``name``), checking that it has ``keys``."""
    try:
        batch = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as error:  # garbage bytes fail in many ways; all mean "not a CIFAR batch"
        raise ValueError(f"cannot read CIFAR-10 batch {name!r} in {str(path)!r}: {error}") from error
    if not isinstance(batch, dict):
        raise ValueError(f"CIFAR-10 batch {name!r} in {str(path)!r} is a {type(batch).__name__}, not a dict")
    missing = [key for key in keys if key not in batch]
    if missing:
        raise ValueError(f"CIFAR-10 batch {name!r} in {str(path)!r} lacks the keys {missing}")
    return batch


class _BatchUnpickler(pickle.Unpickler):
    """``pickle.load`` restricted to what CIFAR batches hold, so a tampered file cannot run code."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not part of a CIFAR-10 batch")
        return super().find_class(module, name)


def _resized_batches(path: Path, images: np.ndarray, size: int, resize: bool, progress: bool) -> torch.Tensor:
    """Return CIFAR batch images as a tensor, resized to ``size`` when asked."""
    if size == _CIFAR_SIZE:
        return torch.from_numpy(images)
    if not resize:
        raise ValueError(_size_message(f"CIFAR-10 images in {str(path)!r}", _CIFAR_SIZE, _CIFAR_SIZE, size))
    out = np.empty((len(images), size, size, 3), dtype=np.uint8)
    for i in tqdm(range(len(images)), disable=not progress, desc="resize"):
        out[i] = _resized(Image.fromarray(images[i].transpose(1, 2, 0)), size)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _split_members(path: Path, files: dict[str, bytes], names: list[str], split: str) -> list[tuple[str, str]]:
    """Return the split's images as sorted ``(class, member name)`` pairs.

    Images under a folder named like the split are used when there are any; otherwise every image
    in a class folder is, unless the images sit only under the other split's folder.
    """
    members = [name for name in files if PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES]
    in_split = [name for name in members if _split_folder(name) == split]
    members = in_split or members
    if not members:
        other = _other(split)
        only_other = any(_split_folder(name) == other and _wanted(name, other) for name in names)
        hint = f"; it has images only under a {other!r} folder: pass split={other!r}" if only_other else ""
        raise ValueError(
            f"no images for split {split!r} in {str(path)!r}: expected class folders of "
            f"{'/'.join(IMAGE_SUFFIXES)} images (optionally under a {split!r} folder) or CIFAR-10 batches{hint}"
        )
    pairs = [(PurePosixPath(name).parts[-2], name) for name in members]
    return sorted(pairs, key=lambda pair: (pair[0], PurePosixPath(pair[1]).name, pair[1]))


def _split_folder(name: str) -> str | None:
    parts = PurePosixPath(name).parts
    return parts[-3] if len(parts) >= 3 and parts[-3] in SPLITS else None


def _other(split: str) -> str:
    return SPLITS[1 - SPLITS.index(split)]


def _decode_members(
    path: Path, members: list[tuple[str, str]], files: dict[str, bytes], size: int, resize: bool, progress: bool
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Decode the sorted members into one tensor; return it with labels and the sorted class names."""
    classes = sorted({cls for cls, _ in members})
    index = {cls: i for i, cls in enumerate(classes)}
    out = np.empty((len(members), size, size, 3), dtype=np.uint8)
    for i, (_, name) in enumerate(tqdm(members, disable=not progress, desc="decode")):
        out[i] = _decode(path, name, files[name], size, resize)
    labels = torch.tensor([index[cls] for cls, _ in members], dtype=torch.int64)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous(), labels, classes


def _decode(path: Path, name: str, data: bytes, size: int, resize: bool) -> np.ndarray:
    """Return the image in ``data`` as a ``size x size x 3`` uint8 RGB array."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image = image.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(f"cannot decode image {name!r} in {str(path)!r}: {error}") from error
    if image.size == (size, size):
        return np.asarray(image)
    if not resize:
        raise ValueError(_size_message(f"image {name!r} in {str(path)!r}", *image.size, size))
    return _resized(image, size)


def _resized(image: Image.Image, size: int) -> np.ndarray:
    return np.asarray(image.resize((size, size), Image.Resampling.BICUBIC))


def _size_message(what: str, width: int, height: int, size: int) -> str:
    return f"{what} is {width}x{height}, expected {size}x{size} (size={size}); pass resize=True to resize it"


def _same_device(a: torch.device, b: torch.device) -> bool:
    """Equal devices, a missing index read as 0 (a CUDA generator made with device="cuda" reports no index)."""
    return a.type == b.type and (a.index or 0) == (b.index or 0)
