"""Many two-arm comparisons at once from sufficient statistics (n, Σx, Σx² per arm and row).

One row per metric x segment, as a SQL ``GROUP BY`` or :class:`shoplens.experiments.SufficientStats`
exports them; the Rust engine computes every row in parallel with the GIL released.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from shoplens import _native
from shoplens._frames import like_input, to_polars
from shoplens._types import METRIC_KINDS, Alternative, MetricKind
from shoplens._validate import alternative as check_alternative
from shoplens._validate import choice, level
from shoplens.errors import InvalidArgumentError

__all__ = ["COMPARE_COLUMNS", "Alternative", "MetricKind", "compare_from_sums"]

#: Columns :func:`compare_from_sums` adds, in order.
COMPARE_COLUMNS = (
    "mean_a",
    "mean_b",
    "effect",
    "effect_low",
    "effect_high",
    "se",
    "statistic",
    "df",
    "pvalue",
    "lift",
    "lift_low",
    "lift_high",
)
_SUMS = ("n", "sum", "sum_sq")
_DENOMINATOR = ("sum_den", "sum_sq_den", "sum_num_den")


def _column(table: pl.DataFrame, name: str) -> np.ndarray:
    if name not in table.columns:
        raise InvalidArgumentError(f"compare_from_sums: missing column {name!r}")
    series = table.get_column(name)
    if series.null_count():
        raise InvalidArgumentError(f"compare_from_sums: column {name!r} has {series.null_count()} nulls")
    try:
        values = series.cast(pl.Float64).to_numpy()
    except pl.exceptions.PolarsError as exc:
        raise InvalidArgumentError(f"compare_from_sums: column {name!r} is not numeric ({exc})") from exc
    return np.ascontiguousarray(values, dtype=np.float64)


def _denominator(table: pl.DataFrame, arm: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sum_den, sum_sq_den, sum_num_den = (_column(table, f"{name}_{arm}") for name in _DENOMINATOR)
    return sum_den, sum_sq_den, sum_num_den


def compare_from_sums(
    table: Any,
    *,
    kind: MetricKind = "mean",
    alternative: Alternative = "two-sided",
    confidence_level: float = 0.95,
) -> Any:
    """Compare treatment ``b`` with control ``a`` in every row of a table of sufficient statistics.

    Effects are **treatment minus control** (``mean_b - mean_a``) and the lift is
    ``mean_b / mean_a - 1``; ``alternative`` is about ``mean_b - mean_a``. Each row equals the
    per-test functions of :mod:`shoplens.stats` called with the treatment first.

    - ``kind="mean"``: Welch's t test (``scipy.stats.ttest_ind_from_stats(..., equal_var=False)``),
      its t interval, Welch-Satterthwaite ``df``.
    - ``kind="proportion"``: ``sum_a``/``sum_b`` are success counts (``sum_sq`` is not read);
      pooled z statistic and unpooled Wald interval as R's ``prop.test(correct = FALSE)``;
      ``se`` is the unpooled standard error and ``df`` is infinite.
    - ``kind="ratio"``: a ratio metric Σx/Σy per user (revenue per order); the table also needs
      ``sum_den``, ``sum_sq_den`` (Σy, Σy²) and ``sum_num_den`` (Σxy) for each arm (suffix
      ``_a``/``_b``); delta-method z test and interval, ``df`` infinite, ``mean_*`` the ratios.

    The lift interval is the delta method's in every kind. Undefined results are NaN: an empty
    arm, fewer than two users for a variance, a zero baseline for the lift. As scipy, two
    zero-variance arms give an infinite statistic when their means differ.

    Parameters
    ----------
    table : polars.DataFrame or pandas.DataFrame
        Columns ``n_a, sum_a, sum_sq_a, n_b, sum_b, sum_sq_b`` (any numeric type); other columns
        (metric, segment) are kept.
    kind : {"mean", "proportion", "ratio"}
    alternative : {"two-sided", "less", "greater"}
        One-sided alternatives give one-sided intervals (the open end infinite, or -1 / 1 for
        the difference of two proportions).
    confidence_level : float
        Level of both intervals.

    Returns
    -------
    polars.DataFrame or pandas.DataFrame
        ``table`` with the columns of :data:`COMPARE_COLUMNS` appended, of the type given.

    Raises
    ------
    shoplens.InvalidArgumentError
        Missing or null columns, or a row no data can produce (negative n, Σx² < (Σx)²/n, more
        successes than trials); the message names the row and arm.

    Examples
    --------
    >>> import polars as pl
    >>> table = pl.DataFrame({"segment": ["web", "app"], "n_a": [1000, 5000], "sum_a": [100, 400],
    ...                       "sum_sq_a": [100, 400], "n_b": [1000, 5000], "sum_b": [120, 460],
    ...                       "sum_sq_b": [120, 460]})
    >>> out = compare_from_sums(table, kind="proportion")
    >>> out.select("segment", "effect", "pvalue", "lift").with_columns(pl.col(pl.Float64).round(4))
    shape: (2, 4)
    ┌─────────┬────────┬────────┬──────┐
    │ segment ┆ effect ┆ pvalue ┆ lift │
    │ ---     ┆ ---    ┆ ---    ┆ ---  │
    │ str     ┆ f64    ┆ f64    ┆ f64  │
    ╞═════════╪════════╪════════╪══════╡
    │ web     ┆ 0.02   ┆ 0.1529 ┆ 0.2  │
    │ app     ┆ 0.012  ┆ 0.0323 ┆ 0.15 │
    └─────────┴────────┴────────┴──────┘
    """
    given = table
    table = to_polars(table, "table")
    kind = choice(kind, METRIC_KINDS, "kind")
    alternative = check_alternative(alternative)
    confidence_level = level(confidence_level)
    n_a, sum_a, sum_sq_a, n_b, sum_b, sum_sq_b = (_column(table, f"{name}_{arm}") for arm in "ab" for name in _SUMS)
    den_a = den_b = None
    if kind == "ratio":
        den_a = _denominator(table, "a")
        den_b = _denominator(table, "b")
    out = _native.compare_from_sums(
        n_a, sum_a, sum_sq_a, n_b, sum_b, sum_sq_b, kind, alternative, confidence_level, den_a, den_b
    )
    computed = {name: pl.Series(name, np.asarray(values)) for name, values in out.items()}
    return like_input(table.with_columns(computed[name] for name in COMPARE_COLUMNS), given)
