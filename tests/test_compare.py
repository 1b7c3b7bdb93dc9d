"""shoplens._compare.compare_from_sums against scipy, statsmodels and shoplens.stats per row."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from shoplens import InvalidArgumentError
from shoplens import stats as sl
from shoplens._compare import COMPARE_COLUMNS, Alternative, compare_from_sums
from shoplens.experiments import SufficientStats

RTOL = 1e-9


def close(actual: object, expected: object, rtol: float = RTOL, atol: float = 0.0) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=rtol, atol=atol)


# One arm: n users, a mean and a standard deviation, turned into power sums. The coefficient of
# variation stays below ~100 so Σx² - (Σx)²/n keeps at least 10 significant digits.
arm_moments = st.tuples(
    st.integers(min_value=2, max_value=1_000_000),
    st.floats(min_value=-50.0, max_value=50.0),
    st.floats(min_value=0.5, max_value=50.0),
)
rows_of_moments = st.lists(st.tuples(arm_moments, arm_moments), min_size=1, max_size=20)


def sums_table(rows: list[tuple[tuple[int, float, float], tuple[int, float, float]]]) -> pl.DataFrame:
    cols: dict[str, list[float]] = {k: [] for k in ("n_a", "sum_a", "sum_sq_a", "n_b", "sum_b", "sum_sq_b")}
    for arms in rows:
        for arm, (n, mean, sd) in zip("ab", arms, strict=True):
            cols[f"n_{arm}"].append(n)
            cols[f"sum_{arm}"].append(n * mean)
            cols[f"sum_sq_{arm}"].append((n - 1) * sd * sd + n * mean * mean)
    return pl.DataFrame(cols)


def moments(table: pl.DataFrame, arm: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = table[f"n_{arm}"].to_numpy().astype(float)
    s = table[f"sum_{arm}"].to_numpy()
    q = table[f"sum_sq_{arm}"].to_numpy()
    mean = s / n
    return n, mean, np.sqrt((q - s * s / n) / (n - 1))


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
@settings(max_examples=40, deadline=None)
@given(rows=rows_of_moments)
def test_welch_matches_scipy_from_stats(alternative: Alternative, rows: list) -> None:
    table = sums_table(rows)
    out = compare_from_sums(table, kind="mean", alternative=alternative)
    n_a, m_a, s_a = moments(table, "a")
    n_b, m_b, s_b = moments(table, "b")
    ref = sps.ttest_ind_from_stats(m_b, s_b, n_b, m_a, s_a, n_a, equal_var=False, alternative=alternative)
    close(out["statistic"], ref.statistic)
    close(out["pvalue"], ref.pvalue, atol=1e-300)
    se = np.sqrt(s_a**2 / n_a + s_b**2 / n_b)
    df = se**4 / ((s_a**2 / n_a) ** 2 / (n_a - 1) + (s_b**2 / n_b) ** 2 / (n_b - 1))
    close(out["df"], df)
    close(out["se"], se)
    close(out["effect"], m_b - m_a, atol=1e-12 * np.abs(m_a).max())
    if alternative == "two-sided":
        half = sps.t.ppf(0.975, df) * se
        close(out["effect_low"], m_b - m_a - half)
        close(out["effect_high"], m_b - m_a + half)
    elif alternative == "less":
        assert np.isneginf(out["effect_low"].to_numpy()).all()
        close(out["effect_high"], m_b - m_a + sps.t.ppf(0.95, df) * se)
    else:
        close(out["effect_low"], m_b - m_a - sps.t.ppf(0.95, df) * se)
        assert np.isposinf(out["effect_high"].to_numpy()).all()


@settings(max_examples=40, deadline=None)
@given(rows=rows_of_moments, level=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_lift_is_the_delta_method(rows: list, level: float) -> None:
    table = sums_table(rows)
    out = compare_from_sums(table, confidence_level=level)
    n_a, m_a, s_a = moments(table, "a")
    n_b, m_b, s_b = moments(table, "b")
    assert np.isnan(out["lift"].to_numpy()[m_a == 0]).all()
    ok = np.abs(m_a) > 1e-6
    n_a, m_a, s_a, n_b, m_b, s_b = (x[ok] for x in (n_a, m_a, s_a, n_b, m_b, s_b))
    lift = m_b / m_a - 1
    se = np.sqrt(s_b**2 / n_b / m_a**2 + m_b**2 * s_a**2 / n_a / m_a**4)
    z = sps.norm.ppf(0.5 + level / 2)
    close(out["lift"].to_numpy()[ok], lift)
    close(out["lift_low"].to_numpy()[ok], lift - z * se, atol=1e-12)
    close(out["lift_high"].to_numpy()[ok], lift + z * se, atol=1e-12)


# Conversion counts: 1 <= count <= n - 1 keeps the pooled variance away from 0.
proportion_arm = st.integers(min_value=2, max_value=2_000_000).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(min_value=1, max_value=n - 1))
)


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.tuples(proportion_arm, proportion_arm), min_size=1, max_size=20))
def test_proportions_match_statsmodels_and_prop_test(alternative: Alternative, rows: list) -> None:
    (n_a, c_a), (n_b, c_b) = (np.array(x, dtype=float).T for x in zip(*rows, strict=True))
    table = pl.DataFrame({"n_a": n_a, "sum_a": c_a, "sum_sq_a": c_a, "n_b": n_b, "sum_b": c_b, "sum_sq_b": c_b})
    out = compare_from_sums(table, kind="proportion", alternative=alternative)
    sm_alt = {"two-sided": "two-sided", "less": "smaller", "greater": "larger"}[alternative]
    for i in range(len(rows)):
        z, p = proportions_ztest([c_b[i], c_a[i]], [n_b[i], n_a[i]], alternative=sm_alt)
        close(out["statistic"][i], z)
        close(out["pvalue"][i], p, atol=1e-300)
    p_a, p_b = c_a / n_a, c_b / n_b
    se = np.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    close(out["se"], se)
    assert np.isposinf(out["df"].to_numpy()).all()
    if alternative == "two-sided":
        low, high = confint_proportions_2indep(c_b, n_b, c_a, n_a, method="wald", compare="diff")
        # R's prop.test clips the interval to [-1, 1]; statsmodels does not.
        close(out["effect_low"], np.clip(low, -1, 1), atol=1e-15)
        close(out["effect_high"], np.clip(high, -1, 1), atol=1e-15)
    v_a, v_b = p_a * (1 - p_a) / n_a, p_b * (1 - p_b) / n_b
    close(out["lift"], p_b / p_a - 1, atol=1e-15)
    lift_se = np.sqrt(v_b / p_a**2 + p_b**2 * v_a / p_a**4)
    if alternative == "two-sided":
        close(out["lift_high"], p_b / p_a - 1 + sps.norm.ppf(0.975) * lift_se, atol=1e-14)


@settings(max_examples=30, deadline=None)
@given(rows=rows_of_moments, alternative=st.sampled_from(["two-sided", "less", "greater"]))
def test_rows_equal_shoplens_stats_functions(rows: list, alternative: Alternative) -> None:
    table = sums_table(rows)
    out = compare_from_sums(table, alternative=alternative)
    for i, row in enumerate(table.iter_rows(named=True)):
        a = SufficientStats.from_sums(row["n_a"], row["sum_a"], row["sum_sq_a"])
        b = SufficientStats.from_sums(row["n_b"], row["sum_b"], row["sum_sq_b"])
        t = sl.ttest_ind_from_stats(b.mean, b.std, b.n, a.mean, a.std, a.n, alternative=alternative)
        lift = sl.relative_lift_means(b.mean, b.std, b.n, a.mean, a.std, a.n, alternative=alternative)
        got = out.row(i, named=True)
        close([got["statistic"], got["pvalue"], got["df"], got["se"]], [t.statistic, t.pvalue, t.df, t.standard_error])
        close([got["effect_low"], got["effect_high"]], t.confidence_interval(), atol=1e-12)
        close(
            [got["lift"], got["lift_low"], got["lift_high"]],
            [lift.estimate, *lift.confidence_interval()],
            rtol=1e-12,
            atol=1e-12,
        )


@settings(max_examples=30, deadline=None)
@given(
    n_a=st.integers(min_value=1, max_value=200),
    n_b=st.integers(min_value=1, max_value=200),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    parts=st.integers(min_value=1, max_value=6),
)
def test_sums_merged_from_random_partitions_give_the_same_result(n_a: int, n_b: int, seed: int, parts: int) -> None:
    rng = np.random.default_rng(seed)
    samples = {
        "a": np.round(rng.lognormal(3.0, 1.0, n_a + 1) * (rng.random(n_a + 1) < 0.3), 2),
        "b": np.round(rng.lognormal(3.1, 1.0, n_b + 1) * (rng.random(n_b + 1) < 0.3), 2),
    }
    whole: dict[str, list[float]] = {}
    merged: dict[str, list[float]] = {}
    for arm, values in samples.items():
        cuts = np.sort(rng.integers(0, len(values) + 1, size=parts - 1))
        pieces = np.split(values, cuts)
        total = sum((SufficientStats.from_array(p) for p in pieces), SufficientStats())
        for target, stats_ in ((whole, SufficientStats.from_array(values)), (merged, total)):
            n, s, q = stats_.to_sums()
            target.update({f"n_{arm}": [n], f"sum_{arm}": [s], f"sum_sq_{arm}": [q]})
    got_whole = compare_from_sums(pl.DataFrame(whole))
    got_merged = compare_from_sums(pl.DataFrame(merged))
    for name in COMPARE_COLUMNS:
        close(got_merged[name], got_whole[name], rtol=1e-9, atol=1e-9)
    ref = sps.ttest_ind(samples["b"], samples["a"], equal_var=False)
    if np.isfinite(ref.statistic):
        close(got_whole["statistic"], ref.statistic, rtol=1e-8)
        close(got_whole["pvalue"], ref.pvalue, rtol=1e-8, atol=1e-300)


def test_ratio_kind_matches_shoplens_ratio_metric_test() -> None:
    rng = np.random.default_rng(7)
    arms: dict[str, Any] = {}
    for arm, scale in (("a", 1.0), ("b", 1.1)):
        orders = rng.poisson(1.2, 500).astype(float)
        revenue = orders * rng.gamma(2.0, 20.0 * scale, 500)
        arms[arm] = (revenue, orders)
        arms[arm + "_sums"] = {
            f"n_{arm}": [500.0],
            f"sum_{arm}": [revenue.sum()],
            f"sum_sq_{arm}": [(revenue**2).sum()],
            f"sum_den_{arm}": [orders.sum()],
            f"sum_sq_den_{arm}": [(orders**2).sum()],
            f"sum_num_den_{arm}": [(revenue * orders).sum()],
        }
    table = pl.DataFrame({**arms["a_sums"], **arms["b_sums"]})
    out = compare_from_sums(table, kind="ratio").row(0, named=True)
    ref = sl.ratio_metric_test(*arms["b"], *arms["a"])
    close([out["mean_b"], out["mean_a"], out["effect"]], [ref.ratio1, ref.ratio2, ref.difference], rtol=1e-12)
    close([out["statistic"], out["pvalue"], out["se"]], [ref.statistic, ref.pvalue, ref.standard_error], rtol=1e-8)
    close([out["effect_low"], out["effect_high"]], ref.confidence_interval(), rtol=1e-8)
    lift = ref.relative_lift()
    close([out["lift"], out["lift_low"], out["lift_high"]], [lift.estimate, *lift.confidence_interval()], rtol=1e-8)


def test_undefined_rows_are_nan() -> None:
    table = pl.DataFrame(
        {
            "segment": ["empty", "single", "zero baseline", "ok"],
            "n_a": [0, 1, 10, 10],
            "sum_a": [0.0, 4.0, 0.0, 5.0],
            "sum_sq_a": [0.0, 16.0, 0.0, 9.0],
            "n_b": [5, 5, 10, 10],
            "sum_b": [5.0, 5.0, 3.0, 6.0],
            "sum_sq_b": [9.0, 9.0, 3.0, 10.0],
        }
    )
    out = compare_from_sums(table)
    assert out.columns == table.columns + list(COMPARE_COLUMNS)
    assert out.row(0, named=True)["pvalue"] != out.row(0, named=True)["pvalue"]
    single = out.row(1, named=True)
    assert single["mean_a"] == 4.0 and np.isnan(single["pvalue"]) and np.isnan(single["lift"])
    zero = out.row(2, named=True)
    assert np.isfinite(zero["pvalue"]) and np.isnan(zero["lift"])
    assert 0.0 <= out.row(3, named=True)["pvalue"] <= 1.0


def test_pandas_input_and_bad_rows() -> None:
    import pandas as pd  # pinned in requirements-dev.txt

    frame = pd.DataFrame(
        {"n_a": [10], "sum_a": [5.0], "sum_sq_a": [9.0], "n_b": [10], "sum_b": [6.0], "sum_sq_b": [1.0]}
    )
    with pytest.raises(InvalidArgumentError, match="row 0, arm b"):
        compare_from_sums(frame)
    good = pl.from_pandas(frame).with_columns(pl.lit(10.0).alias("sum_sq_b"))
    assert len(compare_from_sums(good.to_pandas())) == 1  # pandas in, pandas out
    with pytest.raises(InvalidArgumentError, match="missing column 'sum_sq_b'"):
        compare_from_sums(good.drop("sum_sq_b"))
    with pytest.raises(InvalidArgumentError, match="in \\[0, n\\]"):
        compare_from_sums(good.with_columns(pl.lit(11.0).alias("sum_b")), kind="proportion")
    with pytest.raises(InvalidArgumentError, match="confidence_level"):
        compare_from_sums(good, confidence_level=1.0)
    with pytest.raises(InvalidArgumentError, match="kind"):
        compare_from_sums(good, kind="median")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="nulls"):
        compare_from_sums(good.with_columns(pl.lit(None, dtype=pl.Float64).alias("n_a")))
