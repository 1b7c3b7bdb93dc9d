"""Home: what the warehouse holds (from the engine's build report) and the state of every experiment."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import Dash, dcc, html

from ..components import widgets
from ..data import DataSource
from .quality import _when

PATH = "/"
NAME = "Home"


def layout(source: DataSource) -> html.Div:
    ev = source.event_summary()
    by_event = dict(ev.get("by_event", []))
    cards = [
        widgets.card("Visitors", f"{ev['visitors']:,}", note=f"{ev['bot_visitors']:,} flagged as bots"),
        widgets.card("Sessions", f"{ev['sessions']:,}", note="30-minute inactivity rule"),
        widgets.card("Events kept", f"{ev['kept']:,}", note=f"of {ev['rows_read']:,} rows read"),
    ] + [widgets.card(f"{name} events", f"{n:,}") for name, n in sorted(by_event.items())]
    listing = source.experiments()
    exp_part: Any
    if listing.height == 0:
        exp_part = widgets.empty_note("no experiments in this warehouse")
    else:
        rows, cols = widgets.records(
            listing.select("experiment", "status", "variants", "assigned", "first_assigned", "last_assigned"),
            {"assigned": ",d"},
        )
        exp_part = widgets.table("home-experiments", data=rows, columns=cols)
    return html.Div(
        [
            widgets.header(
                "shoplens",
                f"Clean events from {_when(ev.get('min_ts'))} to {_when(ev.get('max_ts'))} ({ev['source']}).",
            ),
            dbc.Row([dbc.Col(c, md=4, lg=2) for c in cards], className="g-3 mb-4"),
            html.H3("Experiments", className="h5"),
            exp_part,
            html.P(
                [
                    "Definitions: ",
                    dcc.Link("methodology", href="/methodology"),
                    "; validation and quarantine: ",
                    dcc.Link("data quality", href="/data-quality"),
                    ".",
                ],
                className="mt-3 text-body-secondary",
            ),
        ]
    )


def register(app: Dash, source: DataSource) -> None:
    """No callbacks yet: the KPI cards and filters come with ``shoplens.kpis``."""
