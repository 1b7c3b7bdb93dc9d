"""Figures of the KPI pages (frames from ``shoplens.kpis`` in, Plotly figures out)."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from .figures import empty
from .theme import template_name

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def trend(daily: pl.DataFrame, theme: str | None) -> go.Figure:
    """Daily distinct visitors and revenue with their 7-day trailing means."""
    if daily.height == 0:
        return empty(theme)
    # Two stacked panels sharing the date axis, laid out by hand (make_subplots costs ~40 ms per figure).
    title = dict(xref="paper", yref="paper", x=0, xanchor="left", yanchor="bottom", showarrow=False)
    fig = go.Figure(
        layout=dict(
            template=template_name(theme),
            bargap=0.1,
            legend=dict(y=-0.12, yanchor="top"),
            xaxis=dict(anchor="y", domain=[0, 1], matches="x2", showticklabels=False),
            yaxis=dict(anchor="x", domain=[0.54, 1]),
            xaxis2=dict(anchor="y2", domain=[0, 1]),
            yaxis2=dict(anchor="x2", domain=[0, 0.46]),
            annotations=[dict(text="Visitors per day", y=1, **title), dict(text="Revenue per day", y=0.46, **title)],
        )
    )
    days = daily["date"].to_list()
    fig.add_bar(x=days, y=daily["visitors"].to_list(), name="visitors", opacity=0.5)
    fig.add_scatter(x=days, y=daily["visitors_ma7"].to_list(), name="visitors, 7-day mean", mode="lines")
    fig.add_bar(x=days, y=daily["revenue"].to_list(), name="revenue", opacity=0.5, xaxis="x2", yaxis="y2")
    fig.add_scatter(
        x=days, y=daily["revenue_ma7"].to_list(), name="revenue, 7-day mean", mode="lines", xaxis="x2", yaxis="y2"
    )
    return fig


def funnel(steps: pl.DataFrame, theme: str | None, *, title: str = "Funnel (users)") -> go.Figure:
    if steps.height == 0 or steps["n"].sum() == 0:
        return empty(theme)
    fig = go.Figure(layout=dict(template=template_name(theme), title=title))
    # Rates are the engine's (rate_from_previous shown, rate_from_start on hover).
    text, hover = [], []
    for i, (n, first, prev) in enumerate(
        zip(steps["n"], steps["rate_from_start"], steps["rate_from_previous"], strict=True)
    ):
        text.append(f"{n:,}" if i == 0 or prev is None else f"{n:,} ({prev:.1%})")
        hover.append(
            f"{n:,}"
            + ("" if first is None or i == 0 else f"<br>{first:.2%} of step 1")
            + ("" if prev is None or i == 0 else f"<br>{prev:.2%} of the previous step")
        )
    fig.add_trace(
        go.Funnel(
            y=steps["step"].to_list(),
            x=steps["n"].to_list(),
            text=text,
            textinfo="text",
            # inside the widest bar (the first), beside the narrower ones
            textposition=["inside" if i == 0 else "outside" for i in range(steps.height)],
            hovertext=hover,
            hoverinfo="text+y",
            name="units",
        )
    )
    fig.update_layout(title=f"{title}: count (share of the previous step)")
    return fig


def weekday_events(cells: pl.DataFrame, theme: str | None) -> go.Figure:
    """Events and purchases per weekday (event counts add up over the hours of a day)."""
    if cells.height == 0 or cells["events"].sum() == 0:
        return empty(theme)
    per = cells.group_by("weekday").agg(pl.col("events").sum(), pl.col("purchases").sum()).sort("weekday")
    labels = [WEEKDAYS[d] for d in per["weekday"].to_list()]
    fig = go.Figure(
        layout=dict(
            template=template_name(theme),
            title="Events and purchases by weekday (UTC)",
            yaxis=dict(title="events"),
            yaxis2=dict(title="purchases", overlaying="y", side="right", showgrid=False),
        )
    )
    fig.add_bar(x=labels, y=per["events"].to_list(), name="events")
    fig.add_scatter(x=labels, y=per["purchases"].to_list(), name="purchases", mode="lines+markers", yaxis="y2")
    return fig


def heatmap(cells: pl.DataFrame, value: str, theme: str | None, *, title: str) -> go.Figure:
    """Hour x weekday matrix of one measure."""
    if cells.height == 0 or cells[value].sum() == 0:
        return empty(theme)
    grid = [[0.0] * 24 for _ in range(7)]
    for row in cells.iter_rows(named=True):
        grid[row["weekday"]][row["hour"]] = row[value] or 0
    fig = go.Figure(go.Heatmap(z=grid, x=list(range(24)), y=list(WEEKDAYS), colorscale="Blues", name=value))
    fig.update_layout(template=template_name(theme), title=title)
    fig.update_xaxes(title="hour (UTC)", dtick=2)
    fig.update_yaxes(autorange="reversed")
    return fig


def periods(frame: pl.DataFrame, theme: str | None, *, title: str, x: str = "period_start") -> go.Figure:
    """Distinct visitors and sessions per period (counted per period, never summed from days)."""
    if frame.height == 0:
        return empty(theme)
    fig = go.Figure(layout=dict(template=template_name(theme), title=title))
    for col in ("visitors", "sessions", "buyers"):
        if col in frame.columns:
            fig.add_scatter(x=frame[x].to_list(), y=frame[col].to_list(), name=col, mode="lines+markers")
    return fig


def product_ranking(products: pl.DataFrame, theme: str | None, *, top: int = 20) -> go.Figure:
    """Top items by the Wilson lower bound of view-to-purchase, intervals drawn."""
    head = products.filter(pl.col("viewers") > 0).sort("rank").head(top)
    if head.height == 0:
        return empty(theme)
    labels = [str(i) for i in head["item_id"].to_list()]
    fig = go.Figure(layout=dict(template=template_name(theme), title=f"Top {top} items by Wilson lower bound"))
    fig.add_scatter(
        x=head["view_to_purchase"].to_list(),
        y=labels,
        mode="markers",
        name="view to purchase",
        error_x=dict(
            type="data",
            symmetric=False,
            array=(head["wilson_high"] - head["view_to_purchase"]).to_list(),
            arrayminus=(head["view_to_purchase"] - head["wilson_low"]).to_list(),
        ),
    )
    fig.update_yaxes(autorange="reversed", type="category", title="item")
    fig.update_xaxes(title="viewers who bought / viewers", tickformat=".1%")
    return fig


def pareto(products: pl.DataFrame, theme: str | None) -> go.Figure:
    """Revenue per item, largest first, with the cumulative share and ABC classes."""
    rev = products.filter(pl.col("revenue") > 0).sort("revenue", descending=True)
    if rev.height == 0:
        return empty(theme)
    total = rev["revenue"].sum()
    share = (rev["revenue"].cum_sum() / total).to_list()
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for cls in ("A", "B", "C"):
        part = [i for i, c in enumerate(rev["abc_class"].to_list()) if c == cls]
        fig.add_bar(x=[i + 1 for i in part], y=[rev["revenue"][i] for i in part], name=f"class {cls}")
    fig.add_scatter(x=list(range(1, rev.height + 1)), y=share, name="cumulative share", mode="lines", secondary_y=True)
    fig.update_layout(template=template_name(theme), title="Pareto of revenue by item (ABC classes)", bargap=0)
    fig.update_xaxes(title="items, by revenue")
    fig.update_yaxes(tickformat=".0%", secondary_y=True, range=[0, 1.02])
    return fig


def price_bands(bands: pl.DataFrame, theme: str | None) -> go.Figure:
    if bands.height == 0:
        return empty(theme)
    labels = [f"{lo:,.0f}-{hi:,.0f}" for lo, hi in zip(bands["price_low"], bands["price_high"], strict=True)]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(x=labels, y=bands["views"].to_list(), name="views")
    fig.add_scatter(x=labels, y=bands["revenue"].to_list(), name="revenue", mode="lines+markers", secondary_y=True)
    fig.update_layout(template=template_name(theme), title="Price bands (quintiles of current price)")
    return fig


def category_tree(cats: pl.DataFrame, theme: str | None, *, value: str = "views", depth: int = 2) -> go.Figure:
    """The category tree down to ``depth`` (0 = roots) as a treemap; each tile is its subtree's roll-up."""
    rows = cats.filter((pl.col(value) > 0) & (pl.col("level") <= depth))
    if rows.height == 0:
        return empty(theme)
    ids = [str(c) for c in rows["category_id"].to_list()]
    parents = ["" if p is None else str(p) for p in rows["parent_id"].to_list()]
    known = set(ids)
    parents = [p if p in known else "" for p in parents]
    fig = go.Figure(
        go.Treemap(ids=ids, labels=ids, parents=parents, values=rows[value].to_list(), branchvalues="total", name=value)
    )
    fig.update_layout(
        template=template_name(theme), title=f"Category tree by {value} (levels 0-{depth}, roll-up at every level)"
    )
    return fig


def bars(
    frame: pl.DataFrame, x: str, y: str, theme: str | None, *, title: str, pct: bool = False, ids: bool = False
) -> go.Figure:
    """One bar per row; ``ids``: the x values are identifiers (category ids), not numbers on an axis."""
    if frame.height == 0:
        return empty(theme)
    fig = go.Figure(layout=dict(template=template_name(theme), title=title))
    fig.add_bar(x=[str(v) for v in frame[x].to_list()], y=frame[y].to_list(), name=y)
    if ids:
        fig.update_xaxes(type="category", title=x)
    if pct:
        fig.update_yaxes(tickformat=".1%")
    return fig
