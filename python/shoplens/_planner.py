"""Experiment planner: for candidate changes, sample size, duration, expected impact, ROI and payback,
with the baseline, traffic and value per visitor measured from the warehouse (never typed in)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from shoplens import stats
from shoplens._display import ResultDisplay
from shoplens._frames import like_input, to_polars
from shoplens._validate import integer, level, number, probability
from shoplens.errors import InvalidArgumentError

__all__ = ["Baseline", "Candidate", "baseline_from_events", "plan"]


@dataclass(frozen=True)
class Candidate(ResultDisplay):
    """A change to test: its expected relative lift on user conversion and its one-off cost.

    Attributes
    ----------
    name : str
    expected_lift : float
        Expected relative change of conversion (0.05 = +5 %), not zero.
    cost : float
        One-off cost of building the change (0 or more).
    """

    name: str
    expected_lift: float
    cost: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidArgumentError(f"Candidate name must be a non-empty string, got {self.name!r}")
        lift = number(self.expected_lift, "expected_lift", finite=True)
        if lift == 0 or lift <= -1:
            raise InvalidArgumentError(f"expected_lift must be a non-zero number > -1, got {self.expected_lift!r}")
        cost = number(self.cost, "cost", finite=True)
        if cost < 0:
            raise InvalidArgumentError(f"cost must be a number >= 0, got {self.cost!r}")
        object.__setattr__(self, "expected_lift", lift)
        object.__setattr__(self, "cost", cost)


def _candidate(c: Any, i: int) -> Candidate:
    if isinstance(c, Candidate):
        return c
    if isinstance(c, tuple | list) and len(c) in (2, 3):
        return Candidate(*c)
    raise InvalidArgumentError(
        f"candidates[{i}] must be a Candidate or a (name, expected_lift[, cost]) tuple, got {c!r}"
    )


@dataclass(frozen=True)
class Baseline(ResultDisplay):
    """What the data say about current traffic (bots excluded).

    ``conversion`` = buyers / visitors over the period; ``daily_visitors`` = mean distinct visitors
    per UTC day; ``revenue_per_buyer`` = revenue / buyers (ARPPU).
    """

    visitors: int
    buyers: int
    revenue: float
    days: int
    daily_visitors: float
    conversion: float
    revenue_per_buyer: float


def baseline_from_events(events: Any) -> Baseline:
    """Baseline figures from clean events (the warehouse ``events`` table).

    Parameters
    ----------
    events : polars DataFrame or LazyFrame, or pandas DataFrame
        Needs ``visitor_id``, ``event``, ``revenue``, ``timestamp`` and ``is_bot``.

    Returns
    -------
    Baseline
    """
    frame = events if isinstance(events, pl.LazyFrame) else to_polars(events, "events").lazy()
    ev = frame.filter(~pl.col("is_bot"))
    per = ev.select(
        pl.col("visitor_id").n_unique().alias("visitors"),
        pl.col("visitor_id").filter(pl.col("event") == "transaction").n_unique().alias("buyers"),
        pl.col("revenue").sum().fill_null(0.0).alias("revenue"),
        pl.col("timestamp").dt.date().n_unique().alias("days"),
    ).collect()
    daily = (
        ev.group_by(pl.col("timestamp").dt.date().alias("day"))
        .agg(pl.col("visitor_id").n_unique().alias("n"))
        .sort("day")  # group order varies from run to run; a fixed order makes the mean reproducible
        .select(pl.col("n").mean())
        .collect()
        .item()
    )
    visitors, buyers, revenue, days = per.row(0)
    if not visitors or not buyers:
        raise InvalidArgumentError("the events have no visitors or no buyers: no baseline to plan from")
    return Baseline(
        visitors=int(visitors),
        buyers=int(buyers),
        revenue=float(revenue),
        days=int(days),
        daily_visitors=float(daily),
        conversion=buyers / visitors,
        revenue_per_buyer=float(revenue) / buyers,
    )


def plan(
    data: Any,
    candidates: Sequence[Candidate | tuple[str, float] | tuple[str, float, float]],
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    traffic_share: float = 1.0,
    arms: int = 2,
    horizon_days: int = 365,
) -> Any:
    """Plan experiments for candidate changes.

    For each candidate: users per arm to detect its expected lift on conversion (R's
    ``power.prop.test``), days to enrol them at the measured daily traffic times ``traffic_share``,
    the expected extra revenue per day after rollout (daily visitors x conversion x lift x revenue per
    buyer), the impact over ``horizon_days``, ROI = (impact - cost) / cost and the payback in days.

    Parameters
    ----------
    data : shoplens.Warehouse, events DataFrame (polars or pandas), or Baseline
    candidates : sequence of Candidate or (name, expected_lift[, cost]) tuples
    power : float
        Power to detect each candidate's lift, in (0, 1).
    alpha : float
        Two-sided significance level, in (0, 1).
    traffic_share : float
        Share of the daily visitors that enter the experiment, in (0, 1].
    arms : int
        Arms of the experiment (at least 2).
    horizon_days : int
        Days over which the impact is summed (at least 1).

    Returns
    -------
    polars.DataFrame (pandas when ``data`` is pandas)
        candidate, baseline_conversion, expected_lift, n_per_arm, days, daily_revenue_gain, impact,
        cost, roi, payback_days.

    Examples
    --------
    >>> b = Baseline(visitors=100_000, buyers=2_000, revenue=120_000.0, days=30,
    ...              daily_visitors=4_000.0, conversion=0.02, revenue_per_buyer=60.0)
    >>> plan(b, [Candidate("new checkout", 0.10, cost=5_000)])["days"].item()
    41
    """
    from shoplens._pipeline import Warehouse

    traffic_share = number(traffic_share, "traffic_share")
    if not 0 < traffic_share <= 1:
        raise InvalidArgumentError(f"traffic_share must be a number in (0, 1], got {traffic_share!r}")
    arms = integer(arms, "arms", minimum=2)
    horizon_days = integer(horizon_days, "horizon_days", minimum=1)
    power = level(power, "power")
    alpha = probability(alpha, "alpha")
    if isinstance(candidates, str | Candidate) or not isinstance(candidates, Sequence):
        raise InvalidArgumentError(f"candidates must be a sequence of Candidate, got {candidates!r}")
    chosen = [_candidate(c, i) for i, c in enumerate(candidates)]
    if isinstance(data, Baseline):
        base = data
    elif isinstance(data, Warehouse):
        base = baseline_from_events(data.scan("events"))
    else:
        base = baseline_from_events(data)
    rows = []
    for c in chosen:
        p2 = base.conversion * (1 + c.expected_lift)
        if not 0 < p2 < 1:
            raise InvalidArgumentError(f"{c.name}: lift {c.expected_lift} takes conversion outside (0, 1)")
        n = stats.samplesize_proportions_2indep(base.conversion, p2, power=power, alpha=alpha)
        days = stats.duration_days(arms * math.ceil(n), base.daily_visitors * traffic_share)
        daily_gain = base.daily_visitors * (p2 - base.conversion) * base.revenue_per_buyer
        impact = daily_gain * horizon_days
        rows.append(
            {
                "candidate": c.name,
                "baseline_conversion": base.conversion,
                "expected_lift": c.expected_lift,
                "n_per_arm": math.ceil(n),
                "days": days,
                "daily_revenue_gain": daily_gain,
                "impact": impact,
                "cost": c.cost,
                "roi": (impact - c.cost) / c.cost if c.cost > 0 else math.inf,
                "payback_days": c.cost / daily_gain if daily_gain > 0 else math.inf,
            }
        )
    return like_input(pl.DataFrame(rows), data)
