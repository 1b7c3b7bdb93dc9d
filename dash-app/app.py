"""The app factory: ``create_app(warehouse, ...)`` returns a secured multi-page Dash app.

Pages are registered and their callbacks attached here, on the app the factory makes (nothing is
registered at import time, so building several apps in one process, as the tests do, leaks nothing).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, dcc, html

from . import logs, security
from .auth_store import AuthStore, Throttle
from .components import ids
from .data import DataSource, open_source
from .pages import (
    behavior,
    cohorts,
    conversions,
    customer_value,
    experiments,
    funnel,
    home_kpis,
    methodology,
    planner,
    products,
    quality,
    simulator,
    traffic,
)


def _pages() -> tuple[ModuleType, ...]:
    """Pages in menu order (SPEC section 6); each module has PATH, NAME, layout(source) and register(app, source)."""
    return (
        home_kpis,
        traffic,
        behavior,
        funnel,
        conversions,
        products,
        cohorts,
        customer_value,
        experiments,
        planner,
        simulator,
        quality,
        methodology,
    )


PAGES: tuple[ModuleType, ...] = _pages()

ASSETS = Path(__file__).resolve().parent / "assets"

_THEME_JS = """
function(stored, switchOn) {
    const ctx = window.dash_clientside.callback_context;
    const fromSwitch = ctx.triggered.length && ctx.triggered[0].prop_id.startsWith('theme-switch');
    const theme = fromSwitch ? (switchOn ? 'dark' : 'light') : (stored || 'light');
    document.documentElement.setAttribute('data-bs-theme', theme);
    return [theme, theme === 'dark'];
}
"""


def _shell(pages: tuple[ModuleType, ...]) -> Callable[[], html.Div]:
    def layout() -> html.Div:
        user = flask.g.get("user") if flask.has_request_context() else None
        csrf = flask.session.get("csrf", "") if flask.has_request_context() else ""
        links = [dbc.NavItem(dbc.NavLink(p.NAME, href=p.PATH, active="exact")) for p in pages]
        navbar = dbc.Navbar(
            dbc.Container(
                [
                    dbc.NavbarBrand("shoplens", href="/"),
                    dbc.Nav(links, id=ids.NAV, className="me-auto flex-wrap", navbar=True),
                    dbc.Switch(id=ids.THEME_SWITCH, label="dark", value=False, className="me-3 mb-0"),
                    html.Span(user or "", className="me-2 small text-body-secondary"),
                    html.Form(
                        [
                            dcc.Input(type="hidden", name="csrf_token", value=csrf),
                            html.Button("Sign out", type="submit", className="btn btn-sm btn-outline-secondary"),
                        ],
                        method="post",
                        action="/logout",
                        className="mb-0",
                    ),
                ],
                fluid=True,
            ),
            color=None,
            dark=False,
            className="bg-body-tertiary border-bottom",
        )
        return html.Div(
            [
                dcc.Store(id=ids.THEME_STORE, storage_type="local"),
                navbar,
                dbc.Container(dash.page_container, fluid=True, className="pb-5"),
            ]
        )

    return layout


def _bind(layout: Callable[[DataSource], Any], source: DataSource) -> Callable[..., Any]:
    """A page's ``layout(source)`` as the no-argument layout Dash calls per visit (query args ignored)."""

    def page_layout(**_query: Any) -> Any:
        return layout(source)

    return page_layout


def create_app(
    warehouse: Any,
    *,
    auth_db: str | os.PathLike[str],
    log_file: str | os.PathLike[str] | None = None,
    secure_cookies: bool = False,
    behind_proxy: bool = False,
    rate_limit: str = "600 per minute",
    login_rate_limit: str = "30 per minute",
    throttle: Throttle | None = None,
    clock: Callable[[], float] = time.time,
    log_stream: Any = None,
) -> dash.Dash:
    """A Dash app serving ``warehouse`` (a folder, a ``postgresql://`` URL or a warehouse opened on either)
    behind the login in ``auth_db`` (the users file, or the ``postgresql://`` URL of the store whose
    ``shoplens.dashboard_users`` table holds the users).

    The Flask server is ``app.server`` (a WSGI app for gunicorn). Debug is off; every route needs a
    session except ``/login``, ``/healthz`` and the Bootstrap stylesheet.
    """
    source = open_source(warehouse)
    store = AuthStore(auth_db, throttle=throttle, clock=clock)
    logger = logs.configure(Path(log_file) if log_file else None, stream=log_stream)
    server = flask.Flask("shoplens_dash", static_folder=None)
    holder: dict[str, dash.Dash] = {}

    def script_hashes() -> list[str]:
        app = holder.get("app")
        return list(app.csp_hashes()) if app is not None else []

    security.install(
        server,
        store,
        logger,
        script_hashes=script_hashes,
        secure_cookies=secure_cookies,
        behind_proxy=behind_proxy,
        rate_limit=rate_limit,
        login_rate_limit=login_rate_limit,
    )
    app = dash.Dash(
        "shoplens_dash",
        server=server,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS),
        serve_locally=True,
        external_stylesheets=["/vendor/bootstrap.min.css"],
        title="shoplens",
        update_title=None,
        suppress_callback_exceptions=False,
        compress=False,
    )
    holder["app"] = app
    for order, page in enumerate(PAGES):
        dash.register_page(
            page.__name__,
            path=page.PATH,
            name=page.NAME,
            title=f"shoplens - {page.NAME}",
            order=order,
            layout=_bind(page.layout, source),
        )
    app.layout = _shell(PAGES)
    app.clientside_callback(
        _THEME_JS,
        Output(ids.THEME_STORE, "data"),
        Output(ids.THEME_SWITCH, "value"),
        Input(ids.THEME_STORE, "data"),
        Input(ids.THEME_SWITCH, "value"),
    )
    for page in PAGES:
        page.register(app, source)

    def warm() -> None:
        """Fill the caches every page needs (the KPI index, each page's layout data); gunicorn calls it
        in each worker before the first request (``shoplens.dashboard.serve``)."""
        started = time.perf_counter()
        source.warm()
        for page in PAGES:
            try:
                page.layout(source)
            except Exception as exc:  # the page shows its error when visited; the worker still serves
                logs.event(logger, "startup", level=logging.WARNING, detail=f"warm-up of {page.NAME}: {exc}")
        logs.event(logger, "startup", detail=f"caches warm in {time.perf_counter() - started:.1f} s")

    server.shoplens_warm = warm  # type: ignore[attr-defined]
    logs.event(logger, "startup", detail=f"warehouse {source.describe()}, users {store}", level=logging.INFO)
    return app
