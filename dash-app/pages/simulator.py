"""Simulator: seeded Monte Carlo in the engine. A/A runs show each test's false-positive rate against alpha
(it should sit inside the binomial interval around alpha); power runs show how often each test detects a
given lift at a given sample size."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, html

from ..components import figures, ids, widgets
from ..data import DataSource

PATH = "/simulator"
NAME = "Simulator"

DEFAULT_RUNS = 2000
DEFAULT_ALPHA = 0.05
DEFAULT_LIFT = 0.10
DEFAULT_SEED = 42
DEFAULT_POWER = 0.8  # the planned power that sets the default users per arm
MAX_RUNS = 20_000
MAX_N = 2_000_000


def _field(component_id: str, label: str, value: Any, **kw: Any) -> dbc.Col:
    return dbc.Col(
        [dbc.Label(label, html_for=component_id), dbc.Input(id=component_id, type="number", value=value, **kw)],
        md=2,
    )


def layout(source: DataSource) -> html.Div:
    base = source.baseline()
    n_default = round(
        source.sample_size(base.conversion, DEFAULT_LIFT, power=DEFAULT_POWER, alpha=DEFAULT_ALPHA).n_per_arm
    )
    return html.Div(
        [
            widgets.header(NAME, "Seeded A/A and power simulations of the classic tests, run in the engine."),
            dbc.RadioItems(
                id=ids.SIM_MODE,
                options=[
                    {"label": "A/A (no effect)", "value": "aa"},
                    {"label": "Power (with a lift)", "value": "power"},
                ],
                value="aa",
                inline=True,
                className="mb-2",
            ),
            dbc.Row(
                [
                    _field(
                        ids.SIM_BASELINE, "Baseline conversion (measured)", base.conversion, min=0, max=1, step="any"
                    ),
                    _field(ids.SIM_LIFT, "Relative lift (power mode)", DEFAULT_LIFT, step="any"),
                    _field(ids.SIM_N, "Users per arm", n_default, min=2, max=MAX_N, step=1),
                    _field(ids.SIM_RUNS, "Runs", DEFAULT_RUNS, min=100, max=MAX_RUNS, step=100),
                    _field(ids.SIM_ALPHA, "alpha", DEFAULT_ALPHA, min=0.0001, max=0.5, step="any"),
                    _field(ids.SIM_SEED, "Seed", DEFAULT_SEED, min=0, step=1),
                ],
                className="g-3",
            ),
            dbc.Button("Run", id=ids.SIM_RUN, color="primary", className="my-3"),
            widgets.graph(ids.SIM_CHART, height=340),
            widgets.table(ids.SIM_TABLE),
        ]
    )


def run(
    source: DataSource, mode: str, baseline: Any, lift: Any, n: Any, runs: Any, alpha: Any, seed: Any, theme: str | None
) -> tuple[go.Figure, list[dict[str, Any]], list[dict[str, Any]]]:
    """Callback body: one simulation (inputs bounded so a request cannot occupy the server for long)."""
    try:
        n_i, runs_i, seed_i = int(n), int(runs), int(seed)
        if not (2 <= n_i <= MAX_N and 1 <= runs_i <= MAX_RUNS):
            raise ValueError(f"users per arm must be in [2, {MAX_N:,}] and runs in [1, {MAX_RUNS:,}]")
        rates = source.simulate(
            mode=mode,
            baseline=float(baseline),
            lift=0.0 if mode == "aa" else float(lift),
            n=n_i,
            runs=runs_i,
            alpha=float(alpha),
            seed=seed_i,
        )
    except TypeError:
        return figures.empty(theme, "enter numbers in every field"), [], []
    except ValueError as exc:
        return figures.empty(theme, str(exc)), [], []
    rows, cols = widgets.records(
        rates, {"rate": ".4f", "ci_low": ".4f", "ci_high": ".4f", "rejections": ",d", "runs": ",d"}
    )
    return figures.rejection_rates(rates, alpha=float(alpha), aa=mode == "aa", theme=theme), rows, cols


def register(app: Dash, source: DataSource) -> None:
    @app.callback(
        Output(ids.SIM_CHART, "figure"),
        Output(ids.SIM_TABLE, "children"),
        Input(ids.SIM_RUN, "n_clicks"),
        Input(ids.THEME_STORE, "data"),
        State(ids.SIM_MODE, "value"),
        State(ids.SIM_BASELINE, "value"),
        State(ids.SIM_LIFT, "value"),
        State(ids.SIM_N, "value"),
        State(ids.SIM_RUNS, "value"),
        State(ids.SIM_ALPHA, "value"),
        State(ids.SIM_SEED, "value"),
    )
    def _run(
        _clicks: Any, theme: str | None, mode: str, baseline: Any, lift: Any, n: Any, runs: Any, alpha: Any, seed: Any
    ) -> Any:
        fig, rows, cols = run(source, mode, baseline, lift, n, runs, alpha, seed, theme)
        return fig, widgets.html_table(rows, cols)
