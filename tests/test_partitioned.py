"""Bounded-memory builds: a RetailRocket folder built in visitor partitions (spill by visitor hash, clean and
derive each partition, merge the partials) gives the tables of the in-memory build."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import shoplens
from shoplens._build import build_retailrocket, parse_memory
from shoplens._config import CleanConfig
from shoplens.errors import InvalidArgumentError

# Row order is part of the contract for every table except these three, whose rows come grouped by
# partition (each visitor contiguous and in time order): they are compared sorted by their keys.
SORT_KEYS = {
    "events": ["visitor_id", "timestamp", "source_line"],
    "sessions": ["session_id"],
    "visitors": ["visitor_id"],
}


def tables_of(warehouse: Path) -> dict[str, pl.DataFrame]:
    return {p.stem: pl.read_parquet(p) for p in sorted(warehouse.glob("*.parquet"))}


def assert_same_warehouse(expected: Path, actual: Path) -> None:
    want, got = tables_of(expected), tables_of(actual)
    assert sorted(got) == sorted(want)
    assert len(want) >= 20  # clean tables, KPI tables, cohorts, customers
    for name, w in want.items():
        g = got[name]
        assert g.schema == w.schema, name
        assert g.height == w.height, name
        if name in SORT_KEYS:
            w, g = w.sort(SORT_KEYS[name]), g.sort(SORT_KEYS[name])
        # Integers, strings, booleans and dates exactly; floats to 1e-9 relative (partial sums of
        # floating-point revenue are added in another order).
        assert_frame_equal(g, w, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("partitioned")
    raw = shoplens.generate(root / "raw", scale=0.01, seed=5).out_dir
    # Bad rows and a duplicate of a bad row, on top of the generator's own anomalies.
    with (raw / "events.csv").open("a") as f:
        f.write("not-a-time,77,view,5,\n1433116800000,,view,5,\n1433116800000,78,teleport,5,\n")
        f.write("1433116800000,78,teleport,5,\n1433116800000,79,transaction,5,\n")
    memory = root / "memory"
    shoplens.build_warehouse(raw, memory)
    return raw, memory


def test_partitioned_build_equals_in_memory_build(generated: tuple[Path, Path], tmp_path: Path) -> None:
    raw, memory = generated
    report_mem = json.loads((memory / "report.json").read_text())
    assert not any("partitions" in n for n in report_mem["notes"])
    events_bytes = (raw / "events.csv").stat().st_size
    # A limit of twice events.csv forces many partitions: the build needs about 10 bytes per byte, and
    # the reference files (larger than the events here) leave each partition an eighth of the limit.
    out = tmp_path / "limited"
    report = shoplens.build_warehouse(raw, out, memory_limit=2 * events_bytes)
    notes = [n for n in report["notes"] if "visitor partitions" in n]
    assert notes and int(notes[0].split()[2]) >= 20
    assert_same_warehouse(memory, out)

    # Row accounting: every line of events.csv is kept, quarantined or a removed duplicate, summed over
    # the partitions, and the figures are the in-memory build's.
    lines = (raw / "events.csv").read_bytes().count(b"\n") - 1
    ev = report["events"]
    assert ev["rows_read"] == lines
    assert ev["rows_read"] == ev["kept"] + ev["quarantined"] + ev["duplicates_removed"]
    assert report["conservation"]["holds"] is True
    for key in ("rows_read", "kept", "quarantined", "duplicates_removed", "sessions", "visitors", "bot_visitors"):
        assert ev[key] == report_mem["events"][key], key
    assert report["conservation"] == report_mem["conservation"]
    # The hand-made bad rows are in the quarantine with their source lines and raw text.
    quarantine = pl.read_parquet(out / "quarantine.parquet").filter(pl.col("source") == "events.csv")
    tail = quarantine.filter(pl.col("line") > lines - 4).sort("line")
    assert tail["line"].to_list() == [lines - 3, lines - 2, lines - 1, lines + 1]
    assert tail["raw"][0] == "not-a-time,77,view,5,"
    duplicates = pl.read_parquet(out / "duplicates.parquet")
    assert duplicates.filter(pl.col("line") == lines)["duplicate_of_line"].to_list() == [lines - 1]


@pytest.mark.parametrize("partitions", [1, 7])
def test_forced_partition_counts_give_the_same_tables(
    generated: tuple[Path, Path], tmp_path: Path, partitions: int
) -> None:
    raw, memory = generated
    out = tmp_path / f"p{partitions}"
    build_retailrocket(raw, out, CleanConfig(), progress=False, partitions=partitions)
    assert_same_warehouse(memory, out)
    # Sessions are numbered as in the in-memory build: 0..n-1 in visitor order across partitions.
    sessions = pl.read_parquet(out / "sessions.parquet").sort("visitor_id", "session_index")
    assert sessions["session_id"].to_list() == list(range(sessions.height))
    # No scratch files are left next to the warehouse.
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_memory_sizes_and_bad_arguments(generated: tuple[Path, Path], tmp_path: Path) -> None:
    assert parse_memory("4GiB") == 4 * 1024**3
    assert parse_memory("512 MB") == 512_000_000
    assert parse_memory("1.5k") == 1500
    assert parse_memory(123) == 123
    for bad in ("lots", "4 parsecs", "-1GB", 0, True, ""):
        with pytest.raises(InvalidArgumentError):
            parse_memory(bad)  # type: ignore[arg-type]
    raw, _ = generated
    for partitions in (0, -2):
        with pytest.raises(InvalidArgumentError):
            build_retailrocket(raw, tmp_path / "x", CleanConfig(), progress=False, partitions=partitions)
    with pytest.raises(InvalidArgumentError):
        shoplens.build_warehouse(raw, tmp_path / "y", memory_limit="a lot")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
