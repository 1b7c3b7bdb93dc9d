//! Headline KPIs with the counts they are made of, for any filter.
use polars::prelude::*;

use super::index::from_micro;
use super::scan::HeadlinePartial;
use super::tables::ratio;
use crate::Result;

/// Median of unsorted values in O(n) (mean of the two middle values for an even length).
fn median_unsorted(x: &mut [i64]) -> Option<f64> {
    let n = x.len();
    if n == 0 {
        return None;
    }
    let (_, &mut hi, _) = x.select_nth_unstable(n / 2);
    if n % 2 == 1 {
        return Some(hi as f64);
    }
    let lo = *x[..n / 2].iter().max().expect("n >= 2");
    Some((lo as f64 + hi as f64) / 2.0)
}

/// One row: every KPI next to its numerator and denominator. Session duration is over sessions
/// with at least two events (a one-event session has no measurable duration).
pub fn headline_frame(mut h: HeadlinePartial) -> Result<DataFrame> {
    let median = median_unsorted(&mut h.multi_event_durations).map(|ms| ms / 1000.0);
    let mean = ratio(
        h.multi_event_durations.iter().sum::<i64>() as f64 / 1000.0,
        h.multi_event_sessions as f64,
    );
    let revenue = from_micro(h.revenue);
    let int = |name: &str, v: u64| Column::new(name.into(), [v as i64]);
    let float = |name: &str, v: Option<f64>| Column::new(name.into(), [v]);
    let cols = vec![
        int("visitors", h.visitors),
        int("buyers", h.buyers),
        float("conversion", ratio(h.buyers as f64, h.visitors as f64)),
        int("orders", h.orders),
        Column::new("revenue".into(), [revenue]),
        float("aov", ratio(revenue, h.orders as f64)),
        float("revenue_per_visitor", ratio(revenue, h.visitors as f64)),
        float("arppu", ratio(revenue, h.buyers as f64)),
        int("sessions", h.sessions),
        int("cart_sessions", h.cart_sessions),
        int("abandoned_sessions", h.abandoned_sessions),
        float(
            "cart_abandonment",
            ratio(h.abandoned_sessions as f64, h.cart_sessions as f64),
        ),
        int("bounces", h.bounces),
        float("bounce_rate", ratio(h.bounces as f64, h.sessions as f64)),
        int("session_events", h.session_events),
        float(
            "events_per_session",
            ratio(h.session_events as f64, h.sessions as f64),
        ),
        int("multi_event_sessions", h.multi_event_sessions),
        float("median_session_duration_s", median),
        float("mean_session_duration_s", mean),
        int("repeat_buyers", h.repeat_buyers),
        float(
            "repeat_purchase_rate",
            ratio(h.repeat_buyers as f64, h.buyers as f64),
        ),
        int("purchase_sessions", h.purchase_sessions),
        float(
            "session_conversion",
            ratio(h.purchase_sessions as f64, h.sessions as f64),
        ),
        int("events", h.events),
        int("views", h.views),
        int("carts", h.carts),
        int("purchases", h.purchases),
        int("priced_purchases", h.priced_purchases),
    ];
    Ok(DataFrame::new(1, cols)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_lengths() {
        assert_eq!(median_unsorted(&mut []), None);
        assert_eq!(median_unsorted(&mut [5, 1, 3]), Some(3.0));
        assert_eq!(median_unsorted(&mut [4, 1, 3, 10]), Some(3.5));
    }
}
