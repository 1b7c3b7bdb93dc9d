DROP TABLE shoplens.dashboard_meta;
DROP TABLE shoplens.dashboard_failures;
DROP TABLE shoplens.dashboard_users;
