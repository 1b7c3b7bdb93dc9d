//! Engine tests of the KPI partials: partitions add up to identical tables, and String ids give the
//! same tables as Int64 ids.
use polars::prelude::*;

use super::*;
use crate::build::clean_retailrocket;
use crate::clean::CleanConfig;
use crate::generate::{generate, GenerateConfig};

fn cleaned(scale: f64, seed: u64) -> (DataFrame, DataFrame, DataFrame) {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = GenerateConfig {
        scale,
        seed,
        inject_anomalies: true,
    };
    generate(dir.path(), &cfg, &|_, _, _| {}).expect("generate");
    let c = clean_retailrocket(dir.path(), &CleanConfig::default(), &|_, _, _| {}).expect("clean");
    (
        c.table("events").expect("events").clone(),
        c.table("categories").expect("categories").clone(),
        c.table("items").expect("items").clone(),
    )
}

#[test]
fn one_and_seven_partitions_give_identical_tables() {
    let (events, categories, items) = cleaned(0.02, 7);
    let index = EventIndex::new(&events, Some(&categories), Some(&items)).expect("index");
    for filter in [
        Filter::default(),
        Filter {
            include_bots: true,
            days: DaySet::Weekends,
            ..Filter::default()
        },
    ] {
        let one = tables_with(&index, &filter, 1, &[]).expect("1 partition");
        let seven = tables_with(&index, &filter, 7, &[]).expect("7 partitions");
        assert_eq!(one.len(), TABLES.len());
        for ((n1, a), (n7, b)) in one.iter().zip(&seven) {
            assert_eq!(n1, n7);
            // every table has rows except possibly the flagged anomalies (daily and hourly)
            assert!(
                a.height() > 0 || n1.starts_with("anomalies"),
                "{n1} is empty"
            );
            assert!(
                a.equals_missing(b),
                "{n1} differs between 1 and 7 partitions"
            );
        }
        // the partials themselves are identical too
        assert_eq!(
            scan::compute(&index, &filter, 1),
            scan::compute(&index, &filter, 7)
        );
        // and the interactive headline is the full scan's headline
        assert_eq!(
            scan::compute(&index, &filter, 3).headline.visitors,
            scan::headline_partial(&index, &filter).visitors
        );
    }
}

#[test]
fn each_table_alone_equals_the_table_of_the_full_scan() {
    // A table asked for alone fills only its partials and skips visitors outside the date range;
    // contiguous chunks (partitions = 0) replace the hash partitions. None of it may change a value.
    let (events, categories, items) = cleaned(0.02, 11);
    let index = EventIndex::new(&events, Some(&categories), Some(&items)).expect("index");
    let first = index.first_day;
    let root = index.root_ids.iter().flatten().next().copied();
    for filter in [
        Filter::default(),
        Filter {
            start: Some(first + 10),
            end: Some(first + 30),
            ..Filter::default()
        },
        Filter {
            start: Some(first + 3),
            end: Some(first + 40),
            days: DaySet::Weekdays,
            root_category: root,
            include_bots: true,
            ..Filter::default()
        },
        Filter {
            start: Some(first + 5000),
            ..Filter::default()
        },
    ] {
        let all = tables_with(&index, &filter, 2, &[]).expect("all tables");
        for (name, expected) in &all {
            let alone = tables_with(&index, &filter, 0, &[name]).expect("one table");
            assert_eq!(alone.len(), 1);
            assert!(
                alone[0].1.equals_missing(expected),
                "{name} alone differs from {name} of the full scan ({filter:?})"
            );
        }
        let full = scan::compute(&index, &filter, 2);
        let chunks = scan::compute_needed(&index, &filter, 0, Need::ALL);
        assert_eq!(full, chunks);
        // Several chunks writing their visitor rows into one list (gaps where a chunk's visitors
        // are not selected, e.g. bots or a date range), against the partitions' rows sorted.
        let (cal, sel) = (
            scan::Calendar::new(&index),
            scan::Selection::new(&index, &filter).needing(Need::ALL),
        );
        // Workers taking blocks in turn: one worker, fewer workers than blocks, more workers
        // than blocks.
        for (workers, n_chunks, min_visitors) in
            [(1, 5, 1), (2, 5, 1), (3, 3, 100), (4, 64, 1), (9, 3, 100)]
        {
            let bounds = scan::visitor_chunks(&index, n_chunks, min_visitors);
            assert!(bounds.len() > 2, "{bounds:?}");
            let chunked = scan::chunked(&index, &cal, &sel, workers, n_chunks, min_visitors);
            assert_eq!(
                full, chunked,
                "{workers} workers, {n_chunks} chunks ({filter:?})"
            );
        }
    }
}

#[test]
fn string_ids_give_the_same_tables_as_integer_ids() {
    let (events, categories, items) = cleaned(0.005, 3);
    let as_text = |df: &DataFrame, cols: &[&str]| {
        let mut df = df.clone();
        for c in cols {
            let s = df.column(c).unwrap().cast(&DataType::String).unwrap();
            df.with_column(s).unwrap();
        }
        df
    };
    let text_events = as_text(&events, &["visitor_id", "item_id", "transaction_id"]);
    let text_items = as_text(&items, &["item_id"]);
    let a = EventIndex::new(&events, Some(&categories), Some(&items)).unwrap();
    let b = EventIndex::new(&text_events, Some(&categories), Some(&text_items)).unwrap();
    let ta = tables_with(&a, &Filter::default(), 2, &[]).unwrap();
    let tb = tables_with(&b, &Filter::default(), 2, &[]).unwrap();
    for ((name, x), (_, y)) in ta.iter().zip(&tb) {
        let mut y = y.clone();
        for id in ["visitor_id", "item_id"] {
            if y.schema().contains(id) {
                let c = y.column(id).unwrap().cast(&DataType::Int64).unwrap();
                y.with_column(c).unwrap();
            }
        }
        assert!(x.equals_missing(&y), "{name} differs with string ids");
    }
}

#[test]
fn unsorted_events_are_refused() {
    let (events, _, _) = cleaned(0.002, 1);
    let reversed = events.reverse();
    assert!(EventIndex::new(&reversed, None, None).is_err());
}

#[test]
fn the_headline_cube_equals_the_scan_for_every_kind_of_filter() {
    let (events, categories, items) = cleaned(0.02, 5);
    let index = EventIndex::new(&events, Some(&categories), Some(&items)).expect("index");
    let first = index.first_day;
    let root = index
        .root_ids
        .iter()
        .flatten()
        .copied()
        .next()
        .expect("a root");
    let mut filters = Vec::new();
    for (start, end) in [
        (None, None),
        (Some(first + 20), Some(first + 80)),
        (Some(first + 40), Some(first + 40)),
        (Some(first + 500), None),
    ] {
        for days in [DaySet::All, DaySet::Weekdays, DaySet::Weekends] {
            for root_category in [None, Some(root), Some(-7)] {
                for segment in [None, Some(0u8), Some(1), Some(2)] {
                    for include_bots in [false, true] {
                        filters.push(Filter {
                            start,
                            end,
                            days,
                            root_category,
                            segment,
                            include_bots,
                        });
                    }
                }
            }
        }
    }
    let cube = index.headline_cube();
    for f in &filters {
        let mut a = cube.query(&index, f);
        let mut b = scan::headline_partial(&index, f);
        a.multi_event_durations.sort_unstable();
        b.multi_event_durations.sort_unstable();
        assert_eq!(a, b, "{f:?}");
    }
    // the frames too (median and mean durations, rates)
    let f = &filters[37];
    assert!(headline(&index, f)
        .unwrap()
        .equals_missing(&headline_scan(&index, f).unwrap()));
}

#[test]
fn quintile_cuts_by_selection_equal_the_sorted_ones() {
    // Small sizes (repeated cut positions), ties, and a larger shuffled set.
    let mut state = 7u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as f64
    };
    for n in (0..40).chain([997, 5000]) {
        for ties in [false, true] {
            let x: Vec<f64> = (0..n)
                .map(|_| if ties { (next() % 4.0).floor() } else { next() })
                .collect();
            let mut sorted = x.clone();
            sorted.sort_by(f64::total_cmp);
            let mut shuffled = x.clone();
            assert_eq!(
                tables::quintile_cuts_unsorted(&mut shuffled),
                tables::quintile_cuts(&sorted),
                "n = {n}, ties = {ties}"
            );
        }
    }
}

#[test]
fn no_events_give_the_same_empty_tables_from_chunks_and_partitions() {
    let (events, categories, items) = cleaned(0.005, 5);
    let none = events.head(Some(0));
    let index = EventIndex::new(&none, Some(&categories), Some(&items)).expect("index");
    let chunks = tables_with(&index, &Filter::default(), 0, &[]).expect("chunks");
    let hashed = tables_with(&index, &Filter::default(), 3, &[]).expect("partitions");
    for ((name, a), (_, b)) in chunks.iter().zip(&hashed) {
        assert!(a.equals_missing(b), "{name} differs");
    }
}
