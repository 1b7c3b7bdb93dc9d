"""DataFrames in and out: every function that accepts a table takes polars or pandas.

pandas frames are converted with :func:`polars.from_pandas`; results go back to pandas (when the
caller gave pandas) with polars' own ``DataFrame.to_pandas``. Both directions need pyarrow for
anything beyond plain numpy columns (pandas 3's default string dtype, nullable integers,
categoricals, time zones), so pyarrow is a dependency of the base package rather than of an extra:
a plain ``pip install shoplens`` user with pandas gets working conversions both ways, and there
is one conversion (polars') instead of a second, partial one here.

The helpers are shared by every module that accepts a table (the pipeline's ``read_events``, the
analysis, the batch comparisons); pandas itself is imported only when a pandas object is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from shoplens.errors import InvalidArgumentError

__all__ = ["is_pandas", "like_input", "to_polars"]


def is_pandas(obj: Any) -> bool:
    """Whether ``obj`` is a pandas DataFrame or Series (without importing pandas)."""
    module = type(obj).__module__
    return (module == "pandas" or module.startswith("pandas.")) and type(obj).__name__ in ("DataFrame", "Series")


def to_polars(table: Any, name: str, *, index: bool = False) -> pl.DataFrame:
    """A polars DataFrame from a polars DataFrame or LazyFrame, a pandas DataFrame or a mapping of
    column name to values.

    Parameters
    ----------
    table : polars.DataFrame, polars.LazyFrame, pandas.DataFrame or mapping
        The table as the caller gave it.
    name : str
        The argument's name, for the error message.
    index : bool
        Keep a pandas index that carries information (a named index, or any index other than
        the default ``0..n-1``) as leading column(s).

    Raises
    ------
    shoplens.InvalidArgumentError
        For anything else, naming the argument and the type given.

    Examples
    --------
    >>> to_polars({"a": [1, 2]}, "table").shape
    (2, 1)
    >>> to_polars([1, 2], "events")
    Traceback (most recent call last):
    ...
    shoplens.errors.InvalidArgumentError: events must be a polars or pandas DataFrame, got list
    """
    if isinstance(table, pl.DataFrame):
        return table
    if isinstance(table, pl.LazyFrame):
        return table.collect()
    if is_pandas(table) and type(table).__name__ == "DataFrame":
        keep_index = index and _informative_index(table)
        try:
            return pl.from_pandas(table, include_index=keep_index)
        except (TypeError, ValueError, pl.exceptions.PolarsError) as exc:
            raise InvalidArgumentError(f"{name}: cannot convert the pandas DataFrame ({exc})") from exc
    if isinstance(table, Mapping):
        try:
            return pl.DataFrame(dict(table))
        except (TypeError, ValueError, pl.exceptions.PolarsError) as exc:
            raise InvalidArgumentError(f"{name}: cannot read the mapping as columns ({exc})") from exc
    raise InvalidArgumentError(f"{name} must be a polars or pandas DataFrame, got {type(table).__name__}")


def _informative_index(frame: Any) -> bool:
    idx = frame.index
    if any(n is not None for n in getattr(idx, "names", [idx.name])):
        return True
    # The default RangeIndex(0, n, 1) says nothing; anything else is the user's.
    return not (type(idx).__name__ == "RangeIndex" and idx.start == 0 and idx.step == 1)


def like_input(result: pl.DataFrame, original: Any) -> Any:
    """``result`` as pandas when ``original`` was pandas, else unchanged."""
    if is_pandas(original):
        return result.to_pandas()
    return result
