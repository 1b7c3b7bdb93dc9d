//! BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005, "Counting your customers the easy way").
//!
//! Per customer: frequency x (repeat purchases), recency t_x (time of the last purchase after the
//! first), age T, all in one time unit. The log-likelihood is formed in log space throughout:
//!
//! ln L = ln G(r+x) - ln G(r) + r ln(alpha) + ln B(a, b+x) - ln B(a, b)
//!        + logaddexp(-(r+x) ln(alpha+T), [x>0] (ln a - ln(b+x-1) - (r+x) ln(alpha+t_x)))
//!
//! The gamma-function terms depend on x only; they are computed once per distinct frequency. Times are
//! rescaled so that max T = 10 while fitting (as the `lifetimes` package does, for conditioning); alpha
//! and the log-likelihood are reported in the caller's unit.
use hashbrown::HashMap;
use rayon::prelude::*;
use statrs::function::gamma::{digamma, ln_gamma};

use super::optimize::minimize;
use crate::stats::hyp2f1;
use crate::{Error, Result};

/// Fitted BG/NBD parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    /// Maximised log-likelihood in the data's time unit.
    pub log_likelihood: f64,
    pub n_customers: usize,
    pub iterations: u64,
}

/// Checks the RFM columns (lifetimes' rules): same lengths, frequency a non-negative integer,
/// 0 <= recency <= T, recency 0 when frequency is 0, everything finite.
pub fn check_rfm(frequency: &[f64], recency: &[f64], t: &[f64]) -> Result<()> {
    if frequency.len() != recency.len() || frequency.len() != t.len() {
        return Err(Error::InvalidArgument(format!(
            "frequency, recency and T must have equal lengths (got {}, {}, {})",
            frequency.len(),
            recency.len(),
            t.len()
        )));
    }
    for (i, ((&x, &tx), &tt)) in frequency.iter().zip(recency).zip(t).enumerate() {
        let bad = if !(x.is_finite() && tx.is_finite() && tt.is_finite()) {
            Some("values must be finite")
        } else if x < 0.0 || x != x.floor() {
            Some("frequency must be a non-negative integer")
        } else if tx < 0.0 {
            Some("recency must be >= 0")
        } else if tx > tt {
            Some("recency must be <= T")
        } else if x == 0.0 && tx != 0.0 {
            Some("recency must be 0 when frequency is 0")
        } else if tt <= 0.0 {
            Some("T must be > 0")
        } else {
            None
        };
        if let Some(rule) = bad {
            return Err(Error::InvalidArgument(format!(
                "customer {i}: frequency={x}, recency={tx}, T={tt}: {rule}"
            )));
        }
    }
    Ok(())
}

/// Customers as distinct (frequency, recency, T) rows with their counts (customers with the same
/// summary have the same likelihood term: CDNOW's 2,357 customers are 1,016 rows), and the distinct
/// frequencies for the terms that depend on the frequency alone; times already scaled.
struct Prepared {
    xs: Vec<f64>,
    counts: Vec<f64>,
    /// Per row: its frequency's index in `xs`, its frequency and how many customers it stands for.
    group: Vec<u32>,
    x: Vec<f64>,
    weight: Vec<f64>,
    /// Distinct time values (recencies and Ts) and, per row, the positions of its T and recency among
    /// them: log(alpha + time) and 1 / (alpha + time) are computed once per distinct time and evaluation.
    times: Vec<f64>,
    t_at: Vec<u32>,
    tx_at: Vec<u32>,
    /// Customers (the sum of the weights).
    n_customers: f64,
}

impl Prepared {
    fn new(frequency: &[f64], recency: &[f64], t: &[f64], scale: f64) -> Self {
        let mut index: HashMap<u64, u32> = HashMap::new();
        let mut rows: HashMap<[u64; 3], u32> = HashMap::new();
        let mut times: HashMap<u64, u32> = HashMap::new();
        let mut d = Prepared {
            xs: Vec::new(),
            counts: Vec::new(),
            group: Vec::new(),
            x: Vec::new(),
            weight: Vec::new(),
            times: Vec::new(),
            t_at: Vec::new(),
            tx_at: Vec::new(),
            n_customers: frequency.len() as f64,
        };
        let mut at = |v: f64, pool: &mut Vec<f64>| {
            *times.entry(v.to_bits()).or_insert_with(|| {
                pool.push(v);
                (pool.len() - 1) as u32
            })
        };
        for ((&x, &tx), &tt) in frequency.iter().zip(recency).zip(t) {
            let g = *index.entry(x as u64).or_insert_with(|| {
                d.xs.push(x);
                d.counts.push(0.0);
                (d.xs.len() - 1) as u32
            });
            d.counts[g as usize] += 1.0;
            let key = [x.to_bits(), tx.to_bits(), tt.to_bits()];
            let row = *rows.entry(key).or_insert_with(|| {
                d.group.push(g);
                d.x.push(x);
                d.t_at.push(at(tt * scale, &mut d.times));
                d.tx_at.push(at(tx * scale, &mut d.times));
                d.weight.push(0.0);
                (d.x.len() - 1) as u32
            });
            d.weight[row as usize] += 1.0;
        }
        d
    }
}

const CHUNK: usize = 8192;

/// Log-likelihood and its gradient in (r, alpha, a, b), summed over customers (fixed chunking, so the
/// sum does not depend on the thread count).
fn log_likelihood_grad(d: &Prepared, r: f64, al: f64, a: f64, b: f64) -> (f64, [f64; 4]) {
    let ng = d.xs.len();
    let (psi_r, psi_b, psi_ab) = (digamma(r), digamma(b), digamma(a + b));
    let (lg_r, lg_b, lg_ab) = (ln_gamma(r), ln_gamma(b), ln_gamma(a + b));
    let mut h = vec![0.0; ng];
    let mut hdb = vec![0.0; ng];
    let mut total = [0.0f64; 5];
    for g in 0..ng {
        let x = d.xs[g];
        let n = d.counts[g];
        let ll = ln_gamma(r + x) - lg_r + ln_gamma(b + x) - lg_b + lg_ab - ln_gamma(a + b + x);
        let psi_abx = digamma(a + b + x);
        total[0] += n * ll;
        total[1] += n * (digamma(r + x) - psi_r);
        total[3] += n * (psi_ab - psi_abx);
        total[4] += n * (digamma(b + x) - psi_b + psi_ab - psi_abx);
        if x > 0.0 {
            h[g] = a.ln() - (b + x - 1.0).ln();
            hdb[g] = -1.0 / (b + x - 1.0);
        }
    }
    let n_total = d.n_customers;
    let ln_al = al.ln();
    total[0] += n_total * r * ln_al;
    total[1] += n_total * ln_al;
    total[2] += n_total * r / al;
    let n = d.x.len();
    let log_at: Vec<f64> = d.times.iter().map(|v| (al + v).ln()).collect();
    let inv_at: Vec<f64> = d.times.iter().map(|v| 1.0 / (al + v)).collect();
    let chunk_sum = |c: usize| {
        let mut s = [0.0f64; 5];
        for i in c * CHUNK..((c + 1) * CHUNK).min(n) {
            let (x, w) = (d.x[i], d.weight[i]);
            let (ti, txi) = (d.t_at[i] as usize, d.tx_at[i] as usize);
            let rx = r + x;
            let l3 = log_at[ti];
            let a3 = -rx * l3;
            if x > 0.0 {
                let g = d.group[i] as usize;
                let l4 = log_at[txi];
                let a4 = h[g] - rx * l4;
                let m = a3.max(a4);
                let (e3, e4) = ((a3 - m).exp(), (a4 - m).exp());
                let sum = e3 + e4;
                let (w3, w4) = (w * e3 / sum, w * e4 / sum);
                s[0] += w * (m + sum.ln());
                s[1] -= w3 * l3 + w4 * l4;
                s[2] -= rx * (w3 * inv_at[ti] + w4 * inv_at[txi]);
                s[3] += w4 / a;
                s[4] += w4 * hdb[g];
            } else {
                s[0] += w * a3;
                s[1] -= w * l3;
                s[2] -= w * rx * inv_at[ti];
            }
        }
        s
    };
    // One chunk (a few thousand customers) is summed on the calling thread: handing it to the pool
    // costs more than the work when the cores are busy.
    let n_chunks = n.div_ceil(CHUNK);
    let partials: Vec<[f64; 5]> = if n_chunks <= 1 {
        vec![chunk_sum(0)]
    } else {
        (0..n_chunks).into_par_iter().map(chunk_sum).collect()
    };
    for s in partials {
        for k in 0..5 {
            total[k] += s[k];
        }
    }
    (total[0], [total[1], total[2], total[3], total[4]])
}

/// The BG/NBD log-likelihood of the data at given parameters (in the data's time unit).
pub fn bgnbd_log_likelihood(
    params: (f64, f64, f64, f64),
    frequency: &[f64],
    recency: &[f64],
    t: &[f64],
) -> Result<f64> {
    check_rfm(frequency, recency, t)?;
    let (r, alpha, a, b) = params;
    check_positive(&[("r", r), ("alpha", alpha), ("a", a), ("b", b)])?;
    let d = Prepared::new(frequency, recency, t, 1.0);
    Ok(log_likelihood_grad(&d, r, alpha, a, b).0)
}

pub(crate) fn check_positive(params: &[(&str, f64)]) -> Result<()> {
    for (name, v) in params {
        if !(v.is_finite() && *v > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "{name}={v}: must be finite and > 0"
            )));
        }
    }
    Ok(())
}

/// Fits the BG/NBD model by maximum likelihood.
pub fn fit_bgnbd(frequency: &[f64], recency: &[f64], t: &[f64]) -> Result<BgNbd> {
    check_rfm(frequency, recency, t)?;
    if frequency.is_empty() {
        return Err(Error::InvalidArgument("fit_bgnbd: no customers".into()));
    }
    if frequency.iter().all(|&x| x == 0.0) {
        return Err(Error::InvalidArgument(
            "fit_bgnbd: no customer has a repeat purchase; the model is not identified".into(),
        ));
    }
    let max_t = t.iter().cloned().fold(0.0, f64::max);
    let scale = 10.0 / max_t;
    let d = Prepared::new(frequency, recency, t, scale);
    let n = frequency.len() as f64;
    let objective = |theta: &[f64]| {
        let p: Vec<f64> = theta.iter().map(|v| v.exp()).collect();
        let (ll, g) = log_likelihood_grad(&d, p[0], p[1], p[2], p[3]);
        let grad = (0..4).map(|k| -g[k] * p[k] / n).collect();
        (-ll / n, grad)
    };
    let min = minimize(objective, vec![0.0; 4], 1e-10, 1e-6, "BG/NBD")?;
    let p: Vec<f64> = min.point.iter().map(|v| v.exp()).collect();
    let sum_x: f64 = frequency.iter().sum();
    Ok(BgNbd {
        r: p[0],
        alpha: p[1] / scale,
        a: p[2],
        b: p[3],
        // Rescaling time by s multiplies each customer's likelihood by s^-x.
        log_likelihood: -min.value * n + sum_x * scale.ln(),
        n_customers: frequency.len(),
        iterations: min.iterations,
    })
}

impl BgNbd {
    pub fn from_params(r: f64, alpha: f64, a: f64, b: f64) -> Result<Self> {
        check_positive(&[("r", r), ("alpha", alpha), ("a", a), ("b", b)])?;
        Ok(BgNbd {
            r,
            alpha,
            a,
            b,
            log_likelihood: f64::NAN,
            n_customers: 0,
            iterations: 0,
        })
    }

    /// ln of a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x): the odds of "dropped out after the last
    /// purchase" against "still alive" (only defined for x > 0).
    fn log_odds_dead(&self, x: f64, tx: f64, t: f64) -> f64 {
        (self.a / (self.b + x - 1.0)).ln()
            + (self.r + x) * ((self.alpha + t) / (self.alpha + tx)).ln()
    }

    /// P(alive | x, t_x, T); 1 for customers without repeat purchases.
    pub fn p_alive(&self, frequency: &[f64], recency: &[f64], t: &[f64]) -> Result<Vec<f64>> {
        check_rfm(frequency, recency, t)?;
        Ok(frequency
            .par_iter()
            .zip(recency.par_iter())
            .zip(t.par_iter())
            .map(|((&x, &tx), &tt)| {
                if x == 0.0 {
                    1.0
                } else {
                    1.0 / (1.0 + self.log_odds_dead(x, tx, tt).exp())
                }
            })
            .collect())
    }

    /// E[purchases in (T, T + horizon] | x, t_x, T] for one customer.
    pub fn expected_one(&self, horizon: f64, x: f64, tx: f64, t: f64) -> Result<f64> {
        let (r, al, a, b) = (self.r, self.alpha, self.a, self.b);
        if horizon == 0.0 {
            return Ok(0.0);
        }
        // Euler's transformation: (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z)
        //   = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), with 1 - z = (alpha+T)/(alpha+T+t).
        let z = horizon / (al + t + horizon);
        let ln_1mz = ((al + t) / (al + t + horizon)).ln();
        let f = hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)?;
        let numerator = (a + b + x - 1.0) / (a - 1.0) * (1.0 - ((a - 1.0) * ln_1mz).exp() * f);
        let denominator = if x > 0.0 {
            1.0 + self.log_odds_dead(x, tx, t).exp()
        } else {
            1.0
        };
        Ok(numerator / denominator)
    }

    /// Conditional expected purchases over `horizon` time units after T, per customer.
    pub fn expected_purchases(
        &self,
        horizon: f64,
        frequency: &[f64],
        recency: &[f64],
        t: &[f64],
    ) -> Result<Vec<f64>> {
        check_rfm(frequency, recency, t)?;
        if !(horizon.is_finite() && horizon >= 0.0) {
            return Err(Error::InvalidArgument(format!(
                "t={horizon}: must be finite and >= 0"
            )));
        }
        if self.a == 1.0 {
            return Err(Error::Numerical(
                "expected purchases: a = 1 is a removable singularity not handled".into(),
            ));
        }
        frequency
            .par_iter()
            .zip(recency.par_iter())
            .zip(t.par_iter())
            .map(|((&x, &tx), &tt)| self.expected_one(horizon, x, tx, tt))
            .collect()
    }

    /// Expected purchases in (0, t] of a new customer (unconditional E[X(t)]).
    pub fn expected_purchases_new(&self, horizon: f64) -> Result<f64> {
        if !(horizon.is_finite() && horizon >= 0.0) {
            return Err(Error::InvalidArgument(format!(
                "t={horizon}: must be finite and >= 0"
            )));
        }
        self.expected_one(horizon, 0.0, 0.0, 0.0)
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    pub(crate) struct Data(super::Prepared);
    pub(crate) fn prepared(x: &[f64], tx: &[f64], t: &[f64]) -> Data {
        Data(super::Prepared::new(x, tx, t, 1.0))
    }
    pub(crate) fn grad(d: &Data, p: &[f64]) -> Vec<f64> {
        super::log_likelihood_grad(&d.0, p[0], p[1], p[2], p[3])
            .1
            .to_vec()
    }
}
