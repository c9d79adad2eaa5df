//! The `usage_records` DynamoDB Stream and its Lambda event source mapping, emulated: each usage
//! record the stack writes is published as an `INSERT` stream record (its `NewImage` the stored
//! item), and one worker (one shard) hands batches to the usage reporter as Lambda does:
//!
//! - **batching**: a batch closes at [`StreamSettings::batch_size`] records or when
//!   [`StreamSettings::window`] has passed since its first record (`MaximumBatchingWindowInSeconds`);
//! - **partial batch responses** (`ReportBatchItemFailures`): the batch is checkpointed before the
//!   lowest failed sequence number and redelivered from there (later records included, as Lambda
//!   does), after a backoff;
//! - **function errors**: the batch is split in two and each half retried
//!   (`BisectBatchOnFunctionError`; a split does not count as a retry);
//! - **bounded retries** (`MaximumRetryAttempts`): records still failing after
//!   [`StreamSettings::max_retries`] are dropped with a log line, as an expired stream record
//!   would be; the scheduled sweep bills them later.
//!
//! Records keep their order: the next batch waits until the current one is done, as on a shard.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::apigw::{ACCOUNT_ID, REGION};
use crate::functions::invoke_usage_reporter;
use crate::stack::Shared;

/// How the event source mapping batches and retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// Largest batch (`BatchSize`; the template's is 100).
    pub batch_size: usize,
    /// How long a batch waits for more records after its first (`MaximumBatchingWindowInSeconds`).
    pub window: Duration,
    /// Retries of a failing record before it is dropped (`MaximumRetryAttempts`).
    pub max_retries: u32,
    /// First backoff before a retry; doubles up to 5 s.
    pub retry_base: Duration,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            batch_size: 100,
            window: Duration::from_millis(250),
            max_retries: 10,
            retry_base: Duration::from_millis(200),
        }
    }
}

/// What the worker counts (for `/dev/stream` and the tests).
#[derive(Debug, Default)]
pub struct StreamStats {
    /// Records published.
    pub published: AtomicU64,
    /// Invocations of the reporter with a stream batch.
    pub invocations: AtomicU64,
    /// Records redelivered (partial failures, bisected errors).
    pub redelivered: AtomicU64,
    /// Records dropped after the last retry.
    pub dropped: AtomicU64,
}

/// The publishing side of the stream.
pub struct UsageStream {
    sender: mpsc::UnboundedSender<Value>,
    sequence: AtomicU64,
    pending: AtomicUsize,
    drained: Notify,
    source_arn: String,
    /// Counters.
    pub stats: StreamStats,
}

impl UsageStream {
    /// A stream of the table `table`; the receiver goes to [`spawn_worker`].
    pub fn new(table: &str) -> (UsageStream, mpsc::UnboundedReceiver<Value>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let stream = UsageStream {
            sender,
            sequence: AtomicU64::new(1),
            pending: AtomicUsize::new(0),
            drained: Notify::new(),
            source_arn: format!(
                "arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}/stream/2026-01-01T00:00:00.000"
            ),
            stats: StreamStats::default(),
        };
        (stream, receiver)
    }

    /// Publishes the `INSERT` of an item whose key is `usage_id` and whose new image is `image`
    /// (DynamoDB JSON), written at `now` (unix seconds).
    pub fn publish_insert(&self, usage_id: &str, image: Value, now: i64) {
        let n = self.sequence.fetch_add(1, Ordering::SeqCst);
        let size = usage_id.len() + image.to_string().len();
        let record = json!({
            "eventID": format!("{:032x}", fastrand::u128(..)),
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": {
                "ApproximateCreationDateTime": now,
                "Keys": {"usage_id": {"S": usage_id}},
                "NewImage": image,
                "SequenceNumber": format!("{}", 100_000_000_000_000_000_000_u128 + u128::from(n)),
                "SizeBytes": size,
                "StreamViewType": "NEW_IMAGE",
            },
            "eventSourceARN": self.source_arn,
        });
        self.pending.fetch_add(1, Ordering::SeqCst);
        self.stats.published.fetch_add(1, Ordering::SeqCst);
        if self.sender.send(record).is_err() {
            // The worker is gone (the stack is stopping): nothing will deliver it.
            self.finish(1);
        }
    }

    fn finish(&self, records: usize) {
        let before = self.pending.fetch_sub(records, Ordering::SeqCst);
        if before <= records {
            self.drained.notify_waiters();
        }
    }

    /// Records published and not yet done with (delivered, or dropped after the last retry).
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Waits until every published record is done with, at most `timeout`; answers whether it
    /// was.
    pub async fn drained_within(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.drained.notified();
            if self.pending() == 0 {
                return true;
            }
            let wait = tokio::time::timeout_at(deadline, notified).await;
            if wait.is_err() {
                return self.pending() == 0;
            }
        }
    }
}

/// Runs the event source mapping until the stream's sender is dropped or the task is aborted.
pub fn spawn_worker(
    shared: Arc<Shared>,
    mut receiver: mpsc::UnboundedReceiver<Value>,
    settings: StreamSettings,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(first) = receiver.recv().await {
            let mut batch = vec![first];
            let deadline = tokio::time::Instant::now() + settings.window;
            while batch.len() < settings.batch_size {
                match tokio::time::timeout_at(deadline, receiver.recv()).await {
                    Ok(Some(record)) => batch.push(record),
                    Ok(None) | Err(_) => break,
                }
            }
            deliver(&shared, batch, &settings).await;
        }
    })
}

fn sequence_of(record: &Value) -> &str {
    record["dynamodb"]["SequenceNumber"].as_str().unwrap_or("")
}

/// What the reporter's answer asks to retry: `None` when the answer is unusable (Lambda then
/// retries the whole batch), else the index of the lowest failed record (`len` when none).
fn first_failure(batch: &[Value], answer: &Value) -> Option<usize> {
    let failures = answer.get("batchItemFailures")?.as_array()?;
    let mut first = batch.len();
    for failure in failures {
        let id = failure.get("itemIdentifier").and_then(Value::as_str)?;
        let index = batch.iter().position(|r| sequence_of(r) == id)?;
        first = first.min(index);
    }
    Some(first)
}

async fn deliver(shared: &Arc<Shared>, batch: Vec<Value>, settings: &StreamSettings) {
    let stream = &shared.stream;
    let mut queue: VecDeque<(Vec<Value>, u32)> = VecDeque::from([(batch, 0)]);
    while let Some((batch, retries)) = queue.pop_front() {
        stream.stats.invocations.fetch_add(1, Ordering::SeqCst);
        let payload = json!({ "Records": batch });
        let outcome = invoke_usage_reporter(shared.clone(), payload).await;
        info!(
            records = batch.len(),
            outcome = %match &outcome {
                Ok(answer) => answer.to_string(),
                Err(e) => e.to_string(),
            },
            "usage-reporter: stream batch"
        );
        let retry_from = match &outcome {
            Ok(answer) => match first_failure(&batch, answer) {
                Some(index) if index >= batch.len() => {
                    stream.finish(batch.len());
                    continue;
                }
                Some(index) => index,
                None => {
                    warn!(answer = %answer, "usage reporter: unusable partial batch response; retrying the batch");
                    0
                }
            },
            Err(e) if batch.len() > 1 => {
                warn!(error = %e, records = batch.len(), "usage reporter failed; bisecting the batch");
                let mut first = batch;
                let second = first.split_off(first.len() / 2);
                stream.stats.redelivered.fetch_add(
                    u64::try_from(first.len() + second.len()).unwrap_or(0),
                    Ordering::SeqCst,
                );
                queue.push_front((second, retries));
                queue.push_front((first, retries));
                continue;
            }
            Err(e) => {
                warn!(error = %e, "usage reporter failed on a single record");
                0
            }
        };
        // Checkpoint before the lowest failure; redeliver from there after a backoff.
        let done = retry_from;
        stream.finish(done);
        let rest: Vec<Value> = batch.into_iter().skip(done).collect();
        if retries >= settings.max_retries {
            warn!(
                records = rest.len(),
                retries, "stream records dropped after the last retry; the sweep will bill them"
            );
            stream
                .stats
                .dropped
                .fetch_add(u64::try_from(rest.len()).unwrap_or(0), Ordering::SeqCst);
            stream.finish(rest.len());
            continue;
        }
        let factor = 1_u32 << retries.min(5);
        let backoff = (settings.retry_base * factor).min(Duration::from_secs(5));
        info!(
            records = rest.len(),
            retry = retries + 1,
            backoff_ms = backoff.as_millis(),
            "redelivering stream records"
        );
        stream
            .stats
            .redelivered
            .fetch_add(u64::try_from(rest.len()).unwrap_or(0), Ordering::SeqCst);
        tokio::time::sleep(backoff).await;
        queue.push_front((rest, retries + 1));
    }
}

/// The EventBridge scheduled event of the sweep's rule, at `now`.
pub fn scheduled_event(now: i64) -> Value {
    json!({
        "version": "0",
        "id": crate::apigw::uuid(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": billing::period::to_rfc3339(now),
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/usage-reporter-sweep")],
        "detail": {}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_failure_is_where_redelivery_starts() {
        let batch: Vec<Value> = (1..=4)
            .map(|n| json!({"dynamodb": {"SequenceNumber": n.to_string()}}))
            .collect();
        assert_eq!(
            first_failure(&batch, &json!({"batchItemFailures": []})),
            Some(4)
        );
        assert_eq!(
            first_failure(
                &batch,
                &json!({"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]})
            ),
            Some(1)
        );
        // An identifier not in the batch, or no partial response at all: the whole batch again.
        assert_eq!(
            first_failure(
                &batch,
                &json!({"batchItemFailures": [{"itemIdentifier": "9"}]})
            ),
            None
        );
        assert_eq!(first_failure(&batch, &json!({"swept": {}})), None);
    }

    #[test]
    fn the_scheduled_event_is_what_the_reporter_takes_for_the_sweep() {
        assert!(matches!(
            usage_reporter::trigger(scheduled_event(1_700_000_000)),
            Ok(usage_reporter::Trigger::Schedule)
        ));
    }
}
