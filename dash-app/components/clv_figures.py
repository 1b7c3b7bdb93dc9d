"""Figures of the cohort and customer-value pages."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from .figures import empty
from .theme import COLORWAY, template_name


def retention_heatmap(ret: pl.DataFrame, theme: str | None) -> go.Figure:
    """Share of each cohort active at each offset; the cohort size labels each row."""
    if ret.height == 0:
        return empty(theme)
    cohorts = ret.select("cohort", "cohort_size").unique().sort("cohort")
    offsets = sorted(ret["offset"].unique().to_list())
    index = {c: i for i, c in enumerate(cohorts["cohort"].to_list())}
    grid: list[list[float | None]] = [[None] * len(offsets) for _ in index]
    for row in ret.iter_rows(named=True):
        if row["cohort_size"]:
            grid[index[row["cohort"]]][offsets.index(row["offset"])] = row["active"] / row["cohort_size"]
    labels = [f"{c} (n={n:,})" for c, n in cohorts.iter_rows()]
    # Offset 0 is 100 % by definition for first-visit cohorts: scale the colours to the later offsets.
    later = [v for row in grid for v in row[1:] if v is not None]
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            x=offsets,
            y=labels,
            colorscale="Blues",
            zmin=0,
            zmax=max(later) if later and max(later) > 0 else 1,
            name="active share",
            colorbar=dict(tickformat=".0%"),
            hovertemplate="%{y}<br>offset %{x}: %{z:.1%}<extra></extra>",
        )
    )
    fig.update_layout(template=template_name(theme), title="Active share of each cohort (active / cohort size)")
    fig.update_xaxes(title="periods since the cohort's first")
    fig.update_yaxes(autorange="reversed")
    return fig


def curves(ret: pl.DataFrame, value: str, theme: str | None, *, title: str, share: bool) -> go.Figure:
    """One line per cohort; with ``share``, the active share with its 95 % Wilson band (columns
    ``active_low`` / ``active_high`` of the data layer), drawn in the line's colour."""
    if ret.height == 0:
        return empty(theme)
    fig = go.Figure(layout=dict(template=template_name(theme), title=title))
    colors = fig.layout.template.layout.colorway or COLORWAY
    groups = ret.sort("offset").group_by(["cohort"], maintain_order=True)
    for i, ((cohort,), part) in enumerate(groups):
        part = part.filter(pl.col("cohort_size") > 0)
        color = colors[i % len(colors)]
        x = part["offset"].to_list()
        y = (part[value] / part["cohort_size"]).to_list() if share else part[value].to_list()
        if share and "active_low" in part.columns:
            fig.add_scatter(
                x=x + x[::-1],
                y=part["active_high"].to_list() + part["active_low"].to_list()[::-1],
                fill="toself",
                fillcolor=color,
                opacity=0.15,
                line=dict(width=0),
                hoverinfo="skip",
                name=f"{cohort} 95% interval",
            )
        fig.add_scatter(x=x, y=y, mode="lines", name=str(cohort), line=dict(color=color))
    if share:
        fig.update_yaxes(tickformat=".0%")
    fig.update_xaxes(title="offset")
    fig.update_layout(showlegend=False)  # one line per cohort: named on hover
    return fig


def histogram(values: pl.Series, theme: str | None, *, title: str, pct: bool = False) -> go.Figure:
    vals = values.drop_nulls().drop_nans() if values.dtype.is_float() else values.drop_nulls()
    if vals.len() == 0:
        return empty(theme, "no fitted values:<br>the engine could not fit<br>the model on this warehouse")
    fig = go.Figure(go.Histogram(x=vals.to_list(), nbinsx=40, name=values.name))
    fig.update_layout(template=template_name(theme), title=title, bargap=0.05)
    fig.update_yaxes(title="customers")
    if pct:
        fig.update_xaxes(tickformat=".0%")
    return fig


def rfm_scores(seg: pl.DataFrame, theme: str | None) -> go.Figure:
    """Visitors per recency and frequency quintile score (``kpi_segment_conversion``), conversion on hover."""
    rows = seg.filter(pl.col("segment_type").is_in(["r_score", "f_score", "m_score"]))
    if rows.height == 0 or rows["visitors"].sum() == 0:
        return empty(theme)
    names = {"r_score": "recency score", "f_score": "frequency score", "m_score": "monetary score"}
    fig = go.Figure(layout=dict(template=template_name(theme), title="Visitors per RFM score (5 = best)"))
    for (kind,), part in rows.group_by(["segment_type"], maintain_order=True):
        conv = ["-" if c is None else f"{c:.2%}" for c in part["conversion"].to_list()]
        fig.add_bar(
            x=part["segment"].to_list(),
            y=part["visitors"].to_list(),
            name=names.get(str(kind), str(kind)),
            customdata=conv,
            hovertemplate="score %{x}: %{y:,} visitors, conversion %{customdata}<extra></extra>",
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category", title="score")
    fig.update_yaxes(title="visitors")
    return fig
