-- Views for Grafana's business dashboard and the KPI-anomaly alert (grafana/dashboards/business.json,
-- grafana/provisioning/alerting/rules.yaml). They rename and select the engine's tables: every KPI is the
-- number the engine computed. "time" columns are the UTC midnight of a day, as Grafana's time series want.
CREATE VIEW shoplens.grafana_kpi_daily AS
SELECT (date::timestamp AT TIME ZONE 'UTC') AS "time", date,
       visitors, sessions, views, carts, purchases, orders, buyers, revenue, conversion, events,
       visitors_ma7, orders_ma7, revenue_ma7, conversion_ma7, is_bot_included
FROM shoplens.kpi_daily;
COMMENT ON VIEW shoplens.grafana_kpi_daily IS 'Daily KPIs (bots excluded) of the last load';

CREATE VIEW shoplens.grafana_funnel AS
SELECT level, step_order, step, n, rate_from_start, rate_from_previous, dropoff, skipped, median_seconds_to_step
FROM shoplens.funnel;
COMMENT ON VIEW shoplens.grafana_funnel IS 'Funnel view -> add-to-cart -> purchase at user and session level';

CREATE VIEW shoplens.grafana_top_products AS
SELECT rank, item_id, views, carts, purchases, revenue, view_to_purchase, wilson_low, wilson_high, abc_class,
       price, price_band
FROM shoplens.products;
COMMENT ON VIEW shoplens.grafana_top_products IS 'Products ranked by the Wilson lower bound of view-to-purchase';

CREATE VIEW shoplens.grafana_cohorts AS
SELECT "by", period, cohort, "offset", cohort_size, active, buyers, revenue, cumulative_revenue_per_user
FROM shoplens.cohort_retention;
COMMENT ON VIEW shoplens.grafana_cohorts IS 'Acquisition cohorts: retention, buyers and revenue per period offset';

CREATE VIEW shoplens.grafana_customers AS
SELECT visitor_id, frequency, recency, "T", monetary_value, p_alive, expected_purchases_90d, clv_365d
FROM shoplens.customers;
COMMENT ON VIEW shoplens.grafana_customers IS 'Customer lifetime value (BG/NBD + Gamma-Gamma) per buyer';

CREATE VIEW shoplens.grafana_experiments AS
SELECT experiment, metric, variant, control, n, control_n, effect, effect_low, effect_high, lift,
       pvalue, pvalue_adjusted, significant, prob_better, srm_pvalue, srm_alarm
FROM shoplens.experiment_results;
COMMENT ON VIEW shoplens.grafana_experiments IS 'Experiment results (shoplens experiment) per metric and variant';

CREATE VIEW shoplens.grafana_experiment_assignments AS
SELECT experiment, variant, count(*) AS users, min(assigned_at) AS first_assigned, max(assigned_at) AS last_assigned
FROM shoplens.assignments
GROUP BY experiment, variant;
COMMENT ON VIEW shoplens.grafana_experiment_assignments IS 'Users assigned per experiment and variant';

-- The build's conservation check (report.json) of the last load.
CREATE VIEW shoplens.grafana_data_quality AS
SELECT loaded_at AS "time", warehouse,
       (report -> 'conservation' ->> 'rows_read')::bigint AS rows_read,
       (report -> 'conservation' ->> 'kept')::bigint AS kept,
       (report -> 'conservation' ->> 'quarantined')::bigint AS quarantined,
       (report -> 'conservation' ->> 'duplicates_removed')::bigint AS duplicates_removed,
       (report -> 'conservation' ->> 'holds')::boolean AS balanced,
       load_seconds
FROM (SELECT * FROM shoplens.loads ORDER BY load_id DESC LIMIT 1) AS last_load;
COMMENT ON VIEW shoplens.grafana_data_quality IS 'Rows read, kept, quarantined and de-duplicated in the last load';

CREATE VIEW shoplens.grafana_quarantine AS
SELECT source, rule, rule_order, count(*) AS rows
FROM shoplens.quarantine
GROUP BY source, rule, rule_order;
COMMENT ON VIEW shoplens.grafana_quarantine IS 'Quarantined rows per source file and validation rule';

CREATE VIEW shoplens.grafana_anomalies AS
SELECT (date::timestamp AT TIME ZONE 'UTC') AS "time", date, metric, value, expected, low, high, deviation
FROM shoplens.anomalies
WHERE flagged;
COMMENT ON VIEW shoplens.grafana_anomalies IS 'Days on which a daily KPI left its expected band';

GRANT SELECT ON
    shoplens.grafana_kpi_daily, shoplens.grafana_funnel, shoplens.grafana_top_products, shoplens.grafana_cohorts,
    shoplens.grafana_customers, shoplens.grafana_experiments, shoplens.grafana_experiment_assignments,
    shoplens.grafana_data_quality, shoplens.grafana_quarantine, shoplens.grafana_anomalies
TO shoplens_readonly;
