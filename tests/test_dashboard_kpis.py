"""The KPI pages' callbacks as plain functions: each filter's numbers equal ``shoplens.kpis`` for the same
filter, and the visitor counts equal a straightforward polars count over the warehouse's events."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
import pytest

import shoplens
import shoplens.kpis as kpis
from dash_support import load_dash_package


@pytest.fixture(scope="module")
def source(small_warehouse: Path):
    load_dash_package()
    from shoplens_dash.data import DataSource  # type: ignore[import-not-found]

    return DataSource(small_warehouse)


def _has_data(fig: go.Figure) -> bool:
    """At least one trace with points (x, y or z; a treemap's values)."""
    keys = ("x", "y", "z", "values")
    return any(any(len(getattr(t, k, None) or []) > 0 for k in keys if k in t) for t in fig.data)


def _visitors(path: Path, start: dt.date, end: dt.date, *, weekends: bool | None = None, bots: bool = False) -> int:
    ev = pl.read_parquet(path / "events.parquet").with_columns(pl.col("timestamp").dt.date().alias("d"))
    ev = ev.filter(pl.col("d").is_between(start, end))
    if not bots:
        ev = ev.filter(~pl.col("is_bot"))
    if weekends is not None:
        is_weekend = pl.col("d").dt.weekday() >= 6
        ev = ev.filter(is_weekend if weekends else ~is_weekend)
    return ev["visitor_id"].n_unique()


def test_home_cards_follow_the_filter_and_equal_kpis(source, small_warehouse: Path) -> None:
    from shoplens_dash.pages import home_kpis  # type: ignore[import-not-found]

    first, last = source.date_bounds()
    mid = first + (last - first) / 2
    wh = shoplens.open_warehouse(small_warehouse)
    shown = {}
    for start, end, days, bots in (
        (first, last, "all", False),
        (mid, last, "weekends", False),
        (first, mid, "all", True),
    ):
        cards, trend, funnel, weekday = home_kpis.update(
            source, start.isoformat(), end.isoformat(), days, None, "all", bots, "light"
        )
        ref = kpis.headline(wh, start=start, end=end, days=days, include_bots=bots).row(0, named=True)
        values = {
            c.children.id.removeprefix("home-card-"): c.children.children.children[1].children for c in cards.children
        }
        assert values["visitors"] == f"{ref['visitors']:,d}"
        assert values["revenue"] == f"{ref['revenue']:,.2f}"
        assert values["conversion"] == f"{ref['conversion']:.3%}"
        weekends = {"all": None, "weekends": True}[days]
        assert ref["visitors"] == _visitors(small_warehouse, start, end, weekends=weekends, bots=bots)
        assert _has_data(trend) and _has_data(funnel) and _has_data(weekday)
        shown[(start, end, days, bots)] = values["visitors"]
    assert len(set(shown.values())) == 3, "different filters must show different numbers"


def test_home_previous_period_is_the_window_before(source) -> None:
    from shoplens_dash.data.kpis import KpiFilter  # type: ignore[import-not-found]

    first, _ = source.date_bounds()
    f = KpiFilter(start=first + dt.timedelta(days=10), end=first + dt.timedelta(days=16))
    prev = f.previous(first)
    assert prev is not None and (prev.start, prev.end) == (first + dt.timedelta(days=3), first + dt.timedelta(days=9))
    assert KpiFilter(start=first, end=first).previous(first) is None


def test_empty_filter_shows_the_empty_state(source) -> None:
    from shoplens_dash.pages import home_kpis  # type: ignore[import-not-found]

    first, _ = source.date_bounds()
    before = (first - dt.timedelta(days=30)).isoformat()
    cards, trend, _, _ = home_kpis.update(source, before, before, "all", None, "all", False, "light")
    assert "no data for this filter" in str(cards.children)
    assert not _has_data(trend)


@pytest.mark.parametrize("page", ["traffic", "behavior", "funnel", "conversions", "products"])
def test_kpi_pages_render_charts_with_data(source, page: str) -> None:
    import importlib

    from shoplens_dash.data.kpis import KpiFilter  # type: ignore[import-not-found]

    module = importlib.import_module(f"shoplens_dash.pages.{page}")
    args = ("week",) if page == "traffic" else ()
    out = module.update(source, KpiFilter(), "dark", *args)
    figs = [o for o in out if isinstance(o, go.Figure)]
    assert figs and all(_has_data(f) for f in figs), page
    assert module.layout(source) is not None


def test_funnel_table_is_kpis_funnel(source, small_warehouse: Path) -> None:
    from shoplens_dash.data.kpis import KpiFilter  # type: ignore[import-not-found]
    from shoplens_dash.pages import funnel  # type: ignore[import-not-found]

    _, _, rows, _, _ = funnel.update(source, KpiFilter(days="weekdays"), "light")
    wh = shoplens.open_warehouse(small_warehouse)
    ref = pl.concat([kpis.funnel(wh, level="user", days="weekdays"), kpis.funnel(wh, level="session", days="weekdays")])
    assert [r["n"] for r in rows] == [f"{n:,d}" for n in ref["n"]]


def test_cohort_curves_carry_wilson_bands_from_the_cohort_sizes(source, small_warehouse: Path) -> None:
    from shoplens_dash.pages import cohorts as page  # type: ignore[import-not-found]
    from statsmodels.stats.proportion import proportion_confint

    import shoplens.cohorts as cohorts

    ret = source.retention("first_visit", "week")
    ref = cohorts.retention(shoplens.open_warehouse(small_warehouse), by="first_visit", period="week")
    assert ret.select(ref.columns).equals(ref)
    for row in ret.filter(pl.col("cohort_size") > 0).iter_rows(named=True):
        low, high = proportion_confint(row["active"], row["cohort_size"], method="wilson")
        assert row["active_low"] == pytest.approx(low, abs=1e-12)
        assert row["active_high"] == pytest.approx(high, abs=1e-12)
    heat, curves, revenue = page.update(source, "first_visit", "week", "light")
    assert _has_data(heat) and _has_data(curves) and _has_data(revenue)
    bands = [t for t in curves.data if t.fill == "toself"]
    lines = [t for t in curves.data if t.fill != "toself"]
    assert len(bands) == len(lines) == ret["cohort"].n_unique()
    # each band encloses its line
    for band, line in zip(bands, lines, strict=True):
        n = len(line.y)
        upper, lower = band.y[:n], band.y[n:][::-1]
        assert all(lo - 1e-12 <= y <= hi + 1e-12 for lo, y, hi in zip(lower, line.y, upper, strict=True))


def test_customer_value_rfm_chart_is_the_engines_segment_table(source, small_warehouse: Path) -> None:
    from shoplens_dash.pages import customer_value  # type: ignore[import-not-found]

    rfm, *_ = customer_value.update(source, "light")
    ref = kpis.segment_conversion(shoplens.open_warehouse(small_warehouse))
    for trace, kind in zip(rfm.data, ("r_score", "f_score"), strict=False):
        part = ref.filter(pl.col("segment_type") == kind)
        assert list(trace.x) == part["segment"].to_list()
        assert list(trace.y) == part["visitors"].to_list()
    assert len(rfm.data) == ref.filter(pl.col("segment_type") != "lifecycle")["segment_type"].n_unique()
