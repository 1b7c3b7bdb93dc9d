//! Validation rules, in the documented order in which they are checked (docs/methodology.md). A row is
//! quarantined by the first rule it fails.
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    BadUtf8,
    WrongColumnCount,
    MissingField,
    BadTimestamp,
    TimestampOutOfRange,
    NonNumericId,
    NegativeId,
    UnknownEventType,
    TransactionWithoutOrderId,
    OrderIdOnNonTransaction,
    BadPrice,
    BadValue,
    DuplicateKey,
    NearDuplicate,
}

impl Rule {
    /// Every rule, in the order rows are checked against them.
    pub const ALL: [Rule; 14] = [
        Rule::BadUtf8,
        Rule::WrongColumnCount,
        Rule::MissingField,
        Rule::BadTimestamp,
        Rule::TimestampOutOfRange,
        Rule::NonNumericId,
        Rule::NegativeId,
        Rule::UnknownEventType,
        Rule::TransactionWithoutOrderId,
        Rule::OrderIdOnNonTransaction,
        Rule::BadPrice,
        Rule::BadValue,
        Rule::DuplicateKey,
        Rule::NearDuplicate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::BadUtf8 => "bad_utf8",
            Rule::WrongColumnCount => "wrong_column_count",
            Rule::MissingField => "missing_field",
            Rule::BadTimestamp => "bad_timestamp",
            Rule::TimestampOutOfRange => "timestamp_out_of_range",
            Rule::NonNumericId => "non_numeric_id",
            Rule::NegativeId => "negative_id",
            Rule::UnknownEventType => "unknown_event_type",
            Rule::TransactionWithoutOrderId => "transaction_without_order_id",
            Rule::OrderIdOnNonTransaction => "order_id_on_non_transaction",
            Rule::BadPrice => "bad_price",
            Rule::BadValue => "bad_value",
            Rule::DuplicateKey => "duplicate_key",
            Rule::NearDuplicate => "near_duplicate",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Rule::BadUtf8 => "the line is not valid UTF-8",
            Rule::WrongColumnCount => "the line has a different number of fields than the header",
            Rule::MissingField => "a required field (timestamp, visitor, event, item) is empty",
            Rule::BadTimestamp => "the timestamp is not an integer epoch time (or ISO-8601 where allowed)",
            Rule::TimestampOutOfRange => "the timestamp is outside the plausible range",
            Rule::NonNumericId => "a visitor, item, order or category id is not an integer",
            Rule::NegativeId => "a visitor, item, order or category id is negative",
            Rule::UnknownEventType => "the event type is not one of the mapped view/addtocart/transaction values",
            Rule::TransactionWithoutOrderId => "a transaction row has no order (transaction) id",
            Rule::OrderIdOnNonTransaction => "a view or add-to-cart row carries an order id",
            Rule::BadPrice => "a price is not a finite non-negative number",
            Rule::BadValue => "a property value cannot be read for its property (categoryid, available, price)",
            Rule::DuplicateKey => "a key (item in the price list, category in the tree) appears again",
            Rule::NearDuplicate => "same visitor, item, event and order id as a kept event within the near-duplicate window",
        }
    }

    pub fn order(self) -> usize {
        Rule::ALL
            .iter()
            .position(|&r| r == self)
            .unwrap_or(usize::MAX)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum EventType {
    View = 0,
    AddToCart = 1,
    Transaction = 2,
    /// A type of a generic source that is none of the mapped three (home, search, ...), kept under
    /// its own name.
    Other = 3,
}

impl EventType {
    /// The three mapped types (every event of a RetailRocket folder is one of them).
    pub const ALL: [EventType; 3] = [
        EventType::View,
        EventType::AddToCart,
        EventType::Transaction,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventType::View => "view",
            EventType::AddToCart => "addtocart",
            EventType::Transaction => "transaction",
            EventType::Other => "other",
        }
    }
}

/// Outcome of a field-level check: the value, or the rule it breaks with an explanation.
pub type Check<T> = std::result::Result<T, (Rule, String)>;

/// Parses a non-negative integer id. `field` names it in the explanation.
pub fn parse_id(raw: &[u8], field: &str) -> Check<i64> {
    let text = trim(raw);
    match parse_i64(text) {
        Some(v) if v < 0 => Err((Rule::NegativeId, format!("{field}={v} is negative"))),
        Some(v) => Ok(v),
        None => Err((
            Rule::NonNumericId,
            format!("{field}='{}' is not an integer", lossy(text)),
        )),
    }
}

/// Parses an integer epoch-milliseconds field of a reference file (item properties, assignments):
/// `BadTimestamp` when it is not an integer, `TimestampOutOfRange` outside `[min_ms, max_ms)`.
/// `field` names it in the explanation.
pub fn parse_epoch_ms(raw: &[u8], field: &str, min_ms: i64, max_ms: i64) -> Check<i64> {
    let v = parse_i64(raw).ok_or_else(|| {
        (
            Rule::BadTimestamp,
            format!("{field} '{}' is not an integer", lossy(raw)),
        )
    })?;
    if v < min_ms || v >= max_ms {
        return Err((
            Rule::TimestampOutOfRange,
            format!("{field} {v} ms is outside the plausible range"),
        ));
    }
    Ok(v)
}

/// Strict integer: optional sign and ASCII digits, no overflow.
pub fn parse_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits
        .iter()
        .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
    Some(if negative { -value } else { value })
}

pub fn parse_price(raw: &[u8], field: &str) -> Check<f64> {
    let text = trim(raw);
    let parsed = std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse::<f64>().ok());
    match parsed {
        Some(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err((
            Rule::BadPrice,
            format!(
                "{field}='{}' is not a finite non-negative number",
                lossy(text)
            ),
        )),
    }
}

pub fn trim(raw: &[u8]) -> &[u8] {
    let start = raw
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &raw[start..end.max(start)]
}

pub fn lossy(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    if text.chars().count() > 200 {
        text.chars().take(200).collect::<String>() + "…"
    } else {
        text.into_owned()
    }
}

/// A field that is absent or empty (after trimming) counts as missing.
pub fn present(field: Option<&[u8]>) -> Option<&[u8]> {
    field.map(trim).filter(|f| !f.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(parse_id(b"123", "x"), Ok(123));
        assert_eq!(parse_id(b" 7 ", "x"), Ok(7));
        assert_eq!(parse_id(b"-5", "x").unwrap_err().0, Rule::NegativeId);
        assert_eq!(parse_id(b"abc12", "x").unwrap_err().0, Rule::NonNumericId);
        assert_eq!(parse_id(b"1.0", "x").unwrap_err().0, Rule::NonNumericId);
        assert_eq!(
            parse_id(b"99999999999999999999", "x").unwrap_err().0,
            Rule::NonNumericId
        );
    }

    #[test]
    fn prices() {
        assert_eq!(parse_price(b"12.50", "p"), Ok(12.5));
        assert_eq!(parse_price(b"-1", "p").unwrap_err().0, Rule::BadPrice);
        assert_eq!(parse_price(b"nan", "p").unwrap_err().0, Rule::BadPrice);
        assert_eq!(parse_price(b"inf", "p").unwrap_err().0, Rule::BadPrice);
    }

    #[test]
    fn order_is_total() {
        for (i, r) in Rule::ALL.iter().enumerate() {
            assert_eq!(r.order(), i);
        }
    }
}
