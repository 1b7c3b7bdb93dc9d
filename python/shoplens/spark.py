"""shoplens inside Apache Spark: the engine runs per visitor partition, the driver merges partials.

``pip install 'shoplens[spark]'`` (pyspark; Spark needs Java 17 or later). Nothing here computes a table
or a statistic: Spark moves rows, the engine (``shoplens._native``) cleans and derives each partition and
merges the partials, exactly as ``shoplens build --memory-limit`` does on one machine.

:func:`build`
    A RetailRocket folder (or a Spark DataFrame of its ``events.csv`` columns), or a CSV event file of
    another layout read through an :class:`shoplens.EventSchema`, to the warehouse ``shoplens build``
    writes. Lines are numbered as in the file (pass 1, counts per input split),
    keyed by visitor by the engine and repartitioned by that key (the shuffle); each task cleans and
    derives its partition with ``mapInArrow`` (Arrow batches in and out, the partition handed to the
    engine as one polars frame) and writes its clean rows as Parquet part files; only the partials
    (bytes in a binary column) are collected, and the driver merges them into the warehouse.
:func:`analyze`
    Assignments and clean events to the :class:`shoplens.ExperimentAnalysis` of
    :func:`shoplens.analyze`: per-user metrics per visitor bucket, per-variant sums, counts and daily
    counts collected and added on the driver, the read-out computed from them.

The folders given as paths (the RetailRocket folder, the scratch folder next to ``out``) must be
visible to the driver and every executor under the same path: a local session, or a shared file
system on a cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoplens import _native
from shoplens._config import RETAILROCKET_SCHEMA, CleanConfig, EventSchema
from shoplens.errors import DataFileError, InvalidArgumentError, MissingFileError, SchemaError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]
    from pyspark.sql import DataFrame, SparkSession

    from shoplens._analyze import ExperimentAnalysis

__all__ = ["EVENT_COLUMNS", "analyze", "build"]

#: What the engine's error on text ids of an event file says (a task's error, re-raised on the driver).
_TEXT_IDS = "integer visitor, item and order ids"

#: Columns of ``events.csv`` (and of an events DataFrame given to :func:`build`), in file order.
EVENT_COLUMNS = ("timestamp", "visitorid", "event", "itemid", "transactionid")


def _spark(spark: SparkSession | None) -> SparkSession:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("shoplens.spark needs pyspark: pip install 'shoplens[spark]'") from exc
    session = spark if spark is not None else SparkSession.getActiveSession()
    if session is None:
        raise InvalidArgumentError("no Spark session: pass spark=, or create one first (SparkSession.builder)")
    return session


def _is_spark_frame(x: Any) -> bool:
    try:
        from pyspark.sql import DataFrame
    except ImportError:  # pragma: no cover
        return False
    return isinstance(x, DataFrame)


def _check_header(path: Path) -> None:
    with path.open("rb") as f:
        first = f.readline()
    text = first.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n").decode("utf-8", errors="replace")
    names = [n.strip().strip('"') for n in text.split(",")]
    if names != list(EVENT_COLUMNS):
        raise DataFileError(
            f"{path}:1: wrong_header: the header is {text!r}, expected {','.join(EVENT_COLUMNS)!r}",
            file=str(path),
            line=1,
            rule="wrong_header",
        )


def _segment_counts(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Rows per input segment (a file split, or a DataFrame partition) of one task."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    counts: dict[int, int] = {}
    for batch in batches:
        for item in pc.value_counts(batch.column("segment")).to_pylist():
            counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
    yield pa.RecordBatch.from_pydict(
        {"segment": list(counts), "n": list(counts.values())},
        schema=pa.schema([("segment", pa.int64()), ("n", pa.int64())]),
    )


def _numbered_and_keyed(
    offsets: dict[int, int], first_line: int, config_json: str, generic: tuple[str, str] | None = None
) -> Any:
    """Per task: each row's source line number (the segment's offset + its position in the segment) and
    the engine's partition key; the header row of a file (line 1) is dropped. ``generic``: (event file,
    mapping JSON) of a generic CSV event file, keyed by its mapped visitor column."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import numpy as np
        import polars as pl
        import pyarrow as pa

        seen: dict[int, int] = {}
        for batch in batches:
            segment = batch.column("segment").to_numpy(zero_copy_only=False)
            n = len(segment)
            if n == 0:
                continue
            # Rows of one segment are contiguous in a task: number them run by run.
            starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
            ends = np.r_[starts[1:], n]
            line = np.empty(n, dtype=np.int64)
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
                seg = int(segment[s])
                done = seen.get(seg, 0)
                line[s:e] = offsets[seg] + done + np.arange(e - s, dtype=np.int64) + first_line
                seen[seg] = done + (e - s)
            text = pl.Series("text", batch.column("text")).cast(pl.String)
            if generic is None:
                keys = _native.partition_line_keys(pl.DataFrame({"text": text}), config_json)["key"]
            else:
                keys = _native.partition_event_keys(pl.DataFrame({"text": text}), *generic)["key"]
            out = pl.DataFrame({"line": line, "text": text, "key": keys}).filter(pl.col("line") >= 2)
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(out["line"].to_numpy(), pa.int64()),
                    out["text"].to_arrow().cast(pa.string()),
                    pa.array(out["key"].to_numpy(), pa.int64()),
                ],
                names=["line", "text", "key"],
            )

    return run


def _partition_builder(raw_dir: str, part_dir: str, config_json: str, mapping_json: str | None = None) -> Any:
    """Per task: the engine on the task's whole partition; yields its partial and the engine's time.
    With ``mapping_json``, ``raw_dir`` is a generic CSV event file read through that mapping."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import polars as pl
        import pyarrow as pa
        from pyspark import TaskContext

        collected = [b for b in batches if b.num_rows]
        if not collected:
            return
        frame = pl.from_arrow(pa.Table.from_batches(collected))
        assert isinstance(frame, pl.DataFrame)
        ctx = TaskContext.get()
        partition = ctx.partitionId() if ctx is not None else 0
        started = time.perf_counter()
        lines = frame.select("line", "text")
        if mapping_json is None:
            partial = _native.build_partition(partition, lines, raw_dir, part_dir, config_json)
        else:
            partial = _native.build_event_partition(partition, lines, raw_dir, mapping_json, part_dir, config_json)
        seconds = time.perf_counter() - started
        yield pa.RecordBatch.from_arrays(
            [
                pa.array([partition], pa.int64()),
                pa.array([partial], pa.binary()),
                pa.array([frame.height], pa.int64()),
                pa.array([seconds], pa.float64()),
            ],
            names=["partition", "partial", "rows", "engine_seconds"],
        )

    return run


def build(
    source: str | os.PathLike[str] | DataFrame,
    *,
    out: str | os.PathLike[str],
    spark: SparkSession | None = None,
    partitions: int | None = None,
    schema: EventSchema | Mapping[str, Any] | None = None,
    config: CleanConfig | None = None,
    reference: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Build the warehouse of ``shoplens build`` inside Spark; returns the build report.

    Parameters
    ----------
    source : path or pyspark.sql.DataFrame
        A RetailRocket folder (as ``shoplens build --raw``); an event file of another layout read
        through ``schema`` (a CSV file with a header, as ``shoplens build --events FILE --schema``:
        the warehouse of :func:`shoplens.build_warehouse` of that file, quarantined rows with their
        lines in the file); or a Spark DataFrame with the columns of a RetailRocket ``events.csv``
        (:data:`EVENT_COLUMNS`; rows are numbered in the DataFrame's order as the lines of an
        ``events.csv`` written from it, header = line 1). The DataFrame must be deterministic (read
        from files, or cached): it is read twice.
    out : path
        The warehouse folder (Parquet tables and ``report.json``), replaced when complete.
    spark : SparkSession, optional
        Default: the active session.
    partitions : int, optional
        Visitor partitions (Spark tasks of the build); default: the session's default parallelism.
    schema : EventSchema, optional
        The column mapping of an event file ``source`` (required for one). The visitor, item and order
        ids of such a file must be integers: the partitions number ids apart and are merged by id, so
        text ids raise :class:`shoplens.SchemaError` (build such a file with
        :func:`shoplens.build_warehouse`). As for :func:`shoplens.build_warehouse`, there is no item
        reference data: categories stay null, revenue comes from the mapped price column. With a
        RetailRocket folder or a DataFrame only the RetailRocket layout is allowed.
    config : CleanConfig, optional
        Cleaning settings, as for :func:`shoplens.build_warehouse`.
    reference : path, optional
        With a DataFrame source: the RetailRocket folder whose item properties, category tree, prices
        and assignments enrich the events (its ``events.csv`` is not read). Default: none.

    Returns
    -------
    dict
        The report (as ``report.json``), with a ``spark`` entry: partitions, tasks, rows per task,
        seconds in the engine per task, and the driver's merge time.
    """
    session = _spark(spark)
    from pyspark.sql import functions as sf

    config = config or CleanConfig()
    if not isinstance(config, CleanConfig):
        raise InvalidArgumentError(f"config must be a shoplens.CleanConfig, got {type(config).__name__}")
    generic: EventSchema | None = None
    is_file = not _is_spark_frame(source) and isinstance(source, str | os.PathLike) and Path(source).is_file()
    if schema is not None:
        given = schema if isinstance(schema, EventSchema) else EventSchema.from_mapping(dict(schema))
        if is_file:
            generic = given
        elif given != RETAILROCKET_SCHEMA:
            raise InvalidArgumentError(
                "schema= with a RetailRocket folder or a DataFrame must be the RetailRocket layout; another "
                "schema reads an event file (source = the path of a CSV file with a header)"
            )
    elif is_file:
        raise InvalidArgumentError(
            f"{source}: an event file is read through a schema: pass schema=shoplens.EventSchema(...)"
        )
    if partitions is None:
        partitions = int(session.sparkContext.defaultParallelism)
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise InvalidArgumentError(f"partitions={partitions!r}: expected a positive integer")
    config_json = config.to_json(generic or RETAILROCKET_SCHEMA)
    mapping_json = generic.to_json() if generic is not None else None
    out_path = Path(os.fspath(out)).absolute()
    scratch = out_path.parent / f".{out_path.name}.spark-{uuid.uuid4().hex[:12]}"
    made_reference = False
    if _is_spark_frame(source):
        frame: DataFrame = source  # type: ignore[assignment]
        missing = [c for c in EVENT_COLUMNS if c not in frame.columns]
        if missing:
            raise SchemaError(f"the events DataFrame lacks columns {missing}; expected {list(EVENT_COLUMNS)}")
        if reference is None:
            raw_dir = scratch / "reference"
            raw_dir.mkdir(parents=True)
            made_reference = True
        else:
            raw_dir = Path(os.fspath(reference)).absolute()
            if not raw_dir.is_dir():
                raise MissingFileError(f"{raw_dir}: no such folder", file=str(raw_dir), line=0, rule="missing_file")
        if not (raw_dir / "events.csv").exists():
            if not made_reference:
                raise MissingFileError(
                    f"{raw_dir}: no events.csv (a RetailRocket folder has one)",
                    file=str(raw_dir / "events.csv"),
                    line=0,
                    rule="missing_file",
                )
            (raw_dir / "events.csv").write_text(",".join(EVENT_COLUMNS) + "\n")
        # A missing value is an empty field, as in the file; every value as its text.
        fields = [sf.coalesce(sf.col(c).cast("string"), sf.lit("")) for c in EVENT_COLUMNS]
        text = frame.select(
            sf.concat_ws(",", *fields).alias("text"), sf.spark_partition_id().cast("long").alias("segment")
        )
        first_line = 2
    elif generic is not None:
        assert mapping_json is not None
        raw_dir = Path(os.fspath(source)).absolute()  # type: ignore[arg-type]
        # The header and the mapping are checked before any task runs (a SchemaError names the columns).
        _native.check_event_file(str(raw_dir), mapping_json, config_json)
        text = session.read.text(str(raw_dir)).select(
            sf.col("value").alias("text"), sf.input_file_block_start().alias("segment")
        )
        first_line = 1
    else:
        if not isinstance(source, str | os.PathLike):
            raise InvalidArgumentError(
                f"source must be a RetailRocket folder or a Spark DataFrame, got {type(source).__name__}"
            )
        raw_dir = Path(os.fspath(source)).absolute()
        events = raw_dir / "events.csv"
        if not raw_dir.is_dir():
            raise MissingFileError(f"{raw_dir}: no such folder", file=str(raw_dir), line=0, rule="missing_file")
        if not events.is_file():
            raise MissingFileError(f"{events}: no events.csv", file=str(events), line=0, rule="missing_file")
        _check_header(events)
        text = session.read.text(str(events)).select(
            sf.col("value").alias("text"), sf.input_file_block_start().alias("segment")
        )
        first_line = 1
    part_dir = scratch / "parts"
    started = time.perf_counter()
    try:
        # Pass 1: rows per segment, so that every row gets its line number without a global sort.
        counted = text.select("segment").mapInArrow(_segment_counts, "segment long, n long").collect()
        offsets: dict[int, int] = {}
        total = 0
        for row in sorted(counted, key=lambda r: r["segment"]):
            offsets[int(row["segment"])] = total
            total += int(row["n"])
        keyed_by = None if mapping_json is None else (str(raw_dir), mapping_json)
        numbered = text.mapInArrow(
            _numbered_and_keyed(offsets, first_line, config_json, keyed_by), "line long, text string, key long"
        )
        # Pass 2: the shuffle by visitor key, then the engine per partition.
        built = numbered.repartition(partitions, "key").mapInArrow(
            _partition_builder(str(raw_dir), str(part_dir), config_json, mapping_json),
            "partition long, partial binary, rows long, engine_seconds double",
        )
        try:
            collected = built.collect()
        except Exception as exc:
            # A task's SchemaError (text ids of an event file) arrives wrapped by Spark: raise it as
            # the engine's error, with the engine's message.
            detail = next((ln for ln in str(exc).splitlines() if _TEXT_IDS in ln), None)
            if detail is None:
                raise
            raise SchemaError(detail.split("SchemaError: ", 1)[-1].strip()) from exc
        rows = sorted(collected, key=lambda r: r["partition"])
        tasks_done = time.perf_counter()
        partials = [bytes(r["partial"]) for r in rows]
        if mapping_json is None:
            merged_json = _native.merge_partitions(partials, str(raw_dir), str(out_path), config_json)
        else:
            merged_json = _native.merge_event_partitions(
                partials, str(raw_dir), mapping_json, str(out_path), config_json
            )
        report = json.loads(merged_json)
        merged = time.perf_counter()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report["spark"] = {
        "partitions": partitions,
        "tasks": len(rows),
        "rows_per_task": [int(r["rows"]) for r in rows],
        "engine_seconds_per_task": [float(r["engine_seconds"]) for r in rows],
        "tasks_seconds": tasks_done - started,
        "merge_seconds": merged - tasks_done,
    }
    (out_path / "report.json").write_text(json.dumps(report, indent=2))
    return dict(report)


# --- experiment analysis -------------------------------------------------------------------------------

_AGG_SCHEMA = (
    "kind string, experiment string, variant string, metric string, day timestamp, "
    "n double, sum double, sum_sq double, sum_den double, sum_sq_den double, sum_num_den double"
)


def _naive_utc(frame: Any) -> Any:
    """Spark hands times over in its session time zone: back to naive UTC, as in the warehouse."""
    import polars as pl

    fixes = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            fixes.append(pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None).dt.cast_time_unit("ms"))
        elif isinstance(dtype, pl.Decimal):
            fixes.append(pl.col(name).cast(pl.Int64))
    return frame.with_columns(fixes) if fixes else frame


def _bucket_aggregates(metrics: Sequence[str], exclude_bots: bool) -> Any:
    def run(events: pa.Table, assignments: pa.Table) -> pa.Table:
        import polars as pl
        import pyarrow as pa

        from shoplens._analyze import aggregates, user_metrics

        ev = _naive_utc(pl.from_arrow(events))
        asg = _naive_utc(pl.from_arrow(assignments))
        users = user_metrics(ev, asg).with_columns(
            pl.col("experiment").cast(pl.String), pl.col("variant").cast(pl.String)
        )
        long = aggregates(users, metrics, exclude_bots).long()
        return long.to_arrow().cast(
            pa.schema(
                [
                    ("kind", pa.string()),
                    ("experiment", pa.string()),
                    ("variant", pa.string()),
                    ("metric", pa.string()),
                    ("day", pa.timestamp("us", tz="UTC")),
                    *[(c, pa.float64()) for c in ("n", "sum", "sum_sq", "sum_den", "sum_sq_den", "sum_num_den")],
                ]
            )
        )

    return run


def analyze(
    events: DataFrame | str | os.PathLike[str],
    assignments: DataFrame | str | os.PathLike[str] | None = None,
    *,
    spark: SparkSession | None = None,
    partitions: int | None = None,
    experiment: str | None = None,
    metrics: Sequence[str] = ("conversion", "revenue", "orders", "aov"),
    control: str | Mapping[str, str] | None = None,
    weights: Any = None,
    correction: str = "holm",
    alpha: float = 0.05,
    confidence_level: float = 0.95,
    exclude_bots: bool = True,
    srm_threshold: float = 0.001,
) -> ExperimentAnalysis:
    """:func:`shoplens.analyze` on Spark DataFrames: the same :class:`shoplens.ExperimentAnalysis`.

    ``events`` and ``assignments`` are Spark DataFrames (the warehouse's ``events`` and ``assignments``
    tables) or a warehouse folder for both (its ``experiment_weights`` then default the weights). Users
    are bucketed by a hash of their id into ``partitions`` buckets (default: the session's default
    parallelism); per bucket, the per-user metrics of :func:`shoplens.user_metrics` become per-variant
    sums (n, Σx, Σx², Σy, Σy², Σxy), assigned counts and daily counts, which are collected and added on
    the driver; the tests, intervals, SRM check and sequential read-out are computed from those sums.
    The other arguments are those of :func:`shoplens.analyze`.
    """
    import polars as pl
    from pyspark.sql import functions as sf

    from shoplens._analyze import METRICS, Aggregates, analyze_aggregates

    session = _spark(spark)
    if isinstance(metrics, str) or not isinstance(metrics, Sequence):
        raise InvalidArgumentError(f"metrics must be a sequence of metric names, got {metrics!r}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise InvalidArgumentError(f"unknown metrics {unknown}; choose from {sorted(METRICS)}")
    if isinstance(events, str | os.PathLike):
        wh = Path(os.fspath(events)).absolute()
        if not (wh / "events.parquet").is_file():
            raise MissingFileError(
                f"{wh}: not a warehouse (no events.parquet)", file=str(wh), line=0, rule="missing_file"
            )
        events = session.read.parquet(str(wh / "events.parquet"))
        if assignments is None:
            assignments = session.read.parquet(str(wh / "assignments.parquet"))
        if weights is None and (wh / "experiment_weights.parquet").is_file():
            weights = pl.read_parquet(wh / "experiment_weights.parquet")
    if assignments is None:
        raise InvalidArgumentError("assignments must be given (a DataFrame), or events must be a warehouse folder")
    if isinstance(assignments, str | os.PathLike):
        assignments = session.read.parquet(os.fspath(assignments))
    if not (_is_spark_frame(events) and _is_spark_frame(assignments)):
        raise InvalidArgumentError("events and assignments must be Spark DataFrames or a warehouse folder")
    ev_cols = ["visitor_id", "timestamp", "event", "transaction_id", "revenue", "session_id", "is_bot"]
    missing = [c for c in ev_cols if c not in events.columns]
    if missing:
        raise SchemaError(f"events lack columns {missing}; found {events.columns}")
    missing = sorted({"experiment", "user_id", "variant", "assigned_at"} - set(assignments.columns))
    if missing:
        raise SchemaError(f"assignments lack columns {missing}; found {assignments.columns}")
    asg = assignments.select("experiment", "user_id", "variant", "assigned_at")
    if experiment is not None:
        known = sorted(str(r[0]) for r in asg.select("experiment").distinct().collect())
        asg = asg.filter(sf.col("experiment") == experiment)
        if experiment not in known:
            raise InvalidArgumentError(f"experiment must be one of {known}, got {experiment!r}")
    if partitions is None:
        partitions = int(session.sparkContext.defaultParallelism)
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise InvalidArgumentError(f"partitions={partitions!r}: expected a positive integer")
    # Integer and string ids meet as text (as the single-machine join does).
    bucket = lambda c: sf.pmod(sf.xxhash64(sf.col(c).cast("string")), sf.lit(partitions))  # noqa: E731
    ev = events.select(*ev_cols).withColumn("_bucket", bucket("visitor_id"))
    asg = asg.withColumn("_bucket", bucket("user_id"))
    long_rows = (
        ev.groupBy("_bucket")
        .cogroup(asg.groupBy("_bucket"))
        .applyInArrow(_bucket_aggregates(tuple(metrics), bool(exclude_bots)), _AGG_SCHEMA)
    )
    table = long_rows.toArrow()
    collected = _naive_utc(pl.from_arrow(table))
    assert isinstance(collected, pl.DataFrame)
    return analyze_aggregates(
        Aggregates.from_long(collected),
        metrics=metrics,
        control=control,
        weights=weights,
        correction=correction,  # type: ignore[arg-type]
        alpha=alpha,
        confidence_level=confidence_level,
        srm_threshold=srm_threshold,
    )
