//! The cleaning pipeline over validated rows: exact duplicates out, invalid rows quarantined,
//! near-duplicates quarantined, then sessions, bot flags, categories and revenue. Every input row ends in
//! exactly one of: the clean events, the quarantine, or the duplicates list.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use serde::Serialize;

use super::columns::{
    DuplicateRow, EventColumns, ItemCounts, QuarantineRow, SessionColumns, VisitorColumns,
};
use super::config::CleanConfig;
use super::idmap::IdMap;
use polars::prelude::DataFrame;

use super::items::Reference;
use super::rules::{EventType, Rule};
use super::tables;
use super::validate::{Outcome, ValidEvent};
use crate::{Error, Result};

/// Marks a row that is not an exact duplicate of an earlier one.
pub const NOT_DUPLICATE: u32 = u32::MAX;

/// Source line numbers of a source's rows: consecutive from a first line (the rows of a text file),
/// or listed one by one. Consecutive lines cost no memory and no cache miss in the clean gather.
#[derive(Debug, Clone, PartialEq)]
pub enum Lines {
    Consecutive { first: u64, n: usize },
    Listed(Vec<u64>),
}

impl Lines {
    /// The line number of `row`.
    #[inline]
    pub fn get(&self, row: usize) -> u64 {
        match self {
            Lines::Consecutive { first, .. } => first + row as u64,
            Lines::Listed(lines) => lines[row],
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Lines::Consecutive { n, .. } => *n,
            Lines::Listed(lines) => lines.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn prefetch(&self, row: usize) {
        if let Lines::Listed(lines) = self {
            crate::hint::prefetch(lines, row);
        }
    }
}

impl From<Vec<u64>> for Lines {
    fn from(lines: Vec<u64>) -> Self {
        Lines::Listed(lines)
    }
}

/// Rows of one event source, in source order, already validated.
pub struct EventSource<'a> {
    pub name: Arc<str>,
    pub lines: Lines,
    pub outcomes: Vec<Outcome>,
    /// Row index of the first identical row, or [`NOT_DUPLICATE`].
    pub duplicate_of: Vec<u32>,
    /// The raw text of a row, for the quarantine.
    pub raw_text: Box<dyn Fn(usize) -> String + Send + Sync + 'a>,
    /// Names of the [`EventType::Other`] events of a generic source (`ValidEvent::label` indexes them).
    pub other_events: Vec<String>,
    /// A session key per row when the source has its own session ids: a new session starts where the
    /// key changes (in the visitor's time order) instead of after an inactivity gap.
    pub session_keys: Option<Vec<u32>>,
    /// When set, `duplicate_of` marks only the rejected rows' exact duplicates, and this says whether
    /// two rows' lines are identical: the pipeline finds the valid rows' duplicates among rows of
    /// equal visitor and time (identical lines parse alike), in its own sort.
    pub valid_duplicates: Option<Box<dyn Fn(usize, usize) -> bool + Send + Sync + 'a>>,
}

impl<'a> EventSource<'a> {
    /// A source of the three mapped event types, sessions by inactivity.
    pub fn new(
        name: Arc<str>,
        lines: Lines,
        outcomes: Vec<Outcome>,
        duplicate_of: Vec<u32>,
        raw_text: Box<dyn Fn(usize) -> String + Send + Sync + 'a>,
    ) -> Self {
        EventSource {
            name,
            lines,
            outcomes,
            duplicate_of,
            raw_text,
            other_events: Vec::new(),
            session_keys: None,
            valid_duplicates: None,
        }
    }

    /// Event names in code order: the three mapped types, then the other names.
    pub fn event_labels(&self) -> Vec<&str> {
        EventType::ALL
            .iter()
            .map(|t| t.name())
            .chain(self.other_events.iter().map(String::as_str))
            .collect()
    }
}

/// The event code stored in [`EventColumns::event`]: the type for the mapped three, 3 + label for others.
#[inline]
pub fn event_code(ev: &ValidEvent) -> u32 {
    match ev.event {
        EventType::Other => EventType::ALL.len() as u32 + ev.label,
        t => t as u32,
    }
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

/// One scan chunk's clean tables (a few hundred thousand events of whole visitors), with their final
/// session ids.
pub struct ChunkFrames {
    pub events: DataFrame,
    pub sessions: DataFrame,
    pub visitors: DataFrame,
}

/// What a clean run does with each chunk's tables. Chunk `k` (counted from 0 in visitor order) is
/// handed over once every chunk before it has been scanned, on any worker thread, possibly while an
/// earlier chunk is still being handed over on another; the outputs come back in chunk order.
pub trait ChunkSink: Sync {
    type Out: Send;
    fn chunk(&self, k: usize, frames: ChunkFrames) -> Result<Self::Out>;
}

/// Keeps every chunk's frames ([`clean_events`]).
struct KeepFrames;

impl ChunkSink for KeepFrames {
    type Out = ChunkFrames;
    fn chunk(&self, _k: usize, frames: ChunkFrames) -> Result<ChunkFrames> {
        Ok(frames)
    }
}

/// [`clean_events_with`]'s result: what the sink made of each chunk, in chunk order, and the rest of
/// [`CleanEvents`].
pub struct CleanChunks<T> {
    pub chunks: Vec<T>,
    pub item_counts: IdMap<ItemCounts>,
    pub quarantine: Vec<QuarantineRow>,
    pub duplicates: Vec<DuplicateRow>,
    pub stats: EventStats,
}

/// Runs the pipeline on one validated source. The rows' outcomes are released once the clean rows
/// are gathered (`src.outcomes` is left empty); the other fields stay.
pub fn clean_events(
    src: &mut EventSource<'_>,
    reference: &Reference,
    cfg: &CleanConfig,
) -> Result<CleanEvents> {
    let labels: Vec<String> = src.event_labels().iter().map(|l| l.to_string()).collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let out = clean_events_with(src, reference, cfg, &KeepFrames)?;
    let (mut events, mut sessions, mut visitors) = (Vec::new(), Vec::new(), Vec::new());
    for chunk in out.chunks {
        events.push(chunk.events);
        sessions.push(chunk.sessions);
        visitors.push(chunk.visitors);
    }
    Ok(CleanEvents {
        events: stack(events, || {
            tables::events_frame(EventColumns::default(), &labels)
        })?,
        sessions: stack(sessions, tables::empty_sessions)?,
        visitors: stack(visitors, tables::empty_visitors)?,
        item_counts: out.item_counts,
        quarantine: out.quarantine,
        duplicates: out.duplicates,
        stats: out.stats,
    })
}

/// As [`clean_events`], handing each chunk's tables to `sink` as soon as they are final instead of
/// keeping them all (a build encodes them for the warehouse and frees them).
pub fn clean_events_with<S: ChunkSink>(
    src: &mut EventSource<'_>,
    reference: &Reference,
    cfg: &CleanConfig,
    sink: &S,
) -> Result<CleanChunks<S::Out>> {
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
    // Valid rows in (visitor, time, source order): rows are in source order, so the row index orders
    // equal times by source line.
    let mut keys = sorted_keys(n, |r| match &src.outcomes[r] {
        Outcome::Valid(e) if src.duplicate_of[r] == NOT_DUPLICATE => Some((e.visitor, e.ts)),
        _ => None,
    });
    let found = match &src.valid_duplicates {
        Some(same) => valid_duplicates(&keys, same.as_ref()),
        None => Vec::new(),
    };
    let duplicate_of = if found.is_empty() {
        std::borrow::Cow::Borrowed(&src.duplicate_of)
    } else {
        let mut duplicate_of = src.duplicate_of.clone();
        for &(row, first) in &found {
            duplicate_of[row as usize] = first;
        }
        keys.retain(|k| duplicate_of[k.2 as usize] == NOT_DUPLICATE);
        std::borrow::Cow::Owned(duplicate_of)
    };
    let is_dup = |row: usize| duplicate_of[row] != NOT_DUPLICATE;
    if cfg.strict {
        let first_bad =
            (0..n).find(|&r| !is_dup(r) && matches!(src.outcomes[r], Outcome::Rejected(..)));
        if let Some(row) = first_bad {
            if let Outcome::Rejected(rule, detail) = &src.outcomes[row] {
                return Err(Error::data_file(
                    src.name.as_ref(),
                    src.lines.get(row),
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
            line: src.lines.get(r),
            duplicate_of_line: src.lines.get(duplicate_of[r] as usize),
        })
        .collect();
    let mut quarantine: Vec<QuarantineRow> = (0..n)
        .into_par_iter()
        .filter_map(|r| match &src.outcomes[r] {
            Outcome::Rejected(rule, detail) if !is_dup(r) => Some(QuarantineRow {
                source: src.name.clone(),
                line: src.lines.get(r),
                rule: *rule,
                detail: detail.to_string(),
                raw: (src.raw_text)(r),
            }),
            _ => None,
        })
        .collect();

    // Visitor-aligned chunks, scanned in parallel in ascending order, each finished (global session
    // ids, tables) as soon as every chunk before it has been scanned, and handed to `sink`. Each chunk
    // becomes one row group of the warehouse tables. A chunk first gathers its rows in that order,
    // with each event's category as of its time: the scan then reads memory front to back, and the
    // random reads happen here, in a tight loop the CPU overlaps. Only the chunks in flight hold
    // their rows and clean columns.
    let bounds = visitor_chunks(&keys, (keys.len() / ROWS_PER_CHUNK).clamp(4, 1024));
    let n_valid = keys.len();
    // The sort keys are done with: keep the row numbers only (a third of the memory).
    let order: Vec<u32> = keys.par_iter().map(|k| k.2).collect();
    drop(keys);
    let labels = src.event_labels();
    let n_chunks = bounds.len() - 1;
    let next_chunk = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let frontier = Mutex::new(Frontier {
        next: 0,
        session_offset: 0,
        waiting: (0..n_chunks).map(|_| None).collect(),
        items: ItemCounter::new(n_valid),
        near: Vec::new(),
    });
    let results: Mutex<Vec<Option<Finished<S::Out>>>> =
        Mutex::new((0..n_chunks).map(|_| None).collect());
    let shared: &EventSource<'_> = src;
    // One worker per thread takes chunks in ascending order (so a finished chunk rarely waits for an
    // earlier one), with one row buffer reused chunk after chunk: fresh memory is zeroed by the
    // kernel on first touch, a buffer used again is not.
    let worker = || {
        let mut rows: Vec<Row> = Vec::new();
        loop {
            let k = next_chunk.fetch_add(1, Ordering::Relaxed);
            if k >= n_chunks || failed.load(Ordering::Relaxed) {
                break;
            }
            let chunk = &order[bounds[k]..bounds[k + 1]];
            gather(shared, reference, chunk, &mut rows);
            let part = scan_chunk(&rows, reference, cfg, shared.session_keys.as_deref());
            let ready = frontier
                .lock()
                .expect("clean frontier lock")
                .arrived(k, part);
            for (k, part) in ready {
                let done = chunk_tables(part, &labels).and_then(|t| {
                    let stats = t.stats;
                    sink.chunk(k, t.frames).map(|out| (out, stats))
                });
                if done.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                results.lock().expect("clean results lock")[k] = Some(done);
            }
        }
    };
    let workers = rayon::current_num_threads().clamp(1, n_chunks.max(1));
    rayon::scope(|s| {
        for _ in 0..workers {
            s.spawn(|_| worker());
        }
    });
    drop(order);
    let Frontier {
        items, near, next, ..
    } = frontier.into_inner().expect("clean frontier lock");
    let results = results.into_inner().expect("clean results lock");
    // A chunk's error stopped the workers: report it, not the chunks left undone after it.
    let results: Vec<Option<(S::Out, PartialStats)>> = results
        .into_iter()
        .map(|done| done.transpose())
        .collect::<Result<_>>()?;
    let mut chunks = Vec::with_capacity(n_chunks);
    let mut partial = Vec::with_capacity(n_chunks);
    for done in results {
        let (out, stats) = done.ok_or_else(|| {
            Error::Internal(format!(
                "clean chunk not finished ({next} of {n_chunks} finished in order)"
            ))
        })?;
        chunks.push(out);
        partial.push(stats);
    }
    // Every later step reads the chunks, not the parsed rows.
    let n_read = src.outcomes.len();
    src.outcomes = Vec::new();
    let item_counts = items.finish();
    quarantine.extend(near.into_iter().map(|(row, kept_row, gap)| {
        let (r, k) = (row as usize, kept_row as usize);
        QuarantineRow {
            source: src.name.clone(),
            line: src.lines.get(r),
            rule: Rule::NearDuplicate,
            detail: format!("{gap} ms after the same event on line {}", src.lines.get(k)),
            raw: (src.raw_text)(r),
        }
    }));
    quarantine.sort_by_key(|q| q.line);
    let stats = stats(src, n_read, &partial, &quarantine, duplicates.len());
    Ok(CleanChunks {
        chunks,
        item_counts,
        quarantine,
        duplicates,
        stats,
    })
}

/// What became of a finished chunk: the sink's output and the chunk's counts.
type Finished<T> = Result<(T, PartialStats)>;

/// Gathers the valid rows `chunk` (row numbers in (visitor, time) order) into `rows`, each with its
/// category as of its time.
fn gather(src: &EventSource<'_>, reference: &Reference, chunk: &[u32], rows: &mut Vec<Row>) {
    rows.clear();
    rows.reserve(chunk.len());
    for (i, &row) in chunk.iter().enumerate() {
        // Rows are read in sort order, scattered over the parsed rows: ask for a row (and its line
        // number) well ahead, and for the item history of a nearer one.
        if let Some(&ahead) = chunk.get(i + GATHER_AHEAD) {
            crate::hint::prefetch(&src.outcomes, ahead as usize);
            src.lines.prefetch(ahead as usize);
        }
        if let Some(&near) = chunk.get(i + GATHER_AHEAD / 2) {
            if let Outcome::Valid(e) = &src.outcomes[near as usize] {
                reference.categories.prefetch(e.item);
            }
        }
        let ev = event_of(src, row);
        rows.push(Row {
            category: reference.categories.asof(ev.item, ev.ts),
            line: src.lines.get(row as usize),
            ev,
            row,
        });
    }
}

/// The chunks scanned so far that wait for an earlier one, and what is counted in chunk order.
struct Frontier {
    /// The first chunk not yet finished.
    next: usize,
    /// Sessions in the chunks before `next`.
    session_offset: u64,
    waiting: Vec<Option<ChunkOut>>,
    items: ItemCounter,
    near: Vec<(u32, u32, i64)>,
}

impl Frontier {
    /// Chunk `k` is scanned: returns the chunks that can now be finished (`k` and the waiting ones
    /// after it, in order), each with its session offset set, their items counted and their
    /// near-duplicates taken, in chunk order (so sums are added in the same order on every run).
    fn arrived(&mut self, k: usize, part: ChunkOut) -> Vec<(usize, ChunkOut)> {
        self.waiting[k] = Some(part);
        let mut ready = Vec::new();
        while let Some(mut part) = self.waiting.get_mut(self.next).and_then(Option::take) {
            part.session_offset = self.session_offset;
            self.session_offset += part.sessions.session_id.len() as u64;
            self.items.add(&part.events);
            self.near.append(&mut part.near_duplicates);
            ready.push((self.next, part));
            self.next += 1;
        }
        ready
    }
}

/// Item counts over the clean events, chunk after chunk: every item with an event gets a row, bots'
/// events not counted. Ids are kept in an array while they are dense enough for the number of
/// events, else in a hash map.
struct ItemCounter {
    n_events: usize,
    dense: Vec<Option<ItemCounts>>,
    sparse: hashbrown::HashMap<i64, ItemCounts>,
}

impl ItemCounter {
    fn new(n_events: usize) -> Self {
        ItemCounter {
            n_events,
            dense: Vec::new(),
            sparse: hashbrown::HashMap::new(),
        }
    }

    fn add(&mut self, e: &EventColumns) {
        for i in 0..e.ts.len() {
            let item = e.item[i];
            // A generic source's events without an item (id -1) belong to no item.
            if item < 0 {
                continue;
            }
            let c = if crate::clean::idmap::dense_fits(0, item, self.n_events) {
                let at = item as usize;
                if at >= self.dense.len() {
                    self.dense.resize((at + 1).max(2 * self.dense.len()), None);
                }
                self.dense[at].get_or_insert_with(ItemCounts::default)
            } else {
                self.sparse.entry(item).or_default()
            };
            if e.is_bot[i] {
                continue;
            }
            match e.event[i] {
                0 => c.views += 1,
                1 => c.carts += 1,
                2 => {
                    c.purchases += 1;
                    c.revenue += e.revenue.get(i).unwrap_or(0.0);
                }
                _ => {}
            }
        }
    }

    fn finish(self) -> IdMap<ItemCounts> {
        if self.sparse.is_empty() {
            IdMap::Dense(self.dense)
        } else {
            let mut map = self.sparse;
            for (id, c) in self.dense.into_iter().enumerate() {
                if let Some(c) = c {
                    map.insert(id as i64, c);
                }
            }
            IdMap::Sparse(map)
        }
    }
}

/// The (visitor, time, row) keys of the rows `0..n` that `key(row)` gives a (visitor, time) for, in
/// ascending order. Dense non-negative visitor ids (the usual case) take a stable counting sort by
/// visitor straight from the rows, which keeps each visitor's rows in row order (one vector of keys
/// is written, no filtered copy first); a visitor whose times are then out of order has its run
/// sorted by (time, row). Other ids take a parallel comparison sort.
fn sorted_keys(n: usize, key: impl Fn(usize) -> Option<(i64, i64)> + Sync) -> Vec<(i64, i64, u32)> {
    let (min, max, count) = (0..n)
        .into_par_iter()
        .fold(
            || (i64::MAX, i64::MIN, 0usize),
            |(lo, hi, c), r| match key(r) {
                Some((v, _)) => (lo.min(v), hi.max(v), c + 1),
                None => (lo, hi, c),
            },
        )
        .reduce(
            || (i64::MAX, i64::MIN, 0),
            |a, b| (a.0.min(b.0), a.1.max(b.1), a.2 + b.2),
        );
    if count < 2 || !super::idmap::dense_fits(min, max, count) || n >= u32::MAX as usize {
        let mut keys: Vec<(i64, i64, u32)> = (0..n)
            .into_par_iter()
            .filter_map(|r| key(r).map(|(v, t)| (v, t, r as u32)))
            .collect();
        keys.par_sort_unstable();
        return keys;
    }
    // A counting sort in parallel: each thread counts the visitors of its own range of rows, the
    // counts become each range's start offsets per visitor (visitor by visitor, ranges in row
    // order: a visitor's rows stay in row order), then each range places its rows.
    // One range a thread, but the ranges' counts together take at most two slots a row (ids may
    // be up to eight times sparser than the rows: then one range, as a serial counting sort).
    let slots = max as usize + 1;
    let n_ranges = rayon::current_num_threads().min(2 * n / slots).max(1);
    let per = n.div_ceil(n_ranges).max(1);
    let ranges: Vec<std::ops::Range<usize>> = (0..n)
        .step_by(per)
        .map(|from| from..(from + per).min(n))
        .collect();
    let mut starts: Vec<Vec<u32>> = ranges
        .par_iter()
        .map(|rows| {
            let mut counts = vec![0u32; slots];
            for r in rows.clone() {
                if let Some((v, _)) = key(r) {
                    counts[v as usize] += 1;
                }
            }
            counts
        })
        .collect();
    let mut at = 0u32;
    for v in 0..slots {
        for counts in starts.iter_mut() {
            let c = counts[v];
            counts[v] = at;
            at += c;
        }
    }
    let mut sorted: Vec<(i64, i64, u32)> = Vec::with_capacity(count);
    let out = crate::slots::SlotWriter(sorted.as_mut_ptr());
    ranges
        .into_par_iter()
        .zip(starts)
        .for_each(|(rows, mut next)| {
            for r in rows {
                if let Some((v, t)) = key(r) {
                    let slot = &mut next[v as usize];
                    // SAFETY: the offsets of all ranges and visitors partition 0..count, so each
                    // slot is written once, by one thread, within the capacity.
                    unsafe { out.write(*slot as usize, (v, t, r as u32)) };
                    *slot += 1;
                }
            }
        });
    // SAFETY: every one of the `count` slots was written above (`count` valid keys).
    unsafe { sorted.set_len(count) };
    // Within a visitor the rows are ascending; the times usually are too.
    sorted.par_chunk_by_mut(|a, b| a.0 == b.0).for_each(|run| {
        if run.windows(2).any(|w| w[1].1 < w[0].1) {
            run.sort_unstable();
        }
    });
    sorted
}

/// The valid rows whose line repeats an earlier row's, as (row, first row with that line): candidates
/// share a visitor and a time (`keys` sorted by visitor, time, row), `same` compares the lines.
fn valid_duplicates(
    keys: &[(i64, i64, u32)],
    same: &(dyn Fn(usize, usize) -> bool + Sync),
) -> Vec<(u32, u32)> {
    let mut found = Vec::new();
    let mut firsts: Vec<u32> = Vec::new();
    for run in keys.chunk_by(|a, b| a.0 == b.0 && a.1 == b.1) {
        if run.len() < 2 {
            continue;
        }
        // Rows of one (visitor, time) in source order; each is compared with the distinct ones
        // before it.
        firsts.clear();
        for &(_, _, row) in run {
            match firsts.iter().find(|&&f| same(f as usize, row as usize)) {
                Some(&f) => found.push((row, f)),
                None => firsts.push(row),
            }
        }
    }
    found
}

/// Per-chunk counts for the report, summed after the parallel scan.
#[derive(Default, Clone)]
struct PartialStats {
    kept: u64,
    /// Events per code (see [`event_code`]).
    by_event: Vec<u64>,
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
    fn of(part: &ChunkOut, n_labels: usize) -> Self {
        let e = &part.events;
        let mut by_event = vec![0u64; n_labels];
        for &code in &e.event {
            by_event[code as usize] += 1;
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
                .filter(|&(i, t)| *t == EventType::Transaction as u32 && e.revenue.get(i).is_none())
                .count() as u64,
            events_without_category: e.category.null_count() as u64,
            min_ts: e.ts.iter().min().copied(),
            max_ts: e.ts.iter().max().copied(),
        }
    }
}

fn stats(
    src: &EventSource<'_>,
    rows_read: usize,
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
        rows_read: rows_read as u64,
        duplicates_removed: duplicates as u64,
        quarantined: quarantine.len() as u64,
        kept: sum(|p| p.kept),
        by_rule,
        by_event: src
            .event_labels()
            .iter()
            .enumerate()
            .map(|(code, name)| {
                (
                    name.to_string(),
                    parts.iter().map(|p| p.by_event[code]).sum(),
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

struct ChunkTables {
    frames: ChunkFrames,
    stats: PartialStats,
}

fn chunk_tables(mut part: ChunkOut, labels: &[&str]) -> Result<ChunkTables> {
    let offset = part.session_offset;
    part.events.session_id.iter_mut().for_each(|s| *s += offset);
    part.sessions
        .session_id
        .iter_mut()
        .for_each(|s| *s += offset);
    let stats = PartialStats::of(&part, labels.len());
    Ok(ChunkTables {
        frames: ChunkFrames {
            events: tables::events_frame(part.events, labels)?,
            sessions: tables::sessions_frame(part.sessions)?,
            visitors: tables::visitors_frame(part.visitors)?,
        },
        stats,
    })
}

/// Stacks chunk tables without copying their data.
fn stack(frames: Vec<DataFrame>, empty: impl FnOnce() -> Result<DataFrame>) -> Result<DataFrame> {
    let mut iter = frames.into_iter();
    let Some(mut first) = iter.next() else {
        return empty();
    };
    for df in iter {
        first.vstack_mut_owned(df)?;
    }
    Ok(first)
}

/// How many rows ahead the gather asks for a parsed row (half as far for its item history).
const GATHER_AHEAD: usize = 16;

/// Clean events per scan chunk (about; chunks never split a visitor).
const ROWS_PER_CHUNK: usize = 100_000;

/// A valid row in (visitor, time, source order), with its category as of its time.
#[derive(Clone, Copy)]
struct Row {
    ev: ValidEvent,
    category: Option<i64>,
    line: u64,
    row: u32,
}

/// Split points of `keys` (visitor, time, row), sorted by visitor, into about `parts` ranges that
/// never split a visitor.
fn visitor_chunks(rows: &[(i64, i64, u32)], parts: usize) -> Vec<usize> {
    let mut bounds = vec![0];
    let step = rows.len() / parts + 1;
    let mut pos = step;
    while pos < rows.len() {
        let v = rows[pos - 1].0;
        while pos < rows.len() && rows[pos].0 == v {
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
    /// (near-duplicate row, the kept row it repeats, ms between them)
    near_duplicates: Vec<(u32, u32, i64)>,
}

fn event_of(src: &EventSource<'_>, row: u32) -> ValidEvent {
    match &src.outcomes[row as usize] {
        Outcome::Valid(e) => *e,
        Outcome::Rejected(..) => unreachable!("only valid rows are scanned"),
    }
}

fn scan_chunk(
    rows: &[Row],
    reference: &Reference,
    cfg: &CleanConfig,
    session_keys: Option<&[u32]>,
) -> ChunkOut {
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
                    if prev.item == ev.item
                        && prev.event == ev.event
                        && prev.label == ev.label
                        && prev.order == ev.order
                    {
                        repeat_of = Some((k.row, prev.ts));
                        break;
                    }
                }
            }
            match repeat_of {
                Some((k, ts)) => out.near_duplicates.push((r.row, k, r.ev.ts - ts)),
                None => kept.push(*r),
            }
        }
        visitor_block(&kept, visitor, reference, cfg, session_keys, &mut out);
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
    session_keys: Option<&[u32]>,
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
        let opens = pos == 0
            || match session_keys {
                Some(keys) => keys[r.row as usize] != keys[kept[pos - 1].row as usize],
                None => ev.ts - ts(pos - 1) > cfg.session_timeout_ms,
            };
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
            EventType::Other => {}
        }
        if let Some(r) = revenue {
            s.revenue[last] += r;
            visitor_revenue += r;
        }

        let e = &mut out.events;
        e.visitor.push(visitor);
        e.ts.push(ev.ts);
        e.event.push(event_code(ev));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clean::items::ItemHistory;
    use polars::prelude::*;

    const T0: i64 = 1_433_221_332_117;
    const MIN: i64 = 60_000;

    /// (visitor, ts, event, item, order) rows; source line = row + 2.
    fn source(rows: &[(i64, i64, EventType, i64, i64)]) -> EventSource<'static> {
        EventSource {
            name: Arc::from("t.csv"),
            lines: Lines::Consecutive {
                first: 2,
                n: rows.len(),
            },
            outcomes: rows
                .iter()
                .map(|&(visitor, ts, event, item, order)| {
                    Outcome::Valid(ValidEvent {
                        ts,
                        visitor,
                        item,
                        order,
                        price: f64::NAN,
                        event,
                        label: 0,
                    })
                })
                .collect(),
            duplicate_of: vec![NOT_DUPLICATE; rows.len()],
            raw_text: Box::new(|row| format!("row {row}")),
            other_events: Vec::new(),
            session_keys: None,
            valid_duplicates: None,
        }
    }

    fn run(rows: &[(i64, i64, EventType, i64, i64)], cfg: &CleanConfig) -> CleanEvents {
        clean_events(&mut source(rows), &Reference::default(), cfg).unwrap()
    }

    fn ints(df: &DataFrame, col: &str) -> Vec<i64> {
        df.column(col)
            .unwrap()
            .cast(&DataType::Int64)
            .unwrap()
            .i64()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or(-1))
            .collect()
    }

    fn bools(df: &DataFrame, col: &str) -> Vec<bool> {
        df.column(col)
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .map(|v| v.unwrap())
            .collect()
    }

    use EventType::{AddToCart as Cart, View};

    /// A sink that notes the order chunks arrive in and fails on one chunk when asked.
    struct Noting {
        fail_at: Option<usize>,
        seen: Mutex<Vec<usize>>,
    }

    impl ChunkSink for Noting {
        type Out = (usize, ChunkFrames);
        fn chunk(&self, k: usize, frames: ChunkFrames) -> Result<(usize, ChunkFrames)> {
            self.seen.lock().unwrap().push(k);
            if self.fail_at == Some(k) {
                return Err(Error::InvalidArgument(format!("sink refused chunk {k}")));
            }
            Ok((k, frames))
        }
    }

    /// Chunks reach the sink once each, their outputs come back in chunk order, and session ids run on
    /// from chunk to chunk (0, 1, 2, ... over the visitors in id order); the chunks stacked are what
    /// `clean_events` returns. A sink's error is the run's error.
    #[test]
    fn chunks_reach_the_sink_with_global_session_ids() {
        // 40 visitors, each with two sessions (a 2-hour gap) of two events
        let rows: Vec<(i64, i64, EventType, i64, i64)> = (0..40i64)
            .rev()
            .flat_map(|v| {
                [0, MIN, 120 * MIN, 121 * MIN]
                    .map(|dt| (v, T0 + v * 1000 + dt, View, 7 + v % 3, -1))
            })
            .collect();
        let cfg = CleanConfig::default();
        let sink = Noting {
            fail_at: None,
            seen: Mutex::new(Vec::new()),
        };
        let out =
            clean_events_with(&mut source(&rows), &Reference::default(), &cfg, &sink).unwrap();
        let n = out.chunks.len();
        assert!(n >= 4, "{n} chunks");
        let mut seen = sink.seen.into_inner().unwrap();
        seen.sort_unstable();
        assert_eq!(seen, (0..n).collect::<Vec<_>>());
        let mut sessions_before = 0;
        for (i, (k, frames)) in out.chunks.iter().enumerate() {
            assert_eq!(*k, i);
            let ids = ints(&frames.sessions, "session_id");
            let want: Vec<i64> = (sessions_before..sessions_before + ids.len() as i64).collect();
            assert_eq!(ids, want);
            sessions_before += ids.len() as i64;
        }
        assert_eq!(sessions_before, 80);
        let whole = run(&rows, &cfg);
        let mut events = out.chunks[0].1.events.clone();
        for (_, f) in &out.chunks[1..] {
            events.vstack_mut(&f.events).unwrap();
        }
        assert!(events.equals_missing(&whole.events));
        assert_eq!(out.stats.sessions, 80);
        assert_eq!(
            out.item_counts.get(7).map(|c| c.views),
            whole.item_counts.get(7).map(|c| c.views)
        );

        let failing = Noting {
            fail_at: Some(1),
            seen: Mutex::new(Vec::new()),
        };
        let err = clean_events_with(&mut source(&rows), &Reference::default(), &cfg, &failing)
            .err()
            .expect("the sink's error");
        assert!(err.to_string().contains("sink refused chunk 1"), "{err}");
    }

    #[test]
    fn a_gap_of_exactly_the_timeout_stays_in_the_session() {
        let timeout = 30 * MIN;
        let rows = [
            (1, T0, View, 10, -1),
            (1, T0 + timeout, View, 11, -1), // gap 30:00.000: same session
            (1, T0 + 2 * timeout + 1, View, 12, -1), // gap 30:00.001: new session
            (1, T0 + 2 * timeout + 2, View, 13, -1),
        ];
        let out = run(&rows, &CleanConfig::default());
        assert_eq!(ints(&out.events, "session_index"), vec![0, 0, 1, 1]);
        assert_eq!(ints(&out.sessions, "n_events"), vec![2, 2]);
        assert_eq!(ints(&out.visitors, "n_sessions"), vec![2]);
    }

    #[test]
    fn equal_timestamps_keep_source_order_in_one_session() {
        // Rows out of time order, two pairs with equal times; visitor 2 comes first in the source.
        let rows = [
            (2, T0 + 5, View, 30, -1),
            (1, T0 + 5, View, 21, -1),
            (1, T0, View, 20, -1),
            (1, T0 + 5, Cart, 22, -1),
            (2, T0 + 5, Cart, 31, -1),
        ];
        let out = run(&rows, &CleanConfig::default());
        assert_eq!(ints(&out.events, "visitor_id"), vec![1, 1, 1, 2, 2]);
        assert_eq!(ints(&out.events, "item_id"), vec![20, 21, 22, 30, 31]);
        assert_eq!(ints(&out.events, "source_line"), vec![4, 3, 5, 2, 6]);
        assert_eq!(ints(&out.events, "session_index"), vec![0, 0, 0, 0, 0]);
        assert_eq!(ints(&out.sessions, "session_id"), vec![0, 1]);
    }

    #[test]
    fn near_duplicate_window_is_inclusive() {
        let cfg = CleanConfig::default(); // window 1000 ms
        let rows = [
            (1, T0, View, 10, -1),
            (1, T0 + 1000, View, 10, -1), // 1000 ms after a kept twin: near-duplicate
            (1, T0 + 2001, View, 10, -1), // 2001 ms after the kept one: kept
            (1, T0 + 2002, View, 11, -1), // other item: kept
            (1, T0 + 2003, Cart, 11, -1), // other event: kept
        ];
        let out = run(&rows, &cfg);
        assert_eq!(ints(&out.events, "item_id"), vec![10, 10, 11, 11]);
        assert_eq!(out.quarantine.len(), 1);
        assert_eq!(out.quarantine[0].line, 3);
        assert_eq!(out.quarantine[0].rule, Rule::NearDuplicate);
        assert_eq!(
            out.quarantine[0].detail,
            "1000 ms after the same event on line 2"
        );
        // A gap of one more millisecond than the window is kept.
        let rows = [(1, T0, View, 10, -1), (1, T0 + 1001, View, 10, -1)];
        assert!(run(&rows, &cfg).quarantine.is_empty());
        // The rule can be turned off.
        let off = CleanConfig {
            near_duplicate_window_ms: -1,
            ..CleanConfig::default()
        };
        let rows = [(1, T0, View, 10, -1), (1, T0, View, 10, -1)];
        assert!(run(&rows, &off).quarantine.is_empty());
    }

    #[test]
    fn category_is_joined_as_of_the_event_time() {
        let reference = Reference {
            categories: ItemHistory::new(vec![(5, T0 + 100_000, 0, 10), (5, T0 + 200_000, 1, 20)]),
            ..Reference::default()
        };
        // Different event types, so no row is a near-duplicate of another.
        let rows = [
            (1, T0 + 50_000, View, 5, -1), // before the first record: the first record
            (1, T0 + 199_999, View, 5, -1), // one ms before the change: the old value
            (1, T0 + 200_000, Cart, 5, -1), // at the change: the new value
            (1, T0 + 300_000, View, 6, -1), // an item without properties: null
        ];
        let out = clean_events(&mut source(&rows), &reference, &CleanConfig::default()).unwrap();
        assert_eq!(ints(&out.events, "category_id"), vec![10, 10, 20, -1]);
        assert_eq!(out.stats.events_without_category, 1);
    }

    #[test]
    fn bot_threshold_is_strictly_more_than_bot_max_events() {
        let cfg = CleanConfig {
            bot_max_events: 3,
            ..CleanConfig::default()
        };
        // Visitor 1: exactly 3 events (human); visitor 2: 4 events (bot). Ten minutes apart, so the
        // per-minute rule does not fire.
        let mut rows = Vec::new();
        for k in 0..3 {
            rows.push((1, T0 + k * 10 * MIN, View, k, -1));
        }
        for k in 0..4 {
            rows.push((2, T0 + k * 10 * MIN, View, k, -1));
        }
        let out = run(&rows, &cfg);
        assert_eq!(bools(&out.visitors, "is_bot"), vec![false, true]);
        assert_eq!(
            bools(&out.events, "is_bot"),
            vec![false, false, false, true, true, true, true]
        );
        assert_eq!(out.stats.bot_visitors, 1);
        assert_eq!(out.stats.bot_events, 4);
    }

    #[test]
    fn bot_per_minute_counts_a_60_second_window() {
        let cfg = CleanConfig {
            bot_max_events_per_minute: 2,
            ..CleanConfig::default()
        };
        let rows = [
            // Visitor 1: three events spanning exactly 60 s: at most two in any [t, t + 60 s).
            (1, T0, View, 1, -1),
            (1, T0 + 30_000, View, 2, -1),
            (1, T0 + 60_000, View, 3, -1),
            // Visitor 2: three events within 59.999 s: bot.
            (2, T0, View, 1, -1),
            (2, T0 + 30_000, View, 2, -1),
            (2, T0 + 59_999, View, 3, -1),
        ];
        let out = run(&rows, &cfg);
        assert_eq!(ints(&out.visitors, "peak_events_per_minute"), vec![2, 3]);
        assert_eq!(bools(&out.visitors, "is_bot"), vec![false, true]);
    }

    #[test]
    fn every_row_ends_in_one_place() {
        let mut src = source(&[
            (1, T0, View, 1, -1),
            (1, T0, View, 1, -1),
            (1, T0 + 10, View, 1, -1),
        ]);
        src.duplicate_of[1] = 0;
        src.outcomes
            .push(Outcome::rejected(Rule::MissingField, "empty item"));
        src.lines = Lines::Listed(vec![2, 3, 4, 5]);
        src.duplicate_of.push(NOT_DUPLICATE);
        let out = clean_events(&mut src, &Reference::default(), &CleanConfig::default()).unwrap();
        assert_eq!(out.stats.rows_read, 4);
        assert_eq!(out.stats.kept, 1);
        assert_eq!(out.duplicates.len(), 1);
        assert_eq!(out.duplicates[0].duplicate_of_line, 2);
        let rules: Vec<Rule> = out.quarantine.iter().map(|q| q.rule).collect();
        assert_eq!(rules, vec![Rule::NearDuplicate, Rule::MissingField]);
        assert_eq!(out.quarantine[1].raw, "row 3");
    }

    #[test]
    fn key_sort_matches_a_comparison_sort() {
        // Dense ids (counting sort, with runs out of time order) and sparse ones (comparison sort).
        for spread in [1i64, 1 << 40] {
            // Every third row left out, as invalid rows are.
            let rows: Vec<Option<(i64, i64)>> = (0..5000i64)
                .map(|r| {
                    let x = (r * 7919) % 613;
                    (r % 3 != 1).then_some(((x % 97) * spread, (x * 31) % 50))
                })
                .collect();
            let mut want: Vec<(i64, i64, u32)> = rows
                .iter()
                .enumerate()
                .filter_map(|(r, k)| k.map(|(v, t)| (v, t, r as u32)))
                .collect();
            want.sort_unstable();
            assert_eq!(sorted_keys(rows.len(), |r| rows[r]), want);
        }
    }

    #[test]
    fn valid_duplicates_are_identical_lines_among_equal_visitor_and_time() {
        // Lines of events.csv: a repeated line (twice), a line with the same visitor and time but
        // another item (not a duplicate), and the same item at another time.
        let text = [
            "1,7,view,3,",
            "1,7,view,4,",
            "1,7,view,3,",
            "2,7,view,3,",
            "1,7,view,3,",
        ];
        let parsed = |l: &str| {
            let f: Vec<i64> = l
                .split(',')
                .take(4)
                .filter_map(|x| x.parse().ok())
                .collect();
            (f[1], T0 + f[0], View, f[2], -1)
        };
        let rows: Vec<_> = text.iter().map(|l| parsed(l)).collect();
        let mut src = source(&rows);
        src.valid_duplicates = Some(Box::new(|a, b| text[a] == text[b]));
        let cfg = CleanConfig {
            near_duplicate_window_ms: -1,
            ..CleanConfig::default()
        };
        let out = clean_events(&mut src, &Reference::default(), &cfg).unwrap();
        let pairs: Vec<(u64, u64)> = out
            .duplicates
            .iter()
            .map(|d| (d.line, d.duplicate_of_line))
            .collect();
        // Source line = row + 2: rows 2 and 4 repeat row 0.
        assert_eq!(pairs, vec![(4, 2), (6, 2)]);
        assert_eq!(out.stats.kept, 3);
        assert_eq!(out.stats.duplicates_removed, 2);
        assert_eq!(ints(&out.events, "item_id"), vec![3, 4, 3]);
    }
}
