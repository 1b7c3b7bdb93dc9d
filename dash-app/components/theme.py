"""The one Plotly template of the dashboard, in a light and a dark variant (same fonts, colours, margins;
only the background and ink change), matched to Bootstrap's light and dark colour modes."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

# Colour-blind-safe qualitative palette (Okabe & Ito, 2008).
COLORWAY = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
_INK = {"light": "#212529", "dark": "#dee2e6"}
_GRID = {"light": "#e9ecef", "dark": "#495057"}
_PAPER = {"light": "#ffffff", "dark": "#212529"}
THEMES = ("light", "dark")


def _template(mode: str) -> go.layout.Template:
    ink, grid = _INK[mode], _GRID[mode]
    axis = dict(gridcolor=grid, zerolinecolor=grid, linecolor=grid, tickcolor=grid, automargin=True)
    return go.layout.Template(
        layout=go.Layout(
            colorway=COLORWAY,
            font=dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size=13, color=ink),
            paper_bgcolor=_PAPER[mode],
            plot_bgcolor=_PAPER[mode],
            xaxis=axis,
            yaxis=axis,
            # The title sits at the top of the figure, the legend in one row between it and the plot.
            margin=dict(l=56, r=24, t=84, b=48),
            legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0),
            hoverlabel=dict(font=dict(color=ink), bgcolor=_PAPER[mode]),
            title=dict(x=0, xanchor="left", y=0.985, yanchor="top", yref="container", font=dict(size=15)),
            shapedefaults=dict(line=dict(color=ink)),
            annotationdefaults=dict(font=dict(color=ink)),
        )
    )


for _mode in THEMES:
    pio.templates[f"shoplens_{_mode}"] = _template(_mode)


def template_name(theme: str | None) -> str:
    """The registered template for a colour mode (light unless ``"dark"``)."""
    return "shoplens_dark" if theme == "dark" else "shoplens_light"
