//! The small side tables: prices, experiment assignments and planned weights.
use super::experiments::{Assignment, ExperimentSpec, PLANNED_WEIGHT};
use rayon::prelude::*;

/// `itemid,price` sorted by item id, prices with two decimals.
pub(super) fn prices_csv(prices: &mut [(u32, u64)]) -> Vec<u8> {
    prices.par_sort_unstable();
    let mut buf = Vec::with_capacity(prices.len() * 16 + 16);
    buf.extend_from_slice(b"itemid,price\n");
    let mut num = itoa::Buffer::new();
    for &(item, cents) in prices.iter() {
        buf.extend_from_slice(num.format(item).as_bytes());
        buf.push(b',');
        buf.extend_from_slice(num.format(cents / 100).as_bytes());
        buf.push(b'.');
        let rest = cents % 100;
        if rest < 10 {
            buf.push(b'0');
        }
        buf.extend_from_slice(num.format(rest).as_bytes());
        buf.push(b'\n');
    }
    buf
}

/// `experiment,user_id,variant,assigned_at`, by experiment, then assignment time, then user.
pub(super) fn experiments_csv(
    specs: &[ExperimentSpec; 3],
    assignments: &mut [Assignment],
) -> Vec<u8> {
    assignments.par_sort_unstable_by_key(|a| (a.experiment, a.assigned_at, a.user));
    let mut buf = Vec::with_capacity(assignments.len() * 48 + 40);
    buf.extend_from_slice(b"experiment,user_id,variant,assigned_at\n");
    let mut num = itoa::Buffer::new();
    for a in assignments.iter() {
        let spec = &specs[usize::from(a.experiment)];
        buf.extend_from_slice(spec.name.as_bytes());
        buf.push(b',');
        buf.extend_from_slice(num.format(a.user).as_bytes());
        buf.push(b',');
        buf.extend_from_slice(spec.variants[usize::from(a.variant)].as_bytes());
        buf.push(b',');
        buf.extend_from_slice(num.format(a.assigned_at).as_bytes());
        buf.push(b'\n');
    }
    buf
}

/// `experiment,variant,weight`: the planned split, not the observed one.
pub(super) fn weights_csv(specs: &[ExperimentSpec; 3]) -> Vec<u8> {
    let mut buf = b"experiment,variant,weight\n".to_vec();
    for spec in specs {
        for variant in spec.variants {
            buf.extend_from_slice(format!("{},{variant},{PLANNED_WEIGHT}\n", spec.name).as_bytes());
        }
    }
    buf
}
