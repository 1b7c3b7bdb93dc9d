//! The observation period, traffic intensity over time and the time-dependent purchase factors.
use crate::rng::{stream, Domain};
use rand::Rng;
use rand_distr::{Distribution, Normal};

pub(super) const HOUR_MS: i64 = 3_600_000;
pub(super) const DAY_MS: i64 = 86_400_000;
/// 2015-05-03 00:00 UTC, a Sunday (first day of the RetailRocket data).
pub(super) const START_MS: i64 = 1_430_611_200_000;
pub(super) const DAYS: i64 = 139;
/// Exclusive: 2015-09-19 00:00 UTC, so the last day is 2015-09-18.
pub(super) const END_MS: i64 = START_MS + DAYS * DAY_MS;

/// Relative traffic per UTC hour: night trough around 04:00, evening peak around 19-20:00.
const HOUR_WEIGHT: [f64; 24] = [
    0.90, 0.70, 0.50, 0.36, 0.30, 0.32, 0.40, 0.55, 0.70, 0.80, 0.85, 0.90, 0.95, 1.00, 1.05, 1.10,
    1.20, 1.35, 1.50, 1.60, 1.60, 1.50, 1.30, 1.10,
];
/// Weekends bring somewhat less traffic ...
const WEEKEND_TRAFFIC: f64 = 0.88;
/// ... and clearly lower purchase propensity (normalised so the traffic-weighted mean is about 1).
const WEEKDAY_CONVERSION: f64 = 1.10;
const WEEKEND_CONVERSION: f64 = 0.72;
pub(super) const OUTAGE_MULTIPLIER: f64 = 0.05;
const OUTAGE_HOURS: i64 = 6;

/// Monday = 0 .. Sunday = 6 (UTC).
pub(super) fn weekday(ts: i64) -> i64 {
    // 1970-01-01 was a Thursday (3).
    (ts.div_euclid(DAY_MS) + 3).rem_euclid(7)
}

pub(super) fn is_weekend(ts: i64) -> bool {
    weekday(ts) >= 5
}

pub(super) struct Calendar {
    /// Cumulative traffic weight per hour of the period.
    cdf: Vec<f64>,
    pub(super) outage: Option<(i64, i64)>,
}

impl Calendar {
    pub(super) fn new(seed: u64, with_outage: bool) -> Self {
        let mut rng = stream(seed, Domain::Calendar, 0);
        let noise = Normal::new(0.0f64, 0.04).expect("constant parameters");
        let phase: f64 = rng.random_range(0.0..std::f64::consts::TAU);
        let mut cdf = Vec::with_capacity((DAYS * 24) as usize);
        let mut total = 0.0;
        for day in 0..DAYS {
            let day_start = START_MS + day * DAY_MS;
            let trend =
                1.0 + 0.12 * (std::f64::consts::TAU * 1.5 * day as f64 / DAYS as f64 + phase).sin();
            let jitter: f64 = (1.0 + noise.sample(&mut rng)).clamp(0.85, 1.15);
            let week = if is_weekend(day_start) {
                WEEKEND_TRAFFIC
            } else {
                1.0
            };
            for w in HOUR_WEIGHT {
                total += trend * jitter * week * w;
                cdf.push(total);
            }
        }
        // The outage sits on a weekday in the middle of the period, during business hours.
        let outage_day = loop {
            let d: i64 = rng.random_range(62..=76);
            if !is_weekend(START_MS + d * DAY_MS) {
                break d;
            }
        };
        let outage_hour: i64 = rng.random_range(9..=12);
        let outage_start = START_MS + outage_day * DAY_MS + outage_hour * HOUR_MS;
        Calendar {
            cdf,
            outage: with_outage.then_some((outage_start, outage_start + OUTAGE_HOURS * HOUR_MS)),
        }
    }

    /// A timestamp drawn from the traffic intensity (hour-of-day, weekday and day-to-day variation).
    pub(super) fn sample_time<R: Rng>(&self, rng: &mut R) -> i64 {
        let total = *self.cdf.last().expect("non-empty period");
        let u = rng.random::<f64>() * total;
        let hour = self
            .cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1);
        START_MS + hour as i64 * HOUR_MS + rng.random_range(0..HOUR_MS)
    }

    /// Multiplier of the purchase probability of a session whose browsing ends at `ts`.
    pub(super) fn conversion_factor(&self, ts: i64) -> f64 {
        let base = if is_weekend(ts) {
            WEEKEND_CONVERSION
        } else {
            WEEKDAY_CONVERSION
        };
        match self.outage {
            Some((s, e)) if ts >= s && ts < e => base * OUTAGE_MULTIPLIER,
            _ => base,
        }
    }
}
