//! truth.json: everything the generator injected, for tests of the analysis.
use serde::Serialize;
use std::collections::BTreeMap;

pub(super) const GENERATOR_VERSION: u32 = 1;

#[derive(Serialize)]
pub(super) struct Truth {
    pub(super) generator_version: u32,
    pub(super) seed: u64,
    pub(super) scale: f64,
    pub(super) start_ms: i64,
    pub(super) end_ms: i64,
    pub(super) counts: Counts,
    pub(super) exact_duplicates: Lines,
    pub(super) near_duplicates: NearDuplicates,
    pub(super) malformed: BTreeMap<&'static str, Lines>,
    pub(super) bots: Bots,
    pub(super) outage: Option<Outage>,
    pub(super) category_changes: u64,
    pub(super) experiments: BTreeMap<&'static str, ExperimentTruth>,
}

/// Counts of the clean data: events.csv minus exactly the injected duplicate and malformed rows.
#[derive(Serialize, Default, Clone, Debug, PartialEq)]
pub(super) struct Counts {
    pub(super) events_clean: u64,
    pub(super) view: u64,
    pub(super) addtocart: u64,
    pub(super) transaction: u64,
    pub(super) visitors: u64,
    pub(super) buyers: u64,
    pub(super) orders: u64,
    pub(super) items_with_events: u64,
    pub(super) items_in_properties: u64,
    pub(super) categories: u64,
}

#[derive(Serialize, Default)]
pub(super) struct Lines {
    pub(super) count: u64,
    pub(super) lines: Vec<u64>,
}

#[derive(Serialize)]
pub(super) struct NearDuplicates {
    pub(super) count: u64,
    pub(super) window_ms: i64,
    pub(super) lines: Vec<u64>,
}

#[derive(Serialize)]
pub(super) struct Bots {
    pub(super) visitor_ids: Vec<u32>,
    pub(super) events: u64,
}

#[derive(Serialize)]
pub(super) struct Outage {
    pub(super) start_ms: i64,
    pub(super) end_ms: i64,
    pub(super) conversion_multiplier: f64,
}

#[derive(Serialize)]
pub(super) struct ExperimentTruth {
    pub(super) variants: [&'static str; 2],
    pub(super) planned_weights: BTreeMap<&'static str, f64>,
    pub(super) start_ms: i64,
    pub(super) end_ms: i64,
    pub(super) metric: &'static str,
    pub(super) true_relative_lift: BTreeMap<&'static str, f64>,
    /// Expected relative lift of every analysed metric (variant -> metric -> lift), injected or
    /// induced: see `experiment_truth`.
    pub(super) true_relative_lifts: BTreeMap<&'static str, BTreeMap<&'static str, f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) expected_conversion: Option<BTreeMap<&'static str, f64>>,
    pub(super) srm: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) lost_fraction: Option<BTreeMap<&'static str, f64>>,
}
