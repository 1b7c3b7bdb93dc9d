//! Generic event tables: columns already mapped to the canonical names and given as text, with the
//! source line of each row and the exact-duplicate marks the caller computed over all original columns.
use std::sync::Arc;

use polars::prelude::*;
use rayon::prelude::*;

use crate::clean::pipeline::{EventSource, NOT_DUPLICATE};
use crate::clean::rules::Rule;
use crate::clean::validate::{validate, Outcome, RawEvent};
use crate::clean::CleanConfig;
use crate::{Error, Result};

/// Canonical column names of a mapped generic table; `order` and `price` may be absent.
pub const FIELDS: [&str; 6] = ["timestamp", "visitor", "event", "item", "order", "price"];

/// Text columns of one mapped table, owned so rows can be borrowed by the pipeline.
pub struct FrameText {
    pub name: Arc<str>,
    columns: Vec<Option<StringChunked>>,
    lines: Vec<u64>,
    duplicate_of: Vec<u32>,
    /// Rows the reader could not split: "rule: detail | raw line".
    malformed: Option<StringChunked>,
}

impl FrameText {
    /// `df` has String columns named as [`FIELDS`] (missing optional ones allowed), a UInt64 `__line`
    /// and a nullable UInt64 `__duplicate_of` (row index of the first identical row).
    pub fn new(name: &str, df: &DataFrame) -> Result<FrameText> {
        let n = df.height();
        let mut columns = Vec::with_capacity(FIELDS.len());
        for field in FIELDS {
            match df.column(field) {
                Ok(c) => {
                    let s = c.as_materialized_series().str().map_err(|_| {
                        Error::Schema(format!(
                            "column '{field}' must be text after mapping, found {}",
                            c.dtype()
                        ))
                    })?;
                    columns.push(Some(s.rechunk().into_owned()));
                }
                Err(_) if field == "order" || field == "price" => columns.push(None),
                Err(_) => return Err(Error::Schema(format!("no column mapped to '{field}'"))),
            }
        }
        let line_col = df
            .column("__line")
            .map_err(|_| Error::Schema("missing __line".into()))?;
        let lines: Vec<u64> = line_col
            .as_materialized_series()
            .u64()
            .map_err(|_| Error::Schema("__line must be UInt64".into()))?
            .iter()
            .map(|v| v.unwrap_or(0))
            .collect();
        let dup_col = df
            .column("__duplicate_of")
            .map_err(|_| Error::Schema("missing __duplicate_of".into()))?;
        let duplicate_of: Vec<u32> = dup_col
            .as_materialized_series()
            .u64()
            .map_err(|_| Error::Schema("__duplicate_of must be UInt64".into()))?
            .iter()
            .enumerate()
            .map(|(row, v)| match v {
                Some(first) if (first as usize) < row => first as u32,
                _ => NOT_DUPLICATE,
            })
            .collect();
        let malformed = match df.column("__malformed") {
            Ok(c) => Some(
                c.as_materialized_series()
                    .str()
                    .map_err(|_| Error::Schema("__malformed must be text".into()))?
                    .rechunk()
                    .into_owned(),
            ),
            Err(_) => None,
        };
        if lines.len() != n || duplicate_of.len() != n {
            return Err(Error::Internal("frame columns differ in length".into()));
        }
        Ok(FrameText {
            name: Arc::from(name),
            columns,
            lines,
            duplicate_of,
            malformed,
        })
    }

    fn field(&self, col: usize, row: usize) -> Option<&[u8]> {
        self.columns[col]
            .as_ref()
            .and_then(|c| c.get(row))
            .map(str::as_bytes)
    }

    fn malformed_at(&self, row: usize) -> Option<(Rule, String)> {
        let text = self.malformed.as_ref()?.get(row)?;
        let (head, _) = text.split_once(" | ").unwrap_or((text, ""));
        let (rule, detail) = head.split_once(": ").unwrap_or((head, ""));
        let rule = if rule == "bad_utf8" {
            Rule::BadUtf8
        } else {
            Rule::WrongColumnCount
        };
        Some((rule, detail.to_string()))
    }

    pub fn source(&self, cfg: &CleanConfig) -> EventSource<'_> {
        let vcfg = cfg.validate_config();
        let n = self.lines.len();
        let outcomes = (0..n)
            .into_par_iter()
            .map(|row| {
                if let Some((rule, detail)) = self.malformed_at(row) {
                    return Outcome::rejected(rule, detail);
                }
                let raw = RawEvent {
                    timestamp: self.field(0, row),
                    visitor: self.field(1, row),
                    event: self.field(2, row),
                    item: self.field(3, row),
                    order: self.field(4, row),
                    price: self.field(5, row),
                };
                validate(&raw, &vcfg)
            })
            .collect();
        EventSource {
            name: self.name.clone(),
            lines: self.lines.clone(),
            outcomes,
            duplicate_of: self.duplicate_of.clone(),
            raw_text: Box::new(move |row| {
                if let Some(text) = self.malformed.as_ref().and_then(|m| m.get(row)) {
                    return text
                        .split_once(" | ")
                        .map_or(text, |(_, raw)| raw)
                        .to_string();
                }
                (0..FIELDS.len())
                    .filter(|&c| self.columns[c].is_some())
                    .map(|c| {
                        self.field(c, row)
                            .map(|f| String::from_utf8_lossy(f).into_owned())
                            .unwrap_or_default()
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        }
    }
}
