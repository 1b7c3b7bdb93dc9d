//! Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV: using
//! iso-value curves"; Fader & Hardie's note on the Gamma-Gamma model), fitted on customers with at
//! least one repeat purchase: x = frequency, m = mean value of the repeat purchases.
//!
//! ln L = ln G(px+q) - ln G(px) - ln G(q) + q ln v + (px-1) ln m + px ln x - (px+q) ln(xm+v)
//!
//! and customer lifetime value as the `lifetimes` package defines it (`customer_lifetime_value`):
//! the expected spend times the expected purchases of each month, discounted monthly.
use hashbrown::HashMap;
use rayon::prelude::*;
use statrs::function::gamma::{digamma, ln_gamma};

use super::bgnbd::{check_positive, BgNbd};
use super::optimize::minimize;
use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub v: f64,
    pub log_likelihood: f64,
    pub n_customers: usize,
    pub iterations: u64,
}

fn check_spend(frequency: &[f64], monetary: &[f64]) -> Result<()> {
    if frequency.len() != monetary.len() {
        return Err(Error::InvalidArgument(format!(
            "frequency and monetary_value must have equal lengths (got {}, {})",
            frequency.len(),
            monetary.len()
        )));
    }
    for (i, (&x, &m)) in frequency.iter().zip(monetary).enumerate() {
        if !(x.is_finite() && x >= 0.0 && x == x.floor()) {
            return Err(Error::InvalidArgument(format!(
                "customer {i}: frequency={x}: must be a non-negative integer"
            )));
        }
        if !(m.is_finite() && m >= 0.0) {
            return Err(Error::InvalidArgument(format!(
                "customer {i}: monetary_value={m}: must be finite and >= 0"
            )));
        }
    }
    Ok(())
}

const CHUNK: usize = 8192;

/// Log-likelihood and gradient in (p, q, v) over customers with x > 0 and m > 0.
fn log_likelihood_grad(d: &Prepared, p: f64, q: f64, v: f64) -> (f64, [f64; 3]) {
    let (groups, x, ln_m, m) = (&d.groups, &d.x, &d.ln_m, &d.m);
    let (lg_q, psi_q) = (ln_gamma(q), digamma(q));
    let mut total = [0.0f64; 4];
    for &(gx, n) in groups.iter() {
        let px = p * gx;
        let (psi_pxq, psi_px) = (digamma(px + q), digamma(px));
        total[0] += n * (ln_gamma(px + q) - ln_gamma(px) - lg_q);
        total[1] += n * gx * (psi_pxq - psi_px);
        total[2] += n * (psi_pxq - psi_q);
    }
    let nn = x.len() as f64;
    let ln_v = v.ln();
    total[0] += nn * q * ln_v;
    total[2] += nn * ln_v;
    total[3] += nn * q / v;
    let partials: Vec<[f64; 4]> = (0..x.len())
        .collect::<Vec<_>>()
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut s = [0.0f64; 4];
            for &i in chunk {
                let (xi, lm) = (x[i], ln_m[i]);
                let px = p * xi;
                let xm_v = xi * m[i] + v;
                let l = xm_v.ln();
                let lx = xi.ln();
                s[0] += (px - 1.0) * lm + px * lx - (px + q) * l;
                s[1] += xi * (lm + lx - l);
                s[2] -= l;
                s[3] -= (px + q) / xm_v;
            }
            s
        })
        .collect();
    for s in partials {
        for k in 0..4 {
            total[k] += s[k];
        }
    }
    (total[0], [total[1], total[2], total[3]])
}

struct Prepared {
    groups: Vec<(f64, f64)>,
    x: Vec<f64>,
    m: Vec<f64>,
    ln_m: Vec<f64>,
}

fn prepare(frequency: &[f64], monetary: &[f64], scale: f64) -> Prepared {
    let (x, m): (Vec<f64>, Vec<f64>) = frequency
        .iter()
        .zip(monetary)
        .filter(|(&x, &m)| x > 0.0 && m > 0.0)
        .map(|(&x, &m)| (x, m * scale))
        .unzip();
    let mut counts: HashMap<u64, f64> = HashMap::new();
    for &xi in &x {
        *counts.entry(xi as u64).or_default() += 1.0;
    }
    let mut groups: Vec<(f64, f64)> = counts.into_iter().map(|(k, n)| (k as f64, n)).collect();
    groups.sort_by(|a, b| a.0.total_cmp(&b.0));
    let ln_m = m.iter().map(|v| v.ln()).collect();
    Prepared { groups, x, m, ln_m }
}

/// The Gamma-Gamma log-likelihood at given parameters (customers with x > 0 and m > 0).
pub fn gamma_gamma_log_likelihood(
    params: (f64, f64, f64),
    frequency: &[f64],
    monetary: &[f64],
) -> Result<f64> {
    check_spend(frequency, monetary)?;
    let (p, q, v) = params;
    check_positive(&[("p", p), ("q", q), ("v", v)])?;
    let d = prepare(frequency, monetary, 1.0);
    Ok(log_likelihood_grad(&d, p, q, v).0)
}

/// Fits the Gamma-Gamma spend model on the customers with frequency > 0 and monetary value > 0.
pub fn fit_gamma_gamma(frequency: &[f64], monetary: &[f64]) -> Result<GammaGamma> {
    check_spend(frequency, monetary)?;
    let used = frequency
        .iter()
        .zip(monetary)
        .filter(|(&x, &m)| x > 0.0 && m > 0.0)
        .count();
    if used < 2 {
        return Err(Error::InvalidArgument(format!(
            "fit_gamma_gamma: needs at least 2 customers with frequency > 0 and monetary_value > 0 (got {used})"
        )));
    }
    // Money is rescaled to mean 1 while fitting; v scales with it, p and q do not.
    let mean = frequency
        .iter()
        .zip(monetary)
        .filter(|(&x, &m)| x > 0.0 && m > 0.0)
        .map(|(_, &m)| m)
        .sum::<f64>()
        / used as f64;
    let scale = 1.0 / mean;
    let d = prepare(frequency, monetary, scale);
    let n = used as f64;
    let objective = |theta: &[f64]| {
        let p: Vec<f64> = theta.iter().map(|v| v.exp()).collect();
        let (ll, g) = log_likelihood_grad(&d, p[0], p[1], p[2]);
        let grad = (0..3).map(|k| -g[k] * p[k] / n).collect();
        (-ll / n, grad)
    };
    // Start where the implied mean spend p v / (q - 1) equals the sample mean (1 after scaling).
    let start = vec![0.0, 2f64.ln(), 0.0];
    let min = minimize(objective, start, 1e-10, 1e-6, "Gamma-Gamma")?;
    let p: Vec<f64> = min.point.iter().map(|v| v.exp()).collect();
    Ok(GammaGamma {
        p: p[0],
        q: p[1],
        v: p[2] / scale,
        // Densities of m in the original unit: each customer's density is divided by 1/scale.
        log_likelihood: -min.value * n + n * scale.ln(),
        n_customers: used,
        iterations: min.iterations,
    })
}

impl GammaGamma {
    pub fn from_params(p: f64, q: f64, v: f64) -> Result<Self> {
        check_positive(&[("p", p), ("q", q), ("v", v)])?;
        Ok(GammaGamma {
            p,
            q,
            v,
            log_likelihood: f64::NAN,
            n_customers: 0,
            iterations: 0,
        })
    }

    /// E[M | x, m]: the expected mean spend per transaction, shrunk towards the population mean
    /// p v / (q - 1) (needs q > 1). Customers with x = 0 get the population mean.
    pub fn expected_spend(&self, frequency: &[f64], monetary: &[f64]) -> Result<Vec<f64>> {
        check_spend(frequency, monetary)?;
        if self.q <= 1.0 {
            return Err(Error::Numerical(format!(
                "q={}: the expected spend is infinite for q <= 1",
                self.q
            )));
        }
        let (p, q, v) = (self.p, self.q, self.v);
        let population = v * p / (q - 1.0);
        Ok(frequency
            .iter()
            .zip(monetary)
            .map(|(&x, &m)| {
                let w = p * x / (p * x + q - 1.0);
                (1.0 - w) * population + w * m
            })
            .collect())
    }
}

/// Discounted customer lifetime value, as `lifetimes`' `customer_lifetime_value`: over `months` months
/// of `month_length` time units each, sum of expected spend x expected purchases in month i,
/// divided by (1 + discount_rate)^i.
#[allow(clippy::too_many_arguments)]
pub fn customer_lifetime_value(
    bgnbd: &BgNbd,
    gamma_gamma: &GammaGamma,
    frequency: &[f64],
    recency: &[f64],
    t: &[f64],
    monetary: &[f64],
    months: u32,
    discount_rate: f64,
    month_length: f64,
) -> Result<Vec<f64>> {
    if !(discount_rate.is_finite() && discount_rate > -1.0) {
        return Err(Error::InvalidArgument(format!(
            "discount_rate={discount_rate}: must be > -1"
        )));
    }
    if !(month_length.is_finite() && month_length > 0.0) {
        return Err(Error::InvalidArgument(format!(
            "month_length={month_length}: must be > 0"
        )));
    }
    super::bgnbd::check_rfm(frequency, recency, t)?;
    let spend = gamma_gamma.expected_spend(frequency, monetary)?;
    (0..frequency.len())
        .into_par_iter()
        .map(|i| {
            let (x, tx, tt) = (frequency[i], recency[i], t[i]);
            let mut previous = 0.0;
            let mut value = 0.0;
            for month in 1..=months {
                let cumulative = bgnbd.expected_one(month as f64 * month_length, x, tx, tt)?;
                value +=
                    spend[i] * (cumulative - previous) / (1.0 + discount_rate).powi(month as i32);
                previous = cumulative;
            }
            Ok(value)
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests_support {
    pub(crate) fn grad(x: &[f64], m: &[f64], p: &[f64]) -> Vec<f64> {
        let d = super::prepare(x, m, 1.0);
        super::log_likelihood_grad(&d, p[0], p[1], p[2]).1.to_vec()
    }
}
