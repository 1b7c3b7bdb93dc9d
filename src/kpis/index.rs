//! The events of a warehouse as compact per-event arrays (the structure every KPI scan walks).
//!
//! The `events` table is sorted by (visitor, timestamp), so each visitor is one contiguous run and each
//! of its sessions a contiguous sub-run. Ids (visitor, item, order, category) become dense `u32` codes
//! with [`dense_codes`], whatever their type (Int64 or String), so a scan touches a few bytes per event
//! instead of reading polars columns: a headline query over 2.7 M events reads about 12 MB.
use hashbrown::HashMap;
use polars::prelude::*;

use crate::{Error, Result};

pub const NONE: u32 = u32::MAX;
pub const DAY_MS: i64 = 86_400_000;

/// Event kinds in funnel order; other event types of generic sources are kind 3.
pub const VIEW: u8 = 0;
pub const CART: u8 = 1;
pub const PURCHASE: u8 = 2;
pub const OTHER: u8 = 3;

/// Lifecycle stages (see [`LIFECYCLE_WINDOW_DAYS`]).
pub const LIFECYCLE: [&str; 3] = ["new", "returning", "churned"];
/// A visitor whose first event lies within this many days before the end of the data is `new`; one
/// whose last event lies earlier than that is `churned`; every other visitor is `returning`.
pub const LIFECYCLE_WINDOW_DAYS: i64 = 30;

/// Lifecycle code ([`LIFECYCLE`]) of a visitor whose events run from `first` to `last` (ms) in data
/// ending at `end_ts`: new if the first event is within the window before the end, churned if the
/// last is before it, returning otherwise.
pub fn lifecycle_of(first: i64, last: i64, end_ts: i64) -> u8 {
    let window = LIFECYCLE_WINDOW_DAYS * DAY_MS;
    if first >= end_ts - window {
        0
    } else if last < end_ts - window {
        2
    } else {
        1
    }
}

/// Dense codes of an id column (Int64, any other integer type, or String): `codes[row]` is the
/// position of the row's value among the distinct values in order of first appearance, `NONE` for
/// null; `labels` holds each distinct value once, in code order, with the column's own type.
pub fn dense_codes(col: &Column) -> Result<(Vec<u32>, Column)> {
    let (codes, first_rows) = first_appearance(col)?;
    let idx = IdxCa::from_vec("idx".into(), first_rows);
    let labels = col.take(&idx)?;
    Ok((codes, labels))
}

/// The largest id when the column's ids are dense non-negative integers (an array of one slot per id
/// fits, see [`crate::clean::idmap::dense_fits`]), else `None`.
fn dense_max(ca: &Int64Chunked) -> Option<i64> {
    let (min, max) = (ca.min()?, ca.max()?);
    crate::clean::idmap::dense_fits(min, max, ca.len()).then_some(max)
}

/// The code of each integer id seen so far ([`NONE`] until it is given one).
enum Slots {
    Dense(Vec<u32>),
    Hashed(HashMap<i64, u32>),
}

impl Slots {
    fn slot(&mut self, id: i64) -> &mut u32 {
        match self {
            Slots::Dense(slots) => &mut slots[id as usize],
            Slots::Hashed(map) => map.entry(id).or_insert(NONE),
        }
    }
}

/// The one dense coding of id columns: `codes[row]` numbers the row's value in order of first
/// appearance (`NONE` for null), `first_rows[code]` is the row where the value first appears.
pub fn first_appearance(col: &Column) -> Result<(Vec<u32>, Vec<IdxSize>)> {
    let mut first_rows: Vec<IdxSize> = Vec::new();
    let codes = match col.dtype() {
        DataType::String => {
            let ca = col.str()?;
            let mut map: HashMap<&str, u32> = HashMap::new();
            ca.iter()
                .enumerate()
                .map(|(row, v)| match v {
                    None => NONE,
                    Some(v) => *map.entry(v).or_insert_with(|| {
                        first_rows.push(row as IdxSize);
                        (first_rows.len() - 1) as u32
                    }),
                })
                .collect::<Vec<u32>>()
        }
        dt if dt.is_integer() => {
            let cast = col.cast(&DataType::Int64)?;
            let ca = cast.i64()?;
            if let Some(runs) = sorted_runs(ca) {
                first_rows = runs.1;
                runs.0
            } else {
                // Dense non-negative ids (item ids, usually) get a slot per id, others a hash map.
                let mut slots = match dense_max(ca) {
                    Some(max) => Slots::Dense(vec![NONE; max as usize + 1]),
                    None => Slots::Hashed(HashMap::new()),
                };
                let mut out = Vec::with_capacity(ca.len());
                for (row, v) in ca.iter().enumerate() {
                    out.push(match v {
                        None => NONE,
                        Some(v) => {
                            let code = slots.slot(v);
                            if *code == NONE {
                                *code = first_rows.len() as u32;
                                first_rows.push(row as IdxSize);
                            }
                            *code
                        }
                    });
                }
                out
            }
        }
        other => {
            return Err(Error::Schema(format!(
                "id column '{}' has type {other}; expected an integer or string column",
                col.name()
            )))
        }
    };
    if first_rows.len() >= NONE as usize {
        return Err(Error::InvalidArgument(format!(
            "id column '{}' has more than {} distinct values",
            col.name(),
            NONE - 1
        )));
    }
    Ok((codes, first_rows))
}

/// Codes of an id column sorted in ascending order without nulls (the warehouse's `events` are
/// sorted by visitor): the code of a row is the number of its run of equal values, so no hashing is
/// needed. `None` when the column is not sorted or has a null.
fn sorted_runs(ca: &Int64Chunked) -> Option<(Vec<u32>, Vec<IdxSize>)> {
    if ca.null_count() > 0 {
        return None;
    }
    let mut codes = Vec::with_capacity(ca.len());
    let mut first_rows = Vec::new();
    let mut prev: Option<i64> = None;
    for (row, v) in ca.into_no_null_iter().enumerate() {
        match prev {
            Some(p) if v < p => return None,
            Some(p) if v == p => {}
            _ => first_rows.push(row as IdxSize),
        }
        prev = Some(v);
        codes.push((first_rows.len() - 1) as u32);
    }
    Some((codes, first_rows))
}

/// Days since 1970-01-01 of a Unix time in ms (UTC).
pub fn day_of(ts: i64) -> i32 {
    ts.div_euclid(DAY_MS) as i32
}

/// Monday = 0 .. Sunday = 6 of a day number (1970-01-01 was a Thursday).
pub fn weekday(day: i32) -> u8 {
    (day + 3).rem_euclid(7) as u8
}

/// ISO week number: weeks start on Monday; the week's Monday is `week * 7 - 3`.
pub fn week_of(day: i32) -> i32 {
    (day + 3).div_euclid(7)
}

/// (year, month 1..12, day 1..31) of a day number (Howard Hinnant's civil-from-days).
pub fn civil(day: i32) -> (i32, u32, u32) {
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

/// Day number of a civil date.
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y as i64 - 1 } else { y as i64 };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as i32
}

/// Month number (year * 12 + month - 1) of a day number.
pub fn month_of(day: i32) -> i32 {
    let (y, m, _) = civil(day);
    y * 12 + m as i32 - 1
}

/// Revenue is summed as integer micro-units so that partial sums add up to the same digits in any
/// order (floating-point addition is not associative).
pub fn to_micro(x: f64) -> i64 {
    (x * 1e6).round() as i64
}

pub fn from_micro(x: i64) -> f64 {
    x as f64 / 1e6
}

/// The category tree as codes: parent and root per category, and each category's chain of
/// ancestors (itself first).
#[derive(Debug, Default, Clone)]
pub struct Tree {
    pub ids: Vec<i64>,
    pub parent: Vec<Option<i64>>,
    pub level: Vec<Option<u32>>,
    pub root: Vec<Option<i64>>,
    /// Chains of ancestors (itself first), one after another: category `c`'s chain is
    /// `ancestors[ancestor_start[c]..ancestor_start[c + 1]]` (one block of memory for the scans,
    /// which walk a chain per event).
    pub ancestors: Vec<u32>,
    pub ancestor_start: Vec<u32>,
    pub code_of: HashMap<i64, u32>,
}

impl Tree {
    /// The tree code of each category id of `ids` ([`NONE`] for null or unknown), chunk by chunk
    /// in parallel, through an [`IdMap`](crate::clean::idmap::IdMap) (an array over the ids when
    /// they are dense, as category ids are).
    pub fn codes_of(&self, ids: &Int64Chunked) -> Vec<u32> {
        use rayon::prelude::*;
        let lookup = crate::clean::idmap::IdMap::new(self.code_of.iter().map(|(&id, &c)| (id, c)));
        let code = |id: Option<&i64>| id.and_then(|&id| lookup.get(id)).unwrap_or(NONE);
        let chunks: Vec<_> = ids.downcast_iter().collect();
        let mut out = vec![NONE; ids.len()];
        let mut rest = &mut out[..];
        let mut parts = Vec::with_capacity(chunks.len());
        for chunk in &chunks {
            let (part, tail) = std::mem::take(&mut rest).split_at_mut(chunk.len());
            parts.push(part);
            rest = tail;
        }
        chunks.par_iter().zip(parts).for_each(|(chunk, part)| {
            for (slot, id) in part.iter_mut().zip(chunk.iter()) {
                *slot = code(id);
            }
        });
        out
    }

    pub fn from_frame(categories: Option<&DataFrame>) -> Result<Tree> {
        let Some(df) = categories else {
            return Ok(Tree::default());
        };
        let ids = int_values(df.column("category_id")?)?;
        let parent = int_values(df.column("parent_id")?)?;
        let root = int_values(df.column("root_category_id")?)?;
        let level: Vec<Option<u32>> = df
            .column("level")?
            .cast(&DataType::UInt32)?
            .u32()?
            .iter()
            .collect();
        let ids: Vec<i64> = ids.into_iter().map(|v| v.unwrap_or(-1)).collect();
        let code_of: HashMap<i64, u32> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u32))
            .collect();
        let chains: Vec<Vec<u32>> = (0..ids.len())
            .map(|c| {
                let mut chain = vec![c as u32];
                let mut cur = c;
                // A cycle or a very deep chain stops after as many steps as there are categories.
                while chain.len() <= ids.len() {
                    match parent[cur].and_then(|p| code_of.get(&p)) {
                        Some(&p) if !chain.contains(&p) => {
                            chain.push(p);
                            cur = p as usize;
                        }
                        _ => break,
                    }
                }
                chain
            })
            .collect();
        Ok(Tree {
            ids,
            parent,
            level,
            root,
            ancestor_start: std::iter::once(0)
                .chain(chains.iter().scan(0u32, |at, chain| {
                    *at += chain.len() as u32;
                    Some(*at)
                }))
                .collect(),
            ancestors: chains.concat(),
            code_of,
        })
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Category `code` and its ancestors, nearest first.
    #[inline]
    pub fn ancestors_of(&self, code: u32) -> &[u32] {
        let c = code as usize;
        &self.ancestors[self.ancestor_start[c] as usize..self.ancestor_start[c + 1] as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

fn int_values(col: &Column) -> Result<Vec<Option<i64>>> {
    Ok(col.cast(&DataType::Int64)?.i64()?.iter().collect())
}

/// Compact per-event, per-session and per-visitor arrays of a warehouse's events.
#[derive(Debug, Clone)]
pub struct EventIndex {
    // per event, in (visitor, time) order
    pub ts: Vec<i64>,
    /// Day number minus `first_day`.
    pub day: Vec<u16>,
    pub kind: Vec<u8>,
    pub item: Vec<u32>,
    pub order: Vec<u32>,
    pub revenue: Vec<i64>,
    pub priced: Vec<bool>,
    pub category: Vec<u32>,
    pub root: Vec<u32>,
    // per session: events `session_start[s]..session_start[s + 1]`
    pub session_start: Vec<u32>,
    pub session_flags: Vec<u8>,
    // per visitor: sessions `visitor_session[v]..visitor_session[v + 1]`
    pub visitor_session: Vec<u32>,
    pub is_bot: Vec<bool>,
    pub lifecycle: Vec<u8>,
    // labels
    pub visitor_ids: Column,
    pub item_ids: Column,
    pub root_ids: Vec<Option<i64>>,
    pub first_day: i32,
    pub n_days: usize,
    /// End of the data (last event time), the reference of recency and lifecycle.
    pub end_ts: i64,
    pub tree: Tree,
    pub item_price: Vec<Option<f64>>,
    /// Pre-aggregated headline figures, built on the first headline query.
    pub cube: std::sync::OnceLock<super::cube::HeadlineCube>,
}

pub const HAS_CART: u8 = 1;
pub const HAS_PURCHASE: u8 = 2;

impl EventIndex {
    pub fn n_visitors(&self) -> usize {
        self.is_bot.len()
    }

    pub fn n_items(&self) -> usize {
        self.item_price.len()
    }

    /// Builds the index from the warehouse tables (`events` required; `categories` and `items`
    /// give the tree and current prices when present).
    pub fn new(
        events: &DataFrame,
        categories: Option<&DataFrame>,
        items: Option<&DataFrame>,
    ) -> Result<EventIndex> {
        Self::of_columns(&index_columns(events)?, categories, items)
    }

    /// Builds the index from the [`index_columns`] of the events (of one frame, or of its parts
    /// stacked in order).
    pub fn of_columns(
        events: &DataFrame,
        categories: Option<&DataFrame>,
        items: Option<&DataFrame>,
    ) -> Result<EventIndex> {
        use rayon::prelude::*;
        let n = events.height();
        if n >= u32::MAX as usize {
            return Err(Error::InvalidArgument(format!(
                "{n} events: more than the KPI index holds"
            )));
        }
        // The id columns' codes (hash lookups, the bulk of the work) and the plain per-event columns,
        // side by side.
        let tree = Tree::from_frame(categories)?;
        let codes =
            |name: &str| -> Result<(Vec<u32>, Column)> { dense_codes(events.column(name)?) };
        let (((visitor, item), ((order, root), category)), plain) = rayon::join(
            || {
                rayon::join(
                    || rayon::join(|| codes("visitor_id"), || codes("item_id")),
                    || {
                        rayon::join(
                            || {
                                rayon::join(
                                    || codes("transaction_id"),
                                    || {
                                        dense_codes(
                                            &events
                                                .column("root_category_id")?
                                                .cast(&DataType::Int64)?,
                                        )
                                    },
                                )
                            },
                            || -> Result<Vec<u32>> {
                                let col = events.column("category_id")?.cast(&DataType::Int64)?;
                                Ok(tree.codes_of(col.i64()?))
                            },
                        )
                    },
                )
            },
            || PlainColumns::of(events),
        );
        let ((visitor, visitor_ids), (item, item_ids)) = (visitor?, item?);
        let ((order, _), (root, root_labels), category) = (order?, root?, category?);
        let PlainColumns {
            ts,
            kind,
            revenue,
            priced,
            session_index,
            bot: bot_col,
            first_day,
            last_day,
            end_ts,
            day,
        } = plain?;
        let root_ids: Vec<Option<i64>> = root_labels.i64()?.iter().collect();
        let n_days = (last_day - first_day + 1).max(0) as usize;

        // Runs of visitors and sessions; the events must be sorted by (visitor, time).
        let Runs {
            session_start,
            visitor_session,
            is_bot,
        } = runs(&visitor, &ts, &session_index, &bot_col)?;
        let session_flags: Vec<u8> = session_start
            .par_windows(2)
            .map(|w| {
                kind[w[0] as usize..w[1] as usize]
                    .iter()
                    .fold(0u8, |f, &k| match k {
                        CART => f | HAS_CART,
                        PURCHASE => f | HAS_PURCHASE,
                        _ => f,
                    })
            })
            .collect();
        let lifecycle: Vec<u8> = (0..is_bot.len())
            .into_par_iter()
            .map(|v| {
                let first = ts[session_start[visitor_session[v] as usize] as usize];
                let last = ts[session_start[visitor_session[v + 1] as usize] as usize - 1];
                lifecycle_of(first, last, end_ts)
            })
            .collect();
        let item_price = item_prices(&item_ids, items)?;
        Ok(EventIndex {
            ts,
            day,
            kind,
            item,
            order,
            revenue,
            priced,
            category,
            root,
            session_start,
            session_flags,
            visitor_session,
            is_bot,
            lifecycle,
            visitor_ids,
            item_ids,
            root_ids,
            first_day,
            n_days,
            end_ts,
            tree,
            item_price,
            cube: std::sync::OnceLock::new(),
        })
    }

    /// Events of visitor `v`.
    pub fn visitor_events(&self, v: usize) -> std::ops::Range<usize> {
        let s0 = self.visitor_session[v] as usize;
        let s1 = self.visitor_session[v + 1] as usize;
        self.session_start[s0] as usize..self.session_start[s1] as usize
    }

    /// The headline cube of this index (built on first use).
    pub fn headline_cube(&self) -> &super::cube::HeadlineCube {
        self.cube
            .get_or_init(|| super::cube::HeadlineCube::new(self))
    }

    /// Code of a root category id, if any event has it.
    pub fn root_code(&self, root_id: i64) -> Option<u32> {
        self.root_ids
            .iter()
            .position(|r| *r == Some(root_id))
            .map(|p| p as u32)
    }
}

/// The column of [`index_columns`] that holds each event's kind (view, cart, purchase, other).
const KIND: &str = "kind";

/// The columns of an events table that the KPI index reads, sharing the table's buffers, with the
/// event type as a kind code instead of its name: what a build keeps of its events once they are
/// written (a third of the table's memory). [`EventIndex::of_columns`] takes it.
pub fn index_columns(events: &DataFrame) -> Result<DataFrame> {
    use polars_arrow::array::PrimitiveArray;
    use rayon::prelude::*;
    // Chunk by chunk in parallel (a warehouse's events are read as one chunk per row group).
    let event = events.column("event")?.str()?;
    let arrays: Vec<_> = event.downcast_iter().collect();
    let kinds: Vec<PrimitiveArray<u32>> = arrays
        .par_iter()
        .map(|a| {
            let kinds = a
                .iter()
                .map(|e| match e {
                    Some("view") => VIEW as u32,
                    Some("addtocart") => CART as u32,
                    Some("transaction") => PURCHASE as u32,
                    _ => OTHER as u32,
                })
                .collect::<Vec<u32>>();
            PrimitiveArray::from_vec(kinds)
        })
        .collect();
    let kind = UInt32Chunked::from_chunk_iter(KIND.into(), kinds).into_column();
    let mut columns: Vec<Column> = [
        "visitor_id",
        "timestamp",
        "item_id",
        "transaction_id",
        "category_id",
        "root_category_id",
        "revenue",
        "session_index",
        "is_bot",
    ]
    .iter()
    .map(|name| events.column(name).cloned())
    .collect::<PolarsResult<_>>()?;
    columns.push(kind);
    Ok(DataFrame::new(events.height(), columns)?)
}

/// Where the visitors' and sessions' runs of events start, and each visitor's bot flag.
struct Runs {
    /// First event of each session, then the number of events.
    session_start: Vec<u32>,
    /// First session of each visitor, then the number of sessions.
    visitor_session: Vec<u32>,
    is_bot: Vec<bool>,
}

/// The [`Runs`] of events sorted by (visitor, time): visitor codes must start at 0 and go up by one
/// from run to run, times must not decrease within a visitor. Chunks of events are scanned in
/// parallel, their starts joined in order (a chunk's first event starts a run when it differs from
/// the event before it).
fn runs(visitor: &[u32], ts: &[i64], session_index: &[u32], bot: &[bool]) -> Result<Runs> {
    use rayon::prelude::*;
    let n = visitor.len();
    let chunk = (n / (4 * rayon::current_num_threads())).max(1 << 16);
    // Per chunk, its runs: session starts, and for each visitor starting in it the number of the
    // chunk's sessions before that visitor's first one (no end markers).
    let parts: Vec<Result<Runs>> = (0..n.div_ceil(chunk))
        .into_par_iter()
        .map(|c| {
            let (mut sessions, mut visitors, mut bots) = (Vec::new(), Vec::new(), Vec::new());
            for i in c * chunk..((c + 1) * chunk).min(n) {
                let new_visitor = i == 0 || visitor[i] != visitor[i - 1];
                if new_visitor {
                    let expected = if i == 0 { 0 } else { visitor[i - 1] as u64 + 1 };
                    if visitor[i] as u64 != expected {
                        return Err(Error::Internal(
                            "events are not sorted by visitor: the KPI index needs (visitor, time) order"
                                .into(),
                        ));
                    }
                    visitors.push(sessions.len() as u32);
                    bots.push(bot[i]);
                } else if ts[i] < ts[i - 1] {
                    return Err(Error::Internal(
                        "events of a visitor are not sorted by time".into(),
                    ));
                }
                if new_visitor || session_index[i] != session_index[i - 1] {
                    sessions.push(i as u32);
                }
            }
            Ok(Runs {
                session_start: sessions,
                visitor_session: visitors,
                is_bot: bots,
            })
        })
        .collect();
    let mut session_start = Vec::new();
    let mut visitor_session = Vec::new();
    let mut is_bot = Vec::new();
    for part in parts {
        let part = part?;
        let before = session_start.len() as u32;
        visitor_session.extend(part.visitor_session.iter().map(|&s| before + s));
        session_start.extend_from_slice(&part.session_start);
        is_bot.extend_from_slice(&part.is_bot);
    }
    visitor_session.push(session_start.len() as u32);
    session_start.push(n as u32);
    Ok(Runs {
        session_start,
        visitor_session,
        is_bot,
    })
}

/// The per-event columns of an [`EventIndex`] that need no hashing, each computed in parallel over
/// the events.
struct PlainColumns {
    ts: Vec<i64>,
    kind: Vec<u8>,
    revenue: Vec<i64>,
    priced: Vec<bool>,
    session_index: Vec<u32>,
    bot: Vec<bool>,
    first_day: i32,
    last_day: i32,
    /// The last event's time (0 without events).
    end_ts: i64,
    /// Day number minus `first_day`.
    day: Vec<u16>,
}

impl PlainColumns {
    fn of(events: &DataFrame) -> Result<PlainColumns> {
        use rayon::prelude::*;
        let ts_col = events
            .column("timestamp")?
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?
            .cast(&DataType::Int64)?;
        let ts_ca = ts_col.i64()?;
        if ts_ca.null_count() > 0 {
            return Err(Error::Internal("events.timestamp has a null".into()));
        }
        let ts: Vec<i64> = ts_ca
            .cont_slice()
            .map_or_else(|_| ts_ca.into_no_null_iter().collect(), |s| s.to_vec());
        let kinds = events.column(KIND)?.u32()?;
        let rev_col = events.column("revenue")?.cast(&DataType::Float64)?;
        let rev = rev_col.f64()?;
        let sidx_col = events.column("session_index")?.cast(&DataType::UInt32)?;
        let sidx = sidx_col.u32()?;
        let bots = events.column("is_bot")?.bool()?;
        // First and last time in one pass; the last is also the end of the data.
        let (min_ts, max_ts) = ts
            .par_iter()
            .fold(
                || (i64::MAX, i64::MIN),
                |(lo, hi), &t| (lo.min(t), hi.max(t)),
            )
            .reduce(|| (i64::MAX, i64::MIN), |a, b| (a.0.min(b.0), a.1.max(b.1)));
        let (first_day, last_day, end_ts) = if ts.is_empty() {
            (0, -1, 0)
        } else {
            (day_of(min_ts), day_of(max_ts), max_ts)
        };
        let n_days = (last_day - first_day + 1).max(0) as usize;
        if n_days > u16::MAX as usize {
            return Err(Error::InvalidArgument(format!(
                "the events span {n_days} days; the KPI index holds at most {}",
                u16::MAX
            )));
        }
        // Each column filled in place, one chunk of rows per task.
        let n = ts.len();
        let chunk = (n / (4 * rayon::current_num_threads())).max(1 << 16);
        let mut kind = vec![0u8; n];
        let mut revenue = vec![0i64; n];
        let mut priced = vec![false; n];
        let mut session_index = vec![0u32; n];
        let mut bot = vec![false; n];
        let mut day = vec![0u16; n];
        kind.par_chunks_mut(chunk)
            .zip(revenue.par_chunks_mut(chunk))
            .zip(priced.par_chunks_mut(chunk))
            .zip(session_index.par_chunks_mut(chunk))
            .zip(bot.par_chunks_mut(chunk))
            .zip(day.par_chunks_mut(chunk))
            .enumerate()
            .for_each(|(c, (((((kind, revenue), priced), sessions), bot), day))| {
                let (a, len) = (c * chunk, kind.len());
                for (k, e) in kind.iter_mut().zip(kinds.slice(a as i64, len).iter()) {
                    *k = e.map_or(OTHER, |e| e as u8);
                }
                for ((r, p), v) in revenue
                    .iter_mut()
                    .zip(priced.iter_mut())
                    .zip(rev.slice(a as i64, len).iter())
                {
                    if let Some(v) = v.filter(|v| v.is_finite()) {
                        (*r, *p) = (to_micro(v), true);
                    }
                }
                for (s, v) in sessions.iter_mut().zip(sidx.slice(a as i64, len).iter()) {
                    *s = v.unwrap_or(0);
                }
                for (b, v) in bot.iter_mut().zip(bots.slice(a as i64, len).iter()) {
                    *b = v.unwrap_or(false);
                }
                for (d, &t) in day.iter_mut().zip(&ts[a..a + len]) {
                    *d = (day_of(t) - first_day) as u16;
                }
            });
        Ok(PlainColumns {
            ts,
            kind,
            revenue,
            priced,
            session_index,
            bot,
            first_day,
            last_day,
            end_ts,
            day,
        })
    }
}

/// Current price of each item (code order), from the `items` table when it has one.
fn item_prices(item_ids: &Column, items: Option<&DataFrame>) -> Result<Vec<Option<f64>>> {
    let n = item_ids.len();
    let Some(items) = items else {
        return Ok(vec![None; n]);
    };
    if !items.schema().contains("price") {
        return Ok(vec![None; n]);
    }
    let prices = items.column("price")?.cast(&DataType::Float64)?;
    let prices = prices.f64()?;
    let ids = items.column("item_id")?;
    let mut out = vec![None; n];
    match item_ids.dtype() {
        DataType::String => {
            let ids = ids.cast(&DataType::String)?;
            let map: HashMap<&str, Option<f64>> = ids
                .str()?
                .iter()
                .zip(prices.iter())
                .filter_map(|(i, p)| i.map(|i| (i, p)))
                .collect();
            for (code, id) in item_ids.str()?.iter().enumerate() {
                out[code] = id.and_then(|id| map.get(id).copied().flatten());
            }
        }
        _ => {
            use rayon::prelude::*;
            let ids = ids.cast(&DataType::Int64)?;
            let ids = ids.i64()?;
            let labels = item_ids.cast(&DataType::Int64)?;
            let labels: Vec<Option<i64>> = labels.i64()?.iter().collect();
            // The price of each id (the items table's last row when an id repeats), through the
            // project's IdMap (an array over dense ids), then every item code looked up in parallel.
            let price_of = crate::clean::idmap::IdMap::new(
                ids.iter()
                    .zip(prices.iter())
                    .filter_map(|(i, p)| i.map(|i| (i, p))),
            );
            out.par_iter_mut().zip(&labels).for_each(|(o, id)| {
                *o = id.and_then(|id| price_of.get(id)).flatten();
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_helpers_match_known_dates() {
        // 2015-05-03 was a Sunday; 2015-05-04 a Monday.
        let d = days_from_civil(2015, 5, 3);
        assert_eq!(d, 16_558);
        assert_eq!(civil(d), (2015, 5, 3));
        assert_eq!(weekday(d), 6);
        assert_eq!(weekday(d + 1), 0);
        assert_eq!(week_of(d) + 1, week_of(d + 1));
        assert_eq!(week_of(d + 1) * 7 - 3, d + 1);
        assert_eq!(civil(days_from_civil(2016, 2, 29)), (2016, 2, 29));
        assert_eq!(month_of(d), 2015 * 12 + 4);
        assert_eq!(day_of(-1), -1);
    }

    #[test]
    fn category_codes_by_array_and_by_hash_agree() {
        for base in [0i64, 1 << 40] {
            let ids: Vec<i64> = (0..50).map(|i| base + i * 3).collect();
            let categories = DataFrame::new(
                ids.len(),
                vec![
                    Column::new("category_id".into(), ids.clone()),
                    Column::new("parent_id".into(), vec![None::<i64>; ids.len()]),
                    Column::new("root_category_id".into(), ids.clone()),
                    Column::new("level".into(), vec![0u32; ids.len()]),
                ],
            )
            .unwrap();
            let tree = Tree::from_frame(Some(&categories)).unwrap();
            // Three chunks, nulls, ids outside the tree (below, between and above its ids).
            let mut events =
                Int64Chunked::from_iter((0..40).map(|i| (i % 5 != 0).then_some(base + i)));
            for k in 1..3 {
                let more = Int64Chunked::from_iter((0..30).map(|i| Some(base + k * 100 + i - 50)));
                events.append(&more).unwrap();
            }
            assert_eq!(events.chunks().len(), 3);
            let want: Vec<u32> = events
                .iter()
                .map(|id| {
                    id.and_then(|id| tree.code_of.get(&id).copied())
                        .unwrap_or(NONE)
                })
                .collect();
            assert!(want.iter().filter(|&&c| c != NONE).count() > 20);
            assert_eq!(tree.codes_of(&events), want);
        }
    }

    #[test]
    fn dense_codes_of_ints_and_strings() {
        let c = Column::new("x".into(), [Some(7i64), None, Some(3), Some(7)]);
        let (codes, labels) = dense_codes(&c).unwrap();
        assert_eq!(codes, vec![0, NONE, 1, 0]);
        assert_eq!(labels.i64().unwrap().to_vec(), vec![Some(7), Some(3)]);
        let s = Column::new("x".into(), ["b", "a", "b"]);
        let (codes, labels) = dense_codes(&s).unwrap();
        assert_eq!(codes, vec![0, 1, 0]);
        assert_eq!(
            labels.str().unwrap().iter().collect::<Vec<_>>(),
            vec![Some("b"), Some("a")]
        );
    }

    #[test]
    fn sorted_ids_are_coded_by_runs_like_the_hash_path() {
        // Sorted (the run path), sorted but for the last row, and sorted with a null (hash path).
        let sorted = Column::new("x".into(), [2i64, 2, 5, 9, 9, 9]);
        let (codes, labels) = dense_codes(&sorted).unwrap();
        assert_eq!(codes, vec![0, 0, 1, 2, 2, 2]);
        assert_eq!(
            labels.i64().unwrap().to_vec(),
            vec![Some(2), Some(5), Some(9)]
        );
        let unsorted = Column::new("x".into(), [2i64, 2, 5, 9, 9, 5]);
        let (codes, labels) = dense_codes(&unsorted).unwrap();
        assert_eq!(codes, vec![0, 0, 1, 2, 2, 1]);
        assert_eq!(
            labels.i64().unwrap().to_vec(),
            vec![Some(2), Some(5), Some(9)]
        );
        let null = Column::new("x".into(), [Some(2i64), None, Some(5)]);
        assert_eq!(dense_codes(&null).unwrap().0, vec![0, NONE, 1]);
        // Dense ids (a slot per id) and the same ids spread out (the hash map) code alike.
        let ids: Vec<Option<i64>> = (0..3000i64)
            .map(|r| (r % 11 != 3).then_some((r * 7919) % 997))
            .collect();
        let spread: Vec<Option<i64>> = ids.iter().map(|v| v.map(|v| v << 40)).collect();
        let (dense, dense_labels) = dense_codes(&Column::new("x".into(), ids.clone())).unwrap();
        let (sparse, _) = dense_codes(&Column::new("x".into(), spread)).unwrap();
        assert_eq!(dense, sparse);
        let mut seen = std::collections::HashMap::new();
        let want: Vec<u32> = ids
            .iter()
            .map(|v| match v {
                None => NONE,
                Some(v) => {
                    let next = seen.len() as u32;
                    *seen.entry(*v).or_insert(next)
                }
            })
            .collect();
        assert_eq!(dense, want);
        assert_eq!(dense_labels.len(), seen.len());
        let empty = Column::new("x".into(), Vec::<i64>::new());
        assert!(dense_codes(&empty).unwrap().0.is_empty());
    }
}
