"""Experiment analysis: assignments + clean events -> per-user metrics -> per-variant sufficient
statistics -> tests, intervals, multiplicity, Bayesian and sequential read-outs, and the SRM check."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import polars as pl

from shoplens import stats
from shoplens.errors import InvalidArgumentError, SchemaError
from shoplens.experiments import SufficientStats, bayes_means, bayes_proportions, confidence_sequence

__all__ = ["METRICS", "ExperimentAnalysis", "ExperimentSummary", "analyze", "user_metrics"]

#: Metric name -> what it counts, per assigned user, from assignment time on.
METRICS: dict[str, str] = {
    "conversion": "1 if the user made at least one purchase after assignment, else 0",
    "revenue": "sum of item prices over the user's purchase rows after assignment",
    "orders": "distinct orders (transaction ids) after assignment",
    "items": "purchase rows (item lines) after assignment",
    "sessions": "sessions with at least one event after assignment",
    "aov": "revenue / orders over the variant's users (ratio metric, delta method)",
}
_BINARY = {"conversion"}
_RATIO = {"aov": ("revenue", "orders")}


@dataclass(frozen=True)
class ExperimentSummary:
    """Per-experiment verdicts: sample sizes, sample-ratio mismatch and sequential status."""

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
        srm = "SAMPLE-RATIO MISMATCH" if self.srm.alarm else "no sample-ratio mismatch"
        counts = ", ".join(f"{v} {self.assigned[v]:,}" for v in self.variants)
        return f"{self.experiment}: {counts}; {srm} (chi2 p = {self.srm.pvalue:.3g})"


@dataclass(frozen=True)
class ExperimentAnalysis:
    """Result of :func:`analyze`: ``results`` (one row per experiment x metric x variant) and
    ``summaries`` (one :class:`ExperimentSummary` per experiment)."""

    results: pl.DataFrame
    summaries: Mapping[str, ExperimentSummary] = field(default_factory=dict)


def user_metrics(events: pl.DataFrame | pl.LazyFrame, assignments: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One row per assignment with the user's metrics from ``assigned_at`` on (see :data:`METRICS`).

    Users without events after assignment count with zeros: they were assigned, so they are in the
    denominator. ``is_bot`` is true when the user is a flagged bot.
    """
    ev = events.lazy()
    asg = assignments.lazy().select("experiment", "user_id", "variant", "assigned_at")
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


def _moments(df: pl.DataFrame, metric: str) -> SufficientStats:
    col = df[metric].cast(pl.Float64)
    return SufficientStats.from_sums(df.height, float(col.sum()), float((col * col).sum()))


def _std(s: SufficientStats) -> float:
    return math.sqrt(s.variance) if s.n > 1 else float("nan")


def _compare(metric: str, treat: pl.DataFrame, ctrl: pl.DataFrame, level: float) -> dict[str, float]:
    """Treatment minus control for one metric: effect, CI, relative lift, p-value, P(better)."""
    if metric in _RATIO:
        num, den = _RATIO[metric]
        st = stats.RatioMetricStats.from_arrays(treat[num].to_numpy(), treat[den].to_numpy())
        sc = stats.RatioMetricStats.from_arrays(ctrl[num].to_numpy(), ctrl[den].to_numpy())
        r = stats.ratio_metric_test_from_stats(st, sc)
        lo, hi = r.confidence_interval(level)
        lift = r.relative_lift()
        llo, lhi = lift.confidence_interval(level)
        z = r.difference / r.standard_error if r.standard_error > 0 else float("nan")
        prob = 0.5 * math.erfc(-z / math.sqrt(2)) if math.isfinite(z) else float("nan")
        return dict(
            mean=r.ratio1, control_mean=r.ratio2, effect=r.difference, effect_low=lo, effect_high=hi,
            lift=lift.estimate, lift_low=llo, lift_high=lhi, statistic=r.statistic, pvalue=r.pvalue,
            prob_better=prob,
        )  # fmt: skip
    mt, mc = _moments(treat, metric), _moments(ctrl, metric)
    if metric in _BINARY:
        ct, cc = round(mt.mean * mt.n), round(mc.mean * mc.n)
        test = stats.test_proportions_2indep(ct, mt.n, cc, mc.n)
        lo, hi = test.confidence_interval(level)
        lift = stats.relative_lift_proportions(ct, mt.n, cc, mc.n)
        bayes = bayes_proportions(cc, mc.n, ct, mt.n).prob_b_beats_a
    else:
        test = stats.ttest_ind_from_stats(mt.mean, _std(mt), mt.n, mc.mean, _std(mc), mc.n)
        lo, hi = test.confidence_interval(level)
        lift = stats.relative_lift_means(mt.mean, _std(mt), mt.n, mc.mean, _std(mc), mc.n)
        bayes = bayes_means(mc, mt).prob_b_beats_a if mt.n > 1 and mc.n > 1 else float("nan")
    llo, lhi = lift.confidence_interval(level)
    return dict(
        mean=mt.mean, control_mean=mc.mean, effect=mt.mean - mc.mean, effect_low=lo, effect_high=hi,
        lift=lift.estimate, lift_low=llo, lift_high=lhi, statistic=test.statistic, pvalue=test.pvalue,
        prob_better=bayes,
    )  # fmt: skip


def _sequential(users: pl.DataFrame, control: str, variant: str, alpha: float) -> tuple[float, int]:
    """Always-valid p-value of the conversion difference after daily looks (users assigned by each
    day's end, converted by then)."""
    days = users.select(pl.col("assigned_at").dt.truncate("1d").unique().sort())["assigned_at"].to_list()
    looks_c: list[SufficientStats] = []
    looks_t: list[SufficientStats] = []
    for day in days:
        cutoff = day + timedelta(days=1)
        seen = users.filter(pl.col("assigned_at") < cutoff)
        conv = (pl.col("first_purchase") < cutoff).fill_null(False).cast(pl.Float64)
        for arm, looks in ((control, looks_c), (variant, looks_t)):
            x = seen.filter(pl.col("variant") == arm).select(conv.alias("c"))["c"]
            looks.append(SufficientStats.from_sums(x.len(), float(x.sum()), float(x.sum())))
    usable = [i for i in range(len(days)) if looks_c[i].n > 1 and looks_t[i].n > 1]
    if not usable:
        return float("nan"), 0
    cs = confidence_sequence([looks_t[i] for i in usable], [looks_c[i] for i in usable], alpha=alpha)
    return float(cs.pvalue[-1]), len(usable)


def analyze(
    events: Any,
    assignments: Any = None,
    *,
    experiment: str | None = None,
    metrics: Sequence[str] = ("conversion", "revenue", "orders", "aov"),
    control: str | Mapping[str, str] | None = None,
    weights: pl.DataFrame | Mapping[str, Mapping[str, float]] | None = None,
    correction: stats.AdjustMethod = "holm",
    alpha: float = 0.05,
    confidence_level: float = 0.95,
    exclude_bots: bool = True,
    srm_threshold: float = 0.001,
) -> ExperimentAnalysis:
    """Analyse A/B/n experiments: each variant against the control, for each metric.

    Parameters
    ----------
    events : polars DataFrame or shoplens.Warehouse
        Clean events (the warehouse ``events`` table). With a warehouse, ``assignments`` and
        ``weights`` default to its ``assignments`` and ``experiment_weights`` tables.
    assignments : polars DataFrame
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

    Returns
    -------
    ExperimentAnalysis
        ``results`` columns: experiment, metric, variant, control, n, control_n, mean, control_mean,
        effect (variant minus control) with effect_low/effect_high, lift (relative) with
        lift_low/lift_high, statistic, pvalue, pvalue_adjusted, significant, prob_better (Bayesian
        P(variant > control)), srm_pvalue, srm_alarm, sequential_pvalue (primary metric).
    """
    from shoplens._pipeline import Warehouse

    if isinstance(events, Warehouse):
        wh = events
        events = wh.table("events")
        if assignments is None:
            assignments = wh.table("assignments")
        if weights is None and (wh.path / "experiment_weights.parquet").exists():
            weights = wh.table("experiment_weights")
    if assignments is None:
        raise InvalidArgumentError("analyze needs assignments (or a warehouse that has them)")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise InvalidArgumentError(f"unknown metrics {unknown}; choose from {sorted(METRICS)}")
    missing = {"experiment", "user_id", "variant", "assigned_at"} - set(assignments.columns)
    if missing:
        raise SchemaError(f"assignments lack columns {sorted(missing)}")
    if experiment is not None:
        assignments = assignments.filter(pl.col("experiment") == experiment)
        if assignments.height == 0:
            raise InvalidArgumentError(f"no assignments for experiment {experiment!r}")
    users = user_metrics(events, assignments)
    planned = _planned_weights(weights)
    rows: list[dict[str, Any]] = []
    summaries: dict[str, ExperimentSummary] = {}
    for (name,), exp_users in sorted(users.group_by(["experiment"]), key=lambda kv: str(kv[0][0])):
        exp_name = str(name)
        variants = tuple(sorted(exp_users["variant"].unique().to_list()))
        ctrl = _control(exp_name, variants, control)
        assigned = {v: exp_users.filter(pl.col("variant") == v).height for v in variants}
        w = planned.get(exp_name) or dict.fromkeys(variants, 1.0)
        srm = stats.srm_test(
            [assigned[v] for v in variants], [w.get(v, 0.0) for v in variants], threshold=srm_threshold
        )
        analysed_users = exp_users.filter(~pl.col("is_bot")) if exclude_bots else exp_users
        arms = {v: analysed_users.filter(pl.col("variant") == v) for v in variants}
        exp_rows = []
        seq_p: dict[str, float] = {}
        seq_status: dict[str, str] = {}
        looks = 0
        for v in variants:
            if v == ctrl:
                continue
            seq_p[v], looks = _sequential(analysed_users, ctrl, v, alpha)
            seq_status[v] = "stop: effect detected" if seq_p[v] <= alpha else "continue"
            for metric in metrics:
                res = _compare(metric, arms[v], arms[ctrl], confidence_level)
                exp_rows.append(
                    dict(
                        experiment=exp_name, metric=metric, variant=v, control=ctrl, n=arms[v].height,
                        control_n=arms[ctrl].height, **res, srm_pvalue=srm.pvalue, srm_alarm=srm.alarm,
                        sequential_pvalue=seq_p[v] if metric == metrics[0] else float("nan"),
                    )
                )  # fmt: skip
        pvals = [r["pvalue"] for r in exp_rows]
        finite = [i for i, p in enumerate(pvals) if math.isfinite(p)]
        adjusted = [float("nan")] * len(pvals)
        if finite:
            adj = stats.adjust_pvalues([pvals[i] for i in finite], method=correction)
            for i, a in zip(finite, adj, strict=True):
                adjusted[i] = float(a)
        for r, a in zip(exp_rows, adjusted, strict=True):
            r["pvalue_adjusted"] = a
            r["significant"] = bool(math.isfinite(a) and a <= alpha)
        rows.extend(exp_rows)
        summaries[exp_name] = ExperimentSummary(
            experiment=exp_name, control=ctrl, variants=variants, assigned=assigned,
            analysed={v: arms[v].height for v in variants}, planned_weights=w, srm=srm,
            sequential_pvalue=seq_p, sequential_status=seq_status, looks=looks,
        )  # fmt: skip
    return ExperimentAnalysis(_results_frame(rows), summaries)


_COLUMNS = [
    "experiment", "metric", "variant", "control", "n", "control_n", "mean", "control_mean", "effect",
    "effect_low", "effect_high", "lift", "lift_low", "lift_high", "statistic", "pvalue", "pvalue_adjusted",
    "significant", "prob_better", "srm_pvalue", "srm_alarm", "sequential_pvalue",
]  # fmt: skip


def _results_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema: dict[str, Any] = dict.fromkeys(_COLUMNS, pl.Float64)
    schema.update(
        experiment=pl.String, metric=pl.String, variant=pl.String, control=pl.String, n=pl.Int64,
        control_n=pl.Int64, significant=pl.Boolean, srm_alarm=pl.Boolean,
    )  # fmt: skip
    return pl.DataFrame([{c: r.get(c) for c in _COLUMNS} for r in rows], schema=schema, orient="row")


def _planned_weights(weights: Any) -> dict[str, dict[str, float]]:
    if weights is None:
        return {}
    if isinstance(weights, pl.DataFrame):
        out: dict[str, dict[str, float]] = {}
        for exp, var, w in weights.select("experiment", "variant", "weight").iter_rows():
            out.setdefault(str(exp), {})[str(var)] = float(w)
        return out
    return {str(k): {str(v): float(w) for v, w in m.items()} for k, m in weights.items()}


def _control(experiment: str, variants: tuple[str, ...], control: str | Mapping[str, str] | None) -> str:
    chosen = control.get(experiment) if isinstance(control, Mapping) else control
    if chosen is None:
        chosen = "control" if "control" in variants else variants[0]
    if chosen not in variants:
        raise InvalidArgumentError(f"{experiment}: control {chosen!r} is not one of {list(variants)}")
    if len(variants) < 2:
        raise InvalidArgumentError(f"{experiment}: needs at least two variants, has {list(variants)}")
    return chosen
