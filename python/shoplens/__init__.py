"""shoplens: e-commerce analytics and A/B testing with a Rust core.

Clean clickstreams (validation, quarantine, de-duplication, sessions, bot flags), a Parquet warehouse,
honest KPIs and experiment statistics. Start with :func:`generate`, :func:`build_warehouse` and
:func:`open_warehouse`, or ``shoplens --help`` on the command line.
"""

from shoplens._config import CleanConfig, EventSchema
from shoplens._native import __version__
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
from shoplens.errors import (
    DataFileError,
    InputError,
    InternalError,
    InvalidArgumentError,
    MissingFileError,
    NumericalError,
    SchemaError,
    ShoplensError,
    StorageError,
)

__all__ = [
    "CleanConfig",
    "CleanResult",
    "DataFileError",
    "EventSchema",
    "EventsSource",
    "InputError",
    "InternalError",
    "InvalidArgumentError",
    "MissingFileError",
    "NumericalError",
    "RetailRocketSource",
    "SchemaError",
    "ShoplensError",
    "StorageError",
    "Warehouse",
    "__version__",
    "build_warehouse",
    "clean",
    "open_warehouse",
    "read_events",
    "read_retailrocket",
]
