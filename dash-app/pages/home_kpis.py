"""Home: KPI cards (each against the previous period of equal length), visitors and revenue with 7-day means,
the funnel and the weekday view, all following one filter (dates, weekday/weekend, root category, segment,
bots in or out). Every number is ``shoplens.kpis`` for that filter."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
import polars as pl
from dash import Dash, Input, Output, html

from ..components import ids, kpi_figures, widgets
from ..data import DataSource
from ..data.kpis import KpiFilter

PATH = "/"
NAME = "Home"
#: The range shown first: the last four weeks of data (so every card has a previous period to compare with).
DEFAULT_DAYS = 28
TABLES = ("kpi_daily", "funnel", "kpi_hour_weekday")

FILTER_IDS = {
    "start_end": ids.HOME_DATES,
    "days": ids.HOME_DAYS,
    "root": ids.HOME_ROOT,
    "segment": ids.HOME_SEGMENT,
    "bots": ids.HOME_BOTS,
}
#: (column of kpis.headline, label, format)
CARDS = (
    ("visitors", "Visitors", ",d"),
    ("sessions", "Sessions", ",d"),
    ("buyers", "Buyers", ",d"),
    ("orders", "Orders", ",d"),
    ("revenue", "Revenue", ",.2f"),
    ("conversion", "Conversion (buyers / visitors)", ".3%"),
    ("aov", "AOV (revenue / orders)", ",.2f"),
)


def layout(source: DataSource) -> html.Div:
    first, last = source.date_bounds()
    start = max(first, last - dt.timedelta(days=DEFAULT_DAYS - 1))
    return html.Div(
        [
            widgets.header("shoplens", "Headline KPIs of the shop; every card and chart follows the filter."),
            widgets.filter_bar(FILTER_IDS, first=first, last=last, roots=source.root_categories(), start=start),
            widgets.loading(html.Div(id=ids.HOME_CARDS)),
            dbc.Row(
                [
                    dbc.Col(widgets.graph(ids.HOME_TREND, height=460), lg=8),
                    dbc.Col(widgets.graph(ids.HOME_FUNNEL, height=460), lg=4),
                ],
                className="g-3 mt-1",
            ),
            dbc.Row(dbc.Col(widgets.graph(ids.HOME_WEEKDAY, height=320), lg=8), className="g-3 mt-1"),
        ]
    )


def _change(now: float | None, before: float | None) -> str:
    if now is None or before is None or before == 0:
        return "no previous period"
    return f"{(now / before - 1):+.1%} vs previous period"


def cards(head: dict[str, Any], prev: dict[str, Any] | None) -> dbc.Row:
    out = []
    for col, label, fmt in CARDS:
        value = head.get(col)
        shown = "-" if value is None else format(value, fmt)
        note = _change(value, prev.get(col)) if prev else "no previous period"
        out.append(dbc.Col(widgets.card(label, shown, note=note, card_id=f"home-card-{col}"), md=3, lg="auto"))
    return dbc.Row(out, className="g-3")


def update_cards(source: DataSource, f: KpiFilter) -> Any:
    """The KPI cards of a filter (``shoplens.kpis.headline`` of it and of the previous period)."""
    head = source.kpi_headline(f)
    if not head.get("visitors"):
        return widgets.empty_note()
    prev_f = f.previous(source.date_bounds()[0])
    return cards(head, source.kpi_headline(prev_f) if prev_f else None)


def update_charts(source: DataSource, f: KpiFilter, theme: str | None) -> tuple[go.Figure, go.Figure, go.Figure]:
    """The charts of a filter: daily trend, user funnel, weekday view (one ``shoplens.kpis.tables`` pass).
    Built figures are kept per (warehouse build, filter, theme): Plotly's figure construction costs more
    than a cached table read, and a figure is never changed after it is returned."""
    return _charts(source, source.stamp(), f, theme)


@lru_cache(maxsize=256)
def _charts(source: DataSource, stamp: int, f: KpiFilter, theme: str | None) -> tuple[go.Figure, go.Figure, go.Figure]:
    t = source.kpi_tables(TABLES, f)
    user_funnel = t["funnel"].filter(pl.col("level") == "user").sort("step_order")
    return (
        kpi_figures.trend(t["kpi_daily"], theme),
        kpi_figures.funnel(user_funnel, theme),
        kpi_figures.weekday_events(t["kpi_hour_weekday"], theme),
    )


def update(
    source: DataSource, start: Any, end: Any, days: Any, root: Any, segment: Any, bots: Any, theme: str | None
) -> tuple[Any, go.Figure, go.Figure, go.Figure]:
    """Both callbacks' bodies for the widgets' values: the cards, then the three charts."""
    f = KpiFilter.from_inputs(start, end, days, root, segment, bots)
    return (update_cards(source, f), *update_charts(source, f, theme))


FILTER_INPUTS = (
    Input(ids.HOME_DATES, "start_date"),
    Input(ids.HOME_DATES, "end_date"),
    Input(ids.HOME_DAYS, "value"),
    Input(ids.HOME_ROOT, "value"),
    Input(ids.HOME_SEGMENT, "value"),
    Input(ids.HOME_BOTS, "value"),
)


def register(app: Dash, source: DataSource) -> None:
    """Two callbacks on the same filter, so the cards (a headline row: fast) do not wait for the charts
    (a pass over the events for the daily, funnel and hour x weekday tables)."""

    @app.callback(Output(ids.HOME_CARDS, "children"), *FILTER_INPUTS)
    def _cards(start: Any, end: Any, days: Any, root: Any, segment: Any, bots: Any) -> Any:
        return update_cards(source, KpiFilter.from_inputs(start, end, days, root, segment, bots))

    @app.callback(
        Output(ids.HOME_TREND, "figure"),
        Output(ids.HOME_FUNNEL, "figure"),
        Output(ids.HOME_WEEKDAY, "figure"),
        *FILTER_INPUTS,
        Input(ids.THEME_STORE, "data"),
    )
    def _charts(start: Any, end: Any, days: Any, root: Any, segment: Any, bots: Any, theme: str | None) -> Any:
        return update_charts(source, KpiFilter.from_inputs(start, end, days, root, segment, bots), theme)
