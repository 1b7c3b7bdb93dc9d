-- The derived tables of a build (src/build derived_tables: KPIs, cohorts, CLV) and `shoplens experiment`'s
-- experiment_results. Rates and money double precision (the engine's f64), counts bigint.
CREATE TABLE shoplens.kpi_daily (
    "date" date,
    visitors bigint,
    sessions bigint,
    views bigint,
    carts bigint,
    purchases bigint,
    orders bigint,
    buyers bigint,
    revenue double precision,
    conversion double precision,
    is_bot_included boolean,
    events bigint,
    visitors_ma7 double precision,
    orders_ma7 double precision,
    revenue_ma7 double precision,
    conversion_ma7 double precision
);

CREATE TABLE shoplens.kpi_weekly (
    period_start date,
    visitors bigint,
    sessions bigint,
    views bigint,
    carts bigint,
    purchases bigint,
    orders bigint,
    buyers bigint,
    revenue double precision,
    conversion double precision,
    events bigint
);

CREATE TABLE shoplens.kpi_monthly (
    period_start date,
    visitors bigint,
    sessions bigint,
    views bigint,
    carts bigint,
    purchases bigint,
    orders bigint,
    buyers bigint,
    revenue double precision,
    conversion double precision,
    events bigint
);

CREATE TABLE shoplens.kpi_hour_weekday (
    weekday integer,
    hour integer,
    events bigint,
    visitors bigint,
    purchases bigint,
    buyers bigint,
    conversion double precision
);

CREATE TABLE shoplens.funnel (
    "level" text,
    step_order integer,
    step text,
    n bigint,
    rate_from_start double precision,
    rate_from_previous double precision,
    dropoff bigint,
    skipped bigint,
    median_seconds_to_step double precision
);

CREATE TABLE shoplens.products (
    item_id bigint,
    views bigint,
    carts bigint,
    purchases bigint,
    viewers bigint,
    revenue double precision,
    view_to_purchase double precision,
    wilson_low double precision,
    wilson_high double precision,
    "rank" bigint,
    abc_class text,
    carters bigint,
    buyers bigint,
    viewer_buyers bigint,
    price double precision,
    price_band integer
);

CREATE TABLE shoplens.kpi_price_bands (
    price_band integer,
    price_low double precision,
    price_high double precision,
    items bigint,
    views bigint,
    carts bigint,
    purchases bigint,
    revenue double precision
);

CREATE TABLE shoplens.kpi_categories (
    category_id bigint,
    parent_id bigint,
    "level" bigint,
    root_category_id bigint,
    views bigint,
    carts bigint,
    purchases bigint,
    revenue double precision,
    viewers bigint,
    carters bigint,
    buyers bigint,
    viewer_buyers bigint,
    view_to_purchase double precision
);

CREATE TABLE shoplens.kpi_segments (
    visitor_id bigint,
    first_seen timestamptz,
    last_seen timestamptz,
    events bigint,
    sessions bigint,
    purchases bigint,
    orders bigint,
    revenue double precision,
    recency_days double precision,
    r_score integer,
    f_score integer,
    m_score integer,
    rfm text,
    lifecycle text
);

CREATE TABLE shoplens.kpi_segment_conversion (
    segment_type text,
    segment text,
    visitors bigint,
    buyers bigint,
    conversion double precision
);

CREATE TABLE shoplens.anomalies (
    "date" date,
    metric text,
    "value" double precision,
    expected double precision,
    low double precision,
    high double precision,
    deviation double precision,
    flagged boolean
);

CREATE TABLE shoplens.cohort_retention (
    "by" text,
    period text,
    cohort date,
    "offset" integer,
    cohort_size bigint,
    active bigint,
    buyers bigint,
    revenue double precision,
    cumulative_revenue_per_user double precision
);

CREATE TABLE shoplens.customers (
    visitor_id bigint,
    frequency double precision,
    recency double precision,
    "T" double precision,
    monetary_value double precision,
    p_alive double precision,
    expected_purchases_90d double precision,
    clv_365d double precision
);

CREATE TABLE shoplens.experiment_results (
    experiment text,
    metric text,
    variant text,
    control text,
    n bigint,
    control_n bigint,
    mean double precision,
    control_mean double precision,
    effect double precision,
    effect_low double precision,
    effect_high double precision,
    lift double precision,
    lift_low double precision,
    lift_high double precision,
    statistic double precision,
    pvalue double precision,
    pvalue_adjusted double precision,
    significant boolean,
    prob_better double precision,
    srm_pvalue double precision,
    srm_alarm boolean,
    sequential_pvalue double precision
);

CREATE UNIQUE INDEX kpi_daily_date_idx ON shoplens.kpi_daily ("date");
CREATE INDEX products_rank_idx ON shoplens.products ("rank");
CREATE INDEX anomalies_date_idx ON shoplens.anomalies ("date");
CREATE INDEX cohorts_key_idx ON shoplens.cohort_retention ("by", period, cohort, "offset");
CREATE INDEX customers_clv_idx ON shoplens.customers (clv_365d);
CREATE INDEX experiment_results_idx ON shoplens.experiment_results (experiment, metric, variant);
