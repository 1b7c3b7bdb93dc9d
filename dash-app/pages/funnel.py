"""Funnel: view -> add-to-cart -> purchase of users and of sessions (a unit reaching a later step counts at
the earlier ones; ``skipped`` says how many did so without the earlier event), drop-off, median time to each
step, and user conversion by day."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import Dash, Output, html

from ..components import ids, kpi_figures, widgets
from ..data import DataSource
from ..data.kpis import KpiFilter
from . import _kpi

PATH = "/funnel"
NAME = "Funnel"
PREFIX = "funnel"
COLUMNS = {
    "level": None,
    "step": None,
    "n": ",d",
    "rate_from_start": ".2%",
    "rate_from_previous": ".2%",
    "dropoff": ",d",
    "skipped": ",d",
    "median_seconds_to_step": ",.0f",
}


def layout(source: DataSource) -> html.Div:
    return _kpi.page(
        source,
        PREFIX,
        NAME,
        "Distinct users (or sessions) reaching each step, in order.",
        [
            dbc.Row(
                [
                    dbc.Col(widgets.graph(ids.FUNNEL_USER, height=320), lg=6),
                    dbc.Col(widgets.graph(ids.FUNNEL_SESSION, height=320), lg=6),
                ],
                className="g-3",
            ),
            widgets.loading(widgets.table(ids.FUNNEL_TABLE)),
            widgets.graph(ids.FUNNEL_BY_DAY, height=300),
        ],
    )


def update(source: DataSource, f: KpiFilter, theme: str | None) -> tuple[Any, ...]:
    users, sessions = source.kpi_funnel(f, "user"), source.kpi_funnel(f, "session")
    both = users.vstack(sessions)
    rows, cols = widgets.records(
        both.select([c for c in COLUMNS if c in both.columns]), {k: v for k, v in COLUMNS.items() if v}
    )
    daily = source.kpi_table("kpi_daily", f)
    return (
        kpi_figures.funnel(users, theme, title="Users"),
        kpi_figures.funnel(sessions, theme, title="Sessions"),
        rows,
        cols,
        kpi_figures.bars(
            daily, "date", "conversion", theme, title="User conversion by day (buyers / visitors)", pct=True
        ),
    )


def register(app: Dash, source: DataSource) -> None:
    _kpi.register(
        app,
        source,
        PREFIX,
        [
            Output(ids.FUNNEL_USER, "figure"),
            Output(ids.FUNNEL_SESSION, "figure"),
            Output(ids.FUNNEL_TABLE, "children"),
            Output(ids.FUNNEL_BY_DAY, "figure"),
        ],
        lambda source, f, theme: _with_table(update(source, f, theme)),
    )


def _with_table(out: tuple[Any, ...]) -> tuple[Any, ...]:
    user, session, rows, cols, by_day = out
    table = widgets.html_table(rows, cols) if any(r["n"] != "0" for r in rows) else widgets.empty_note()
    return user, session, table, by_day
