"""Cleaning pipeline: conservation, rules, dedup, sessions, categories, bad files (SPEC §1.4)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import warnings
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shoplens
from rr_files import MIN, T0, write_folder
from shoplens import (
    CleanConfig,
    DataFileError,
    EventSchema,
    InvalidArgumentError,
    MissingFileError,
    SchemaError,
    ShoplensWarning,
    kpis,
)


def conservation(result: shoplens.CleanResult) -> None:
    """rows read = kept + quarantined + exact duplicates, for the events file, checked from the tables."""
    ev = result.report["events"]
    q = result.quarantine.filter(pl.col("source") == ev["source"]).height
    assert ev["rows_read"] == result.events.height + q + result.duplicates.height
    assert result.report["conservation"]["holds"]
    # Every source line is accounted for exactly once.
    lines = pl.concat(
        [
            result.events.select(pl.col("source_line").alias("line")),
            result.quarantine.filter(pl.col("source") == ev["source"]).select("line"),
            result.duplicates.select("line"),
        ]
    )["line"]
    assert lines.n_unique() == lines.len() == ev["rows_read"]
    assert set(lines.to_list()) == set(range(2, ev["rows_read"] + 2))


BAD_ROWS = {
    # one row per rule of SPEC §1.4 (and the file-format rules)
    "wrong_column_count": f"{T0},1,view",
    "missing_field": f"{T0},,view,5,",
    "bad_timestamp": "2015-06-01T00:00:00Z,1,view,5,",  # RetailRocket times are integer ms
    "timestamp_out_of_range": "0,1,view,5,",
    "non_numeric_id": f"{T0},abc12,view,5,",
    "negative_id": f"{T0},-4,view,5,",
    "unknown_event_type": f"{T0},1,click,5,",
    "transaction_without_order_id": f"{T0},1,transaction,5,",
    "order_id_on_non_transaction": f"{T0},1,view,5,77",
}


def test_every_rule_quarantines_with_line_and_conservation_holds(make_folder):
    good = [f"{T0 + i * MIN},{i % 3},view,{10 + i}," for i in range(6)]
    rows = good[:3] + list(BAD_ROWS.values()) + good[3:] + [good[0], good[0]]  # two exact duplicates
    folder = make_folder(rows)
    config = CleanConfig()
    result = shoplens.clean(folder, config=config)
    conservation(result)
    q = result.quarantine.filter(pl.col("source") == "events.csv")
    got = dict(zip(q["line"].to_list(), q["rule"].to_list(), strict=True))
    expected_lines = {rule: 2 + 3 + i for i, rule in enumerate(BAD_ROWS)}
    for rule, line in expected_lines.items():
        assert got[line] == rule, (rule, line, got)
    assert result.duplicates["duplicate_of_line"].to_list() == [2, 2]
    assert result.report["events"]["duplicates_removed"] == 2
    # Details name the offending value.
    detail = q.filter(pl.col("rule") == "non_numeric_id")["detail"][0]
    assert "abc12" in detail


def test_bad_timestamp_rule(make_folder):
    result = shoplens.clean(make_folder([f"{T0},1,view,5,", "yesterday,1,view,5,"]))
    assert result.quarantine["rule"].to_list() == ["bad_timestamp"]
    assert result.quarantine["line"].to_list() == [3]


def test_first_failing_rule_wins(make_folder):
    # Missing item and unknown event: missing_field comes first in the documented order.
    with pytest.warns(ShoplensWarning, match=r"no rows kept of 2 read; the most common rule broken is missing_field"):
        result = shoplens.clean(make_folder([f"{T0},1,click,,", "5,-1,view,2,"]))
    assert result.quarantine["rule"].to_list() == ["missing_field", "timestamp_out_of_range"]


def test_sessions_split_exactly_at_timeout(make_folder):
    t = T0
    timeout = 30 * MIN
    rows = [
        f"{t},1,view,1,",
        f"{t + timeout},1,view,2,",  # gap == 30:00.000 -> same session
        f"{t + 2 * timeout + 1},1,view,3,",  # gap 30:00.001 -> new session
        f"{t + 2 * timeout + 1},1,view,4,",  # equal timestamps: gap 0
        f"{t},2,view,1,",
    ]
    result = shoplens.clean(make_folder(rows))
    ev = result.events.filter(pl.col("visitor_id") == 1).sort("timestamp", "source_line")
    assert ev["session_index"].to_list() == [0, 0, 1, 1]
    assert result.sessions.filter(pl.col("visitor_id") == 1)["n_events"].to_list() == [2, 2]
    assert result.events.filter(pl.col("visitor_id") == 2)["session_index"].to_list() == [0]
    assert result.sessions.height == 3
    # Configurable timeout: 10 minutes splits the first pair too.
    short = shoplens.clean(make_folder(rows), config=CleanConfig(session_timeout_s=600))
    assert short.events.filter(pl.col("visitor_id") == 1)["session_index"].to_list() == [0, 1, 2, 2]


def test_near_duplicates_are_a_separate_reported_rule(make_folder):
    rows = [
        f"{T0},1,view,9,",
        f"{T0 + 400},1,view,9,",  # 400 ms later: near-duplicate of line 2
        f"{T0 + 1000},1,view,9,",  # 1000 ms after the kept line 2: still within the 1 s window
        f"{T0 + 2001},1,view,9,",  # 2001 ms after line 2: kept
        f"{T0 + 500},1,addtocart,9,",  # other event type: kept
        f"{T0 + 500},2,view,9,",  # other visitor: kept
        f"{T0},1,view,9,",  # byte-identical to line 2: exact duplicate
    ]
    result = shoplens.clean(make_folder(rows))
    conservation(result)
    near = result.quarantine.filter(pl.col("rule") == "near_duplicate")
    assert near["line"].to_list() == [3, 4]
    assert "line 2" in near["detail"][0]
    assert result.duplicates.rows() == [("events.csv", 8, 2)]
    assert sorted(result.events["source_line"].to_list()) == [2, 5, 6, 7]
    off = shoplens.clean(make_folder(rows), config=CleanConfig(near_duplicate_window_s=None))
    assert off.quarantine.height == 0
    assert off.events.height == 6


def test_category_asof_join_and_tree(make_folder):
    properties = [
        f"{T0},7,categoryid,100",
        f"{T0 + 10 * MIN},7,categoryid,200",  # item 7 moves to 200
        f"{T0 + 10 * MIN},7,available,1",
        f"{T0},8,888,n12.000 4455",
        f"{T0},8,categoryid,300",
    ]
    tree = ["100,10", "10,", "200,20", "20,2", "2,", "300,"]
    rows = [
        f"{T0 - MIN},1,view,7,",  # before the first snapshot: the first known category
        f"{T0 + 5 * MIN},1,view,7,",
        f"{T0 + 10 * MIN},1,view,7,",  # at the change time: the new category
        f"{T0 + 20 * MIN},1,view,8,",
        f"{T0 + 20 * MIN},1,view,99,",  # unknown item
    ]
    result = shoplens.clean(make_folder(rows, properties=properties, tree=tree))
    ev = result.events.sort("source_line")
    assert ev["category_id"].to_list() == [100, 100, 200, 300, None]
    assert ev["root_category_id"].to_list() == [10, 10, 2, 300, None]
    levels = ev.join(result.categories, on="category_id", how="left").sort("source_line")["level"]
    assert levels.to_list() == [1, 1, 2, 0, None]
    cats = result.categories.sort("category_id")
    assert dict(zip(cats["category_id"], cats["level"], strict=True)) == {
        2: 0,
        10: 0,
        20: 1,
        100: 1,
        200: 2,
        300: 0,
    }
    items = result.items.filter(pl.col("item_id") == 7)
    assert items["category_id"].to_list() == [200]
    assert items["available"].to_list() == [True]
    assert result.report["properties"]["items_changing_category"] == 1


def test_revenue_from_price_file_never_invented(make_folder):
    rows = [
        f"{T0},1,transaction,7,55",
        f"{T0},1,transaction,8,55",
        f"{T0 + MIN},1,transaction,9,56",
    ]
    result = shoplens.clean(make_folder(rows, prices=["7,10.50", "8,4.25"]))
    ev = result.events.sort("source_line")
    assert ev["revenue"].to_list() == [10.5, 4.25, None]  # item 9 has no price: null, not made up
    assert result.report["events"]["purchases_without_price"] == 1
    no_prices = shoplens.clean(make_folder(rows))
    assert no_prices.events["revenue"].null_count() == 3
    assert no_prices.report["price_source"].startswith("none")
    s = result.sessions
    assert s["n_orders"].to_list() == [2] and s["revenue"].to_list() == [14.75]


def test_bots_flagged_not_deleted(make_folder):
    bot = [f"{T0 + i * 200},666,view,{i}," for i in range(100)]  # 5 events per second
    human = [f"{T0 + i * MIN},1,view,{i}," for i in range(5)]
    result = shoplens.clean(make_folder(bot + human))
    v = result.visitors.sort("visitor_id")
    assert v["is_bot"].to_list() == [False, True]
    assert v["peak_events_per_minute"].to_list()[1] == 100
    assert result.events.filter(pl.col("is_bot")).height == 100  # kept, flagged
    lenient = shoplens.clean(make_folder(bot + human), config=CleanConfig(bot_max_events_per_minute=500))
    assert not lenient.visitors["is_bot"].any()


@pytest.mark.parametrize(
    ("content", "rule", "line"),
    [
        (b"", "empty_file", 1),
        (b"timestamp,visitor,event,itemid,transactionid\n1,2,view,3,\n", "wrong_header", 1),
        (b"timestamp,visitorid,event,itemid\n1,2,view,3\n", "wrong_column_count", 1),
        (b"timestamp,visitorid,ev\xffent,itemid,transactionid\n", "bad_utf8", 1),
    ],
)
def test_bad_files_raise_with_file_line_rule(tmp_path, content, rule, line):
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "events.csv").write_bytes(content)
    with pytest.raises(DataFileError) as info:
        shoplens.clean(folder)
    err = info.value
    assert (err.rule, err.line) == (rule, line)
    assert err.file.endswith("events.csv")
    assert isinstance(err, ValueError)
    assert f"events.csv:{line}: {rule}" in str(err)


def test_missing_files(tmp_path):
    with pytest.raises(MissingFileError) as info:
        shoplens.clean(tmp_path / "nope")
    assert info.value.rule == "missing_file"
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        shoplens.read_retailrocket(tmp_path / "empty")


def test_strict_mode_raises_at_first_bad_row(make_folder):
    # Line 3 is an exact duplicate (not an error), line 4 the first invalid row.
    folder = make_folder([f"{T0},1,view,5,", f"{T0},1,view,5,", f"{T0},1,view", f"{T0},x,view,5,"])
    with pytest.raises(DataFileError) as info:
        shoplens.clean(folder, config=CleanConfig(strict=True))
    assert (info.value.line, info.value.rule) == (4, "wrong_column_count")


def test_bad_utf8_row_quarantined(tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "events.csv").write_bytes(
        b"timestamp,visitorid,event,itemid,transactionid\n" + f"{T0},1,view,5,\n".encode() + b"1,\xff\xfe,view,5,\n"
    )
    result = shoplens.clean(folder)
    assert result.quarantine.rows()[0][:3] == ("events.csv", 3, "bad_utf8")
    with pytest.raises(DataFileError) as info:
        shoplens.clean(folder, config=CleanConfig(strict=True))
    assert (info.value.line, info.value.rule) == (3, "bad_utf8")


garbage_field = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.sampled_from(["view", "addtocart", "transaction", "", "-1", "0", str(T0)]),
)
garbage_row = st.lists(garbage_field, min_size=0, max_size=7).map(
    lambda f: ",".join(f).replace("\n", " ").replace("\r", " ")
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(garbage_row, max_size=40), raw_bytes=st.binary(max_size=40))
def test_garbage_never_crashes_and_conserves(tmp_path_factory, rows, raw_bytes):
    folder = tmp_path_factory.mktemp("garbage")
    body = "\n".join(rows).encode("utf-8", "surrogatepass") + b"\n" + raw_bytes.replace(b"\n", b" ") + b"\n"
    (folder / "events.csv").write_bytes(b"timestamp,visitorid,event,itemid,transactionid\n" + body)
    (folder / "prices.csv").write_bytes(b"itemid,price\n" + raw_bytes + b"\n1,2.5\n")
    (folder / "category_tree.csv").write_bytes(b"categoryid,parentid\n" + raw_bytes + b"\n1,2\n2,1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShoplensWarning)  # garbage often keeps no row: that warns
        result = shoplens.clean(folder)
    conservation(result)
    for f in result.report["files"]:
        assert f["rows_read"] == f["kept"] + f["quarantined"]


def test_generic_events_with_schema_and_dedup(tmp_path):
    df = pl.DataFrame(
        {
            "customer": [1, 1, 1, 2, None, 3],
            "ts": [
                "2015-06-01T00:00:00Z",
                "2015-06-01T00:00:05Z",
                "2015-06-01T00:00:05Z",
                "1433116800",
                "1433116800",
                "1433116800",
            ],
            "type": ["page_view", "purchase", "purchase", "add_to_cart", "page_view", "refund"],
            "sku": [5, 5, 5, 6, 7, 8],
            "order": [None, 42, 42, None, None, None],
            "amount": [None, 19.99, 19.99, None, None, None],
            "extra": ["a", "b", "b", "c", "d", "e"],
        }
    )
    schema = EventSchema(
        user="customer",
        timestamp="ts",
        event="type",
        item="sku",
        order="order",
        price="amount",
        timestamp_unit="s",
        other_events="drop",
    )
    result = shoplens.clean(shoplens.read_events(df, schema=schema))
    assert result.events.height == 3
    # A DataFrame's rows are named by their 0-based index.
    assert result.duplicates.rows() == [("frame", 2, 1)]
    rules = dict(zip(result.quarantine["index"], result.quarantine["rule"], strict=True))
    assert rules == {4: "missing_field", 5: "unknown_event_type"}
    assert result.events.filter(pl.col("event") == "transaction")["revenue"].to_list() == [19.99]
    assert result.events.schema["visitor_id"] == pl.Int64
    assert result.report["events"]["rows_read"] == 6
    assert result.report["position"] == "index"
    # pandas input gives the same tables
    pdf = df.to_pandas()
    again = shoplens.clean(shoplens.read_events(pdf, schema=schema))
    assert again.events.equals(result.events, null_equal=True)
    with pytest.raises(SchemaError, match="the visitor column 'nope' is not in the table"):
        shoplens.clean(shoplens.read_events(df, schema=dataclasses.replace(schema, user="nope")))


def test_generic_csv_with_ragged_rows(tmp_path):
    path = tmp_path / "ev.csv"
    path.write_bytes(
        b'u,t,e,i\n1,1433116800000,view,5\n1,1433116800000,view\n2,1433116860000,view,6,9\n"3",1433116800000,view,7\n'
    )
    result = shoplens.clean(
        shoplens.read_events(path, schema=EventSchema(user="u", timestamp="t", event="e", item="i"))
    )
    assert dict(zip(result.quarantine["line"], result.quarantine["rule"], strict=True)) == {
        3: "wrong_column_count",
        4: "wrong_column_count",
    }
    assert sorted(result.events["source_line"].to_list()) == [2, 5]
    conservation(result)


def test_build_warehouse_and_cli(tmp_path, make_folder):
    folder = make_folder([f"{T0},1,view,5,", f"{T0 + MIN},1,transaction,5,9", "junk"], prices=["5,3.5"])
    out = tmp_path / "wh"
    report = shoplens.build_warehouse(folder, out)
    assert report["conservation"]["holds"]
    names = sorted(p.name for p in out.iterdir())
    derived = ["cohort_retention", "customers"]  # src/cohorts and src/clv
    tables = (*shoplens._pipeline.TABLES, *kpis.TABLES, *derived)
    assert names == sorted([*(f"{t}.parquet" for t in tables), "report.json"])
    wh = shoplens.open_warehouse(out)
    assert wh.table("events").height == 2
    assert json.loads((out / "report.json").read_text())["events"]["quarantined"] == 1
    # The CLI: success, then bad input -> exit 2 with file, line and rule on one stderr line.
    run = [sys.executable, "-m", "shoplens"]
    ok = subprocess.run([*run, "report", "--warehouse", str(out)], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "User conversion" in ok.stdout and "100.00 %" in ok.stdout
    bad = make_folder([f"{T0},1,view"])
    (bad / "events.csv").write_text("timestamp,visitor\n1,2\n")
    res = subprocess.run(
        [*run, "build", "--raw", str(bad), "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "events.csv:1: wrong_column_count" in res.stderr
    usage = subprocess.run([*run, "build"], capture_output=True, text=True, check=False)
    assert usage.returncode == 2


def test_rebuild_replaces_warehouse_atomically(tmp_path, make_folder):
    out = tmp_path / "wh"
    shoplens.build_warehouse(make_folder([f"{T0},1,view,5,"]), out)
    shoplens.build_warehouse(make_folder([f"{T0},1,view,5,", f"{T0},2,view,5,"]), out)
    assert shoplens.open_warehouse(out).table("events").height == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # A failed build leaves the previous warehouse untouched.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "events.csv").write_text("")
    with pytest.raises(DataFileError):
        shoplens.build_warehouse(broken, out)
    assert shoplens.open_warehouse(out).table("events").height == 2


def test_write_folder_helper_roundtrip(tmp_path):
    # The fixture writes exactly the RetailRocket header.
    folder = write_folder(tmp_path / "r", [f"{T0},1,view,5,"])
    assert (folder / "events.csv").read_text().splitlines()[0] == "timestamp,visitorid,event,itemid,transactionid"
    assert Path(folder / "events.csv").stat().st_size > 0


def test_assignments_and_weights_are_validated(make_folder):
    folder = make_folder([f"{T0},1,view,5,"])
    (folder / "experiments.csv").write_text(
        "experiment,user_id,variant,assigned_at\n"
        f"exp,1,control,{T0}\n"
        f"exp,2,treatment,{T0}\n"
        f"exp,1,treatment,{T0 + MIN}\n"  # assigned twice: the first assignment stays
        f"exp,x,control,{T0}\n"
        f"other,1,a,{T0}\n"
    )
    (folder / "experiment_weights.csv").write_text(
        "experiment,variant,weight\nexp,control,0.5\nexp,treatment,0.5\nexp,treatment,2\nexp,x,-1\n"
    )
    result = shoplens.clean(folder)
    a = result.assignments.sort("source_line")
    assert a.select("experiment", "user_id", "variant").rows() == [
        ("exp", 1, "control"),
        ("exp", 2, "treatment"),
        ("other", 1, "a"),
    ]
    q = result.quarantine.filter(pl.col("source") == "experiments.csv")
    assert dict(zip(q["line"], q["rule"], strict=True)) == {4: "duplicate_key", 5: "non_numeric_id"}
    w = result.experiment_weights
    assert w.rows() == [("exp", "control", 0.5), ("exp", "treatment", 0.5)]
    qw = result.quarantine.filter(pl.col("source") == "experiment_weights.csv")
    assert qw["rule"].to_list() == ["duplicate_key", "bad_value"]
    assert result.report["conservation"]["holds"]


def test_warehouse_files_read_back_exactly_with_pyarrow(tmp_path):
    """The warehouse writer picks encodings itself (dictionary, delta, plain): an independent Parquet
    reader (Arrow C++, via pyarrow) must get back exactly the tables the engine built in memory."""
    import pyarrow.parquet as pq

    raw = shoplens.generate(tmp_path / "raw", scale=0.05, seed=7).out_dir
    out = tmp_path / "wh"
    shoplens.build_warehouse(raw, out)
    in_memory = shoplens.clean(raw).tables()
    for name, expected in in_memory.items():
        meta = pq.ParquetFile(out / f"{name}.parquet").metadata
        got = pl.from_arrow(pq.read_table(out / f"{name}.parquet"))
        assert isinstance(got, pl.DataFrame)
        assert got.schema == expected.schema, name
        assert got.equals(expected, null_equal=True), name
        if name == "events":
            encodings = {
                meta.schema.column(c).name: set(meta.row_group(0).column(c).encodings) for c in range(meta.num_columns)
            }
            assert "RLE_DICTIONARY" in encodings["event"]
            assert "DELTA_BINARY_PACKED" in encodings["timestamp"]
            assert meta.num_rows == expected.height


# --- a user's own data (issue 9) ---------------------------------------------------------------------

OWN = EventSchema(user="user", timestamp="ts", event="event", item="sku", order="order_id", price="amount")


def own_frame() -> pl.DataFrame:
    """String ids, a session of other event types, a purchase with an order id and a price."""
    return pl.DataFrame(
        {
            "user": ["C-002", "C-001", "C-001", "C-001", "C-001", "C-002", "C-010"],
            "ts": [T0 + 5 * MIN, T0, T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN, T0, T0],
            "event": ["view", "home", "view", "cart", "purchase", "search", "view"],
            "sku": ["b7e1", None, "a1f0", "a1f0", "a1f0", None, "a1f0"],
            "order_id": [None, None, None, None, "ORD-9", None, None],
            "amount": [None, None, None, None, 9.5, None, None],
        }
    )


def test_string_ids_keep_their_values_and_the_event_order():
    # "home" and "search" rows have no item: events of other types need none.
    df = own_frame()
    result = shoplens.clean(shoplens.read_events(df, schema=OWN))
    ev = result.events
    assert ev.schema["visitor_id"] == pl.String and ev.schema["item_id"] == pl.String
    assert ev.schema["transaction_id"] == pl.String
    # Sorted by (visitor, timestamp), with the original ids.
    expected = df.sort("user", "ts", maintain_order=True)
    assert ev["visitor_id"].to_list() == expected["user"].to_list()
    assert ev["timestamp"].dt.epoch("ms").to_list() == expected["ts"].to_list()
    assert ev["event"].to_list() == ["home", "view", "addtocart", "transaction", "search", "view", "view"]
    assert ev["transaction_id"].to_list() == [None, None, None, "ORD-9", None, None, None]
    assert result.visitors["visitor_id"].to_list() == ["C-001", "C-002", "C-010"]
    # Other event types count in sessions and activity: C-001 has one session of 4 events, C-002 two
    # sessions (search at T0, view 5 minutes later: one session of 2).
    s = result.sessions
    assert s.select("visitor_id", "n_events", "n_views", "n_purchases", "is_bounce").rows() == [
        ("C-001", 4, 1, 1, False),
        ("C-002", 2, 1, 0, False),
        ("C-010", 1, 1, 0, True),
    ]
    assert result.items.select("item_id", "n_views", "n_carts", "n_purchases").rows() == [
        ("a1f0", 2, 1, 1),
        ("b7e1", 1, 0, 0),
    ]
    assert ev.filter(pl.col("event").is_in(["home", "search"]))["item_id"].to_list() == [None, None]
    assert ev.filter(pl.col("event") == "transaction")["revenue"].to_list() == [9.5]
    by_event = dict(result.report["events"]["by_event"])
    assert by_event == {"view": 3, "addtocart": 1, "transaction": 1, "home": 1, "search": 1}


def test_other_events_can_be_dropped_and_case_twins_are_named():
    df = own_frame().with_columns(pl.col("sku").fill_null("-"))
    drop = EventSchema.from_mapping({**OWN.__dict__, "other_events": "drop"})
    result = shoplens.clean(shoplens.read_events(df, schema=drop))
    q = result.quarantine.sort("index")
    assert q.select("index", "rule").rows() == [(1, "unknown_event_type"), (5, "unknown_event_type")]
    assert result.events.height == 5
    cased = df.with_columns(pl.col("event").replace({"view": "View"}))
    kept = shoplens.clean(shoplens.read_events(cased, schema=OWN))
    assert any("'View'" in n and "'view'" in n for n in kept.report["notes"])
    dropped = shoplens.clean(shoplens.read_events(cased, schema=drop))
    assert dropped.quarantine.filter(pl.col("index") == 0)["detail"].item() == (
        "event 'View' is not a mapped event type (names are case-sensitive: did you mean 'view'?)"
    )


def test_session_column_replaces_the_inactivity_rule():
    hour = 60 * MIN
    df = pl.DataFrame(
        {
            "user": ["u", "u", "u", "u"],
            "ts": [T0, T0 + 2 * hour, T0 + 2 * hour + MIN, T0 + 2 * hour + 2 * MIN],
            "event": ["view"] * 4,
            "sid": ["s1", "s1", "s2", "s2"],
        }
    )
    schema = EventSchema(user="user", timestamp="ts", event="event", item=None, session="sid")
    result = shoplens.clean(shoplens.read_events(df, schema=schema))
    # Two hours apart but one session id: one session; a new id one minute later: a new session.
    assert result.sessions["n_events"].to_list() == [2, 2]
    assert any("'sid'" in n for n in result.report["notes"])
    by_time = shoplens.clean(
        shoplens.read_events(df, schema=EventSchema(user="user", timestamp="ts", event="event", item=None))
    )
    assert by_time.sessions["n_events"].to_list() == [1, 3]


def test_without_item_and_order_columns():
    df = pl.DataFrame(
        {
            "user": [7, 7, 7, 8],
            "ts": [T0, T0 + MIN, T0 + 2 * MIN, T0],
            "event": ["home", "purchase", "purchase", "view"],
        }
    )
    result = shoplens.clean(
        shoplens.read_events(df, schema=EventSchema(user="user", timestamp="ts", event="event", item=None))
    )
    assert result.items.height == 0
    assert result.events["item_id"].null_count() == 4
    notes = " ".join(result.report["notes"])
    assert "no item column" in notes and "items table is empty" in notes
    assert "each purchase row is its own order" in notes
    # Each purchase row is its own order, named by its index.
    assert result.events.filter(pl.col("event") == "transaction")["transaction_id"].to_list() == [1, 2]
    assert result.sessions.filter(pl.col("visitor_id") == 7)["n_orders"].to_list() == [2]


def test_quarantine_raw_is_the_row_as_read(tmp_path):
    from datetime import datetime

    path = tmp_path / "ev.csv"
    header = "user,ts,event,sku,order_id,amount"
    path.write_text(f"{header}\nC-1,{T0},view,a,,\n2,2024-03-01 10:02\nC-2,0,view,b,,\n")
    result = shoplens.clean(shoplens.read_events(path, schema=OWN))
    q = result.quarantine
    # A four-field row under a six-column header is wrong_column_count even with no other ragged row.
    assert q.select("line", "rule", "raw").rows() == [
        (3, "wrong_column_count", "2,2024-03-01 10:02"),
        (4, "timestamp_out_of_range", "C-2,0,view,b,,"),
    ]
    assert q["detail"].to_list()[0] == "2 fields, expected 6"
    # A DataFrame row: the values as given (datetimes as text), at the user's own pandas index.
    df = pl.DataFrame(
        {
            "user": ["C-1", ""],
            "ts": [datetime(2024, 3, 1, 10, 2), datetime(2024, 3, 1, 10, 3, 30)],
            "event": ["view", "view"],
            "sku": ["a", "b"],
        }
    )
    schema = EventSchema(user="user", timestamp="ts", event="event", item="sku")
    pdf = df.to_pandas()
    pdf.index = [10, 20]
    got = shoplens.clean(shoplens.read_events(pdf, schema=schema)).quarantine
    assert got.select("index", "rule", "raw").rows() == [(20, "missing_field", ",2024-03-01 10:03:30,view,b")]
    kept = shoplens.clean(shoplens.read_events(df, schema=schema)).events
    assert kept["timestamp"].to_list() == [datetime(2024, 3, 1, 10, 2)]


def test_report_names_the_actual_inputs(tmp_path):
    path = tmp_path / "ev.csv"
    path.write_text(
        "user,ts,event,sku,order_id,amount\n"
        f"C-1,{T0},view,a,,\nC-1,{T0 + MIN},purchase,a,O-1,9.50\nC-2,{T0},view,a,,\nC-2,{T0},view,b,,\n"
        f"C-3,{T0},view,a,,\nC-3,{T0 + 1},view,c,,\n"
    )
    out = tmp_path / "wh"
    report = shoplens.build_warehouse(shoplens.read_events(path, schema=OWN), out)
    assert report["events"]["source"] == "ev.csv" and report["events"]["rows_read"] == 6
    assert report["source"] == str(path)
    assert report["price_source"] == "column 'amount' of ev.csv (the price on each purchase row)"
    wh = shoplens.open_warehouse(out)
    assert wh.table("events")["revenue"].sum() == 9.5


def test_a_run_that_keeps_nothing_warns_with_the_dominant_rule(tmp_path):
    path = tmp_path / "ev.csv"
    # Unix seconds while the unit is ms: every row is out of range, and the detail says why.
    path.write_text(f"user,ts,event,sku\nC-1,{T0 // 1000},view,a\nC-2,{T0 // 1000},view,a\nC-3,,view,a\n")
    schema = EventSchema(user="user", timestamp="ts", event="event", item="sku")
    with pytest.warns(ShoplensWarning, match=r"no rows kept of 3 read.*timestamp_out_of_range \(2 rows\)"):
        result = shoplens.clean(shoplens.read_events(path, schema=schema))
    assert "it looks like seconds" in result.quarantine["detail"][0]
    run = [sys.executable, "-m", "shoplens", "build", "--events", str(path), "--out", str(tmp_path / "wh")]
    flags = ["--user", "user", "--timestamp", "ts", "--item", "sku"]
    loose = subprocess.run([*run, *flags], capture_output=True, text=True, check=False)
    assert loose.returncode == 0, loose.stderr
    assert "no rows kept of 3 read" in loose.stderr and "timestamp_out_of_range" in loose.stderr
    strict = subprocess.run([*run, *flags, "--strict"], capture_output=True, text=True, check=False)
    assert strict.returncode == 2
    assert "ev.csv:2: timestamp_out_of_range" in strict.stderr


def test_paths_files_and_the_cli_mapping(tmp_path):
    path = tmp_path / "ev.csv"
    path.write_text(f"user_id,timestamp,event,item_id\nC-1,{T0},view,a\nC-1,{T0 + MIN},purchase,a\n")
    # clean() takes a file with the default mapping; read_events() names a folder for what it is.
    assert shoplens.clean(path).events["visitor_id"].to_list() == ["C-1", "C-1"]
    with pytest.raises(DataFileError, match=r"is a folder .*expected an event file"):
        shoplens.read_events(tmp_path)
    with pytest.raises(DataFileError, match="is a file, expected a RetailRocket folder"):
        shoplens.read_retailrocket(path)
    run = [sys.executable, "-m", "shoplens", "build", "--out"]
    raw = subprocess.run([*run, str(tmp_path / "a"), "--raw", str(path)], capture_output=True, text=True, check=False)
    assert raw.returncode == 0, raw.stderr
    assert shoplens.open_warehouse(tmp_path / "a").table("events").height == 2
    other = tmp_path / "shop.csv"
    other.write_text(f"cust,when,kind\nC-1,{T0 // 1000},Seen\nC-1,{T0 // 1000 + 60},Bought\n")
    toml = tmp_path / "map.toml"
    toml.write_text(
        'user = "cust"\ntimestamp = "when"\nevent = "kind"\nitem = ""\ntimestamp_unit = "s"\n'
        '[event_values]\nview = ["Seen"]\naddtocart = ["Carted"]\ntransaction = ["Bought"]\n'
    )
    bad_item = subprocess.run(
        [*run, str(tmp_path / "b"), "--events", str(other), "--map", str(toml)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad_item.returncode == 2 and "item='' is not allowed" in bad_item.stderr
    toml.write_text(toml.read_text().replace('item = ""\n', ""))
    ok = subprocess.run(
        [*run, str(tmp_path / "b"), "--events", str(other), "--map", str(toml), "--item", ""],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "note: no item column" in ok.stdout
    events = shoplens.open_warehouse(tmp_path / "b").table("events")
    assert events["event"].to_list() == ["view", "transaction"]
    js = tmp_path / "map.json"
    js.write_text(json.dumps({"user": "cust", "timestamp": "when", "event": "kind", "item": None, "unit": "s"}))
    unknown = subprocess.run(
        [*run, str(tmp_path / "c"), "--events", str(other), "--map", str(js)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert unknown.returncode == 2 and "unknown keys ['unit']" in unknown.stderr
    missing = subprocess.run(
        [*run, str(tmp_path / "d"), "--events", str(tmp_path / "nope.csv")], capture_output=True, text=True, check=False
    )
    assert missing.returncode == 2 and "no such file or folder, expected an event file" in missing.stderr


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"session_timeout_s": "30"}, "session_timeout_s='30' is not allowed: expected a number > 0"),
        ({"session_timeout_s": 0}, "session_timeout_s=0 is not allowed: expected a number > 0"),
        ({"bot_max_events": -1}, "bot_max_events=-1 is not allowed: expected a whole number >= 1"),
        ({"bot_max_events": 2.5}, "bot_max_events=2.5 is not allowed: expected a whole number >= 1"),
        ({"near_duplicate_window_s": -1}, "near_duplicate_window_s=-1 is not allowed: expected a number >= 0"),
        ({"min_timestamp": "June"}, "min_timestamp='June' is not allowed: expected a datetime, a date or ISO-8601"),
        ({"min_timestamp": "2200-01-01"}, "max_timestamp=datetime.datetime(2100"),
        ({"strict": "yes"}, "strict='yes' is not allowed: expected True or False"),
    ],
)
def test_clean_config_is_validated_when_made(kwargs, message):
    with pytest.raises(InvalidArgumentError) as info:
        CleanConfig(**kwargs)
    assert str(info.value).startswith(message)
    assert "line 1 column" not in str(info.value)


def test_clean_config_accepts_dates_as_text_and_schema_as_dict():
    from datetime import UTC, date, datetime

    assert CleanConfig(min_timestamp="2020-01-01").min_timestamp == datetime(2020, 1, 1, tzinfo=UTC)
    assert CleanConfig(max_timestamp=date(2030, 1, 1)).max_timestamp == datetime(2030, 1, 1, tzinfo=UTC)
    df = pl.DataFrame({"u": ["a"], "t": [T0], "e": ["view"]})
    src = shoplens.read_events(df, schema={"user": "u", "timestamp": "t", "event": "e", "item": None})
    assert src.schema == EventSchema(user="u", timestamp="t", event="e", item=None)
    with pytest.raises(SchemaError, match=r"schema has unknown keys \['users'\]: expected some of \['user'"):
        shoplens.read_events(df, schema={"users": "u"})
    with pytest.raises(SchemaError, match="schema=3 is not allowed"):
        shoplens.read_events(df, schema=3)  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match=r"event_values\['view'\]=\[\] is not allowed"):
        EventSchema(event_values={"view": [], "addtocart": ["c"], "transaction": ["t"]})


def test_own_data_example_runs_and_matches_pandas(tmp_path):
    """docs/examples/own_data.py: a pandas frame with string ids and bad rows -> warehouse -> KPIs ->
    experiment read-out. Its figures are checked against a plain pandas computation."""
    import runpy

    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "own_data.py"
    done = subprocess.run(
        [sys.executable, str(example), str(tmp_path / "cli")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "User conversion" in done.stdout and "checkout:" in done.stdout
    module = runpy.run_path(str(example))
    events, assignments = module["make_events"]()
    report, result = module["main"](tmp_path / "wh")
    # Two bad rows (empty customer, no time) and one row exported twice.
    ev = report["events"]
    assert (ev["rows_read"], ev["kept"], ev["quarantined"], ev["duplicates_removed"]) == (
        len(events),
        len(events) - 3,
        2,
        1,
    )
    assert dict(ev["by_rule"]) == {"missing_field": 2}
    buyers = set(events.loc[events["action"] == "purchase", "customer"])
    rate = assignments.assign(bought=assignments["customer"].isin(buyers)).groupby("variant")["bought"].mean()
    conv = result.results.filter(pl.col("metric") == "conversion").row(0, named=True)
    assert conv["variant"] == "treatment"
    assert conv["control_mean"] == pytest.approx(rate["control"], abs=1e-12)
    assert conv["mean"] == pytest.approx(rate["treatment"], abs=1e-12)


def test_warehouse_table_names_the_tables_that_exist(tmp_path, make_folder):
    out = tmp_path / "wh"
    shoplens.build_warehouse(make_folder([f"{T0},1,view,5,"]), out)
    expected = r"no table 'evnts' in the warehouse; its tables are .*\bevents, .*\bitems"
    with pytest.raises(MissingFileError, match=expected):
        shoplens.open_warehouse(out).table("evnts")
