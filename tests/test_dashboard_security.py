"""The dashboard's security layer over HTTP (Flask's test client, no browser): every route refuses a
request without a session, the login throttle, CSRF, rate limits, cookies, headers and the JSON log."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from dash_browser import PAGES as PAGE_NAMES
from dash_support import NEW_PASSWORD, csrf_from, iter_routes, login, login_and_change, make_app

PUBLIC = {"/login", "/healthz", "/vendor/bootstrap.min.css"}
PAGES = list(PAGE_NAMES)


@pytest.fixture
def under_test(small_warehouse: Path, tmp_path: Path):
    return make_app(small_warehouse, tmp_path)


def test_every_route_refuses_without_a_session(under_test) -> None:
    client = under_test.app.server.test_client()
    routes = list(iter_routes(under_test.app))
    paths = {url for _, url in routes}
    # The routes that matter are really there (so the loop below covers them).
    for needed in ("/_dash-layout", "/_dash-dependencies", "/_dash-update-component", "/account/password"):
        assert needed in paths
    assert any(p.startswith("/_dash-component-suites/") for p in paths)
    checked = 0
    for method, url in routes:
        if url in PUBLIC:
            continue
        r = client.open(url, method=method)
        assert r.status_code in (302, 401, 403), (method, url, r.status_code)
        if r.status_code == 302:
            assert r.headers["Location"].startswith("/login"), (method, url)
        checked += 1
    assert checked >= 8
    # A real component-suite file and the pages, as a browser would ask for them.
    for url in [*PAGES, "/_dash-component-suites/dash/dcc/dash_core_components.js", "/assets/shoplens.css"]:
        assert client.get(url).status_code in (302, 401), url
    r = client.post("/_dash-update-component", json={"output": "x.children", "inputs": []})
    assert r.status_code == 401


def test_public_routes_are_only_the_login_and_its_stylesheet(under_test) -> None:
    client = under_test.app.server.test_client()
    assert client.get("/login").status_code == 200
    css = client.get("/vendor/bootstrap.min.css")
    body = css.get_data()
    css.close()
    assert css.status_code == 200 and css.mimetype == "text/css" and b"Bootstrap" in body[:200]
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_first_login_forces_a_password_change(under_test) -> None:
    client = under_test.app.server.test_client()
    r = login(client, "admin", under_test.password)
    assert r.status_code == 302 and r.headers["Location"] == "/account/password"
    # Until the password is changed, no page and no Dash endpoint is served.
    assert client.get("/experiments").headers["Location"] == "/account/password"
    assert client.get("/_dash-layout").status_code == 403
    token = csrf_from(client.get("/account/password").get_data(as_text=True))
    too_short = {"csrf_token": token, "current": under_test.password, "new": "short", "confirm": "short"}
    assert client.post("/account/password", data=too_short).status_code == 400
    same = {
        "csrf_token": token,
        "current": under_test.password,
        "new": under_test.password,
        "confirm": under_test.password,
    }
    assert client.post("/account/password", data=same).status_code == 400
    ok = {"csrf_token": token, "current": under_test.password, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert client.post("/account/password", data=ok).status_code == 302
    assert client.get("/_dash-layout").status_code == 200
    # The one-time password no longer works.
    other = under_test.app.server.test_client()
    assert login(other, "admin", under_test.password).status_code == 401
    assert login(other, "admin", NEW_PASSWORD).status_code == 302


def test_lockout_refuses_the_right_password_until_the_backoff_expires(under_test) -> None:
    client = under_test.app.server.test_client()
    login_and_change(client, under_test.password)
    attacker = under_test.app.server.test_client()
    for _ in range(5):
        assert login(attacker, "admin", "not-the-password").status_code == 401
    r = login(attacker, "admin", NEW_PASSWORD)
    assert r.status_code == 429, "the 6th attempt must be refused even with the right password"
    assert "Try again in 60 s" in r.get_data(as_text=True)
    under_test.clock.now += 59
    assert login(attacker, "admin", NEW_PASSWORD).status_code == 429
    under_test.clock.now += 2
    r = login(attacker, "admin", NEW_PASSWORD)
    assert r.status_code == 302 and r.headers["Location"] == "/"
    log = [json.loads(line) for line in under_test.log.getvalue().splitlines()]
    outcomes = [e["outcome"] for e in log if e["event"] == "login"]
    assert outcomes.count("failure") == 5 and outcomes.count("locked") == 2 and outcomes[-1] == "success"


def test_backoff_doubles_and_the_address_is_locked_too(under_test) -> None:
    client = under_test.app.server.test_client()
    for i in range(5):  # five different (unknown) accounts from one address
        assert login(client, f"user{i}", "whatever-password").status_code == 401
    assert login(client, "admin", under_test.password).status_code == 429  # the address is locked
    under_test.clock.now += 61
    assert login(client, "user9", "still-wrong").status_code == 401  # 6th failure: 120 s now
    under_test.clock.now += 100
    assert login(client, "admin", under_test.password).status_code == 429
    under_test.clock.now += 21
    assert login(client, "admin", under_test.password).status_code == 302


def test_session_cookie_flags_and_security_headers(small_warehouse: Path, tmp_path: Path) -> None:
    t = make_app(small_warehouse, tmp_path, secure_cookies=True)
    client = t.app.server.test_client()
    page = client.get("/login")
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    for r in (page, client.get("/experiments")):
        h = r.headers
        csp = h["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert "'unsafe-eval'" not in csp and "script-src 'self'" in csp
        assert h["X-Frame-Options"] == "DENY"
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "same-origin"
        assert h["Strict-Transport-Security"].startswith("max-age=")


def test_plain_http_cookies_are_not_secure_and_debug_is_off(under_test) -> None:
    client = under_test.app.server.test_client()
    cookie = client.get("/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert under_test.app.server.debug is False
    assert under_test.app.server.config["DEBUG"] is False


def test_csrf_is_required_for_callbacks_and_forms(under_test) -> None:
    client = under_test.app.server.test_client()
    login_and_change(client, under_test.password)
    body = {
        "output": "nav.children",
        "outputs": {"id": "nav", "property": "children"},
        "inputs": [],
        "changedPropIds": [],
    }
    assert client.post("/_dash-update-component", json=body).status_code == 403
    assert client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": "forged"}).status_code == 403
    # The login form without its token is refused too.
    other = under_test.app.server.test_client()
    other.get("/login")
    r = other.post("/login", data={"username": "admin", "password": NEW_PASSWORD})
    assert r.status_code == 400


def test_rate_limit_covers_callbacks(small_warehouse: Path, tmp_path: Path) -> None:
    t = make_app(small_warehouse, tmp_path, rate_limit="6 per minute")
    client = t.app.server.test_client()
    login_and_change(client, t.password)
    statuses = [client.get("/_dash-dependencies").status_code for _ in range(8)]
    assert 429 in statuses and statuses[0] == 200
    log = [json.loads(line) for line in t.log.getvalue().splitlines()]
    assert any(e["event"] == "rate_limited" and e["user"] == "admin" for e in log)


def test_users_file_is_private_and_holds_no_plain_password(under_test, tmp_path: Path) -> None:
    path = tmp_path / "users.sqlite"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert under_test.password.encode() not in path.read_bytes()
    assert b"$argon2id$" in path.read_bytes()
    assert under_test.store.ensure_admin() is None  # never a second one-time password


def test_logs_are_json_lines_with_the_documented_fields(under_test) -> None:
    client = under_test.app.server.test_client()
    login_and_change(client, under_test.password)
    client.get("/experiments")
    lines = under_test.log.getvalue().splitlines()
    assert lines
    for line in lines:
        record = json.loads(line)
        for key in ("time", "level", "event", "user", "path", "status", "latency_ms", "remote_addr", "outcome"):
            assert key in record
    requests = [json.loads(line) for line in lines if '"event":"request"' in line]
    page = next(r for r in requests if r["path"] == "/experiments")
    assert page["user"] == "admin" and page["status"] == 200 and page["latency_ms"] >= 0
    assert under_test.password not in under_test.log.getvalue()
    assert NEW_PASSWORD not in under_test.log.getvalue()


def test_open_redirect_after_login_is_refused(under_test) -> None:
    client = under_test.app.server.test_client()
    login_and_change(client, under_test.password)
    client.post("/logout", data={"csrf_token": csrf_from_session(client)})
    r = login(client, "admin", NEW_PASSWORD, next_url="//evil.example/")
    assert r.status_code == 302 and r.headers["Location"] == "/"


def csrf_from_session(client) -> str:
    with client.session_transaction() as s:
        return str(s["csrf"])


def test_logout_ends_the_session(under_test) -> None:
    client = under_test.app.server.test_client()
    login_and_change(client, under_test.password)
    assert client.get("/_dash-layout").status_code == 200
    assert client.post("/logout").status_code == 403  # no CSRF token
    assert client.post("/logout", data={"csrf_token": csrf_from_session(client)}).status_code == 302
    assert client.get("/_dash-layout").status_code == 401


def _assert_security_headers(h, where: str) -> None:
    csp = h.get("Content-Security-Policy", "")
    for part in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'"):
        assert part in csp, (where, part)
    assert "'unsafe-eval'" not in csp and "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0], where
    assert h.get("X-Content-Type-Options") == "nosniff", where
    assert h.get("X-Frame-Options") == "DENY", where
    assert h.get("Referrer-Policy") == "same-origin", where
    assert h.get("Cross-Origin-Opener-Policy") == "same-origin", where
    assert "camera=()" in h.get("Permissions-Policy", ""), where


def test_every_callback_of_every_page_refuses_without_a_session(under_test) -> None:
    """Each registered callback, posted as the browser would (well-formed body, a CSRF header), is refused
    without a session; with a session and the token the same body is answered."""
    signed_in = under_test.app.server.test_client()
    login_and_change(signed_in, under_test.password)
    deps = signed_in.get("/_dash-dependencies").get_json()
    assert len(deps) >= len(PAGES), "every page registers at least one callback"
    anonymous = under_test.app.server.test_client()
    for cb in deps:
        if cb.get("clientside_function"):
            continue
        body = {
            "output": cb["output"],
            "outputs": [],
            "inputs": [{"id": i["id"], "property": i["property"], "value": None} for i in cb["inputs"]],
            "state": [{"id": s["id"], "property": s["property"]} for s in cb.get("state", [])],
            "changedPropIds": [],
        }
        r = anonymous.post("/_dash-update-component", json=body, headers={"X-CSRFToken": "guess"})
        assert r.status_code == 401, (cb["output"], r.status_code)
        _assert_security_headers(r.headers, cb["output"])


def test_headers_on_refusals_pages_and_callbacks(under_test) -> None:
    anonymous = under_test.app.server.test_client()
    for r, where in (
        (anonymous.get("/"), "redirect to login"),
        (anonymous.get("/_dash-layout"), "401 on a Dash endpoint"),
        (anonymous.get("/login"), "login page"),
    ):
        _assert_security_headers(r.headers, where)
        assert r.headers.get("Cache-Control") == "no-store", where
    client = under_test.app.server.test_client()
    login_and_change(client, under_test.password)
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 200, path
        _assert_security_headers(r.headers, path)
        assert r.headers.get("Cache-Control") == "no-store", path
    r = client.get("/_dash-layout")
    assert r.status_code == 200 and r.headers.get("Cache-Control") == "no-store"
    _assert_security_headers(r.headers, "/_dash-layout")
    assert r.headers["Content-Type"].startswith("application/json")
