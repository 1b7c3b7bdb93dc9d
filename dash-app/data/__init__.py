"""The dashboard's one data layer: the only module that reads the warehouse (a folder or PostgreSQL).

Every figure comes from the public shoplens API (``shoplens.experiments``, ``shoplens.stats``, the
warehouse's ``report.json`` written by the engine); this layer reads, caches and reshapes for display and
computes nothing statistical itself. Every read goes through the warehouse object (``table``, ``has_table``,
``report``): a :class:`shoplens.Warehouse` on a folder or a :class:`shoplens.db.PgWarehouse` on the last
load in PostgreSQL, so every page shows the same numbers from either.

Reads are cached per warehouse build: the caches are keyed on the warehouse (hashable: its folder, or its
database URL) and its build stamp, the modification time of ``report.json`` (which every build replaces)
for a folder, the id of the last load for PostgreSQL (looked up at most every ``recheck_s`` seconds).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import threading
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import lru_cache
from typing import Any

import polars as pl

import shoplens
import shoplens.db
from shoplens import experiments as sx
from shoplens import stats
from shoplens.errors import DatabaseError, ShoplensError

from ..auth_store import is_database_url


@dataclass(frozen=True)
class Calculation:
    """One sample-size answer of the calculator."""

    p1: float
    p2: float
    n_per_arm: float
    total: int
    days: int
    daily_visitors: float


def open_source(warehouse: Any) -> DataSource:
    """The data layer's one entry point: the cached reads of ``warehouse`` (a folder written by
    ``shoplens build``, a ``postgresql://`` URL of a loaded store, or a warehouse opened on either)."""
    return DataSource(warehouse)


class DataSource:
    """Cached reads of one warehouse.

    Parameters
    ----------
    warehouse : path, PostgreSQL URL, shoplens.Warehouse or shoplens.db.PgWarehouse
        A folder written by ``shoplens build`` or a store loaded by ``shoplens db load``, or the warehouse
        opened on it.
    recheck_s : float
        PostgreSQL: how long a build stamp (the last load's id) is trusted before it is looked up again,
        so a new load shows within that time without a query per read.
    """

    def __init__(self, warehouse: Any, *, recheck_s: float = 2.0) -> None:
        if is_database_url(warehouse):
            warehouse = shoplens.db.open_warehouse(warehouse)
        elif isinstance(warehouse, str | os.PathLike):
            warehouse = shoplens.open_warehouse(warehouse)
        if not (hasattr(warehouse, "table") and hasattr(warehouse, "has_table") and hasattr(warehouse, "report")):
            raise TypeError(
                f"expected a warehouse folder, a PostgreSQL URL or a warehouse, not {type(warehouse).__name__}"
            )
        self.warehouse = warehouse
        # The caches' key: Warehouse (a frozen dataclass of its folder) and PgWarehouse (its URL) are hashable.
        self.key = warehouse
        self.url: str | None = None
        if _is_postgres(warehouse):
            self.url = getattr(warehouse, "_db_url", None) or os.environ.get(shoplens.db.URL_ENV)
            if not self.url:
                raise DatabaseError(f"no PostgreSQL URL: give one or set {shoplens.db.URL_ENV}")
        self.recheck_s = recheck_s
        self._lock = threading.Lock()
        self._load: tuple[float, int] | None = None  # (when looked up, load id)

    def describe(self) -> str:
        """The warehouse folder, or the store's URL without its password."""
        if self.url is None:
            return str(self.warehouse.path)
        return shoplens.db.redact(self.url)

    def _stamp(self) -> int:
        if self.url is None:
            return (self.warehouse.path / "report.json").stat().st_mtime_ns
        now = time.monotonic()
        with self._lock:
            if self._load is not None and now - self._load[0] < self.recheck_s:
                return self._load[1]
            load_id = last_load_id(self.url)
            if self._load is not None and self._load[1] != load_id:
                self.warehouse.refresh()  # the tables and KPI index the warehouse kept are the old load's
            self._load = (now, load_id)
            return load_id

    def stamp(self) -> int:
        """Identifies the warehouse build (changes when ``shoplens build`` replaces it, or a new load
        commits): a cache key."""
        return self._stamp()

    # --- data quality ------------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        return _report(self.key, self._stamp())

    def conservation(self) -> pl.DataFrame:
        """Rows read = kept + quarantined + duplicates, per source file and in total (from ``report.json``)."""
        rep = self.report()
        rows = []
        ev = rep["events"]
        rows.append(
            dict(
                source=ev["source"],
                rows_read=ev["rows_read"],
                kept=ev["kept"],
                quarantined=ev["quarantined"],
                duplicates_removed=ev["duplicates_removed"],
            )
        )
        for f in rep.get("files", []):
            if f["source"] == ev["source"]:
                continue
            rows.append(
                dict(
                    source=f["source"],
                    rows_read=f["rows_read"],
                    kept=f["kept"],
                    quarantined=f["quarantined"],
                    duplicates_removed=0,
                )
            )
        c = rep["conservation"]
        rows.append(
            dict(
                source="all files",
                rows_read=c["rows_read"],
                kept=c["kept"],
                quarantined=c["quarantined"],
                duplicates_removed=c["duplicates_removed"],
            )
        )
        return pl.DataFrame(rows)

    def quarantine_by_rule(self) -> pl.DataFrame:
        """Quarantined rows per validation rule over all files, in rule order (from ``report.json``)."""
        rep = self.report()
        order = {r["rule"]: r["order"] for r in rep["rules"]}
        describe = {r["rule"]: r["description"] for r in rep["rules"]}
        counts: dict[str, int] = {}
        sources = [rep["events"]] + [f for f in rep.get("files", []) if f["source"] != rep["events"]["source"]]
        for src in sources:
            for rule, n in src["by_rule"]:
                counts[rule] = counts.get(rule, 0) + int(n)
        rows = [
            dict(order=order.get(rule, len(order)), rule=rule, rows=n, description=describe.get(rule, ""))
            for rule, n in counts.items()
            if n > 0
        ]
        schema = {"order": pl.Int64, "rule": pl.String, "rows": pl.Int64, "description": pl.String}
        return pl.DataFrame(rows, schema=schema).sort("order")

    def quarantine_page(self, page: int, page_size: int, rule: str | None = None) -> tuple[pl.DataFrame, int]:
        """One page of the quarantine table (rows as stored: source, line, rule, detail, raw) and the
        number of rows matching ``rule``."""
        frame = _table(self.key, self._stamp(), "quarantine")
        if rule:
            frame = frame.filter(pl.col("rule") == rule)
        cols = [c for c in ("source", "line", "rule", "detail", "raw") if c in frame.columns]
        return frame.slice(page * page_size, page_size).select(cols), frame.height

    def event_summary(self) -> dict[str, Any]:
        """The engine's event statistics (bots, sessions, visitors, missing prices...) from ``report.json``."""
        return dict(self.report()["events"])

    def anomalies(self) -> pl.DataFrame | None:
        """Flagged days of the daily KPI series, when the warehouse has the anomalies table."""
        if not _has_table(self.key, self._stamp(), "anomalies"):
            return None
        return _table(self.key, self._stamp(), "anomalies")

    # --- KPIs (shoplens.kpis) ----------------------------------------------------------------------
    def date_bounds(self) -> tuple[dt.date, dt.date]:
        """First and last UTC date of the clean events (``report.json``)."""
        ev = self.report()["events"]
        return tuple(dt.datetime.fromtimestamp(ev[k] / 1000, dt.UTC).date() for k in ("min_ts", "max_ts"))  # type: ignore[return-value]

    def root_categories(self) -> list[int]:
        from .kpis import root_categories

        return root_categories(self.key, self._stamp())

    def kpi_headline(self, f: Any) -> dict[str, Any]:
        from .kpis import headline

        return headline(self.key, self._stamp(), f)

    def kpi_table(self, name: str, f: Any) -> pl.DataFrame:
        from .kpis import table

        return table(self.key, self._stamp(), name, f)

    def kpi_tables(self, names: tuple[str, ...], f: Any) -> dict[str, pl.DataFrame]:
        """Several ``shoplens.kpis`` tables of one filter from one pass over the events."""
        from .kpis import tables

        return tables(self.key, self._stamp(), names, f)

    def warm(self) -> None:
        """Load what every visit needs before the first request: the engine's KPI index of the events and
        the unfiltered KPI tables (a gunicorn worker calls this at start, not in a request)."""
        from .kpis import KpiFilter

        self.report()
        self.root_categories()
        self.kpi_headline(KpiFilter())

    def kpi_funnel(self, f: Any, level: str) -> pl.DataFrame:
        return self.kpi_table("funnel", f).filter(pl.col("level") == level).sort("step_order")

    # --- cohorts and customer value (shoplens.cohorts, shoplens.clv) ------------------------------
    def retention(self, by: str, period: str) -> pl.DataFrame:
        return _retention(self.key, self._stamp(), by, period)

    def customers(self) -> pl.DataFrame:
        return _customers(self.key, self._stamp())

    # --- experiments -------------------------------------------------------------------------------
    def analysis(self) -> sx.ExperimentAnalysis:
        return _analysis(self.key, self._stamp())

    def experiments(self) -> pl.DataFrame:
        """One row per experiment: variants, users assigned, enrolment window, SRM verdict, status."""
        asg = _table(self.key, self._stamp(), "assignments")
        if asg.height == 0:
            return pl.DataFrame(schema={"experiment": pl.String})
        window = asg.group_by("experiment").agg(
            pl.col("assigned_at").min().dt.date().alias("first_assigned"),
            pl.col("assigned_at").max().dt.date().alias("last_assigned"),
            pl.len().alias("assigned"),
        )
        rows = []
        for name, s in self.analysis().summaries.items():
            primary = self.analysis().results.filter(
                (pl.col("experiment") == name) & pl.col("sequential_pvalue").is_not_nan()
            )
            significant = self.analysis().results.filter((pl.col("experiment") == name) & pl.col("significant"))
            if s.srm.alarm:
                status = "sample-ratio mismatch: do not trust"
            elif significant.height:
                status = "significant difference"
            elif any(v.startswith("stop") for v in s.sequential_status.values()):
                status = "sequential stop"
            else:
                status = "no significant difference"
            rows.append(
                dict(
                    experiment=name,
                    control=s.control,
                    variants=", ".join(s.variants),
                    srm_pvalue=s.srm.pvalue,
                    srm_alarm=s.srm.alarm,
                    sequential_pvalue=float(primary["sequential_pvalue"].min()) if primary.height else math.nan,
                    looks=s.looks,
                    status=status,
                )
            )
        for (key, stamp, name), message in _FAILED.items():
            if key == self.key and stamp == self._stamp():
                rows.append(
                    dict(
                        experiment=name,
                        control=None,
                        variants=None,
                        srm_pvalue=math.nan,
                        srm_alarm=None,
                        sequential_pvalue=math.nan,
                        looks=0,
                        status=f"cannot analyse: {message}",
                    )
                )
        schema = {
            "experiment": pl.String,
            "control": pl.String,
            "variants": pl.String,
            "srm_pvalue": pl.Float64,
            "srm_alarm": pl.Boolean,
            "sequential_pvalue": pl.Float64,
            "looks": pl.Int64,
            "status": pl.String,
        }
        listing = pl.DataFrame(rows, schema=schema)
        return window.join(listing, on="experiment", how="inner").sort("experiment")

    def experiment_results(self, name: str) -> pl.DataFrame:
        return self.analysis().results.filter(pl.col("experiment") == name)

    def experiment_summary(self, name: str) -> sx.ExperimentSummary:
        return self.analysis().summaries[name]

    def experiment_sequential(self, name: str) -> pl.DataFrame:
        """The always-valid confidence sequence of the conversion difference (variant minus control)
        after each day of enrolment: one row per variant and day (``shoplens.experiments.confidence_sequence``
        on the users assigned, and converted, by that day's end, as ``analyze`` does)."""
        return _sequential(self.key, self._stamp(), name)

    def experiment_bayes(self, name: str) -> pl.DataFrame:
        """Beta-Binomial posterior of each arm's conversion (``shoplens.experiments.bayes_proportions``
        against the control), with P(arm beats control) and expected loss."""
        return _bayes(self.key, self._stamp(), name)

    # --- planner -----------------------------------------------------------------------------------
    def baseline(self) -> sx.Baseline:
        return _baseline(self.key, self._stamp())

    def sample_size(
        self, p1: float, lift: float, *, power: float, alpha: float, traffic_share: float = 1.0, arms: int = 2
    ) -> Calculation:
        """Users per arm to detect a relative ``lift`` on conversion ``p1`` (``shoplens.stats``) and the
        days to enrol them at the warehouse's measured daily visitors times ``traffic_share``."""
        p2 = p1 * (1 + lift)
        n = stats.samplesize_proportions_2indep(p1, p2, power=power, alpha=alpha)
        total = arms * math.ceil(n)
        daily = self.baseline().daily_visitors
        days = stats.duration_days(total, daily * traffic_share)
        return Calculation(p1=p1, p2=p2, n_per_arm=n, total=total, days=days, daily_visitors=daily)

    def power_curve(self, p1: float, p2: float, *, alpha: float, n_max: float, points: int = 60) -> pl.DataFrame:
        """Power of the two-proportion test against users per arm (``shoplens.stats.power_proportions_2indep``)."""
        step = max(n_max / points, 2.0)
        ns = [max(2.0, step * (i + 1)) for i in range(points)]
        power = [stats.power_proportions_2indep(p1, p2, n, alpha=alpha) for n in ns]
        return pl.DataFrame({"n_per_arm": ns, "power": power})

    def plan(
        self,
        candidates: list[tuple[str, float, float]],
        *,
        power: float,
        alpha: float,
        traffic_share: float,
        conversion: float | None = None,
    ) -> pl.DataFrame:
        """``shoplens.experiments.plan`` for (name, lift, cost) candidates on the warehouse's measured
        baseline (traffic, revenue per buyer), its conversion replaced by ``conversion`` when given."""
        base = self.baseline()
        if conversion is not None:
            base = replace(base, conversion=conversion)
        cands = [sx.Candidate(name, lift, cost) for name, lift, cost in candidates]
        return sx.plan(base, cands, power=power, alpha=alpha, traffic_share=traffic_share)

    # --- simulator ---------------------------------------------------------------------------------
    def simulate(
        self, *, mode: str, baseline: float, lift: float, n: int, runs: int, alpha: float, seed: int
    ) -> pl.DataFrame:
        """Seeded Monte Carlo in the engine: A/A (no lift; rejection rate = false-positive rate) or power."""
        return _simulate(mode, baseline, lift, n, runs, alpha, seed)

    # --- methodology -------------------------------------------------------------------------------
    @staticmethod
    def methodology() -> str:
        """``docs/methodology.md``, read from the checkout or the installed package."""
        from shoplens.dashboard import methodology_path

        return methodology_path().read_text(encoding="utf-8")


# Module-level caches keyed by (warehouse, build stamp): shared by every DataSource of a process.


def _is_postgres(warehouse: Any) -> bool:
    return isinstance(warehouse, shoplens.db.PgWarehouse)


def last_load_id(url: str) -> int:
    """The id of the last load in the store (``shoplens.loads``; every load adds one). By psycopg, not the
    engine: ``shoplens serve`` checks the store with it in gunicorn's arbiter, which must not start the
    engine's async runtime (its threads would not survive the fork into the workers)."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5, application_name="shoplens-dashboard") as conn:
            row = conn.execute("SELECT max(load_id) FROM shoplens.loads").fetchone()
    except psycopg.Error as exc:
        raise DatabaseError(f"{shoplens.db.redact(url)}: cannot read the last load: {exc}") from None
    if row is None or row[0] is None:
        raise DatabaseError(f"{shoplens.db.redact(url)}: nothing loaded yet: run `shoplens db load --warehouse W`")
    return int(row[0])


@lru_cache(maxsize=32)
def _has_table(wh: Any, stamp: int, name: str) -> bool:
    return bool(wh.has_table(name))


@lru_cache(maxsize=8)
def _report(wh: Any, stamp: int) -> dict[str, Any]:
    return dict(wh.report)


@lru_cache(maxsize=32)
def _table(wh: Any, stamp: int, name: str) -> pl.DataFrame:
    return wh.table(name)


@lru_cache(maxsize=4)
def _analysis(wh: Any, stamp: int) -> sx.ExperimentAnalysis:
    """All experiments; one the engine cannot analyse (e.g. degenerate data) is left out, not fatal."""
    try:
        return sx.analyze(wh)
    except ShoplensError:
        pass
    results, summaries = [], {}
    for name in sorted(_table(wh, stamp, "assignments")["experiment"].unique().to_list()):
        try:
            one = sx.analyze(wh, experiment=name)
        except ShoplensError as exc:
            _FAILED[(wh, stamp, name)] = str(exc)
            continue
        results.append(one.results)
        summaries.update(one.summaries)
    frame = pl.concat(results) if results else pl.DataFrame(schema={"experiment": pl.String})
    return sx.ExperimentAnalysis(frame, summaries)


_FAILED: dict[tuple[Any, int, str], str] = {}


@lru_cache(maxsize=4)
def _users(wh: Any, stamp: int) -> pl.DataFrame:
    return sx.user_metrics(_table(wh, stamp, "events"), _table(wh, stamp, "assignments")).filter(~pl.col("is_bot"))


@lru_cache(maxsize=32)
def _sequential(wh: Any, stamp: int, name: str) -> pl.DataFrame:
    summary = _analysis(wh, stamp).summaries[name]
    users = _users(wh, stamp).filter(pl.col("experiment") == name)
    days = users.select(pl.col("assigned_at").dt.truncate("1d").unique().sort())["assigned_at"].to_list()
    frames = []
    for variant in summary.variants:
        if variant == summary.control:
            continue
        looks: dict[str, list[sx.SufficientStats]] = {summary.control: [], variant: []}
        kept_days = []
        for day in days:
            cutoff = day + timedelta(days=1)
            seen = users.filter(pl.col("assigned_at") < cutoff)
            converted = (pl.col("first_purchase") < cutoff).fill_null(False).cast(pl.Float64)
            arms = {}
            for arm in looks:
                x = seen.filter(pl.col("variant") == arm).select(converted.alias("c"))["c"]
                arms[arm] = sx.SufficientStats.from_sums(x.len(), float(x.sum()), float(x.sum()))
            if all(s.n > 1 for s in arms.values()):
                kept_days.append(day.date())
                for arm, s in arms.items():
                    looks[arm].append(s)
        if not kept_days:
            continue
        cs = sx.confidence_sequence(looks[variant], looks[summary.control], alpha=0.05)
        frames.append(
            pl.DataFrame(
                {
                    "variant": [variant] * len(kept_days),
                    "day": kept_days,
                    "estimate": cs.estimate,
                    "lower": cs.lower,
                    "upper": cs.upper,
                    "pvalue": cs.pvalue,
                }
            )
        )
    if not frames:
        return pl.DataFrame(
            schema={
                "variant": pl.String,
                "day": pl.Date,
                "estimate": pl.Float64,
                "lower": pl.Float64,
                "upper": pl.Float64,
                "pvalue": pl.Float64,
            }
        )
    return pl.concat(frames)


@lru_cache(maxsize=32)
def _bayes(wh: Any, stamp: int, name: str) -> pl.DataFrame:
    summary = _analysis(wh, stamp).summaries[name]
    users = _users(wh, stamp).filter(pl.col("experiment") == name)
    counts = users.group_by("variant").agg(pl.len().alias("n"), pl.col("conversion").sum().alias("c"))
    by = {r["variant"]: (int(r["c"]), int(r["n"])) for r in counts.iter_rows(named=True)}
    cc, nc = by[summary.control]
    rows = []
    for variant in summary.variants:
        c, n = by[variant]
        r = sx.bayes_proportions(cc, nc, c, n)
        post = r.posterior_b
        rows.append(
            dict(
                variant=variant,
                users=n,
                buyers=c,
                posterior_mean=post.mean,
                ci_low=post.credible_interval[0],
                ci_high=post.credible_interval[1],
                prob_beats_control=r.prob_b_beats_a,
                expected_loss=r.expected_loss_b,
                is_control=variant == summary.control,
            )
        )
    return pl.DataFrame(rows)


@lru_cache(maxsize=16)
def _retention(wh: Any, stamp: int, by: str, period: str) -> pl.DataFrame:
    """``shoplens.cohorts.retention`` plus the 95 % Wilson interval of each active share
    (``shoplens.stats.proportion_confint`` of active out of cohort_size; null for an empty cohort)."""
    import shoplens.cohorts as cohorts

    ret = cohorts.retention(wh, by=by, period=period)  # type: ignore[arg-type]
    bounds = [
        stats.proportion_confint(a, n, method="wilson") if n else (None, None)
        for a, n in zip(ret["active"].to_list(), ret["cohort_size"].to_list(), strict=True)
    ]
    return ret.with_columns(
        pl.Series("active_low", [b[0] for b in bounds], dtype=pl.Float64),
        pl.Series("active_high", [b[1] for b in bounds], dtype=pl.Float64),
    )


@lru_cache(maxsize=4)
def _customers(wh: Any, stamp: int) -> pl.DataFrame:
    import shoplens.clv as clv

    return clv.customers(wh)


@lru_cache(maxsize=4)
def _baseline(wh: Any, stamp: int) -> sx.Baseline:
    return sx.baseline_from_events(wh.scan("events"))


@lru_cache(maxsize=64)
def _simulate(mode: str, baseline: float, lift: float, n: int, runs: int, alpha: float, seed: int) -> pl.DataFrame:
    if mode == "aa":
        res = sx.simulate_aa(baseline=baseline, nobs1=n, runs=runs, alpha=alpha, seed=seed)
    else:
        res = sx.simulate_power(baseline=baseline, relative_lift=lift, nobs1=n, runs=runs, alpha=alpha, seed=seed)
    return pl.DataFrame(
        [
            dict(test=name, rejections=r.rejections, runs=r.runs, rate=r.rate, ci_low=r.ci_low, ci_high=r.ci_high)
            for name, r in res.rates.items()
        ]
    )
