"""Experiment statistics beyond the classic tests: mergeable sufficient statistics, CUPED,
winsorization, bootstrap intervals, Bayesian comparisons, sequential monitoring and Monte Carlo
A/A, power and peeking simulations.

The arithmetic runs in the Rust engine with the GIL released. Data arguments are positional and
accept numpy arrays, lists, polars or pandas Series; options are keyword-only. Differences are
the first argument minus the second, as in scipy, except where a name says otherwise
(``prob_b_beats_a``, ``diff_mean`` of the Bayesian results: B - A).

This package is the math only. The workflow built on it — :func:`shoplens.analyze` (assignments
and events to a read-out), :func:`shoplens.plan` and :func:`shoplens.compare_from_sums` — lives
above it; those names are also reachable here for code written against earlier versions, loaded
only when asked for, so importing this package never imports the workflow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shoplens._types import Alternative, MetricKind, SimulationModel
from shoplens.experiments._bayes import (
    BayesMeansResult,
    BayesProportionsResult,
    BetaPosterior,
    NormalPosterior,
    bayes_means,
    bayes_proportions,
)
from shoplens.experiments._bootstrap import BootstrapResult, bootstrap_ci
from shoplens.experiments._cuped import CupedArm, CupedComparison, CupedResult, WelchResult, cuped, cuped_from_stats
from shoplens.experiments._moments import PairedStats, SufficientStats
from shoplens.experiments._sequential import (
    ConfidenceSequenceResult,
    GroupSequentialBoundaries,
    always_valid_pvalues,
    confidence_sequence,
    obrien_fleming_boundaries,
)
from shoplens.experiments._simulate import (
    PeekingResult,
    RejectionRate,
    SimulationResult,
    simulate_aa,
    simulate_peeking,
    simulate_power,
)
from shoplens.experiments._winsor import WinsorizeResult, winsorize

if TYPE_CHECKING:
    from shoplens._analyze import METRICS, ExperimentAnalysis, ExperimentSummary, analyze, user_metrics
    from shoplens._compare import COMPARE_COLUMNS, compare_from_sums
    from shoplens._planner import Baseline, Candidate, baseline_from_events, plan

#: Workflow names kept reachable from here (loaded on first use; they live above this package).
_WORKFLOW = {
    "METRICS": "shoplens._analyze",
    "ExperimentAnalysis": "shoplens._analyze",
    "ExperimentSummary": "shoplens._analyze",
    "analyze": "shoplens._analyze",
    "user_metrics": "shoplens._analyze",
    "COMPARE_COLUMNS": "shoplens._compare",
    "compare_from_sums": "shoplens._compare",
    "Baseline": "shoplens._planner",
    "Candidate": "shoplens._planner",
    "baseline_from_events": "shoplens._planner",
    "plan": "shoplens._planner",
}


def __getattr__(name: str) -> Any:
    module = _WORKFLOW.get(name)
    if module is None:
        raise AttributeError(f"module 'shoplens.experiments' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WORKFLOW))


__all__ = [
    "COMPARE_COLUMNS",
    "METRICS",
    "Alternative",
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
    "MetricKind",
    "NormalPosterior",
    "PairedStats",
    "PeekingResult",
    "RejectionRate",
    "SimulationModel",
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
