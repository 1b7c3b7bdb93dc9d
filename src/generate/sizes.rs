//! Published figures of the RetailRocket data set (SPEC §1.2) and their scaled targets.

pub(super) const VISITORS: f64 = 1_407_580.0;
pub(super) const VIEWS: f64 = 2_664_312.0;
pub(super) const ADDTOCARTS: f64 = 69_332.0;
pub(super) const TRANSACTIONS: f64 = 22_457.0;
pub(super) const ORDERS: f64 = 17_672.0;
pub(super) const EXACT_DUPLICATES: f64 = 460.0;
pub(super) const ITEMS_WITH_EVENTS: f64 = 235_061.0;
pub(super) const CATALOG_ITEMS: f64 = 417_053.0;
/// Item ids in the real data run up to 466,866 with gaps; keep the same sparsity.
pub(super) const ITEM_ID_SPACE: f64 = 466_867.0;
pub(super) const CATEGORIES: usize = 1_669;
pub(super) const BOTS: f64 = 10.0;
/// Not published; about half the exact duplicates.
pub(super) const NEAR_DUPLICATES: f64 = 230.0;
pub(super) const MALFORMED_PER_RULE: f64 = 8.0;

fn scaled(value: f64, scale: f64) -> usize {
    (value * scale).round().max(1.0) as usize
}

/// Every count the generator aims at, for one scale.
#[derive(Clone, Debug)]
pub(super) struct Sizes {
    pub(super) scale: f64,
    pub(super) visitors: usize,
    pub(super) bots: usize,
    pub(super) catalog_items: usize,
    pub(super) item_id_space: usize,
    pub(super) items_with_events: usize,
    pub(super) exact_duplicates: usize,
    pub(super) near_duplicates: usize,
    pub(super) malformed_per_rule: usize,
}

impl Sizes {
    pub(super) fn new(scale: f64, inject_anomalies: bool) -> Self {
        let bots = if inject_anomalies {
            scaled(BOTS, scale)
        } else {
            0
        };
        // Floors keep tiny scales workable (bots need a few dozen distinct items to rotate through).
        let catalog_items = scaled(CATALOG_ITEMS, scale).max(200);
        Sizes {
            scale,
            // At absurdly small scales keep at least a handful of ordinary visitors next to the bots.
            visitors: scaled(VISITORS, scale).max(bots + 10),
            bots,
            catalog_items,
            item_id_space: scaled(ITEM_ID_SPACE, scale).max(catalog_items),
            items_with_events: scaled(ITEMS_WITH_EVENTS, scale).clamp(100, catalog_items),
            exact_duplicates: if inject_anomalies {
                scaled(EXACT_DUPLICATES, scale)
            } else {
                0
            },
            near_duplicates: if inject_anomalies {
                scaled(NEAR_DUPLICATES, scale)
            } else {
                0
            },
            malformed_per_rule: if inject_anomalies {
                (MALFORMED_PER_RULE * scale.max(0.125)).round() as usize
            } else {
                0
            },
        }
    }

    pub(super) fn ordinary_visitors(&self) -> usize {
        self.visitors - self.bots
    }

    pub(super) fn target(&self, published: f64) -> f64 {
        published * self.scale
    }
}
