//! A [`PartitionPartial`] as bytes: what a cluster task sends to the driver (a binary value in an
//! Arrow column). Little-endian fixed-width integers, length-prefixed sequences and strings, a version
//! tag first. Every struct is taken apart field by field, so a new field fails to compile here until
//! it is encoded too.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use polars::prelude::*;

use super::partitioned::{KpiPart, PartitionPartial};
use crate::clean::columns::{DuplicateRow, ItemCounts, QuarantineRow};
use crate::clean::pipeline::EventStats;
use crate::clean::rules::Rule;
use crate::cohorts::{Cell, CohortPartial};
use crate::kpis::scan::{
    CellCounts, FunnelBreakdown, FunnelPartial, HeadlinePartial, ItemCounts as KpiItems,
    PeriodCounts, VisitorRow,
};
use crate::kpis::Partials;
use crate::{Error, Result};

// 02: per-visitor partials moved to the partition's visitor file.
const MAGIC: &[u8; 8] = b"SLPART02";

#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    fn bool(&mut self, v: bool) {
        self.0.push(v as u8);
    }
    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_i64(&mut self, v: Option<i64>) {
        self.bool(v.is_some());
        self.i64(v.unwrap_or(0));
    }
    fn opt_i32(&mut self, v: Option<i32>) {
        self.bool(v.is_some());
        self.i32(v.unwrap_or(0));
    }
    fn vec<T>(&mut self, v: &[T], mut f: impl FnMut(&mut Enc, &T)) {
        self.len(v.len());
        for x in v {
            f(self, x);
        }
    }
}

struct Dec<'a> {
    b: &'a [u8],
    at: usize,
}

fn short() -> Error {
    Error::InvalidArgument("a partition partial is truncated or not a partial".into())
}

impl Dec<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.at.checked_add(n).ok_or_else(short)?;
        let s = self.b.get(self.at..end).ok_or_else(short)?;
        self.at = end;
        Ok(s)
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| short())?,
        ))
    }
    fn i64(&mut self) -> Result<i64> {
        Ok(self.u64()? as i64)
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| short())?,
        ))
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64()?))
    }
    fn bool(&mut self) -> Result<bool> {
        Ok(self.take(1)?[0] != 0)
    }
    fn len(&mut self) -> Result<usize> {
        let n = self.u64()? as usize;
        // Every element takes at least one byte: a longer count is corrupt.
        if n > self.b.len() - self.at.min(self.b.len()) {
            return Err(short());
        }
        Ok(n)
    }
    fn str(&mut self) -> Result<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| short())
    }
    fn opt_i64(&mut self) -> Result<Option<i64>> {
        let some = self.bool()?;
        let v = self.i64()?;
        Ok(some.then_some(v))
    }
    fn opt_i32(&mut self) -> Result<Option<i32>> {
        let some = self.bool()?;
        let v = self.i32()?;
        Ok(some.then_some(v))
    }
    fn vec<T>(&mut self, mut f: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        let n = self.len()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(f(self)?);
        }
        Ok(out)
    }
}

fn enc_period(e: &mut Enc, c: &PeriodCounts) {
    let PeriodCounts {
        visitors,
        sessions,
        events,
        views,
        carts,
        purchases,
        orders,
        buyers,
        revenue,
    } = *c;
    for v in [
        visitors, sessions, events, views, carts, purchases, orders, buyers,
    ] {
        e.u64(v);
    }
    e.i64(revenue);
}

fn dec_period(d: &mut Dec<'_>) -> Result<PeriodCounts> {
    Ok(PeriodCounts {
        visitors: d.u64()?,
        sessions: d.u64()?,
        events: d.u64()?,
        views: d.u64()?,
        carts: d.u64()?,
        purchases: d.u64()?,
        orders: d.u64()?,
        buyers: d.u64()?,
        revenue: d.i64()?,
    })
}

fn enc_funnel(e: &mut Enc, f: &FunnelPartial) {
    let FunnelPartial {
        reached,
        skipped,
        times,
    } = f;
    for k in 0..3 {
        e.u64(reached[k]);
        e.u64(skipped[k]);
        e.vec(&times[k], |e, t| e.i64(*t));
    }
}

fn dec_funnel(d: &mut Dec<'_>) -> Result<FunnelPartial> {
    let mut f = FunnelPartial::default();
    for k in 0..3 {
        f.reached[k] = d.u64()?;
        f.skipped[k] = d.u64()?;
        f.times[k] = d.vec(|d| d.i64())?;
    }
    Ok(f)
}

fn enc_items(e: &mut Enc, c: &KpiItems) {
    let KpiItems {
        views,
        carts,
        purchases,
        revenue,
        viewers,
        carters,
        buyers,
        viewer_buyers,
    } = *c;
    for v in [views, carts, purchases] {
        e.u64(v);
    }
    e.i64(revenue);
    for v in [viewers, carters, buyers, viewer_buyers] {
        e.u64(v);
    }
}

fn dec_items(d: &mut Dec<'_>) -> Result<KpiItems> {
    Ok(KpiItems {
        views: d.u64()?,
        carts: d.u64()?,
        purchases: d.u64()?,
        revenue: d.i64()?,
        viewers: d.u64()?,
        carters: d.u64()?,
        buyers: d.u64()?,
        viewer_buyers: d.u64()?,
    })
}

fn enc_headline(e: &mut Enc, h: &HeadlinePartial) {
    let HeadlinePartial {
        visitors,
        buyers,
        repeat_buyers,
        events,
        views,
        carts,
        purchases,
        priced_purchases,
        orders,
        revenue,
        sessions,
        bounces,
        cart_sessions,
        abandoned_sessions,
        purchase_sessions,
        session_events,
        multi_event_sessions,
        multi_event_durations,
    } = h;
    for v in [
        visitors,
        buyers,
        repeat_buyers,
        events,
        views,
        carts,
        purchases,
        priced_purchases,
        orders,
    ] {
        e.u64(*v);
    }
    e.i64(*revenue);
    for v in [
        sessions,
        bounces,
        cart_sessions,
        abandoned_sessions,
        purchase_sessions,
        session_events,
        multi_event_sessions,
    ] {
        e.u64(*v);
    }
    e.vec(multi_event_durations, |e, t| e.i64(*t));
}

fn dec_headline(d: &mut Dec<'_>) -> Result<HeadlinePartial> {
    Ok(HeadlinePartial {
        visitors: d.u64()?,
        buyers: d.u64()?,
        repeat_buyers: d.u64()?,
        events: d.u64()?,
        views: d.u64()?,
        carts: d.u64()?,
        purchases: d.u64()?,
        priced_purchases: d.u64()?,
        orders: d.u64()?,
        revenue: d.i64()?,
        sessions: d.u64()?,
        bounces: d.u64()?,
        cart_sessions: d.u64()?,
        abandoned_sessions: d.u64()?,
        purchase_sessions: d.u64()?,
        session_events: d.u64()?,
        multi_event_sessions: d.u64()?,
        multi_event_durations: d.vec(|d| d.i64())?,
    })
}

fn enc_partials(e: &mut Enc, p: &Partials) {
    let Partials {
        days,
        hours,
        weeks,
        months,
        hour_weekday,
        funnel_user,
        funnel_session,
        items,
        categories,
        visitors,
        headline,
        funnel_by,
    } = p;
    for v in [days, hours, weeks, months] {
        e.vec(v, enc_period);
    }
    for b in funnel_by {
        e.vec(&b.user, enc_funnel);
        e.vec(&b.session, enc_funnel);
    }
    e.vec(hour_weekday, |e, c| {
        let CellCounts {
            events,
            visitors,
            purchases,
            buyers,
        } = *c;
        for v in [events, visitors, purchases, buyers] {
            e.u64(v);
        }
    });
    enc_funnel(e, funnel_user);
    enc_funnel(e, funnel_session);
    e.vec(items, enc_items);
    e.vec(categories, enc_items);
    e.vec(visitors, |e, r| {
        let VisitorRow {
            visitor,
            first_ts,
            last_ts,
            events,
            sessions,
            purchases,
            orders,
            revenue,
            last_purchase_ts,
        } = *r;
        e.u64(u64::from(visitor));
        e.i64(first_ts);
        e.i64(last_ts);
        for v in [events, sessions, purchases, orders] {
            e.u64(u64::from(v));
        }
        e.i64(revenue);
        e.opt_i64(last_purchase_ts);
    });
    enc_headline(e, headline);
}

fn dec_partials(d: &mut Dec<'_>) -> Result<Partials> {
    let days = d.vec(dec_period)?;
    let hours = d.vec(dec_period)?;
    let weeks = d.vec(dec_period)?;
    let months = d.vec(dec_period)?;
    let mut funnel_by: [FunnelBreakdown; 4] = Default::default();
    for b in funnel_by.iter_mut() {
        b.user = d.vec(dec_funnel)?;
        b.session = d.vec(dec_funnel)?;
    }
    Ok(Partials {
        days,
        hours,
        weeks,
        months,
        funnel_by,
        hour_weekday: d.vec(|d| {
            Ok(CellCounts {
                events: d.u64()?,
                visitors: d.u64()?,
                purchases: d.u64()?,
                buyers: d.u64()?,
            })
        })?,
        funnel_user: dec_funnel(d)?,
        funnel_session: dec_funnel(d)?,
        items: d.vec(dec_items)?,
        categories: d.vec(dec_items)?,
        visitors: d.vec(|d| {
            Ok(VisitorRow {
                visitor: u32::try_from(d.u64()?).map_err(|_| short())?,
                first_ts: d.i64()?,
                last_ts: d.i64()?,
                events: u32::try_from(d.u64()?).map_err(|_| short())?,
                sessions: u32::try_from(d.u64()?).map_err(|_| short())?,
                purchases: u32::try_from(d.u64()?).map_err(|_| short())?,
                orders: u32::try_from(d.u64()?).map_err(|_| short())?,
                revenue: d.i64()?,
                last_purchase_ts: d.opt_i64()?,
            })
        })?,
        headline: dec_headline(d)?,
    })
}

fn enc_cohort(e: &mut Enc, c: &CohortPartial) {
    let CohortPartial {
        sizes,
        cells,
        last_period,
    } = c;
    e.len(sizes.len());
    for (k, v) in sizes {
        e.i32(*k);
        e.i64(*v);
    }
    e.len(cells.len());
    for ((a, b), cell) in cells {
        let Cell {
            active,
            buyers,
            revenue,
        } = *cell;
        e.i32(*a);
        e.i32(*b);
        e.i64(active);
        e.i64(buyers);
        e.f64(revenue);
    }
    e.opt_i32(*last_period);
}

fn dec_cohort(d: &mut Dec<'_>) -> Result<CohortPartial> {
    let mut sizes = BTreeMap::new();
    for _ in 0..d.len()? {
        let k = d.i32()?;
        sizes.insert(k, d.i64()?);
    }
    let mut cells = BTreeMap::new();
    for _ in 0..d.len()? {
        let key = (d.i32()?, d.i32()?);
        cells.insert(
            key,
            Cell {
                active: d.i64()?,
                buyers: d.i64()?,
                revenue: d.f64()?,
            },
        );
    }
    Ok(CohortPartial {
        sizes,
        cells,
        last_period: d.opt_i32()?,
    })
}

fn enc_stats(e: &mut Enc, s: &EventStats) {
    let EventStats {
        source,
        rows_read,
        duplicates_removed,
        quarantined,
        kept,
        by_rule,
        by_event,
        sessions,
        visitors,
        bot_visitors,
        bot_events,
        purchases_without_price,
        events_without_category,
        min_ts,
        max_ts,
    } = s;
    e.str(source);
    for v in [rows_read, duplicates_removed, quarantined, kept] {
        e.u64(*v);
    }
    for list in [by_rule, by_event] {
        e.vec(list, |e, (name, n)| {
            e.str(name);
            e.u64(*n);
        });
    }
    for v in [
        sessions,
        visitors,
        bot_visitors,
        bot_events,
        purchases_without_price,
        events_without_category,
    ] {
        e.u64(*v);
    }
    e.opt_i64(*min_ts);
    e.opt_i64(*max_ts);
}

fn dec_stats(d: &mut Dec<'_>) -> Result<EventStats> {
    let pair = |d: &mut Dec<'_>| -> Result<(String, u64)> { Ok((d.str()?, d.u64()?)) };
    Ok(EventStats {
        source: d.str()?,
        rows_read: d.u64()?,
        duplicates_removed: d.u64()?,
        quarantined: d.u64()?,
        kept: d.u64()?,
        by_rule: d.vec(pair)?,
        by_event: d.vec(pair)?,
        sessions: d.u64()?,
        visitors: d.u64()?,
        bot_visitors: d.u64()?,
        bot_events: d.u64()?,
        purchases_without_price: d.u64()?,
        events_without_category: d.u64()?,
        min_ts: d.opt_i64()?,
        max_ts: d.opt_i64()?,
    })
}

fn f64_column(df: &DataFrame, name: &str) -> Result<Vec<f64>> {
    Ok(df
        .column(name)?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

/// The bytes of a partition's partial.
pub fn encode(p: &PartitionPartial) -> Result<Vec<u8>> {
    let PartitionPartial {
        partition,
        item_counts,
        quarantine,
        duplicates,
        stats,
        kpi,
        cohorts,
        rfm,
        rfm_end,
        part_dir,
    } = p;
    let mut e = Enc::default();
    e.0.extend_from_slice(MAGIC);
    e.len(*partition);
    e.vec(item_counts, |e, (id, c)| {
        let ItemCounts {
            views,
            carts,
            purchases,
            revenue,
        } = *c;
        e.i64(*id);
        for v in [views, carts, purchases] {
            e.u64(u64::from(v));
        }
        e.f64(revenue);
    });
    e.vec(quarantine, |e, q| {
        let QuarantineRow {
            source,
            line,
            rule,
            detail,
            raw,
        } = q;
        e.str(source);
        e.u64(*line);
        e.str(rule.name());
        e.str(detail);
        e.str(raw);
    });
    e.vec(duplicates, |e, r| {
        let DuplicateRow {
            source,
            line,
            duplicate_of_line,
        } = r;
        e.str(source);
        e.u64(*line);
        e.u64(*duplicate_of_line);
    });
    enc_stats(&mut e, stats);
    let KpiPart {
        partials,
        first_day,
        n_days,
        end_ts,
        item_ids,
        item_first,
        root_ids,
        root_first,
    } = kpi;
    enc_partials(&mut e, partials);
    e.i32(*first_day);
    e.len(*n_days);
    e.opt_i64(*end_ts);
    e.vec(item_ids, |e, v| e.i64(*v));
    e.vec(item_first, |e, (v, t, l)| {
        e.i64(*v);
        e.i64(*t);
        e.u64(*l);
    });
    e.vec(root_ids, |e, r| e.opt_i64(*r));
    e.vec(root_first, |e, (v, t, l)| {
        e.i64(*v);
        e.i64(*t);
        e.u64(*l);
    });
    e.vec(cohorts, |e, pair| {
        enc_cohort(e, &pair[0]);
        enc_cohort(e, &pair[1]);
    });
    // The RFM summary: visitor_id, frequency, recency, T, monetary_value.
    let ids: Vec<i64> = if rfm.height() == 0 {
        Vec::new()
    } else {
        rfm.column("visitor_id")?
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .map(|v| v.unwrap_or(0))
            .collect()
    };
    e.vec(&ids, |e, v| e.i64(*v));
    for name in ["frequency", "recency", "T", "monetary_value"] {
        let values = if rfm.height() == 0 {
            Vec::new()
        } else {
            f64_column(rfm, name)?
        };
        e.vec(&values, |e, v| e.f64(*v));
    }
    e.opt_i32(*rfm_end);
    e.str(&part_dir.to_string_lossy());
    Ok(e.0)
}

/// A partition's partial from its bytes.
pub fn decode(bytes: &[u8]) -> Result<PartitionPartial> {
    if bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        return Err(short());
    }
    let mut d = Dec {
        b: bytes,
        at: MAGIC.len(),
    };
    let partition = d.len()?;
    let item_counts = d.vec(|d| {
        let id = d.i64()?;
        let n = |d: &mut Dec<'_>| -> Result<u32> { u32::try_from(d.u64()?).map_err(|_| short()) };
        Ok((
            id,
            ItemCounts {
                views: n(d)?,
                carts: n(d)?,
                purchases: n(d)?,
                revenue: d.f64()?,
            },
        ))
    })?;
    let mut sources: Vec<Arc<str>> = Vec::new();
    let mut intern = |s: String| -> Arc<str> {
        match sources.iter().find(|a| a.as_ref() == s) {
            Some(a) => a.clone(),
            None => {
                let a: Arc<str> = Arc::from(s);
                sources.push(a.clone());
                a
            }
        }
    };
    let quarantine = d.vec(|d| {
        let source = intern(d.str()?);
        let line = d.u64()?;
        let name = d.str()?;
        let rule = Rule::ALL
            .iter()
            .copied()
            .find(|r| r.name() == name)
            .ok_or_else(short)?;
        Ok(QuarantineRow {
            source,
            line,
            rule,
            detail: d.str()?,
            raw: d.str()?,
        })
    })?;
    let duplicates = d.vec(|d| {
        Ok(DuplicateRow {
            source: intern(d.str()?),
            line: d.u64()?,
            duplicate_of_line: d.u64()?,
        })
    })?;
    let stats = dec_stats(&mut d)?;
    let kpi = KpiPart {
        partials: dec_partials(&mut d)?,
        first_day: d.i32()?,
        n_days: d.len()?,
        end_ts: d.opt_i64()?,
        item_ids: d.vec(|d| d.i64())?,
        item_first: d.vec(|d| Ok((d.i64()?, d.i64()?, d.u64()?)))?,
        root_ids: d.vec(|d| d.opt_i64())?,
        root_first: d.vec(|d| Ok((d.i64()?, d.i64()?, d.u64()?)))?,
    };
    let cohorts = d.vec(|d| Ok([dec_cohort(d)?, dec_cohort(d)?]))?;
    let ids = d.vec(|d| d.i64())?;
    let mut columns = vec![Column::new("visitor_id".into(), ids)];
    for name in ["frequency", "recency", "T", "monetary_value"] {
        columns.push(Column::new(name.into(), d.vec(|d| d.f64())?));
    }
    let height = columns[0].len();
    if columns.iter().any(|c| c.len() != height) {
        return Err(short());
    }
    let rfm = DataFrame::new(height, columns)?;
    let rfm_end = d.opt_i32()?;
    let part_dir = PathBuf::from(d.str()?);
    if d.at != bytes.len() {
        return Err(short());
    }
    Ok(PartitionPartial {
        partition,
        item_counts,
        quarantine,
        duplicates,
        stats,
        kpi,
        cohorts,
        rfm,
        rfm_end,
        part_dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_bytes_are_an_error_not_a_panic() {
        let p = PartitionPartial {
            rfm: DataFrame::new(
                0,
                vec![
                    Column::new("visitor_id".into(), Vec::<i64>::new()),
                    Column::new("frequency".into(), Vec::<f64>::new()),
                    Column::new("recency".into(), Vec::<f64>::new()),
                    Column::new("T".into(), Vec::<f64>::new()),
                    Column::new("monetary_value".into(), Vec::<f64>::new()),
                ],
            )
            .unwrap(),
            ..Default::default()
        };
        let bytes = encode(&p).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(back.partition, 0);
        for cut in [0, 5, 9, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
    }
}
