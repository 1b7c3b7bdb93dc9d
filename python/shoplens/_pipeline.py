"""Sources, cleaning and the Parquet warehouse: the Python face of the Rust pipeline."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from shoplens import _native
from shoplens._build import build_events, build_retailrocket
from shoplens._config import RETAILROCKET_SCHEMA, CleanConfig, EventSchema
from shoplens._display import ResultDisplay
from shoplens.errors import DataFileError, MissingFileError, SchemaError, ShoplensWarning

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
    """A user's own event table (a CSV/Parquet file or a DataFrame) with its column mapping; see
    :func:`read_events`. Nothing is read until it is cleaned."""

    name: str
    data: Path | pl.DataFrame = field(repr=False)
    schema: EventSchema
    index: list[int] | None = field(default=None, repr=False)


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
    if folder.is_file():
        raise DataFileError(
            f"{folder}: is a file, expected a RetailRocket folder (events.csv, item_properties*.csv, ...); "
            "read your own event file with read_events",
            file=str(folder),
            line=0,
            rule="not_a_folder",
        )
    if not folder.is_dir():
        raise MissingFileError(f"{folder}: no such folder", file=str(folder), line=0, rule="missing_file")
    events = folder / "events.csv"
    if not events.is_file():
        found = sorted(p.name for p in folder.iterdir())[:10]
        raise MissingFileError(
            f"{events}: no events.csv in the folder (found {found}); expected a RetailRocket folder",
            file=str(events),
            line=0,
            rule="missing_file",
        )
    return RetailRocketSource(folder)


def _schema(schema: EventSchema | Mapping[str, Any] | None) -> EventSchema:
    if schema is None:
        return EventSchema()
    if isinstance(schema, EventSchema):
        return schema
    if isinstance(schema, Mapping):
        return EventSchema.from_mapping(schema)
    raise SchemaError(f"schema={schema!r} is not allowed: expected an EventSchema or a dict of its fields")


def _pandas_index(frame: Any) -> list[int] | None:
    """The user's own pandas index when it is not the default 0..n-1 and holds non-negative integers."""
    index = frame.index
    if type(index).__name__ == "RangeIndex" and index.start == 0 and index.step == 1:
        return None
    if index.dtype.kind not in "iu" or (len(index) and int(index.min()) < 0):
        return None
    return [int(i) for i in index]


def read_events(
    data: Any,
    *,
    schema: EventSchema | Mapping[str, Any] | None = None,
    name: str | None = None,
) -> EventsSource:
    """A user's own event table (CSV or Parquet path, polars or pandas DataFrame) and its column mapping.

    The engine reads it with the rules of a RetailRocket folder: every original column takes part in
    exact de-duplication, the mapped ones are validated, and ids may be integers or text. A quarantined
    row's position is its ``line`` in a file (header = line 1) or its ``index`` in a table (the pandas
    index when it is not the default one).

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"user_id": ["C-1", "C-1"], "timestamp": [1_433_221_332_117, 1_433_221_392_117],
    ...                    "event": ["view", "purchase"], "item_id": [5, 5], "order_id": [None, "A-9"]})
    >>> src = read_events(df, schema=EventSchema(order="order_id"))
    >>> clean(src).events.select("visitor_id", "event", "transaction_id").rows()
    [('C-1', 'view', None), ('C-1', 'transaction', 'A-9')]
    """
    schema = _schema(schema)
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        if path.is_dir():
            found = sorted(p.name for p in path.iterdir())[:10]
            raise DataFileError(
                f"{path}: is a folder (with {found}), expected an event file (.csv or .parquet); "
                "a RetailRocket folder is read with read_retailrocket",
                file=str(path),
                line=0,
                rule="not_a_file",
            )
        if not path.is_file():
            raise MissingFileError(f"{path}: no such file", file=str(path), line=0, rule="missing_file")
        return EventsSource(name or path.name, path, schema)
    if isinstance(data, pl.LazyFrame):
        return EventsSource(name or "frame", data.collect(), schema)
    if isinstance(data, pl.DataFrame):
        return EventsSource(name or "frame", data, schema)
    if type(data).__module__.startswith("pandas") and hasattr(data, "columns"):
        frame = pl.from_pandas(data, include_index=False)
        return EventsSource(name or "frame", frame, schema, _pandas_index(data))
    raise TypeError(f"read_events takes a path, a polars or a pandas DataFrame, not {type(data).__name__}")


def _native_source(src: EventsSource) -> str | pl.DataFrame:
    if isinstance(src.data, Path):
        return str(src.data)
    # The engine reads numbers, text, booleans, dates and datetimes; categoricals travel as text.
    frame = src.data
    cats = [c for c, t in frame.schema.items() if t in (pl.Categorical, pl.Enum) or isinstance(t, pl.Enum)]
    return frame.with_columns(pl.col(cats).cast(pl.String)) if cats else frame


def _warn_if_empty(report: Mapping[str, Any]) -> None:
    """A run that keeps nothing says so loudly, naming the rule most rows broke."""
    events = report["events"]
    if events["kept"] or not events["rows_read"]:
        return
    rules = sorted(events["by_rule"], key=lambda r: -r[1])
    dominant = f"{rules[0][0]} ({rules[0][1]:,} rows)" if rules else "none"
    warnings.warn(
        f"{events['source']}: no rows kept of {events['rows_read']:,} read; the most common rule broken is "
        f"{dominant}: see the quarantine table",
        ShoplensWarning,
        stacklevel=3,
    )


@dataclass(frozen=True)
class CleanResult(ResultDisplay):
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
    report: Mapping[str, Any] = field(repr=False)

    def tables(self) -> dict[str, pl.DataFrame]:
        return {name: getattr(self, name) for name in TABLES}

    def __repr__(self) -> str:
        ev = self.report["events"]
        return (
            f"CleanResult(source={ev['source']!r}, rows_read={ev['rows_read']}, kept={ev['kept']}, "
            f"quarantined={ev['quarantined']}, duplicates={ev['duplicates_removed']}, "
            f"sessions={ev['sessions']}, visitors={ev['visitors']})"
        )

    def _display_fields(self) -> list[tuple[str, Any]]:
        ev = self.report["events"]
        counts = [(k, ev[k]) for k in ("source", "rows_read", "kept", "quarantined", "duplicates_removed")]
        counts += [(k, ev[k]) for k in ("sessions", "visitors", "bot_visitors")]
        shapes = [(name, f"{t.height:,} rows x {t.width} columns") for name, t in self.tables().items()]
        return [*counts, ("by_rule", dict(ev["by_rule"])), *shapes]


def _source(source: Source | str | os.PathLike[str]) -> Source:
    if isinstance(source, RetailRocketSource | EventsSource):
        return source
    if isinstance(source, str | os.PathLike):
        # A folder is a RetailRocket folder; a file is the user's own events with the default mapping.
        return read_events(source) if Path(source).is_file() else read_retailrocket(source)
    raise TypeError(
        f"expected a source from read_retailrocket/read_events, a folder or an event file, not {type(source).__name__}"
    )


def clean(source: Source | str | os.PathLike[str], *, config: CleanConfig | None = None) -> CleanResult:
    """Validate, de-duplicate, quarantine, sessionise and enrich a source.

    Every row read ends in exactly one place: ``rows read = events kept + quarantined + duplicates``
    (see ``report["conservation"]``). A run that keeps no rows warns (:class:`shoplens.ShoplensWarning`)
    naming the rule most rows broke.
    """
    config = config or CleanConfig()
    src = _source(source)
    if isinstance(src, RetailRocketSource):
        tables, report = _native.clean_retailrocket(str(src.path), config.to_json(RETAILROCKET_SCHEMA))
    else:
        tables, report = _native.clean_events(
            _native_source(src), src.schema.to_json(), config.to_json(src.schema), src.name, src.index
        )
    result = CleanResult(**tables, report=json.loads(report))
    _warn_if_empty(result.report)
    return result


def build_warehouse(
    source: Source | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    config: CleanConfig | None = None,
    progress: bool = False,
    memory_limit: str | int | None = None,
) -> dict[str, Any]:
    """Clean a source and write the Parquet warehouse (one file per table plus ``report.json``).

    The new warehouse replaces an existing one at ``out`` only once it is complete. Returns the report.
    ``memory_limit`` (bytes or a size such as ``"4GiB"``; default half the machine's memory) bounds a
    RetailRocket folder's build: when ``events.csv`` would not fit, the events are split by visitor
    into partitions built one by one and merged into the same tables. An event file or frame is
    built in memory.
    """
    config = config or CleanConfig()
    src = _source(source)
    if isinstance(src, RetailRocketSource):
        report = build_retailrocket(src.path, out, config, progress=progress, memory_limit=memory_limit)
    else:
        report = build_events(
            _native_source(src),
            out,
            src.schema,
            config,
            name=src.name,
            index=src.index,
            progress=progress,
        )
    _warn_if_empty(report)
    return report


@dataclass(frozen=True)
class Warehouse:
    """A built warehouse folder: ``table(name)`` reads one Parquet table, ``report`` the validation report."""

    path: Path

    def table(self, name: str) -> pl.DataFrame:
        path = self.path / f"{name}.parquet"
        if not path.is_file():
            tables = sorted(p.stem for p in self.path.glob("*.parquet"))
            raise MissingFileError(
                f"{path}: no table {name!r} in the warehouse; its tables are {', '.join(tables)}",
                file=str(path),
                line=0,
                rule="missing_file",
            )
        return pl.read_parquet(path)

    def scan(self, name: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.path / f"{name}.parquet")

    def has_table(self, name: str) -> bool:
        """Whether the warehouse has table ``name``."""
        return (self.path / f"{name}.parquet").is_file()

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
