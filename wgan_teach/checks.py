"""Argument checks shared by the package: a bad input becomes a ValueError or TypeError naming the argument.

The rules, the same wherever numbers go in:

* arrays of numbers are read as float64 (:func:`real_array`); a torch tensor is read as its values
  (detached, copied to the CPU), so ``w1_cdf(generator(z), ...)`` works whatever the tensor's
  ``requires_grad`` or device. Complex numbers, text and objects are refused with a TypeError rather
  than converted (numpy would drop the imaginary part, or read ``"1.5"`` as 1.5);
* a single number (:func:`number`) must be a real number: ``True`` is not 1 and ``"3"`` is not 3;
  NaN is refused everywhere, infinity wherever the argument must be finite;
* counts (:func:`positive_int`) are integers, never booleans or floats such as 2.0; seeds
  (:func:`seed`) are integers torch's generators take, 0 to 2**64 - 1;
* paths (:func:`path`) are ``str`` or ``os.PathLike`` and not empty (``Path("")`` is the current folder);
* a network built for inputs of another size is named before torch's shape message would show
  (:func:`takes_features`, :func:`network_output`).
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["real_array", "number", "finite_number", "positive_number", "non_negative_number", "positive_int",
           "normalised_weights", "torch_device", "path", "seed", "torch_generator", "takes_features", "network_output"]


def real_array(value, name: str, *, what: str = "an array of real numbers") -> np.ndarray:
    """``value`` as a float64 array (module docstring); TypeError naming ``name`` if it is not real numbers."""
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            raise TypeError(f"{name} must be {what}, got a complex tensor")
        return value.detach().to("cpu", torch.float64).numpy()
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as err:  # ragged nested lists
        raise TypeError(f"{name} must be {what} ({err})") from err
    if raw.dtype.kind == "c":
        raise TypeError(f"{name} must be {what}, got complex numbers")
    if raw.dtype.kind in "USV":
        raise TypeError(f"{name} must be {what}, got text")
    try:
        return np.asarray(raw, dtype=np.float64)
    except OverflowError as err:  # a Python int beyond the float range
        raise ValueError(f"{name} must be finite: {err}") from err
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be {what}") from err


def number(value, name: str) -> float:
    """``value`` as a float: a real number (Python, numpy, or a 0-d array or tensor), not a bool, not NaN."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, got {value!r} (a bool)")
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_complex() and value.dtype != torch.bool:
        value = value.item()
    elif isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    try:
        result = float(value)
    except OverflowError as err:
        raise ValueError(f"{name} must be finite, got {value!r}") from err
    if math.isnan(result):
        raise ValueError(f"{name} must be a number, got nan")
    return result


def finite_number(value, name: str) -> float:
    """A real number (:func:`number`) that is finite."""
    result = number(value, name)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {result!r}")
    return result


def positive_number(value, name: str, *, finite: bool = True) -> float:
    """A real number > 0 (and finite unless ``finite=False``)."""
    result = finite_number(value, name) if finite else number(value, name)
    if not result > 0:
        raise ValueError(f"{name} must be positive, got {result!r}")
    return result


def non_negative_number(value, name: str) -> float:
    """A finite real number >= 0."""
    result = finite_number(value, name)
    if result < 0:
        raise ValueError(f"{name} must be >= 0, got {result!r}")
    return result


def positive_int(value, name: str) -> int:
    """An integer >= 1 (Python or numpy; not a bool, not a float such as 2.0)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def normalised_weights(weights, name: str, shape: tuple, shape_name: str) -> np.ndarray:
    r"""Masses :math:`w / \sum_i w_i`: ``weights`` must have ``shape`` (that of ``shape_name``), be finite
    and non-negative, with a positive sum. Weights whose sum overflows (``[1e308, 1e308]``) or is
    subnormal are divided by the largest of them first."""
    weights = real_array(weights, name)
    if weights.shape != shape:
        raise ValueError(f"{name} must have the same shape as {shape_name}: {weights.shape} vs {shape}")
    if not np.all(np.isfinite(weights)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    if np.any(weights < 0):
        raise ValueError(f"{name} must be non-negative")
    largest = weights.max() if weights.size else 0.0
    if not largest > 0:
        raise ValueError(f"{name} must have a positive sum")
    with np.errstate(over="ignore"):
        total = weights.sum()
    if not np.isfinite(total) or total < np.finfo(float).tiny:
        weights = weights / largest
        total = weights.sum()
    return weights / total


def torch_device(value, name: str = "device") -> torch.device:
    """``value`` (a str or torch.device) as a torch.device that this machine has: ``"cpu"``, or
    ``"cuda"``/``"cuda:N"`` with CUDA available."""
    if not isinstance(value, (str, torch.device)):
        raise TypeError(f"{name} must be a str or torch.device such as 'cpu' or 'cuda', got {type(value).__name__}")
    try:
        device = torch.device(value)
    except RuntimeError as err:
        raise ValueError(f"{name} must be a device such as 'cpu' or 'cuda', got {value!r}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name} is {str(device)!r}, but CUDA is not available on this machine")
    return device


def path(value, name: str, *, what: str = "a path") -> Path:
    """``value`` (a str or os.PathLike, not empty) as a Path; ``what`` says what it should point at."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be {what} (str or os.PathLike), got {type(value).__name__}")
    if not os.fspath(value):
        raise ValueError(f"{name} must be {what}, got an empty string")
    return Path(value)


def seed(value, name: str = "seed") -> int:
    """A seed for torch's random generators: an integer in [0, 2**64 - 1] (Python or numpy; not a bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or not 0 <= value < 2**64:
        raise ValueError(f"{name} must be an integer from 0 to 2**64 - 1, got {value!r}")
    return int(value)


def torch_generator(value, name: str = "generator") -> torch.Generator | None:
    """``value``, a torch.Generator or None (torch's global generator)."""
    if value is not None and not isinstance(value, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None, got {type(value).__name__}")
    return value


def takes_features(network, features: int, name: str = "critic", what: str = "samples") -> None:
    """A network that begins with a Linear layer (an ``nn.Sequential`` whose first layer, however
    nested, is an ``nn.Linear``) must take ``features`` inputs: a ValueError naming ``name`` otherwise.
    Other networks are not checked here (:func:`network_output` catches them at their forward)."""
    first = network
    while isinstance(first, nn.Sequential) and len(first) > 0:
        first = first[0]
    if (first is not network and isinstance(first, nn.Linear) and not isinstance(first, nn.LazyLinear)
            and first.in_features != features):
        raise ValueError(f"{name} takes {first.in_features} features (its first Linear layer), but the {what} "
                         f"have {features}: build it for their dimension")


def network_output(network, x: torch.Tensor, name: str = "critic", what: str = "samples") -> torch.Tensor:
    """``network(x)``, where a network built for other inputs (size, channels, dtype) is a ValueError
    naming ``name`` instead of torch's shape message: checked up front where the first layer says
    (:func:`takes_features`), otherwise from the forward's error."""
    if x.ndim == 2:
        takes_features(network, x.shape[1], name, what)
    try:
        return network(x)
    except RuntimeError as err:
        if isinstance(err, torch.OutOfMemoryError):
            raise
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{name} cannot take the {what} (shape {tuple(x.shape[1:])}, {x.dtype}): {message}; "
                         "build it for their shape and dtype") from err
