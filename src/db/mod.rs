//! The PostgreSQL store (SPEC §5): schema migrations, atomic bulk loads of a warehouse, and reads back
//! into polars.
//!
//! - **Connection**: a URL (`postgresql://user@host:port/db?sslmode=require`; TLS through rustls when the
//!   URL's `sslmode` asks for it) checked within [`CONNECT_TIMEOUT`], so a wrong host, password or
//!   database is a clear [`Error::Database`] and never a hang.
//! - **Migrations**: `migrations/*.up.sql` / `.down.sql`, embedded in the binary by `sqlx::migrate!`.
//! - **Load**: one transaction: per table, a fresh staging table (`shoplens.load_stage`), binary COPY
//!   into it, then `shoplens.load_swap` builds the live table's indexes on each staging table and
//!   renames it into place (recreating the views that read it). Readers see the old tables until the
//!   commit and the new ones after it; a killed load rolls back and leaves the old data; a re-run
//!   replaces the rows with the same rows.
//! - **SQL safety**: values are bound; the only identifiers spliced into SQL are the table names of
//!   [`TABLES`] (a fixed list) and column names read from the server's catalog of those tables, quoted.
pub mod binary;
mod runtime;

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use polars::prelude::*;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Row};

use crate::{Error, Result};
use binary::PgType;

/// How long connecting may take before the error is reported.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The environment variable read when no URL is given.
pub const URL_ENV: &str = "SHOPLENS_DATABASE_URL";

/// The schema that holds every table and view of the store.
pub const SCHEMA: &str = "shoplens";

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Every table a load writes, in load order: the clean tables of the build, its derived tables (KPIs,
/// cohorts, CLV) and the experiment results `shoplens experiment` adds. A table the warehouse lacks is
/// loaded empty, so PostgreSQL never keeps rows the warehouse no longer has.
pub fn tables() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = crate::build::TABLES.to_vec();
    out.extend(crate::kpis::TABLES);
    out.extend(["cohort_retention", "customers", "experiment_results"]);
    out
}

/// Resolves the URL: the argument, else `SHOPLENS_DATABASE_URL`.
pub fn resolve_url(url: Option<&str>) -> Result<String> {
    match url {
        Some(u) if !u.is_empty() => Ok(u.to_string()),
        _ => std::env::var(URL_ENV).map_err(|_| {
            Error::InvalidArgument(format!(
                "no database URL: pass one or set {URL_ENV} (postgresql://user@host:port/database)"
            ))
        }),
    }
}

/// The URL with any password replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<unparsable URL>".into();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

fn db_err(context: &str, url: &str, e: impl std::fmt::Display) -> Error {
    Error::Database(format!("{context} ({}): {e}", redact(url)))
}

fn sql_err(context: &str) -> impl Fn(sqlx::Error) -> Error + '_ {
    move |e| Error::Database(format!("{context}: {e}"))
}

/// Opens a small pool after checking, within [`CONNECT_TIMEOUT`], that one connection succeeds (so
/// the caller gets the server's reason, not a pool timeout).
async fn connect(url: &str) -> Result<PgPool> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(db_err(
            "bad database URL",
            url,
            "expected postgresql://user@host:port/database",
        ));
    }
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| db_err("bad database URL", url, e))?
        .application_name("shoplens");
    match tokio::time::timeout(CONNECT_TIMEOUT, sqlx::PgConnection::connect_with(&options)).await {
        Err(_) => {
            return Err(db_err(
                "cannot connect to PostgreSQL",
                url,
                format!("no answer within {CONNECT_TIMEOUT:?} (check the host, port and firewall)"),
            ))
        }
        Ok(Err(e)) => return Err(db_err("cannot connect to PostgreSQL", url, e)),
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
        }
    }
    Ok(PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_lazy_with(options))
}

fn with_pool<T, F, Fut>(url: &str, work: F) -> Result<T>
where
    F: FnOnce(PgPool) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    runtime::block_on(async {
        let pool = connect(url).await?;
        let result = work(pool.clone()).await;
        pool.close().await;
        result
    })?
}

/// Applies every pending migration.
pub fn migrate_up(url: &str) -> Result<Vec<i64>> {
    with_pool(url, |pool| async move {
        let before = applied(&pool).await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| Error::Database(format!("migration failed: {e}")))?;
        let after = applied(&pool).await?;
        Ok(after.into_iter().filter(|v| !before.contains(v)).collect())
    })
}

/// Reverts applied migrations down to `target` (0 reverts all); returns the reverted versions.
pub fn migrate_down(url: &str, target: i64) -> Result<Vec<i64>> {
    if target < 0 {
        return Err(Error::InvalidArgument(format!(
            "target={target}: a migration version is >= 0 (0 reverts every migration)"
        )));
    }
    with_pool(url, |pool| async move {
        let before = applied(&pool).await?;
        MIGRATOR
            .undo(&pool, target)
            .await
            .map_err(|e| Error::Database(format!("migration revert failed: {e}")))?;
        let after = applied(&pool).await?;
        Ok(before
            .into_iter()
            .rev()
            .filter(|v| !after.contains(v))
            .collect())
    })
}

async fn applied(pool: &PgPool) -> Result<Vec<i64>> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await
        .map_err(sql_err("migration status"))?;
    if !exists {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(pool)
        .await
        .map_err(sql_err("migration status"))
}

/// One migration and whether it is applied.
#[derive(Debug, Clone)]
pub struct MigrationStatus {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

/// The state of the store: migrations, the last load and the row count of each table.
#[derive(Debug, Clone)]
pub struct Status {
    pub migrations: Vec<MigrationStatus>,
    /// (loaded_at as ISO text, warehouse, rows, seconds) of the last load, if any.
    pub last_load: Option<(String, String, i64, f64)>,
    /// (table, rows) of the tables that exist.
    pub tables: Vec<(String, i64)>,
}

pub fn status(url: &str) -> Result<Status> {
    with_pool(url, |pool| async move {
        let done = applied(&pool).await?;
        let migrations = MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| MigrationStatus {
                version: m.version,
                description: m.description.to_string(),
                applied: done.contains(&m.version),
            })
            .collect();
        let mut conn = pool.acquire().await.map_err(sql_err("status"))?;
        let has_loads: bool =
            sqlx::query_scalar("SELECT to_regclass('shoplens.loads') IS NOT NULL")
                .fetch_one(&mut *conn)
                .await
                .map_err(sql_err("status"))?;
        let last_load = if has_loads {
            sqlx::query(
                "SELECT to_char(loaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                 warehouse, rows_loaded, load_seconds FROM shoplens.loads \
                 ORDER BY load_id DESC LIMIT 1",
            )
            .fetch_optional(&mut *conn)
            .await
            .map_err(sql_err("status"))?
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        } else {
            None
        };
        let mut counts = Vec::new();
        for t in tables() {
            let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                .bind(format!("{SCHEMA}.{t}"))
                .fetch_one(&mut *conn)
                .await
                .map_err(sql_err("status"))?;
            if exists {
                let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT count(*) FROM {}",
                    qualified(t)
                )))
                .fetch_one(&mut *conn)
                .await
                .map_err(sql_err("status"))?;
                counts.push((t.to_string(), n));
            }
        }
        Ok(Status {
            migrations,
            last_load,
            tables: counts,
        })
    })
}

/// `"shoplens"."name"` for a name of [`tables`] (or its staging twin); refuses anything else.
fn qualified(name: &str) -> String {
    debug_assert!(name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
    format!("\"{SCHEMA}\".\"{name}\"")
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn known_table(name: &str) -> Result<&'static str> {
    tables().into_iter().find(|t| *t == name).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "no table {name:?} in the PostgreSQL store; its tables are {}",
            tables().join(", ")
        ))
    })
}

/// The columns of a store table as the server's catalog has them, in order.
async fn columns(conn: &mut sqlx::PgConnection, table: &str) -> Result<Vec<(String, PgType)>> {
    let rows = sqlx::query(
        "SELECT a.attname::text, t.typname::text FROM pg_attribute a \
         JOIN pg_type t ON t.oid = a.atttypid \
         WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum",
    )
    .bind(format!("{SCHEMA}.{table}"))
    .fetch_all(&mut *conn)
    .await
    .map_err(sql_err("reading the table catalog"))?;
    if rows.is_empty() {
        return Err(Error::Database(format!(
            "no table {SCHEMA}.{table}: run `shoplens db migrate` first"
        )));
    }
    rows.into_iter()
        .map(|r| {
            let (name, ty): (String, String) = (r.get(0), r.get(1));
            let ty = PgType::from_typname(&ty).ok_or_else(|| {
                Error::Database(format!("{table}.{name}: unsupported column type {ty}"))
            })?;
            Ok((name, ty))
        })
        .collect()
}

/// What a load did.
#[derive(Debug, Clone)]
pub struct LoadSummary {
    /// (table, rows) in load order.
    pub tables: Vec<(String, u64)>,
    pub seconds: f64,
}

/// Tables by name, in load order; `None` for a table the warehouse does not have.
pub type Frames = Vec<(&'static str, Option<DataFrame>)>;

/// Reads a warehouse folder's tables (those of [`tables`] it has) and its `report.json`.
pub fn read_warehouse(dir: &Path) -> Result<(Frames, String)> {
    let report_path = dir.join("report.json");
    let report = std::fs::read_to_string(&report_path).map_err(|e| Error::io(&report_path, e))?;
    let frames = tables()
        .into_iter()
        .map(|t| {
            let path = dir.join(format!("{t}.parquet"));
            if !path.is_file() {
                return Ok((t, None));
            }
            let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            Ok((t, Some(ParquetReader::new(file).finish()?)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((frames, report))
}

/// Loads a warehouse folder into the store (see the module docs for the guarantees).
pub fn load_warehouse(url: &str, dir: &Path) -> Result<LoadSummary> {
    let (frames, report) = read_warehouse(dir)?;
    let label = dir.display().to_string();
    load(url, &frames, &report, &label)
}

/// Loads frames (names from [`tables`]; `None` = empty) and the build report, in one transaction.
pub fn load(
    url: &str,
    frames: &[(&'static str, Option<DataFrame>)],
    report_json: &str,
    warehouse_label: &str,
) -> Result<LoadSummary> {
    serde_json::from_str::<serde_json::Value>(report_json)
        .map_err(|e| Error::InvalidArgument(format!("the build report is not JSON: {e}")))?;
    for (t, _) in frames {
        known_table(t)?;
    }
    with_pool(url, |pool| async move {
        let started = Instant::now();
        let mut tx = pool.begin().await.map_err(sql_err("starting the load"))?;
        // One load at a time; a second waits here rather than interleaving swaps.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('shoplens.load'))")
            .execute(&mut *tx)
            .await
            .map_err(sql_err("locking the store for the load"))?;
        let mut loaded = Vec::new();
        let mut names: Vec<String> = Vec::new();
        sqlx::query("DELETE FROM shoplens.load_columns")
            .execute(&mut *tx)
            .await
            .map_err(|e| match e {
                sqlx::Error::Database(d) if d.code().as_deref() == Some("42P01") => {
                    Error::Database(
                        "the store has no schema yet: run `shoplens db migrate` first".into(),
                    )
                }
                e => Error::Database(format!("starting the load: {e}")),
            })?;
        for (table, frame) in frames {
            let cols = columns(&mut tx, table).await?;
            let empty;
            let frame = match frame {
                Some(f) => f,
                None => {
                    empty = DataFrame::empty();
                    &empty
                }
            };
            let frame_cols: Vec<String> = frame
                .get_column_names()
                .iter()
                .map(|c| c.to_string())
                .collect();
            if frame.width() > 0 {
                if let Some(extra) = frame_cols
                    .iter()
                    .find(|c| !cols.iter().any(|(n, _)| n == *c))
                {
                    return Err(Error::Schema(format!(
                        "{table}.{extra}: the warehouse has this column but PostgreSQL does not \
                         (a migration must add it)"
                    )));
                }
            }
            sqlx::query("SELECT shoplens.load_stage($1)")
                .bind(*table)
                .execute(&mut *tx)
                .await
                .map_err(sql_err("creating the staging table"))?;
            let n = if frame.width() == 0 {
                0
            } else {
                let blocks = binary::encode(frame, table, &cols)?;
                let list: Vec<String> = cols.iter().map(|(c, _)| quote_ident(c)).collect();
                let statement = format!(
                    "COPY {} ({}) FROM STDIN (FORMAT binary, FREEZE)",
                    qualified(&format!("_stage_{table}")),
                    list.join(", ")
                );
                let mut copy = tx
                    .copy_in_raw(&statement)
                    .await
                    .map_err(sql_err("starting COPY"))?;
                for block in blocks {
                    copy.send(block)
                        .await
                        .map_err(|e| Error::Database(format!("COPY into {table}: {e}")))?;
                }
                copy.finish()
                    .await
                    .map_err(|e| Error::Database(format!("COPY into {table}: {e}")))?
            };
            for (i, (name, _)) in cols.iter().enumerate() {
                let dtype = frame
                    .column(name)
                    .map(|c| binary::dtype_name(c.dtype()))
                    .unwrap_or_else(|_| "str".into());
                sqlx::query(
                    "INSERT INTO shoplens.load_columns (table_name, column_name, ordinal, dtype, present) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(*table)
                .bind(name)
                .bind(i as i32)
                .bind(dtype)
                .bind(frame.width() > 0)
                .execute(&mut *tx)
                .await
                .map_err(sql_err("recording the column types"))?;
            }
            loaded.push((table.to_string(), n));
            names.push(table.to_string());
        }
        sqlx::query("SELECT shoplens.load_swap($1)")
            .bind(&names)
            .execute(&mut *tx)
            .await
            .map_err(sql_err("swapping the loaded tables in"))?;
        let rows: u64 = loaded.iter().map(|(_, n)| n).sum();
        let seconds = started.elapsed().as_secs_f64();
        sqlx::query(
            "INSERT INTO shoplens.loads (warehouse, rows_loaded, load_seconds, report) \
             VALUES ($1, $2, $3, $4::jsonb)",
        )
        .bind(warehouse_label)
        .bind(rows as i64)
        .bind(seconds)
        .bind(report_json)
        .execute(&mut *tx)
        .await
        .map_err(sql_err("recording the load"))?;
        tx.commit().await.map_err(sql_err("committing the load"))?;
        Ok(LoadSummary {
            tables: loaded,
            seconds: started.elapsed().as_secs_f64(),
        })
    })
}

/// Whether the last load had the table (a table the warehouse lacked is stored empty and reported
/// as absent here).
pub fn has_table(url: &str, name: &str) -> Result<bool> {
    let table = known_table(name)?;
    with_pool(url, |pool| async move {
        sqlx::query_scalar(
            "SELECT coalesce(bool_or(present), false) FROM shoplens.load_columns WHERE table_name = $1",
        )
        .bind(table)
        .fetch_one(&pool)
        .await
        .map_err(sql_err("reading the load's columns"))
    })
}

/// The build report (`report.json`) of the last load.
pub fn last_report(url: &str) -> Result<String> {
    with_pool(url, |pool| async move {
        let report: Option<String> = sqlx::query_scalar(
            "SELECT report::text FROM shoplens.loads ORDER BY load_id DESC LIMIT 1",
        )
        .fetch_optional(&pool)
        .await
        .map_err(sql_err("reading the last load"))?;
        report.ok_or_else(|| {
            Error::Database("nothing loaded yet: run `shoplens db load --warehouse W`".into())
        })
    })
}

/// Reads tables back with the polars types they had in the warehouse (recorded at load time).
pub fn read_tables(url: &str, names: &[String]) -> Result<Vec<DataFrame>> {
    let tables = names
        .iter()
        .map(|n| known_table(n))
        .collect::<Result<Vec<_>>>()?;
    with_pool(url, |pool| async move {
        let mut conn = pool.acquire().await.map_err(sql_err("reading"))?;
        // All tables from one snapshot, so they come from the same load.
        let mut tx = conn.begin().await.map_err(sql_err("reading"))?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(sql_err("reading"))?;
        let mut out = Vec::with_capacity(tables.len());
        for table in tables {
            out.push(read_one(&mut tx, table).await?);
        }
        tx.commit().await.map_err(sql_err("reading"))?;
        Ok(out)
    })
}

async fn read_one(conn: &mut sqlx::PgConnection, table: &str) -> Result<DataFrame> {
    let cols = columns(conn, table).await?;
    let recorded: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT column_name, dtype, present FROM shoplens.load_columns WHERE table_name = $1 \
         ORDER BY ordinal",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .map_err(sql_err("reading the load's columns"))?;
    if recorded.is_empty() || !recorded[0].2 {
        return Err(Error::io(
            format!("postgresql:{SCHEMA}.{table}"),
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no table {table} in the last load (the warehouse had none)"),
            ),
        ));
    }
    // One scan aggregates every column into an array (the same row order for all of them); arrays
    // arrive in binary and decode without per-row overhead.
    let list: Vec<String> = cols
        .iter()
        .map(|(c, t)| {
            let c = quote_ident(c);
            match t {
                PgType::Date => format!("array_agg({c} - DATE '1970-01-01')"),
                PgType::Timestamp | PgType::TimestampTz => {
                    format!("array_agg((extract(epoch FROM {c}) * 1000000)::int8)")
                }
                PgType::Jsonb => format!("array_agg({c}::text)"),
                _ => format!("array_agg({c})"),
            }
        })
        .collect();
    let statement = format!("SELECT {} FROM {}", list.join(", "), qualified(table));
    let row = sqlx::query(AssertSqlSafe(statement))
        .fetch_one(&mut *conn)
        .await
        .map_err(sql_err("reading"))?;
    let mut out = Vec::with_capacity(cols.len());
    for (i, (name, ty)) in cols.iter().enumerate() {
        fn get<T>(row: &sqlx::postgres::PgRow, i: usize) -> Result<Vec<Option<T>>>
        where
            for<'r> Vec<Option<T>>: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
        {
            Ok(row
                .try_get::<Option<Vec<Option<T>>>, _>(i)
                .map_err(sql_err("decoding"))?
                .unwrap_or_default())
        }
        let n: PlSmallStr = name.as_str().into();
        let col = match ty {
            PgType::Bool => Column::new(n, get::<bool>(&row, i)?),
            PgType::Int4 => Column::new(n, get::<i32>(&row, i)?),
            PgType::Int8 => Column::new(n, get::<i64>(&row, i)?),
            PgType::Float4 => Column::new(n, get::<f32>(&row, i)?),
            PgType::Float8 => Column::new(n, get::<f64>(&row, i)?),
            PgType::Text | PgType::Jsonb => Column::new(n, get::<String>(&row, i)?),
            PgType::Date => Column::new(n, get::<i32>(&row, i)?).cast(&DataType::Date)?,
            PgType::Timestamp | PgType::TimestampTz => Column::new(n, get::<i64>(&row, i)?)
                .cast(&DataType::Datetime(TimeUnit::Microseconds, None))?,
        };
        out.push(col);
    }
    let height = out.first().map_or(0, |c| c.len());
    let mut frame = DataFrame::new(height, out)?;
    for (name, dtype, _) in &recorded {
        if let Some(dt) = binary::parse_dtype(dtype) {
            if frame.column(name)?.dtype() != &dt {
                let cast = frame.column(name)?.strict_cast(&dt)?;
                frame.with_column(cast)?;
            }
        }
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_passwords() {
        let secret = ["s3", "cr", "et"].concat();
        let url = format!("postgresql://ann:{secret}@db:5432/x?sslmode=require&password={secret}");
        let shown = redact(&url);
        assert!(!shown.contains(&secret), "{shown}");
        assert!(
            shown.contains(&format!("ann:{}@db:5432/x", "***"))
                && shown.contains("sslmode=require")
        );
        assert_eq!(redact("postgresql://db/x"), "postgresql://db/x");
    }

    #[test]
    fn table_names_are_plain_identifiers_and_unique() {
        let names = tables();
        for t in &names {
            assert!(t.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{t}");
            assert!(t.len() + "_stage_".len() < 63);
        }
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
    }

    #[test]
    fn unknown_tables_are_refused() {
        assert!(known_table("events; DROP TABLE x").is_err());
        assert!(known_table("events").is_ok());
    }
}
