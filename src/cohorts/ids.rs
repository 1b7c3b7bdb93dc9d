//! Visitor / customer ids as dense codes, whatever the id column's type (Int64 or String: generic
//! sources keep their own ids). Codes follow the order of first appearance, so an input sorted by id
//! keeps its order, and the original ids are recovered by gathering the column at each code's first row.
use hashbrown::HashMap;
use polars::prelude::*;

use crate::{Error, Result};

pub struct IdCodes {
    /// One code per row, `0..n_ids`.
    pub codes: Vec<u32>,
    /// Row of each code's first appearance.
    pub first_row: Vec<u32>,
}

impl IdCodes {
    pub fn n_ids(&self) -> usize {
        self.first_row.len()
    }

    /// The original id of every code, as a column named `name` of the input's type.
    pub fn ids(&self, column: &Column, name: &str) -> Result<Column> {
        let idx = IdxCa::from_vec(
            "idx".into(),
            self.first_row.iter().map(|&r| r as IdxSize).collect(),
        );
        let mut out = column.take(&idx)?;
        out.rename(name.into());
        Ok(out)
    }
}

fn assign<K: std::hash::Hash + Eq>(
    keys: impl Iterator<Item = Option<K>>,
    n: usize,
    column: &str,
) -> Result<IdCodes> {
    let mut map: HashMap<K, u32> = HashMap::new();
    let mut codes = Vec::with_capacity(n);
    let mut first_row = Vec::new();
    for (row, key) in keys.enumerate() {
        let key = key.ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{column}: null id in row {row}; ids must not be null"
            ))
        })?;
        let next = first_row.len() as u32;
        let code = *map.entry(key).or_insert_with(|| {
            first_row.push(row as u32);
            next
        });
        codes.push(code);
    }
    Ok(IdCodes { codes, first_row })
}

/// Dense codes of an Int64 (any integer) or String id column.
pub fn id_codes(column: &Column) -> Result<IdCodes> {
    let n = column.len();
    if n > u32::MAX as usize {
        return Err(Error::InvalidArgument(format!(
            "{}: more than 2^32 rows",
            column.name()
        )));
    }
    let name = column.name().as_str();
    match column.dtype() {
        DataType::String => assign(column.str()?.iter(), n, name),
        dt if dt.is_integer() => {
            let ints = column.cast(&DataType::Int64)?;
            assign(ints.i64()?.iter(), n, name)
        }
        other => Err(Error::Schema(format!(
            "{name}: ids must be integers or strings, not {other}"
        ))),
    }
}

/// UTC day numbers (days since 1970-01-01) of a Date or Datetime column; nulls are an error.
pub fn day_numbers(column: &Column) -> Result<Vec<i32>> {
    let name = column.name().as_str();
    let days = match column.dtype() {
        DataType::Date => column.clone(),
        DataType::Datetime(_, _) => column.cast(&DataType::Date)?,
        other => {
            return Err(Error::Schema(format!(
                "{name}: expected a Date or Datetime column, not {other}"
            )))
        }
    };
    let phys = days.to_physical_repr();
    let ca = phys.i32()?;
    ca.iter()
        .enumerate()
        .map(|(row, d)| {
            d.ok_or_else(|| Error::InvalidArgument(format!("{name}: null time in row {row}")))
        })
        .collect()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i32 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month) of a day number (inverse of [`days_from_civil`] without the day).
pub fn civil_year_month(days: i32) -> (i32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i32::from(m <= 2);
    (y, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 29), -3);
        for d in -800_000..800_000 {
            let (y, m) = civil_year_month(d);
            let start = days_from_civil(y, m, 1);
            assert!(start <= d && d - start < 31, "day {d}");
        }
    }

    #[test]
    fn codes_for_ints_and_strings() {
        let ints = Column::new("v".into(), [5i64, 3, 5, 7, 3]);
        let c = id_codes(&ints).unwrap();
        assert_eq!(c.codes, [0, 1, 0, 2, 1]);
        assert_eq!(
            c.ids(&ints, "id").unwrap().i64().unwrap().to_vec(),
            [Some(5), Some(3), Some(7)]
        );
        let strs = Column::new("v".into(), ["b", "a", "b"]);
        let c = id_codes(&strs).unwrap();
        assert_eq!(c.codes, [0, 1, 0]);
        let nulls = Column::new("v".into(), [Some(1i64), None]);
        assert!(id_codes(&nulls).is_err());
    }
}
