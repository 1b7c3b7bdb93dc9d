"""Building a warehouse entirely in the engine, from a RetailRocket folder or a user's own event file
(imports no polars, so the command line starts fast)."""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any

from shoplens import _native
from shoplens._config import RETAILROCKET_SCHEMA, CleanConfig, EventSchema
from shoplens.errors import InvalidArgumentError

if TYPE_CHECKING:
    import polars as pl


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2}
_UNITS.update({"g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4, "tib": 1024**4})


def parse_memory(value: str | int) -> int:
    """Bytes of a memory size: an int, or a number with a unit (``4GiB``, ``512MB``, ``2.5G``)."""
    if isinstance(value, bool):
        raise InvalidArgumentError(f"memory size {value!r}: expected bytes or a size such as '4GiB'")
    if isinstance(value, int):
        size = value
    else:
        match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", str(value))
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise InvalidArgumentError(
                f"memory size {value!r}: expected bytes or a number with a unit (B, KB, KiB, MB, MiB, GB, GiB, TB, TiB)"
            )
        size = int(float(match.group(1)) * _UNITS[unit])
    if size <= 0:
        raise InvalidArgumentError(f"memory size {value!r}: must be positive")
    return size


def default_memory_limit() -> int:
    """Half of the machine's physical memory (the rest is the system's and other programs')."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 1024**3
    return max(total // 2, 256 * 1024**2)


def build_retailrocket(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: CleanConfig,
    *,
    progress: bool,
    memory_limit: str | int | None = None,
    partitions: int | None = None,
) -> dict[str, Any]:
    limit = default_memory_limit() if memory_limit is None else parse_memory(memory_limit)
    if partitions is not None and (isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1):
        raise InvalidArgumentError(f"partitions={partitions!r}: expected a positive integer")
    report = _native.build_warehouse(
        os.fspath(path), os.fspath(out), config.to_json(RETAILROCKET_SCHEMA), progress, limit, partitions
    )
    return dict(json.loads(report))


def build_events(
    source: str | os.PathLike[str] | pl.DataFrame,
    out: str | os.PathLike[str],
    schema: EventSchema,
    config: CleanConfig,
    *,
    name: str | None = None,
    index: list[int] | None = None,
    progress: bool,
) -> dict[str, Any]:
    data = os.fspath(source) if isinstance(source, str | os.PathLike) else source
    report = _native.build_events(data, os.fspath(out), schema.to_json(), config.to_json(schema), name, index, progress)
    return dict(json.loads(report))
