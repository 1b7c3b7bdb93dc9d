"""shoplens.spark on a local Spark (local[2]): every table of the cluster build equals `shoplens build` of
the same data, bad rows end in the quarantine with their source lines, and the experiment analysis equals
the single-machine one. One SparkSession for the module; tiny generated data sets."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import shoplens
from shoplens.errors import InvalidArgumentError, SchemaError


def _unavailable(reason: str) -> None:
    """Without pyspark or Java the module fails with the reason: `make test` provides both (pyspark from
    requirements-dev.txt, Java from `make system-deps`), so a missing one is a broken setup, never a pass."""
    pytest.fail(f"{reason}: run `make system-deps` and `make venv`", pytrace=False)


try:
    import pyspark  # noqa: F401
except ImportError:
    _unavailable("pyspark is not installed (pip install 'shoplens[spark]')")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    _unavailable("Spark needs Java 17 or later: no java on PATH and no JAVA_HOME")

from pyspark.sql import SparkSession  # noqa: E402

import shoplens.spark as sls  # noqa: E402
from test_partitioned import assert_same_warehouse  # noqa: E402

# pyspark 4.3 warns that pandas 3 is not fully supported; shoplens.spark hands Arrow, never pandas, over.
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")


@pytest.fixture(scope="module")
def spark() -> SparkSession:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("shoplens-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        # Small input splits: the events file is read as several segments, as a large one would be.
        .config("spark.sql.files.maxPartitionBytes", "65536")
        .config("spark.sql.files.openCostInBytes", "0")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("spark")
    raw = shoplens.generate(root / "raw", scale=0.01, seed=3).out_dir
    # Bad rows (with a duplicate of one) on top of the generator's anomalies, near the start of the
    # file and at its end, so they fall in different input splits and visitor partitions.
    lines = (raw / "events.csv").read_text().splitlines()
    bad_early = ["x,1,view,2,", "1433116800000,abc,view,2,", "1433116800000,abc,view,2,"]
    bad_late = ["1433116800000,5,fly,2,", "1433116800000,6,transaction,2,"]
    (raw / "events.csv").write_text("\n".join([lines[0], *lines[1:50], *bad_early, *lines[50:], *bad_late]) + "\n")
    memory = root / "memory"
    shoplens.build_warehouse(raw, memory)
    return raw, memory


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_spark_build_equals_shoplens_build(
    spark: SparkSession, data: tuple[Path, Path], tmp_path: Path, partitions: int
) -> None:
    raw, memory = data
    out = tmp_path / "wh"
    report = sls.build(raw, out=out, spark=spark, partitions=partitions)
    assert report["spark"]["partitions"] == partitions
    assert 1 <= report["spark"]["tasks"] <= partitions
    assert_same_warehouse(memory, out)
    # Conservation, summed over the partitions: every line of events.csv is kept, quarantined or a
    # removed duplicate.
    n_lines = (raw / "events.csv").read_bytes().count(b"\n") - 1
    ev = report["events"]
    assert ev["rows_read"] == n_lines == sum(report["spark"]["rows_per_task"])
    assert ev["rows_read"] == ev["kept"] + ev["quarantined"] + ev["duplicates_removed"]
    # The hand-made bad rows, with their source lines and text.
    q = pl.read_parquet(out / "quarantine.parquet").filter(pl.col("source") == "events.csv")
    by_line = dict(zip(q["line"].to_list(), q["raw"].to_list(), strict=True))
    assert by_line[51] == "x,1,view,2,"
    assert by_line[52] == "1433116800000,abc,view,2,"
    assert by_line[n_lines] == "1433116800000,5,fly,2,"
    assert by_line[n_lines + 1] == "1433116800000,6,transaction,2,"
    dups = pl.read_parquet(out / "duplicates.parquet")
    assert dups.filter(pl.col("line") == 53)["duplicate_of_line"].to_list() == [52]
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # scratch removed


def test_spark_dataframe_source_and_bad_arguments(spark: SparkSession, data: tuple[Path, Path], tmp_path: Path) -> None:
    raw, _ = data
    # A DataFrame of the file's columns, read by Spark's CSV reader (all text; an empty field becomes a
    # null, written back as an empty field). Its rows are numbered like the lines of the file, so the
    # warehouse is `shoplens build` of the file. (Rows Spark's CSV reader would reshape, such as lines
    # with too many fields, are left out of this data set: the generator's anomalies are off.)
    clean = shoplens.generate(tmp_path / "clean", scale=0.005, seed=4, inject_anomalies=False).out_dir
    lines = (clean / "events.csv").read_text().splitlines()
    bad = ["x,1,view,2,", "1433116800000,abc,view,2,", "1433116800000,abc,view,2,", "1433116800000,9,fly,2,"]
    (clean / "events.csv").write_text("\n".join([lines[0], *lines[1:20], *bad, *lines[20:]]) + "\n")
    memory = tmp_path / "memory"
    shoplens.build_warehouse(clean, memory)
    frame = spark.read.option("header", True).csv(str(clean / "events.csv")).cache()
    assert frame.rdd.getNumPartitions() > 1  # the small input splits of the session
    out = tmp_path / "from_frame"
    sls.build(frame, out=out, spark=spark, partitions=4, reference=clean)
    assert_same_warehouse(memory, out)
    q = pl.read_parquet(out / "quarantine.parquet").filter(pl.col("source") == "events.csv").sort("line")
    assert q["line"].to_list()[:3] == [21, 22, 24]
    with pytest.raises(SchemaError):
        sls.build(frame.drop("event"), out=tmp_path / "x", spark=spark)
    with pytest.raises(InvalidArgumentError):
        sls.build(raw, out=tmp_path / "x", spark=spark, partitions=0)
    with pytest.raises(InvalidArgumentError):
        sls.build(raw, out=tmp_path / "x", spark=spark, schema=shoplens.EventSchema(user="uid"))
    with pytest.raises(shoplens.MissingFileError):
        sls.build(tmp_path / "nowhere", out=tmp_path / "x", spark=spark)
    assert not (tmp_path / "x").exists()


#: A generic event file's layout: other column names and order, ISO times, a price column.
OTHER_LAYOUT = shoplens.EventSchema(
    user="customer", timestamp="when", event="action", item="sku", order="order_no", price="amount"
)


def _other_layout(raw: Path, path: Path) -> list[str]:
    """The generated events rewritten in :data:`OTHER_LAYOUT` (purchases priced by item), with bad rows
    near the start and at the end; returns the bad rows' text."""
    ev = pl.read_csv(raw / "events.csv", infer_schema=False)
    ts = pl.from_epoch(pl.col("timestamp").cast(pl.Int64), time_unit="ms")
    out = ev.select(
        pl.col("transactionid").alias("order_no"),
        ts.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").alias("when"),
        pl.col("itemid").alias("sku"),
        pl.col("visitorid").alias("customer"),
        pl.col("event").alias("action"),
        pl.when(pl.col("event") == "transaction")
        .then((pl.col("itemid").cast(pl.Int64) % 97 + 0.25).cast(pl.String))
        .alias("amount"),
    )
    lines = out.write_csv(null_value="").splitlines()
    # A bad time, an empty customer, a wrong field count, a text customer on a bad row (quarantined
    # before ids are numbered), and an exact duplicate of a bad row.
    bad_early = [",not-a-time,5,7,view,", ",2015-06-01T00:00:00Z,5,,view,", ",2015-06-01T00:00:00Z,5,7"]
    bad_late = [",yesterday,5,abc,view,", ",yesterday,5,abc,view,"]
    path.write_text("\n".join([lines[0], *lines[1:30], *bad_early, *lines[30:], *bad_late]) + "\n")
    return bad_early + bad_late


@pytest.fixture(scope="module")
def other_layout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("spark_generic")
    raw = shoplens.generate(root / "raw", scale=0.005, seed=8, inject_anomalies=False).out_dir
    path = root / "shop_events.csv"
    _other_layout(raw, path)
    memory = root / "memory"
    shoplens.build_warehouse(shoplens.read_events(path, schema=OTHER_LAYOUT), memory)
    return path, memory


@pytest.mark.parametrize("partitions", [1, 3])
def test_spark_build_of_an_event_file_equals_build_warehouse(
    spark: SparkSession, other_layout: tuple[Path, Path], tmp_path: Path, partitions: int
) -> None:
    path, memory = other_layout
    out = tmp_path / "wh"
    report = sls.build(path, out=out, spark=spark, partitions=partitions, schema=OTHER_LAYOUT)
    assert_same_warehouse(memory, out)
    n_lines = path.read_bytes().count(b"\n") - 1
    ev = report["events"]
    assert ev["rows_read"] == n_lines == sum(report["spark"]["rows_per_task"])
    assert ev["rows_read"] == ev["kept"] + ev["quarantined"] + ev["duplicates_removed"]
    assert report["source"] == str(path)
    assert report["price_source"].startswith("column 'amount' of shop_events.csv")
    q = pl.read_parquet(out / "quarantine.parquet")
    assert set(q["source"].to_list()) == {"shop_events.csv"}
    rows = {line: (rule, raw) for line, rule, raw in q.select("line", "rule", "raw").iter_rows()}
    assert rows[31] == ("bad_timestamp", ",not-a-time,5,7,view,")
    assert rows[32][0] == "missing_field"
    assert rows[33] == ("wrong_column_count", ",2015-06-01T00:00:00Z,5,7")
    assert rows[n_lines][1] == ",yesterday,5,abc,view,"
    dups = pl.read_parquet(out / "duplicates.parquet")
    assert dups.filter(pl.col("line") == n_lines + 1)["duplicate_of_line"].to_list() == [n_lines]
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # scratch removed


def test_spark_build_of_an_event_file_rejects_text_ids_and_bad_schemas(
    spark: SparkSession, other_layout: tuple[Path, Path], tmp_path: Path
) -> None:
    path, _ = other_layout
    text_ids = tmp_path / "text_ids.csv"
    text_ids.write_text(
        "order_no,when,sku,customer,action,amount\n,2015-06-01T00:00:00Z,5,C-7,view,\n,2015-06-01T00:01:00Z,5,C-8,view,\n"
    )
    text_ids_error = r"visitor column 'customer' has text ids .* integer visitor, item and order ids"
    with pytest.raises(SchemaError, match=text_ids_error):
        sls.build(text_ids, out=tmp_path / "x", spark=spark, partitions=2, schema=OTHER_LAYOUT)
    with pytest.raises(SchemaError, match="is not in the table"):
        sls.build(path, out=tmp_path / "x", spark=spark, schema=shoplens.EventSchema(user="nope"))
    with pytest.raises(InvalidArgumentError, match="schema"):
        sls.build(path, out=tmp_path / "x", spark=spark)
    assert not (tmp_path / "x").exists()


def test_spark_analyze_equals_single_machine(spark: SparkSession, tmp_path: Path) -> None:
    raw = shoplens.generate(tmp_path / "raw", scale=0.02, seed=42).out_dir
    wh = tmp_path / "wh"
    shoplens.build_warehouse(raw, wh)
    metrics = ("conversion", "revenue", "orders", "items", "sessions", "aov")
    want = shoplens.analyze(shoplens.open_warehouse(wh), metrics=metrics)
    got = sls.analyze(str(wh), spark=spark, partitions=5, metrics=metrics)
    assert want.results.height >= 6
    keys = ["experiment", "metric", "variant"]
    w, g = want.results.sort(keys), got.results.sort(keys)
    assert g.columns == w.columns
    for col in w.columns:
        if w[col].dtype.is_float():
            a, b = w[col].to_numpy(), g[col].to_numpy()
            assert np.array_equal(np.isnan(a), np.isnan(b)), col
            ok = ~np.isnan(a)
            np.testing.assert_allclose(b[ok], a[ok], rtol=1e-12, atol=1e-15, err_msg=col)
        else:
            assert g[col].to_list() == w[col].to_list(), col
    assert set(got.summaries) == set(want.summaries)
    for name, s in want.summaries.items():
        t = got.summaries[name]
        assert (t.control, t.variants, dict(t.assigned), dict(t.analysed), t.looks) == (
            s.control,
            s.variants,
            dict(s.assigned),
            dict(s.analysed),
            s.looks,
        )
        assert t.srm.pvalue == pytest.approx(s.srm.pvalue, rel=1e-12)
    with pytest.raises(InvalidArgumentError):
        sls.analyze(str(wh), spark=spark, metrics=("nope",))
