"""The PostgreSQL store: schema migrations, atomic loads of a warehouse, and reading it back.

The engine (``src/db``) does the work on its own async runtime, with the GIL released; this module checks
arguments and shapes results. The connection URL comes from the ``url`` argument or, when it is omitted,
from ``SHOPLENS_DATABASE_URL``; it has the form ``postgresql://user@host:5432/database`` (the password, if
any, after the user and a colon). TLS: add ``?sslmode=require`` (or ``verify-ca`` / ``verify-full`` with
``sslrootcert=...``) to the URL. Connecting gives up after 5 seconds with the server's reason; messages
never show the password.

- :func:`migrate` applies the embedded migrations (``migrations/`` of the source tree), :func:`revert`
  undoes them, :func:`status` reports both and the row counts.
- :func:`load` copies every table of a warehouse folder in one transaction: readers see the previous
  load until it commits and the new one after; a load that is killed leaves the previous data; loading
  the same warehouse twice leaves the same rows.
- :func:`open_warehouse` returns a :class:`PgWarehouse`, which the KPI, cohort, CLV and experiment
  functions accept wherever they accept a :class:`shoplens.Warehouse`, with identical results.

Examples
--------
>>> import shoplens.db
>>> url = "postgresql://ann:" + "hunter2" + "@db.example:5432/shop"
>>> shown = shoplens.db.redact(url)
>>> "hunter2" in shown, shown.endswith("@db.example:5432/shop")
(False, True)
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoplens import _native
from shoplens._pipeline import Warehouse
from shoplens.errors import InvalidArgumentError, MissingFileError

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "LoadResult",
    "PgWarehouse",
    "load",
    "migrate",
    "open_warehouse",
    "redact",
    "revert",
    "status",
]

#: The environment variable read when no URL is given.
URL_ENV: str = _native.DB_URL_ENV


def _url(url: str | None) -> str | None:
    if url is None:
        return None
    if not isinstance(url, str):
        raise InvalidArgumentError(f"url must be a string, not {type(url).__name__}")
    return url


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    return _native.db_redact(url)


def migrate(url: str | None = None) -> list[int]:
    """Apply every pending migration; returns the versions applied (empty when up to date)."""
    return list(_native.db_migrate(_url(url)))


def revert(url: str | None = None, *, target: int = 0) -> list[int]:
    """Undo applied migrations newer than ``target`` (0: all of them, dropping the store); returns the
    versions reverted, newest first."""
    if isinstance(target, bool) or not isinstance(target, int) or target < 0:
        raise InvalidArgumentError(f"target={target!r}: a migration version (int >= 0)")
    return list(_native.db_migrate_down(_url(url), target=target))


def status(url: str | None = None) -> dict[str, Any]:
    """Migrations (version, description, applied), the last load and the row count of each table."""
    raw = _native.db_status(_url(url))
    last = raw["last_load"]
    return {
        "url": raw["url"],
        "migrations": [{"version": v, "description": d, "applied": a} for v, d, a in raw["migrations"]],
        "last_load": None
        if last is None
        else {"loaded_at": last[0], "warehouse": last[1], "rows": last[2], "seconds": last[3]},
        "tables": dict(raw["tables"]),
    }


@dataclass(frozen=True)
class LoadResult:
    """Rows loaded per table (in load order) and the load's wall time in seconds."""

    tables: dict[str, int]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def load(warehouse: str | os.PathLike[str] | Warehouse, *, url: str | None = None) -> LoadResult:
    """Load a warehouse folder (``shoplens build`` output) into PostgreSQL, replacing the previous load
    atomically. The schema must be migrated first (:func:`migrate`)."""
    folder = Path(getattr(warehouse, "path", warehouse))
    if not (folder / "report.json").is_file():
        raise MissingFileError(
            f"{folder}: not a shoplens warehouse (no report.json)", file=str(folder), line=0, rule="missing_file"
        )
    raw = _native.db_load(str(folder), _url(url))
    return LoadResult(tables=dict(raw["tables"]), seconds=float(raw["seconds"]))


class PgWarehouse(Warehouse):
    """The last load in PostgreSQL, used like a :class:`shoplens.Warehouse`.

    Tables are read on first use and kept (with the polars types they had in the warehouse); call
    :meth:`refresh` after a new load. It has no folder: ``path`` raises.
    """

    def __init__(self, url: str | None = None) -> None:
        object.__setattr__(self, "_db_url", _url(url))
        object.__setattr__(self, "_tables", {})
        object.__setattr__(self, "_index", None)
        object.__setattr__(self, "_lock", threading.Lock())

    @property  # type: ignore[override]
    def path(self) -> Path:
        raise AttributeError("a PostgreSQL warehouse has no folder (use table(name))")

    def __repr__(self) -> str:
        shown = redact(self._db_url) if self._db_url else f"${URL_ENV}"
        return f"PgWarehouse({shown!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PgWarehouse) and other._db_url == self._db_url

    def __hash__(self) -> int:
        return hash(("PgWarehouse", self._db_url))

    def tables(self, *names: str) -> dict[str, pl.DataFrame]:
        """Several tables, read together from one snapshot (so from the same load)."""
        for name in names:
            if not isinstance(name, str):
                raise InvalidArgumentError(f"table names are strings, not {type(name).__name__}")
        with self._lock:
            missing = [n for n in names if n not in self._tables]
            if missing:
                frames = _native.db_read_tables(missing, self._db_url)
                self._tables.update(zip(missing, frames, strict=True))
            return {n: self._tables[n] for n in names}

    def table(self, name: str) -> pl.DataFrame:
        return self.tables(name)[name]

    def scan(self, name: str) -> pl.LazyFrame:
        return self.table(name).lazy()

    def has_table(self, name: str) -> bool:
        if not isinstance(name, str):
            raise InvalidArgumentError(f"table names are strings, not {type(name).__name__}")
        return bool(_native.db_has_table(name, self._db_url))

    @property
    def report(self) -> dict[str, Any]:
        return dict(json.loads(_native.db_last_report(self._db_url)))

    def refresh(self) -> None:
        """Forget the tables read so far (the next reads see the latest load)."""
        with self._lock:
            self._tables.clear()
            object.__setattr__(self, "_index", None)

    def _kpi_index(self) -> Any:
        """The engine's KPI index of the loaded events (what ``shoplens.kpis`` scans)."""
        if self._index is None:
            present = [t for t in ("categories", "items") if self.has_table(t)]
            frames = self.tables("events", *present)
            index = _native.kpi_index_from_frames(frames["events"], frames.get("categories"), frames.get("items"))
            object.__setattr__(self, "_index", index)
        return self._index


def open_warehouse(url: str | None = None) -> PgWarehouse:
    """The store at ``url`` (or ``SHOPLENS_DATABASE_URL``) as a warehouse; checks that it has a load."""
    wh = PgWarehouse(url)
    _native.db_last_report(wh._db_url)
    return wh
