"""The build's clean tables against three independent implementations of the same rules.

`bench/same_clean_{polars,pandas,duckdb}.py` are the yardsticks `make bench` times `shoplens build` against: the
cleaning of docs/methodology.md written from the document in Python polars, pandas and DuckDB SQL. Here each of them
cleans a generated data set and a folder of edge cases, and every clean table must equal the build's: the events
with their category as of their time, root, revenue, session and bot flag; sessions; visitors; categories; the
quarantine (source, line, rule and raw text); exact duplicates; experiment assignments. That checks the engine's
cleaning against three references, and the benchmark's claim that the Python jobs do the same work.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest

import shoplens

BENCH = Path(__file__).resolve().parent.parent / "bench"
T = 1_433_221_332_117  # 2015-06-02 05:02:12.117 UTC
ENGINES = ["polars", "pandas", "duckdb"]


def job(engine: str) -> ModuleType:
    if str(BENCH) not in sys.path:  # the pandas job imports the KPI tables of bench/build_alternatives.py
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"same_clean_{engine}", BENCH / f"same_clean_{engine}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_edge_cases(raw: Path) -> None:
    """Every rule of every file, near-duplicate chains, the session and bot thresholds at their edges, category
    records at the same time in both property files, cycles and unknown parents in the tree."""
    raw.mkdir(parents=True)
    ev = ["timestamp,visitorid,event,itemid,transactionid"]

    def add(*fields: object) -> None:
        ev.append(",".join(str(f) for f in fields))

    for dt in (0, 800, 1600, 2400):  # a burst 0.8 s apart keeps the 1st and the 3rd click
        add(T + dt, 1, "view", 10, "")
    add(T + 100, 1, "view", 11, "")  # another item
    add(T + 1000, 1, "addtocart", 10, "")  # another event type
    add(T + 3400, 1, "view", 10, "")  # 1.8 s after the last kept click: kept
    add(T + 4400, 1, "view", 10, "")  # exactly 1 s after a kept click: near-duplicate (inclusive)
    add(f" {T + 5000} ", " 1 ", "view", 12, "")  # padded fields are valid
    add(T + 5000, 1, "view", 12, "")  # same key and time, other text: near-duplicate
    add(T + 5000, 1, "view", 12, "")  # exact duplicate of the line before
    add(f"+{T + 6000}", "+1", "view", 13, "")  # plus signs
    add(f"\t{T + 7000}\t", "1\f", "view", 14, " \t")  # tabs and form feeds are whitespace
    add(f"{T + 7000}", "1", "view", 14, "")  # the same event again: near-duplicate
    add(T, 2, "view", 20, "")  # a gap of exactly 30 min stays in the session, 30 min + 1 ms opens one
    add(T + 1_800_000, 2, "view", 21, "")
    add(T + 3_600_001, 2, "view", 22, "")
    add(T, 3, "transaction", 30, 5)  # priced
    add(T + 10, 3, "transaction", 999, 5)  # no price
    add(T + 20, 3, "transaction", 31, 6)  # price defined twice: the first stays
    add(T + 30, 3, "transaction", 32, 6)
    for k in range(61):  # 61 events within 59.999 s: a bot
        add(T + k * 59_999 // 60, 4, "view", 100 + k, "")
    for k in range(61):  # 61 events over exactly 60 s: not a bot
        add(T + k * 1000, 5, "view", 200 + k, "")
    for n, visitor in ((1000, 6), (1001, 7)):  # 1,000 events is not a bot, 1,001 is
        for k in range(n):
            add(T + k * 5000, visitor, "view", 300 + k % 50, "")
    for dt, kind, item in [(0, "view", 40), (100_000, "view", 40), (199_999, "addtocart", 40), (200_000, "view", 40)]:
        add(T + dt, 8, kind, item, "")  # categories as of the event time
    for dt, item in [(300_000, 40), (400_000, 41), (500_000, 42), (600_000, 43), (700_000, 44)]:
        add(T + dt, 8, "view", item, "")
    add(T, -3, "view", "x1", "")  # negative visitor before a non-numeric item
    add(T, 9, "view", 10, "", "extra")  # six fields
    ev.append("")  # a blank line
    add(T, 9, "view", "", "")  # missing item
    add(T, 9, "View", 10, "")  # unknown event type (case matters)
    add(T, 9, "view", "1234567890123456789", "")  # 19 digits
    add(T, 9, "view", 10, "-4")  # negative order id (the id rules come before the event rules)
    add(T, 9, "view", 10, "ab")  # non-numeric order id
    add("1433221332", 9, "view", 10, "")  # seconds: out of range
    add("2015-06-02T05:02:12Z", 9, "view", 10, "")  # ISO text is not an epoch
    add(T, 9, "transaction", 10, " ")  # blank order id
    add(T, 9, "view", 10, "")
    add(T, 9, "view", 10, "")  # exact duplicate
    add(T, -3, "view", "x1", "")  # exact duplicate of a rejected row
    (raw / "events.csv").write_text("\n".join(ev))  # no final newline
    p1 = ["timestamp,itemid,property,value"]
    p1 += [f"{T + 100_000},40,categoryid,2", f"{T + 200_000},40,categoryid,3", f"{T + 200_000},40,categoryid,4"]
    p1 += [f"{T - 5_000_000},40,categoryid,1", f"{T},40,available,1", f"{T},40,available,2", f"{T},40,available, 0 "]
    p1 += [f"{T},41,categoryid,abc", f"{T},41,categoryid,-3", f"{T},41,categoryid,", f"{T},41,categoryid, 32 "]
    p1 += [f"{T},42,categoryid,20", f"{T},43,categoryid,30", f"{T},44,categoryid,777", f"{T},45,888,a,b,c"]
    p1 += [f"{T},46", ",46,categoryid,1", f"x{T},46,categoryid,1", "5,46,categoryid,1", f"{T},-46,categoryid,1"]
    p1 += [f"{T},46,,1", f"{T},46,categoryid,1.0", f"{T},47,categoryid,5,6", f"{T}, 48 ,categoryid,\t7"]
    p2 = ["timestamp,itemid,property,value", f"{T + 300_000},40,categoryid,5", f"{T + 200_000},40,categoryid,6"]
    tree = ["categoryid,parentid", "1,", "2,1", "3,2", "4,3", "5,1", "6,1", "20,99", "30,31", "31,30", "32,30"]
    tree += ["33,33", "2,5", "x,1", ",1", "7,-1", "8,y", "9,1,2", "10"]
    prices = ["itemid,price", "30,10.5", "31,-1", "31,2.5", "31,3.5", "32, 1e1 ", "33,nan", "34,inf", "35,abc"]
    prices += ["36,", "37,1_000", "38,.5", "39,+2", "-1,3", "z,3", "40,1,2", "41,5.", "42,0x10", "43,-0.0"]
    exp = ["experiment,user_id,variant,assigned_at", f"e1,1,control,{T}", f"e1,2,treatment,{T}"]
    exp += [f"e1,1,treatment,{T + 5}", f"e2,1,control,{T}", "e1,3,control,x", "e1,4,control,5", f"e1,-5,control,{T}"]
    exp += [f"e1,,control,{T}", "e1,6,control", f" e1 , 7 , control ,{T}", f"e1,7,control,{T}", f"e1,x,control,{T}"]
    weights = ["experiment,variant,weight", "e1,control,0.5", "e1,treatment,0.5", "e2,control,1", "e1,control,0.7"]
    weights += ["e2,treatment,0", "e2,x,-1", "e2,y,abc", "e2,z,", "e2,w", "e2,v,inf", "e2,u, 1e0 "]
    files = {"item_properties_part1": p1, "item_properties_part2": p2, "category_tree": tree, "prices": prices}
    files |= {"experiments": exp, "experiment_weights": weights}
    for name, lines in files.items():
        (raw / f"{name}.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    raw = tmp_path_factory.mktemp("generated") / "raw"
    shoplens.generate(raw, scale=0.01, seed=11)
    wh = raw.parent / "wh"
    shoplens.build_warehouse(raw, wh)
    return raw, wh


@pytest.fixture(scope="module")
def edge_cases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    raw = tmp_path_factory.mktemp("edge") / "raw"
    write_edge_cases(raw)
    wh = raw.parent / "wh"
    shoplens.build_warehouse(raw, wh)
    return raw, wh


def table(folder: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(folder / f"{name}.parquet")


def same(ours: pl.DataFrame, theirs: pl.DataFrame, key: list[str], columns: list[str]) -> None:
    """Equal rows on `key` (none on one side only), equal `columns` (nulls equal, types of the build's table)."""
    theirs = theirs.select(key + columns).cast({c: ours.schema[c] for c in key + columns})
    assert theirs.height == ours.height
    diff = ours.select(key + columns).join(theirs, on=key, how="full", suffix="_job", nulls_equal=True)
    missing = diff.filter(pl.any_horizontal(pl.col(key).is_null() | pl.col([f"{k}_job" for k in key]).is_null()))
    assert missing.is_empty(), missing
    for c in columns:
        differ = diff.filter(pl.col(c).ne_missing(pl.col(f"{c}_job")))
        assert differ.is_empty(), (c, differ)


def money(frame: pl.DataFrame) -> pl.DataFrame:
    """Revenue sums rounded to micro-units (the build sums in micro-units, the jobs in floats); 0 when none."""
    return frame.with_columns(pl.col("revenue").fill_null(0.0).round(6))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["generated", "edge_cases"])
def test_same_clean_job_equals_the_build(engine: str, data: str, request: pytest.FixtureRequest, tmp_path: Path):
    raw, wh = request.getfixturevalue(data)
    job(engine).run(raw, tmp_path)
    report = table(wh, "quarantine")
    assert report.height > 0  # the data exercise the rules
    same(report, table(tmp_path, "quarantine"), ["source", "line"], ["rule", "raw"])
    same(table(wh, "duplicates"), table(tmp_path, "duplicates"), ["source", "line"], ["duplicate_of_line"])
    event_columns = ["visitor_id", "timestamp", "event", "item_id", "transaction_id", "session_id", "session_index"]
    event_columns += ["category_id", "root_category_id", "revenue", "is_bot"]
    events = table(wh, "events").with_columns(pl.col("event").cast(pl.String))
    same(
        events, table(tmp_path, "events").with_columns(pl.col("event").cast(pl.String)), ["source_line"], event_columns
    )
    session_columns = ["visitor_id", "session_index", "start", "end", "n_events", "n_views", "n_carts"]
    session_columns += ["n_purchases", "revenue", "is_bot"]
    same(money(table(wh, "sessions")), money(table(tmp_path, "sessions")), ["session_id"], session_columns)
    visitor_columns = ["first_seen", "last_seen", "n_events", "n_sessions", "n_purchases", "revenue"]
    visitor_columns += ["peak_events_per_minute", "is_bot"]
    same(money(table(wh, "visitors")), money(table(tmp_path, "visitors")), ["visitor_id"], visitor_columns)
    categories = ["parent_id", "root_category_id", "level"]
    same(table(wh, "categories"), table(tmp_path, "categories"), ["category_id"], categories)
    assignments = ["experiment", "user_id", "variant", "assigned_at"]
    same(table(wh, "assignments"), table(tmp_path, "assignments"), ["source_line"], assignments)
