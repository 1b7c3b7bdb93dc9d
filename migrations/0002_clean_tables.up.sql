-- The clean tables of a build (src/clean/tables.rs, src/build TABLES), one column per warehouse column in
-- the same order. `events` is the event-level table (raw events after validation and de-duplication; the
-- rejected rows are in `quarantine` with their raw text). Types: ids and counts bigint (the engine's u32 and
-- u64 fit), money and measures double precision (the engine's f64, stored exactly), times timestamptz (UTC).
-- Generic sources with text ids are not supported by this schema yet (a load says so).
CREATE TABLE shoplens.events (
    visitor_id bigint,
    "timestamp" timestamptz,
    event text,
    item_id bigint,
    transaction_id bigint,
    session_id bigint,
    session_index bigint,
    category_id bigint,
    root_category_id bigint,
    revenue double precision,
    is_bot boolean,
    source_line bigint
);

CREATE TABLE shoplens.sessions (
    session_id bigint,
    visitor_id bigint,
    session_index bigint,
    "start" timestamptz,
    "end" timestamptz,
    duration_s double precision,
    n_events bigint,
    n_views bigint,
    n_carts bigint,
    n_purchases bigint,
    n_orders bigint,
    revenue double precision,
    has_cart boolean,
    has_purchase boolean,
    is_bounce boolean,
    is_bot boolean
);

CREATE TABLE shoplens.visitors (
    visitor_id bigint,
    first_seen timestamptz,
    last_seen timestamptz,
    n_events bigint,
    n_sessions bigint,
    n_purchases bigint,
    revenue double precision,
    is_buyer boolean,
    peak_events_per_minute bigint,
    is_bot boolean
);

CREATE TABLE shoplens.items (
    item_id bigint,
    category_id bigint,
    root_category_id bigint,
    available boolean,
    price double precision,
    n_views bigint,
    n_carts bigint,
    n_purchases bigint,
    revenue double precision
);

CREATE TABLE shoplens.categories (
    category_id bigint,
    parent_id bigint,
    root_category_id bigint,
    "level" bigint
);

CREATE TABLE shoplens.quarantine (
    "source" text,
    "line" bigint,
    rule text,
    rule_order bigint,
    detail text,
    "raw" text
);

CREATE TABLE shoplens.duplicates (
    "source" text,
    "line" bigint,
    duplicate_of_line bigint
);

CREATE TABLE shoplens.assignments (
    experiment text,
    user_id bigint,
    variant text,
    assigned_at timestamptz,
    source_line bigint
);

CREATE TABLE shoplens.experiment_weights (
    experiment text,
    variant text,
    weight double precision
);

-- Indexes for the dashboard's and Grafana's filters (a load rebuilds them on the new rows).
CREATE INDEX events_time_idx ON shoplens.events ("timestamp");
CREATE INDEX events_item_idx ON shoplens.events (item_id);
CREATE INDEX sessions_start_idx ON shoplens.sessions ("start");
CREATE UNIQUE INDEX visitors_id_idx ON shoplens.visitors (visitor_id);
CREATE UNIQUE INDEX items_id_idx ON shoplens.items (item_id);
CREATE UNIQUE INDEX categories_id_idx ON shoplens.categories (category_id);
CREATE INDEX quarantine_rule_idx ON shoplens.quarantine ("source", rule_order);
CREATE INDEX assignments_exp_idx ON shoplens.assignments (experiment, variant);
