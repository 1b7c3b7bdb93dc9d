"""Traffic: distinct visitors and sessions per day, ISO week or month (counted per period, never summed from
days), the hour x weekday heat map and events per session."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, html

from ..components import ids, kpi_figures, widgets
from ..data import DataSource
from ..data.kpis import KpiFilter
from . import _kpi

PATH = "/traffic"
NAME = "Traffic"
PREFIX = "traffic"
PERIOD_TABLES = {
    "day": ("kpi_daily", "date"),
    "week": ("kpi_weekly", "period_start"),
    "month": ("kpi_monthly", "period_start"),
}


def layout(source: DataSource) -> html.Div:
    return _kpi.page(
        source,
        PREFIX,
        NAME,
        "Distinct visitors are counted within each period (a weekly figure is not a sum of daily ones).",
        [
            dbc.RadioItems(
                id=ids.TRAFFIC_PERIOD,
                options=[{"label": p, "value": p} for p in PERIOD_TABLES],
                value="day",
                inline=True,
                className="mb-2",
            ),
            widgets.loading(html.Div(id=ids.TRAFFIC_EPS)),
            dbc.Row(
                [
                    dbc.Col(widgets.graph(ids.TRAFFIC_SERIES), lg=7),
                    dbc.Col(widgets.graph(ids.TRAFFIC_HEATMAP), lg=5),
                ],
                className="g-3 mt-1",
            ),
        ],
    )


def update(source: DataSource, f: KpiFilter, theme: str | None, period: str | None) -> tuple[Any, ...]:
    name, x = PERIOD_TABLES.get(period or "day", PERIOD_TABLES["day"])
    head = source.kpi_headline(f)
    if not head.get("visitors"):
        return widgets.empty_note(), kpi_figures.empty(theme), kpi_figures.empty(theme)
    eps = head.get("events_per_session")
    note = widgets.card(
        "Events per session",
        "-" if eps is None else f"{eps:.2f}",
        note=f"{head['session_events']:,} events / {head['sessions']:,} sessions",
    )
    series = kpi_figures.periods(
        source.kpi_table(name, f), theme, title=f"Distinct visitors per {period or 'day'}", x=x
    )
    heat = kpi_figures.heatmap(
        source.kpi_table("kpi_hour_weekday", f), "visitors", theme, title="Distinct visitors, hour x weekday (UTC)"
    )
    return dbc.Row(dbc.Col(note, md=3)), series, heat


def register(app: Dash, source: DataSource) -> None:
    _kpi.register(
        app,
        source,
        PREFIX,
        [
            Output(ids.TRAFFIC_EPS, "children"),
            Output(ids.TRAFFIC_SERIES, "figure"),
            Output(ids.TRAFFIC_HEATMAP, "figure"),
        ],
        update,
        [Input(ids.TRAFFIC_PERIOD, "value")],
    )
