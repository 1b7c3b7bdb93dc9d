"""Winsorization: capping values at quantiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shoplens import _native
from shoplens._display import ResultDisplay
from shoplens._validate import as_array, flag, probability

__all__ = ["WinsorizeResult", "winsorize"]


@dataclass(frozen=True, eq=False)
class WinsorizeResult(ResultDisplay):
    """Result of :func:`winsorize`.

    Attributes
    ----------
    values : numpy.ndarray
        The capped values, in the input order.
    lower_cap, upper_cap : float
        The caps (quantiles of the values, or of the non-zero values).
    n_capped_low, n_capped_high : int
        How many values were raised to ``lower_cap`` / lowered to ``upper_cap``.
    """

    values: np.ndarray = field(repr=False)
    lower_cap: float
    upper_cap: float
    n_capped_low: int
    n_capped_high: int


def winsorize(values: Any, *, lower: float = 0.0, upper: float = 0.99, nonzero_only: bool = False) -> WinsorizeResult:
    """Cap values at the ``lower`` and ``upper`` quantiles.

    Quantiles follow numpy's default (``method="linear"``). With ``nonzero_only`` the caps are
    quantiles of the non-zero values only (most users buy nothing, so the 99th percentile of all
    users is often 0) and exact zeros stay zero; the caps are NaN when every value is zero.

    Examples
    --------
    >>> r = winsorize([0, 0, 0, 0, 0, 0, 10, 20, 30, 1000], upper=0.9)
    >>> round(r.upper_cap, 6), r.n_capped_high
    (127.0, 1)
    >>> r = winsorize([0, 0, 0, 0, 0, 0, 10, 20, 30, 1000], upper=0.5, nonzero_only=True)
    >>> float(r.upper_cap), r.values.tolist()
    (25.0, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 10.0, 20.0, 25.0, 25.0])
    """
    capped, lo, hi, n_low, n_high = _native.exp_winsorize(
        as_array(values, "values"),
        probability(lower, "lower", open_interval=False),
        probability(upper, "upper", open_interval=False),
        flag(nonzero_only, "nonzero_only"),
    )
    return WinsorizeResult(capped, lo, hi, n_low, n_high)
