//! Ordinary visitors: sessions of views, carts and orders, generated per fixed-size chunk.
use super::calendar::{Calendar, END_MS, HOUR_MS, START_MS};
use super::catalog::Catalog;
use super::event::{Event, EventKind, NO_ORDER};
use super::experiments::{
    assign, sample_given_any, user_conversion, Assignment, Draws, ExperimentSpec, CHECKOUT,
};
use super::model::{
    VisitorModel, EXTRA_CART_P, MAX_SESSION_PURCHASE_P, MIN_GAP_MS, PURCHASE_TAIL_MS, REVIEW_P,
    SECOND_CART_P, SESSION_TIMEOUT_MS,
};
use crate::rng::{stream, Domain};
use rand::Rng;
use rand_pcg::Pcg64;
use std::ops::Range;

/// Visitors per chunk; each chunk has its own random stream, so output is independent of threads.
pub(super) const CHUNK_VISITORS: usize = 4096;

pub(super) struct World<'a> {
    pub(super) calendar: &'a Calendar,
    pub(super) catalog: &'a Catalog,
    pub(super) model: &'a VisitorModel,
    pub(super) specs: &'a [ExperimentSpec; 3],
}

#[derive(Default)]
pub(super) struct ChunkOutput {
    pub(super) events: Vec<Event>,
    /// Orders numbered 0..orders within the chunk.
    pub(super) orders: u32,
    pub(super) assignments: Vec<Assignment>,
    /// Sum over checkout-assigned visitors of their control-arm conversion probability.
    pub(super) checkout_probability_sum: f64,
}

/// Scratch buffers reused across the visitors of a chunk.
struct Simulator<'a> {
    world: &'a World<'a>,
    rng: Pcg64,
    starts: Vec<i64>,
    views: Vec<(i64, u32)>,
    sessions: Vec<Range<usize>>,
    purchase_p: Vec<f64>,
    buys: Vec<bool>,
    post_buys: Vec<bool>,
    distinct: Vec<u32>,
}

pub(super) fn simulate_chunk(
    world: &World,
    seed: u64,
    chunk: usize,
    visitor_ids: &[u32],
) -> ChunkOutput {
    let mut sim = Simulator {
        world,
        rng: stream(seed, Domain::Visitors, chunk as u64),
        starts: Vec::new(),
        views: Vec::new(),
        sessions: Vec::new(),
        purchase_p: Vec::new(),
        buys: Vec::new(),
        post_buys: Vec::new(),
        distinct: Vec::new(),
    };
    let mut out = ChunkOutput {
        events: Vec::with_capacity(visitor_ids.len() * 2),
        ..ChunkOutput::default()
    };
    for &visitor in visitor_ids {
        sim.visitor(visitor, &mut out);
    }
    out
}

impl Simulator<'_> {
    fn visitor(&mut self, visitor: u32, out: &mut ChunkOutput) {
        let n_sessions = self.world.model.draw_session_count(&mut self.rng);
        self.plan_sessions(n_sessions);
        let draws = Draws::new(&mut self.rng);
        let post = self.decide_purchases(n_sessions, &draws, out);
        let first_event = out.events.len();
        self.emit(visitor, out);
        let events = &out.events[first_event..];
        debug_assert_eq!(
            post.is_some(),
            super::experiments::assignment_time(&self.world.specs[CHECKOUT], events).is_some()
        );
        assign(
            self.world.specs,
            visitor,
            events,
            &draws,
            &mut out.assignments,
        );
    }

    /// Session start times from the traffic intensity, kept apart by more than the session timeout;
    /// the views of each session with their timestamps and items.
    fn plan_sessions(&mut self, n_sessions: usize) {
        let w = self.world;
        self.starts.clear();
        for _ in 0..n_sessions {
            self.starts.push(w.calendar.sample_time(&mut self.rng));
        }
        self.starts.sort_unstable();
        self.views.clear();
        self.sessions.clear();
        let mut earliest = START_MS;
        for i in 0..n_sessions {
            let first = self.views.len();
            let n_views = w.model.draw_view_count(&mut self.rng);
            let mut offset = 0i64;
            for v in 0..n_views {
                if v > 0 {
                    offset += w.model.draw_gap(&mut self.rng);
                }
                let item = if v > 0 && self.rng.random_bool(REVIEW_P) {
                    self.views[self.rng.random_range(first..self.views.len())].1
                } else {
                    w.catalog.sample_item(&mut self.rng)
                };
                self.views.push((offset, item));
            }
            let mut start = self.starts[i];
            if start < earliest {
                start = earliest + self.rng.random_range(0..3 * HOUR_MS);
            }
            start = start.min(END_MS - 1 - PURCHASE_TAIL_MS - offset);
            if i > 0 && start < earliest {
                self.views.truncate(first);
                break;
            }
            start = start.max(START_MS);
            for view in &mut self.views[first..] {
                view.0 += start;
            }
            self.sessions.push(first..self.views.len());
            earliest = start + offset + PURCHASE_TAIL_MS + SESSION_TIMEOUT_MS + 1;
        }
    }

    /// Which sessions end in an order. Returns the first checkout session after assignment, if any.
    fn decide_purchases(
        &mut self,
        n_sessions: usize,
        draws: &Draws,
        out: &mut ChunkOutput,
    ) -> Option<usize> {
        let w = self.world;
        let propensity = w.model.draw_propensity(&mut self.rng, n_sessions);
        self.purchase_p.clear();
        for s in &self.sessions {
            let last_view = self.views[s.end - 1].0;
            let p = propensity * w.calendar.conversion_factor(last_view);
            self.purchase_p.push(p.min(MAX_SESSION_PURCHASE_P));
        }
        let spec = &w.specs[CHECKOUT];
        let post = self
            .sessions
            .iter()
            .position(|s| self.views[s.end - 1].0 >= spec.start_ms)
            .filter(|&j| {
                let s = &self.sessions[j];
                self.views[s.clone()]
                    .iter()
                    .any(|v| v.0 >= spec.start_ms && v.0 < spec.end_ms)
            });
        self.buys.clear();
        let pre_end = post.unwrap_or(self.sessions.len());
        for s in 0..pre_end {
            let hit = self.rng.random::<f64>() < self.purchase_p[s];
            self.buys.push(hit);
        }
        if let Some(j) = post {
            // Decide "converts after assignment" at the user level, then where, so the expected
            // user conversion ratio treatment / control is exactly 1 + lift.
            let p = user_conversion(&self.purchase_p[j..]);
            out.checkout_probability_sum += p;
            let multiplier = if draws.variant(CHECKOUT) == 1 {
                1.0 + spec.lift
            } else {
                1.0
            };
            if self.rng.random::<f64>() < multiplier * p {
                sample_given_any(&mut self.rng, &self.purchase_p[j..], &mut self.post_buys);
                self.buys.extend_from_slice(&self.post_buys);
            } else {
                self.buys.resize(self.sessions.len(), false);
            }
        }
        post
    }

    fn emit(&mut self, visitor: u32, out: &mut ChunkOutput) {
        let w = self.world;
        let checkout_start = w.specs[CHECKOUT].start_ms;
        let mut seq = 0u16;
        let mut push =
            |events: &mut Vec<Event>, ts: i64, kind: EventKind, item: u32, order: u32| {
                events.push(Event {
                    ts,
                    visitor,
                    seq,
                    item,
                    order,
                    kind,
                });
                seq += 1;
            };
        for (s, range) in self.sessions.iter().enumerate() {
            let first_event = out.events.len();
            let last_view = self.views[range.end - 1].0;
            self.distinct.clear();
            for &(ts, item) in &self.views[range.clone()] {
                push(&mut out.events, ts, EventKind::View, item, NO_ORDER);
                if !self.distinct.contains(&item) {
                    self.distinct.push(item);
                }
            }
            let rng = &mut self.rng;
            let last_view_of = |events: &[Event], item: u32| {
                events
                    .iter()
                    .filter(|e| e.kind == EventKind::View && e.item == item)
                    .map(|e| e.ts)
                    .max()
                    .unwrap_or(last_view)
            };
            if self.buys[s] {
                let size = w.model.draw_order_size(rng);
                let mut browse_end = last_view;
                let mut tries = 0;
                while self.distinct.len() < size && tries < 50 {
                    tries += 1;
                    let item = w.catalog.sample_item(rng);
                    if !self.distinct.contains(&item) {
                        browse_end += MIN_GAP_MS + rng.random_range(0..60_000);
                        push(&mut out.events, browse_end, EventKind::View, item, NO_ORDER);
                        self.distinct.push(item);
                    }
                }
                let size = size.min(self.distinct.len());
                partial_shuffle(rng, &mut self.distinct, size);
                let order = out.orders;
                out.orders += 1;
                let mut checkout_at = browse_end;
                for k in 0..size {
                    let item = self.distinct[k];
                    let ts = last_view_of(&out.events[first_event..], item)
                        + rng.random_range(3_000..60_000);
                    push(&mut out.events, ts, EventKind::AddToCart, item, NO_ORDER);
                    checkout_at = checkout_at.max(ts);
                }
                if self.distinct.len() > size && rng.random_bool(EXTRA_CART_P) {
                    let item = self.distinct[rng.random_range(size..self.distinct.len())];
                    let ts = last_view_of(&out.events[first_event..], item)
                        + rng.random_range(3_000..60_000);
                    push(&mut out.events, ts, EventKind::AddToCart, item, NO_ORDER);
                    checkout_at = checkout_at.max(ts);
                }
                checkout_at += rng.random_range(20_000..240_000);
                for k in 0..size {
                    push(
                        &mut out.events,
                        checkout_at,
                        EventKind::Transaction,
                        self.distinct[k],
                        order,
                    );
                }
            } else if rng.random_bool(w.model.cart_rate) {
                let n = if self.distinct.len() > 1 && rng.random_bool(SECOND_CART_P) {
                    2
                } else {
                    1
                };
                partial_shuffle(rng, &mut self.distinct, n);
                for k in 0..n {
                    let item = self.distinct[k];
                    let ts = last_view_of(&out.events[first_event..], item)
                        + rng.random_range(3_000..60_000);
                    push(&mut out.events, ts, EventKind::AddToCart, item, NO_ORDER);
                }
            }
            // A session that browses before the checkout experiment starts finishes before it too,
            // so assignment (first event at or after the start) always opens a post-start session.
            if last_view < checkout_start {
                for e in &mut out.events[first_event..] {
                    e.ts = e.ts.min(checkout_start - 1);
                }
            }
        }
    }
}

/// Moves `k` uniformly chosen elements to the front.
fn partial_shuffle<R: Rng, T>(rng: &mut R, items: &mut [T], k: usize) {
    for i in 0..k.min(items.len()) {
        let j = rng.random_range(i..items.len());
        items.swap(i, j);
    }
}
