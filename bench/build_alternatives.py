"""The build job written with Python tools, for `make bench` to time beside `shoplens build`.

``python bench/build_alternatives.py ENGINE RAW OUT`` with ENGINE one of ``polars`` (lazy, expressions only),
``pandas`` (vectorised) or ``duckdb`` (SQL). Each does a reduced version of the job `shoplens build` does (it
skips the as-of category join, item properties, near-duplicates, quarantine bookkeeping and experiments, so it
favours these engines): read events.csv and prices.csv, drop rows that do not parse, drop exact duplicates,
sessions by a 30-minute inactivity gap, revenue from prices, bots (> 1,000 events), then write as Parquet the
tables events, sessions, visitors, kpi_daily (distinct visitors and buyers per day), kpi_weekly (the same per ISO
week), kpi_hour_weekday (events, purchases, distinct visitors and buyers per weekday x hour), funnel (users
reaching view / cart / purchase), products (views, carts, purchases, distinct viewers, revenue) and
cohort_retention (weekly first-visit cohorts x week offset: size, active, buyers, revenue) -- nine tables.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

GAP_MS = 30 * 60 * 1000
BOT_EVENTS = 1000


def run_polars(raw: Path, out: Path) -> None:
    import polars as pl

    ev = (
        pl.scan_csv(raw / "events.csv", infer_schema=False, truncate_ragged_lines=True)
        .select(
            pl.col("timestamp").cast(pl.Int64, strict=False),
            pl.col("visitorid").cast(pl.Int64, strict=False).alias("visitor_id"),
            pl.col("event"),
            pl.col("itemid").cast(pl.Int64, strict=False).alias("item_id"),
            pl.col("transactionid").cast(pl.Int64, strict=False).alias("transaction_id"),
        )
        .drop_nulls(["timestamp", "visitor_id", "event", "item_id"])
        .filter(pl.col("event").is_in(["view", "addtocart", "transaction"]))
        .unique(maintain_order=True)
    )
    prices = pl.scan_csv(raw / "prices.csv").rename({"itemid": "item_id"})
    ev = (
        ev.sort("visitor_id", "timestamp")
        .join(prices, on="item_id", how="left")
        .with_columns(
            pl.when(pl.col("event") == "transaction").then(pl.col("price")).alias("revenue"),
            ((pl.col("timestamp").diff().over("visitor_id").fill_null(0) > GAP_MS).cum_sum().over("visitor_id"))
            .cast(pl.UInt32)
            .alias("session_index"),
            (pl.len().over("visitor_id") > BOT_EVENTS).alias("is_bot"),
            pl.from_epoch("timestamp", time_unit="ms").alias("ts"),
        )
        .drop("price")
    )
    events = ev.collect()
    events.write_parquet(out / "events.parquet")
    ev = events.lazy()
    is_ = pl.col("event")
    sessions = ev.group_by("visitor_id", "session_index").agg(
        pl.col("ts").min().alias("start"),
        pl.col("ts").max().alias("end"),
        pl.len().alias("n_events"),
        (is_ == "view").sum().alias("n_views"),
        (is_ == "addtocart").sum().alias("n_carts"),
        (is_ == "transaction").sum().alias("n_purchases"),
        pl.col("revenue").sum(),
        pl.col("is_bot").first(),
    )
    sessions.collect().write_parquet(out / "sessions.parquet")
    ev.group_by("visitor_id").agg(
        pl.col("ts").min().alias("first_seen"),
        pl.col("ts").max().alias("last_seen"),
        pl.len().alias("n_events"),
        (pl.col("session_index").max() + 1).alias("n_sessions"),
        (is_ == "transaction").sum().alias("n_purchases"),
        pl.col("revenue").sum(),
        pl.col("is_bot").first(),
    ).collect().write_parquet(out / "visitors.parquet")
    human = ev.filter(~pl.col("is_bot"))
    buy = is_ == "transaction"
    human.group_by(pl.col("ts").dt.date().alias("date")).agg(
        pl.col("visitor_id").n_unique().alias("visitors"),
        (is_ == "view").sum().alias("views"),
        (is_ == "addtocart").sum().alias("carts"),
        buy.sum().alias("purchases"),
        pl.col("transaction_id").drop_nulls().n_unique().alias("orders"),
        pl.col("visitor_id").filter(buy).n_unique().alias("buyers"),
        pl.col("revenue").sum(),
    ).sort("date").collect().write_parquet(out / "kpi_daily.parquet")
    per_user = human.group_by("visitor_id").agg(
        pl.lit(True).alias("s1"), is_.is_in(["addtocart", "transaction"]).any().alias("s2"), buy.any().alias("s3")
    )
    per_user.select(pl.col("s1").sum(), pl.col("s2").sum(), pl.col("s3").sum()).collect().write_parquet(
        out / "funnel.parquet"
    )
    human.group_by("item_id").agg(
        (is_ == "view").sum().alias("views"),
        (is_ == "addtocart").sum().alias("carts"),
        buy.sum().alias("purchases"),
        pl.col("visitor_id").filter(is_ == "view").n_unique().alias("viewers"),
        pl.col("revenue").sum(),
    ).collect().write_parquet(out / "products.parquet")
    week = pl.col("ts").dt.truncate("1w").dt.date()
    human.group_by(week.alias("week")).agg(
        pl.col("visitor_id").n_unique().alias("visitors"),
        buy.sum().alias("purchases"),
        pl.col("transaction_id").drop_nulls().n_unique().alias("orders"),
        pl.col("visitor_id").filter(buy).n_unique().alias("buyers"),
        pl.col("revenue").sum(),
    ).sort("week").collect().write_parquet(out / "kpi_weekly.parquet")
    human.group_by((pl.col("ts").dt.weekday() - 1).alias("weekday"), pl.col("ts").dt.hour().alias("hour")).agg(
        pl.len().alias("events"),
        pl.col("visitor_id").n_unique().alias("visitors"),
        buy.sum().alias("purchases"),
        pl.col("visitor_id").filter(buy).n_unique().alias("buyers"),
    ).sort("weekday", "hour").collect().write_parquet(out / "kpi_hour_weekday.parquet")
    act = human.with_columns(
        week.alias("week"), pl.col("ts").min().over("visitor_id").dt.truncate("1w").dt.date().alias("cohort")
    )
    sizes = act.group_by("cohort").agg(pl.col("visitor_id").n_unique().alias("cohort_size"))
    act.group_by("cohort", ((pl.col("week") - pl.col("cohort")).dt.total_days() // 7).alias("offset")).agg(
        pl.col("visitor_id").n_unique().alias("active"),
        pl.col("visitor_id").filter(buy).n_unique().alias("buyers"),
        pl.col("revenue").sum(),
    ).join(sizes, on="cohort").sort("cohort", "offset").collect().write_parquet(out / "cohort_retention.parquet")


def run_pandas(raw: Path, out: Path) -> None:
    import pandas as pd

    ev = pd.read_csv(raw / "events.csv", dtype=str, on_bad_lines="skip")
    ev = pd.DataFrame(
        {
            "timestamp": pd.to_numeric(ev["timestamp"], errors="coerce"),
            "visitor_id": pd.to_numeric(ev["visitorid"], errors="coerce"),
            "event": ev["event"],
            "item_id": pd.to_numeric(ev["itemid"], errors="coerce"),
            "transaction_id": pd.to_numeric(ev["transactionid"], errors="coerce"),
        }
    )
    ev = ev.dropna(subset=["timestamp", "visitor_id", "event", "item_id"])
    ev = ev[ev["event"].isin(["view", "addtocart", "transaction"])].drop_duplicates()
    ev = ev.astype({"timestamp": "int64", "visitor_id": "int64", "item_id": "int64"})
    prices = pd.read_csv(raw / "prices.csv").rename(columns={"itemid": "item_id"})
    ev = ev.sort_values(["visitor_id", "timestamp"], kind="stable").merge(prices, on="item_id", how="left")
    ev["revenue"] = ev["price"].where(ev["event"] == "transaction")
    ev = ev.drop(columns="price")
    gap = ev.groupby("visitor_id")["timestamp"].diff().fillna(0) > GAP_MS
    ev["session_index"] = gap.groupby(ev["visitor_id"]).cumsum().astype("uint32")
    ev["is_bot"] = ev.groupby("visitor_id")["timestamp"].transform("size") > BOT_EVENTS
    ev["ts"] = pd.to_datetime(ev["timestamp"], unit="ms")
    ev.to_parquet(out / "events.parquet", index=False)
    tables_pandas(ev, out, ["visitor_id", "session_index"])


def tables_pandas(
    ev: pd.DataFrame, out: Path, sessions_by: list[str], visitor_extra: dict[str, tuple[str, str]] | None = None
) -> None:
    """Sessions (grouped by `sessions_by`), visitors (with `visitor_extra` aggregations) and the KPI tables over the
    non-bot events (kpi_daily, funnel, products, kpi_weekly, kpi_hour_weekday, cohort_retention), from events with
    columns ts, visitor_id, session_index, event, item_id, transaction_id, revenue and is_bot. Shared with
    bench/same_clean_pandas.py."""
    import pandas as pd

    ev["v"] = ev["event"] == "view"
    ev["c"] = ev["event"] == "addtocart"
    ev["p"] = ev["event"] == "transaction"
    firsts = {c: (c, "first") for c in ("visitor_id", "session_index") if c not in sessions_by}
    ev.groupby(sessions_by).agg(
        **firsts,
        start=("ts", "min"),
        end=("ts", "max"),
        n_events=("ts", "size"),
        n_views=("v", "sum"),
        n_carts=("c", "sum"),
        n_purchases=("p", "sum"),
        revenue=("revenue", "sum"),
        is_bot=("is_bot", "first"),
    ).reset_index().to_parquet(out / "sessions.parquet", index=False)
    visitors = ev.groupby("visitor_id").agg(
        first_seen=("ts", "min"),
        last_seen=("ts", "max"),
        n_events=("ts", "size"),
        n_sessions=("session_index", "max"),
        n_purchases=("p", "sum"),
        revenue=("revenue", "sum"),
        **(visitor_extra or {}),
        is_bot=("is_bot", "first"),
    )
    visitors["n_sessions"] += 1
    visitors.reset_index().to_parquet(out / "visitors.parquet", index=False)
    human = ev[~ev["is_bot"]].copy()
    human["date"] = human["ts"].dt.date
    human["buyer"] = human["visitor_id"].where(human["p"])
    human.groupby("date").agg(
        visitors=("visitor_id", "nunique"),
        views=("v", "sum"),
        carts=("c", "sum"),
        purchases=("p", "sum"),
        orders=("transaction_id", "nunique"),
        buyers=("buyer", "nunique"),
        revenue=("revenue", "sum"),
    ).reset_index().to_parquet(out / "kpi_daily.parquet", index=False)
    human["cp"] = human["c"] | human["p"]
    per_user = human.groupby("visitor_id").agg(s2=("cp", "any"), s3=("p", "any"))
    pd.DataFrame({"s1": [len(per_user)], "s2": [per_user["s2"].sum()], "s3": [per_user["s3"].sum()]}).to_parquet(
        out / "funnel.parquet", index=False
    )
    human["viewer"] = human["visitor_id"].where(human["v"])
    human.groupby("item_id").agg(
        views=("v", "sum"),
        carts=("c", "sum"),
        purchases=("p", "sum"),
        viewers=("viewer", "nunique"),
        revenue=("revenue", "sum"),
    ).reset_index().to_parquet(out / "products.parquet", index=False)
    human["week"] = (human["ts"] - pd.to_timedelta(human["ts"].dt.day_of_week, unit="D")).dt.normalize()
    human.groupby("week").agg(
        visitors=("visitor_id", "nunique"),
        purchases=("p", "sum"),
        orders=("transaction_id", "nunique"),
        buyers=("buyer", "nunique"),
        revenue=("revenue", "sum"),
    ).reset_index().to_parquet(out / "kpi_weekly.parquet", index=False)
    human["weekday"] = human["ts"].dt.day_of_week
    human["hour"] = human["ts"].dt.hour
    human.groupby(["weekday", "hour"]).agg(
        events=("ts", "size"),
        visitors=("visitor_id", "nunique"),
        purchases=("p", "sum"),
        buyers=("buyer", "nunique"),
    ).reset_index().to_parquet(out / "kpi_hour_weekday.parquet", index=False)
    human["cohort"] = human.groupby("visitor_id")["week"].transform("min")
    human["offset"] = (human["week"] - human["cohort"]).dt.days // 7
    sizes = human.groupby("cohort")["visitor_id"].nunique().rename("cohort_size")
    human.groupby(["cohort", "offset"]).agg(
        active=("visitor_id", "nunique"),
        buyers=("buyer", "nunique"),
        revenue=("revenue", "sum"),
    ).reset_index().join(sizes, on="cohort").to_parquet(out / "cohort_retention.parquet", index=False)


def run_duckdb(raw: Path, out: Path) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute(f"""
        CREATE TABLE ev AS
        WITH r AS (
            SELECT TRY_CAST("timestamp" AS BIGINT) AS "timestamp", TRY_CAST(visitorid AS BIGINT) AS visitor_id,
                   event, TRY_CAST(itemid AS BIGINT) AS item_id, TRY_CAST(transactionid AS BIGINT) AS transaction_id
            FROM read_csv('{raw}/events.csv', all_varchar = true, ignore_errors = true, null_padding = true)),
        d AS (SELECT DISTINCT * FROM r
              WHERE "timestamp" IS NOT NULL AND visitor_id IS NOT NULL AND item_id IS NOT NULL
                AND event IN ('view', 'addtocart', 'transaction')),
        p AS (SELECT itemid AS item_id, price FROM read_csv('{raw}/prices.csv')),
        g AS (SELECT d.*, CASE WHEN event = 'transaction' THEN p.price END AS revenue,
                     CASE WHEN "timestamp" - lag("timestamp") OVER w > {GAP_MS} THEN 1 ELSE 0 END AS new_session,
                     count(*) OVER (PARTITION BY visitor_id) > {BOT_EVENTS} AS is_bot
              FROM d LEFT JOIN p USING (item_id)
              WINDOW w AS (PARTITION BY visitor_id ORDER BY "timestamp"))
        SELECT *, sum(new_session) OVER (PARTITION BY visitor_id ORDER BY "timestamp"
                                         ROWS UNBOUNDED PRECEDING) AS session_index,
               epoch_ms("timestamp") AS ts
        FROM g ORDER BY visitor_id, "timestamp"
    """)
    con.execute(f"COPY ev TO '{out}/events.parquet' (FORMAT parquet)")
    con.execute(f"""COPY (
        SELECT visitor_id, session_index, min(ts) AS start, max(ts) AS "end", count(*) AS n_events,
               count(*) FILTER (WHERE event = 'view') AS n_views,
               count(*) FILTER (WHERE event = 'addtocart') AS n_carts,
               count(*) FILTER (WHERE event = 'transaction') AS n_purchases, sum(revenue) AS revenue,
               any_value(is_bot) AS is_bot
        FROM ev GROUP BY ALL) TO '{out}/sessions.parquet' (FORMAT parquet)""")
    con.execute(f"""COPY (
        SELECT visitor_id, min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS n_events,
               max(session_index) + 1 AS n_sessions, count(*) FILTER (WHERE event = 'transaction') AS n_purchases,
               sum(revenue) AS revenue, any_value(is_bot) AS is_bot
        FROM ev GROUP BY ALL) TO '{out}/visitors.parquet' (FORMAT parquet)""")
    con.execute(f"""COPY (
        SELECT CAST(ts AS DATE) AS date, count(DISTINCT visitor_id) AS visitors,
               count(*) FILTER (WHERE event = 'view') AS views, count(*) FILTER (WHERE event = 'addtocart') AS carts,
               count(*) FILTER (WHERE event = 'transaction') AS purchases,
               count(DISTINCT transaction_id) AS orders,
               count(DISTINCT visitor_id) FILTER (WHERE event = 'transaction') AS buyers, sum(revenue) AS revenue
        FROM ev WHERE NOT is_bot GROUP BY ALL ORDER BY date) TO '{out}/kpi_daily.parquet' (FORMAT parquet)""")
    con.execute(f"""COPY (
        SELECT count(*) AS s1, count(*) FILTER (WHERE s2) AS s2, count(*) FILTER (WHERE s3) AS s3 FROM (
            SELECT visitor_id, bool_or(event <> 'view') AS s2, bool_or(event = 'transaction') AS s3
            FROM ev WHERE NOT is_bot GROUP BY visitor_id)) TO '{out}/funnel.parquet' (FORMAT parquet)""")
    con.execute(f"""COPY (
        SELECT item_id, count(*) FILTER (WHERE event = 'view') AS views,
               count(*) FILTER (WHERE event = 'addtocart') AS carts,
               count(*) FILTER (WHERE event = 'transaction') AS purchases,
               count(DISTINCT visitor_id) FILTER (WHERE event = 'view') AS viewers, sum(revenue) AS revenue
        FROM ev WHERE NOT is_bot GROUP BY item_id) TO '{out}/products.parquet' (FORMAT parquet)""")
    con.execute(f"""COPY (
        SELECT CAST(date_trunc('week', ts) AS DATE) AS week, count(DISTINCT visitor_id) AS visitors,
               count(*) FILTER (WHERE event = 'transaction') AS purchases,
               count(DISTINCT transaction_id) AS orders,
               count(DISTINCT visitor_id) FILTER (WHERE event = 'transaction') AS buyers, sum(revenue) AS revenue
        FROM ev WHERE NOT is_bot GROUP BY ALL ORDER BY week) TO '{out}/kpi_weekly.parquet' (FORMAT parquet)""")
    con.execute(f"""COPY (
        SELECT isodow(ts) - 1 AS weekday, hour(ts) AS hour, count(*) AS events,
               count(DISTINCT visitor_id) AS visitors,
               count(*) FILTER (WHERE event = 'transaction') AS purchases,
               count(DISTINCT visitor_id) FILTER (WHERE event = 'transaction') AS buyers
        FROM ev WHERE NOT is_bot GROUP BY ALL ORDER BY ALL) TO '{out}/kpi_hour_weekday.parquet' (FORMAT parquet)""")
    con.execute(f"""COPY (
        WITH a AS (
            SELECT visitor_id, event, revenue, date_trunc('week', ts) AS week,
                   min(date_trunc('week', ts)) OVER (PARTITION BY visitor_id) AS cohort
            FROM ev WHERE NOT is_bot),
        sizes AS (SELECT cohort, count(DISTINCT visitor_id) AS cohort_size FROM a GROUP BY cohort)
        SELECT cohort, datediff('week', cohort, week) AS "offset", count(DISTINCT visitor_id) AS active,
               count(DISTINCT visitor_id) FILTER (WHERE event = 'transaction') AS buyers, sum(revenue) AS revenue,
               any_value(cohort_size) AS cohort_size
        FROM a JOIN sizes USING (cohort) GROUP BY ALL ORDER BY ALL)
        TO '{out}/cohort_retention.parquet' (FORMAT parquet)""")


ENGINES = {"polars": run_polars, "pandas": run_pandas, "duckdb": run_duckdb}

if __name__ == "__main__":
    engine, raw_dir, out_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    out_dir.mkdir(parents=True, exist_ok=True)
    ENGINES[engine](raw_dir, out_dir)
