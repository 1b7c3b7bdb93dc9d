//! The warehouse's Parquet writer. Tables are plain polars frames; what differs from polars' own
//! writer is how each column chunk is encoded, chosen from the data:
//!
//! - strings with few distinct values (event types, experiment and variant names, rules) are
//!   dictionary-encoded from a dictionary built in one pass, with no hashing of every row into a
//!   general hash table;
//! - non-decreasing integers (visitor and session ids: the clean tables are in visitor order) are
//!   delta-encoded;
//! - other integers within a small range (category ids, counts, session numbers) are
//!   dictionary-encoded by polars' fast bitmap path;
//! - other integers (times, item ids, line numbers) are delta-encoded when the differences between
//!   rows pack into clearly fewer bits than the type's width, else written plain;
//! - everything else (amounts, flags) is written plain.
//!
//! Polars' generic writer tries a dictionary on every column and, for ids over a wide range, builds a
//! hash table of millions of values only to find most are distinct: that was half the build's write
//! time. Every page is encoded and compressed in parallel across columns and row groups; files are
//! standard Parquet (LZ4 raw, min/max/null-count statistics, the Arrow schema in the footer) that any
//! reader opens, and strings read back as strings.
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use polars::prelude::*;
use polars_arrow::array::{Array, DictionaryArray, PrimitiveArray, Utf8ViewArray};
use polars_arrow::datatypes::{ArrowDataType, IntegerType, PhysicalType, PrimitiveType};
use polars_parquet::write::{
    array_to_columns, compress, fallible_streaming_iterator, get_dtype_encoding, to_parquet_schema,
    CompressedPage, CompressionOptions, DynIter, DynStreamingIterator, Encoding, FileWriter,
    StatisticsOptions, Version, WriteOptions,
};
use rayon::prelude::*;

use crate::{Error, Result};

/// Rows per row group at most; larger chunks are sliced (no copy).
const MAX_ROW_GROUP: usize = 1 << 20;
/// Integer ranges up to this use polars' bitmap dictionary (its own limit for 16-bit keys).
const SMALL_RANGE: u64 = u16::MAX as u64;
/// Strings get a dictionary if they have at most this many distinct values...
const MAX_DICTIONARY: usize = 4096;

fn options() -> WriteOptions {
    WriteOptions {
        statistics: StatisticsOptions::default(),
        version: Version::V1,
        compression: CompressionOptions::Lz4Raw,
        data_page_size: None,
    }
}

/// How one column chunk is written.
enum Plan {
    /// The array as it is, with this encoding.
    As(Encoding),
    /// A dictionary array built here, dictionary-encoded.
    Dictionary(Box<dyn Array>),
}

/// Writes `df` to `path` as one Parquet file. Returns the file size in bytes.
pub fn write_table(path: &Path, df: &mut DataFrame) -> Result<u64> {
    let mut writer = TableWriter::create(path, df.schema())?;
    writer.write(df)?;
    writer.finish()
}

/// A Parquet file written frame by frame (each frame's chunks become row groups), so that a table
/// larger than memory can be written from parts of it. Every frame must have the schema given to
/// [`TableWriter::create`].
pub struct TableWriter {
    writer: FileWriter<BufWriter<File>>,
    schema: Schema,
}

impl TableWriter {
    pub fn create(path: &Path, schema: &Schema) -> Result<TableWriter> {
        let arrow = schema.to_arrow(CompatLevel::newest());
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let writer =
            FileWriter::try_new(BufWriter::with_capacity(1 << 20, file), arrow, options())?;
        Ok(TableWriter {
            writer,
            schema: schema.clone(),
        })
    }

    /// Appends the rows of `df`.
    pub fn write(&mut self, df: &mut DataFrame) -> Result<()> {
        let encoded = encode(df)?;
        self.write_encoded(encoded)
    }

    /// Appends row groups encoded by [`encode`] (on any thread, ahead of time).
    pub fn write_encoded(&mut self, encoded: Encoded) -> Result<()> {
        if encoded.schema != self.schema {
            return Err(Error::Internal(format!(
                "a part of a table has the schema {:?}, expected {:?}",
                encoded.schema, self.schema
            )));
        }
        for (rows, pages) in encoded.groups {
            let columns = pages.iter().map(|column| {
                Ok(DynStreamingIterator::new(
                    fallible_streaming_iterator::convert(column.iter().map(Ok::<_, PolarsError>)),
                ))
            });
            self.writer.write(rows, DynIter::new(columns))?;
        }
        Ok(())
    }

    /// Writes the footer; returns the file size in bytes.
    pub fn finish(mut self) -> Result<u64> {
        Ok(self.writer.end(None)?)
    }
}

/// A frame's rows as compressed Parquet pages: (rows, pages of each column) per row group.
pub struct Encoded {
    groups: Vec<(u64, Vec<Vec<CompressedPage>>)>,
    schema: Schema,
}

/// Encodes and compresses the rows of `df` (its chunks become row groups, large ones sliced), every
/// column of every row group in parallel, for [`TableWriter::write_encoded`].
pub fn encode(df: &mut DataFrame) -> Result<Encoded> {
    if df.should_rechunk() {
        df.align_chunks_par();
    }
    let compat = CompatLevel::newest();
    // Row groups: the frame's chunks (the cleaning pipeline makes them a few hundred thousand
    // rows), large ones sliced. A frame without rows adds no row group.
    let mut groups: Vec<Vec<Box<dyn Array>>> = Vec::new();
    for batch in df.iter_chunks(compat, false) {
        groups.extend(row_groups(batch.into_arrays()));
    }
    encode_groups(df.schema(), groups)
}

/// As [`encode`], for the columns `columns` (whole arrays) of a table of schema `schema`. A string
/// column may be given as a dictionary array (codes into its distinct values): it is written as
/// the dictionary it is, and reads back as strings.
pub fn encode_arrays(schema: &Schema, columns: Vec<Box<dyn Array>>) -> Result<Encoded> {
    if columns.len() != schema.len() || columns.windows(2).any(|w| w[0].len() != w[1].len()) {
        return Err(Error::Internal(
            "columns of a table to encode differ from its schema or in length".into(),
        ));
    }
    encode_groups(schema, row_groups(columns))
}

/// The row groups of `columns` (slices of at most [`MAX_ROW_GROUP`] rows; none without rows).
fn row_groups(columns: Vec<Box<dyn Array>>) -> Vec<Vec<Box<dyn Array>>> {
    let n = columns.first().map_or(0, |a| a.len());
    (0..n)
        .step_by(MAX_ROW_GROUP)
        .map(|start| {
            let len = (n - start).min(MAX_ROW_GROUP);
            columns.iter().map(|a| a.sliced(start, len)).collect()
        })
        .collect()
}

fn encode_groups(schema: &Schema, groups: Vec<Vec<Box<dyn Array>>>) -> Result<Encoded> {
    let fields = to_parquet_schema(&schema.to_arrow(CompatLevel::newest()))?
        .fields()
        .to_vec();
    let opts = options();
    let tasks: Vec<(usize, usize)> = (0..groups.len())
        .flat_map(|g| (0..fields.len()).map(move |c| (g, c)))
        .collect();
    let mut encoded = tasks
        .par_iter()
        .map(|&(g, c)| encode_column(&groups[g][c], &fields[c], opts))
        .collect::<Result<Vec<Vec<CompressedPage>>>>()?
        .into_iter();
    let groups = groups
        .iter()
        .map(|group| {
            let rows = group.first().map_or(0, |a| a.len()) as u64;
            (rows, encoded.by_ref().take(fields.len()).collect())
        })
        .collect();
    Ok(Encoded {
        groups,
        schema: schema.clone(),
    })
}

/// A table written from parts that are encoded out of order (by parallel workers): part `k` goes
/// into the file once parts `0..k` have, so the file's row groups are in part order on every run.
pub struct OrderedWriter {
    state: std::sync::Mutex<Ordered>,
}

struct Ordered {
    writer: TableWriter,
    next: usize,
    waiting: std::collections::BTreeMap<usize, Encoded>,
}

impl OrderedWriter {
    pub fn create(path: &Path, schema: &Schema) -> Result<OrderedWriter> {
        Ok(OrderedWriter {
            state: std::sync::Mutex::new(Ordered {
                writer: TableWriter::create(path, schema)?,
                next: 0,
                waiting: std::collections::BTreeMap::new(),
            }),
        })
    }

    /// Part `k`, written now if it is next, else when the parts before it are.
    pub fn put(&self, k: usize, part: Encoded) -> Result<()> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| Error::Internal("a table writer panicked".into()))?;
        state.waiting.insert(k, part);
        loop {
            let next = state.next;
            let Some(part) = state.waiting.remove(&next) else {
                break;
            };
            state.writer.write_encoded(part)?;
            state.next += 1;
        }
        Ok(())
    }

    /// Writes the footer once `parts` parts are in; returns the file size in bytes.
    pub fn finish(self, parts: usize) -> Result<u64> {
        let state = self
            .state
            .into_inner()
            .map_err(|_| Error::Internal("a table writer panicked".into()))?;
        if state.next != parts || !state.waiting.is_empty() {
            return Err(Error::Internal(format!(
                "{} of {parts} parts of a table written",
                state.next
            )));
        }
        state.writer.finish()
    }
}

fn encode_column<A: AsRef<dyn Array> + Send + Sync>(
    array: A,
    field: &polars_parquet::write::ParquetType,
    opts: WriteOptions,
) -> Result<Vec<CompressedPage>> {
    let array = array.as_ref();
    let plan = plan(array);
    // Delta-packed integers are already compact: LZ4 would spend time for a few percent.
    let compression = match plan {
        Plan::As(Encoding::DeltaBinaryPacked) => CompressionOptions::Uncompressed,
        _ => opts.compression,
    };
    let columns = match plan {
        Plan::As(encoding) => array_to_columns(array, field.clone(), opts, &[encoding])?,
        Plan::Dictionary(dict) => {
            array_to_columns(dict, field.clone(), opts, &[Encoding::RleDictionary])?
        }
    };
    let mut pages = Vec::new();
    for column in columns {
        for page in column {
            pages.push(compress(page?, Vec::new(), compression).map_err(PolarsError::from)?);
        }
    }
    Ok(pages)
}

fn plan(array: &dyn Array) -> Plan {
    use PrimitiveType as P;
    // Times change little from row to row within a visitor: deltas pack them in fewer bits.
    let time = matches!(
        array.dtype(),
        ArrowDataType::Timestamp(..) | ArrowDataType::Date32 | ArrowDataType::Date64
    );
    match array.dtype().to_physical_type() {
        PhysicalType::Utf8View => {
            let strings = array
                .as_any()
                .downcast_ref::<Utf8ViewArray>()
                .expect("Utf8View physical type");
            match string_dictionary(strings) {
                Some(dict) => Plan::Dictionary(dict),
                None => Plan::As(Encoding::Plain),
            }
        }
        PhysicalType::Primitive(p) => match p {
            P::Int8 | P::Int16 | P::UInt8 | P::UInt16 => Plan::As(Encoding::RleDictionary),
            P::Int32 => integer_plan(array.as_any().downcast_ref::<PrimitiveArray<i32>>(), time),
            P::Int64 => integer_plan(array.as_any().downcast_ref::<PrimitiveArray<i64>>(), time),
            P::UInt32 => integer_plan(array.as_any().downcast_ref::<PrimitiveArray<u32>>(), time),
            P::UInt64 => integer_plan(array.as_any().downcast_ref::<PrimitiveArray<u64>>(), time),
            _ => Plan::As(Encoding::Plain),
        },
        PhysicalType::Boolean => Plan::As(Encoding::Plain),
        // Codes into distinct values (a string column given as its dictionary).
        PhysicalType::Dictionary(_) => Plan::As(Encoding::RleDictionary),
        // Anything else (nested or binary columns of frames written from Python): polars' choice.
        _ => Plan::As(
            get_dtype_encoding(array.dtype())
                .first()
                .copied()
                .unwrap_or(Encoding::Plain),
        ),
    }
}

/// Sorted: delta (ids in their own tables and within a chunk of visitors: mostly zeros and ones, a
/// bit or two a value); small range: dictionary; otherwise delta when the differences between rows
/// (at most twice the range) pack into at most three quarters of the type's width (times, item ids,
/// line numbers: about a third of plain's bytes, with no compression pass), else plain.
fn integer_plan<T>(array: Option<&PrimitiveArray<T>>, time: bool) -> Plan
where
    T: polars_arrow::types::NativeType + Ord + Into<i128>,
{
    let Some(array) = array else {
        return Plan::As(Encoding::Plain);
    };
    let mut values = array.non_null_values_iter();
    let Some(first) = values.next() else {
        return Plan::As(Encoding::Plain);
    };
    let (mut min, mut max, mut sorted, mut prev) = (first, first, true, first);
    for v in values {
        min = min.min(v);
        max = max.max(v);
        sorted &= v >= prev;
        prev = v;
    }
    let range = max.into() - min.into();
    let delta_bits = 128 - (2 * range).leading_zeros() as usize;
    let width = 8 * std::mem::size_of::<T>();
    if sorted {
        Plan::As(Encoding::DeltaBinaryPacked)
    } else if range <= i128::from(SMALL_RANGE) {
        Plan::As(Encoding::RleDictionary)
    } else if time || 4 * delta_bits <= 3 * width {
        Plan::As(Encoding::DeltaBinaryPacked)
    } else {
        Plan::As(Encoding::Plain)
    }
}

/// A dictionary array for a string column with few distinct values, or `None` when it has many.
/// Consecutive rows often repeat a value (event types within a visitor, an experiment's users), and
/// columns made from codes ([`crate::clean::tables::coded_strings`]) repeat the very same view, so
/// each row's view is first compared with the previous row's: equal views are equal strings (a view
/// holds a short string itself, a long one's buffer, offset and length).
fn string_dictionary(strings: &Utf8ViewArray) -> Option<Box<dyn Array>> {
    let n = strings.len();
    let limit = MAX_DICTIONARY.min(n / 2 + 1);
    let mut distinct: Vec<&str> = Vec::new();
    let mut lookup: hashbrown::HashMap<&str, u32> = hashbrown::HashMap::new();
    let mut keys: Vec<u32> = Vec::with_capacity(n);
    let views = strings.views();
    let valid = |i: usize| strings.validity().map_or(true, |v| v.get_bit(i));
    let mut last: Option<(u128, u32)> = None;
    for (i, view) in views.iter().enumerate() {
        if !valid(i) {
            keys.push(0);
            continue;
        }
        let bits = view.as_u128();
        let key = match last {
            Some((prev, k)) if prev == bits => k,
            _ => {
                // SAFETY: `i` is a row of `strings`.
                let s = unsafe { strings.value_unchecked(i) };
                let k = match lookup.get(s) {
                    Some(&k) => k,
                    None => {
                        if distinct.len() == limit {
                            return None;
                        }
                        distinct.push(s);
                        lookup.insert(s, (distinct.len() - 1) as u32);
                        (distinct.len() - 1) as u32
                    }
                };
                last = Some((bits, k));
                k
            }
        };
        keys.push(key);
    }
    if distinct.is_empty() {
        return None;
    }
    coded_strings_array(keys, strings.validity().cloned(), &distinct).ok()
}

/// A string column as the dictionary array it is written as: `codes` into `names` (null where
/// `validity` says so). A code without a name is an error.
pub fn coded_strings_array<S: AsRef<str>>(
    codes: Vec<u32>,
    validity: Option<polars_arrow::bitmap::Bitmap>,
    names: &[S],
) -> Result<Box<dyn Array>> {
    let values = Utf8ViewArray::from_slice_values(names);
    let keys = PrimitiveArray::new(ArrowDataType::UInt32, codes.into(), validity);
    let dtype =
        ArrowDataType::Dictionary(IntegerType::UInt32, Box::new(values.dtype().clone()), false);
    Ok(DictionaryArray::<u32>::try_new(dtype, keys, values.boxed())?.boxed())
}

/// A Parquet file read whole (tests).
#[cfg(test)]
pub(crate) fn read_file(path: &Path) -> DataFrame {
    ParquetReader::new(File::open(path).unwrap())
        .finish()
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::read_file as read;

    fn kinds(n: usize, offset: i64) -> DataFrame {
        let ids: Vec<i64> = (0..n as i64).map(|i| offset + i * 1_000_003).collect();
        let scattered: Vec<i64> = (0..n as i64)
            .map(|i| (i * 2_654_435_761 + offset) % 1_000_000_007)
            .collect();
        let small: Vec<Option<i64>> = (0..n as i64)
            .map(|i| (i % 5 != 0).then_some(1_000 + i % 1_700))
            .collect();
        let times = Int64Chunked::from_vec(
            "ts".into(),
            (0..n as i64)
                .map(|i| 1_430_000_000_000 + (i * 104_729) % 10_000_000_000)
                .collect(),
        )
        .into_datetime(TimeUnit::Milliseconds, None)
        .into_column();
        let event: Vec<Option<&str>> = (0..n)
            .map(|i| match i % 7 {
                0 => None,
                1 | 2 => Some("addtocart"),
                3 => Some("a string longer than twelve bytes"),
                _ => Some("view"),
            })
            .collect();
        let unique: Vec<String> = (0..n).map(|i| format!("row-{}-{i}", offset)).collect();
        let nulls: Vec<Option<&str>> = vec![None; n];
        let price: Vec<Option<f64>> = (0..n)
            .map(|i| (i % 3 == 0).then_some(i as f64 * 0.25))
            .collect();
        let flags: Vec<bool> = (0..n).map(|i| i % 2 == 0).collect();
        let counts: Vec<u32> = (0..n as u32).map(|i| i % 40).collect();
        let lines: Vec<u64> = (0..n as u64).map(|i| (i * 7_777_777) % 9_999_991).collect();
        // Sorted within a small range (a chunk's visitor ids); unsorted over all of u32.
        let sorted_small: Vec<i64> = (0..n as i64).map(|i| 5 + i / 100).collect();
        let wide: Vec<u32> = (0..n as u64)
            .map(|i| (i * 2_654_435_761 % (1 << 32)) as u32)
            .collect();
        DataFrame::new(
            n,
            vec![
                Column::new("sorted_id".into(), ids),
                Column::new("scattered".into(), scattered),
                Column::new("small".into(), small),
                times,
                Column::new("event".into(), event),
                Column::new("unique".into(), unique),
                Column::new("all_null".into(), nulls),
                Column::new("price".into(), price),
                Column::new("flag".into(), flags),
                Column::new("count".into(), counts),
                Column::new("line".into(), lines),
                Column::new("sorted_small".into(), sorted_small),
                Column::new("wide".into(), wide),
            ],
        )
        .unwrap()
    }

    #[test]
    fn every_kind_of_column_round_trips_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let mut df = kinds(3_000, 0);
        df.vstack_mut_owned(kinds(1, 5)).unwrap();
        df.vstack_mut_owned(kinds(2_500, 77)).unwrap();
        let expected = df.clone();
        let path = dir.path().join("t.parquet");
        write_table(&path, &mut df).unwrap();
        let back = read(&path);
        assert!(back.equals_missing(&expected), "{back:?}\n{expected:?}");
        assert_eq!(back.schema(), expected.schema());
    }

    #[test]
    fn empty_frame_keeps_its_schema() {
        let dir = tempfile::tempdir().unwrap();
        let mut df = kinds(0, 0);
        let path = dir.path().join("e.parquet");
        write_table(&path, &mut df).unwrap();
        let back = read(&path);
        assert_eq!(back.height(), 0);
        assert_eq!(back.schema(), df.schema());
    }

    #[test]
    fn large_chunk_is_split_into_row_groups() {
        let dir = tempfile::tempdir().unwrap();
        let n = MAX_ROW_GROUP * 2 + 10;
        let mut df = DataFrame::new(
            n,
            vec![Column::new("x".into(), (0..n as i64).collect::<Vec<_>>())],
        )
        .unwrap();
        let path = dir.path().join("big.parquet");
        write_table(&path, &mut df).unwrap();
        let meta = polars_parquet::read::read_metadata(&mut File::open(&path).unwrap()).unwrap();
        assert_eq!(meta.row_groups.len(), 3);
        assert_eq!(read(&path), df);
    }

    /// Parts encoded on several threads and put out of order are written in part order, each part's
    /// chunks as row groups; a missing part is an error, not a short file.
    #[test]
    fn ordered_writer_writes_parts_in_part_order() {
        let dir = tempfile::tempdir().unwrap();
        let parts: Vec<DataFrame> = (0..5i64)
            .map(|p| {
                let n = 10 + p as usize;
                DataFrame::new(
                    n,
                    vec![
                        Column::new(
                            "x".into(),
                            (0..n as i64).map(|i| p * 100 + i).collect::<Vec<_>>(),
                        ),
                        Column::new(
                            "s".into(),
                            (0..n).map(|i| format!("p{p}-{i}")).collect::<Vec<_>>(),
                        ),
                    ],
                )
                .unwrap()
            })
            .collect();
        let path = dir.path().join("ordered.parquet");
        let writer = OrderedWriter::create(&path, parts[0].schema()).unwrap();
        let encoded: Vec<(usize, Encoded)> = [3usize, 0, 4, 1, 2]
            .into_par_iter()
            .map(|k| (k, encode(&mut parts[k].clone()).unwrap()))
            .collect();
        for (k, part) in encoded {
            writer.put(k, part).unwrap();
        }
        writer.finish(5).unwrap();
        let mut want = parts[0].clone();
        for p in &parts[1..] {
            want.vstack_mut(p).unwrap();
        }
        assert_eq!(read(&path), want);
        let meta = polars_parquet::read::read_metadata(&mut File::open(&path).unwrap()).unwrap();
        assert_eq!(meta.row_groups.len(), 5);

        let short =
            OrderedWriter::create(&dir.path().join("short.parquet"), parts[0].schema()).unwrap();
        short
            .put(1, encode(&mut parts[1].clone()).unwrap())
            .unwrap();
        assert!(short.finish(2).is_err());
        let other = DataFrame::new(1, vec![Column::new("y".into(), [1i64])]).unwrap();
        let mismatched =
            OrderedWriter::create(&dir.path().join("m.parquet"), parts[0].schema()).unwrap();
        assert!(mismatched
            .put(0, encode(&mut other.clone()).unwrap())
            .is_err());
    }

    fn encoding_of(array: Box<dyn Array>) -> &'static str {
        match plan(array.as_ref()) {
            Plan::Dictionary(_) => "dictionary (built here)",
            Plan::As(Encoding::RleDictionary) => "dictionary",
            Plan::As(Encoding::DeltaBinaryPacked) => "delta",
            Plan::As(Encoding::Plain) => "plain",
            Plan::As(_) => "other",
        }
    }

    #[test]
    fn encodings_follow_the_data() {
        let df = kinds(5_000, 0);
        let col = |name: &str| {
            df.column(name)
                .unwrap()
                .as_materialized_series()
                .to_arrow(0, CompatLevel::newest())
        };
        assert_eq!(encoding_of(col("sorted_id")), "delta");
        assert_eq!(encoding_of(col("scattered")), "delta");
        assert_eq!(encoding_of(col("sorted_small")), "delta");
        assert_eq!(encoding_of(col("wide")), "plain");
        assert_eq!(encoding_of(col("small")), "dictionary");
        assert_eq!(encoding_of(col("ts")), "delta");
        assert_eq!(encoding_of(col("event")), "dictionary (built here)");
        assert_eq!(encoding_of(col("unique")), "plain");
        assert_eq!(encoding_of(col("all_null")), "plain");
        assert_eq!(encoding_of(col("price")), "plain");
        assert_eq!(encoding_of(col("count")), "dictionary");
        assert_eq!(encoding_of(col("line")), "delta");
    }
}
