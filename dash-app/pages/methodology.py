"""Methodology: the definitions, rendered from ``docs/methodology.md`` (the same file the docs hold, not a
copy)."""

from __future__ import annotations

from dash import Dash, dcc, html

from ..components import ids
from ..data import DataSource

PATH = "/methodology"
NAME = "Methodology"


def layout(source: DataSource) -> html.Div:
    return html.Div(dcc.Markdown(source.methodology(), id=ids.METHODOLOGY, className="mt-3 methodology"))


def register(app: Dash, source: DataSource) -> None:
    """No callbacks: the page is static text."""
