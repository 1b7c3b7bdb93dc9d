"""Statistics benchmarks: batch comparisons from sufficient statistics and the bootstrap.

1. 10,000 metric x segment comparisons from n / sum / sum of squares: shoplens' one batch call
   against scipy (a Python loop and vectorised) and GrowthBook's gbstats (one test object per
   comparison, in a venv of its own because gbstats 0.8 pins numpy 1.26 and pandas 1.5). The
   p-values of all three are compared before any time is reported.
2. Bootstrap CI of the mean of 1,000,000 revenue-like values (mostly 0) with 2,000 resamples:
   shoplens.experiments.bootstrap_ci against scipy.stats.bootstrap, percentile and BCa, each in a
   process of its own so wall time and peak RSS (os.wait4) are that run's alone.

Called from bench/run.py (skip with --skip-stats) or alone: ``python bench/stats_bench.py``.
Benchmarks are never tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GB_VENV = Path.home() / ".cache" / "shoplens-bench-venv"
GB_VERSION = "0.8.0"
ROWS = 10_000
BOOT_N = 1_000_000
BOOT_RESAMPLES = 2_000
# Rows per scipy.stats.bootstrap batch: each batch holds a (batch, n) int64 index array and the
# (batch, n) float64 resamples, 1.6 GB at n = 1e6, well inside 24 GB with the rest of the machine.
SCIPY_BATCH = 100
# scipy's BCa jackknife builds n resamples of n - 1 values (O(n^2)); it is timed at these sizes.
SCIPY_BCA_SIZES = (20_000, 40_000)


# --- part 1: batch comparisons ---------------------------------------------------------------


def comparison_sums(rows: int, seed: int) -> dict[str, np.ndarray]:
    """Per-arm n / sum / sum of squares of realistic metrics: the first half conversion rates
    (1-5 %, 1e3-1e6 users per arm), the second half revenue per user (a 1-5 % purchase rate times
    lognormal order values: mean ~ 1-10, sd ~ 10-100). Treatments move the metric by -5..+5 %.
    """
    rng = np.random.default_rng(seed)
    half = rows // 2
    n_a = np.round(10 ** rng.uniform(3, 6, rows))
    n_b = np.round(n_a * rng.uniform(0.95, 1.05, rows))
    rate = rng.uniform(0.01, 0.05, rows)
    lift = rng.uniform(-0.05, 0.05, rows)
    out: dict[str, np.ndarray] = {"n_a": n_a, "n_b": n_b}
    # Conversions: binomial counts, Σx² = Σx.
    c_a = rng.binomial(n_a[:half].astype(np.int64), rate[:half]).astype(float)
    c_b = rng.binomial(n_b[:half].astype(np.int64), rate[:half] * (1 + lift[:half])).astype(float)
    # Revenue: X = B * L, B ~ Bernoulli(rate), L ~ LogNormal(mu, 1.2); sums drawn from the normal
    # approximation of their sampling distribution (a million-user arm is not simulated user by user).
    mu, sigma = rng.uniform(3.0, 4.0, rows - half), 1.2
    r_rate = rate[half:]
    ex = r_rate * np.exp(mu + sigma**2 / 2)
    ex2 = r_rate * np.exp(2 * mu + 2 * sigma**2)
    var = ex2 - ex**2
    sums = {}
    for arm, n, scale in (("a", n_a[half:], 1.0), ("b", n_b[half:], 1 + lift[half:])):
        mean = rng.normal(ex * scale, np.sqrt(var * scale**2 / n))
        sample_var = var * scale**2 * rng.uniform(0.9, 1.1, len(n))
        sums[arm] = (n * mean, (n - 1) * sample_var + n * mean**2)
    out["sum_a"] = np.concatenate([c_a, sums["a"][0]])
    out["sum_sq_a"] = np.concatenate([c_a, sums["a"][1]])
    out["sum_b"] = np.concatenate([c_b, sums["b"][0]])
    out["sum_sq_b"] = np.concatenate([c_b, sums["b"][1]])
    out["is_proportion"] = np.arange(rows) < half
    return out


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def moments(s: dict[str, np.ndarray], arm: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, total, sq = s[f"n_{arm}"], s[f"sum_{arm}"], s[f"sum_sq_{arm}"]
    mean = total / n
    return mean, np.sqrt((sq - total * mean) / (n - 1)), n


def scipy_loop(s: dict[str, np.ndarray]) -> np.ndarray:
    """Per row, as an analyst's loop would: Welch test and t interval for means, pooled z test and
    Wald interval for proportions (effects treatment minus control)."""
    from scipy import stats

    m_a, sd_a, n_a = moments(s, "a")
    m_b, sd_b, n_b = moments(s, "b")
    pvalues = np.empty(len(n_a))
    for i in range(len(n_a)):
        if s["is_proportion"][i]:
            p_a, p_b = s["sum_a"][i] / n_a[i], s["sum_b"][i] / n_b[i]
            pooled = (s["sum_a"][i] + s["sum_b"][i]) / (n_a[i] + n_b[i])
            z = (p_b - p_a) / np.sqrt(pooled * (1 - pooled) * (1 / n_a[i] + 1 / n_b[i]))
            pvalues[i] = 2 * stats.norm.sf(abs(z))
            se = np.sqrt(p_a * (1 - p_a) / n_a[i] + p_b * (1 - p_b) / n_b[i])
            _ = (p_b - p_a) + np.array([-1, 1]) * stats.norm.ppf(0.975) * se
        else:
            res = stats.ttest_ind_from_stats(m_b[i], sd_b[i], n_b[i], m_a[i], sd_a[i], n_a[i], equal_var=False)
            pvalues[i] = res.pvalue
            va, vb = sd_a[i] ** 2 / n_a[i], sd_b[i] ** 2 / n_b[i]
            df = (va + vb) ** 2 / (va**2 / (n_a[i] - 1) + vb**2 / (n_b[i] - 1))
            _ = (m_b[i] - m_a[i]) + np.array([-1, 1]) * stats.t.ppf(0.975, df) * np.sqrt(va + vb)
    return pvalues


def scipy_vectorised(s: dict[str, np.ndarray]) -> np.ndarray:
    from scipy import stats

    m_a, sd_a, n_a = moments(s, "a")
    m_b, sd_b, n_b = moments(s, "b")
    prop = s["is_proportion"]
    welch = stats.ttest_ind_from_stats(m_b, sd_b, n_b, m_a, sd_a, n_a, equal_var=False)
    va, vb = sd_a**2 / n_a, sd_b**2 / n_b
    df = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    _ = stats.t.ppf(0.975, df) * np.sqrt(va + vb)
    # Whole-array formulas: the proportion formulas also run (and are discarded) on revenue rows.
    with np.errstate(invalid="ignore"):
        p_a, p_b = s["sum_a"] / n_a, s["sum_b"] / n_b
        pooled = (s["sum_a"] + s["sum_b"]) / (n_a + n_b)
        z = (p_b - p_a) / np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
        _ = stats.norm.ppf(0.975) * np.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    return np.where(prop, 2 * stats.norm.sf(np.abs(z)), welch.pvalue)


GBSTATS_SCRIPT = """
import json, sys, time
import numpy as np
from gbstats.models.statistics import SampleMeanStatistic
from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest

s = np.load(sys.argv[1])
config = FrequentistConfig(difference_type="absolute", alpha=0.05)
rows = len(s["n_a"])
pvalues = np.empty(rows)
started = time.perf_counter()
for i in range(rows):
    a = SampleMeanStatistic(n=int(s["n_a"][i]), sum=float(s["sum_a"][i]), sum_squares=float(s["sum_sq_a"][i]))
    b = SampleMeanStatistic(n=int(s["n_b"][i]), sum=float(s["sum_b"][i]), sum_squares=float(s["sum_sq_b"][i]))
    pvalues[i] = TwoSidedTTest(a, b, config).compute_result().p_value
seconds = time.perf_counter() - started
import gbstats, numpy, scipy
np.save(sys.argv[2], pvalues)
print(json.dumps({"seconds": seconds, "numpy": numpy.__version__, "scipy": scipy.__version__}))
"""


def gbstats_python() -> tuple[Path | None, str]:
    """The interpreter of the gbstats venv, created on first use; (None, why) when impossible."""
    python = GB_VENV / "bin" / "python"
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(GB_VENV)], check=True, capture_output=True)
        check = subprocess.run([str(python), "-c", "import gbstats"], capture_output=True)
        if check.returncode != 0:
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", f"gbstats=={GB_VERSION}", "scipy"],
                check=True,
                capture_output=True,
                text=True,
            )
    except subprocess.CalledProcessError as exc:
        return None, f"cannot create the gbstats venv: {exc.stderr or exc}"
    return python, ""


def batch_comparisons(rows: int, repeat: int, work: Path) -> dict[str, Any]:
    import polars as pl

    from shoplens._compare import compare_from_sums

    s = comparison_sums(rows, seed=20261125)
    prop = s["is_proportion"]
    table = pl.DataFrame({k: v for k, v in s.items() if k != "is_proportion"})

    # Same computation as gbstats and scipy's Welch: every row as a Welch t test of means.
    t_welch, welch = best_time(lambda: compare_from_sums(table), repeat)

    # What a user runs: proportions as prop.test, revenue as Welch (two batch calls).
    def mixed() -> np.ndarray:
        p = compare_from_sums(table.filter(pl.Series(prop)), kind="proportion")["pvalue"].to_numpy()
        m = compare_from_sums(table.filter(pl.Series(~prop)), kind="mean")["pvalue"].to_numpy()
        return np.concatenate([p, m])

    t_mixed, mixed_p = best_time(mixed, repeat)
    t_loop, loop_p = best_time(lambda: scipy_loop(s), 1)
    t_vec, vec_p = best_time(lambda: scipy_vectorised(s), repeat)
    welch_p = welch["pvalue"].to_numpy()
    m_a, sd_a, n_a = moments(s, "a")
    m_b, sd_b, n_b = moments(s, "b")
    from scipy import stats

    scipy_welch = stats.ttest_ind_from_stats(m_b, sd_b, n_b, m_a, sd_a, n_a, equal_var=False).pvalue
    res: dict[str, Any] = {
        "rows": rows,
        "proportion_rows": int(prop.sum()),
        "shoplens_welch_s": t_welch,
        "shoplens_mixed_s": t_mixed,
        "scipy_loop_s": t_loop,
        "scipy_vectorised_s": t_vec,
        "maxdiff_welch_shoplens_scipy": float(np.max(np.abs(welch_p - scipy_welch))),
        "maxdiff_mixed_shoplens_scipy_loop": float(np.max(np.abs(np.asarray(mixed_p) - np.asarray(loop_p)))),
        "maxdiff_mixed_shoplens_scipy_vectorised": float(np.max(np.abs(np.asarray(mixed_p) - np.asarray(vec_p)))),
    }
    python, why = gbstats_python()
    if python is None:
        res["gbstats_error"] = why
        return res
    data, out = work / "sums.npz", work / "gbstats_p.npy"
    arrays: dict[str, Any] = {k: v for k, v in s.items() if k != "is_proportion"}
    np.savez(data, **arrays)
    proc = subprocess.run([str(python), "-c", GBSTATS_SCRIPT, str(data), str(out)], capture_output=True, text=True)
    if proc.returncode != 0:
        res["gbstats_error"] = proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"
        return res
    gb = json.loads(proc.stdout.strip().splitlines()[-1])
    gb_p = np.load(out)
    res.update(
        gbstats_version=GB_VERSION,
        gbstats_s=gb["seconds"],
        gbstats_env=f"numpy {gb['numpy']}, scipy {gb['scipy']}",
        maxdiff_welch_shoplens_gbstats=float(np.max(np.abs(welch_p - gb_p))),
        maxdiff_welch_scipy_gbstats=float(np.max(np.abs(scipy_welch - gb_p))),
    )
    return res


# --- part 2: bootstrap -----------------------------------------------------------------------

BOOT_SCRIPT = """
import json, sys, time
import numpy as np
tool, method, data, n, resamples, batch, out = sys.argv[1:8]
x = np.load(data)[: int(n)]
started = time.perf_counter()
if tool == "shoplens":
    from shoplens.experiments import bootstrap_ci
    r = bootstrap_ci(x, n_resamples=int(resamples), method=method, seed=1)
    low, high, se = r.low, r.high, r.standard_error
else:
    from scipy import stats
    r = stats.bootstrap((x,), np.mean, n_resamples=int(resamples), batch=int(batch), vectorized=True,
                        method=method, rng=np.random.default_rng(1))
    low, high, se = r.confidence_interval.low, r.confidence_interval.high, r.standard_error
seconds = time.perf_counter() - started
json.dump({"seconds": seconds, "low": float(low), "high": float(high), "se": float(se)}, open(out, "w"))
"""


def bootstrap_run(tool: str, method: str, data: Path, n: int, resamples: int, work: Path) -> dict[str, Any]:
    out = work / f"{tool}-{method}-{n}.json"
    cmd = [
        sys.executable,
        "-c",
        BOOT_SCRIPT,
        tool,
        method,
        str(data),
        str(n),
        str(resamples),
        str(SCIPY_BATCH),
        str(out),
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"bootstrap run failed: {tool} {method} n={n}\n{err}")
    res = json.loads(out.read_text())
    res.update(process_s=wall, peak_rss_mb=usage.ru_maxrss / 1024, n=n)
    return res


def mc_spread(values: np.ndarray, method: Any, resamples: int, seeds: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of shoplens' CI endpoints over independent seeds: the Monte
    Carlo error against which another implementation's endpoints are judged."""
    from shoplens.experiments import bootstrap_ci

    ends = np.array(
        [
            (r.low, r.high)
            for r in (bootstrap_ci(values, n_resamples=resamples, method=method, seed=100 + k) for k in range(seeds))
        ]
    )
    return ends.mean(axis=0), ends.std(axis=0, ddof=1)


def bootstrap(n: int, resamples: int, work: Path, seeds: int = 10) -> dict[str, Any]:
    rng = np.random.default_rng(7)
    # 3 % of users buy; order values lognormal (median ~ 33): most values are 0.
    values = np.round(rng.lognormal(3.5, 1.2, n) * (rng.random(n) < 0.03), 2)
    data = work / "revenue.npy"
    np.save(data, values)
    runs: list[dict[str, Any]] = []
    agreement: list[dict[str, Any]] = []
    plan = [("percentile", n), ("bca", n)] + [(m, small) for small in SCIPY_BCA_SIZES for m in ("percentile", "bca")]
    for method, size in plan:
        pair = {}
        for tool in ("shoplens", "scipy"):
            if tool == "scipy" and method == "bca" and size == n and n > SCIPY_BCA_SIZES[-1]:
                continue
            # shoplens runs take well under a second, so the machine's other load shows: best of 3.
            tries = [
                bootstrap_run(tool, method, data, size, resamples, work) for _ in range(3 if tool == "shoplens" else 1)
            ]
            r = min(tries, key=lambda t: t["seconds"])
            r.update(tool=tool, method=method)
            runs.append(r)
            pair[tool] = r
        if "scipy" in pair:
            mean, sd = mc_spread(values[:size], method, resamples, seeds)
            scipy_ends = np.array([pair["scipy"]["low"], pair["scipy"]["high"]])
            # The scipy endpoint has its own Monte Carlo error of about the same size.
            z = (scipy_ends - mean) / (sd * np.sqrt(1 + 1 / seeds))
            agreement.append({"method": method, "n": size, "z_low": float(z[0]), "z_high": float(z[1])})
    # scipy's BCa at full size is extrapolated: its resampling part is the measured percentile run
    # (same draws), its jackknife part (BCa minus percentile at the largest small size) grows as n^2.
    small = SCIPY_BCA_SIZES[-1]
    seconds = {(r["tool"], r["method"], r["n"]): float(r["seconds"]) for r in runs}
    jackknife = seconds[("scipy", "bca", small)] - seconds[("scipy", "percentile", small)]
    extrapolated = {
        "quadratic_s": seconds[("scipy", "percentile", n)] + max(jackknife, 0.0) * (n / small) ** 2,
        "linear_s": seconds[("scipy", "bca", small)] * n / small,
        "from_n": small,
    }
    return {"n": n, "resamples": resamples, "runs": runs, "agreement": agreement, "scipy_bca_full": extrapolated}


# --- report ----------------------------------------------------------------------------------


def fmt_s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def markdown(cmp: dict[str, Any], boot: dict[str, Any] | None) -> str:
    rows = int(cmp["rows"])
    per = lambda t: f"{float(t) / rows * 1e6:.2f} µs"  # noqa: E731
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. In-process times are the best of several runs.",
        "",
        f"### {rows:,} comparisons from sufficient statistics",
        "",
        f"{cmp['proportion_rows']:,} conversion rows (1-5 %, 1e3-1e6 users per arm) and "
        f"{rows - int(cmp['proportion_rows']):,} revenue-per-user rows (zero-inflated lognormal), "
        "each giving effect, CI, p-value (and for shoplens also df, lift and lift CI).",
        "",
        "| implementation | what | total | per comparison |",
        "|---|---|---|---|",
        f"| shoplens `compare_from_sums` (1 call) | Welch on every row | {fmt_s(cmp['shoplens_welch_s'])} "
        f"| {per(cmp['shoplens_welch_s'])} |",
        f"| shoplens `compare_from_sums` (2 calls) | prop.test rows + Welch rows | {fmt_s(cmp['shoplens_mixed_s'])} "
        f"| {per(cmp['shoplens_mixed_s'])} |",
        f"| scipy, Python loop | prop z + Welch | {fmt_s(cmp['scipy_loop_s'])} | {per(cmp['scipy_loop_s'])} |",
        f"| scipy, vectorised arrays | prop z + Welch | {fmt_s(cmp['scipy_vectorised_s'])} "
        f"| {per(cmp['scipy_vectorised_s'])} |",
    ]
    if "gbstats_s" in cmp:
        lines.append(
            f"| gbstats {cmp['gbstats_version']} `TwoSidedTTest` (absolute) | Welch on every row "
            f"| {fmt_s(cmp['gbstats_s'])} | {per(cmp['gbstats_s'])} |"
        )
    lines += ["", "Speed-up of the shoplens batch call:", ""]
    sl_w, sl_m = float(cmp["shoplens_welch_s"]), float(cmp["shoplens_mixed_s"])
    if "gbstats_s" in cmp:
        lines.append(f"- vs gbstats (same Welch test): **{float(cmp['gbstats_s']) / sl_w:,.0f} x** (goal >= 100 x)")
    else:
        lines.append(f"- vs gbstats: not measured ({cmp.get('gbstats_error')})")
    lines += [
        f"- vs scipy loop: {float(cmp['scipy_loop_s']) / sl_m:,.0f} x; "
        f"vs scipy vectorised: {float(cmp['scipy_vectorised_s']) / sl_m:,.1f} x",
        "",
        "Agreement (max |p-value difference| over all rows): shoplens vs scipy Welch "
        f"{cmp['maxdiff_welch_shoplens_scipy']:.1e}; shoplens prop.test/Welch vs scipy loop "
        f"{cmp['maxdiff_mixed_shoplens_scipy_loop']:.1e}, vs scipy vectorised "
        f"{cmp['maxdiff_mixed_shoplens_scipy_vectorised']:.1e}"
        + (
            f"; shoplens vs gbstats {cmp['maxdiff_welch_shoplens_gbstats']:.1e}, scipy vs gbstats "
            f"{cmp['maxdiff_welch_scipy_gbstats']:.1e} (gbstats in its own venv: {cmp['gbstats_env']})."
            if "gbstats_s" in cmp
            else "."
        ),
        "gbstats is fed `SampleMeanStatistic` (n, sum, sum of squares) for every row so that all three compute "
        "the same Welch test; its `ProportionStatistic` would use the ddof-0 variance p(1-p) and differ "
        "from the pooled z test by design.",
    ]
    if boot is not None:
        n, b = int(boot["n"]), int(boot["resamples"])
        ext = boot["scipy_bca_full"]
        lines += [
            "",
            f"### Bootstrap: mean of {n:,} revenue values (97 % zeros), {b:,} resamples",
            "",
            "Each run is its own process: time inside the call, peak RSS of the whole process (os.wait4). "
            f"scipy.stats.bootstrap runs with `vectorized=True, batch={SCIPY_BATCH}` (about "
            f"{SCIPY_BATCH * n * 16 / 1e9:.1f} GB of indices and resamples per batch at n = {n:,}). "
            "shoplens draws the zero atom of each resample as one binomial count and splits the other "
            "draws recursively by binomials (exact: the same resampling distribution; see "
            "`src/experiments/bootstrap.rs`), and computes BCa's jackknife of the mean in closed form.",
            "",
            "| tool | method | n | time | peak RSS | CI |",
            "|---|---|---|---|---|---|",
        ]
        for r in boot["runs"]:
            lines.append(
                f"| {r['tool']} | {r['method']} | {r['n']:,} | {fmt_s(r['seconds'])} | {r['peak_rss_mb']:.0f} MB "
                f"| [{r['low']:.4f}, {r['high']:.4f}] |"
            )
        lines += [
            f"| scipy | bca | {n:,} | **extrapolated** ~{fmt_s(ext['quadratic_s'])} | | not run |",
            "",
            f"scipy's BCa at n = {n:,} was not run: its jackknife builds n leave-one-out resamples of n - 1 "
            f"values, O(n^2) work (~{fmt_s(ext['quadratic_s'])} here). Extrapolated time = the measured "
            "percentile run at full size "
            f"(same resampling) + the jackknife time at n = {ext['from_n']:,} (BCa minus percentile) "
            f"x (n / {ext['from_n']:,})^2. A purely linear extrapolation of the BCa time at n = "
            f"{ext['from_n']:,} would give ~{fmt_s(ext['linear_s'])}, an underestimate.",
            "",
            "Agreement of the intervals (different random streams): scipy's endpoint minus the mean of shoplens' "
            "over 10 seeds, in Monte Carlo standard deviations (|z| < 3 is agreement): "
            + "; ".join(
                f"{a['method']} n = {a['n']:,}: {a['z_low']:+.1f} / {a['z_high']:+.1f}" for a in boot["agreement"]
            )
            + ".",
        ]
    return "\n".join(lines)


def run_stats_bench(
    *,
    rows: int = ROWS,
    repeat: int = 5,
    boot_n: int = BOOT_N,
    boot_resamples: int = BOOT_RESAMPLES,
    skip_bootstrap: bool = False,
    write: Callable[[str, str], None] | None = None,
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="shoplens-statbench-") as tmp:
        cmp = batch_comparisons(rows, repeat, Path(tmp))
        print(json.dumps(cmp, indent=2), flush=True)
        boot = None if skip_bootstrap else bootstrap(boot_n, boot_resamples, Path(tmp))
        if boot is not None:
            print(json.dumps(boot, indent=2), flush=True)
    text = markdown(cmp, boot)
    print(text)
    if write is not None:
        write("stats", text)
    return {"comparisons": cmp, "bootstrap": boot}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--boot-n", type=int, default=BOOT_N)
    parser.add_argument("--boot-resamples", type=int, default=BOOT_RESAMPLES)
    parser.add_argument("--skip-bootstrap", action="store_true")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import write_doc

    run_stats_bench(
        rows=args.rows,
        repeat=args.repeat,
        boot_n=args.boot_n,
        boot_resamples=args.boot_resamples,
        skip_bootstrap=args.skip_bootstrap,
        write=None if args.no_doc else write_doc,
    )


if __name__ == "__main__":
    main()
