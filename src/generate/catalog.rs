//! Item and visitor identifiers and the Zipf-like item popularity.
use super::sizes::Sizes;
use crate::rng::{stream, Domain};
use rand::Rng;

/// Popularity of the item of rank r is proportional to 1 / (r + offset), offset = this × scale:
/// the most popular item then gets about 0.13 % of the views, as in the real data.
const POPULARITY_OFFSET: f64 = 100.0;

pub(super) struct Catalog {
    /// Catalog index (= popularity rank) -> item id.
    pub(super) item_ids: Vec<u32>,
    /// Cumulative popularity over the items that can receive events (a prefix of the catalog).
    cdf: Vec<f64>,
}

/// Distinct ids drawn without replacement from 0..space, in random order.
fn sample_ids(seed: u64, index: u64, space: usize, count: usize) -> Vec<u32> {
    let mut rng = stream(seed, Domain::Ids, index);
    let mut ids: Vec<u32> = (0..space as u32).collect();
    for i in 0..count.min(space) {
        let j = rng.random_range(i..space);
        ids.swap(i, j);
    }
    ids.truncate(count);
    ids
}

/// Visitor index -> visitor id: a permutation of 0..n, so ids say nothing about arrival order.
pub(super) fn visitor_ids(seed: u64, n: usize) -> Vec<u32> {
    sample_ids(seed, 0, n, n)
}

fn popularity_weights(offset: f64, n: usize) -> impl Iterator<Item = f64> {
    (0..n).map(move |r| 1.0 / (r as f64 + offset))
}

/// Expected number of distinct items hit by `draws` independent draws over the first `support` items.
fn expected_coverage(offset: f64, support: usize, draws: f64) -> f64 {
    let total: f64 = popularity_weights(offset, support).sum();
    popularity_weights(offset, support)
        .map(|w| -(-draws * w / total).exp_m1())
        .sum()
}

impl Catalog {
    /// `fresh_draws`: expected number of independent item draws made by all visitors, used to size
    /// the popular part of the catalog so the expected number of items with events hits the target.
    pub(super) fn new(seed: u64, sizes: &Sizes, fresh_draws: f64) -> Self {
        let item_ids = sample_ids(seed, 1, sizes.item_id_space, sizes.catalog_items);
        let offset = (POPULARITY_OFFSET * sizes.scale).max(1.0);
        let target = sizes.items_with_events as f64;
        let (mut lo, mut hi) = (sizes.items_with_events, sizes.catalog_items);
        if expected_coverage(offset, hi, fresh_draws) > target {
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if expected_coverage(offset, mid, fresh_draws) < target {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
        }
        let mut acc = 0.0;
        let cdf = popularity_weights(offset, hi)
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        Catalog { item_ids, cdf }
    }

    pub(super) fn sample_item<R: Rng>(&self, rng: &mut R) -> u32 {
        let total = *self.cdf.last().expect("non-empty catalog");
        let u = rng.random::<f64>() * total;
        let rank = self
            .cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1);
        self.item_ids[rank]
    }
}
