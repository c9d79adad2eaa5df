//! The usage reporter function: turns the AI usage producers write into `usage_records` into
//! Stripe meter events, each unit once.
//!
//! Two triggers invoke it, so it takes a raw JSON payload and dispatches on its shape:
//! - a **DynamoDB Stream** batch of `usage_records` (`Records` with `eventSource: "aws:dynamodb"`):
//!   each `INSERT`'s new image is read into a usage record and the batch goes to the core's
//!   [`usage_reporting::report`]; `MODIFY` and `REMOVE` (the reporter's own state writes, TTL
//!   deletes) are ignored. The answer is a partial batch response listing the sequence numbers of
//!   the records to retry; a bad record is rejected for good, never failing the invocation;
//! - an **EventBridge schedule** (`detail-type: "Scheduled Event"`, `source: "aws.events"`): the
//!   core's [`usage_reporting::sweep`] bills what the stream missed and finishes pending intents.
//!
//! Any other payload is an error: the function is wired to something it does not serve.
//!
//! # Layout
//! - [`handler`]: one invocation over [`Deps`] (tests and the local stack call it directly).
//! - [`read_usage`]: a stream image into an [`Incoming`] record, money read from text only.
//! - [`SweepConfig`]: the schedule's settings (`STRIPE_METER_ID`, `SWEEP_MIN_AGE_SECONDS`).
//! - [`manifest`]: [`MANIFEST`] (route, environment, tables, secrets) and [`config_from_env`].
//! - `main.rs`: builds the configuration, the store and the Stripe client once per cold start.

pub mod manifest;

pub use manifest::{Config, MANIFEST, config_from_env};

use std::collections::{HashMap, HashSet};

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use billing::config::{ConfigError, Env, MeterConfig};
use billing::ids::{CustomerId, UsageId};
use billing::money::Usd;
use billing::period::parse_timestamp;
use billing::service::usage_reporting::{self, BatchReport, Incoming, ReportError, SweepReport};
use billing::usage::UsageRecord;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_dynamo::AttributeValue;
use serde_json::{Value, json};
use tracing::{info, warn};

pub use billing::service::usage_reporting::{ReporterDeps, ReporterSettings};

/// How old an unapplied record must be before the sweep takes it (the stream normally delivers
/// within seconds, so the sweep does not race it), by default.
pub const DEFAULT_SWEEP_MIN_AGE_SECS: i64 = 300;

/// The scheduled sweep's settings, read once at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepConfig {
    /// `STRIPE_METER_ID`: lets the sweep check an old pending intent against Stripe's summaries
    /// (without it such an intent is left alone rather than risk a double bill).
    pub meter_id: Option<String>,
    /// `SWEEP_MIN_AGE_SECONDS` (default 300): unapplied records younger than this are left to
    /// the stream.
    pub min_age_secs: i64,
}

impl SweepConfig {
    /// Reads `SWEEP_MIN_AGE_SECONDS` (whole seconds, 0 or more) and the meter id of `meter`.
    pub fn from_env(env: &dyn Env, meter: &MeterConfig) -> Result<Self, ConfigError> {
        let min_age_secs = match env.var("SWEEP_MIN_AGE_SECONDS") {
            None => DEFAULT_SWEEP_MIN_AGE_SECS,
            Some(text) => text
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|secs| *secs >= 0)
                .ok_or_else(|| ConfigError::Invalid {
                    var: "SWEEP_MIN_AGE_SECONDS",
                    reason: "must be whole seconds, 0 or more".into(),
                })?,
        };
        Ok(SweepConfig {
            meter_id: meter.meter_id.clone(),
            min_age_secs,
        })
    }
}

/// What one invocation needs: the core's ports, its settings and the sweep's.
pub struct Deps<'a> {
    /// Store, Stripe and clock, as the core's reporter takes them.
    pub reporter: ReporterDeps<'a>,
    /// Pricing and meter event name.
    pub settings: &'a ReporterSettings,
    /// The schedule's settings.
    pub sweep: &'a SweepConfig,
}

/// Why an invocation failed as a whole (a bad record never does: it is rejected or retried).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The payload is neither a DynamoDB Stream batch nor a scheduled event: a wiring mistake.
    #[error(
        "unrecognised event ({0}): this function takes DynamoDB Stream batches and EventBridge scheduled events"
    )]
    UnrecognisedEvent(String),
    /// A stream batch that does not have the DynamoDB Stream shape.
    #[error("unreadable DynamoDB Stream batch: {0}")]
    StreamBatch(#[source] serde_json::Error),
    /// The sweep could not list what to do (the store failed); the next schedule retries.
    #[error("sweep failed: {0}")]
    Sweep(#[source] ReportError),
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match &e {
            HandlerError::UnrecognisedEvent(_) => "UsageReporter.UnrecognisedEvent",
            HandlerError::StreamBatch(_) => "UsageReporter.StreamBatch",
            HandlerError::Sweep(_) => "UsageReporter.Sweep",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

/// What invoked the function.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// A DynamoDB Stream batch of `usage_records`.
    Stream(StreamEvent),
    /// The EventBridge schedule.
    Schedule,
}

/// Tells the two triggers apart by their shape; anything else is an error.
pub fn trigger(payload: Value) -> Result<Trigger, HandlerError> {
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        let from_dynamodb = records
            .iter()
            .all(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:dynamodb"));
        if !from_dynamodb {
            return Err(HandlerError::UnrecognisedEvent(
                "Records not all from aws:dynamodb".into(),
            ));
        }
        return serde_json::from_value(payload)
            .map(Trigger::Stream)
            .map_err(HandlerError::StreamBatch);
    }
    let detail_type = payload.get("detail-type").and_then(Value::as_str);
    let source = payload.get("source").and_then(Value::as_str);
    match (detail_type, source) {
        (Some("Scheduled Event"), Some("aws.events")) => Ok(Trigger::Schedule),
        _ => Err(HandlerError::UnrecognisedEvent(format!(
            "detail-type {detail_type:?}, source {source:?}"
        ))),
    }
}

/// Handles one invocation: a stream batch answers `{"batchItemFailures": [...]}`, the schedule
/// `{"swept": {...}}`.
#[tracing::instrument(skip_all, fields(request_id = %event.context.request_id), err)]
pub async fn handler(deps: &Deps<'_>, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
    match trigger(event.payload)? {
        Trigger::Stream(batch) => Ok(stream_batch(deps, batch).await),
        Trigger::Schedule => scheduled_sweep(deps).await,
    }
}

/// Reports the `INSERT`s of a stream batch; answers the sequence numbers of the records whose
/// usage failed and must be retried (Lambda checkpoints at the lowest one).
pub async fn stream_batch(deps: &Deps<'_>, batch: StreamEvent) -> Value {
    let mut delivered: Vec<(String, Option<UsageId>)> = Vec::new();
    let mut incoming = Vec::new();
    let mut ignored = 0_usize;
    for record in batch.records {
        if record.event_name != "INSERT" {
            ignored += 1;
            continue;
        }
        // DynamoDB always sends one; were it missing, the empty identifier makes Lambda retry
        // the whole batch, which is safe (applying and sending are idempotent).
        let sequence = record.change.sequence_number.unwrap_or_default();
        let usage = read_usage(&record.change.new_image);
        let usage_id = match &usage {
            Incoming::Record(r) => Some(r.usage_id.clone()),
            Incoming::Malformed { usage_id, reason } => {
                if usage_id.is_none() {
                    warn!(sequence_number = %sequence, reason, "stream record without a readable usage id: not billed, not retried");
                }
                usage_id.clone()
            }
        };
        delivered.push((sequence, usage_id));
        incoming.push(usage);
    }
    let report = usage_reporting::report(&deps.reporter, deps.settings, incoming).await;
    let failures = failed_sequence_numbers(&report, &delivered);
    info!(
        records = delivered.len(),
        ignored,
        applied = report.applied,
        already_applied = report.already_applied,
        rejected = report.rejected,
        failed = report.failed.len(),
        meter_events = report.meter_events,
        "stream batch reported"
    );
    json!({
        "batchItemFailures": failures
            .iter()
            .map(|sequence| json!({"itemIdentifier": sequence}))
            .collect::<Vec<_>>()
    })
}

/// The sequence numbers, in batch order, of the records whose usage id the report lists as
/// failed.
fn failed_sequence_numbers(
    report: &BatchReport,
    delivered: &[(String, Option<UsageId>)],
) -> Vec<String> {
    let failed: HashSet<&UsageId> = report.failed.iter().collect();
    delivered
        .iter()
        .filter(|(_, id)| id.as_ref().is_some_and(|id| failed.contains(id)))
        .map(|(sequence, _)| sequence.clone())
        .collect()
}

async fn scheduled_sweep(deps: &Deps<'_>) -> Result<Value, HandlerError> {
    let report = usage_reporting::sweep(
        &deps.reporter,
        deps.settings,
        deps.sweep.meter_id.as_deref(),
        deps.sweep.min_age_secs,
    )
    .await
    .map_err(HandlerError::Sweep)?;
    let counts = sweep_counts(&report);
    info!(swept = %counts, "sweep done");
    Ok(json!({ "swept": counts }))
}

fn sweep_counts(report: &SweepReport) -> Value {
    json!({
        "applied": report.records.applied,
        "already_applied": report.records.already_applied,
        "rejected": report.records.rejected,
        "failed": report.records.failed.len(),
        "meter_events": report.records.meter_events,
        "resent": report.resent,
        "confirmed": report.confirmed,
        "settled": report.settled,
        "settled_meter_events": report.settled_meter_events,
        "left": report.left,
    })
}

/// Reads a `usage_records` image: `usage_id` (S), `customer_id` (S), `openai_cost_usd` (N, or S
/// holding decimal text; read from the text, never through a float) and `occurred_at` (N unix
/// seconds, or S RFC 3339). What cannot be read is [`Incoming::Malformed`] with the reason, and
/// with the usage id when that much was readable.
pub fn read_usage(image: &HashMap<String, AttributeValue>) -> Incoming {
    let usage_id = match string(image, "usage_id")
        .and_then(|text| UsageId::parse(text).map_err(|e| format!("usage_id: {e}")))
    {
        Ok(id) => id,
        Err(reason) => {
            return Incoming::Malformed {
                usage_id: None,
                reason,
            };
        }
    };
    match record_fields(image, &usage_id) {
        Ok(record) => Incoming::Record(record),
        Err(reason) => Incoming::Malformed {
            usage_id: Some(usage_id),
            reason,
        },
    }
}

fn record_fields(
    image: &HashMap<String, AttributeValue>,
    usage_id: &UsageId,
) -> Result<UsageRecord, String> {
    let customer_id = string(image, "customer_id")
        .and_then(|text| CustomerId::parse(text).map_err(|e| format!("customer_id: {e}")))?;
    let openai_cost_usd = match image.get("openai_cost_usd") {
        Some(AttributeValue::N(text) | AttributeValue::S(text)) => {
            Usd::parse(text).map_err(|e| format!("openai_cost_usd: {e}"))?
        }
        Some(_) => return Err("openai_cost_usd is neither a number nor decimal text".into()),
        None => return Err("openai_cost_usd is missing".into()),
    };
    let occurred_at = match image.get("occurred_at") {
        Some(AttributeValue::N(text)) => text
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("occurred_at {text:?} is not whole unix seconds"))?,
        Some(AttributeValue::S(text)) => {
            parse_timestamp(text).map_err(|e| format!("occurred_at: {e}"))?
        }
        Some(_) => return Err("occurred_at is neither a number nor RFC 3339 text".into()),
        None => return Err("occurred_at is missing".into()),
    };
    Ok(UsageRecord {
        usage_id: usage_id.clone(),
        customer_id,
        openai_cost_usd,
        occurred_at,
    })
}

fn string<'a>(image: &'a HashMap<String, AttributeValue>, name: &str) -> Result<&'a str, String> {
    match image.get(name) {
        Some(AttributeValue::S(text)) => Ok(text),
        Some(_) => Err(format!("{name} is not a string")),
        None => Err(format!("{name} is missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.into())
    }

    fn n(text: &str) -> AttributeValue {
        AttributeValue::N(text.into())
    }

    #[test]
    fn a_producers_item_with_text_cost_and_rfc3339_time_is_read_exactly() {
        // GIVEN an item with the cost as decimal text and the time as RFC 3339
        let item = image(&[
            ("usage_id", s("u1")),
            ("customer_id", s("tenant-1")),
            ("openai_cost_usd", s("0.000123")),
            ("occurred_at", s("2023-11-14T22:13:20Z")),
        ]);
        // WHEN read THEN the record is exact
        let Incoming::Record(record) = read_usage(&item) else {
            panic!("not read: {:?}", read_usage(&item));
        };
        assert_eq!(record.openai_cost_usd.to_string(), "0.000123");
        assert_eq!(record.occurred_at, 1_700_000_000);
        // AND the number forms read the same
        let item = image(&[
            ("usage_id", s("u1")),
            ("customer_id", s("tenant-1")),
            ("openai_cost_usd", n("0.000123")),
            ("occurred_at", n("1700000000")),
        ]);
        assert_eq!(read_usage(&item), Incoming::Record(record));
    }

    #[test]
    fn an_unreadable_field_makes_a_malformed_record_naming_it() {
        let base = [
            ("usage_id", s("u1")),
            ("customer_id", s("tenant-1")),
            ("openai_cost_usd", n("0.5")),
            ("occurred_at", n("1700000000")),
        ];
        for (field, value, expected) in [
            ("openai_cost_usd", s("abc"), "openai_cost_usd"),
            ("openai_cost_usd", n("-0.5"), "negative"),
            ("openai_cost_usd", n("1e-5"), "openai_cost_usd"),
            ("openai_cost_usd", AttributeValue::Bool(true), "neither"),
            ("occurred_at", n("1.5"), "occurred_at"),
            ("occurred_at", s("yesterday"), "occurred_at"),
            ("customer_id", n("7"), "customer_id"),
        ] {
            // GIVEN an item with one bad field
            let mut item = image(&base);
            item.insert(field.into(), value.clone());
            // WHEN read THEN it is malformed, keeps its usage id and says why
            match read_usage(&item) {
                Incoming::Malformed {
                    usage_id: Some(id),
                    reason,
                } => {
                    assert_eq!(id.as_str(), "u1");
                    assert!(reason.contains(expected), "{field} {value:?}: {reason}");
                }
                other => panic!("{field} {value:?}: {other:?}"),
            }
        }
        // AND an item without a usage id is malformed without one
        let mut item = image(&base);
        item.remove("usage_id");
        assert!(matches!(
            read_usage(&item),
            Incoming::Malformed { usage_id: None, .. }
        ));
    }

    #[test]
    fn a_payload_from_another_source_is_refused() {
        // GIVEN payloads of triggers this function is not wired to
        for payload in [
            json!({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}),
            json!({"detail-type": "Object Created", "source": "aws.s3"}),
            json!({"hello": "world"}),
        ] {
            // WHEN dispatched THEN it is an error, not a silent success
            assert!(
                matches!(trigger(payload), Err(HandlerError::UnrecognisedEvent(_))),
                "accepted"
            );
        }
        // AND a scheduled event is the sweep
        let scheduled = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": "2026-11-26T16:00:00Z",
            "region": "us-east-1", "resources": [], "detail": {}});
        assert!(matches!(trigger(scheduled), Ok(Trigger::Schedule)));
    }

    #[test]
    fn sweep_settings_default_to_five_minutes_and_refuse_nonsense() {
        let meter = MeterConfig {
            event_name: "leadmagnet_ai_usage".into(),
            meter_id: Some("mtr_1".into()),
        };
        let empty: HashMap<String, String> = HashMap::new();
        assert_eq!(
            SweepConfig::from_env(&empty, &meter),
            Ok(SweepConfig {
                meter_id: Some("mtr_1".into()),
                min_age_secs: 300
            })
        );
        let bad = HashMap::from([("SWEEP_MIN_AGE_SECONDS".to_string(), "-1".to_string())]);
        assert!(SweepConfig::from_env(&bad, &meter).is_err());
    }
}
