"""Data quality: the engine's validation report (``report.json``), row conservation per file, quarantined
rows by rule, a searchable page of the quarantine, and the anomalies flagged on the daily KPI series."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html

from ..components import figures, ids, widgets
from ..data import DataSource

PATH = "/data-quality"
NAME = "Data quality"
PAGE_SIZE = 25


def _when(ms: int | None) -> str:
    return "-" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def layout(source: DataSource) -> html.Div:
    ev = source.event_summary()
    cons = source.conservation()
    rows, cols = widgets.records(cons, {c: ",d" for c in ("rows_read", "kept", "quarantined", "duplicates_removed")})
    rules = source.quarantine_by_rule()
    rule_rows, rule_cols = widgets.records(rules.select("rule", "rows", "description"), {"rows": ",d"})
    anomalies = source.anomalies()
    if anomalies is None:
        anomaly_part: Any = widgets.empty_note(
            "this warehouse has no anomalies table (built before KPI tables existed)"
        )
    elif anomalies.height == 0:
        anomaly_part = widgets.empty_note("no anomaly flagged")
    else:
        a_rows, a_cols = widgets.records(anomalies)
        anomaly_part = widgets.table(ids.DQ_ANOMALIES, data=a_rows, columns=a_cols)
    holds = source.report()["conservation"]["holds"]
    facts = [
        widgets.card("Events kept", f"{ev['kept']:,}", note=f"of {ev['rows_read']:,} rows read"),
        widgets.card("Quarantined", f"{ev['quarantined']:,}", note="events rows breaking a rule"),
        widgets.card("Exact duplicates", f"{ev['duplicates_removed']:,}", note="removed, first kept"),
        widgets.card(
            "Bot visitors", f"{ev['bot_visitors']:,}", note=f"{ev['bot_events']:,} events, excluded by default"
        ),
        widgets.card("Purchases without price", f"{ev['purchases_without_price']:,}"),
        widgets.card("Time span", _when(ev.get("min_ts")), note=f"to {_when(ev.get('max_ts'))}"),
    ]
    return html.Div(
        [
            widgets.header(NAME, "Every row read is kept, quarantined with its rule, or listed as a duplicate."),
            dbc.Alert(
                "Row conservation holds: rows read = kept + quarantined + duplicates for every file."
                if holds
                else "Row conservation does NOT hold: the build is inconsistent.",
                color="success" if holds else "danger",
            ),
            dbc.Row([dbc.Col(c, md=4, lg=2) for c in facts], className="g-3 mb-3"),
            dbc.Row(
                [
                    dbc.Col(widgets.table(ids.DQ_CONSERVATION, data=rows, columns=cols), lg=6),
                    dbc.Col(widgets.graph(ids.DQ_FILES, height=300), lg=6),
                ],
                className="g-3",
            ),
            dbc.Row(
                [
                    dbc.Col(widgets.graph(ids.DQ_RULES, height=300), lg=6),
                    dbc.Col(widgets.table("dq-rule-table", data=rule_rows, columns=rule_cols), lg=6),
                ],
                className="g-3 mt-2",
            ),
            html.H3("Quarantine", className="h5 mt-4"),
            dbc.Row(
                dbc.Col(
                    dcc.Dropdown(
                        id=ids.DQ_RULE_FILTER,
                        options=rules["rule"].to_list(),
                        placeholder="all rules",
                    ),
                    md=4,
                ),
                className="mb-2",
            ),
            dcc.Loading(widgets.table(ids.DQ_QUARANTINE)),
            dbc.Pagination(id=ids.DQ_PAGE, max_value=1, active_page=1, fully_expanded=False, size="sm"),
            html.H3("Anomalies", className="h5 mt-4"),
            anomaly_part,
        ]
    )


def charts(source: DataSource, theme: str | None) -> tuple[go.Figure, go.Figure]:
    return figures.conservation(source.conservation(), theme), figures.rule_counts(source.quarantine_by_rule(), theme)


def quarantine(
    source: DataSource, page: int | None, rule: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    frame, total = source.quarantine_page(page or 0, PAGE_SIZE, rule)
    rows, cols = widgets.records(frame)
    return rows, cols, max(1, -(-total // PAGE_SIZE))


def register(app: Dash, source: DataSource) -> None:
    @app.callback(Output(ids.DQ_FILES, "figure"), Output(ids.DQ_RULES, "figure"), Input(ids.THEME_STORE, "data"))
    def _charts(theme: str | None) -> Any:
        return charts(source, theme)

    @app.callback(
        Output(ids.DQ_QUARANTINE, "children"),
        Output(ids.DQ_PAGE, "max_value"),
        Input(ids.DQ_PAGE, "active_page"),
        Input(ids.DQ_RULE_FILTER, "value"),
    )
    def _quarantine(active_page: int | None, rule: str | None) -> Any:
        rows, cols, pages = quarantine(source, (active_page or 1) - 1, rule)
        return widgets.html_table(rows, cols), pages
