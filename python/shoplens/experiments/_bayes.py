"""Bayesian comparisons of proportions (Beta-Binomial) and means (Gaussian)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shoplens import _native
from shoplens._display import ResultDisplay
from shoplens._validate import as_array, count, level, number
from shoplens.errors import InvalidArgumentError
from shoplens.experiments._moments import SufficientStats

if TYPE_CHECKING:
    from shoplens._native import _BetaArm, _NormalArm

__all__ = [
    "BayesMeansResult",
    "BayesProportionsResult",
    "BetaPosterior",
    "NormalPosterior",
    "bayes_means",
    "bayes_proportions",
]


@dataclass(frozen=True)
class BetaPosterior(ResultDisplay):
    """Beta posterior of one arm's conversion rate.

    Attributes
    ----------
    alpha, beta : float
        Posterior parameters (prior plus successes / failures).
    mean : float
        Posterior mean.
    credible_interval : tuple of float
        Equal-tailed interval at the result's ``credible_level``.
    """

    alpha: float
    beta: float
    mean: float
    credible_interval: tuple[float, float]


@dataclass(frozen=True)
class BayesProportionsResult(ResultDisplay):
    """Result of :func:`bayes_proportions` (Beta-Binomial).

    Attributes
    ----------
    prob_b_beats_a : float
        P(p_B > p_A) under the posteriors.
    expected_loss_a, expected_loss_b : float
        ``expected_loss_b`` = E[max(p_A - p_B, 0)], the conversion rate given up by choosing B
        (and the other way round).
    posterior_a, posterior_b : BetaPosterior
    diff_mean : float
        Posterior mean of p_B - p_A.
    diff_credible_interval : tuple of float
        Equal-tailed credible interval of p_B - p_A.
    method : str
        ``"closed-form"`` or ``"quadrature"``: how P(B > A) was computed.
    credible_level : float
    """

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
    credible_level = level(credible_level, "credible_level")
    counts = [count(v, name) for v, name in ((count_a, "count_a"), (n_a, "n_a"), (count_b, "count_b"), (n_b, "n_b"))]
    for successes, trials, name in ((counts[0], counts[1], "count_a"), (counts[2], counts[3], "count_b")):
        if successes > trials:
            raise InvalidArgumentError(f"{name} must be at most its number of trials {trials}, got {successes}")
    if not (isinstance(prior, tuple | list) and len(prior) == 2):
        raise InvalidArgumentError(f"prior must be a pair (alpha0, beta0) of positive numbers, got {prior!r}")
    prior_alpha, prior_beta = number(prior[0], "prior[0]", finite=True), number(prior[1], "prior[1]", finite=True)
    if prior_alpha <= 0 or prior_beta <= 0:
        raise InvalidArgumentError(f"prior must be a pair (alpha0, beta0) of positive numbers, got {prior!r}")
    raw = _native.exp_bayes_proportions(
        counts[0], counts[1], counts[2], counts[3], prior_alpha, prior_beta, credible_level
    )

    def posterior(d: _BetaArm) -> BetaPosterior:
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
        credible_level=credible_level,
    )


@dataclass(frozen=True)
class NormalPosterior(ResultDisplay):
    """Normal posterior of one arm's mean (flat prior).

    Attributes
    ----------
    mean, std_error : float
        Posterior mean and standard deviation (the sample mean and its standard error).
    credible_interval : tuple of float
    """

    mean: float
    std_error: float
    credible_interval: tuple[float, float]


@dataclass(frozen=True)
class BayesMeansResult(ResultDisplay):
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
    return SufficientStats.from_array(as_array(values, name))


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
    credible_level = level(credible_level, "credible_level")
    raw = _native.exp_bayes_means(_stats(a, "a")._tuple(), _stats(b, "b")._tuple(), credible_level)

    def posterior(d: _NormalArm) -> NormalPosterior:
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
        credible_level=credible_level,
    )
