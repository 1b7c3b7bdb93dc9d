"""Figure builders: tidy polars frames in, Plotly figures out (no data access, no statistics here)."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from .theme import template_name
from .widgets import EMPTY_MESSAGE


def empty(theme: str | None, message: str = EMPTY_MESSAGE) -> go.Figure:
    """A blank chart that says why it is blank."""
    fig = go.Figure(layout=dict(template=template_name(theme)))
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=15))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def power_curve(curve: pl.DataFrame, *, n_required: float, power: float, theme: str | None) -> go.Figure:
    if curve.height == 0:
        return empty(theme)
    fig = go.Figure(layout=dict(template=template_name(theme), title="Power against users per arm"))
    fig.add_scatter(x=curve["n_per_arm"].to_list(), y=curve["power"].to_list(), mode="lines", name="power")
    fig.add_hline(y=power, line_dash="dot", annotation_text=f"target {power:.0%}")
    fig.add_vline(x=n_required, line_dash="dash", annotation_text=f"n = {n_required:,.0f}")
    fig.update_xaxes(title="users per arm")
    fig.update_yaxes(title="power", range=[0, 1], tickformat=".0%")
    return fig


def rejection_rates(rates: pl.DataFrame, *, alpha: float, aa: bool, theme: str | None) -> go.Figure:
    """Share of simulated experiments each test rejected, with Wilson intervals; A/A shows alpha."""
    if rates.height == 0:
        return empty(theme)
    title = "False-positive rate per test (A/A)" if aa else "Power per test (simulated)"
    fig = go.Figure(layout=dict(template=template_name(theme), title=title))
    fig.add_bar(
        x=rates["test"].to_list(),
        y=rates["rate"].to_list(),
        error_y=dict(
            type="data",
            symmetric=False,
            array=(rates["ci_high"] - rates["rate"]).to_list(),
            arrayminus=(rates["rate"] - rates["ci_low"]).to_list(),
        ),
        name="rejection rate",
    )
    if aa:
        fig.add_hline(y=alpha, line_dash="dash", annotation_text=f"alpha = {alpha:g}")
    fig.update_yaxes(title="share of runs rejecting", tickformat=".1%", rangemode="tozero")
    return fig


def sequential(seq: pl.DataFrame, theme: str | None) -> go.Figure:
    """Always-valid confidence sequence of the conversion difference, one band per variant."""
    if seq.height == 0:
        return empty(theme, "no enrolment days with users in both arms")
    fig = go.Figure(layout=dict(template=template_name(theme), title="Always-valid 95% confidence sequence"))
    for (variant,), part in seq.group_by(["variant"], maintain_order=True):
        days = part["day"].to_list()
        fig.add_scatter(
            x=days, y=part["upper"].to_list(), mode="lines", line=dict(width=0), showlegend=False, hoverinfo="skip"
        )
        fig.add_scatter(
            x=days,
            y=part["lower"].to_list(),
            mode="lines",
            line=dict(width=0),
            fill="tonexty",
            name=f"{variant}: interval",
            opacity=0.3,
        )
        fig.add_scatter(x=days, y=part["estimate"].to_list(), mode="lines+markers", name=f"{variant}: difference")
    fig.add_hline(y=0, line_dash="dot")
    fig.update_yaxes(title="conversion difference (variant - control)", tickformat=".2%")
    fig.update_xaxes(title="end of enrolment day")
    return fig


def effects(results: pl.DataFrame, theme: str | None) -> go.Figure:
    """Relative lift of each variant on each metric with its confidence interval (forest plot)."""
    rows = results.filter(pl.col("lift").is_finite())
    if rows.height == 0:
        return empty(theme)
    fig = go.Figure(layout=dict(template=template_name(theme), title="Relative lift with 95% confidence interval"))
    for (variant,), part in rows.group_by(["variant"], maintain_order=True):
        fig.add_scatter(
            x=part["lift"].to_list(),
            y=part["metric"].to_list(),
            mode="markers",
            name=str(variant),
            error_x=dict(
                type="data",
                symmetric=False,
                array=(part["lift_high"] - part["lift"]).to_list(),
                arrayminus=(part["lift"] - part["lift_low"]).to_list(),
            ),
        )
    fig.add_vline(x=0, line_dash="dot")
    fig.update_xaxes(title="lift (variant / control - 1)", tickformat=".1%")
    return fig


def posteriors(bayes: pl.DataFrame, theme: str | None) -> go.Figure:
    """Posterior mean conversion of each arm with its 95% credible interval."""
    if bayes.height == 0:
        return empty(theme)
    fig = go.Figure(layout=dict(template=template_name(theme), title="Posterior conversion (Beta-Binomial, 95%)"))
    fig.add_scatter(
        x=bayes["posterior_mean"].to_list(),
        y=bayes["variant"].to_list(),
        mode="markers",
        error_x=dict(
            type="data",
            symmetric=False,
            array=(bayes["ci_high"] - bayes["posterior_mean"]).to_list(),
            arrayminus=(bayes["posterior_mean"] - bayes["ci_low"]).to_list(),
        ),
        name="posterior",
    )
    fig.update_xaxes(title="conversion", tickformat=".2%")
    return fig


def rule_counts(rules: pl.DataFrame, theme: str | None) -> go.Figure:
    if rules.height == 0:
        return empty(theme, "no row was quarantined")
    fig = go.Figure(layout=dict(template=template_name(theme), title="Quarantined rows by rule"))
    fig.add_bar(x=rules["rows"].to_list(), y=rules["rule"].to_list(), orientation="h", name="rows")
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="rows")
    return fig


def conservation(table: pl.DataFrame, theme: str | None) -> go.Figure:
    """Where every row read went, per source file (stacked: kept, quarantined, duplicates)."""
    if table.height == 0:
        return empty(theme)
    fig = go.Figure(
        layout=dict(template=template_name(theme), title="Rows read = kept + quarantined + duplicates", barmode="stack")
    )
    for col in ("kept", "quarantined", "duplicates_removed"):
        fig.add_bar(y=table["source"].to_list(), x=table[col].to_list(), orientation="h", name=col.replace("_", " "))
    fig.update_xaxes(title="rows")
    return fig
