"""KPIs of a warehouse: funnel, headline figures, time series, products, categories, segments, anomalies.

Every figure is computed by the Rust engine (``src/kpis``) from the warehouse's clean events; this module
validates arguments and returns polars DataFrames. Definitions are in ``docs/methodology.md``; every rate
names what it counts, and distinct visitors are counted per period, never summed across days.

Each function takes a warehouse folder or an open :class:`shoplens.Warehouse`. The events are read once
per warehouse and kept in the engine's compact form, so repeated calls (a dashboard changing filters)
do not read Parquet again. Common keyword arguments:

``start``, ``end``
    first and last UTC date kept (inclusive; ``datetime.date`` or ISO text ``"2015-06-01"``).
``days``
    ``"all"`` (default), ``"weekdays"`` (Monday-Friday) or ``"weekends"``.
``root_category``
    keep only events whose item's category (as of the event) lies under this root category id.
``segment``
    keep only visitors of one lifecycle stage: ``"new"``, ``"returning"`` or ``"churned"``.
``include_bots``
    visitors flagged as bots are left out unless this is ``True``.

Examples
--------
>>> import shoplens, shoplens.kpis as kpis
>>> tmp = getfixture("tmp_path")
>>> raw = shoplens.generate(tmp / "raw", scale=0.005, seed=3).out_dir
>>> report = shoplens.build_warehouse(raw, tmp / "wh")
>>> wh = shoplens.open_warehouse(tmp / "wh")
>>> h = kpis.headline(wh, start="2015-06-01", end="2015-06-30", days="weekends")
>>> bool(h["conversion"][0] == h["buyers"][0] / h["visitors"][0])
True
>>> kpis.funnel(wh)["step"].to_list()
['view', 'addtocart', 'transaction']
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path
from typing import Any, Literal

import polars as pl

from shoplens import _native
from shoplens.errors import InvalidArgumentError, MissingFileError

__all__ = [
    "ANOMALY_FALSE_FLAG_RATE",
    "HOURLY_ANOMALY_FALSE_FLAG_RATE",
    "HOURLY_ANOMALY_WINDOWS",
    "LIFECYCLE_WINDOW_DAYS",
    "anomalies",
    "categories",
    "daily",
    "funnel",
    "headline",
    "hour_weekday",
    "hourly_anomalies",
    "monthly",
    "price_bands",
    "products",
    "report_text",
    "segment_conversion",
    "segments",
    "tables",
    "timeseries",
    "weekly",
]

#: Share of days a Gaussian series without anomaly gets flagged per metric (P(|Z| > 3.5)).
ANOMALY_FALSE_FLAG_RATE: float = _native.KPI_ANOMALY_FALSE_FLAG_RATE
#: Share of tested windows (per window and metric) that the hourly test flags in a series following its pattern.
HOURLY_ANOMALY_FALSE_FLAG_RATE: float = _native.KPI_HOURLY_ANOMALY_ALPHA
#: Window lengths (hours) of the hourly anomaly test.
HOURLY_ANOMALY_WINDOWS: tuple[int, ...] = tuple(_native.KPI_HOURLY_ANOMALY_WINDOWS)
#: Lifecycle window: ``new`` = first event within this many days before the end of the data, ``churned`` =
#: last event before that, ``returning`` = the others.
LIFECYCLE_WINDOW_DAYS: int = _native.KPI_LIFECYCLE_WINDOW_DAYS

TABLES = (
    "kpi_daily",
    "kpi_weekly",
    "kpi_monthly",
    "kpi_hour_weekday",
    "funnel",
    "funnel_by_day",
    "funnel_by_weekday",
    "funnel_by_hour",
    "funnel_by_root_category",
    "products",
    "kpi_price_bands",
    "kpi_categories",
    "kpi_segments",
    "kpi_segment_conversion",
    "anomalies",
    "anomalies_hourly",
)
_EPOCH = dt.date(1970, 1, 1)
_DAYS = ("all", "weekdays", "weekends")
_SEGMENTS = ("new", "returning", "churned")

_lock = threading.Lock()
_cache: dict[Path, tuple[tuple[int, int], Any]] = {}


def _folder(warehouse: Any) -> Path:
    path = getattr(warehouse, "path", warehouse)
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"expected a warehouse folder or a Warehouse, not {type(warehouse).__name__}")
    folder = Path(path)
    if not (folder / "events.parquet").is_file():
        raise MissingFileError(
            f"{folder}: not a shoplens warehouse (no events.parquet)",
            file=str(folder / "events.parquet"),
            line=0,
            rule="missing_file",
        )
    return folder.resolve()


def _index(warehouse: Any) -> Any:
    """The engine's index of the warehouse's events, read once and kept while the file is unchanged."""
    kpi_index = getattr(warehouse, "_kpi_index", None)
    if kpi_index is not None:  # a PostgreSQL warehouse (shoplens.db) keeps its own index
        return kpi_index()
    folder = _folder(warehouse)
    stat = (folder / "events.parquet").stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _lock:
        hit = _cache.get(folder)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    index = _native.KpiIndex(str(folder))
    with _lock:
        _cache[folder] = (stamp, index)
    return index


def _day(value: dt.date | str | None, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        raise InvalidArgumentError(f"{name}={value!r}: give a date (UTC day), not a datetime")
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise InvalidArgumentError(f"{name}={value!r} is not an ISO date such as '2015-06-01'") from None
    if not isinstance(value, dt.date):
        raise InvalidArgumentError(f"{name} must be a date or ISO date text, not {type(value).__name__}")
    return (value - _EPOCH).days


def _filter(
    start: dt.date | str | None,
    end: dt.date | str | None,
    days: str = "all",
    root_category: int | None = None,
    segment: str | None = None,
    include_bots: bool = False,
) -> dict[str, Any]:
    s, e = _day(start, "start"), _day(end, "end")
    if s is not None and e is not None and s > e:
        raise InvalidArgumentError(f"start={start} is after end={end}")
    if days not in _DAYS:
        raise InvalidArgumentError(f"days={days!r}; expected one of {_DAYS}")
    if segment is not None and segment not in _SEGMENTS:
        raise InvalidArgumentError(f"segment={segment!r}; expected one of {_SEGMENTS} or None")
    if root_category is not None and (isinstance(root_category, bool) or not isinstance(root_category, int)):
        raise InvalidArgumentError(f"root_category must be an integer category id, not {root_category!r}")
    if not isinstance(include_bots, bool):
        raise InvalidArgumentError(f"include_bots must be True or False, not {include_bots!r}")
    return {
        "start": s,
        "end": e,
        "days": days,
        "root_category": root_category,
        "segment": segment,
        "include_bots": include_bots,
    }


def tables(
    warehouse: Any,
    names: list[str] | tuple[str, ...] = TABLES,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    days: str = "all",
    root_category: int | None = None,
    segment: str | None = None,
    include_bots: bool = False,
    partitions: int = 0,
) -> dict[str, pl.DataFrame]:
    """Several KPI tables of one filter from a single pass over the events.

    ``names`` are warehouse table names (``kpi_daily``, ``funnel``, ``products``, ...; all by default).
    ``partitions`` > 0 computes from that many visitor-hash partitions (the results do not depend on it).
    """
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        raise InvalidArgumentError(f"no KPI table {unknown}; the tables are {list(TABLES)}")
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 0:
        raise InvalidArgumentError(f"partitions must be a non-negative integer, not {partitions!r}")
    f = _filter(start, end, days, root_category, segment, include_bots)
    return dict(_index(warehouse).tables(list(names), partitions=partitions, **f))


def _one(name: str, warehouse: Any, **kwargs: Any) -> pl.DataFrame:
    return tables(warehouse, [name], **kwargs)[name]


def headline(
    warehouse: Any,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    days: str = "all",
    root_category: int | None = None,
    segment: str | None = None,
    include_bots: bool = False,
) -> pl.DataFrame:
    """One row of headline KPIs, each beside the counts it is made of.

    conversion = buyers / visitors; aov = revenue / orders; revenue_per_visitor = revenue / visitors;
    arppu = revenue / buyers; cart_abandonment = abandoned_sessions / cart_sessions; bounce_rate =
    bounces / sessions; events_per_session = session_events / sessions; median and mean session duration
    over the ``multi_event_sessions`` (sessions with at least two events: a one-event session has no
    measurable duration); repeat_purchase_rate = repeat_buyers (two or more orders) / buyers. Events are
    selected by their date, sessions by the date of their first event. A filter that selects nothing gives
    zero counts and null rates.
    """
    f = _filter(start, end, days, root_category, segment, include_bots)
    result: pl.DataFrame = _index(warehouse).headline(**f)
    return result


def daily(
    warehouse: Any,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    include_bots: bool = False,
    **filters: Any,
) -> pl.DataFrame:
    """One row per UTC date: ``date, visitors, sessions, views, carts, purchases, orders, buyers, revenue,
    conversion, is_bot_included`` then ``events`` and 7-day trailing means (``*_ma7``).

    visitors = distinct visitors with an event that day; sessions = sessions starting that day; purchases =
    transaction rows; orders = distinct transaction ids; conversion = buyers / visitors.
    """
    return _one("kpi_daily", warehouse, start=start, end=end, include_bots=include_bots, **filters)


def weekly(warehouse: Any, **kwargs: Any) -> pl.DataFrame:
    """One row per ISO week (``period_start`` = its Monday); distinct counts over the whole week."""
    return _one("kpi_weekly", warehouse, **kwargs)


def monthly(warehouse: Any, **kwargs: Any) -> pl.DataFrame:
    """One row per calendar month (``period_start`` = its first day); distinct counts over the month."""
    return _one("kpi_monthly", warehouse, **kwargs)


def timeseries(warehouse: Any, *, period: Literal["day", "week", "month"] = "day", **kwargs: Any) -> pl.DataFrame:
    """:func:`daily`, :func:`weekly` or :func:`monthly` by ``period``."""
    names = {"day": "kpi_daily", "week": "kpi_weekly", "month": "kpi_monthly"}
    if period not in names:
        raise InvalidArgumentError(f"period={period!r}; expected one of {list(names)}")
    return _one(names[period], warehouse, **kwargs)


def hour_weekday(warehouse: Any, **kwargs: Any) -> pl.DataFrame:
    """7 x 24 cells (``weekday`` 0 = Monday, UTC ``hour``): events, distinct visitors, purchases, buyers."""
    return _one("kpi_hour_weekday", warehouse, **kwargs)


_FUNNEL_BY = {
    "day": "funnel_by_day",
    "weekday": "funnel_by_weekday",
    "hour": "funnel_by_hour",
    "root_category": "funnel_by_root_category",
}


def funnel(
    warehouse: Any,
    *,
    level: Literal["user", "session"] = "user",
    by: Literal["day", "weekday", "hour", "root_category"] | None = None,
    **kwargs: Any,
) -> pl.DataFrame:
    """Funnel view -> addtocart -> transaction of users or sessions, overall or broken down ``by`` a key.

    A unit reaches a step when it has an event of that step or a later one (a purchase without a view
    still reaches step 3; ``skipped`` counts the units that reached a step without an event of it).
    ``rate_from_start`` = n / n of step 1, ``rate_from_previous`` = n / n of the previous step, ``dropoff``
    = previous n - n, ``median_seconds_to_step`` = median time from the unit's first event to its first
    event of that step or later.

    ``by`` adds a key column and gives three rows per key: ``"day"`` (``date``), ``"weekday"`` (``weekday``,
    0 = Monday), ``"hour"`` (``hour``, UTC 0-23) or ``"root_category"`` (``root_category_id``; null for
    events whose item has no known category). A user-level unit is then a visitor's selected events that
    fall in the key (a visitor active on two days counts on both); a session-level unit is a session in the
    key of its first event, or in every root category it has an event of. The rows of day D equal
    ``funnel(start=D, end=D)``, those of root R ``funnel(root_category=R)``.
    """
    if level not in ("user", "session"):
        raise InvalidArgumentError(f"level={level!r}; expected 'user' or 'session'")
    if by is None:
        return _one("funnel", warehouse, **kwargs).filter(pl.col("level") == level)
    if by not in _FUNNEL_BY:
        raise InvalidArgumentError(f"by={by!r}; expected one of {list(_FUNNEL_BY)} or None")
    return _one(_FUNNEL_BY[by], warehouse, **kwargs).filter(pl.col("level") == level)


def products(warehouse: Any, **kwargs: Any) -> pl.DataFrame:
    """Items with an event: views, carts, purchases (event counts), viewers (distinct), revenue,
    view_to_purchase = viewer_buyers / viewers with its Wilson 95 % interval, rank by the interval's lower
    bound, ABC class by revenue, current price and price band."""
    return _one("products", warehouse, **kwargs).sort("rank")


def price_bands(warehouse: Any, **kwargs: Any) -> pl.DataFrame:
    """Items grouped by price quintile: price range, items, views, carts, purchases, revenue."""
    return _one("kpi_price_bands", warehouse, **kwargs)


def categories(warehouse: Any, **kwargs: Any) -> pl.DataFrame:
    """Every category of the tree with activity at or below it (roll-up at every level); distinct
    visitors are distinct at each level."""
    return _one("kpi_categories", warehouse, **kwargs)


def segments(warehouse: Any, **kwargs: Any) -> pl.DataFrame:
    """One row per visitor: activity, RFM (recency in days, sessions, revenue) quintile scores 1-5 and
    lifecycle stage (see :data:`LIFECYCLE_WINDOW_DAYS`)."""
    return _one("kpi_segments", warehouse, **kwargs)


def segment_conversion(warehouse: Any, **kwargs: Any) -> pl.DataFrame:
    """Conversion per user (buyers / visitors) by lifecycle stage and by R and F score."""
    return _one("kpi_segment_conversion", warehouse, **kwargs)


def anomalies(warehouse: Any, *, all_days: bool = False, **kwargs: Any) -> pl.DataFrame:
    """Flagged days of the daily visitors, sessions, orders, buyers, revenue and conversion series.

    expected = centred 7-day median + weekday effect (median of the detrended values per weekday);
    deviation = (value - expected) / scale, scale = max(1.4826 x MAD of the residuals, sampling noise);
    flagged when |deviation| > 3.5 (false-flag rate :data:`ANOMALY_FALSE_FLAG_RATE` per day and metric).
    ``all_days=True`` returns every day with its band.
    """
    if not isinstance(all_days, bool):
        raise InvalidArgumentError(f"all_days must be True or False, not {all_days!r}")
    day_table = daily(warehouse, **kwargs)
    result: pl.DataFrame = _native.kpi_anomalies(day_table, all_days=all_days)
    return result


def hourly_anomalies(warehouse: Any, *, all_windows: bool = False, **kwargs: Any) -> pl.DataFrame:
    """Windows of 1, 3 and 6 consecutive hours (within a day) whose visitors or orders break the hour-of-week
    pattern, given the day's total.

    A window holding ``value`` of the day's n is tested against BetaBinomial(n, A, B): A = the count of the
    window's hours summed over every day of that weekday, B = the rest of those days (the window's share of
    the day, with its estimation noise); ``expected`` = n A / (A + B), ``p_value`` = exact two-sided tail,
    ``deviation`` = that p-value as a signed normal score. Flagged when ``p_value`` <
    :data:`HOURLY_ANOMALY_FALSE_FLAG_RATE`, the false-flag rate per tested window and metric. Windows
    expecting fewer than 3 are not tested; the selected days must be consecutive and span two weeks.
    ``all_windows=True`` returns every tested window.
    """
    if not isinstance(all_windows, bool):
        raise InvalidArgumentError(f"all_windows must be True or False, not {all_windows!r}")
    if all_windows:
        f = _filter(
            kwargs.pop("start", None),
            kwargs.pop("end", None),
            **kwargs,
        )
        result: pl.DataFrame = _index(warehouse).hourly_anomaly_windows(**f)
        return result
    return _one("anomalies_hourly", warehouse, **kwargs)


def report_text(warehouse: Any) -> str:
    """The text ``shoplens report`` prints: the headline KPIs (bots excluded) with their definitions, then
    the validation summary of ``report.json`` (see :mod:`shoplens.summary`)."""
    from shoplens.summary import headline as summary_headline
    from shoplens.summary import render

    return render(summary_headline(warehouse))
