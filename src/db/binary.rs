//! PostgreSQL's binary COPY format, written from and read into polars columns.
//!
//! Binary rather than text COPY: the server takes fixed-width fields without parsing decimal text, and no
//! value needs escaping (measured in `bench/db_load.py`, see docs/benchmarks.md "PostgreSQL load").
//! A file is a signature and header, then per row a field count and per field a length (-1 = NULL) and
//! the value in network byte order; timestamps count microseconds and dates days from 2000-01-01.
use polars::prelude::*;
use polars_arrow::array::Array;
use rayon::prelude::*;

use crate::{Error, Result};

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// 2000-01-01 in the Unix epoch: days and microseconds.
const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_US: i64 = 946_684_800_000_000;
/// Rows encoded per block (blocks are encoded in parallel and sent in order).
pub const BLOCK_ROWS: usize = 65_536;

/// The column types the store uses (see migrations/); anything else is refused with a clear error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgType {
    Bool,
    Int4,
    Int8,
    Float4,
    Float8,
    Text,
    Date,
    Timestamp,
    TimestampTz,
    Jsonb,
}

impl PgType {
    /// From `pg_type.typname`.
    pub fn from_typname(name: &str) -> Option<Self> {
        Some(match name {
            "bool" => PgType::Bool,
            "int4" => PgType::Int4,
            "int8" => PgType::Int8,
            "float4" => PgType::Float4,
            "float8" => PgType::Float8,
            "text" | "varchar" => PgType::Text,
            "date" => PgType::Date,
            "timestamp" => PgType::Timestamp,
            "timestamptz" => PgType::TimestampTz,
            "jsonb" => PgType::Jsonb,
            _ => return None,
        })
    }

    /// The polars type a column is cast to before it is encoded.
    fn polars(self) -> DataType {
        match self {
            PgType::Bool => DataType::Boolean,
            PgType::Int4 => DataType::Int32,
            PgType::Int8 => DataType::Int64,
            PgType::Float4 => DataType::Float32,
            PgType::Float8 => DataType::Float64,
            PgType::Text | PgType::Jsonb => DataType::String,
            PgType::Date => DataType::Date,
            PgType::Timestamp | PgType::TimestampTz => {
                DataType::Datetime(TimeUnit::Microseconds, None)
            }
        }
    }
}

/// One column ready to encode: values in the target's physical type, plus validity.
enum Field<'a> {
    Bool(&'a BooleanChunked),
    I32(&'a [i32]),
    I64(&'a [i64]),
    F32(&'a [f32]),
    F64(&'a [f64]),
    Text(&'a StringChunked, bool),
    Date(&'a [i32]),
    Micros(&'a [i64]),
}

struct Prepared {
    /// Physical columns, each in one chunk.
    columns: Vec<Column>,
    types: Vec<PgType>,
}

fn cast_for(col: &Column, ty: PgType, table: &str) -> Result<Column> {
    let target = ty.polars();
    let src = col.dtype().clone();
    let name = col.name().clone();
    // Strings cannot become numbers silently; numbers may become text (generic string ids).
    let ok = match (&src, ty) {
        (DataType::Null, _) => true,
        (DataType::Boolean, PgType::Bool) => true,
        (s, PgType::Int4 | PgType::Int8) => s.is_integer() || s.is_bool(),
        (s, PgType::Float4 | PgType::Float8) => s.is_primitive_numeric(),
        (DataType::String, PgType::Text | PgType::Jsonb) => true,
        (s, PgType::Text) => s.is_integer(),
        (DataType::Date, PgType::Date) => true,
        (DataType::Datetime(_, _), PgType::Timestamp | PgType::TimestampTz) => true,
        _ => false,
    };
    if !ok {
        return Err(Error::Schema(format!(
            "{table}.{name}: a {src} column cannot be stored in PostgreSQL type {ty:?}"
        )));
    }
    let mut out = match &src {
        // A time zone only labels the instants; the stored value is the UTC instant.
        DataType::Datetime(unit, Some(_)) => col
            .cast(&DataType::Datetime(*unit, None))?
            .strict_cast(&target)?,
        _ => col.strict_cast(&target).map_err(|e| {
            Error::Schema(format!(
                "{table}.{name}: cannot convert {src} to PostgreSQL type {ty:?}: {e}"
            ))
        })?,
    };
    if matches!(ty, PgType::Timestamp | PgType::TimestampTz) {
        out = out.cast(&DataType::Int64)?;
    } else if ty == PgType::Date {
        out = out.cast(&DataType::Int32)?;
    }
    Ok(out.rechunk())
}

impl Prepared {
    fn new(frame: &DataFrame, table: &str, columns: &[(String, PgType)]) -> Result<Self> {
        let mut out = Vec::with_capacity(columns.len());
        for (name, ty) in columns {
            let col = frame.column(name).map_err(|_| {
                Error::Schema(format!(
                    "{table}: the warehouse table has no column '{name}' (PostgreSQL has it)"
                ))
            })?;
            out.push(cast_for(col, *ty, table)?);
        }
        Ok(Prepared {
            columns: out,
            types: columns.iter().map(|(_, t)| *t).collect(),
        })
    }

    fn fields(&self) -> Result<Vec<(Field<'_>, Option<&polars_arrow::bitmap::Bitmap>)>> {
        type Slices<'a, N> = (&'a [N], Option<&'a polars_arrow::bitmap::Bitmap>);
        fn one<T: PolarsNumericType>(ca: &ChunkedArray<T>) -> Result<Slices<'_, T::Native>> {
            let arr = ca
                .downcast_iter()
                .next()
                .ok_or_else(|| Error::Internal("empty column".into()))?;
            Ok((arr.values().as_slice(), arr.validity()))
        }
        let mut fields = Vec::with_capacity(self.columns.len());
        for (col, ty) in self.columns.iter().zip(&self.types) {
            let field = match ty {
                PgType::Bool => {
                    let ca = col.bool()?;
                    let validity = ca.downcast_iter().next().and_then(|a| a.validity());
                    (Field::Bool(ca), validity)
                }
                PgType::Int4 => {
                    let (v, m) = one(col.i32()?)?;
                    (Field::I32(v), m)
                }
                PgType::Date => {
                    let (v, m) = one(col.i32()?)?;
                    (Field::Date(v), m)
                }
                PgType::Int8 => {
                    let (v, m) = one(col.i64()?)?;
                    (Field::I64(v), m)
                }
                PgType::Timestamp | PgType::TimestampTz => {
                    let (v, m) = one(col.i64()?)?;
                    (Field::Micros(v), m)
                }
                PgType::Float4 => {
                    let (v, m) = one(col.f32()?)?;
                    (Field::F32(v), m)
                }
                PgType::Float8 => {
                    let (v, m) = one(col.f64()?)?;
                    (Field::F64(v), m)
                }
                PgType::Text | PgType::Jsonb => {
                    let ca = col.str()?;
                    let validity = ca.downcast_iter().next().and_then(|a| a.validity());
                    (Field::Text(ca, *ty == PgType::Jsonb), validity)
                }
            };
            fields.push(field);
        }
        Ok(fields)
    }
}

fn encode_rows(
    fields: &[(Field<'_>, Option<&polars_arrow::bitmap::Bitmap>)],
    rows: std::ops::Range<usize>,
    out: &mut Vec<u8>,
) {
    let n_fields = fields.len() as i16;
    for row in rows {
        out.extend_from_slice(&n_fields.to_be_bytes());
        for (field, validity) in fields {
            if validity.is_some_and(|v| !v.get_bit(row)) {
                out.extend_from_slice(&(-1i32).to_be_bytes());
                continue;
            }
            match field {
                Field::Bool(ca) => {
                    out.extend_from_slice(&1i32.to_be_bytes());
                    out.push(u8::from(ca.get(row).unwrap_or(false)));
                }
                Field::I32(v) => {
                    out.extend_from_slice(&4i32.to_be_bytes());
                    out.extend_from_slice(&v[row].to_be_bytes());
                }
                Field::Date(v) => {
                    out.extend_from_slice(&4i32.to_be_bytes());
                    out.extend_from_slice(&(v[row] - PG_EPOCH_DAYS).to_be_bytes());
                }
                Field::I64(v) => {
                    out.extend_from_slice(&8i32.to_be_bytes());
                    out.extend_from_slice(&v[row].to_be_bytes());
                }
                Field::Micros(v) => {
                    out.extend_from_slice(&8i32.to_be_bytes());
                    out.extend_from_slice(&(v[row] - PG_EPOCH_US).to_be_bytes());
                }
                Field::F32(v) => {
                    out.extend_from_slice(&4i32.to_be_bytes());
                    out.extend_from_slice(&v[row].to_bits().to_be_bytes());
                }
                Field::F64(v) => {
                    out.extend_from_slice(&8i32.to_be_bytes());
                    out.extend_from_slice(&v[row].to_bits().to_be_bytes());
                }
                Field::Text(ca, jsonb) => {
                    let s = ca.get(row).unwrap_or("");
                    let len = s.len() + usize::from(*jsonb);
                    out.extend_from_slice(&(len as i32).to_be_bytes());
                    if *jsonb {
                        out.push(1);
                    }
                    out.extend_from_slice(s.as_bytes());
                }
            }
        }
    }
}

/// A frame encoded as binary COPY data, in blocks of [`BLOCK_ROWS`] rows (header in the first block,
/// trailer in the last), encoded in parallel.
pub fn encode(
    frame: &DataFrame,
    table: &str,
    columns: &[(String, PgType)],
) -> Result<Vec<Vec<u8>>> {
    if columns.len() > i16::MAX as usize {
        return Err(Error::Schema(format!("{table}: too many columns")));
    }
    let prepared = Prepared::new(frame, table, columns)?;
    let fields = prepared.fields()?;
    let n = frame.height();
    let starts: Vec<usize> = (0..n.div_ceil(BLOCK_ROWS).max(1))
        .map(|b| b * BLOCK_ROWS)
        .collect();
    let last = starts.len() - 1;
    let blocks = starts
        .par_iter()
        .enumerate()
        .map(|(b, &start)| {
            let end = (start + BLOCK_ROWS).min(n);
            let mut out = Vec::with_capacity((end - start) * (2 + 12 * fields.len()) + 32);
            if b == 0 {
                out.extend_from_slice(SIGNATURE);
                out.extend_from_slice(&0i32.to_be_bytes());
                out.extend_from_slice(&0i32.to_be_bytes());
            }
            encode_rows(&fields, start..end, &mut out);
            if b == last {
                out.extend_from_slice(&(-1i16).to_be_bytes());
            }
            out
        })
        .collect();
    Ok(blocks)
}

/// A polars type written as text in `shoplens.load_columns`, so that a table read back from
/// PostgreSQL gets exactly the type it had in the warehouse.
pub fn dtype_name(dt: &DataType) -> String {
    match dt {
        DataType::Datetime(unit, tz) => {
            let unit = match unit {
                TimeUnit::Milliseconds => "ms",
                TimeUnit::Microseconds => "us",
                TimeUnit::Nanoseconds => "ns",
            };
            match tz {
                Some(tz) => format!("datetime[{unit},{tz}]"),
                None => format!("datetime[{unit}]"),
            }
        }
        DataType::Boolean => "bool".into(),
        DataType::Int8 => "i8".into(),
        DataType::Int16 => "i16".into(),
        DataType::Int32 => "i32".into(),
        DataType::Int64 => "i64".into(),
        DataType::UInt8 => "u8".into(),
        DataType::UInt16 => "u16".into(),
        DataType::UInt32 => "u32".into(),
        DataType::UInt64 => "u64".into(),
        DataType::Float32 => "f32".into(),
        DataType::Float64 => "f64".into(),
        DataType::Date => "date".into(),
        _ => "str".into(),
    }
}

/// Inverse of [`dtype_name`]; `None` for a name it does not write.
pub fn parse_dtype(name: &str) -> Option<DataType> {
    Some(match name {
        "bool" => DataType::Boolean,
        "i8" => DataType::Int8,
        "i16" => DataType::Int16,
        "i32" => DataType::Int32,
        "i64" => DataType::Int64,
        "u8" => DataType::UInt8,
        "u16" => DataType::UInt16,
        "u32" => DataType::UInt32,
        "u64" => DataType::UInt64,
        "f32" => DataType::Float32,
        "f64" => DataType::Float64,
        "date" => DataType::Date,
        "str" => DataType::String,
        other => {
            let inner = other.strip_prefix("datetime[")?.strip_suffix(']')?;
            let (unit, tz) = match inner.split_once(',') {
                Some((u, tz)) => (u, Some(tz)),
                None => (inner, None),
            };
            let unit = match unit {
                "ms" => TimeUnit::Milliseconds,
                "us" => TimeUnit::Microseconds,
                "ns" => TimeUnit::Nanoseconds,
                _ => return None,
            };
            let tz = match tz {
                None => None,
                Some(tz) => Some(TimeZone::opt_try_new(Some(tz)).ok()??),
            };
            DataType::Datetime(unit, tz)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_of_a_small_frame() {
        let df = df!(
            "b" => [Some(true), None],
            "i" => [Some(258i64), None],
            "s" => [Some("é"), None],
        )
        .unwrap();
        let cols = vec![
            ("b".to_string(), PgType::Bool),
            ("i".to_string(), PgType::Int8),
            ("s".to_string(), PgType::Text),
        ];
        let data: Vec<u8> = encode(&df, "t", &cols).unwrap().concat();
        let mut want = SIGNATURE.to_vec();
        want.extend([0, 0, 0, 0, 0, 0, 0, 0]);
        want.extend([0, 3, 0, 0, 0, 1, 1]); // 3 fields; bool true
        want.extend([0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 1, 2]); // int8 258
        want.extend([0, 0, 0, 2, 0xc3, 0xa9]); // "é" in UTF-8
        want.extend([
            0, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        ]);
        want.extend([255, 255]);
        assert_eq!(data, want);
    }

    #[test]
    fn dates_and_times_count_from_2000() {
        let d = Column::new("d".into(), [10_957i32])
            .cast(&DataType::Date)
            .unwrap();
        let t = Column::new("t".into(), [946_684_800_001i64])
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
            .unwrap();
        let df = DataFrame::new(1, vec![d, t]).unwrap();
        let cols = vec![
            ("d".to_string(), PgType::Date),
            ("t".to_string(), PgType::TimestampTz),
        ];
        let data: Vec<u8> = encode(&df, "t", &cols).unwrap().concat();
        let row = &data[SIGNATURE.len() + 8..];
        assert_eq!(&row[..10], &[0, 2, 0, 0, 0, 4, 0, 0, 0, 0]);
        assert_eq!(&row[10..22], &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 3, 0xe8]);
    }

    #[test]
    fn strings_are_not_silently_numbers() {
        let df = df!("i" => ["12", "x"]).unwrap();
        let err = encode(&df, "t", &[("i".to_string(), PgType::Int8)]).unwrap_err();
        assert!(err.to_string().contains("cannot be stored"), "{err}");
    }

    #[test]
    fn dtype_names_round_trip() {
        for dt in [
            DataType::Int64,
            DataType::UInt32,
            DataType::Datetime(TimeUnit::Milliseconds, None),
            DataType::Date,
            DataType::String,
            DataType::Boolean,
        ] {
            assert_eq!(parse_dtype(&dtype_name(&dt)), Some(dt));
        }
    }
}
