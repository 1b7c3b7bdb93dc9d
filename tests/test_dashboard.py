"""The dashboard's callbacks and data layer as plain functions, against independent references: scipy and
statsmodels for the statistics, pyarrow for the warehouse files, the textbook sample-size formula."""

from __future__ import annotations

import json
import math
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
import pyarrow.parquet as pq
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from dash_support import load_dash_package
from shoplens import stats
from shoplens.experiments import analyze


@pytest.fixture(scope="module")
def dash_pkg():
    return load_dash_package()


@pytest.fixture(scope="module")
def source(small_warehouse: Path, dash_pkg):
    from shoplens_dash.data import DataSource  # type: ignore[import-not-found]

    return DataSource(small_warehouse)


def _has_data(fig: go.Figure) -> bool:
    return any(len(getattr(t, "x", None) or getattr(t, "y", None) or []) > 0 for t in fig.data)


# --- planner -----------------------------------------------------------------------------------------


def test_calculator_equals_shoplens_stats_and_the_textbook_formula(source) -> None:
    from shoplens_dash.pages import planner  # type: ignore[import-not-found]

    p1, lift, power, alpha = 0.031, 0.12, 0.8, 0.05
    n_body, days_body, fig, rows, _ = planner.calculate(source, p1, lift, power, alpha, 1.0, "light")
    p2 = p1 * (1 + lift)
    expected = stats.samplesize_proportions_2indep(p1, p2, power=power, alpha=alpha)
    shown = n_body.children[1].children
    assert shown == f"{expected:,.2f}"
    # Independent: the closed form of R's power.prop.test (strict = FALSE) solved for n.
    za, zb = sps.norm.ppf(1 - alpha / 2), sps.norm.ppf(power)
    pbar = (p1 + p2) / 2
    textbook = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / (
        p2 - p1
    ) ** 2
    assert expected == pytest.approx(textbook, rel=1e-6)
    base = source.baseline()
    days = math.ceil(2 * math.ceil(expected) / base.daily_visitors)
    assert days_body.children[1].children == f"{days:,}"
    assert _has_data(fig)
    assert rows[0]["n_per_arm"] == f"{math.ceil(expected):,d}"


def test_calculator_power_curve_is_r_power_prop_test(source) -> None:
    curve = source.power_curve(0.05, 0.06, alpha=0.05, n_max=20_000, points=5)
    assert curve["n_per_arm"].to_list() == [4000.0, 8000.0, 12000.0, 16000.0, 20000.0]
    za = sps.norm.ppf(0.975)
    for n, power in curve.iter_rows():
        # R's power.prop.test (strict = FALSE): pnorm((sqrt(n)|p1-p2| - z s0) / s1), pooled s0.
        s0 = math.sqrt((0.05 + 0.06) * (0.95 + 0.94) / 2)
        s1 = math.sqrt(0.05 * 0.95 + 0.06 * 0.94)
        ref = sps.norm.cdf((math.sqrt(n) * 0.01 - za * s0) / s1)
        assert power == pytest.approx(ref, rel=1e-9)


def test_calculator_bad_input_gives_a_message_not_an_error(source) -> None:
    from shoplens_dash.pages import planner  # type: ignore[import-not-found]

    _, _, fig, rows, _ = planner.calculate(source, 0.5, 1.5, 0.8, 0.05, 1.0, "dark")  # p2 = 1.25
    assert rows == [] and not _has_data(fig)
    assert fig.layout.annotations and fig.layout.template.layout.paper_bgcolor == "#212529"
    _, _, fig, rows, _ = planner.calculate(source, None, 0.1, 0.8, 0.05, 1.0, "light")
    assert rows == [] and "enter numbers" in fig.layout.annotations[0].text


def test_baseline_is_measured_from_the_events(source, small_warehouse: Path) -> None:
    ev = pq.read_table(small_warehouse / "events.parquet").to_pandas()
    human = ev[~ev["is_bot"]]
    visitors = human["visitor_id"].nunique()
    buyers = human.loc[human["event"] == "transaction", "visitor_id"].nunique()
    base = source.baseline()
    assert (base.visitors, base.buyers) == (visitors, buyers)
    assert base.conversion == pytest.approx(buyers / visitors)


# --- experiments -------------------------------------------------------------------------------------


def test_experiment_results_are_the_analysis_and_srm_matches_scipy(source, small_warehouse: Path) -> None:
    from shoplens_dash.pages import experiments  # type: ignore[import-not-found]

    listing = source.experiments()
    assert listing.height >= 1
    name = listing["experiment"][0]
    _summary, rows, _cols, seq, eff, bayes = experiments.update(source, name, "light")
    reference = analyze(small_warehouse_open(small_warehouse), experiment=name).results
    assert len(rows) == reference.height
    assert [r["metric"] for r in rows] == reference["metric"].to_list()
    assert [r["pvalue"] for r in rows] == [format(p, ".3g") for p in reference["pvalue"]]
    # SRM against scipy's chi-square goodness of fit on the assignment counts.
    asg = pq.read_table(small_warehouse / "assignments.parquet").to_pandas()
    counts = asg[asg["experiment"] == name].groupby("variant").size().sort_index()
    s = source.experiment_summary(name)
    weights = [s.planned_weights[v] for v in counts.index]
    expected = [sum(counts) * w / sum(weights) for w in weights]
    assert s.srm.pvalue == pytest.approx(sps.chisquare(counts.to_numpy(), expected).pvalue, rel=1e-9)
    assert _has_data(seq) and _has_data(eff) and _has_data(bayes)


def small_warehouse_open(path: Path):
    import shoplens

    return shoplens.open_warehouse(path)


def test_sequential_chart_ends_at_the_analysis_pvalue(source) -> None:
    for name in source.experiments()["experiment"]:
        seq = source.experiment_sequential(name)
        s = source.experiment_summary(name)
        for variant, p in s.sequential_pvalue.items():
            part = seq.filter(pl.col("variant") == variant)
            if math.isnan(p):
                assert part.height == 0
                continue
            assert part.height == s.looks
            assert part["pvalue"][-1] == pytest.approx(p, rel=1e-12)
            assert (part["pvalue"].diff().drop_nulls() <= 1e-15).all()  # always-valid p never increases


def test_bayes_view_matches_a_beta_posterior_from_scipy(source, small_warehouse: Path) -> None:
    name = source.experiments()["experiment"][0]
    bayes = source.experiment_bayes(name)
    for row in bayes.iter_rows(named=True):
        a, b = 1 + row["buyers"], 1 + row["users"] - row["buyers"]
        assert row["posterior_mean"] == pytest.approx(a / (a + b), rel=1e-12)
        assert row["ci_low"] == pytest.approx(sps.beta.ppf(0.025, a, b), rel=1e-6)
        assert row["ci_high"] == pytest.approx(sps.beta.ppf(0.975, a, b), rel=1e-6)


# --- simulator -----------------------------------------------------------------------------------------


def test_simulator_rates_and_wilson_intervals(source) -> None:
    from shoplens_dash.pages import simulator  # type: ignore[import-not-found]

    fig, rows, _ = simulator.run(source, "aa", 0.1, 0.0, 500, 400, 0.05, 11, "light")
    assert _has_data(fig) and {r["test"] for r in rows} >= {"z", "chi2"}
    rates = source.simulate(mode="aa", baseline=0.1, lift=0.0, n=500, runs=400, alpha=0.05, seed=11)
    for r in rates.iter_rows(named=True):
        assert r["rate"] == r["rejections"] / r["runs"]
        lo, hi = proportion_confint(r["rejections"], r["runs"], alpha=0.05, method="wilson")
        assert (r["ci_low"], r["ci_high"]) == pytest.approx((lo, hi), rel=1e-9, abs=1e-12)
    again = source.simulate(mode="aa", baseline=0.1, lift=0.0, n=500, runs=400, alpha=0.05, seed=11)
    assert again.equals(rates)  # seeded


def test_simulator_refuses_unbounded_work(source) -> None:
    from shoplens_dash.pages import simulator  # type: ignore[import-not-found]

    fig, rows, _ = simulator.run(source, "power", 0.1, 0.1, 10, 10**9, 0.05, 1, "light")
    assert rows == [] and "runs" in fig.layout.annotations[0].text


# --- data quality ----------------------------------------------------------------------------------------


def test_quality_counts_match_the_files(source, small_warehouse: Path) -> None:
    quarantine = pq.read_table(small_warehouse / "quarantine.parquet").to_pandas()
    by_rule = source.quarantine_by_rule()
    assert dict(zip(by_rule["rule"], by_rule["rows"], strict=True)) == quarantine["rule"].value_counts().to_dict()
    cons = source.conservation()
    for row in cons.iter_rows(named=True):
        assert row["rows_read"] == row["kept"] + row["quarantined"] + row["duplicates_removed"]
    total = cons.filter(pl.col("source") == "all files").row(0, named=True)
    assert total["quarantined"] == len(quarantine)
    assert total["duplicates_removed"] == pq.read_metadata(small_warehouse / "duplicates.parquet").num_rows
    report = json.loads((small_warehouse / "report.json").read_text())
    assert total["rows_read"] == report["conservation"]["rows_read"]


def test_quarantine_pages_and_rule_filter(source, small_warehouse: Path) -> None:
    from shoplens_dash.pages import quality  # type: ignore[import-not-found]

    quarantine = pq.read_table(small_warehouse / "quarantine.parquet").to_pandas()
    rule = quarantine["rule"].value_counts().index[0]
    rows, _cols, pages = quality.quarantine(source, 0, rule)
    n = int((quarantine["rule"] == rule).sum())
    assert pages == max(1, math.ceil(n / quality.PAGE_SIZE))
    assert len(rows) == min(n, quality.PAGE_SIZE) and all(r["rule"] == rule for r in rows)
    assert [r["line"] for r in rows] == quarantine.loc[quarantine["rule"] == rule, "line"].head(len(rows)).tolist()
    rows, _, _ = quality.quarantine(source, 0, "no_such_rule")
    assert rows == []
    files, rules = quality.charts(source, "dark")
    assert _has_data(files) and _has_data(rules)


def test_methodology_page_is_the_docs_file(source, dash_pkg) -> None:
    from shoplens_dash.pages import methodology  # type: ignore[import-not-found]

    text = (Path(__file__).resolve().parents[1] / "docs" / "methodology.md").read_text(encoding="utf-8")
    assert methodology.layout(source).children.children == text


def test_every_page_lays_out(source, dash_pkg) -> None:
    app_module = __import__("shoplens_dash.app", fromlist=["PAGES"])
    for page in app_module.PAGES:
        assert page.layout(source) is not None
