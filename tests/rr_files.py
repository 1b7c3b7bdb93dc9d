"""Writing small hand-made RetailRocket folders for tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

EVENTS_HEADER = "timestamp,visitorid,event,itemid,transactionid"

# 2015-06-01 00:00:00 UTC in ms
T0 = 1_433_116_800_000
MIN = 60_000


def write_folder(
    root: Path,
    events: Sequence[str],
    *,
    properties: Sequence[str] = (),
    tree: Sequence[str] = (),
    prices: Sequence[str] = (),
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "events.csv").write_text("\n".join([EVENTS_HEADER, *events]) + "\n")
    if properties:
        (root / "item_properties_part1.csv").write_text(
            "\n".join(["timestamp,itemid,property,value", *properties]) + "\n"
        )
    if tree:
        (root / "category_tree.csv").write_text("\n".join(["categoryid,parentid", *tree]) + "\n")
    if prices:
        (root / "prices.csv").write_text("\n".join(["itemid,price", *prices]) + "\n")
    return root
