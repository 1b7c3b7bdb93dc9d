"""Building a warehouse from a RetailRocket folder entirely in the engine (imports no polars, so the
command line starts fast)."""

from __future__ import annotations

import json
import os
from typing import Any

from shoplens import _native
from shoplens._config import RETAILROCKET_SCHEMA, CleanConfig


def build_retailrocket(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: CleanConfig,
    *,
    progress: bool,
) -> dict[str, Any]:
    report = _native.build_warehouse(os.fspath(path), os.fspath(out), config.to_json(RETAILROCKET_SCHEMA), progress)
    return dict(json.loads(report))
