"""Experiment analysis: mergeable statistics, CUPED, winsorization, bootstrap CIs, Bayesian
comparisons, sequential monitoring and Monte Carlo A/A and power simulation.

The arithmetic runs in the Rust engine with the GIL released. Data arguments are positional and
accept numpy arrays, lists, polars or pandas Series; options are keyword-only. Differences are
the first argument minus the second, as in scipy, except where a name says otherwise
(``prob_b_beats_a``, ``diff_mean`` of the Bayesian results: B - A).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from shoplens import _native
from shoplens.errors import InvalidArgumentError

__all__ = [
    "COMPARE_COLUMNS",
    "METRICS",
    "Baseline",
    "BayesMeansResult",
    "BayesProportionsResult",
    "BetaPosterior",
    "BootstrapResult",
    "Candidate",
    "ConfidenceSequenceResult",
    "CupedArm",
    "CupedComparison",
    "CupedResult",
    "ExperimentAnalysis",
    "ExperimentSummary",
    "GroupSequentialBoundaries",
    "NormalPosterior",
    "PairedStats",
    "PeekingResult",
    "RejectionRate",
    "SimulationResult",
    "SufficientStats",
    "WelchResult",
    "WinsorizeResult",
    "always_valid_pvalues",
    "analyze",
    "baseline_from_events",
    "bayes_means",
    "bayes_proportions",
    "bootstrap_ci",
    "compare_from_sums",
    "confidence_sequence",
    "cuped",
    "cuped_from_stats",
    "obrien_fleming_boundaries",
    "plan",
    "simulate_aa",
    "simulate_peeking",
    "simulate_power",
    "user_metrics",
    "winsorize",
]

Alternative = Literal["two-sided", "less", "greater"]
Metric = Literal["proportion", "normal", "revenue"]


def _as_array(values: Any, name: str, dtype: Any = np.float64) -> np.ndarray:
    """One contiguous 1-D array from a numpy array, list, polars or pandas Series."""
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    try:
        array = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{name}: cannot be read as numbers ({exc})") from exc
    if array.ndim != 1:
        raise InvalidArgumentError(f"{name}: expected a 1-D array, got shape {array.shape}")
    return np.ascontiguousarray(array)


def _as_labels(values: Any, name: str) -> np.ndarray:
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise InvalidArgumentError(f"{name}: expected a 1-D array, got shape {array.shape}")
    return array


# --- mergeable sufficient statistics -------------------------------------------------------


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
        return cls(*_native.exp_moments(_as_array(values, "values")))

    @classmethod
    def from_sums(cls, n: int, sum: float, sum_sq: float) -> SufficientStats:
        """Statistics from the count, the sum and the sum of squares."""
        return cls(*_native.exp_moments_from_sums(int(n), float(sum), float(sum_sq)))

    @classmethod
    def from_mean_var(cls, n: int, mean: float, variance: float) -> SufficientStats:
        """Statistics from the count, the mean and the sample variance (ddof 1)."""
        return cls(*_native.exp_moments_from_mean_var(int(n), float(mean), float(variance)))

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
        return float(np.sqrt(self.variance))

    @property
    def sem(self) -> float:
        """Standard error of the mean."""
        return float(np.sqrt(self.variance / self.n)) if self.n > 1 else float("nan")

    @property
    def sum(self) -> float:
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
        return cls(*_native.exp_comoments(_as_array(x, "x"), _as_array(y, "y")))

    @classmethod
    def from_sums(cls, n: int, sum_x: float, sum_y: float, sum_xx: float, sum_yy: float, sum_xy: float) -> PairedStats:
        """Co-moments from n, Σx, Σy, Σx², Σy², Σxy."""
        args = (float(sum_x), float(sum_y), float(sum_xx), float(sum_yy), float(sum_xy))
        return cls(*_native.exp_comoments_from_sums(int(n), *args))

    def to_sums(self) -> tuple[int, float, float, float, float, float]:
        """``(n, Σx, Σy, Σx², Σy², Σxy)``."""
        return _native.exp_comoments_to_sums(self._tuple())

    def merge(self, other: PairedStats) -> PairedStats:
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
        return SufficientStats(self.n, self.mean_x, self.m2_x)

    @property
    def y(self) -> SufficientStats:
        return SufficientStats(self.n, self.mean_y, self.m2_y)

    @property
    def covariance(self) -> float:
        """Sample covariance (ddof 1)."""
        return self.c_xy / (self.n - 1) if self.n > 1 else float("nan")

    @property
    def correlation(self) -> float:
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


# --- CUPED ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WelchResult:
    """Welch's unequal-variance comparison of two means (first minus second)."""

    difference: float
    std_error: float
    df: float
    statistic: float
    pvalue: float
    alternative: str = "two-sided"

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Welch t interval of the difference."""
        if self.alternative == "two-sided":
            q = _native.exp_student_t_isf((1.0 - confidence_level) / 2.0, self.df)
            return (self.difference - q * self.std_error, self.difference + q * self.std_error)
        q = _native.exp_student_t_isf(1.0 - confidence_level, self.df)
        if self.alternative == "less":
            return (float("-inf"), self.difference + q * self.std_error)
        return (self.difference - q * self.std_error, float("inf"))

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
class CupedArm:
    label: Any
    n: int
    mean: float
    variance: float
    mean_covariate: float
    adjusted_mean: float
    adjusted_variance: float
    variance_reduction: float


@dataclass(frozen=True)
class CupedComparison:
    """One arm against the control (arm - control), CUPED-adjusted and raw."""

    arm: Any
    control: Any
    adjusted: WelchResult
    unadjusted: WelchResult
    variance_reduction: float

    @property
    def statistic(self) -> float:
        return self.adjusted.statistic

    @property
    def pvalue(self) -> float:
        return self.adjusted.pvalue

    @property
    def difference(self) -> float:
        return self.adjusted.difference

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        return self.adjusted.confidence_interval(confidence_level)


@dataclass(frozen=True)
class CupedResult:
    """CUPED with θ pooled over all arms; ``comparisons`` holds every arm against the control."""

    theta: float
    pooled_mean_covariate: float
    arms: tuple[CupedArm, ...]
    comparisons: tuple[CupedComparison, ...]

    def arm(self, label: Any) -> CupedArm:
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
    raise InvalidArgumentError(f"control {control!r} is not one of the arms {list(labels)!r}")


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
    labels_all = _as_labels(groups, "groups")
    labels, codes = np.unique(labels_all, return_inverse=True)
    label_list = [lab.item() if hasattr(lab, "item") else lab for lab in labels]
    raw = _native.exp_cuped(
        _as_array(y, "y"),
        _as_array(x, "x"),
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
    labels = list(stats)
    raw = _native.exp_cuped_from_stats(
        [stats[k]._tuple() for k in labels], _control_index(labels, control), alternative, 0.95
    )
    return _cuped_result(raw, labels, alternative)


# --- winsorization -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class WinsorizeResult:
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
        _as_array(values, "values"), float(lower), float(upper), bool(nonzero_only)
    )
    return WinsorizeResult(capped, lo, hi, n_low, n_high)


# --- bootstrap -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Bootstrap CI; ``low``/``high`` are at the requested level, and
    :meth:`confidence_interval` re-reads the same resamples at any level."""

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
        return _native.exp_bootstrap_interval(
            self.bootstrap_distribution,
            self.bias_correction,
            self.acceleration,
            self.method,
            self.alternative,
            float(confidence_level),
        )


def _bootstrap_sample(sample: Any, name: str, ratio: bool) -> tuple[np.ndarray, np.ndarray | None]:
    if ratio:
        if not (isinstance(sample, tuple | list) and len(sample) == 2):
            raise InvalidArgumentError(f"{name}: the ratio statistic needs a (numerator, denominator) pair")
        return _as_array(sample[0], f"{name} numerator"), _as_array(sample[1], f"{name} denominator")
    return _as_array(sample, name), None


def bootstrap_ci(
    a: Any,
    b: Any = None,
    *,
    statistic: Literal["mean", "median", "sum", "ratio"] = "mean",
    n_resamples: int = 2000,
    confidence_level: float = 0.95,
    method: Literal["bca", "percentile"] = "bca",
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
    ratio = statistic == "ratio"
    a_values, a_den = _bootstrap_sample(a, "a", ratio)
    b_values, b_den = (None, None) if b is None else _bootstrap_sample(b, "b", ratio)
    raw = _native.exp_bootstrap_ci(
        a_values,
        b_values,
        a_den,
        b_den,
        statistic,
        int(n_resamples),
        float(confidence_level),
        method,
        alternative,
        int(seed),
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


# --- Bayesian ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BetaPosterior:
    alpha: float
    beta: float
    mean: float
    credible_interval: tuple[float, float]


@dataclass(frozen=True)
class BayesProportionsResult:
    """Beta-Binomial comparison. ``expected_loss_b`` = E[max(p_A - p_B, 0)], the conversion
    rate given up by choosing B; ``diff_*`` describe p_B - p_A."""

    prob_b_beats_a: float
    expected_loss_a: float
    expected_loss_b: float
    posterior_a: BetaPosterior
    posterior_b: BetaPosterior
    diff_mean: float
    diff_credible_interval: tuple[float, float]
    method: str
    credible_level: float


def bayes_proportions(
    count_a: int,
    n_a: int,
    count_b: int,
    n_b: int,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    credible_level: float = 0.95,
) -> BayesProportionsResult:
    """Beta-Binomial A/B comparison with prior Beta(a0, b0).

    P(B > A) is exact (Evan Miller's closed form) whenever a posterior parameter is an integer,
    else computed by adaptive quadrature (``method``); expected losses use Stucchio's identity.
    Credible intervals are equal-tailed; the one of p_B - p_A inverts the exact CDF of the
    difference obtained by numerical convolution (no normal approximation).

    Examples
    --------
    >>> r = bayes_proportions(10, 100, 20, 100)
    >>> round(r.prob_b_beats_a, 4)
    0.9752
    >>> r.method
    'closed-form'
    >>> round(r.expected_loss_b, 5) < round(r.expected_loss_a, 5)
    True
    """
    raw = _native.exp_bayes_proportions(
        int(count_a),
        int(n_a),
        int(count_b),
        int(n_b),
        float(prior[0]),
        float(prior[1]),
        float(credible_level),
    )

    def posterior(d: Mapping[str, float]) -> BetaPosterior:
        return BetaPosterior(d["alpha"], d["beta"], d["mean"], (d["ci_low"], d["ci_high"]))

    return BayesProportionsResult(
        prob_b_beats_a=raw["prob_b_beats_a"],
        expected_loss_a=raw["expected_loss_a"],
        expected_loss_b=raw["expected_loss_b"],
        posterior_a=posterior(raw["a"]),
        posterior_b=posterior(raw["b"]),
        diff_mean=raw["diff_mean"],
        diff_credible_interval=(raw["diff_ci_low"], raw["diff_ci_high"]),
        method=raw["method"],
        credible_level=float(credible_level),
    )


@dataclass(frozen=True)
class NormalPosterior:
    mean: float
    std_error: float
    credible_interval: tuple[float, float]


@dataclass(frozen=True)
class BayesMeansResult:
    """Gaussian comparison of means (flat prior: each mean ~ N(x̄, s²/n)); ``diff_*`` describe
    μ_B - μ_A, ``expected_loss_b`` = E[max(μ_A - μ_B, 0)]."""

    prob_b_beats_a: float
    expected_loss_a: float
    expected_loss_b: float
    posterior_a: NormalPosterior
    posterior_b: NormalPosterior
    diff_mean: float
    diff_std_error: float
    diff_credible_interval: tuple[float, float]
    credible_level: float


def _stats(values: Any, name: str) -> SufficientStats:
    if isinstance(values, SufficientStats):
        return values
    return SufficientStats.from_array(_as_array(values, name))


def bayes_means(a: Any, b: Any, *, credible_level: float = 0.95) -> BayesMeansResult:
    """Gaussian Bayesian comparison of two means; ``a`` and ``b`` are values or
    :class:`SufficientStats`. P(B > A) = Φ(Δ / √(se_a² + se_b²)); losses and intervals are
    closed form.

    Examples
    --------
    >>> a = SufficientStats.from_mean_var(400, 10.0, 16.0)
    >>> b = SufficientStats.from_mean_var(400, 10.5, 16.0)
    >>> r = bayes_means(a, b)
    >>> round(r.prob_b_beats_a, 4), round(r.diff_std_error, 4)
    (0.9615, 0.2828)
    """
    raw = _native.exp_bayes_means(_stats(a, "a")._tuple(), _stats(b, "b")._tuple(), float(credible_level))

    def posterior(d: Mapping[str, float]) -> NormalPosterior:
        return NormalPosterior(d["mean"], d["std_error"], (d["ci_low"], d["ci_high"]))

    return BayesMeansResult(
        prob_b_beats_a=raw["prob_b_beats_a"],
        expected_loss_a=raw["expected_loss_a"],
        expected_loss_b=raw["expected_loss_b"],
        posterior_a=posterior(raw["a"]),
        posterior_b=posterior(raw["b"]),
        diff_mean=raw["diff_mean"],
        diff_std_error=raw["diff_std_error"],
        diff_credible_interval=(raw["diff_ci_low"], raw["diff_ci_high"]),
        credible_level=float(credible_level),
    )


# --- sequential monitoring -----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ConfidenceSequenceResult:
    """Always-valid inference for ``mean_a - mean_b`` at each look: ``pvalue`` never increases
    and ``[lower, upper]`` only shrinks, so stopping whenever ``pvalue <= alpha`` keeps the
    error rate at alpha however often one looks."""

    estimate: np.ndarray
    std_error: np.ndarray
    pvalue: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    alpha: float
    mixing_variance: float


def _looks(looks: Iterable[Any], name: str) -> list[tuple[int, float, float]]:
    out = []
    for look in looks:
        if not isinstance(look, SufficientStats):
            raise InvalidArgumentError(f"{name}: each look must be a SufficientStats")
        out.append(look._tuple())
    return out


def confidence_sequence(
    looks_a: Sequence[SufficientStats],
    looks_b: Sequence[SufficientStats],
    *,
    alpha: float = 0.05,
    mixing_variance: float | None = None,
    null_difference: float = 0.0,
) -> ConfidenceSequenceResult:
    """Mixture-SPRT always-valid p-values and confidence sequence over looks.

    ``looks_a[k]`` and ``looks_b[k]`` are the cumulative statistics of each arm at look k. The
    normal mixture N(δ₀, τ²) (Johari et al., "Always valid inference"; Howard et al. 2021) uses
    ``mixing_variance`` τ²; by default τ² is tuned so the sequence is narrowest at the last
    look given (fix it in advance when monitoring live, so earlier looks do not move).

    Examples
    --------
    >>> a = [SufficientStats.from_mean_var(n, 0.11, 0.1) for n in (1000, 2000, 3000)]
    >>> b = [SufficientStats.from_mean_var(n, 0.10, 0.09) for n in (1000, 2000, 3000)]
    >>> cs = confidence_sequence(a, b, mixing_variance=1e-4)
    >>> bool(all(cs.pvalue[1:] <= cs.pvalue[:-1]))
    True
    >>> bool(cs.lower[-1] < 0.01 < cs.upper[-1])
    True
    """
    raw = _native.exp_confidence_sequence(
        _looks(looks_a, "looks_a"),
        _looks(looks_b, "looks_b"),
        float(alpha),
        None if mixing_variance is None else float(mixing_variance),
        float(null_difference),
    )
    return ConfidenceSequenceResult(
        estimate=raw["estimate"],
        std_error=raw["std_error"],
        pvalue=raw["pvalue"],
        lower=raw["ci_low"],
        upper=raw["ci_high"],
        alpha=float(alpha),
        mixing_variance=raw["mixing_variance"],
    )


def always_valid_pvalues(
    looks_a: Sequence[SufficientStats],
    looks_b: Sequence[SufficientStats],
    *,
    alpha: float = 0.05,
    mixing_variance: float | None = None,
    null_difference: float = 0.0,
) -> np.ndarray:
    """The always-valid p-values of :func:`confidence_sequence`, one per look."""
    return confidence_sequence(
        looks_a,
        looks_b,
        alpha=alpha,
        mixing_variance=mixing_variance,
        null_difference=null_difference,
    ).pvalue


@dataclass(frozen=True, eq=False)
class GroupSequentialBoundaries:
    """Efficacy boundaries: reject at look k when |Z_k| >= z[k] (Z_k >= z[k] one-sided)."""

    info_fractions: np.ndarray
    z: np.ndarray
    nominal_alpha: np.ndarray
    cumulative_alpha: np.ndarray
    alpha: float
    kind: str
    alternative: str


def obrien_fleming_boundaries(
    info_fractions: Any,
    *,
    alpha: float = 0.05,
    kind: Literal["obf-spending", "pocock-spending", "obf", "pocock"] = "obf-spending",
    alternative: Literal["two-sided", "greater"] = "two-sided",
) -> GroupSequentialBoundaries:
    """Group-sequential boundaries for planned looks at the given information fractions.

    The default is Lan-DeMets O'Brien-Fleming-type alpha spending,
    alpha(t) = 2 - 2 Phi(z_{1-a/2} / sqrt(t)) per side (a = alpha/2 when two-sided), with exit
    probabilities from the Armitage-McPherson-Rowe recursion, as R ``gsDesign``/``ldbounds``.
    ``"pocock-spending"`` and the classical constant boundaries ``"obf"`` (C/sqrt(t)) and
    ``"pocock"`` (C) are offered too.

    Examples
    --------
    >>> b = obrien_fleming_boundaries([0.2, 0.4, 0.6, 0.8, 1.0])
    >>> [round(float(z), 3) for z in b.z]
    [4.877, 3.357, 2.68, 2.29, 2.031]
    >>> round(float(b.cumulative_alpha[-1]), 6)
    0.05
    """
    if alternative not in ("two-sided", "greater"):
        raise InvalidArgumentError("alternative must be 'two-sided' or 'greater'")
    fractions = [float(t) for t in _as_array(info_fractions, "info_fractions")]
    raw = _native.exp_group_sequential_bounds(fractions, float(alpha), kind, alternative == "two-sided")
    return GroupSequentialBoundaries(
        info_fractions=raw["info_fractions"],
        z=raw["z"],
        nominal_alpha=raw["nominal_alpha"],
        cumulative_alpha=raw["cumulative_alpha"],
        alpha=float(alpha),
        kind=kind,
        alternative=alternative,
    )


# --- simulation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RejectionRate:
    """Share of simulated experiments in which a test rejected, with its Wilson interval."""

    rejections: int
    runs: int
    rate: float
    ci_low: float
    ci_high: float

    @classmethod
    def _from(cls, t: tuple[int, int, float, float, float]) -> RejectionRate:
        return cls(int(t[0]), int(t[1]), float(t[2]), float(t[3]), float(t[4]))


@dataclass(frozen=True)
class SimulationResult:
    """Rejection rate per test name (``"z"``, ``"chi2"``, ``"welch_t"``, ``"mann_whitney"``)."""

    rates: dict[str, RejectionRate]
    metric: str
    relative_lift: float
    alpha: float
    runs: int

    def __getitem__(self, test: str) -> RejectionRate:
        return self.rates[test]


_DEFAULT_TESTS = {
    "proportion": ("z", "chi2", "welch_t", "mann_whitney"),
    "normal": ("z", "welch_t", "mann_whitney"),
    "revenue": ("z", "welch_t", "mann_whitney"),
}


def simulate_power(
    *,
    metric: Metric = "proportion",
    baseline: float,
    relative_lift: float,
    nobs1: int,
    nobs2: int | None = None,
    runs: int = 10_000,
    alpha: float = 0.05,
    tests: Sequence[str] | None = None,
    sd: float = 1.0,
    purchase_rate: float = 0.05,
    sigma: float = 1.0,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> SimulationResult:
    """Monte Carlo rejection rates of the classic tests (two-sided, level ``alpha``).

    Arm A follows the model with mean ``baseline``; arm B's mean is ``baseline·(1 +
    relative_lift)``. Models: ``"proportion"`` (conversion with probability ``baseline``),
    ``"normal"`` (sd ``sd``), ``"revenue"`` (zero with probability 1 - ``purchase_rate``, else
    log-normal with log-scale sd ``sigma``; B's spend is scaled). Run i uses the generator
    seeded by (seed, i), in parallel.

    Examples
    --------
    >>> r = simulate_power(baseline=0.1, relative_lift=0.3, nobs1=3000, runs=2000, seed=1)
    >>> r["z"].rate > 0.9
    True
    """
    nobs2 = nobs1 if nobs2 is None else nobs2
    chosen = list(_DEFAULT_TESTS.get(metric, ()) if tests is None else tests)
    raw = _native.exp_simulate(
        metric,
        float(baseline),
        float(sd),
        float(purchase_rate),
        float(sigma),
        float(relative_lift),
        int(nobs1),
        int(nobs2),
        int(runs),
        float(alpha),
        int(seed),
        chosen,
        float(confidence_level),
    )
    return SimulationResult(
        rates={name: RejectionRate._from(t) for name, t in raw},
        metric=metric,
        relative_lift=float(relative_lift),
        alpha=float(alpha),
        runs=int(runs),
    )


def simulate_aa(
    *,
    metric: Metric = "proportion",
    baseline: float,
    nobs1: int,
    nobs2: int | None = None,
    runs: int = 10_000,
    alpha: float = 0.05,
    tests: Sequence[str] | None = None,
    sd: float = 1.0,
    purchase_rate: float = 0.05,
    sigma: float = 1.0,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> SimulationResult:
    """A/A simulation: :func:`simulate_power` with no lift, so each rate estimates the test's
    false-positive rate, which should sit within the binomial interval around ``alpha``.

    Examples
    --------
    >>> r = simulate_aa(baseline=0.1, nobs1=1000, runs=4000, seed=3)
    >>> r["chi2"].ci_low < 0.05 < r["chi2"].ci_high
    True
    """
    return simulate_power(
        metric=metric,
        baseline=baseline,
        relative_lift=0.0,
        nobs1=nobs1,
        nobs2=nobs2,
        runs=runs,
        alpha=alpha,
        tests=tests,
        sd=sd,
        purchase_rate=purchase_rate,
        sigma=sigma,
        confidence_level=confidence_level,
        seed=seed,
    )


@dataclass(frozen=True)
class PeekingResult:
    """Rejection rates when looking after every batch: always-valid test, naive repeated z
    tests, and the z test at the final look only."""

    always_valid: RejectionRate
    naive_peeking: RejectionRate
    final_look: RejectionRate
    mixing_variance: float


def simulate_peeking(
    *,
    metric: Metric = "proportion",
    baseline: float,
    relative_lift: float = 0.0,
    nobs_per_look1: int,
    nobs_per_look2: int | None = None,
    looks: int,
    runs: int = 2000,
    alpha: float = 0.05,
    mixing_variance: float | None = None,
    sd: float = 1.0,
    purchase_rate: float = 0.05,
    sigma: float = 1.0,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> PeekingResult:
    """Simulate monitoring after every look (e.g. every day). ``mixing_variance`` None tunes τ²
    to the planned final look with the model's true variance, fixed before any data.

    Examples
    --------
    >>> r = simulate_peeking(metric="normal", baseline=0.0, nobs_per_look1=100, looks=20,
    ...                      runs=1000, seed=2)
    >>> r.always_valid.rate <= 0.05 < r.naive_peeking.rate
    True
    """
    nobs_per_look2 = nobs_per_look1 if nobs_per_look2 is None else nobs_per_look2
    raw = _native.exp_simulate_peeking(
        metric,
        float(baseline),
        float(sd),
        float(purchase_rate),
        float(sigma),
        float(relative_lift),
        int(nobs_per_look1),
        int(nobs_per_look2),
        int(looks),
        int(runs),
        float(alpha),
        None if mixing_variance is None else float(mixing_variance),
        int(seed),
        float(confidence_level),
    )
    return PeekingResult(
        always_valid=RejectionRate._from(raw["always_valid"]),
        naive_peeking=RejectionRate._from(raw["naive_peeking"]),
        final_look=RejectionRate._from(raw["final_look"]),
        mixing_variance=float(raw["mixing_variance"]),
    )


# --- experiment analysis from events and assignments (lead: analyze) -----------------------
# Defined in its own module (it builds on everything above); imported last to keep the cycle benign.
from shoplens._analyze import (  # noqa: E402
    METRICS,
    ExperimentAnalysis,
    ExperimentSummary,
    analyze,
    user_metrics,
)
from shoplens._compare import COMPARE_COLUMNS, compare_from_sums  # noqa: E402
from shoplens._planner import Baseline, Candidate, baseline_from_events, plan  # noqa: E402
