"""Building a warehouse entirely in the engine, from a RetailRocket folder or a user's own event file
(imports no polars, so the command line starts fast)."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from shoplens import _native
from shoplens._config import RETAILROCKET_SCHEMA, CleanConfig, EventSchema

if TYPE_CHECKING:
    import polars as pl


def build_retailrocket(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: CleanConfig,
    *,
    progress: bool,
) -> dict[str, Any]:
    report = _native.build_warehouse(os.fspath(path), os.fspath(out), config.to_json(RETAILROCKET_SCHEMA), progress)
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
