//! Billing period arithmetic, following Stripe's calendar rule in UTC.
//!
//! Every period boundary is computed from the billing cycle anchor, never from the previous
//! boundary: a monthly subscription anchored on Jan 31 renews on Feb 28 (29 in a leap year), then on
//! Mar 31, Apr 30, May 31. The day of month is clamped to the month's last day, and the time of day
//! is kept.

use time::{Duration, Month, OffsetDateTime};

/// A recurring price's `recurring[interval]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// Every `n` days.
    Day,
    /// Every `n` weeks.
    Week,
    /// Every `n` calendar months.
    Month,
    /// Every `n` calendar years.
    Year,
}

impl Interval {
    /// Stripe's names, in the order its errors list them.
    pub const NAMES: [&'static str; 4] = ["day", "month", "week", "year"];

    /// Parses Stripe's name for an interval.
    pub fn parse(name: &str) -> Option<Interval> {
        match name {
            "day" => Some(Interval::Day),
            "week" => Some(Interval::Week),
            "month" => Some(Interval::Month),
            "year" => Some(Interval::Year),
            _ => None,
        }
    }

    /// Stripe's name for the interval.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }

    /// The largest `interval_count` Stripe allows (one year in total).
    pub fn max_count(self) -> u32 {
        match self {
            Interval::Day => 365,
            Interval::Week => 52,
            Interval::Month => 12,
            Interval::Year => 1,
        }
    }
}

/// How often a price recurs: every `count` `interval`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recurrence {
    /// The unit.
    pub interval: Interval,
    /// How many units make one period (at least 1).
    pub count: u32,
}

/// The unix time `n` periods after `anchor` (n may be negative).
pub fn boundary(anchor: i64, recurrence: Recurrence, n: i64) -> i64 {
    let Ok(anchor_dt) = OffsetDateTime::from_unix_timestamp(anchor) else {
        return anchor;
    };
    let count = i64::from(recurrence.count.max(1));
    let shifted = match recurrence.interval {
        Interval::Day => anchor_dt.checked_add(Duration::days(n * count)),
        Interval::Week => anchor_dt.checked_add(Duration::weeks(n * count)),
        Interval::Month => add_months(anchor_dt, n * count),
        Interval::Year => add_months(anchor_dt, n * count * 12),
    };
    shifted.map_or(anchor, OffsetDateTime::unix_timestamp)
}

/// `dt` moved by `months` calendar months, with the day clamped to the target month's length.
pub fn add_months(dt: OffsetDateTime, months: i64) -> Option<OffsetDateTime> {
    let index = i64::from(dt.year()) * 12 + i64::from(u8::from(dt.month())) - 1 + months;
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    let day = dt.day().min(month.length(year));
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    Some(dt.replace_date(date))
}

/// The period `[start, end)` that contains `now`, for a cycle anchored at `anchor`. Before the
/// anchor, the first period is returned.
pub fn containing(anchor: i64, recurrence: Recurrence, now: i64) -> (i64, i64) {
    if now < anchor {
        return (anchor, boundary(anchor, recurrence, 1));
    }
    let approx_len = match recurrence.interval {
        Interval::Day => 86_400,
        Interval::Week => 7 * 86_400,
        Interval::Month => 28 * 86_400,
        Interval::Year => 365 * 86_400,
    } * i64::from(recurrence.count.max(1));
    // Periods are at least `approx_len` long, so this overestimates n by a little at most.
    let mut n = (now - anchor) / approx_len;
    while n > 0 && boundary(anchor, recurrence, n) > now {
        n -= 1;
    }
    while boundary(anchor, recurrence, n + 1) <= now {
        n += 1;
    }
    (
        boundary(anchor, recurrence, n),
        boundary(anchor, recurrence, n + 1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const MONTHLY: Recurrence = Recurrence {
        interval: Interval::Month,
        count: 1,
    };

    fn ts(dt: OffsetDateTime) -> i64 {
        dt.unix_timestamp()
    }

    #[test]
    fn a_jan_31_anchor_renews_on_the_last_day_of_february_then_on_mar_31() {
        // GIVEN a monthly cycle anchored on Jan 31 of a common year
        let anchor = ts(datetime!(2026-01-31 10:30 UTC));
        // WHEN the next boundaries are computed
        // THEN February is clamped to the 28th and March returns to the 31st
        assert_eq!(
            boundary(anchor, MONTHLY, 1),
            ts(datetime!(2026-02-28 10:30 UTC))
        );
        assert_eq!(
            boundary(anchor, MONTHLY, 2),
            ts(datetime!(2026-03-31 10:30 UTC))
        );
        assert_eq!(
            boundary(anchor, MONTHLY, 3),
            ts(datetime!(2026-04-30 10:30 UTC))
        );
    }

    #[test]
    fn a_leap_year_february_ends_on_the_29th() {
        let anchor = ts(datetime!(2028-01-31 00:00 UTC));
        assert_eq!(
            boundary(anchor, MONTHLY, 1),
            ts(datetime!(2028-02-29 00:00 UTC))
        );
        assert_eq!(
            boundary(anchor, MONTHLY, 2),
            ts(datetime!(2028-03-31 00:00 UTC))
        );
    }

    #[test]
    fn december_rolls_into_the_next_year() {
        let anchor = ts(datetime!(2026-12-15 00:00 UTC));
        assert_eq!(
            boundary(anchor, MONTHLY, 1),
            ts(datetime!(2027-01-15 00:00 UTC))
        );
        assert_eq!(
            boundary(anchor, MONTHLY, -12),
            ts(datetime!(2025-12-15 00:00 UTC))
        );
    }

    #[test]
    fn yearly_feb_29_clamps_to_feb_28() {
        let yearly = Recurrence {
            interval: Interval::Year,
            count: 1,
        };
        let anchor = ts(datetime!(2028-02-29 00:00 UTC));
        assert_eq!(
            boundary(anchor, yearly, 1),
            ts(datetime!(2029-02-28 00:00 UTC))
        );
        assert_eq!(
            boundary(anchor, yearly, 4),
            ts(datetime!(2032-02-29 00:00 UTC))
        );
    }

    #[test]
    fn day_and_week_intervals_are_fixed_lengths() {
        let anchor = ts(datetime!(2026-01-31 00:00 UTC));
        let every_3_days = Recurrence {
            interval: Interval::Day,
            count: 3,
        };
        let every_2_weeks = Recurrence {
            interval: Interval::Week,
            count: 2,
        };
        assert_eq!(boundary(anchor, every_3_days, 1), anchor + 3 * 86_400);
        assert_eq!(boundary(anchor, every_2_weeks, 1), anchor + 14 * 86_400);
    }

    #[test]
    fn the_containing_period_is_found_from_the_anchor_not_chained() {
        // GIVEN a Jan 31 anchor
        let anchor = ts(datetime!(2026-01-31 00:00 UTC));
        // WHEN now is early March
        let now = ts(datetime!(2026-03-05 12:00 UTC));
        // THEN the period is Feb 28 -> Mar 31
        assert_eq!(
            containing(anchor, MONTHLY, now),
            (
                ts(datetime!(2026-02-28 00:00 UTC)),
                ts(datetime!(2026-03-31 00:00 UTC))
            )
        );
        // AND a boundary instant starts the next period
        let feb_28 = ts(datetime!(2026-02-28 00:00 UTC));
        assert_eq!(containing(anchor, MONTHLY, feb_28).0, feb_28);
        assert_eq!(containing(anchor, MONTHLY, feb_28 - 1).0, anchor);
        // AND years later it is still anchored on the 31st
        let later = ts(datetime!(2029-08-01 00:00 UTC));
        assert_eq!(
            containing(anchor, MONTHLY, later),
            (
                ts(datetime!(2029-07-31 00:00 UTC)),
                ts(datetime!(2029-08-31 00:00 UTC))
            )
        );
    }

    #[test]
    fn before_the_anchor_the_first_period_is_returned() {
        let anchor = ts(datetime!(2026-01-31 00:00 UTC));
        assert_eq!(
            containing(anchor, MONTHLY, anchor - 100),
            (anchor, ts(datetime!(2026-02-28 00:00 UTC)))
        );
    }
}
