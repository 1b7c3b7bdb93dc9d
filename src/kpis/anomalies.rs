//! Anomalies of daily KPI series, robust to weekly seasonality and to outliers.
//!
//! For a daily series x: trend = centred 7-day rolling median (one of each weekday; at the ends of
//! the series the first or last 7 days); seasonal
//! effect = median, per weekday, of x − trend; expected = trend + seasonal effect; residual =
//! x − expected; scale = max(1.4826 · MAD of the residuals, the sampling noise of the day's value:
//! √expected for counts, √(p(1 − p)/visitors) for conversion). A day is flagged when
//! |residual| > 3.5 · scale. For Gaussian residuals that is a false-flag rate of 4.65e-4 per day
//! and metric ([`FALSE_FLAG_RATE`]).
//!
//! A few-hour event (an outage of the checkout) hides in a daily total, so the hourly series are
//! tested too ([`hourly_anomalies_frame`]), *given the day's total*: whole-day shifts are the daily
//! test's business, and conditioning on the day removes the day level (trend, weekday, day-to-day
//! jitter) from the hourly test altogether. A window of [`HOURLY_WINDOWS`] consecutive hours within
//! one day holds o of the day's n; under the hour-of-week pattern o ~ Binomial(n, s), s = the
//! window's share of its weekday, estimated from the counts of all weeks: A = the window hours' count
//! summed over every day of that weekday, B = the rest of those days. The estimation noise of s is
//! carried by a beta-binomial: o ~ BetaBinomial(n, A, B) (s ~ Beta(A, B)). The exact two-sided tail
//! p-value (twice the smaller tail, at most 1) below [`HOURLY_ALPHA`] flags the window: the
//! false-flag rate per tested window and metric. Windows expecting fewer than
//! [`HOURLY_MIN_EXPECTED`] are not tested (nothing there could be significant).
use polars::prelude::*;

use super::index::{weekday, DAY_MS};
use super::scan::PeriodCounts;
use crate::frame::date;
use crate::stats::norm_isf;
use crate::Result;

pub const THRESHOLD: f64 = 3.5;
/// P(|Z| > 3.5) for a standard normal Z.
pub const FALSE_FLAG_RATE: f64 = 4.652_581_580_710_3e-4;

fn median(x: &mut [f64]) -> f64 {
    x.sort_by(f64::total_cmp);
    let n = x.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        x[n / 2]
    } else {
        (x[n / 2 - 1] + x[n / 2]) / 2.0
    }
}

/// How a metric's sampling noise is bounded below.
#[derive(Clone, Copy, Debug)]
pub enum Noise {
    /// Poisson counts: √expected.
    Count,
    /// A proportion of `visitors[d]`: √(p(1 − p)/n).
    Proportion,
    /// No floor (amounts such as revenue).
    None,
}

/// One metric's expected band and deviation per day.
pub struct Band {
    pub expected: Vec<f64>,
    pub low: Vec<f64>,
    pub high: Vec<f64>,
    pub deviation: Vec<f64>,
    pub flagged: Vec<bool>,
}

/// Robust seasonal band of `x` (one value per consecutive day starting at day number `first_day`;
/// NaN values are skipped). `n` gives the denominators for [`Noise::Proportion`].
pub fn band(x: &[f64], first_day: i32, noise: Noise, n: &[f64]) -> Band {
    let len = x.len();
    let trend: Vec<f64> = (0..len)
        .map(|i| {
            // The window keeps 7 days (one of each weekday) at the ends of the series too.
            let lo = i.saturating_sub(3).min(len.saturating_sub(7));
            let hi = (lo + 7).min(len);
            let mut w: Vec<f64> = x[lo..hi]
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            median(&mut w)
        })
        .collect();
    let detrended: Vec<f64> = x.iter().zip(&trend).map(|(a, t)| a - t).collect();
    let mut season = [0.0; 7];
    for (wd, s) in season.iter_mut().enumerate() {
        let mut v: Vec<f64> = (0..len)
            .filter(|&i| weekday(first_day + i as i32) as usize == wd)
            .map(|i| detrended[i])
            .filter(|v| v.is_finite())
            .collect();
        if !v.is_empty() {
            *s = median(&mut v);
        }
    }
    let expected: Vec<f64> = (0..len)
        .map(|i| trend[i] + season[weekday(first_day + i as i32) as usize])
        .collect();
    let resid: Vec<f64> = x.iter().zip(&expected).map(|(a, e)| a - e).collect();
    let mut finite: Vec<f64> = resid.iter().copied().filter(|v| v.is_finite()).collect();
    let center = median(&mut finite);
    let mut dev: Vec<f64> = finite.iter().map(|r| (r - center).abs()).collect();
    let mad_scale = 1.4826 * median(&mut dev);
    let mut out = Band {
        expected: expected.clone(),
        low: Vec::with_capacity(len),
        high: Vec::with_capacity(len),
        deviation: Vec::with_capacity(len),
        flagged: Vec::with_capacity(len),
    };
    for i in 0..len {
        let e = expected[i];
        let floor = match noise {
            Noise::Count => e.max(1.0).sqrt(),
            Noise::Proportion => {
                let p = e.clamp(0.0, 1.0);
                let p = if p == 0.0 { 1.0 / n[i].max(1.0) } else { p };
                (p * (1.0 - p) / n[i].max(1.0)).sqrt()
            }
            Noise::None => 0.0,
        };
        let scale = if mad_scale.is_finite() {
            mad_scale.max(floor)
        } else {
            floor
        };
        let z = if scale > 0.0 { resid[i] / scale } else { 0.0 };
        out.low.push(e - THRESHOLD * scale);
        out.high.push(e + THRESHOLD * scale);
        out.deviation.push(z);
        out.flagged.push(z.is_finite() && z.abs() > THRESHOLD);
    }
    out
}

/// `anomalies`: flagged (or, with `all_days`, every) day of the daily series of visitors,
/// sessions, orders, buyers, revenue and conversion. `daily` has `kpi_daily`'s columns.
pub fn anomalies_frame(daily: &DataFrame, all_days: bool) -> Result<DataFrame> {
    let dates: Vec<i32> = daily
        .column("date")?
        .cast(&DataType::Int32)?
        .i32()?
        .iter()
        .map(|d| d.unwrap_or(0))
        .collect();
    let mut out_date = Vec::new();
    let mut metric = Vec::new();
    let mut value = Vec::new();
    let mut expected = Vec::new();
    let mut low = Vec::new();
    let mut high = Vec::new();
    let mut deviation = Vec::new();
    let mut flagged = Vec::new();
    if dates.len() >= 2 && dates.windows(2).all(|w| w[1] == w[0] + 1) {
        let get = |c: &str| -> Result<Vec<f64>> {
            Ok(daily
                .column(c)?
                .cast(&DataType::Float64)?
                .f64()?
                .iter()
                .map(|v| v.unwrap_or(f64::NAN))
                .collect())
        };
        let visitors = get("visitors")?;
        for (name, noise) in [
            ("visitors", Noise::Count),
            ("sessions", Noise::Count),
            ("orders", Noise::Count),
            ("buyers", Noise::Count),
            ("revenue", Noise::None),
            ("conversion", Noise::Proportion),
        ] {
            let x = get(name)?;
            let b = band(&x, dates[0], noise, &visitors);
            for i in 0..x.len() {
                if all_days || b.flagged[i] {
                    out_date.push(dates[i]);
                    metric.push(name);
                    value.push(x[i]);
                    expected.push(b.expected[i]);
                    low.push(b.low[i]);
                    high.push(b.high[i]);
                    deviation.push(b.deviation[i]);
                    flagged.push(b.flagged[i]);
                }
            }
        }
    }
    Ok(DataFrame::new(
        metric.len(),
        vec![
            date("date", out_date),
            Column::new("metric".into(), metric),
            Column::new("value".into(), value),
            Column::new("expected".into(), expected),
            Column::new("low".into(), low),
            Column::new("high".into(), high),
            Column::new("deviation".into(), deviation),
            Column::new("flagged".into(), flagged),
        ],
    )?)
}

/// A series of the hourly test: its name and how to read it from the hour's counts.
type Metric = (&'static str, fn(&PeriodCounts) -> u64);

/// Lengths (hours) of the windows the hourly test scans.
pub const HOURLY_WINDOWS: [usize; 3] = [1, 3, 6];
/// False-flag rate of the hourly test: per tested window and metric, the probability that a window
/// following the pattern is flagged (an exact tail probability: at most this).
pub const HOURLY_ALPHA: f64 = 1e-5;
/// Windows expecting fewer events than this are not tested.
pub const HOURLY_MIN_EXPECTED: f64 = 3.0;

/// Two-sided p-value of `o` under BetaBinomial(n, a, b): twice the smaller tail, at most 1. The tail
/// is summed from `o` outwards with the ratio of consecutive probabilities until its terms vanish.
pub fn beta_binomial_two_sided(o: u64, n: u64, a: f64, b: f64) -> f64 {
    use statrs::function::gamma::ln_gamma;
    let (nf, of) = (n as f64, o as f64);
    let ln_beta = |x: f64, y: f64| ln_gamma(x) + ln_gamma(y) - ln_gamma(x + y);
    let ln_choose = ln_gamma(nf + 1.0) - ln_gamma(of + 1.0) - ln_gamma(nf - of + 1.0);
    let ln_p = ln_choose + ln_beta(of + a, nf - of + b) - ln_beta(a, b);
    let mean = nf * a / (a + b);
    let mut term = ln_p.exp();
    let mut tail = term;
    if of <= mean {
        // P(X <= o), with p(k - 1) / p(k) = k (n - k + b) / ((n - k + 1) (k - 1 + a))
        let mut k = of;
        while k > 0.0 {
            term *= k * (nf - k + b) / ((nf - k + 1.0) * (k - 1.0 + a));
            tail += term;
            k -= 1.0;
            if term < tail * 1e-17 {
                break;
            }
        }
    } else {
        // P(X >= o), with p(k + 1) / p(k) = (n - k) (k + a) / ((k + 1) (n - k - 1 + b))
        let mut k = of;
        while k < nf {
            term *= (nf - k) * (k + a) / ((k + 1.0) * (nf - k - 1.0 + b));
            tail += term;
            k += 1.0;
            if term < tail * 1e-17 {
                break;
            }
        }
    }
    (2.0 * tail).min(1.0)
}

/// `anomalies_hourly`: windows of 1, 3 and 6 hours (within a day) of the hourly visitors and orders
/// series (see the module documentation) — the flagged ones, or with `all_windows` every tested one.
/// `hours[d * 24 + h]` are the counts of hour h of day `first_day + d`.
pub fn hourly_anomalies_frame(
    first_day: i32,
    hours: &[PeriodCounts],
    all_windows: bool,
) -> Result<DataFrame> {
    let mut start = Vec::new();
    let mut length = Vec::new();
    let mut metric = Vec::new();
    let mut value = Vec::new();
    let mut expected = Vec::new();
    let mut p_value = Vec::new();
    let mut deviation = Vec::new();
    let mut flagged = Vec::new();
    // at least two weeks, so that every hour of the week has been seen twice
    if hours.len() >= 14 * 24 {
        let n_days = hours.len() / 24;
        let series: [Metric; 2] = [("visitors", |c| c.visitors), ("orders", |c| c.orders)];
        for (name, get) in series {
            let x: Vec<u64> = hours.iter().map(get).collect();
            let totals: Vec<u64> = (0..n_days)
                .map(|d| x[d * 24..d * 24 + 24].iter().sum())
                .collect();
            let mut pooled = [[0u64; 24]; 7];
            for d in 0..n_days {
                let wd = weekday(first_day + d as i32) as usize;
                for h in 0..24 {
                    pooled[wd][h] += x[d * 24 + h];
                }
            }
            for len in HOURLY_WINDOWS {
                for d in 0..n_days {
                    let wd = weekday(first_day + d as i32) as usize;
                    let all: u64 = pooled[wd].iter().sum();
                    let n = totals[d];
                    for h in 0..=24 - len {
                        let a: u64 = pooled[wd][h..h + len].iter().sum();
                        let b = all - a;
                        if a == 0 || b == 0 {
                            continue;
                        }
                        let e = n as f64 * a as f64 / all as f64;
                        if e < HOURLY_MIN_EXPECTED {
                            continue;
                        }
                        let o: u64 = x[d * 24 + h..d * 24 + h + len].iter().sum();
                        let p = beta_binomial_two_sided(o, n, a as f64, b as f64);
                        let flag = p < HOURLY_ALPHA;
                        if flag || all_windows {
                            start.push(
                                (first_day as i64 + d as i64) * DAY_MS + h as i64 * 3_600_000,
                            );
                            length.push(len as i32);
                            metric.push(name);
                            value.push(o as i64);
                            expected.push(e);
                            p_value.push(p);
                            let z = norm_isf((p / 2.0).max(f64::MIN_POSITIVE));
                            deviation.push(if (o as f64) < e { -z } else { z });
                            flagged.push(flag);
                        }
                    }
                }
            }
        }
    }
    let start = Int64Chunked::from_vec("start".into(), start)
        .into_datetime(TimeUnit::Milliseconds, None)
        .into_column();
    Ok(DataFrame::new(
        metric.len(),
        vec![
            start,
            Column::new("hours".into(), length),
            Column::new("metric".into(), metric),
            Column::new("value".into(), value),
            Column::new("expected".into(), expected),
            Column::new("p_value".into(), p_value),
            Column::new("deviation".into(), deviation),
            Column::new("flagged".into(), flagged),
        ],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drop_on_a_weekly_pattern_is_flagged_and_the_pattern_is_not() {
        // Weekends at 60 % of weekdays, a 40 % drop on one Wednesday.
        let first = crate::kpis::index::days_from_civil(2015, 5, 4); // a Monday
        let mut x: Vec<f64> = (0..70)
            .map(|i| if i % 7 >= 5 { 600.0 } else { 1000.0 } + ((i * 37) % 11) as f64)
            .collect();
        x[30] = 600.0; // day 30 is a Wednesday
        let b = band(&x, first, Noise::Count, &[]);
        let flagged: Vec<usize> = (0..70).filter(|&i| b.flagged[i]).collect();
        assert_eq!(flagged, vec![30]);
        assert!(b.deviation[30] < -THRESHOLD);
        assert!((b.expected[30] - 1000.0).abs() < 15.0);
    }

    #[test]
    fn the_stated_rate_is_the_normal_tail() {
        let p = 2.0 * crate::stats::norm_sf(THRESHOLD);
        assert!((p - FALSE_FLAG_RATE).abs() < 1e-12);
    }

    #[test]
    fn beta_binomial_tails_match_closed_forms() {
        // a = b = 1: uniform on 0..=n
        assert!((beta_binomial_two_sided(0, 3, 1.0, 1.0) - 0.5).abs() < 1e-12);
        assert!((beta_binomial_two_sided(3, 3, 1.0, 1.0) - 0.5).abs() < 1e-12);
        assert!((beta_binomial_two_sided(1, 9, 1.0, 1.0) - 0.4).abs() < 1e-12);
        // a, b large with a / (a + b) = 0.3: the binomial(10, 0.3) tails
        let binom_cdf = |k: u64| -> f64 {
            (0..=k)
                .map(|j| {
                    let c = (0..j).fold(1.0, |acc, i| acc * (10 - i) as f64 / (i + 1) as f64);
                    c * 0.3f64.powi(j as i32) * 0.7f64.powi(10 - j as i32)
                })
                .sum()
        };
        let (a, b) = (3e6, 7e6);
        assert!((beta_binomial_two_sided(1, 10, a, b) - 2.0 * binom_cdf(1)).abs() < 1e-5);
        let upper = 1.0 - binom_cdf(6);
        assert!((beta_binomial_two_sided(7, 10, a, b) - 2.0 * upper).abs() < 1e-5);
        // the mean itself is not significant; far tails underflow to tiny, never NaN
        assert_eq!(beta_binomial_two_sided(3, 10, a, b), 1.0);
        let p = beta_binomial_two_sided(0, 5000, 2000.0, 3000.0);
        assert!(p.is_finite() && p < 1e-100);
    }
}
