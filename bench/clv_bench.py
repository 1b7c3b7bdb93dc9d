"""CLV benchmark: BG/NBD and Gamma-Gamma maximum-likelihood fits on CDNOW, shoplens against lifetimes.

lifetimes 0.11.3 runs in a venv of its own (``~/.cache/venv-lifetimes``, created from
``bench/requirements-lifetimes.txt`` when missing). Both fit the same published CDNOW summaries
(``../shared/data/cdnow``); the parameters of both are printed beside the times. Each fit is timed
``--repeat`` times in a warm process (median reported). Also times a shoplens fit of 1,000,000 simulated
customers. Called from bench/run.py (skip with --skip-clv) or alone: ``python bench/clv_bench.py``.
Benchmarks are never tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CDNOW = ROOT.parent / "shared" / "data" / "cdnow"
VENV = Path.home() / ".cache" / "venv-lifetimes"

LIFETIMES_SCRIPT = r"""
import json, statistics, sys, time
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
cdnow, repeat = sys.argv[1], int(sys.argv[2])
s = pd.read_csv(cdnow + "/cdnow_customers_summary.csv")
m = pd.read_csv(cdnow + "/cdnow_customers_summary_with_transactions.csv")
m = m[m["x"] > 0]
out = {}
times = []
for _ in range(repeat):
    t = time.perf_counter()
    bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    times.append(time.perf_counter() - t)
out["bgnbd"] = {"times": times, "params": {k: float(v) for k, v in bg.params_.items()},
                "log_likelihood": float(-bg._negative_log_likelihood_ * len(s))}
times = []
for _ in range(repeat):
    t = time.perf_counter()
    gg = GammaGammaFitter().fit(m["x"], m["zbar"])
    times.append(time.perf_counter() - t)
out["gamma_gamma"] = {"times": times, "params": {k: float(v) for k, v in gg.params_.items()}}
import lifetimes
out["version"] = lifetimes.__version__
print(json.dumps(out))
"""


def lifetimes_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(ROOT / "bench" / "requirements-lifetimes.txt")],
            check=True,
        )
    return python


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return times, result


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def run_clv_bench(repeat: int = 5, write: Callable[[str, str], None] | None = None) -> dict[str, Any]:
    import polars as pl

    from shoplens import clv

    s = pl.read_csv(CDNOW / "cdnow_customers_summary.csv")
    m = pl.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")
    x, tx, T = (s[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    mx, mz = m["x"].to_numpy().astype(float), m["zbar"].to_numpy()
    clv.fit_bgnbd(x, tx, T)  # warm-up (thread pool)
    bg_times, bg = timed(lambda: clv.fit_bgnbd(x, tx, T), repeat)
    gg_times, gg = timed(lambda: clv.fit_gamma_gamma(mx, mz), repeat)
    truth = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    sim = clv.simulate_bgnbd(1_000_000, **truth, T=(27.0, 39.0), seed=5)
    big_times, big = timed(lambda: clv.fit_bgnbd(*sim), max(1, repeat // 2))
    proc = subprocess.run(
        [str(lifetimes_python()), "-c", LIFETIMES_SCRIPT, str(CDNOW), str(repeat)],
        check=True,
        capture_output=True,
        text=True,
    )
    ref = json.loads(proc.stdout.strip().splitlines()[-1])
    res = {
        "shoplens": {
            "bgnbd_s": statistics.median(bg_times),
            "gamma_gamma_s": statistics.median(gg_times),
            "bgnbd": [bg.r, bg.alpha, bg.a, bg.b, bg.log_likelihood],
            "gamma_gamma": [gg.p, gg.q, gg.v],
            "sim_1m_s": statistics.median(big_times),
            "sim_1m_fit": [big.r, big.alpha, big.a, big.b],
        },
        "lifetimes": {
            "version": ref["version"],
            "bgnbd_s": statistics.median(ref["bgnbd"]["times"]),
            "gamma_gamma_s": statistics.median(ref["gamma_gamma"]["times"]),
            "bgnbd": [ref["bgnbd"]["params"][k] for k in ("r", "alpha", "a", "b")] + [ref["bgnbd"]["log_likelihood"]],
            "gamma_gamma": [ref["gamma_gamma"]["params"][k] for k in ("p", "q", "v")],
        },
        "repeat": repeat,
    }
    sh, lt = res["shoplens"], res["lifetimes"]
    bg_ratio = lt["bgnbd_s"] / sh["bgnbd_s"]
    gg_ratio = lt["gamma_gamma_s"] / sh["gamma_gamma_s"]
    total_ratio = (lt["bgnbd_s"] + lt["gamma_gamma_s"]) / (sh["bgnbd_s"] + sh["gamma_gamma_s"])
    p4 = ", ".join
    lines = [
        "### CLV fits on CDNOW: shoplens vs lifetimes",
        "",
        f"`python bench/clv_bench.py` (median of {repeat} fits in a warm process; lifetimes {lt['version']} in "
        "its own venv, `bench/requirements-lifetimes.txt`). Same input: the published CDNOW summaries "
        "(2,357 customers; 946 with repeat purchases for Gamma-Gamma).",
        "",
        "| model | shoplens | lifetimes | speed-up |",
        "|---|---|---|---|",
        f"| BG/NBD | {fmt(sh['bgnbd_s'])} | {fmt(lt['bgnbd_s'])} | **{bg_ratio:,.0f} x** |",
        f"| Gamma-Gamma | {fmt(sh['gamma_gamma_s'])} | {fmt(lt['gamma_gamma_s'])} | **{gg_ratio:,.0f} x** |",
        f"| both | {fmt(sh['bgnbd_s'] + sh['gamma_gamma_s'])} | {fmt(lt['bgnbd_s'] + lt['gamma_gamma_s'])} "
        f"| **{total_ratio:,.0f} x** (goal >= 20 x) |",
        "",
        "Parameters (published: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4; "
        "p = 6.25, q = 3.74, v = 15.44):",
        "",
        f"- shoplens BG/NBD r, alpha, a, b, LL = {p4(f'{v:.4f}' for v in sh['bgnbd'])}; "
        f"Gamma-Gamma p, q, v = {p4(f'{v:.4f}' for v in sh['gamma_gamma'])}",
        f"- lifetimes BG/NBD r, alpha, a, b, LL = {p4(f'{v:.4f}' for v in lt['bgnbd'])}; "
        f"Gamma-Gamma p, q, v = {p4(f'{v:.4f}' for v in lt['gamma_gamma'])}",
        "",
        f"BG/NBD on 1,000,000 simulated customers (truth 0.243, 4.414, 0.793, 2.426): "
        f"{fmt(sh['sim_1m_s'])}, estimates {p4(f'{v:.3f}' for v in sh['sim_1m_fit'])}.",
    ]
    text = "\n".join(lines)
    print(json.dumps(res, indent=2))
    print(text)
    if write is not None:
        write("clv", text)
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    write = None
    if not args.no_doc:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from run import write_doc

        write = write_doc
    run_clv_bench(args.repeat, write)


if __name__ == "__main__":
    main()
