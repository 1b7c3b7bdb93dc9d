//! The machine-readable validation report (`report.json` in the warehouse).
use serde::Serialize;

use crate::clean::pipeline::EventStats;
use crate::clean::CleanConfig;
use crate::ingest::retailrocket::PropertyCounts;
use crate::ingest::FileStats;

#[derive(Debug, Clone, Serialize)]
pub struct RuleDoc {
    pub order: usize,
    pub rule: &'static str,
    pub description: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct CategoryStats {
    pub categories: u64,
    pub roots: u64,
    pub max_level: Option<u32>,
    pub unknown_parents: u64,
    pub in_cycle: u64,
}

/// `rows_read = kept + quarantined + duplicates_removed`, per source and in total.
#[derive(Debug, Clone, Serialize)]
pub struct Conservation {
    pub rows_read: u64,
    pub kept: u64,
    pub quarantined: u64,
    pub duplicates_removed: u64,
    pub holds: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub shoplens_version: &'static str,
    pub source: String,
    pub config: CleanConfig,
    pub rules: Vec<RuleDoc>,
    pub events: EventStats,
    pub files: Vec<FileStats>,
    pub properties: PropertyCounts,
    pub categories: CategoryStats,
    pub price_source: String,
    /// What a row's position means in `quarantine`, `duplicates` and `events` (`line` of a file or
    /// `index` of a table).
    pub position: &'static str,
    /// What the reader had to decide about this source (missing optional columns, likely mistakes).
    pub notes: Vec<String>,
    pub conservation: Conservation,
    pub timings_ms: Vec<(String, u64)>,
}
