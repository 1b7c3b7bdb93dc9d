"""The dashboard on PostgreSQL (``shoplens serve --database-url``): the data layer on the last load gives
the same frames as on the folder it was loaded from, the app serves every page with its users in the
store's ``shoplens.dashboard_users`` table (argon2 hashes, a lock-out that holds across processes), and
``shoplens serve --database-url`` starts under gunicorn. Real PostgreSQL, a database of its own."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import shoplens.db as db
import shoplens.kpis as kpis
from dash_support import NEW_PASSWORD, Clock, csrf_from, load_dash_package, login, login_and_change, make_app
from pg_support import own_database, psql

USERS_TABLES = ("shoplens.dashboard_users", "shoplens.dashboard_failures", "shoplens.dashboard_meta")


@pytest.fixture(scope="module")
def store(small_warehouse: Path) -> Iterator[str]:
    """A database of its own, migrated, with ``small_warehouse`` loaded (URL)."""
    with own_database("shoplens_dash") as (_, url):
        db.migrate(url)
        db.load(small_warehouse, url=url)
        yield url


@pytest.fixture
def fresh_users(store: str) -> str:
    """The store with no dashboard user, failure or secret key yet (URL)."""
    run = psql(store, f"TRUNCATE {', '.join(USERS_TABLES)};")
    assert run.returncode == 0, run.stderr
    return store


@pytest.fixture(scope="module")
def sources(small_warehouse: Path, store: str) -> tuple[Any, Any]:
    """(the folder's DataSource, the store's DataSource)."""
    load_dash_package()
    from shoplens_dash.data import open_source  # type: ignore[import-not-found]

    return open_source(small_warehouse), open_source(store)


def _same(a: pl.DataFrame, b: pl.DataFrame, what: str) -> None:
    assert a.columns == b.columns, what
    assert_frame_equal(a, b, check_exact=False, rel_tol=1e-9, abs_tol=1e-12), what


def _filters(source: Any) -> list[Any]:
    from shoplens_dash.data.kpis import KpiFilter  # type: ignore[import-not-found]

    first, last = source.date_bounds()
    mid = first + (last - first) / 2
    return [KpiFilter(), KpiFilter(start=mid, end=last, days="weekends", include_bots=True)]


# --- the data layer ------------------------------------------------------------------------------------


def test_the_source_reads_postgres_not_the_folder(sources) -> None:
    folder, pg = sources
    assert isinstance(pg.warehouse, db.PgWarehouse)
    assert pg.describe().startswith("postgresql://") and folder.describe().endswith("warehouse")
    stamp = pg.stamp()
    assert isinstance(stamp, int) and pg.stamp() == stamp


def test_headline_and_kpi_tables_equal_the_folders(sources) -> None:
    folder, pg = sources
    assert pg.date_bounds() == folder.date_bounds()
    assert pg.root_categories() == folder.root_categories()
    for f in _filters(folder):
        assert pg.kpi_headline(f) == pytest.approx(folder.kpi_headline(f), rel=1e-12)
        names = ("kpi_daily", "funnel", "kpi_hour_weekday", "products")
        got, want = pg.kpi_tables(names, f), folder.kpi_tables(names, f)
        for name in names:
            _same(got[name], want[name], f"{name} {f}")


def test_report_conservation_and_quarantine_equal_the_folders(sources) -> None:
    folder, pg = sources
    assert pg.report() == folder.report()
    _same(pg.conservation(), folder.conservation(), "conservation")
    _same(pg.quarantine_by_rule(), folder.quarantine_by_rule(), "quarantine by rule")
    got, n = pg.quarantine_page(0, 50)
    want, m = folder.quarantine_page(0, 50)
    assert n == m
    key = [c for c in ("source", "line") if c in want.columns]
    _same(got.sort(key), want.sort(key), "quarantine page")
    a, b = pg.anomalies(), folder.anomalies()
    assert (a is None) == (b is None)
    if a is not None and b is not None:
        _same(a.sort(a.columns[:2]), b.sort(b.columns[:2]), "anomalies")


def test_experiments_equal_the_folders(sources) -> None:
    folder, pg = sources
    listing = folder.experiments()
    assert listing.height > 0, "the generated data has experiments"
    _same(pg.experiments(), listing, "experiments")
    name = listing["experiment"][0]
    order = ["metric", "variant"]
    want = folder.experiment_results(name)
    _same(pg.experiment_results(name).sort(order), want.sort(order), "results")
    _same(pg.experiment_bayes(name), folder.experiment_bayes(name), "bayes")


def test_retention_and_customers_equal_the_folders(sources) -> None:
    folder, pg = sources
    for by, period in (("first_visit", "week"), ("first_purchase", "month")):
        want = folder.retention(by, period)
        order = want.columns[:3]
        _same(pg.retention(by, period).sort(order), want.sort(order), f"retention {by} {period}")
    want = folder.customers()
    key = want.columns[0]
    _same(pg.customers().sort(key), want.sort(key), "customers")


def test_a_new_load_is_seen_after_the_recheck(small_warehouse: Path, store: str) -> None:
    load_dash_package()
    from shoplens_dash.data import DataSource  # type: ignore[import-not-found]

    source = DataSource(store, recheck_s=0.0)
    before = source.stamp()
    headline = source.kpi_headline(_filters(source)[0])
    users = _auth_store(store, Clock())
    users.add_user("kept-across-loads", "a-long-enough-password", must_change=False)
    db.load(small_warehouse, url=store)
    after = source.stamp()
    assert after > before
    assert source.report() == json.loads((small_warehouse / "report.json").read_text())
    assert source.kpi_headline(_filters(source)[0]) == headline
    # A load swaps the warehouse's tables only: the dashboard's users stay.
    assert users.verify("kept-across-loads", "a-long-enough-password")


# --- users in PostgreSQL -------------------------------------------------------------------------------


def _auth_store(url: str, clock: Clock) -> Any:
    load_dash_package()
    from shoplens_dash.auth_store import AuthStore  # type: ignore[import-not-found]

    return AuthStore(url, clock=clock)


def test_lockout_holds_across_two_stores(fresh_users: str) -> None:
    """Two AuthStore instances on one database are two gunicorn workers' (or hosts') view of the users."""
    clock = Clock()
    one, two = _auth_store(fresh_users, clock), _auth_store(fresh_users, clock)
    password = one.ensure_admin()
    assert password is not None and two.ensure_admin() is None
    keys = ("user:admin", "ip:10.0.0.1")
    for i in range(5):
        assert one.locked_for(keys) == 0.0 and two.locked_for(keys) == 0.0
        (one if i % 2 else two).record_failure(keys)
    assert one.locked_for(keys) == pytest.approx(60.0) and two.locked_for(keys) == pytest.approx(60.0)
    two.record_failure(keys)  # a 6th failure while locked doubles the back-off, seen by the other store too
    assert one.locked_for(["user:admin"]) == pytest.approx(120.0)
    clock.now += 121
    assert one.locked_for(keys) == 0.0
    one.clear_failures(keys)
    assert two.locked_for(keys) == 0.0
    assert one.verify("admin", password) and two.verify("admin", password)
    assert one.secret_key() == two.secret_key()


def test_a_dropped_connection_is_replaced(fresh_users: str) -> None:
    """The store keeps a connection per thread; when the server drops it (a restart), the next call
    opens another instead of failing."""
    store = _auth_store(fresh_users, Clock())
    password = store.ensure_admin()
    assert store.verify("admin", password)
    kill = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'shoplens-dashboard';"
    )
    assert int(psql(fresh_users, kill).stdout) >= 1
    assert store.verify("admin", password) and store.user("admin") is not None
    store.close()


def test_concurrent_failures_are_all_counted(fresh_users: str) -> None:
    """Failures recorded at once by several processes are all counted (atomic upserts)."""
    code = (
        "import sys; sys.path.insert(0, 'tests'); from dash_support import load_dash_package; "
        "load_dash_package(); from shoplens_dash.auth_store import AuthStore; "
        "s = AuthStore(sys.argv[1]); [s.record_failure(['ip:10.9.9.9']) for _ in range(10)]"
    )
    root = Path(__file__).resolve().parents[1]
    procs = [subprocess.Popen([sys.executable, "-c", code, fresh_users], cwd=root) for _ in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    run = psql(fresh_users, "SELECT count FROM shoplens.dashboard_failures WHERE key = 'ip:10.9.9.9';")
    assert run.stdout.split() == ["40"]


def test_users_table_holds_argon2_hashes_only(fresh_users: str) -> None:
    store = _auth_store(fresh_users, Clock())
    password = store.ensure_admin()
    assert password is not None
    store.add_user("ann", "a-long-enough-password")
    rows = psql(fresh_users, "SELECT name, hash FROM shoplens.dashboard_users ORDER BY name;").stdout.splitlines()
    assert [r.split("\t")[0] for r in rows] == ["admin", "ann"]
    assert all(r.split("\t")[1].startswith("$argon2id$") for r in rows)
    dump = psql(fresh_users, "SELECT t::text FROM shoplens.dashboard_users t;").stdout
    assert password not in dump and "a-long-enough-password" not in dump
    # Grafana's read-only role cannot read them.
    grants = psql(
        fresh_users,
        "SELECT count(*) FROM information_schema.role_table_grants "
        "WHERE grantee = 'shoplens_readonly' AND table_name LIKE 'dashboard_%';",
    )
    assert grants.stdout.split() == ["0"]


# --- the app on PostgreSQL -----------------------------------------------------------------------------


def _app(url: str, **options: Any) -> Any:
    """``make_app`` with the store as the data and the users (make_app's users file is left unused)."""
    import io

    load_dash_package()
    from shoplens_dash.app import create_app  # type: ignore[import-not-found]

    clock = Clock()
    password = _auth_store(url, clock).ensure_admin()
    assert password is not None
    log = io.StringIO()
    app = create_app(url, auth_db=url, clock=clock, log_stream=log, **options)
    return app, password, log


def _dependency(deps: list[dict[str, Any]], output: str) -> dict[str, Any]:
    return next(d for d in deps if d["output"] == output)


def _post(client: Any, dep: dict[str, Any], values: dict[str, Any]) -> Any:
    token = _csrf(client)
    spec = dep["output"]
    parts = spec[2:-2].split("...") if spec.startswith("..") else [spec]
    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True)) for part in parts]
    body = {
        "output": spec,
        "outputs": outputs if spec.startswith("..") else outputs[0],
        "inputs": [
            {"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")}
            for i in dep["inputs"]
        ],
        "state": [{"id": s["id"], "property": s["property"]} for s in dep.get("state", [])],
        "changedPropIds": [],
    }
    return client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": token})


def _csrf(client: Any) -> str:
    with client.session_transaction() as session:
        return str(session["csrf"])


def test_the_app_on_postgres_serves_every_page(fresh_users: str, small_warehouse: Path) -> None:
    from dash_browser import PAGES

    app, password, log = _app(fresh_users)
    client = app.server.test_client()
    assert client.get("/").status_code == 302
    r = login(client, "admin", password)
    assert r.status_code == 302 and r.headers["Location"] == "/account/password"  # forced change
    token = csrf_from(client.get("/account/password").get_data(as_text=True))
    form = {"csrf_token": token, "current": password, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert client.post("/account/password", data=form).status_code == 302
    assert client.get("/_dash-layout").status_code == 200
    deps = client.get("/_dash-dependencies").get_json()
    content = next(d for d in deps if "_pages_content" in d["output"])
    for path in PAGES:
        assert client.get(path).status_code == 200, path
        r = _post(client, content, {"_pages_location.pathname": path, "_pages_location.search": ""})
        assert r.status_code == 200, (path, r.get_data(as_text=True)[:500])
        assert "Traceback" not in r.get_data(as_text=True)

    # A Home callback: the cards show shoplens.kpis.headline of the PgWarehouse.
    load_dash_package()
    from shoplens_dash.components import ids  # type: ignore[import-not-found]

    wh = db.open_warehouse(fresh_users)
    first = dt.datetime.fromtimestamp(wh.report["events"]["min_ts"] / 1000, dt.UTC).date()
    start, end = first, first + dt.timedelta(days=13)
    ref = kpis.headline(wh, start=start, end=end, days="weekdays").row(0, named=True)
    values = {
        f"{ids.HOME_DATES}.start_date": start.isoformat(),
        f"{ids.HOME_DATES}.end_date": end.isoformat(),
        f"{ids.HOME_DAYS}.value": "weekdays",
        f"{ids.HOME_SEGMENT}.value": "all",
        f"{ids.HOME_BOTS}.value": False,
    }
    r = _post(client, _dependency(deps, f"{ids.HOME_CARDS}.children"), values)
    assert r.status_code == 200
    shown = r.get_data(as_text=True)
    for text in (f"{ref['visitors']:,d}", f"{ref['revenue']:,.2f}", f"{ref['conversion']:.3%}"):
        assert f'"{text}"' in shown, text
    startup = [json.loads(line) for line in log.getvalue().splitlines() if '"startup"' in line]
    assert any("postgresql://" in e.get("detail", "") for e in startup)


def _components(node: Any, found: dict[str, dict[str, Any]]) -> None:
    """Every component of a layout (Dash's JSON) with a string id: id -> props."""
    if isinstance(node, list):
        for child in node:
            _components(child, found)
    elif isinstance(node, dict):
        props = node.get("props") if "type" in node else None
        if isinstance(props, dict) and isinstance(props.get("id"), str):
            found[props["id"]] = props
        for child in (props or node).values():
            _components(child, found)


def _answers(client: Any) -> dict[str, Any]:
    """What a browser would get: every page's layout, then every callback posted with the initial values
    its inputs have in those layouts (signed-in client)."""
    from dash_browser import PAGES

    deps = client.get("/_dash-dependencies").get_json()
    content = next(d for d in deps if "_pages_content" in d["output"])
    found: dict[str, dict[str, Any]] = {}
    _components(client.get("/_dash-layout").get_json(), found)
    answers: dict[str, Any] = {}
    for path in PAGES:
        r = _post(client, content, {"_pages_location.pathname": path, "_pages_location.search": ""})
        answers[path] = (r.status_code, r.get_json())
        _components(r.get_json(), found)
    for dep in deps:
        if dep.get("clientside_function") or "_pages" in dep["output"]:
            continue
        if not all(i["id"] in found for i in dep["inputs"] + dep.get("state", [])):
            continue
        values = {f"{i['id']}.{i['property']}": found[i["id"]].get(i["property"]) for i in dep["inputs"]}
        r = _post(client, dep, values)
        answers[dep["output"]] = (r.status_code, r.get_json())
    return answers


def test_every_page_and_callback_equals_the_folder_apps(
    fresh_users: str, small_warehouse: Path, tmp_path: Path
) -> None:
    """Same pages, same numbers: the app on PostgreSQL answers every page and every callback (with the
    pages' initial inputs) as the app on the folder that was loaded."""
    folder = make_app(small_warehouse, tmp_path)
    folder_client = folder.app.server.test_client()
    login_and_change(folder_client, folder.password)
    pg, password, _ = _app(fresh_users)
    pg_client = pg.server.test_client()
    login_and_change(pg_client, password)
    want, got = _answers(folder_client), _answers(pg_client)
    assert len(want) > 2 * 13, "every page and its callbacks"
    assert all(status == 200 for status, _ in want.values())
    assert got.keys() == want.keys()
    for what in want:
        _assert_same_answer(got[what], want[what], what)


def _assert_same_answer(got: Any, want: Any, where: str) -> None:
    """Equal JSON, numbers to 1e-9 relative (polars' multi-threaded float sums, e.g. the planner's
    baseline, are not bit-reproducible from one computation to the next, folder or not)."""
    if isinstance(want, float) or isinstance(got, float):
        assert isinstance(got, int | float) and isinstance(want, int | float), where
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), (where, got, want)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for key in want:
            _assert_same_answer(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list | tuple):
        assert isinstance(got, list | tuple) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _assert_same_answer(g, w, f"{where}[{i}]")
    else:
        assert got == want, where


def test_folder_apps_keep_their_users_file(small_warehouse: Path, tmp_path: Path) -> None:
    """The folder backend is unchanged: a users file, mode 0600 (the security tests cover the rest)."""
    t = make_app(small_warehouse, tmp_path)
    assert str(t.store).endswith("users.sqlite")
    login_and_change(t.app.server.test_client(), t.password)


# --- shoplens serve --database-url ---------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _status(url: str) -> tuple[int, str]:
    """(HTTP status, Location) of a GET that does not follow redirects; (0, "") when nothing answers."""
    try:
        with urllib.request.build_opener(_NoRedirect).open(url, timeout=2) as r:
            return r.status, ""
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, exc.headers.get("Location", "")
    except OSError:
        return 0, ""


def test_serve_database_url_end_to_end(fresh_users: str, tmp_path: Path) -> None:
    from dash_browser import Server, free_port

    port = free_port()
    err_path = tmp_path / "serve.stderr"
    cmd = [sys.executable, "-m", "shoplens", "serve", "--database-url", fresh_users, "--port", str(port)]
    cmd += ["--workers", "2", "--threads", "2"]  # two forked workers: each opens the store itself
    with open(err_path, "w") as err:
        # No --log-file: the default ./shoplens-dashboard.log in the working directory.
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=tmp_path)
    server = Server(proc, f"http://127.0.0.1:{port}", "", tmp_path / "shoplens-dashboard.log")
    try:
        for _ in range(600):  # polls 0.2 s apart until the server answers (or exits)
            if _status(server.base + "/healthz")[0] == 200:
                break
            assert proc.poll() is None, err_path.read_text()[-2000:]
            time.sleep(0.2)
        else:
            pytest.fail("shoplens serve never answered /healthz (600 polls): " + err_path.read_text()[-2000:])
        text = err_path.read_text()
        password = re.search(r"one-time password: (\S+)", text)
        assert password, text
        assert "dashboard on http" in text and fresh_users.split("@")[-1] in text
        assert _status(server.base + "/login") == (200, "")
        status, location = _status(server.base + "/")
        assert status == 302 and location.startswith("/login")
        # Sign in with the one-time password (checked in PostgreSQL by a worker): sent to change it.
        browser = urllib.request.build_opener(_NoRedirect, urllib.request.HTTPCookieProcessor())
        with browser.open(server.base + "/login", timeout=5) as r:
            token = csrf_from(r.read().decode())
        form = {"csrf_token": token, "username": "admin", "password": password.group(1), "next": "/"}
        with pytest.raises(urllib.error.HTTPError) as answer:
            browser.open(server.base + "/login", data=urllib.parse.urlencode(form).encode(), timeout=10)
        answer.value.close()
        assert answer.value.code == 302 and answer.value.headers["Location"] == "/account/password"
        # The user is in PostgreSQL and must change the one-time password.
        rows = psql(fresh_users, "SELECT name, must_change FROM shoplens.dashboard_users;").stdout.split()
        assert rows == ["admin", "1"]
        assert server.log_file.is_file()
    finally:
        server.stop()


def test_serve_needs_a_source_and_reads_the_environment(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from shoplens.cli import main

    monkeypatch.delenv(db.URL_ENV, raising=False)
    assert main(["serve"]) == 2
    hidden = "postgresql://postgres:" + "hunter2"  # a password that must never be shown
    assert main(["serve", "--database-url", hidden + "@127.0.0.1:1/none"]) == 1
    # Without --warehouse or --database-url, serve reads $SHOPLENS_DATABASE_URL.
    monkeypatch.setenv(db.URL_ENV, hidden + "@127.0.0.1:2/none")
    assert main(["serve"]) == 1
    err = capsys.readouterr().err
    assert "127.0.0.1:1/none" in err and "127.0.0.1:2/none" in err and "hunter2" not in err
