"""KPIs (SPEC §2, python/shoplens/kpis.py <-> src/kpis): hand-computed tiny cases, and every table against a
straightforward polars / plain-Python implementation over a generated data set."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import polars as pl
import pytest
from statsmodels.stats.proportion import proportion_confint

import shoplens
from rr_files import MIN, T0, write_folder
from shoplens import kpis
from shoplens.errors import InvalidArgumentError, MissingFileError

HOUR = 60 * MIN
#: Scale of the outage test: the outage removes ~9 expected orders at scale 0.3, which Poisson noise can hide
#: among the ~14,000 windows tested; at scale 1.0 it removes ~25 (see docs/methodology.md, Anomalies).
OUTAGE_SCALE = 1.0
DAY = 24 * HOUR
MON = dt.date(2015, 6, 1)  # T0 is 2015-06-01 00:00 UTC, a Monday
TUE = dt.date(2015, 6, 2)


# --------------------------------------------------------------------------------------------- tiny case
@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four visitors: 1 has one event; 2 views, carts and buys in a session crossing midnight; 3 buys twice
    (two sessions) without any view or cart; 4 views two items on Tuesday."""
    root = tmp_path_factory.mktemp("tiny")
    events = [
        f"{T0 + 1 * HOUR},1,view,10,",
        f"{T0 + 23 * HOUR + 50 * MIN},2,view,10,",
        f"{T0 + 23 * HOUR + 55 * MIN},2,addtocart,10,",
        f"{T0 + DAY + 5 * MIN},2,transaction,10,500",
        f"{T0 + 2 * HOUR},3,transaction,11,501",
        f"{T0 + 5 * HOUR},3,transaction,12,502",
        f"{T0 + DAY + 2 * HOUR},4,view,11,",
        f"{T0 + DAY + 2 * HOUR + MIN},4,view,12,",
    ]
    raw = write_folder(root / "raw", events, prices=["10,5.0", "11,7.5", "12,2.25"])
    shoplens.build_warehouse(raw, root / "wh")
    return root / "wh"


def test_tiny_daily_by_hand(tiny: Path) -> None:
    d = kpis.daily(tiny)
    assert d["date"].to_list() == [MON, TUE]
    assert d.select("visitors", "sessions", "views", "carts", "purchases", "orders", "buyers").rows() == [
        (3, 4, 2, 1, 2, 2, 1),
        (2, 1, 2, 0, 1, 1, 1),
    ]
    assert d["revenue"].to_list() == [9.75, 5.0]
    assert d["conversion"].to_list() == [1 / 3, 0.5]
    assert d["is_bot_included"].to_list() == [False, False]
    # the stored table is the same
    assert_frame_equal(pl.read_parquet(tiny / "kpi_daily.parquet"), d)


def test_tiny_funnel_by_hand(tiny: Path) -> None:
    u = kpis.funnel(tiny, level="user")
    assert u["step"].to_list() == ["view", "addtocart", "transaction"]
    assert u["step_order"].to_list() == [1, 2, 3]
    assert u["n"].to_list() == [4, 2, 2]
    assert u["skipped"].to_list() == [1, 1, 0]  # visitor 3 bought without a view or a cart
    assert u["dropoff"].to_list() == [0, 2, 0]
    assert u["rate_from_start"].to_list() == [1.0, 0.5, 0.5]
    assert u["rate_from_previous"].to_list() == [1.0, 0.5, 1.0]
    assert u["median_seconds_to_step"].to_list() == [None, 150.0, 450.0]
    s = kpis.funnel(tiny, level="session")
    assert s["n"].to_list() == [5, 3, 3]
    assert s["skipped"].to_list() == [2, 2, 0]
    assert s["median_seconds_to_step"].to_list() == [None, 0.0, 0.0]


def test_tiny_funnel_breakdowns_by_hand(tiny: Path) -> None:
    cols = ["n", "skipped", "median_seconds_to_step"]

    def rows(df: pl.DataFrame, key: str) -> dict:
        return {k: df.filter(pl.col(key) == k).select(cols).rows() for k in df[key].unique(maintain_order=True)}

    # Monday: visitor 1 views; visitor 2 views and carts (5 min apart) before midnight; visitor 3 buys
    # twice with no view or cart. Tuesday: visitor 2's purchase alone (a unit of its own), visitor 4 views.
    u = kpis.funnel(tiny, level="user", by="day")
    assert u["level"].unique().to_list() == ["user"]
    assert u["date"].unique(maintain_order=True).to_list() == [MON, TUE]
    assert rows(u, "date") == {
        MON: [(3, 1, None), (2, 1, 150.0), (1, 0, 0.0)],
        TUE: [(2, 1, None), (1, 1, 0.0), (1, 0, 0.0)],
    }
    assert u.filter(pl.col("date") == MON)["dropoff"].to_list() == [0, 1, 1]
    # sessions belong to the day they start: visitor 2's session crossing midnight is Monday's
    s = kpis.funnel(tiny, level="session", by="day")
    assert rows(s, "date") == {
        MON: [(4, 2, None), (3, 2, 0.0), (3, 0, 0.0)],
        TUE: [(1, 0, None), (0, 0, None), (0, 0, None)],
    }
    # weekdays: the same two days (only weekdays holding a selected day are listed)
    w = kpis.funnel(tiny, level="user", by="weekday")
    assert w["weekday"].unique(maintain_order=True).to_list() == [0, 1]
    assert w.select(cols).rows() == u.select(cols).rows()
    # hours: 02:00 holds visitor 3's first purchase and visitor 4's two views
    h = kpis.funnel(tiny, level="user", by="hour")
    assert h["hour"].unique(maintain_order=True).to_list() == list(range(24))
    by_hour = rows(h, "hour")
    assert by_hour[2] == [(2, 1, None), (1, 1, 0.0), (1, 0, 0.0)]
    assert by_hour[23] == [(1, 0, None), (1, 0, 300.0), (0, 0, None)]
    assert by_hour[0] == [(1, 1, None), (1, 1, 0.0), (1, 0, 0.0)]
    assert by_hour[12] == [(0, 0, None), (0, 0, None), (0, 0, None)]
    hs = kpis.funnel(tiny, level="session", by="hour")
    assert rows(hs, "hour")[23] == [(1, 0, None), (1, 0, 300.0), (1, 0, 900.0)]
    # no item has a category: one null root holding every unit, i.e. the overall funnel
    for level in ("user", "session"):
        r = kpis.funnel(tiny, level=level, by="root_category")
        assert r["root_category_id"].to_list() == [None] * 3
        assert r.select(cols).rows() == kpis.funnel(tiny, level=level).select(cols).rows()
    # a filter that selects nothing: no day rows, zero hour rows
    assert kpis.funnel(tiny, by="day", start="2016-01-01").height == 0
    assert kpis.funnel(tiny, by="hour", days="weekends")["n"].sum() == 0
    with pytest.raises(InvalidArgumentError, match="by="):
        kpis.funnel(tiny, by="month")  # type: ignore[arg-type]


def test_tiny_headline_by_hand(tiny: Path) -> None:
    h = kpis.headline(tiny).row(0, named=True)
    assert (h["visitors"], h["buyers"], h["orders"], h["revenue"]) == (4, 2, 3, 14.75)
    assert h["conversion"] == 0.5
    assert h["aov"] == pytest.approx(14.75 / 3)
    assert h["revenue_per_visitor"] == pytest.approx(14.75 / 4)
    assert h["arppu"] == pytest.approx(14.75 / 2)
    assert (h["sessions"], h["bounces"], h["cart_sessions"], h["abandoned_sessions"]) == (5, 3, 1, 0)
    assert h["bounce_rate"] == 0.6
    assert h["cart_abandonment"] == 0.0
    assert h["events_per_session"] == 8 / 5
    # durations only of the two sessions with two or more events: 15 min (across midnight) and 1 min
    assert h["multi_event_sessions"] == 2
    assert h["median_session_duration_s"] == 480.0
    assert h["mean_session_duration_s"] == 480.0
    assert (h["repeat_buyers"], h["repeat_purchase_rate"]) == (1, 0.5)


def test_tiny_headline_filters(tiny: Path) -> None:
    tue = kpis.headline(tiny, start=TUE, end="2015-06-02").row(0, named=True)
    assert (tue["visitors"], tue["buyers"], tue["orders"], tue["revenue"]) == (2, 1, 1, 5.0)
    # the only session starting on Tuesday is visitor 4's (visitor 2's started on Monday)
    assert (tue["sessions"], tue["bounces"], tue["median_session_duration_s"]) == (1, 0, 60.0)
    assert tue["cart_abandonment"] is None
    nothing = kpis.headline(tiny, days="weekends").row(0, named=True)
    assert nothing["visitors"] == nothing["sessions"] == nothing["orders"] == 0
    assert nothing["conversion"] is None and nothing["median_session_duration_s"] is None
    assert kpis.daily(tiny, start="2016-01-01").height == 0
    assert kpis.products(tiny, start="2016-01-01").height == 0
    assert kpis.funnel(tiny, days="weekends")["n"].to_list() == [0, 0, 0]


def test_filters_that_select_nothing_give_empty_or_zero_tables(tiny: Path) -> None:
    """Every table of a filter that selects nothing: no error, no rows or zero counts and null rates."""
    for filters in ({"start": "2016-01-01"}, {"root_category": 424242}, {"segment": "churned"}):
        got = kpis.tables(tiny, **filters)  # type: ignore[arg-type]
        assert set(got) == set(kpis.TABLES)
        for name in ("products", "kpi_segments", "kpi_categories", "anomalies", "anomalies_hourly"):
            assert got[name].height == 0, (filters, name)
        for name in ("funnel", "funnel_by_hour", "funnel_by_root_category", "kpi_hour_weekday"):
            assert got[name]["n" if "funnel" in name else "events"].sum() == 0, (filters, name)
        if "start" in filters:
            for name in ("kpi_daily", "kpi_weekly", "kpi_monthly", "funnel_by_day", "funnel_by_weekday"):
                assert got[name].height == 0, (filters, name)
        else:
            assert got["kpi_daily"]["visitors"].sum() == 0
            assert got["kpi_daily"]["conversion"].is_null().all()
        conv = got["kpi_segment_conversion"]
        assert conv.height == 0 or conv["visitors"].sum() == 0
        h = kpis.headline(tiny, **filters).row(0, named=True)  # type: ignore[arg-type]
        assert h["visitors"] == h["sessions"] == h["events"] == 0
        assert h["conversion"] is None and h["aov"] is None and h["bounce_rate"] is None


def test_tiny_products_by_hand(tiny: Path) -> None:
    p = kpis.products(tiny)
    assert p["item_id"].to_list() == [10, 11, 12]  # rank order
    assert p.select("views", "carts", "purchases", "viewers", "viewer_buyers").rows() == [
        (2, 1, 1, 2, 1),
        (1, 0, 1, 1, 0),
        (1, 0, 1, 1, 0),
    ]
    assert p["revenue"].to_list() == [5.0, 7.5, 2.25]
    low, high = proportion_confint(1, 2, alpha=0.05, method="wilson")
    assert p["wilson_low"][0] == pytest.approx(low, rel=1e-12)
    assert p["wilson_high"][0] == pytest.approx(high, rel=1e-12)
    assert p["view_to_purchase"].to_list() == [0.5, 0.0, 0.0]
    assert p["rank"].to_list() == [1, 2, 3]
    # revenue order 11 (7.5), 10 (5.0), 12 (2.25): shares before them 0, 0.51, 0.85
    assert p["abc_class"].to_list() == ["A", "A", "B"]
    assert p["price"].to_list() == [5.0, 7.5, 2.25]


def test_tiny_segments_by_hand(tiny: Path) -> None:
    s = kpis.segments(tiny).sort("visitor_id")
    assert s["visitor_id"].to_list() == [1, 2, 3, 4]
    assert s["sessions"].to_list() == [1, 1, 2, 1]
    assert s["orders"].to_list() == [0, 1, 2, 0]
    # everyone's first event is within 30 days of the end of the data
    assert s["lifecycle"].to_list() == ["new"] * 4
    end = T0 + DAY + 2 * HOUR + MIN
    last = [T0 + HOUR, T0 + DAY + 5 * MIN, T0 + 5 * HOUR, end]
    assert s["recency_days"].to_list() == pytest.approx([(end - t) / DAY for t in last])


def assert_frame_equal(a: pl.DataFrame, b: pl.DataFrame) -> None:
    from polars.testing import assert_frame_equal as eq

    eq(a, b, check_exact=True)


def test_bad_arguments_are_named(tiny: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="days="):
        kpis.headline(tiny, days="sundays")
    with pytest.raises(InvalidArgumentError, match="after end"):
        kpis.daily(tiny, start="2015-06-03", end="2015-06-01")
    with pytest.raises(InvalidArgumentError, match="ISO date"):
        kpis.headline(tiny, start="June 1st")
    with pytest.raises(InvalidArgumentError, match="segment="):
        kpis.headline(tiny, segment="loyal")
    with pytest.raises(InvalidArgumentError, match="level="):
        kpis.funnel(tiny, level="visit")
    with pytest.raises(ValueError, match="no KPI table"):
        kpis.tables(tiny, ["kpi_hourly"])
    with pytest.raises(MissingFileError):
        kpis.daily(tiny.parent / "nowhere")


# ------------------------------------------------------------------------------------- generated data
@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("gen")
    g = shoplens.generate(root / "raw", scale=0.03, seed=11)
    shoplens.build_warehouse(g.out_dir, root / "wh")
    return root / "wh", g.truth


def human_events(wh: Path) -> pl.DataFrame:
    return pl.read_parquet(wh / "events.parquet").filter(~pl.col("is_bot"))


def reference_daily(ev: pl.DataFrame, sessions: pl.DataFrame, key: pl.Expr) -> pl.DataFrame:
    purchase = pl.col("event") == "transaction"
    counts = ev.group_by(key.alias("k")).agg(
        pl.col("visitor_id").n_unique().alias("visitors"),
        (pl.col("event") == "view").sum().cast(pl.Int64).alias("views"),
        (pl.col("event") == "addtocart").sum().cast(pl.Int64).alias("carts"),
        purchase.sum().cast(pl.Int64).alias("purchases"),
        pl.col("transaction_id").filter(purchase).n_unique().cast(pl.Int64).alias("orders"),
        pl.col("visitor_id").filter(purchase).n_unique().cast(pl.Int64).alias("buyers"),
        pl.col("revenue").filter(purchase).sum().alias("revenue"),
    )
    starts = sessions.group_by(key.alias("k")).agg(pl.len().cast(pl.Int64).alias("sessions"))
    return counts.join(starts, on="k", how="left").with_columns(pl.col("sessions").fill_null(0)).sort("k")


def test_daily_weekly_monthly_match_polars(gen: tuple[Path, dict]) -> None:
    wh, _ = gen
    ev = human_events(wh)
    sessions = pl.read_parquet(wh / "sessions.parquet").filter(~pl.col("is_bot")).rename({"start": "timestamp"})
    cols = ["visitors", "sessions", "views", "carts", "purchases", "orders", "buyers"]
    for period, key in [
        ("day", pl.col("timestamp").dt.date()),
        ("week", pl.col("timestamp").dt.truncate("1w").dt.date()),
        ("month", pl.col("timestamp").dt.truncate("1mo").dt.date()),
    ]:
        ref = reference_daily(ev, sessions, key)
        got = kpis.timeseries(wh, period=period)
        date_col = "date" if period == "day" else "period_start"
        assert got[date_col].to_list() == ref["k"].to_list(), period
        for c in cols:
            assert got[c].to_list() == ref[c].to_list(), (period, c)
        assert got["revenue"].to_list() == pytest.approx(ref["revenue"].to_list(), rel=1e-9, abs=1e-6)
    d = kpis.daily(wh)
    # weekly visitors are distinct per week, not sums of daily uniques
    w = kpis.weekly(wh)
    assert w["visitors"].sum() < d["visitors"].sum()
    # 7-day trailing means
    ma = d["visitors"].cast(pl.Float64).rolling_mean(7)
    assert d["visitors_ma7"].to_list()[6:] == pytest.approx(ma.to_list()[6:], rel=1e-12)
    assert d["visitors_ma7"][:6].is_null().all()


def test_daily_with_bots_and_range(gen: tuple[Path, dict]) -> None:
    wh, _ = gen
    ev = pl.read_parquet(wh / "events.parquet")
    d = kpis.daily(wh, include_bots=True, start="2015-06-01", end="2015-06-30")
    ref = (
        ev.filter(pl.col("timestamp").dt.date().is_between(dt.date(2015, 6, 1), dt.date(2015, 6, 30)))
        .group_by(pl.col("timestamp").dt.date().alias("date"))
        .agg(pl.col("visitor_id").n_unique().alias("visitors"), pl.len().alias("events"))
        .sort("date")
    )
    assert d["date"].to_list() == ref["date"].to_list()
    assert d["visitors"].to_list() == ref["visitors"].to_list()
    assert d["events"].to_list() == ref["events"].to_list()
    assert d["is_bot_included"].all()


def test_headline_matches_polars(gen: tuple[Path, dict]) -> None:
    wh, _ = gen
    ev = human_events(wh)
    vis = pl.read_parquet(wh / "visitors.parquet")
    segment = "returning"
    start, end = dt.date(2015, 6, 1), dt.date(2015, 8, 31)
    day = pl.col("timestamp").dt.date()
    # lifecycle, straight from the definition
    end_ms = ev["timestamp"].max()
    window = dt.timedelta(days=kpis.LIFECYCLE_WINDOW_DAYS)
    all_ev = pl.read_parquet(wh / "events.parquet")
    end_ms = all_ev["timestamp"].max()
    life = all_ev.group_by("visitor_id").agg(pl.col("timestamp").min().alias("f"), pl.col("timestamp").max().alias("l"))
    life = life.with_columns(
        pl.when(pl.col("f") >= end_ms - window)
        .then(pl.lit("new"))
        .when(pl.col("l") < end_ms - window)
        .then(pl.lit("churned"))
        .otherwise(pl.lit("returning"))
        .alias("stage")
    )
    keep = set(life.filter(pl.col("stage") == segment)["visitor_id"].to_list())
    assert vis.height > 0
    sel = ev.filter(day.is_between(start, end) & (day.dt.weekday() <= 5) & pl.col("visitor_id").is_in(keep))
    purchase = sel.filter(pl.col("event") == "transaction")
    sessions = pl.read_parquet(wh / "sessions.parquet").filter(
        ~pl.col("is_bot")
        & pl.col("start").dt.date().is_between(start, end)
        & (pl.col("start").dt.date().dt.weekday() <= 5)
        & pl.col("visitor_id").is_in(keep)
    )
    h = kpis.headline(wh, start=start, end=end, days="weekdays", segment=segment).row(0, named=True)
    assert h["visitors"] == sel["visitor_id"].n_unique()
    assert h["buyers"] == purchase["visitor_id"].n_unique()
    assert h["orders"] == purchase["transaction_id"].n_unique()
    assert h["revenue"] == pytest.approx(purchase["revenue"].sum(), rel=1e-9)
    orders_per_buyer = purchase.group_by("visitor_id").agg(pl.col("transaction_id").n_unique().alias("o"))
    assert h["repeat_buyers"] == orders_per_buyer.filter(pl.col("o") >= 2).height
    assert h["sessions"] == sessions.height
    assert h["bounces"] == sessions["is_bounce"].sum()
    assert h["cart_sessions"] == sessions["has_cart"].sum()
    assert h["abandoned_sessions"] == (sessions["has_cart"] & ~sessions["has_purchase"]).sum()
    multi = sessions.filter(pl.col("n_events") >= 2)
    assert h["multi_event_sessions"] == multi.height
    assert h["median_session_duration_s"] == pytest.approx(multi["duration_s"].median(), rel=1e-12)
    assert h["events_per_session"] == pytest.approx(sessions["n_events"].mean(), rel=1e-12)
    # a root category filter: events of that root; sessions starting in range with an event of that root
    root = ev.filter(pl.col("root_category_id").is_not_null())["root_category_id"].mode()[0]
    r = kpis.headline(wh, root_category=int(root)).row(0, named=True)
    in_root = ev.filter(pl.col("root_category_id") == root)
    assert r["visitors"] == in_root["visitor_id"].n_unique()
    assert r["views"] == (in_root["event"] == "view").sum()
    assert r["sessions"] == in_root.select("session_id").n_unique()
    assert kpis.headline(wh, root_category=-5)["visitors"].item() == 0


def test_funnel_matches_polars(gen: tuple[Path, dict]) -> None:
    wh, _ = gen
    ev = human_events(wh).with_columns(
        pl.col("event").replace_strict({"view": 0, "addtocart": 1, "transaction": 2}).alias("k")
    )
    for level, unit in [("user", ["visitor_id"]), ("session", ["session_id"])]:
        per = ev.group_by(unit).agg(
            pl.col("timestamp").min().alias("first"),
            *[pl.col("timestamp").filter(pl.col("k") >= k).min().alias(f"t{k}") for k in range(3)],
            *[(pl.col("k") == k).any().alias(f"has{k}") for k in range(3)],
        )
        got = kpis.funnel(wh, level=level)
        for k in range(3):
            reached = per.filter(pl.col(f"t{k}").is_not_null())
            row = got.row(k, named=True)
            assert row["n"] == reached.height, (level, k)
            assert row["skipped"] == reached.filter(~pl.col(f"has{k}")).height
            if k:
                secs = (reached[f"t{k}"] - reached["first"]).dt.total_milliseconds() / 1000
                assert row["median_seconds_to_step"] == pytest.approx(secs.median(), rel=1e-12)


def test_headline_cube_and_scan_paths_agree(gen: tuple[Path, dict]) -> None:
    """The interactive path (pre-aggregated cube) against the reference scan of the events, field for field."""
    wh, _ = gen
    ev = human_events(wh)
    root = int(ev.filter(pl.col("root_category_id").is_not_null())["root_category_id"].mode()[0])
    index = kpis._index(wh)
    cases = [
        {},
        {"start": "2015-06-01", "end": "2015-08-31", "days": "weekdays"},
        {"start": "2015-07-04", "end": "2015-07-04", "root_category": root},
        {"days": "weekends", "segment": "returning", "include_bots": True},
        {"root_category": root, "segment": "churned"},
        {"start": "2015-09-10", "include_bots": True, "segment": "new"},
        {"root_category": -1},
        {"start": "2016-01-01"},
    ]
    for case in cases:
        f = kpis._filter(
            case.get("start"),
            case.get("end"),
            case.get("days", "all"),
            case.get("root_category"),
            case.get("segment"),
            case.get("include_bots", False),
        )
        fast = kpis.headline(wh, **case)  # type: ignore[arg-type]
        assert_frame_equal(fast, index.headline(scan=True, **f))
    # and one of them against plain polars: a date range and a root category, sessions by their start
    start, end = dt.date(2015, 7, 1), dt.date(2015, 7, 31)
    day = pl.col("timestamp").dt.date()
    sel = ev.filter(day.is_between(start, end) & (pl.col("root_category_id") == root))
    buys = sel.filter(pl.col("event") == "transaction")
    h = kpis.headline(wh, start=start, end=end, root_category=root).row(0, named=True)
    assert h["visitors"] == sel["visitor_id"].n_unique()
    assert h["buyers"] == buys["visitor_id"].n_unique()
    assert h["orders"] == buys.select("visitor_id", "transaction_id").drop_nulls().n_unique()
    assert h["revenue"] == pytest.approx(buys["revenue"].sum(), rel=1e-12)
    in_root = ev.filter(pl.col("root_category_id") == root).select("session_id").unique()
    sessions = (
        pl.read_parquet(wh / "sessions.parquet")
        .filter(~pl.col("is_bot") & pl.col("start").dt.date().is_between(start, end))
        .join(in_root, on="session_id")
    )
    assert h["sessions"] == sessions.height
    assert h["bounces"] == sessions["is_bounce"].sum()
    multi = sessions.filter(pl.col("n_events") >= 2)
    assert h["median_session_duration_s"] == pytest.approx(multi["duration_s"].median(), rel=1e-12)


def reference_funnel(ev: pl.DataFrame, unit: list[str]) -> pl.DataFrame:
    """Per unit: first event time, first time of step >= k, has step k (plain polars)."""
    return ev.group_by(unit).agg(
        pl.col("timestamp").min().alias("first"),
        *[pl.col("timestamp").filter(pl.col("k") >= k).min().alias(f"t{k}") for k in range(3)],
        *[(pl.col("k") == k).any().alias(f"has{k}") for k in range(3)],
    )


def reference_steps(per: pl.DataFrame, key: str) -> dict:
    """{key: [(n, skipped, median seconds) for steps 1..3]} from per-unit rows."""
    out: dict = {}
    for (k,), g in per.group_by([key]):
        steps = []
        for s in range(3):
            reached = g.filter(pl.col(f"t{s}").is_not_null())
            med = None
            if s and reached.height:
                med = ((reached[f"t{s}"] - reached["first"]).dt.total_milliseconds() / 1000).median()
            steps.append((reached.height, reached.filter(~pl.col(f"has{s}")).height, med))
        out[k] = steps
    return out


@pytest.mark.parametrize("by", ["day", "weekday", "hour", "root_category"])
def test_funnel_breakdowns_match_polars(gen: tuple[Path, dict], by: str) -> None:
    wh, _ = gen
    ev = human_events(wh).with_columns(
        pl.col("event").replace_strict({"view": 0, "addtocart": 1, "transaction": 2}, default=3).alias("k")
    )
    key_col = {"day": "date", "weekday": "weekday", "hour": "hour", "root_category": "root_category_id"}[by]
    key_of = {
        "date": lambda c: pl.col(c).dt.date(),
        "weekday": lambda c: (pl.col(c).dt.weekday() - 1).cast(pl.Int32),
        "hour": lambda c: pl.col(c).dt.hour().cast(pl.Int32),
    }
    # user level: (visitor, key of the event)
    if by == "root_category":
        ev_key = ev.with_columns(pl.col("root_category_id").alias(key_col))
    else:
        ev_key = ev.with_columns(key_of[key_col]("timestamp").alias(key_col))
    user = reference_steps(reference_funnel(ev_key.filter(pl.col("k") < 3), ["visitor_id", key_col]), key_col)
    # session level: the key of the session's first event, or every root it has an event of
    starts = ev.group_by("session_id").agg(pl.col("timestamp").min().alias("start"))
    if by == "root_category":
        keys = ev.select("session_id", pl.col("root_category_id").alias(key_col)).unique()
    else:
        keys = starts.select("session_id", key_of[key_col]("start").alias(key_col))
    per_session = reference_funnel(ev.filter(pl.col("k") < 3), ["session_id"]).join(
        starts.select("session_id", pl.col("start").alias("first_any")), on="session_id"
    )
    # a session's time to a step runs from its first event of any kind
    per_session = per_session.with_columns(pl.col("first_any").alias("first")).join(keys, on="session_id")
    session = reference_steps(per_session, key_col)
    for level, ref in [("user", user), ("session", session)]:
        got = kpis.funnel(wh, level=level, by=by)  # type: ignore[arg-type]
        seen = {}
        for k, g in got.group_by([key_col], maintain_order=True):
            steps = g.sort("step_order").select("n", "skipped", "median_seconds_to_step").rows()
            seen[k[0]] = steps
            assert g["step"].to_list() == ["view", "addtocart", "transaction"]
        for k, steps in ref.items():
            assert k in seen, (level, by, k)
            for (n, sk, med), (gn, gsk, gmed) in zip(steps, seen[k], strict=True):
                assert (gn, gsk) == (n, sk), (level, by, k)
                assert gmed == (None if med is None else pytest.approx(med, rel=1e-12)), (level, by, k)
        # keys without units have zero rows
        for k, steps in seen.items():
            if k not in ref:
                assert [s[0] for s in steps] == [0, 0, 0], (level, by, k)


def test_funnel_breakdown_rows_equal_the_filtered_funnel(gen: tuple[Path, dict]) -> None:
    wh, _ = gen
    cols = ["step_order", "n", "skipped", "dropoff", "rate_from_previous", "median_seconds_to_step"]
    for level in ("user", "session"):
        days = kpis.funnel(wh, level=level, by="day", start="2015-07-01", end="2015-07-09", days="weekends")
        assert sorted(set(days["date"].to_list())) == [dt.date(2015, 7, d) for d in (4, 5)]
        for d in (dt.date(2015, 7, 4), dt.date(2015, 7, 5)):
            one = kpis.funnel(wh, level=level, start=d, end=d)
            assert_frame_equal(days.filter(pl.col("date") == d).select(cols), one.select(cols))
        roots = kpis.funnel(wh, level=level, by="root_category")
        for r in roots["root_category_id"].drop_nulls().unique().head(3).to_list():
            one = kpis.funnel(wh, level=level, root_category=r)
            assert_frame_equal(roots.filter(pl.col("root_category_id") == r).select(cols), one.select(cols))


def test_products_match_polars(gen: tuple[Path, dict]) -> None:
    wh, _ = gen
    ev = human_events(wh)
    is_ = pl.col("event")
    ref = ev.group_by("item_id").agg(
        (is_ == "view").sum().cast(pl.Int64).alias("views"),
        (is_ == "addtocart").sum().cast(pl.Int64).alias("carts"),
        (is_ == "transaction").sum().cast(pl.Int64).alias("purchases"),
        pl.col("visitor_id").filter(is_ == "view").n_unique().cast(pl.Int64).alias("viewers"),
        pl.col("revenue").filter(is_ == "transaction").sum().alias("revenue"),
    )
    vb = (
        ev.filter(is_ == "view")
        .select("item_id", "visitor_id")
        .unique()
        .join(ev.filter(is_ == "transaction").select("item_id", "visitor_id").unique(), on=["item_id", "visitor_id"])
        .group_by("item_id")
        .agg(pl.len().cast(pl.Int64).alias("viewer_buyers"))
    )
    ref = ref.join(vb, on="item_id", how="left").with_columns(pl.col("viewer_buyers").fill_null(0)).sort("item_id")
    got = kpis.products(wh).sort("item_id")
    for c in ["item_id", "views", "carts", "purchases", "viewers", "viewer_buyers"]:
        assert got[c].to_list() == ref[c].to_list(), c
    assert got["revenue"].to_list() == pytest.approx(ref["revenue"].to_list(), abs=1e-6)
    # Wilson intervals from statsmodels; ranking by the lower bound
    sample = got.filter(pl.col("viewers") > 0).head(300)
    low, high = proportion_confint(sample["viewer_buyers"].to_numpy(), sample["viewers"].to_numpy(), method="wilson")
    assert sample["wilson_low"].to_numpy() == pytest.approx(low, rel=1e-10, abs=1e-15)
    assert sample["wilson_high"].to_numpy() == pytest.approx(high, rel=1e-10)
    ranked = got.sort("rank")
    assert ranked["rank"].to_list() == list(range(1, got.height + 1))
    lows = ranked["wilson_low"].fill_null(-1.0).to_list()
    assert lows == sorted(lows, reverse=True)
    # an item with one view and one purchase does not top the list
    assert ranked["viewers"][0] > 1
    # ABC: A items hold the first 80 % of revenue
    by_rev = got.sort("revenue", descending=True, maintain_order=True)
    total = by_rev["revenue"].sum()
    before = by_rev["revenue"].cum_sum() - by_rev["revenue"]
    expect = [
        "C" if r <= 0 else ("A" if b / total < 0.8 else "B" if b / total < 0.95 else "C")
        for r, b in zip(by_rev["revenue"], before, strict=True)
    ]
    # ties in revenue may be ordered differently; compare class counts per revenue value
    assert sorted(zip(by_rev["revenue"], by_rev["abc_class"], strict=True)) == sorted(
        zip(by_rev["revenue"], expect, strict=True)
    )


def test_categories_roll_up_every_level(gen: tuple[Path, dict]) -> None:
    wh, _ = gen
    ev = human_events(wh).filter(pl.col("category_id").is_not_null())
    tree = pl.read_parquet(wh / "categories.parquet")
    parent = dict(zip(tree["category_id"], tree["parent_id"], strict=True))

    def chain(c: int) -> list[int]:
        out = [c]
        while parent.get(out[-1]) is not None and parent[out[-1]] in parent and parent[out[-1]] not in out:
            out.append(parent[out[-1]])
        return out

    views: dict[int, int] = {}
    viewers: dict[int, set[int]] = {}
    for c, v, e in ev.select("category_id", "visitor_id", "event").iter_rows():
        if e != "view":
            continue
        for a in chain(c):
            views[a] = views.get(a, 0) + 1
            viewers.setdefault(a, set()).add(v)
    got = kpis.categories(wh)
    g = {r["category_id"]: r for r in got.iter_rows(named=True)}
    assert {c for c, n in views.items() if n} <= set(g)
    for c, n in views.items():
        assert g[c]["views"] == n
        assert g[c]["viewers"] == len(viewers[c])
    assert got["level"].n_unique() > 1


def test_hour_weekday_matches_polars(gen: tuple[Path, dict]) -> None:
    wh, _ = gen
    ev = human_events(wh)
    ref = (
        ev.group_by(
            (pl.col("timestamp").dt.weekday() - 1).cast(pl.Int32).alias("weekday"),
            pl.col("timestamp").dt.hour().cast(pl.Int32).alias("hour"),
        )
        .agg(pl.len().cast(pl.Int64).alias("events"), pl.col("visitor_id").n_unique().cast(pl.Int64).alias("visitors"))
        .sort("weekday", "hour")
    )
    got = kpis.hour_weekday(wh).filter(pl.col("events") > 0)
    assert got.select("weekday", "hour", "events", "visitors").rows() == ref.rows()


def test_segments_rfm_scores(gen: tuple[Path, dict]) -> None:
    wh, _ = gen
    s = kpis.segments(wh)
    ev = human_events(wh)
    assert s.height == ev["visitor_id"].n_unique()
    for col, score, lower_better in [("recency_days", "r_score", True), ("sessions", "f_score", False)]:
        values = sorted(s[col].cast(pl.Float64).to_list())
        n = len(values)
        cuts = [values[math.ceil(j * n / 5) - 1] for j in range(1, 5)]
        for x, sc in zip(s[col].cast(pl.Float64), s[score], strict=True):
            above = sum(x > c for c in cuts)
            assert sc == (5 - above if lower_better else 1 + above)
    conv = kpis.segment_conversion(wh)
    life = conv.filter(pl.col("segment_type") == "lifecycle")
    for row in life.iter_rows(named=True):
        members = s.filter(pl.col("lifecycle") == row["segment"])
        assert row["visitors"] == members.height
        assert row["buyers"] == (members["purchases"] > 0).sum()


def test_partitions_do_not_change_any_table(gen: tuple[Path, dict]) -> None:
    wh, _ = gen
    one = kpis.tables(wh, partitions=1)
    seven = kpis.tables(wh, partitions=7)
    for name in kpis.TABLES:
        assert_frame_equal(one[name], seven[name])
        stored = pl.read_parquet(wh / f"{name}.parquet")
        assert_frame_equal(stored, one[name])


@pytest.fixture(scope="module")
def clean_wh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """139 days at scale 0.3 with nothing injected (no outage, no bots)."""
    root = tmp_path_factory.mktemp("clean")
    g = shoplens.generate(root / "raw", scale=0.3, seed=8, inject_anomalies=False)
    assert g.truth["outage"] is None
    shoplens.build_warehouse(g.out_dir, root / "wh")
    return root / "wh"


def test_clean_series_false_flags_within_the_stated_rate(clean_wh: Path) -> None:
    from scipy.stats import binom

    every = kpis.anomalies(clean_wh, all_days=True)
    trials = every.height
    flags = every["flagged"].sum()
    # one-sided 99.9 % bound of the count under the stated rate
    assert flags <= binom.ppf(0.999, trials, kpis.ANOMALY_FALSE_FLAG_RATE)


def test_clean_hourly_series_false_flags_within_the_stated_rate(clean_wh: Path) -> None:
    from scipy.stats import binom

    every = kpis.hourly_anomalies(clean_wh, all_windows=True)
    # every window of every length of both series is tested where it expects enough
    assert set(every["hours"].unique().to_list()) == set(kpis.HOURLY_ANOMALY_WINDOWS)
    assert set(every["metric"].unique().to_list()) == {"visitors", "orders"}
    trials = every.height
    assert trials > 10_000
    assert (every["expected"] >= 3.0).all()
    flags = int(every["flagged"].sum())
    assert flags == (every["p_value"] < kpis.HOURLY_ANOMALY_FALSE_FLAG_RATE).sum()
    # one-sided 99.9 % bound of the count under the stated rate (overlapping windows are positively
    # correlated, which only widens the spread: the bound is for independent windows)
    assert flags <= binom.ppf(0.999, trials, kpis.HOURLY_ANOMALY_FALSE_FLAG_RATE)
    # the flagged table is the flagged rows of the full one
    assert kpis.hourly_anomalies(clean_wh).height == flags
    # the expectation follows the hour-of-week pattern: visitors expected at 04:00 are well below 19:00's
    v1 = every.filter((pl.col("metric") == "visitors") & (pl.col("hours") == 1))
    by_hour = v1.group_by(pl.col("start").dt.hour().alias("h")).agg(pl.col("expected").mean()).sort("h")
    e = dict(by_hour.iter_rows())
    assert e[4] < 0.5 * e[19]
    # and matches the data: observed and expected totals agree within 2 %
    assert v1["value"].sum() == pytest.approx(v1["expected"].sum(), rel=0.02)


def test_the_injected_outage_is_flagged(tmp_path: Path) -> None:
    g = shoplens.generate(tmp_path / "raw", scale=OUTAGE_SCALE, seed=5)
    outage = g.truth["outage"]
    start = dt.datetime.fromtimestamp(outage["start_ms"] / 1000, tz=dt.UTC).replace(tzinfo=None)
    end = dt.datetime.fromtimestamp(outage["end_ms"] / 1000, tz=dt.UTC).replace(tzinfo=None)
    shoplens.build_warehouse(g.out_dir, tmp_path / "wh")
    flagged = kpis.hourly_anomalies(tmp_path / "wh")
    hit = flagged.filter(
        (pl.col("metric") == "orders")
        & (pl.col("deviation") < 0)
        & (pl.col("start") < end)
        & (pl.col("start") + pl.duration(hours=pl.col("hours")) > start)
    )
    assert hit.height > 0, flagged
    # the drop is there: orders within the window are a small fraction of the expectation
    assert (hit["value"] < 0.3 * hit["expected"]).all()
    # nothing else of the orders series is flagged away from the outage (within a day of it)
    away = flagged.filter(
        (pl.col("metric") == "orders")
        & ((pl.col("start") > end + dt.timedelta(days=1)) | (pl.col("start") < start - dt.timedelta(days=1)))
    )
    assert away.height <= 2


def test_report_prints_engine_headline_with_duration_basis(tiny: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "shoplens", "report", "--warehouse", str(tiny)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if "Median session duration" in x)
    assert "480.00 s" in line and "2 sessions with >= 2 events" in line
    assert "Repeat purchase rate" in out.stdout and "50.00 %" in out.stdout
