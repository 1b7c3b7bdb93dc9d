//! Synthetic clickstream in the RetailRocket format (SPEC §1.3).
//!
//! The marginals match the published figures of the real data set at scale 1.0 and every count is
//! linear in the scale. Known effects are injected (a real experiment lift, an A/A test, a sample
//! ratio mismatch, an outage, bots, duplicate and malformed rows) and recorded in `truth.json`.
//! Output is a pure function of (seed, scale, inject_anomalies): work is split into fixed-size
//! chunks, each with its own random stream, and merged in a thread-independent order.

mod anomalies;
mod bots;
mod calendar;
mod catalog;
mod error;
mod event;
mod events_csv;
mod experiments;
mod model;
mod properties;
mod sizes;
mod table;
mod tables;
#[cfg(test)]
mod tests;
mod tree;
mod truth;
mod visitors;

pub use error::GenerateError;

use anomalies::{InjectedKind, NEAR_DUPLICATE_WINDOW_MS, RULES};
use calendar::{Calendar, END_MS, START_MS};
use catalog::Catalog;
use event::{Event, EventKind, NO_ORDER};
use experiments::{Assignment, CHECKOUT, PLANNED_WEIGHT, RECS};
use model::{VisitorModel, REVIEW_P};
use rayon::prelude::*;
use sizes::Sizes;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use tree::CategoryTree;
use truth::{Bots, Counts, ExperimentTruth, Lines, NearDuplicates, Outage, Truth};
use visitors::{ChunkOutput, World, CHUNK_VISITORS};

/// Largest accepted scale (about 28 M events at 10; 100 is already a stress test).
pub const MAX_SCALE: f64 = 100.0;

#[derive(Clone, Debug, PartialEq)]
pub struct GenerateConfig {
    /// 1.0 reproduces the size of the real data set; every count is linear in it.
    pub scale: f64,
    pub seed: u64,
    /// Bots, duplicate/near-duplicate/malformed rows, the outage and the SRM.
    pub inject_anomalies: bool,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        GenerateConfig {
            scale: 1.0,
            seed: 42,
            inject_anomalies: true,
        }
    }
}

#[derive(Clone, Debug)]
pub struct GenerateSummary {
    pub out_dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// CSV file name -> data rows written (header excluded).
    pub rows: BTreeMap<String, u64>,
}

/// Chunks simulated between two progress reports.
const CHUNKS_PER_WAVE: usize = 16;

/// Writes the data set into `out_dir` (created if missing). `progress(step, done, total)` is
/// called a few dozen times; the engine prints nothing itself.
pub fn generate(
    out_dir: &Path,
    cfg: &GenerateConfig,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<GenerateSummary, GenerateError> {
    if !cfg.scale.is_finite() || cfg.scale <= 0.0 || cfg.scale > MAX_SCALE {
        return Err(GenerateError::InvalidConfig(format!(
            "scale must be a finite number in (0, {MAX_SCALE}], got {}",
            cfg.scale
        )));
    }
    fs::create_dir_all(out_dir).map_err(GenerateError::io(out_dir))?;
    let sizes = Sizes::new(cfg.scale, cfg.inject_anomalies);
    let seed = cfg.seed;

    let calendar = Calendar::new(seed, cfg.inject_anomalies);
    let tree = CategoryTree::generate(seed);
    let visitor_ids = catalog::visitor_ids(seed, sizes.visitors);
    let bot_views: f64 = (0..sizes.bots)
        .map(|b| bots::planned_views(seed, b) as f64)
        .sum();
    let model = VisitorModel::new(&sizes, bot_views);
    let sessions = sizes.ordinary_visitors() as f64 * model.sessions_per_visitor();
    let fresh_draws =
        sessions * (1.0 + (model.views_per_session() - 1.0) * (1.0 - REVIEW_P)) + bot_views;
    let catalog = Catalog::new(seed, &sizes, fresh_draws);
    let specs = experiments::specs(cfg.inject_anomalies);
    let world = World {
        calendar: &calendar,
        catalog: &catalog,
        model: &model,
        specs: &specs,
    };

    let simulated = simulate(&world, seed, &sizes, &visitor_ids, progress);
    let bot_ids: Vec<u32> = visitor_ids[sizes.ordinary_visitors()..].to_vec();
    let bot_events = simulated.bot_events;
    let checkout_probability_sum = simulated.checkout_probability_sum;
    let mut assignments = simulated.assignments;
    let mut events = simulated.events;
    events.par_sort_unstable_by_key(Event::sort_key);
    let orders = renumber_orders(&mut events, simulated.orders);
    let counts = count_clean(&events, &sizes, orders);

    let is_bot = |v: u32| bot_ids.contains(&v);
    let injected = anomalies::plan(seed, &sizes, &events, &is_bot, orders);
    let mut files = Vec::new();
    let mut rows = BTreeMap::new();
    let events_path = out_dir.join("events.csv");
    events_csv::write(&events_path, &events, &injected, progress)?;
    rows.insert(
        "events.csv".to_string(),
        (events.len() + injected.len()) as u64,
    );
    files.push(events_path);
    let injected_lines = events_csv::injected_lines(&injected);
    drop(events);

    let items = write_items(out_dir, seed, &catalog, &tree, progress)?;
    for (name, n) in ["item_properties_part1.csv", "item_properties_part2.csv"]
        .iter()
        .zip(items.rows)
    {
        rows.insert(name.to_string(), n);
        files.push(out_dir.join(name));
    }
    let mut prices = items.prices;
    let tables: [(&str, Vec<u8>, u64); 4] = [
        (
            "category_tree.csv",
            category_tree_csv(&tree),
            tree.ids.len() as u64,
        ),
        (
            "prices.csv",
            tables::prices_csv(&mut prices),
            prices.len() as u64,
        ),
        (
            "experiments.csv",
            tables::experiments_csv(&specs, &mut assignments),
            assignments.len() as u64,
        ),
        (
            "experiment_weights.csv",
            tables::weights_csv(&specs),
            2 * specs.len() as u64,
        ),
    ];
    for (name, bytes, n) in tables {
        let path = out_dir.join(name);
        fs::write(&path, bytes).map_err(GenerateError::io(&path))?;
        rows.insert(name.to_string(), n);
        files.push(path);
    }
    progress("tables", 1, 1);

    let checkout_assigned = assignments
        .iter()
        .filter(|a| usize::from(a.experiment) == CHECKOUT)
        .count();
    let truth = Truth {
        generator_version: truth::GENERATOR_VERSION,
        seed,
        scale: cfg.scale,
        start_ms: START_MS,
        end_ms: END_MS,
        counts,
        exact_duplicates: lines_of(&injected, &injected_lines, InjectedKind::ExactDuplicate),
        near_duplicates: {
            let l = lines_of(&injected, &injected_lines, InjectedKind::NearDuplicate);
            NearDuplicates {
                count: l.count,
                window_ms: NEAR_DUPLICATE_WINDOW_MS,
                lines: l.lines,
            }
        },
        malformed: RULES
            .iter()
            .enumerate()
            .map(|(r, &name)| {
                (
                    name,
                    lines_of(&injected, &injected_lines, InjectedKind::Malformed(r)),
                )
            })
            .collect(),
        bots: Bots {
            visitor_ids: {
                let mut ids = bot_ids.clone();
                ids.sort_unstable();
                ids
            },
            events: bot_events,
        },
        outage: calendar.outage.map(|(start_ms, end_ms)| Outage {
            start_ms,
            end_ms,
            conversion_multiplier: calendar::OUTAGE_MULTIPLIER,
        }),
        category_changes: items.category_changes,
        experiments: experiment_truth(&specs, checkout_probability_sum, checkout_assigned),
    };
    let truth_path = out_dir.join("truth.json");
    let mut json = serde_json::to_vec_pretty(&truth).expect("truth serialises");
    json.push(b'\n');
    fs::write(&truth_path, json).map_err(GenerateError::io(&truth_path))?;
    files.push(truth_path);

    Ok(GenerateSummary {
        out_dir: out_dir.to_path_buf(),
        files,
        rows,
    })
}

struct Simulated {
    events: Vec<Event>,
    orders: u32,
    assignments: Vec<Assignment>,
    checkout_probability_sum: f64,
    bot_events: u64,
}

/// Runs every visitor chunk and every bot, and concatenates their output in index order.
fn simulate(
    world: &World,
    seed: u64,
    sizes: &Sizes,
    visitor_ids: &[u32],
    progress: &dyn Fn(&str, u64, u64),
) -> Simulated {
    let ordinary = &visitor_ids[..sizes.ordinary_visitors()];
    let n_chunks = ordinary.len().div_ceil(CHUNK_VISITORS);
    let total = visitor_ids.len() as u64;
    let mut outputs: Vec<ChunkOutput> = Vec::with_capacity(n_chunks + sizes.bots);
    let mut first = 0;
    while first < n_chunks {
        let last = (first + CHUNKS_PER_WAVE).min(n_chunks);
        let wave: Vec<ChunkOutput> = (first..last)
            .into_par_iter()
            .map(|c| {
                let ids =
                    &ordinary[c * CHUNK_VISITORS..((c + 1) * CHUNK_VISITORS).min(ordinary.len())];
                visitors::simulate_chunk(world, seed, c, ids)
            })
            .collect();
        outputs.extend(wave);
        first = last;
        progress(
            "visitors",
            (first * CHUNK_VISITORS).min(ordinary.len()) as u64,
            total,
        );
    }
    let bot_outputs: Vec<ChunkOutput> = (0..sizes.bots)
        .into_par_iter()
        .map(|b| {
            bots::simulate_bot(
                seed,
                b,
                visitor_ids[ordinary.len() + b],
                world.catalog,
                world.specs,
            )
        })
        .collect();
    let bot_events = bot_outputs.iter().map(|o| o.events.len() as u64).sum();
    outputs.extend(bot_outputs);
    progress("visitors", total, total);

    let n_events = outputs.iter().map(|o| o.events.len()).sum();
    let mut simulated = Simulated {
        events: Vec::with_capacity(n_events),
        orders: 0,
        assignments: Vec::new(),
        checkout_probability_sum: 0.0,
        bot_events,
    };
    for out in outputs {
        let offset = simulated.orders;
        simulated.events.extend(out.events.into_iter().map(|mut e| {
            if e.order != NO_ORDER {
                e.order += offset;
            }
            e
        }));
        simulated.orders += out.orders;
        simulated.assignments.extend(out.assignments);
        simulated.checkout_probability_sum += out.checkout_probability_sum;
    }
    simulated
}

/// Order ids in order of first appearance in the sorted file (0, 1, 2, ...); returns their count.
fn renumber_orders(events: &mut [Event], provisional: u32) -> u32 {
    let mut map = vec![NO_ORDER; provisional as usize];
    let mut next = 0;
    for e in events.iter_mut().filter(|e| e.order != NO_ORDER) {
        let slot = &mut map[e.order as usize];
        if *slot == NO_ORDER {
            *slot = next;
            next += 1;
        }
        e.order = *slot;
    }
    next
}

fn count_clean(events: &[Event], sizes: &Sizes, orders: u32) -> Counts {
    let mut visitors = vec![false; sizes.visitors];
    let mut buyers = vec![false; sizes.visitors];
    let mut items = vec![false; sizes.item_id_space];
    let mut counts = Counts {
        events_clean: events.len() as u64,
        orders: u64::from(orders),
        items_in_properties: sizes.catalog_items as u64,
        categories: sizes::CATEGORIES as u64,
        ..Counts::default()
    };
    for e in events {
        visitors[e.visitor as usize] = true;
        items[e.item as usize] = true;
        match e.kind {
            EventKind::View => counts.view += 1,
            EventKind::AddToCart => counts.addtocart += 1,
            EventKind::Transaction => {
                counts.transaction += 1;
                buyers[e.visitor as usize] = true;
            }
        }
    }
    let distinct = |flags: &[bool]| flags.iter().filter(|&&f| f).count() as u64;
    counts.visitors = distinct(&visitors);
    counts.buyers = distinct(&buyers);
    counts.items_with_events = distinct(&items);
    counts
}

fn lines_of(injected: &[anomalies::Injected], lines: &[u64], kind: InjectedKind) -> Lines {
    let lines: Vec<u64> = injected
        .iter()
        .zip(lines)
        .filter(|(r, _)| r.kind == kind)
        .map(|(_, &l)| l)
        .collect();
    Lines {
        count: lines.len() as u64,
        lines,
    }
}

struct ItemFiles {
    rows: [u64; 2],
    category_changes: u64,
    prices: Vec<(u32, u64)>,
}

fn write_items(
    out_dir: &Path,
    seed: u64,
    catalog: &Catalog,
    tree: &CategoryTree,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<ItemFiles, GenerateError> {
    use std::io::Write;
    let paths = [
        out_dir.join("item_properties_part1.csv"),
        out_dir.join("item_properties_part2.csv"),
    ];
    let mut writers = Vec::new();
    for path in &paths {
        let file = fs::File::create(path).map_err(GenerateError::io(path))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        w.write_all(b"timestamp,itemid,property,value\n")
            .map_err(GenerateError::io(path))?;
        writers.push(w);
    }
    let n_items = catalog.item_ids.len();
    let n_chunks = n_items.div_ceil(properties::ITEMS_PER_CHUNK);
    let mut result = ItemFiles {
        rows: [0, 0],
        category_changes: 0,
        prices: Vec::with_capacity(n_items),
    };
    let mut first = 0;
    while first < n_chunks {
        let last = (first + CHUNKS_PER_WAVE).min(n_chunks);
        let chunks: Vec<properties::ItemChunk> = (first..last)
            .into_par_iter()
            .map(|c| properties::generate_chunk(seed, c, catalog, tree))
            .collect();
        for chunk in chunks {
            for part in 0..2 {
                writers[part]
                    .write_all(&chunk.parts[part])
                    .map_err(GenerateError::io(&paths[part]))?;
                result.rows[part] += chunk.rows[part];
            }
            result.category_changes += chunk.category_changes;
            result.prices.extend(chunk.prices);
        }
        first = last;
        let done = (first * properties::ITEMS_PER_CHUNK).min(n_items) as u64;
        progress("item_properties", done, n_items as u64);
    }
    for (w, path) in writers.iter_mut().zip(&paths) {
        w.flush().map_err(GenerateError::io(path))?;
    }
    Ok(result)
}

fn category_tree_csv(tree: &CategoryTree) -> Vec<u8> {
    let mut buf = Vec::new();
    tree.write_csv(&mut buf);
    buf
}

/// What a conversion lift does to every per-user metric of the analysis (`shoplens.analyze`).
/// A treated user converts after assignment with probability (1 + lift) p instead of p, and a
/// converting user's purchases are drawn the same way in both arms (`sample_given_any`, same
/// basket sizes and items), so every count and sum of purchases per assigned user gains the same
/// (1 + lift), while revenue per order (AOV, a ratio over converting users only) and sessions
/// (which purchases never add) are unchanged in expectation.
fn metric_lifts(lift: f64) -> BTreeMap<&'static str, f64> {
    BTreeMap::from([
        ("conversion", lift),
        ("orders", lift),
        ("items", lift),
        ("revenue", lift),
        ("aov", 0.0),
        ("sessions", 0.0),
    ])
}

fn experiment_truth(
    specs: &[experiments::ExperimentSpec; 3],
    checkout_probability_sum: f64,
    checkout_assigned: usize,
) -> BTreeMap<&'static str, ExperimentTruth> {
    specs
        .iter()
        .enumerate()
        .map(|(e, spec)| {
            let [first, second] = spec.variants;
            let expected_conversion = (e == CHECKOUT).then(|| {
                let p0 = checkout_probability_sum / checkout_assigned.max(1) as f64;
                BTreeMap::from([(first, p0), (second, p0 * (1.0 + spec.lift))])
            });
            let truth = ExperimentTruth {
                variants: spec.variants,
                planned_weights: BTreeMap::from([
                    (first, PLANNED_WEIGHT),
                    (second, PLANNED_WEIGHT),
                ]),
                start_ms: spec.start_ms,
                end_ms: spec.end_ms,
                metric: "conversion",
                true_relative_lift: BTreeMap::from([(second, spec.lift)]),
                true_relative_lifts: BTreeMap::from([(second, metric_lifts(spec.lift))]),
                expected_conversion,
                srm: spec.lost_fraction > 0.0,
                lost_fraction: (e == RECS).then(|| BTreeMap::from([(second, spec.lost_fraction)])),
            };
            (spec.name, truth)
        })
        .collect()
}
