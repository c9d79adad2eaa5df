//! Webhook delivery: a background task takes events from a channel and POSTs each to its endpoint,
//! signed as Stripe signs, retrying with exponential backoff (at least once, on a compressed
//! schedule) until a 2xx answer or the attempts run out.
//!
//! Webhook faults ([`crate::faults::WebhookFaults`]) hook in here: held deliveries (paused, to be
//! released in order or reversed), duplicates and a delay before the first attempt. Every
//! attempt is recorded in [`crate::state::State::delivery_log`] for `GET /_sim/deliveries`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

use crate::state::App;

/// One event on its way to one endpoint.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The `evt_` id.
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// The `we_` id.
    pub endpoint_id: String,
    /// Where to POST.
    pub url: String,
    /// The endpoint's `whsec_` signing secret.
    pub secret: String,
    /// The exact bytes to send (and sign).
    pub payload: Arc<[u8]>,
}

/// How many attempts `GET /_sim/deliveries` remembers (the older half is dropped beyond it).
pub const MAX_LOGGED_ATTEMPTS: usize = 10_000;

/// One delivery attempt, as `GET /_sim/deliveries` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeliveryRecord {
    /// The `evt_` id.
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// The `we_` id.
    pub endpoint_id: String,
    /// 1 for the first attempt of this copy.
    pub attempt: u32,
    /// 1, or 2 for the duplicate copy when duplicates are on.
    pub copy: u32,
    /// `HTTP 200`, `HTTP 500`, `timeout`, `connection error: ...`.
    pub outcome: String,
    /// Whether the endpoint answered 2xx.
    pub delivered: bool,
    /// Wall-clock milliseconds since the unix epoch when the attempt ended.
    pub at_ms: u64,
}

/// The retry schedule: attempt `n` (from 0) waits `first_retry * factor^n` after failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// Wait after the first failed attempt.
    pub first_retry: Duration,
    /// Growth of the wait per failed attempt.
    pub factor: u32,
    /// Total attempts, the first included.
    pub attempts: u32,
    /// How long one attempt may take before it counts as failed.
    pub timeout: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            first_retry: Duration::from_millis(200),
            factor: 2,
            attempts: 8,
            timeout: Duration::from_secs(10),
        }
    }
}

impl DeliveryConfig {
    /// The wait after failed attempt `n` (0-based).
    pub fn backoff(&self, n: u32) -> Duration {
        self.first_retry
            .saturating_mul(self.factor.max(1).saturating_pow(n))
    }
}

/// The HTTP client deliveries use.
pub fn client(config: DeliveryConfig) -> Option<reqwest::Client> {
    match reqwest::Client::builder()
        .timeout(config.timeout)
        .user_agent("Stripe/1.0 (+https://stripe.com/docs/webhooks)")
        .build()
    {
        Ok(client) => Some(client),
        Err(err) => {
            tracing::error!(error = %err, "cannot build the webhook HTTP client; deliveries are off");
            None
        }
    }
}

/// Starts the worker that delivers everything arriving on `deliveries`, unless delivery is
/// paused (then the delivery is held for [`crate::faults::resume_webhooks`]).
pub fn spawn_worker(app: App, mut deliveries: UnboundedReceiver<Delivery>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let config = app.config().delivery;
        let Some(client) = client(config) else {
            return;
        };
        while let Some(delivery) = deliveries.recv().await {
            let (duplicate, delay) = {
                let mut state = app.lock();
                let faults = &mut state.webhook_faults;
                if faults.paused {
                    faults.held.push(delivery);
                    continue;
                }
                (faults.duplicate, faults.delay)
            };
            tokio::spawn(deliver_copies(
                app.clone(),
                client.clone(),
                config,
                delivery,
                duplicate,
                delay,
            ));
        }
    })
}

/// Delivers one event after `delay`, twice (one copy after the other) when `duplicate` is set.
pub async fn deliver_copies(
    app: App,
    client: reqwest::Client,
    config: DeliveryConfig,
    delivery: Delivery,
    duplicate: bool,
    delay: Duration,
) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    deliver(&app, &client, config, &delivery, 1).await;
    if duplicate {
        deliver(&app, &client, config, &delivery, 2).await;
    }
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

async fn deliver(
    app: &App,
    client: &reqwest::Client,
    config: DeliveryConfig,
    delivery: &Delivery,
    copy: u32,
) {
    for attempt in 0..config.attempts.max(1) {
        if !endpoint_still_enabled(app, &delivery.endpoint_id) {
            return;
        }
        // Stripe signs with the wall-clock time even when test clocks move the account's time.
        let timestamp = i64::try_from(wall_ms() / 1000).unwrap_or(0);
        let signature = billing::webhook::signature::sign_header(
            &delivery.payload,
            &delivery.secret,
            timestamp,
        );
        let result = client
            .post(&delivery.url)
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Stripe-Signature", signature)
            .body(delivery.payload.to_vec())
            .send()
            .await;
        let (outcome, delivered) = match &result {
            Ok(response) => (
                format!("HTTP {}", response.status().as_u16()),
                response.status().is_success(),
            ),
            Err(err) if err.is_timeout() => ("timeout".to_string(), false),
            Err(err) => (format!("connection error: {err}"), false),
        };
        {
            let mut state = app.lock();
            if state.delivery_log.len() >= MAX_LOGGED_ATTEMPTS {
                state.delivery_log.drain(..MAX_LOGGED_ATTEMPTS / 2);
            }
            state.delivery_log.push(DeliveryRecord {
                event_id: delivery.event_id.clone(),
                event_type: delivery.event_type.clone(),
                endpoint_id: delivery.endpoint_id.clone(),
                attempt: attempt + 1,
                copy,
                outcome: outcome.clone(),
                delivered,
                at_ms: wall_ms(),
            });
            if delivered {
                state.mark_delivered(&delivery.event_id, &delivery.endpoint_id);
            }
        }
        if delivered {
            tracing::info!(
                event = %delivery.event_id, endpoint = %delivery.endpoint_id,
                attempt = attempt + 1, outcome = %outcome, "webhook delivered"
            );
            return;
        }
        tracing::info!(
            event = %delivery.event_id, endpoint = %delivery.endpoint_id,
            attempt = attempt + 1, outcome = %outcome, "webhook delivery failed"
        );
        if attempt + 1 < config.attempts {
            tokio::time::sleep(config.backoff(attempt)).await;
        }
    }
    tracing::warn!(
        event = %delivery.event_id, endpoint = %delivery.endpoint_id,
        "webhook delivery gave up after {} attempts", config.attempts
    );
}

fn endpoint_still_enabled(app: &App, endpoint_id: &str) -> bool {
    app.lock()
        .webhook_endpoints
        .get(endpoint_id)
        .is_some_and(|e| !e.disabled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_from_the_first_retry() {
        let config = DeliveryConfig::default();
        assert_eq!(config.backoff(0), Duration::from_millis(200));
        assert_eq!(config.backoff(1), Duration::from_millis(400));
        assert_eq!(config.backoff(6), Duration::from_millis(12_800));
    }
}
