//! The cleaning pipeline over validated rows: exact duplicates out, invalid rows quarantined,
//! near-duplicates quarantined, then sessions, bot flags, categories and revenue. Every input row ends in
//! exactly one of: the clean events, the quarantine, or the duplicates list.
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

use super::config::CleanConfig;
use super::idmap::IdMap;
use polars::prelude::{
    ChunkedArray, Column, DataFrame, Float64Type, Int64Type, IntoColumn, PolarsNumericType,
};
use polars_arrow::bitmap::MutableBitmap;

use super::items::{CategoryTree, ItemHistory};
use super::rules::{EventType, Rule};
use super::tables;
use super::validate::{Outcome, ValidEvent};
use crate::{Error, Result};

/// Marks a row that is not an exact duplicate of an earlier one.
pub const NOT_DUPLICATE: u32 = u32::MAX;

/// Rows of one event source, in source order, already validated.
pub struct EventSource<'a> {
    pub name: Arc<str>,
    pub lines: Vec<u64>,
    pub outcomes: Vec<Outcome>,
    /// Row index of the first identical row, or [`NOT_DUPLICATE`].
    pub duplicate_of: Vec<u32>,
    /// The raw text of a row, for the quarantine.
    pub raw_text: Box<dyn Fn(usize) -> String + Sync + 'a>,
}

/// Where item prices come from. Never invented: without a source, revenue stays null.
#[derive(Debug, Default)]
pub enum Prices {
    #[default]
    None,
    PerItem(IdMap<f64>),
    History(ItemHistory<f64>),
}

impl Prices {
    pub fn at(&self, item: i64, ts: i64) -> Option<f64> {
        match self {
            Prices::None => None,
            Prices::PerItem(map) => map.get(item),
            Prices::History(h) => h.asof(item, ts),
        }
    }
}

/// Item reference data used to enrich events.
#[derive(Debug, Default)]
pub struct Reference {
    pub tree: CategoryTree,
    pub categories: ItemHistory<i64>,
    pub available: ItemHistory<bool>,
    pub prices: Prices,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineRow {
    pub source: Arc<str>,
    pub line: u64,
    pub rule: Rule,
    pub detail: String,
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateRow {
    pub source: Arc<str>,
    pub line: u64,
    pub duplicate_of_line: u64,
}

/// A nullable column built row by row: values and a validity bitmap, handed to polars as they are
/// (a `Vec<Option<i64>>` would take twice the memory and be copied again into an array).
pub struct Nullable<P: PolarsNumericType> {
    values: Vec<P::Native>,
    valid: MutableBitmap,
}

impl<P: PolarsNumericType> Default for Nullable<P> {
    fn default() -> Self {
        Nullable {
            values: Vec::new(),
            valid: MutableBitmap::new(),
        }
    }
}

impl<P: PolarsNumericType> std::fmt::Debug for Nullable<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Nullable({} rows, {} null)",
            self.len(),
            self.null_count()
        )
    }
}

impl<P: PolarsNumericType> Nullable<P> {
    #[inline]
    pub fn push(&mut self, value: Option<P::Native>) {
        self.values.push(value.unwrap_or_default());
        self.valid.push(value.is_some());
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<P::Native> {
        self.valid.get(i).then(|| self.values[i])
    }

    pub fn reserve(&mut self, n: usize) {
        self.values.reserve(n);
        self.valid.reserve(n);
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn null_count(&self) -> usize {
        self.valid.unset_bits()
    }

    pub fn into_column(self, name: &str) -> Column {
        ChunkedArray::<P>::from_vec_validity(name.into(), self.values, Some(self.valid.into()))
            .into_column()
    }
}

/// Clean events in (visitor, time, source line) order.
#[derive(Debug, Default)]
pub struct EventColumns {
    pub visitor: Vec<i64>,
    pub ts: Vec<i64>,
    pub event: Vec<EventType>,
    pub item: Vec<i64>,
    pub order: Nullable<Int64Type>,
    pub session_id: Vec<u64>,
    pub session_index: Vec<u32>,
    pub category: Nullable<Int64Type>,
    pub root_category: Nullable<Int64Type>,
    pub revenue: Nullable<Float64Type>,
    pub is_bot: Vec<bool>,
    pub line: Vec<u64>,
}

#[derive(Debug, Default)]
pub struct SessionColumns {
    pub session_id: Vec<u64>,
    pub visitor: Vec<i64>,
    pub session_index: Vec<u32>,
    pub start: Vec<i64>,
    pub end: Vec<i64>,
    pub n_events: Vec<u32>,
    pub n_views: Vec<u32>,
    pub n_carts: Vec<u32>,
    pub n_purchases: Vec<u32>,
    pub n_orders: Vec<u32>,
    pub revenue: Vec<f64>,
    pub is_bot: Vec<bool>,
}

#[derive(Debug, Default)]
pub struct VisitorColumns {
    pub visitor: Vec<i64>,
    pub first_seen: Vec<i64>,
    pub last_seen: Vec<i64>,
    pub n_events: Vec<u32>,
    pub n_sessions: Vec<u32>,
    pub n_purchases: Vec<u32>,
    pub revenue: Vec<f64>,
    pub peak_events_per_minute: Vec<u32>,
    pub is_bot: Vec<bool>,
}

/// Counts for the validation report of one event source.
#[derive(Debug, Default, Clone, Serialize)]
pub struct EventStats {
    pub source: String,
    pub rows_read: u64,
    pub duplicates_removed: u64,
    pub quarantined: u64,
    pub kept: u64,
    pub by_rule: Vec<(String, u64)>,
    pub by_event: Vec<(String, u64)>,
    pub sessions: u64,
    pub visitors: u64,
    pub bot_visitors: u64,
    pub bot_events: u64,
    pub purchases_without_price: u64,
    pub events_without_category: u64,
    pub min_ts: Option<i64>,
    pub max_ts: Option<i64>,
}

/// Event, session and visitor tables (in visitor order, one polars chunk per scan chunk), item counts
/// for the items table, and the rows that left the clean data.
pub struct CleanEvents {
    pub events: DataFrame,
    pub sessions: DataFrame,
    pub visitors: DataFrame,
    pub item_counts: IdMap<ItemCounts>,
    pub quarantine: Vec<QuarantineRow>,
    pub duplicates: Vec<DuplicateRow>,
    pub stats: EventStats,
}

/// Runs the pipeline on one validated source.
pub fn clean_events(
    src: &EventSource<'_>,
    reference: &Reference,
    cfg: &CleanConfig,
) -> Result<CleanEvents> {
    let n = src.outcomes.len();
    if src.lines.len() != n || src.duplicate_of.len() != n {
        return Err(Error::Internal(
            "event source columns differ in length".into(),
        ));
    }
    if n >= NOT_DUPLICATE as usize {
        return Err(Error::InvalidArgument(format!(
            "{}: more than {} rows in one source",
            src.name,
            u32::MAX - 1
        )));
    }
    let is_dup = |row: usize| src.duplicate_of[row] != NOT_DUPLICATE;
    if cfg.strict {
        let first_bad =
            (0..n).find(|&r| !is_dup(r) && matches!(src.outcomes[r], Outcome::Rejected(..)));
        if let Some(row) = first_bad {
            if let Outcome::Rejected(rule, detail) = &src.outcomes[row] {
                return Err(Error::data_file(
                    src.name.as_ref(),
                    src.lines[row],
                    rule.name(),
                    detail.to_string(),
                ));
            }
        }
    }

    // Exact duplicates first, then the validation rules.
    let duplicates: Vec<DuplicateRow> = (0..n)
        .filter(|&r| is_dup(r))
        .map(|r| DuplicateRow {
            source: src.name.clone(),
            line: src.lines[r],
            duplicate_of_line: src.lines[src.duplicate_of[r] as usize],
        })
        .collect();
    let mut quarantine: Vec<QuarantineRow> = (0..n)
        .into_par_iter()
        .filter_map(|r| match &src.outcomes[r] {
            Outcome::Rejected(rule, detail) if !is_dup(r) => Some(QuarantineRow {
                source: src.name.clone(),
                line: src.lines[r],
                rule: *rule,
                detail: detail.to_string(),
                raw: (src.raw_text)(r),
            }),
            _ => None,
        })
        .collect();

    let mut keys: Vec<(i64, i64, u32)> = (0..n)
        .into_par_iter()
        .filter_map(|r| match &src.outcomes[r] {
            Outcome::Valid(e) if !is_dup(r) => Some((e.visitor, e.ts, r as u32)),
            _ => None,
        })
        .collect();
    // Rows are in source order, so the row index orders equal times by source line.
    keys.par_sort_unstable();
    // Gather the rows in that order, with each event's category as of its time: the scan then reads
    // memory front to back, and the random reads happen here, in a tight loop the CPU overlaps.
    let rows: Vec<Row> = keys
        .par_iter()
        .map(|&(_, _, row)| {
            let ev = event_of(src, row);
            Row {
                category: reference.categories.asof(ev.item, ev.ts),
                line: src.lines[row as usize],
                ev,
                row,
            }
        })
        .collect();
    drop(keys);

    // Visitor-aligned chunks, processed in parallel, then stitched with session-id offsets. Each chunk
    // becomes one row group of the warehouse tables.
    let bounds = visitor_chunks(&rows, (rows.len() / ROWS_PER_CHUNK).clamp(4, 1024));
    let mut parts: Vec<ChunkOut> = bounds
        .par_windows(2)
        .map(|w| scan_chunk(&rows[w[0]..w[1]], reference, cfg))
        .collect();
    drop(rows);
    // Session ids are global: offset each chunk by the sessions before it, then build its tables.
    let mut offset = 0u64;
    for part in &mut parts {
        part.session_offset = offset;
        offset += part.sessions.session_id.len() as u64;
    }
    let near: Vec<(u32, u32)> = parts
        .iter()
        .flat_map(|p| p.near_duplicates.iter().copied())
        .collect();
    let item_counts = count_items(&parts);
    let built: Vec<Result<ChunkTables>> = parts.into_par_iter().map(chunk_tables).collect();
    let mut events = Vec::with_capacity(built.len());
    let mut sessions = Vec::with_capacity(built.len());
    let mut visitors = Vec::with_capacity(built.len());
    let mut partial = Vec::with_capacity(built.len());
    for chunk in built {
        let chunk = chunk?;
        events.push(chunk.events);
        sessions.push(chunk.sessions);
        visitors.push(chunk.visitors);
        partial.push(chunk.stats);
    }
    quarantine.extend(near.into_iter().map(|(row, kept_row)| {
        let (r, k) = (row as usize, kept_row as usize);
        let gap = match (&src.outcomes[r], &src.outcomes[k]) {
            (Outcome::Valid(a), Outcome::Valid(b)) => a.ts - b.ts,
            _ => 0,
        };
        QuarantineRow {
            source: src.name.clone(),
            line: src.lines[r],
            rule: Rule::NearDuplicate,
            detail: format!("{gap} ms after the same event on line {}", src.lines[k]),
            raw: (src.raw_text)(r),
        }
    }));
    quarantine.sort_by_key(|q| q.line);
    let stats = stats(src, &partial, &quarantine, duplicates.len());
    Ok(CleanEvents {
        events: stack(events, tables::empty_events)?,
        sessions: stack(sessions, tables::empty_sessions)?,
        visitors: stack(visitors, tables::empty_visitors)?,
        item_counts,
        quarantine,
        duplicates,
        stats,
    })
}

/// Per-chunk counts for the report, summed after the parallel scan.
#[derive(Default, Clone, Copy)]
struct PartialStats {
    kept: u64,
    by_event: [u64; 3],
    sessions: u64,
    visitors: u64,
    bot_visitors: u64,
    bot_events: u64,
    purchases_without_price: u64,
    events_without_category: u64,
    min_ts: Option<i64>,
    max_ts: Option<i64>,
}

impl PartialStats {
    fn of(part: &ChunkOut) -> Self {
        let e = &part.events;
        let mut by_event = [0u64; 3];
        for t in &e.event {
            by_event[*t as usize] += 1;
        }
        PartialStats {
            kept: e.ts.len() as u64,
            by_event,
            sessions: part.sessions.session_id.len() as u64,
            visitors: part.visitors.visitor.len() as u64,
            bot_visitors: part.visitors.is_bot.iter().filter(|b| **b).count() as u64,
            bot_events: e.is_bot.iter().filter(|b| **b).count() as u64,
            purchases_without_price: e
                .event
                .iter()
                .enumerate()
                .filter(|&(i, t)| *t == EventType::Transaction && e.revenue.get(i).is_none())
                .count() as u64,
            events_without_category: e.category.null_count() as u64,
            min_ts: e.ts.iter().min().copied(),
            max_ts: e.ts.iter().max().copied(),
        }
    }
}

fn stats(
    src: &EventSource<'_>,
    parts: &[PartialStats],
    quarantine: &[QuarantineRow],
    duplicates: usize,
) -> EventStats {
    let mut by_rule: Vec<(String, u64)> = Rule::ALL
        .iter()
        .map(|r| {
            (
                r.name().to_string(),
                quarantine.iter().filter(|q| q.rule == *r).count() as u64,
            )
        })
        .collect();
    by_rule.retain(|(_, c)| *c > 0);
    let sum = |f: fn(&PartialStats) -> u64| parts.iter().map(f).sum::<u64>();
    EventStats {
        source: src.name.to_string(),
        rows_read: src.outcomes.len() as u64,
        duplicates_removed: duplicates as u64,
        quarantined: quarantine.len() as u64,
        kept: sum(|p| p.kept),
        by_rule,
        by_event: EventType::ALL
            .iter()
            .map(|t| {
                (
                    t.name().to_string(),
                    parts.iter().map(|p| p.by_event[*t as usize]).sum(),
                )
            })
            .collect(),
        sessions: sum(|p| p.sessions),
        visitors: sum(|p| p.visitors),
        bot_visitors: sum(|p| p.bot_visitors),
        bot_events: sum(|p| p.bot_events),
        purchases_without_price: sum(|p| p.purchases_without_price),
        events_without_category: sum(|p| p.events_without_category),
        min_ts: parts.iter().filter_map(|p| p.min_ts).min(),
        max_ts: parts.iter().filter_map(|p| p.max_ts).max(),
    }
}

/// Item counts over human traffic (bots excluded), for the items table.
#[derive(Debug, Default, Clone, Copy)]
pub struct ItemCounts {
    pub views: u32,
    pub carts: u32,
    pub purchases: u32,
    pub revenue: f64,
}

struct ChunkTables {
    events: DataFrame,
    sessions: DataFrame,
    visitors: DataFrame,
    stats: PartialStats,
}

/// Item counts over the clean events: every item with an event gets a row, bots' events not counted.
fn count_items(parts: &[ChunkOut]) -> IdMap<ItemCounts> {
    let events = parts.iter().flat_map(|p| {
        let e = &p.events;
        (0..e.ts.len()).map(move |i| (e.item[i], (i, e)))
    });
    IdMap::fold(events, |c: &mut ItemCounts, (i, e)| {
        if e.is_bot[i] {
            return;
        }
        match e.event[i] {
            EventType::View => c.views += 1,
            EventType::AddToCart => c.carts += 1,
            EventType::Transaction => {
                c.purchases += 1;
                c.revenue += e.revenue.get(i).unwrap_or(0.0);
            }
        }
    })
}

fn chunk_tables(mut part: ChunkOut) -> Result<ChunkTables> {
    let offset = part.session_offset;
    part.events.session_id.iter_mut().for_each(|s| *s += offset);
    part.sessions
        .session_id
        .iter_mut()
        .for_each(|s| *s += offset);
    let stats = PartialStats::of(&part);
    Ok(ChunkTables {
        events: tables::events_frame(part.events)?,
        sessions: tables::sessions_frame(part.sessions)?,
        visitors: tables::visitors_frame(part.visitors)?,
        stats,
    })
}

/// Stacks chunk tables without copying their data.
fn stack(frames: Vec<DataFrame>, empty: fn() -> Result<DataFrame>) -> Result<DataFrame> {
    let mut iter = frames.into_iter();
    let Some(mut first) = iter.next() else {
        return empty();
    };
    for df in iter {
        first.vstack_mut_owned(df)?;
    }
    Ok(first)
}

/// Clean events per scan chunk (about; chunks never split a visitor).
const ROWS_PER_CHUNK: usize = 200_000;

/// A valid row in (visitor, time, source order), with its category as of its time.
#[derive(Clone, Copy)]
struct Row {
    ev: ValidEvent,
    category: Option<i64>,
    line: u64,
    row: u32,
}

/// Split points of `rows` (sorted by visitor) into about `parts` ranges that never split a visitor.
fn visitor_chunks(rows: &[Row], parts: usize) -> Vec<usize> {
    let mut bounds = vec![0];
    let step = rows.len() / parts + 1;
    let mut pos = step;
    while pos < rows.len() {
        let v = rows[pos - 1].ev.visitor;
        while pos < rows.len() && rows[pos].ev.visitor == v {
            pos += 1;
        }
        if pos < rows.len() {
            bounds.push(pos);
        }
        pos += step;
    }
    bounds.push(rows.len());
    bounds
}

struct ChunkOut {
    session_offset: u64,
    events: EventColumns,
    sessions: SessionColumns,
    visitors: VisitorColumns,
    /// (near-duplicate row, the kept row it repeats)
    near_duplicates: Vec<(u32, u32)>,
}

fn event_of(src: &EventSource<'_>, row: u32) -> ValidEvent {
    match &src.outcomes[row as usize] {
        Outcome::Valid(e) => *e,
        Outcome::Rejected(..) => unreachable!("only valid rows are scanned"),
    }
}

fn scan_chunk(rows: &[Row], reference: &Reference, cfg: &CleanConfig) -> ChunkOut {
    let mut out = ChunkOut {
        session_offset: 0,
        events: EventColumns::default(),
        sessions: SessionColumns::default(),
        visitors: VisitorColumns::default(),
        near_duplicates: Vec::new(),
    };
    // Upper bounds: untouched capacity costs no memory, regrowth copies would.
    out.events.reserve(rows.len());
    out.sessions.reserve(rows.len());
    out.visitors.reserve(rows.len());
    let mut kept: Vec<Row> = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let visitor = rows[i].ev.visitor;
        let mut j = i;
        while j < rows.len() && rows[j].ev.visitor == visitor {
            j += 1;
        }
        // Near-duplicates: compare with this visitor's kept events inside the window.
        kept.clear();
        for r in &rows[i..j] {
            let ev = &r.ev;
            let mut repeat_of = None;
            if cfg.near_duplicate_window_ms >= 0 {
                for k in kept.iter().rev() {
                    let prev = &k.ev;
                    if ev.ts - prev.ts > cfg.near_duplicate_window_ms {
                        break;
                    }
                    if prev.item == ev.item && prev.event == ev.event && prev.order == ev.order {
                        repeat_of = Some(k.row);
                        break;
                    }
                }
            }
            match repeat_of {
                Some(k) => out.near_duplicates.push((r.row, k)),
                None => kept.push(*r),
            }
        }
        visitor_block(&kept, visitor, reference, cfg, &mut out);
        i = j;
    }
    out
}

/// Sessions, bot flag and enriched event columns for one visitor's kept events (time-ordered).
fn visitor_block(
    kept: &[Row],
    visitor: i64,
    reference: &Reference,
    cfg: &CleanConfig,
    out: &mut ChunkOut,
) {
    let ts = |i: usize| kept[i].ev.ts;
    // Peak events inside any 60-second window (two pointers over sorted times).
    let mut peak = 0usize;
    let mut lo = 0;
    for hi in 0..kept.len() {
        while ts(hi) - ts(lo) >= 60_000 {
            lo += 1;
        }
        peak = peak.max(hi - lo + 1);
    }
    let is_bot =
        kept.len() as u64 > cfg.bot_max_events || peak as u64 > cfg.bot_max_events_per_minute;

    let first_session = out.sessions.session_id.len() as u64;
    let mut session_index = 0u32;
    let mut visitor_revenue = 0.0;
    let mut visitor_purchases = 0u32;
    let mut orders: Vec<i64> = Vec::new();
    for (pos, r) in kept.iter().enumerate() {
        let ev = &r.ev;
        let opens = pos == 0 || ev.ts - ts(pos - 1) > cfg.session_timeout_ms;
        if opens {
            if pos > 0 {
                session_index += 1;
            }
            let s = &mut out.sessions;
            s.session_id.push(first_session + u64::from(session_index));
            s.visitor.push(visitor);
            s.session_index.push(session_index);
            s.start.push(ev.ts);
            s.end.push(ev.ts);
            s.n_events.push(0);
            s.n_views.push(0);
            s.n_carts.push(0);
            s.n_purchases.push(0);
            s.n_orders.push(0);
            s.revenue.push(0.0);
            s.is_bot.push(is_bot);
            orders.clear();
        }
        // Prices are looked up for purchases only: revenue is their sum; item prices live in `items`.
        let revenue = match ev.event {
            EventType::Transaction if ev.price.is_nan() => reference.prices.at(ev.item, ev.ts),
            EventType::Transaction => Some(ev.price),
            _ => None,
        };
        let category = r.category;
        let root = category.and_then(|c| reference.tree.root_level(c).0);

        let s = &mut out.sessions;
        let last = s.session_id.len() - 1;
        s.end[last] = ev.ts;
        s.n_events[last] += 1;
        match ev.event {
            EventType::View => s.n_views[last] += 1,
            EventType::AddToCart => s.n_carts[last] += 1,
            EventType::Transaction => {
                s.n_purchases[last] += 1;
                visitor_purchases += 1;
                if !orders.contains(&ev.order) {
                    orders.push(ev.order);
                    s.n_orders[last] += 1;
                }
            }
        }
        if let Some(r) = revenue {
            s.revenue[last] += r;
            visitor_revenue += r;
        }

        let e = &mut out.events;
        e.visitor.push(visitor);
        e.ts.push(ev.ts);
        e.event.push(ev.event);
        e.item.push(ev.item);
        e.order.push((ev.order >= 0).then_some(ev.order));
        e.session_id.push(first_session + u64::from(session_index));
        e.session_index.push(session_index);
        e.category.push(category);
        e.root_category.push(root);
        e.revenue.push(revenue);
        e.is_bot.push(is_bot);
        e.line.push(r.line);
    }
    if let (Some(first), Some(last)) = (kept.first(), kept.last()) {
        let v = &mut out.visitors;
        v.visitor.push(visitor);
        v.first_seen.push(first.ev.ts);
        v.last_seen.push(last.ev.ts);
        v.n_events.push(kept.len() as u32);
        v.n_sessions.push(session_index + 1);
        v.n_purchases.push(visitor_purchases);
        v.revenue.push(visitor_revenue);
        v.peak_events_per_minute.push(peak as u32);
        v.is_bot.push(is_bot);
    }
}

impl EventColumns {
    fn reserve(&mut self, n: usize) {
        self.visitor.reserve(n);
        self.ts.reserve(n);
        self.event.reserve(n);
        self.item.reserve(n);
        self.order.reserve(n);
        self.session_id.reserve(n);
        self.session_index.reserve(n);
        self.category.reserve(n);
        self.root_category.reserve(n);
        self.revenue.reserve(n);
        self.is_bot.reserve(n);
        self.line.reserve(n);
    }
}

impl SessionColumns {
    fn reserve(&mut self, n: usize) {
        self.session_id.reserve(n);
        self.visitor.reserve(n);
        self.session_index.reserve(n);
        self.start.reserve(n);
        self.end.reserve(n);
        self.n_events.reserve(n);
        self.n_views.reserve(n);
        self.n_carts.reserve(n);
        self.n_purchases.reserve(n);
        self.n_orders.reserve(n);
        self.revenue.reserve(n);
        self.is_bot.reserve(n);
    }
}

impl VisitorColumns {
    fn reserve(&mut self, n: usize) {
        self.visitor.reserve(n);
        self.first_seen.reserve(n);
        self.last_seen.reserve(n);
        self.n_events.reserve(n);
        self.n_sessions.reserve(n);
        self.n_purchases.reserve(n);
        self.revenue.reserve(n);
        self.peak_events_per_minute.reserve(n);
        self.is_bot.reserve(n);
    }
}
