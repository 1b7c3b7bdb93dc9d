//! Visitor / customer ids as dense codes, whatever the id column's type (Int64 or String: generic
//! sources keep their own ids). Codes follow the order of first appearance, so an input sorted by id
//! keeps its order, and the original ids are recovered by gathering the column at each code's first row.
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

/// Dense codes of an Int64 (any integer) or String id column (the KPI index's coding,
/// [`crate::kpis::index::first_appearance`]); a null id is an error naming its row.
pub fn id_codes(column: &Column) -> Result<IdCodes> {
    let (codes, first_rows) = crate::kpis::index::first_appearance(column)?;
    if let Some(row) = codes.iter().position(|&c| c == crate::kpis::index::NONE) {
        return Err(Error::InvalidArgument(format!(
            "{}: null id in row {row}; ids must not be null",
            column.name()
        )));
    }
    Ok(IdCodes {
        codes,
        first_row: first_rows,
    })
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

/// Calendar arithmetic has one implementation, in the KPI index.
pub use crate::kpis::index::days_from_civil;

/// (year, month) of a day number (inverse of [`days_from_civil`] without the day).
pub fn civil_year_month(days: i32) -> (i32, u32) {
    let (y, m, _) = crate::kpis::index::civil(days);
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
