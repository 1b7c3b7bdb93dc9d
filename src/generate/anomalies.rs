//! Rows added to events.csv on purpose: exact duplicates, near-duplicates and malformed rows.
//! All are additions, so the clean data (and its counts) stay exactly what was simulated.
use super::calendar::{DAY_MS, END_MS, START_MS};
use super::event::{Event, EventKind};
use super::sizes::Sizes;
use crate::rng::{stream, Domain};
use rand::Rng;
use rand_pcg::Pcg64;
use std::collections::HashSet;

/// Malformed-row rules, in the order they are reported in truth.json.
pub(super) const RULES: [&str; 9] = [
    "wrong_column_count",
    "missing_field",
    "non_numeric_id",
    "negative_id",
    "bad_timestamp",
    "timestamp_out_of_range",
    "unknown_event_type",
    "transaction_without_order_id",
    "order_id_on_non_transaction",
];
/// Upper bound of the near-duplicate timestamp shift (the cleaning window is 1 s).
pub(super) const NEAR_DUPLICATE_WINDOW_MS: i64 = 1_000;
/// 2200-01-01 00:00 UTC.
const YEAR_2200_MS: i64 = 7_258_118_400_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum InjectedKind {
    ExactDuplicate,
    NearDuplicate,
    Malformed(usize),
}

pub(super) struct Injected {
    /// Written just before clean row number `before` (0-based; `before == len` means at the end).
    pub(super) before: usize,
    pub(super) kind: InjectedKind,
    pub(super) line: Vec<u8>,
}

/// Chooses every injected row. `events` are the sorted clean rows; the result is sorted by position.
pub(super) fn plan(
    seed: u64,
    sizes: &Sizes,
    events: &[Event],
    is_bot: &dyn Fn(u32) -> bool,
    orders: u32,
) -> Vec<Injected> {
    let mut rng = stream(seed, Domain::Anomalies, 0);
    let n = events.len();
    let mut injected = Vec::new();
    if n == 0 {
        return injected;
    }
    let mut used = HashSet::new();
    // Originals come from ordinary visitors, so the bots' event counts in truth.json stay exact;
    // copies go after their original so "keep the first" dedup removes exactly the copies.
    let mut pick_original = |rng: &mut Pcg64, want: &dyn Fn(&Event) -> bool| -> Option<usize> {
        (0..10_000).find_map(|_| {
            let i = rng.random_range(0..n);
            (want(&events[i]) && !is_bot(events[i].visitor) && used.insert(i)).then_some(i)
        })
    };
    for _ in 0..sizes.exact_duplicates {
        let Some(i) = pick_original(&mut rng, &|_| true) else {
            break;
        };
        let mut line = Vec::new();
        events[i].write_csv(&mut line);
        let before = rng.random_range(i + 1..=n);
        injected.push(Injected {
            before,
            kind: InjectedKind::ExactDuplicate,
            line,
        });
    }
    for _ in 0..sizes.near_duplicates {
        let Some(i) = pick_original(&mut rng, &|e| e.kind != EventKind::Transaction) else {
            break;
        };
        let mut copy = events[i];
        copy.ts += rng.random_range(1..NEAR_DUPLICATE_WINDOW_MS);
        let mut line = Vec::new();
        copy.write_csv(&mut line);
        let before = rng.random_range(i + 1..=n);
        injected.push(Injected {
            before,
            kind: InjectedKind::NearDuplicate,
            line,
        });
    }
    for rule in 0..RULES.len() {
        for k in 0..sizes.malformed_per_rule {
            let line = malformed_line(&mut rng, rule, k, events, orders);
            let before = rng.random_range(0..=n);
            injected.push(Injected {
                before,
                kind: InjectedKind::Malformed(rule),
                line,
            });
        }
    }
    // Stable: rows sharing a position keep their creation order.
    injected.sort_by_key(|r| r.before);
    injected
}

/// A row that breaks exactly one rule; its other fields are plausible values from the data.
fn malformed_line(
    rng: &mut Pcg64,
    rule: usize,
    k: usize,
    events: &[Event],
    orders: u32,
) -> Vec<u8> {
    let ts = rng.random_range(START_MS..END_MS).to_string();
    let visitor = events[rng.random_range(0..events.len())]
        .visitor
        .to_string();
    let item = events[rng.random_range(0..events.len())].item.to_string();
    let order = rng.random_range(0..orders.max(1)).to_string();
    let garbled = |rng: &mut Pcg64| {
        let letters: String = (0..3)
            .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
            .collect();
        format!("{letters}{}", rng.random_range(1..1000))
    };
    let fields: Vec<String> = match RULES[rule] {
        "wrong_column_count" if k % 2 == 0 => vec![ts, visitor, "view".into()],
        "wrong_column_count" => {
            vec![
                ts,
                visitor,
                "view".into(),
                item,
                String::new(),
                "1".into(),
                "x".into(),
            ]
        }
        "missing_field" => match k % 3 {
            0 => vec![String::new(), visitor, "view".into(), item, String::new()],
            1 => vec![ts, String::new(), "view".into(), item, String::new()],
            _ => vec![ts, visitor, "view".into(), String::new(), String::new()],
        },
        "non_numeric_id" if k % 2 == 0 => {
            vec![ts, garbled(rng), "view".into(), item, String::new()]
        }
        "non_numeric_id" => vec![ts, visitor, "view".into(), garbled(rng), String::new()],
        "negative_id" if k % 2 == 0 => {
            vec![
                ts,
                format!("-{}", rng.random_range(1..1_000_000)),
                "view".into(),
                item,
                String::new(),
            ]
        }
        "negative_id" => vec![
            ts,
            visitor,
            "view".into(),
            format!("-{}", rng.random_range(1..500_000)),
            String::new(),
        ],
        "bad_timestamp" => {
            let ms = rng.random_range(START_MS..END_MS);
            let text = if k % 2 == 0 {
                iso_date(ms)
            } else {
                format!("{} {}", iso_date(ms), iso_time(ms))
            };
            vec![text, visitor, "view".into(), item, String::new()]
        }
        "timestamp_out_of_range" => {
            let ms = match k % 3 {
                0 => 0,
                1 => YEAR_2200_MS + rng.random_range(0..DAY_MS),
                _ => rng.random_range(1..DAY_MS),
            };
            vec![ms.to_string(), visitor, "view".into(), item, String::new()]
        }
        "unknown_event_type" => {
            let kind = ["click", "purchase", "remove_from_cart", "search"][k % 4];
            vec![ts, visitor, kind.into(), item, String::new()]
        }
        "transaction_without_order_id" => {
            vec![ts, visitor, "transaction".into(), item, String::new()]
        }
        _ => {
            let kind = if k % 2 == 0 { "view" } else { "addtocart" };
            vec![ts, visitor, kind.into(), item, order]
        }
    };
    let mut line = fields.join(",").into_bytes();
    line.push(b'\n');
    line
}

/// Days since 1970-01-01 -> (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn iso_date(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

fn iso_time(ms: i64) -> String {
    let s = ms.rem_euclid(DAY_MS) / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(iso_date(START_MS), "2015-05-03");
        assert_eq!(iso_date(END_MS - 1), "2015-09-18");
        assert_eq!(iso_date(YEAR_2200_MS), "2200-01-01");
        assert_eq!(iso_time(START_MS + 3_723_000), "01:02:03");
    }
}
