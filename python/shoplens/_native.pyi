# Stubs of the native module shoplens._native (checked by `python -m mypy.stubtest` in `make lint`).
# One section per area of the engine.

from typing import TypedDict, final

import numpy as np
import numpy.typing as npt
import polars as pl

__version__: str

# The module's __all__ (pyo3 lists every registered name; stubtest compares the two).
__all__ = [
    "DB_URL_ENV",
    "KPI_ANOMALY_FALSE_FLAG_RATE",
    "KPI_HOURLY_ANOMALY_ALPHA",
    "KPI_HOURLY_ANOMALY_WINDOWS",
    "KPI_LIFECYCLE_WINDOW_DAYS",
    "KpiIndex",
    "__version__",
    "bgnbd_expected_purchases_new",
    "bgnbd_log_likelihood",
    "bgnbd_predict",
    "build_event_partition",
    "build_events",
    "build_partition",
    "build_warehouse",
    "check_event_file",
    "clean_events",
    "clean_retailrocket",
    "clv_customers",
    "clv_summary",
    "clv_summary_events",
    "cohort_retention",
    "compare_from_sums",
    "customer_lifetime_value",
    "db_has_table",
    "db_last_report",
    "db_load",
    "db_migrate",
    "db_migrate_down",
    "db_read_tables",
    "db_redact",
    "db_status",
    "db_tables",
    "derived_tables",
    "exp_bayes_means",
    "exp_bayes_proportions",
    "exp_bootstrap_ci",
    "exp_bootstrap_interval",
    "exp_comoments",
    "exp_comoments_from_sums",
    "exp_comoments_to_sums",
    "exp_confidence_sequence",
    "exp_cuped",
    "exp_cuped_from_stats",
    "exp_group_sequential_bounds",
    "exp_merge_comoments",
    "exp_merge_moments",
    "exp_moments",
    "exp_moments_from_mean_var",
    "exp_moments_from_sums",
    "exp_moments_to_sums",
    "exp_prob_better",
    "exp_simulate",
    "exp_simulate_peeking",
    "exp_winsorize",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "gamma_gamma_expected_spend",
    "gamma_gamma_log_likelihood",
    "generate",
    "kpi_anomalies",
    "kpi_index_from_frames",
    "merge_event_partitions",
    "merge_partitions",
    "partition_event_keys",
    "partition_line_keys",
    "simulate_bgnbd",
    "stats_adjust_pvalues",
    "stats_chi2_contingency",
    "stats_compare_arms_means",
    "stats_compare_arms_proportions",
    "stats_duration_days",
    "stats_fisher_confint",
    "stats_fisher_exact",
    "stats_mannwhitneyu",
    "stats_mde_proportions_2indep",
    "stats_mde_ttest_ind",
    "stats_nct_cdf_sf",
    "stats_normal_confint",
    "stats_power_proportions_2indep",
    "stats_power_ttest_ind",
    "stats_proportion_confint",
    "stats_proportions_diff_confint",
    "stats_ratio_metric_stats",
    "stats_ratio_metric_test",
    "stats_relative_lift",
    "stats_relative_lift_confint",
    "stats_relative_lift_means",
    "stats_relative_lift_proportions",
    "stats_samplesize_proportions_2indep",
    "stats_samplesize_ttest_ind",
    "stats_srm_test",
    "stats_t_confint",
    "stats_test_proportions_2indep",
    "stats_ttest_ind",
    "stats_ttest_ind_from_stats",
]

# --- pipeline ---
def clean_retailrocket(raw_dir: str, config_json: str | None = None) -> tuple[dict[str, pl.DataFrame], str]: ...
def clean_events(
    source: str | pl.DataFrame,
    mapping_json: str,
    config_json: str | None = None,
    name: str | None = None,
    index: list[int] | None = None,
) -> tuple[dict[str, pl.DataFrame], str]: ...
def build_events(
    source: str | pl.DataFrame,
    out_dir: str,
    mapping_json: str,
    config_json: str | None = None,
    name: str | None = None,
    index: list[int] | None = None,
    progress: bool = False,
) -> str: ...
def build_warehouse(
    raw_dir: str,
    out_dir: str,
    config_json: str | None = None,
    progress: bool = False,
    memory_limit: int | None = None,
    partitions: int | None = None,
) -> str: ...

# --- partitioned builds (src/bindings/partitioned.rs) ---

def partition_line_keys(frame: pl.DataFrame, config_json: str | None = None) -> pl.DataFrame: ...
def build_partition(
    partition: int,
    frame: pl.DataFrame,
    raw_dir: str,
    part_dir: str,
    config_json: str | None = None,
) -> bytes: ...
def merge_partitions(partials: list[bytes], raw_dir: str, out_dir: str, config_json: str | None = None) -> str: ...
def check_event_file(events_path: str, mapping_json: str, config_json: str | None = None) -> None: ...
def partition_event_keys(frame: pl.DataFrame, events_path: str, mapping_json: str) -> pl.DataFrame: ...
def build_event_partition(
    partition: int,
    frame: pl.DataFrame,
    events_path: str,
    mapping_json: str,
    part_dir: str,
    config_json: str | None = None,
) -> bytes: ...
def merge_event_partitions(
    partials: list[bytes], events_path: str, mapping_json: str, out_dir: str, config_json: str | None = None
) -> str: ...

# --- generate ---

class _GenerateSummary(TypedDict):
    out_dir: str
    files: dict[str, str]
    rows: dict[str, int]

def generate(
    out_dir: str,
    scale: float = 1.0,
    seed: int = 42,
    inject_anomalies: bool = True,
    progress: bool = False,
) -> _GenerateSummary: ...

# --- end generate ---

# --- stats ---
_Table2x2 = tuple[tuple[int, int], tuple[int, int]]
_RatioStats = tuple[float, float, float, float, float, float]

# Result records: a key renamed on one side of the boundary fails mypy on the Python side.
class _ProportionsTest(TypedDict):
    statistic: float
    pvalue: float
    chi2_statistic: float
    chi2_pvalue: float
    proportion1: float
    proportion2: float
    difference: float

class _TTest(TypedDict):
    statistic: float
    pvalue: float
    df: float
    estimate: float
    standard_error: float
    mean1: float
    mean2: float

class _MannWhitney(TypedDict):
    statistic: float
    pvalue: float
    method: str

class _Chi2Contingency(TypedDict):
    statistic: float
    pvalue: float
    dof: int
    expected_freq: npt.NDArray[np.float64]

class _FisherExact(TypedDict):
    statistic: float
    pvalue: float

class _Srm(TypedDict):
    statistic: float
    pvalue: float
    dof: int
    expected: npt.NDArray[np.float64]
    alarm: bool

class _RelativeLift(TypedDict):
    estimate: float
    statistic: float
    pvalue: float
    standard_error: float
    first: float
    second: float
    variance_first: float
    variance_second: float
    covariance: float

class _RatioMetricTest(TypedDict):
    statistic: float
    pvalue: float
    ratio1: float
    ratio2: float
    difference: float
    standard_error: float
    variance1: float
    variance2: float

class _ArmsProportions(TypedDict):
    arms: list[int]
    tests: list[_ProportionsTest]
    pvalues_adjusted: list[float]

class _ArmsMeans(TypedDict):
    arms: list[int]
    tests: list[_TTest]
    pvalues_adjusted: list[float]

def stats_test_proportions_2indep(
    count1: float, nobs1: float, count2: float, nobs2: float, alternative: str, correction: bool
) -> _ProportionsTest: ...
def stats_proportions_diff_confint(
    count1: float,
    nobs1: float,
    count2: float,
    nobs2: float,
    confidence_level: float,
    alternative: str,
    correction: bool,
) -> tuple[float, float]: ...
def stats_proportion_confint(
    count: float, nobs: float, confidence_level: float, method: str
) -> tuple[float, float]: ...
def stats_ttest_ind(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], equal_var: bool, alternative: str
) -> _TTest: ...
def stats_ttest_ind_from_stats(
    mean1: float,
    std1: float,
    nobs1: float,
    mean2: float,
    std2: float,
    nobs2: float,
    equal_var: bool,
    alternative: str,
) -> _TTest: ...
def stats_t_confint(
    estimate: float, standard_error: float, df: float, confidence_level: float, alternative: str
) -> tuple[float, float]: ...
def stats_normal_confint(
    estimate: float, standard_error: float, confidence_level: float, alternative: str
) -> tuple[float, float]: ...
def stats_mannwhitneyu(
    a: npt.NDArray[np.float64],
    b: npt.NDArray[np.float64],
    alternative: str,
    use_continuity: bool,
    method: str,
) -> _MannWhitney: ...
def stats_chi2_contingency(
    table: npt.NDArray[np.float64], nrows: int, ncols: int, correction: bool
) -> _Chi2Contingency: ...
def stats_fisher_exact(table: _Table2x2, alternative: str) -> _FisherExact: ...
def stats_fisher_confint(table: _Table2x2, confidence_level: float, alternative: str) -> tuple[float, float]: ...
def stats_srm_test(observed: npt.NDArray[np.float64], weights: npt.NDArray[np.float64], threshold: float) -> _Srm: ...
def stats_adjust_pvalues(pvalues: npt.NDArray[np.float64], method: str) -> npt.NDArray[np.float64]: ...
def stats_relative_lift(
    first: float,
    variance_first: float,
    second: float,
    variance_second: float,
    covariance: float,
    method: str,
    alternative: str,
) -> _RelativeLift: ...
def stats_relative_lift_confint(
    first: float,
    variance_first: float,
    second: float,
    variance_second: float,
    covariance: float,
    method: str,
    alternative: str,
    confidence_level: float,
) -> tuple[float, float]: ...
def stats_relative_lift_proportions(
    count1: float, nobs1: float, count2: float, nobs2: float, method: str, alternative: str
) -> _RelativeLift: ...
def stats_relative_lift_means(
    mean1: float,
    std1: float,
    nobs1: float,
    mean2: float,
    std2: float,
    nobs2: float,
    method: str,
    alternative: str,
) -> _RelativeLift: ...
def stats_ratio_metric_stats(
    numerator: npt.NDArray[np.float64], denominator: npt.NDArray[np.float64]
) -> _RatioStats: ...
def stats_ratio_metric_test(first: _RatioStats, second: _RatioStats, alternative: str) -> _RatioMetricTest: ...
def stats_compare_arms_proportions(
    counts: npt.NDArray[np.float64],
    nobs: npt.NDArray[np.float64],
    control: int,
    alternative: str,
    correction: bool,
    method: str,
) -> _ArmsProportions: ...
def stats_compare_arms_means(
    means: npt.NDArray[np.float64],
    stds: npt.NDArray[np.float64],
    nobs: npt.NDArray[np.float64],
    control: int,
    equal_var: bool,
    alternative: str,
    method: str,
) -> _ArmsMeans: ...
def stats_power_proportions_2indep(
    p1: float, p2: float, nobs1: float, alpha: float, alternative: str, strict: bool
) -> float: ...
def stats_samplesize_proportions_2indep(
    p1: float, p2: float, power: float, alpha: float, alternative: str, strict: bool
) -> float: ...
def stats_mde_proportions_2indep(
    p1: float,
    nobs1: float,
    power: float,
    alpha: float,
    alternative: str,
    strict: bool,
    increase: bool,
) -> float: ...
def stats_power_ttest_ind(
    delta: float, sd: float, nobs1: float, alpha: float, alternative: str, strict: bool
) -> float: ...
def stats_samplesize_ttest_ind(
    delta: float, sd: float, power: float, alpha: float, alternative: str, strict: bool
) -> float: ...
def stats_mde_ttest_ind(
    sd: float, nobs1: float, power: float, alpha: float, alternative: str, strict: bool
) -> float: ...
def stats_duration_days(total_nobs: float, daily_traffic: float) -> int: ...
def stats_nct_cdf_sf(t: float, df: float, nc: float) -> tuple[float, float]: ...

# --- end stats ---

# --- experiments ---

_Moments = tuple[int, float, float]
_CoMoments = tuple[int, float, float, float, float, float]
_Rate = tuple[int, int, float, float, float]
_F64 = npt.NDArray[np.float64]

class _Welch(TypedDict):
    difference: float
    std_error: float
    df: float
    statistic: float
    pvalue: float
    ci_low: float
    ci_high: float

class _CupedArm(TypedDict):
    n: int
    mean: float
    variance: float
    mean_covariate: float
    adjusted_mean: float
    adjusted_variance: float
    variance_reduction: float

class _CupedComparison(TypedDict):
    arm: int
    control: int
    adjusted: _Welch
    unadjusted: _Welch
    variance_reduction: float

class _Cuped(TypedDict):
    theta: float
    pooled_mean_covariate: float
    arms: list[_CupedArm]
    comparisons: list[_CupedComparison]

class _Bootstrap(TypedDict):
    estimate: float
    ci_low: float
    ci_high: float
    standard_error: float
    bias_correction: float
    acceleration: float
    distribution: _F64

class _BetaArm(TypedDict):
    alpha: float
    beta: float
    mean: float
    ci_low: float
    ci_high: float

class _BayesProportions(TypedDict):
    a: _BetaArm
    b: _BetaArm
    prob_b_beats_a: float
    method: str
    expected_loss_a: float
    expected_loss_b: float
    diff_mean: float
    diff_ci_low: float
    diff_ci_high: float

class _NormalArm(TypedDict):
    mean: float
    std_error: float
    ci_low: float
    ci_high: float

class _BayesMeans(TypedDict):
    a: _NormalArm
    b: _NormalArm
    prob_b_beats_a: float
    expected_loss_a: float
    expected_loss_b: float
    diff_mean: float
    diff_std_error: float
    diff_ci_low: float
    diff_ci_high: float

class _ConfidenceSequence(TypedDict):
    mixing_variance: float
    estimate: _F64
    std_error: _F64
    pvalue: _F64
    ci_low: _F64
    ci_high: _F64

class _GroupSequential(TypedDict):
    info_fractions: _F64
    z: _F64
    nominal_alpha: _F64
    cumulative_alpha: _F64

class _Peeking(TypedDict):
    mixing_variance: float
    always_valid: _Rate
    naive_peeking: _Rate
    final_look: _Rate

def exp_moments(values: _F64) -> _Moments: ...
def exp_comoments(x: _F64, y: _F64) -> _CoMoments: ...
def exp_merge_moments(a: _Moments, b: _Moments) -> _Moments: ...
def exp_merge_comoments(a: _CoMoments, b: _CoMoments) -> _CoMoments: ...
def exp_moments_to_sums(m: _Moments) -> tuple[int, float, float]: ...
def exp_moments_from_sums(n: int, sum: float, sum_sq: float) -> _Moments: ...
def exp_moments_from_mean_var(n: int, mean: float, variance: float) -> _Moments: ...
def exp_comoments_to_sums(c: _CoMoments) -> tuple[int, float, float, float, float, float]: ...
def exp_comoments_from_sums(
    n: int, sum_x: float, sum_y: float, sum_xx: float, sum_yy: float, sum_xy: float
) -> _CoMoments: ...
def exp_cuped(
    y: _F64,
    x: _F64,
    arms: npt.NDArray[np.uint32],
    n_arms: int,
    control: int,
    alternative: str,
    confidence_level: float,
) -> _Cuped: ...
def exp_cuped_from_stats(arms: list[_CoMoments], control: int, alternative: str, confidence_level: float) -> _Cuped: ...
def exp_winsorize(
    values: _F64, lower: float, upper: float, nonzero_only: bool
) -> tuple[_F64, float, float, int, int]: ...
def exp_bootstrap_ci(
    a: _F64,
    b: _F64 | None,
    a_den: _F64 | None,
    b_den: _F64 | None,
    statistic: str,
    n_resamples: int,
    confidence_level: float,
    method: str,
    alternative: str,
    seed: int,
) -> _Bootstrap: ...
def exp_bootstrap_interval(
    distribution: _F64,
    bias_correction: float,
    acceleration: float,
    method: str,
    alternative: str,
    confidence_level: float,
) -> tuple[float, float]: ...
def exp_prob_better(
    kind: str,
    n_a: _F64,
    sum_a: _F64,
    sum_sq_a: _F64,
    n_b: _F64,
    sum_b: _F64,
    sum_sq_b: _F64,
    den_a: tuple[_F64, _F64, _F64] | None = None,
    den_b: tuple[_F64, _F64, _F64] | None = None,
) -> _F64: ...
def exp_bayes_proportions(
    count_a: int,
    n_a: int,
    count_b: int,
    n_b: int,
    prior_alpha: float,
    prior_beta: float,
    credible_level: float,
) -> _BayesProportions: ...
def exp_bayes_means(a: _Moments, b: _Moments, credible_level: float) -> _BayesMeans: ...
def exp_confidence_sequence(
    looks_a: list[_Moments],
    looks_b: list[_Moments],
    alpha: float,
    mixing_variance: float | None,
    null_difference: float,
) -> _ConfidenceSequence: ...
def exp_group_sequential_bounds(
    info_fractions: list[float], alpha: float, kind: str, two_sided: bool
) -> _GroupSequential: ...
def exp_simulate(
    metric: str,
    baseline: float,
    sd: float,
    purchase_rate: float,
    sigma: float,
    relative_lift: float,
    n_a: int,
    n_b: int,
    runs: int,
    alpha: float,
    seed: int,
    tests: list[str],
    confidence_level: float,
) -> list[tuple[str, _Rate]]: ...
def exp_simulate_peeking(
    metric: str,
    baseline: float,
    sd: float,
    purchase_rate: float,
    sigma: float,
    relative_lift: float,
    n_per_look_a: int,
    n_per_look_b: int,
    looks: int,
    runs: int,
    alpha: float,
    mixing_variance: float | None,
    seed: int,
    confidence_level: float,
) -> _Peeking: ...

# --- end experiments ---
# --- compare ---
class _Comparisons(TypedDict):
    mean_a: npt.NDArray[np.float64]
    mean_b: npt.NDArray[np.float64]
    effect: npt.NDArray[np.float64]
    effect_low: npt.NDArray[np.float64]
    effect_high: npt.NDArray[np.float64]
    se: npt.NDArray[np.float64]
    statistic: npt.NDArray[np.float64]
    df: npt.NDArray[np.float64]
    pvalue: npt.NDArray[np.float64]
    lift: npt.NDArray[np.float64]
    lift_low: npt.NDArray[np.float64]
    lift_high: npt.NDArray[np.float64]

def compare_from_sums(
    n_a: npt.NDArray[np.float64],
    sum_a: npt.NDArray[np.float64],
    sum_sq_a: npt.NDArray[np.float64],
    n_b: npt.NDArray[np.float64],
    sum_b: npt.NDArray[np.float64],
    sum_sq_b: npt.NDArray[np.float64],
    kind: str,
    alternative: str,
    confidence_level: float,
    den_a: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
    den_b: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
) -> _Comparisons: ...

# --- end compare ---
# --- kpis ---
KPI_ANOMALY_FALSE_FLAG_RATE: float
KPI_HOURLY_ANOMALY_ALPHA: float
KPI_HOURLY_ANOMALY_WINDOWS: list[int]
KPI_LIFECYCLE_WINDOW_DAYS: int

@final
class KpiIndex:
    def __new__(cls, warehouse: str) -> KpiIndex: ...
    @property
    def shape(self) -> tuple[int, int, int]: ...
    @property
    def day_range(self) -> tuple[int, int]: ...
    def hourly_anomaly_windows(
        self,
        *,
        start: int | None = None,
        end: int | None = None,
        days: str = "all",
        root_category: int | None = None,
        segment: str | None = None,
        include_bots: bool = False,
    ) -> pl.DataFrame: ...
    def headline(
        self,
        *,
        start: int | None = None,
        end: int | None = None,
        days: str = "all",
        root_category: int | None = None,
        segment: str | None = None,
        include_bots: bool = False,
        scan: bool = False,
    ) -> pl.DataFrame: ...
    def tables(
        self,
        names: list[str],
        *,
        start: int | None = None,
        end: int | None = None,
        days: str = "all",
        root_category: int | None = None,
        segment: str | None = None,
        include_bots: bool = False,
        partitions: int = 0,
    ) -> dict[str, pl.DataFrame]: ...

def kpi_anomalies(daily: pl.DataFrame, *, all_days: bool = False) -> pl.DataFrame: ...

# --- end kpis ---

# --- cohorts and CLV ---
_F64Array = npt.NDArray[np.float64]

class _BgNbdFit(TypedDict):
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int
    iterations: int

class _GammaGammaFit(TypedDict):
    p: float
    q: float
    v: float
    log_likelihood: float
    n_customers: int
    iterations: int

def cohort_retention(events: pl.DataFrame, by: str, period: str, include_bots: bool) -> pl.DataFrame: ...
def derived_tables(events: pl.DataFrame) -> list[tuple[str, pl.DataFrame]]: ...
def clv_customers(events: pl.DataFrame) -> pl.DataFrame: ...
def clv_summary_events(events: pl.DataFrame, observation_end: int | None, unit: str) -> pl.DataFrame: ...
def clv_summary(
    transactions: pl.DataFrame,
    customer_id_col: str,
    datetime_col: str,
    monetary_value_col: str | None,
    observation_end: int | None,
    unit: str,
) -> pl.DataFrame: ...
def fit_bgnbd(frequency: _F64Array, recency: _F64Array, t: _F64Array) -> _BgNbdFit: ...
def bgnbd_log_likelihood(
    params: tuple[float, float, float, float], frequency: _F64Array, recency: _F64Array, t: _F64Array
) -> float: ...
def bgnbd_predict(
    params: tuple[float, float, float, float],
    what: str,
    horizon: float,
    frequency: _F64Array,
    recency: _F64Array,
    t: _F64Array,
) -> _F64Array: ...
def bgnbd_expected_purchases_new(params: tuple[float, float, float, float], horizon: float) -> float: ...
def fit_gamma_gamma(frequency: _F64Array, monetary_value: _F64Array) -> _GammaGammaFit: ...
def gamma_gamma_log_likelihood(
    params: tuple[float, float, float], frequency: _F64Array, monetary_value: _F64Array
) -> float: ...
def gamma_gamma_expected_spend(
    params: tuple[float, float, float], frequency: _F64Array, monetary_value: _F64Array
) -> _F64Array: ...
def customer_lifetime_value(
    bgnbd: tuple[float, float, float, float],
    gamma_gamma: tuple[float, float, float],
    frequency: _F64Array,
    recency: _F64Array,
    t: _F64Array,
    monetary_value: _F64Array,
    months: int,
    discount_rate: float,
    unit: str,
) -> _F64Array: ...
def simulate_bgnbd(
    n: int, params: tuple[float, float, float, float], t_range: tuple[float, float], seed: int
) -> tuple[_F64Array, _F64Array, _F64Array]: ...

# --- db (PostgreSQL store) ---
DB_URL_ENV: str

class _DbStatus(TypedDict):
    migrations: list[tuple[int, str, bool]]
    last_load: tuple[str, str, int, float] | None
    tables: list[tuple[str, int]]
    url: str

class _DbLoad(TypedDict):
    tables: list[tuple[str, int]]
    seconds: float

def db_migrate(url: str | None = None) -> list[int]: ...
def db_migrate_down(url: str | None = None, *, target: int = 0) -> list[int]: ...
def db_status(url: str | None = None) -> _DbStatus: ...
def db_load(warehouse: str, url: str | None = None) -> _DbLoad: ...
def db_read_tables(names: list[str], url: str | None = None) -> list[pl.DataFrame]: ...
def db_has_table(name: str, url: str | None = None) -> bool: ...
def db_last_report(url: str | None = None) -> str: ...
def db_redact(url: str) -> str: ...
def db_tables() -> list[str]: ...
def kpi_index_from_frames(
    events: pl.DataFrame, categories: pl.DataFrame | None = None, items: pl.DataFrame | None = None
) -> KpiIndex: ...

# --- end db ---
