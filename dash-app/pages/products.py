"""Products: ranking by the Wilson lower bound of view-to-purchase (intervals drawn, so an item with one
view and one purchase does not top the list), Pareto / ABC classes, price bands, the category tree and a
searchable table."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import polars as pl
from dash import Dash, Input, Output, html

from ..components import ids, kpi_figures, widgets
from ..data import DataSource
from ..data.kpis import KpiFilter
from . import _kpi

PATH = "/products"
NAME = "Products"
PREFIX = "prod"
TABLE_ROWS = 25  # rows shown in the table (by rank; the search narrows them to matching item ids)
COLUMNS = {
    "rank": ",d",
    "item_id": None,
    "views": ",d",
    "viewers": ",d",
    "carts": ",d",
    "purchases": ",d",
    "revenue": ",.2f",
    "view_to_purchase": ".2%",
    "wilson_low": ".2%",
    "wilson_high": ".2%",
    "abc_class": None,
    "price": ",.2f",
    "price_band": None,
}


def layout(source: DataSource) -> html.Div:
    return _kpi.page(
        source,
        PREFIX,
        NAME,
        "Items ranked by the lower bound of the 95% Wilson interval of viewers who bought.",
        [
            dbc.Row(
                [
                    dbc.Col(widgets.graph(ids.PROD_RANKING, height=520), lg=6),
                    dbc.Col(widgets.graph(ids.PROD_TREE, height=520), lg=6),
                ],
                className="g-3",
            ),
            dbc.Row(
                [dbc.Col(widgets.graph(ids.PROD_PARETO), lg=6), dbc.Col(widgets.graph(ids.PROD_BANDS), lg=6)],
                className="g-3 mt-1",
            ),
            dbc.Row(
                dbc.Col(
                    dbc.Input(id=ids.PROD_SEARCH, placeholder="search item id", type="search", debounce=True), md=3
                ),
                className="mt-3 mb-2",
            ),
            widgets.loading(widgets.table(ids.PROD_TABLE)),
        ],
    )


def update(source: DataSource, f: KpiFilter, theme: str | None, search: str | None = None) -> tuple[Any, ...]:
    products = source.kpi_table("products", f).sort("rank")
    listed = products
    if search:
        listed = products.filter(pl.col("item_id").cast(pl.String).str.contains(search.strip(), literal=True))
    top = listed.head(TABLE_ROWS)
    rows, cols = widgets.records(
        top.select([c for c in COLUMNS if c in top.columns]), {k: v for k, v in COLUMNS.items() if v}
    )
    return (
        kpi_figures.product_ranking(products, theme),
        kpi_figures.category_tree(source.kpi_table("kpi_categories", f), theme),
        kpi_figures.pareto(products, theme),
        kpi_figures.price_bands(source.kpi_table("kpi_price_bands", f), theme),
        html.Div(
            [
                html.P(
                    f"{top.height:,} of {listed.height:,} items"
                    + (f" matching '{search.strip()}'" if search else "")
                    + ", by rank",
                    className="small text-body-secondary mb-1",
                ),
                widgets.html_table(rows, cols),
            ]
        )
        if rows
        else widgets.empty_note(),
    )


def register(app: Dash, source: DataSource) -> None:
    _kpi.register(
        app,
        source,
        PREFIX,
        [
            Output(ids.PROD_RANKING, "figure"),
            Output(ids.PROD_TREE, "figure"),
            Output(ids.PROD_PARETO, "figure"),
            Output(ids.PROD_BANDS, "figure"),
            Output(ids.PROD_TABLE, "children"),
        ],
        update,
        [Input(ids.PROD_SEARCH, "value")],
    )
