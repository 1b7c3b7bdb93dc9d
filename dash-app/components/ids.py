"""Every component id of the dashboard, in one place (pages and tests import these names)."""

from __future__ import annotations

# --- shell ---------------------------------------------------------------------------------------
THEME_STORE = "theme-store"
THEME_SWITCH = "theme-switch"
THEME_SINK = "theme-sink"
NAV = "nav"

# --- experiments ---------------------------------------------------------------------------------
EXP_TABLE = "exp-list"
EXP_SELECT = "exp-select"
EXP_SUMMARY = "exp-summary"
EXP_RESULTS = "exp-results"
EXP_SEQUENTIAL = "exp-sequential"
EXP_EFFECTS = "exp-effects"
EXP_BAYES = "exp-bayes"

# --- planner / calculator ------------------------------------------------------------------------
PLAN_BASELINE = "plan-baseline"
PLAN_P1 = "plan-p1"
PLAN_LIFT = "plan-lift"
PLAN_POWER = "plan-power"
PLAN_ALPHA = "plan-alpha"
PLAN_SHARE = "plan-share"
PLAN_N = "plan-n"
PLAN_DAYS = "plan-days"
PLAN_CURVE = "plan-curve"
PLAN_CANDIDATES = "plan-candidates"

# --- simulator -----------------------------------------------------------------------------------
SIM_MODE = "sim-mode"
SIM_BASELINE = "sim-baseline"
SIM_LIFT = "sim-lift"
SIM_N = "sim-n"
SIM_RUNS = "sim-runs"
SIM_ALPHA = "sim-alpha"
SIM_SEED = "sim-seed"
SIM_RUN = "sim-run"
SIM_CHART = "sim-chart"
SIM_TABLE = "sim-table"

# --- data quality --------------------------------------------------------------------------------
DQ_CONSERVATION = "dq-conservation"
DQ_FILES = "dq-files"
DQ_RULES = "dq-rules"
DQ_QUARANTINE = "dq-quarantine"
DQ_PAGE = "dq-page"
DQ_RULE_FILTER = "dq-rule-filter"
DQ_ANOMALIES = "dq-anomalies"

# --- methodology ---------------------------------------------------------------------------------
METHODOLOGY = "methodology"

# --- home (KPI filters and charts) ---------------------------------------------------------------
HOME_DATES = "home-dates"
HOME_DAYS = "home-days"
HOME_ROOT = "home-root"
HOME_SEGMENT = "home-segment"
HOME_BOTS = "home-bots"
HOME_CARDS = "home-cards"
HOME_TREND = "home-trend"
HOME_FUNNEL = "home-funnel"
HOME_WEEKDAY = "home-weekday"


def filter_ids(prefix: str) -> dict[str, str]:
    """The ids of one page's KPI filter bar (dates, days, root category, segment, bots)."""
    return {key: f"{prefix}-{key.replace('_', '-')}" for key in ("start_end", "days", "root", "segment", "bots")}


# --- traffic, behavior, funnel, conversions, products ---------------------------------------------
TRAFFIC_PERIOD = "traffic-period"
TRAFFIC_SERIES = "traffic-series"
TRAFFIC_HEATMAP = "traffic-heatmap"
TRAFFIC_EPS = "traffic-eps"
BEHAVIOR_CARDS = "behavior-cards"
BEHAVIOR_DROPOFF = "behavior-dropoff"
BEHAVIOR_HOURS = "behavior-hours"
FUNNEL_USER = "funnel-user"
FUNNEL_SESSION = "funnel-session"
FUNNEL_TABLE = "funnel-table"
FUNNEL_BY_DAY = "funnel-by-day"
CONV_CARDS = "conv-cards"
CONV_SEGMENTS = "conv-segments"
CONV_CATEGORIES = "conv-categories"
CONV_WEEKDAY = "conv-weekday"
PROD_RANKING = "prod-ranking"
PROD_PARETO = "prod-pareto"
PROD_BANDS = "prod-bands"
PROD_TREE = "prod-tree"
PROD_TABLE = "prod-table"
PROD_SEARCH = "prod-search"

# --- cohorts, customer value ---------------------------------------------------------------------
COHORT_BY = "cohort-by"
COHORT_PERIOD = "cohort-period"
COHORT_HEATMAP = "cohort-heatmap"
COHORT_CURVES = "cohort-curves"
COHORT_REVENUE = "cohort-revenue"
CLV_CARDS = "clv-cards"
CLV_PALIVE = "clv-palive"
CLV_PURCHASES = "clv-purchases"
CLV_VALUE = "clv-value"
CLV_RFM = "clv-rfm"
