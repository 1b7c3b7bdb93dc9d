//! Behaviour of an ordinary visitor: how many sessions, how many views per session, time between
//! events, purchase propensity and basket size. Shapes are fixed; the few free rates are derived from
//! the scaled targets so every count is linear in scale.
use super::sizes::{Sizes, ADDTOCARTS, ORDERS, TRANSACTIONS, VIEWS};
use super::table::DiscreteTable;
use rand::Rng;
use rand_distr::{Distribution, Gamma, LogNormal};

/// Inactivity that separates sessions (the cleaning default); generated gaps stay clear of it.
pub(super) const SESSION_TIMEOUT_MS: i64 = 30 * 60_000;
/// Upper bound of how long after its last view a session's carts and transactions can happen.
pub(super) const PURCHASE_TAIL_MS: i64 = 30 * 60_000;
/// Smallest gap between two events of one ordinary visitor: keeps natural rows out of the
/// near-duplicate rule (same visitor, item and event within 1 s).
pub(super) const MIN_GAP_MS: i64 = 2_000;
const MAX_GAP_MS: i64 = 20 * 60_000;

const P_RETURNING: f64 = 0.15;
const EXTRA_SESSIONS_EXPONENT: f64 = 2.1;
const MAX_EXTRA_SESSIONS: usize = 60;
const EXTRA_VIEWS_EXPONENT: f64 = 1.8;
const MAX_EXTRA_VIEWS: usize = 150;
/// Share of later views in a session that return to an item already seen in it.
pub(super) const REVIEW_P: f64 = 0.2;
/// Per-session purchase propensity = THETA * sessions^BETA * Gamma(shape, mean 1): heavy visitors
/// and a minority of keen shoppers make most orders (orders per buyer about 1.5).
const THETA: f64 = 0.00285;
const BETA: f64 = 0.87;
const PROPENSITY_SHAPE: f64 = 0.6;
pub(super) const MAX_SESSION_PURCHASE_P: f64 = 0.3;
/// Basket size is 1 + Geometric: mean items per order = 22,457 / 17,672.
const EXTRA_ITEM_P: f64 = 1.0 - ORDERS / TRANSACTIONS;
/// A purchasing session sometimes also carts an item it does not buy.
pub(super) const EXTRA_CART_P: f64 = 0.25;
pub(super) const SECOND_CART_P: f64 = 0.2;
/// Keeps a session's purchase tail (extra views, carts, checkout) well inside PURCHASE_TAIL_MS.
const MAX_ORDER_ITEMS: usize = 10;

pub(super) struct VisitorModel {
    extra_sessions: DiscreteTable,
    extra_views: DiscreteTable,
    p_extra_views: f64,
    gap: LogNormal<f64>,
    propensity: Gamma<f64>,
    /// Probability that a non-purchasing session adds something to the cart.
    pub(super) cart_rate: f64,
}

impl VisitorModel {
    /// `bot_views`: views the bots will contribute, taken out of the ordinary visitors' budget.
    pub(super) fn new(sizes: &Sizes, bot_views: f64) -> Self {
        let extra_sessions = DiscreteTable::power_law(EXTRA_SESSIONS_EXPONENT, MAX_EXTRA_SESSIONS);
        let extra_views = DiscreteTable::power_law(EXTRA_VIEWS_EXPONENT, MAX_EXTRA_VIEWS);
        let visitors = sizes.ordinary_visitors() as f64;
        let sessions_per_visitor = 1.0 + P_RETURNING * extra_sessions.mean;
        let sessions = visitors * sessions_per_visitor;
        let views_budget = (sizes.target(VIEWS) - bot_views).max(visitors);
        let views_per_session = views_budget / sessions;
        let p_extra_views = ((views_per_session - 1.0) / extra_views.mean).clamp(0.0, 1.0);
        let orders = sizes.target(ORDERS);
        let items_per_order = TRANSACTIONS / ORDERS;
        // The extra cart needs a second distinct viewed item, which few sessions have.
        let purchase_carts = orders * (items_per_order + EXTRA_CART_P * p_extra_views);
        let cart_rate = ((sizes.target(ADDTOCARTS) - purchase_carts)
            / ((sessions - orders).max(1.0)
                * (1.0 + SECOND_CART_P * p_extra_views * (1.0 - REVIEW_P))))
            .clamp(0.0, 1.0);
        VisitorModel {
            extra_sessions,
            extra_views,
            p_extra_views,
            gap: LogNormal::new(25_000f64.ln(), 1.2).expect("constant parameters"),
            propensity: Gamma::new(PROPENSITY_SHAPE, 1.0 / PROPENSITY_SHAPE)
                .expect("constant parameters"),
            cart_rate,
        }
    }

    pub(super) fn sessions_per_visitor(&self) -> f64 {
        1.0 + P_RETURNING * self.extra_sessions.mean
    }

    pub(super) fn views_per_session(&self) -> f64 {
        1.0 + self.p_extra_views * self.extra_views.mean
    }

    pub(super) fn draw_session_count<R: Rng>(&self, rng: &mut R) -> usize {
        if rng.random_bool(P_RETURNING) {
            1 + self.extra_sessions.sample(rng)
        } else {
            1
        }
    }

    pub(super) fn draw_view_count<R: Rng>(&self, rng: &mut R) -> usize {
        if rng.random::<f64>() < self.p_extra_views {
            1 + self.extra_views.sample(rng)
        } else {
            1
        }
    }

    /// Time between two consecutive events of a session: seconds to minutes.
    pub(super) fn draw_gap<R: Rng>(&self, rng: &mut R) -> i64 {
        MIN_GAP_MS + (self.gap.sample(rng) as i64).min(MAX_GAP_MS)
    }

    /// The visitor's base per-session purchase probability.
    pub(super) fn draw_propensity<R: Rng>(&self, rng: &mut R, sessions: usize) -> f64 {
        THETA * (sessions as f64).powf(BETA) * self.propensity.sample(rng)
    }

    pub(super) fn draw_order_size<R: Rng>(&self, rng: &mut R) -> usize {
        let mut n = 1;
        while n < MAX_ORDER_ITEMS && rng.random_bool(EXTRA_ITEM_P) {
            n += 1;
        }
        n
    }
}

// Event::seq is a u16: the most events one visitor can have (every session at its longest, each
// with a full order: extra views, carts incl. the extra one, and transaction lines) must fit.
const _: () = assert!(
    (1 + MAX_EXTRA_SESSIONS) * (1 + MAX_EXTRA_VIEWS + 3 * MAX_ORDER_ITEMS + 1) < u16::MAX as usize
);
