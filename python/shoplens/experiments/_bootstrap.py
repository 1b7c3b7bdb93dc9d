"""Bootstrap confidence intervals (BCa and percentile)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from shoplens import _native
from shoplens._display import ResultDisplay
from shoplens._types import Alternative
from shoplens._validate import alternative as check_alternative
from shoplens._validate import as_array, choice, count, integer, level
from shoplens.errors import InvalidArgumentError

__all__ = ["BootstrapResult", "bootstrap_ci"]

BootstrapStatistic = Literal["mean", "median", "sum", "ratio"]
BootstrapMethod = Literal["bca", "percentile"]
_STATISTICS: tuple[BootstrapStatistic, ...] = ("mean", "median", "sum", "ratio")
_METHODS: tuple[BootstrapMethod, ...] = ("bca", "percentile")


@dataclass(frozen=True, eq=False)
class BootstrapResult(ResultDisplay):
    """Result of :func:`bootstrap_ci`; :meth:`confidence_interval` re-reads the same resamples at
    any level.

    Attributes
    ----------
    estimate : float
        The statistic on the data.
    low, high : float
        The interval at the requested level.
    standard_error : float
        Standard deviation of the bootstrap distribution.
    bias_correction, acceleration : float
        BCa's z0 and a (0 for the percentile method).
    method, alternative : str
    bootstrap_distribution : numpy.ndarray
        The statistic on each resample.
    """

    estimate: float
    low: float
    high: float
    standard_error: float
    bias_correction: float
    acceleration: float
    method: str
    alternative: str
    bootstrap_distribution: np.ndarray = field(repr=False)

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """The interval at ``confidence_level`` from the same resamples."""
        return _native.exp_bootstrap_interval(
            self.bootstrap_distribution,
            self.bias_correction,
            self.acceleration,
            self.method,
            self.alternative,
            level(confidence_level),
        )


def _bootstrap_sample(sample: Any, name: str, ratio: bool) -> tuple[np.ndarray, np.ndarray | None]:
    if ratio:
        if not (isinstance(sample, tuple | list) and len(sample) == 2):
            raise InvalidArgumentError(
                f"{name} must be a (numerator, denominator) pair for statistic='ratio', got {type(sample).__name__}"
            )
        return as_array(sample[0], f"{name} numerator"), as_array(sample[1], f"{name} denominator")
    return as_array(sample, name), None


def bootstrap_ci(
    a: Any,
    b: Any = None,
    *,
    statistic: BootstrapStatistic = "mean",
    n_resamples: int = 2000,
    confidence_level: float = 0.95,
    method: BootstrapMethod = "bca",
    alternative: Alternative = "two-sided",
    seed: int = 0,
) -> BootstrapResult:
    """Bootstrap CI of ``statistic(a)`` or, with ``b``, of ``statistic(a) - statistic(b)``.

    ``method="bca"`` uses exactly scipy.stats.bootstrap's bias correction and jackknife
    acceleration. With ``statistic="ratio"`` each sample is a ``(numerator, denominator)`` pair
    of aligned arrays, resampled by row (Σ numerator / Σ denominator, e.g. revenue per order).
    Resampling is parallel; resample i always uses the generator seeded by (seed, i), so the
    result does not depend on the thread count.

    Examples
    --------
    >>> r = bootstrap_ci([1.0, 2.0, 3.0, 4.0, 10.0], n_resamples=1000, seed=1)
    >>> r.estimate
    4.0
    >>> r.low < 4.0 < r.high
    True
    >>> lo, hi = r.confidence_interval(0.5)
    >>> r.low < lo < hi < r.high
    True
    """
    statistic = choice(statistic, _STATISTICS, "statistic")
    method = choice(method, _METHODS, "method")
    alternative = check_alternative(alternative)
    n_resamples = integer(n_resamples, "n_resamples", minimum=1)
    confidence_level = level(confidence_level)
    seed = count(seed, "seed")
    ratio = statistic == "ratio"
    a_values, a_den = _bootstrap_sample(a, "a", ratio)
    b_values, b_den = (None, None) if b is None else _bootstrap_sample(b, "b", ratio)
    raw = _native.exp_bootstrap_ci(
        a_values,
        b_values,
        a_den,
        b_den,
        statistic,
        n_resamples,
        confidence_level,
        method,
        alternative,
        seed,
    )
    return BootstrapResult(
        estimate=raw["estimate"],
        low=raw["ci_low"],
        high=raw["ci_high"],
        standard_error=raw["standard_error"],
        bias_correction=raw["bias_correction"],
        acceleration=raw["acceleration"],
        method=method,
        alternative=alternative,
        bootstrap_distribution=raw["distribution"],
    )
