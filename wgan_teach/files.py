"""Writing a file so that a kill, a full disk or a crash leaves the old file or the new one, never part of one.

:func:`write_atomically` writes the bytes to a temporary file beside the target (a hidden
``.NAME.PID-RANDOM.tmp`` in the same folder, hence on the same file system), flushes them to disk, and
renames the temporary file over the target with :func:`os.replace`, which POSIX makes atomic. If
writing fails (``ENOSPC``, ``EROFS``, ``EACCES``, an interruption) the temporary file is removed and
the error goes on unchanged; only a kill can leave a temporary file behind, and
:func:`remove_leftovers` clears those. :func:`torch_bytes` and :func:`png_bytes` serialise in
memory first, so that a failed write surfaces as the OSError it is (``torch.save`` straight to a
path on a full disk raises an unhelpful RuntimeError instead).
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
from pathlib import Path

import torch
from PIL import Image

from .checks import path as checked_path

__all__ = ["write_atomically", "torch_bytes", "png_bytes", "remove_leftovers", "first_line", "TEMPORARY_SUFFIX"]

TEMPORARY_SUFFIX = ".tmp"


def write_atomically(path: str | os.PathLike, data: bytes | str) -> Path:
    """Replace ``path`` by ``data`` (``str`` is written as UTF-8) through a temporary file and a rename."""
    path = checked_path(path, "path", what="a file path")
    if not isinstance(data, (bytes, bytearray, memoryview, str)):
        raise TypeError(f"data must be bytes or str, got {type(data).__name__}")
    if not path.name or path.name in (".", ".."):
        raise ValueError(f"path must name a file, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMPORARY_SUFFIX}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for open()
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(err, OSError) and err.filename is None:  # a failed write() names no file: name the target
            raise OSError(err.errno, err.strerror, str(path)) from err
        raise
    return path


def torch_bytes(obj) -> bytes:
    """``torch.save(obj)`` as bytes."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    """A PIL image encoded as PNG."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def remove_leftovers(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that killed writers left in ``folder`` and its subfolders; return them."""
    leftovers = [p for p in checked_path(folder, "folder", what="a folder").rglob(f".*{TEMPORARY_SUFFIX}") if p.is_file()]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def first_line(err: BaseException) -> str:
    """``Type: message`` of an exception, cut to its first sentence, for a one-line report."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0].split('. ')[0][:160]}" if text else type(err).__name__
