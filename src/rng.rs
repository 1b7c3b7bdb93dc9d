//! The engine's random streams: the data generator's and the bootstrap's and simulator's.
//!
//! One derivation: the stream of task `index` for purpose `domain` in a run seeded with `seed` is
//!
//! ```text
//! hi = splitmix64(seed ^ splitmix64(domain))
//! lo = splitmix64(hi ^ splitmix64(index + (domain << 56)))
//! Pcg64::new(state = hi << 64 | lo, stream = domain << 64 | index)
//! ```
//!
//! a function of (seed, domain, index) only, so results do not depend on how rayon schedules the
//! work or on the thread count. Each purpose has its own domain, so adding draws to one never
//! shifts another, and different (domain, index) pairs get different PCG increments, i.e.
//! distinct sequences rather than offsets into one sequence.

use rand::RngCore;
use rand_pcg::Pcg64;

/// What a stream is for. The values are part of the derivation: changing one changes every
/// seeded output of that purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// Generator: traffic calendar and the outage window.
    Calendar = 1,
    /// Generator: the category tree.
    Tree = 2,
    /// Generator: visitor ids.
    Ids = 3,
    /// Generator: ordinary visitors, one stream per chunk.
    Visitors = 4,
    /// Generator: bot visitors.
    Bots = 5,
    /// Generator: duplicate and malformed rows.
    Anomalies = 6,
    /// Generator: items, prices and properties.
    Items = 7,
    /// Bootstrap resamples, one stream per resample.
    Bootstrap = 8,
    /// Monte Carlo A/A, power and peeking runs, one stream per run.
    Simulation = 9,
}

/// SplitMix64 finaliser: a bijective mixer that turns structured inputs (0, 1, 2, ...) into
/// well-spread 64-bit words.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The generator of task `index` for `domain` in a run seeded with `seed` (see the module docs).
pub fn stream(seed: u64, domain: Domain, index: u64) -> Pcg64 {
    let d = domain as u64;
    let hi = splitmix64(seed ^ splitmix64(d));
    let lo = splitmix64(hi ^ splitmix64(index.wrapping_add(d << 56)));
    let state = (u128::from(hi) << 64) | u128::from(lo);
    let stream_id = (u128::from(d) << 64) | u128::from(index);
    Pcg64::new(state, stream_id)
}

/// A cheap deterministic hash for choices that must not consume random draws (e.g. which of two
/// files a row goes to).
pub fn hash2(a: u64, b: u64) -> u64 {
    splitmix64(splitmix64(a) ^ b)
}

/// Uniform index by Lemire's multiply-and-reject method on 32 bits (unbiased, and free of
/// divisions on the fast path), for blocks of fewer than 2³² rows.
#[inline]
fn lemire32(rng: &mut impl RngCore, word: u32, len: u32) -> usize {
    let mut m = u64::from(word) * u64::from(len);
    if (m as u32) < len {
        let threshold = len.wrapping_neg() % len;
        while (m as u32) < threshold {
            m = u64::from(rng.next_u32()) * u64::from(len);
        }
    }
    (m >> 32) as usize
}

/// Sum of `draws` values drawn uniformly with replacement from `block` (len < 2³²): two draws
/// per 64-bit word and two accumulators, so neither the generator nor the add latency is the
/// bottleneck.
#[inline]
pub fn sum_of_draws(rng: &mut impl RngCore, block: &[f64], draws: u64) -> f64 {
    let len = block.len() as u32;
    let (mut s0, mut s1) = (0.0, 0.0);
    for _ in 0..draws / 2 {
        let w = rng.next_u64();
        s0 += block[lemire32(rng, w as u32, len)];
        s1 += block[lemire32(rng, (w >> 32) as u32, len)];
    }
    if draws % 2 == 1 {
        let w = rng.next_u32();
        s0 += block[lemire32(rng, w, len)];
    }
    s0 + s1
}

/// Index drawn uniformly from `0..len` for len < 2³².
#[inline]
pub fn uniform_index32(rng: &mut impl RngCore, len: usize) -> usize {
    let w = rng.next_u32();
    lemire32(rng, w, len as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference() {
        // Vigna's splitmix64.c seeded with 0 returns these first outputs; the generator's step
        // is x += golden gamma, then the finaliser, i.e. splitmix64(k · gamma) for k = 0, 1.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(0x9E37_79B9_7F4A_7C15), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map(|_| stream(7, Domain::Bootstrap, 3).next_u64())
            .collect();
        assert!(a.iter().all(|&v| v == a[0]));
        let first = |seed, domain, index| stream(seed, domain, index).next_u64();
        assert_ne!(
            first(7, Domain::Bootstrap, 3),
            first(7, Domain::Bootstrap, 4)
        );
        assert_ne!(
            first(7, Domain::Bootstrap, 3),
            first(8, Domain::Bootstrap, 3)
        );
        assert_ne!(
            first(7, Domain::Bootstrap, 3),
            first(7, Domain::Simulation, 3)
        );
    }

    #[test]
    fn uniform_index32_is_in_range_and_roughly_uniform() {
        let mut rng = stream(1, Domain::Bootstrap, 1);
        let mut counts = [0usize; 5];
        for _ in 0..50_000 {
            counts[uniform_index32(&mut rng, 5)] += 1;
        }
        // Each count ~ Binomial(50000, 0.2): sd ≈ 89; 6 sd is a loose but safe bound.
        assert!(
            counts.iter().all(|&c| (c as f64 - 10_000.0).abs() < 540.0),
            "{counts:?}"
        );
    }

    #[test]
    fn sum_of_draws_of_a_constant_block_and_its_mean() {
        let mut rng = stream(2, Domain::Bootstrap, 0);
        assert_eq!(sum_of_draws(&mut rng, &[2.5; 7], 1001), 2.5 * 1001.0);
        // 0..10 has mean 4.5 and variance 8.25: the mean of 10⁶ draws is within 6 sd (0.017).
        let block: Vec<f64> = (0..10).map(f64::from).collect();
        let mean = sum_of_draws(&mut rng, &block, 1_000_000) / 1e6;
        assert!((mean - 4.5).abs() < 6.0 * (8.25f64 / 1e6).sqrt(), "{mean}");
    }
}
