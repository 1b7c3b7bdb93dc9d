//! Turning the raw fields of one event row into a typed event, or the first rule it breaks.
use serde::{Deserialize, Serialize};

use super::rules::{
    lossy, parse_i64, parse_id, parse_price, present, trim, Check, EventType, Rule,
};

/// The unit of integer timestamps in a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    S,
    #[default]
    Ms,
    Us,
    Ns,
}

/// Which source values mean which event type (RetailRocket: view, addtocart, transaction).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventNames {
    pub view: Vec<String>,
    pub addtocart: Vec<String>,
    pub transaction: Vec<String>,
}

impl Default for EventNames {
    fn default() -> Self {
        EventNames {
            view: vec!["view".into()],
            addtocart: vec!["addtocart".into()],
            transaction: vec!["transaction".into()],
        }
    }
}

impl EventNames {
    /// A mapped name equal to `value` but for letter case, if any (a likely mistake).
    pub fn case_twin(&self, value: &[u8]) -> Option<&str> {
        [&self.view, &self.addtocart, &self.transaction]
            .into_iter()
            .flatten()
            .find(|n| n.as_bytes() != value && n.as_bytes().eq_ignore_ascii_case(value))
            .map(String::as_str)
    }

    fn lookup(&self, value: &[u8]) -> Option<EventType> {
        let is = |names: &Vec<String>| names.iter().any(|n| n.as_bytes() == value);
        if is(&self.view) {
            Some(EventType::View)
        } else if is(&self.addtocart) {
            Some(EventType::AddToCart)
        } else if is(&self.transaction) {
            Some(EventType::Transaction)
        } else {
            None
        }
    }
}

/// How event fields are read and which timestamps are plausible.
#[derive(Clone, Debug)]
pub struct ValidateConfig {
    pub min_timestamp_ms: i64,
    pub max_timestamp_ms: i64,
    pub timestamp_unit: TimeUnit,
    /// Also accept ISO-8601 text (`2015-06-01T12:00:00Z`, `2015-06-01 12:00:00.250`, `2015-06-01`), read as UTC.
    pub allow_iso_timestamps: bool,
    pub event_names: EventNames,
    /// Generic sources: ids are any non-empty text, resolved to dense codes after validation (the
    /// ids of a valid event are placeholders until then). RetailRocket ids are integers.
    pub text_ids: bool,
    /// Whether the source has an item column (a page-level clickstream has none).
    pub has_item: bool,
    /// Whether the source has an order column; without one, purchases need no order id (each purchase
    /// row is its own order).
    pub has_order: bool,
    /// Keep events of unmapped types (as [`EventType::Other`]) instead of quarantining them.
    pub keep_other_events: bool,
}

/// A valid event. Ids are non-negative, so `order = -1` means "no order" and a NaN price "no price".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValidEvent {
    pub ts: i64,
    pub visitor: i64,
    pub item: i64,
    pub order: i64,
    pub price: f64,
    pub event: EventType,
    /// For [`EventType::Other`]: the index of its name among the source's other event names.
    pub label: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Valid(ValidEvent),
    Rejected(Rule, Box<str>),
}

impl Outcome {
    pub fn rejected(rule: Rule, detail: impl Into<String>) -> Self {
        Outcome::Rejected(rule, detail.into().into_boxed_str())
    }
}

/// Raw fields of one event row; `None` where the source has no such column or the value is null.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawEvent<'a> {
    pub timestamp: Option<&'a [u8]>,
    pub visitor: Option<&'a [u8]>,
    pub event: Option<&'a [u8]>,
    pub item: Option<&'a [u8]>,
    pub order: Option<&'a [u8]>,
    pub price: Option<&'a [u8]>,
}

pub fn validate(raw: &RawEvent<'_>, cfg: &ValidateConfig) -> Outcome {
    match check(raw, cfg) {
        Ok(event) => Outcome::Valid(event),
        Err((rule, detail)) => Outcome::rejected(rule, detail),
    }
}

fn check(raw: &RawEvent<'_>, cfg: &ValidateConfig) -> Check<ValidEvent> {
    let ts = present(raw.timestamp);
    let visitor = present(raw.visitor);
    let event = present(raw.event);
    let item = present(raw.item);
    // An event of another type (home, search) needs no item; without an item column none does.
    let other_type =
        || cfg.keep_other_events && event.is_some_and(|e| cfg.event_names.lookup(e).is_none());
    let item = match item {
        None if !cfg.has_item || other_type() => Some(&[][..]),
        item => item,
    };
    let missing: Vec<&str> = [
        ("timestamp", ts),
        ("visitor", visitor),
        ("event", event),
        ("item", item),
    ]
    .iter()
    .filter(|(_, v)| v.is_none())
    .map(|(n, _)| *n)
    .collect();
    let (Some(ts), Some(visitor), Some(event), Some(item)) = (ts, visitor, event, item) else {
        return Err((Rule::MissingField, format!("empty {}", missing.join(", "))));
    };
    let ts = parse_timestamp(ts, cfg)?;
    if ts < cfg.min_timestamp_ms || ts >= cfg.max_timestamp_ms {
        let in_range = |v: i64| v >= cfg.min_timestamp_ms && v < cfg.max_timestamp_ms;
        let hint = match cfg.timestamp_unit {
            TimeUnit::Ms if ts.checked_mul(1000).is_some_and(in_range) => {
                " (it looks like seconds: is the timestamp unit 's' rather than 'ms'?)"
            }
            _ => "",
        };
        return Err((
            Rule::TimestampOutOfRange,
            format!(
                "timestamp {ts} ms is outside [{}, {}){hint}",
                cfg.min_timestamp_ms, cfg.max_timestamp_ms
            ),
        ));
    }
    let order_raw = present(raw.order);
    let (visitor, item, order) = if cfg.text_ids {
        (0, 0, order_raw.map(|_| 0))
    } else {
        let visitor = parse_id(visitor, "visitor")?;
        let item = parse_id(item, "item")?;
        let order = order_raw.map(|o| parse_id(o, "order")).transpose()?;
        (visitor, item, order)
    };
    let kind = match cfg.event_names.lookup(event) {
        Some(kind) => kind,
        None if cfg.keep_other_events => EventType::Other,
        None => {
            let hint = cfg
                .event_names
                .case_twin(event)
                .map(|twin| format!(" (names are case-sensitive: did you mean '{twin}'?)"))
                .unwrap_or_default();
            return Err((
                Rule::UnknownEventType,
                format!("event '{}' is not a mapped event type{hint}", lossy(event)),
            ));
        }
    };
    match (kind, order) {
        (EventType::Transaction, None) if cfg.has_order => {
            return Err((
                Rule::TransactionWithoutOrderId,
                "transaction without an order id".into(),
            ))
        }
        (EventType::View | EventType::AddToCart, Some(o)) => {
            return Err((
                Rule::OrderIdOnNonTransaction,
                format!("{} carries order id {o}", kind.name()),
            ))
        }
        _ => {}
    }
    let price = present(raw.price)
        .map(|p| parse_price(p, "price"))
        .transpose()?;
    Ok(ValidEvent {
        ts,
        visitor,
        item,
        order: order.unwrap_or(-1),
        price: price.unwrap_or(f64::NAN),
        event: kind,
        label: 0,
    })
}

fn parse_timestamp(text: &[u8], cfg: &ValidateConfig) -> Check<i64> {
    if let Some(v) = parse_i64(text) {
        let ms = match cfg.timestamp_unit {
            TimeUnit::S => v.checked_mul(1000),
            TimeUnit::Ms => Some(v),
            TimeUnit::Us => Some(v.div_euclid(1000)),
            TimeUnit::Ns => Some(v.div_euclid(1_000_000)),
        };
        return ms.ok_or_else(|| {
            (
                Rule::TimestampOutOfRange,
                format!("timestamp {v} overflows"),
            )
        });
    }
    if cfg.allow_iso_timestamps {
        if let Some(ms) = parse_iso_ms(trim(text)) {
            return Ok(ms);
        }
    }
    Err((
        Rule::BadTimestamp,
        format!("timestamp '{}' is not an integer epoch time", lossy(text)),
    ))
}

/// ISO-8601 date or date-time, UTC unless an offset is given.
pub fn parse_iso_ms(text: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(text).ok()?;
    if s.len() < 10 || !s.is_char_boundary(10) {
        return None;
    }
    let (date, rest) = s.split_at(10);
    let mut parts = date.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * 86_400_000;
    if rest.is_empty() {
        return Some(ms);
    }
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' '))?;
    let (clock, offset_ms) = split_offset(rest)?;
    let mut hms = clock.split(':');
    let h: i64 = hms.next()?.parse().ok()?;
    let m: i64 = hms.next()?.parse().ok()?;
    let sec_text = hms.next().unwrap_or("0");
    if hms.next().is_some() || h > 23 || m > 59 {
        return None;
    }
    let (whole, frac) = sec_text.split_once('.').unwrap_or((sec_text, ""));
    let sec: i64 = whole.parse().ok()?;
    if sec > 60 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_ms: i64 = format!("{frac:0<3}")[..3].parse().ok()?;
    ms += ((h * 60 + m) * 60 + sec) * 1000 + frac_ms - offset_ms;
    Some(ms)
}

fn split_offset(clock: &str) -> Option<(&str, i64)> {
    if let Some(c) = clock.strip_suffix('Z') {
        return Some((c, 0));
    }
    if let Some(pos) = clock.rfind(['+', '-']) {
        let (c, off) = clock.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let off = &off[1..];
        let (oh, om) = off
            .split_once(':')
            .unwrap_or((off.get(..2)?, off.get(2..).unwrap_or("0")));
        let oh: i64 = oh.parse().ok()?;
        let om: i64 = if om.is_empty() { 0 } else { om.parse().ok()? };
        return Some((c, sign * (oh * 60 + om) * 60_000));
    }
    Some((clock, 0))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ValidateConfig {
        ValidateConfig {
            min_timestamp_ms: 946_684_800_000,
            max_timestamp_ms: 4_102_444_800_000,
            timestamp_unit: TimeUnit::Ms,
            allow_iso_timestamps: true,
            event_names: EventNames::default(),
            text_ids: false,
            has_item: true,
            has_order: true,
            keep_other_events: false,
        }
    }

    fn row<'a>(f: [&'a str; 5]) -> RawEvent<'a> {
        let o = |s: &'a str| {
            if s.is_empty() {
                None
            } else {
                Some(s.as_bytes())
            }
        };
        RawEvent {
            timestamp: o(f[0]),
            visitor: o(f[1]),
            event: o(f[2]),
            item: o(f[3]),
            order: o(f[4]),
            price: None,
        }
    }

    fn rule(f: [&str; 5]) -> Option<Rule> {
        match validate(&row(f), &cfg()) {
            Outcome::Valid(_) => None,
            Outcome::Rejected(r, _) => Some(r),
        }
    }

    #[test]
    fn each_rule() {
        assert_eq!(
            rule(["1433221332117", "257597", "view", "355908", ""]),
            None
        );
        assert_eq!(
            rule(["", "257597", "view", "355908", ""]),
            Some(Rule::MissingField)
        );
        assert_eq!(
            rule(["2015-13-01", "1", "view", "2", ""]),
            Some(Rule::BadTimestamp)
        );
        assert_eq!(
            rule(["0", "1", "view", "2", ""]),
            Some(Rule::TimestampOutOfRange)
        );
        assert_eq!(
            rule(["1433221332117", "ab1", "view", "2", ""]),
            Some(Rule::NonNumericId)
        );
        assert_eq!(
            rule(["1433221332117", "-3", "view", "2", ""]),
            Some(Rule::NegativeId)
        );
        assert_eq!(
            rule(["1433221332117", "1", "click", "2", ""]),
            Some(Rule::UnknownEventType)
        );
        assert_eq!(
            rule(["1433221332117", "1", "transaction", "2", ""]),
            Some(Rule::TransactionWithoutOrderId)
        );
        assert_eq!(
            rule(["1433221332117", "1", "view", "2", "77"]),
            Some(Rule::OrderIdOnNonTransaction)
        );
        assert_eq!(rule(["1433221332117", "1", "transaction", "2", "77"]), None);
    }

    #[test]
    fn first_failing_rule_wins() {
        // Missing item and unknown event: missing_field is checked first.
        assert_eq!(
            rule(["1433221332117", "1", "click", "", ""]),
            Some(Rule::MissingField)
        );
        // Out-of-range time and a negative id: the time rule comes first.
        assert_eq!(
            rule(["5", "-1", "view", "2", ""]),
            Some(Rule::TimestampOutOfRange)
        );
    }

    #[test]
    fn iso_timestamps() {
        assert_eq!(parse_iso_ms(b"1970-01-01"), Some(0));
        assert_eq!(
            parse_iso_ms(b"2015-06-02T05:02:12.117Z"),
            Some(1_433_221_332_117)
        );
        assert_eq!(
            parse_iso_ms(b"2015-06-02 07:02:12.117+02:00"),
            Some(1_433_221_332_117)
        );
        assert_eq!(parse_iso_ms(b"2015-02-29"), None);
        assert_eq!(
            parse_iso_ms(b"2016-02-29"),
            Some(days_from_civil(2016, 2, 29) * 86_400_000)
        );
    }

    #[test]
    fn generic_sources_take_text_ids_other_events_and_no_items() {
        let mut c = cfg();
        c.text_ids = true;
        c.keep_other_events = true;
        let valid = |f: [&str; 5], c: &ValidateConfig| match validate(&row(f), c) {
            Outcome::Valid(e) => Some(e),
            Outcome::Rejected(..) => None,
        };
        let e = valid(["1433221332117", "C-001", "home", "sku-9", ""], &c).unwrap();
        assert_eq!((e.event, e.order), (EventType::Other, -1));
        let e = valid(["1433221332117", "C-001", "transaction", "x", "A-7"], &c).unwrap();
        assert_eq!((e.event, e.order), (EventType::Transaction, 0));
        // Only an empty id is a violation.
        assert_eq!(
            validate(&row(["1433221332117", " ", "view", "x", ""]), &c),
            Outcome::rejected(Rule::MissingField, "empty visitor")
        );
        // Other types need no item; the mapped ones do.
        assert!(valid(["1433221332117", "u", "search", "", ""], &c).is_some());
        assert!(valid(["1433221332117", "u", "view", "", ""], &c).is_none());
        c.has_item = false;
        assert!(valid(["1433221332117", "u", "view", "", ""], &c).is_some());
    }

    #[test]
    fn hints_for_likely_mistakes() {
        let detail = |f: [&str; 5]| match validate(&row(f), &cfg()) {
            Outcome::Rejected(_, d) => d.to_string(),
            Outcome::Valid(_) => String::new(),
        };
        assert!(detail(["1433221332", "1", "view", "2", ""]).contains("looks like seconds"));
        assert!(!detail(["5", "1", "view", "2", ""]).contains("looks like seconds"));
        assert!(detail(["1433221332117", "1", "View", "2", ""]).contains("did you mean 'view'?"));
        assert!(!detail(["1433221332117", "1", "click", "2", ""]).contains("did you mean"));
    }
}
