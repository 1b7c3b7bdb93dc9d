DROP TABLE shoplens.anomalies_hourly;
DROP TABLE shoplens.funnel_by_root_category;
DROP TABLE shoplens.funnel_by_hour;
DROP TABLE shoplens.funnel_by_weekday;
DROP TABLE shoplens.funnel_by_day;
