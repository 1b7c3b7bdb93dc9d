"""What the KPI pages share: the filter bar in the layout and a callback wired to it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, html

from ..components import ids, widgets
from ..data import DataSource
from ..data.kpis import KpiFilter


def page(source: DataSource, prefix: str, title: str, lead: str, body: list[Any]) -> html.Div:
    first, last = source.date_bounds()
    return html.Div(
        [
            widgets.header(title, lead),
            widgets.filter_bar(ids.filter_ids(prefix), first=first, last=last, roots=source.root_categories()),
            *body,
        ]
    )


def cards_and_two_charts(
    source: DataSource, prefix: str, title: str, lead: str, cards_id: str, left_id: str, right_id: str
) -> html.Div:
    """A KPI page laid out as its filter bar, a row of cards and two charts side by side."""
    return page(
        source,
        prefix,
        title,
        lead,
        [
            widgets.loading(html.Div(id=cards_id)),
            dbc.Row(
                [dbc.Col(widgets.graph(left_id), lg=6), dbc.Col(widgets.graph(right_id), lg=6)],
                className="g-3 mt-1",
            ),
        ],
    )


def fmt(value: Any, spec: str) -> str:
    """A KPI value for a card ("-" when the engine has none, e.g. a rate over zero units)."""
    return "-" if value is None else format(value, spec)


def register(
    app: Dash,
    source: DataSource,
    prefix: str,
    outputs: list[Output],
    body: Callable[[DataSource, KpiFilter, str | None], tuple[Any, ...]],
    extra_inputs: list[Input] | None = None,
) -> None:
    """Attach ``body(source, filter, theme, *extra)`` to the page's filter bar and the theme."""
    f = ids.filter_ids(prefix)
    inputs = [
        Input(f["start_end"], "start_date"),
        Input(f["start_end"], "end_date"),
        Input(f["days"], "value"),
        Input(f["root"], "value"),
        Input(f["segment"], "value"),
        Input(f["bots"], "value"),
        Input(ids.THEME_STORE, "data"),
        *(extra_inputs or []),
    ]

    @app.callback(*outputs, *inputs)
    def _update(start: Any, end: Any, days: Any, root: Any, segment: Any, bots: Any, theme: Any, *extra: Any) -> Any:
        return body(source, KpiFilter.from_inputs(start, end, days, root, segment, bots), theme, *extra)
