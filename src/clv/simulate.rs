//! Draws customers from the BG/NBD and Gamma-Gamma generative processes (seeded, reproducible):
//! the ground truth of the parameter-recovery tests and benchmarks.
//!
//! BG/NBD: lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b); purchases follow a Poisson process of rate
//! lambda from the first purchase at time 0, and after each repeat purchase the customer drops out
//! with probability p. Gamma-Gamma: nu ~ Gamma(q, rate v), and the mean of x purchase values is
//! Gamma(p x, rate nu x).
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution, Exp, Gamma};
use rand_pcg::Pcg64;
use rayon::prelude::*;

use crate::{Error, Result};

const CHUNK: usize = 4096;

fn dist_err(e: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("simulate: {e}"))
}

/// `n` customers with ages T drawn uniformly in [t_min, t_max]; returns (frequency, recency, T).
pub fn simulate_bgnbd(
    n: usize,
    params: (f64, f64, f64, f64),
    t_range: (f64, f64),
    seed: u64,
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let (r, alpha, a, b) = params;
    let (t_min, t_max) = t_range;
    if !(t_min > 0.0 && t_max >= t_min && t_max.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "simulate: T range ({t_min}, {t_max})"
        )));
    }
    let lambda = Gamma::new(r, 1.0 / alpha).map_err(dist_err)?;
    let drop = Beta::new(a, b).map_err(dist_err)?;
    let chunks: Vec<Vec<(f64, f64, f64)>> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut rng =
                Pcg64::seed_from_u64(seed ^ (c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let len = CHUNK.min(n - c * CHUNK);
            (0..len)
                .map(|_| {
                    let t = t_min + (t_max - t_min) * rng.random::<f64>();
                    let l: f64 = lambda.sample(&mut rng);
                    let p: f64 = drop.sample(&mut rng);
                    let wait = Exp::new(l.max(1e-300)).expect("positive rate");
                    let (mut now, mut x, mut last) = (0.0, 0.0, 0.0);
                    loop {
                        now += wait.sample(&mut rng);
                        if now > t {
                            break;
                        }
                        x += 1.0;
                        last = now;
                        if rng.random::<f64>() < p {
                            break;
                        }
                    }
                    (x, last, t)
                })
                .collect()
        })
        .collect();
    let mut out = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (x, tx, t) in chunks.into_iter().flatten() {
        out.0.push(x);
        out.1.push(tx);
        out.2.push(t);
    }
    Ok(out)
}

/// Mean repeat-purchase values for customers with the given frequencies (0 where frequency is 0).
pub fn simulate_gamma_gamma(
    frequency: &[f64],
    params: (f64, f64, f64),
    seed: u64,
) -> Result<Vec<f64>> {
    let (p, q, v) = params;
    let nu = Gamma::new(q, 1.0 / v).map_err(dist_err)?;
    let chunks: Vec<Vec<f64>> = frequency
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(c, xs)| {
            let mut rng =
                Pcg64::seed_from_u64(seed ^ (c as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
            xs.iter()
                .map(|&x| {
                    let n: f64 = nu.sample(&mut rng);
                    if x > 0.0 {
                        Gamma::new(p * x, 1.0 / (n * x)).map_or(0.0, |g| g.sample(&mut rng))
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    Ok(chunks.into_iter().flatten().collect())
}
