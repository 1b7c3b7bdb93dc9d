"""Behavior: bounce rate, session duration (of sessions with two or more events: a one-event session has no
measurable duration), events per session, cart abandonment, and where sessions drop off."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import polars as pl
from dash import Dash, Output, html

from ..components import ids, kpi_figures, widgets
from ..data import DataSource
from ..data.kpis import KpiFilter
from . import _kpi

PATH = "/behavior"
NAME = "Behavior"
PREFIX = "behavior"


def layout(source: DataSource) -> html.Div:
    return _kpi.cards_and_two_charts(
        source,
        PREFIX,
        NAME,
        "Sessions: 30 minutes of inactivity end one. Each rate names what it counts.",
        ids.BEHAVIOR_CARDS,
        ids.BEHAVIOR_DROPOFF,
        ids.BEHAVIOR_HOURS,
    )


def update(source: DataSource, f: KpiFilter, theme: str | None) -> tuple[Any, ...]:
    h = source.kpi_headline(f)
    if not h.get("sessions"):
        return widgets.empty_note(), kpi_figures.empty(theme), kpi_figures.empty(theme)
    cards = [
        widgets.card(
            "Bounce rate",
            _kpi.fmt(h["bounce_rate"], ".1%"),
            note=f"{h['bounces']:,} one-event sessions / {h['sessions']:,}",
        ),
        widgets.card(
            "Median session duration",
            _kpi.fmt(h["median_session_duration_s"], ",.0f") + " s",
            note=f"over the {h['multi_event_sessions']:,} sessions with 2+ events",
        ),
        widgets.card("Events per session", _kpi.fmt(h["events_per_session"], ".2f")),
        widgets.card(
            "Cart abandonment",
            _kpi.fmt(h["cart_abandonment"], ".1%"),
            note=f"{h['abandoned_sessions']:,} of {h['cart_sessions']:,} sessions with a cart bought nothing",
        ),
    ]
    steps = source.kpi_funnel(f, "session")
    drop = steps.filter(pl.col("step_order") > 1)
    return (
        dbc.Row([dbc.Col(c, md=3) for c in cards], className="g-3"),
        kpi_figures.bars(drop, "step", "dropoff", theme, title="Sessions lost before each step"),
        kpi_figures.heatmap(
            source.kpi_table("kpi_hour_weekday", f), "events", theme, title="Events, hour x weekday (UTC)"
        ),
    )


def register(app: Dash, source: DataSource) -> None:
    _kpi.register(
        app,
        source,
        PREFIX,
        [
            Output(ids.BEHAVIOR_CARDS, "children"),
            Output(ids.BEHAVIOR_DROPOFF, "figure"),
            Output(ids.BEHAVIOR_HOURS, "figure"),
        ],
        update,
    )
