"""CUPED variance reduction with a pre-experiment covariate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shoplens import _native
from shoplens._display import ResultDisplay
from shoplens._types import Alternative
from shoplens._validate import alternative as check_alternative
from shoplens._validate import as_array, as_labels, level
from shoplens.errors import InvalidArgumentError
from shoplens.experiments._moments import PairedStats

__all__ = ["CupedArm", "CupedComparison", "CupedResult", "WelchResult", "cuped", "cuped_from_stats"]


@dataclass(frozen=True)
class WelchResult(ResultDisplay):
    """Welch's unequal-variance comparison of two means (first minus second).

    Attributes
    ----------
    difference : float
        First mean minus second.
    std_error : float
        Standard error of ``difference``.
    df : float
        Welch-Satterthwaite degrees of freedom.
    statistic, pvalue : float
        t statistic and its p-value under ``alternative``.
    alternative : {"two-sided", "less", "greater"}
    """

    difference: float
    std_error: float
    df: float
    statistic: float
    pvalue: float
    alternative: str = "two-sided"

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Welch t interval of the difference at ``confidence_level`` (computed by the engine, as
        scipy's ``TtestResult.confidence_interval``; one-sided alternatives give one open end)."""
        return _native.stats_t_confint(
            self.difference, self.std_error, self.df, level(confidence_level), check_alternative(self.alternative)
        )

    @classmethod
    def _from(cls, d: Mapping[str, float], alternative: str) -> WelchResult:
        return cls(
            difference=float(d["difference"]),
            std_error=float(d["std_error"]),
            df=float(d["df"]),
            statistic=float(d["statistic"]),
            pvalue=float(d["pvalue"]),
            alternative=alternative,
        )


@dataclass(frozen=True)
class CupedArm(ResultDisplay):
    """One arm of a CUPED analysis.

    Attributes
    ----------
    label : object
        The arm's label.
    n : int
        Users in the arm.
    mean, variance : float
        Raw mean and sample variance of the metric.
    mean_covariate : float
        Mean of the pre-period covariate.
    adjusted_mean, adjusted_variance : float
        Mean and variance of ``y - θ (x - pooled mean of x)``.
    variance_reduction : float
        ``1 - adjusted_variance / variance``.
    """

    label: Any
    n: int
    mean: float
    variance: float
    mean_covariate: float
    adjusted_mean: float
    adjusted_variance: float
    variance_reduction: float


@dataclass(frozen=True)
class CupedComparison(ResultDisplay):
    """One arm against the control (arm - control), CUPED-adjusted and raw.

    Attributes
    ----------
    arm, control : object
        Labels of the arm and of the control.
    adjusted, unadjusted : WelchResult
        Welch's test on the CUPED-adjusted and on the raw statistics.
    variance_reduction : float
        Share of the variance of the difference removed by CUPED.
    """

    arm: Any
    control: Any
    adjusted: WelchResult
    unadjusted: WelchResult
    variance_reduction: float

    @property
    def statistic(self) -> float:
        """The adjusted t statistic."""
        return self.adjusted.statistic

    @property
    def pvalue(self) -> float:
        """The adjusted p-value."""
        return self.adjusted.pvalue

    @property
    def difference(self) -> float:
        """The adjusted difference ``arm - control``."""
        return self.adjusted.difference

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """The adjusted difference's Welch t interval."""
        return self.adjusted.confidence_interval(confidence_level)


@dataclass(frozen=True)
class CupedResult(ResultDisplay):
    """CUPED with θ pooled over all arms; ``comparisons`` holds every arm against the control.

    Attributes
    ----------
    theta : float
        ``cov(y, x) / var(x)`` over all users.
    pooled_mean_covariate : float
        Mean of ``x`` over all users.
    arms : tuple of CupedArm
    comparisons : tuple of CupedComparison
    """

    theta: float
    pooled_mean_covariate: float
    arms: tuple[CupedArm, ...]
    comparisons: tuple[CupedComparison, ...]

    def arm(self, label: Any) -> CupedArm:
        """The arm with this label (``KeyError`` if none)."""
        for a in self.arms:
            if a.label == label:
                return a
        raise KeyError(label)


def _cuped_result(raw: Mapping[str, Any], labels: Sequence[Any], alternative: str) -> CupedResult:
    arms = tuple(
        CupedArm(
            label=labels[i],
            n=int(a["n"]),
            **{k: float(a[k]) for k in a if k != "n"},
        )
        for i, a in enumerate(raw["arms"])
    )
    comparisons = tuple(
        CupedComparison(
            arm=labels[int(c["arm"])],
            control=labels[int(c["control"])],
            adjusted=WelchResult._from(c["adjusted"], alternative),
            unadjusted=WelchResult._from(c["unadjusted"], alternative),
            variance_reduction=float(c["variance_reduction"]),
        )
        for c in raw["comparisons"]
    )
    return CupedResult(float(raw["theta"]), float(raw["pooled_mean_covariate"]), arms, comparisons)


def _control_index(labels: Sequence[Any], control: Any) -> int:
    if control is None:
        return 0
    for i, label in enumerate(labels):
        if label == control:
            return i
    raise InvalidArgumentError(f"control must be one of the arms {list(labels)!r}, got {control!r}")


def cuped(
    y: Any,
    x: Any,
    groups: Any,
    *,
    control: Any = None,
    alternative: Alternative = "two-sided",
) -> CupedResult:
    """CUPED variance reduction with a pre-experiment covariate.

    θ = cov(y, x) / var(x) is pooled over all users of all arms; each arm's adjusted mean is
    ``mean(y_i) - θ (mean(x_i) - mean(x))`` and its variance that of ``y - θ x`` within the arm.
    Every arm is compared with the control by Welch's test on the adjusted statistics.

    Parameters
    ----------
    y, x : array-like
        Metric and pre-period covariate, one value per user.
    groups : array-like
        Arm label per user (any sortable labels).
    control : label, optional
        Control arm; default the first label in sorted order.
    alternative : {"two-sided", "less", "greater"}
        For ``arm - control``.

    Examples
    --------
    >>> y = [3.1, 4.0, 5.2, 6.1, 3.5, 4.4, 5.9, 6.8]
    >>> x = [1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0]
    >>> r = cuped(y, x, ["A", "A", "A", "A", "B", "B", "B", "B"])
    >>> round(r.theta, 4)
    1.08
    >>> c = r.comparisons[0]
    >>> c.arm, c.control, round(c.difference, 4)
    ('B', 'A', 0.55)
    >>> c.variance_reduction > 0.9
    True
    """
    alternative = check_alternative(alternative)
    labels_all = as_labels(groups, "groups")
    labels, codes = np.unique(labels_all, return_inverse=True)
    label_list = [lab.item() if hasattr(lab, "item") else lab for lab in labels]
    raw = _native.exp_cuped(
        as_array(y, "y"),
        as_array(x, "x"),
        np.ascontiguousarray(codes, dtype=np.uint32),
        len(label_list),
        _control_index(label_list, control),
        alternative,
        0.95,
    )
    return _cuped_result(raw, label_list, alternative)


def cuped_from_stats(
    stats: Mapping[Any, PairedStats],
    *,
    control: Any = None,
    alternative: Alternative = "two-sided",
) -> CupedResult:
    """CUPED from per-arm :class:`PairedStats` (x = covariate, y = metric), e.g. merged from
    partitions. ``control`` defaults to the first key.

    Examples
    --------
    >>> a = PairedStats.from_arrays([1.0, 2.0, 3.0, 4.0], [3.1, 4.0, 5.2, 6.1])
    >>> b = PairedStats.from_arrays([1.0, 2.0, 3.0, 4.0], [3.5, 4.4, 5.9, 6.8])
    >>> round(cuped_from_stats({"A": a, "B": b}).comparisons[0].difference, 4)
    0.55
    """
    alternative = check_alternative(alternative)
    if not isinstance(stats, Mapping) or not all(isinstance(s, PairedStats) for s in stats.values()):
        raise InvalidArgumentError(f"stats must be a mapping of arm label -> PairedStats, got {type(stats).__name__}")
    labels = list(stats)
    raw = _native.exp_cuped_from_stats(
        [stats[k]._tuple() for k in labels], _control_index(labels, control), alternative, 0.95
    )
    return _cuped_result(raw, labels, alternative)
