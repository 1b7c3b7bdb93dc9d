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
    pub assignments: AssignmentColumns,
    pub weights: DataFrame,
    pub quarantine: Vec<QuarantineRow>,
    pub files: Vec<FileStats>,
}

/// The kept assignments as columns, experiment and variant as codes into their names (in order of
/// first appearance): the `assignments` table, as a frame ([`AssignmentColumns::frame`]) or written
/// straight from the codes ([`AssignmentColumns::write`]: the names are the Parquet dictionary, no
/// string column of millions of rows is built).
#[derive(Clone, Debug)]
pub struct AssignmentColumns {
    pub experiment: Vec<u32>,
    pub experiments: Vec<String>,
    pub user: Vec<i64>,
    pub variant: Vec<u32>,
    pub variants: Vec<String>,
    pub at: Vec<i64>,
    pub line: Vec<u64>,
}

impl AssignmentColumns {
    fn schema() -> Schema {
        Schema::from_iter([
            Field::new("experiment".into(), DataType::String),
            Field::new("user_id".into(), DataType::Int64),
            Field::new("variant".into(), DataType::String),
            Field::new(
                "assigned_at".into(),
                DataType::Datetime(TimeUnit::Milliseconds, None),
            ),
            Field::new("source_line".into(), DataType::UInt64),
        ])
    }

    pub fn frame(&self) -> Result<DataFrame> {
        fn labels(names: &[String]) -> Vec<&str> {
            names.iter().map(String::as_str).collect()
        }
        Ok(DataFrame::new(
            self.line.len(),
            vec![
                coded_strings("experiment", &self.experiment, &labels(&self.experiments))?,
                owned("user_id".into(), self.user.clone()),
                coded_strings("variant", &self.variant, &labels(&self.variants))?,
                datetime_ms("assigned_at", self.at.clone()),
                owned("source_line".into(), self.line.clone()),
            ],
        )?)
    }

    /// Writes the `assignments` table to `path` (the same file as the frame's, read back equal).
    pub fn write(self, path: &Path) -> Result<u64> {
        use crate::warehouse::parquet::coded_strings_array as coded;
        use polars_arrow::array::{Array, PrimitiveArray};
        use polars_arrow::datatypes::{ArrowDataType, TimeUnit as ArrowUnit};
        let columns: Vec<Box<dyn Array>> = vec![
            coded(self.experiment, None, &self.experiments)?,
            PrimitiveArray::new(ArrowDataType::Int64, self.user.into(), None).boxed(),
            coded(self.variant, None, &self.variants)?,
            PrimitiveArray::new(
                ArrowDataType::Timestamp(ArrowUnit::Millisecond, None),
                self.at.into(),
                None,
            )
            .boxed(),
            PrimitiveArray::new(ArrowDataType::UInt64, self.line.into(), None).boxed(),
        ];
        let schema = Self::schema();
        let mut writer = crate::warehouse::parquet::TableWriter::create(path, &schema)?;
        writer.write_encoded(crate::warehouse::parquet::encode_arrays(&schema, columns)?)?;
        writer.finish()
    }
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

/// Rows parsed by one task: its experiment and variant names are coded locally, then recoded.
const BLOCK: usize = 1 << 15;
/// Experiment code of a row that is not kept (invalid, or a later assignment of its user).
const DROPPED: u32 = u32::MAX;

/// Names coded in order of first appearance; consecutive rows mostly repeat a name, so the last one
/// is compared first.
#[derive(Default)]
struct Names<'a> {
    list: Vec<&'a str>,
    last: u32,
}

impl<'a> Names<'a> {
    fn code(&mut self, name: &'a str) -> u32 {
        if self.list.get(self.last as usize) == Some(&name) {
            return self.last;
        }
        let k = match self.list.iter().position(|n| *n == name) {
            Some(k) => k,
            None => {
                self.list.push(name);
                self.list.len() - 1
            }
        };
        self.last = k as u32;
        self.last
    }
}

/// What a block of rows leaves besides its columns: its names and its invalid rows.
struct Parsed<'a> {
    experiments: Vec<&'a str>,
    variants: Vec<&'a str>,
    invalid: Vec<(u32, Rule, String)>,
}

/// The assignment columns of every row of `file` (no line numbers yet), invalid rows with experiment
/// [`DROPPED`], parsed in parallel blocks of `block` rows; and the invalid rows in file order.
fn parse_columns(
    file: &TextFile,
    cfg: &CleanConfig,
    block: usize,
) -> (AssignmentColumns, Vec<(u32, Rule, String)>) {
    let n = file.n_rows();
    let (mut experiment, mut user) = (vec![0u32; n], vec![0i64; n]);
    let (mut variant, mut at) = (vec![0u32; n], vec![0i64; n]);
    let blocks: Vec<Parsed<'_>> = experiment
        .par_chunks_mut(block)
        .zip(user.par_chunks_mut(block))
        .zip(variant.par_chunks_mut(block))
        .zip(at.par_chunks_mut(block))
        .enumerate()
        .map(|(b, (((e, u), v), t))| {
            let (mut experiments, mut variants) = (Names::default(), Names::default());
            let mut invalid = Vec::new();
            for i in 0..e.len() {
                let row = b * block + i;
                match parse_assignment(file.line(row), cfg) {
                    Ok(a) => {
                        e[i] = experiments.code(a.experiment);
                        u[i] = a.user;
                        v[i] = variants.code(a.variant);
                        t[i] = a.at;
                    }
                    Err((rule, detail)) => {
                        e[i] = DROPPED;
                        invalid.push((row as u32, rule, detail));
                    }
                }
            }
            Parsed {
                experiments: experiments.list,
                variants: variants.list,
                invalid,
            }
        })
        .collect();
    // Global codes: names in order of first appearance over the file (blocks in order).
    let (mut experiments, mut variants) = (Names::default(), Names::default());
    let recode: Vec<(Vec<u32>, Vec<u32>)> = blocks
        .iter()
        .map(|p| {
            (
                p.experiments.iter().map(|n| experiments.code(n)).collect(),
                p.variants.iter().map(|n| variants.code(n)).collect(),
            )
        })
        .collect();
    let identity = |codes: &[u32]| codes.iter().enumerate().all(|(i, &c)| c as usize == i);
    experiment
        .par_chunks_mut(block)
        .zip(variant.par_chunks_mut(block))
        .zip(&recode)
        .filter(|(_, (e, v))| !identity(e) || !identity(v))
        .for_each(|((es, vs), (e, v))| {
            for (x, y) in es.iter_mut().zip(vs.iter_mut()) {
                if *x != DROPPED {
                    *x = e[*x as usize];
                    *y = v[*y as usize];
                }
            }
        });
    let invalid = blocks.into_iter().flat_map(|p| p.invalid).collect();
    let owned_names = |names: Vec<&str>| names.into_iter().map(str::to_string).collect();
    let columns = AssignmentColumns {
        experiment,
        experiments: owned_names(experiments.list),
        user,
        variant,
        variants: owned_names(variants.list),
        at,
        line: Vec::new(),
    };
    (columns, invalid)
}

/// Reads the assignment file and, if present, the weights file. A user assigned twice to one
/// experiment keeps the first assignment; the later rows are quarantined as `duplicate_key`.
pub fn read_assignments(
    assignments: &Path,
    weights: Option<&Path>,
    cfg: &CleanConfig,
) -> Result<AssignmentsRead> {
    let file = TextFile::open(assignments, &ASSIGNMENTS_HEADER)?;
    let (assignments, mut quarantine) = assignments_table(&file, cfg, BLOCK)?;
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
        assignments,
        weights: weights_df,
        quarantine,
        files,
    })
}

/// The kept assignments of `file` (rows parsed in blocks of `block`) and its quarantined rows, in
/// file order.
fn assignments_table(
    file: &TextFile,
    cfg: &CleanConfig,
    block: usize,
) -> Result<(AssignmentColumns, Vec<QuarantineRow>)> {
    let source: Arc<str> = Arc::from(file.file_name());
    // Rows are numbered with u32 below (sort keys, repeats).
    if file.n_rows() >= u32::MAX as usize {
        return Err(crate::Error::InvalidArgument(format!(
            "{}: more than {} rows",
            file.file_name(),
            u32::MAX - 1
        )));
    }
    let (mut columns, invalid) = parse_columns(file, cfg, block);
    let AssignmentColumns {
        experiment,
        user,
        variant,
        at,
        experiments,
        ..
    } = &mut columns;
    let n = experiment.len();
    // A repeated (experiment, user) pair, found by a parallel sort on integer keys: the first row
    // stays. Every row gets a key (dropped rows sort last and are skipped): an indexed map collects
    // straight into its vector, a filter would gather pieces and copy them.
    let mut keys: Vec<(u32, i64, u32)> = (0..n)
        .into_par_iter()
        .map(|row| (experiment[row], user[row], row as u32))
        .collect();
    keys.par_sort_unstable();
    let mut repeats: Vec<(u32, u32)> = Vec::new();
    for run in keys.chunk_by(|a, b| a.0 == b.0 && a.1 == b.1) {
        if run[0].0 == DROPPED {
            break;
        }
        repeats.extend(run[1..].iter().map(|k| (k.2, run[0].2)));
    }
    drop(keys);
    repeats.sort_unstable();
    // The quarantine in file order: invalid rows and later assignments of a user, merged.
    let mut quarantine = Vec::with_capacity(invalid.len() + repeats.len());
    let (mut bad, mut again) = (invalid.into_iter().peekable(), repeats.iter().peekable());
    loop {
        let take_bad = match (bad.peek(), again.peek()) {
            (None, None) => break,
            (Some(b), Some(a)) => b.0 < a.0,
            (b, _) => b.is_some(),
        };
        let (row, rule, detail) = if take_bad {
            bad.next().expect("peeked")
        } else {
            let &(row, first) = again.next().expect("peeked");
            let detail = format!(
                "user {} already assigned in {} on line {}",
                user[row as usize],
                experiments[experiment[row as usize] as usize],
                TextFile::line_no(first as usize)
            );
            (row, Rule::DuplicateKey, detail)
        };
        let row = row as usize;
        quarantine.push(quarantine_row(
            &source,
            TextFile::line_no(row),
            rule,
            detail,
            file.line(row),
        ));
    }
    // Kept rows in file order: the columns as parsed, compacted in place when rows were dropped.
    let line: Vec<u64> = if quarantine.is_empty() {
        (0..n).into_par_iter().map(TextFile::line_no).collect()
    } else {
        for &(row, _) in &repeats {
            experiment[row as usize] = DROPPED;
        }
        let mut line = Vec::with_capacity(n - quarantine.len());
        let mut w = 0;
        for r in 0..n {
            if experiment[r] == DROPPED {
                continue;
            }
            experiment[w] = experiment[r];
            user[w] = user[r];
            variant[w] = variant[r];
            at[w] = at[r];
            line.push(TextFile::line_no(r));
            w += 1;
        }
        experiment.truncate(w);
        user.truncate(w);
        variant.truncate(w);
        at.truncate(w);
        line
    };
    columns.line = line;
    Ok((columns, quarantine))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap as StdMap;

    /// A kept row: experiment, user, variant, time, line.
    type Kept = (String, i64, String, i64, u64);

    /// The reader's result computed the plain way: rows one by one, names listed as first seen.
    fn reference(lines: &[&str]) -> (Vec<Kept>, Vec<(u64, Rule)>) {
        let cfg = CleanConfig::default();
        let (mut kept, mut quarantined) = (Vec::new(), Vec::new());
        let mut first: StdMap<(String, i64), u64> = StdMap::new();
        for (row, line) in lines.iter().enumerate() {
            let line_no = TextFile::line_no(row);
            match parse_assignment(line.as_bytes(), &cfg) {
                Err((rule, _)) => quarantined.push((line_no, rule)),
                Ok(a) => match first.get(&(a.experiment.to_string(), a.user)) {
                    Some(_) => quarantined.push((line_no, Rule::DuplicateKey)),
                    None => {
                        first.insert((a.experiment.to_string(), a.user), line_no);
                        let (e, v) = (a.experiment.to_string(), a.variant.to_string());
                        kept.push((e, a.user, v, a.at, line_no));
                    }
                },
            }
        }
        (kept, quarantined)
    }

    #[test]
    fn no_assignments_write_an_empty_table_of_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("assignments.parquet");
        let none = AssignmentColumns {
            experiment: vec![],
            experiments: vec![],
            user: vec![],
            variant: vec![],
            variants: vec![],
            at: vec![],
            line: vec![],
        };
        let df = none.frame().unwrap();
        none.write(&path).unwrap();
        let read = crate::warehouse::parquet::read_file(&path);
        assert_eq!(read.height(), 0);
        assert_eq!(read.schema(), df.schema());
    }

    #[test]
    fn blocks_give_the_rows_of_a_plain_reading() {
        let t = 1_434_240_005_385i64;
        let mut lines: Vec<String> = Vec::new();
        // Experiments and variants first seen in different blocks and orders, invalid rows,
        // repeated users (in the same block and in later ones), a row with nothing after it.
        for i in 0..40i64 {
            let exp = ["b_test", "a_test", "c_test"][(i % 7 % 3) as usize];
            let variant = ["control", "treatment", "v3"][((i / 5) % 3) as usize];
            lines.push(format!("{exp},{},{variant},{}", 100 + i % 5, t + i));
        }
        lines[3] = "a_test,,control,1434240005385".into();
        lines[11] = "a_test,7,control,notatime".into();
        lines[17] = "only,two".into();
        lines[39] = "c_test,999,control,1".into();
        let text = format!("{}\n{}\n", ASSIGNMENTS_HEADER.join(","), lines.join("\n"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("experiments.csv");
        std::fs::write(&path, text).unwrap();
        let file = TextFile::open(&path, &ASSIGNMENTS_HEADER).unwrap();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (want_kept, want_quarantined) = reference(&lines);
        assert!(want_quarantined.len() > 10 && want_kept.len() > 10);
        for block in [1, 3, 8, 64] {
            let (columns, quarantine) =
                assignments_table(&file, &CleanConfig::default(), block).unwrap();
            // The frame, and the file written from the codes read back: the same rows.
            let df = columns.frame().unwrap();
            let path = dir.path().join(format!("assignments-{block}.parquet"));
            columns.clone().write(&path).unwrap();
            let read = crate::warehouse::parquet::read_file(&path);
            assert!(read.equals(&df), "block {block}: {read:?} {df:?}");
            assert_eq!(read.schema(), df.schema());
            let s = |c: &str| -> Vec<String> {
                let col = df.column(c).unwrap().str().unwrap().clone();
                col.iter().map(|v| v.unwrap().to_string()).collect()
            };
            let i = |c: &str| -> Vec<i64> {
                let col = df.column(c).unwrap().cast(&DataType::Int64).unwrap();
                col.i64().unwrap().into_no_null_iter().collect()
            };
            let (exp, variant) = (s("experiment"), s("variant"));
            let (user, at, line) = (i("user_id"), i("assigned_at"), i("source_line"));
            let got: Vec<_> = (0..df.height())
                .map(|r| {
                    (
                        exp[r].clone(),
                        user[r],
                        variant[r].clone(),
                        at[r],
                        line[r] as u64,
                    )
                })
                .collect();
            assert_eq!(got, want_kept, "block {block}");
            let got_q: Vec<(u64, Rule)> = quarantine.iter().map(|q| (q.line, q.rule)).collect();
            assert_eq!(got_q, want_quarantined, "block {block}");
            let repeat = quarantine
                .iter()
                .find(|q| q.rule == Rule::DuplicateKey)
                .unwrap();
            // The detail names the line of the assignment that stays.
            let first = want_kept.iter().find(|k| {
                repeat
                    .detail
                    .contains(&format!("in {} on line {}", k.0, k.4))
            });
            assert!(first.is_some(), "{}", repeat.detail);
        }
    }
}
