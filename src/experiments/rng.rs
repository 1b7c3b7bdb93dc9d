//! Deterministic per-task random streams: task `i` of a run seeded with `seed` always gets the
//! same generator, so parallel results do not depend on the thread count or scheduling.

use rand::{RngCore, SeedableRng};
use rand_pcg::Pcg64;

/// SplitMix64 finaliser: a bijective mixer that turns structured inputs (0, 1, 2, ...) into
/// well-spread 64-bit words.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator of task `index` in a run seeded with `seed`: a Pcg64 whose 128-bit state and
/// increment are both derived from (seed, index) by independent mixes.
pub fn task_rng(seed: u64, index: u64) -> Pcg64 {
    let a = splitmix64(seed ^ 0x5EED_0000_0000_0001);
    let words = [
        splitmix64(a ^ splitmix64(index)),
        splitmix64(a.rotate_left(17) ^ splitmix64(index ^ 0xA5A5_A5A5_A5A5_A5A5)),
        splitmix64(a.rotate_left(31) ^ splitmix64(index.wrapping_add(0x1234_5678))),
        splitmix64(a.rotate_left(47) ^ splitmix64(index.wrapping_mul(3))),
    ];
    let mut seed_bytes = [0u8; 32];
    for (chunk, w) in seed_bytes.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    Pcg64::from_seed(seed_bytes)
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
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| task_rng(7, 3).next_u64()).collect();
        assert!(a.iter().all(|&v| v == a[0]));
        assert_ne!(task_rng(7, 3).next_u64(), task_rng(7, 4).next_u64());
        assert_ne!(task_rng(7, 3).next_u64(), task_rng(8, 3).next_u64());
    }

    #[test]
    fn uniform_index32_is_in_range_and_roughly_uniform() {
        let mut rng = task_rng(1, 1);
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
}
