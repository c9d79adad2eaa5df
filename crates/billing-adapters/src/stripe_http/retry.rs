//! When and how long to wait before retrying a Stripe request.
//!
//! Exponential backoff with full jitter: before retry `n` (0-based) the cap is
//! `min(max_delay, base_delay * 2^n)` and the wait is a pick in `[0, cap]`. A `Retry-After` answer
//! header (whole seconds) raises the wait to at least that long, bounded by `max_delay`. Whether
//! to retry at all is [`billing::stripe::StripeError::is_retryable`]'s call: `Stripe-Should-Retry`
//! when sent, else 409, 429, 5xx and transport failures.
//!
//! The jitter source and the sleeping are injectable, so tests can assert the schedule exactly.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The source of randomness for full jitter.
pub trait Jitter: Send + Sync + fmt::Debug {
    /// A wait in `[0, cap]`. Values above `cap` are clamped by the policy.
    fn pick(&self, cap: Duration) -> Duration;
}

/// Full jitter: a uniform pick in `[0, cap]` at nanosecond resolution (no floats).
#[derive(Debug)]
pub struct FullJitter {
    rng: Mutex<fastrand::Rng>,
}

impl FullJitter {
    /// Randomly seeded: what production uses, so that concurrent Lambdas spread their retries.
    pub fn new() -> Self {
        FullJitter {
            rng: Mutex::new(fastrand::Rng::new()),
        }
    }

    /// Seeded, for reproducible schedules in tests.
    pub fn seeded(seed: u64) -> Self {
        FullJitter {
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
        }
    }
}

impl Default for FullJitter {
    fn default() -> Self {
        FullJitter::new()
    }
}

impl Jitter for FullJitter {
    fn pick(&self, cap: Duration) -> Duration {
        let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        // A poisoned lock only means another thread panicked mid-pick; the Rng is still usable.
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Duration::from_nanos(rng.u64(0..=cap_nanos))
    }
}

/// No jitter: always the cap, i.e. plain exponential backoff. Deterministic, for tests and tools.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoJitter;

impl Jitter for NoJitter {
    fn pick(&self, cap: Duration) -> Duration {
        cap
    }
}

/// How the client waits between attempts.
#[async_trait::async_trait]
pub trait Sleeper: Send + Sync + fmt::Debug {
    /// Waits for `delay`.
    async fn sleep(&self, delay: Duration);
}

/// Waits on the tokio timer: the production sleeper.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[async_trait::async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, delay: Duration) {
        tokio::time::sleep(delay).await;
    }
}

/// How many times and how patiently a request is retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    max_retries: u32,
    base_delay: Duration,
    max_delay: Duration,
    jitter: Arc<dyn Jitter>,
    sleeper: Arc<dyn Sleeper>,
}

/// Retries after the first attempt, by default.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// The cap before the first retry, by default.
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(500);
/// The largest wait between two attempts (also the bound on `Retry-After`), by default.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(8);

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: DEFAULT_MAX_RETRIES,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            jitter: Arc::new(FullJitter::new()),
            sleeper: Arc::new(TokioSleeper),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries (one attempt only).
    pub fn none() -> Self {
        RetryPolicy::default().with_max_retries(0)
    }

    /// Sets the number of retries after the first attempt.
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets the cap of the first retry's wait (doubled for each later retry).
    pub fn with_base_delay(mut self, base_delay: Duration) -> Self {
        self.base_delay = base_delay;
        self
    }

    /// Sets the largest wait between two attempts, which also bounds `Retry-After`.
    pub fn with_max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// Replaces the jitter source (e.g. [`NoJitter`] or [`FullJitter::seeded`] in tests).
    pub fn with_jitter(mut self, jitter: impl Jitter + 'static) -> Self {
        self.jitter = Arc::new(jitter);
        self
    }

    /// Replaces the sleeper (e.g. one that records the waits in tests).
    pub fn with_sleeper(mut self, sleeper: impl Sleeper + 'static) -> Self {
        self.sleeper = Arc::new(sleeper);
        self
    }

    /// Retries after the first attempt.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The cap of the first retry's wait.
    pub fn base_delay(&self) -> Duration {
        self.base_delay
    }

    /// The largest wait between two attempts.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The jitter cap before retry `retry` (0-based): `min(max_delay, base_delay * 2^retry)`.
    pub fn backoff_cap(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The wait before retry `retry` (0-based): a jittered pick under [`Self::backoff_cap`],
    /// raised to `retry_after` (bounded by `max_delay`) when Stripe sent one.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let cap = self.backoff_cap(retry);
        let jittered = self.jitter.pick(cap).min(cap);
        match retry_after {
            Some(after) => jittered.max(after.min(self.max_delay)),
            None => jittered,
        }
    }

    /// Waits for `delay` with the configured sleeper.
    pub(crate) async fn sleep(&self, delay: Duration) {
        self.sleeper.sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_defaults_are_three_retries_from_half_a_second_up_to_eight() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_retries(), 3);
        assert_eq!(p.base_delay(), ms(500));
        assert_eq!(p.max_delay(), ms(8_000));
    }

    #[test]
    fn the_cap_doubles_and_stops_at_the_maximum() {
        let p = RetryPolicy::default();
        let caps: Vec<_> = (0..7).map(|n| p.backoff_cap(n)).collect();
        assert_eq!(
            caps,
            [
                ms(500),
                ms(1000),
                ms(2000),
                ms(4000),
                ms(8000),
                ms(8000),
                ms(8000)
            ]
        );
        assert_eq!(p.backoff_cap(40), ms(8000));
        assert_eq!(p.backoff_cap(u32::MAX), ms(8000));
    }

    #[test]
    fn full_jitter_stays_under_the_cap_and_a_seed_makes_it_reproducible() {
        let a = FullJitter::seeded(7);
        let b = FullJitter::seeded(7);
        for n in 0..100 {
            let cap = ms(n * 10);
            let pick = a.pick(cap);
            assert!(pick <= cap);
            assert_eq!(pick, b.pick(cap));
        }
        assert_eq!(FullJitter::new().pick(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn retry_after_raises_the_wait_but_never_beyond_the_maximum() {
        let p = RetryPolicy::default().with_jitter(NoJitter);
        assert_eq!(p.delay(0, None), ms(500));
        assert_eq!(p.delay(0, Some(ms(2000))), ms(2000));
        assert_eq!(p.delay(2, Some(ms(1000))), ms(2000));
        assert_eq!(p.delay(0, Some(Duration::from_secs(3600))), ms(8000));
    }

    #[derive(Debug)]
    struct TooMuch;
    impl Jitter for TooMuch {
        fn pick(&self, cap: Duration) -> Duration {
            cap * 10
        }
    }

    #[test]
    fn a_jitter_source_cannot_exceed_the_cap() {
        let p = RetryPolicy::default().with_jitter(TooMuch);
        assert_eq!(p.delay(1, None), ms(1000));
    }
}
