"""shoplens: e-commerce analytics and A/B testing with a Rust core.

Clean clickstreams (validation, quarantine, de-duplication, sessions, bot flags), a Parquet warehouse,
honest KPIs and experiment statistics. Start with :func:`generate`, :func:`build_warehouse` and
:func:`open_warehouse`, or ``shoplens --help`` on the command line.

Names are loaded on first use, so ``import shoplens`` stays fast (polars is imported only when a function
that needs it is called).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shoplens._native import __version__
from shoplens.errors import (
    DataFileError,
    InputError,
    InternalError,
    InvalidArgumentError,
    MissingFileError,
    NumericalError,
    SchemaError,
    ShoplensError,
    ShoplensWarning,
    StorageError,
)

if TYPE_CHECKING:
    from shoplens._config import CleanConfig, EventSchema
    from shoplens._generate import GenerateResult, generate
    from shoplens._pipeline import (
        CleanResult,
        EventsSource,
        RetailRocketSource,
        Warehouse,
        build_warehouse,
        clean,
        open_warehouse,
        read_events,
        read_retailrocket,
    )

_LAZY = {
    "GenerateResult": "shoplens._generate",
    "generate": "shoplens._generate",
    "CleanConfig": "shoplens._config",
    "EventSchema": "shoplens._config",
    "CleanResult": "shoplens._pipeline",
    "EventsSource": "shoplens._pipeline",
    "RetailRocketSource": "shoplens._pipeline",
    "Warehouse": "shoplens._pipeline",
    "build_warehouse": "shoplens._pipeline",
    "clean": "shoplens._pipeline",
    "open_warehouse": "shoplens._pipeline",
    "read_events": "shoplens._pipeline",
    "read_retailrocket": "shoplens._pipeline",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'shoplens' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "CleanConfig",
    "CleanResult",
    "DataFileError",
    "EventSchema",
    "EventsSource",
    "GenerateResult",
    "InputError",
    "InternalError",
    "InvalidArgumentError",
    "MissingFileError",
    "NumericalError",
    "RetailRocketSource",
    "SchemaError",
    "ShoplensError",
    "ShoplensWarning",
    "StorageError",
    "Warehouse",
    "__version__",
    "build_warehouse",
    "clean",
    "generate",
    "open_warehouse",
    "read_events",
    "read_retailrocket",
]
