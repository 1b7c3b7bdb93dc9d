"""Fixtures and helpers shared by the dashboard tests (imported by conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import shoplens

SMALL_SCALE = 0.05
SEED = 7
NEW_PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session")
def small_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated data set (with its injected anomalies and experiments) built into a warehouse."""
    root = tmp_path_factory.mktemp("dash-warehouse")
    raw = shoplens.generate(root / "raw", scale=SMALL_SCALE, seed=SEED).out_dir
    shoplens.build_warehouse(raw, root / "warehouse")
    return root / "warehouse"


def load_dash_package() -> Any:
    from shoplens.dashboard import load

    return load()


@dataclass
class Clock:
    """A settable clock for the login throttle."""

    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class AppUnderTest:
    app: Any
    store: Any
    clock: Clock
    password: str
    log: Any


def make_app(warehouse: Path, tmp: Path, **options: Any) -> AppUnderTest:
    """A fresh app with its own users file (admin with a one-time password) and a captured log."""
    import io

    load_dash_package()
    from shoplens_dash.app import create_app  # type: ignore[import-not-found]
    from shoplens_dash.auth_store import AuthStore  # type: ignore[import-not-found]

    clock = options.pop("clock", None) or Clock()
    auth = tmp / "users.sqlite"
    password = AuthStore(auth).ensure_admin()
    assert password is not None
    log = io.StringIO()
    app = create_app(warehouse, auth_db=auth, clock=clock, log_stream=log, **options)
    store = AuthStore(auth, clock=clock)
    return AppUnderTest(app=app, store=store, clock=clock, password=password, log=log)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the form"
    return match.group(1)


def login(client: Any, user: str, password: str, *, next_url: str = "/") -> Any:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"csrf_token": token, "username": user, "password": password, "next": next_url})


def login_and_change(client: Any, password: str, new: str = NEW_PASSWORD) -> None:
    """Sign in as admin with the one-time password and set a permanent one (as a first user must)."""
    r = login(client, "admin", password)
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/password")
    token = csrf_from(client.get("/account/password").get_data(as_text=True))
    r = client.post("/account/password", data={"csrf_token": token, "current": password, "new": new, "confirm": new})
    assert r.status_code == 302, r.get_data(as_text=True)


def iter_routes(app: Any) -> Iterator[tuple[str, str]]:
    """(method, concrete URL) for every route of the Flask server, path variables filled in."""
    for rule in app.server.url_map.iter_rules():
        url = rule.rule
        for name in rule.arguments:
            url = re.sub(rf"<(?:[^:<>]+:)?{name}>", "x/y.js" if "path" in name else "x", url)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield method, url
