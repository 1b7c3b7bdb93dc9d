"""Experiment planner: for candidate changes, sample size, duration, expected impact, ROI and payback,
with the baseline, traffic and value per visitor measured from the warehouse (never typed in)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from shoplens import stats
from shoplens.errors import InvalidArgumentError

__all__ = ["Baseline", "Candidate", "baseline_from_events", "plan"]


@dataclass(frozen=True)
class Candidate:
    """A change to test: its expected relative lift on user conversion and its one-off cost."""

    name: str
    expected_lift: float
    cost: float = 0.0


@dataclass(frozen=True)
class Baseline:
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


def baseline_from_events(events: pl.DataFrame | pl.LazyFrame) -> Baseline:
    """Baseline figures from clean events (the warehouse ``events`` table)."""
    ev = events.lazy().filter(~pl.col("is_bot"))
    per = ev.select(
        pl.col("visitor_id").n_unique().alias("visitors"),
        pl.col("visitor_id").filter(pl.col("event") == "transaction").n_unique().alias("buyers"),
        pl.col("revenue").sum().fill_null(0.0).alias("revenue"),
        pl.col("timestamp").dt.date().n_unique().alias("days"),
    ).collect()
    daily = (
        ev.group_by(pl.col("timestamp").dt.date().alias("day"))
        .agg(pl.col("visitor_id").n_unique().alias("n"))
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
    candidates: Sequence[Candidate],
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    traffic_share: float = 1.0,
    arms: int = 2,
    horizon_days: int = 365,
) -> pl.DataFrame:
    """Plan experiments for candidate changes.

    For each candidate: users per arm to detect its expected lift on conversion (R's
    ``power.prop.test``), days to enrol them at the measured daily traffic times ``traffic_share``,
    the expected extra revenue per day after rollout (daily visitors x conversion x lift x revenue per
    buyer), the impact over ``horizon_days``, ROI = (impact - cost) / cost and the payback in days.

    Parameters
    ----------
    data : shoplens.Warehouse, events DataFrame, or Baseline
    candidates : sequence of Candidate

    Examples
    --------
    >>> b = Baseline(visitors=100_000, buyers=2_000, revenue=120_000.0, days=30,
    ...              daily_visitors=4_000.0, conversion=0.02, revenue_per_buyer=60.0)
    >>> plan(b, [Candidate("new checkout", 0.10, cost=5_000)])["days"].item()
    41
    """
    from shoplens._pipeline import Warehouse

    if not 0 < traffic_share <= 1:
        raise InvalidArgumentError("traffic_share must be in (0, 1]")
    if arms < 2:
        raise InvalidArgumentError("an experiment needs at least two arms")
    if isinstance(data, Baseline):
        base = data
    elif isinstance(data, Warehouse):
        base = baseline_from_events(data.scan("events"))
    else:
        base = baseline_from_events(data)
    rows = []
    for c in candidates:
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
    return pl.DataFrame(rows)
