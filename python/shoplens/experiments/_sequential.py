"""Sequential monitoring: always-valid inference and group-sequential boundaries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from shoplens import _native
from shoplens._display import ResultDisplay
from shoplens._validate import as_array, choice, number, probability
from shoplens.errors import InvalidArgumentError
from shoplens.experiments._moments import SufficientStats

__all__ = [
    "ConfidenceSequenceResult",
    "GroupSequentialBoundaries",
    "always_valid_pvalues",
    "confidence_sequence",
    "obrien_fleming_boundaries",
]

BoundaryKind = Literal["obf-spending", "pocock-spending", "obf", "pocock"]
_BOUNDARY_KINDS: tuple[BoundaryKind, ...] = ("obf-spending", "pocock-spending", "obf", "pocock")


@dataclass(frozen=True, eq=False)
class ConfidenceSequenceResult(ResultDisplay):
    """Always-valid inference for ``mean_a - mean_b`` at each look: ``pvalue`` never increases
    and ``[lower, upper]`` only shrinks, so stopping whenever ``pvalue <= alpha`` keeps the
    error rate at alpha however often one looks.

    Attributes
    ----------
    estimate, std_error : numpy.ndarray
        The difference and its standard error at each look.
    pvalue : numpy.ndarray
        Always-valid p-value at each look.
    lower, upper : numpy.ndarray
        The confidence sequence at level ``1 - alpha``.
    alpha, mixing_variance : float
    """

    estimate: np.ndarray
    std_error: np.ndarray
    pvalue: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    alpha: float
    mixing_variance: float


def _looks(looks: Iterable[Any], name: str) -> list[tuple[int, float, float]]:
    out = []
    for i, look in enumerate(looks):
        if not isinstance(look, SufficientStats):
            raise InvalidArgumentError(f"{name}[{i}] must be a SufficientStats, got {type(look).__name__}")
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
    alpha = probability(alpha, "alpha")
    raw = _native.exp_confidence_sequence(
        _looks(looks_a, "looks_a"),
        _looks(looks_b, "looks_b"),
        alpha,
        None if mixing_variance is None else number(mixing_variance, "mixing_variance"),
        number(null_difference, "null_difference"),
    )
    return ConfidenceSequenceResult(
        estimate=raw["estimate"],
        std_error=raw["std_error"],
        pvalue=raw["pvalue"],
        lower=raw["ci_low"],
        upper=raw["ci_high"],
        alpha=alpha,
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
class GroupSequentialBoundaries(ResultDisplay):
    """Efficacy boundaries: reject at look k when |Z_k| >= z[k] (Z_k >= z[k] one-sided).

    Attributes
    ----------
    info_fractions, z : numpy.ndarray
        The looks' information fractions and their boundaries.
    nominal_alpha, cumulative_alpha : numpy.ndarray
        Alpha spent at each look and up to it.
    alpha : float
    kind, alternative : str
    """

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
    kind: BoundaryKind = "obf-spending",
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
    alternative = choice(alternative, ("two-sided", "greater"), "alternative")
    kind = choice(kind, _BOUNDARY_KINDS, "kind")
    alpha = probability(alpha, "alpha")
    fractions = [float(t) for t in as_array(info_fractions, "info_fractions")]
    raw = _native.exp_group_sequential_bounds(fractions, alpha, kind, alternative == "two-sided")
    return GroupSequentialBoundaries(
        info_fractions=raw["info_fractions"],
        z=raw["z"],
        nominal_alpha=raw["nominal_alpha"],
        cumulative_alpha=raw["cumulative_alpha"],
        alpha=alpha,
        kind=kind,
        alternative=alternative,
    )
