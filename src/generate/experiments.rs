//! The three experiments: who is assigned when, and how a real conversion lift is made causal.
use super::calendar::{DAY_MS, START_MS};
use super::event::Event;
use rand::Rng;

pub(super) const CHECKOUT: usize = 0;
pub(super) const RECS: usize = 2;
pub(super) const PLANNED_WEIGHT: f64 = 0.5;
/// Relative lift of user conversion in `checkout_redesign` treatment.
pub(super) const CHECKOUT_LIFT: f64 = 0.15;
/// Share of `recs_srm` treatment assignments that never reach the file. 5 % (rather than the
/// nominal 4 %) keeps the SRM chi-square p-value far below 0.001 already at scale 0.1.
pub(super) const RECS_LOST_FRACTION: f64 = 0.05;
/// Cap on a checkout user's post-assignment conversion probability, so that 1.15 × p stays a
/// probability and the expected lift is exactly 15 %.
const MAX_USER_CONVERSION: f64 = 0.85;

pub(super) struct ExperimentSpec {
    pub(super) name: &'static str,
    pub(super) variants: [&'static str; 2],
    pub(super) start_ms: i64,
    pub(super) end_ms: i64,
    /// Relative lift of user conversion in the second variant.
    pub(super) lift: f64,
    /// Probability that an assignment to the second variant is missing from the file.
    pub(super) lost_fraction: f64,
}

pub(super) fn specs(inject_anomalies: bool) -> [ExperimentSpec; 3] {
    let day = |d: i64| START_MS + d * DAY_MS;
    [
        ExperimentSpec {
            name: "checkout_redesign",
            variants: ["control", "treatment"],
            start_ms: day(42),
            end_ms: day(98),
            lift: CHECKOUT_LIFT,
            lost_fraction: 0.0,
        },
        ExperimentSpec {
            name: "homepage_aa",
            variants: ["a", "b"],
            start_ms: day(14),
            end_ms: day(56),
            lift: 0.0,
            lost_fraction: 0.0,
        },
        ExperimentSpec {
            name: "recs_srm",
            variants: ["control", "treatment"],
            start_ms: day(70),
            end_ms: day(126),
            lift: 0.0,
            lost_fraction: if inject_anomalies {
                RECS_LOST_FRACTION
            } else {
                0.0
            },
        },
    ]
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Assignment {
    pub(super) experiment: u8,
    pub(super) user: u32,
    pub(super) variant: u8,
    pub(super) assigned_at: i64,
}

/// A visitor's randomisation, drawn once whether or not the visitor turns out to be eligible.
pub(super) struct Draws {
    variant: [f64; 3],
    loss: f64,
}

impl Draws {
    pub(super) fn new<R: Rng>(rng: &mut R) -> Self {
        Draws {
            variant: [rng.random(), rng.random(), rng.random()],
            loss: rng.random(),
        }
    }

    pub(super) fn variant(&self, experiment: usize) -> u8 {
        u8::from(self.variant[experiment] >= PLANNED_WEIGHT)
    }
}

/// Assignment = the visitor's first event at or after the start, if it falls before the end.
pub(super) fn assignment_time(spec: &ExperimentSpec, events: &[Event]) -> Option<i64> {
    events
        .iter()
        .map(|e| e.ts)
        .filter(|&ts| ts >= spec.start_ms)
        .min()
        .filter(|&ts| ts < spec.end_ms)
}

pub(super) fn assign(
    specs: &[ExperimentSpec; 3],
    user: u32,
    events: &[Event],
    draws: &Draws,
    out: &mut Vec<Assignment>,
) {
    for (e, spec) in specs.iter().enumerate() {
        let Some(assigned_at) = assignment_time(spec, events) else {
            continue;
        };
        let variant = draws.variant(e);
        if variant == 1 && draws.loss < spec.lost_fraction {
            continue;
        }
        out.push(Assignment {
            experiment: e as u8,
            user,
            variant,
            assigned_at,
        });
    }
}

/// P(at least one success) of independent Bernoulli(q_s).
pub(super) fn any_probability(q: &[f64]) -> f64 {
    1.0 - q.iter().map(|p| 1.0 - p).product::<f64>()
}

/// A checkout user's probability of converting after assignment (control arm): P(any purchase),
/// capped so that (1 + lift) × p is still a probability and the expected lift is exact.
pub(super) fn user_conversion(q: &[f64]) -> f64 {
    any_probability(q).min(MAX_USER_CONVERSION)
}

/// Independent Bernoulli(q_s) draws conditioned on at least one success (requires P(any) > 0):
/// the purchase pattern of a converting user is the same in both arms, so any post-assignment
/// conversion metric carries the same relative lift.
pub(super) fn sample_given_any<R: Rng>(rng: &mut R, q: &[f64], out: &mut Vec<bool>) {
    out.clear();
    let mut tail = vec![1.0; q.len() + 1];
    for s in (0..q.len()).rev() {
        tail[s] = tail[s + 1] * (1.0 - q[s]);
    }
    let mut any = false;
    for (s, &p) in q.iter().enumerate() {
        let p_now = if any {
            p
        } else {
            let mass = 1.0 - tail[s];
            if mass > 0.0 {
                (p / mass).min(1.0)
            } else {
                0.0
            }
        };
        let hit = rng.random::<f64>() < p_now;
        any |= hit;
        out.push(hit);
    }
}
