"""Headline figures of a warehouse, each with what it counts (bots excluded, as everywhere by default)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from shoplens._pipeline import Warehouse

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


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def headline(warehouse: Warehouse) -> dict[str, Any]:
    """KPIs over human traffic (visitors flagged as bots are excluded) and the validation summary."""
    events = warehouse.scan("events").filter(~pl.col("is_bot"))
    sessions = warehouse.scan("sessions").filter(~pl.col("is_bot"))
    visitors = warehouse.scan("visitors").filter(~pl.col("is_bot"))
    e = (
        events.select(
            pl.len().alias("events"),
            (pl.col("event") == "view").sum().alias("views"),
            (pl.col("event") == "addtocart").sum().alias("carts"),
            (pl.col("event") == "transaction").sum().alias("purchases"),
            pl.col("transaction_id").drop_nulls().n_unique().alias("orders"),
            pl.col("revenue").sum().alias("revenue"),
            pl.col("revenue").is_not_null().sum().alias("priced"),
            pl.col("timestamp").min().alias("first"),
            pl.col("timestamp").max().alias("last"),
        )
        .collect()
        .row(0, named=True)
    )
    s = (
        sessions.select(
            pl.len().alias("sessions"),
            pl.col("has_purchase").sum().alias("purchase_sessions"),
            pl.col("has_cart").sum().alias("cart_sessions"),
            (pl.col("has_cart") & ~pl.col("has_purchase")).sum().alias("abandoned"),
            pl.col("is_bounce").sum().alias("bounces"),
            pl.col("duration_s").median().alias("median_duration"),
            pl.col("n_events").mean().alias("events_per_session"),
        )
        .collect()
        .row(0, named=True)
    )
    v = (
        visitors.select(
            pl.len().alias("visitors"),
            pl.col("is_buyer").sum().alias("buyers"),
            (pl.col("n_purchases") > 0).sum().alias("buyers_check"),
        )
        .collect()
        .row(0, named=True)
    )
    revenue = e["revenue"] if e["priced"] else None
    figures = [
        Figure("Visitors", v["visitors"], "distinct visitor ids with at least one kept event"),
        Figure(
            "Sessions",
            s["sessions"],
            "runs of a visitor's events with no gap over the session timeout",
        ),
        Figure("Events", e["events"], "kept events (views + add-to-carts + purchases)"),
        Figure("Buyers", v["buyers"], "visitors with at least one purchase"),
        Figure("Orders", e["orders"], "distinct transaction ids"),
        Figure("Purchases", e["purchases"], "purchase rows (item lines of orders)"),
        Figure("User conversion", _ratio(v["buyers"], v["visitors"]), "buyers / visitors", "%"),
        Figure(
            "Session conversion",
            _ratio(s["purchase_sessions"], s["sessions"]),
            "sessions with a purchase / sessions",
            "%",
        ),
        Figure(
            "Cart abandonment",
            _ratio(s["abandoned"], s["cart_sessions"]),
            "sessions with a cart and no purchase / sessions with a cart",
            "%",
        ),
        Figure("Bounce rate", _ratio(s["bounces"], s["sessions"]), "one-event sessions / sessions", "%"),
        Figure("Events per session", s["events_per_session"], "events / sessions"),
        Figure(
            "Median session duration",
            s["median_duration"],
            "median of last event time - first event time",
            "s",
        ),
        Figure("Revenue", revenue, "sum of item prices over purchase rows (price source in the report)"),
        Figure(
            "Average order value",
            None if revenue is None else _ratio(revenue, e["orders"]),
            "revenue / orders",
        ),
        Figure(
            "Revenue per visitor",
            None if revenue is None else _ratio(revenue, v["visitors"]),
            "revenue / visitors",
        ),
        Figure("ARPPU", None if revenue is None else _ratio(revenue, v["buyers"]), "revenue / buyers"),
    ]
    report = warehouse.report
    return {"figures": figures, "period": (e["first"], e["last"]), "report": report}


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
        f"  events.csv: {ev['rows_read']:,} read, {ev['kept']:,} kept, {ev['bot_visitors']:,} bot visitors flagged"
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
        "period": [None if t is None else t.isoformat() for t in (first, last)],
        "figures": [
            {"name": f.name, "value": f.value, "unit": f.unit, "definition": f.definition} for f in summary["figures"]
        ],
        "report": summary["report"],
    }
