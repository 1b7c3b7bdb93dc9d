-- The dashboard's users, login throttle and Flask secret key when it serves this store
-- (`shoplens serve --database-url`; dash-app/auth_store.py). The same three tables as the users file a
-- folder's dashboard keeps in SQLite: argon2id hashes only (never a password), failures counted per
-- account and per address so a lock-out holds across gunicorn workers and hosts, times as epoch seconds
-- (double precision) of the app's clock. No grant to shoplens_readonly: Grafana never sees them, and a
-- load (load_swap) leaves them alone.
CREATE TABLE shoplens.dashboard_users (
    name text PRIMARY KEY,
    hash text NOT NULL CHECK (hash LIKE '$argon2%' OR hash LIKE '$scrypt%'),
    must_change integer NOT NULL CHECK (must_change IN (0, 1)),
    version integer NOT NULL DEFAULT 1
);

CREATE TABLE shoplens.dashboard_failures (
    key text PRIMARY KEY,
    count integer NOT NULL CHECK (count >= 0),
    locked_until double precision NOT NULL
);

CREATE TABLE shoplens.dashboard_meta (
    key text PRIMARY KEY,
    value text NOT NULL
);

REVOKE ALL ON shoplens.dashboard_users, shoplens.dashboard_failures, shoplens.dashboard_meta FROM PUBLIC;
