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

    build = sub.add_parser(
        "build",
        help="validate and clean a RetailRocket folder or your own event file into a Parquet warehouse",
        description="Build from a RetailRocket folder (--raw DIR) or from your own event file (--raw FILE or "
        "--events FILE: CSV or Parquet) read through a column mapping (--map FILE, TOML or JSON with the "
        "fields of shoplens.EventSchema, and/or the column flags below).",
    )
    source = build.add_mutually_exclusive_group(required=True)
    source.add_argument("--raw", type=Path, help="RetailRocket-format folder, or an event file")
    source.add_argument("--events", type=Path, help="your own event file (.csv or .parquet)")
    build.add_argument("--out", required=True, type=Path, help="warehouse folder (replaced when complete)")
    mapping = build.add_argument_group("column mapping of an event file (default: EventSchema's defaults)")
    mapping.add_argument("--map", type=Path, default=None, metavar="FILE", help="TOML or JSON mapping file")
    for flag, help_text in _MAPPING_FLAGS.items():
        mapping.add_argument(f"--{flag.replace('_', '-')}", dest=f"map_{flag}", default=None, help=help_text)
    for kind, flag in (("view", "view"), ("addtocart", "cart"), ("transaction", "purchase")):
        mapping.add_argument(
            f"--{flag}-events",
            dest=f"map_{kind}",
            default=None,
            metavar="NAMES",
            help=f"comma-separated event names that mean {kind}",
        )
    mapping.add_argument(
        "--drop-other-events",
        action="store_true",
        help="quarantine events of other types instead of keeping them under their own name",
    )
    build.add_argument("--session-timeout", type=float, default=30.0, metavar="MIN", help="minutes (default 30)")
    build.add_argument(
        "--strict",
        action="store_true",
        help="fail on the first invalid row instead of quarantining, and exit non-zero if no row is kept",
    )
    build.add_argument("--price-property", default=None, help="item property holding prices (default: prices.csv)")
    build.add_argument(
        "--memory-limit",
        default=None,
        metavar="SIZE",
        help="memory budget of a RetailRocket build, e.g. 4GiB (default: half the machine's memory); a larger "
        "input is split by visitor into partitions built one by one and merged into the same tables",
    )

    report = sub.add_parser("report", help="headline KPIs and the validation summary of a warehouse")
    report.add_argument("--warehouse", required=True, type=Path)
    report.add_argument("--json", action="store_true", help="print the figures and the build report as JSON")

    exp = sub.add_parser("experiment", help="experiment results table (also stored in the warehouse)")
    exp.add_argument("--warehouse", required=True, type=Path)
    exp.add_argument("--name", default=None, help="only this experiment")
    exp.add_argument("--correction", choices=["holm", "bonferroni", "bh"], default="holm")
    exp.add_argument("--alpha", type=float, default=0.05)

    # --- db (PostgreSQL store) ---
    db = sub.add_parser(
        "db",
        help="PostgreSQL store: migrate the schema, load a warehouse, show the status",
        description="The URL is --database-url or $SHOPLENS_DATABASE_URL (postgresql://user@host:5432/db; "
        "add ?sslmode=require for TLS).",
    )
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    for action, text in (
        ("migrate", "apply pending migrations (--down: revert them down to --target)"),
        ("load", "copy a warehouse into PostgreSQL in one transaction (replaces the previous load)"),
        ("status", "migrations, last load and row counts"),
    ):
        p = db_sub.add_parser(action, help=text)
        p.add_argument("--database-url", default=None, help="default: $SHOPLENS_DATABASE_URL")
        if action == "load":
            p.add_argument("--warehouse", required=True, type=Path)
        if action == "migrate":
            p.add_argument("--down", action="store_true", help="revert instead of apply")
            p.add_argument("--target", type=int, default=0, help="with --down: keep versions <= this (default 0)")

    # --- serve (dashboard) ---
    serve = sub.add_parser("serve", help="the dashboard, behind a login, under gunicorn (needs shoplens[dashboard])")
    source = serve.add_mutually_exclusive_group()
    source.add_argument("--warehouse", type=Path, help="Parquet warehouse folder")
    source.add_argument("--database-url", default=None,
                        help="PostgreSQL URL of a migrated, loaded store (default: $SHOPLENS_DATABASE_URL); "
                             "users in its shoplens.dashboard_users table")  # fmt: skip
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8050)
    serve.add_argument("--workers", type=int, default=1, help="gunicorn worker processes (default 1)")
    serve.add_argument("--threads", type=int, default=8, help="threads per worker (default 8)")
    serve.add_argument("--users-file", type=Path, default=None,
                       help="SQLite users file (default: WAREHOUSE.users.sqlite, or the store's table)")  # fmt: skip
    serve.add_argument("--log-file", type=Path, default=None,
                       help="JSON lines (default: WAREHOUSE.dashboard.log, or ./shoplens-dashboard.log)")  # fmt: skip
    serve.add_argument("--rate-limit", default="600 per minute", help="per signed-in user, callbacks included")
    serve.add_argument("--login-rate-limit", default="30 per minute", help="sign-in attempts per address")
    serve.add_argument("--behind-tls-proxy", action="store_true",
                       help="trust one reverse proxy's X-Forwarded-* headers and mark cookies Secure")  # fmt: skip
    return parser


_MAPPING_FLAGS = {
    "user": "user (visitor) id column",
    "timestamp": "event time column",
    "event": "event type column",
    "item": "item id column ('' for none)",
    "order": "order id column",
    "price": "price column (purchase rows)",
    "session": "session id column (instead of the inactivity rule)",
    "timestamp_unit": "unit of integer timestamps: s, ms, us or ns",
}


def _version() -> str:
    from shoplens._native import __version__

    return str(__version__)


def _progress() -> bool:
    return sys.stderr.isatty()


def _generate(args: argparse.Namespace) -> int | None:
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


def _mapping(args: argparse.Namespace) -> dict[str, object]:
    """The column mapping from --map (TOML or JSON) overlaid with the column flags."""
    from shoplens.errors import DataFileError, MissingFileError

    mapping: dict[str, object] = {}
    if args.map is not None:
        path: Path = args.map
        if not path.is_file():
            raise MissingFileError(f"{path}: no such mapping file", file=str(path), line=0, rule="missing_file")
        suffix = path.suffix.lower()
        if suffix not in (".toml", ".json"):
            raise DataFileError(
                f"{path}: a mapping file must end in .toml or .json, found {suffix or 'no suffix'!r}",
                file=str(path),
                line=0,
                rule="wrong_format",
            )
        try:
            if suffix == ".toml":
                import tomllib

                loaded = tomllib.loads(path.read_text())
            else:
                import json

                loaded = json.loads(path.read_text())
        except ValueError as exc:  # TOMLDecodeError and JSONDecodeError are ValueErrors
            raise DataFileError(
                f"{path}: not a valid mapping: {exc}", file=str(path), line=0, rule="bad_value"
            ) from exc
        if not isinstance(loaded, dict):
            raise DataFileError(
                f"{path}: a mapping file holds a table of EventSchema fields, found {type(loaded).__name__}",
                file=str(path),
                line=0,
                rule="bad_value",
            )
        mapping = dict(loaded)
    for flag in _MAPPING_FLAGS:
        value = getattr(args, f"map_{flag}")
        if value is not None:
            mapping[flag] = value or None
    kinds = {k: getattr(args, f"map_{k}") for k in ("view", "addtocart", "transaction")}
    if any(v is not None for v in kinds.values()):
        from shoplens._config import EventSchema

        values = dict(mapping.get("event_values") or EventSchema().event_values)  # type: ignore[call-overload]
        values.update({k: [n.strip() for n in v.split(",") if n.strip()] for k, v in kinds.items() if v is not None})
        mapping["event_values"] = values
    if args.drop_other_events:
        mapping["other_events"] = "drop"
    return mapping


def _build(args: argparse.Namespace) -> int:
    from shoplens._build import build_events, build_retailrocket
    from shoplens._config import CleanConfig, EventSchema
    from shoplens.errors import MissingFileError

    config = CleanConfig(
        session_timeout_s=args.session_timeout * 60,
        strict=args.strict,
        price_property=args.price_property,
    )
    started = time.perf_counter()
    path: Path = args.raw if args.raw is not None else args.events
    mapping = _mapping(args)
    if args.raw is not None and args.raw.is_dir() and not mapping:
        report = build_retailrocket(args.raw, args.out, config, progress=_progress(), memory_limit=args.memory_limit)
    elif path.is_file():
        schema = EventSchema.from_mapping(mapping)
        report = build_events(path, args.out, schema, config, progress=_progress())
    elif path.is_dir():
        raise MissingFileError(
            f"{path}: is a folder, expected an event file (.csv or .parquet) with --events or a mapping",
            file=str(path),
            line=0,
            rule="not_a_file",
        )
    else:
        expected = "a RetailRocket folder or an event file" if args.raw is not None else "an event file"
        raise MissingFileError(f"{path}: no such file or folder, expected {expected}", file=str(path), line=0,
                               rule="missing_file")  # fmt: skip
    ev = report["events"]
    cons = report["conservation"]
    print(
        f"built {args.out} in {time.perf_counter() - started:.2f} s: {ev['kept']:,} events kept of "
        f"{ev['rows_read']:,} read ({ev['quarantined']:,} quarantined, {ev['duplicates_removed']:,} exact "
        f"duplicates), {ev['sessions']:,} sessions, {ev['visitors']:,} visitors; all files: "
        f"{cons['rows_read']:,} rows read = {cons['kept']:,} kept + {cons['quarantined']:,} quarantined + "
        f"{cons['duplicates_removed']:,} duplicates"
    )
    for note in report.get("notes", []):
        print(f"note: {note}")
    if ev["rows_read"] and not ev["kept"]:
        rules = sorted(ev["by_rule"], key=lambda r: -r[1])
        dominant = f"{rules[0][0]} ({rules[0][1]:,} rows)" if rules else "none"
        print(
            f"shoplens: warning: no rows kept of {ev['rows_read']:,} read; the most common rule broken is "
            f"{dominant}: see the quarantine table",
            file=sys.stderr,
        )
        if args.strict:
            return 2
    return 0


def _report(args: argparse.Namespace) -> int | None:
    from shoplens import open_warehouse
    from shoplens.summary import headline, render, to_json

    summary = headline(open_warehouse(args.warehouse))
    if args.json:
        import json

        print(json.dumps(to_json(summary), indent=2))
    else:
        print(render(summary))


def _experiment(args: argparse.Namespace) -> int | None:
    from shoplens import open_warehouse
    from shoplens._analyze import analyze

    wh = open_warehouse(args.warehouse)
    res = analyze(wh, experiment=args.name, correction=args.correction, alpha=args.alpha)
    if args.name is None:
        # The stored table always holds every experiment.
        res.results.write_parquet(wh.path / "experiment_results.parquet")
        print(f"wrote {wh.path / 'experiment_results.parquet'} ({res.results.height} comparisons)\n")
    print(res.summary())


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


def _db(args: argparse.Namespace) -> int | None:
    from shoplens import db

    url = args.database_url
    if args.db_command == "migrate":
        if args.down:
            done = db.revert(url, target=args.target)
            print(f"reverted {len(done)} migration(s): {', '.join(map(str, done)) or 'none'}")
        else:
            done = db.migrate(url)
            print(f"applied {len(done)} migration(s): {', '.join(map(str, done)) or 'already up to date'}")
    elif args.db_command == "load":
        result = db.load(args.warehouse, url=url)
        rate = result.rows / result.seconds if result.seconds > 0 else 0.0
        print(f"loaded {result.rows:,} rows in {result.seconds:.2f} s ({rate:,.0f} rows/s)")
        for name, rows in result.tables.items():
            print(f"  {name:<24} {rows:>12,}")
    else:
        st = db.status(url)
        print(f"database {st['url']}")
        for m in st["migrations"]:
            print(f"  {m['version']:>4} {m['description']:<32} {'applied' if m['applied'] else 'pending'}")
        last = st["last_load"]
        if last is None:
            print("no load yet")
        else:
            rows, seconds = last["rows"], last["seconds"]
            print(f"last load {last['loaded_at']} from {last['warehouse']}: {rows:,} rows, {seconds:.2f} s")
        for name, rows in st["tables"].items():
            print(f"  {name:<24} {rows:>12,}")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from shoplens.errors import DatabaseError, InputError

    try:
        commands = {"generate": _generate, "build": _build, "report": _report, "experiment": _experiment}
        commands["serve"] = _serve
        commands["db"] = _db
        status = commands[args.command](args)
        if status:
            return int(status)
    except InputError as exc:
        print(f"shoplens: error: {exc}", file=sys.stderr)
        return 2
    except DatabaseError as exc:
        print(f"shoplens: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("shoplens: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"shoplens: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
