"""Scale-out benchmarks: `shoplens.spark.build` through a local Spark (`local[2]`) and `shoplens build
--memory-limit` (bounded memory) at large scales. Every figure is a whole process; peak RSS is that
process's own (os.wait4). Results are printed as JSON and, with --write, put into docs/benchmarks.md
between the BENCH:spark markers. Nothing here asserts a time.

    python bench/spark_bench.py --spark-scales 1 5 --limit-scales 1 10 --write
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

SPARK_JOB = """
import json, os, sys, time
os.environ["PYSPARK_PYTHON"] = sys.executable
os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
from pyspark.sql import SparkSession
import shoplens.spark as sls
started = time.perf_counter()
spark = (SparkSession.builder.master("local[2]").appName("shoplens-bench")
         .config("spark.ui.enabled", "false").config("spark.driver.memory", "4g")
         .config("spark.sql.session.timeZone", "UTC").getOrCreate())
ready = time.perf_counter()
report = sls.build(sys.argv[1], out=sys.argv[2], spark=spark, partitions=int(sys.argv[3]))
done = time.perf_counter()
spark.stop()
s = report["spark"]
print(json.dumps({"session_seconds": ready - started, "build_seconds": done - ready,
                  "engine_seconds": sum(s["engine_seconds_per_task"]), "merge_seconds": s["merge_seconds"],
                  "tasks_seconds": s["tasks_seconds"], "tasks": s["tasks"], "rows": report["events"]["rows_read"]}))
"""


def measure(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) of the process itself, and its stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{err[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, out


def generated(work: Path, scale: float) -> Path:
    raw = work / f"raw-{scale:g}"
    if not (raw / "events.csv").is_file():
        subprocess.run([str(BIN / "shoplens"), "generate", "--out", str(raw), "--scale", str(scale)], check=True)
    return raw


def events_of(raw: Path) -> int:
    with (raw / "events.csv").open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b"")) - 1


def spark_runs(work: Path, scales: list[float], partitions: int) -> list[dict[str, float]]:
    rows = []
    for scale in scales:
        raw = generated(work, scale)
        wall, _, out = measure([sys.executable, "-c", SPARK_JOB, str(raw), str(work / "wh-spark"), str(partitions)])
        r = json.loads(out.strip().splitlines()[-1])
        single, single_rss, _ = measure([str(BIN / "shoplens"), "build", "--raw", str(raw), "--out", str(work / "wh")])
        r.update(scale=scale, process_seconds=wall, single_seconds=single, single_rss_mb=single_rss)
        rows.append(r)
        print(json.dumps(r), flush=True)
    return rows


def limit_runs(work: Path, scales: list[float], limit: str) -> list[dict[str, float]]:
    rows = []
    for scale in scales:
        raw = generated(work, scale)
        cmd = [
            str(BIN / "shoplens"),
            "build",
            "--raw",
            str(raw),
            "--out",
            str(work / "wh-limit"),
            "--memory-limit",
            limit,
        ]
        wall, rss, _ = measure(cmd)
        report = json.loads((work / "wh-limit" / "report.json").read_text())
        notes = [n for n in report["notes"] if "visitor partitions" in n]
        parts = int(notes[0].split()[2]) if notes else 1
        r = {
            "scale": scale,
            "rows": report["events"]["rows_read"],
            "events_csv_mb": (raw / "events.csv").stat().st_size / 1e6,
            "partitions": parts,
            "seconds": wall,
            "peak_rss_mb": rss,
            "timings_ms": dict(report["timings_ms"]),
        }
        rows.append(r)
        print(json.dumps(r), flush=True)
    return rows


def markdown(spark: list[dict[str, float]], limited: list[dict[str, float]], limit: str, partitions: int) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; one run each, whole processes.",
        "",
    ]
    if spark:
        lines += [
            f"`shoplens.spark.build` through `local[2]` ({partitions} visitor partitions), beside `shoplens build` "
            "of the same folder. Engine = seconds inside the engine summed over the tasks (two run at a time) "
            "plus the driver's merge; Spark = the rest of the build's wall time (line numbering pass, shuffle, "
            "Arrow hand-over, Python workers, scheduling); session start-up is listed apart.",
            "",
            "| scale | events | Spark session start | Spark build wall | engine in tasks (sum) | merge on driver | "
            "Spark overhead (wall - engine/2 - merge) | `shoplens build` |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in spark:
            overhead = r["build_seconds"] - r["engine_seconds"] / 2 - r["merge_seconds"]
            lines.append(
                f"| {r['scale']:g} | {r['rows']:,} | {r['session_seconds']:.1f} s | {r['build_seconds']:.1f} s | "
                f"{r['engine_seconds']:.1f} s | {r['merge_seconds']:.1f} s | {overhead:.1f} s | "
                f"{r['single_seconds']:.1f} s |"
            )
        if len(spark) >= 2:
            a, b = spark[0], spark[-1]
            slope = (b["build_seconds"] - a["build_seconds"]) / (b["rows"] - a["rows"]) * 1e6
            lines += [
                "",
                f"Slope of the Spark build: **{slope:.2f} s per million events** between scale {a['scale']:g} and "
                f"{b['scale']:g} (ratio of wall times {b['build_seconds'] / a['build_seconds']:.2f} for "
                f"{b['rows'] / a['rows']:.2f} x the events).",
            ]
    if limited:
        lines += [
            "",
            f"`shoplens build --memory-limit {limit}`: peak RSS of the whole process.",
            "",
            "| scale | events | events.csv | partitions | wall time | s per M events | peak RSS |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in limited:
            lines.append(
                f"| {r['scale']:g} | {r['rows']:,} | {r['events_csv_mb']:.0f} MB | {r['partitions']} | "
                f"{r['seconds']:.1f} s | {r['seconds'] / r['rows'] * 1e6:.2f} | {r['peak_rss_mb']:,.0f} MB |"
            )
        for r in limited:
            lines.append("")
            lines.append(
                f"Stages at scale {r['scale']:g} (ms): " + ", ".join(f"{k} {v}" for k, v in r["timings_ms"].items())
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--spark-scales", type=float, nargs="*", default=[1.0, 5.0])
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--limit-scales", type=float, nargs="*", default=[1.0, 10.0])
    ap.add_argument("--memory-limit", default="4GiB")
    ap.add_argument("--work", type=Path, default=None, help="folder for the generated data (default: a temporary one)")
    ap.add_argument("--write", action="store_true", help="write the results into docs/benchmarks.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="shoplens-spark-bench-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        spark = spark_runs(work, args.spark_scales, args.partitions)
        limited = limit_runs(work, args.limit_scales, args.memory_limit)
    text = markdown(spark, limited, args.memory_limit, args.partitions)
    print(text)
    if args.write:
        doc = ROOT / "docs" / "benchmarks.md"
        body = doc.read_text()
        start, end = "<!-- BENCH:spark:start -->", "<!-- BENCH:spark:end -->"
        if start not in body:
            body += f"\n## Scale-out: Spark and bounded-memory builds\n\n{start}\n{end}\n"
        head, rest = body.split(start, 1)
        _, tail = rest.split(end, 1)
        doc.write_text(f"{head}{start}\n{text}\n{end}{tail}")


if __name__ == "__main__":
    main()
