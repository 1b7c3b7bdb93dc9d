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
    return _kpi.cards_and_two_charts(
        source,
        PREFIX,
        NAME,
        "Rates per user unless named otherwise: a visitor converts once however many orders.",
        ids.CONV_CARDS,
        ids.CONV_SEGMENTS,
        ids.CONV_CATEGORIES,
    )


def update(source: DataSource, f: KpiFilter, theme: str | None) -> tuple[Any, ...]:
    h = source.kpi_headline(f)
    if not h.get("visitors"):
        return widgets.empty_note(), kpi_figures.empty(theme), kpi_figures.empty(theme)
    cards = [
        widgets.card(
            "Conversion", _kpi.fmt(h["conversion"], ".3%"), note=f"{h['buyers']:,} buyers / {h['visitors']:,} visitors"
        ),
        widgets.card("AOV", _kpi.fmt(h["aov"], ",.2f"), note=f"revenue / {h['orders']:,} orders"),
        widgets.card("Revenue per visitor", _kpi.fmt(h["revenue_per_visitor"], ",.3f")),
        widgets.card("ARPPU", _kpi.fmt(h["arppu"], ",.2f"), note="revenue / buyers"),
        widgets.card(
            "Repeat purchase rate",
            _kpi.fmt(h["repeat_purchase_rate"], ".1%"),
            note=f"{h['repeat_buyers']:,} buyers with 2+ orders",
        ),
        widgets.card(
            "Session conversion",
            _kpi.fmt(h["session_conversion"], ".2%"),
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
