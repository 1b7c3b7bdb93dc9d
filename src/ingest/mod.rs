//! Reading sources: RetailRocket folders, generic event tables, and the text files behind them.
pub mod assignments;
pub mod dedup;
pub mod fields;
pub mod generic;
pub mod retailrocket;
pub mod text;

use std::sync::Arc;

use serde::Serialize;

use crate::clean::columns::QuarantineRow;
use crate::clean::rules::Rule;

/// Row accounting of one reference file (properties, tree, prices): read = kept + quarantined.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileStats {
    pub source: String,
    pub rows_read: u64,
    pub kept: u64,
    pub quarantined: u64,
    pub by_rule: Vec<(String, u64)>,
}

impl FileStats {
    pub fn new(source: &str, rows_read: usize, quarantine: &[QuarantineRow]) -> Self {
        let mine: Vec<&QuarantineRow> = quarantine
            .iter()
            .filter(|q| q.source.as_ref() == source)
            .collect();
        let by_rule = Rule::ALL
            .iter()
            .map(|r| {
                (
                    r.name().to_string(),
                    mine.iter().filter(|q| q.rule == *r).count() as u64,
                )
            })
            .filter(|(_, c)| *c > 0)
            .collect();
        FileStats {
            source: source.to_string(),
            rows_read: rows_read as u64,
            kept: (rows_read - mine.len()) as u64,
            quarantined: mine.len() as u64,
            by_rule,
        }
    }
}

pub(crate) fn quarantine_row(
    source: &Arc<str>,
    line: u64,
    rule: Rule,
    detail: String,
    raw: &[u8],
) -> QuarantineRow {
    QuarantineRow {
        source: source.clone(),
        line,
        rule,
        detail,
        raw: crate::clean::rules::lossy(raw),
    }
}
