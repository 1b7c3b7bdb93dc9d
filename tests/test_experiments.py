"""Tests of shoplens.experiments against independent references: exact rational arithmetic,
numpy/statsmodels OLS, numpy quantiles, scipy.stats.bootstrap, scipy quadrature, published
group-sequential tables and binomial intervals of seeded simulations."""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise

import numpy as np
import pandas as pd
import polars as pl
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from shoplens.errors import InvalidArgumentError
from shoplens.experiments import (
    PairedStats,
    SufficientStats,
    always_valid_pvalues,
    bayes_means,
    bayes_proportions,
    bootstrap_ci,
    confidence_sequence,
    cuped,
    cuped_from_stats,
    obrien_fleming_boundaries,
    simulate_aa,
    simulate_peeking,
    simulate_power,
    winsorize,
)

# --- mergeable statistics -------------------------------------------------------------------

# Dyadic values are exact in binary, so the exact rational reference sees the very numbers the
# engine sees; the spread is kept away from zero relative to the magnitude because no one-pass
# floating-point algorithm resolves M2 of near-constant data to 1e-12 relative.
values_st = st.lists(st.integers(-(10**6), 10**6), min_size=2, max_size=120).map(lambda xs: [x / 64 for x in xs])


def exact_moments(xs: list[float]) -> tuple[Fraction, Fraction]:
    fx = [Fraction(x) for x in xs]
    mean = sum(fx, Fraction(0)) / len(fx)
    return mean, sum(((x - mean) ** 2 for x in fx), Fraction(0))


def well_spread(xs: list[float]) -> bool:
    return float(np.std(xs)) >= 0.01 * max(abs(x) for x in xs) > 0


def split(xs: list, cuts: list[int]) -> list[list]:
    bounds = sorted({min(c, len(xs)) for c in cuts} | {0, len(xs)})
    return [xs[a:b] for a, b in pairwise(bounds)]


@settings(max_examples=150, deadline=None)
@given(values_st, st.lists(st.integers(0, 120), max_size=6))
def test_merge_of_any_partition_equals_exact_whole(xs: list[float], cuts: list[int]) -> None:
    if not well_spread(xs):
        return
    merged = sum((SufficientStats.from_array(part) for part in split(xs, cuts)), SufficientStats())
    mean, m2 = exact_moments(xs)
    assert merged.n == len(xs)
    assert merged.mean == pytest.approx(float(mean), rel=1e-12, abs=1e-12 * max(map(abs, xs)))
    assert merged.m2 == pytest.approx(float(m2), rel=1e-12)
    whole = SufficientStats.from_array(xs)
    assert merged.m2 == pytest.approx(whole.m2, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-(10**5), 10**5), st.integers(-(10**5), 10**5)), min_size=2),
    st.lists(st.integers(0, 60), max_size=5),
)
def test_comoment_merge_equals_exact_whole(pairs: list[tuple[int, int]], cuts: list[int]) -> None:
    xs = [a / 32 for a, _ in pairs]
    ys = [b / 32 for _, b in pairs]
    if not (well_spread(xs) and well_spread(ys)):
        return
    parts = [
        PairedStats.from_arrays([xs[i] for i in idx], [ys[i] for i in idx]) for idx in split(list(range(len(xs))), cuts)
    ]
    merged = sum(parts, PairedStats())
    fx = [Fraction(v) for v in xs]
    fy = [Fraction(v) for v in ys]
    mx, my = sum(fx, Fraction(0)) / len(fx), sum(fy, Fraction(0)) / len(fy)
    c_xy = float(sum(((a - mx) * (b - my) for a, b in zip(fx, fy, strict=True)), Fraction(0)))
    scale = float(np.sqrt(merged.m2_x * merged.m2_y))
    assert merged.c_xy == pytest.approx(c_xy, abs=1e-12 * scale)
    assert merged.m2_x == pytest.approx(float(exact_moments(xs)[1]), rel=1e-12)
    assert merged.m2_y == pytest.approx(float(exact_moments(ys)[1]), rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(values_st)
def test_sums_round_trip(xs: list[float]) -> None:
    if not well_spread(xs):
        return
    s = SufficientStats.from_array(xs)
    n, total, total_sq = s.to_sums()
    assert n == len(xs)
    assert total == pytest.approx(float(sum(Fraction(x) for x in xs)), rel=1e-12, abs=1e-9)
    back = SufficientStats.from_sums(n, total, total_sq)
    # sum_sq - sum**2 / n cancels: the round trip is exact relative to sum_sq, not to M2.
    assert back.m2 == pytest.approx(s.m2, abs=1e-12 * total_sq * 10)
    assert back.mean == pytest.approx(s.mean, rel=1e-14, abs=1e-12)


def test_statistics_match_numpy_and_accept_every_input_kind() -> None:
    rng = np.random.default_rng(1)
    v = rng.lognormal(size=300_000)  # long enough for the parallel path
    expected = (len(v), v.mean(), v.var(ddof=1))
    for data in (v, v.tolist()[:1000], pl.Series(v), pd.Series(v)):
        s = SufficientStats.from_array(data)
        arr = np.asarray(data, dtype=float)
        assert s.n == len(arr)
        assert s.mean == pytest.approx(arr.mean(), rel=1e-12)
        assert s.variance == pytest.approx(arr.var(ddof=1), rel=1e-10)
        assert s.sem == pytest.approx(stats.sem(arr), rel=1e-10)
    assert SufficientStats.from_array(v).n == expected[0]
    paired = PairedStats.from_arrays(v[:5000], v[5000:10000] + v[:5000])
    assert paired.covariance == pytest.approx(np.cov(v[:5000], v[5000:10000] + v[:5000])[0, 1])
    with pytest.raises(InvalidArgumentError):
        SufficientStats.from_array([1.0, float("nan")])
    with pytest.raises(InvalidArgumentError):
        SufficientStats.from_sums(2, 10.0, 1.0)


# --- CUPED ----------------------------------------------------------------------------------


def test_cuped_matches_ols_and_welch() -> None:
    rng = np.random.default_rng(7)
    n = 3000
    groups = rng.choice(["control", "t1", "t2"], size=n)
    x = rng.gamma(2.0, 5.0, size=n)
    effect = np.select([groups == "t1", groups == "t2"], [0.5, 1.0], 0.0)
    y = 3.0 + 0.8 * x + effect + rng.normal(0, 2.0, size=n)
    r = cuped(pl.Series(y), pd.Series(x), groups, control="control")

    ols = sm.OLS(y, sm.add_constant(x)).fit()
    assert r.theta == pytest.approx(ols.params[1], rel=1e-10)
    adjusted = {}
    for label in ("control", "t1", "t2"):
        m = groups == label
        adj_mean = y[m].mean() - r.theta * (x[m].mean() - x.mean())
        adj_var = np.var(y[m] - r.theta * x[m], ddof=1)
        arm = r.arm(label)
        assert arm.n == m.sum()
        assert arm.adjusted_mean == pytest.approx(adj_mean, rel=1e-12)
        assert arm.adjusted_variance == pytest.approx(adj_var, rel=1e-10)
        assert arm.variance_reduction == pytest.approx(1 - adj_var / y[m].var(ddof=1), rel=1e-9)
        adjusted[label] = (adj_mean, np.sqrt(adj_var), m.sum())
    assert [c.arm for c in r.comparisons] == ["t1", "t2"]
    for c in r.comparisons:
        ref = stats.ttest_ind_from_stats(*adjusted[c.arm], *adjusted["control"], equal_var=False)
        assert c.statistic == pytest.approx(ref.statistic, rel=1e-9)
        assert c.pvalue == pytest.approx(ref.pvalue, rel=1e-7, abs=1e-300)
        low, high = c.confidence_interval(0.9)
        q = stats.t.isf(0.05, c.adjusted.df)
        assert low == pytest.approx(c.difference - q * c.adjusted.std_error, rel=1e-9)
        assert high == pytest.approx(c.difference + q * c.adjusted.std_error, rel=1e-9)
        assert c.adjusted.std_error < c.unadjusted.std_error

    # The same from merged per-arm co-moments (e.g. partitions).
    parts = {
        label: PairedStats.from_arrays(x[groups == label][:500], y[groups == label][:500])
        + PairedStats.from_arrays(x[groups == label][500:], y[groups == label][500:])
        for label in ("control", "t1", "t2")
    }
    r2 = cuped_from_stats(parts)
    assert r2.theta == pytest.approx(r.theta, rel=1e-10)
    assert r2.comparisons[1].pvalue == pytest.approx(r.comparisons[1].pvalue, rel=1e-8)


def test_cuped_rejects_bad_control_and_constant_covariate() -> None:
    with pytest.raises(InvalidArgumentError):
        cuped([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 1.0, 2.0], [0, 0, 1, 1], control=5)
    with pytest.raises(InvalidArgumentError):
        cuped([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0], [0, 0, 1, 1])


# --- winsorization --------------------------------------------------------------------------


@pytest.mark.parametrize(("lower", "upper"), [(0.0, 0.99), (0.05, 0.95), (0.013, 0.777)])
def test_winsor_caps_match_numpy_quantile(lower: float, upper: float) -> None:
    rng = np.random.default_rng(3)
    v = np.where(rng.random(5000) < 0.9, 0.0, rng.lognormal(3, 1.2, 5000))
    r = winsorize(v, lower=lower, upper=upper)
    lo, hi = np.quantile(v, [lower, upper])
    assert r.lower_cap == lo and r.upper_cap == hi
    np.testing.assert_array_equal(r.values, np.clip(v, lo, hi))

    nz = winsorize(v, lower=lower, upper=upper, nonzero_only=True)
    lo, hi = np.quantile(v[v != 0], [lower, upper])
    assert nz.lower_cap == lo and nz.upper_cap == hi
    np.testing.assert_array_equal(nz.values, np.where(v == 0, 0.0, np.clip(v, lo, hi)))
    assert nz.n_capped_high == int((v > hi).sum())


def test_winsor_agrees_with_scipy_mstats_where_definitions_meet() -> None:
    # With n = 101 and limits on multiples of 1/100 both definitions pick the same order
    # statistic.
    v = np.random.default_rng(5).standard_cauchy(101)
    ours = winsorize(v, lower=0.02, upper=0.97).values
    theirs = stats.mstats.winsorize(v, limits=(0.02, 0.03)).data
    np.testing.assert_array_equal(ours, theirs)


def test_winsor_rejects_bad_levels() -> None:
    with pytest.raises(InvalidArgumentError):
        winsorize([1.0, 2.0], lower=0.6, upper=0.5)
    r = winsorize([0.0, 0.0, 0.0], nonzero_only=True)
    assert np.isnan(r.upper_cap) and r.values.tolist() == [0.0, 0.0, 0.0]


# --- bootstrap ------------------------------------------------------------------------------


def jackknife_acceleration(samples: list[np.ndarray], stat, signs: list[float]) -> float:
    """scipy's BCa acceleration, written out with explicit leave-one-out loops."""
    num = den = 0.0
    for sample, sign in zip(samples, signs, strict=True):
        n = len(sample)
        theta = np.array([stat(np.delete(sample, i, axis=0)) for i in range(n)])
        u = (n - 1) * (theta.mean() - theta)
        num += sign * (u**3).sum() / n**3
        den += (u**2).sum() / n**2
    return num / (6 * den**1.5)


def compare_with_scipy(ours, data, statistic, paired=False) -> None:
    ref = stats.bootstrap(
        data,
        statistic,
        n_resamples=20_000,
        method="bca",
        paired=paired,
        rng=np.random.default_rng(12),
        batch=2000,
    )
    se = ref.standard_error
    assert ours.standard_error == pytest.approx(se, rel=0.05)
    # Independent resamples: endpoints agree within Monte Carlo error (~0.03 SE each).
    assert abs(ours.low - ref.confidence_interval.low) < 0.15 * se
    assert abs(ours.high - ref.confidence_interval.high) < 0.15 * se


def test_bootstrap_mean_and_median_match_scipy() -> None:
    rng = np.random.default_rng(10)
    v = rng.lognormal(0, 1, 300)
    ours = bootstrap_ci(v, n_resamples=20_000, seed=4)
    compare_with_scipy(ours, (v,), np.mean)
    assert ours.acceleration == pytest.approx(jackknife_acceleration([v], np.mean, [1.0]), rel=1e-9)
    med = bootstrap_ci(v, statistic="median", n_resamples=20_000, seed=4)
    compare_with_scipy(med, (v,), np.median)
    assert med.acceleration == pytest.approx(jackknife_acceleration([v], np.median, [1.0]), rel=1e-9, abs=1e-12)
    pct = bootstrap_ci(v, method="percentile", n_resamples=20_000, seed=4)
    ref = stats.bootstrap((v,), np.mean, n_resamples=20_000, method="percentile", rng=1)
    assert abs(pct.low - ref.confidence_interval.low) < 0.15 * ref.standard_error


def test_bootstrap_two_sample_difference_and_ratio_match_scipy() -> None:
    rng = np.random.default_rng(11)
    a = np.where(rng.random(400) < 0.3, rng.gamma(2, 10, 400), 0.0)
    b = np.where(rng.random(350) < 0.25, rng.gamma(2, 10, 350), 0.0)
    ours = bootstrap_ci(a, b, n_resamples=20_000, seed=8)
    assert ours.estimate == pytest.approx(a.mean() - b.mean())

    def diff(x, y, axis=-1):
        return np.mean(x, axis=axis) - np.mean(y, axis=axis)

    compare_with_scipy(ours, (a, b), diff)
    assert ours.acceleration == pytest.approx(jackknife_acceleration([a, b], np.mean, [1.0, -1.0]), rel=1e-9)

    orders = rng.poisson(1.2, 400).astype(float)
    revenue = orders * rng.gamma(3, 8, 400)
    ratio = bootstrap_ci((revenue, orders), statistic="ratio", n_resamples=20_000, seed=8)
    assert ratio.estimate == pytest.approx(revenue.sum() / orders.sum())

    def ratio_stat(num, den, axis=-1):
        return np.sum(num, axis=axis) / np.sum(den, axis=axis)

    compare_with_scipy(ratio, (revenue, orders), ratio_stat, paired=True)
    pairs = np.column_stack([revenue, orders])
    assert ratio.acceleration == pytest.approx(
        jackknife_acceleration([pairs], lambda p: p[:, 0].sum() / p[:, 1].sum(), [1.0]),
        rel=1e-8,
    )


def test_bootstrap_is_reproducible_and_covers() -> None:
    rng = np.random.default_rng(2)
    v = rng.exponential(size=200)
    r1 = bootstrap_ci(v, n_resamples=500, seed=3)
    r2 = bootstrap_ci(v, n_resamples=500, seed=3)
    np.testing.assert_array_equal(r1.bootstrap_distribution, r2.bootstrap_distribution)
    assert r1.standard_error == pytest.approx(np.std(r1.bootstrap_distribution, ddof=1))
    # Coverage of the 90 % BCa interval of an exponential mean (true mean 1).
    covered = 0
    trials = 300
    for s in range(trials):
        sample = rng.exponential(size=80)
        r = bootstrap_ci(sample, n_resamples=1000, confidence_level=0.9, seed=s)
        low, high = r.low, r.high
        covered += low <= 1.0 <= high
    lo, hi = stats.binom.interval(0.999, trials, 0.9)
    # BCa is slightly liberal for n = 80 exponential data; allow 3 points below nominal.
    assert lo - 0.03 * trials <= covered <= hi


def test_bootstrap_rejects_mismatched_inputs() -> None:
    with pytest.raises(InvalidArgumentError):
        bootstrap_ci([1.0, 2.0, 3.0], statistic="ratio")
    with pytest.raises(InvalidArgumentError):
        bootstrap_ci(([1.0, 2.0], [1.0]), statistic="ratio")
    with pytest.raises(InvalidArgumentError):
        bootstrap_ci([1.0, 2.0, 3.0], statistic="mode")


# --- Bayesian -------------------------------------------------------------------------------


def quad_prob_b_beats_a(aa: float, ba: float, ab: float, bb: float) -> float:
    lo, hi = stats.beta.ppf([1e-14, 1 - 1e-14], ab, bb)
    value, _ = integrate.quad(
        lambda t: stats.beta.pdf(t, ab, bb) * stats.beta.cdf(t, aa, ba),
        lo,
        hi,
        epsabs=1e-14,
        epsrel=1e-12,
        limit=500,
    )
    return value


def quad_expected_loss(x: tuple[float, float], y: tuple[float, float]) -> float:
    """E[max(X - Y, 0)] as the double integral over {x > y}."""
    x_lo, x_hi = stats.beta.ppf([1e-13, 1 - 1e-13], *x)
    y_lo, y_hi = stats.beta.ppf([1e-13, 1 - 1e-13], *y)

    def inner(t: float) -> float:
        top = min(t, y_hi)
        if top <= y_lo:
            return 0.0
        return integrate.quad(lambda s: (t - s) * stats.beta.pdf(s, *y), y_lo, top, epsabs=1e-15, epsrel=1e-12)[0]

    return integrate.quad(lambda t: stats.beta.pdf(t, *x) * inner(t), x_lo, x_hi, epsabs=1e-14, epsrel=1e-11)[0]


@pytest.mark.parametrize(
    ("counts", "prior"),
    [
        ((20, 500, 28, 500), (1.0, 1.0)),
        ((120, 2400, 150, 2400), (1.0, 1.0)),
        ((3, 40, 9, 45), (0.5, 0.5)),
        ((50, 1000, 45, 1000), (2.5, 7.5)),
    ],
)
def test_bayes_proportions_against_quadrature(counts, prior) -> None:
    ca, na, cb, nb = counts
    r = bayes_proportions(ca, na, cb, nb, prior=prior)
    a = (prior[0] + ca, prior[1] + na - ca)
    b = (prior[0] + cb, prior[1] + nb - cb)
    assert r.method == ("quadrature" if prior[0] % 1 and prior[1] % 1 else "closed-form")
    assert r.prob_b_beats_a == pytest.approx(quad_prob_b_beats_a(*a, *b), abs=1e-9)
    assert r.posterior_a.credible_interval == pytest.approx(tuple(stats.beta.ppf([0.025, 0.975], *a)), rel=1e-10)
    # The interval of p_B - p_A: the exact difference CDF at its ends is 2.5 % and 97.5 %.
    for d, level in zip(r.diff_credible_interval, (0.025, 0.975), strict=True):
        lo, hi = stats.beta.ppf([1e-14, 1 - 1e-14], *a)
        cdf = integrate.quad(
            lambda t, d=d: stats.beta.pdf(t, *a) * stats.beta.cdf(t + d, *b),
            lo,
            hi,
            epsabs=1e-13,
            epsrel=1e-12,
            limit=500,
        )[0]
        assert cdf == pytest.approx(level, abs=1e-8)


@pytest.mark.parametrize("counts", [(20, 500, 28, 500), (3, 40, 9, 45)])
def test_bayes_expected_loss_against_double_integral(counts) -> None:
    ca, na, cb, nb = counts
    r = bayes_proportions(ca, na, cb, nb)
    a = (1.0 + ca, 1.0 + na - ca)
    b = (1.0 + cb, 1.0 + nb - cb)
    assert r.expected_loss_b == pytest.approx(quad_expected_loss(a, b), abs=1e-9)
    assert r.expected_loss_a == pytest.approx(quad_expected_loss(b, a), abs=1e-9)


def test_bayes_means_closed_forms() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(10, 3, 500), rng.normal(10.4, 3.5, 450)
    r = bayes_means(a, b, credible_level=0.9)
    sa, sb = stats.sem(a), stats.sem(b)
    delta, sd = b.mean() - a.mean(), np.hypot(sa, sb)
    assert r.prob_b_beats_a == pytest.approx(stats.norm.cdf(delta / sd), rel=1e-12)
    loss_b = integrate.quad(lambda d: -d * stats.norm.pdf(d, delta, sd), delta - 12 * sd, 0)[0]
    assert r.expected_loss_b == pytest.approx(loss_b, rel=1e-8)
    assert r.expected_loss_a - r.expected_loss_b == pytest.approx(delta, rel=1e-12)
    assert r.diff_credible_interval == pytest.approx(tuple(stats.norm.interval(0.9, delta, sd)), rel=1e-12)
    assert r.posterior_b.credible_interval == pytest.approx(tuple(stats.norm.interval(0.9, b.mean(), sb)), rel=1e-12)


# --- sequential -----------------------------------------------------------------------------


def test_obrien_fleming_spending_matches_published_table() -> None:
    # gsDesign sfLDOF / ldbounds, K = 5 equally spaced, two-sided alpha = 0.05.
    b = obrien_fleming_boundaries([0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(b.z, [4.877, 3.357, 2.680, 2.290, 2.031], atol=6e-4)
    assert b.cumulative_alpha[-1] == pytest.approx(0.05, abs=1e-9)
    # The first look spends exactly alpha(t1) per side.
    spend = 2 * stats.norm.sf(stats.norm.isf(0.0125) / np.sqrt(0.2))
    assert b.z[0] == pytest.approx(stats.norm.isf(spend), rel=1e-10)
    np.testing.assert_allclose(b.nominal_alpha, 2 * stats.norm.sf(b.z), rtol=1e-12)


def test_classical_boundaries_match_jennison_turnbull() -> None:
    # Jennison & Turnbull (2000), Tables 2.1 and 2.3: K = 5, alpha = 0.05 two-sided.
    pocock = obrien_fleming_boundaries(np.linspace(0.2, 1, 5), kind="pocock")
    np.testing.assert_allclose(pocock.z, 2.413, atol=6e-4)
    obf = obrien_fleming_boundaries(np.linspace(0.2, 1, 5), kind="obf")
    np.testing.assert_allclose(obf.z, 2.040 * np.sqrt(5 / np.arange(1, 6)), atol=2e-3)


def test_boundaries_hold_alpha_by_brownian_simulation() -> None:
    t = np.array([0.1, 0.35, 0.6, 1.0])
    b = obrien_fleming_boundaries(t)
    rng = np.random.default_rng(6)
    paths = 400_000
    increments = rng.normal(size=(paths, len(t))) * np.sqrt(np.diff(t, prepend=0.0))
    z = np.cumsum(increments, axis=1) / np.sqrt(t)
    rejected = int((np.abs(z) >= b.z).any(axis=1).sum())
    lo, hi = stats.binom.interval(0.999, paths, 0.05)
    assert lo <= rejected <= hi


def test_confidence_sequence_formula() -> None:
    rng = np.random.default_rng(9)
    a = rng.normal(0.2, 1.0, 3000)
    b = rng.normal(0.0, 1.5, 3000)
    ends = range(300, 3001, 300)
    looks_a = [SufficientStats.from_array(a[:k]) for k in ends]
    looks_b = [SufficientStats.from_array(b[:k]) for k in ends]
    tau2 = 0.01
    cs = confidence_sequence(looks_a, looks_b, alpha=0.05, mixing_variance=tau2)
    # Johari et al.'s normal-mixture SPRT written out independently.
    p_run, low_run, high_run = 1.0, -np.inf, np.inf
    for k, end in enumerate(ends):
        d = a[:end].mean() - b[:end].mean()
        v = a[:end].var(ddof=1) / end + b[:end].var(ddof=1) / end
        lam = np.sqrt(v / (v + tau2)) * np.exp(tau2 * d**2 / (2 * v * (v + tau2)))
        p_run = min(p_run, 1 / lam)
        half = np.sqrt(v * (v + tau2) / tau2 * (2 * np.log(20) + np.log((v + tau2) / v)))
        low_run, high_run = max(low_run, d - half), min(high_run, d + half)
        assert cs.pvalue[k] == pytest.approx(min(p_run, 1.0), rel=1e-10)
        assert cs.lower[k] == pytest.approx(low_run, rel=1e-10)
        assert cs.upper[k] == pytest.approx(high_run, rel=1e-10)
    np.testing.assert_array_equal(always_valid_pvalues(looks_a, looks_b, mixing_variance=tau2), cs.pvalue)
    with pytest.raises(InvalidArgumentError):
        confidence_sequence(looks_a, looks_b[:-1])


def test_always_valid_test_survives_daily_peeking() -> None:
    # 2 000 seeded A/A experiments, 30 daily looks each.
    r = simulate_peeking(
        metric="proportion",
        baseline=0.1,
        nobs_per_look1=200,
        looks=30,
        runs=2000,
        alpha=0.05,
        seed=17,
    )
    assert r.always_valid.rate <= 0.05
    # Naive peeking at a fixed-horizon z test inflates the error well beyond alpha.
    assert r.naive_peeking.ci_low > 0.15
    lo, hi = stats.binom.interval(0.99, 2000, 0.05)
    assert lo <= r.final_look.rejections <= hi


# --- simulation -----------------------------------------------------------------------------


def test_aa_false_positive_rates_sit_in_binomial_interval() -> None:
    runs = 20_000
    lo, hi = stats.binom.interval(0.99, runs, 0.05)
    # Unequal arms, so that the pooled z and Welch's unpooled statistic differ.
    tests = ["z", "chi2", "welch_t", "mann_whitney"]
    props = simulate_aa(baseline=0.1, nobs1=1000, nobs2=800, runs=runs, tests=tests, seed=1)
    for test in tests:
        assert lo <= props[test].rejections <= hi, (test, props[test])
    # Pearson's chi-square without Yates is the square of the pooled z: same decisions.
    assert props["chi2"].rejections == props["z"].rejections
    means = simulate_aa(metric="normal", baseline=5.0, sd=2.0, nobs1=60, nobs2=40, runs=runs, seed=7)
    for test in ("welch_t", "mann_whitney"):
        assert lo <= means[test].rejections <= hi, (test, means[test])
    revenue = simulate_aa(
        metric="revenue",
        baseline=5.0,
        purchase_rate=0.1,
        sigma=1.0,
        nobs1=3000,
        runs=runs,
        tests=["z", "welch_t"],
        seed=7,
    )
    for test in ("z", "welch_t"):
        assert lo <= revenue[test].rejections <= hi, (test, revenue[test])


def test_rejection_rate_interval_is_wilson() -> None:
    r = simulate_power(baseline=0.1, relative_lift=0.1, nobs1=2000, runs=3000, seed=5)
    from statsmodels.stats.proportion import proportion_confint

    for rate in r.rates.values():
        lo, hi = proportion_confint(rate.rejections, rate.runs, alpha=0.05, method="wilson")
        assert (rate.ci_low, rate.ci_high) == pytest.approx((lo, hi), rel=1e-10)
    # Power of the z test against the normal-approximation formula (R power.prop.test).
    p1, p2, n = 0.1, 0.11, 2000
    pbar = (p1 + p2) / 2
    se0, se1 = np.sqrt(2 * pbar * (1 - pbar) / n), np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
    power = stats.norm.sf((stats.norm.isf(0.025) * se0 - (p2 - p1)) / se1)
    assert r["z"].ci_low - 0.01 <= power <= r["z"].ci_high + 0.01


def test_simulation_validates_arguments() -> None:
    with pytest.raises(InvalidArgumentError):
        simulate_aa(metric="normal", baseline=0.0, nobs1=50, runs=10, tests=["chi2"])
    with pytest.raises(InvalidArgumentError):
        simulate_power(baseline=0.9, relative_lift=0.5, nobs1=50, runs=10)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: bootstrap_ci([1.0, 2.0, 3.0], n_resamples=-5), "n_resamples must be an integer >= 1, got -5"),
        (lambda: bootstrap_ci([1.0, 2.0, 3.0], statistic="mode"), "statistic must be one of 'mean'"),
        (lambda: bootstrap_ci([1.0, 2.0, 3.0], confidence_level=0), "confidence_level must be a number strictly"),
        (lambda: bayes_proportions(-1, 10, 3, 10), "count_a must be an integer >= 0, got -1"),
        (lambda: bayes_proportions(11, 10, 3, 10), "count_a must be at most its number of trials 10, got 11"),
        (lambda: bayes_proportions(1, 10, 3, 10, prior=(0, 1)), "prior must be a pair (alpha0, beta0) of positive"),
        (lambda: bayes_proportions(1.5, 10, 3, 10), "count_a must be an integer >= 0, got 1.5"),
        (lambda: SufficientStats.from_sums(-3, 1.0, 1.0), "n must be an integer >= 0, got -3"),
        (lambda: confidence_sequence([1.0], [2.0]), "looks_a[0] must be a SufficientStats, got float"),
        (lambda: obrien_fleming_boundaries([0.5, 1.0], kind="haybittle"), "kind must be one of 'obf-spending'"),
        (lambda: simulate_power(baseline=0.1, relative_lift=0.1, nobs1=-10), "nobs1 must be an integer >= 1, got -10"),
        (lambda: simulate_aa(metric="binary", baseline=0.1, nobs1=10), "metric must be one of 'proportion'"),
        (lambda: winsorize([1.0, 2.0], upper=1.5), "upper must be a number in [0, 1], got 1.5"),
        (lambda: cuped([1.0, 2.0], [1.0, 2.0], ["a", "b"], control="c"), "control must be one of the arms"),
    ],
)
def test_bad_arguments_get_one_message_naming_argument_value_and_domain(call, message):
    with pytest.raises(InvalidArgumentError) as info:
        call()
    assert message in str(info.value)


def test_welch_interval_comes_from_the_engine_and_validates_the_level() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(10, 2, 400)
    x = y + rng.normal(0, 1, 400)
    groups = np.repeat(["a", "b"], 200)
    comparison = cuped(y, x, groups).comparisons[0]
    w = comparison.unadjusted
    ref = stats.ttest_ind(y[200:], y[:200], equal_var=False)
    for level in (0.8, 0.95, 0.999):
        assert w.confidence_interval(level) == pytest.approx(ref.confidence_interval(level), rel=1e-9)
    with pytest.raises(InvalidArgumentError, match="confidence_level must be a number strictly between 0 and 1"):
        w.confidence_interval(1.0)
    with pytest.raises(InvalidArgumentError, match="confidence_level"):
        w.confidence_interval(-0.5)
