"""PostgreSQL load speed: a whole warehouse into the store, three ways (results in docs/benchmarks.md,
section "PostgreSQL load"). Nothing here asserts a time.

1. **shoplens** ``shoplens.db.load``: reads the Parquet tables, binary COPY from Rust (sqlx) into staging
   tables, indexes, swap, in one transaction. Reported end to end and for the transaction alone.
2. **psycopg 3**: the same rows from Python: polars reads each Parquet table and writes CSV into
   psycopg's ``cursor.copy()`` (the fastest way to feed COPY from Python that we know: no per-row Python).
3. **floor**: the server's own ``COPY ... FROM 'file.csv'`` of the same rows, from CSV files written
   beforehand (not timed): no client at all.

All three run the same SQL around the COPYs (``shoplens.load_stage``, ``shoplens.load_swap``: staging
tables, the indexes of the migrations, views recreated, one transaction), so the difference is how the rows
get to the server. Each method runs ``--repeat`` times, alternating; the best and the spread are reported.
Run it when no build is running (``pgrep -f rustc`` empty): the machine has two cores.

    python bench/db_load.py --scale 1.0 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import polars as pl

import shoplens
import shoplens.db as db

DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _psql(url: str, sql: str) -> str:
    parts = urlsplit(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGHOST=parts.hostname or "127.0.0.1", PGPORT=str(parts.port or 5432))
    env.update(PGUSER=parts.username or "postgres", PGDATABASE=parts.path.lstrip("/") or "postgres")
    run = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"], input=sql, env=env,
                         capture_output=True, text=True, check=False)  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(run.stderr)
    return run.stdout


def warehouse(scale: float, cache: Path) -> Path:
    wh = cache / f"warehouse-{scale}"
    if not (wh / "report.json").is_file():
        raw = shoplens.generate(cache / f"raw-{scale}", scale=scale, seed=42).out_dir
        shoplens.build_warehouse(raw, wh)
        shoplens.analyze(shoplens.open_warehouse(wh)).results.write_parquet(wh / "experiment_results.parquet")
    return wh


def _tables(wh: Path) -> list[str]:
    return [t for t in shoplens._native.db_tables() if (wh / f"{t}.parquet").is_file()]


def _csv_frame(frame: pl.DataFrame) -> pl.DataFrame:
    # Timestamps as UTC instants PostgreSQL parses; everything else as polars writes it.
    return frame.with_columns(
        pl.col(c).dt.strftime("%Y-%m-%d %H:%M:%S%.6f+00") for c, t in frame.schema.items() if isinstance(t, pl.Datetime)
    )


def _columns(conn, table: str) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum",
            (f"shoplens.{table}",),
        )
        return [r[0] for r in cur.fetchall()]


def _load_with(conn, wh: Path, copy_table) -> int:
    """The store's load procedure around ``copy_table(cursor, table, columns)`` (one transaction)."""
    from psycopg import sql

    rows = 0
    tables = _tables(wh)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET LOCAL TimeZone = 'UTC'")
        cur.execute("DELETE FROM shoplens.load_columns")
        for t in tables:
            cur.execute("SELECT shoplens.load_stage(%s)", (t,))
            cols = _columns(conn, t)
            rows += copy_table(cur, t, cols)
        cur.execute("SELECT shoplens.load_swap(%s)", (tables,))
        cur.execute(
            sql.SQL("INSERT INTO shoplens.loads (warehouse, rows_loaded, load_seconds, report) VALUES (%s, %s, 0, %s)"),
            (str(wh), rows, (wh / "report.json").read_text()),
        )
    return rows


def psycopg_load(url: str, wh: Path) -> int:
    import psycopg
    from psycopg import sql

    def copy_table(cur, table: str, cols: list[str]) -> int:
        frame = _csv_frame(pl.read_parquet(wh / f"{table}.parquet").select(cols))
        stmt = sql.SQL("COPY shoplens.{} ({}) FROM STDIN (FORMAT csv, FREEZE)").format(
            sql.Identifier(f"_stage_{table}"), sql.SQL(", ").join(map(sql.Identifier, cols))
        )
        with cur.copy(stmt) as copy:
            for start in range(0, frame.height, 200_000):
                copy.write(frame.slice(start, 200_000).write_csv(include_header=False))
        return frame.height

    with psycopg.connect(url) as conn:
        return _load_with(conn, wh, copy_table)


def write_csvs(wh: Path, out: Path, url: str) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        for t in _tables(wh):
            cols = _columns(conn, t)
            _csv_frame(pl.read_parquet(wh / f"{t}.parquet").select(cols)).write_csv(
                out / f"{t}.csv", include_header=False
            )
    os.chmod(out, 0o755)
    for f in out.iterdir():
        os.chmod(f, 0o644)


def floor_load(url: str, wh: Path, csv_dir: Path) -> int:
    import psycopg
    from psycopg import sql

    def copy_table(cur, table: str, cols: list[str]) -> int:
        stmt = sql.SQL("COPY shoplens.{} ({}) FROM {} (FORMAT csv, FREEZE)").format(
            sql.Identifier(f"_stage_{table}"),
            sql.SQL(", ").join(map(sql.Identifier, cols)),
            sql.Literal(str(csv_dir / f"{table}.csv")),
        )
        cur.execute(stmt)
        return cur.rowcount

    with psycopg.connect(url) as conn:
        return _load_with(conn, wh, copy_table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--admin-url", default=os.environ.get("SHOPLENS_TEST_DATABASE_URL", DEFAULT_ADMIN))
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "shoplens-bench-db")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    wh = warehouse(args.scale, args.cache)
    name = f"shoplens_bench_{secrets.token_hex(4)}"
    _psql(args.admin_url, f'CREATE DATABASE "{name}";')
    url = urlunsplit(urlsplit(args.admin_url)._replace(path=f"/{name}"))
    try:
        db.migrate(url)
        csv_dir = Path(tempfile.mkdtemp(prefix="shoplens-bench-csv-"))
        write_csvs(wh, csv_dir, url)
        times: dict[str, list[float]] = {"shoplens": [], "shoplens (transaction)": [], "psycopg 3": [], "floor": []}
        rows = 0
        for _ in range(args.repeat):
            started = time.perf_counter()
            result = db.load(wh, url=url)
            times["shoplens"].append(time.perf_counter() - started)
            times["shoplens (transaction)"].append(result.seconds)
            rows = result.rows
            started = time.perf_counter()
            assert psycopg_load(url, wh) == rows
            times["psycopg 3"].append(time.perf_counter() - started)
            started = time.perf_counter()
            assert floor_load(url, wh, csv_dir) == rows
            times["floor"].append(time.perf_counter() - started)
        floor = min(times["floor"])
        print(f"scale {args.scale}: {rows:,} rows in {len(_tables(wh))} tables; best of {args.repeat}\n")
        print("| method | best | rows/s | spread (max/min) | vs floor |")
        print("|---|---|---|---|---|")
        for method, ts in times.items():
            best = min(ts)
            print(f"| {method} | {best:.2f} s | {rows / best:,.0f} | {max(ts) / best:.2f} | {best / floor:.2f} x |")
        print("\nall runs (s): " + "; ".join(f"{m}: {', '.join(f'{t:.2f}' for t in ts)}" for m, ts in times.items()))
        medians = {m: statistics.median(ts) for m, ts in times.items()}
        print("medians (s): " + ", ".join(f"{m} {t:.2f}" for m, t in medians.items()))
    finally:
        _psql(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')


if __name__ == "__main__":
    sys.exit(main())
