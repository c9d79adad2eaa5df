//! Webhook delivery: a background task takes events from a channel and POSTs each to its endpoint,
//! signed as Stripe signs, retrying with exponential backoff (at least once, on a compressed
//! schedule) until a 2xx answer or the attempts run out.

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
    /// The `we_` id.
    pub endpoint_id: String,
    /// Where to POST.
    pub url: String,
    /// The endpoint's `whsec_` signing secret.
    pub secret: String,
    /// The exact bytes to send (and sign).
    pub payload: Arc<[u8]>,
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

/// Starts the worker that delivers everything arriving on `deliveries`.
pub fn spawn_worker(app: App, mut deliveries: UnboundedReceiver<Delivery>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let config = app.config().delivery;
        let client = match reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent("Stripe/1.0 (+https://stripe.com/docs/webhooks)")
            .build()
        {
            Ok(client) => client,
            Err(err) => {
                tracing::error!(error = %err, "cannot build the webhook HTTP client; deliveries are off");
                return;
            }
        };
        while let Some(delivery) = deliveries.recv().await {
            tokio::spawn(deliver(app.clone(), client.clone(), config, delivery));
        }
    })
}

async fn deliver(app: App, client: reqwest::Client, config: DeliveryConfig, delivery: Delivery) {
    for attempt in 0..config.attempts.max(1) {
        if !endpoint_still_enabled(&app, &delivery.endpoint_id) {
            return;
        }
        // Stripe signs with the wall-clock time even when test clocks move the account's time.
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
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
        let outcome = match &result {
            Ok(response) if response.status().is_success() => {
                app.lock()
                    .mark_delivered(&delivery.event_id, &delivery.endpoint_id);
                tracing::info!(
                    event = %delivery.event_id, endpoint = %delivery.endpoint_id,
                    attempt = attempt + 1, status = response.status().as_u16(), "webhook delivered"
                );
                return;
            }
            Ok(response) => format!("HTTP {}", response.status().as_u16()),
            Err(err) if err.is_timeout() => "timeout".to_string(),
            Err(err) => format!("connection error: {err}"),
        };
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
