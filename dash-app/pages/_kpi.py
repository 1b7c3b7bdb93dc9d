"""What the KPI pages share: the filter bar in the layout and a callback wired to it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
