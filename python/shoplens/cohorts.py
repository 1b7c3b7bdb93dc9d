"""Acquisition cohorts: retention, purchasing and revenue per cohort and calendar-period offset.

The engine (``src/cohorts``) computes; this module picks the events, validates the options and returns a
polars DataFrame. Definitions (see ``docs/methodology.md``): a visitor's cohort is the UTC day, ISO week
(Monday) or month of their first kept event (``by="first_visit"``) or first purchase
(``by="first_purchase"``); offset k is the k-th calendar period after it; ``active`` counts distinct
cohort members with any event in that period, ``buyers`` those with a purchase; ``revenue`` sums the
purchase rows; ``cumulative_revenue_per_user`` is revenue up to that offset divided by the cohort size.
Each row keeps ``cohort_size`` so that confidence intervals of the rates can be drawn.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

from shoplens import _native
from shoplens.errors import InvalidArgumentError, SchemaError

if TYPE_CHECKING:
    import polars as pl

    from shoplens._pipeline import Warehouse

__all__ = ["BY", "PERIODS", "retention"]

BY = ("first_visit", "first_purchase")
PERIODS = ("day", "week", "month")

_COLUMNS = ("cohort", "offset", "cohort_size", "active", "buyers", "revenue", "cumulative_revenue_per_user")


def _events_frame(data: Any) -> pl.DataFrame:
    from shoplens._frames import to_polars

    return to_polars(data, "events (a warehouse path, a Warehouse or an events DataFrame)")


def _warehouse(data: Any) -> Warehouse | None:
    from shoplens._pipeline import Warehouse, open_warehouse

    if isinstance(data, Warehouse):
        return data
    if isinstance(data, str | os.PathLike):
        return open_warehouse(data)
    return None


def retention(
    wh: Warehouse | str | os.PathLike[str] | pl.DataFrame,
    *,
    by: Literal["first_visit", "first_purchase"] = "first_visit",
    period: Literal["day", "week", "month"] = "week",
    include_bots: bool = False,
) -> pl.DataFrame:
    """Cohort retention matrix in long form.

    Parameters
    ----------
    wh : shoplens.Warehouse, path or polars DataFrame
        A warehouse (its ``cohort_retention`` table is read when bots are left out, else its events
        are used) or a clean events table (``visitor_id, timestamp, event`` and optionally
        ``revenue, is_bot``; ids may be integers or strings).
    by : {"first_visit", "first_purchase"}
        What defines the cohort.
    period : {"day", "week", "month"}
        Calendar period of cohorts and offsets (weeks start on Monday).
    include_bots : bool
        Keep visitors flagged as bots (left out by default).

    Returns
    -------
    polars.DataFrame
        ``cohort`` (Date, first day of the cohort period), ``offset`` (Int32), ``cohort_size``,
        ``active``, ``buyers`` (Int64), ``revenue``, ``cumulative_revenue_per_user`` (Float64); one row
        per cohort and offset up to the last period of the data (zeros where nobody came back).

    Examples
    --------
    >>> from datetime import datetime
    >>> import polars as pl
    >>> events = pl.DataFrame({
    ...     "visitor_id": [1, 1, 2],
    ...     "timestamp": [datetime(2024, 1, 1, 9), datetime(2024, 1, 9, 12), datetime(2024, 1, 3)],
    ...     "event": ["view", "transaction", "view"],
    ...     "revenue": [None, 10.0, None],
    ... })
    >>> table = retention(events, period="week")
    >>> table.select("offset", "cohort_size", "active", "buyers", "revenue").rows()
    [(0, 2, 2, 0, 0.0), (1, 2, 1, 1, 10.0)]
    >>> table["cumulative_revenue_per_user"].to_list()
    [0.0, 5.0]
    """
    if by not in BY:
        raise InvalidArgumentError(f"by={by!r}: allowed {BY}")
    if period not in PERIODS:
        raise InvalidArgumentError(f"period={period!r}: allowed {PERIODS}")
    if not isinstance(include_bots, bool):
        raise InvalidArgumentError(f"include_bots={include_bots!r}: must be True or False")
    warehouse = _warehouse(wh)
    if warehouse is not None:
        if not include_bots and warehouse.has_table("cohort_retention"):
            import polars as pl

            table = warehouse.table("cohort_retention")
            return table.filter((pl.col("by") == by) & (pl.col("period") == period)).select(_COLUMNS)
        events = warehouse.table("events")
    else:
        events = _events_frame(wh)
    missing = {"visitor_id", "timestamp", "event"} - set(events.columns)
    if missing:
        raise SchemaError(f"events lack columns {sorted(missing)}")
    return _native.cohort_retention(events, by, period, include_bots)
