-- Funnel breakdowns by day, weekday, hour and root category, and the hourly anomaly windows
-- (kpis: funnel_by_*, anomalies_hourly). Counts bigint, rates double precision, times timestamptz (UTC).
CREATE TABLE shoplens.funnel_by_day (
    "level" text,
    "date" date,
    step_order integer,
    step text,
    n bigint,
    rate_from_start double precision,
    rate_from_previous double precision,
    dropoff bigint,
    skipped bigint,
    median_seconds_to_step double precision
);

CREATE TABLE shoplens.funnel_by_weekday (
    "level" text,
    weekday integer,
    step_order integer,
    step text,
    n bigint,
    rate_from_start double precision,
    rate_from_previous double precision,
    dropoff bigint,
    skipped bigint,
    median_seconds_to_step double precision
);

CREATE TABLE shoplens.funnel_by_hour (
    "level" text,
    "hour" integer,
    step_order integer,
    step text,
    n bigint,
    rate_from_start double precision,
    rate_from_previous double precision,
    dropoff bigint,
    skipped bigint,
    median_seconds_to_step double precision
);

CREATE TABLE shoplens.funnel_by_root_category (
    "level" text,
    root_category_id bigint,
    step_order integer,
    step text,
    n bigint,
    rate_from_start double precision,
    rate_from_previous double precision,
    dropoff bigint,
    skipped bigint,
    median_seconds_to_step double precision
);

CREATE TABLE shoplens.anomalies_hourly (
    "start" timestamptz,
    "hours" integer,
    metric text,
    "value" bigint,
    expected double precision,
    p_value double precision,
    deviation double precision,
    flagged boolean
);

CREATE INDEX funnel_by_day_idx ON shoplens.funnel_by_day ("level", "date");
CREATE INDEX anomalies_hourly_start_idx ON shoplens.anomalies_hourly ("start");
