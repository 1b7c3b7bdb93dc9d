"""Customer value: visitors per RFM score (``shoplens.kpis``); per buyer, BG/NBD probability of being alive
and expected purchases, Gamma-Gamma spend,
discounted CLV (``shoplens.clv.customers``; models fitted by maximum likelihood in the engine)."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Dash, Input, Output, html

from ..components import clv_figures, ids, widgets
from ..data import DataSource
from ..data.kpis import KpiFilter

PATH = "/customer-value"
NAME = "Customer value"


def layout(source: DataSource) -> html.Div:
    cust = source.customers()
    n = cust.height
    fitted = cust["clv_365d"].drop_nulls().len() if "clv_365d" in cust.columns else 0
    cards = [
        widgets.card("Buyers", f"{n:,}", note="non-bot visitors with a purchase"),
        widgets.card("Repeat buyers", f"{cust.filter(cust['frequency'] > 0).height:,}", note="frequency >= 1"),
        widgets.card("With a CLV", f"{fitted:,}", note="models fitted (BG/NBD, Gamma-Gamma)"),
    ]
    return html.Div(
        [
            widgets.header(NAME, "Predicted from each buyer's purchase history (frequency, recency, age T, spend)."),
            dbc.Row([dbc.Col(c, md=3) for c in cards], className="g-3 mb-3", id=ids.CLV_CARDS),
            dbc.Row(dbc.Col(widgets.graph(ids.CLV_RFM, height=340), lg=8), className="g-3 mb-3"),
            dbc.Row(
                [
                    dbc.Col(widgets.graph(ids.CLV_PALIVE), lg=4),
                    dbc.Col(widgets.graph(ids.CLV_PURCHASES), lg=4),
                    dbc.Col(widgets.graph(ids.CLV_VALUE), lg=4),
                ],
                className="g-3",
            ),
        ]
    )


def update(source: DataSource, theme: str | None) -> tuple[go.Figure, ...]:
    cust = source.customers()
    return (
        clv_figures.rfm_scores(source.kpi_table("kpi_segment_conversion", KpiFilter()), theme),
        clv_figures.histogram(cust["p_alive"], theme, title="P(alive), BG/NBD", pct=True),
        clv_figures.histogram(cust["expected_purchases_90d"], theme, title="Expected purchases, next 90 days"),
        clv_figures.histogram(cust["clv_365d"], theme, title="Discounted CLV, next 12 months"),
    )


def register(app: Dash, source: DataSource) -> None:
    @app.callback(
        Output(ids.CLV_RFM, "figure"),
        Output(ids.CLV_PALIVE, "figure"),
        Output(ids.CLV_PURCHASES, "figure"),
        Output(ids.CLV_VALUE, "figure"),
        Input(ids.THEME_STORE, "data"),
    )
    def _update(theme: Any) -> Any:
        return update(source, theme)
