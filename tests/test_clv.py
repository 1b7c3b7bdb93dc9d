"""shoplens.clv against the published CDNOW fits and independent scipy implementations of the formulas."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import special

import shoplens
from shoplens import clv
from shoplens.errors import InvalidArgumentError, SchemaError

CDNOW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cdnow"


@pytest.fixture(scope="module")
def cdnow_summary() -> pl.DataFrame:
    return pl.read_csv(CDNOW / "cdnow_customers_summary.csv")


@pytest.fixture(scope="module")
def cdnow_spend() -> pl.DataFrame:
    return pl.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="module")
def bgnbd(cdnow_summary: pl.DataFrame) -> clv.BetaGeoFit:
    s = cdnow_summary
    return clv.fit_bgnbd(s["frequency"], s["recency"], s["T"])


def test_bgnbd_reproduces_published_cdnow_fit(bgnbd: clv.BetaGeoFit) -> None:
    # Fader, Hardie & Lee (2005), Marketing Science 24(2): r, alpha, a, b and the log-likelihood.
    assert (round(bgnbd.r, 3), round(bgnbd.alpha, 3), round(bgnbd.a, 3), round(bgnbd.b, 3)) == (
        0.243,
        4.414,
        0.793,
        2.426,
    )
    assert round(bgnbd.log_likelihood, 1) == -9582.4
    assert bgnbd.n_customers == 2357


def scipy_bgnbd_ll(params: tuple[float, ...], x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> float:
    """The published BG/NBD likelihood, written directly with scipy."""
    r, alpha, a, b = params
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + tx), -np.inf)
    return float(np.sum(a1 + a2 + np.logaddexp(a3, a4)))


def test_log_likelihood_matches_scipy(bgnbd: clv.BetaGeoFit, cdnow_summary: pl.DataFrame) -> None:
    x, tx, T = (cdnow_summary[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    want = scipy_bgnbd_ll(bgnbd.params, x, tx, T)
    assert bgnbd.log_likelihood == pytest.approx(want, rel=1e-10)
    other = (0.5, 2.0, 1.5, 3.0)
    assert clv.BetaGeoFit(*other).log_likelihood_of(x, tx, T) == pytest.approx(
        scipy_bgnbd_ll(other, x, tx, T), rel=1e-10
    )
    # The fit is a maximum: moving any parameter lowers the likelihood.
    for k in range(4):
        for step in (0.99, 1.01):
            moved = list(bgnbd.params)
            moved[k] *= step
            assert scipy_bgnbd_ll(tuple(moved), x, tx, T) < want


def test_gamma_gamma_reproduces_published_cdnow_fit(cdnow_spend: pl.DataFrame) -> None:
    fit = clv.fit_gamma_gamma(cdnow_spend["x"], cdnow_spend["zbar"])
    assert (round(fit.p, 2), round(fit.q, 2)) == (6.25, 3.74)
    # The published gamma = 15.44 is truncated: the likelihood's maximum on these data is at 15.4477
    # (scipy Nelder-Mead and lifetimes agree), within one unit of the published last digit.
    assert abs(fit.v - 15.44) < 0.01
    assert fit.v == pytest.approx(15.44775, abs=1e-3)
    x = cdnow_spend["x"].to_numpy().astype(float)
    m = cdnow_spend["zbar"].to_numpy()
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    p, q, v = fit.params
    want = np.sum(
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )
    assert fit.log_likelihood == pytest.approx(want, rel=1e-10)
    assert fit.n_customers == keep.sum()


def scipy_p_alive(params, x, tx, T):
    r, alpha, a, b = params
    out = np.ones_like(x, dtype=float)
    rep = x > 0
    odds = a / (b + x[rep] - 1) * ((alpha + T[rep]) / (alpha + tx[rep])) ** (r + x[rep])
    out[rep] = 1 / (1 + odds)
    return out


def scipy_expected(params, t, x, tx, T):
    """Fader, Hardie & Lee (2005) eq. (10), with scipy's hyp2f1 untransformed."""
    r, alpha, a, b = params
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    num = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    den = 1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x)
    return num / den


def test_predictions_match_scipy_formulas(bgnbd: clv.BetaGeoFit, cdnow_summary: pl.DataFrame) -> None:
    x, tx, T = (cdnow_summary[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    np.testing.assert_allclose(bgnbd.p_alive(x, tx, T), scipy_p_alive(bgnbd.params, x, tx, T), rtol=1e-12)
    for horizon in (1.0, 13.0, 39.0, 104.0):
        np.testing.assert_allclose(
            bgnbd.expected_purchases(horizon, x, tx, T), scipy_expected(bgnbd.params, horizon, x, tx, T), rtol=1e-9
        )
    # A new customer: E[X(t)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))].
    r, alpha, a, b = bgnbd.params
    t = 39.0
    want = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    assert bgnbd.expected_purchases_new(t) == pytest.approx(want, rel=1e-10)
    # Large counts stay finite (log space).
    big = bgnbd.p_alive([5000.0], [90.0], [100.0])
    assert np.isfinite(big).all() and 0.0 <= big[0] <= 1.0


def test_clv_matches_lifetimes_definition(bgnbd: clv.BetaGeoFit, cdnow_spend: pl.DataFrame) -> None:
    gg = clv.fit_gamma_gamma(cdnow_spend["x"], cdnow_spend["zbar"])
    x = cdnow_spend["x"].to_numpy().astype(float)
    tx = cdnow_spend["t_x"].to_numpy()
    T = cdnow_spend["T"].to_numpy()
    m = cdnow_spend["zbar"].to_numpy()
    p, q, v = gg.params
    weight = p * x / (p * x + q - 1)
    spend = (1 - weight) * v * p / (q - 1) + weight * m
    np.testing.assert_allclose(gg.expected_spend(x, m), spend, rtol=1e-12)
    # lifetimes' _customer_lifetime_value with freq="W" (a month is 4.345 weeks).
    factor, rate = 4.345, 0.01
    want = np.zeros_like(x)
    for i in range(1, 13):
        ti = i * factor
        e = scipy_expected(bgnbd.params, ti, x, tx, T) - scipy_expected(bgnbd.params, ti - factor, x, tx, T)
        want += spend * e / (1 + rate) ** i
    got = clv.customer_lifetime_value(bgnbd, gg, x, tx, T, m, months=12, discount_rate=rate, unit="W")
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gg.customer_lifetime_value(bgnbd, x, tx, T, m, unit="W"), got)


def test_summary_from_master_reproduces_the_published_sample(cdnow_summary: pl.DataFrame) -> None:
    lines = (CDNOW / "CDNOW_master.txt").read_text().split("\n")[1:]
    fields = [ln.split() for ln in lines if ln.strip()]
    tx = pl.DataFrame(
        {
            "customer_id": [int(f[0]) for f in fields],
            "date": [dt.date(int(f[1][:4]), int(f[1][4:6]), int(f[1][6:])) for f in fields],
            "value": [float(f[3]) for f in fields],
        }
    )
    assert tx.height == 69_659
    s = clv.summary(tx, monetary_value_col="value", observation_period_end=dt.date(1997, 9, 30), unit="W")
    assert s.height == 23_570
    # The 1/10 sample numbers its customers in order of first purchase (then master id): it is an
    # order-preserving sub-sequence of our summary in that order.
    ordered = s.sort(["T", "customer_id"], descending=[True, False]).with_columns(
        pl.col("recency").round(2), pl.col("T").round(2)
    )
    sample = cdnow_summary.select("frequency", "recency", "T").rows()
    k = 0
    for row in ordered.select(pl.col("frequency").cast(pl.Int64), "recency", "T").iter_rows():
        if k < len(sample) and row == sample[k]:
            k += 1
    assert k == len(sample)


def test_summary_errors_and_units() -> None:
    tx = pl.DataFrame({"id": ["a", "a"], "when": [dt.datetime(2024, 1, 1, 23), dt.datetime(2024, 1, 3, 1)]})
    s = clv.summary(tx, customer_id_col="id", datetime_col="when")
    assert s.rows() == [("a", 1.0, 2.0, 2.0)]
    with pytest.raises(SchemaError, match="value"):
        clv.summary(tx, customer_id_col="id", datetime_col="when", monetary_value_col="value")
    with pytest.raises(InvalidArgumentError, match="unit"):
        clv.summary(tx, customer_id_col="id", datetime_col="when", unit="M")  # type: ignore[arg-type]


def test_bad_model_inputs() -> None:
    with pytest.raises(InvalidArgumentError, match="recency must be <= T"):
        clv.fit_bgnbd([1], [5.0], [2.0])
    with pytest.raises(ValueError, match="non-negative integer"):
        clv.fit_bgnbd([1.5], [1.0], [2.0])
    with pytest.raises(InvalidArgumentError, match="not identified"):
        clv.fit_bgnbd([0, 0], [0, 0], [3, 4])
    with pytest.raises(InvalidArgumentError, match="equal lengths"):
        clv.fit_gamma_gamma([1, 2], [3.0])
    with pytest.raises(InvalidArgumentError):
        clv.BetaGeoFit(0.2, 4.0, 0.8, 2.4).expected_purchases(-1, [1], [1], [2])


def test_simulated_customers_recover_parameters() -> None:
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.7, "b": 2.5}
    x, tx, T = clv.simulate_bgnbd(300_000, **truth, T=(26.0, 52.0), seed=11)
    fit = clv.fit_bgnbd(x, tx, T)
    for name, value in truth.items():
        assert getattr(fit, name) == pytest.approx(value, rel=0.1), name


def test_customers_table_from_a_warehouse(tmp_path, make_folder) -> None:
    t0 = 1_431_000_000_000
    day = 86_400_000
    lines = [f"{t0},1,view,5,"]
    # Buyers 1..40 with varied repeat purchases so both models can be fitted.
    order = 100
    for v in range(1, 41):
        for k in range(v % 5 + 1):
            lines.append(f"{t0 + (v % 7 + 9 * k) * day},{v},transaction,{5 + v % 2},{order}")
            order += 1
    folder = make_folder(lines, prices=["5,3.5", "6,2.0"])
    out = tmp_path / "wh"
    shoplens.build_warehouse(folder, out)
    table = clv.customers(out)
    assert table.columns == [
        "visitor_id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "p_alive",
        "expected_purchases_90d",
        "clv_365d",
    ]
    assert table.height == 40
    summary = clv.summary(out)
    assert table.select(summary.columns).equals(summary)
    # Visitor 1 bought on days 1, 10 (frequency = v % 5 = 1 repeat day).
    row = table.filter(pl.col("visitor_id") == 1).row(0, named=True)
    assert (row["frequency"], row["recency"]) == (1.0, 9.0)
    assert row["monetary_value"] == 2.0


def simulate_bgnbd_days(
    n: int, r: float, alpha: float, a: float, b: float, days: int, seed: int
) -> dict[int, list[int]]:
    """Purchase days of n customers from the BG/NBD story (plain numpy): a first purchase in the first third
    of the window, then purchases at rate lambda ~ Gamma(r, alpha) per day; after each purchase the customer
    drops out with probability p ~ Beta(a, b)."""
    rng = np.random.default_rng(seed)
    out: dict[int, list[int]] = {}
    for c in range(n):
        lam = rng.gamma(r, 1 / alpha)
        p = rng.beta(a, b)
        t = float(rng.integers(0, days // 3))
        when = [int(t)]
        while rng.random() >= p:
            t += rng.exponential(1 / lam)
            if t >= days:
                break
            when.append(int(t))
        out[c + 1] = when
    return out


def test_customers_table_equals_an_independent_scipy_fit(tmp_path, make_folder) -> None:
    """The warehouse's CLV table against an independent fit: 3,000 BG/NBD customers (over a thousand with repeat
    purchases, enough for the fit to converge), their RFM summary computed here from the simulated purchase days,
    the likelihood of Fader, Hardie & Lee (2005) maximised with scipy, and P(alive) and expected purchases in
    90 days from the paper's closed forms."""
    from scipy import optimize

    days = 365
    t0 = 1_420_070_400_000  # 2015-01-01 00:00 UTC
    day = 86_400_000
    buys = simulate_bgnbd_days(3000, r=0.9, alpha=30.0, a=0.8, b=3.0, days=days, seed=2)
    lines, order = [], 1
    for v, when in buys.items():
        for k, d in enumerate(when):
            ts = t0 + d * day + 12 * 3_600_000 + v * 1000 + k * 60_000
            lines.append(f"{ts},{v},transaction,{1 + (v + k) % 3},{order}")
            order += 1
    # one event on the last day fixes the end of observation
    lines.append(f"{t0 + (days - 1) * day + 3_600_000},999999,view,1,")
    out = tmp_path / "wh"
    shoplens.build_warehouse(make_folder(lines, prices=["1,10.0", "2,25.0", "3,4.0"]), out)
    table = pl.read_parquet(out / "customers.parquet").sort("visitor_id")

    # the RFM summary in days, straight from the definition (purchase days; T to the last day of data)
    end = days - 1
    ids = sorted(buys)
    pdays = [sorted(set(buys[v])) for v in ids]
    x = np.array([len(d) - 1 for d in pdays], dtype=float)
    tx = np.array([d[-1] - d[0] for d in pdays], dtype=float)
    T = np.array([end - d[0] for d in pdays], dtype=float)
    assert table["visitor_id"].to_list() == ids
    np.testing.assert_array_equal(table["frequency"].to_numpy(), x)
    np.testing.assert_array_equal(table["recency"].to_numpy(), tx)
    np.testing.assert_array_equal(table["T"].to_numpy(), T)
    assert (x > 0).sum() > 1000

    # independent maximum likelihood: scipy's L-BFGS-B on the log-parameters, tight tolerances
    def nll(theta: np.ndarray) -> float:
        return -scipy_bgnbd_ll(tuple(np.exp(theta)), x, tx, T)

    best = min(
        (
            optimize.minimize(nll, np.log(start), method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-10})
            for start in ([1.0, 10.0, 1.0, 1.0], [0.5, 50.0, 0.5, 5.0])
        ),
        key=lambda res: res.fun,
    )
    params = tuple(np.exp(best.x))
    # the engine's own fit reaches the same maximum
    fit = clv.fit_bgnbd(x, tx, T)
    assert fit.log_likelihood == pytest.approx(-best.fun, abs=1e-6)
    assert best.success

    # Tolerance: the engine's L-BFGS and scipy's stop near the same maximum of a smooth likelihood (their
    # parameters agree to ~2e-6 relative here, the predictions to ~7e-6), and the predictions are smooth in the
    # parameters; 1e-4 relative leaves room for a different stopping point on another platform, yet is far
    # below what a wrong formula makes (one more day of horizon already moves expected purchases by ~1 %).
    alive = scipy_p_alive(params, x, tx, T)
    expected = scipy_expected(params, 90.0, x, tx, T)
    np.testing.assert_allclose(table["p_alive"].to_numpy(), alive, rtol=1e-4)
    np.testing.assert_allclose(table["expected_purchases_90d"].to_numpy(), expected, rtol=1e-4)
    # a wrong horizon or a missing alive term would be caught
    assert not np.allclose(
        table["expected_purchases_90d"].to_numpy(), scipy_expected(params, 91.0, x, tx, T), rtol=1e-4
    )
