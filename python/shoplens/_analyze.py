"""Experiment analysis: assignments + clean events -> per-user metrics -> per-variant sums -> the
engine's batch comparison (tests, intervals, lifts), Bayesian and sequential read-outs, the SRM check.

This is the workflow layer: it shapes tables with polars and calls the statistics of
:mod:`shoplens.stats`, :mod:`shoplens.experiments` and :mod:`shoplens._compare`; it computes no
statistic itself.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from shoplens import _native, stats
from shoplens._compare import compare_from_sums
from shoplens._display import ResultDisplay, format_pvalue
from shoplens._frames import is_pandas, to_polars
from shoplens._types import AdjustMethod, MetricKind
from shoplens._validate import choice, flag, level, probability
from shoplens.errors import InvalidArgumentError, SchemaError
from shoplens.experiments import SufficientStats, confidence_sequence

__all__ = ["METRICS", "METRIC_KIND", "ExperimentAnalysis", "ExperimentSummary", "analyze", "user_metrics"]

#: Metric name -> what it counts, per assigned user, from assignment time on.
METRICS: dict[str, str] = {
    "conversion": "1 if the user made at least one purchase after assignment, else 0",
    "revenue": "sum of item prices over the user's purchase rows after assignment",
    "orders": "distinct orders (transaction ids) after assignment",
    "items": "purchase rows (item lines) after assignment",
    "sessions": "sessions with at least one event after assignment",
    "aov": "revenue / orders over the variant's users (ratio metric, delta method)",
}
#: Metric name -> its kind (which decides the test, see :data:`shoplens._types.MetricKind`).
METRIC_KIND: dict[str, MetricKind] = {
    "conversion": "proportion",
    "revenue": "mean",
    "orders": "mean",
    "items": "mean",
    "sessions": "mean",
    "aov": "ratio",
}
#: Ratio metrics: numerator and denominator per user.
_RATIO = {"aov": ("revenue", "orders")}
_ADJUST: tuple[AdjustMethod, ...] = ("holm", "bonferroni", "bh")


@dataclass(frozen=True)
class ExperimentSummary(ResultDisplay):
    """Per-experiment verdicts: sample sizes, sample-ratio mismatch and sequential status.

    Attributes
    ----------
    experiment, control : str
        The experiment and its control variant.
    variants : tuple of str
        All variants, sorted.
    assigned, analysed : mapping of str to int
        Users assigned per variant, and those analysed (bots excluded unless asked otherwise).
    planned_weights : mapping of str to float
        The planned split used by the SRM check.
    srm : shoplens.stats.SrmResult
        Sample-ratio mismatch check of the assigned counts.
    sequential_pvalue, sequential_status : mapping of str to float / str
        Always-valid p-value of the primary metric per treatment variant after daily looks, and
        ``"stop: effect detected"``, ``"continue"`` or ``"no information yet ..."`` (no day with variance).
    looks : int
        Number of daily looks.
    """

    experiment: str
    control: str
    variants: tuple[str, ...]
    assigned: Mapping[str, int]
    analysed: Mapping[str, int]
    planned_weights: Mapping[str, float]
    srm: stats.SrmResult
    sequential_pvalue: Mapping[str, float]
    sequential_status: Mapping[str, str]
    looks: int

    def text(self) -> str:
        """One line: assigned users per variant and the SRM verdict."""
        srm = "SAMPLE-RATIO MISMATCH" if self.srm.alarm else "no sample-ratio mismatch"
        counts = ", ".join(f"{v} {self.assigned[v]:,}" for v in self.variants)
        return f"{self.experiment}: {counts}; {srm} (chi2 p = {self.srm.pvalue:.3g})"

    def __repr__(self) -> str:
        return f"ExperimentSummary({self.text()})"


_SHOWN = ("metric", "variant", "n", "control_mean", "mean", "lift", "lift_low", "lift_high", "pvalue_adjusted")


@dataclass(frozen=True, repr=False)
class ExperimentAnalysis(ResultDisplay):
    """Result of :func:`analyze`.

    Attributes
    ----------
    results : polars.DataFrame
        One row per experiment x metric x variant (columns in :func:`analyze`).
    summaries : mapping of str to ExperimentSummary
        One per experiment.

    Examples
    --------
    ``print(analysis.summary())`` gives the read-out as a report would show it; ``analysis``
    alone in a notebook shows the same as a table.
    """

    results: pl.DataFrame
    summaries: Mapping[str, ExperimentSummary] = field(default_factory=dict)

    def to_pandas(self) -> Any:
        """``results`` as a pandas DataFrame."""
        return self.results.to_pandas()

    def _lines(self, experiment: str) -> list[tuple[str, ...]]:
        rows = self.results.filter(pl.col("experiment") == experiment)
        out: list[tuple[str, ...]] = []
        for r in rows.iter_rows(named=True):
            out.append(
                (
                    r["metric"],
                    r["variant"],
                    f"{r['n']:,}",
                    _fmt(r["control_mean"]),
                    _fmt(r["mean"]),
                    _pct(r["lift"]),
                    f"[{_pct(r['lift_low'])}, {_pct(r['lift_high'])}]",
                    format_pvalue(r["pvalue"]),
                    format_pvalue(r["pvalue_adjusted"]),
                    _fmt(r["prob_better"], 3),
                    "yes" if r["significant"] else "no",
                )
            )
        return out

    _HEADER = (
        "metric", "variant", "users", "control", "value", "lift", "CI of lift", "p", "p adj.", "P(better)", "signif."
    )  # fmt: skip

    def summary(self) -> str:
        """The read-out of every experiment as an analyst would paste it into a report.

        Per experiment: the assignment counts and the sample-ratio check, then one line per
        metric and variant with the control's and the variant's value, the relative lift with its
        interval, the p-value before and after the multiplicity correction, the Bayesian
        probability that the variant is better and the verdict; p-values below 1e-4 print as
        ``< 1e-4``. Lines stay within 120 characters.
        """
        blocks = []
        for name, s in self.summaries.items():
            lines = [s.text()]
            if s.srm.alarm:
                lines.append("  Warning: the split differs from the plan; the comparisons below are not trustworthy.")
            table = [self._HEADER, *self._lines(name)]
            widths = [max(len(row[i]) for row in table) for i in range(len(self._HEADER))]
            for row in table:
                cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
                lines.append("  " + "  ".join(cells).rstrip())
            for v, status in s.sequential_status.items():
                lines.append(
                    f"  sequential ({s.looks} daily looks, {v} vs {s.control}): {status}, "
                    f"always-valid p = {format_pvalue(s.sequential_pvalue[v])}"
                )
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def __repr__(self) -> str:
        parts = []
        for name, s in self.summaries.items():
            rows = self.results.filter(pl.col("experiment") == name)
            sig = rows.filter(pl.col("significant"))
            primary = rows.row(0, named=True) if rows.height else None
            head = f"{name}: {len(s.variants)} variants"
            if primary is not None:
                head += (
                    f", {primary['metric']} lift {_pct(primary['lift'])} "
                    f"(p adj. {format_pvalue(primary['pvalue_adjusted'])})"
                )
            head += f", {sig.height}/{rows.height} significant"
            if s.srm.alarm:
                head += ", SRM!"
            parts.append(head)
        return "ExperimentAnalysis(" + "; ".join(parts) + ")"

    def _repr_html_(self) -> str:
        blocks = []
        for name, s in self.summaries.items():
            head = "".join(f"<th>{html.escape(h)}</th>" for h in self._HEADER)
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self._lines(name)
            )
            blocks.append(
                f"<p><b>{html.escape(s.text())}</b></p><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            )
        return "".join(blocks)


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    return f"{x:.{digits}g}"


def _pct(x: Any) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "nan" if x is None or math.isnan(x) else ("+inf" if x > 0 else "-inf")
    return f"{100 * x:+.2f}%"


def _same_id_type(assignments: pl.LazyFrame, events: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Join keys of one type: integer and string ids (ingest keeps the user's) meet as strings."""
    a_type = assignments.collect_schema()["user_id"]
    e_type = events.collect_schema()["visitor_id"]
    if a_type == e_type:
        return assignments, events
    return (
        assignments.with_columns(pl.col("user_id").cast(pl.String)),
        events.with_columns(pl.col("visitor_id").cast(pl.String)),
    )


def user_metrics(events: Any, assignments: Any) -> pl.DataFrame:
    """One row per assignment with the user's metrics from ``assigned_at`` on (see :data:`METRICS`).

    Users without events after assignment count with zeros: they were assigned, so they are in the
    denominator. ``is_bot`` is true when the user is a flagged bot.

    Parameters
    ----------
    events : polars or pandas DataFrame
        Clean events (the warehouse ``events`` table).
    assignments : polars or pandas DataFrame
        ``experiment, user_id, variant, assigned_at``.

    Returns
    -------
    polars.DataFrame
        experiment, user_id, variant, assigned_at, first_purchase, the metrics, is_bot.
    """
    ev = events.lazy() if isinstance(events, pl.DataFrame | pl.LazyFrame) else to_polars(events, "events").lazy()
    asg = (
        assignments.lazy()
        if isinstance(assignments, pl.DataFrame | pl.LazyFrame)
        else to_polars(assignments, "assignments").lazy()
    ).select("experiment", "user_id", "variant", "assigned_at")
    asg, ev = _same_id_type(asg, ev)
    joined = asg.join(
        ev.select(
            pl.col("visitor_id").alias("user_id"),
            "timestamp",
            "event",
            "transaction_id",
            "revenue",
            "session_id",
        ),
        on="user_id",
        how="left",
    ).filter(pl.col("timestamp").is_null() | (pl.col("timestamp") >= pl.col("assigned_at")))
    purchase = pl.col("event") == "transaction"
    per_user = joined.group_by("experiment", "user_id", "variant", "assigned_at").agg(
        pl.col("timestamp").filter(purchase).min().alias("first_purchase"),
        pl.col("revenue").filter(purchase).sum().fill_null(0.0).alias("revenue"),
        pl.col("transaction_id").filter(purchase).drop_nulls().n_unique().alias("orders"),
        purchase.sum().fill_null(0).alias("items"),
        pl.col("session_id").drop_nulls().n_unique().alias("sessions"),
    )
    bots = ev.filter(pl.col("is_bot")).select(pl.col("visitor_id").alias("user_id")).unique()
    return (
        per_user.join(bots.with_columns(pl.lit(True).alias("is_bot")), on="user_id", how="left")
        .with_columns(
            pl.col("first_purchase").is_not_null().cast(pl.Float64).alias("conversion"),
            pl.col("orders").cast(pl.Float64),
            pl.col("items").cast(pl.Float64),
            pl.col("sessions").cast(pl.Float64),
            pl.col("is_bot").fill_null(False),
        )
        .collect()
    )


def _arm_sums(users: pl.DataFrame, metrics: Sequence[str]) -> pl.DataFrame:
    """One row per experiment x variant x metric: n, Σx, Σx² (and Σy, Σy², Σxy for ratios)."""
    per_metric = []
    for metric in metrics:
        num, den = _RATIO.get(metric, (metric, None))
        x = pl.col(num).cast(pl.Float64)
        y = pl.col(den).cast(pl.Float64) if den else pl.lit(0.0)
        per_metric.append(
            users.group_by("experiment", "variant").agg(
                pl.lit(metric).alias("metric"),
                pl.len().cast(pl.Float64).alias("n"),
                x.sum().alias("sum"),
                (x * x).sum().alias("sum_sq"),
                y.sum().alias("sum_den"),
                (y * y).sum().alias("sum_sq_den"),
                (x * y).sum().alias("sum_num_den"),
            )
        )
    return pl.concat(per_metric)


def _comparisons(sums: pl.DataFrame, controls: pl.DataFrame, level_: float) -> pl.DataFrame:
    """Every treatment variant against its experiment's control, for every metric, by the engine's
    batch comparison (one call per metric kind) and its batch Bayesian P(variant better)."""
    stat_cols = ["n", "sum", "sum_sq", "sum_den", "sum_sq_den", "sum_num_den"]
    with_ctrl = sums.join(controls, on="experiment")
    ctrl = with_ctrl.filter(pl.col("variant") == pl.col("control")).select(
        "experiment", "metric", *[pl.col(c).alias(f"{c}_a") for c in stat_cols]
    )
    treat = with_ctrl.filter(pl.col("variant") != pl.col("control")).rename({c: f"{c}_b" for c in stat_cols})
    pairs = treat.join(ctrl, on=["experiment", "metric"]).with_columns(
        pl.col("metric").replace_strict(METRIC_KIND, return_dtype=pl.String).alias("kind")
    )
    parts = []
    for kind in ("proportion", "mean", "ratio"):
        part = pairs.filter(pl.col("kind") == kind)
        if part.height == 0:
            continue
        compared = compare_from_sums(part, kind=kind, confidence_level=level_)  # type: ignore[arg-type]
        cols = {
            c: np.ascontiguousarray(part[c].to_numpy(), dtype=np.float64) for c in part.columns if c[:-2] in stat_cols
        }
        dens = {
            arm: (cols[f"sum_den_{arm}"], cols[f"sum_sq_den_{arm}"], cols[f"sum_num_den_{arm}"])
            if kind == "ratio"
            else None
            for arm in "ab"
        }
        prob = _native.exp_prob_better(
            kind,
            cols["n_a"], cols["sum_a"], cols["sum_sq_a"], cols["n_b"], cols["sum_b"], cols["sum_sq_b"],
            dens["a"], dens["b"],
        )  # fmt: skip
        parts.append(compared.with_columns(pl.Series("prob_better", prob)))
    return pl.concat(parts)


def _sequential_status(pvalue: float, alpha: float) -> str:
    if math.isnan(pvalue):
        return "no information yet (no variance in either arm)"
    return "stop: effect detected" if pvalue <= alpha else "continue"


def _day_counts(analysed: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Users assigned per day and buyers per day of their first purchase, per experiment and variant."""
    day = pl.col("assigned_at").dt.truncate("1d")
    # first_purchase >= assigned_at, so a buyer counts as converted from the day of purchase on.
    buy_day = pl.col("first_purchase").cast(analysed.schema["assigned_at"]).dt.truncate("1d")
    assign_days = analysed.group_by("experiment", "variant", day.alias("day")).agg(pl.len().cast(pl.Int64).alias("new"))
    buy_days = (
        analysed.filter(pl.col("first_purchase").is_not_null())
        .group_by("experiment", "variant", buy_day.alias("buy_day"))
        .agg(pl.len().cast(pl.Int64).alias("new_buyers"))
    )
    return assign_days, buy_days


def _sequential(
    assign_days: pl.DataFrame, buy_days: pl.DataFrame, controls: pl.DataFrame, alpha: float
) -> pl.DataFrame:
    """Always-valid p-value of the conversion difference after daily looks (users assigned by each
    day's end, converted by then), per experiment and treatment variant, from the daily counts of
    :func:`_day_counts` (of all users, or summed over partitions of them)."""
    days = assign_days.group_by("experiment").agg(pl.col("day").unique().sort()).explode("day")
    variants = assign_days.select("experiment", "variant").unique()
    grid = days.join(variants, on="experiment")
    # A buyer counts from the first look on or after the day of the purchase.
    bought = (
        buy_days.sort("buy_day")
        .join_asof(
            days.sort("day"),
            left_on="buy_day",
            right_on="day",
            by="experiment",
            strategy="forward",
            check_sortedness=False,  # both sides are sorted by day above, hence within each experiment
        )
        .filter(pl.col("day").is_not_null())
        .group_by("experiment", "variant", "day")
        .agg(pl.col("new_buyers").sum())
    )
    looks = (
        grid.join(assign_days, on=["experiment", "variant", "day"], how="left")
        .join(bought, on=["experiment", "variant", "day"], how="left")
        .sort("experiment", "variant", "day")
        .with_columns(
            pl.col("new").fill_null(0).cum_sum().over("experiment", "variant").alias("n"),
            pl.col("new_buyers").fill_null(0).cum_sum().over("experiment", "variant").alias("buyers"),
        )
    )
    rows = []
    for (exp_name, ctrl), exp_looks in looks.join(controls, on="experiment").group_by(
        "experiment", "control", maintain_order=True
    ):
        c = exp_looks.filter(pl.col("variant") == ctrl)
        for (variant,), t in exp_looks.filter(pl.col("variant") != ctrl).group_by("variant", maintain_order=True):
            both = c.select("day", "n", "buyers").join(t.select("day", "n", "buyers"), on="day", suffix="_t")
            usable = both.filter((pl.col("n") > 1) & (pl.col("n_t") > 1))
            if usable.height == 0:
                rows.append((exp_name, variant, float("nan"), 0))
                continue
            looks_c = [SufficientStats.from_sums(n, b, b) for n, b in usable.select("n", "buyers").iter_rows()]
            looks_t = [SufficientStats.from_sums(n, b, b) for n, b in usable.select("n_t", "buyers_t").iter_rows()]
            cs = confidence_sequence(looks_t, looks_c, alpha=alpha)
            rows.append((exp_name, variant, float(cs.pvalue[-1]), usable.height))
    return pl.DataFrame(
        rows,
        schema={"experiment": pl.String, "variant": pl.String, "sequential_pvalue": pl.Float64, "looks": pl.Int64},
        orient="row",
    )


def analyze(
    events: Any,
    assignments: Any = None,
    *,
    experiment: str | None = None,
    metrics: Sequence[str] = ("conversion", "revenue", "orders", "aov"),
    control: str | Mapping[str, str] | None = None,
    weights: Any = None,
    correction: AdjustMethod = "holm",
    alpha: float = 0.05,
    confidence_level: float = 0.95,
    exclude_bots: bool = True,
    srm_threshold: float = 0.001,
) -> ExperimentAnalysis:
    """Analyse A/B/n experiments: each variant against the control, for each metric.

    Per-user metrics come from the events after each user's assignment; their per-variant sums go
    to the engine's batch comparison (:func:`shoplens.compare_from_sums`): the two-proportion z
    test for ``conversion``, Welch's t test for per-user amounts, the delta method for ``aov``.

    Parameters
    ----------
    events : shoplens.Warehouse, polars or pandas DataFrame
        Clean events (the warehouse ``events`` table). With a warehouse, ``assignments`` and
        ``weights`` default to its ``assignments`` and ``experiment_weights`` tables.
    assignments : polars or pandas DataFrame
        ``experiment, user_id, variant, assigned_at``.
    experiment : str, optional
        Analyse only this experiment.
    metrics : sequence of str
        Keys of :data:`METRICS`; the first is the primary metric (sequential read-out).
    control : str or mapping, optional
        The control variant (per experiment with a mapping). Default: a variant named ``control``,
        else the first variant in sorted order.
    weights : DataFrame or mapping, optional
        Planned weights for the sample-ratio check (default: equal).
    correction : {"holm", "bonferroni", "bh"}
        Multiplicity adjustment over all metric x variant comparisons of an experiment.
    alpha : float
        Level of the verdicts (``significant``, sequential stop).
    confidence_level : float
        Level of the effect and lift intervals.
    exclude_bots : bool
        Leave flagged bots out of the comparisons (they still count in the SRM check).
    srm_threshold : float
        SRM alarm when the chi-square p-value is below this.

    Returns
    -------
    ExperimentAnalysis
        ``results`` columns: experiment, metric, variant, control, n, control_n, mean, control_mean,
        effect (variant minus control) with effect_low/effect_high, lift (relative) with
        lift_low/lift_high, statistic, pvalue, pvalue_adjusted, significant, prob_better (Bayesian
        P(variant > control)), srm_pvalue, srm_alarm, sequential_pvalue (primary metric).
        ``print(result.summary())`` shows the read-out.
    """
    from shoplens._pipeline import Warehouse

    if isinstance(events, Warehouse):
        wh = events
        events = wh.table("events")
        if assignments is None:
            assignments = wh.table("assignments")
        if weights is None and wh.has_table("experiment_weights"):
            weights = wh.table("experiment_weights")
    if assignments is None:
        raise InvalidArgumentError(
            "assignments must be given (a DataFrame), or events must be a warehouse that has them"
        )
    events = to_polars(events, "events")
    assignments = to_polars(assignments, "assignments")
    if is_pandas(weights):
        weights = to_polars(weights, "weights")
    if isinstance(metrics, str) or not isinstance(metrics, Sequence):
        raise InvalidArgumentError(f"metrics must be a sequence of metric names, got {metrics!r}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise InvalidArgumentError(f"unknown metrics {unknown}; choose from {sorted(METRICS)}")
    correction = choice(correction, _ADJUST, "correction")
    alpha = probability(alpha, "alpha")
    confidence_level = level(confidence_level)
    exclude_bots = flag(exclude_bots, "exclude_bots")
    srm_threshold = probability(srm_threshold, "srm_threshold")
    missing = {"experiment", "user_id", "variant", "assigned_at"} - set(assignments.columns)
    if missing:
        raise SchemaError(f"assignments lack columns {sorted(missing)}; found {assignments.columns}")
    if experiment is not None:
        known = sorted(str(e) for e in assignments["experiment"].unique().to_list())
        assignments = assignments.filter(pl.col("experiment") == experiment)
        if assignments.height == 0:
            raise InvalidArgumentError(f"experiment must be one of {known}, got {experiment!r}")
    users = user_metrics(events, assignments).with_columns(
        pl.col("experiment").cast(pl.String), pl.col("variant").cast(pl.String)
    )
    return analyze_aggregates(
        aggregates(users, metrics, exclude_bots),
        metrics=metrics,
        control=control,
        weights=weights,
        correction=correction,
        alpha=alpha,
        confidence_level=confidence_level,
        srm_threshold=srm_threshold,
    )


_STAT_COLUMNS = ("n", "sum", "sum_sq", "sum_den", "sum_sq_den", "sum_num_den")


@dataclass(frozen=True)
class Aggregates:
    """What an analysis needs of the per-user metrics: sums that add over any partition of the users.

    ``assigned``: users per experiment and variant (bots included, for the SRM check); ``sums``: the
    per-variant sufficient statistics of every metric over the analysed users; ``analysed``: analysed
    users per variant; ``assign_days`` / ``buy_days``: analysed users per assignment day and buyers per
    day of first purchase (the sequential read-out).
    """

    assigned: pl.DataFrame
    sums: pl.DataFrame
    analysed: pl.DataFrame
    assign_days: pl.DataFrame
    buy_days: pl.DataFrame

    def long(self) -> pl.DataFrame:
        """All five tables in one (``kind`` names the table), e.g. to collect them from a cluster."""
        base: dict[str, pl.DataType] = {
            "experiment": pl.String(),
            "variant": pl.String(),
            "metric": pl.String(),
            "day": pl.Datetime("ms"),
        }
        empty = {c: pl.lit(None, dtype=t) for c, t in base.items()}
        zero = {c: pl.lit(None, dtype=pl.Float64) for c in _STAT_COLUMNS}

        def part(kind: str, frame: pl.DataFrame, **cols: pl.Expr) -> pl.DataFrame:
            exprs = {**empty, **zero, **cols}
            exprs["experiment"], exprs["variant"] = pl.col("experiment"), pl.col("variant")
            return frame.select(
                pl.lit(kind).alias("kind"),
                *[e.cast(base.get(c, pl.Float64())).alias(c) for c, e in exprs.items()],
            )

        return pl.concat(
            [
                part("assigned", self.assigned, n=pl.col("assigned")),
                part("analysed", self.analysed, n=pl.col("n")),
                part("assign_day", self.assign_days, day=pl.col("day"), n=pl.col("new")),
                part("buy_day", self.buy_days, day=pl.col("buy_day"), n=pl.col("new_buyers")),
                part("sums", self.sums, metric=pl.col("metric"), **{c: pl.col(c) for c in _STAT_COLUMNS}),
            ]
        )

    @staticmethod
    def from_long(long: pl.DataFrame) -> Aggregates:
        """The sums of the rows of :meth:`long` tables (of disjoint sets of users)."""

        def total(kind: str, keys: list[str], value: str) -> pl.DataFrame:
            return (
                long.filter(pl.col("kind") == kind)
                .group_by(keys)
                .agg(pl.col("n").sum().round().cast(pl.Int64).alias(value))
            )

        sums = (
            long.filter(pl.col("kind") == "sums")
            .group_by("experiment", "variant", "metric")
            .agg(pl.col(c).sum() for c in _STAT_COLUMNS)
        )
        return Aggregates(
            assigned=total("assigned", ["experiment", "variant"], "assigned"),
            sums=sums,
            analysed=total("analysed", ["experiment", "variant"], "n"),
            assign_days=total("assign_day", ["experiment", "variant", "day"], "new"),
            buy_days=total("buy_day", ["experiment", "variant", "day"], "new_buyers").rename({"day": "buy_day"}),
        )


def aggregates(users: pl.DataFrame, metrics: Sequence[str], exclude_bots: bool = True) -> Aggregates:
    """The :class:`Aggregates` of per-user metrics (:func:`user_metrics`)."""
    analysed = users.filter(~pl.col("is_bot")) if exclude_bots else users
    assign_days, buy_days = _day_counts(analysed)
    return Aggregates(
        assigned=users.group_by("experiment", "variant").agg(pl.len().cast(pl.Int64).alias("assigned")),
        sums=_arm_sums(analysed, metrics),
        analysed=analysed.group_by("experiment", "variant").agg(pl.len().cast(pl.Int64).alias("n")),
        assign_days=assign_days,
        buy_days=buy_days,
    )


def analyze_aggregates(
    agg: Aggregates,
    *,
    metrics: Sequence[str] = ("conversion", "revenue", "orders", "aov"),
    control: str | Mapping[str, str] | None = None,
    weights: Any = None,
    correction: AdjustMethod = "holm",
    alpha: float = 0.05,
    confidence_level: float = 0.95,
    srm_threshold: float = 0.001,
) -> ExperimentAnalysis:
    """The read-out of :func:`analyze` from :class:`Aggregates` (computed at once, or summed over
    partitions of the users, e.g. by :func:`shoplens.spark.analyze`)."""
    correction = choice(correction, _ADJUST, "correction")
    alpha = probability(alpha, "alpha")
    confidence_level = level(confidence_level)
    srm_threshold = probability(srm_threshold, "srm_threshold")
    if is_pandas(weights):
        weights = to_polars(weights, "weights")
    planned = _planned_weights(weights)

    # Per experiment: variants, control, assigned counts and the SRM check (one engine call each).
    summaries_in: dict[str, dict[str, Any]] = {}
    assigned_tbl = agg.assigned.sort("experiment", "variant")
    for (exp_name,), counts in assigned_tbl.group_by("experiment", maintain_order=True):
        variants = tuple(counts["variant"].to_list())
        ctrl = _control(str(exp_name), variants, control)
        assigned = dict(zip(variants, counts["assigned"].to_list(), strict=True))
        w = planned.get(str(exp_name)) or dict.fromkeys(variants, 1.0)
        srm = stats.srm_test(
            [assigned[v] for v in variants], [w.get(v, 0.0) for v in variants], threshold=srm_threshold
        )
        summaries_in[str(exp_name)] = dict(control=ctrl, variants=variants, assigned=assigned, w=w, srm=srm)
    controls = pl.DataFrame(
        {"experiment": list(summaries_in), "control": [s["control"] for s in summaries_in.values()]},
        schema={"experiment": pl.String, "control": pl.String},
    )

    compared = _comparisons(agg.sums, controls, confidence_level)
    seq = _sequential(agg.assign_days, agg.buy_days, controls, alpha)

    order = {m: i for i, m in enumerate(metrics)}
    table = (
        compared.join(seq, on=["experiment", "variant"], how="left")
        .with_columns(pl.col("metric").replace_strict(order, return_dtype=pl.Int64).alias("_order"))
        .sort("experiment", "variant", "_order")
    )
    adjusted = []
    for _, part in table.group_by("experiment", maintain_order=True):
        p = part["pvalue"].to_numpy()
        adj = np.full(p.shape, np.nan)
        finite = np.isfinite(p)
        if finite.any():
            adj[finite] = stats.adjust_pvalues(p[finite], method=correction)
        adjusted.append(pl.Series("pvalue_adjusted", adj))
    table = table.with_columns(pl.concat(adjusted) if adjusted else pl.Series("pvalue_adjusted", [], pl.Float64))
    srm_frame = pl.DataFrame(
        {
            "experiment": list(summaries_in),
            "srm_pvalue": [s["srm"].pvalue for s in summaries_in.values()],
            "srm_alarm": [bool(s["srm"].alarm) for s in summaries_in.values()],
        },
        schema={"experiment": pl.String, "srm_pvalue": pl.Float64, "srm_alarm": pl.Boolean},
    )
    primary = metrics[0]
    results = table.join(srm_frame, on="experiment", how="left", maintain_order="left").select(
        "experiment", "metric", "variant", "control",
        pl.col("n_b").cast(pl.Int64).alias("n"), pl.col("n_a").cast(pl.Int64).alias("control_n"),
        pl.col("mean_b").alias("mean"), pl.col("mean_a").alias("control_mean"),
        "effect", "effect_low", "effect_high", "lift", "lift_low", "lift_high", "statistic", "pvalue",
        "pvalue_adjusted",
        (pl.col("pvalue_adjusted").is_not_nan() & (pl.col("pvalue_adjusted") <= alpha)).alias("significant"),
        "prob_better", "srm_pvalue", "srm_alarm",
        pl.when(pl.col("metric") == primary).then(pl.col("sequential_pvalue")).otherwise(float("nan"))
        .alias("sequential_pvalue"),
    )  # fmt: skip

    analysed_counts = agg.analysed
    summaries: dict[str, ExperimentSummary] = {}
    for exp_name, s in summaries_in.items():
        exp_seq = seq.filter(pl.col("experiment") == exp_name)
        seq_p = dict(zip(exp_seq["variant"].to_list(), exp_seq["sequential_pvalue"].to_list(), strict=True))
        n_looks = int(exp_seq["looks"].max() or 0) if exp_seq.height else 0  # type: ignore[arg-type]
        counted = analysed_counts.filter(pl.col("experiment") == exp_name)
        got = dict(zip(counted["variant"].to_list(), counted["n"].to_list(), strict=True))
        summaries[exp_name] = ExperimentSummary(
            experiment=exp_name, control=s["control"], variants=s["variants"], assigned=s["assigned"],
            analysed={v: int(got.get(v, 0)) for v in s["variants"]}, planned_weights=s["w"], srm=s["srm"],
            sequential_pvalue=seq_p,
            sequential_status={v: _sequential_status(p, alpha) for v, p in seq_p.items()},
            looks=n_looks,
        )  # fmt: skip
    return ExperimentAnalysis(results, summaries)


def _planned_weights(weights: Any) -> dict[str, dict[str, float]]:
    if weights is None:
        return {}
    if isinstance(weights, pl.DataFrame):
        out: dict[str, dict[str, float]] = {}
        for exp, var, w in weights.select("experiment", "variant", "weight").iter_rows():
            out.setdefault(str(exp), {})[str(var)] = float(w)
        return out
    if not isinstance(weights, Mapping):
        raise InvalidArgumentError(
            f"weights must be a DataFrame (experiment, variant, weight) or a mapping, got {type(weights).__name__}"
        )
    return {str(k): {str(v): float(w) for v, w in m.items()} for k, m in weights.items()}


def _control(experiment: str, variants: tuple[str, ...], control: str | Mapping[str, str] | None) -> str:
    chosen = control.get(experiment) if isinstance(control, Mapping) else control
    if chosen is None:
        chosen = "control" if "control" in variants else variants[0]
    if chosen not in variants:
        raise InvalidArgumentError(f"{experiment}: control must be one of {list(variants)}, got {chosen!r}")
    if len(variants) < 2:
        raise InvalidArgumentError(f"{experiment}: needs at least two variants, has {list(variants)}")
    return chosen
