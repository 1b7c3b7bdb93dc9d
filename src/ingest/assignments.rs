//! Experiment assignments (`experiments.csv`: experiment, user_id, variant, assigned_at in Unix ms)
//! and planned weights (`experiment_weights.csv`: experiment, variant, weight), validated like events.
use std::path::Path;
use std::sync::Arc;

use hashbrown::HashMap;
use polars::prelude::*;

use crate::frame::{datetime_ms, owned};
use rayon::prelude::*;

use super::fields::split;
use super::text::TextFile;
use super::{quarantine_row, FileStats};
use crate::clean::columns::QuarantineRow;
use crate::clean::rules::{lossy, parse_epoch_ms, parse_id, present, Rule};
use crate::clean::tables::coded_strings;
use crate::clean::CleanConfig;
use crate::Result;

pub const ASSIGNMENTS_HEADER: [&str; 4] = ["experiment", "user_id", "variant", "assigned_at"];
pub const WEIGHTS_HEADER: [&str; 3] = ["experiment", "variant", "weight"];

pub struct AssignmentsRead {
    pub assignments: DataFrame,
    pub weights: DataFrame,
    pub quarantine: Vec<QuarantineRow>,
    pub files: Vec<FileStats>,
}

struct Assignment<'a> {
    experiment: &'a str,
    user: i64,
    variant: &'a str,
    at: i64,
}

fn parse_assignment<'a>(
    line: &'a [u8],
    cfg: &CleanConfig,
) -> std::result::Result<Assignment<'a>, (Rule, String)> {
    let f = split::<4>(line, false)?;
    let (Some(exp), Some(user), Some(variant), Some(at)) = (
        present(Some(f[0])),
        present(Some(f[1])),
        present(Some(f[2])),
        present(Some(f[3])),
    ) else {
        return Err((
            Rule::MissingField,
            "empty experiment, user_id, variant or assigned_at".into(),
        ));
    };
    let at = parse_epoch_ms(
        at,
        "assigned_at",
        cfg.min_timestamp_ms,
        cfg.max_timestamp_ms,
    )?;
    let user = parse_id(user, "user_id")?;
    // split() has checked UTF-8 for non-ASCII lines.
    let text = |b: &'a [u8]| std::str::from_utf8(b).unwrap_or_default();
    Ok(Assignment {
        experiment: text(exp),
        user,
        variant: text(variant),
        at,
    })
}

/// Reads the assignment file and, if present, the weights file. A user assigned twice to one
/// experiment keeps the first assignment; the later rows are quarantined as `duplicate_key`.
pub fn read_assignments(
    assignments: &Path,
    weights: Option<&Path>,
    cfg: &CleanConfig,
) -> Result<AssignmentsRead> {
    let file = TextFile::open(assignments, &ASSIGNMENTS_HEADER)?;
    let source: Arc<str> = Arc::from(file.file_name());
    let parsed: Vec<_> = (0..file.n_rows())
        .into_par_iter()
        .map(|row| parse_assignment(file.line(row), cfg))
        .collect();
    // A repeated (experiment, user) pair, found by a parallel sort on integer keys (experiment names
    // interned: there are few): the first row stays.
    let names = distinct_in_order(&parsed, |a| a.experiment);
    let code = |list: &[&str], v: &str| list.iter().position(|n| *n == v).unwrap_or(0) as u32;
    let exp_index: Vec<u32> = parsed
        .par_iter()
        .map(|p| match p {
            Ok(a) => code(&names, a.experiment),
            Err(_) => u32::MAX,
        })
        .collect();
    // Every row gets a key (invalid rows the experiment code u32::MAX, sorted last and skipped): an
    // indexed map collects straight into its vector, a filter would gather pieces and copy them.
    let mut keys: Vec<(u32, i64, u32)> = parsed
        .par_iter()
        .enumerate()
        .map(|(row, p)| match p {
            Ok(a) => (exp_index[row], a.user, row as u32),
            Err(_) => (u32::MAX, 0, row as u32),
        })
        .collect();
    keys.par_sort_unstable();
    let mut first_of = vec![u32::MAX; parsed.len()];
    for run in keys.chunk_by(|a, b| a.0 == b.0 && a.1 == b.1) {
        if run[0].0 == u32::MAX {
            break;
        }
        for k in &run[1..] {
            first_of[k.2 as usize] = run[0].2;
        }
    }
    drop(keys);
    // Variant names interned too: the string columns are built from codes (see `coded_strings`).
    let variants = distinct_in_order(&parsed, |a| a.variant);
    // The kept rows (valid, the first assignment of their user in their experiment), column by
    // column in parallel, in file order.
    let kept: Vec<u32> = (0..parsed.len() as u32)
        .into_par_iter()
        .filter(|&row| parsed[row as usize].is_ok() && first_of[row as usize] == u32::MAX)
        .collect();
    // Kept rows are valid: `field` reads a field of one (the default is never used).
    let field =
        |row: u32, f: fn(&Assignment<'_>) -> i64| parsed[row as usize].as_ref().map_or(0, f);
    let exp: Vec<u32> = kept
        .par_iter()
        .map(|&row| exp_index[row as usize])
        .collect();
    let user: Vec<i64> = kept.par_iter().map(|&row| field(row, |a| a.user)).collect();
    let variant: Vec<u32> = kept
        .par_iter()
        .map(|&row| {
            parsed[row as usize]
                .as_ref()
                .map_or(0, |a| code(&variants, a.variant))
        })
        .collect();
    let at: Vec<i64> = kept.par_iter().map(|&row| field(row, |a| a.at)).collect();
    let line: Vec<u64> = kept
        .par_iter()
        .map(|&row| TextFile::line_no(row as usize))
        .collect();
    drop(kept);
    // The others, quarantined in file order: invalid rows, and later assignments of a user.
    let mut quarantine: Vec<QuarantineRow> = parsed
        .iter()
        .enumerate()
        .filter_map(|(row, p)| {
            let (rule, detail) = match (p, first_of[row]) {
                (Ok(_), u32::MAX) => return None,
                (Ok(a), first) => (
                    Rule::DuplicateKey,
                    format!(
                        "user {} already assigned in {} on line {}",
                        a.user,
                        a.experiment,
                        TextFile::line_no(first as usize)
                    ),
                ),
                (Err((rule, detail)), _) => (*rule, detail.clone()),
            };
            Some(quarantine_row(
                &source,
                TextFile::line_no(row),
                rule,
                detail,
                file.line(row),
            ))
        })
        .collect();
    let n = exp.len();
    let assignments_df = DataFrame::new(
        n,
        vec![
            coded_strings("experiment", &exp, &names)?,
            owned("user_id".into(), user),
            coded_strings("variant", &variant, &variants)?,
            datetime_ms("assigned_at", at),
            owned("source_line".into(), line),
        ],
    )?;
    let mut files = vec![FileStats::new(
        &file.file_name(),
        file.n_rows(),
        &quarantine,
    )];
    let weights_df = match weights {
        Some(path) => {
            let (df, q, rows) = read_weights(path)?;
            files.push(FileStats::new(&df_source(path), rows, &q));
            quarantine.extend(q);
            df
        }
        None => DataFrame::new(
            0,
            vec![
                Column::new("experiment".into(), Vec::<&str>::new()),
                Column::new("variant".into(), Vec::<&str>::new()),
                owned("weight".into(), Vec::<f64>::new()),
            ],
        )?,
    };
    Ok(AssignmentsRead {
        assignments: assignments_df,
        weights: weights_df,
        quarantine,
        files,
    })
}

/// Distinct values of `field` over the valid rows, in order of first appearance (found in parallel:
/// each part lists its own, then the earliest row of each value wins).
fn distinct_in_order<'a>(
    parsed: &[std::result::Result<Assignment<'a>, (Rule, String)>],
    field: impl Fn(&Assignment<'a>) -> &'a str + Sync,
) -> Vec<&'a str> {
    let mut firsts: Vec<(usize, &'a str)> = parsed
        .par_iter()
        .enumerate()
        .fold(Vec::new, |mut seen: Vec<(usize, &'a str)>, (row, p)| {
            if let Ok(a) = p {
                let v = field(a);
                if !seen.iter().any(|(_, s)| *s == v) {
                    seen.push((row, v));
                }
            }
            seen
        })
        .reduce(Vec::new, |mut a, b| {
            for (row, v) in b {
                match a.iter_mut().find(|(_, s)| *s == v) {
                    Some(first) => first.0 = first.0.min(row),
                    None => a.push((row, v)),
                }
            }
            a
        });
    firsts.sort_unstable();
    firsts.into_iter().map(|(_, v)| v).collect()
}

fn df_source(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

type WeightsRead = (DataFrame, Vec<QuarantineRow>, usize);

fn read_weights(path: &Path) -> Result<WeightsRead> {
    let file = TextFile::open(path, &WEIGHTS_HEADER)?;
    let source: Arc<str> = Arc::from(file.file_name());
    let mut seen: HashMap<(String, String), u64> = HashMap::new();
    let (mut exp, mut variant, mut weight) = (Vec::new(), Vec::new(), Vec::new());
    let mut quarantine = Vec::new();
    for row in 0..file.n_rows() {
        let line = file.line(row);
        let line_no = TextFile::line_no(row);
        let parsed = split::<3>(line, false).and_then(|f| {
            let (Some(e), Some(v), Some(w)) = (
                present(Some(f[0])),
                present(Some(f[1])),
                present(Some(f[2])),
            ) else {
                return Err((
                    Rule::MissingField,
                    "empty experiment, variant or weight".to_string(),
                ));
            };
            let w: f64 = std::str::from_utf8(w)
                .ok()
                .and_then(|t| t.parse().ok())
                .filter(|w: &f64| w.is_finite() && *w > 0.0)
                .ok_or_else(|| {
                    (
                        Rule::BadValue,
                        format!("weight '{}' is not a positive number", lossy(w)),
                    )
                })?;
            let key = (
                String::from_utf8_lossy(e).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            );
            if let Some(l) = seen.get(&key) {
                return Err((
                    Rule::DuplicateKey,
                    format!("weight of {}/{} already given on line {l}", key.0, key.1),
                ));
            }
            Ok((key, w))
        });
        match parsed {
            Ok((key, w)) => {
                seen.insert(key.clone(), line_no);
                exp.push(key.0);
                variant.push(key.1);
                weight.push(w);
            }
            Err((rule, detail)) => {
                quarantine.push(quarantine_row(&source, line_no, rule, detail, line))
            }
        }
    }
    let df = DataFrame::new(
        exp.len(),
        vec![
            Column::new("experiment".into(), exp),
            Column::new("variant".into(), variant),
            owned("weight".into(), weight),
        ],
    )?;
    Ok((df, quarantine, file.n_rows()))
}
