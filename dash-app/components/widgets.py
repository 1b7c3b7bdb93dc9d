"""Shared page widgets: headers, KPI cards, graphs with loading states, tables, empty states."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import polars as pl
from dash import dcc, html

EMPTY_MESSAGE = "no data for this filter"


def header(title: str, lead: str) -> html.Div:
    return html.Div([html.H2(title, className="h3 mt-3"), html.P(lead, className="text-body-secondary")])


def graph(component_id: str, *, height: int = 380) -> dcc.Loading:
    """A chart with a loading state; its figure is filled by a callback."""
    return dcc.Loading(
        dcc.Graph(id=component_id, config={"displaylogo": False}, style={"height": f"{height}px"}),
        type="default",
    )


def loading(child: Any) -> dcc.Loading:
    """A container (cards, a table) that shows a spinner while its callback runs."""
    return dcc.Loading(child, type="default")


def card(title: str, value: str, *, note: str = "", card_id: str | None = None) -> dbc.Card:
    body = [html.Div(title, className="text-body-secondary small"), html.Div(value, className="fs-4 fw-semibold")]
    if note:
        body.append(html.Div(note, className="small text-body-secondary"))
    kwargs: dict[str, Any] = {"id": card_id} if card_id else {}
    return dbc.Card(dbc.CardBody(body), className="h-100", **kwargs)


def table(
    component_id: str, *, data: list[dict[str, Any]] | None = None, columns: list[dict[str, Any]] | None = None
) -> html.Div:
    """A table container (filled in the layout or by a callback with :func:`html_table`). Bootstrap's
    table, not Dash's DataTable, which Dash 4 deprecates."""
    return html.Div(html_table(data or [], columns or []), id=component_id, className="table-responsive")


def html_table(rows: list[dict[str, Any]], columns: list[dict[str, Any]]) -> Any:
    if not columns:
        return None
    head = html.Thead(html.Tr([html.Th(c["name"]) for c in columns]))
    body = html.Tbody([html.Tr([html.Td(r.get(c["id"]), **{"data-column": c["id"]}) for c in columns]) for r in rows])
    return dbc.Table([head, body], striped=True, hover=True, size="sm", className="mb-2")


def records(
    frame: pl.DataFrame, formats: dict[str, str] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows and column specs for a DataTable; ``formats`` maps a column to a Python format spec."""
    formats = formats or {}
    rows = []
    for row in frame.iter_rows(named=True):
        out = {}
        for key, value in row.items():
            if key in formats and isinstance(value, int | float) and value is not None:
                out[key] = format(value, formats[key])
            elif isinstance(value, bool):
                out[key] = "yes" if value else "no"
            else:
                out[key] = value if isinstance(value, int | float | str) or value is None else str(value)
        rows.append(out)
    return rows, [{"name": c, "id": c} for c in frame.columns]


def empty_note(message: str = EMPTY_MESSAGE) -> dbc.Alert:
    return dbc.Alert(message, color="secondary", className="my-2")


def filter_bar(ids_: dict[str, str], *, first: Any, last: Any, roots: list[int], start: Any = None) -> dbc.Row:
    """Date range, weekday/weekend, root category, segment and bots in/out; ``ids_`` names the components
    (keys: start_end, days, root, segment, bots). The range shown first is ``start`` (default ``first``)
    to ``last``."""
    return dbc.Row(
        [
            dbc.Col(
                [
                    dbc.Label("Dates (UTC)"),
                    dcc.DatePickerRange(
                        id=ids_["start_end"],
                        min_date_allowed=first,
                        max_date_allowed=last,
                        start_date=start or first,
                        end_date=last,
                        display_format="YYYY-MM-DD",
                        minimum_nights=0,
                    ),
                ],
                md="auto",
            ),
            dbc.Col(
                [
                    dbc.Label("Days", html_for=ids_["days"]),
                    dbc.Select(
                        id=ids_["days"],
                        options=[
                            {"label": "all days", "value": "all"},
                            {"label": "weekdays", "value": "weekdays"},
                            {"label": "weekends", "value": "weekends"},
                        ],
                        value="all",
                    ),
                ],
                md=2,
            ),
            dbc.Col(
                [
                    dbc.Label("Root category", html_for=ids_["root"]),
                    dcc.Dropdown(
                        id=ids_["root"],
                        options=[{"label": str(r), "value": r} for r in roots],
                        placeholder="all categories",
                    ),
                ],
                md=2,
            ),
            dbc.Col(
                [
                    dbc.Label("Segment", html_for=ids_["segment"]),
                    dbc.Select(
                        id=ids_["segment"],
                        options=[
                            {"label": "all visitors", "value": "all"},
                            {"label": "new", "value": "new"},
                            {"label": "returning", "value": "returning"},
                            {"label": "churned", "value": "churned"},
                        ],
                        value="all",
                    ),
                ],
                md=2,
            ),
            dbc.Col(
                [dbc.Label("Bots"), dbc.Switch(id=ids_["bots"], label="include bots", value=False)],
                md="auto",
            ),
        ],
        className="g-3 align-items-end mb-3",
    )
