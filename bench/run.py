"""`make bench`: wall time, throughput and peak memory of whole shoplens processes, against the I/O floor.

Each measured command runs as its own process (as a user runs it); peak RSS is that process's own
(os.wait4). Results are printed and written into docs/benchmarks.md between the BENCH markers.
Benchmarks are never tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FLOOR = """
import pathlib, sys, polars as pl
d = sys.argv[1]
for f in sorted(p.name for p in pathlib.Path(d).glob("*.csv")):
    # The injected malformed rows would stop a typed read: skip them, as a bare reader would.
    pl.read_csv(f"{d}/{f}", ignore_errors=True, truncate_ragged_lines=True)
"""


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float


def measure(cmd: list[str]) -> Run:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{err}")
    return Run(seconds, usage.ru_maxrss / 1024)


def best_of(cmd: list[str], repeat: int) -> tuple[Run, list[float]]:
    runs = [measure(cmd) for _ in range(repeat)]
    return min(runs, key=lambda r: r.seconds), [r.seconds for r in runs]


def pipeline(scale: float, repeat: int, work: Path) -> dict[str, object]:
    raw = work / "raw"
    out = work / "warehouse"
    shoplens = str(BIN / "shoplens")
    gen, gen_all = best_of([shoplens, "generate", "--out", str(raw), "--scale", str(scale)], repeat)
    events = sum(1 for _ in (raw / "events.csv").open("rb")) - 1
    raw_bytes = sum(p.stat().st_size for p in raw.glob("*.csv"))
    # Floor, build and the same job in Python tools (bench/build_alternatives.py) alternate, one whole process
    # each per round, so that a slow spell of the machine weighs on all of them alike.
    floor_cmd = [sys.executable, "-c", FLOOR, str(raw)]
    build_cmd = [shoplens, "build", "--raw", str(raw), "--out", str(out)]
    # Each Python tool runs two jobs: the same clean as the build (bench/same_clean_*.py: every rule, quarantine,
    # duplicates, item properties, as-of categories, experiments; checked equal to the build's tables by
    # tests/test_same_clean.py) and the reduced job of sessions 3-11 (bench/build_alternatives.py), kept unchanged
    # so that its ratios stay comparable with the earlier runs in docs/benchmarks.md.
    bench = ROOT / "bench"
    alt_cmds = {}
    for e in ("polars", "pandas", "duckdb"):
        alt_cmds[f"{e}, same clean"] = [sys.executable, str(bench / f"same_clean_{e}.py"), str(raw), str(work / e)]
        reduced = [sys.executable, str(bench / "build_alternatives.py"), e, str(raw), str(work / f"{e}-reduced")]
        alt_cmds[f"{e}, reduced"] = reduced
    pairs = []
    alt_runs: dict[str, list[Run]] = {name: [] for name in alt_cmds}
    for _ in range(repeat):
        pairs.append((measure(floor_cmd), measure(build_cmd)))
        for name, cmd in alt_cmds.items():
            alt_runs[name].append(measure(cmd))
    floor = min((f for f, _ in pairs), key=lambda r: r.seconds)
    build = min((b for _, b in pairs), key=lambda r: r.seconds)
    floor_all = [f.seconds for f, _ in pairs]
    build_all = [b.seconds for _, b in pairs]
    pair_ratios = sorted(b.seconds / f.seconds for f, b in pairs)
    report = json.loads((out / "report.json").read_text())
    alternatives = {}
    for e, runs in alt_runs.items():
        best = min(runs, key=lambda r: r.seconds)
        alternatives[e] = {
            "s": round(best.seconds, 3),
            "peak_mb": round(best.peak_rss_mb),
            "max_peak_mb": round(max(r.peak_rss_mb for r in runs)),
            "all_s": [round(r.seconds, 3) for r in runs],
        }
    return {
        "alternatives": alternatives,
        "scale": scale,
        "events_rows": events,
        "raw_mb": round(raw_bytes / 1e6, 1),
        "generate_s": round(gen.seconds, 3),
        "generate_peak_mb": round(gen.peak_rss_mb),
        "generate_rows_per_s": round(events / gen.seconds),
        "floor_s": round(floor.seconds, 3),
        "floor_peak_mb": round(floor.peak_rss_mb),
        "build_s": round(build.seconds, 3),
        "build_peak_mb": round(build.peak_rss_mb),
        "build_max_peak_mb": round(max(b.peak_rss_mb for _, b in pairs)),
        "build_rows_per_s": round(events / build.seconds),
        "build_over_floor": round(build.seconds / floor.seconds, 2),
        "build_over_floor_median_pair": round(statistics.median(pair_ratios), 2),
        "build_stage_ms": dict(report["timings_ms"]),
        "build_tables": len(list(out.glob("*.parquet"))),
        "all_runs_s": {"generate": gen_all, "floor": floor_all, "build": build_all},
    }


def machine_state() -> str:
    """Load average and whether compilers (rustc) are running: the conditions of a measurement."""
    rustc = subprocess.run(["pgrep", "-c", "rustc"], capture_output=True, text=True, check=False).stdout.strip()
    return f"load average {os.getloadavg()[0]:.2f}, {rustc or 0} rustc processes"


def markdown(res: dict[str, object]) -> str:
    build_median = statistics.median(res["all_runs_s"]["build"])  # type: ignore[index]
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; best of {res['repeat']} runs, each a whole process.",
        "",
        f"Scale {res['scale']}: {res['events_rows']:,} event rows, {res['raw_mb']} MB of CSV.",
        "",
        "| step | wall time | rows/s | peak RSS |",
        "|---|---|---|---|",
        f"| `shoplens generate` | {res['generate_s']} s | {res['generate_rows_per_s']:,} "
        f"| {res['generate_peak_mb']} MB |",
        f"| `shoplens build` | {res['build_s']} s | {res['build_rows_per_s']:,} | {res['build_peak_mb']} MB |",
        f"| I/O floor: `polars.read_csv` of the same files | {res['floor_s']} s | | {res['floor_peak_mb']} MB |",
        "",
        f"**build / floor = {res['build_over_floor']} x** (best build over best floor; the median of the "
        f"{res['repeat']} back-to-back floor/build pairs is {res['build_over_floor_median_pair']} x; "
        "goal at most 3 x; peak RSS goal < 1,536 MB).",
        "",
        "Beside the same job written in Python tools, whole processes alternating with the build run by run; best "
        "of the runs and median of the runs, the spread is min-max of all runs (the first round's build, on a "
        "machine that has not yet run a large process, is often the fastest by far, so read the medians too). "
        "*same clean*: `bench/same_clean_{polars,pandas,duckdb}.py` "
        "clean as the build does (every validation rule and the quarantine with line and raw text, exact and "
        "near-duplicates, item properties and as-of categories with their roots, prices, bots by count and by "
        "rate, sessions, experiment assignments; `tests/test_same_clean.py` checks that their clean tables equal "
        "the build's), then write nine tables (events, sessions, visitors, kpi_daily, kpi_weekly, "
        "kpi_hour_weekday, funnel, products, cohort_retention) plus categories, quarantine, duplicates and "
        "assignments. *reduced*: `bench/build_alternatives.py`, the job of sessions 3-11 (no as-of categories, "
        "properties, near-duplicates, quarantine or experiments; the same nine tables). `shoplens build` writes "
        f"{res['build_tables']} tables (clean tables, every KPI table, cohorts, customers with BG/NBD and "
        "Gamma-Gamma fits).",
        "",
        "| job | best | median | spread | shoplens build faster by (best / best; median / median) "
        "| peak RSS (best run; max) |",
        "|---|---|---|---|---|---|",
        *[
            f"| {name} | {alt['s']} s | {statistics.median(alt['all_s']):.3f} s "  # type: ignore[index,arg-type]
            f"| {min(alt['all_s']):.2f}-{max(alt['all_s']):.2f} s "  # type: ignore[index]
            f"| {alt['s'] / res['build_s']:.1f} x; "  # type: ignore[index,operator]
            f"{statistics.median(alt['all_s']) / build_median:.1f} x "  # type: ignore[index,arg-type]
            f"| {alt['peak_mb']} MB; {alt['max_peak_mb']} MB |"  # type: ignore[index]
            for name, alt in dict(res["alternatives"]).items()  # type: ignore[arg-type]
        ],
        f"| shoplens build | {res['build_s']} s | {build_median:.3f} s | {min(res['all_runs_s']['build']):.2f}-"  # type: ignore[index]
        f"{max(res['all_runs_s']['build']):.2f} s | 1.0 x | {res['build_peak_mb']} MB; "  # type: ignore[index]
        f"{res['build_max_peak_mb']} MB |",
        "",
        f"Conditions: {res['conditions']}",
        "",
        "Build stages (ms, from report.json): " + ", ".join(f"{k} {v}" for k, v in dict(res["build_stage_ms"]).items()),  # type: ignore[arg-type]
    ]
    return "\n".join(lines)


def write_doc(section: str, body: str) -> None:
    doc = ROOT / "docs" / "benchmarks.md"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    start, end = f"<!-- BENCH:{section}:start -->", f"<!-- BENCH:{section}:end -->"
    block = f"{start}\n{body}\n{end}"
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + f"\n\n{block}\n"
    doc.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument(
        "--skip-stats", action="store_true", help="skip the statistics benchmarks (bench/stats_bench.py)"
    )
    parser.add_argument(
        "--skip-kpis", action="store_true", help="skip the interactive KPI benchmark (bench/kpis_bench.py)"
    )
    parser.add_argument("--skip-clv", action="store_true", help="skip the CLV benchmark (bench/clv_bench.py)")
    parser.add_argument(
        "--conditions",
        default="",
        help="what else ran on the machine during the measurement (written beside the results, with the load "
        "average and the number of compiler processes seen at the start and at the end)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shoplens-bench-") as tmp:
        before = machine_state()
        res = pipeline(args.scale, args.repeat, Path(tmp))
        res["repeat"] = args.repeat
        res["conditions"] = f"{args.conditions + '; ' if args.conditions else ''}at the start {before}; at the end " + (
            machine_state()
        )
        print(json.dumps(res, indent=2))
        text = markdown(res)
        print(text)
        if not args.no_doc:
            write_doc("pipeline", text)
        print(f"median build {statistics.median(res['all_runs_s']['build']):.3f} s")  # type: ignore[index]
        if not args.skip_kpis:
            from kpis_bench import run_kpis_bench

            # the interactive queries run on the warehouse the last build wrote
            run_kpis_bench(
                scale=args.scale, write=None if args.no_doc else write_doc, warehouse=Path(tmp) / "warehouse"
            )
    if not args.skip_stats:
        from stats_bench import run_stats_bench

        run_stats_bench(write=None if args.no_doc else write_doc)
    if not args.skip_clv:
        from clv_bench import run_clv_bench

        run_clv_bench(write=None if args.no_doc else write_doc)


if __name__ == "__main__":
    main()
