"""pandas in and out: the conversion helper, the base dependency it needs, and pandas through the
experiment functions."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from shoplens import InvalidArgumentError
from shoplens._frames import is_pandas, like_input, to_polars

ROOT = Path(__file__).resolve().parents[1]


def test_pyarrow_is_a_base_dependency():
    # polars' from_pandas (pandas 3 strings, nullable ints) and every DataFrame.to_pandas() need it.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = [d.split(">")[0].split("=")[0].strip() for d in project["dependencies"]]
    assert "pyarrow" in base and "polars" in base


def test_to_polars_accepts_pandas_with_strings_nulls_and_datetimes():
    frame = pd.DataFrame(
        {
            "user": ["C-001", "C-002", None],
            "n": pd.array([1, None, 3], dtype="Int64"),
            "ts": pd.to_datetime(["2024-03-01 10:02", "2024-03-01 11:00", "2024-03-02 09:00"]),
        }
    )
    out = to_polars(frame, "events")
    assert out.columns == ["user", "n", "ts"]
    assert out["user"].to_list() == ["C-001", "C-002", None]
    assert out["n"].to_list() == [1, None, 3]
    assert out["ts"].dt.day().to_list() == [1, 1, 2]
    # a user's index is kept when asked for and informative; the default RangeIndex is not
    indexed = frame.set_index(pd.Index([10, 20, 30], name="row"))
    assert to_polars(indexed, "events", index=True).columns[0] == "row"
    assert to_polars(frame, "events", index=True).columns == ["user", "n", "ts"]


def test_to_polars_passes_polars_and_mappings_and_names_bad_input():
    df = pl.DataFrame({"a": [1]})
    assert to_polars(df, "t") is df
    assert_frame_equal(to_polars(df.lazy(), "t"), df)
    assert_frame_equal(to_polars({"a": [1]}, "t"), df)
    with pytest.raises(InvalidArgumentError, match="events must be a polars or pandas DataFrame, got list"):
        to_polars([1, 2], "events")


def test_like_input_returns_the_callers_type():
    result = pl.DataFrame({"x": [1.5]})
    back = like_input(result, pd.DataFrame({"y": [1]}))
    assert isinstance(back, pd.DataFrame) and back["x"].tolist() == [1.5]
    assert like_input(result, pl.DataFrame()) is result
    assert is_pandas(pd.Series([1])) and not is_pandas(result)
    assert "pandas" in sys.modules


def test_compare_from_sums_gives_pandas_back_for_pandas():
    from shoplens import compare_from_sums

    table = {"n_a": [1000], "sum_a": [100.0], "sum_sq_a": [100.0], "n_b": [1000], "sum_b": [120.0], "sum_sq_b": [120.0]}
    from_pl = compare_from_sums(pl.DataFrame(table), kind="proportion")
    from_pd = compare_from_sums(pd.DataFrame(table), kind="proportion")
    assert isinstance(from_pd, pd.DataFrame)
    np.testing.assert_array_equal(from_pd["pvalue"].to_numpy(), from_pl["pvalue"].to_numpy())


def test_result_tables_offer_to_pandas():
    from shoplens import Candidate, plan
    from shoplens._planner import Baseline

    base = Baseline(
        visitors=100_000, buyers=2_000, revenue=1.2e5, days=30, daily_visitors=4000.0, conversion=0.02,
        revenue_per_buyer=60.0,
    )  # fmt: skip
    table = plan(base, [Candidate("a", 0.1)])
    assert table.to_pandas()["n_per_arm"].tolist() == table["n_per_arm"].to_list()
