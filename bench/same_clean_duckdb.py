"""The `shoplens build` cleaning job written in duckdb SQL (issued from Python), for `make bench`.

``python bench/same_clean_duckdb.py RAW OUT`` reads a RetailRocket-format folder and does the same cleaning as
the engine (docs/methodology.md): every line of events.csv is kept, quarantined or listed as an exact duplicate (same
line text; the first occurrence stays); the validation rules run in the documented order (first failing rule
wins); near-duplicates (same visitor, item, event type and order id within 1 s, inclusive, of a KEPT event of
that key) are quarantined, the kept chain resolved exactly by a recursive CTE; the item properties, category
tree, price list and experiment assignments are validated the same way. Kept events get their category as of
the event time, root category, revenue (item price on purchases), a session (30-minute gap, strictly greater)
and a bot flag (> 1,000 events or > 60 in any 60-second window). Written as Parquet: events, sessions,
visitors, categories, quarantine, duplicates, assignments and the nine KPI tables of the reduced job in
bench/build_alternatives.py (on non-bot clean events).
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

GAP_MS, NEAR_MS, BOT_EVENTS, BOT_PER_MINUTE = 30 * 60 * 1000, 1000, 1000, 60
MIN_TS, MAX_TS = 946_684_800_000, 4_102_444_800_000  # [2000-01-01, 2100-01-01) UTC in ms
EVENT_TYPES = "('view', 'addtocart', 'transaction')"

WS = r"[ \t\n\r\f]"  # the ASCII whitespace the engine trims off a field
MACROS = f"""
CREATE MACRO as_int(x) AS CASE WHEN regexp_full_match(x, '[+-]?[0-9]{{1,18}}') THEN CAST(x AS BIGINT) END;
CREATE MACRO id_rule(s, v) AS CASE WHEN s IS NOT NULL AND v IS NULL THEN 'non_numeric_id'
                                   WHEN v < 0 THEN 'negative_id' END;
CREATE MACRO ts_rule(v) AS CASE WHEN v IS NULL THEN 'bad_timestamp'
                                WHEN v < {MIN_TS} OR v >= {MAX_TS} THEN 'timestamp_out_of_range' END;
CREATE MACRO as_float(x) AS CASE WHEN regexp_full_match(x, '[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?')
                               THEN TRY_CAST(x AS DOUBLE) END;
"""


def read_lines(con: duckdb.DuckDBPyConnection, name: str, path: Path) -> None:
    """View `name` (source, line, raw): every data line of `path` as text with its line number (header = 1).
    The rowid of the table behind it follows the file order (duckdb keeps the insertion order)."""
    con.execute(f"""CREATE TABLE {name}_text AS SELECT coalesce(line, '') AS raw FROM read_csv('{path}',
        columns = {{'line': 'VARCHAR'}}, header = true, delim = chr(1), quote = '', escape = '',
        auto_detect = false, strict_mode = false)""")
    con.execute(f"CREATE VIEW {name} AS SELECT '{path.name}' AS source, rowid + 2 AS line, raw FROM {name}_text")


def fields(table: str, names: list[str], rest: bool = False) -> str:
    """`table` with its lines' field count `nf` and fields `names`: split at commas, trimmed of ASCII whitespace,
    NULL when empty; with `rest` the last field takes the rest of the line (an item property's value)."""
    split = f"regexp_split_to_array(regexp_replace(raw, '^{WS}+|{WS}+$', '', 'g'), '{WS}*,{WS}*')"
    cols = [f"nullif(f[{i}], '') AS {name}" for i, name in enumerate(names, 1)]
    if rest:
        cols[-1] = f"nullif(array_to_string(f[{len(names)}:], ','), '') AS {names[-1]}"
    return f"(SELECT source, line, raw, len(f) AS nf, {', '.join(cols)} FROM (SELECT *, {split} AS f FROM {table}))"


def copy(con: duckdb.DuckDBPyConnection, query: str, out: Path, table: str) -> None:
    con.execute(f"COPY ({query}) TO '{out / table}.parquet' (FORMAT parquet)")


def run(raw: Path, out: Path) -> None:
    con = duckdb.connect()
    con.execute(MACROS)
    read_lines(con, "ev_lines", raw / "events.csv")
    # 1-2. Exact duplicates (same line text; the first stays), then the validation rules in order.
    con.execute(f"""CREATE TABLE ev_rows AS
        WITH p AS (SELECT *, as_int(ts_s) AS ts, as_int(visitor_s) AS visitor_id, as_int(item_s) AS item_id,
                          as_int(order_s) AS transaction_id
                   FROM {fields("ev_lines", ["ts_s", "visitor_s", "event", "item_s", "order_s"])}),
        dup AS (SELECT raw, min(line) AS first_line FROM ev_lines GROUP BY raw HAVING count(*) > 1)
        SELECT line, raw, ts, visitor_id, event, item_id, transaction_id, coalesce(first_line, line) AS first_line,
            CASE WHEN nf <> 5 THEN 'wrong_column_count'
                 WHEN ts_s IS NULL OR visitor_s IS NULL OR event IS NULL OR item_s IS NULL THEN 'missing_field'
                 ELSE coalesce(ts_rule(ts), id_rule(visitor_s, visitor_id), id_rule(item_s, item_id),
                               id_rule(order_s, transaction_id),
                    CASE WHEN event NOT IN {EVENT_TYPES} THEN 'unknown_event_type'
                         WHEN event = 'transaction' AND order_s IS NULL THEN 'transaction_without_order_id'
                         WHEN event <> 'transaction' AND order_s IS NOT NULL THEN 'order_id_on_non_transaction'
                    END) END AS rule
        FROM p LEFT JOIN dup USING (raw)""")
    con.execute(
        "CREATE TABLE valid AS SELECT * EXCLUDE (raw, first_line, rule) FROM ev_rows "
        "WHERE first_line = line AND rule IS NULL"
    )
    # 3. Near-duplicates. Events within NEAR_MS of a same-key neighbour, in runs (named after their first line) of
    # events each <= NEAR_MS after the previous one; in a run the kept chain is walked recursively: the first event
    # is kept, the next kept one is the first more than NEAR_MS after the last kept one.
    con.execute(f"""CREATE TABLE runs AS
        WITH d AS (SELECT *, ts - lag(ts) OVER k AS gap, lead(ts) OVER k - ts AS next_gap
                   FROM valid WINDOW k AS (PARTITION BY visitor_id, item_id, event, transaction_id ORDER BY ts, line))
        SELECT line, ts, last_value(CASE WHEN gap <= {NEAR_MS} THEN NULL ELSE line END IGNORE NULLS) OVER (
                   PARTITION BY visitor_id, item_id, event, transaction_id ORDER BY ts, line ROWS UNBOUNDED PRECEDING)
               AS run
        FROM d WHERE gap <= {NEAR_MS} OR next_gap <= {NEAR_MS}""")
    con.execute(f"""CREATE TABLE near AS
        WITH RECURSIVE kept(run, line, ts) AS (
            SELECT run, line, ts FROM runs WHERE line = run
            UNION ALL
            SELECT c.run, first(c.line ORDER BY c.ts, c.line), min(c.ts)
            FROM kept JOIN runs c ON c.run = kept.run AND c.ts > kept.ts + {NEAR_MS} GROUP BY c.run)
        SELECT line FROM runs WHERE line NOT IN (SELECT line FROM kept)""")
    # 4. Reference files: item properties (categoryid history), category tree, prices.
    parts = sorted(raw.glob("item_properties*.csv"))
    for i, path in enumerate(parts):
        read_lines(con, f"props{i}", path)
    props = " UNION ALL ".join(f"SELECT * FROM props{i}" for i in range(len(parts)))
    con.execute(f"""CREATE TABLE prop_rows AS
        WITH q AS (SELECT *, as_int(ts_s) AS ts, as_int(item_s) AS item_id, as_int(value) AS category_id
                   FROM {fields(f"({props})", ["ts_s", "item_s", "property", "value"], rest=True)})
        SELECT source, line, raw, ts, item_id, property, category_id,
            CASE WHEN nf < 4 THEN 'wrong_column_count'
                 WHEN ts_s IS NULL OR item_s IS NULL OR property IS NULL THEN 'missing_field'
                 ELSE coalesce(ts_rule(ts), id_rule(item_s, item_id),
                    CASE WHEN property = 'categoryid' AND coalesce(category_id < 0, true) THEN 'bad_value'
                         WHEN property = 'available' AND coalesce(value NOT IN ('0', '1'), true) THEN 'bad_value'
                    END) END AS rule
        FROM q""")
    # Same item and time: the later row (file, line) wins; `firsts` serves events before the first record.
    con.execute("""CREATE TABLE hist AS SELECT item_id, ts, category_id FROM prop_rows
        WHERE rule IS NULL AND property = 'categoryid'
        QUALIFY row_number() OVER (PARTITION BY item_id, ts ORDER BY source DESC, line DESC) = 1""")
    con.execute(
        "CREATE TABLE firsts AS SELECT item_id, arg_min(category_id, ts) AS first_category FROM hist GROUP BY item_id"
    )
    read_lines(con, "tree_lines", raw / "category_tree.csv")
    con.execute(f"""CREATE TABLE tree_rows AS
        WITH p AS (SELECT * FROM {fields("tree_lines", ["cat_s", "par_s"])}),
        q AS (SELECT *, as_int(cat_s) AS category_id, as_int(par_s) AS parent_id,
                     CASE WHEN nf <> 2 THEN 'wrong_column_count' WHEN cat_s IS NULL THEN 'missing_field'
                          ELSE coalesce(id_rule(cat_s, category_id), id_rule(par_s, parent_id)) END AS rule FROM p)
        SELECT source, line, raw, category_id, parent_id,
               CASE WHEN rule IS NULL AND row_number() OVER (PARTITION BY rule IS NULL, category_id ORDER BY line) > 1
                    THEN 'duplicate_key' ELSE rule END AS rule
        FROM q""")
    # Roots: categories without a parent in the tree; members of a cycle (and their descendants) stay unresolved.
    con.execute("""CREATE TABLE categories AS
        WITH RECURSIVE t AS (SELECT category_id, parent_id FROM tree_rows WHERE rule IS NULL),
        walk(category_id, root, level) AS (
            SELECT category_id, category_id, 0 FROM t
            WHERE parent_id IS NULL OR parent_id NOT IN (SELECT category_id FROM t)
            UNION ALL
            SELECT t.category_id, walk.root, walk.level + 1 FROM t JOIN walk ON t.parent_id = walk.category_id)
        SELECT t.category_id, t.parent_id, walk.root AS root_category_id, CAST(walk.level AS UINTEGER) AS level
        FROM t LEFT JOIN walk USING (category_id) ORDER BY category_id""")
    read_lines(con, "price_lines", raw / "prices.csv")
    con.execute(f"""CREATE TABLE price_rows AS
        WITH p AS (SELECT * FROM {fields("price_lines", ["item_s", "price_s"])}),
        q AS (SELECT *, as_int(item_s) AS item_id, as_float(price_s) AS price,
                     CASE WHEN nf <> 2 THEN 'wrong_column_count'
                          WHEN item_s IS NULL OR price_s IS NULL THEN 'missing_field'
                          ELSE coalesce(id_rule(item_s, item_id), CASE WHEN NOT coalesce(isfinite(price) AND price >= 0,
                                                                                         false) THEN 'bad_price' END)
                     END AS rule FROM p)
        SELECT source, line, raw, item_id, price,
               CASE WHEN rule IS NULL AND row_number() OVER (PARTITION BY rule IS NULL, item_id ORDER BY line) > 1
                    THEN 'duplicate_key' ELSE rule END AS rule
        FROM q""")
    # 5-7. Kept events: category as of the event time, root, revenue; sessions; bot flags.
    con.execute(f"""CREATE TABLE ev AS
        WITH k AS (
            SELECT v.*, coalesce(h.category_id, f.first_category) AS category_id
            FROM (SELECT * FROM valid WHERE line NOT IN (SELECT line FROM near)) v
            ASOF LEFT JOIN hist h ON v.item_id = h.item_id AND v.ts >= h.ts
            LEFT JOIN firsts f ON f.item_id = v.item_id),
        e AS (
            SELECT k.*, c.root_category_id,
                   CASE WHEN k.event = 'transaction' THEN p.price END AS revenue,
                   coalesce(ts - lag(ts) OVER w > {GAP_MS}, false)::INT AS opens,
                   count(*) OVER (PARTITION BY visitor_id ORDER BY ts RANGE BETWEEN 59999 PRECEDING AND CURRENT ROW)
                       AS in_minute
            FROM k LEFT JOIN categories c USING (category_id)
            LEFT JOIN (SELECT item_id, price FROM price_rows WHERE rule IS NULL) p USING (item_id)
            WINDOW w AS (PARTITION BY visitor_id ORDER BY ts, line)),
        s AS (
            SELECT *, CAST(sum(opens) OVER (PARTITION BY visitor_id ORDER BY ts, line ROWS UNBOUNDED PRECEDING)
                           AS UINTEGER) AS session_index,
                   max(in_minute) OVER (PARTITION BY visitor_id) AS peak_events_per_minute,
                   count(*) OVER (PARTITION BY visitor_id) AS n FROM e)
        SELECT line AS source_line, visitor_id, epoch_ms(ts) AS timestamp, event, item_id, transaction_id,
               dense_rank() OVER (ORDER BY visitor_id, session_index) - 1 AS session_id, session_index,
               category_id, root_category_id, revenue,
               n > {BOT_EVENTS} OR peak_events_per_minute > {BOT_PER_MINUTE} AS is_bot, peak_events_per_minute
        FROM s ORDER BY visitor_id, ts, line""")
    # 8. Experiment assignments: validated; a user assigned twice to one experiment keeps the first row. The planned
    # weights are validated too (their bad rows go to the quarantine).
    read_lines(con, "exp_lines", raw / "experiments.csv")
    con.execute(f"""CREATE TABLE exp_rows AS
        WITH p AS (SELECT * FROM {fields("exp_lines", ["experiment", "user_s", "variant", "at_s"])}),
        q AS (SELECT *, as_int(user_s) AS user_id, as_int(at_s) AS at_ms,
                     CASE WHEN nf <> 4 THEN 'wrong_column_count'
                          WHEN experiment IS NULL OR user_s IS NULL OR variant IS NULL OR at_s IS NULL
                              THEN 'missing_field'
                          ELSE coalesce(ts_rule(at_ms), id_rule(user_s, user_id)) END AS rule FROM p)
        SELECT source, line, raw, experiment, user_id, variant, at_ms,
               CASE WHEN rule IS NULL AND row_number() OVER (PARTITION BY rule IS NULL, experiment, user_id
                                                             ORDER BY line) > 1
                    THEN 'duplicate_key' ELSE rule END AS rule
        FROM q""")
    read_lines(con, "weight_lines", raw / "experiment_weights.csv")
    con.execute(f"""CREATE TABLE weight_rows AS
        WITH q AS (SELECT *, CASE WHEN nf <> 3 THEN 'wrong_column_count'
                                  WHEN experiment IS NULL OR variant IS NULL OR weight IS NULL THEN 'missing_field'
                                  WHEN NOT coalesce(isfinite(as_float(weight)) AND as_float(weight) > 0, false)
                                      THEN 'bad_value' END AS rule
                   FROM {fields("weight_lines", ["experiment", "variant", "weight"])})
        SELECT source, line, raw,
               CASE WHEN rule IS NULL AND row_number() OVER (PARTITION BY rule IS NULL, experiment, variant
                                                             ORDER BY line) > 1
                    THEN 'duplicate_key' ELSE rule END AS rule
        FROM q""")
    # 9. Tables.
    copy(con, "SELECT * EXCLUDE (peak_events_per_minute) FROM ev", out, "events")
    copy(
        con,
        """SELECT source, line, rule, raw FROM (
            SELECT 'events.csv' AS source, line, rule, raw FROM ev_rows WHERE rule IS NOT NULL AND first_line = line
            UNION ALL SELECT 'events.csv', line, 'near_duplicate', raw FROM ev_rows
                WHERE line IN (SELECT line FROM near)
            UNION ALL SELECT source, line, rule, raw FROM prop_rows WHERE rule IS NOT NULL
            UNION ALL SELECT source, line, rule, raw FROM tree_rows WHERE rule IS NOT NULL
            UNION ALL SELECT source, line, rule, raw FROM price_rows WHERE rule IS NOT NULL
            UNION ALL SELECT source, line, rule, raw FROM exp_rows WHERE rule IS NOT NULL
            UNION ALL SELECT source, line, rule, raw FROM weight_rows WHERE rule IS NOT NULL) ORDER BY source, line""",
        out,
        "quarantine",
    )
    copy(
        con,
        "SELECT 'events.csv' AS source, line, first_line AS duplicate_of_line FROM ev_rows WHERE first_line < line "
        "ORDER BY line",
        out,
        "duplicates",
    )
    copy(
        con,
        "SELECT experiment, user_id, variant, epoch_ms(at_ms) AS assigned_at, line AS source_line FROM exp_rows "
        "WHERE rule IS NULL ORDER BY line",
        out,
        "assignments",
    )
    copy(con, "SELECT * FROM categories", out, "categories")
    kpis(con, out)


def kpis(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """Sessions, visitors and the KPI tables of the reduced job, on the clean events."""
    con.execute("CREATE VIEW human AS SELECT *, timestamp AS ts FROM ev WHERE NOT is_bot")
    copy(
        con,
        """SELECT session_id, visitor_id, session_index, min(timestamp) AS start, max(timestamp) AS "end",
               count(*) AS n_events, count(*) FILTER (WHERE event = 'view') AS n_views,
               count(*) FILTER (WHERE event = 'addtocart') AS n_carts,
               count(*) FILTER (WHERE event = 'transaction') AS n_purchases, sum(revenue) AS revenue,
               any_value(is_bot) AS is_bot
        FROM ev GROUP BY ALL ORDER BY session_id""",
        out,
        "sessions",
    )
    copy(
        con,
        """SELECT visitor_id, min(timestamp) AS first_seen, max(timestamp) AS last_seen, count(*) AS n_events,
               max(session_index) + 1 AS n_sessions, count(*) FILTER (WHERE event = 'transaction') AS n_purchases,
               sum(revenue) AS revenue, any_value(peak_events_per_minute) AS peak_events_per_minute,
               any_value(is_bot) AS is_bot
        FROM ev GROUP BY ALL ORDER BY visitor_id""",
        out,
        "visitors",
    )
    copy(
        con,
        """SELECT CAST(ts AS DATE) AS date, count(DISTINCT visitor_id) AS visitors,
               count(*) FILTER (WHERE event = 'view') AS views, count(*) FILTER (WHERE event = 'addtocart') AS carts,
               count(*) FILTER (WHERE event = 'transaction') AS purchases, count(DISTINCT transaction_id) AS orders,
               count(DISTINCT visitor_id) FILTER (WHERE event = 'transaction') AS buyers, sum(revenue) AS revenue
        FROM human GROUP BY ALL ORDER BY date""",
        out,
        "kpi_daily",
    )
    copy(
        con,
        """SELECT count(*) AS s1, count(*) FILTER (WHERE s2) AS s2, count(*) FILTER (WHERE s3) AS s3 FROM (
            SELECT visitor_id, bool_or(event <> 'view') AS s2, bool_or(event = 'transaction') AS s3
            FROM human GROUP BY visitor_id)""",
        out,
        "funnel",
    )
    copy(
        con,
        """SELECT item_id, count(*) FILTER (WHERE event = 'view') AS views,
               count(*) FILTER (WHERE event = 'addtocart') AS carts,
               count(*) FILTER (WHERE event = 'transaction') AS purchases,
               count(DISTINCT visitor_id) FILTER (WHERE event = 'view') AS viewers, sum(revenue) AS revenue
        FROM human GROUP BY item_id""",
        out,
        "products",
    )
    copy(
        con,
        """SELECT CAST(date_trunc('week', ts) AS DATE) AS week, count(DISTINCT visitor_id) AS visitors,
               count(*) FILTER (WHERE event = 'transaction') AS purchases, count(DISTINCT transaction_id) AS orders,
               count(DISTINCT visitor_id) FILTER (WHERE event = 'transaction') AS buyers, sum(revenue) AS revenue
        FROM human GROUP BY ALL ORDER BY week""",
        out,
        "kpi_weekly",
    )
    copy(
        con,
        """SELECT isodow(ts) - 1 AS weekday, hour(ts) AS hour, count(*) AS events,
               count(DISTINCT visitor_id) AS visitors, count(*) FILTER (WHERE event = 'transaction') AS purchases,
               count(DISTINCT visitor_id) FILTER (WHERE event = 'transaction') AS buyers
        FROM human GROUP BY ALL ORDER BY ALL""",
        out,
        "kpi_hour_weekday",
    )
    copy(
        con,
        """WITH a AS (
            SELECT visitor_id, event, revenue, date_trunc('week', ts) AS week,
                   min(date_trunc('week', ts)) OVER (PARTITION BY visitor_id) AS cohort FROM human),
        sizes AS (SELECT cohort, count(DISTINCT visitor_id) AS cohort_size FROM a GROUP BY cohort)
        SELECT cohort, datediff('week', cohort, week) AS "offset", count(DISTINCT visitor_id) AS active,
               count(DISTINCT visitor_id) FILTER (WHERE event = 'transaction') AS buyers, sum(revenue) AS revenue,
               any_value(cohort_size) AS cohort_size
        FROM a JOIN sizes USING (cohort) GROUP BY ALL ORDER BY ALL""",
        out,
        "cohort_retention",
    )


if __name__ == "__main__":
    out_dir = Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    run(Path(sys.argv[1]), out_dir)
