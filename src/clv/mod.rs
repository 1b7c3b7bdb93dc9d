//! Customer lifetime value: the RFM summary of purchases, the BG/NBD model of repeat purchases and the
//! Gamma-Gamma model of spend, fitted by maximum likelihood (argmin's L-BFGS, analytic gradients,
//! log-space likelihoods), and the predictions built on them: P(alive), expected purchases over a
//! horizon, expected spend, discounted CLV. Also the two derived warehouse tables of `shoplens build`
//! that come from cohorts and CLV ([`tables`]).
pub mod bgnbd;
pub mod gamma_gamma;
mod optimize;
pub mod simulate;
pub mod summary;

pub use bgnbd::{bgnbd_log_likelihood, fit_bgnbd, BgNbd};
pub use gamma_gamma::{
    customer_lifetime_value, fit_gamma_gamma, gamma_gamma_log_likelihood, GammaGamma,
};
pub use summary::{rfm_summary, Unit};

use polars::prelude::*;

use crate::frame::owned;

use crate::cohorts::ids::day_numbers;
use crate::kpis::index::{EventIndex, PURCHASE};
use crate::{Error, Result};

/// Horizon of the `expected_purchases_90d` column, in days.
pub const HORIZON_DAYS: f64 = 90.0;
/// `clv_365d`: 12 months of 365/12 days, discounted at 1 % a month (lifetimes' default rate).
pub const CLV_MONTHS: u32 = 12;
pub const CLV_MONTHLY_DISCOUNT: f64 = 0.01;

/// The purchases of non-bot visitors from an `events` table, as an RFM summary (recency and T in units
/// of `unit_days` days), observed up to
/// the last day with any event. One row per buyer (visitor_id keeps the events' id type).
pub fn rfm_from_events(
    events: &DataFrame,
    observation_end: Option<i32>,
    unit_days: f64,
) -> Result<DataFrame> {
    let col = |name: &str| {
        events
            .column(name)
            .map_err(|_| Error::Schema(format!("events: missing column '{name}'")))
    };
    let end = match observation_end {
        Some(e) => Some(e),
        None => day_numbers(col("timestamp")?)?.into_iter().max(),
    };
    let is_purchase = col("event")?.str()?.equal("transaction");
    let not_bot = match events.column("is_bot") {
        Ok(c) => !c.bool()?.fill_null_with_values(false)?,
        Err(_) => BooleanChunked::full("keep".into(), true, events.height()),
    };
    let keep = &is_purchase & &not_bot;
    let purchases = events.filter(&keep)?;
    let revenue = match purchases.column("revenue") {
        Ok(c) => c
            .cast(&DataType::Float64)?
            .fill_null(FillNullStrategy::Zero)?,
        Err(_) => owned("revenue".into(), vec![0.0; purchases.height()]),
    };
    rfm_of_purchases(
        purchases.column("visitor_id")?,
        purchases.column("timestamp")?,
        &revenue,
        end,
        unit_days,
    )
}

/// The RFM summary of purchase rows (visitor ids, times, revenue without nulls) observed up to day
/// `end`: [`rfm_summary`], or the empty summary with the ids' type when there are none.
fn rfm_of_purchases(
    ids: &Column,
    times: &Column,
    revenue: &Column,
    end: Option<i32>,
    unit_days: f64,
) -> Result<DataFrame> {
    if ids.is_empty() {
        return Ok(DataFrame::new(
            0,
            vec![
                ids.clear().with_name("visitor_id".into()),
                owned("frequency".into(), Vec::<f64>::new()),
                owned("recency".into(), Vec::<f64>::new()),
                owned("T".into(), Vec::<f64>::new()),
                owned("monetary_value".into(), Vec::<f64>::new()),
            ],
        )?);
    }
    rfm_summary(ids, times, Some(revenue), end, unit_days, "visitor_id")
}

/// As [`rfm_from_events`] (in days, observed to the last day with any event) for the events of a KPI
/// index, with each purchase's revenue from `revenue`, the `events` table's revenue column in the
/// index's row order (null counts 0).
pub fn rfm_from_index(index: &EventIndex, revenue: &Column) -> Result<DataFrame> {
    if revenue.len() != index.ts.len() {
        return Err(Error::Internal(format!(
            "customers: {} revenue values for {} indexed events",
            revenue.len(),
            index.ts.len()
        )));
    }
    let revenue = revenue.cast(&DataType::Float64)?;
    let revenue = revenue.f64()?;
    let (mut codes, mut ts, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for v in (0..index.n_visitors()).filter(|&v| !index.is_bot[v]) {
        for i in index.visitor_events(v) {
            if index.kind[i] == PURCHASE {
                codes.push(v as IdxSize);
                ts.push(index.ts[i]);
                values.push(revenue.get(i).unwrap_or(0.0));
            }
        }
    }
    let ids = index
        .visitor_ids
        .take(&IdxCa::from_vec("idx".into(), codes))?
        .with_name("visitor_id".into());
    let times = Int64Chunked::from_vec("timestamp".into(), ts)
        .into_datetime(TimeUnit::Milliseconds, None)
        .into_column();
    let end = (index.n_days > 0).then(|| index.first_day + index.n_days as i32 - 1);
    rfm_of_purchases(&ids, &times, &owned("revenue".into(), values), end, 1.0)
}

fn floats(df: &DataFrame, name: &str) -> Result<Vec<f64>> {
    Ok(df.column(name)?.f64()?.into_no_null_iter().collect())
}

/// The warehouse's `customers` table from an RFM summary in days: the summary plus p_alive,
/// expected_purchases_90d and clv_365d. The predictions are null when a model cannot be fitted (too
/// few repeat buyers for BG/NBD, or no positive repeat spend for Gamma-Gamma) or a prediction cannot be
/// computed: a build never fails on the CLV table.
///
/// Customers with T = 0 (first purchase at the very end of the data) carry no information: their
/// likelihood term is exactly 1, so they are left out of the fit. With no history their posterior is
/// the prior: p_alive = 1 and the expected purchases are a new customer's; their CLV is null.
pub fn customers_from_summary(summary: &DataFrame) -> Result<DataFrame> {
    let (x, tx, t, m) = (
        floats(summary, "frequency")?,
        floats(summary, "recency")?,
        floats(summary, "T")?,
        floats(summary, "monetary_value")?,
    );
    let n = x.len();
    let seen: Vec<usize> = (0..n).filter(|&i| t[i] > 0.0).collect();
    let pick = |v: &[f64]| seen.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    let (xs, txs, ts, ms) = (pick(&x), pick(&tx), pick(&t), pick(&m));
    let nulls = || vec![None::<f64>; n];
    let predict = || -> Result<[Vec<Option<f64>>; 3]> {
        let bg = fit_bgnbd(&xs, &txs, &ts)?;
        let gg = fit_gamma_gamma(&xs, &ms).ok().filter(|g| g.q > 1.0);
        let alive_seen = bg.p_alive(&xs, &txs, &ts)?;
        let expected_seen = bg.expected_purchases(HORIZON_DAYS, &xs, &txs, &ts)?;
        let clv_seen = match &gg {
            Some(gg) => Some(customer_lifetime_value(
                &bg,
                gg,
                &xs,
                &txs,
                &ts,
                &ms,
                CLV_MONTHS,
                CLV_MONTHLY_DISCOUNT,
                365.0 / 12.0,
            )?),
            None => None,
        };
        let new_customer = bg.expected_purchases_new(HORIZON_DAYS)?;
        let (mut alive, mut expected, mut clv) =
            (vec![Some(1.0); n], vec![Some(new_customer); n], nulls());
        for (k, &i) in seen.iter().enumerate() {
            alive[i] = Some(alive_seen[k]);
            expected[i] = Some(expected_seen[k]);
            clv[i] = clv_seen.as_ref().map(|c| c[k]);
        }
        Ok([alive, expected, clv])
    };
    let [alive, expected, clv] = predict().unwrap_or_else(|_| [nulls(), nulls(), nulls()]);
    let mut out = summary.clone();
    out.with_column(Column::new("p_alive".into(), alive))?;
    out.with_column(Column::new("expected_purchases_90d".into(), expected))?;
    out.with_column(Column::new("clv_365d".into(), clv))?;
    Ok(out)
}

/// The warehouse's `customers` table straight from an `events` table.
pub fn customers_table(events: &DataFrame) -> Result<DataFrame> {
    customers_from_summary(&rfm_from_events(events, None, 1.0)?)
}

/// The derived tables `shoplens build` writes from the clean events: `cohort_retention` and `customers`.
pub fn tables(events: &DataFrame) -> Result<Vec<(&'static str, DataFrame)>> {
    let (cohorts, customers) = rayon::join(
        || crate::cohorts::retention_table(events),
        || customers_table(events),
    );
    Ok(TABLES.into_iter().zip([cohorts?, customers?]).collect())
}

/// The tables [`tables_from_index`] builds, in its order.
pub const TABLES: [&str; 2] = ["cohort_retention", "customers"];

/// [`tables`] from a KPI index and the events' revenue column (see [`rfm_from_index`]): what
/// `shoplens build` writes, without reading the `events` table again.
pub fn tables_from_index(
    index: &EventIndex,
    revenue: &Column,
) -> Result<Vec<(&'static str, DataFrame)>> {
    let (cohorts, customers) = rayon::join(
        || crate::cohorts::retention_table_of_index(index, revenue),
        || customers_from_summary(&rfm_from_index(index, revenue)?),
    );
    Ok(TABLES.into_iter().zip([cohorts?, customers?]).collect())
}

#[cfg(test)]
mod tests;
