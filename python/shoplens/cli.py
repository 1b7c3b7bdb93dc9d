"""The ``shoplens`` command line (also ``python -m shoplens``).

Exit status: 0 on success, 2 on bad usage or bad input (one line on stderr naming file, line and rule),
1 on an internal failure.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shoplens",
        description="E-commerce analytics and A/B testing: clean clickstreams, honest KPIs, experiments.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = sub.add_parser("generate", help="write a RetailRocket-format data set with known injected effects")
    gen.add_argument("--out", required=True, type=Path, help="output folder")
    gen.add_argument("--scale", type=float, default=1.0, help="1.0 = the size of RetailRocket (default)")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--no-anomalies", action="store_true", help="no bots, duplicates, bad rows, outage or SRM")

    build = sub.add_parser("build", help="validate and clean a raw folder into a Parquet warehouse")
    build.add_argument("--raw", required=True, type=Path, help="RetailRocket-format folder")
    build.add_argument("--out", required=True, type=Path, help="warehouse folder (replaced when complete)")
    build.add_argument("--session-timeout", type=float, default=30.0, metavar="MIN", help="minutes (default 30)")
    build.add_argument(
        "--strict",
        action="store_true",
        help="fail on the first invalid row instead of quarantining",
    )
    build.add_argument("--price-property", default=None, help="item property holding prices (default: prices.csv)")

    report = sub.add_parser("report", help="headline KPIs and the validation summary of a warehouse")
    report.add_argument("--warehouse", required=True, type=Path)

    exp = sub.add_parser("experiment", help="experiment results table (also stored in the warehouse)")
    exp.add_argument("--warehouse", required=True, type=Path)
    exp.add_argument("--name", default=None, help="only this experiment")
    exp.add_argument("--correction", choices=["holm", "bonferroni", "bh"], default="holm")
    exp.add_argument("--alpha", type=float, default=0.05)

    # --- serve (dashboard) ---
    serve = sub.add_parser("serve", help="the dashboard, behind a login, under gunicorn (needs shoplens[dashboard])")
    source = serve.add_mutually_exclusive_group(required=True)
    source.add_argument("--warehouse", type=Path, help="Parquet warehouse folder")
    source.add_argument("--database-url", default=None, help="PostgreSQL URL")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8050)
    serve.add_argument("--workers", type=int, default=1, help="gunicorn worker processes (default 1)")
    serve.add_argument("--threads", type=int, default=8, help="threads per worker (default 8)")
    serve.add_argument("--users-file", type=Path, default=None, help="default: WAREHOUSE.users.sqlite beside it")
    serve.add_argument("--log-file", type=Path, default=None, help="JSON lines; default: WAREHOUSE.dashboard.log")
    serve.add_argument("--rate-limit", default="600 per minute", help="per signed-in user, callbacks included")
    serve.add_argument("--login-rate-limit", default="30 per minute", help="sign-in attempts per address")
    serve.add_argument("--behind-tls-proxy", action="store_true",
                       help="trust one reverse proxy's X-Forwarded-* headers and mark cookies Secure")  # fmt: skip
    return parser


def _version() -> str:
    from shoplens._native import __version__

    return str(__version__)


def _progress() -> bool:
    return sys.stderr.isatty()


def _generate(args: argparse.Namespace) -> None:
    from shoplens import generate

    started = time.perf_counter()
    result = generate(
        args.out,
        scale=args.scale,
        seed=args.seed,
        inject_anomalies=not args.no_anomalies,
        progress=_progress(),
    )
    rows = ", ".join(f"{name} {count:,}" for name, count in sorted(result.rows.items()))
    print(f"wrote {result.out_dir} in {time.perf_counter() - started:.2f} s: {rows}")


def _build(args: argparse.Namespace) -> None:
    from shoplens._build import build_retailrocket
    from shoplens._config import CleanConfig
    from shoplens.errors import MissingFileError

    config = CleanConfig(
        session_timeout_s=args.session_timeout * 60,
        strict=args.strict,
        price_property=args.price_property,
    )
    started = time.perf_counter()
    if not args.raw.is_dir():
        raise MissingFileError(f"{args.raw}: no such folder", file=str(args.raw), line=0, rule="missing_file")
    report = build_retailrocket(args.raw, args.out, config, progress=_progress())
    ev = report["events"]
    cons = report["conservation"]
    print(
        f"built {args.out} in {time.perf_counter() - started:.2f} s: {ev['kept']:,} events kept of "
        f"{ev['rows_read']:,} read ({ev['quarantined']:,} quarantined, {ev['duplicates_removed']:,} exact "
        f"duplicates), {ev['sessions']:,} sessions, {ev['visitors']:,} visitors; all files: "
        f"{cons['rows_read']:,} rows read = {cons['kept']:,} kept + {cons['quarantined']:,} quarantined + "
        f"{cons['duplicates_removed']:,} duplicates"
    )


def _report(args: argparse.Namespace) -> None:
    from shoplens import open_warehouse
    from shoplens.summary import headline, render

    print(render(headline(open_warehouse(args.warehouse))))


def _experiment(args: argparse.Namespace) -> None:
    import polars as pl

    from shoplens import open_warehouse
    from shoplens.experiments import analyze

    wh = open_warehouse(args.warehouse)
    res = analyze(wh, experiment=args.name, correction=args.correction, alpha=args.alpha)
    if args.name is None:
        # The stored table always holds every experiment.
        res.results.write_parquet(wh.path / "experiment_results.parquet")
    shown = res.results.select(
        "experiment",
        "metric",
        "variant",
        "n",
        pl.col("control_mean").round(5),
        pl.col("mean").round(5),
        (pl.col("lift") * 100).round(2).alias("lift_%"),
        (pl.col("lift_low") * 100).round(2).alias("low_%"),
        (pl.col("lift_high") * 100).round(2).alias("high_%"),
        pl.col("pvalue").round(4),
        pl.col("pvalue_adjusted").round(4).alias("p_adj"),
        pl.col("prob_better").round(3).alias("P(better)"),
        "significant",
    )
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, tbl_hide_dataframe_shape=True):
        print(shown)
    for summary in res.summaries.values():
        status = ", ".join(f"{v}: {s} (always-valid p = {summary.sequential_pvalue[v]:.3g})"
                           for v, s in summary.sequential_status.items())  # fmt: skip
        print(f"{summary.text()}; sequential after {summary.looks} daily looks: {status}")


def _serve(args: argparse.Namespace) -> None:
    from shoplens.dashboard import serve

    serve(
        args.warehouse,
        database_url=args.database_url,
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads,
        auth_db=args.users_file,
        log_file=args.log_file,
        behind_proxy=args.behind_tls_proxy,
        secure_cookies=args.behind_tls_proxy,
        rate_limit=args.rate_limit,
        login_rate_limit=args.login_rate_limit,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from shoplens.errors import InputError

    try:
        commands = {"generate": _generate, "build": _build, "report": _report, "experiment": _experiment}
        commands["serve"] = _serve
        commands[args.command](args)
    except InputError as exc:
        print(f"shoplens: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("shoplens: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"shoplens: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
