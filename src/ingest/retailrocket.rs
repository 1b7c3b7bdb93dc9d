//! A RetailRocket-format folder: `events.csv`, `item_properties_part*.csv`, `category_tree.csv`, and
//! the price file shoplens adds (`prices.csv`; RetailRocket itself has no prices).
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hashbrown::HashMap;
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use super::dedup::exact_duplicates;
use super::fields::{opt, split};
use super::text::TextFile;
use super::{quarantine_row, FileStats};
use crate::clean::columns::QuarantineRow;
use crate::clean::config::CleanConfig;
use crate::clean::items::{CategoryTree, ItemHistory};
use crate::clean::items::{Prices, Reference};
use crate::clean::pipeline::{EventSource, NOT_DUPLICATE};
use crate::clean::rules::{parse_id, parse_price, present, Rule};
use crate::clean::validate::{validate, Outcome, RawEvent};
use crate::{Error, Result};

pub const EVENTS_HEADER: [&str; 5] = ["timestamp", "visitorid", "event", "itemid", "transactionid"];
pub const PROPERTIES_HEADER: [&str; 4] = ["timestamp", "itemid", "property", "value"];
pub const TREE_HEADER: [&str; 2] = ["categoryid", "parentid"];
pub const PRICES_HEADER: [&str; 2] = ["itemid", "price"];

/// The files of a RetailRocket folder; only `events.csv` is required.
#[derive(Debug, Clone)]
pub struct RawFolder {
    pub dir: PathBuf,
    pub events: PathBuf,
    pub properties: Vec<PathBuf>,
    pub tree: Option<PathBuf>,
    pub prices: Option<PathBuf>,
    pub assignments: Option<PathBuf>,
    pub weights: Option<PathBuf>,
}

impl RawFolder {
    pub fn locate(dir: &Path) -> Result<RawFolder> {
        if !dir.is_dir() {
            return Err(Error::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
            ));
        }
        let events = dir.join("events.csv");
        if !events.is_file() {
            return Err(Error::io(
                &events,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no events.csv"),
            ));
        }
        let mut properties: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("item_properties") && n.ends_with(".csv"))
            })
            .collect();
        properties.sort();
        let some_file = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
        Ok(RawFolder {
            dir: dir.to_path_buf(),
            events,
            properties,
            tree: some_file("category_tree.csv"),
            prices: some_file("prices.csv"),
            assignments: some_file("experiments.csv"),
            weights: some_file("experiment_weights.csv"),
        })
    }
}

/// Validation outcome of every row of `events.csv`, with the exact duplicates among the rejected rows
/// marked. Those among the valid rows are left to the cleaning pipeline: identical lines parse to the
/// same visitor and time, so it finds them in its (visitor, time) sort without hashing every line
/// ([`EventOutcomes::into_source`] hands it the line comparison).
pub struct EventOutcomes {
    pub outcomes: Vec<Outcome>,
    pub duplicate_of: Vec<u32>,
}

impl EventOutcomes {
    /// The pipeline source of these rows: `lines` their source line numbers, `line(row)` their text.
    pub fn into_source<'a>(
        self,
        name: Arc<str>,
        lines: crate::clean::pipeline::Lines,
        line: impl Fn(usize) -> &'a [u8] + Send + Sync + Copy + 'a,
    ) -> EventSource<'a> {
        let mut source = EventSource::new(
            name,
            lines,
            self.outcomes,
            self.duplicate_of,
            Box::new(move |row| crate::clean::rules::lossy(line(row))),
        );
        source.valid_duplicates = Some(Box::new(move |a, b| line(a) == line(b)));
        source
    }
}

/// The validation settings of `events.csv` rows.
pub fn events_validate_config(cfg: &CleanConfig) -> crate::clean::validate::ValidateConfig {
    // RetailRocket times are integer Unix milliseconds, whatever a generic source may allow.
    let mut vcfg = cfg.validate_config();
    vcfg.allow_iso_timestamps = false;
    vcfg.timestamp_unit = crate::clean::validate::TimeUnit::Ms;
    vcfg
}

/// Parses and validates `events.csv`, marking exact duplicates.
pub fn event_outcomes(file: &TextFile, cfg: &CleanConfig) -> EventOutcomes {
    line_outcomes(file.n_rows(), |row| file.line(row), cfg)
}

/// As [`event_outcomes`], over any `n` lines of `events.csv` (`line(row)` without its terminator):
/// the rows of one visitor partition.
pub fn line_outcomes<'a>(
    n: usize,
    line: impl Fn(usize) -> &'a [u8] + Sync,
    cfg: &CleanConfig,
) -> EventOutcomes {
    let vcfg = events_validate_config(cfg);
    let outcomes: Vec<Outcome> = (0..n)
        .into_par_iter()
        .map(|row| parse_event(line(row), &vcfg))
        .collect();
    // Exact duplicates among the rejected rows (by hash, checked for equality); those among the valid
    // rows are found by the pipeline (see [`EventOutcomes`]).
    let rejected: Vec<usize> = (0..n)
        .filter(|&r| matches!(outcomes[r], Outcome::Rejected(..)))
        .collect();
    let hashes: Vec<u64> = rejected.iter().map(|&r| xxh3_64(line(r))).collect();
    let mut duplicate_of = vec![NOT_DUPLICATE; n];
    let of_rejected = exact_duplicates(&hashes, |a, b| line(rejected[a]) == line(rejected[b]));
    for (i, first) in of_rejected.into_iter().enumerate() {
        if first != NOT_DUPLICATE {
            duplicate_of[rejected[i]] = rejected[first as usize] as u32;
        }
    }
    EventOutcomes {
        outcomes,
        duplicate_of,
    }
}

pub fn parse_event(line: &[u8], vcfg: &crate::clean::validate::ValidateConfig) -> Outcome {
    match split::<5>(line, false) {
        Ok(f) => validate(
            &RawEvent {
                timestamp: opt(f[0]),
                visitor: opt(f[1]),
                event: opt(f[2]),
                item: opt(f[3]),
                order: opt(f[4]),
                price: None,
            },
            vcfg,
        ),
        Err((rule, detail)) => Outcome::rejected(rule, detail),
    }
}

/// The validated rows of `events.csv` as a pipeline source.
pub fn event_source(file: &TextFile, parsed: EventOutcomes) -> EventSource<'_> {
    parsed.into_source(
        Arc::from(file.file_name()),
        crate::clean::pipeline::Lines::Consecutive {
            first: TextFile::line_no(0),
            n: file.n_rows(),
        },
        move |row| file.line(row),
    )
}

/// Reference data of the folder with its quarantine and per-file accounting.
pub struct ReferenceRead {
    pub reference: Reference,
    pub quarantine: Vec<QuarantineRow>,
    pub files: Vec<FileStats>,
    pub property_rows: PropertyCounts,
    /// Assignments and planned weights, when the folder has them.
    pub experiments: Option<(
        crate::ingest::assignments::AssignmentColumns,
        polars::prelude::DataFrame,
    )>,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct PropertyCounts {
    pub categoryid: u64,
    pub available: u64,
    pub price: u64,
    pub other: u64,
    pub items: u64,
    pub items_changing_category: u64,
}

impl ReferenceRead {
    /// No reference data: categories null, no prices.
    pub fn empty() -> Self {
        ReferenceRead {
            reference: Reference::default(),
            quarantine: Vec::new(),
            files: Vec::new(),
            property_rows: PropertyCounts::default(),
            experiments: None,
        }
    }
}

pub fn read_reference(folder: &RawFolder, cfg: &CleanConfig) -> Result<ReferenceRead> {
    let mut quarantine = Vec::new();
    let mut files = Vec::new();

    let (tree, tree_q, tree_rows) = match &folder.tree {
        Some(path) => read_tree(path)?,
        None => (CategoryTree::default(), Vec::new(), 0),
    };
    if let Some(path) = &folder.tree {
        files.push(FileStats::new(&file_name(path), tree_rows, &tree_q));
    }
    quarantine.extend(tree_q);

    let mut counts = PropertyCounts::default();
    // Each file parsed in blocks; the blocks of all files then go once into vectors of their exact
    // sizes (no per-file concatenation and regrowth).
    let mut blocks: Vec<Properties> = Vec::new();
    for (seq, path) in folder.properties.iter().enumerate() {
        let file = TextFile::open(path, &PROPERTIES_HEADER)?;
        let mut parsed = read_properties(&file, cfg, seq as u64);
        let quarantine_rows: Vec<QuarantineRow> = parsed
            .iter_mut()
            .flat_map(|b| std::mem::take(&mut b.quarantine))
            .collect();
        files.push(FileStats::new(
            &file.file_name(),
            file.n_rows(),
            &quarantine_rows,
        ));
        quarantine.extend(quarantine_rows);
        blocks.extend(parsed);
    }
    let total = |f: fn(&Properties) -> usize| blocks.iter().map(f).sum::<usize>();
    let mut cat_rows = Vec::with_capacity(total(|p| p.categories.len()));
    let mut avail_rows = Vec::with_capacity(total(|p| p.available.len()));
    let mut price_rows = Vec::with_capacity(total(|p| p.prices.len()));
    let mut items = ItemSet::default();
    for b in blocks {
        counts.other += b.other;
        cat_rows.extend(b.categories);
        avail_rows.extend(b.available);
        price_rows.extend(b.prices);
        items.union(b.items);
    }
    counts.categoryid = cat_rows.len() as u64;
    counts.available = avail_rows.len() as u64;
    counts.price = price_rows.len() as u64;
    counts.items = items.count() as u64;
    let categories = ItemHistory::new(cat_rows);
    counts.items_changing_category = categories.n_changed() as u64;

    let prices = match (&cfg.price_property, &folder.prices) {
        (Some(_), _) => Prices::History(ItemHistory::new(price_rows)),
        (None, Some(path)) => {
            let (map, q, rows) = read_prices(path)?;
            files.push(FileStats::new(&file_name(path), rows, &q));
            quarantine.extend(q);
            Prices::PerItem(crate::clean::idmap::IdMap::new(map))
        }
        (None, None) => Prices::None,
    };
    Ok(ReferenceRead {
        reference: Reference {
            tree,
            categories,
            available: ItemHistory::new(avail_rows),
            prices,
        },
        quarantine,
        files,
        property_rows: counts,
        experiments: None,
    })
}

/// Distinct item ids (non-negative: `parse_id` refuses others): a bitmap of the ids below
/// [`ItemSet::DENSE`], a list of the larger ones. Each block of rows keeps its own (a few tens of KB
/// for RetailRocket's ids), then the blocks' sets are joined: no list of every row's id, no serial
/// pass over one.
#[derive(Default)]
struct ItemSet {
    bits: Vec<u64>,
    large: Vec<i64>,
}

impl ItemSet {
    /// A block's bitmap is at most 512 KB: no more than the list of a block's ids it replaces.
    const DENSE: i64 = 1 << 22;

    #[inline]
    fn insert(&mut self, id: i64) {
        if (0..Self::DENSE).contains(&id) {
            let word = id as usize / 64;
            if word >= self.bits.len() {
                self.bits.resize((word + 1).max(2 * self.bits.len()), 0);
            }
            self.bits[word] |= 1 << (id % 64);
        } else {
            self.large.push(id);
        }
    }

    fn union(&mut self, o: ItemSet) {
        if self.bits.len() < o.bits.len() {
            self.bits.resize(o.bits.len(), 0);
        }
        for (a, b) in self.bits.iter_mut().zip(&o.bits) {
            *a |= b;
        }
        self.large.extend(o.large);
    }

    fn count(mut self) -> usize {
        self.large.par_sort_unstable();
        self.large.dedup();
        self.bits
            .iter()
            .map(|w| w.count_ones() as usize)
            .sum::<usize>()
            + self.large.len()
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

type Row<T> = (i64, i64, u64, T);

#[derive(Default)]
struct Properties {
    categories: Vec<Row<i64>>,
    available: Vec<Row<bool>>,
    prices: Vec<Row<f64>>,
    other: u64,
    items: ItemSet,
    quarantine: Vec<QuarantineRow>,
}

enum PropertyRow {
    Category(Row<i64>),
    Available(Row<bool>),
    Price(Row<f64>),
    Other(i64),
}

/// Rows of a properties file parsed by one task (whole blocks, so the rows keep their file order).
const PROPERTY_BLOCK: usize = 1 << 16;

/// Parses a properties file in blocks of rows, in parallel; the blocks are in file order.
fn read_properties(file: &TextFile, cfg: &CleanConfig, file_seq: u64) -> Vec<Properties> {
    let vcfg = cfg.validate_config();
    let source: Arc<str> = Arc::from(file.file_name());
    let price_name = cfg.price_property.as_deref();
    let n = file.n_rows();
    (0..n.div_ceil(PROPERTY_BLOCK))
        .into_par_iter()
        .map(|b| {
            let mut out = Properties::default();
            for row in b * PROPERTY_BLOCK..((b + 1) * PROPERTY_BLOCK).min(n) {
                let seq = (file_seq << 40) | row as u64;
                match parse_property(file.line(row), &vcfg, price_name, seq) {
                    Ok(r) => out.push(r),
                    Err((rule, detail)) => out.quarantine.push(quarantine_row(
                        &source,
                        TextFile::line_no(row),
                        rule,
                        detail,
                        file.line(row),
                    )),
                }
            }
            out
        })
        .collect()
}

impl Properties {
    fn push(&mut self, row: PropertyRow) {
        match row {
            PropertyRow::Category(c) => {
                self.items.insert(c.0);
                self.categories.push(c);
            }
            PropertyRow::Available(a) => {
                self.items.insert(a.0);
                self.available.push(a);
            }
            PropertyRow::Price(p) => {
                self.items.insert(p.0);
                self.prices.push(p);
            }
            PropertyRow::Other(item) => {
                self.items.insert(item);
                self.other += 1;
            }
        }
    }
}

fn parse_property(
    line: &[u8],
    vcfg: &crate::clean::validate::ValidateConfig,
    price_name: Option<&str>,
    seq: u64,
) -> std::result::Result<PropertyRow, (Rule, String)> {
    let f = split::<4>(line, true)?;
    let (Some(ts), Some(item), Some(property)) = (
        present(Some(f[0])),
        present(Some(f[1])),
        present(Some(f[2])),
    ) else {
        return Err((
            Rule::MissingField,
            "empty timestamp, itemid or property".into(),
        ));
    };
    let ts = crate::clean::rules::parse_epoch_ms(
        ts,
        "timestamp",
        vcfg.min_timestamp_ms,
        vcfg.max_timestamp_ms,
    )?;
    let item = parse_id(item, "itemid")?;
    let value = present(Some(f[3]));
    let bad = |what: &str| {
        (
            Rule::BadValue,
            format!("{what}: '{}'", crate::clean::rules::lossy(f[3])),
        )
    };
    match property {
        b"categoryid" => {
            let v = value.ok_or_else(|| bad("empty categoryid"))?;
            let c = parse_id(v, "categoryid")
                .map_err(|_| bad("categoryid is not a non-negative integer"))?;
            Ok(PropertyRow::Category((item, ts, seq, c)))
        }
        b"available" => match value {
            Some(b"1") => Ok(PropertyRow::Available((item, ts, seq, true))),
            Some(b"0") => Ok(PropertyRow::Available((item, ts, seq, false))),
            _ => Err(bad("available is not 0 or 1")),
        },
        p if price_name.is_some_and(|n| n.as_bytes() == p) => {
            let v = value.ok_or_else(|| bad("empty price"))?;
            let price = parse_price(v, "price")
                .map_err(|_| bad("price is not a finite non-negative number"))?;
            Ok(PropertyRow::Price((item, ts, seq, price)))
        }
        _ => Ok(PropertyRow::Other(item)),
    }
}

type TreeRead = (CategoryTree, Vec<QuarantineRow>, usize);

fn read_tree(path: &Path) -> Result<TreeRead> {
    let file = TextFile::open(path, &TREE_HEADER)?;
    let source: Arc<str> = Arc::from(file.file_name());
    let mut seen: HashMap<i64, u64> = HashMap::new();
    let mut pairs = Vec::new();
    let mut quarantine = Vec::new();
    for row in 0..file.n_rows() {
        let line = file.line(row);
        let line_no = TextFile::line_no(row);
        let parsed = split::<2>(line, false).and_then(|f| {
            let cat =
                present(Some(f[0])).ok_or((Rule::MissingField, "empty categoryid".to_string()))?;
            let cat = parse_id(cat, "categoryid")?;
            let parent = present(Some(f[1]))
                .map(|p| parse_id(p, "parentid"))
                .transpose()?;
            if let Some(first) = seen.get(&cat) {
                return Err((
                    Rule::DuplicateKey,
                    format!("category {cat} already defined on line {first}"),
                ));
            }
            Ok((cat, parent))
        });
        match parsed {
            Ok((cat, parent)) => {
                seen.insert(cat, line_no);
                pairs.push((cat, parent));
            }
            Err((rule, detail)) => {
                quarantine.push(quarantine_row(&source, line_no, rule, detail, line))
            }
        }
    }
    Ok((CategoryTree::new(pairs), quarantine, file.n_rows()))
}

type PricesRead = (HashMap<i64, f64>, Vec<QuarantineRow>, usize);

fn read_prices(path: &Path) -> Result<PricesRead> {
    let file = TextFile::open(path, &PRICES_HEADER)?;
    let source: Arc<str> = Arc::from(file.file_name());
    let parsed: Vec<std::result::Result<(i64, f64), (Rule, String)>> = (0..file.n_rows())
        .into_par_iter()
        .map(|row| {
            let f = split::<2>(file.line(row), false)?;
            let (Some(item), Some(price)) = (present(Some(f[0])), present(Some(f[1]))) else {
                return Err((Rule::MissingField, "empty itemid or price".to_string()));
            };
            Ok((parse_id(item, "itemid")?, parse_price(price, "price")?))
        })
        .collect();
    let mut map: HashMap<i64, f64> = HashMap::with_capacity(file.n_rows());
    let mut first_line: HashMap<i64, u64> = HashMap::with_capacity(file.n_rows());
    let mut quarantine = Vec::new();
    for (row, parsed) in parsed.into_iter().enumerate() {
        let line_no = TextFile::line_no(row);
        let checked = parsed.and_then(|(item, price)| match first_line.get(&item) {
            Some(first) => Err((
                Rule::DuplicateKey,
                format!("item {item} already priced on line {first}"),
            )),
            None => Ok((item, price)),
        });
        match checked {
            Ok((item, price)) => {
                map.insert(item, price);
                first_line.insert(item, line_no);
            }
            Err((rule, detail)) => quarantine.push(quarantine_row(
                &source,
                line_no,
                rule,
                detail,
                file.line(row),
            )),
        }
    }
    Ok((map, quarantine, file.n_rows()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_sets_count_distinct_ids_across_blocks() {
        let ids: Vec<i64> = (0..5_000i64)
            .map(|i| match i % 4 {
                0 => i % 700,
                1 => ItemSet::DENSE - 1 - i % 3,
                2 => ItemSet::DENSE + i % 11,
                _ => i64::MAX - i % 5,
            })
            .collect();
        let want = ids.iter().collect::<std::collections::HashSet<_>>().len();
        let mut all = ItemSet::default();
        for block in ids.chunks(333) {
            let mut set = ItemSet::default();
            block.iter().for_each(|&i| set.insert(i));
            all.union(set);
        }
        assert_eq!(all.count(), want);
        assert_eq!(ItemSet::default().count(), 0);
    }
}
