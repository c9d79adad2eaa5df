//! Billing periods: half-open `[start, end)` ranges of unix seconds, in UTC.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Why a period or a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// The end is not after the start.
    #[error("period end {end} is not after its start {start}")]
    Empty {
        /// Start (unix seconds).
        start: i64,
        /// End (unix seconds).
        end: i64,
    },
    /// A timestamp could not be read.
    #[error("{0:?} is not an RFC 3339 timestamp or unix seconds")]
    BadTimestamp(String),
}

/// One billing period of a subscription: `[start, end)`, unix seconds, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BillingPeriod {
    start: i64,
    end: i64,
}

impl BillingPeriod {
    /// A period from `start` (inclusive) to `end` (exclusive).
    pub fn new(start: i64, end: i64) -> Result<Self, PeriodError> {
        if end <= start {
            return Err(PeriodError::Empty { start, end });
        }
        Ok(BillingPeriod { start, end })
    }

    /// First second of the period.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// First second after the period.
    pub fn end(&self) -> i64 {
        self.end
    }

    /// Whether `at` falls inside `[start, end)`.
    pub fn contains(&self, at: i64) -> bool {
        self.start <= at && at < self.end
    }

    /// `at` moved into the period: the period's last second when `at` is past its end.
    pub fn moved_inside(&self, at: i64) -> i64 {
        at.clamp(self.start, self.end - 1)
    }

    /// The whole minutes inside the period, `[start rounded up, end rounded down)` to a minute.
    /// Stripe's meter event summaries only take minute-aligned ranges, so meter events are
    /// stamped inside this window: a summary over it then counts exactly this period's events,
    /// none of a neighbour's. Periods shorter than two minutes keep their own bounds.
    pub fn meter_window(&self) -> (i64, i64) {
        let start = self.start.div_euclid(60) * 60 + if self.start % 60 == 0 { 0 } else { 60 };
        let end = self.end.div_euclid(60) * 60;
        if end > start {
            (start, end)
        } else {
            (self.start, self.end)
        }
    }

    /// The timestamp for a meter event of this period sent at `now`: `now` moved into
    /// [`Self::meter_window`] (at most 59 s ahead of `now` in the period's first partial minute,
    /// well within the 5 minutes Stripe allows).
    pub fn meter_stamp(&self, now: i64) -> i64 {
        let (start, end) = self.meter_window();
        now.clamp(start, end - 1)
    }
}

/// Formats unix seconds as RFC 3339 in UTC (`2026-11-26T14:41:47Z`).
pub fn to_rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// Reads an RFC 3339 timestamp or whole unix seconds.
pub fn parse_timestamp(text: &str) -> Result<i64, PeriodError> {
    let trimmed = text.trim();
    if let Ok(secs) = trimmed.parse::<i64>() {
        return Ok(secs);
    }
    OffsetDateTime::parse(trimmed, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|_| PeriodError::BadTimestamp(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_half_open() {
        let p = BillingPeriod::new(100, 200).unwrap();
        assert!(p.contains(100));
        assert!(p.contains(199));
        assert!(!p.contains(200));
        assert!(!p.contains(99));
        assert_eq!(p.moved_inside(500), 199);
        assert_eq!(p.moved_inside(5), 100);
        assert!(BillingPeriod::new(5, 5).is_err());
    }

    #[test]
    fn meter_events_are_stamped_inside_the_whole_minutes_of_the_period() {
        let p = BillingPeriod::new(1_030, 2_000).unwrap();
        assert_eq!(p.meter_window(), (1_080, 1_980));
        assert_eq!(p.meter_stamp(1_040), 1_080);
        assert_eq!(p.meter_stamp(1_500), 1_500);
        assert_eq!(p.meter_stamp(5_000), 1_979);
        let aligned = BillingPeriod::new(1_200, 1_800).unwrap();
        assert_eq!(aligned.meter_window(), (1_200, 1_800));
        let tiny = BillingPeriod::new(1_030, 1_100).unwrap();
        assert_eq!(tiny.meter_window(), (1_030, 1_100));
    }

    #[test]
    fn timestamps_read_both_forms_and_print_rfc3339() {
        assert_eq!(parse_timestamp("1700000000").unwrap(), 1_700_000_000);
        assert_eq!(
            parse_timestamp("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000
        );
        assert_eq!(to_rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert!(parse_timestamp("yesterday").is_err());
    }
}
