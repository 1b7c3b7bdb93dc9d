//! A discrete distribution over 1..=n given by weights, with its exact mean.
use rand::Rng;

pub(super) struct DiscreteTable {
    cdf: Vec<f64>,
    pub(super) mean: f64,
}

impl DiscreteTable {
    /// P(k) proportional to k^-exponent for k in 1..=n.
    pub(super) fn power_law(exponent: f64, n: usize) -> Self {
        let weights: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-exponent)).collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let mut mean = 0.0;
        let cdf = weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                mean += (i + 1) as f64 * w / total;
                acc += w / total;
                acc
            })
            .collect();
        DiscreteTable { cdf, mean }
    }

    pub(super) fn sample<R: Rng>(&self, rng: &mut R) -> usize {
        let u: f64 = rng.random();
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1)
            + 1
    }
}
