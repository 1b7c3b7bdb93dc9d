"""KPI reads for the dashboard: ``shoplens.kpis`` calls with one filter, cached per (warehouse build, filter).

``wh`` is the data layer's cache key, the warehouse itself (a folder's ``shoplens.Warehouse`` or a
``shoplens.db.PgWarehouse``); ``stamp`` its build stamp.

The engine computes every figure (``shoplens.kpis`` keeps the events in memory in its own compact index, so
a filter change does not read Parquet again); this module turns the page's filter widgets into the keyword
arguments and caches the answers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import polars as pl

DAYS = ("all", "weekdays", "weekends")
SEGMENTS = ("new", "returning", "churned")


@dataclass(frozen=True)
class KpiFilter:
    """The filter every KPI chart of a page follows (hashable, so it keys the caches)."""

    start: dt.date | None = None
    end: dt.date | None = None
    days: str = "all"
    root_category: int | None = None
    segment: str | None = None
    include_bots: bool = False

    @classmethod
    def from_inputs(cls, start: Any, end: Any, days: Any, root: Any, segment: Any, bots: Any) -> KpiFilter:
        """From the widgets' values (ISO dates as text, ``None`` for "all")."""
        return cls(
            start=dt.date.fromisoformat(start[:10]) if start else None,
            end=dt.date.fromisoformat(end[:10]) if end else None,
            days=days if days in DAYS else "all",
            root_category=int(root) if root not in (None, "") else None,
            segment=segment if segment in SEGMENTS else None,
            include_bots=bool(bots),
        )

    def kwargs(self) -> dict[str, Any]:
        return asdict(self)

    def previous(self, first: dt.date) -> KpiFilter | None:
        """The same filter over the period of equal length just before this one (None if before the data)."""
        if self.start is None or self.end is None:
            return None
        length = (self.end - self.start).days + 1
        prev_end = self.start - dt.timedelta(days=1)
        if prev_end < first:
            return None
        return KpiFilter(
            start=max(first, prev_end - dt.timedelta(days=length - 1)),
            end=prev_end,
            days=self.days,
            root_category=self.root_category,
            segment=self.segment,
            include_bots=self.include_bots,
        )


def headline(wh: Any, stamp: int, f: KpiFilter) -> dict[str, Any]:
    return dict(_headline(wh, stamp, f).row(0, named=True))


@lru_cache(maxsize=512)
def _headline(wh: Any, stamp: int, f: KpiFilter) -> pl.DataFrame:
    import shoplens.kpis as kpis

    return kpis.headline(wh, **f.kwargs())


@lru_cache(maxsize=256)
def table(wh: Any, stamp: int, name: str, f: KpiFilter) -> pl.DataFrame:
    """One ``shoplens.kpis`` table by its warehouse name (``kpi_daily``, ``funnel``, ``products``, ...)."""
    import shoplens.kpis as kpis

    return kpis.tables(wh, [name], **f.kwargs())[name]


@lru_cache(maxsize=256)
def tables(wh: Any, stamp: int, names: tuple[str, ...], f: KpiFilter) -> dict[str, pl.DataFrame]:
    """Several ``shoplens.kpis`` tables of one filter, computed in one pass over the events."""
    import shoplens.kpis as kpis

    return kpis.tables(wh, list(names), **f.kwargs())


@lru_cache(maxsize=8)
def root_categories(wh: Any, stamp: int) -> list[int]:
    """Root category ids of the category tree (the filter's choices)."""
    cats = wh.table("categories")
    if "parent_id" not in cats.columns:
        return []
    return sorted(cats.filter(pl.col("parent_id").is_null())["category_id"].cast(pl.Int64).to_list())
