"""Cohorts: acquisition cohorts by first visit or first purchase, per day, ISO week or month; the active
share of each cohort per offset (cohort sizes shown), retention curves and cumulative revenue per user
(``shoplens.cohorts.retention``)."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Dash, Input, Output, html

from ..components import clv_figures, ids, widgets
from ..data import DataSource

PATH = "/cohorts"
NAME = "Cohorts"


def layout(source: DataSource) -> html.Div:
    return html.Div(
        [
            widgets.header(
                NAME, "Visitors grouped by the period of their first visit (or first purchase), bots excluded."
            ),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.RadioItems(
                            id=ids.COHORT_BY,
                            options=[
                                {"label": "first visit", "value": "first_visit"},
                                {"label": "first purchase", "value": "first_purchase"},
                            ],
                            value="first_visit",
                            inline=True,
                        ),
                        md="auto",
                    ),
                    dbc.Col(
                        dbc.RadioItems(
                            id=ids.COHORT_PERIOD,
                            options=[{"label": p, "value": p} for p in ("day", "week", "month")],
                            value="week",
                            inline=True,
                        ),
                        md="auto",
                    ),
                ],
                className="mb-2",
            ),
            widgets.graph(ids.COHORT_HEATMAP, height=480),
            dbc.Row(
                [dbc.Col(widgets.graph(ids.COHORT_CURVES), lg=6), dbc.Col(widgets.graph(ids.COHORT_REVENUE), lg=6)],
                className="g-3 mt-1",
            ),
        ]
    )


def update(source: DataSource, by: str | None, period: str | None, theme: str | None) -> tuple[go.Figure, ...]:
    ret = source.retention(by or "first_visit", period or "week")
    return (
        clv_figures.retention_heatmap(ret, theme),
        clv_figures.curves(ret, "active", theme, title="Retention curves (active / cohort size)", share=True),
        clv_figures.curves(ret, "cumulative_revenue_per_user", theme, title="Cumulative revenue per user", share=False),
    )


def register(app: Dash, source: DataSource) -> None:
    @app.callback(
        Output(ids.COHORT_HEATMAP, "figure"),
        Output(ids.COHORT_CURVES, "figure"),
        Output(ids.COHORT_REVENUE, "figure"),
        Input(ids.COHORT_BY, "value"),
        Input(ids.COHORT_PERIOD, "value"),
        Input(ids.THEME_STORE, "data"),
    )
    def _update(by: Any, period: Any, theme: Any) -> Any:
        return update(source, by, period, theme)
