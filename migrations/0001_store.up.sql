-- The store's schema, its read-only group role, the load bookkeeping and the two functions a load
-- calls (src/db/mod.rs). Every table of the warehouse lives in schema `shoplens`.
CREATE SCHEMA shoplens;

-- Read-only group role (NOLOGIN, no password in any file): SELECT on the grafana_* views only
-- (granted in 0004). docker/postgres/grafana-role.sh makes Grafana's login role a member of it.
-- Roles are cluster-wide: another database of the cluster may have created it already.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'shoplens_readonly') THEN
        CREATE ROLE shoplens_readonly NOLOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA shoplens TO shoplens_readonly;

-- One row per load: what was loaded, how long it took, and the build's report.json (the data-quality
-- views read it). Counts are bigint, durations double precision seconds.
CREATE TABLE shoplens.loads (
    load_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    warehouse text NOT NULL,
    rows_loaded bigint NOT NULL CHECK (rows_loaded >= 0),
    load_seconds double precision NOT NULL CHECK (load_seconds >= 0),
    report jsonb NOT NULL
);

-- The polars type of every column of the last load, so a table read back from PostgreSQL has exactly
-- the types it had in the warehouse; `present` is false for a table the warehouse did not have.
CREATE TABLE shoplens.load_columns (
    table_name text NOT NULL,
    column_name text NOT NULL,
    ordinal integer NOT NULL,
    dtype text NOT NULL,
    present boolean NOT NULL,
    PRIMARY KEY (table_name, column_name)
);

-- A fresh, empty staging twin `_stage_<t>` of table `<t>` (same columns, defaults and checks, no
-- indexes: they are built after the COPY, which is faster).
CREATE FUNCTION shoplens.load_stage(t text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF to_regclass(format('shoplens.%I', t)) IS NULL THEN
        RAISE EXCEPTION 'no table shoplens.% (run shoplens db migrate)', t;
    END IF;
    EXECUTE format('DROP TABLE IF EXISTS shoplens.%I', '_stage_' || t);
    EXECUTE format(
        'CREATE TABLE shoplens.%I (LIKE shoplens.%I INCLUDING ALL EXCLUDING INDEXES)',
        '_stage_' || t, t);
END
$$;

-- Swaps every staging twin in for its table, inside the caller's transaction: builds the table's
-- indexes on the twin, drops the views of the schema (remembering their definitions, grants and
-- comments), drops the old tables, renames the twins and their indexes, and recreates the views.
-- Readers keep seeing the old tables until the caller commits.
CREATE FUNCTION shoplens.load_swap(tables text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
    ix record;
    v record;
    g record;
    view_names text[] := '{}';
    view_defs text[] := '{}';
    view_comments text[] := '{}';
    view_grants text[] := '{}';
    i integer;
BEGIN
    FOREACH t IN ARRAY tables LOOP
        IF to_regclass(format('shoplens.%I', '_stage_' || t)) IS NULL THEN
            RAISE EXCEPTION 'no staging table for shoplens.%', t;
        END IF;
        FOR ix IN
            SELECT c.relname AS name, x.indisunique AS is_unique,
                   substring(pg_get_indexdef(x.indexrelid) FROM ' USING .*$') AS method
            FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
            WHERE x.indrelid = format('shoplens.%I', t)::regclass
            ORDER BY c.relname
        LOOP
            EXECUTE format('CREATE %sINDEX %I ON shoplens.%I %s',
                CASE WHEN ix.is_unique THEN 'UNIQUE ' ELSE '' END,
                '_stage_' || ix.name, '_stage_' || t, ix.method);
        END LOOP;
    END LOOP;

    -- Views, in creation order (a view is created after the views it reads).
    FOR v IN
        SELECT c.oid, c.relname, pg_get_viewdef(c.oid) AS def, obj_description(c.oid, 'pg_class') AS note
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'shoplens' AND c.relkind = 'v'
        ORDER BY c.oid
    LOOP
        view_names := view_names || v.relname::text;
        view_defs := view_defs || v.def;
        view_comments := view_comments || v.note;
        FOR g IN
            SELECT a.privilege_type, a.grantee
            FROM pg_class c, aclexplode(c.relacl) a
            WHERE c.oid = v.oid AND a.grantee <> c.relowner
        LOOP
            view_grants := view_grants || format('GRANT %s ON shoplens.%I TO %s', g.privilege_type,
                v.relname, CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END);
        END LOOP;
    END LOOP;
    FOR i IN REVERSE coalesce(array_upper(view_names, 1), 0) .. 1 LOOP
        EXECUTE format('DROP VIEW shoplens.%I', view_names[i]);
    END LOOP;

    FOREACH t IN ARRAY tables LOOP
        EXECUTE format('DROP TABLE shoplens.%I', t);
        EXECUTE format('ALTER TABLE shoplens.%I RENAME TO %I', '_stage_' || t, t);
        FOR ix IN
            SELECT c.relname AS name
            FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
            WHERE x.indrelid = format('shoplens.%I', t)::regclass
        LOOP
            EXECUTE format('ALTER INDEX shoplens.%I RENAME TO %I', ix.name, substr(ix.name, 8));
        END LOOP;
    END LOOP;

    FOR i IN 1 .. coalesce(array_upper(view_names, 1), 0) LOOP
        EXECUTE format('CREATE VIEW shoplens.%I AS %s', view_names[i], view_defs[i]);
        IF view_comments[i] IS NOT NULL THEN
            EXECUTE format('COMMENT ON VIEW shoplens.%I IS %L', view_names[i], view_comments[i]);
        END IF;
    END LOOP;
    FOR i IN 1 .. coalesce(array_upper(view_grants, 1), 0) LOOP
        EXECUTE view_grants[i];
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION shoplens.load_stage(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION shoplens.load_swap(text[]) FROM PUBLIC;
