//! RFM summary of a transaction log, with the conventions of `lifetimes`'
//! `summary_data_from_transaction_data`: purchases are grouped into UTC days (several purchases on one
//! day are one purchase period, their values summed); frequency = purchase days - 1 (repeat periods),
//! recency = last - first purchase day, T = observation end - first purchase day, both divided by the
//! unit's length in days; monetary_value = mean value of the repeat purchase days (0 when frequency is
//! 0). Purchases after the observation end are ignored. `unit = "W"` gives lifetimes' freq="D",
//! freq_multiplier=7 (days counted in weeks, as in the published CDNOW summary).
use std::str::FromStr;

use polars::prelude::*;

use crate::frame::owned;
use rayon::prelude::*;

use crate::cohorts::ids::{day_numbers, id_codes};
use crate::{Error, Result};

/// Time unit of recency and T.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Day,
    Week,
}

impl Unit {
    pub fn days(self) -> f64 {
        match self {
            Unit::Day => 1.0,
            Unit::Week => 7.0,
        }
    }

    /// Length of a month in this unit, as `lifetimes`' `customer_lifetime_value` counts it
    /// (30 days, 4.345 weeks).
    pub fn month_length(self) -> f64 {
        match self {
            Unit::Day => 30.0,
            Unit::Week => 4.345,
        }
    }
}

impl FromStr for Unit {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "D" => Ok(Unit::Day),
            "W" => Ok(Unit::Week),
            _ => Err(Error::InvalidArgument(format!(
                "unit={s:?}: allowed 'D' (days), 'W' (weeks)"
            ))),
        }
    }
}

/// The RFM summary: one row per customer with a purchase on or before the observation end, in order
/// of the customers' first appearance in the input. Columns: `id_name`, frequency, recency, T,
/// monetary_value (Float64; monetary_value only when `monetary` is given).
pub fn rfm_summary(
    ids: &Column,
    times: &Column,
    monetary: Option<&Column>,
    observation_end: Option<i32>,
    unit_days: f64,
    id_name: &str,
) -> Result<DataFrame> {
    if ids.len() != times.len() || monetary.is_some_and(|m| m.len() != ids.len()) {
        return Err(Error::InvalidArgument(
            "summary: id, time and value columns differ in length".into(),
        ));
    }
    if !(unit_days.is_finite() && unit_days > 0.0) {
        return Err(Error::InvalidArgument(format!(
            "unit length {unit_days} days: must be > 0"
        )));
    }
    let codes = id_codes(ids)?;
    let days = day_numbers(times)?;
    let values: Option<Vec<f64>> = match monetary {
        Some(col) => {
            let name = col.name().to_string();
            let f = col
                .cast(&DataType::Float64)
                .map_err(|_| Error::Schema(format!("{name}: must be numeric")))?;
            Some(
                f.f64()?
                    .iter()
                    .enumerate()
                    .map(|(row, v)| match v {
                        Some(v) if v.is_finite() => Ok(v),
                        _ => Err(Error::InvalidArgument(format!(
                            "{name}: row {row}: value must be a finite number, got {v:?}"
                        ))),
                    })
                    .collect::<Result<_>>()?,
            )
        }
        None => None,
    };
    let end = match observation_end {
        Some(e) => e,
        None => *days
            .iter()
            .max()
            .ok_or_else(|| Error::InvalidArgument("summary: no transactions".into()))?,
    };
    let mut rows: Vec<(u32, i32, f64)> = (0..days.len())
        .filter(|&i| days[i] <= end)
        .map(|i| {
            (
                codes.codes[i],
                days[i],
                values.as_ref().map_or(0.0, |v| v[i]),
            )
        })
        .collect();
    rows.par_sort_unstable_by_key(|r| (r.0, r.1));
    let mut first_rows = Vec::new();
    let (mut freq, mut rec, mut age, mut money) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut i = 0;
    while i < rows.len() {
        let code = rows[i].0;
        let first_day = rows[i].1;
        let mut last_day = first_day;
        let mut periods = 0u64;
        let mut repeat_sum = 0.0;
        while i < rows.len() && rows[i].0 == code {
            let day = rows[i].1;
            let mut value = 0.0;
            while i < rows.len() && rows[i].0 == code && rows[i].1 == day {
                value += rows[i].2;
                i += 1;
            }
            if periods > 0 {
                repeat_sum += value;
            }
            periods += 1;
            last_day = day;
        }
        let f = (periods - 1) as f64;
        first_rows.push(codes.first_row[code as usize]);
        freq.push(f);
        rec.push(f64::from(last_day - first_day) / unit_days);
        age.push(f64::from(end - first_day) / unit_days);
        money.push(if periods > 1 { repeat_sum / f } else { 0.0 });
    }
    let idx = IdxCa::from_vec(
        "idx".into(),
        first_rows.iter().map(|&r| r as IdxSize).collect(),
    );
    let mut id_col = ids.take(&idx)?;
    id_col.rename(id_name.into());
    let mut columns = vec![
        id_col,
        owned("frequency".into(), freq),
        owned("recency".into(), rec),
        owned("T".into(), age),
    ];
    if values.is_some() {
        columns.push(owned("monetary_value".into(), money));
    }
    Ok(DataFrame::new(first_rows.len(), columns)?)
}
