"""Experiment analysis (shoplens.experiments.analyze): per-user metrics, tests against scipy and
statsmodels, and recovery of the generator's injected truth."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import stats as sps
from statsmodels.stats.proportion import proportions_ztest

import shoplens
from shoplens.experiments import analyze, user_metrics

T0 = datetime(2015, 6, 1)


def _events(rows: list[tuple[int, int, str, int | None, float | None, int]]) -> pl.DataFrame:
    """rows: (visitor, minutes after T0, event, transaction id, revenue, session id)"""
    return pl.DataFrame(
        {
            "visitor_id": [r[0] for r in rows],
            "timestamp": [T0 + timedelta(minutes=r[1]) for r in rows],
            "event": [r[2] for r in rows],
            "transaction_id": [r[3] for r in rows],
            "revenue": [r[4] for r in rows],
            "session_id": [r[5] for r in rows],
            "is_bot": [r[0] == 99 for r in rows],
        },
        schema_overrides={"timestamp": pl.Datetime("ms"), "transaction_id": pl.Int64, "revenue": pl.Float64},
    )


def test_user_metrics_hand_computed():
    events = _events(
        [
            (1, -10, "transaction", 5, 7.0, 1),  # before assignment: not counted
            (1, 5, "view", None, None, 2),
            (1, 6, "transaction", 6, 10.0, 2),
            (1, 6, "transaction", 6, 2.5, 2),  # same order, second item
            (1, 90, "transaction", 7, 1.0, 3),
            (2, 5, "view", None, None, 4),
            (99, 1, "view", None, None, 9),
        ]
    )
    assignments = pl.DataFrame(
        {
            "experiment": ["e", "e", "e", "e"],
            "user_id": [1, 2, 3, 99],
            "variant": ["control", "treatment", "treatment", "control"],
            "assigned_at": [T0, T0, T0, T0],
        },
        schema_overrides={"assigned_at": pl.Datetime("ms")},
    )
    m = user_metrics(events, assignments).sort("user_id")
    assert m["conversion"].to_list() == [1.0, 0.0, 0.0, 0.0]
    assert m["revenue"].to_list() == [13.5, 0.0, 0.0, 0.0]
    assert m["orders"].to_list() == [2.0, 0.0, 0.0, 0.0]
    assert m["items"].to_list() == [3.0, 0.0, 0.0, 0.0]
    assert m["sessions"].to_list() == [2.0, 1.0, 0.0, 1.0]  # user 3 has no events: zeros, still counted
    assert m["is_bot"].to_list() == [False, False, False, True]


@pytest.fixture(scope="module")
def random_experiment() -> tuple[pl.DataFrame, pl.DataFrame, dict[str, np.ndarray]]:
    """Per-user outcomes drawn here; the events are built from them, so references use the draws."""
    rng = np.random.default_rng(11)
    n = {"control": 1500, "treatment": 1400}
    rows = []
    assign = []
    truth: dict[str, np.ndarray] = {}
    uid = 1000  # clear of the bot id 99 used by _events
    for variant, p in (("control", 0.10), ("treatment", 0.13)):
        conv = rng.random(n[variant]) < p
        spend = np.where(conv, rng.lognormal(3.0, 0.8, n[variant]).round(2), 0.0)
        truth[variant] = np.stack([conv.astype(float), spend])
        for i in range(n[variant]):
            uid += 1
            assign.append((uid, variant))
            rows.append((uid, 1, "view", None, None, uid))
            if conv[i]:
                rows.append((uid, 2, "transaction", uid, float(spend[i]), uid))
    assignments = pl.DataFrame(
        {
            "experiment": ["x"] * len(assign),
            "user_id": [a[0] for a in assign],
            "variant": [a[1] for a in assign],
            "assigned_at": [T0] * len(assign),
        },
        schema_overrides={"assigned_at": pl.Datetime("ms")},
    )
    return _events(rows), assignments, truth


def test_analyze_matches_scipy_and_statsmodels(random_experiment):
    events, assignments, truth = random_experiment
    res = analyze(events, assignments, metrics=("conversion", "revenue"), correction="bonferroni")
    conv = res.results.filter(pl.col("metric") == "conversion").row(0, named=True)
    ct, cc = truth["treatment"][0], truth["control"][0]
    z, p = proportions_ztest([ct.sum(), cc.sum()], [ct.size, cc.size])
    assert conv["statistic"] == pytest.approx(z, rel=1e-9)
    assert conv["pvalue"] == pytest.approx(p, rel=1e-9)
    assert conv["effect"] == pytest.approx(ct.mean() - cc.mean(), rel=1e-12)
    assert conv["lift"] == pytest.approx(ct.mean() / cc.mean() - 1, rel=1e-12)
    rev = res.results.filter(pl.col("metric") == "revenue").row(0, named=True)
    welch = sps.ttest_ind(truth["treatment"][1], truth["control"][1], equal_var=False)
    assert rev["statistic"] == pytest.approx(welch.statistic, rel=1e-9)
    assert rev["pvalue"] == pytest.approx(welch.pvalue, rel=1e-9)
    lo, hi = welch.confidence_interval(0.95)
    assert (rev["effect_low"], rev["effect_high"]) == (pytest.approx(lo, rel=1e-9), pytest.approx(hi, rel=1e-9))
    # Bonferroni over the two comparisons
    assert rev["pvalue_adjusted"] == pytest.approx(min(1.0, 2 * welch.pvalue), rel=1e-12)
    summary = res.summaries["x"]
    assert summary.assigned == {"control": 1500, "treatment": 1400}
    chi2 = sps.chisquare([1500, 1400])
    assert summary.srm.pvalue == pytest.approx(chi2.pvalue, rel=1e-9)


def test_analyze_rejects_bad_arguments(random_experiment):
    events, assignments, _ = random_experiment
    with pytest.raises(shoplens.InvalidArgumentError, match="unknown metrics"):
        analyze(events, assignments, metrics=("ctr",))
    with pytest.raises(shoplens.InvalidArgumentError, match="control"):
        analyze(events, assignments, control="nope")
    with pytest.raises(shoplens.SchemaError):
        analyze(events, assignments.drop("variant"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    data = shoplens.generate(root / "raw", scale=0.1, seed=42)
    shoplens.build_warehouse(root / "raw", root / "wh")
    return data.truth, shoplens.open_warehouse(root / "wh")


def test_analyze_recovers_injected_truth(generated):
    truth, wh = generated
    res = analyze(wh)
    table = res.results
    exps = truth["experiments"]
    lift = exps["checkout_redesign"]["true_relative_lift"]["treatment"]
    row = table.filter((pl.col("experiment") == "checkout_redesign") & (pl.col("metric") == "conversion")).row(
        0, named=True
    )
    assert row["lift_low"] < lift < row["lift_high"]
    # The SRM experiment is flagged, the others are not.
    for name, exp in exps.items():
        assert res.summaries[name].srm.alarm == exp["srm"], name
    assert res.summaries["recs_srm"].srm.pvalue < 1e-6
    # The A/A experiment: no significant conversion difference, and its CI covers 0.
    aa = table.filter((pl.col("experiment") == "homepage_aa") & (pl.col("metric") == "conversion")).row(0, named=True)
    assert not aa["significant"]
    assert aa["lift_low"] < 0 < aa["lift_high"]


def test_cli_experiment_writes_results(generated):
    _, wh = generated
    out = subprocess.run(
        [sys.executable, "-m", "shoplens", "experiment", "--warehouse", str(wh.path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "SAMPLE-RATIO MISMATCH" in out.stdout and "checkout_redesign" in out.stdout
    stored = pl.read_parquet(wh.path / "experiment_results.parquet")
    assert set(stored["experiment"]) == {"checkout_redesign", "homepage_aa", "recs_srm"}
    bad = subprocess.run(
        [sys.executable, "-m", "shoplens", "experiment", "--warehouse", str(wh.path), "--name", "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "nope" in bad.stderr
    assert json.loads((wh.path / "report.json").read_text())["conservation"]["holds"]


def _power_prop_test_n(p1: float, p2: float, power: float, alpha: float) -> float:
    """R's power.prop.test sample size (its default strict=FALSE: one tail term), solved here
    independently with scipy."""
    from scipy.optimize import brentq

    qu = sps.norm.isf(alpha / 2)

    def pw(n: float) -> float:
        d = abs(p1 - p2)
        q1, q2 = 1 - p1, 1 - p2
        num = np.sqrt(n) * d - qu * np.sqrt((p1 + p2) * (q1 + q2) / 2)
        return sps.norm.cdf(num / np.sqrt(p1 * q1 + p2 * q2)) - power

    return brentq(pw, 2, 1e9, xtol=1e-10)


def test_planner_from_data(generated):
    from shoplens.experiments import Candidate, baseline_from_events, plan

    _, wh = generated
    events = wh.table("events")
    base = baseline_from_events(events)
    human = events.filter(~pl.col("is_bot"))
    visitors = human["visitor_id"].n_unique()
    buyers = human.filter(pl.col("event") == "transaction")["visitor_id"].n_unique()
    assert base.conversion == pytest.approx(buyers / visitors, rel=1e-12)
    assert base.revenue_per_buyer == pytest.approx(human["revenue"].sum() / buyers, rel=1e-12)
    table = plan(wh, [Candidate("checkout", 0.15, cost=10_000), Candidate("banner", 0.02, cost=500)])
    for row in table.iter_rows(named=True):
        n = _power_prop_test_n(base.conversion, base.conversion * (1 + row["expected_lift"]), 0.8, 0.05)
        assert row["n_per_arm"] == int(np.ceil(n))
        assert row["days"] == int(np.ceil(2 * row["n_per_arm"] / base.daily_visitors))
        gain = base.daily_visitors * base.conversion * row["expected_lift"] * base.revenue_per_buyer
        assert row["daily_revenue_gain"] == pytest.approx(gain, rel=1e-9)
        assert row["payback_days"] == pytest.approx(row["cost"] / gain, rel=1e-9)
    # A smaller lift needs more users and more days.
    assert table["n_per_arm"][1] > table["n_per_arm"][0] and table["days"][1] > table["days"][0]


# --- pandas, Bayesian and sequential columns, read-outs --------------------------------------


def test_analyze_accepts_pandas_and_gives_the_same_results(random_experiment):
    events, assignments, _ = random_experiment
    from_polars = analyze(events, assignments, metrics=("conversion", "revenue", "aov"))
    from_pandas = analyze(events.to_pandas(), assignments.to_pandas(), metrics=("conversion", "revenue", "aov"))
    assert from_pandas.results.equals(from_polars.results)
    assert from_pandas.to_pandas()["pvalue"].tolist() == from_polars.results["pvalue"].to_list()


def test_prob_better_against_independent_posteriors(random_experiment):
    from scipy import integrate

    events, assignments, truth = random_experiment
    res = analyze(events, assignments, metrics=("conversion", "revenue", "aov")).results
    ct, cc = truth["treatment"], truth["control"]
    # conversion: P(p_B > p_A) for Beta(1 + x, 1 + n - x) posteriors, by quadrature
    a = sps.beta(1 + cc[0].sum(), 1 + cc[0].size - cc[0].sum())
    b = sps.beta(1 + ct[0].sum(), 1 + ct[0].size - ct[0].sum())
    ref, _ = integrate.quad(lambda x: b.pdf(x) * a.cdf(x), 0, 1, points=[a.mean(), b.mean()], epsabs=1e-13)
    row = res.filter(pl.col("metric") == "conversion").row(0, named=True)
    assert row["prob_better"] == pytest.approx(ref, abs=1e-7)
    # revenue: flat-prior normal posteriors of the two means
    se = np.sqrt(ct[1].var(ddof=1) / ct[1].size + cc[1].var(ddof=1) / cc[1].size)
    row = res.filter(pl.col("metric") == "revenue").row(0, named=True)
    assert row["prob_better"] == pytest.approx(sps.norm.cdf((ct[1].mean() - cc[1].mean()) / se), rel=1e-9)

    # aov (revenue per order; here one order per buyer): normal posterior of the delta-method ratio
    def ratio_and_var(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        n, mx, my = x.size, x.mean(), y.mean()
        cov = np.cov(x, y, ddof=1)
        var = (cov[0, 0] / my**2 - 2 * mx * cov[0, 1] / my**3 + mx**2 * cov[1, 1] / my**4) / n
        return mx / my, var

    rt, vt = ratio_and_var(ct[1], ct[0])
    rc, vc = ratio_and_var(cc[1], cc[0])
    row = res.filter(pl.col("metric") == "aov").row(0, named=True)
    assert row["effect"] == pytest.approx(rt - rc, rel=1e-9)
    assert row["prob_better"] == pytest.approx(sps.norm.cdf((rt - rc) / np.sqrt(vt + vc)), rel=1e-7)


def _sequential_reference(users: pl.DataFrame, control: str, variant: str) -> tuple[float, int]:
    """Daily looks built the plain way: for each day with assignments, the users assigned before
    the day's end and those of them who bought before it."""
    from shoplens.experiments import SufficientStats, confidence_sequence

    days = sorted({ts.replace(hour=0, minute=0, second=0, microsecond=0) for ts in users["assigned_at"]})
    looks: dict[str, list[SufficientStats]] = {control: [], variant: []}
    for day in days:
        cutoff = day + timedelta(days=1)
        for arm in (control, variant):
            n = conv = 0
            for assigned_at, first_purchase, v in users.select("assigned_at", "first_purchase", "variant").iter_rows():
                if v == arm and assigned_at < cutoff:
                    n += 1
                    conv += first_purchase is not None and first_purchase < cutoff
            looks[arm].append(SufficientStats.from_sums(n, conv, conv))
    keep = [i for i in range(len(days)) if looks[control][i].n > 1 and looks[variant][i].n > 1]
    cs = confidence_sequence([looks[variant][i] for i in keep], [looks[control][i] for i in keep])
    return float(cs.pvalue[-1]), len(keep)


def test_sequential_pvalue_equals_the_plain_daily_looks():
    rng = np.random.default_rng(5)
    n = 600
    assigned = [T0 + timedelta(hours=float(h)) for h in rng.uniform(0, 24 * 6, n)]
    variant = rng.choice(["control", "treatment"], n)
    rows = []
    for uid, (at, v) in enumerate(zip(assigned, variant, strict=True), start=1000):
        minutes = (at - T0).total_seconds() / 60
        rows.append((uid, int(minutes) + 1, "view", None, None, uid))
        if rng.random() < (0.2 if v == "treatment" else 0.1):
            rows.append((uid, int(minutes) + int(rng.integers(1, 3000)), "transaction", uid, 10.0, uid))
    assignments = pl.DataFrame(
        {"experiment": ["s"] * n, "user_id": list(range(1000, 1000 + n)), "variant": variant, "assigned_at": assigned},
        schema_overrides={"assigned_at": pl.Datetime("ms")},
    )
    events = _events(rows)
    res = analyze(events, assignments, metrics=("conversion",))
    users = user_metrics(events, assignments)
    ref_p, ref_looks = _sequential_reference(users, "control", "treatment")
    summary = res.summaries["s"]
    assert summary.looks == ref_looks == 6
    assert summary.sequential_pvalue["treatment"] == pytest.approx(ref_p, rel=1e-12)
    assert res.results["sequential_pvalue"][0] == pytest.approx(ref_p, rel=1e-12)


def test_format_pvalue():
    from shoplens._display import format_pvalue

    assert [format_pvalue(p) for p in (0.0, 3e-7, 9.99e-5, 1e-4, 0.012345, 1.0, float("nan"))] == [
        "< 1e-4", "< 1e-4", "< 1e-4", "0.0001", "0.0123", "1.0000", "nan",
    ]  # fmt: skip


def test_readout_is_short_and_prints_small_pvalues_as_such(generated):
    rng = np.random.default_rng(8)
    n = 4000
    variant = np.where(np.arange(n) % 2 == 0, "control", "treatment")
    rows = []
    for uid, v in enumerate(variant, start=1000):
        rows.append((uid, 1, "view", None, None, uid))
        if rng.random() < (0.3 if v == "treatment" else 0.1):
            rows.append((uid, 2, "transaction", uid, 20.0, uid))
    assignments = pl.DataFrame(
        {
            "experiment": ["big"] * n,
            "user_id": list(range(1000, 1000 + n)),
            "variant": variant,
            "assigned_at": [T0] * n,
        },
        schema_overrides={"assigned_at": pl.Datetime("ms")},
    )
    res = analyze(_events(rows), assignments, metrics=("conversion", "revenue"))
    assert res.results["pvalue"][0] < 1e-4
    text = res.summary()
    assert all(len(line) <= 120 for line in text.splitlines()), max(text.splitlines(), key=len)
    line = next(x for x in text.splitlines() if x.strip().startswith("conversion"))
    assert line.count("< 1e-4") == 2  # p and adjusted p
    assert "big: control 2,000, treatment 2,000; no sample-ratio mismatch" in text and "sequential" in text
    short = repr(res)
    assert short.startswith("ExperimentAnalysis(big: 2 variants, conversion lift +") and "(p adj. < 1e-4)" in short
    page = res._repr_html_()
    assert page.count("<table>") == 1 and "&lt; 1e-4" in page
    # the generated warehouse: every experiment, the SRM one flagged, within 120 columns
    _, wh = generated
    gen = analyze(wh)
    text = gen.summary()
    assert all(len(line) <= 120 for line in text.splitlines())
    assert "SAMPLE-RATIO MISMATCH" in text and "SRM!" in repr(gen) and len(repr(gen)) < 400
    assert "recs_srm" in repr(gen.summaries["recs_srm"])


METRICS_SHOWN = {"conversion", "revenue", "orders", "aov"}


def test_cli_experiment_table_fits_120_columns(generated):
    _, wh = generated
    out = subprocess.run(
        [sys.executable, "-m", "shoplens", "experiment", "--warehouse", str(wh.path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert max(len(line) for line in out.stdout.splitlines()) <= 120
    stored = pl.read_parquet(wh.path / "experiment_results.parquet")
    tiny = stored.filter(pl.col("pvalue") < 1e-4).height
    assert ("< 1e-4" in out.stdout) == (tiny > 0)
    assert stored.height == sum(line.strip().split(" ")[0] in METRICS_SHOWN for line in out.stdout.splitlines())
    bad = subprocess.run(
        [sys.executable, "-m", "shoplens", "experiment", "--warehouse", str(wh.path), "--name", "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    for name in ("checkout_redesign", "homepage_aa", "recs_srm", "'nope'"):
        assert name in bad.stderr


def test_cli_report_json(generated):
    _, wh = generated
    out = subprocess.run(
        [sys.executable, "-m", "shoplens", "report", "--warehouse", str(wh.path), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    figures = {f["name"]: f for f in doc["figures"]}
    events = wh.table("events").filter(~pl.col("is_bot"))
    assert figures["Visitors"]["value"] == events["visitor_id"].n_unique()
    assert doc["report"]["conservation"]["holds"] and len(doc["period"]) == 2


def test_analyze_and_plan_validate_arguments(random_experiment, generated):
    events, assignments, _ = random_experiment
    with pytest.raises(shoplens.InvalidArgumentError, match=r"alpha must be a number strictly between 0 and 1, got 2"):
        analyze(events, assignments, alpha=2)
    with pytest.raises(shoplens.InvalidArgumentError, match=r"correction must be one of .*'holm'.*got 'fdr'"):
        analyze(events, assignments, correction="fdr")  # type: ignore[arg-type]
    with pytest.raises(shoplens.InvalidArgumentError, match=r"experiment must be one of \['x'\], got 'nope'"):
        analyze(events, assignments, experiment="nope")
    with pytest.raises(shoplens.InvalidArgumentError, match="events must be a polars or pandas DataFrame, got list"):
        analyze([1, 2], assignments)
    from shoplens import Candidate, plan

    _, wh = generated
    by_tuple = plan(wh, [("x", 0.1), ("y", 0.2, 500.0)])
    by_class = plan(wh, [Candidate("x", 0.1), Candidate("y", 0.2, cost=500.0)])
    # Two calls sum the baseline in parallel (polars): floats may differ in the last digits.
    assert_frame_equal(by_tuple, by_class, rel_tol=1e-12)
    with pytest.raises(shoplens.InvalidArgumentError, match=r"candidates\[0\] must be a Candidate .* got 'x'"):
        plan(wh, ["x"])  # type: ignore[list-item]
    with pytest.raises(shoplens.InvalidArgumentError, match=r"expected_lift must be a finite number, got '0\.1'"):
        plan(wh, [("x", "0.1")])  # type: ignore[list-item]
    with pytest.raises(shoplens.InvalidArgumentError, match="arms must be an integer >= 2, got 1"):
        plan(wh, [("x", 0.1)], arms=1)
