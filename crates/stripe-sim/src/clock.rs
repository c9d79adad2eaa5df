//! The account's clock: the system time, optionally shifted so that tests (and, in part 2, test
//! clocks) can start it at a chosen instant and move it forward.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix seconds, running from the system clock plus an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    offset_secs: i64,
}

impl Clock {
    /// A clock that starts at `start` (unix seconds) if given, else at the system time.
    pub fn new(start: Option<i64>) -> Clock {
        let mut clock = Clock { offset_secs: 0 };
        if let Some(start) = start {
            clock.set(start);
        }
        clock
    }

    /// The current unix time in seconds.
    pub fn now(&self) -> i64 {
        system_now() + self.offset_secs
    }

    /// Moves the clock so that it reads `now` at this instant, and keeps running from there.
    pub fn set(&mut self, now: i64) {
        self.offset_secs = now - system_now();
    }

    /// Moves the clock forward (or back, if negative) by `secs`.
    pub fn advance(&mut self, secs: i64) {
        self.offset_secs += secs;
    }
}

fn system_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_started_at_an_instant_reads_that_instant_and_advances() {
        // GIVEN a clock started on 2026-01-31
        let mut clock = Clock::new(Some(1_769_817_600));
        // THEN it reads that time (give or take the test's own runtime)
        assert!((clock.now() - 1_769_817_600).abs() <= 1);
        // WHEN it is advanced by a day
        clock.advance(86_400);
        // THEN it reads a day later
        assert!((clock.now() - 1_769_904_000).abs() <= 1);
    }
}
