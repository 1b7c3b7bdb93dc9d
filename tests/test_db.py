"""The PostgreSQL store (shoplens.db, src/db) against the real test server (tests/pg_support.py).

Each test session loads generated warehouses into a database of its own, dropped after. Counts and
checksums are computed by PostgreSQL itself (psql) and by polars from the Parquet files, independently of
shoplens' own read path; the Grafana queries run through psql as the read-only role.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import shoplens
import shoplens.cohorts as cohorts
import shoplens.db as db
import shoplens.kpis as kpis
from pg_support import own_database, psql, unavailable, with_database
from shoplens import clv
from shoplens.errors import DatabaseError, InvalidArgumentError, MissingFileError

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = sorted(int(p.name.split("_")[0]) for p in (ROOT / "migrations").glob("*.up.sql"))
# Migration 0006: the dashboard's users, login failures and secret key (dash-app/auth_store.py).
DASHBOARD_TABLES = {"dashboard_users", "dashboard_failures", "dashboard_meta"}


# ---------------------------------------------------------------------------------------------- fixtures
def _build(root: Path, scale: float, seed: int) -> Path:
    raw = shoplens.generate(root / "raw", scale=scale, seed=seed).out_dir
    shoplens.build_warehouse(raw, root / "warehouse")
    wh = root / "warehouse"
    # What `shoplens experiment` adds to a warehouse, so that the store holds it too.
    shoplens.analyze(shoplens.open_warehouse(wh)).results.write_parquet(wh / "experiment_results.parquet")
    return wh


@pytest.fixture(scope="session")
def warehouse_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("pg-a"), 0.01, 11)


@pytest.fixture(scope="session")
def warehouse_b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("pg-b"), 0.02, 21)


@pytest.fixture(scope="session")
def store() -> Iterator[str]:
    """The session's own database, migrated (URL)."""
    with own_database("shoplens_test") as (_, url):
        db.migrate(url)
        yield url


def q(url: str, sql: str, **extra: str) -> list[list[str]]:
    """Rows of a query run by psql (independent of shoplens)."""
    run = psql(url, sql, **extra)
    assert run.returncode == 0, run.stderr
    return [line.split("\t") for line in run.stdout.splitlines() if line]


def _parquet_tables(wh: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(wh / f"{name}.parquet") for name in db_tables() if (wh / f"{name}.parquet").is_file()}


def db_tables() -> list[str]:
    return list(shoplens._native.db_tables())


def _checksum_sql(table: str, frame: pl.DataFrame) -> str:
    """count, then per column: non-null count and a type-appropriate sum (PostgreSQL side)."""
    parts = ["count(*)::text"]
    for name, dtype in frame.schema.items():
        c = f'"{name}"'
        parts.append(f"count({c})::text")
        if dtype.is_integer():
            parts.append(f"coalesce(sum({c}::numeric), 0)::text")
        elif dtype.is_float():
            parts.append(f"coalesce(round(sum({c})::numeric, 3), 0)::text")
        elif dtype == pl.Boolean:
            parts.append(f"count(*) FILTER (WHERE {c})::text")
        elif dtype == pl.String:
            parts.append(f"coalesce(sum(octet_length({c})), 0)::text")
        elif dtype == pl.Date:
            parts.append(f"coalesce(sum({c} - DATE '1970-01-01'), 0)::text")
        elif isinstance(dtype, pl.Datetime):
            parts.append(f"coalesce(sum(extract(epoch FROM {c}) * 1000)::numeric, 0)::text")
    return f"SELECT {', '.join(parts)} FROM shoplens.{table};"


def _checksum_polars(frame: pl.DataFrame) -> list[str]:
    """The same figures as :func:`_checksum_sql`, computed by polars from the Parquet table."""
    out = [str(frame.height)]
    for name, dtype in frame.schema.items():
        col = frame[name]
        out.append(str(col.count()))
        if dtype.is_integer():
            out.append(str(int(col.cast(pl.Int64).sum() or 0)))
        elif dtype.is_float():
            out.append("NaN" if col.is_nan().any() else f"{round(float(col.sum() or 0.0), 3):.3f}")
        elif dtype == pl.Boolean:
            out.append(str(int(col.sum() or 0)))
        elif dtype == pl.String:
            out.append(str(int(col.str.len_bytes().sum() or 0)))
        elif dtype == pl.Date:
            out.append(str(int(col.cast(pl.Int32).cast(pl.Int64).sum() or 0)))
        elif isinstance(dtype, pl.Datetime):
            out.append(str(int(col.dt.cast_time_unit("ms").cast(pl.Int64).sum() or 0)))
    return out


def _same_sums(pg: list[str], ref: list[str]) -> bool:
    def num(s: str) -> float:
        return float(s) if s not in ("", "NaN") else math.nan

    return len(pg) == len(ref) and all(
        a == b or math.isclose(num(a), num(b), rel_tol=1e-9, abs_tol=2e-3) for a, b in zip(pg, ref, strict=True)
    )


def _counts(url: str) -> tuple[int, ...]:
    sql = (
        "SELECT (SELECT count(*) FROM shoplens.events), (SELECT count(*) FROM shoplens.sessions), "
        "(SELECT count(*) FROM shoplens.kpi_daily);"
    )
    return tuple(int(x) for x in q(url, sql)[0])


def _expected_counts(wh: Path) -> tuple[int, ...]:
    return tuple(pl.read_parquet(wh / f"{t}.parquet").height for t in ("events", "sessions", "kpi_daily"))


# ------------------------------------------------------------------------------------------- migrations
def test_migrations_up_down_up(scratch_database) -> None:
    _, url = scratch_database
    assert db.migrate(url) == MIGRATIONS
    assert db.migrate(url) == []  # idempotent
    tables = {r[0] for r in q(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'shoplens';")}
    assert set(db_tables()) | {"loads", "load_columns"} | DASHBOARD_TABLES == tables
    views = {r[0] for r in q(url, "SELECT viewname FROM pg_views WHERE schemaname = 'shoplens';")}
    assert {v for v in views if v.startswith("grafana_")} == views and len(views) >= 8
    st = db.status(url)
    assert [m["version"] for m in st["migrations"]] == MIGRATIONS and all(m["applied"] for m in st["migrations"])
    assert MIGRATIONS[-1] == 6
    assert db.revert(url, target=5) == [6]
    assert not {r[0] for r in q(url, "SELECT tablename FROM pg_tables;")} & DASHBOARD_TABLES
    assert db.migrate(url) == [6]
    assert db.revert(url, target=MIGRATIONS[0]) == MIGRATIONS[:0:-1]
    kept_first = "SELECT to_regclass('shoplens.events') IS NULL, to_regclass('shoplens.loads') IS NOT NULL;"
    assert q(url, kept_first) == [["t", "t"]]
    assert db.revert(url) == [MIGRATIONS[0]]
    assert q(url, "SELECT to_regnamespace('shoplens') IS NULL, count(*) FROM _sqlx_migrations;") == [["t", "0"]]
    assert db.migrate(url) == MIGRATIONS
    assert len(q(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'shoplens';")) == len(tables)


def test_load_requires_the_schema(scratch_database, warehouse_a: Path) -> None:
    _, url = scratch_database
    with pytest.raises(DatabaseError, match="shoplens db migrate"):
        db.load(warehouse_a, url=url)


# ------------------------------------------------------------------------------------------------ loads
def test_load_counts_and_checksums_equal_the_warehouse(store: str, warehouse_a: Path) -> None:
    result = db.load(warehouse_a, url=store)
    frames = _parquet_tables(warehouse_a)
    assert set(frames) == set(db_tables()), "the test warehouse should have every table"
    assert result.tables == {name: frames[name].height for name in db_tables()}
    for name, frame in frames.items():
        pg = q(store, _checksum_sql(name, frame))[0]
        assert _same_sums(pg, _checksum_polars(frame)), f"{name}: {pg} != {_checksum_polars(frame)}"
    # Read back: every table equals the Parquet one, column types included.
    wh = db.open_warehouse(store)
    for name, frame in frames.items():
        assert_frame_equal(wh.table(name), frame, check_exact=True)
    assert wh.report == json.loads((warehouse_a / "report.json").read_text())
    st = db.status(store)
    assert st["tables"] == {name: frames[name].height for name in db_tables()}
    assert st["last_load"]["rows"] == result.rows


GRANTS = (
    "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
    "WHERE grantee = 'shoplens_readonly' ORDER BY 1, 2;"
)
STAGING_LEFT = "SELECT count(*) FROM pg_tables WHERE schemaname = 'shoplens' AND tablename LIKE '\\_stage\\_%';"


def _table_digest(url: str, table: str) -> str:
    return q(url, f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM shoplens.{table} t;")[0][0]


def test_second_load_leaves_the_same_rows(store: str, warehouse_a: Path) -> None:
    db.load(warehouse_a, url=store)
    before = {t: _table_digest(store, t) for t in ("events", "sessions", "products", "kpi_daily", "quarantine")}
    indexes = q(store, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'shoplens' ORDER BY 1;")
    grants = q(store, GRANTS)
    db.load(warehouse_a, url=store)
    assert {t: _table_digest(store, t) for t in before} == before
    assert _counts(store) == _expected_counts(warehouse_a)
    # The swap keeps the schema as the migrations made it: index names, views and their grants.
    assert q(store, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'shoplens' ORDER BY 1;") == indexes
    assert q(store, GRANTS) == grants
    assert grants and all(name.startswith("grafana_") for name, _ in grants)
    assert q(store, STAGING_LEFT) == [["0"]]


@pytest.mark.slow
def test_a_load_killed_mid_copy_leaves_the_previous_data(store: str, warehouse_a: Path, tmp_path_factory) -> None:
    big = _build(tmp_path_factory.mktemp("pg-big"), 0.3, 13)
    db.load(warehouse_a, url=store)
    old = {t: _table_digest(store, t) for t in ("events", "sessions", "kpi_daily")}
    loader = subprocess.Popen(
        [sys.executable, "-c", "import sys, shoplens.db as d; d.load(sys.argv[1], url=sys.argv[2])", str(big), store],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    dbname = store.rsplit("/", 1)[1]
    activity = f"SELECT query FROM pg_stat_activity WHERE datname = '{dbname}' AND application_name = 'shoplens'"
    seen_copy = False
    try:
        for _ in range(6000):  # polls 0.02 s apart, until the load reaches COPY or ends
            if loader.poll() is not None:
                break
            if q(store, f"{activity} AND state = 'active' AND query LIKE 'COPY %';"):
                seen_copy = True
                break
            time.sleep(0.02)
        assert seen_copy, "the load never reached COPY"
        loader.send_signal(signal.SIGKILL)
    finally:
        loader.kill()
        loader.wait()
    assert loader.returncode == -signal.SIGKILL
    # The server notices the dropped connection and rolls the transaction back.
    count = activity.replace("SELECT query", "SELECT count(*)") + ";"
    for _ in range(600):  # polls 0.05 s apart: the backend goes away within a few
        if q(store, count) == [["0"]]:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the killed load's backend never went away (600 polls)")
    assert {t: _table_digest(store, t) for t in old} == old
    assert _counts(store) == _expected_counts(warehouse_a)
    assert q(store, STAGING_LEFT) == [["0"]]
    db.load(big, url=store)
    assert _counts(store) == _expected_counts(big)
    db.load(warehouse_a, url=store)  # leave the session's store as the other tests expect it


def test_concurrent_reader_sees_old_or_new_never_a_mix(store: str, warehouse_a: Path, warehouse_b: Path) -> None:
    db.load(warehouse_a, url=store)
    allowed = {_expected_counts(warehouse_a), _expected_counts(warehouse_b)}
    assert len(allowed) == 2
    seen: list[tuple[int, ...]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(_counts(store))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for wh in (warehouse_b, warehouse_a, warehouse_b, warehouse_a):
            db.load(wh, url=store)
    finally:
        done.set()
        reader.join()
    assert seen and set(seen) <= allowed, set(seen) - allowed
    assert _counts(store) == _expected_counts(warehouse_a)


# ------------------------------------------------------------------------------------------ read path
def test_kpis_cohorts_clv_and_experiments_from_pg_equal_parquet(store: str, warehouse_a: Path) -> None:
    db.load(warehouse_a, url=store)
    pg = db.open_warehouse(store)
    parquet = shoplens.open_warehouse(warehouse_a)
    assert_frame_equal(kpis.headline(pg), kpis.headline(parquet), check_exact=True)
    weekend = {"days": "weekends", "include_bots": True}
    assert_frame_equal(kpis.headline(pg, **weekend), kpis.headline(parquet, **weekend), check_exact=True)
    for fn in (kpis.daily, kpis.weekly, kpis.products, kpis.categories, kpis.segments, kpis.anomalies):
        assert_frame_equal(fn(pg), fn(parquet), check_exact=True)
    assert_frame_equal(kpis.funnel(pg, level="session"), kpis.funnel(parquet, level="session"), check_exact=True)
    for by in cohorts.BY:
        for include_bots in (False, True):
            assert_frame_equal(
                cohorts.retention(pg, by=by, include_bots=include_bots),
                cohorts.retention(parquet, by=by, include_bots=include_bots),
                check_exact=True,
            )
    assert_frame_equal(clv.customers(pg), clv.customers(parquet), check_exact=True)
    assert_frame_equal(clv.summary(pg), clv.summary(parquet), check_exact=True)
    # analyze() itself differs in the last bits between two runs on the same Parquet warehouse (parallel
    # float sums), so its results are compared to 1e-12, as in test_analyze.
    assert_frame_equal(shoplens.analyze(pg).results, shoplens.analyze(parquet).results, rel_tol=1e-12, abs_tol=1e-12)
    # And the headline against a plain count over the Parquet events (not through shoplens at all).
    events = pl.read_parquet(warehouse_a / "events.parquet").filter(~pl.col("is_bot"))
    assert kpis.headline(pg)["visitors"][0] == events["visitor_id"].n_unique()


def test_open_warehouse_of_an_empty_store_says_so(scratch_database) -> None:
    _, url = scratch_database
    db.migrate(url)
    with pytest.raises(DatabaseError, match="nothing loaded yet"):
        db.open_warehouse(url)


def test_url_from_the_environment(store: str, warehouse_a: Path, monkeypatch) -> None:
    db.load(warehouse_a, url=store)
    monkeypatch.setenv(db.URL_ENV, store)
    assert db.status()["tables"]["events"] == _expected_counts(warehouse_a)[0]
    monkeypatch.delenv(db.URL_ENV)
    with pytest.raises(InvalidArgumentError, match=db.URL_ENV):
        db.status()


# --------------------------------------------------------------------------------------- clear errors
def _error(url: str) -> BaseException:
    with pytest.raises(shoplens.ShoplensError) as info:
        db.status(url)
    return info.value


def test_bad_url_unreachable_server_and_missing_database_fail_fast(store: str) -> None:
    admin = store.rsplit("/", 1)[0]
    cases = {
        "not a url": "bad database URL",
        "mysql://root@127.0.0.1:3306/x": "bad database URL",
        "postgresql://postgres@127.0.0.1:notaport/x": "bad database URL",
        "postgresql://postgres@127.0.0.1:1/postgres": "cannot connect",
        "postgresql://postgres@no-such-host.invalid:5432/postgres": "cannot connect",
        f"{admin}/no_such_database_{secrets.token_hex(3)}": "does not exist",
    }
    for url, message in cases.items():
        err = _error(url)
        assert isinstance(err, DatabaseError), (url, err)
        assert message in str(err), (url, str(err))


def test_a_server_that_never_answers_ends_in_the_connect_timeout() -> None:
    # A listening socket that never accepts: the TCP handshake completes (the kernel's backlog), then
    # nothing answers PostgreSQL's first message, so only the engine's connect timeout can end the call.
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        err = _error(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    assert isinstance(err, DatabaseError), err
    assert "cannot connect" in str(err) and "no answer within 5s" in str(err), str(err)


PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture(scope="module")
def password_server(tmp_path_factory) -> Iterator[tuple[str, int]]:
    """A private PostgreSQL cluster with scram-sha-256 password authentication on a free port.

    The shared test server trusts every local connection (pg_hba: `host all all 127.0.0.1/32 trust`),
    so a wrong password cannot be refused there; this cluster refuses it. Fails when the server
    binaries are missing or cannot run here (initdb refuses root; it runs as `postgres` via runuser).
    """
    initdb = shutil.which("initdb") or str(PG_BIN / "initdb")
    pg_ctl = shutil.which("pg_ctl") or str(PG_BIN / "pg_ctl")
    if not (Path(initdb).exists() and Path(pg_ctl).exists()):
        unavailable("no initdb/pg_ctl: password authentication is not tested")
    as_user: list[str] = []
    if os.geteuid() == 0:
        if not shutil.which("runuser"):
            unavailable("running as root without runuser: initdb refuses root")
        as_user = ["runuser", "-u", "postgres", "--"]
    base = Path("/tmp") / f"shoplens-pw-{os.getpid()}-{secrets.token_hex(3)}"
    base.mkdir(mode=0o700)
    data = base / "data"
    pwfile = base / "pw"
    password = secrets.token_urlsafe(12)
    pwfile.write_text(password + "\n")
    if as_user:
        shutil.chown(base, "postgres")
        shutil.chown(pwfile, "postgres")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    init = subprocess.run(
        [*as_user, initdb, "-D", str(data), "-U", "postgres", "--auth=scram-sha-256", f"--pwfile={pwfile}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        unavailable(f"initdb failed, password authentication not tested: {init.stderr.strip()[:300]}")
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
    start = subprocess.run(
        [*as_user, pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"],
        capture_output=True,
        text=True,
        check=False,
    )
    if start.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        unavailable(f"pg_ctl start failed, password authentication not tested: {start.stderr.strip()[:300]}")
    try:
        yield password, port
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)


def test_wrong_password_is_refused_clearly(password_server) -> None:
    password, port = password_server
    good = "postgresql://postgres:" + password + f"@127.0.0.1:{port}/postgres"
    assert db.status(good)["migrations"]
    wrong = "postgresql://postgres:" + "not-" + password + f"@127.0.0.1:{port}/postgres"
    err = _error(wrong)
    assert isinstance(err, DatabaseError) and "password authentication failed" in str(err), str(err)
    assert password not in str(err)
    missing = "postgresql://postgres@" + f"127.0.0.1:{port}/postgres"
    err = _error(missing)
    assert isinstance(err, DatabaseError), str(err)


# ------------------------------------------------------------------------------------------ injection
HOSTILE = [
    "x'; DROP TABLE shoplens.events; --",
    'x"; DROP SCHEMA shoplens CASCADE; --',
    "$$; DELETE FROM shoplens.loads; $$",
    "events; SELECT pg_sleep(10)",
    "\\'; TRUNCATE shoplens.sessions; --",
]


def test_hostile_strings_never_reach_sql(store: str, warehouse_a: Path, tmp_path: Path) -> None:
    db.load(warehouse_a, url=store)
    before = _counts(store)
    wh = db.open_warehouse(store)
    admin = store.rsplit("/", 1)[0]
    for bad in HOSTILE:
        with pytest.raises(InvalidArgumentError):
            wh.table(bad)  # table names come from a fixed list
        with pytest.raises(InvalidArgumentError):
            wh.has_table(bad)
        err = _error(with_database(admin, bad))  # a database name in the URL
        assert isinstance(err, DatabaseError)
        err = _error("postgresql://" + bad.replace(" ", "") + "@127.0.0.1:5432/postgres")  # a user name
        assert isinstance(err, DatabaseError)
    # Values (experiment and variant names, ids as text, the warehouse's own path) travel as data.
    hostile_wh = tmp_path / 'it\'s "a"; DROP TABLE shoplens.events; --'
    shutil.copytree(warehouse_a, hostile_wh)
    assignments = pl.read_parquet(warehouse_a / "assignments.parquet")
    names = assignments["experiment"].unique().sort().to_list()
    rename = {name: HOSTILE[i % len(HOSTILE)] + f" #{i}" for i, name in enumerate(names)}
    assignments = assignments.with_columns(pl.col("experiment").replace_strict(rename), pl.col("variant") + HOSTILE[1])
    assignments.write_parquet(hostile_wh / "assignments.parquet")
    weights = pl.read_parquet(warehouse_a / "experiment_weights.parquet")
    weights = weights.with_columns(pl.col("experiment").replace_strict(rename), pl.col("variant") + HOSTILE[1])
    weights.write_parquet(hostile_wh / "experiment_weights.parquet")
    db.load(hostile_wh, url=store)
    assert _counts(store) == before
    pg = db.open_warehouse(store)
    assert_frame_equal(pg.table("assignments"), assignments, check_exact=True)
    assert q(store, "SELECT warehouse FROM shoplens.loads ORDER BY load_id DESC LIMIT 1;") == [[str(hostile_wh)]]
    results = shoplens.analyze(pg).results
    assert set(results["experiment"]) == set(rename.values())
    reference = shoplens.analyze(shoplens.open_warehouse(hostile_wh)).results
    assert_frame_equal(results, reference, rel_tol=1e-12, abs_tol=1e-12)
    db.load(warehouse_a, url=store)


def test_a_warehouse_column_the_schema_lacks_is_a_clear_error(store: str, warehouse_a: Path, tmp_path: Path) -> None:
    db.load(warehouse_a, url=store)
    before = _table_digest(store, "items")
    odd = tmp_path / "odd"
    shutil.copytree(warehouse_a, odd)
    items = pl.read_parquet(odd / "items.parquet").with_columns(pl.lit(1).alias("surprise; DROP TABLE x"))
    items.write_parquet(odd / "items.parquet")
    with pytest.raises(shoplens.SchemaError, match="surprise"):
        db.load(odd, url=store)
    assert _table_digest(store, "items") == before
    with pytest.raises(MissingFileError):
        db.load(tmp_path / "nowhere", url=store)


# -------------------------------------------------------------------------------------------- Grafana
def _grafana_pg_queries() -> list[tuple[str, str, str]]:
    """(where, datasource uid, rawSql) of every dashboard panel target and alert query on PostgreSQL."""
    import yaml

    found: list[tuple[str, str, str]] = []

    def walk(where: str, node: object, uid: str | None) -> None:
        if isinstance(node, dict):
            ds = node.get("datasource")
            here = ds.get("uid") if isinstance(ds, dict) else uid
            here = node.get("datasourceUid", here)
            if "rawSql" in node:
                found.append((where, str(here), node["rawSql"]))
            for value in node.values():
                walk(where, value, here)
        elif isinstance(node, list):
            for value in node:
                walk(where, value, uid)

    for path in sorted((ROOT / "grafana").rglob("*")):
        if path.suffix == ".json":
            walk(str(path.relative_to(ROOT)), json.loads(path.read_text()), None)
        elif path.suffix in (".yaml", ".yml"):
            walk(str(path.relative_to(ROOT)), yaml.safe_load(path.read_text()), None)
    return found


def _datasource_uids() -> set[str]:
    import yaml

    uids = set()
    for path in (ROOT / "grafana" / "provisioning" / "datasources").glob("*.y*ml"):
        uids |= {ds["uid"] for ds in yaml.safe_load(path.read_text())["datasources"]}
    return uids


def _expand_macros(sql: str, start: str, end: str) -> str:
    """Grafana's PostgreSQL macros as the SQL Grafana sends for the dashboard's time range."""
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", rf"\1 BETWEEN '{start}' AND '{end}'", sql)
    sql = sql.replace("$__timeFrom()", f"'{start}'").replace("$__timeTo()", f"'{end}'")
    assert "$__" not in sql and "${" not in sql, f"unexpanded macro in {sql}"
    return sql


def test_every_grafana_query_returns_rows_as_the_read_only_role(store: str, warehouse_a: Path) -> None:
    db.load(warehouse_a, url=store)
    queries = _grafana_pg_queries()
    assert len(queries) >= 15
    uids = _datasource_uids()
    for where, uid, _ in queries:
        assert uid in uids, f"{where}: data source {uid} is not provisioned"
    role = f"shoplens_grafana_test_{secrets.token_hex(3)}"
    admin = store.rsplit("/", 1)[0] + "/postgres"
    # As docker/postgres/grafana-role.sh does (trust auth here: no password needed to log in).
    q(store, f'CREATE ROLE "{role}" LOGIN; ALTER ROLE "{role}" SET default_transaction_read_only = on;')
    q(store, f'GRANT shoplens_readonly TO "{role}";')
    try:
        first, last = q(store, 'SELECT min("timestamp"), max("timestamp") FROM shoplens.events;')[0]
        for where, _, raw in queries:
            sql = _expand_macros(raw, first, last)
            rows = q(store, sql.rstrip(";") + ";", PGUSER=role)
            assert rows, f"{where}: no rows from {sql}"
        # Read-only: the tables behind the views are not readable, and nothing is writable.
        denied = psql(store, "SELECT count(*) FROM shoplens.events;", PGUSER=role)
        assert denied.returncode != 0 and "permission denied" in denied.stderr
        denied = psql(store, "SET default_transaction_read_only = off; DELETE FROM shoplens.loads;", PGUSER=role)
        assert denied.returncode != 0 and "permission denied" in denied.stderr
    finally:
        q(store, f'DROP OWNED BY "{role}";')
        q(admin, f'DROP ROLE IF EXISTS "{role}";')


def test_grafana_views_carry_the_engine_figures(store: str, warehouse_a: Path) -> None:
    """The views only select: their numbers are the warehouse tables' numbers."""
    db.load(warehouse_a, url=store)
    daily = pl.read_parquet(warehouse_a / "kpi_daily.parquet").sort("date")
    rows = q(store, "SELECT date::text, visitors, revenue, conversion FROM shoplens.grafana_kpi_daily ORDER BY 1;")
    assert [r[0] for r in rows] == [d.isoformat() for d in daily["date"]]
    assert [int(r[1]) for r in rows] == daily["visitors"].to_list()
    assert [float(r[2]) for r in rows] == pytest.approx(daily["revenue"].to_list(), rel=1e-12)
    funnel = pl.read_parquet(warehouse_a / "funnel.parquet").filter(pl.col("level") == "user").sort("step_order")
    rows = q(store, "SELECT step, n FROM shoplens.grafana_funnel WHERE level = 'user' ORDER BY step_order;")
    assert rows == [[s, str(n)] for s, n in zip(funnel["step"], funnel["n"], strict=True)]
    report = json.loads((warehouse_a / "report.json").read_text())
    quality = q(
        store, "SELECT rows_read, kept, quarantined, duplicates_removed, balanced FROM shoplens.grafana_data_quality;"
    )
    c = report["conservation"]
    want = [str(c[k]) for k in ("rows_read", "kept", "quarantined", "duplicates_removed")]
    assert quality == [[*want, "t"]]


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_migrate_load_status(scratch_database, warehouse_a: Path, capsys) -> None:
    from shoplens.cli import main

    _, url = scratch_database
    assert main(["db", "migrate", "--database-url", url]) == 0
    assert "applied" in capsys.readouterr().out
    assert main(["db", "load", "--database-url", url, "--warehouse", str(warehouse_a)]) == 0
    out = capsys.readouterr().out
    assert f"{_expected_counts(warehouse_a)[0]:,}" in out
    assert main(["db", "status", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "last load" in out and "pending" not in out
    assert main(["db", "status", "--database-url", url + "_missing"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["db", "migrate", "--down", "--database-url", url]) == 0
    assert q(url, "SELECT to_regnamespace('shoplens') IS NULL;") == [["t"]]
