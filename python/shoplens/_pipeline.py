"""Sources, cleaning and the Parquet warehouse: the Python face of the Rust pipeline."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from shoplens import _native
from shoplens._build import build_retailrocket
from shoplens._config import RETAILROCKET_SCHEMA, CleanConfig, EventSchema
from shoplens.errors import DataFileError, MissingFileError, SchemaError

__all__ = [
    "CleanResult",
    "EventsSource",
    "RetailRocketSource",
    "Warehouse",
    "build_warehouse",
    "clean",
    "open_warehouse",
    "read_events",
    "read_retailrocket",
]

TABLES = (
    "events",
    "sessions",
    "visitors",
    "items",
    "categories",
    "quarantine",
    "duplicates",
    "assignments",
    "experiment_weights",
)
_FIELDS = ("timestamp", "visitor", "event", "item", "order", "price")


@dataclass(frozen=True)
class RetailRocketSource:
    """A folder in RetailRocket format (``events.csv``, ``item_properties_part*.csv``,
    ``category_tree.csv``, and optionally ``prices.csv``); see :func:`read_retailrocket`."""

    path: Path

    @property
    def files(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir() if p.suffix == ".csv")


@dataclass(frozen=True)
class EventsSource:
    """A generic event table mapped to the engine's fields; see :func:`read_events`."""

    name: str
    frame: pl.DataFrame = field(repr=False)
    schema: EventSchema


Source = RetailRocketSource | EventsSource


def read_retailrocket(path: str | os.PathLike[str]) -> RetailRocketSource:
    """Open a RetailRocket-format folder.

    Raises :class:`shoplens.MissingFileError` if the folder or its ``events.csv`` is missing. Files
    are validated when cleaned (:func:`clean`, :func:`build_warehouse`).

    Examples
    --------
    >>> read_retailrocket("/no/such/folder")
    Traceback (most recent call last):
    ...
    shoplens.errors.MissingFileError: /no/such/folder: no such folder
    """
    folder = Path(path)
    if not folder.is_dir():
        raise MissingFileError(f"{folder}: no such folder", file=str(folder), line=0, rule="missing_file")
    events = folder / "events.csv"
    if not events.is_file():
        raise MissingFileError(f"{events}: no events.csv", file=str(events), line=0, rule="missing_file")
    return RetailRocketSource(folder)


def read_events(
    data: Any,
    *,
    schema: EventSchema | None = None,
    name: str | None = None,
) -> EventsSource:
    """Map a generic event table (CSV or Parquet path, polars or pandas DataFrame) to shoplens' fields.

    Every original column takes part in exact de-duplication; the mapped ones are validated. Row
    numbers: CSV rows carry their source line (header = line 1), other tables their 1-based row number.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"user_id": [1, 1], "timestamp": [1_433_221_332_117, 1_433_221_392_117],
    ...                    "event": ["view", "purchase"], "item_id": [5, 5], "order_id": [None, 9]})
    >>> src = read_events(df, schema=EventSchema(order="order_id"))
    >>> clean(src).events.select("event", "transaction_id").rows()
    [('view', None), ('transaction', 9)]
    """
    schema = schema or EventSchema()
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        if not path.is_file():
            raise MissingFileError(f"{path}: no such file", file=str(path), line=0, rule="missing_file")
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = _with_rows(pl.read_parquet(path), first_line=1)
        else:
            frame = _read_csv_text(path)
        label = name or path.name
    elif isinstance(data, pl.LazyFrame):
        frame, label = _with_rows(data.collect(), first_line=1), name or "frame"
    elif isinstance(data, pl.DataFrame):
        frame, label = _with_rows(data, first_line=1), name or "frame"
    elif type(data).__module__.startswith("pandas"):
        frame, label = _with_rows(pl.from_pandas(data), first_line=1), name or "frame"
    else:
        raise TypeError(f"read_events takes a path, a polars or a pandas DataFrame, not {type(data).__name__}")
    return EventsSource(label, _map(frame, schema, label), schema)


def _with_rows(frame: pl.DataFrame, *, first_line: int) -> pl.DataFrame:
    return frame.with_columns(
        pl.int_range(first_line, first_line + frame.height, dtype=pl.UInt64).alias("__line"),
        pl.lit(None, dtype=pl.String).alias("__malformed"),
    )


def _read_csv_text(path: Path) -> pl.DataFrame:
    """All columns as text. polars reads well-formed files; a file with ragged rows or bad UTF-8 is read
    row by row so those rows can be quarantined with their line numbers instead of failing the load."""
    try:
        frame = pl.read_csv(path, infer_schema=False, raise_if_empty=True)
    except pl.exceptions.NoDataError as exc:
        raise DataFileError(
            f"{path}:1: empty_file: the file is empty", file=str(path), line=1, rule="empty_file"
        ) from exc
    except (pl.exceptions.ComputeError, pl.exceptions.ShapeError):
        return _read_csv_rows(path)
    return _with_rows(frame, first_line=2)


def _read_csv_rows(path: Path) -> pl.DataFrame:
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
        reader = csv.reader(text)
        try:
            header = next(reader)
        except StopIteration:
            raise DataFileError(f"{path}:1: empty_file", file=str(path), line=1, rule="empty_file") from None
        if any(_has_surrogate(h) for h in header):
            raise DataFileError(
                f"{path}:1: bad_utf8: the header is not valid UTF-8",
                file=str(path),
                line=1,
                rule="bad_utf8",
            )
        columns: dict[str, list[str | None]] = {h: [] for h in header}
        lines: list[int] = []
        malformed: list[str | None] = []
        start = reader.line_num + 1
        for row in reader:
            lines.append(start)
            start = reader.line_num + 1
            problem = None
            if any(_has_surrogate(v) for v in row):
                problem = "bad_utf8: the line is not valid UTF-8"
            elif len(row) != len(header):
                problem = f"wrong_column_count: {len(row)} fields, expected {len(header)}"
            for i, h in enumerate(header):
                value = row[i] if problem is None and i < len(row) else None
                columns[h].append(value if value != "" else None)
            malformed.append(
                problem if problem is None else problem + " | " + ",".join(row).encode("utf-8", "replace").decode()
            )
    frame = pl.DataFrame(columns, schema=dict.fromkeys(header, pl.String))
    return frame.with_columns(
        pl.Series("__line", lines, dtype=pl.UInt64),
        pl.Series("__malformed", malformed, dtype=pl.String),
    )


def _has_surrogate(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _as_text(frame: pl.DataFrame, column: str, unit: str) -> tuple[pl.Expr, str]:
    """Expression giving `column` as text, and the timestamp unit that text is in."""
    dtype = frame.schema[column]
    expr = pl.col(column)
    if dtype == pl.Datetime or isinstance(dtype, pl.Datetime):
        return expr.dt.epoch("ms").cast(pl.String), "ms"
    if dtype == pl.Date:
        return (expr.cast(pl.Int64) * 86_400_000).cast(pl.String), "ms"
    if dtype.is_float():
        # pandas turns nullable integers into floats: keep whole numbers as integers.
        whole = expr.is_not_nan() & (expr == expr.floor())
        return pl.when(whole).then(expr.cast(pl.Int64).cast(pl.String)).otherwise(expr.cast(pl.String)), unit
    return expr.cast(pl.String), unit


def _map(frame: pl.DataFrame, schema: EventSchema, label: str) -> pl.DataFrame:
    mapping = schema.columns()
    absent = [src for src in mapping.values() if src not in frame.columns]
    if absent:
        available = [c for c in frame.columns if not c.startswith("__")]
        raise SchemaError(f"{label}: no column {absent} (columns are {available})")
    # Rows the reader could not split carry their raw text in __malformed, so it takes part too.
    original = [c for c in frame.columns if c != "__line"]
    exprs = []
    units = set()
    for target, src in mapping.items():
        expr, unit = _as_text(frame, src, schema.timestamp_unit)
        if target == "timestamp":
            units.add(unit)
        exprs.append(expr.alias(target))
    frame = frame.with_columns(pl.int_range(0, pl.len(), dtype=pl.UInt64).alias("__row"))
    row = pl.col("__row")
    first = row.min().over(original) if original else row
    mapped = frame.select(
        *exprs,
        pl.col("__line"),
        pl.col("__malformed"),
        pl.when(first < row).then(first).otherwise(None).alias("__duplicate_of"),
    )
    return mapped


@dataclass(frozen=True)
class CleanResult:
    """Cleaned tables (polars DataFrames) and the validation report of one source."""

    events: pl.DataFrame
    sessions: pl.DataFrame
    visitors: pl.DataFrame
    items: pl.DataFrame
    categories: pl.DataFrame
    quarantine: pl.DataFrame
    duplicates: pl.DataFrame
    assignments: pl.DataFrame
    experiment_weights: pl.DataFrame
    report: Mapping[str, Any]

    def tables(self) -> dict[str, pl.DataFrame]:
        return {name: getattr(self, name) for name in TABLES}


def _source(source: Source | str | os.PathLike[str]) -> Source:
    if isinstance(source, RetailRocketSource | EventsSource):
        return source
    if isinstance(source, str | os.PathLike):
        return read_retailrocket(source)
    raise TypeError(f"expected a source from read_retailrocket/read_events or a folder, not {type(source).__name__}")


def clean(source: Source | str | os.PathLike[str], *, config: CleanConfig | None = None) -> CleanResult:
    """Validate, de-duplicate, quarantine, sessionise and enrich a source.

    Every row read ends in exactly one place: ``rows read = events kept + quarantined + duplicates``
    (see ``report["conservation"]``).
    """
    config = config or CleanConfig()
    src = _source(source)
    if isinstance(src, RetailRocketSource):
        tables, report = _native.clean_retailrocket(str(src.path), config.to_json(RETAILROCKET_SCHEMA))
    else:
        tables, report = _native.clean_frame(src.name, src.frame, config.to_json(src.schema))
    return CleanResult(**tables, report=json.loads(report))


def build_warehouse(
    source: Source | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    config: CleanConfig | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Clean a source and write the Parquet warehouse (one file per table plus ``report.json``).

    The new warehouse replaces an existing one at ``out`` only once it is complete. Returns the report.
    """
    config = config or CleanConfig()
    src = _source(source)
    if isinstance(src, RetailRocketSource):
        return build_retailrocket(src.path, out, config, progress=progress)
    result = clean(src, config=config)
    _native.write_tables(str(out), list(result.tables().items()), json.dumps(dict(result.report)))
    return dict(result.report)


@dataclass(frozen=True)
class Warehouse:
    """A built warehouse folder: ``table(name)`` reads one Parquet table, ``report`` the validation report."""

    path: Path

    def table(self, name: str) -> pl.DataFrame:
        path = self.path / f"{name}.parquet"
        if not path.is_file():
            raise MissingFileError(
                f"{path}: no table {name!r} in the warehouse",
                file=str(path),
                line=0,
                rule="missing_file",
            )
        return pl.read_parquet(path)

    def scan(self, name: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.path / f"{name}.parquet")

    @property
    def report(self) -> dict[str, Any]:
        return dict(json.loads((self.path / "report.json").read_text()))


def open_warehouse(path: str | os.PathLike[str]) -> Warehouse:
    """Open a warehouse written by :func:`build_warehouse` or ``shoplens build``."""
    folder = Path(path)
    if not (folder / "report.json").is_file():
        raise MissingFileError(
            f"{folder}: not a shoplens warehouse (no report.json)",
            file=str(folder),
            line=0,
            rule="missing_file",
        )
    return Warehouse(folder)
