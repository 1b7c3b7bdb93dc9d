"""The vocabulary shared by the statistics, the experiment math and the analysis workflow.

One spelling of each choice, used in every signature that offers it (type checkers see the same
``Literal`` everywhere; the engine parses the same strings).
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "ALTERNATIVES",
    "METRIC_KINDS",
    "AdjustMethod",
    "Alternative",
    "MetricKind",
    "PowerAlternative",
    "SimulationModel",
]

#: The alternative hypothesis about an effect (first minus second, or treatment minus control).
Alternative = Literal["two-sided", "less", "greater"]
ALTERNATIVES: tuple[Alternative, ...] = ("two-sided", "less", "greater")

#: Power and sample-size calculations only distinguish one tail from two (as R's ``power.*.test``).
PowerAlternative = Literal["two-sided", "one-sided"]

#: Multiple-testing adjustment of p-values.
AdjustMethod = Literal["bonferroni", "holm", "bh"]

#: What a metric is, which decides its test: ``"proportion"`` (0/1 per user: two-proportion z test),
#: ``"mean"`` (a per-user amount: Welch's t test) or ``"ratio"`` (Σx / Σy over users, e.g. revenue
#: per order: delta-method z test).
MetricKind = Literal["proportion", "mean", "ratio"]
METRIC_KINDS: tuple[MetricKind, ...] = ("proportion", "mean", "ratio")

#: A data-generating model of the simulations: ``"proportion"`` (conversions, a proportion metric),
#: ``"normal"`` (normal amounts, a mean metric) or ``"revenue"`` (zero-inflated log-normal spend, a
#: mean metric).
SimulationModel = Literal["proportion", "normal", "revenue"]
