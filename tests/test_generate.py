"""Tests of shoplens.generate: the files are read back with polars, independently of the engine,
and compared with the published RetailRocket figures (SPEC §1.2) and with truth.json."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
from scipy import stats

from shoplens import generate
from shoplens._generate import GenerateResult
from shoplens.errors import InvalidArgumentError, StorageError

SCALE = 0.1
# SPEC §1.2, scale 1.0.
PUBLISHED = {
    "events": 2_756_101,
    "view": 2_664_312,
    "addtocart": 69_332,
    "transaction": 22_457,
    "visitors": 1_407_580,
    "buyers": 11_719,
    "orders": 17_672,
    "items_with_events": 235_061,
    "items_in_properties": 417_053,
}
START_MS = 1_430_611_200_000  # 2015-05-03 00:00 UTC
END_MS = 1_442_620_800_000  # 2015-09-19 00:00 UTC
RULES = {
    "wrong_column_count",
    "missing_field",
    "non_numeric_id",
    "negative_id",
    "bad_timestamp",
    "timestamp_out_of_range",
    "unknown_event_type",
    "transaction_without_order_id",
    "order_id_on_non_transaction",
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> GenerateResult:
    return generate(tmp_path_factory.mktemp("scale01"), scale=SCALE, seed=42)


@pytest.fixture(scope="module")
def truth(dataset: GenerateResult) -> dict:
    return dataset.truth


def injected_lines(truth: dict) -> set[int]:
    lines = set(truth["exact_duplicates"]["lines"]) | set(truth["near_duplicates"]["lines"])
    for rule in truth["malformed"].values():
        lines |= set(rule["lines"])
    return lines


@pytest.fixture(scope="module")
def raw_lines(dataset: GenerateResult) -> list[str]:
    return dataset.files["events.csv"].read_text(encoding="utf-8").split("\n")


@pytest.fixture(scope="module")
def events(dataset: GenerateResult, truth: dict) -> pl.DataFrame:
    """The clean rows: every line of events.csv except those truth.json lists as injected."""
    raw = pl.read_csv(dataset.files["events.csv"], infer_schema=False, truncate_ragged_lines=True).with_row_index(
        "line", offset=2
    )
    return raw.filter(~pl.col("line").is_in(sorted(injected_lines(truth)))).with_columns(
        pl.col("timestamp").cast(pl.Int64),
        pl.col("visitorid").cast(pl.Int64),
        pl.col("itemid").cast(pl.Int64),
        pl.col("transactionid").cast(pl.Int64),
        pl.from_epoch(pl.col("timestamp").cast(pl.Int64), time_unit="ms").alias("at"),
    )


def assert_near(observed: float, published: float, what: str) -> None:
    expected = published * SCALE
    assert abs(observed / expected - 1) <= 0.05, f"{what}: {observed} vs {expected:.0f}"


def test_result_describes_the_files(dataset: GenerateResult) -> None:
    assert set(dataset.files) == {
        "events.csv",
        "item_properties_part1.csv",
        "item_properties_part2.csv",
        "category_tree.csv",
        "prices.csv",
        "experiments.csv",
        "experiment_weights.csv",
        "truth.json",
    }
    for name, path in dataset.files.items():
        assert path.parent == dataset.out_dir
        assert path.is_file()
        if name.endswith(".csv"):
            lines = path.read_bytes().count(b"\n")
            assert dataset.rows[name] == lines - 1, name
    with pytest.raises(AttributeError):
        dataset.out_dir = Path()  # type: ignore[misc]


def test_headers_follow_the_retailrocket_format(dataset: GenerateResult) -> None:
    headers = {
        "events.csv": "timestamp,visitorid,event,itemid,transactionid",
        "item_properties_part1.csv": "timestamp,itemid,property,value",
        "item_properties_part2.csv": "timestamp,itemid,property,value",
        "category_tree.csv": "categoryid,parentid",
        "prices.csv": "itemid,price",
        "experiments.csv": "experiment,user_id,variant,assigned_at",
        "experiment_weights.csv": "experiment,variant,weight",
    }
    for name, header in headers.items():
        with open(dataset.files[name], encoding="utf-8", newline="") as f:
            assert f.readline() == header + "\n", name


def test_event_counts_match_the_published_figures(events: pl.DataFrame, truth: dict) -> None:
    kinds = dict(events.group_by("event").len().iter_rows())
    assert set(kinds) == {"view", "addtocart", "transaction"}
    for kind in ("view", "addtocart", "transaction"):
        assert_near(kinds[kind], PUBLISHED[kind], kind)
    assert_near(events.height, PUBLISHED["events"], "events")
    purchases = events.filter(pl.col("event") == "transaction")
    assert_near(events["visitorid"].n_unique(), PUBLISHED["visitors"], "visitors")
    assert_near(purchases["visitorid"].n_unique(), PUBLISHED["buyers"], "buyers")
    orders = purchases["transactionid"].n_unique()
    assert_near(orders, PUBLISHED["orders"], "orders")
    assert purchases.height > orders, "multi-item orders exist"
    assert_near(events["itemid"].n_unique(), PUBLISHED["items_with_events"], "items with events")
    counts = truth["counts"]
    assert counts["events_clean"] == events.height
    assert counts["view"] == kinds["view"]
    assert counts["buyers"] == purchases["visitorid"].n_unique()
    assert counts["orders"] == orders
    assert counts["items_with_events"] == events["itemid"].n_unique()


def test_clean_rows_are_valid_and_in_time_order(events: pl.DataFrame) -> None:
    assert events["timestamp"].is_sorted()
    assert events["timestamp"].min() >= START_MS
    assert events["timestamp"].max() < END_MS
    is_purchase = pl.col("event") == "transaction"
    assert events.filter(is_purchase != pl.col("transactionid").is_not_null()).height == 0
    assert events.select(pl.all().exclude("line", "at")).is_duplicated().sum() == 0
    order_keys = (
        events.filter(is_purchase)
        .group_by("transactionid")
        .agg(
            pl.col("visitorid").n_unique().alias("visitors"),
            pl.col("timestamp").n_unique().alias("times"),
        )
    )
    assert order_keys["visitors"].max() == 1
    assert order_keys["times"].max() == 1


def test_catalog_files(dataset: GenerateResult, events: pl.DataFrame, truth: dict) -> None:
    props = pl.concat(
        [
            pl.read_csv(dataset.files[p], schema_overrides={"value": pl.String})
            for p in ("item_properties_part1.csv", "item_properties_part2.csv")
        ]
    )
    n_items = props["itemid"].n_unique()
    assert_near(n_items, PUBLISHED["items_in_properties"], "items in properties")
    assert 4 * n_items <= props.height <= 5.2 * n_items
    assert set(events["itemid"].unique()) <= set(props["itemid"].unique())
    at = pl.from_epoch("timestamp", time_unit="ms")
    assert props.select((at.dt.weekday() == 7).all() & (at.dt.hour() == 3).all()).item()
    categories = props.filter(pl.col("property") == "categoryid")
    moved = categories.group_by("itemid").len().filter(pl.col("len") > 1).height
    assert moved == truth["category_changes"]
    assert 0.02 < moved / n_items < 0.04
    available = props.filter(pl.col("property") == "available")["value"]
    assert set(available.unique()) == {"0", "1"}

    tree = pl.read_csv(dataset.files["category_tree.csv"])
    assert tree.height == 1669 == truth["counts"]["categories"]
    assert 20 <= tree["parentid"].null_count() <= 30
    assert set(categories["value"].cast(pl.Int64)) <= set(tree["categoryid"])

    prices = pl.read_csv(dataset.files["prices.csv"])
    assert prices.height == n_items
    assert prices["itemid"].is_unique().all()
    assert prices["price"].min() > 0
    assert 20 < prices["price"].median() < 45
    assert prices["price"].mean() > prices["price"].median(), "long right tail"


def test_events_per_visitor_are_skewed(events: pl.DataFrame, truth: dict) -> None:
    per_visitor = events.group_by("visitorid").len()["len"]
    assert per_visitor.median() == 1
    assert per_visitor.max() >= 1000
    bots = set(truth["bots"]["visitor_ids"])
    assert len(bots) == round(10 * SCALE)
    bot_events = events.filter(pl.col("visitorid").is_in(sorted(bots)))
    assert bot_events.height == truth["bots"]["events"]
    gaps = bot_events.sort("visitorid", "timestamp").select(pl.col("timestamp").diff().over("visitorid").alias("gap"))[
        "gap"
    ]
    assert (gaps.drop_nulls() <= 333).mean() > 0.9, "bots make at least 3 events per second"


def test_hour_of_day_cycle(events: pl.DataFrame) -> None:
    per_hour = events.group_by(pl.col("at").dt.hour()).len()["len"]
    assert per_hour.len() == 24
    assert per_hour.max() > 2 * per_hour.min()


def test_weekday_conversion_is_higher_than_weekend(events: pl.DataFrame) -> None:
    daily = events.group_by(pl.col("at").dt.date().alias("day")).agg(
        pl.col("visitorid").n_unique().alias("visitors"),
        pl.col("visitorid").filter(pl.col("event") == "transaction").n_unique().alias("buyers"),
    )
    rates = daily.group_by(pl.col("day").dt.weekday() >= 6).agg(
        (pl.col("buyers").sum() / pl.col("visitors").sum()).alias("conversion")
    )
    conversion = dict(rates.iter_rows())
    assert conversion[False] > conversion[True]


def test_outage_collapses_conversion(events: pl.DataFrame, truth: dict) -> None:
    outage = truth["outage"]
    assert outage["end_ms"] - outage["start_ms"] == 6 * 3_600_000
    start = pl.from_epoch(pl.lit(outage["start_ms"]), time_unit="ms")
    assert events.select(start.dt.weekday()).item() <= 5
    inside = pl.col("timestamp").is_between(outage["start_ms"], outage["end_ms"], closed="left")
    rate = events.group_by(inside.alias("inside")).agg(
        ((pl.col("event") == "transaction").sum() / (pl.col("event") == "view").sum()).alias("r")
    )
    rates = dict(rate.iter_rows())
    assert rates[True] < 0.3 * rates[False]


def test_injected_rows_are_where_truth_says(dataset: GenerateResult, raw_lines: list[str], truth: dict) -> None:
    def line(n: int) -> str:
        return raw_lines[n - 1]

    dups = truth["exact_duplicates"]["lines"]
    assert len(dups) == truth["exact_duplicates"]["count"] == round(460 * SCALE)
    earlier = {text: n for n, text in reversed(list(enumerate(raw_lines, start=1)))}
    for n in dups:
        assert earlier[line(n)] < n, f"line {n} repeats no earlier line"

    near = truth["near_duplicates"]
    assert near["window_ms"] == 1000 and len(near["lines"]) == near["count"] == round(230 * SCALE)
    raw = pl.read_csv(dataset.files["events.csv"], infer_schema=False, truncate_ragged_lines=True).with_row_index(
        "line", offset=2
    )
    raw = raw.filter(pl.col("timestamp").str.contains(r"^\d+$")).with_columns(pl.col("timestamp").cast(pl.Int64))
    copies = raw.filter(pl.col("line").is_in(near["lines"]))
    assert set(copies["event"]) <= {"view", "addtocart"}
    originals = copies.join(raw, on=["visitorid", "event", "itemid"], suffix="_original").filter(
        (pl.col("line_original") < pl.col("line"))
        & (pl.col("timestamp") - pl.col("timestamp_original")).is_between(1, 999)
    )
    assert originals["line"].n_unique() == near["count"], "a near-duplicate has no original"

    assert set(truth["malformed"]) == RULES
    for rule, info in truth["malformed"].items():
        assert info["count"] == len(info["lines"]) == round(8 * max(SCALE, 0.125))
        for n in info["lines"]:
            assert broken_rules(line(n)) == [rule], f"line {n}: {line(n)!r}"


def broken_rules(line: str) -> list[str]:
    """The validation rules of SPEC §1.4 that one raw line breaks."""
    fields = line.split(",")
    if len(fields) != 5:
        return ["wrong_column_count"]
    ts, visitor, event, item, order = fields
    broken = []
    if "" in (ts, visitor, item):
        broken.append("missing_field")
    if any(v and not v.startswith("-") and not v.isdigit() for v in (visitor, item)):
        broken.append("non_numeric_id")
    if any(v.startswith("-") for v in (visitor, item)):
        broken.append("negative_id")
    if ts and not ts.isdigit():
        broken.append("bad_timestamp")
    if ts.isdigit() and not START_MS <= int(ts) < END_MS:
        broken.append("timestamp_out_of_range")
    if event not in ("view", "addtocart", "transaction"):
        broken.append("unknown_event_type")
    elif event == "transaction" and not order:
        broken.append("transaction_without_order_id")
    elif event != "transaction" and order:
        broken.append("order_id_on_non_transaction")
    return broken


def test_experiments(dataset: GenerateResult, events: pl.DataFrame, truth: dict) -> None:
    weights = pl.read_csv(dataset.files["experiment_weights.csv"])
    assert weights["weight"].to_list() == [0.5] * 6
    assignments = pl.read_csv(dataset.files["experiments.csv"])
    first_after = (
        assignments.join(events, left_on="user_id", right_on="visitorid")
        .filter(pl.col("timestamp") >= pl.col("experiment").replace_strict(start_of(truth)))
        .group_by("experiment", "user_id")
        .agg(pl.col("timestamp").min(), pl.col("assigned_at").first())
    )
    assert first_after.height == assignments.height
    assert (first_after["timestamp"] == first_after["assigned_at"]).all()

    counts = {
        name: dict(group.group_by("variant").len().iter_rows()) for (name,), group in assignments.group_by("experiment")
    }
    srm = {name: stats.chisquare(list(c.values())).pvalue for name, c in counts.items()}
    assert srm["recs_srm"] < 1e-3 and truth["experiments"]["recs_srm"]["srm"]
    assert srm["homepage_aa"] > 1e-3 and srm["checkout_redesign"] > 1e-3

    # User conversion after assignment: the observed lift is consistent with the true +15 %.
    purchases = events.filter(pl.col("event") == "transaction").select("visitorid", "timestamp")
    checkout = assignments.filter(pl.col("experiment") == "checkout_redesign")
    converted = (
        checkout.join(purchases, left_on="user_id", right_on="visitorid", how="left")
        .group_by("user_id", "variant")
        .agg((pl.col("timestamp") >= pl.col("assigned_at")).fill_null(False).any().alias("c"))
        .group_by("variant")
        .agg(pl.len().alias("n"), pl.col("c").sum().alias("k"))
    )
    arms = {v: (n, k) for v, n, k in converted.iter_rows()}
    (n0, k0), (n1, k1) = arms["control"], arms["treatment"]
    log_ratio = math.log((k1 / n1) / (k0 / n0))
    se = math.sqrt(1 / k1 - 1 / n1 + 1 / k0 - 1 / n0)
    spec = truth["experiments"]["checkout_redesign"]
    assert spec["true_relative_lift"] == {"treatment": 0.15}
    assert abs(log_ratio - math.log(1.15)) < 3 * se
    expected = spec["expected_conversion"]
    assert expected["treatment"] == pytest.approx(1.15 * expected["control"])
    assert abs(k0 / n0 - expected["control"]) < 4 * math.sqrt(expected["control"] / n0)


def start_of(truth: dict) -> dict[str, int]:
    return {name: spec["start_ms"] for name, spec in truth["experiments"].items()}


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", scale=0.01, seed=5)
    second = generate(tmp_path / "b", scale=0.01, seed=5)
    other = generate(tmp_path / "c", scale=0.01, seed=6)
    for name, path in first.files.items():
        assert path.read_bytes() == second.files[name].read_bytes(), name
    assert first.files["events.csv"].read_bytes() != other.files["events.csv"].read_bytes()
    assert json.loads(first.files["truth.json"].read_text())["seed"] == 5


def test_without_anomalies(tmp_path: Path) -> None:
    result = generate(tmp_path, scale=0.01, inject_anomalies=False, progress=True)
    truth = result.truth
    assert truth["outage"] is None
    assert truth["bots"] == {"visitor_ids": [], "events": 0}
    assert truth["exact_duplicates"]["count"] == 0
    assert all(rule["count"] == 0 for rule in truth["malformed"].values())
    assert result.rows["events.csv"] == truth["counts"]["events_clean"]


@pytest.mark.parametrize("scale", [0.0, -1.0, math.nan, math.inf, 101.0])
def test_rejects_bad_scale(tmp_path: Path, scale: float) -> None:
    with pytest.raises(InvalidArgumentError, match="scale"):
        generate(tmp_path, scale=scale)


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, True])
def test_rejects_bad_seed(tmp_path: Path, seed: object) -> None:
    with pytest.raises(ValueError, match="seed"):
        generate(tmp_path, scale=0.01, seed=seed)  # type: ignore[arg-type]


def test_unwritable_output_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError):
        generate(blocker / "out", scale=0.01)
