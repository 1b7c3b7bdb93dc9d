"""Your own shop's events, from a pandas DataFrame to a warehouse, the headline KPIs and an experiment
read-out.

The events are made by hand below the way a shop's export looks: string customer, product and order ids,
more event types than view / cart / purchase, pandas datetimes, and a few bad rows (an empty customer id,
an unreadable time, a row exported twice). Run it with ``python docs/examples/own_data.py [OUT_DIR]``; the
test suite runs it too (tests/test_pipeline.py).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

import shoplens
from shoplens.experiments import analyze
from shoplens.summary import headline, render

START = pd.Timestamp("2024-03-01 08:00:00")


def make_events(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, assignments): 600 customers, half of them in each arm of a checkout test."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    assignments: list[dict[str, Any]] = []
    for n in range(600):
        customer = f"C-{n:04d}"
        variant = "treatment" if n % 2 else "control"
        arrive = START + pd.Timedelta(minutes=int(rng.integers(0, 7 * 24 * 60)))
        assignments.append({"customer": customer, "variant": variant, "assigned_at": arrive})
        t = arrive
        rows.append({"customer": customer, "time": t, "action": "home", "sku": None, "order_no": None, "price": None})
        sku = f"SKU-{int(rng.integers(1, 40)):03d}"
        for _ in range(int(rng.integers(1, 4))):
            t += pd.Timedelta(seconds=int(rng.integers(20, 300)))
            rows.append(
                {"customer": customer, "time": t, "action": "view", "sku": sku, "order_no": None, "price": None}
            )
        if rng.random() < (0.30 if variant == "treatment" else 0.20):
            t += pd.Timedelta(seconds=int(rng.integers(20, 300)))
            rows.append(
                {"customer": customer, "time": t, "action": "cart", "sku": sku, "order_no": None, "price": None}
            )
            if rng.random() < 0.6:
                t += pd.Timedelta(seconds=int(rng.integers(20, 300)))
                price = round(float(rng.uniform(5, 80)), 2)
                order = f"O-{n:05d}"
                rows.append({"customer": customer, "time": t, "action": "purchase", "sku": sku, "order_no": order,
                             "price": price})  # fmt: skip
    events = pd.DataFrame(rows)
    bad = pd.DataFrame(
        [
            {"customer": "", "time": START, "action": "view", "sku": "SKU-001", "order_no": None, "price": None},
            {"customer": "C-0001", "time": pd.NaT, "action": "view", "sku": "SKU-002", "order_no": None, "price": None},
        ]
    )
    twice = events.iloc[[3]]  # a row exported twice
    events = pd.concat([events, bad, twice], ignore_index=True)
    return events, pd.DataFrame(assignments)


SCHEMA = shoplens.EventSchema(
    user="customer",
    timestamp="time",
    event="action",
    item="sku",
    order="order_no",
    price="price",
    event_values={"view": ["view"], "addtocart": ["cart"], "transaction": ["purchase"]},
)


def main(out: Path) -> tuple[dict[str, Any], Any]:
    events, assignments = make_events()
    report = shoplens.build_warehouse(shoplens.read_events(events, schema=SCHEMA, name="shop_export"), out)
    wh = shoplens.open_warehouse(out)
    ev = report["events"]
    print(
        f"{ev['rows_read']:,} rows read: {ev['kept']:,} kept, {ev['quarantined']:,} quarantined, "
        f"{ev['duplicates_removed']} duplicate"
    )
    for note in report["notes"]:
        print(f"note: {note}")
    print(wh.table("quarantine").select("index", "rule", "detail"))
    print(render(headline(wh)))
    assigned = pl.from_pandas(assignments).select(
        pl.lit("checkout").alias("experiment"),
        pl.col("customer").alias("user_id"),
        "variant",
        pl.col("assigned_at").cast(pl.Datetime("ms")),
    )
    result = analyze(wh.table("events"), assigned, metrics=("conversion", "revenue"))
    with pl.Config(tbl_cols=-1, tbl_width_chars=120, tbl_hide_dataframe_shape=True):
        print(result.results.select("metric", "variant", "n", "control_mean", "mean", "lift", "pvalue"))
    for summary in result.summaries.values():
        print(summary.text())
    return report, result


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp) / "warehouse")
