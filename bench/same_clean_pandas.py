"""The cleaning job of `shoplens build` written in pandas (vectorised), a yardstick for `make bench`.

``python bench/same_clean_pandas.py RAW OUT`` reads a RetailRocket-format folder RAW and writes Parquet tables into
OUT, with the definitions of docs/methodology.md:

- events.csv: exact duplicates (identical lines; the first stays) go to ``duplicates``; every other bad row goes
  to ``quarantine`` with the first validation rule it breaks, in the documented order; then near-duplicates (same
  visitor, item, event type and order id as a kept event at most 1 s earlier, inclusive).
- reference files, validated as the engine does (bad rows quarantined): item properties (the categoryid rows give
  each item's category history), category tree (roots and levels; an unknown parent makes a root, a cycle leaves
  no root), prices and experiment assignments and weights (a key defined again is a duplicate_key).
- each kept event gets its category as of its time, the category's root and, on purchases, the item's price as
  revenue; sessions open after a gap of more than 30 minutes; bots have more than 1,000 events or more than 60
  events inside a 60-second window.
- tables: events, sessions, visitors, categories, quarantine, duplicates, assignments and the nine KPI tables of
  bench/build_alternatives.py (kpi_daily, funnel, products, kpi_weekly, kpi_hour_weekday and cohort_retention over
  the non-bot events, with events, sessions and visitors).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from build_alternatives import tables_pandas

STR = pd.ArrowDtype(pa.string())
INT, NEG = r"[+-]?\d{1,18}", r"-0*[1-9]\d*"  # an integer as the engine reads it (sign, 1-18 digits); below 0
MIN_TS, MAX_TS = 946_684_800_000, 4_102_444_800_000  # [2000-01-01, 2100-01-01) in Unix ms
GAP_MS, NEAR_MS, BOT_EVENTS, BOT_PER_MINUTE = 30 * 60 * 1000, 1000, 1000, 60
EVENTS = ["view", "addtocart", "transaction"]
Rules = list[tuple[str, "pd.Series | np.ndarray"]]


def read_lines(path: Path, header: str) -> pd.Series:
    """The data lines of a CSV file as strings, indexed by line number (the header is line 1)."""
    lines = pd.read_csv(
        path,
        sep="\x1f",
        dtype=STR,
        na_filter=False,
        quoting=csv.QUOTE_NONE,
        skip_blank_lines=False,
        encoding_errors="replace",
    ).iloc[:, 0]
    if lines.name != header:
        raise ValueError(f"{path}: the header is not {header}")
    return lines.set_axis(pd.RangeIndex(2, len(lines) + 2))


def split(lines: pd.Series, names: list[str], rest_in_last: bool = False) -> tuple[pd.DataFrame, Rules]:
    """Trimmed fields of the lines ('' where empty) and the rules of a line's shape."""
    parts = lines.str.split(",", n=len(names) - 1 if rest_in_last else -1)
    shaped = parts.list.len() == len(names)
    parts = parts[shaped]
    fields = pd.DataFrame({c: parts.list[i].str.strip() for i, c in enumerate(names)})
    bad_utf8 = lines.str.contains("\ufffd", regex=False)
    return fields.reindex(lines.index, fill_value=""), [("bad_utf8", bad_utf8), ("wrong_column_count", ~shaped)]


def ids(s: pd.Series, optional: bool = False) -> Rules:
    """An id must be a non-negative integer (an optional one may be empty)."""
    return [
        ("non_numeric_id", ((s != "") if optional else True) & ~s.str.fullmatch(INT)),
        ("negative_id", s.str.fullmatch(NEG)),
    ]


def epoch(s: pd.Series) -> Rules:
    """A timestamp must be integer Unix ms in [2000, 2100)."""
    ms = num(s)
    return [("bad_timestamp", ~s.str.fullmatch(INT)), ("timestamp_out_of_range", (ms < MIN_TS) | (ms >= MAX_TS))]


def missing(f: pd.DataFrame) -> Rules:
    return [("missing_field", (f == "").any(axis=1))]


def keep(
    q: list[pd.DataFrame], source: str, lines: pd.Series, rules: Rules, key: pd.Series | pd.DataFrame | None = None
) -> pd.Series:
    """Quarantines each line by the first rule it breaks, then (given the lines' parsed `key`) a key already defined
    on an earlier kept line as duplicate_key. Returns the mask of the kept lines."""
    masks = [c.to_numpy(dtype=bool, na_value=False) if isinstance(c, pd.Series) else c for _, c in rules]
    rule = pd.Series(np.select(masks, [r for r, _ in rules], default=""), index=lines.index, dtype=object)
    if key is not None:
        valid = rule == ""
        rule[valid & key[valid].duplicated().reindex(lines.index, fill_value=False)] = "duplicate_key"
    bad = rule != ""
    q.append(pd.DataFrame({"source": source, "line": lines.index[bad], "rule": rule[bad], "raw": lines[bad]}))
    return ~bad


def as_int(s: pd.Series) -> np.ndarray:
    """Integers of strings that all are integers."""
    return s.str.removeprefix("+").astype("int64[pyarrow]").to_numpy(dtype="int64")


def num(s: pd.Series) -> np.ndarray:
    """Integers of strings, -1 where a string is not one."""
    return as_int(s.where(s.str.fullmatch(INT), "-1"))


def read_events(raw: Path, q: list[pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Valid, deduplicated events.csv rows (transaction_id -1 when absent, event as its code) and the duplicates."""
    lines = read_lines(raw / "events.csv", "timestamp,visitorid,event,itemid,transactionid")
    repeated = lines[lines.duplicated(keep=False)]
    first = repeated.index.to_series().groupby(repeated).transform("min")
    first = first[first.index != first]
    dups = pd.DataFrame({"source": "events.csv", "line": first.index, "duplicate_of_line": first.to_numpy()})
    lines = lines.drop(first.index)
    f, shape = split(lines, ["ts", "visitor", "event", "item", "order"])
    tx = f.event == "transaction"
    rules = shape + missing(f[["ts", "visitor", "event", "item"]]) + epoch(f.ts) + ids(f.visitor) + ids(f.item)
    rules += [
        *ids(f.order, optional=True),
        ("unknown_event_type", ~f.event.isin(EVENTS)),
        ("transaction_without_order_id", tx & (f.order == "")),
        ("order_id_on_non_transaction", ~tx & (f.order != "")),
    ]
    f = f[keep(q, "events.csv", lines, rules)]
    ev = pd.DataFrame(
        {
            "source_line": f.index.to_numpy(dtype="uint64"),
            "visitor_id": as_int(f.visitor),
            "timestamp": as_int(f.ts),
            "event": pd.Categorical(f.event, EVENTS).codes,
            "item_id": as_int(f.item),
            "transaction_id": as_int(f.order.replace("", "-1")),
        }
    )
    # Near-duplicates: each event against the KEPT events of its key (a burst 0.8 s apart keeps every other one).
    key = ["visitor_id", "item_id", "event", "transaction_id"]
    ev = ev.sort_values([*key, "timestamp", "source_line"], ignore_index=True)
    ts = ev.timestamp.to_numpy()
    opens = ((ev[key].diff() != 0).any(axis=1) | (ev.timestamp.diff() > NEAR_MS)).to_numpy()
    burst = np.cumsum(opens) - 1  # runs of a key's events each within 1 s of the previous one
    kept_ts, near = ts[opens], np.zeros(len(ev), dtype=bool)  # the last kept time of each run
    todo = np.flatnonzero(~opens)
    while todo.size:  # one round per kept event of the longest run
        close = ts[todo] - kept_ts[burst[todo]] <= NEAR_MS
        near[todo[close]] = True
        todo = todo[~close]
        first_out = np.diff(burst[todo], prepend=-1) != 0  # the first event out of the window is kept
        kept_ts[burst[todo[first_out]]] = ts[todo[first_out]]
        todo = todo[~first_out]
    dropped = ev.source_line[near].to_numpy()
    q.append(
        pd.DataFrame(
            {"source": "events.csv", "line": dropped, "rule": "near_duplicate", "raw": lines.loc[dropped].to_numpy()}
        )
    )
    return ev[~near].sort_values(["visitor_id", "timestamp", "source_line"], ignore_index=True), dups


def read_categories(raw: Path, q: list[pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Category records (item_id, ts, category_id) of the item properties, one per item and time (the later line
    wins), and the category tree with each category's root and level."""
    history = []
    for path in sorted(raw.glob("item_properties*.csv")):
        lines = read_lines(path, "timestamp,itemid,property,value")
        f, shape = split(lines, ["ts", "item", "property", "value"], rest_in_last=True)
        cat = f.property == "categoryid"
        bad_value = (cat & (~f.value.str.fullmatch(INT) | f.value.str.fullmatch(NEG))) | (
            (f.property == "available") & ~f.value.isin(["0", "1"])
        )
        rules = shape + missing(f[["ts", "item", "property"]]) + epoch(f.ts) + ids(f.item) + [("bad_value", bad_value)]
        f = f[keep(q, path.name, lines, rules) & cat]
        history.append(pd.DataFrame({"item_id": as_int(f.item), "ts": as_int(f.ts), "category_id": as_int(f.value)}))
    history = pd.concat(history, ignore_index=True).drop_duplicates(["item_id", "ts"], keep="last")

    lines = read_lines(raw / "category_tree.csv", "categoryid,parentid")
    f, shape = split(lines, ["category", "parent"])
    rules = shape + missing(f[["category"]]) + ids(f.category) + ids(f.parent, optional=True)
    f = f[keep(q, "category_tree.csv", lines, rules, key=pd.Series(num(f.category), f.index))]
    tree = pd.DataFrame(
        {
            "category_id": as_int(f.category),
            "parent_id": pd.to_numeric(f.parent.replace("", None)).astype("Int64").to_numpy(),
        }
    )
    # Roots and levels by walking down from the roots (categories without a parent in the tree), one level a pass;
    # categories in a cycle, and below one, are never reached.
    up = tree.parent_id.where(tree.parent_id.isin(tree.category_id), -1).fillna(-1).astype("int64").to_numpy()
    level = pd.Series(np.where(up < 0, 0.0, np.nan), index=tree.category_id)
    root = pd.Series(np.where(up < 0, tree.category_id, np.nan), index=tree.category_id)
    while (reached := level.isna().to_numpy() & level.reindex(up).notna().to_numpy()).any():
        level[reached] = level.reindex(up[reached]).to_numpy() + 1
        root[reached] = root.reindex(up[reached]).to_numpy()
    tree["root_category_id"] = root.astype("Int64").to_numpy()
    tree["level"] = level.astype("UInt32").to_numpy()
    return history, tree


def read_prices(raw: Path, q: list[pd.DataFrame]) -> pd.Series:
    """Item prices (the first definition of an item stays)."""
    lines = read_lines(raw / "prices.csv", "itemid,price")
    f, shape = split(lines, ["item", "price"])
    price = pd.to_numeric(f.price, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    rules = shape + missing(f) + ids(f.item) + [("bad_price", ~(price >= 0) | ~np.isfinite(price))]
    f = f[keep(q, "prices.csv", lines, rules, key=pd.Series(num(f.item), f.index))]
    return pd.Series(pd.to_numeric(f.price).astype("float64").to_numpy(), index=as_int(f.item))


def read_assignments(raw: Path, q: list[pd.DataFrame]) -> pd.DataFrame:
    """Experiment assignments (a user's first assignment to an experiment stays); the weights are validated."""
    lines = read_lines(raw / "experiments.csv", "experiment,user_id,variant,assigned_at")
    f, shape = split(lines, ["experiment", "user", "variant", "assigned"])
    key = pd.DataFrame({"e": f.experiment, "u": num(f.user)})
    f = f[keep(q, "experiments.csv", lines, shape + missing(f) + epoch(f.assigned) + ids(f.user), key=key)]
    if (path := raw / "experiment_weights.csv").exists():
        w_lines = read_lines(path, "experiment,variant,weight")
        w, w_shape = split(w_lines, ["experiment", "variant", "weight"])
        weight = pd.to_numeric(w.weight, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = [("bad_value", ~(weight > 0) | ~np.isfinite(weight))]
        keep(q, path.name, w_lines, w_shape + missing(w) + bad, key=w[["experiment", "variant"]])
    return pd.DataFrame(
        {
            "experiment": f.experiment,
            "user_id": as_int(f.user),
            "variant": f.variant,
            "assigned_at": as_int(f.assigned).astype("datetime64[ms]"),
            "source_line": f.index.to_numpy(dtype="uint64"),
        }
    )


def run(raw: Path, out: Path) -> None:
    """Cleans the RetailRocket folder `raw` and writes the tables into `out`."""
    q: list[pd.DataFrame] = []
    ev, dups = read_events(raw, q)
    history, tree = read_categories(raw, q)
    prices = read_prices(raw, q)
    read_assignments(raw, q).to_parquet(out / "assignments.parquet", index=False)
    quarantine = pd.concat(q, ignore_index=True).astype({"line": "uint64"}).sort_values(["source", "line"])
    quarantine.to_parquet(out / "quarantine.parquet", index=False)
    dups.to_parquet(out / "duplicates.parquet", index=False)
    tree.to_parquet(out / "categories.parquet", index=False)

    # Sessions (a gap over 30 min opens one), numbered per visitor and over the table in visitor order.
    new_visitor = ev.visitor_id.ne(ev.visitor_id.shift())
    opens = new_visitor | (ev.timestamp.diff() > GAP_MS)
    ev["session_id"] = (opens.cumsum() - 1).astype("uint64")
    ev["session_index"] = (opens.groupby(ev.visitor_id).cumsum() - 1).astype("uint32")
    # Category as of the event time (an event before the item's first record takes that record), root, revenue.
    at = ev[["timestamp", "item_id"]].reset_index().sort_values("timestamp")
    at = pd.merge_asof(at, history.sort_values("ts"), left_on="timestamp", right_on="ts", by="item_id")
    first = history.sort_values("ts").drop_duplicates("item_id").set_index("item_id").category_id
    category = at.set_index("index").category_id.sort_index()
    ev["category_id"] = category.fillna(ev.item_id.map(first)).astype("Int64")
    ev["root_category_id"] = ev.category_id.map(tree.set_index("category_id").root_category_id).astype("Int64")
    ev["revenue"] = ev.item_id.map(prices).where(ev.event == 2)
    # Bots: events in the 60 s window ending at each event, (t - 60 s, t], by a binary search over visitor-spaced
    # times; more than BOT_PER_MINUTE in one, or more than BOT_EVENTS in all.
    t = (ev.timestamp - ev.timestamp.min()).to_numpy()
    spaced = np.cumsum(new_visitor.to_numpy()) * (t.max(initial=0) + 60_001) + t
    in_window = pd.Series(np.arange(len(ev)) - np.searchsorted(spaced, spaced - 59_999) + 1)
    peak = in_window.groupby(ev.visitor_id).transform("max")
    ev["is_bot"] = (peak > BOT_PER_MINUTE) | (ev.groupby("visitor_id").visitor_id.transform("size") > BOT_EVENTS)
    ev["timestamp"] = ev.timestamp.astype("datetime64[ms]")
    ev["transaction_id"] = ev.transaction_id.where(ev.transaction_id >= 0).astype("Int64")
    ev["event"] = pd.Categorical.from_codes(ev.event, EVENTS)
    ev.to_parquet(out / "events.parquet", index=False)
    peak_column = {"peak_events_per_minute": ("peak", "max")}
    tables_pandas(ev.assign(peak=peak).rename(columns={"timestamp": "ts"}), out, ["session_id"], peak_column)


if __name__ == "__main__":
    out_dir = Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    run(Path(sys.argv[1]), out_dir)
