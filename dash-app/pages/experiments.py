"""Experiments: the list with status; per experiment the results per metric x variant (effect, CI, adjusted
p, P(better)), the SRM verdict, the always-valid sequential chart over days and the Bayesian view."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
import polars as pl
from dash import Dash, Input, Output, dcc, html

from ..components import figures, ids, widgets
from ..data import DataSource

PATH = "/experiments"
NAME = "Experiments"

RESULT_COLUMNS = {
    "metric": None,
    "variant": None,
    "n": ",d",
    "control_mean": ".5g",
    "mean": ".5g",
    "effect": ".4g",
    "effect_low": ".4g",
    "effect_high": ".4g",
    "lift": ".2%",
    "lift_low": ".2%",
    "lift_high": ".2%",
    "pvalue": ".3g",
    "pvalue_adjusted": ".3g",
    "significant": None,
    "prob_better": ".3f",
}


def layout(source: DataSource) -> html.Div:
    listing = source.experiments()
    if listing.height == 0:
        rows, cols, names = [], [], []
        note: Any = widgets.empty_note("no experiments in this warehouse")
    else:
        note = None
        names = listing.filter(pl.col("control").is_not_null())["experiment"].to_list()
        rows, cols = widgets.records(
            listing.select(
                "experiment",
                "status",
                "variants",
                "control",
                "assigned",
                "first_assigned",
                "last_assigned",
                "srm_pvalue",
                "sequential_pvalue",
                "looks",
            ),
            {"assigned": ",d", "srm_pvalue": ".3g", "sequential_pvalue": ".3g"},
        )
    return html.Div(
        [
            widgets.header(
                NAME,
                "Every variant against its control, on users assigned (bots excluded). "
                "p-values adjusted by Holm over each experiment's comparisons.",
            ),
            note,
            widgets.table(ids.EXP_TABLE, data=rows, columns=cols),
            dbc.Row(
                dbc.Col(
                    [
                        dbc.Label("Experiment", html_for=ids.EXP_SELECT),
                        dcc.Dropdown(
                            id=ids.EXP_SELECT, options=names, value=names[0] if names else None, clearable=False
                        ),
                    ],
                    md=4,
                ),
                className="my-3",
            ),
            html.Div(id=ids.EXP_SUMMARY),
            dcc.Loading(widgets.table(ids.EXP_RESULTS)),
            dbc.Row(
                [
                    dbc.Col(widgets.graph(ids.EXP_SEQUENTIAL), lg=6),
                    dbc.Col(widgets.graph(ids.EXP_EFFECTS), lg=6),
                ],
                className="mt-3",
            ),
            dbc.Row(dbc.Col(widgets.graph(ids.EXP_BAYES, height=300), lg=6), className="mt-3"),
        ]
    )


def summary_view(source: DataSource, name: str) -> dbc.Alert:
    s = source.experiment_summary(name)
    arms = ", ".join(f"{v}: {s.assigned[v]:,} assigned ({s.analysed[v]:,} analysed)" for v in s.variants)
    srm = (
        f"Sample-ratio mismatch: chi2 p = {s.srm.pvalue:.3g} < {s.srm.threshold:g}; the split is not the plan, "
        "the results below are not trustworthy."
        if s.srm.alarm
        else f"No sample-ratio mismatch (chi2 p = {s.srm.pvalue:.3g})."
    )
    seq = "; ".join(
        f"{v}: {status} (always-valid p = {s.sequential_pvalue[v]:.3g})" for v, status in s.sequential_status.items()
    )
    return dbc.Alert(
        [html.Div(arms), html.Div(srm), html.Div(f"Sequential read-out after {s.looks} daily looks: {seq}")],
        color="danger" if s.srm.alarm else "light",
        id=f"{ids.EXP_SUMMARY}-alert",
    )


def update(
    source: DataSource, name: str | None, theme: str | None
) -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]], go.Figure, go.Figure, go.Figure]:
    """Callback body: everything shown for one experiment."""
    if not name:
        blank = figures.empty(theme)
        return widgets.empty_note(), [], [], blank, blank, blank
    results = source.experiment_results(name)
    rows, cols = widgets.records(results.select(list(RESULT_COLUMNS)), {k: v for k, v in RESULT_COLUMNS.items() if v})
    return (
        summary_view(source, name),
        rows,
        cols,
        figures.sequential(source.experiment_sequential(name), theme),
        figures.effects(results, theme),
        figures.posteriors(source.experiment_bayes(name), theme),
    )


def register(app: Dash, source: DataSource) -> None:
    @app.callback(
        Output(ids.EXP_SUMMARY, "children"),
        Output(ids.EXP_RESULTS, "children"),
        Output(ids.EXP_SEQUENTIAL, "figure"),
        Output(ids.EXP_EFFECTS, "figure"),
        Output(ids.EXP_BAYES, "figure"),
        Input(ids.EXP_SELECT, "value"),
        Input(ids.THEME_STORE, "data"),
    )
    def _update(name: str | None, theme: str | None) -> Any:
        summary, rows, cols, seq, eff, bayes = update(source, name, theme)
        return summary, widgets.html_table(rows, cols), seq, eff, bayes
