//! Bot visitors: crawlers that view thousands of items in fast bursts, at any hour.
use super::calendar::{END_MS, HOUR_MS, START_MS};
use super::catalog::Catalog;
use super::event::{Event, EventKind, NO_ORDER};
use super::experiments::{assign, Draws, ExperimentSpec};
use super::visitors::ChunkOutput;
use crate::rng::{stream, Domain};
use rand::Rng;

const MIN_VIEWS: usize = 2_500;
const MAX_VIEWS: usize = 6_000;
// Event::seq is a u16.
const _: () = assert!(MAX_VIEWS < u16::MAX as usize);
/// 150–320 ms between requests: at least 3 events per second inside a burst.
const MIN_INTERVAL_MS: i64 = 150;
const MAX_INTERVAL_MS: i64 = 320;
/// A bot never revisits one of its last few items, so bursts make no near-duplicates (< 1 s).
const RECENT_ITEMS: usize = 16;

/// The number of views bot `index` plans (its first draw), so ordinary visitors can be given
/// exactly the rest of the view budget: at small scales one bot is a sizeable share of all views.
pub(super) fn planned_views(seed: u64, index: usize) -> usize {
    stream(seed, Domain::Bots, index as u64).random_range(MIN_VIEWS..=MAX_VIEWS)
}

pub(super) fn simulate_bot(
    seed: u64,
    index: usize,
    visitor: u32,
    catalog: &Catalog,
    specs: &[ExperimentSpec; 3],
) -> ChunkOutput {
    let mut rng = stream(seed, Domain::Bots, index as u64);
    let total: usize = rng.random_range(MIN_VIEWS..=MAX_VIEWS);
    let mut bursts = Vec::new();
    let mut planned = 0;
    while planned < total {
        let size = rng.random_range(150..=600).min(total - planned);
        bursts.push((rng.random_range(START_MS..END_MS - 6 * HOUR_MS), size));
        planned += size;
    }
    bursts.sort_unstable();
    let mut events = Vec::with_capacity(total);
    let mut recent = [u32::MAX; RECENT_ITEMS];
    let mut earliest = START_MS;
    for (start, size) in bursts {
        let mut ts = start.max(earliest);
        if ts + size as i64 * MAX_INTERVAL_MS >= END_MS {
            break;
        }
        for _ in 0..size {
            let item = loop {
                let item = catalog.sample_item(&mut rng);
                if !recent.contains(&item) {
                    break item;
                }
            };
            recent[events.len() % RECENT_ITEMS] = item;
            events.push(Event {
                ts,
                visitor,
                seq: events.len() as u16,
                item,
                order: NO_ORDER,
                kind: EventKind::View,
            });
            ts += rng.random_range(MIN_INTERVAL_MS..=MAX_INTERVAL_MS);
        }
        earliest = ts + HOUR_MS;
    }
    let draws = Draws::new(&mut rng);
    let mut assignments = Vec::new();
    assign(specs, visitor, &events, &draws, &mut assignments);
    ChunkOutput {
        events,
        orders: 0,
        assignments,
        checkout_probability_sum: 0.0,
    }
}
