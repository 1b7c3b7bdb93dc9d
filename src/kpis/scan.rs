//! One pass over a set of visitors producing partials that add up (item 9 of the KPI issue).
//!
//! Every distinct count is "distinct within a visitor, then summed": visitor sets of two partitions
//! are disjoint, so partials of any partition of the visitors merge exactly (integers and micro-unit
//! revenue add; value lists are concatenated and ordered when finished). The warehouse build runs
//! one partition per thread; Spark can run the same function per partition.
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use super::index::*;

/// Which days of the week an analysis keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DaySet {
    #[default]
    All,
    Weekdays,
    Weekends,
}

/// An event filter: date range (inclusive day numbers), weekday/weekend, root category, visitor
/// lifecycle segment, bots. Events are selected by their own UTC date; a session by the date of its
/// first event (and, with a root category, by having an event of that root).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub start: Option<i32>,
    pub end: Option<i32>,
    pub days: DaySet,
    pub root_category: Option<i64>,
    pub segment: Option<u8>,
    pub include_bots: bool,
}

/// Which partials a scan fills (every table needs only some of them; the interactive path asks for
/// the few a page draws, so it does not pay for products, categories and segments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need(u16);

impl Need {
    pub const NOTHING: Need = Need(0);
    pub const DAYS: Need = Need(1);
    pub const HOURS: Need = Need(1 << 1);
    pub const WEEKS: Need = Need(1 << 2);
    pub const MONTHS: Need = Need(1 << 3);
    pub const HOUR_WEEKDAY: Need = Need(1 << 4);
    pub const FUNNEL: Need = Need(1 << 5);
    pub const FUNNEL_BY: Need = Need(1 << 6);
    pub const ITEMS: Need = Need(1 << 7);
    pub const CATEGORIES: Need = Need(1 << 8);
    pub const VISITORS: Need = Need(1 << 9);
    pub const ALL: Need = Need((1 << 10) - 1);

    pub fn has(self, o: Need) -> bool {
        self.0 & o.0 != 0
    }

    pub fn with(self, o: Need) -> Need {
        Need(self.0 | o.0)
    }

    /// The partials the KPI table `name` (one of [`super::TABLES`]) is made from.
    pub fn of_table(name: &str) -> Need {
        match name {
            "kpi_daily" | "anomalies" => Need::DAYS,
            "anomalies_hourly" => Need::HOURS,
            "kpi_weekly" => Need::WEEKS,
            "kpi_monthly" => Need::MONTHS,
            "kpi_hour_weekday" => Need::HOUR_WEEKDAY,
            "funnel" => Need::FUNNEL,
            "funnel_by_day"
            | "funnel_by_weekday"
            | "funnel_by_hour"
            | "funnel_by_root_category" => Need::FUNNEL_BY,
            "products" | "kpi_price_bands" => Need::ITEMS,
            "kpi_categories" => Need::CATEGORIES,
            "kpi_segments" | "kpi_segment_conversion" => Need::VISITORS,
            _ => Need::ALL,
        }
    }
}

impl Default for Need {
    fn default() -> Need {
        Need::ALL
    }
}

/// A filter resolved against one index.
pub struct Selection {
    pub day_ok: Vec<bool>,
    /// First and last selected day (index day numbers); `first > last` when no day is selected.
    pub first_ok: usize,
    pub last_ok: usize,
    /// The partials a full scan fills.
    pub need: Need,
    /// `Some(code)`: keep events of this root only (a root absent from the data selects nothing).
    pub root: Option<u32>,
    pub segment: Option<u8>,
    pub include_bots: bool,
}

impl Selection {
    pub fn new(index: &EventIndex, filter: &Filter) -> Selection {
        let day_ok = (0..index.n_days)
            .map(|d| {
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
            .collect::<Vec<bool>>();
        Selection {
            first_ok: day_ok.iter().position(|&ok| ok).unwrap_or(usize::MAX),
            last_ok: day_ok.iter().rposition(|&ok| ok).unwrap_or(0),
            day_ok,
            need: Need::ALL,
            root: filter
                .root_category
                .map(|r| index.root_code(r).unwrap_or(NONE - 1)),
            segment: filter.segment,
            include_bots: filter.include_bots,
        }
    }

    /// The same selection filling only the partials `need`.
    pub fn needing(mut self, need: Need) -> Selection {
        self.need = need;
        self
    }

    /// The visitor passes the bot and segment filters and has an event on a day in the selected
    /// range (its events are in time order, so the first and last give its days).
    fn visitor_ok(&self, index: &EventIndex, v: usize) -> bool {
        if !((self.include_bots || !index.is_bot[v])
            && self.segment.map_or(true, |s| index.lifecycle[v] == s))
        {
            return false;
        }
        let events = index.visitor_events(v);
        if events.is_empty() {
            return false;
        }
        let first = index.day[events.start] as usize;
        let last = index.day[events.end - 1] as usize;
        last >= self.first_ok && first <= self.last_ok
    }
}

/// Counts of one period (day, week or month). Distinct counts are per period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeriodCounts {
    pub visitors: u64,
    pub sessions: u64,
    pub events: u64,
    pub views: u64,
    pub carts: u64,
    pub purchases: u64,
    pub orders: u64,
    pub buyers: u64,
    pub revenue: i64,
}

impl PeriodCounts {
    fn add(&mut self, o: &PeriodCounts) {
        self.visitors += o.visitors;
        self.sessions += o.sessions;
        self.events += o.events;
        self.views += o.views;
        self.carts += o.carts;
        self.purchases += o.purchases;
        self.orders += o.orders;
        self.buyers += o.buyers;
        self.revenue += o.revenue;
    }
}

/// One (weekday, hour) cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CellCounts {
    pub events: u64,
    pub visitors: u64,
    pub purchases: u64,
    pub buyers: u64,
}

/// Funnel partials: units reaching step k (an event of kind >= k), units that reached step k without
/// an event of kind k (skipped it), and times from the unit's first event to its first event of kind
/// >= k (ms).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunnelPartial {
    pub reached: [u64; 3],
    pub skipped: [u64; 3],
    pub times: [Vec<i64>; 3],
}

impl FunnelPartial {
    fn add_unit(&mut self, first: i64, first_at_least: [Option<i64>; 3], has: [bool; 3]) {
        for k in 0..3 {
            if let Some(t) = first_at_least[k] {
                self.reached[k] += 1;
                if !has[k] {
                    self.skipped[k] += 1;
                }
                if k > 0 {
                    self.times[k].push(t - first);
                }
            }
        }
    }

    fn merge(&mut self, o: FunnelPartial) {
        for k in 0..3 {
            self.reached[k] += o.reached[k];
            self.skipped[k] += o.skipped[k];
            self.times[k].extend(o.times[k].iter());
        }
    }
}

/// Funnel breakdowns: [`BY_DAY`], [`BY_WEEKDAY`], [`BY_HOUR`] and [`BY_ROOT`].
pub const BREAKDOWNS: [&str; 4] = ["day", "weekday", "hour", "root_category"];
pub const BY_DAY: usize = 0;
pub const BY_WEEKDAY: usize = 1;
pub const BY_HOUR: usize = 2;
pub const BY_ROOT: usize = 3;

/// Funnel partials per bucket of one breakdown (day of the index, weekday 0 = Monday, UTC hour of
/// day, or root category code with a last slot for events without a root).
///
/// A user-level unit is (visitor, bucket): the visitor's selected events that fall in the bucket. A
/// session-level unit is a selected session, in the bucket of its first event (day, weekday, hour) or
/// in every root category it has an event of. So the bucket of day D is the funnel of the filter
/// `start = end = D`, and the bucket of root R the funnel of the filter `root_category = R`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunnelBreakdown {
    pub user: Vec<FunnelPartial>,
    pub session: Vec<FunnelPartial>,
}

impl FunnelBreakdown {
    fn new(buckets: usize) -> Self {
        FunnelBreakdown {
            user: vec![FunnelPartial::default(); buckets],
            session: vec![FunnelPartial::default(); buckets],
        }
    }

    fn merge(&mut self, o: FunnelBreakdown) {
        for (mine, theirs) in [(&mut self.user, o.user), (&mut self.session, o.session)] {
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), FunnelPartial::default());
            }
            for (a, b) in mine.iter_mut().zip(theirs) {
                a.merge(b);
            }
        }
    }
}

/// One user-level unit in the making: first selected event, first event of each step or later,
/// which steps it has.
#[derive(Clone, Copy)]
struct Unit {
    first: i64,
    at_least: [Option<i64>; 3],
    has: [bool; 3],
}

impl Unit {
    const EMPTY: Unit = Unit {
        first: i64::MAX,
        at_least: [None; 3],
        has: [false; 3],
    };
}

/// The user-level units of one visitor for one breakdown: a state per bucket and the buckets
/// touched (so resetting costs what the visitor used).
struct Units {
    state: Vec<Unit>,
    touched: Vec<usize>,
}

impl Units {
    fn new(buckets: usize) -> Self {
        Units {
            state: vec![Unit::EMPTY; buckets],
            touched: Vec::new(),
        }
    }

    fn event(&mut self, bucket: usize, ts: i64, kind: u8) {
        let u = &mut self.state[bucket];
        if u.first == i64::MAX {
            self.touched.push(bucket);
        }
        u.first = u.first.min(ts);
        if kind <= PURCHASE {
            u.has[kind as usize] = true;
            for slot in u.at_least.iter_mut().take(kind as usize + 1) {
                if slot.is_none() {
                    *slot = Some(ts);
                }
            }
        }
    }

    fn flush(&mut self, into: &mut [FunnelPartial]) {
        for &b in &self.touched {
            let u = self.state[b];
            into[b].add_unit(u.first, u.at_least, u.has);
            self.state[b] = Unit::EMPTY;
        }
        self.touched.clear();
    }
}

/// Bucket of the root-category breakdown for a root code (the last slot: no root).
fn root_bucket(index: &EventIndex, root: u32) -> usize {
    if root == NONE {
        index.root_ids.len()
    } else {
        root as usize
    }
}

/// UTC hour of day of a time.
pub fn hour_of_day(ts: i64) -> usize {
    (ts.rem_euclid(DAY_MS) / 3_600_000) as usize
}

/// Counts of one item or category. Distinct visitors: viewers, carters, buyers, and viewer_buyers
/// (visitors who both viewed and purchased it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemCounts {
    pub views: u64,
    pub carts: u64,
    pub purchases: u64,
    pub revenue: i64,
    pub viewers: u64,
    pub carters: u64,
    pub buyers: u64,
    pub viewer_buyers: u64,
}

impl ItemCounts {
    pub(crate) fn add(&mut self, o: &ItemCounts) {
        self.views += o.views;
        self.carts += o.carts;
        self.purchases += o.purchases;
        self.revenue += o.revenue;
        self.viewers += o.viewers;
        self.carters += o.carters;
        self.buyers += o.buyers;
        self.viewer_buyers += o.viewer_buyers;
    }

    fn event(&mut self, kind: u8, revenue: i64) {
        match kind {
            VIEW => self.views += 1,
            CART => self.carts += 1,
            PURCHASE => {
                self.purchases += 1;
                self.revenue += revenue;
            }
            _ => {}
        }
    }

    fn visitor(&mut self, kinds: u8) {
        let (v, c, p) = (kinds & 1 != 0, kinds & 2 != 0, kinds & 4 != 0);
        self.viewers += v as u64;
        self.carters += c as u64;
        self.buyers += p as u64;
        self.viewer_buyers += (v && p) as u64;
    }
}

/// One selected visitor's activity (for RFM and lifecycle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitorRow {
    pub visitor: u32,
    // Counts of one visitor's events: below the index's u32 event limit. 64 bytes a row (80 with
    // u64 counts): the rows of every visitor are alive through the derived tables.
    pub events: u32,
    pub sessions: u32,
    pub purchases: u32,
    pub orders: u32,
    pub first_ts: i64,
    pub last_ts: i64,
    pub revenue: i64,
    pub last_purchase_ts: Option<i64>,
}

/// Partials of the headline KPIs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeadlinePartial {
    pub visitors: u64,
    pub buyers: u64,
    pub repeat_buyers: u64,
    pub events: u64,
    pub views: u64,
    pub carts: u64,
    pub purchases: u64,
    pub priced_purchases: u64,
    pub orders: u64,
    pub revenue: i64,
    pub sessions: u64,
    pub bounces: u64,
    pub cart_sessions: u64,
    pub abandoned_sessions: u64,
    pub purchase_sessions: u64,
    pub session_events: u64,
    pub multi_event_sessions: u64,
    /// Durations (ms) of the selected sessions with at least two events.
    pub multi_event_durations: Vec<i64>,
}

impl HeadlinePartial {
    pub fn merge(&mut self, o: HeadlinePartial) {
        self.visitors += o.visitors;
        self.buyers += o.buyers;
        self.repeat_buyers += o.repeat_buyers;
        self.events += o.events;
        self.views += o.views;
        self.carts += o.carts;
        self.purchases += o.purchases;
        self.priced_purchases += o.priced_purchases;
        self.orders += o.orders;
        self.revenue += o.revenue;
        self.sessions += o.sessions;
        self.bounces += o.bounces;
        self.cart_sessions += o.cart_sessions;
        self.abandoned_sessions += o.abandoned_sessions;
        self.purchase_sessions += o.purchase_sessions;
        self.session_events += o.session_events;
        self.multi_event_sessions += o.multi_event_sessions;
        self.multi_event_durations.extend(o.multi_event_durations);
    }
}

/// Everything the KPI tables are made of, for one set of visitors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Partials {
    pub days: Vec<PeriodCounts>,
    /// Hour `h` of day `d` (index day numbers) at `d * 24 + h`.
    pub hours: Vec<PeriodCounts>,
    pub weeks: Vec<PeriodCounts>,
    pub months: Vec<PeriodCounts>,
    pub hour_weekday: Vec<CellCounts>,
    pub funnel_user: FunnelPartial,
    pub funnel_session: FunnelPartial,
    pub items: Vec<ItemCounts>,
    pub categories: Vec<ItemCounts>,
    pub visitors: Vec<VisitorRow>,
    pub headline: HeadlinePartial,
    /// Funnel breakdowns, indexed by [`BY_DAY`] .. [`BY_ROOT`].
    pub funnel_by: [FunnelBreakdown; 4],
}

impl Partials {
    pub fn merge(mut self, o: Partials) -> Partials {
        add_all(&mut self.days, &o.days, PeriodCounts::add);
        add_all(&mut self.hours, &o.hours, PeriodCounts::add);
        add_all(&mut self.weeks, &o.weeks, PeriodCounts::add);
        add_all(&mut self.months, &o.months, PeriodCounts::add);
        add_all(&mut self.hour_weekday, &o.hour_weekday, |a, b| {
            a.events += b.events;
            a.visitors += b.visitors;
            a.purchases += b.purchases;
            a.buyers += b.buyers;
        });
        self.funnel_user.merge(o.funnel_user);
        self.funnel_session.merge(o.funnel_session);
        add_all(&mut self.items, &o.items, ItemCounts::add);
        add_all(&mut self.categories, &o.categories, ItemCounts::add);
        self.visitors.extend(o.visitors);
        self.headline.merge(o.headline);
        for (a, b) in self.funnel_by.iter_mut().zip(o.funnel_by) {
            a.merge(b);
        }
        self
    }

    /// The merge of `parts` in their order, with the concatenated lists (visitor rows, session
    /// durations, times to convert) sized once instead of regrown merge by merge.
    pub fn merge_all(parts: Vec<Partials>) -> Partials {
        let total = |f: &dyn Fn(&Partials) -> usize| parts.iter().map(f).sum::<usize>();
        let visitors = total(&|p| p.visitors.len());
        let durations = total(&|p| p.headline.multi_event_durations.len());
        let user_times: [usize; 3] =
            std::array::from_fn(|k| total(&|p| p.funnel_user.times[k].len()));
        let session_times: [usize; 3] =
            std::array::from_fn(|k| total(&|p| p.funnel_session.times[k].len()));
        let mut parts = parts.into_iter();
        let Some(mut acc) = parts.next() else {
            return Partials::default();
        };
        acc.visitors.reserve_exact(visitors - acc.visitors.len());
        let d = &mut acc.headline.multi_event_durations;
        d.reserve_exact(durations - d.len());
        for k in 0..3 {
            let t = &mut acc.funnel_user.times[k];
            t.reserve_exact(user_times[k] - t.len());
            let t = &mut acc.funnel_session.times[k];
            t.reserve_exact(session_times[k] - t.len());
        }
        parts.fold(acc, Partials::merge)
    }

    /// Puts value lists in a canonical order so that any partition gives identical partials.
    pub fn finish(mut self) -> Partials {
        // Every list sorted in parallel (the largest hold a value per session or per unit).
        let mut lists: Vec<&mut Vec<i64>> = Vec::new();
        lists.extend(self.funnel_user.times.iter_mut());
        lists.extend(self.funnel_session.times.iter_mut());
        lists.push(&mut self.headline.multi_event_durations);
        for b in self.funnel_by.iter_mut() {
            for f in b.user.iter_mut().chain(b.session.iter_mut()) {
                lists.extend(f.times.iter_mut());
            }
        }
        let visitors = &mut self.visitors;
        rayon::join(
            || {
                lists.into_par_iter().for_each(|t| {
                    if t.len() > 1 << 16 {
                        t.par_sort_unstable();
                    } else {
                        t.sort_unstable();
                    }
                })
            },
            || {
                if visitors.windows(2).any(|w| w[1].visitor < w[0].visitor) {
                    visitors.par_sort_unstable_by_key(|r| r.visitor);
                }
            },
        );
        self
    }
}

fn add_all<T: Default + Clone>(a: &mut Vec<T>, b: &[T], f: impl Fn(&mut T, &T)) {
    if a.len() < b.len() {
        a.resize(b.len(), T::default());
    }
    for (x, y) in a.iter_mut().zip(b) {
        f(x, y);
    }
}

/// Distinct counting of visitors, buyers and orders per period for one visitor whose events come in
/// time order (so period keys never decrease).
struct PeriodTracker {
    visitor_key: i64,
    buyer_key: i64,
    orders_key: i64,
    orders: Vec<u32>,
}

impl PeriodTracker {
    fn new() -> Self {
        PeriodTracker {
            visitor_key: -1,
            buyer_key: -1,
            orders_key: -1,
            orders: Vec::new(),
        }
    }

    fn event(&mut self, c: &mut PeriodCounts, key: usize, kind: u8, order: u32, revenue: i64) {
        let key = key as i64;
        c.events += 1;
        if self.visitor_key != key {
            self.visitor_key = key;
            c.visitors += 1;
        }
        match kind {
            VIEW => c.views += 1,
            CART => c.carts += 1,
            PURCHASE => {
                c.purchases += 1;
                c.revenue += revenue;
                if self.buyer_key != key {
                    self.buyer_key = key;
                    c.buyers += 1;
                }
                if self.orders_key != key {
                    self.orders_key = key;
                    self.orders.clear();
                }
                if order != NONE && !self.orders.contains(&order) {
                    self.orders.push(order);
                    c.orders += 1;
                }
            }
            _ => {}
        }
    }
}

/// Period offsets of each day of the index.
pub struct Calendar {
    pub week_of_day: Vec<usize>,
    pub month_of_day: Vec<usize>,
    pub first_week: i32,
    pub first_month: i32,
    pub n_weeks: usize,
    pub n_months: usize,
}

impl Calendar {
    pub fn new(index: &EventIndex) -> Calendar {
        let days = (0..index.n_days).map(|d| index.first_day + d as i32);
        let first_week = week_of(index.first_day);
        let first_month = month_of(index.first_day);
        let week_of_day: Vec<usize> = days
            .clone()
            .map(|d| (week_of(d) - first_week) as usize)
            .collect();
        let month_of_day: Vec<usize> = days.map(|d| (month_of(d) - first_month) as usize).collect();
        Calendar {
            n_weeks: week_of_day.last().map_or(0, |w| w + 1),
            n_months: month_of_day.last().map_or(0, |m| m + 1),
            week_of_day,
            month_of_day,
            first_week,
            first_month,
        }
    }
}

/// Scans the visitors `visitors` (codes) under `sel`. With `FULL = false` only the headline partial
/// is filled (the interactive path).
pub fn scan<const FULL: bool>(
    index: &EventIndex,
    cal: &Calendar,
    sel: &Selection,
    visitors: impl Iterator<Item = usize>,
) -> Partials {
    scan_rows::<FULL>(index, cal, sel, visitors, None)
}

/// As [`scan`]; with `out`, each visitor row is handed to it (one at most per visitor scanned, before
/// the next visitor is drawn from `visitors`) instead of kept in the partials.
fn scan_rows<const FULL: bool>(
    index: &EventIndex,
    cal: &Calendar,
    sel: &Selection,
    visitors: impl Iterator<Item = usize>,
    mut out: Option<&mut dyn FnMut(VisitorRow)>,
) -> Partials {
    let mut p = Partials::default();
    let need = if FULL { sel.need } else { Need::NOTHING };
    let (n_days, n_weeks, n_months) = (index.n_days, cal.n_weeks, cal.n_months);
    let sized = |what: Need, n: usize| if need.has(what) { n } else { 0 };
    p.days = vec![PeriodCounts::default(); sized(Need::DAYS, n_days)];
    p.hours = vec![PeriodCounts::default(); sized(Need::HOURS, n_days * 24)];
    p.weeks = vec![PeriodCounts::default(); sized(Need::WEEKS, n_weeks)];
    p.months = vec![PeriodCounts::default(); sized(Need::MONTHS, n_months)];
    p.hour_weekday = vec![CellCounts::default(); sized(Need::HOUR_WEEKDAY, 7 * 24)];
    p.items = vec![ItemCounts::default(); sized(Need::ITEMS, index.n_items())];
    p.categories = vec![ItemCounts::default(); sized(Need::CATEGORIES, index.tree.len())];
    let by_sizes = breakdown_sizes(index).map(|n| sized(Need::FUNNEL_BY, n));
    if need.has(Need::FUNNEL_BY) {
        p.funnel_by = by_sizes.map(FunnelBreakdown::new);
    }
    let mut units = by_sizes.map(Units::new);
    let (n_days_ok, n_hours_ok) = (need.has(Need::DAYS), need.has(Need::HOURS));
    let (weeks_ok, months_ok) = (need.has(Need::WEEKS), need.has(Need::MONTHS));
    let hw_ok = need.has(Need::HOUR_WEEKDAY);
    let funnel_ok = need.has(Need::FUNNEL);
    let by_ok = need.has(Need::FUNNEL_BY);
    let items_ok = need.has(Need::ITEMS);
    let cats_ok = need.has(Need::CATEGORIES);
    let visitors_ok = need.has(Need::VISITORS);
    let mut session_roots: Vec<usize> = Vec::new();
    let h = &mut p.headline;
    let mut orders: Vec<u32> = Vec::new();
    let mut item_kinds: Vec<(u32, u8)> = Vec::new();
    let mut cat_kinds: Vec<(u32, u8)> = Vec::new();
    for v in visitors {
        if !sel.visitor_ok(index, v) {
            continue;
        }
        let mut trackers = [
            PeriodTracker::new(),
            PeriodTracker::new(),
            PeriodTracker::new(),
            PeriodTracker::new(),
        ];
        let mut cells_seen = [0u64; 3];
        let mut cells_bought = [0u64; 3];
        orders.clear();
        item_kinds.clear();
        cat_kinds.clear();
        let mut n_sel = 0u64;
        let mut bought = false;
        let mut first_sel = i64::MAX;
        let mut last_sel = i64::MIN;
        let mut last_purchase = None;
        let mut v_sessions = 0u64;
        let mut v_purchases = 0u64;
        let mut v_revenue = 0i64;
        let mut u_first_at_least = [None; 3];
        let mut u_has = [false; 3];
        let s0 = index.visitor_session[v] as usize;
        let s1 = index.visitor_session[v + 1] as usize;
        for s in s0..s1 {
            let e0 = index.session_start[s] as usize;
            let e1 = index.session_start[s + 1] as usize;
            let mut root_hit = sel.root.is_none();
            for e in e0..e1 {
                if FULL && items_ok {
                    // The item counters are an array over all items, touched in visitor order: a
                    // cache miss per event unless fetched ahead.
                    if let Some(&ahead) = index.item.get(e + PREFETCH_AHEAD) {
                        crate::hint::prefetch(&p.items, ahead as usize);
                    }
                }
                if FULL && n_hours_ok {
                    // The same for the (day, hour) counters of a later event.
                    let ahead = e + PREFETCH_AHEAD;
                    if let (Some(&d), Some(&t)) = (index.day.get(ahead), index.ts.get(ahead)) {
                        crate::hint::prefetch(&p.hours, d as usize * 24 + hour_of_day(t));
                    }
                }
                let kind = index.kind[e];
                let root_ok = match sel.root {
                    None => true,
                    Some(r) => index.root[e] == r,
                };
                root_hit |= root_ok;
                let d = index.day[e] as usize;
                if !(root_ok && sel.day_ok[d]) {
                    continue;
                }
                // a selected event
                n_sel += 1;
                h.events += 1;
                let rev = index.revenue[e];
                match kind {
                    VIEW => h.views += 1,
                    CART => h.carts += 1,
                    PURCHASE => {
                        h.purchases += 1;
                        h.priced_purchases += index.priced[e] as u64;
                        h.revenue += rev;
                        bought = true;
                        let o = index.order[e];
                        if o != NONE && !orders.contains(&o) {
                            orders.push(o);
                        }
                    }
                    _ => {}
                }
                if FULL {
                    let ts = index.ts[e];
                    first_sel = first_sel.min(ts);
                    last_sel = last_sel.max(ts);
                    if kind == PURCHASE {
                        v_purchases += 1;
                        v_revenue += rev;
                        last_purchase = Some(ts);
                    }
                    let order = index.order[e];
                    if n_days_ok {
                        trackers[0].event(&mut p.days[d], d, kind, order, rev);
                    }
                    if weeks_ok {
                        let w = cal.week_of_day[d];
                        trackers[1].event(&mut p.weeks[w], w, kind, order, rev);
                    }
                    if months_ok {
                        let m = cal.month_of_day[d];
                        trackers[2].event(&mut p.months[m], m, kind, order, rev);
                    }
                    let hour = hour_of_day(ts);
                    if n_hours_ok {
                        let dh = d * 24 + hour;
                        trackers[3].event(&mut p.hours[dh], dh, kind, order, rev);
                    }
                    if hw_ok {
                        let cell = weekday(index.first_day + d as i32) as usize * 24 + hour;
                        let c = &mut p.hour_weekday[cell];
                        c.events += 1;
                        let bit = 1u64 << (cell % 64);
                        if cells_seen[cell / 64] & bit == 0 {
                            cells_seen[cell / 64] |= bit;
                            c.visitors += 1;
                        }
                        if kind == PURCHASE {
                            c.purchases += 1;
                            if cells_bought[cell / 64] & bit == 0 {
                                cells_bought[cell / 64] |= bit;
                                c.buyers += 1;
                            }
                        }
                    }
                    if by_ok {
                        let day = index.first_day + d as i32;
                        units[BY_DAY].event(d, ts, kind);
                        units[BY_WEEKDAY].event(weekday(day) as usize, ts, kind);
                        units[BY_HOUR].event(hour, ts, kind);
                        units[BY_ROOT].event(root_bucket(index, index.root[e]), ts, kind);
                    }
                    if kind <= PURCHASE {
                        let k = kind as usize;
                        u_has[k] = true;
                        for slot in u_first_at_least.iter_mut().take(k + 1) {
                            if slot.is_none() {
                                *slot = Some(ts);
                            }
                        }
                        let item = index.item[e];
                        if items_ok && item != NONE {
                            p.items[item as usize].event(kind, rev);
                            item_kinds.push((item, 1 << kind));
                        }
                        let cat = index.category[e];
                        if cats_ok && cat != NONE {
                            for &a in index.tree.ancestors_of(cat) {
                                p.categories[a as usize].event(kind, rev);
                                cat_kinds.push((a, 1 << kind));
                            }
                        }
                    }
                }
            }
            // session-level figures: the session starts on a selected day (and has an event of the
            // selected root); its own events all count for duration, bounce, cart and purchase.
            let start_day = index.day[e0] as usize;
            if root_hit && sel.day_ok[start_day] {
                let n_ev = (e1 - e0) as u64;
                let flags = index.session_flags[s];
                h.sessions += 1;
                h.session_events += n_ev;
                h.bounces += (n_ev == 1) as u64;
                let cart = flags & HAS_CART != 0;
                let purchase = flags & HAS_PURCHASE != 0;
                h.cart_sessions += cart as u64;
                h.abandoned_sessions += (cart && !purchase) as u64;
                h.purchase_sessions += purchase as u64;
                if n_ev >= 2 {
                    h.multi_event_sessions += 1;
                    h.multi_event_durations
                        .push(index.ts[e1 - 1] - index.ts[e0]);
                }
                if FULL {
                    v_sessions += 1;
                    if n_days_ok {
                        p.days[start_day].sessions += 1;
                    }
                    if weeks_ok {
                        p.weeks[cal.week_of_day[start_day]].sessions += 1;
                    }
                    if months_ok {
                        p.months[cal.month_of_day[start_day]].sessions += 1;
                    }
                }
                if funnel_ok || by_ok {
                    let mut first_at_least = [None; 3];
                    let mut has = [false; 3];
                    for e in e0..e1 {
                        let k = index.kind[e];
                        if k <= PURCHASE {
                            has[k as usize] = true;
                            for slot in first_at_least.iter_mut().take(k as usize + 1) {
                                if slot.is_none() {
                                    *slot = Some(index.ts[e]);
                                }
                            }
                        }
                    }
                    let t0 = index.ts[e0];
                    if funnel_ok {
                        p.funnel_session.add_unit(t0, first_at_least, has);
                    }
                    if !by_ok {
                        continue;
                    }
                    let fb = &mut p.funnel_by;
                    fb[BY_DAY].session[start_day].add_unit(t0, first_at_least, has);
                    let wd = weekday(index.first_day + start_day as i32) as usize;
                    fb[BY_WEEKDAY].session[wd].add_unit(t0, first_at_least, has);
                    fb[BY_HOUR].session[hour_of_day(t0)].add_unit(t0, first_at_least, has);
                    session_roots.clear();
                    match sel.root {
                        Some(r) => session_roots.push(r as usize),
                        None => {
                            session_roots
                                .extend((e0..e1).map(|e| root_bucket(index, index.root[e])));
                            session_roots.sort_unstable();
                            session_roots.dedup();
                        }
                    }
                    for &r in &session_roots {
                        fb[BY_ROOT].session[r].add_unit(t0, first_at_least, has);
                    }
                }
            }
        }
        if n_sel == 0 {
            continue;
        }
        h.visitors += 1;
        h.buyers += bought as u64;
        h.orders += orders.len() as u64;
        h.repeat_buyers += (orders.len() >= 2) as u64;
        if funnel_ok {
            p.funnel_user.add_unit(first_sel, u_first_at_least, u_has);
        }
        if by_ok {
            for (u, b) in units.iter_mut().zip(p.funnel_by.iter_mut()) {
                u.flush(&mut b.user);
            }
        }
        if items_ok || cats_ok {
            for (kinds, counts) in [
                (&mut item_kinds, &mut p.items),
                (&mut cat_kinds, &mut p.categories),
            ] {
                kinds.sort_unstable();
                let mut i = 0;
                while i < kinds.len() {
                    let code = kinds[i].0;
                    let mut bits = 0u8;
                    while i < kinds.len() && kinds[i].0 == code {
                        bits |= kinds[i].1;
                        i += 1;
                    }
                    counts[code as usize].visitor(bits);
                }
            }
        }
        if visitors_ok {
            let row = VisitorRow {
                visitor: v as u32,
                first_ts: first_sel,
                last_ts: last_sel,
                // A visitor's counts are below the index's u32 limit on events.
                events: n_sel as u32,
                sessions: v_sessions as u32,
                purchases: v_purchases as u32,
                orders: orders.len() as u32,
                revenue: v_revenue,
                last_purchase_ts: last_purchase,
            };
            match out.as_mut() {
                Some(out) => out(row),
                None => p.visitors.push(row),
            }
        }
    }
    p
}

/// Visitor blocks a scan thread takes in turn (about): enough that the threads finish close
/// together, few enough that taking one costs nothing.
const SCAN_BLOCKS: usize = 16;

/// How many events ahead the scan asks for an item's counters (enough to cover a memory access).
const PREFETCH_AHEAD: usize = 12;

/// Buckets of each funnel breakdown.
fn breakdown_sizes(index: &EventIndex) -> [usize; 4] {
    [index.n_days, 7, 24, index.root_ids.len() + 1]
}

/// Partition of a visitor (by a hash of its code): visitor sets of partitions are disjoint.
pub fn partition_of(visitor: usize, partitions: usize) -> usize {
    (xxh3_64(&(visitor as u64).to_le_bytes()) % partitions as u64) as usize
}

/// Runs [`scan`] on `partitions` hash partitions of the visitors in parallel and merges the partials.
pub fn compute(index: &EventIndex, filter: &Filter, partitions: usize) -> Partials {
    compute_needed(index, filter, partitions.max(1), Need::ALL)
}

/// [`compute`] filling only the partials `need`; `partitions = 0` scans contiguous chunks of
/// visitors in parallel instead of hash partitions (the interactive path: no membership lists; the
/// finished partials are the same for any split).
pub fn compute_needed(
    index: &EventIndex,
    filter: &Filter,
    partitions: usize,
    need: Need,
) -> Partials {
    let cal = Calendar::new(index);
    let sel = Selection::new(index, filter).needing(need);
    if partitions == 0 {
        // One set of partials a thread (each sums into arrays over all items, categories and days:
        // fewer sets touch and merge less fresh memory), fed blocks of visitors of about equal
        // numbers of events, at least 4,096 visitors, until none is left.
        let threads = rayon::current_num_threads();
        return chunked(index, &cal, &sel, threads, SCAN_BLOCKS * threads, 1 << 12);
    }
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); partitions];
    for v in 0..index.n_visitors() {
        members[partition_of(v, partitions)].push(v);
    }
    let parts: Vec<Partials> = members
        .into_par_iter()
        .map(|vs| scan::<true>(index, &cal, &sel, vs.into_iter()))
        .collect();
    Partials::merge_all(parts).finish()
}

/// The partials of `sel`, scanned by `workers` threads in parallel, merged. The visitors are cut
/// into blocks of about equal numbers of events (see [`visitor_chunks`]; `blocks` at most, each at
/// least `min_visitors` long); each worker sums into partials of its own (arrays over all items,
/// categories and days: one set a worker, not a block) and takes the next block when it is done
/// with one, so the threads finish together however the work per event varies.
pub(crate) fn chunked(
    index: &EventIndex,
    cal: &Calendar,
    sel: &Selection,
    workers: usize,
    blocks: usize,
    min_visitors: usize,
) -> Partials {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let bounds = visitor_chunks(index, blocks, min_visitors);
    let n_blocks = bounds.len() - 1;
    // The visitor rows (64 bytes a visitor) are written straight into one list, each block's into
    // its own range of it (a visitor has one row at most), then moved down over the gaps: no
    // block's rows are copied into fresh memory to be joined.
    let n = index.n_visitors();
    let want_rows = sel.need.has(Need::VISITORS);
    let mut rows: Vec<VisitorRow> = Vec::with_capacity(if want_rows { n } else { 0 });
    let slots = crate::slots::SlotWriter(rows.as_mut_ptr());
    let written: Vec<AtomicUsize> = (0..n_blocks).map(|_| AtomicUsize::new(0)).collect();
    let next = AtomicUsize::new(0);
    let parts: Vec<Partials> = (0..workers.clamp(1, n_blocks))
        .into_par_iter()
        .map(|_| {
            // The block being scanned and its next visitor (`usize::MAX`: none taken yet).
            let at = std::cell::Cell::new((usize::MAX, 0));
            let visitors = std::iter::from_fn(|| loop {
                let (b, v) = at.get();
                if b != usize::MAX && v < bounds[b + 1] {
                    at.set((b, v + 1));
                    return Some(v);
                }
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= n_blocks {
                    return None;
                }
                at.set((b, bounds[b]));
            });
            let mut emit = |row: VisitorRow| {
                let b = at.get().0;
                let k = written[b].fetch_add(1, Ordering::Relaxed);
                // SAFETY: block `b` (scanned by this worker alone) writes its k-th row at
                // `bounds[b] + k`, inside its own range `bounds[b]..bounds[b + 1]` of the capacity
                // (at most one row a visitor; the ranges cover `0..n`, n <= capacity).
                unsafe { slots.write(bounds[b] + k, row) };
            };
            let out: Option<&mut dyn FnMut(VisitorRow)> =
                if want_rows { Some(&mut emit) } else { None };
            scan_rows::<true>(index, cal, sel, visitors, out)
        })
        .collect();
    if want_rows {
        let mut len = 0;
        for (b, w) in written.iter().enumerate() {
            let w = w.load(Ordering::Relaxed);
            // SAFETY: block `b` initialized `w` rows from position `bounds[b]`; `len`, the rows
            // before it, is at most `bounds[b]`, so the move stays within the capacity and goes
            // down (`copy` allows the overlap).
            unsafe {
                std::ptr::copy(rows.as_ptr().add(bounds[b]), rows.as_mut_ptr().add(len), w);
            }
            len += w;
        }
        // SAFETY: the first `len` rows are initialized (moved there above).
        unsafe { rows.set_len(len) };
    }
    let mut merged = Partials::merge_all(parts);
    if want_rows {
        merged.visitors = rows;
    }
    merged.finish()
}

/// Bounds `0 = b[0] < b[1] < .. < b[k] = n_visitors` of at most `chunks` visitor ranges holding about
/// equal numbers of events, each at least `min_visitors` long (but the last); `[0, 0]` when there
/// are no visitors, so that a scan still gives sized partials (a table of zeros).
pub fn visitor_chunks(index: &EventIndex, chunks: usize, min_visitors: usize) -> Vec<usize> {
    let n = index.n_visitors();
    let events_before = |v: usize| index.session_start[index.visitor_session[v] as usize] as usize;
    let total = events_before(n);
    let mut bounds = vec![0];
    for c in 1..chunks.max(1) {
        let target = total * c / chunks;
        // First visitor whose events start at or after the target.
        let (mut v, mut hi) = (0, n);
        while v < hi {
            let mid = (v + hi) / 2;
            if events_before(mid) < target {
                v = mid + 1;
            } else {
                hi = mid;
            }
        }
        let last = *bounds.last().expect("starts with 0");
        if v >= last + min_visitors && v + min_visitors <= n {
            bounds.push(v);
        }
    }
    bounds.push(n);
    bounds
}

/// The headline partial only, over contiguous visitor chunks in parallel (the interactive path).
pub fn headline_partial(index: &EventIndex, filter: &Filter) -> HeadlinePartial {
    let sel = Selection::new(index, filter);
    let cal = Calendar {
        week_of_day: Vec::new(),
        month_of_day: Vec::new(),
        first_week: 0,
        first_month: 0,
        n_weeks: 0,
        n_months: 0,
    };
    let n = index.n_visitors();
    let chunk = 1 << 16;
    (0..n.div_ceil(chunk))
        .into_par_iter()
        .map(|c| scan::<false>(index, &cal, &sel, c * chunk..((c + 1) * chunk).min(n)).headline)
        .reduce(HeadlinePartial::default, |mut a, b| {
            a.merge(b);
            a
        })
}
