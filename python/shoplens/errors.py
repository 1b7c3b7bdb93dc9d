"""The exceptions shoplens raises.

Every error from the engine is a :class:`ShoplensError`. Problems with the caller's input (a data file, a
column mapping, an argument) are also :class:`ValueError`, so generic ``except ValueError`` code keeps working.
"""

from __future__ import annotations

__all__ = [
    "DataFileError",
    "DatabaseError",
    "InputError",
    "InternalError",
    "InvalidArgumentError",
    "MissingFileError",
    "NumericalError",
    "SchemaError",
    "ShoplensError",
    "ShoplensWarning",
    "StorageError",
]


class ShoplensError(Exception):
    """Base class of every error raised by shoplens."""


class InputError(ShoplensError, ValueError):
    """The input given to shoplens cannot be used."""


class DataFileError(InputError):
    """A data file, or one row of it, breaks a rule.

    Attributes
    ----------
    file : str
        The file (or table) the problem is in.
    line : int
        1-based line number, the header being line 1 (0 when the file itself is missing).
    rule : str
        The validation rule that failed, e.g. ``"wrong_header"`` or ``"wrong_column_count"``.
    """

    def __init__(self, message: str, *, file: str = "", line: int = 0, rule: str = "") -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.rule = rule


class MissingFileError(DataFileError, FileNotFoundError):
    """A data file that should exist does not."""


class SchemaError(InputError):
    """A column mapping does not fit the table it is applied to."""


class InvalidArgumentError(InputError):
    """An argument is outside its domain."""


class NumericalError(ShoplensError, ArithmeticError):
    """A numerical procedure did not converge."""


class StorageError(ShoplensError, OSError):
    """Reading or writing a file or table failed."""


class DatabaseError(StorageError):
    """PostgreSQL refused or failed: connection, authentication, a missing database, SQL, a migration.

    The message names the server (never the URL's password) and gives PostgreSQL's reason.
    """


class InternalError(ShoplensError, RuntimeError):
    """A bug in shoplens (never the caller's fault); please report it."""


class ShoplensWarning(UserWarning):
    """A result that is valid but probably not what was meant (e.g. a cleaning run that kept no rows)."""
