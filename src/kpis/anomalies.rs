//! Anomalies of daily KPI series, robust to weekly seasonality and to outliers.
//!
//! For a daily series x: trend = centred 7-day rolling median (one of each weekday; at the ends of
//! the series the first or last 7 days); seasonal
//! effect = median, per weekday, of x − trend; expected = trend + seasonal effect; residual =
//! x − expected; scale = max(1.4826 · MAD of the residuals, the sampling noise of the day's value:
//! √expected for counts, √(p(1 − p)/visitors) for conversion). A day is flagged when
//! |residual| > 3.5 · scale. For Gaussian residuals that is a false-flag rate of 4.65e-4 per day
//! and metric ([`FALSE_FLAG_RATE`]).
use polars::prelude::*;

use super::index::weekday;
use super::tables::date_column;
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
            date_column("date", out_date),
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
}
