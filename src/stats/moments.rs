//! Moments of one metric and of a pair, for the tests on raw samples and for the mergeable
//! sufficient statistics that experiments, CUPED and the batch comparisons share.
//!
//! Raw samples: [`mean_var`], two passes over compensated sums, so that means and variances of
//! millions of values agree with numpy's to ~1e-15 (the t tests report scipy's numbers).
//!
//! Sufficient statistics: [`Moments`] of one metric and [`CoMoments`] of a pair (a CUPED
//! covariate, or the numerator and denominator of a ratio metric), built in one pass with
//! Welford's update and merged with the parallel update of Chan, Golub & LeVeque (1979), which is
//! exact in real arithmetic for any partition of the data, so statistics of shards, days or
//! Dask/Spark partitions combine into those of the whole. Exported as n / Σ / Σ² (/ Σxy) power
//! sums ([`Sums`], [`CoSums`]) for engines that can only add numbers; that round trip costs the
//! usual cancellation of `Σx² − (Σx)²/n` when the mean is large next to the spread, and
//! [`Moments::from_sums`] / [`CoMoments::from_sums`] are the one place that validates power sums
//! (a slightly negative central sum from rounding is clamped to 0, anything beyond is rejected).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::checks::{check_finite, check_same_len};
use super::error::{invalid, Result};

/// Slices at least this long are summarised in parallel chunks.
const PARALLEL_MIN_LEN: usize = 1 << 17;
const CHUNK_LEN: usize = 1 << 15;

/// Count, mean and sum of squared deviations (M2) of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Moments {
    pub n: u64,
    pub mean: f64,
    pub m2: f64,
}

/// Power sums of one metric: the form any SQL or dataframe engine can aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Sums {
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

impl Moments {
    /// The statistics of no observation, the identity of [`Moments::merge`].
    pub const EMPTY: Moments = Moments {
        n: 0,
        mean: 0.0,
        m2: 0.0,
    };

    /// Welford's update with one observation.
    #[inline]
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Statistics of a slice; every value must be finite. Long slices are summarised by rayon
    /// in fixed chunks merged in order, so the result does not depend on the thread count.
    pub fn from_slice(values: &[f64]) -> Result<Self> {
        check_finite(values, "values")?;
        if values.len() < PARALLEL_MIN_LEN {
            return Ok(Self::from_slice_serial(values));
        }
        let parts: Vec<Moments> = values
            .par_chunks(CHUNK_LEN)
            .map(Self::from_slice_serial)
            .collect();
        Ok(parts.iter().fold(Self::EMPTY, |acc, p| acc.merge(p)))
    }

    fn from_slice_serial(values: &[f64]) -> Self {
        let mut m = Self::EMPTY;
        for &x in values {
            m.push(x);
        }
        m
    }

    /// Chan et al.'s parallel update: the statistics of the union of both data sets.
    #[must_use]
    pub fn merge(&self, other: &Self) -> Self {
        if other.n == 0 {
            return *self;
        }
        if self.n == 0 {
            return *other;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = self.n + other.n;
        let nf = n as f64;
        let delta = other.mean - self.mean;
        Moments {
            n,
            mean: self.mean + delta * (nb / nf),
            m2: self.m2 + other.m2 + delta * delta * (na * nb / nf),
        }
    }

    /// Statistics from a count, a mean and a sample variance (ddof 1).
    pub fn from_mean_var(n: u64, mean: f64, variance: f64) -> Result<Self> {
        if !(mean.is_finite() && variance.is_finite() && variance >= 0.0) {
            return Err(invalid(format!(
                "mean must be finite and variance finite and >= 0, got {mean} and {variance}"
            )));
        }
        if n == 0 {
            return Ok(Self::EMPTY);
        }
        Ok(Moments {
            n,
            mean,
            m2: if n > 1 {
                variance * (n - 1) as f64
            } else {
                0.0
            },
        })
    }

    /// Power sums Σ1, Σx, Σx².
    pub fn to_sums(&self) -> Sums {
        let nf = self.n as f64;
        Sums {
            n: self.n,
            sum: self.mean * nf,
            sum_sq: self.m2 + nf * self.mean * self.mean,
        }
    }

    /// The inverse of [`Moments::to_sums`]. A slightly negative M2 from rounding is clamped to 0;
    /// sums that no real data can produce (Σx² well below (Σx)²/n) are rejected.
    pub fn from_sums(sums: &Sums) -> Result<Self> {
        if !sums.sum.is_finite() || !sums.sum_sq.is_finite() || sums.sum_sq < 0.0 {
            return Err(invalid("sums must be finite and the sum of squares >= 0"));
        }
        if sums.n == 0 {
            if sums.sum != 0.0 || sums.sum_sq != 0.0 {
                return Err(invalid("sums of an empty group must be zero"));
            }
            return Ok(Self::EMPTY);
        }
        let nf = sums.n as f64;
        let mean = sums.sum / nf;
        let m2 = sums.sum_sq - sums.sum * mean;
        Ok(Moments {
            n: sums.n,
            mean,
            m2: clamp_rounding(m2, sums.sum_sq, "sum of squares")?,
        })
    }

    /// Sample variance (ddof 1); NaN with fewer than two observations, as numpy.
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            f64::NAN
        } else {
            self.m2 / (self.n - 1) as f64
        }
    }

    /// Sample standard deviation (ddof 1).
    pub fn std(&self) -> f64 {
        self.variance().sqrt()
    }

    /// Standard error of the mean, `std / sqrt(n)`.
    pub fn sem(&self) -> f64 {
        (self.variance() / self.n as f64).sqrt()
    }

    /// Sum of the values.
    pub fn sum(&self) -> f64 {
        self.mean * self.n as f64
    }
}

/// Co-moments of paired values (x, y): both [`Moments`] plus the sum of cross deviations C_xy.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CoMoments {
    pub n: u64,
    pub mean_x: f64,
    pub mean_y: f64,
    pub m2_x: f64,
    pub m2_y: f64,
    pub c_xy: f64,
}

/// Power sums of paired values.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CoSums {
    pub n: u64,
    pub sum_x: f64,
    pub sum_y: f64,
    pub sum_xx: f64,
    pub sum_yy: f64,
    pub sum_xy: f64,
}

impl CoMoments {
    pub const EMPTY: CoMoments = CoMoments {
        n: 0,
        mean_x: 0.0,
        mean_y: 0.0,
        m2_x: 0.0,
        m2_y: 0.0,
        c_xy: 0.0,
    };

    /// Welford's update with one pair.
    #[inline]
    pub fn push(&mut self, x: f64, y: f64) {
        self.n += 1;
        let nf = self.n as f64;
        let dx = x - self.mean_x;
        let dy = y - self.mean_y;
        self.mean_x += dx / nf;
        self.mean_y += dy / nf;
        let dy_after = y - self.mean_y;
        self.m2_x += dx * (x - self.mean_x);
        self.m2_y += dy * dy_after;
        self.c_xy += dx * dy_after;
    }

    /// Statistics of two aligned slices; every value must be finite.
    pub fn from_slices(x: &[f64], y: &[f64]) -> Result<Self> {
        check_same_len("x and y", x.len(), y.len())?;
        check_finite(x, "x")?;
        check_finite(y, "y")?;
        if x.len() < PARALLEL_MIN_LEN {
            return Ok(Self::from_slices_serial(x, y));
        }
        let parts: Vec<CoMoments> = x
            .par_chunks(CHUNK_LEN)
            .zip(y.par_chunks(CHUNK_LEN))
            .map(|(cx, cy)| Self::from_slices_serial(cx, cy))
            .collect();
        Ok(parts.iter().fold(Self::EMPTY, |acc, p| acc.merge(p)))
    }

    fn from_slices_serial(x: &[f64], y: &[f64]) -> Self {
        let mut m = Self::EMPTY;
        for (&a, &b) in x.iter().zip(y) {
            m.push(a, b);
        }
        m
    }

    /// Chan et al.'s parallel update, including the cross term.
    #[must_use]
    pub fn merge(&self, other: &Self) -> Self {
        if other.n == 0 {
            return *self;
        }
        if self.n == 0 {
            return *other;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = self.n + other.n;
        let nf = n as f64;
        let dx = other.mean_x - self.mean_x;
        let dy = other.mean_y - self.mean_y;
        let w = na * nb / nf;
        CoMoments {
            n,
            mean_x: self.mean_x + dx * (nb / nf),
            mean_y: self.mean_y + dy * (nb / nf),
            m2_x: self.m2_x + other.m2_x + dx * dx * w,
            m2_y: self.m2_y + other.m2_y + dy * dy * w,
            c_xy: self.c_xy + other.c_xy + dx * dy * w,
        }
    }

    /// The marginal statistics of x.
    pub fn x(&self) -> Moments {
        Moments {
            n: self.n,
            mean: self.mean_x,
            m2: self.m2_x,
        }
    }

    /// The marginal statistics of y.
    pub fn y(&self) -> Moments {
        Moments {
            n: self.n,
            mean: self.mean_y,
            m2: self.m2_y,
        }
    }

    /// Sample covariance (ddof 1); NaN with fewer than two observations.
    pub fn covariance(&self) -> f64 {
        if self.n < 2 {
            f64::NAN
        } else {
            self.c_xy / (self.n - 1) as f64
        }
    }

    /// Pearson correlation; NaN when either variance is zero.
    pub fn correlation(&self) -> f64 {
        self.c_xy / (self.m2_x * self.m2_y).sqrt()
    }

    pub fn to_sums(&self) -> CoSums {
        let nf = self.n as f64;
        CoSums {
            n: self.n,
            sum_x: self.mean_x * nf,
            sum_y: self.mean_y * nf,
            sum_xx: self.m2_x + nf * self.mean_x * self.mean_x,
            sum_yy: self.m2_y + nf * self.mean_y * self.mean_y,
            sum_xy: self.c_xy + nf * self.mean_x * self.mean_y,
        }
    }

    pub fn from_sums(s: &CoSums) -> Result<Self> {
        let all = [s.sum_x, s.sum_y, s.sum_xx, s.sum_yy, s.sum_xy];
        if all.iter().any(|v| !v.is_finite()) || s.sum_xx < 0.0 || s.sum_yy < 0.0 {
            return Err(invalid("sums must be finite and sums of squares >= 0"));
        }
        if s.n == 0 {
            if all.iter().any(|&v| v != 0.0) {
                return Err(invalid("sums of an empty group must be zero"));
            }
            return Ok(Self::EMPTY);
        }
        let nf = s.n as f64;
        let mean_x = s.sum_x / nf;
        let mean_y = s.sum_y / nf;
        let m2_x = clamp_rounding(s.sum_xx - s.sum_x * mean_x, s.sum_xx, "sum of x squares")?;
        let m2_y = clamp_rounding(s.sum_yy - s.sum_y * mean_y, s.sum_yy, "sum of y squares")?;
        let c_xy = s.sum_xy - s.sum_x * mean_y;
        if c_xy * c_xy > m2_x * m2_y * (1.0 + 1e-9) + 1e-12 * s.sum_xx.max(s.sum_yy).powi(2) {
            return Err(invalid("cross sum inconsistent with the sums of squares"));
        }
        Ok(CoMoments {
            n: s.n,
            mean_x,
            mean_y,
            m2_x,
            m2_y,
            c_xy,
        })
    }
}

/// A central sum of squares from power sums may come out slightly negative by cancellation;
/// anything beyond rounding error means the sums are not those of real data.
fn clamp_rounding(m2: f64, sum_sq: f64, what: &str) -> Result<f64> {
    if m2 >= 0.0 {
        Ok(m2)
    } else if -m2 <= 1e-9 * sum_sq {
        Ok(0.0)
    } else {
        Err(invalid(format!("{what} is smaller than (sum)^2 / n")))
    }
}

/// Neumaier-compensated sum: the error stays O(ε) instead of O(n·ε), so means
/// of millions of values agree with numpy's pairwise sums to ~1e-15.
pub(crate) fn compensated_sum(values: impl Iterator<Item = f64>) -> f64 {
    let mut sum = 0.0f64;
    let mut compensation = 0.0f64;
    for v in values {
        let t = sum + v;
        if sum.abs() >= v.abs() {
            compensation += (sum - t) + v;
        } else {
            compensation += (v - t) + sum;
        }
        sum = t;
    }
    sum + compensation
}

/// Mean and unbiased (ddof = 1) variance by two passes; the variance of a
/// single value is NaN, of an empty sample both are NaN (as numpy).
pub(crate) fn mean_var(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = compensated_sum(values.iter().copied()) / n;
    let ss = compensated_sum(values.iter().map(|&v| (v - mean) * (v - mean)));
    (mean, ss / (n - 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_pass(values: &[f64]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        (mean, values.iter().map(|v| (v - mean).powi(2)).sum())
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
    }

    #[test]
    fn welford_matches_two_pass() {
        let v: Vec<f64> = (0..1000)
            .map(|i| ((i * 7919) % 1013) as f64 * 0.37 + 1e3)
            .collect();
        let m = Moments::from_slice(&v).unwrap();
        let (mean, m2) = two_pass(&v);
        assert_eq!(m.n, 1000);
        assert!(close(m.mean, mean, 1e-14));
        assert!(close(m.m2, m2, 1e-12));
    }

    #[test]
    fn merge_of_any_split_equals_whole() {
        let v: Vec<f64> = (0..500).map(|i| ((i * 31) % 97) as f64 - 40.0).collect();
        let whole = Moments::from_slice(&v).unwrap();
        for cut in [0, 1, 17, 250, 499, 500] {
            let a = Moments::from_slice(&v[..cut]).unwrap();
            let b = Moments::from_slice(&v[cut..]).unwrap();
            let m = a.merge(&b);
            assert_eq!(m.n, whole.n);
            assert!(close(m.mean, whole.mean, 1e-13));
            assert!(close(m.m2, whole.m2, 1e-12));
        }
    }

    #[test]
    fn parallel_build_equals_serial() {
        let v: Vec<f64> = (0..400_000)
            .map(|i| ((i * 7919) % 10007) as f64 / 13.0)
            .collect();
        let par = Moments::from_slice(&v).unwrap();
        let ser = Moments::from_slice_serial(&v);
        assert_eq!(par.n, ser.n);
        assert!(close(par.mean, ser.mean, 1e-12));
        assert!(close(par.m2, ser.m2, 1e-10));
        let y: Vec<f64> = v.iter().map(|x| 2.0 * x + (x * 3.0).sin()).collect();
        let cp = CoMoments::from_slices(&v, &y).unwrap();
        let cs = CoMoments::from_slices_serial(&v, &y);
        assert!(close(cp.c_xy, cs.c_xy, 1e-10));
    }

    #[test]
    fn sums_round_trip() {
        let v = [1.0, 2.0, 4.0, 8.0];
        let m = Moments::from_slice(&v).unwrap();
        let s = m.to_sums();
        assert_eq!(s.n, 4);
        assert!(close(s.sum, 15.0, 1e-15));
        assert!(close(s.sum_sq, 85.0, 1e-15));
        let back = Moments::from_sums(&s).unwrap();
        assert!(close(back.m2, m.m2, 1e-14));
        assert!(close(m.variance(), 9.583333333333334, 1e-14));
        assert!(Moments::from_sums(&Sums {
            n: 2,
            sum: 10.0,
            sum_sq: 1.0
        })
        .is_err());
    }

    #[test]
    fn comoments_match_definitions() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 1.0, 4.0, 3.0, 7.0];
        let c = CoMoments::from_slices(&x, &y).unwrap();
        // cov by hand: mean_x 3, mean_y 3.4, sum (x-3)(y-3.4) = 12
        assert!(close(c.c_xy, 12.0, 1e-14));
        assert!(close(c.covariance(), 3.0, 1e-14));
        let split = CoMoments::from_slices(&x[..2], &y[..2])
            .unwrap()
            .merge(&CoMoments::from_slices(&x[2..], &y[2..]).unwrap());
        assert!(close(split.c_xy, 12.0, 1e-14));
        let back = CoMoments::from_sums(&c.to_sums()).unwrap();
        assert!(close(back.c_xy, c.c_xy, 1e-13));
        assert!(close(back.m2_y, c.m2_y, 1e-13));
    }

    #[test]
    fn rejects_non_finite_and_mismatch() {
        assert!(Moments::from_slice(&[1.0, f64::NAN]).is_err());
        assert!(CoMoments::from_slices(&[1.0], &[1.0, 2.0]).is_err());
        assert!(Moments::EMPTY.variance().is_nan());
    }
}
