"""The headline report of a warehouse as text or JSON: the engine's KPIs (:func:`shoplens.kpis.headline`), each
named with what it counts (bots excluded, as everywhere by default), and the validation summary.

Presentation only: every figure is computed by the engine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = ["Figure", "headline", "render", "to_json"]


@dataclass(frozen=True)
class Figure:
    """One headline number with its definition."""

    name: str
    value: float | int | None
    definition: str
    unit: str = ""

    def text(self) -> str:
        v = self.value
        if v is None:
            shown = "n/a"
        elif self.unit == "%":
            shown = f"{100 * v:.2f} %"
        elif isinstance(v, int):
            shown = f"{v:,}"
        else:
            shown = f"{v:,.2f}{(' ' + self.unit) if self.unit else ''}"
        return shown


def headline(warehouse: Any) -> dict[str, Any]:
    """The engine's headline KPIs (:func:`shoplens.kpis.headline`, bots excluded) as named figures with their
    definitions, the period the events cover and the build report."""
    from shoplens import kpis
    from shoplens._pipeline import Warehouse, open_warehouse

    wh = warehouse if isinstance(warehouse, Warehouse) else open_warehouse(warehouse)
    h = kpis.headline(wh).row(0, named=True)
    first, last = (kpis._EPOCH + dt.timedelta(days=d) for d in kpis._index(wh).day_range)
    figures = [
        Figure("Visitors", h["visitors"], "distinct visitors with at least one event"),
        Figure("Sessions", h["sessions"], "runs of a visitor's events with no gap over the session timeout"),
        Figure("Events", h["events"], "kept events"),
        Figure("Buyers", h["buyers"], "visitors with at least one purchase"),
        Figure("Orders", h["orders"], "distinct transaction ids"),
        Figure("Purchases", h["purchases"], "purchase rows (item lines of orders)"),
        Figure("User conversion", h["conversion"], "buyers / visitors", "%"),
        Figure("Session conversion", h["session_conversion"], "sessions with a purchase / sessions", "%"),
        Figure(
            "Cart abandonment",
            h["cart_abandonment"],
            "sessions with a cart and no purchase / sessions with a cart",
            "%",
        ),
        Figure("Bounce rate", h["bounce_rate"], "one-event sessions / sessions", "%"),
        Figure("Events per session", h["events_per_session"], "events / sessions"),
        Figure(
            "Median session duration",
            h["median_session_duration_s"],
            f"last - first event time, over the {h['multi_event_sessions']:,} sessions with >= 2 events "
            "(one-event sessions have no duration)",
            "s",
        ),
        Figure("Repeat purchase rate", h["repeat_purchase_rate"], "buyers with >= 2 orders / buyers", "%"),
        Figure("Revenue", h["revenue"], "sum of item prices over purchase rows (price source in the report)"),
        Figure("Average order value", h["aov"], "revenue / orders"),
        Figure("Revenue per visitor", h["revenue_per_visitor"], "revenue / visitors"),
        Figure("ARPPU", h["arppu"], "revenue / buyers"),
    ]
    return {"figures": figures, "period": (first, last), "report": wh.report}


def render(summary: dict[str, Any]) -> str:
    """Plain-text table of :func:`headline`'s result."""
    first, last = summary["period"]
    report = summary["report"]
    ev = report["events"]
    cons = report["conservation"]
    lines = [f"shoplens warehouse summary ({first} .. {last} UTC; bots excluded)", ""]
    width = max(len(f.name) for f in summary["figures"])
    for f in summary["figures"]:
        lines.append(f"  {f.name:<{width}}  {f.text():>16}   {f.definition}")
    lines += [
        "",
        "Validation",
        f"  rows read {cons['rows_read']:,} = kept {cons['kept']:,} + quarantined {cons['quarantined']:,}"
        f" + exact duplicates {cons['duplicates_removed']:,}  ({'balanced' if cons['holds'] else 'NOT BALANCED'})",
        f"  {ev['source']}: {ev['rows_read']:,} read, {ev['kept']:,} kept, {ev['bot_visitors']:,} bot visitors flagged"
        f" ({ev['bot_events']:,} events), price source: {report['price_source']}",
    ]
    for rule, count in ev["by_rule"]:
        lines.append(f"  quarantined by {rule}: {count:,}")
    for f in report["files"]:
        if f["quarantined"]:
            lines.append(f"  {f['source']}: {f['quarantined']:,} of {f['rows_read']:,} rows quarantined")
    return "\n".join(lines)


def to_json(summary: dict[str, Any]) -> dict[str, Any]:
    """:func:`headline`'s result as plain JSON types (``shoplens report --json``).

    Figures become objects with ``name``, ``value`` (null when not defined), ``unit`` and
    ``definition``; the period's ends become ISO 8601 text; the build report is included as stored.
    """
    first, last = summary["period"]
    return {
        "period": [first.isoformat(), last.isoformat()],
        "figures": [
            {"name": f.name, "value": f.value, "unit": f.unit, "definition": f.definition} for f in summary["figures"]
        ],
        "report": summary["report"],
    }
