"""Interactive KPI speed: ``shoplens.kpis.headline`` with a date range and a filter, warm, against DuckDB and
polars running the same query on the same Parquet files (``make bench``; results in docs/benchmarks.md).

Each engine answers the same question: bots excluded, events of 2015-06-01..2015-08-31 on weekdays
(Monday-Friday), sessions starting on those days; visitors, buyers, orders, revenue, repeat buyers, sessions,
bounces, cart sessions, abandoned carts, events per session, median duration of the sessions with >= 2 events.
The answers are compared before anything is timed. Nothing here asserts a time.
"""

from __future__ import annotations

import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

START, END = dt.date(2015, 6, 1), dt.date(2015, 8, 31)
BIN = Path(sys.executable).parent


def shoplens_headline(wh: Path) -> dict[str, Any]:
    from shoplens import kpis

    return kpis.headline(wh, start=START, end=END, days="weekdays").row(0, named=True)


def duckdb_headline(con: Any, wh: Path) -> dict[str, Any]:
    sql = f"""
    WITH ev AS (
        SELECT visitor_id, event, transaction_id, revenue FROM read_parquet('{wh}/events.parquet')
        WHERE NOT is_bot AND CAST("timestamp" AS DATE) BETWEEN DATE '{START}' AND DATE '{END}'
          AND isodow("timestamp") <= 5),
    e AS (
        SELECT count(DISTINCT visitor_id) AS visitors,
               count(DISTINCT visitor_id) FILTER (WHERE event = 'transaction') AS buyers,
               count(DISTINCT transaction_id) AS orders,
               sum(revenue) FILTER (WHERE event = 'transaction') AS revenue
        FROM ev),
    r AS (
        SELECT count(*) AS repeat_buyers FROM (
            SELECT visitor_id FROM ev WHERE event = 'transaction'
            GROUP BY visitor_id HAVING count(DISTINCT transaction_id) >= 2)),
    s AS (
        SELECT count(*) AS sessions, count(*) FILTER (WHERE is_bounce) AS bounces,
               count(*) FILTER (WHERE has_cart) AS cart_sessions,
               count(*) FILTER (WHERE has_cart AND NOT has_purchase) AS abandoned_sessions,
               avg(n_events) AS events_per_session,
               median(duration_s) FILTER (WHERE n_events >= 2) AS median_session_duration_s
        FROM read_parquet('{wh}/sessions.parquet')
        WHERE NOT is_bot AND CAST(start AS DATE) BETWEEN DATE '{START}' AND DATE '{END}' AND isodow(start) <= 5)
    SELECT * FROM e, r, s"""
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchone(), strict=True))


def polars_headline(wh: Path) -> dict[str, Any]:
    day = pl.col("timestamp").dt.date()
    ev = pl.scan_parquet(wh / "events.parquet").filter(
        ~pl.col("is_bot") & day.is_between(START, END) & (day.dt.weekday() <= 5)
    )
    buy = pl.col("event") == "transaction"
    e = ev.select(
        pl.col("visitor_id").n_unique().alias("visitors"),
        pl.col("visitor_id").filter(buy).n_unique().alias("buyers"),
        pl.col("transaction_id").drop_nulls().n_unique().alias("orders"),
        pl.col("revenue").filter(buy).sum().alias("revenue"),
    )
    r = (
        ev.filter(buy)
        .group_by("visitor_id")
        .agg(pl.col("transaction_id").n_unique().alias("o"))
        .select((pl.col("o") >= 2).sum().alias("repeat_buyers"))
    )
    start = pl.col("start").dt.date()
    s = (
        pl.scan_parquet(wh / "sessions.parquet")
        .filter(~pl.col("is_bot") & start.is_between(START, END) & (start.dt.weekday() <= 5))
        .select(
            pl.len().alias("sessions"),
            pl.col("is_bounce").sum().alias("bounces"),
            pl.col("has_cart").sum().alias("cart_sessions"),
            (pl.col("has_cart") & ~pl.col("has_purchase")).sum().alias("abandoned_sessions"),
            pl.col("n_events").mean().alias("events_per_session"),
            pl.col("duration_s").filter(pl.col("n_events") >= 2).median().alias("median_session_duration_s"),
        )
    )
    out = pl.concat([e, r, s], how="horizontal").collect()
    return out.row(0, named=True)


def shoplens_headline_scan(wh: Path) -> dict[str, Any]:
    """The reference path: the same query by scanning the engine's event index (no cube)."""
    from shoplens import kpis

    f = kpis._filter(START, END, "weekdays")
    return kpis._index(wh).headline(scan=True, **f).row(0, named=True)


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def alternate(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, list[float]]:
    """Times every contender `repeat` times, one call of each in turn (a slow spell weighs on all alike)."""
    for fn in fns.values():
        fn()  # warm: files cached, index and cube built
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return times


def bench_warehouse(wh: Path, *, repeat: int, scale: float | str) -> str:
    import duckdb

    from shoplens import kpis

    con = duckdb.connect()
    t = time.perf_counter()
    kpis._index(wh)
    open_s = time.perf_counter() - t
    t = time.perf_counter()
    ours = shoplens_headline(wh)
    first_s = time.perf_counter() - t
    scan, duck, pol = shoplens_headline_scan(wh), duckdb_headline(con, wh), polars_headline(wh)
    if ours != scan:
        raise SystemExit(f"cube and scan paths disagree: {ours} vs {scan}")
    for key in duck:
        a, b, c = float(ours[key]), float(duck[key]), float(pol[key])
        if not (abs(a - b) <= 1e-6 * max(1.0, abs(b)) and abs(a - c) <= 1e-6 * max(1.0, abs(c))):
            raise SystemExit(f"engines disagree on {key}: shoplens {a}, duckdb {b}, polars {c}")
    results = alternate(
        {
            "shoplens.kpis.headline": lambda: shoplens_headline(wh),
            "shoplens, scan path (no cube)": lambda: shoplens_headline_scan(wh),
            "DuckDB SQL on the Parquet files": lambda: duckdb_headline(con, wh),
            "polars lazy scan of the Parquet files": lambda: polars_headline(wh),
        },
        repeat,
    )
    ms = {k: (1000 * statistics.median(v), 1000 * percentile(v, 0.95), 1000 * min(v)) for k, v in results.items()}
    base = ms["shoplens.kpis.headline"][0]
    lines = [
        f"Headline KPIs with a filter (scale {scale}, {START}..{END}, weekdays, bots excluded), warm: {repeat} "
        "calls of each engine in turn in one process; the answers are checked equal first (shoplens' cube and "
        "scan paths field for field). Opening the warehouse (reading events into the engine's index) took "
        f"{open_s:.2f} s and the first headline call, which builds the cube, {first_s:.2f} s; both happen once "
        "per warehouse and process.",
        "",
        "| engine | median | p95 | best | median vs shoplens |",
        "|---|---|---|---|---|",
        *[f"| {k} | {m:.2f} ms | {p:.2f} ms | {b:.2f} ms | {m / base:.1f} x |" for k, (m, p, b) in ms.items()],
    ]
    return "\n".join(lines)


def run_kpis_bench(
    *,
    scale: float = 1.0,
    repeat: int = 30,
    write: Callable[[str, str], None] | None = None,
    warehouse: Path | None = None,
) -> None:
    if warehouse is not None:
        text = bench_warehouse(warehouse, repeat=repeat, scale=scale)
    else:
        with tempfile.TemporaryDirectory(prefix="shoplens-kpis-bench-") as tmp:
            raw, wh = Path(tmp) / "raw", Path(tmp) / "wh"
            shoplens = str(BIN / "shoplens")
            subprocess.run([shoplens, "generate", "--out", str(raw), "--scale", str(scale)], check=True)
            subprocess.run(
                [shoplens, "build", "--raw", str(raw), "--out", str(wh)], check=True, stdout=subprocess.DEVNULL
            )
            text = bench_warehouse(wh, repeat=repeat, scale=scale)
    print(text)
    if write is not None:
        write("kpis", text)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warehouse", type=Path, help="an existing warehouse (its scale is given by --scale)")
    args = parser.parse_args()
    run_kpis_bench(scale=args.scale, repeat=args.repeat, warehouse=args.warehouse)
