//! Item catalog files: time-versioned properties (two parts) and prices.
use super::calendar::DAY_MS;
use super::catalog::Catalog;
use super::tree::CategoryTree;
use crate::rng::{hash2, stream, Domain};
use rand::Rng;
use rand_distr::{Distribution, LogNormal};
use rand_pcg::Pcg64;
use std::ops::Range;

/// Sunday 2015-04-26 03:00 UTC: the snapshot before the first event, so every event has an
/// as-of category. Later snapshots follow weekly at the same time (like the real data).
pub(super) const FIRST_SNAPSHOT_MS: i64 = 1_430_017_200_000;
pub(super) const SNAPSHOTS: i64 = 21;
pub(super) const ITEMS_PER_CHUNK: usize = 8192;
pub(super) const CATEGORY_CHANGE_P: f64 = 0.03;
const AVAILABLE_P: f64 = 0.7;
const AVAILABILITY_FLIP_P: f64 = 0.018;
const THIRD_HASHED_PROPERTY_P: f64 = 0.4;
const HASHED_UPDATE_P: f64 = 0.05;
const HASHED_PROPERTIES: [&str; 18] = [
    "888", "790", "6", "283", "776", "364", "159", "112", "917", "202", "839", "227", "678",
    "1036", "571", "451", "698", "1028",
];
/// Median 30, long right tail (mean about 49).
const PRICE_LOG_MEDIAN: f64 = 3.401_197_381_662_155; // ln(30)
const PRICE_LOG_SD: f64 = 1.0;

pub(super) fn snapshot_ms(k: i64) -> i64 {
    FIRST_SNAPSHOT_MS + 7 * DAY_MS * k
}

/// Rows and prices of one chunk of catalog items, ready to be written in chunk order.
pub(super) struct ItemChunk {
    pub(super) parts: [Vec<u8>; 2],
    pub(super) rows: [u64; 2],
    pub(super) category_changes: u64,
    /// (item id, price in cents)
    pub(super) prices: Vec<(u32, u64)>,
}

enum Property {
    Category,
    Available,
    Hashed(usize),
}

impl Property {
    fn name(&self) -> &'static str {
        match self {
            Property::Category => "categoryid",
            Property::Available => "available",
            Property::Hashed(i) => HASHED_PROPERTIES[*i],
        }
    }

    /// Decides which of the two files holds the rows of one (item, property).
    fn part(&self, item: u32) -> usize {
        let code = match self {
            Property::Category => 0,
            Property::Available => 1,
            Property::Hashed(i) => 2 + *i as u64,
        };
        (hash2(u64::from(item), code) & 1) as usize
    }
}

pub(super) fn generate_chunk(
    seed: u64,
    chunk: usize,
    catalog: &Catalog,
    tree: &CategoryTree,
) -> ItemChunk {
    let mut rng = stream(seed, Domain::Items, chunk as u64);
    let price = LogNormal::new(PRICE_LOG_MEDIAN, PRICE_LOG_SD).expect("constant parameters");
    let first = chunk * ITEMS_PER_CHUNK;
    let last = (first + ITEMS_PER_CHUNK).min(catalog.item_ids.len());
    let mut out = ItemChunk {
        parts: [Vec::new(), Vec::new()],
        rows: [0, 0],
        category_changes: 0,
        prices: Vec::with_capacity(last - first),
    };
    // Values go into one reused arena; rows refer to byte ranges of it (no allocation per row).
    let mut rows: Vec<(i64, Property, Range<usize>)> = Vec::new();
    let mut values: Vec<u8> = Vec::new();
    let mut num = itoa::Buffer::new();
    for &item in &catalog.item_ids[first..last] {
        rows.clear();
        values.clear();
        let value = |values: &mut Vec<u8>, text: &[u8]| {
            let start = values.len();
            values.extend_from_slice(text);
            start..values.len()
        };
        let cents = (price.sample(&mut rng) * 100.0).round().clamp(50.0, 1e9) as u64;
        out.prices.push((item, cents));

        let category = tree.pick_for_item(&mut rng);
        let v = value(&mut values, num.format(tree.ids[category]).as_bytes());
        rows.push((0, Property::Category, v));
        if rng.random_bool(CATEGORY_CHANGE_P) {
            let to = tree.pick_move(&mut rng, category);
            let k = rng.random_range(2..SNAPSHOTS - 1);
            let v = value(&mut values, num.format(tree.ids[to]).as_bytes());
            rows.push((k, Property::Category, v));
            out.category_changes += 1;
        }

        let mut available = rng.random_bool(AVAILABLE_P);
        let v = value(&mut values, if available { b"1" } else { b"0" });
        rows.push((0, Property::Available, v));
        for k in 1..SNAPSHOTS {
            if rng.random_bool(AVAILABILITY_FLIP_P) {
                available = !available;
                let v = value(&mut values, if available { b"1" } else { b"0" });
                rows.push((k, Property::Available, v));
            }
        }

        let n_hashed = if rng.random_bool(THIRD_HASHED_PROPERTY_P) {
            3
        } else {
            2
        };
        let mut chosen = [usize::MAX; 3];
        for slot in 0..n_hashed {
            let p = loop {
                let p = rng.random_range(0..HASHED_PROPERTIES.len());
                if !chosen.contains(&p) {
                    break p;
                }
            };
            chosen[slot] = p;
            let start = values.len();
            hashed_value(&mut rng, p, cents, &mut values);
            rows.push((0, Property::Hashed(p), start..values.len()));
            if rng.random_bool(HASHED_UPDATE_P) {
                let k = rng.random_range(1..SNAPSHOTS);
                let start = values.len();
                hashed_value(&mut rng, p, cents, &mut values);
                rows.push((k, Property::Hashed(p), start..values.len()));
            }
        }

        rows.sort_by_key(|r| r.0);
        for (k, property, range) in &rows {
            let part = property.part(item);
            let buf = &mut out.parts[part];
            buf.extend_from_slice(num.format(snapshot_ms(*k)).as_bytes());
            buf.push(b',');
            buf.extend_from_slice(num.format(item).as_bytes());
            buf.push(b',');
            buf.extend_from_slice(property.name().as_bytes());
            buf.push(b',');
            buf.extend_from_slice(&values[range.clone()]);
            buf.push(b'\n');
            out.rows[part] += 1;
        }
    }
    out
}

/// Opaque values in the style of the real hashed properties, e.g. `1116713 960601 n277.200`.
fn hashed_value(rng: &mut Pcg64, property: usize, cents: u64, out: &mut Vec<u8>) {
    let mut num = itoa::Buffer::new();
    if HASHED_PROPERTIES[property] == "790" {
        // The real data's "790" looks like a scaled price.
        out.push(b'n');
        out.extend_from_slice(num.format(cents * 2).as_bytes());
        out.extend_from_slice(b".000");
        return;
    }
    let tokens = rng.random_range(1..=4);
    for t in 0..tokens {
        if t > 0 {
            out.push(b' ');
        }
        if rng.random_bool(0.6) {
            out.extend_from_slice(num.format(rng.random_range(1_000..1_400_000u32)).as_bytes());
        } else {
            out.push(b'n');
            out.extend_from_slice(num.format(rng.random_range(0..2_000u32)).as_bytes());
            // Three decimals, the last two always zero: .000, .200, ..., .800
            out.push(b'.');
            out.push(b'0' + 2 * rng.random_range(0..5u8));
            out.extend_from_slice(b"00");
        }
    }
}
