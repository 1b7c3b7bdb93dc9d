"""The `shoplens build` cleaning job in polars (lazy API, expressions only): the yardstick `make bench` times.

``python bench/same_clean_polars.py RAW OUT`` cleans a RetailRocket-format folder as `shoplens build` does
(docs/methodology.md) and writes Parquet tables into OUT. Every line of events.csv ends in exactly one of the
clean events, the exact-duplicate list (with the line it repeats) or the quarantine (the first rule it fails,
in the documented order; near-duplicates of a *kept* event within 1 s last). Item properties, the category
tree, prices, assignments and planned weights are validated into the same quarantine. Kept events get their
category as of their time and its root, revenue from prices.csv, sessions (a gap > 30 min opens one) and the
bot flag (> 1,000 events, or > 60 events in a 60-second window). Tables: events, sessions, visitors,
categories, quarantine, duplicates, assignments, and kpi_daily, funnel, products, kpi_weekly,
kpi_hour_weekday, cohort_retention over non-bot events (definitions of bench/build_alternatives.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

import polars as pl

GAP_MS, NEAR_MS, MINUTE_MS, BOT_EVENTS, BOT_PER_MINUTE = 30 * 60 * 1000, 1000, 60_000, 1000, 60
MIN_TS, MAX_TS, EARLIEST = 946_684_800_000, 4_102_444_800_000, -(2**62)
EVENTS = ["view", "addtocart", "transaction"]
KEY = ["visitor_id", "item_id", "event", "transaction_id"]  # what a near-duplicate repeats
QUARANTINE = ["source", "line", "rule", "raw"]
EVENT_COLUMNS = ["visitor_id", "timestamp", "event", "item_id", "transaction_id", "session_id", "session_index"]
EVENT_COLUMNS += ["category_id", "root_category_id", "revenue", "is_bot"]
WS = " \t\n\x0c\r"  # what Rust's is_ascii_whitespace trims
INT = r"^[+-]?[0-9]{1,18}$"  # the engine's strict integer


def rule(cond: pl.Expr, name: str) -> pl.Expr:
    """`name` where `cond` holds, else null: coalescing the rules in order gives the first one a row fails."""
    return pl.when(cond).then(pl.lit(name))


def missing(*names: str) -> pl.Expr:
    return rule(pl.any_horizontal(pl.col(n).is_null() for n in names), "missing_field")


def id_rule(name: str) -> pl.Expr:
    """A present id that is not an integer (non_numeric_id) or is below zero (negative_id)."""
    f = pl.col(name)
    return pl.coalesce(
        rule(~f.str.contains(INT), "non_numeric_id"), rule(f.cast(pl.Int64, strict=False) < 0, "negative_id")
    )


def epoch_rules(name: str) -> list[pl.Expr]:
    f = pl.col(name)
    in_range = f.cast(pl.Int64, strict=False).is_between(MIN_TS, MAX_TS, closed="left")
    return [rule(~f.str.contains(INT), "bad_timestamp"), rule(~in_range, "timestamp_out_of_range")]


def number_rule(name: str, closed: Literal["left", "none"], rule_name: str) -> pl.Expr:
    """A number that does not parse, is not finite, or is below zero (closed="left") or not above it ("none")."""
    ok = pl.col(name).cast(pl.Float64, strict=False).is_between(0, float("inf"), closed=closed)
    return rule(~ok.fill_null(False), rule_name)


def checked(
    path: Path, names: list[str], *rules: pl.Expr, key: list[str] | None = None, rest: bool = False
) -> pl.LazyFrame:
    """The data lines of a CSV file (line 2 = the first) with raw text, trimmed fields (null when empty) and `rule`:
    bad_utf8 (read lossily), wrong_column_count (the last field takes the rest of the line when `rest`), then
    `rules` in order, then duplicate_key for a valid row whose `key` an earlier valid row defined."""
    raw, n = pl.col("raw"), len(names)
    fields = raw.str.splitn(",", n) if rest else raw.str.split_exact(",", n - 1)
    commas = raw.str.count_matches(",", literal=True)
    lines = pl.scan_csv(  # one text column: each line as read (no quoting; an empty line is a null)
        path,
        has_header=False,
        skip_rows=1,
        separator="\x1f",
        quote_char=None,
        schema={"raw": pl.String},
        encoding="utf8-lossy",
    )
    lf = (
        lines.with_row_index("line", offset=2)
        .with_columns(pl.col("line").cast(pl.UInt64), raw.fill_null(""), source=pl.lit(path.name))
        .with_columns(fields.struct.rename_fields(names).alias("fields"))
        .unnest("fields")
        .with_columns(pl.col(names).str.strip_chars(WS))
        .with_columns(pl.col(names).replace("", None))
        .with_columns(
            rule=pl.coalesce(
                rule(raw.str.contains("\ufffd", literal=True), "bad_utf8"),
                rule(commas < n - 1 if rest else commas != n - 1, "wrong_column_count"),
                *rules,
            )
        )
    )
    if key is None:
        return lf
    valid = pl.col("rule").is_null()
    again = valid & ~pl.when(valid).then(pl.struct(key)).is_first_distinct()
    return lf.with_columns(rule=pl.coalesce("rule", rule(again, "duplicate_key")))


def bad(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.filter(pl.col("rule").is_not_null()).select(QUARANTINE)


def categories(raw: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The category tree and its quarantined rows. Root and level by pointer doubling: after k rounds `anc` is
    2^k steps up or at a root (a parent outside the tree makes a root); in a cycle it never reaches one."""
    names = ["category_id", "parent_id"]
    rows = checked(raw / "category_tree.csv", names, missing("category_id"), *map(id_rule, names), key=names[:1])
    tree = rows.filter(pl.col("rule").is_null()).select(pl.col(names).cast(pl.Int64)).collect()
    t = tree.join(
        tree.select(parent_id="category_id", up="category_id"), on="parent_id", how="left", maintain_order="left"
    )
    t = t.with_columns(anc=pl.coalesce("up", "category_id"), level=pl.col("up").is_not_null().cast(pl.UInt32))
    for _ in range(len(t).bit_length()):
        hop = t.select(anc="category_id", anc2="anc", level2="level")
        t = t.join(hop, on="anc", how="left", maintain_order="left").select(
            *names, "up", anc="anc2", level=pl.col("level") + pl.col("level2")
        )
    t = t.join(t.select(anc="category_id", at_root=pl.col("up").is_null()), on="anc", how="left", maintain_order="left")
    at_root = pl.col("at_root")
    t = t.select(*names, root_category_id=pl.when(at_root).then("anc"), level=pl.when(at_root).then("level"))
    return t, bad(rows).collect()


def references(raw: Path) -> list[pl.LazyFrame]:
    """Category records (item, from, category: same item and time, the later line wins; an item's first record
    holds from the start of time), prices (the first definition stays), assignments, and the quarantined rows
    of item properties, prices and planned weights."""
    value, prop = pl.col("value"), pl.col("property")
    not_id = value.is_null() | ~value.str.contains(INT) | (value.cast(pl.Int64, strict=False) < 0)
    bad_value = ((prop == "categoryid") & not_id) | ((prop == "available") & ~value.is_in(["0", "1"]))
    names = ["ts", "item_id", "property", "value"]
    prop_rules = [missing(*names[:3]), *epoch_rules("ts"), id_rule("item_id"), rule(bad_value, "bad_value")]
    files = sorted(raw.glob("item_properties*.csv"))
    props = pl.concat(
        [checked(p, names, *prop_rules, rest=True).with_columns(file=pl.lit(k)) for k, p in enumerate(files)]
    )
    cats = (
        props.filter(pl.col("rule").is_null() & (prop == "categoryid"))
        .select(pl.col("item_id", "ts").cast(pl.Int64), "file", "line", category_id=value.cast(pl.Int64))
        .sort("item_id", "ts", "file", "line")
        .unique(["item_id", "ts"], keep="last", maintain_order=True)
        .with_columns(cat_ts=pl.when(pl.col("item_id").is_first_distinct()).then(EARLIEST).otherwise("ts"))
        .drop("ts", "file", "line")
        .sort("cat_ts")
    )
    names = ["item_id", "price"]
    price_rules = [missing(*names), id_rule("item_id"), number_rule("price", "left", "bad_price")]
    prices = checked(raw / "prices.csv", names, *price_rules, key=names[:1])
    names = ["experiment", "variant", "weight"]
    weight_rules = [missing(*names), number_rule("weight", "none", "bad_value")]
    weights = checked(raw / "experiment_weights.csv", names, *weight_rules, key=names[:2])
    names = ["experiment", "user_id", "variant", "assigned_at"]
    asg_rules = [missing(*names), *epoch_rules("assigned_at"), id_rule("user_id")]
    asg = checked(raw / "experiments.csv", names, *asg_rules, key=names[:2])
    price_table = prices.filter(pl.col("rule").is_null()).select(
        pl.col("item_id").cast(pl.Int64), pl.col("price").cast(pl.Float64)
    )
    assigned_at = pl.col("assigned_at").cast(pl.Int64).cast(pl.Datetime("ms"))
    asg_table = asg.filter(pl.col("rule").is_null()).select(
        "experiment", pl.col("user_id").cast(pl.Int64), "variant", assigned_at, source_line="line"
    )
    return [cats, price_table, asg_table, *map(bad, (props, prices, weights, asg))]


def events(raw: Path) -> pl.DataFrame:
    """Every line of events.csv: its first failing rule, whether it repeats an earlier line, typed fields."""
    names = ["timestamp", "visitor_id", "event", "item_id", "transaction_id"]
    ev, order = pl.col("event"), pl.col("transaction_id")
    rules = [missing(*names[:4]), *epoch_rules("timestamp"), *map(id_rule, ["visitor_id", "item_id", "transaction_id"])]
    rules += [
        rule(~ev.is_in(EVENTS), "unknown_event_type"),
        rule((ev == "transaction") & order.is_null(), "transaction_without_order_id"),
        rule((ev != "transaction") & order.is_not_null(), "order_id_on_non_transaction"),
    ]
    ids = pl.col("timestamp", "visitor_id", "item_id", "transaction_id").cast(pl.Int64, strict=False)
    lf = checked(raw / "events.csv", names, *rules)
    lf = lf.select("line", "raw", "rule", "event", ids, is_dup=~pl.col("raw").is_first_distinct())
    return lf.collect(engine="streaming")


def near_duplicates(valid: pl.LazyFrame) -> pl.DataFrame:
    """Lines of the near-duplicates. Candidates are the rows of bursts: rows with a same-key row at most the window
    before or after them (in time, line order); a burst starts where the gap to the previous same-key row exceeds
    the window, so no kept event of the key is within it. Each round keeps every burst's first undecided row and
    drops the rows within the window of it (they repeat a kept event); the next undecided row is more than the
    window after the last kept one, so the next round keeps it. Rounds = kept rows of the longest burst."""
    ts, group = pl.col("timestamp"), pl.struct(KEY).rle_id()
    near_prev = ((group == group.shift(1)) & (ts.diff() <= NEAR_MS)).fill_null(False)
    near_next = ((group == group.shift(-1)) & (ts.diff(-1) >= -NEAR_MS)).fill_null(False)
    b = (
        valid.filter(pl.len().over(KEY) > 1)
        .sort(*KEY, "timestamp", "line")
        .with_columns(near_prev=near_prev, near_next=near_next)
        .filter(pl.col("near_prev") | pl.col("near_next"))
        .select("line", "timestamp", burst=(~pl.col("near_prev")).cum_sum())
        .collect()
    )
    near = [b.clear().select("line")]
    while b.height:
        b = b.with_columns(gap=ts - ts.first().over("burst"), anchor=pl.int_range(pl.len()).over("burst") == 0)
        near.append(b.filter(~pl.col("anchor") & (pl.col("gap") <= NEAR_MS)).select("line"))
        b = b.filter(pl.col("gap") > NEAR_MS).drop("gap", "anchor")
    return pl.concat(near)


def run(raw: Path, out: Path) -> None:
    """The job: clean RAW as `shoplens build` does and write the tables into OUT."""
    cats, prices, asg, *quarantine = pl.collect_all(references(raw), engine="streaming")
    tree, bad_tree = categories(raw)
    tree.write_parquet(out / "categories.parquet")
    asg.write_parquet(out / "assignments.parquet")
    rows = events(raw)
    src = pl.lit("events.csv").alias("source")
    dups = rows.filter("is_dup").select("raw", "line")
    firsts = rows.lazy().filter(~pl.col("is_dup") & pl.col("raw").is_in(dups["raw"].implode()))
    repeats = dups.lazy().join(firsts.select("raw", duplicate_of_line="line"), on="raw")
    repeats.select(src, "line", "duplicate_of_line").sort("line").sink_parquet(out / "duplicates.parquet")
    valid = rows.lazy().filter(~pl.col("is_dup") & pl.col("rule").is_null()).select("line", *KEY, "timestamp").collect()
    near = near_duplicates(valid.lazy())
    nears = rows.lazy().join(near.lazy(), on="line", how="semi").with_columns(rule=pl.lit("near_duplicate"))
    events_bad = [bad(rows.lazy().filter(~pl.col("is_dup")).with_columns(src)), bad(nears.with_columns(src))]
    pl.concat([*events_bad, *(f.lazy() for f in (*quarantine, bad_tree))]).sink_parquet(out / "quarantine.parquet")
    del rows, asg

    ts, vis = pl.col("timestamp"), pl.col("visitor_id")
    kept = (  # stable sorts from file order: by time, then by visitor, give (visitor, time, line) order
        valid.lazy()
        .join(near.lazy(), on="line", how="anti", maintain_order="left")
        .sort("timestamp", maintain_order=True)
        .join_asof(cats.lazy(), left_on="timestamp", right_on="cat_ts", by="item_id", check_sortedness=False)
        .sort("visitor_id", maintain_order=True)
        .join(
            tree.lazy().select("category_id", "root_category_id"), on="category_id", how="left", maintain_order="left"
        )
        .join(prices.lazy(), on="item_id", how="left", maintain_order="left")
        .with_columns(
            revenue=pl.when(pl.col("event") == "transaction").then("price"),
            session_id=(((vis != vis.shift(1)).fill_null(True) | (ts.diff() > GAP_MS)).cum_sum() - 1).cast(pl.UInt64),
        )
    )
    per_visitor = (  # peak: most events in a window (t - 60 s, t], t an event's time
        kept.rolling("timestamp", period=f"{MINUTE_MS}i", closed="right", group_by="visitor_id")
        .agg(pl.len())
        .group_by("visitor_id")
        .agg(
            peak_events_per_minute=pl.col("len").max(),
            is_bot=(pl.len() > BOT_EVENTS) | (pl.col("len").max() > BOT_PER_MINUTE),
        )
    )
    ev = (
        kept.join(per_visitor, on="visitor_id", how="left", maintain_order="left")
        .with_columns(
            ts.cast(pl.Datetime("ms")),
            session_index=(pl.col("session_id") - pl.col("session_id").min().over("visitor_id")).cast(pl.UInt32),
        )
        .select(pl.col("line").alias("source_line"), *EVENT_COLUMNS, "peak_events_per_minute")
        .collect()
    )
    del valid, near, cats, prices
    ev_sorted = ev.lazy().set_sorted("visitor_id").set_sorted("session_id")
    tables = {"events": ev.lazy().drop("peak_events_per_minute"), **kpis(ev_sorted.with_columns(ts=ts))}
    sinks = [lf.sink_parquet(out / f"{name}.parquet", lazy=True) for name, lf in tables.items()]
    pl.collect_all(sinks, engine="streaming")


def kpis(ev: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
    """Sessions, visitors and the KPI tables of the reduced job (bench/build_alternatives.py), same definitions."""
    is_, vis, ts, revenue = pl.col("event"), pl.col("visitor_id"), pl.col("ts"), pl.col("revenue").sum()
    buy = is_ == "transaction"
    views, carts, purchases = (is_ == "view").sum(), (is_ == "addtocart").sum(), buy.sum()
    buyers = vis.filter(buy).n_unique().alias("buyers")
    orders = pl.col("transaction_id").drop_nulls().n_unique().alias("orders")
    span = [ts.min().alias("start"), ts.max().alias("end"), pl.len().alias("n_events")]
    counts = [views.alias("n_views"), carts.alias("n_carts"), purchases.alias("n_purchases"), revenue]
    sessions = ev.group_by("session_id").agg(
        pl.col("visitor_id", "session_index").first(), *span, *counts, pl.col("is_bot").first()
    )
    span = [ts.min().alias("first_seen"), ts.max().alias("last_seen"), pl.len().alias("n_events")]
    n_sessions = (pl.col("session_index").max() + 1).alias("n_sessions")
    last = [purchases.alias("n_purchases"), revenue, pl.col("peak_events_per_minute", "is_bot").first()]
    visitors = ev.group_by("visitor_id").agg(*span, n_sessions, *last)
    human = ev.filter(~pl.col("is_bot"))
    events = [views.alias("views"), carts.alias("carts"), purchases.alias("purchases")]
    daily = human.group_by(ts.dt.date().alias("date")).agg(
        vis.n_unique().alias("visitors"), *events, orders, buyers, revenue
    )
    per_user = human.group_by("visitor_id").agg(
        pl.lit(True).alias("s1"), is_.is_in(["addtocart", "transaction"]).any().alias("s2"), buy.any().alias("s3")
    )
    funnel = per_user.select(pl.col("s1").sum(), pl.col("s2").sum(), pl.col("s3").sum())
    products = human.group_by("item_id").agg(*events, vis.filter(is_ == "view").n_unique().alias("viewers"), revenue)
    week = ts.dt.truncate("1w").dt.date()
    weekly = human.group_by(week.alias("week")).agg(
        vis.n_unique().alias("visitors"), purchases.alias("purchases"), orders, buyers, revenue
    )
    hour_weekday = human.group_by((ts.dt.weekday() - 1).alias("weekday"), ts.dt.hour().alias("hour")).agg(
        pl.len().alias("events"), vis.n_unique().alias("visitors"), purchases.alias("purchases"), buyers
    )
    act = human.with_columns(
        week.alias("week"), ts.min().over("visitor_id").dt.truncate("1w").dt.date().alias("cohort")
    )
    sizes = act.group_by("cohort").agg(vis.n_unique().alias("cohort_size"))
    offset = ((pl.col("week") - pl.col("cohort")).dt.total_days() // 7).alias("offset")
    cohorts = (
        act.group_by("cohort", offset).agg(vis.n_unique().alias("active"), buyers, revenue).join(sizes, on="cohort")
    )
    return {
        "sessions": sessions.sort("session_id"),
        "visitors": visitors.sort("visitor_id"),
        "kpi_daily": daily.sort("date"),
        "funnel": funnel,
        "products": products,
        "kpi_weekly": weekly.sort("week"),
        "kpi_hour_weekday": hour_weekday.sort("weekday", "hour"),
        "cohort_retention": cohorts.sort("cohort", "offset"),
    }


if __name__ == "__main__":
    out_dir = Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    run(Path(sys.argv[1]), out_dir)
