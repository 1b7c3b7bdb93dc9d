"""Argument checks at the Python boundary of the statistics.

Every check raises :class:`shoplens.InvalidArgumentError` (a ``ValueError``) with one message that
names the argument, the value given and what is allowed, before anything reaches the engine.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

from shoplens._types import ALTERNATIVES, Alternative
from shoplens.errors import InvalidArgumentError

__all__ = [
    "alternative",
    "as_array",
    "as_labels",
    "choice",
    "count",
    "flag",
    "integer",
    "level",
    "number",
    "probability",
]

T = TypeVar("T", bound=str)


def _fail(name: str, value: Any, allowed: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"{name} must be {allowed}, got {value!r}")


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def number(value: Any, name: str, *, finite: bool = False) -> float:
    """A real number (int, float or numpy scalar; not a string or bool)."""
    if not _is_real(value):
        raise _fail(name, value, "a finite number" if finite else "a number")
    out = float(value)
    if finite and not math.isfinite(out):
        raise _fail(name, value, "a finite number")
    return out


def integer(value: Any, name: str, *, minimum: int | None = None) -> int:
    """A whole number (an integral float such as ``100.0`` is accepted) of at least ``minimum``."""
    allowed = "an integer" if minimum is None else f"an integer >= {minimum}"
    if not _is_real(value):
        raise _fail(name, value, allowed)
    as_float = float(value)
    if not math.isfinite(as_float) or as_float != math.floor(as_float):
        raise _fail(name, value, allowed)
    out = int(value)
    if minimum is not None and out < minimum:
        raise _fail(name, value, allowed)
    return out


def count(value: Any, name: str) -> int:
    """A non-negative whole number (a count of users, successes, resamples...)."""
    return integer(value, name, minimum=0)


def level(value: Any, name: str = "confidence_level") -> float:
    """A confidence or credible level strictly between 0 and 1."""
    out = number(value, name)
    if not 0.0 < out < 1.0:
        raise _fail(name, value, "a number strictly between 0 and 1")
    return out


def probability(value: Any, name: str, *, open_interval: bool = True) -> float:
    """A probability in (0, 1) (``open_interval``) or [0, 1]."""
    out = number(value, name)
    inside = 0.0 < out < 1.0 if open_interval else 0.0 <= out <= 1.0
    if not inside:
        raise _fail(name, value, "a number strictly between 0 and 1" if open_interval else "a number in [0, 1]")
    return out


def flag(value: Any, name: str) -> bool:
    """A bool (numpy's included); ``1`` or ``"yes"`` are refused rather than guessed."""
    if not isinstance(value, bool | np.bool_):
        raise _fail(name, value, "True or False")
    return bool(value)


def choice(value: Any, allowed: Sequence[T], name: str) -> T:
    """One of ``allowed`` (strings compared exactly)."""
    if not isinstance(value, str) or value not in allowed:
        raise _fail(name, value, "one of " + ", ".join(repr(a) for a in allowed))
    return value  # type: ignore[return-value]


def alternative(value: Any, name: str = "alternative") -> Alternative:
    """``"two-sided"``, ``"less"`` or ``"greater"``."""
    return choice(value, ALTERNATIVES, name)


def as_array(values: Any, name: str) -> np.ndarray:
    """One contiguous float64 1-D array from a list, numpy array, polars or pandas Series."""
    if isinstance(values, str | bytes):
        raise _fail(name, values, "an array of numbers")
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{name} must be an array of numbers, got {_short(values)} ({exc})") from exc
    if array.ndim != 1:
        raise InvalidArgumentError(f"{name} must be a 1-D array of numbers, got shape {array.shape}")
    return np.ascontiguousarray(array)


def as_labels(values: Any, name: str) -> np.ndarray:
    """A 1-D array of labels (any type numpy can sort)."""
    if isinstance(values, str | bytes):
        raise _fail(name, values, "an array of labels")
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise InvalidArgumentError(f"{name} must be a 1-D array of labels, got shape {array.shape}")
    return array


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
