//! Cleaning settings. Every field has a documented default (docs/methodology.md); callers override any
//! subset (Python passes them as JSON).
use serde::{Deserialize, Serialize};

use super::validate::{EventNames, TimeUnit, ValidateConfig};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CleanConfig {
    /// A gap strictly greater than this opens a new session (exactly the timeout stays in).
    pub session_timeout_ms: i64,
    /// Same visitor, item, event and order within this many ms of a kept event is a near-duplicate;
    /// a negative value turns the rule off.
    pub near_duplicate_window_ms: i64,
    /// A visitor with more kept events than this is flagged as a bot.
    pub bot_max_events: u64,
    /// A visitor with more than this many events inside any 60-second window is flagged as a bot.
    pub bot_max_events_per_minute: u64,
    /// Plausible timestamps: `[min, max)` in Unix ms (default 2000-01-01 .. 2100-01-01 UTC).
    pub min_timestamp_ms: i64,
    pub max_timestamp_ms: i64,
    /// Raise on the first invalid row instead of quarantining it.
    pub strict: bool,
    /// Integer timestamps' unit in generic sources (RetailRocket is always ms).
    pub timestamp_unit: TimeUnit,
    pub allow_iso_timestamps: bool,
    pub event_names: EventNames,
    /// Take item prices from this item property (as of the event time) instead of a price file.
    pub price_property: Option<String>,
}

impl Default for CleanConfig {
    fn default() -> Self {
        CleanConfig {
            session_timeout_ms: 30 * 60 * 1000,
            near_duplicate_window_ms: 1000,
            bot_max_events: 1000,
            bot_max_events_per_minute: 60,
            min_timestamp_ms: 946_684_800_000,
            max_timestamp_ms: 4_102_444_800_000,
            strict: false,
            timestamp_unit: TimeUnit::Ms,
            allow_iso_timestamps: true,
            event_names: EventNames::default(),
            price_property: None,
        }
    }
}

impl CleanConfig {
    pub fn validate_config(&self) -> ValidateConfig {
        ValidateConfig {
            min_timestamp_ms: self.min_timestamp_ms,
            max_timestamp_ms: self.max_timestamp_ms,
            timestamp_unit: self.timestamp_unit,
            allow_iso_timestamps: self.allow_iso_timestamps,
            event_names: self.event_names.clone(),
            text_ids: false,
            has_item: true,
            has_order: true,
            keep_other_events: false,
        }
    }

    pub fn from_json(text: &str) -> crate::Result<Self> {
        let cfg: CleanConfig = serde_json::from_str(text)
            .map_err(|e| crate::Error::InvalidArgument(format!("clean config: {e}")))?;
        cfg.check()?;
        Ok(cfg)
    }

    pub fn check(&self) -> crate::Result<()> {
        let bad = |m: &str| Err(crate::Error::InvalidArgument(m.to_string()));
        if self.session_timeout_ms <= 0 {
            return bad("session_timeout_ms must be positive");
        }
        if self.min_timestamp_ms >= self.max_timestamp_ms {
            return bad("min_timestamp_ms must be below max_timestamp_ms");
        }
        if self.bot_max_events == 0 || self.bot_max_events_per_minute == 0 {
            return bad("bot thresholds must be positive");
        }
        Ok(())
    }
}
