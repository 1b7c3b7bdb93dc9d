//! Generic event tables: a user's own CSV or Parquet file, or a DataFrame, read through a column
//! mapping. The rules are those of a RetailRocket folder, in the same order and with the same code:
//! lines are split and checked here (`bad_utf8`, `wrong_column_count`), exact duplicates are found over
//! every original column, and the mapped fields go through [`validate`]. Ids may be integers or any
//! non-empty text: the pipeline sees dense codes, numbered in the order of the original values (so the
//! events stay sorted by visitor), and [`IdTables::decode`] puts the original values back.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hashbrown::HashMap;
use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::dedup::exact_duplicates;
use super::fields::split_all;
use super::text::TextFile;
use crate::clean::pipeline::{EventSource, NOT_DUPLICATE};
use crate::clean::rules::{lossy, parse_i64, present, EventType, Rule};
use crate::clean::validate::{days_from_civil, validate, Outcome, RawEvent, TimeUnit};
use crate::clean::CleanConfig;
use crate::{Error, Result};

/// Which source column holds which field. Only `timestamp`, `visitor` and `event` are required.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMapping {
    pub timestamp: String,
    pub visitor: String,
    pub event: String,
    #[serde(default)]
    pub item: Option<String>,
    #[serde(default)]
    pub order: Option<String>,
    #[serde(default)]
    pub price: Option<String>,
    /// The source's own session ids, used instead of the inactivity rule.
    #[serde(default)]
    pub session: Option<String>,
    /// Keep events of unmapped types under their own name (default), or quarantine them as
    /// `unknown_event_type`.
    #[serde(default = "keep")]
    pub keep_other_events: bool,
}

fn keep() -> bool {
    true
}

/// Field slots, in [`EventMapping::columns`] order.
const TS: usize = 0;
const VISITOR: usize = 1;
const EVENT: usize = 2;
const ITEM: usize = 3;
const ORDER: usize = 4;
const PRICE: usize = 5;
const SESSION: usize = 6;
const SLOTS: usize = 7;

impl EventMapping {
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| Error::InvalidArgument(format!("event mapping: {e}")))
    }

    /// (field, source column) per slot.
    fn columns(&self) -> [(&'static str, Option<&str>); SLOTS] {
        [
            ("timestamp", Some(self.timestamp.as_str())),
            ("visitor", Some(self.visitor.as_str())),
            ("event", Some(self.event.as_str())),
            ("item", self.item.as_deref()),
            ("order", self.order.as_deref()),
            ("price", self.price.as_deref()),
            ("session", self.session.as_deref()),
        ]
    }

    /// The slot of each mapped field in `header`, or a schema error naming what is missing.
    fn locate(&self, source: &str, header: &[String]) -> Result<[Option<usize>; SLOTS]> {
        let mut slots = [None; SLOTS];
        for (slot, (field, column)) in self.columns().into_iter().enumerate() {
            let Some(column) = column else { continue };
            match header.iter().position(|h| h == column) {
                Some(i) => slots[slot] = Some(i),
                None => {
                    return Err(Error::Schema(format!(
                        "{source}: the {field} column '{column}' is not in the table (its columns are {})",
                        header.join(", ")
                    )))
                }
            }
        }
        Ok(slots)
    }
}

/// How a row's position is given: a line of a text file (header = line 1) or an index of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    Line,
    Index,
}

impl Position {
    pub fn name(self) -> &'static str {
        match self {
            Position::Line => "line",
            Position::Index => "index",
        }
    }
}

/// A user's event table: a CSV or Parquet file, or a DataFrame (with the user's own row index, if any).
pub enum GenericInput {
    File(PathBuf),
    Frame {
        name: String,
        frame: DataFrame,
        index: Option<Vec<u64>>,
    },
}

// One Body exists per source read: the size difference of the variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum Body {
    Csv {
        file: TextFile,
        n_columns: usize,
        slots: [Option<usize>; SLOTS],
    },
    /// Some lines of a CSV file (one visitor partition of a cluster build), with their source line
    /// numbers, read through the file's header.
    Lines {
        lines: Vec<String>,
        numbers: Vec<u64>,
        n_columns: usize,
        slots: [Option<usize>; SLOTS],
    },
    Frame {
        /// Every original column as text, for exact de-duplication and the quarantine's `raw`.
        raw: Vec<StringChunked>,
        mapped: [Option<StringChunked>; SLOTS],
        positions: Vec<u64>,
    },
}

/// A generic table, read and mapped; [`GenericTable::source`] validates it for the pipeline.
pub struct GenericTable {
    /// File name or frame name (the quarantine's `source`).
    pub name: Arc<str>,
    /// Full path or frame name (the report's `source`).
    pub location: String,
    pub position: Position,
    pub mapping: EventMapping,
    body: Body,
    /// Timestamps given as datetimes (converted to ms here) rather than numbers or text.
    typed_time: bool,
}

/// Original id values by dense code.
#[derive(Debug, Clone, PartialEq)]
pub enum IdValues {
    Int(Vec<i64>),
    Text(Vec<String>),
}

/// The original ids behind the codes the pipeline used.
#[derive(Debug, Clone)]
pub struct IdTables {
    pub visitor: IdValues,
    pub item: Option<IdValues>,
    pub order: Option<IdValues>,
}

impl GenericTable {
    pub fn read(input: GenericInput, mapping: EventMapping) -> Result<GenericTable> {
        match input {
            GenericInput::File(path) => {
                if path.is_dir() {
                    return Err(Error::io(
                        &path,
                        std::io::Error::other(
                            "is a folder, expected an event file (.csv or .parquet); a RetailRocket folder is read with read_retailrocket",
                        ),
                    ));
                }
                let ext = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase);
                if matches!(ext.as_deref(), Some("parquet" | "pq")) {
                    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
                    let frame = ParquetReader::new(file)
                        .finish()
                        .map_err(|e| Error::Storage(format!("{}: {e}", path.display())))?;
                    let mut table = Self::frame(file_name(&path), frame, None, mapping)?;
                    table.location = path.display().to_string();
                    Ok(table)
                } else {
                    Self::csv(&path, mapping)
                }
            }
            GenericInput::Frame { name, frame, index } => Self::frame(name, frame, index, mapping),
        }
    }

    fn csv(path: &Path, mapping: EventMapping) -> Result<GenericTable> {
        let (file, header) = TextFile::open_any(path)?;
        let name = file.file_name();
        let slots = mapping.locate(&name, &header)?;
        Ok(GenericTable {
            name: Arc::from(name),
            location: path.display().to_string(),
            position: Position::Line,
            mapping,
            body: Body::Csv {
                file,
                n_columns: header.len(),
                slots,
            },
            typed_time: false,
        })
    }

    /// Some data lines of the CSV file `path` (without their terminators) and their source line numbers
    /// (header = 1): one partition of a partitioned build. Only the file's header is read.
    pub fn csv_lines(
        path: &Path,
        mapping: EventMapping,
        lines: Vec<String>,
        numbers: Vec<u64>,
    ) -> Result<GenericTable> {
        if lines.len() != numbers.len() {
            return Err(Error::Internal(format!(
                "{} lines but {} line numbers",
                lines.len(),
                numbers.len()
            )));
        }
        let header = super::text::header_names(path)?;
        let name = file_name(path);
        let slots = mapping.locate(&name, &header)?;
        Ok(GenericTable {
            name: Arc::from(name),
            location: path.display().to_string(),
            position: Position::Line,
            mapping,
            body: Body::Lines {
                lines,
                numbers,
                n_columns: header.len(),
                slots,
            },
            typed_time: false,
        })
    }

    /// The partition key of one data line of a CSV table (without its terminator): a hash of the mapped
    /// visitor field (trimmed) when the line splits and has one, so that all of a visitor's rows meet in
    /// one partition, else of the whole line (identical lines, exact duplicates, meet too).
    pub fn line_key(&self, line: &[u8]) -> u64 {
        let (n_columns, slots) = match &self.body {
            Body::Csv {
                n_columns, slots, ..
            }
            | Body::Lines {
                n_columns, slots, ..
            } => (*n_columns, slots),
            Body::Frame { .. } => return xxh3_64(line),
        };
        let visitor = slots[VISITOR].and_then(|c| {
            split_all(line, n_columns)
                .ok()
                .and_then(|fields| present(Some(fields[c])))
        });
        match visitor {
            Some(v) => xxh3_64(v) ^ 0x5bd1_e995,
            None => xxh3_64(line),
        }
    }

    fn frame(
        name: String,
        frame: DataFrame,
        index: Option<Vec<u64>>,
        mapping: EventMapping,
    ) -> Result<GenericTable> {
        let header: Vec<String> = frame
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let slots = mapping.locate(&name, &header)?;
        let n = frame.height();
        if index.as_ref().is_some_and(|i| i.len() != n) {
            return Err(Error::InvalidArgument(format!(
                "{name}: the index has a different length than the table ({n} rows)"
            )));
        }
        let raw = frame
            .columns()
            .par_iter()
            .map(|c| raw_text(c, &name))
            .collect::<Result<Vec<_>>>()?;
        let mut typed_time = false;
        let mut mapped: [Option<StringChunked>; SLOTS] = Default::default();
        for (slot, column) in slots.iter().enumerate() {
            let Some(column) = *column else { continue };
            let col = &frame.columns()[column];
            mapped[slot] = Some(match col.dtype() {
                DataType::Datetime(..) | DataType::Date if slot == TS => {
                    typed_time = true;
                    epoch_ms_text(col)?
                }
                dt if dt.is_float() => float_text(col)?,
                _ => raw[column].clone(),
            });
        }
        Ok(GenericTable {
            name: Arc::from(name.as_str()),
            location: name,
            position: Position::Index,
            mapping,
            body: Body::Frame {
                raw,
                mapped,
                positions: index.unwrap_or_else(|| (0..n as u64).collect()),
            },
            typed_time,
        })
    }

    pub fn n_rows(&self) -> usize {
        match &self.body {
            Body::Csv { file, .. } => file.n_rows(),
            Body::Lines { lines, .. } => lines.len(),
            Body::Frame { positions, .. } => positions.len(),
        }
    }

    fn position_of(&self, row: usize) -> u64 {
        match &self.body {
            Body::Csv { .. } => TextFile::line_no(row),
            Body::Lines { numbers, .. } => numbers[row],
            Body::Frame { positions, .. } => positions[row],
        }
    }

    /// The mapped fields of `row` (trimmed, empty = `None`), or the reader's rule it breaks.
    fn fields(&self, row: usize) -> std::result::Result<[Option<&[u8]>; SLOTS], (Rule, String)> {
        let mut out = [None; SLOTS];
        match &self.body {
            Body::Csv {
                file,
                n_columns,
                slots,
            } => {
                let fields = split_all(file.line(row), *n_columns)?;
                for (slot, column) in slots.iter().enumerate() {
                    out[slot] = column.and_then(|c| present(Some(fields[c])));
                }
            }
            Body::Lines {
                lines,
                n_columns,
                slots,
                ..
            } => {
                let fields = split_all(lines[row].as_bytes(), *n_columns)?;
                for (slot, column) in slots.iter().enumerate() {
                    out[slot] = column.and_then(|c| present(Some(fields[c])));
                }
            }
            Body::Frame { mapped, .. } => {
                for (slot, column) in mapped.iter().enumerate() {
                    out[slot] =
                        present(column.as_ref().and_then(|c| c.get(row)).map(str::as_bytes));
                }
            }
        }
        Ok(out)
    }

    fn row_hash(&self, row: usize) -> u64 {
        match &self.body {
            Body::Csv { file, .. } => xxh3_64(file.line(row)),
            Body::Lines { lines, .. } => xxh3_64(lines[row].as_bytes()),
            Body::Frame { raw, .. } => raw.iter().fold(0x9E37_79B9_7F4A_7C15, |h, c| {
                let field = c.get(row).map_or(u64::MAX, |v| xxh3_64(v.as_bytes()));
                (h.rotate_left(23) ^ field).wrapping_mul(0x1000_0000_01B3)
            }),
        }
    }

    fn rows_equal(&self, a: usize, b: usize) -> bool {
        match &self.body {
            Body::Csv { file, .. } => file.line(a) == file.line(b),
            Body::Lines { lines, .. } => lines[a] == lines[b],
            Body::Frame { raw, .. } => raw.iter().all(|c| c.get(a) == c.get(b)),
        }
    }

    /// The row as it was read: the line's text, or the row's values joined by commas.
    fn raw_row(&self, row: usize) -> String {
        match &self.body {
            Body::Csv { file, .. } => lossy(file.line(row)),
            Body::Lines { lines, .. } => lines[row].clone(),
            Body::Frame { raw, .. } => lossy(
                raw.iter()
                    .map(|c| c.get(row).unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join(",")
                    .as_bytes(),
            ),
        }
    }

    /// Validates every row, marks exact duplicates and resolves ids to dense codes: the pipeline's
    /// source, and the original ids behind the codes.
    pub fn source(&self, cfg: &CleanConfig) -> Result<(EventSource<'_>, IdTables)> {
        let n = self.n_rows();
        if n >= NOT_DUPLICATE as usize {
            return Err(Error::InvalidArgument(format!(
                "{}: more than {} rows in one source",
                self.name,
                u32::MAX - 1
            )));
        }
        let m = &self.mapping;
        let mut vcfg = cfg.validate_config();
        vcfg.text_ids = true;
        vcfg.has_item = m.item.is_some();
        vcfg.has_order = m.order.is_some();
        vcfg.keep_other_events = m.keep_other_events;
        if self.typed_time {
            vcfg.timestamp_unit = TimeUnit::Ms;
        }
        let (hashes, mut outcomes): (Vec<u64>, Vec<Outcome>) = (0..n)
            .into_par_iter()
            .map(|row| {
                let outcome = match self.fields(row) {
                    Err((rule, detail)) => Outcome::rejected(rule, detail),
                    // Required like the other fields when mapped (missing_field comes first).
                    Ok(f) if m.session.is_some() && f[SESSION].is_none() => {
                        Outcome::rejected(Rule::MissingField, "empty session")
                    }
                    Ok(f) => validate(
                        &RawEvent {
                            timestamp: f[TS],
                            visitor: f[VISITOR],
                            event: f[EVENT],
                            item: f[ITEM],
                            order: f[ORDER],
                            price: f[PRICE],
                        },
                        &vcfg,
                    ),
                };
                (self.row_hash(row), outcome)
            })
            .unzip();
        let duplicate_of = exact_duplicates(&hashes, |a, b| self.rows_equal(a, b));
        drop(hashes);

        // Dense codes over the rows that reach the pipeline.
        let live = |row: usize| {
            duplicate_of[row] == NOT_DUPLICATE && matches!(outcomes[row], Outcome::Valid(_))
        };
        let field = |row: usize, slot: usize| -> Option<&[u8]> {
            if !live(row) {
                return None;
            }
            self.fields(row).ok().and_then(|f| f[slot])
        };
        let (visitor_codes, visitor) = intern(n, |r| field(r, VISITOR));
        let item = m.item.as_ref().map(|_| intern(n, |r| field(r, ITEM)));
        let order = m.order.as_ref().map(|_| intern(n, |r| field(r, ORDER)));
        let session = m
            .session
            .as_ref()
            .map(|_| intern(n, |r| field(r, SESSION)).0);
        let other = |r: usize| match &outcomes[r] {
            Outcome::Valid(e) if e.event == EventType::Other => field(r, EVENT),
            _ => None,
        };
        let (label_codes, labels) = intern(n, other);
        let other_events: Vec<String> = match labels {
            IdValues::Int(v) => v.iter().map(i64::to_string).collect(),
            IdValues::Text(v) => v,
        };
        outcomes
            .par_iter_mut()
            .enumerate()
            .for_each(|(row, outcome)| {
                if duplicate_of[row] != NOT_DUPLICATE {
                    return;
                }
                let Outcome::Valid(e) = outcome else { return };
                e.visitor = i64::from(visitor_codes[row]);
                // -1: no item (no item column, or an event of another type without one).
                e.item = item.as_ref().map_or(-1, |(c, _)| match c[row] {
                    u32::MAX => -1,
                    code => i64::from(code),
                });
                e.order = match &order {
                    Some((c, _)) if e.order >= 0 => i64::from(c[row]),
                    Some(_) => -1,
                    // Without an order column each purchase row is its own order, named by its position.
                    None if e.event == EventType::Transaction => self.position_of(row) as i64,
                    None => -1,
                };
                if e.event == EventType::Other {
                    e.label = label_codes[row];
                }
            });
        let lines: Vec<u64> = (0..n).map(|r| self.position_of(r)).collect();
        let mut source = EventSource::new(
            self.name.clone(),
            lines.into(),
            outcomes,
            duplicate_of,
            Box::new(move |row| self.raw_row(row)),
        );
        source.other_events = other_events;
        source.session_keys = session;
        let ids = IdTables {
            visitor,
            item: item.map(|(_, v)| v),
            order: order.map(|(_, v)| v),
        };
        Ok((source, ids))
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Dense codes of the present values, numbered in the order of the values: as integers when every
/// value is an integer written canonically ("7", "-2"; not "007"), as text otherwise.
fn intern<'a>(n: usize, value: impl Fn(usize) -> Option<&'a [u8]>) -> (Vec<u32>, IdValues) {
    let mut codes = vec![u32::MAX; n];
    let mut seen: HashMap<&[u8], u32> = HashMap::new();
    let mut distinct: Vec<&[u8]> = Vec::new();
    for (row, code) in codes.iter_mut().enumerate() {
        if let Some(v) = value(row) {
            *code = *seen.entry(v).or_insert_with(|| {
                distinct.push(v);
                (distinct.len() - 1) as u32
            });
        }
    }
    let ints: Option<Vec<i64>> = distinct
        .iter()
        .map(|v| parse_i64(v).filter(|i| i.to_string().as_bytes() == *v))
        .collect();
    let mut order: Vec<u32> = (0..distinct.len() as u32).collect();
    match &ints {
        Some(ints) => order.sort_unstable_by_key(|&i| ints[i as usize]),
        None => order.sort_unstable_by_key(|&i| distinct[i as usize]),
    }
    let mut rank = vec![0u32; distinct.len()];
    for (new, &old) in order.iter().enumerate() {
        rank[old as usize] = new as u32;
    }
    codes
        .par_iter_mut()
        .filter(|c| **c != u32::MAX)
        .for_each(|c| *c = rank[*c as usize]);
    let values = match ints {
        Some(ints) => IdValues::Int(order.iter().map(|&i| ints[i as usize]).collect()),
        None => IdValues::Text(
            order
                .iter()
                .map(|&i| String::from_utf8_lossy(distinct[i as usize]).into_owned())
                .collect(),
        ),
    };
    (codes, values)
}

impl IdValues {
    fn decode(&self, col: &Column) -> Result<Column> {
        let codes = col.as_materialized_series().cast(&DataType::Int64)?;
        let codes = codes.i64()?;
        let name = col.name().clone();
        Ok(match self {
            IdValues::Int(v) => {
                let ca: Int64Chunked = codes
                    .iter()
                    .map(|c| c.and_then(|c| v.get(usize::try_from(c).ok()?).copied()))
                    .collect();
                ca.with_name(name).into_column()
            }
            IdValues::Text(v) => {
                let ca: StringChunked = codes
                    .iter()
                    .map(|c| c.and_then(|c| Some(v.get(usize::try_from(c).ok()?)?.as_str())))
                    .collect();
                ca.with_name(name).into_column()
            }
        })
    }
}

impl IdTables {
    /// A partitioned build numbers ids per partition and merges by id: every id must be an integer
    /// (text ids would need one order of the original strings across the partitions' visitor files).
    pub fn require_integers(&self, source: &str, mapping: &EventMapping) -> Result<()> {
        let fields = [
            (
                "visitor",
                Some(mapping.visitor.as_str()),
                Some(&self.visitor),
            ),
            ("item", mapping.item.as_deref(), self.item.as_ref()),
            ("order", mapping.order.as_deref(), self.order.as_ref()),
        ];
        for (field, column, values) in fields {
            if let Some(IdValues::Text(v)) = values {
                let example = v.first().map(String::as_str).unwrap_or("");
                return Err(Error::Schema(format!(
                    "{source}: the {field} column '{}' has text ids (such as '{example}'); a partitioned or \
                     Spark build takes integer visitor, item and order ids only (written as plain integers): \
                     build this table on one machine (shoplens.build_warehouse, shoplens build --events)",
                    column.unwrap_or(field)
                )));
            }
        }
        Ok(())
    }

    /// The original integer id of item code `code` (ids checked by [`Self::require_integers`]).
    pub fn item_id(&self, code: i64) -> Option<i64> {
        match &self.item {
            Some(IdValues::Int(v)) => v.get(usize::try_from(code).ok()?).copied(),
            _ => None,
        }
    }

    /// Puts the original ids into the clean tables (in place of the codes) and names the position
    /// columns after the source (`line` or `index`). Without an item column, `item_id` is null and the
    /// items table is empty.
    pub fn decode(
        &self,
        tables: &mut [(&'static str, DataFrame)],
        position: Position,
    ) -> Result<()> {
        for (name, df) in tables.iter_mut() {
            let ids: Vec<(&str, Option<&IdValues>)> = match *name {
                "events" => vec![
                    ("visitor_id", Some(&self.visitor)),
                    ("item_id", self.item.as_ref()),
                    ("transaction_id", self.order.as_ref()),
                ],
                "sessions" | "visitors" => vec![("visitor_id", Some(&self.visitor))],
                "items" => vec![("item_id", self.item.as_ref())],
                _ => Vec::new(),
            };
            for (column, values) in ids {
                match values {
                    Some(values) => {
                        let decoded = values.decode(df.column(column)?)?;
                        df.with_column(decoded)?;
                    }
                    // No order column: transaction ids are already the rows' positions.
                    None if column == "transaction_id" => {}
                    None => {
                        let nulls = Column::full_null(column.into(), df.height(), &DataType::Int64);
                        df.with_column(nulls)?;
                    }
                }
            }
            if *name == "items" && self.item.is_none() {
                *df = df.clear();
            }
            if position == Position::Index {
                let renames: &[(&str, &str)] = match *name {
                    "events" => &[("source_line", "source_index")],
                    "quarantine" => &[("line", "index")],
                    "duplicates" => &[
                        ("line", "index"),
                        ("duplicate_of_line", "duplicate_of_index"),
                    ],
                    _ => &[],
                };
                for &(from, to) in renames {
                    df.rename(from, to.into())?;
                }
            }
        }
        Ok(())
    }
}

/// A column's values as text, as the user would read them (datetimes as dates and times).
fn raw_text(col: &Column, source: &str) -> Result<StringChunked> {
    let s = col.as_materialized_series();
    let text = match s.dtype() {
        DataType::String => s.str()?.clone(),
        DataType::Null => StringChunked::full_null(s.name().clone(), s.len()),
        DataType::Datetime(unit, _) => {
            let per_ms = unit_per_ms(*unit);
            let phys = s.to_physical_repr();
            phys.i64()?
                .iter()
                .map(|v| v.map(|v| format_ms(v.div_euclid(per_ms))))
                .collect()
        }
        DataType::Date => {
            let phys = s.to_physical_repr();
            let days = phys.cast(&DataType::Int64)?;
            days.i64()?
                .iter()
                .map(|d| d.map(|d| format_ms(d * 86_400_000)[..10].to_string()))
                .collect()
        }
        dt if dt.is_float() => {
            let f = s.cast(&DataType::Float64)?;
            f.f64()?.iter().map(|v| v.map(|v| v.to_string())).collect()
        }
        dt if dt.is_primitive_numeric() || dt.is_bool() => s.cast(&DataType::String)?.str()?.clone(),
        dt => {
            return Err(Error::Schema(format!(
                "{source}: column '{}' has type {dt}, which cannot be read as text (convert it to text or numbers first)",
                s.name()
            )))
        }
    };
    Ok(text.with_name(s.name().clone()))
}

fn unit_per_ms(unit: polars::prelude::TimeUnit) -> i64 {
    match unit {
        polars::prelude::TimeUnit::Milliseconds => 1,
        polars::prelude::TimeUnit::Microseconds => 1_000,
        polars::prelude::TimeUnit::Nanoseconds => 1_000_000,
    }
}

/// Datetime and date columns as integer Unix milliseconds (UTC).
fn epoch_ms_text(col: &Column) -> Result<StringChunked> {
    let s = col.as_materialized_series();
    let per_day = match s.dtype() {
        DataType::Date => Some(86_400_000),
        _ => None,
    };
    let per_ms = match s.dtype() {
        DataType::Datetime(unit, _) => unit_per_ms(*unit),
        _ => 1,
    };
    let phys = s.to_physical_repr().cast(&DataType::Int64)?;
    let text: StringChunked = phys
        .i64()?
        .iter()
        .map(|v| {
            v.map(|v| match per_day {
                Some(d) => (v * d).to_string(),
                None => v.div_euclid(per_ms).to_string(),
            })
        })
        .collect();
    Ok(text.with_name(s.name().clone()))
}

/// Floats as text, whole numbers without a fraction (pandas stores nullable integers as floats).
fn float_text(col: &Column) -> Result<StringChunked> {
    let s = col.as_materialized_series().cast(&DataType::Float64)?;
    let text: StringChunked = s
        .f64()?
        .iter()
        .map(|v| {
            v.map(|v| {
                if v.is_finite() && v == v.trunc() && v.abs() < 9.0e15 {
                    (v as i64).to_string()
                } else {
                    v.to_string()
                }
            })
        })
        .collect();
    Ok(text.with_name(s.name().clone()))
}

/// `2015-06-02 05:02:12.117` (UTC) from Unix milliseconds; the fraction is left out when zero.
fn format_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s, f) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    debug_assert_eq!(days_from_civil(y, m, d), days);
    if f == 0 {
        format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    } else {
        format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{f:03}")
    }
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
