"""Frequentist statistics for A/B/n experiments, computed by the Rust engine.

Conventions are scipy's (R's where the name says R): data arguments are positional, options
keyword-only; ``alternative`` is ``"two-sided"``, ``"less"`` or ``"greater"``; effects are the
first argument minus the second, and relative effects the first over the second minus one.
Results are frozen dataclasses with ``.statistic`` and ``.pvalue``; those with an effect also
have ``.confidence_interval(confidence_level=0.95)``, recomputed at the requested level.

Degenerate but meaningful inputs (a sample of one, zero variance, no conversions at all) give
NaN statistics where scipy does; meaningless inputs (negative counts, probabilities outside
[0, 1], an unknown ``alternative``) raise :class:`shoplens.InvalidArgumentError`, a
:class:`ValueError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np

from shoplens import _native
from shoplens._display import ResultDisplay
from shoplens._types import AdjustMethod, Alternative, PowerAlternative
from shoplens._validate import alternative as check_alternative
from shoplens._validate import as_array, choice, flag, integer, level, number
from shoplens.errors import InvalidArgumentError

__all__ = [
    "AdjustMethod",
    "Alternative",
    "ArmComparison",
    "Chi2ContingencyResult",
    "FisherExactResult",
    "MannwhitneyuResult",
    "MultiArmResult",
    "PowerAlternative",
    "ProportionsTestResult",
    "RatioMetricResult",
    "RatioMetricStats",
    "RelativeLiftResult",
    "SrmResult",
    "TtestResult",
    "adjust_pvalues",
    "chi2_contingency",
    "compare_arms_means",
    "compare_arms_proportions",
    "duration_days",
    "fisher_exact",
    "mannwhitneyu",
    "mde_proportions_2indep",
    "mde_ttest_ind",
    "power_proportions_2indep",
    "power_ttest_ind",
    "proportion_confint",
    "ratio_metric_test",
    "ratio_metric_test_from_stats",
    "relative_lift",
    "relative_lift_means",
    "relative_lift_proportions",
    "samplesize_proportions_2indep",
    "samplesize_ttest_ind",
    "srm_test",
    "test_proportions_2indep",
    "ttest_ind",
    "ttest_ind_from_stats",
]

LiftMethod = Literal["delta", "fieller"]
ConfintMethod = Literal["wilson", "normal", "agresti_coull", "beta", "jeffreys"]

_POWER_ALTERNATIVES: tuple[PowerAlternative, ...] = ("two-sided", "one-sided")
_ADJUST_METHODS: tuple[AdjustMethod, ...] = ("bonferroni", "holm", "bh")


def _alternative(value: Any) -> Alternative:
    return check_alternative(value)


def _power_alternative(value: Any) -> PowerAlternative:
    return choice(value, _POWER_ALTERNATIVES, "alternative")


def _choice(value: Any, allowed: tuple[str, ...], name: str) -> str:
    return choice(value, allowed, name)


def _number(value: Any, name: str) -> float:
    return number(value, name)


def _as_array(values: Any, name: str) -> np.ndarray:
    return as_array(values, name)


# --- two proportions -----------------------------------------------------------------------


@dataclass(frozen=True)
class ProportionsTestResult(ResultDisplay):
    """Result of :func:`test_proportions_2indep`.

    Attributes
    ----------
    statistic : float
        Pooled z statistic (continuity-corrected when ``correction``).
    pvalue : float
        p-value of ``statistic`` under ``alternative``.
    chi2_statistic, chi2_pvalue : float
        The same test as R's / scipy's 2x2 chi-square: z squared and its two-sided p-value.
    proportion1, proportion2, difference : float
        The two proportions and their difference ``proportion1 - proportion2``.
    """

    statistic: float
    pvalue: float
    chi2_statistic: float
    chi2_pvalue: float
    proportion1: float
    proportion2: float
    difference: float
    count1: float
    nobs1: float
    count2: float
    nobs2: float
    alternative: str
    correction: bool

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Wald interval for ``proportion1 - proportion2`` as R's ``prop.test``.

        Continuity-corrected when the test was, clipped to [-1, 1]; one-sided for one-sided
        alternatives (the open end is -1 or 1).
        """
        return _native.stats_proportions_diff_confint(
            self.count1,
            self.nobs1,
            self.count2,
            self.nobs2,
            level(confidence_level),
            self.alternative,
            self.correction,
        )


def test_proportions_2indep(
    count1: float,
    nobs1: float,
    count2: float,
    nobs2: float,
    *,
    alternative: Alternative = "two-sided",
    correction: bool = False,
) -> ProportionsTestResult:
    """Two-sample z test of equal proportions, as R's ``prop.test`` for two groups.

    The statistic uses the pooled proportion under the null. Without ``correction`` it equals
    statsmodels' ``proportions_ztest``; with ``correction`` it is R's continuity-corrected
    statistic (Yates' 1/2, never larger than the deviation itself), signed like the difference.
    If neither group (or both entirely) converted, the statistic is 0/0 and NaN, as in R.

    Parameters
    ----------
    count1, nobs1 : float
        Successes and trials of the first group.
    count2, nobs2 : float
        Successes and trials of the second group.
    alternative : {"two-sided", "less", "greater"}
        Alternative hypothesis about ``p1 - p2``.
    correction : bool
        Apply R's continuity correction to the statistic and the interval.

    Returns
    -------
    ProportionsTestResult

    Examples
    --------
    >>> res = test_proportions_2indep(120, 1000, 100, 1000)
    >>> round(res.statistic, 4), round(res.pvalue, 4)
    (1.4293, 0.1529)
    >>> [round(x, 4) for x in res.confidence_interval(0.95)]
    [-0.0074, 0.0474]
    """
    res = _native.stats_test_proportions_2indep(
        _number(count1, "count1"),
        _number(nobs1, "nobs1"),
        _number(count2, "count2"),
        _number(nobs2, "nobs2"),
        _alternative(alternative),
        flag(correction, "correction"),
    )
    return ProportionsTestResult(
        **res,
        count1=float(count1),
        nobs1=float(nobs1),
        count2=float(count2),
        nobs2=float(nobs2),
        alternative=alternative,
        correction=flag(correction, "correction"),
    )


def proportion_confint(
    count: float,
    nobs: float,
    *,
    confidence_level: float = 0.95,
    method: ConfintMethod = "wilson",
) -> tuple[float, float]:
    """Two-sided confidence interval for one binomial proportion.

    Equal to statsmodels' ``proportion_confint(count, nobs, alpha=1 - confidence_level,
    method=method)``, including its edge conventions: ``"normal"``, ``"agresti_coull"`` and
    ``"wilson"`` are clipped to [0, 1]; ``"beta"`` (Clopper-Pearson) is exactly 0 / 1 at
    ``count == 0`` / ``count == nobs``; ``"jeffreys"`` is not adjusted at the boundaries.

    Examples
    --------
    >>> [round(x, 4) for x in proportion_confint(7, 50)]
    [0.0695, 0.2619]
    >>> proportion_confint(0, 20, method="beta")[0]
    0.0
    """
    return _native.stats_proportion_confint(
        _number(count, "count"),
        _number(nobs, "nobs"),
        level(confidence_level),
        _choice(method, ("wilson", "normal", "agresti_coull", "beta", "jeffreys"), "method"),
    )


# --- t tests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TtestResult(ResultDisplay):
    """Result of :func:`ttest_ind` and :func:`ttest_ind_from_stats`.

    Attributes
    ----------
    statistic, pvalue, df : float
        t statistic, its p-value and degrees of freedom (Welch-Satterthwaite unless
        ``equal_var``).
    estimate : float
        ``mean1 - mean2``.
    standard_error : float
        Standard error of ``estimate``.
    """

    statistic: float
    pvalue: float
    df: float
    estimate: float
    standard_error: float
    mean1: float
    mean2: float
    alternative: str

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Interval for ``mean1 - mean2`` (as scipy's ``TtestResult.confidence_interval``)."""
        return _native.stats_t_confint(
            self.estimate, self.standard_error, self.df, level(confidence_level), self.alternative
        )


def ttest_ind(
    a: Any,
    b: Any,
    *,
    equal_var: bool = False,
    alternative: Alternative = "two-sided",
) -> TtestResult:
    """Two-sample t test of equal means: Welch's by default, Student's with ``equal_var``.

    Matches ``scipy.stats.ttest_ind`` (note the different default: scipy assumes equal
    variances). A sample of one gives NaN under Welch; constant samples give an infinite or NaN
    statistic; NaN values propagate.

    Parameters
    ----------
    a, b : array_like
        Samples (lists, numpy arrays, polars or pandas Series).
    equal_var : bool
        Pool the variances (Student) instead of Welch's unequal-variance test.
    alternative : {"two-sided", "less", "greater"}
        Alternative hypothesis about ``mean(a) - mean(b)``.

    Examples
    --------
    >>> res = ttest_ind([3.1, 4.7, 2.2, 5.9, 4.4, 3.8], [5.5, 6.1, 4.9, 7.3, 6.0])
    >>> round(res.statistic, 4), round(res.pvalue, 4), round(res.df, 3)
    (-2.9435, 0.0169, 8.756)
    >>> [round(x, 3) for x in res.confidence_interval()]
    [-3.443, -0.443]
    """
    res = _native.stats_ttest_ind(
        _as_array(a, "a"), _as_array(b, "b"), flag(equal_var, "equal_var"), _alternative(alternative)
    )
    return TtestResult(**res, alternative=alternative)


def ttest_ind_from_stats(
    mean1: float,
    std1: float,
    nobs1: float,
    mean2: float,
    std2: float,
    nobs2: float,
    *,
    equal_var: bool = False,
    alternative: Alternative = "two-sided",
) -> TtestResult:
    """t test from summary statistics (``std`` with ddof=1), as scipy's ``ttest_ind_from_stats``.

    Examples
    --------
    >>> res = ttest_ind_from_stats(10.0, 2.0, 50, 9.0, 2.5, 60)
    >>> round(res.statistic, 4), round(res.df, 2)
    (2.3302, 107.84)
    """
    res = _native.stats_ttest_ind_from_stats(
        _number(mean1, "mean1"),
        _number(std1, "std1"),
        _number(nobs1, "nobs1"),
        _number(mean2, "mean2"),
        _number(std2, "std2"),
        _number(nobs2, "nobs2"),
        flag(equal_var, "equal_var"),
        _alternative(alternative),
    )
    return TtestResult(**res, alternative=alternative)


# --- rank and count tests ------------------------------------------------------------------


@dataclass(frozen=True)
class MannwhitneyuResult(ResultDisplay):
    """Result of :func:`mannwhitneyu`.

    Attributes
    ----------
    statistic : float
        U of the first sample: pairs ``(a_i, b_j)`` with ``a_i > b_j``, ties counting 1/2.
    pvalue : float
    method : str
        ``"exact"`` or ``"asymptotic"``, whichever was used.
    """

    statistic: float
    pvalue: float
    method: str


def mannwhitneyu(
    a: Any,
    b: Any,
    *,
    alternative: Alternative = "two-sided",
    use_continuity: bool = True,
    method: Literal["auto", "exact", "asymptotic"] = "auto",
) -> MannwhitneyuResult:
    """Mann-Whitney U rank test, as ``scipy.stats.mannwhitneyu``.

    ``method="auto"`` is scipy's rule: the exact null distribution when one sample has at most
    8 values and there are no ties, otherwise the normal approximation with tie correction (and
    continuity correction when ``use_continuity``). One departure: when the exact distribution
    would need more than 5e6 terms (a few values against millions), ``"auto"`` uses the normal
    approximation, and ``"exact"`` raises. NaN values and empty samples are errors.

    Examples
    --------
    >>> res = mannwhitneyu([1.1, 3.4, 2.2, 5.0, 4.8], [2.9, 6.1, 7.7, 5.5, 6.6, 8.0])
    >>> res.statistic, round(res.pvalue, 6), res.method
    (3.0, 0.030303, 'exact')
    """
    res = _native.stats_mannwhitneyu(
        _as_array(a, "a"),
        _as_array(b, "b"),
        _alternative(alternative),
        flag(use_continuity, "use_continuity"),
        _choice(method, ("auto", "exact", "asymptotic"), "method"),
    )
    return MannwhitneyuResult(**res)


@dataclass(frozen=True)
class Chi2ContingencyResult(ResultDisplay):
    """Result of :func:`chi2_contingency` (no effect, so no confidence interval).

    Attributes
    ----------
    statistic, pvalue : float
    dof : int
        Degrees of freedom, ``(rows - 1) * (columns - 1)``.
    expected_freq : numpy.ndarray
        Expected counts under independence, same shape as the table.
    """

    statistic: float
    pvalue: float
    dof: int
    expected_freq: np.ndarray = field(compare=False)


def chi2_contingency(table: Any, *, correction: bool = True) -> Chi2ContingencyResult:
    """Pearson chi-square test of independence, as ``scipy.stats.chi2_contingency``.

    Yates' correction applies only when ``correction`` and ``dof == 1``; a table with
    ``dof == 0`` gives statistic 0 and p-value 1; a zero expected count is an error.

    Examples
    --------
    >>> res = chi2_contingency([[10, 10, 20], [20, 20, 20]])
    >>> round(res.statistic, 4), round(res.pvalue, 4), res.dof
    (2.7778, 0.2494, 2)
    >>> res.expected_freq
    array([[12., 12., 16.],
           [18., 18., 24.]])
    """
    if hasattr(table, "to_numpy"):
        table = table.to_numpy()
    try:
        array = np.asarray(table, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"table: cannot be read as numbers ({exc})") from exc
    if array.ndim != 2:
        raise InvalidArgumentError(f"table: expected a 2-D table, got shape {array.shape}")
    nrows, ncols = array.shape
    res = _native.stats_chi2_contingency(
        np.ascontiguousarray(array.ravel()), nrows, ncols, flag(correction, "correction")
    )
    return Chi2ContingencyResult(
        statistic=res["statistic"],
        pvalue=res["pvalue"],
        dof=res["dof"],
        expected_freq=res["expected_freq"].reshape(nrows, ncols),
    )


def _table_2x2(table: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    if hasattr(table, "to_numpy"):
        table = table.to_numpy()
    array = np.asarray(table)
    if array.shape != (2, 2):
        raise InvalidArgumentError(f"table: expected a 2x2 table, got shape {array.shape}")
    try:
        values = array.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"table: cannot be read as numbers ({exc})") from exc
    if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values != np.round(values)):
        raise InvalidArgumentError("table: entries must be non-negative integers")
    (a, b), (c, d) = array.astype(np.int64).tolist()
    return ((a, b), (c, d))


@dataclass(frozen=True)
class FisherExactResult(ResultDisplay):
    """Result of :func:`fisher_exact`.

    Attributes
    ----------
    statistic : float
        Sample odds ratio ``(a*d)/(b*c)`` (inf when ``b`` or ``c`` is 0, NaN when a row or
        column is empty), as scipy.
    pvalue : float
    """

    statistic: float
    pvalue: float
    table: tuple[tuple[int, int], tuple[int, int]]
    alternative: str

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Woolf (logit) interval for the odds ratio.

        Equal to scipy's ``odds_ratio(table, kind="sample").confidence_interval(...)`` when all
        cells are positive; (0, inf) when a cell is zero (scipy returns NaN ends there).
        """
        return _native.stats_fisher_confint(self.table, level(confidence_level), self.alternative)


def fisher_exact(table: Any, *, alternative: Alternative = "two-sided") -> FisherExactResult:
    """Fisher's exact test on a 2x2 table of counts, as ``scipy.stats.fisher_exact``.

    The two-sided p-value adds the probabilities of all tables (with the observed margins) that
    are no more likely than the observed one, with scipy's relative tolerance.

    Examples
    --------
    >>> res = fisher_exact([[8, 2], [1, 5]])
    >>> res.statistic, round(res.pvalue, 6)
    (20.0, 0.034965)
    """
    cells = _table_2x2(table)
    res = _native.stats_fisher_exact(cells, _alternative(alternative))
    return FisherExactResult(**res, table=cells, alternative=alternative)


@dataclass(frozen=True)
class SrmResult(ResultDisplay):
    """Result of :func:`srm_test`.

    Attributes
    ----------
    statistic, pvalue : float
        Pearson chi-square goodness of fit and its p-value.
    dof : int
        Number of variants minus one.
    expected : numpy.ndarray
        Counts expected from the planned weights.
    alarm : bool
        ``pvalue < threshold``: the split is not what was planned; distrust the experiment.
    """

    statistic: float
    pvalue: float
    dof: int
    expected: np.ndarray = field(compare=False)
    alarm: bool
    threshold: float


def srm_test(observed: Any, weights: Any, *, threshold: float = 0.001) -> SrmResult:
    """Sample-ratio mismatch check: chi-square goodness of fit to the planned split.

    ``weights`` are normalised to sum to one, so ``[1, 1]`` and ``[0.5, 0.5]`` mean the same
    plan. Equal to ``scipy.stats.chisquare(observed, f_exp=total * w / sum(w))``.

    Examples
    --------
    >>> res = srm_test([50_500, 49_500], [1, 1])
    >>> round(res.pvalue, 4), res.alarm
    (0.0016, False)
    >>> srm_test([51_000, 49_000], [1, 1]).alarm
    True
    """
    threshold = level(threshold, "threshold")
    res = _native.stats_srm_test(_as_array(observed, "observed"), _as_array(weights, "weights"), threshold)
    return SrmResult(**res, threshold=threshold)


def adjust_pvalues(pvalues: Any, *, method: AdjustMethod) -> np.ndarray:
    """Multiple-testing adjusted p-values, in the input order.

    Equal to ``statsmodels.stats.multitest.multipletests(pvalues, method=m)[1]`` with ``m``
    ``"bonferroni"``, ``"holm"`` or ``"fdr_bh"`` (here ``"bh"``), and to R's ``p.adjust``.

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03, 0.005], method="holm")
    array([0.03, 0.06, 0.06, 0.02])
    >>> adjust_pvalues([0.01, 0.04, 0.03, 0.005], method="bh")
    array([0.02, 0.04, 0.04, 0.02])
    """
    return _native.stats_adjust_pvalues(
        _as_array(pvalues, "pvalues"), _choice(method, ("bonferroni", "holm", "bh"), "method")
    )


# --- relative effects and ratio metrics ----------------------------------------------------


@dataclass(frozen=True)
class RelativeLiftResult(ResultDisplay):
    """Relative effect ``first / second - 1`` with its test and interval.

    Attributes
    ----------
    estimate : float
        ``first / second - 1`` (NaN when ``second`` is 0).
    statistic, pvalue : float
        z test of no relative effect: ``(ratio - 1) / standard_error`` for the delta method,
        ``(first - second) / sqrt(v1 + v2 - 2 cov)`` for Fieller (the test whose inversion is
        Fieller's interval).
    standard_error : float
        Delta-method standard error of the ratio.
    first, second, variance_first, variance_second, covariance : float
        The two estimates and their sampling (co)variances.
    """

    estimate: float
    statistic: float
    pvalue: float
    standard_error: float
    first: float
    second: float
    variance_first: float
    variance_second: float
    covariance: float
    method: str
    alternative: str

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Interval for ``first / second - 1``.

        Delta method: symmetric Wald interval. Fieller: the exact set of ratios the z test does
        not reject; ``(-inf, inf)`` when the denominator is not significantly non-zero.
        """
        return _native.stats_relative_lift_confint(
            self.first,
            self.variance_first,
            self.second,
            self.variance_second,
            self.covariance,
            self.method,
            self.alternative,
            level(confidence_level),
        )


def relative_lift(
    first: float,
    variance_first: float,
    second: float,
    variance_second: float,
    *,
    covariance: float = 0.0,
    method: LiftMethod = "delta",
    alternative: Alternative = "two-sided",
) -> RelativeLiftResult:
    """Relative effect ``first / second - 1`` of two estimates with known sampling variances.

    Examples
    --------
    >>> res = relative_lift(0.12, 0.12 * 0.88 / 1000, 0.10, 0.10 * 0.90 / 1000)
    >>> round(res.estimate, 4), round(res.standard_error, 4)
    (0.2, 0.1534)
    """
    res = _native.stats_relative_lift(
        _number(first, "first"),
        _number(variance_first, "variance_first"),
        _number(second, "second"),
        _number(variance_second, "variance_second"),
        _number(covariance, "covariance"),
        _choice(method, ("delta", "fieller"), "method"),
        _alternative(alternative),
    )
    return RelativeLiftResult(**res, method=method, alternative=alternative)


def relative_lift_proportions(
    count1: float,
    nobs1: float,
    count2: float,
    nobs2: float,
    *,
    method: LiftMethod = "delta",
    alternative: Alternative = "two-sided",
) -> RelativeLiftResult:
    """Relative lift ``p1 / p2 - 1`` of two independent proportions (second = baseline).

    Examples
    --------
    >>> res = relative_lift_proportions(120, 1000, 100, 1000)
    >>> round(res.estimate, 4)
    0.2
    >>> [round(x, 4) for x in res.confidence_interval()]
    [-0.1006, 0.5006]
    >>> [round(x, 4) for x in relative_lift_proportions(
    ...     120, 1000, 100, 1000, method="fieller").confidence_interval()]
    [-0.0659, 0.5519]
    """
    res = _native.stats_relative_lift_proportions(
        _number(count1, "count1"),
        _number(nobs1, "nobs1"),
        _number(count2, "count2"),
        _number(nobs2, "nobs2"),
        _choice(method, ("delta", "fieller"), "method"),
        _alternative(alternative),
    )
    return RelativeLiftResult(**res, method=method, alternative=alternative)


def relative_lift_means(
    mean1: float,
    std1: float,
    nobs1: float,
    mean2: float,
    std2: float,
    nobs2: float,
    *,
    method: LiftMethod = "delta",
    alternative: Alternative = "two-sided",
) -> RelativeLiftResult:
    """Relative lift ``mean1 / mean2 - 1`` from summary statistics (``std`` with ddof=1).

    Examples
    --------
    >>> res = relative_lift_means(52.0, 30.0, 4000, 50.0, 29.0, 4000)
    >>> round(res.estimate, 4), round(res.pvalue, 4)
    (0.04, 0.0029)
    """
    res = _native.stats_relative_lift_means(
        _number(mean1, "mean1"),
        _number(std1, "std1"),
        _number(nobs1, "nobs1"),
        _number(mean2, "mean2"),
        _number(std2, "std2"),
        _number(nobs2, "nobs2"),
        _choice(method, ("delta", "fieller"), "method"),
        _alternative(alternative),
    )
    return RelativeLiftResult(**res, method=method, alternative=alternative)


@dataclass(frozen=True)
class RatioMetricStats(ResultDisplay):
    """Sufficient statistics of a ratio metric (e.g. AOV = revenue / orders) in one variant.

    Users are the unit: ``nobs`` users, the means of their numerators and denominators, the
    ddof=1 variances and the covariance.
    """

    nobs: float
    mean_numerator: float
    mean_denominator: float
    var_numerator: float
    var_denominator: float
    covariance: float

    @classmethod
    def from_arrays(cls, numerator: Any, denominator: Any) -> RatioMetricStats:
        """Statistics of per-user numerators and denominators (equal lengths, at least 2)."""
        return cls(
            *_native.stats_ratio_metric_stats(_as_array(numerator, "numerator"), _as_array(denominator, "denominator"))
        )

    @property
    def ratio(self) -> float:
        """``sum(numerator) / sum(denominator)``."""
        return self.mean_numerator / self.mean_denominator

    def _tuple(self) -> tuple[float, float, float, float, float, float]:
        return (
            float(self.nobs),
            float(self.mean_numerator),
            float(self.mean_denominator),
            float(self.var_numerator),
            float(self.var_denominator),
            float(self.covariance),
        )


@dataclass(frozen=True)
class RatioMetricResult(ResultDisplay):
    """Result of :func:`ratio_metric_test`: delta-method z test of ``ratio1 - ratio2``."""

    statistic: float
    pvalue: float
    ratio1: float
    ratio2: float
    difference: float
    standard_error: float
    variance1: float
    variance2: float
    alternative: str

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Wald interval for ``ratio1 - ratio2``."""
        return _native.stats_normal_confint(
            self.difference, self.standard_error, level(confidence_level), self.alternative
        )

    def relative_lift(self, *, method: LiftMethod = "delta") -> RelativeLiftResult:
        """Relative effect ``ratio1 / ratio2 - 1`` (independent variants)."""
        return relative_lift(
            self.ratio1,
            self.variance1,
            self.ratio2,
            self.variance2,
            method=method,
            alternative=cast(Alternative, self.alternative),
        )


def ratio_metric_test_from_stats(
    stats1: RatioMetricStats,
    stats2: RatioMetricStats,
    *,
    alternative: Alternative = "two-sided",
) -> RatioMetricResult:
    """Delta-method test of equal ratio metrics from per-variant sufficient statistics.

    The variance of a ratio R = mean(x)/mean(y) over n users is
    ``(Vx/my**2 - 2*mx*Cxy/my**3 + mx**2*Vy/my**4) / n``.
    """
    res = _native.stats_ratio_metric_test(stats1._tuple(), stats2._tuple(), _alternative(alternative))
    return RatioMetricResult(**res, alternative=alternative)


def ratio_metric_test(
    numerator1: Any,
    denominator1: Any,
    numerator2: Any,
    denominator2: Any,
    *,
    alternative: Alternative = "two-sided",
) -> RatioMetricResult:
    """Delta-method test of a ratio metric (e.g. AOV = revenue / orders) between two variants.

    Each argument holds one value per user; the metric of a variant is
    ``sum(numerator) / sum(denominator)``.

    Examples
    --------
    >>> res = ratio_metric_test([10, 0, 30, 20, 25], [1, 0, 2, 1, 1],
    ...                         [12, 8, 0, 40, 10], [1, 1, 0, 2, 1])
    >>> round(res.ratio1, 4), round(res.ratio2, 4), round(res.difference, 4)
    (17.0, 14.0, 3.0)
    """
    return ratio_metric_test_from_stats(
        RatioMetricStats.from_arrays(numerator1, denominator1),
        RatioMetricStats.from_arrays(numerator2, denominator2),
        alternative=alternative,
    )


# --- several arms against a control --------------------------------------------------------


@dataclass(frozen=True)
class ArmComparison(ResultDisplay):
    """One arm tested against the control; effects are arm minus control."""

    arm: int
    result: ProportionsTestResult | TtestResult
    pvalue_adjusted: float

    @property
    def statistic(self) -> float:
        """The test statistic of the arm against the control."""
        return self.result.statistic

    @property
    def pvalue(self) -> float:
        """The unadjusted p-value."""
        return self.result.pvalue

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Unadjusted interval of the arm's effect over the control."""
        return self.result.confidence_interval(confidence_level)


@dataclass(frozen=True)
class MultiArmResult(ResultDisplay):
    """Every arm against one control, with p-values adjusted together by ``method``."""

    control: int
    method: str
    comparisons: tuple[ArmComparison, ...]

    @property
    def pvalues_adjusted(self) -> np.ndarray:
        """The adjusted p-values, one per arm compared."""
        return np.array([c.pvalue_adjusted for c in self.comparisons])


def compare_arms_proportions(
    counts: Any,
    nobs: Any,
    *,
    control: int = 0,
    method: AdjustMethod = "holm",
    alternative: Alternative = "two-sided",
    correction: bool = False,
) -> MultiArmResult:
    """Two-proportion z test of every arm against ``control``, p-values adjusted by ``method``.

    Examples
    --------
    >>> res = compare_arms_proportions([100, 130, 95], [1000, 1000, 1000])
    >>> [c.arm for c in res.comparisons]
    [1, 2]
    >>> [round(c.pvalue_adjusted, 4) for c in res.comparisons]
    [0.071, 0.7062]
    """
    counts_a = _as_array(counts, "counts")
    nobs_a = _as_array(nobs, "nobs")
    res = _native.stats_compare_arms_proportions(
        counts_a,
        nobs_a,
        integer(control, "control", minimum=0),
        _alternative(alternative),
        flag(correction, "correction"),
        _choice(method, ("bonferroni", "holm", "bh"), "method"),
    )
    comparisons = tuple(
        ArmComparison(
            arm=arm,
            result=ProportionsTestResult(
                **test,
                count1=float(counts_a[arm]),
                nobs1=float(nobs_a[arm]),
                count2=float(counts_a[control]),
                nobs2=float(nobs_a[control]),
                alternative=alternative,
                correction=flag(correction, "correction"),
            ),
            pvalue_adjusted=p,
        )
        for arm, test, p in zip(res["arms"], res["tests"], res["pvalues_adjusted"], strict=True)
    )
    return MultiArmResult(control=integer(control, "control", minimum=0), method=method, comparisons=comparisons)


def compare_arms_means(
    means: Any,
    stds: Any,
    nobs: Any,
    *,
    control: int = 0,
    method: AdjustMethod = "holm",
    alternative: Alternative = "two-sided",
    equal_var: bool = False,
) -> MultiArmResult:
    """t test (Welch unless ``equal_var``) of every arm against ``control`` from summary stats.

    Examples
    --------
    >>> res = compare_arms_means([50.0, 53.0, 49.0], [20.0, 21.0, 19.0], [500, 500, 500])
    >>> [round(c.result.estimate, 1) for c in res.comparisons]
    [3.0, -1.0]
    """
    res = _native.stats_compare_arms_means(
        _as_array(means, "means"),
        _as_array(stds, "stds"),
        _as_array(nobs, "nobs"),
        integer(control, "control", minimum=0),
        flag(equal_var, "equal_var"),
        _alternative(alternative),
        _choice(method, ("bonferroni", "holm", "bh"), "method"),
    )
    comparisons = tuple(
        ArmComparison(arm=arm, result=TtestResult(**test, alternative=alternative), pvalue_adjusted=p)
        for arm, test, p in zip(res["arms"], res["tests"], res["pvalues_adjusted"], strict=True)
    )
    return MultiArmResult(control=integer(control, "control", minimum=0), method=method, comparisons=comparisons)


# --- power and planning --------------------------------------------------------------------


def power_proportions_2indep(
    p1: float,
    p2: float,
    nobs1: float,
    *,
    alpha: float = 0.05,
    alternative: PowerAlternative = "two-sided",
    strict: bool = False,
) -> float:
    """Power of the two-proportion test with ``nobs1`` per group, as R's ``power.prop.test``.

    R's normal approximation: ``Phi((sqrt(n)|p1-p2| - z_{1-a/k} s0) / s1)`` with the pooled
    ``s0`` and unpooled ``s1``; ``strict=True`` adds the (tiny) probability of rejecting in the
    wrong tail, as R's ``strict = TRUE``.

    Examples
    --------
    >>> round(power_proportions_2indep(0.50, 0.75, 50), 7)
    0.7401659
    """
    return _native.stats_power_proportions_2indep(
        _number(p1, "p1"),
        _number(p2, "p2"),
        _number(nobs1, "nobs1"),
        level(alpha, "alpha"),
        _power_alternative(alternative),
        flag(strict, "strict"),
    )


def samplesize_proportions_2indep(
    p1: float,
    p2: float,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    alternative: PowerAlternative = "two-sided",
    strict: bool = False,
) -> float:
    """Sample size per group (not rounded) for the two-proportion test, as R's
    ``power.prop.test(p1=, p2=, power=)``.

    R finds the root with ``uniroot`` at a loose tolerance; here it is exact (a closed form
    without ``strict``), so results agree with R's printed digits.

    Examples
    --------
    >>> round(samplesize_proportions_2indep(0.50, 0.75, power=0.90), 4)
    76.7069
    """
    return _native.stats_samplesize_proportions_2indep(
        _number(p1, "p1"),
        _number(p2, "p2"),
        level(power, "power"),
        level(alpha, "alpha"),
        _power_alternative(alternative),
        flag(strict, "strict"),
    )


def mde_proportions_2indep(
    p1: float,
    nobs1: float,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    alternative: PowerAlternative = "two-sided",
    strict: bool = False,
    direction: Literal["increase", "decrease"] = "increase",
) -> float:
    """Minimum detectable ``p2`` for baseline ``p1`` and ``nobs1`` users per group.

    The ``p2`` above (or below, with ``direction="decrease"``) ``p1`` at which
    :func:`power_proportions_2indep` equals ``power``; ``p2 / p1 - 1`` is the relative MDE.

    Examples
    --------
    >>> p2 = mde_proportions_2indep(0.10, 5000)
    >>> round(p2, 5), round(p2 / 0.10 - 1, 3)
    (0.11744, 0.174)
    """
    return _native.stats_mde_proportions_2indep(
        _number(p1, "p1"),
        _number(nobs1, "nobs1"),
        level(power, "power"),
        level(alpha, "alpha"),
        _power_alternative(alternative),
        flag(strict, "strict"),
        _choice(direction, ("increase", "decrease"), "direction") == "increase",
    )


def power_ttest_ind(
    delta: float,
    sd: float,
    nobs1: float,
    *,
    alpha: float = 0.05,
    alternative: PowerAlternative = "two-sided",
    strict: bool = False,
) -> float:
    """Power of the two-sample t test with ``nobs1`` per group, as R's ``power.t.test``.

    ``P(T' > t_{1-a/k, df})`` for the noncentral t with ``df = 2(n - 1)`` and noncentrality
    ``sqrt(n/2) * delta / sd``; ``strict=True`` adds the other tail as R's ``strict = TRUE``
    (that is statsmodels' ``TTestIndPower`` definition).

    Examples
    --------
    >>> round(power_ttest_ind(1.0, 1.0, 20), 7)
    0.8689528
    """
    return _native.stats_power_ttest_ind(
        _number(delta, "delta"),
        _number(sd, "sd"),
        _number(nobs1, "nobs1"),
        level(alpha, "alpha"),
        _power_alternative(alternative),
        flag(strict, "strict"),
    )


def samplesize_ttest_ind(
    delta: float,
    sd: float,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    alternative: PowerAlternative = "two-sided",
    strict: bool = False,
) -> float:
    """Sample size per group (not rounded) for the two-sample t test, as R's ``power.t.test``.

    Examples
    --------
    >>> round(samplesize_ttest_ind(1.0, 1.0, power=0.90), 5)
    22.0211
    """
    return _native.stats_samplesize_ttest_ind(
        _number(delta, "delta"),
        _number(sd, "sd"),
        level(power, "power"),
        level(alpha, "alpha"),
        _power_alternative(alternative),
        flag(strict, "strict"),
    )


def mde_ttest_ind(
    sd: float,
    nobs1: float,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    alternative: PowerAlternative = "two-sided",
    strict: bool = False,
) -> float:
    """Minimum detectable difference in means with ``nobs1`` per group (t test).

    Examples
    --------
    >>> round(mde_ttest_ind(1.0, 20, power=0.8689528), 4)
    1.0
    """
    return _native.stats_mde_ttest_ind(
        _number(sd, "sd"),
        _number(nobs1, "nobs1"),
        level(power, "power"),
        level(alpha, "alpha"),
        _power_alternative(alternative),
        flag(strict, "strict"),
    )


def duration_days(total_nobs: float, daily_traffic: float) -> int:
    """Days needed to enrol ``total_nobs`` users at ``daily_traffic`` users per day.

    ``ceil(total_nobs / daily_traffic)``; for two arms of ``n`` users each pass ``2 * n``.

    Examples
    --------
    >>> import math
    >>> n = samplesize_proportions_2indep(0.10, 0.11)
    >>> duration_days(2 * math.ceil(n), 2_000)
    15
    """
    return int(_native.stats_duration_days(_number(total_nobs, "total_nobs"), _number(daily_traffic, "daily_traffic")))
