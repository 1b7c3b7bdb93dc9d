"""Monte Carlo A/A, power and peeking simulations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shoplens import _native
from shoplens._display import ResultDisplay
from shoplens._types import SimulationModel
from shoplens._validate import choice, count, integer, level, number, probability

__all__ = [
    "PeekingResult",
    "RejectionRate",
    "SimulationResult",
    "simulate_aa",
    "simulate_peeking",
    "simulate_power",
]

_MODELS: tuple[SimulationModel, ...] = ("proportion", "normal", "revenue")
_TESTS = ("z", "chi2", "welch_t", "mann_whitney")


@dataclass(frozen=True)
class RejectionRate(ResultDisplay):
    """Share of simulated experiments in which a test rejected, with its Wilson interval.

    Attributes
    ----------
    rejections, runs : int
    rate : float
        ``rejections / runs``.
    ci_low, ci_high : float
        Wilson 95 % interval of the rate.
    """

    rejections: int
    runs: int
    rate: float
    ci_low: float
    ci_high: float

    @classmethod
    def _from(cls, t: tuple[int, int, float, float, float]) -> RejectionRate:
        return cls(int(t[0]), int(t[1]), float(t[2]), float(t[3]), float(t[4]))


@dataclass(frozen=True)
class SimulationResult(ResultDisplay):
    """Rejection rate per test name (``"z"``, ``"chi2"``, ``"welch_t"``, ``"mann_whitney"``).

    Attributes
    ----------
    rates : dict of str to RejectionRate
    metric : {"proportion", "normal", "revenue"}
        The simulated model.
    relative_lift, alpha : float
    runs : int
    """

    rates: dict[str, RejectionRate]
    metric: str
    relative_lift: float
    alpha: float
    runs: int

    def __getitem__(self, test: str) -> RejectionRate:
        """The rejection rate of one test."""
        return self.rates[test]


_DEFAULT_TESTS = {
    "proportion": ("z", "chi2", "welch_t", "mann_whitney"),
    "normal": ("z", "welch_t", "mann_whitney"),
    "revenue": ("z", "welch_t", "mann_whitney"),
}


def simulate_power(
    *,
    metric: SimulationModel = "proportion",
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
    metric = choice(metric, _MODELS, "metric")
    nobs1 = integer(nobs1, "nobs1", minimum=1)
    nobs2 = nobs1 if nobs2 is None else integer(nobs2, "nobs2", minimum=1)
    chosen = list(_DEFAULT_TESTS[metric] if tests is None else [choice(t, _TESTS, "tests[]") for t in tests])
    runs = integer(runs, "runs", minimum=1)
    alpha = probability(alpha, "alpha")
    raw = _native.exp_simulate(
        metric,
        number(baseline, "baseline", finite=True),
        number(sd, "sd", finite=True),
        probability(purchase_rate, "purchase_rate"),
        number(sigma, "sigma", finite=True),
        number(relative_lift, "relative_lift", finite=True),
        nobs1,
        nobs2,
        runs,
        alpha,
        count(seed, "seed"),
        chosen,
        level(confidence_level),
    )
    return SimulationResult(
        rates={name: RejectionRate._from(t) for name, t in raw},
        metric=metric,
        relative_lift=float(relative_lift),
        alpha=alpha,
        runs=runs,
    )


def simulate_aa(
    *,
    metric: SimulationModel = "proportion",
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
class PeekingResult(ResultDisplay):
    """Rejection rates when looking after every batch: always-valid test, naive repeated z
    tests, and the z test at the final look only.

    Attributes
    ----------
    always_valid, naive_peeking, final_look : RejectionRate
    mixing_variance : float
        The mixture variance τ² the always-valid test used.
    """

    always_valid: RejectionRate
    naive_peeking: RejectionRate
    final_look: RejectionRate
    mixing_variance: float


def simulate_peeking(
    *,
    metric: SimulationModel = "proportion",
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
    metric = choice(metric, _MODELS, "metric")
    nobs_per_look1 = integer(nobs_per_look1, "nobs_per_look1", minimum=1)
    nobs_per_look2 = nobs_per_look1 if nobs_per_look2 is None else integer(nobs_per_look2, "nobs_per_look2", minimum=1)
    raw = _native.exp_simulate_peeking(
        metric,
        number(baseline, "baseline", finite=True),
        number(sd, "sd", finite=True),
        probability(purchase_rate, "purchase_rate"),
        number(sigma, "sigma", finite=True),
        number(relative_lift, "relative_lift", finite=True),
        nobs_per_look1,
        nobs_per_look2,
        integer(looks, "looks", minimum=1),
        integer(runs, "runs", minimum=1),
        probability(alpha, "alpha"),
        None if mixing_variance is None else number(mixing_variance, "mixing_variance"),
        count(seed, "seed"),
        level(confidence_level),
    )
    return PeekingResult(
        always_valid=RejectionRate._from(raw["always_valid"]),
        naive_peeking=RejectionRate._from(raw["naive_peeking"]),
        final_look=RejectionRate._from(raw["final_look"]),
        mixing_variance=float(raw["mixing_variance"]),
    )
