//! Seeding: every random stream is a function of (seed, domain, index) only, so the output does not
//! depend on how rayon schedules the work.
use rand_pcg::Pcg64;

/// Independent purposes get independent streams, so adding draws to one never shifts another.
#[derive(Clone, Copy)]
pub(super) enum Domain {
    Calendar = 1,
    Tree = 2,
    Ids = 3,
    Visitors = 4,
    Bots = 5,
    Anomalies = 6,
    Items = 7,
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub(super) fn stream(seed: u64, domain: Domain, index: u64) -> Pcg64 {
    let d = domain as u64;
    let hi = splitmix64(seed ^ splitmix64(d));
    let lo = splitmix64(hi ^ splitmix64(index.wrapping_add(d << 56)));
    let state = (u128::from(hi) << 64) | u128::from(lo);
    let stream_id = (u128::from(d) << 64) | u128::from(index);
    Pcg64::new(state, stream_id)
}

/// A cheap deterministic hash for choices that must not consume random draws (e.g. file split).
pub(super) fn hash2(a: u64, b: u64) -> u64 {
    splitmix64(splitmix64(a) ^ b)
}
