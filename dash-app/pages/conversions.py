"""Conversions: user conversion, AOV, revenue per visitor, ARPPU, repeat purchase rate and session conversion,
with their counts; conversion per user by lifecycle segment and by root category."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import polars as pl
from dash import Dash, Output, html

from ..components import ids, kpi_figures, widgets
from ..data import DataSource
from ..data.kpis import KpiFilter
from . import _kpi

PATH = "/conversions"
NAME = "Conversions"
PREFIX = "conv"


def layout(source: DataSource) -> html.Div:
    return _kpi.page(
        source,
        PREFIX,
        NAME,
        "Rates per user unless named otherwise: a visitor converts once however many orders.",
        [
            widgets.loading(html.Div(id=ids.CONV_CARDS)),
            dbc.Row(
                [dbc.Col(widgets.graph(ids.CONV_SEGMENTS), lg=6), dbc.Col(widgets.graph(ids.CONV_CATEGORIES), lg=6)],
                className="g-3 mt-1",
            ),
        ],
    )


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def update(source: DataSource, f: KpiFilter, theme: str | None) -> tuple[Any, ...]:
    h = source.kpi_headline(f)
    if not h.get("visitors"):
        return widgets.empty_note(), kpi_figures.empty(theme), kpi_figures.empty(theme)
    cards = [
        widgets.card(
            "Conversion", _fmt(h["conversion"], ".3%"), note=f"{h['buyers']:,} buyers / {h['visitors']:,} visitors"
        ),
        widgets.card("AOV", _fmt(h["aov"], ",.2f"), note=f"revenue / {h['orders']:,} orders"),
        widgets.card("Revenue per visitor", _fmt(h["revenue_per_visitor"], ",.3f")),
        widgets.card("ARPPU", _fmt(h["arppu"], ",.2f"), note="revenue / buyers"),
        widgets.card(
            "Repeat purchase rate",
            _fmt(h["repeat_purchase_rate"], ".1%"),
            note=f"{h['repeat_buyers']:,} buyers with 2+ orders",
        ),
        widgets.card(
            "Session conversion",
            _fmt(h["session_conversion"], ".2%"),
            note=f"{h['purchase_sessions']:,} sessions with a purchase",
        ),
    ]
    seg = source.kpi_table("kpi_segment_conversion", f)
    if "segment_type" in seg.columns:
        seg = seg.filter(pl.col("segment_type") == "lifecycle")
    cats = source.kpi_table("kpi_categories", f).filter(pl.col("level") == 0).sort("views", descending=True)
    return (
        dbc.Row([dbc.Col(c, md=4, lg=2) for c in cards], className="g-3"),
        kpi_figures.bars(seg, "segment", "conversion", theme, title="Conversion per user by lifecycle stage", pct=True),
        kpi_figures.bars(
            cats,
            "category_id",
            "view_to_purchase",
            theme,
            title="Viewers who bought, by root category (most viewed first)",
            pct=True,
            ids=True,
        ),
    )


def register(app: Dash, source: DataSource) -> None:
    _kpi.register(
        app,
        source,
        PREFIX,
        [
            Output(ids.CONV_CARDS, "children"),
            Output(ids.CONV_SEGMENTS, "figure"),
            Output(ids.CONV_CATEGORIES, "figure"),
        ],
        update,
    )
