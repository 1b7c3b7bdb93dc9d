//! Headline KPIs of any filter without scanning the events: the interactive path of
//! [`super::headline`].
//!
//! Built once per [`EventIndex`] (on the first headline query), the cube holds, per cell (UTC day ×
//! root category × visitor class, where the root dimension has an "all roots" slot and the class is
//! bot flag × lifecycle stage):
//! - partial sums of every additive count (events, views, carts, purchases, revenue, and the
//!   session figures of the sessions starting that day, with the sessions counted under every root
//!   they have an event of, as the root filter selects them);
//! - sorted lists of the distinct visitors, buyers and (visitor, order) pairs with a selected event
//!   in the cell, and the durations of its sessions with at least two events.
//!
//! A query adds the sums of the selected cells and unions the lists in plain `u64` bitsets, so
//! distinct counts over any date range are exact (a visitor active on many selected days counts
//! once). Pair codes are consecutive per visitor, so buyers with two or more orders are runs in the
//! pair bitset. Results equal the scan's ([`super::scan::headline_partial`]) field for field.
use super::index::*;
use super::scan::{DaySet, Filter, HeadlinePartial};

/// Visitor classes: bot flag × lifecycle stage.
const CLASSES: usize = 2 * LIFECYCLE.len();

/// Additive figures of one cell.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    events: u64,
    views: u64,
    carts: u64,
    purchases: u64,
    priced_purchases: u64,
    revenue: i64,
    sessions: u64,
    bounces: u64,
    cart_sessions: u64,
    abandoned_sessions: u64,
    purchase_sessions: u64,
    session_events: u64,
    multi_event_sessions: u64,
}

impl Sums {
    fn add(&mut self, o: &Sums) {
        self.events += o.events;
        self.views += o.views;
        self.carts += o.carts;
        self.purchases += o.purchases;
        self.priced_purchases += o.priced_purchases;
        self.revenue += o.revenue;
        self.sessions += o.sessions;
        self.bounces += o.bounces;
        self.cart_sessions += o.cart_sessions;
        self.abandoned_sessions += o.abandoned_sessions;
        self.purchase_sessions += o.purchase_sessions;
        self.session_events += o.session_events;
        self.multi_event_sessions += o.multi_event_sessions;
    }
}

/// Values grouped by cell (compressed sparse rows): cell c holds `values[offsets[c]..offsets[c + 1]]`.
#[derive(Debug, Clone, Default)]
struct Lists<T> {
    offsets: Vec<u32>,
    values: Vec<T>,
}

impl<T: Copy + Default> Lists<T> {
    /// From (cell, value) pairs, keeping their order within a cell.
    fn from_pairs(cells: usize, pairs: &[(u32, T)]) -> Lists<T> {
        let mut offsets = vec![0u32; cells + 1];
        for &(c, _) in pairs {
            offsets[c as usize + 1] += 1;
        }
        for c in 0..cells {
            offsets[c + 1] += offsets[c];
        }
        let mut next: Vec<u32> = offsets[..cells].to_vec();
        let mut values = vec![T::default(); pairs.len()];
        for &(c, v) in pairs {
            values[next[c as usize] as usize] = v;
            next[c as usize] += 1;
        }
        Lists { offsets, values }
    }

    fn get(&self, cell: usize) -> &[T] {
        &self.values[self.offsets[cell] as usize..self.offsets[cell + 1] as usize]
    }
}

/// The pre-aggregated form of an index for headline queries.
#[derive(Debug, Clone, Default)]
pub struct HeadlineCube {
    n_days: usize,
    /// Root dimension: slot 0 = every event, slot r + 1 = root code r.
    n_roots: usize,
    sums: Vec<Sums>,
    visitors: Lists<u32>,
    buyers: Lists<u32>,
    pairs: Lists<u32>,
    durations: Lists<i64>,
    n_visitors: usize,
    /// Visitor of each (visitor, order) pair; pairs of a visitor are consecutive.
    pair_visitor: Vec<u32>,
}

fn set_bits(bits: &mut [u64], values: &[u32]) {
    for &v in values {
        bits[(v >> 6) as usize] |= 1u64 << (v & 63);
    }
}

fn count_bits(bits: &[u64]) -> u64 {
    bits.iter().map(|w| w.count_ones() as u64).sum()
}

impl HeadlineCube {
    fn cell(&self, day: usize, root: usize, class: usize) -> usize {
        (day * self.n_roots + root) * CLASSES + class
    }

    pub fn new(index: &EventIndex) -> HeadlineCube {
        let n_roots = index.root_ids.len() + 1;
        let mut cube = HeadlineCube {
            n_days: index.n_days,
            n_roots,
            sums: vec![Sums::default(); index.n_days * n_roots * CLASSES],
            n_visitors: index.n_visitors(),
            ..HeadlineCube::default()
        };
        let mut visitor_cells: Vec<(u32, u32)> = Vec::new();
        let mut buyer_cells: Vec<(u32, u32)> = Vec::new();
        let mut pair_cells: Vec<(u32, u32)> = Vec::new();
        let mut duration_cells: Vec<(u32, i64)> = Vec::new();
        // per visitor scratch
        let mut seen: Vec<u32> = Vec::new();
        let mut bought: Vec<u32> = Vec::new();
        let mut orders: Vec<u32> = Vec::new();
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        let mut roots: Vec<usize> = Vec::new();
        for v in 0..index.n_visitors() {
            let class = index.is_bot[v] as usize * LIFECYCLE.len() + index.lifecycle[v] as usize;
            seen.clear();
            bought.clear();
            orders.clear();
            pairs.clear();
            let s0 = index.visitor_session[v] as usize;
            let s1 = index.visitor_session[v + 1] as usize;
            for s in s0..s1 {
                let e0 = index.session_start[s] as usize;
                let e1 = index.session_start[s + 1] as usize;
                roots.clear();
                roots.push(0);
                for e in e0..e1 {
                    let d = index.day[e] as usize;
                    let r = index.root[e];
                    let slots = [0, if r == NONE { 0 } else { r as usize + 1 }];
                    let kind = index.kind[e];
                    for (i, &slot) in slots.iter().enumerate() {
                        if i == 1 && slot == 0 {
                            break;
                        }
                        let c = cube.cell(d, slot, class);
                        let sums = &mut cube.sums[c];
                        sums.events += 1;
                        seen.push(c as u32);
                        match kind {
                            VIEW => sums.views += 1,
                            CART => sums.carts += 1,
                            PURCHASE => {
                                sums.purchases += 1;
                                sums.priced_purchases += index.priced[e] as u64;
                                sums.revenue += index.revenue[e];
                                bought.push(c as u32);
                                let o = index.order[e];
                                if o != NONE {
                                    let k = match orders.iter().position(|&x| x == o) {
                                        Some(k) => k,
                                        None => {
                                            orders.push(o);
                                            orders.len() - 1
                                        }
                                    };
                                    pairs.push((c as u32, k as u32));
                                }
                            }
                            _ => {}
                        }
                    }
                    if r != NONE {
                        roots.push(r as usize + 1);
                    }
                }
                roots.sort_unstable();
                roots.dedup();
                let start_day = index.day[e0] as usize;
                let n_ev = (e1 - e0) as u64;
                let flags = index.session_flags[s];
                let cart = flags & HAS_CART != 0;
                let purchase = flags & HAS_PURCHASE != 0;
                for &slot in &roots {
                    let c = cube.cell(start_day, slot, class);
                    let sums = &mut cube.sums[c];
                    sums.sessions += 1;
                    sums.session_events += n_ev;
                    sums.bounces += (n_ev == 1) as u64;
                    sums.cart_sessions += cart as u64;
                    sums.abandoned_sessions += (cart && !purchase) as u64;
                    sums.purchase_sessions += purchase as u64;
                    if n_ev >= 2 {
                        sums.multi_event_sessions += 1;
                        duration_cells.push((c as u32, index.ts[e1 - 1] - index.ts[e0]));
                    }
                }
            }
            seen.sort_unstable();
            seen.dedup();
            visitor_cells.extend(seen.iter().map(|&c| (c, v as u32)));
            bought.sort_unstable();
            bought.dedup();
            buyer_cells.extend(bought.iter().map(|&c| (c, v as u32)));
            pairs.sort_unstable();
            pairs.dedup();
            let base = cube.pair_visitor.len() as u32;
            pair_cells.extend(pairs.iter().map(|&(c, k)| (c, base + k)));
            cube.pair_visitor
                .extend(std::iter::repeat(v as u32).take(orders.len()));
        }
        let cells = cube.sums.len();
        cube.visitors = Lists::from_pairs(cells, &visitor_cells);
        cube.buyers = Lists::from_pairs(cells, &buyer_cells);
        cube.pairs = Lists::from_pairs(cells, &pair_cells);
        cube.durations = Lists::from_pairs(cells, &duration_cells);
        cube
    }

    /// The headline partial of a filter (the same figures as the scan).
    pub fn query(&self, index: &EventIndex, filter: &Filter) -> HeadlinePartial {
        let mut h = HeadlinePartial::default();
        let root = match filter.root_category {
            None => 0,
            Some(r) => match index.root_code(r) {
                Some(code) => code as usize + 1,
                None => return h,
            },
        };
        let classes: Vec<usize> = (0..CLASSES)
            .filter(|&c| {
                let (bot, stage) = (c / LIFECYCLE.len(), c % LIFECYCLE.len());
                (filter.include_bots || bot == 0)
                    && filter.segment.map_or(true, |s| s as usize == stage)
            })
            .collect();
        let days: Vec<usize> = (0..self.n_days)
            .filter(|&d| {
                let day = index.first_day + d as i32;
                let wd = weekday(day);
                filter.start.map_or(true, |s| day >= s)
                    && filter.end.map_or(true, |e| day <= e)
                    && match filter.days {
                        DaySet::All => true,
                        DaySet::Weekdays => wd < 5,
                        DaySet::Weekends => wd >= 5,
                    }
            })
            .collect();
        let mut sums = Sums::default();
        let mut visitor_bits = vec![0u64; self.n_visitors.div_ceil(64)];
        let mut buyer_bits = vec![0u64; self.n_visitors.div_ceil(64)];
        let mut pair_bits = vec![0u64; self.pair_visitor.len().div_ceil(64)];
        let mut n_durations = 0;
        for &d in &days {
            for &c in &classes {
                let cell = self.cell(d, root, c);
                sums.add(&self.sums[cell]);
                set_bits(&mut visitor_bits, self.visitors.get(cell));
                set_bits(&mut buyer_bits, self.buyers.get(cell));
                set_bits(&mut pair_bits, self.pairs.get(cell));
                n_durations += self.durations.get(cell).len();
            }
        }
        let mut durations = Vec::with_capacity(n_durations);
        for &d in &days {
            for &c in &classes {
                durations.extend_from_slice(self.durations.get(self.cell(d, root, c)));
            }
        }
        // buyers with two or more orders: runs of set pair bits of one visitor
        let mut repeat = 0u64;
        let mut last: Option<(u32, u32)> = None; // (visitor, orders so far)
        for (w, &word) in pair_bits.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let p = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let v = self.pair_visitor[p];
                last = match last {
                    Some((lv, n)) if lv == v => {
                        if n == 1 {
                            repeat += 1;
                        }
                        Some((v, n + 1))
                    }
                    _ => Some((v, 1)),
                };
            }
        }
        h.visitors = count_bits(&visitor_bits);
        h.buyers = count_bits(&buyer_bits);
        h.orders = count_bits(&pair_bits);
        h.repeat_buyers = repeat;
        h.events = sums.events;
        h.views = sums.views;
        h.carts = sums.carts;
        h.purchases = sums.purchases;
        h.priced_purchases = sums.priced_purchases;
        h.revenue = sums.revenue;
        h.sessions = sums.sessions;
        h.bounces = sums.bounces;
        h.cart_sessions = sums.cart_sessions;
        h.abandoned_sessions = sums.abandoned_sessions;
        h.purchase_sessions = sums.purchase_sessions;
        h.session_events = sums.session_events;
        h.multi_event_sessions = sums.multi_event_sessions;
        h.multi_event_durations = durations;
        h
    }
}
