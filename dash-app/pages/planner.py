"""Planner and sample-size calculator: users per arm (R's ``power.prop.test``, via ``shoplens.stats``), the
days to enrol them at the warehouse's measured traffic, the power curve, and the candidate plan (impact,
ROI, payback) from ``shoplens.experiments.plan``."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Dash, Input, Output, html

from ..components import figures, ids, widgets
from ..data import DataSource

PATH = "/planner"
NAME = "Planner"

# Conventional design defaults (the baseline itself is measured, never typed).
DEFAULT_POWER = 0.8
DEFAULT_ALPHA = 0.05
DEFAULT_LIFT = 0.10

PLAN_COLUMNS = {
    "candidate": None,
    "expected_lift": ".1%",
    "n_per_arm": ",d",
    "days": ",d",
    "daily_revenue_gain": ",.2f",
    "impact": ",.0f",
    "cost": ",.0f",
    "roi": ".2f",
    "payback_days": ",.1f",
}


def _number(component_id: str, label: str, value: float, *, step: float | str = "any", **kw: Any) -> dbc.Col:
    return dbc.Col(
        [
            dbc.Label(label, html_for=component_id),
            dbc.Input(id=component_id, type="number", value=value, step=step, **kw),
        ],
        md=2,
    )


def layout(source: DataSource) -> html.Div:
    base = source.baseline()
    return html.Div(
        [
            widgets.header(NAME, "How many users, and how many days, to detect a change in user conversion."),
            html.P(
                f"Measured baseline (bots excluded): conversion {base.conversion:.4%} = {base.buyers:,} buyers / "
                f"{base.visitors:,} visitors; {base.daily_visitors:,.0f} visitors per day over {base.days} days; "
                f"revenue per buyer {base.revenue_per_buyer:,.2f}.",
                id=ids.PLAN_BASELINE,
            ),
            dbc.Row(
                [
                    _number(ids.PLAN_P1, "Baseline conversion", base.conversion, min=0, max=1),
                    _number(ids.PLAN_LIFT, "Relative lift to detect", DEFAULT_LIFT),
                    _number(ids.PLAN_POWER, "Power", DEFAULT_POWER, min=0.01, max=0.999),
                    _number(ids.PLAN_ALPHA, "alpha (two-sided)", DEFAULT_ALPHA, min=0.0001, max=0.5),
                    _number(ids.PLAN_SHARE, "Share of traffic", 1.0, min=0.01, max=1),
                ],
                className="g-3",
            ),
            dbc.Row(
                [
                    dbc.Col(widgets.card("Users per arm", "", card_id=ids.PLAN_N), md=4),
                    dbc.Col(widgets.card("Days to enrol (two arms)", "", card_id=ids.PLAN_DAYS), md=4),
                ],
                className="g-3 my-2",
            ),
            widgets.graph(ids.PLAN_CURVE, height=340),
            html.H3("Candidate plan", className="h5 mt-4"),
            widgets.table(ids.PLAN_CANDIDATES),
        ]
    )


def calculate(
    source: DataSource, p1: Any, lift: Any, power: Any, alpha: Any, share: Any, theme: str | None
) -> tuple[Any, Any, go.Figure, list[dict[str, Any]], list[dict[str, Any]]]:
    """Callback body; invalid inputs give a message instead of numbers."""
    try:
        p1, lift, power, alpha, share = (float(v) for v in (p1, lift, power, alpha, share))
        calc = source.sample_size(p1, lift, power=power, alpha=alpha, traffic_share=share)
    except TypeError:  # an empty field
        message = "enter numbers in every field"
        note = widgets.card("Users per arm", "-", note=message)
        return note.children, widgets.card("Days", "-").children, figures.empty(theme, message), [], []
    except ValueError as exc:  # shoplens' input errors are ValueErrors with a clear message
        message = str(exc)
        note = widgets.card("Users per arm", "-", note=message)
        return note.children, widgets.card("Days", "-").children, figures.empty(theme, message), [], []
    n_card = widgets.card(
        "Users per arm",
        f"{calc.n_per_arm:,.2f}",
        note=f"conversion {calc.p1:.4%} -> {calc.p2:.4%}; {calc.total:,} users in total (rounded up)",
    )
    days_card = widgets.card(
        "Days to enrol (two arms)",
        f"{calc.days:,}",
        note=f"at {calc.daily_visitors * share:,.0f} visitors per day",
    )
    curve = source.power_curve(calc.p1, calc.p2, alpha=alpha, n_max=2 * calc.n_per_arm)
    plan = source.plan(
        [("calculator input", lift, 0.0)], power=power, alpha=alpha, traffic_share=share, conversion=calc.p1
    )
    rows, cols = widgets.records(plan.select(list(PLAN_COLUMNS)), {k: v for k, v in PLAN_COLUMNS.items() if v})
    return (
        n_card.children,
        days_card.children,
        figures.power_curve(curve, n_required=calc.n_per_arm, power=power, theme=theme),
        rows,
        cols,
    )


def register(app: Dash, source: DataSource) -> None:
    @app.callback(
        Output(ids.PLAN_N, "children"),
        Output(ids.PLAN_DAYS, "children"),
        Output(ids.PLAN_CURVE, "figure"),
        Output(ids.PLAN_CANDIDATES, "children"),
        Input(ids.PLAN_P1, "value"),
        Input(ids.PLAN_LIFT, "value"),
        Input(ids.PLAN_POWER, "value"),
        Input(ids.PLAN_ALPHA, "value"),
        Input(ids.PLAN_SHARE, "value"),
        Input(ids.THEME_STORE, "data"),
    )
    def _calculate(p1: Any, lift: Any, power: Any, alpha: Any, share: Any, theme: str | None) -> Any:
        n, days, fig, rows, cols = calculate(source, p1, lift, power, alpha, share, theme)
        return n, days, fig, widgets.html_table(rows, cols)
