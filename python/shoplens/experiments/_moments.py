"""Mergeable sufficient statistics: :class:`SufficientStats` and :class:`PairedStats`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from shoplens import _native
from shoplens._validate import as_array, count, number

__all__ = ["PairedStats", "SufficientStats"]


@dataclass(frozen=True)
class SufficientStats:
    """Count, mean and sum of squared deviations (M2) of one metric.

    Mergeable exactly (Chan et al.'s parallel update), so statistics of shards, days or
    Dask/Spark partitions combine into those of the whole: ``a + b``, ``a.merge(b)`` or
    ``sum(parts, SufficientStats())``. :meth:`to_sums` / :meth:`from_sums` convert to and from
    the n / Σx / Σx² columns that SQL engines can aggregate (that form loses precision when the
    mean is large next to the spread).

    Examples
    --------
    >>> a = SufficientStats.from_array([1.0, 2.0, 3.0])
    >>> b = SufficientStats.from_array([4.0, 5.0])
    >>> whole = a + b
    >>> whole.n, whole.mean, whole.variance
    (5, 3.0, 2.5)
    >>> whole.to_sums()
    (5, 15.0, 55.0)
    >>> SufficientStats.from_sums(5, 15.0, 55.0) == whole
    True
    """

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def from_array(cls, values: Any) -> SufficientStats:
        """Statistics of the values (one pass, parallel for long arrays); NaN is an error."""
        return cls(*_native.exp_moments(as_array(values, "values")))

    @classmethod
    def from_sums(cls, n: int, sum: float, sum_sq: float) -> SufficientStats:
        """Statistics from the count, the sum and the sum of squares."""
        return cls(*_native.exp_moments_from_sums(count(n, "n"), number(sum, "sum"), number(sum_sq, "sum_sq")))

    @classmethod
    def from_mean_var(cls, n: int, mean: float, variance: float) -> SufficientStats:
        """Statistics from the count, the mean and the sample variance (ddof 1)."""
        return cls(
            *_native.exp_moments_from_mean_var(count(n, "n"), number(mean, "mean"), number(variance, "variance"))
        )

    def to_sums(self) -> tuple[int, float, float]:
        """``(n, Σx, Σx²)``."""
        return _native.exp_moments_to_sums(self._tuple())

    def merge(self, other: SufficientStats) -> SufficientStats:
        """Statistics of both data sets together."""
        return SufficientStats(*_native.exp_merge_moments(self._tuple(), other._tuple()))

    def __add__(self, other: SufficientStats) -> SufficientStats:
        if not isinstance(other, SufficientStats):
            return NotImplemented
        return self.merge(other)

    def __radd__(self, other: object) -> SufficientStats:
        # Lets the builtin sum() start from 0.
        if other == 0:
            return self
        return NotImplemented

    @property
    def variance(self) -> float:
        """Sample variance (ddof 1); NaN with fewer than two values."""
        return self.m2 / (self.n - 1) if self.n > 1 else float("nan")

    @property
    def std(self) -> float:
        """Sample standard deviation (ddof 1); NaN with fewer than two values."""
        return float(np.sqrt(self.variance))

    @property
    def sem(self) -> float:
        """Standard error of the mean."""
        return float(np.sqrt(self.variance / self.n)) if self.n > 1 else float("nan")

    @property
    def sum(self) -> float:
        """Σx, the sum of the values."""
        return self.mean * self.n

    def _tuple(self) -> tuple[int, float, float]:
        return (int(self.n), float(self.mean), float(self.m2))


@dataclass(frozen=True)
class PairedStats:
    """Mergeable co-moments of paired values (x, y): each metric's count, mean and M2 plus the
    sum of cross deviations ``c_xy``. Used for CUPED (x the pre-period covariate, y the metric)
    and ratio metrics (numerator and denominator).

    Examples
    --------
    >>> s = PairedStats.from_arrays([1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 5.0, 9.0])
    >>> round(s.covariance, 4)
    3.6667
    >>> (PairedStats.from_arrays([1.0, 2.0], [2.0, 4.0])
    ...  + PairedStats.from_arrays([3.0, 4.0], [5.0, 9.0])).c_xy
    11.0
    """

    n: int = 0
    mean_x: float = 0.0
    mean_y: float = 0.0
    m2_x: float = 0.0
    m2_y: float = 0.0
    c_xy: float = 0.0

    @classmethod
    def from_arrays(cls, x: Any, y: Any) -> PairedStats:
        """Co-moments of two aligned arrays (one pass, parallel for long arrays); NaN is an error."""
        return cls(*_native.exp_comoments(as_array(x, "x"), as_array(y, "y")))

    @classmethod
    def from_sums(cls, n: int, sum_x: float, sum_y: float, sum_xx: float, sum_yy: float, sum_xy: float) -> PairedStats:
        """Co-moments from n, Σx, Σy, Σx², Σy², Σxy."""
        args = (
            number(sum_x, "sum_x"),
            number(sum_y, "sum_y"),
            number(sum_xx, "sum_xx"),
            number(sum_yy, "sum_yy"),
            number(sum_xy, "sum_xy"),
        )
        return cls(*_native.exp_comoments_from_sums(count(n, "n"), *args))

    def to_sums(self) -> tuple[int, float, float, float, float, float]:
        """``(n, Σx, Σy, Σx², Σy², Σxy)``."""
        return _native.exp_comoments_to_sums(self._tuple())

    def merge(self, other: PairedStats) -> PairedStats:
        """Co-moments of both data sets together."""
        return PairedStats(*_native.exp_merge_comoments(self._tuple(), other._tuple()))

    def __add__(self, other: PairedStats) -> PairedStats:
        if not isinstance(other, PairedStats):
            return NotImplemented
        return self.merge(other)

    def __radd__(self, other: object) -> PairedStats:
        if other == 0:
            return self
        return NotImplemented

    @property
    def x(self) -> SufficientStats:
        """The statistics of ``x`` alone."""
        return SufficientStats(self.n, self.mean_x, self.m2_x)

    @property
    def y(self) -> SufficientStats:
        """The statistics of ``y`` alone."""
        return SufficientStats(self.n, self.mean_y, self.m2_y)

    @property
    def covariance(self) -> float:
        """Sample covariance (ddof 1)."""
        return self.c_xy / (self.n - 1) if self.n > 1 else float("nan")

    @property
    def correlation(self) -> float:
        """Pearson correlation of x and y; NaN when either is constant."""
        denominator = np.sqrt(self.m2_x * self.m2_y)
        return float(self.c_xy / denominator) if denominator > 0 else float("nan")

    def _tuple(self) -> tuple[int, float, float, float, float, float]:
        return (
            int(self.n),
            float(self.mean_x),
            float(self.mean_y),
            float(self.m2_x),
            float(self.m2_y),
            float(self.c_xy),
        )
