"""shoplens.cohorts against a straightforward polars implementation and hand-computed cases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

import shoplens
from shoplens import cohorts
from shoplens.errors import InvalidArgumentError, SchemaError

DAY = dt.timedelta(days=1)


def generated_events(seed: int, n_visitors: int = 400, string_ids: bool = False) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = dt.datetime(2024, 1, 3, 5, 0)
    rows = []
    for v in range(n_visitors):
        t = start + dt.timedelta(minutes=int(rng.integers(0, 100 * 24 * 60)))
        for _ in range(int(rng.integers(1, 7))):
            kind = rng.choice(["view", "view", "view", "addtocart", "transaction"])
            revenue = float(rng.integers(100, 10_000)) / 100 if kind == "transaction" else None
            vid = f"u{v * 31 % 997}" if string_ids else v * 31 % 997
            rows.append((vid, t, str(kind), revenue, v % 53 == 0))
            t += dt.timedelta(minutes=int(rng.integers(0, 25 * 24 * 60)))
    df = pl.DataFrame(
        rows,
        schema={
            "visitor_id": pl.Utf8 if string_ids else pl.Int64,
            "timestamp": pl.Datetime("ms"),
            "event": pl.Utf8,
            "revenue": pl.Float64,
            "is_bot": pl.Boolean,
        },
        orient="row",
    )
    return df.sample(fraction=1.0, shuffle=True, seed=seed)


def period_start(col: pl.Expr, period: str) -> pl.Expr:
    d = col.dt.date()
    if period == "day":
        return d
    if period == "week":
        return d - pl.duration(days=d.dt.weekday() - 1)
    return d.dt.truncate("1mo")


def offset(cohort: pl.Expr, start: pl.Expr, period: str) -> pl.Expr:
    if period == "day":
        return (start - cohort).dt.total_days()
    if period == "week":
        return (start - cohort).dt.total_days() // 7
    return (start.dt.year() * 12 + start.dt.month()) - (cohort.dt.year() * 12 + cohort.dt.month())


def reference(events: pl.DataFrame, by: str, period: str, include_bots: bool) -> pl.DataFrame:
    """Independent implementation: plain polars group-bys and a dense grid."""
    last = events.select(period_start(pl.col("timestamp"), period).max()).item()
    ev = events if include_bots else events.filter(~pl.col("is_bot"))
    ev = ev.with_columns(start=period_start(pl.col("timestamp"), period))
    source = ev if by == "first_visit" else ev.filter(pl.col("event") == "transaction")
    first = source.group_by("visitor_id").agg(cohort=pl.col("start").min())
    ev = ev.join(first, on="visitor_id").with_columns(offset=offset(pl.col("cohort"), pl.col("start"), period))
    ev = ev.filter(pl.col("offset") >= 0)
    sizes = first.group_by("cohort").agg(cohort_size=pl.len())
    cells = ev.group_by("cohort", "offset").agg(
        active=pl.col("visitor_id").n_unique(),
        buyers=pl.col("visitor_id").filter(pl.col("event") == "transaction").n_unique(),
        revenue=pl.col("revenue").filter(pl.col("event") == "transaction").fill_null(0.0).sum(),
    )
    rows = []
    for cohort, size in sizes.sort("cohort").iter_rows():
        n_off = offset(pl.lit(cohort), pl.lit(last), period)
        for k in range(pl.select(n_off).item() + 1):
            rows.append((cohort, k, size))
    grid = pl.DataFrame(rows, schema={"cohort": pl.Date, "offset": pl.Int64, "cohort_size": pl.Int64}, orient="row")
    out = grid.join(cells.with_columns(pl.col("offset").cast(pl.Int64)), on=["cohort", "offset"], how="left")
    out = out.with_columns(
        pl.col("active", "buyers").fill_null(0).cast(pl.Int64), pl.col("revenue").fill_null(0.0)
    ).sort("cohort", "offset")
    return out.with_columns(
        cumulative_revenue_per_user=pl.col("revenue").cum_sum().over("cohort") / pl.col("cohort_size")
    )


@pytest.mark.parametrize("by", cohorts.BY)
@pytest.mark.parametrize("period", cohorts.PERIODS)
@pytest.mark.parametrize("string_ids", [False, True])
def test_matches_polars_reference(by: str, period: str, string_ids: bool) -> None:
    events = generated_events(7, string_ids=string_ids)
    for include_bots in (False, True):
        got = cohorts.retention(events, by=by, period=period, include_bots=include_bots)
        want = reference(events, by, period, include_bots)
        assert got.columns == [
            "cohort",
            "offset",
            "cohort_size",
            "active",
            "buyers",
            "revenue",
            "cumulative_revenue_per_user",
        ]
        assert got.height == want.height > 0
        for col in ("cohort", "cohort_size", "active", "buyers"):
            assert got[col].to_list() == want[col].to_list(), col
        assert got["offset"].to_list() == want["offset"].to_list()
        np.testing.assert_allclose(got["revenue"].to_numpy(), want["revenue"].to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(
            got["cumulative_revenue_per_user"].to_numpy(),
            want["cumulative_revenue_per_user"].to_numpy(),
            rtol=1e-12,
        )


def tiny(rows: list[tuple[int, dt.datetime, str, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"visitor_id": pl.Int64, "timestamp": pl.Datetime("ms"), "event": pl.Utf8, "revenue": pl.Float64},
        orient="row",
    )


def test_hand_computed_cohort_with_no_return() -> None:
    mon = dt.datetime(2024, 3, 4)  # a Monday
    events = tiny(
        [
            (1, mon, "view", None),  # visitor 1: week 0 only, never returns
            (2, mon + 2 * DAY, "view", None),
            (2, mon + 2 * DAY, "transaction", 4.0),  # purchase without a cart
            (2, mon + 14 * DAY, "transaction", 6.0),  # week 2, skipping week 1
            (3, mon + 13 * DAY + dt.timedelta(hours=23, minutes=59), "view", None),  # Sunday of week 1
            (3, mon + 14 * DAY, "view", None),  # ... Monday of week 2
        ]
    )
    got = cohorts.retention(events, period="week")
    assert got.select("cohort", "offset", "cohort_size", "active", "buyers", "revenue").rows() == [
        (dt.date(2024, 3, 4), 0, 2, 2, 1, 4.0),
        (dt.date(2024, 3, 4), 1, 2, 0, 0, 0.0),
        (dt.date(2024, 3, 4), 2, 2, 1, 1, 6.0),
        (dt.date(2024, 3, 11), 0, 1, 1, 0, 0.0),
        (dt.date(2024, 3, 11), 1, 1, 1, 0, 0.0),
    ]
    assert got["cumulative_revenue_per_user"].to_list() == [2.0, 2.0, 5.0, 0.0, 0.0]
    by_purchase = cohorts.retention(events, by="first_purchase", period="day")
    assert by_purchase["cohort_size"].unique().to_list() == [1]
    assert by_purchase["offset"].to_list() == list(range(13))
    assert by_purchase["active"].to_list() == [1] + [0] * 11 + [1]


def test_a_single_event_visitor_and_empty_purchases() -> None:
    events = tiny([(5, dt.datetime(2024, 1, 1), "view", None)])
    assert cohorts.retention(events, period="month").rows() == [(dt.date(2024, 1, 1), 0, 1, 1, 0, 0.0, 0.0)]
    assert cohorts.retention(events, by="first_purchase").height == 0


def test_bad_arguments() -> None:
    events = tiny([(5, dt.datetime(2024, 1, 1), "view", None)])
    with pytest.raises(InvalidArgumentError, match="period"):
        cohorts.retention(events, period="year")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="by="):
        cohorts.retention(events, by="last_visit")  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="event"):
        cohorts.retention(events.drop("event"))


def test_warehouse_table_equals_events_computation(tmp_path, make_folder) -> None:
    t0 = 1_431_000_000_000
    day = 86_400_000
    lines = [
        f"{t0},1,view,5,",
        f"{t0 + 60_000},1,transaction,5,9",
        f"{t0 + 8 * day},1,view,5,",
        f"{t0 + 2 * day},2,view,6,",
        f"{t0 + 20 * day},3,view,6,",
        f"{t0 + 21 * day},3,transaction,6,10",
    ]
    folder = make_folder(lines, prices=["5,3.5", "6,2.0"])
    out = tmp_path / "wh"
    shoplens.build_warehouse(folder, out)
    wh = shoplens.open_warehouse(out)
    table = wh.table("cohort_retention")
    assert table.columns[:2] == ["by", "period"]
    assert sorted(table.select("by", "period").unique().rows()) == sorted(
        (b, p) for b in cohorts.BY for p in cohorts.PERIODS
    )
    events = wh.table("events")
    for by in cohorts.BY:
        for period in cohorts.PERIODS:
            from_table = cohorts.retention(wh, by=by, period=period)
            from_events = cohorts.retention(events, by=by, period=period)
            assert from_table.equals(from_events)
            assert from_events.equals(
                reference(events, by, period, False).select(from_events.columns).cast(dict(from_events.schema))
            )
