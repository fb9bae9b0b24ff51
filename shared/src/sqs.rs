//! Sends message bodies to one SQS queue with `SendMessageBatch`, retrying
//! failed entries with exponential backoff and full jitter.
//!
//! The sender is generic over bodies: the log decoder sends metering envelopes
//! through it, and any other producer can send its own bodies the same way.
//! A retried body may reach the queue twice, for example after a timed-out
//! call whose request did arrive. Consumers must therefore deduplicate, and
//! ingest does so by the idempotency key of each record.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_sqs::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::operation::send_message_batch::{SendMessageBatchError, SendMessageBatchOutput};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use rand::Rng;

/// Maximum number of entries SQS accepts in one `SendMessageBatch` call.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// Maximum total size in bytes of the bodies of one `SendMessageBatch` call (256 KiB).
pub const MAX_BATCH_BYTES: usize = 262_144;

/// Backoff cap before the second attempt. The cap doubles with each further attempt.
const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(100);

/// Largest backoff between two attempts.
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(5);

/// Error codes that mark a throttled call, whatever its HTTP status.
const THROTTLING_CODES: [&str; 3] = ["ThrottlingException", "RequestThrottled", "KmsThrottled"];

/// Sends message bodies to one queue.
#[derive(Debug, Clone)]
pub struct SqsSender {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
}

/// Bodies that could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// One body alone is larger than a `SendMessageBatch` call accepts, so nothing was sent.
    #[error("message body {index} is {size} bytes, over the {limit}-byte SendMessageBatch limit; pack smaller bodies")]
    BodyTooLarge {
        /// Number of bodies passed to [`SqsSender::send`], none of which was sent.
        total: usize,
        /// Position of the body in the slice passed to [`SqsSender::send`].
        index: usize,
        /// Size of the body in bytes.
        size: usize,
        /// The limit in bytes ([`MAX_BATCH_BYTES`]).
        limit: usize,
    },

    /// Some bodies were still not sent when the sender gave up.
    #[error(
        "failed to send {failed} of {total} messages to {queue_url} after {attempts} attempts \
         (last error codes: {})",
        .codes.join(", ")
    )]
    Failed {
        /// The queue.
        queue_url: String,
        /// Number of bodies passed to [`SqsSender::send`].
        total: usize,
        /// Number of bodies not sent.
        failed: usize,
        /// Number of attempts made.
        attempts: u32,
        /// Distinct error codes of the last attempt, such as `InternalError`,
        /// or the SDK error kind (`TimeoutError`, `DispatchFailure`) when SQS returned no code.
        codes: Vec<String>,
        /// Whether trying again later may succeed; false after a sender fault
        /// or a client error of the whole call.
        retryable: bool,
        /// The last error of a whole call, when there was one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl SendError {
    /// Number of bodies that were not sent.
    pub fn failed(&self) -> usize {
        match self {
            SendError::BodyTooLarge { total, .. } => *total,
            SendError::Failed { failed, .. } => *failed,
        }
    }
}

/// Result of one attempt over the pending bodies.
#[derive(Debug, Default)]
struct AttemptOutcome {
    sent: usize,
    /// Indices of bodies to try again.
    retry: Vec<usize>,
    codes: BTreeSet<String>,
    /// Whether a failure was not retryable, which ends the attempt and the send.
    fatal: bool,
    last_error: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl SqsSender {
    /// Sends to `queue_url` through `client`, making at most `max_attempts`
    /// attempts per body (at least one).
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>, max_attempts: u32) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            max_attempts: max_attempts.max(1),
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
        }
    }

    /// Sets the backoff: the wait before attempt n+1 is uniformly random
    /// between zero and `min(max_delay, base_delay * 2^(n-1))`.
    pub fn with_backoff(mut self, base_delay: Duration, max_delay: Duration) -> Self {
        self.base_delay = base_delay;
        self.max_delay = max_delay;
        self
    }

    /// Returns the URL of the queue the sender writes to.
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// Sends message bodies with `SendMessageBatch`: at most
    /// [`MAX_BATCH_ENTRIES`] entries and [`MAX_BATCH_BYTES`] bytes of bodies
    /// per call. Entries reported in `Failed`, and throttled, 5xx, timed-out
    /// or undelivered calls, are retried with exponential backoff and full
    /// jitter. An entry failed with `SenderFault = true`, or a client error
    /// of the whole call, ends the send at once.
    ///
    /// Returns the number of messages sent, which is `bodies.len()` on success.
    pub async fn send(&self, bodies: &[String]) -> Result<usize, SendError> {
        if let Some((index, body)) = bodies
            .iter()
            .enumerate()
            .find(|(_, body)| body.len() > MAX_BATCH_BYTES)
        {
            return Err(SendError::BodyTooLarge {
                total: bodies.len(),
                index,
                size: body.len(),
                limit: MAX_BATCH_BYTES,
            });
        }

        let mut pending: Vec<usize> = (0..bodies.len()).collect();
        let mut sent = 0;
        let mut attempt = 0;

        while !pending.is_empty() {
            attempt += 1;
            let outcome = self.attempt(bodies, &pending).await;
            sent += outcome.sent;
            pending = outcome.retry;

            if pending.is_empty() && !outcome.fatal {
                break;
            }
            if outcome.fatal || attempt >= self.max_attempts {
                return Err(SendError::Failed {
                    queue_url: self.queue_url.clone(),
                    total: bodies.len(),
                    failed: bodies.len() - sent,
                    attempts: attempt,
                    codes: outcome.codes.into_iter().collect(),
                    retryable: !outcome.fatal,
                    source: outcome.last_error,
                });
            }

            let delay = self.backoff(attempt);
            tracing::warn!(
                queue_url = %self.queue_url,
                attempt,
                failed = pending.len(),
                codes = ?outcome.codes,
                delay_ms = delay.as_millis() as u64,
                "SendMessageBatch left messages unsent; retrying"
            );
            tokio::time::sleep(delay).await;
        }

        Ok(sent)
    }

    /// Sends every pending body once, batch by batch, and collects what to retry.
    async fn attempt(&self, bodies: &[String], pending: &[usize]) -> AttemptOutcome {
        let mut outcome = AttemptOutcome::default();
        let batches = batches(bodies, pending);

        for (position, batch) in batches.iter().enumerate() {
            self.send_batch(bodies, batch, &mut outcome).await;

            if outcome.fatal {
                // The batches not yet tried stay unsent; they count as failed.
                outcome.retry.extend(batches[position + 1..].iter().flatten());
                break;
            }
        }

        outcome
    }

    /// Makes one `SendMessageBatch` call and records its result in `outcome`.
    async fn send_batch(&self, bodies: &[String], batch: &[usize], outcome: &mut AttemptOutcome) {
        let entries: Result<Vec<_>, _> = batch.iter().map(|&index| entry(index, &bodies[index])).collect();
        let entries = match entries {
            Ok(entries) => entries,
            Err(err) => {
                outcome.codes.insert("ConstructionFailure".to_owned());
                outcome.last_error = Some(Box::new(err));
                outcome.retry.extend(batch);
                outcome.fatal = true;
                return;
            }
        };

        let result = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await;

        match result {
            Ok(output) => record_batch_result(outcome, batch, &output),
            Err(err) => {
                let (code, retryable) = classify_call_error(&err);
                outcome.codes.insert(code);
                outcome.last_error = Some(Box::new(err));
                outcome.retry.extend(batch);
                outcome.fatal = !retryable;
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let cap = self
            .base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        let millis = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }
}

/// Builds a batch entry whose id is the body's index, so results map back to bodies.
fn entry(index: usize, body: &str) -> Result<SendMessageBatchRequestEntry, BuildError> {
    SendMessageBatchRequestEntry::builder()
        .id(index.to_string())
        .message_body(body)
        .build()
}

/// Splits the pending bodies, in order, into batches within the entry and byte limits.
fn batches(bodies: &[String], pending: &[usize]) -> Vec<Vec<usize>> {
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut current_bytes = 0;

    for &index in pending {
        let size = bodies[index].len();
        let full = current.len() == MAX_BATCH_ENTRIES || current_bytes + size > MAX_BATCH_BYTES;
        if full && !current.is_empty() {
            batches.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current.push(index);
        current_bytes += size;
    }

    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// Reads `Successful` and `Failed` of one call into the attempt's outcome.
fn record_batch_result(outcome: &mut AttemptOutcome, batch: &[usize], output: &SendMessageBatchOutput) {
    let succeeded: BTreeSet<&str> = output.successful().iter().map(|entry| entry.id()).collect();
    outcome.sent += batch
        .iter()
        .filter(|index| succeeded.contains(index.to_string().as_str()))
        .count();

    for failed in output.failed() {
        outcome.codes.insert(failed.code().to_owned());
        if failed.sender_fault() {
            outcome.fatal = true;
        }
    }

    // NOTE: an entry missing from both lists is retried rather than assumed
    // sent; SQS always reports every entry, so this only guards against a
    // malformed response.
    let missing = batch
        .iter()
        .filter(|index| !succeeded.contains(index.to_string().as_str()))
        .copied();
    outcome.retry.extend(missing);
}

/// Returns the error code of a failed call and whether it is worth retrying.
fn classify_call_error(
    err: &SdkError<SendMessageBatchError, aws_sdk_sqs::config::http::HttpResponse>,
) -> (String, bool) {
    match err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown").to_owned();
            let status = service.raw().status().as_u16();
            let throttled = service.err().is_request_throttled()
                || service.err().is_kms_throttled()
                || THROTTLING_CODES.contains(&code.as_str());
            let retryable = throttled || status == 429 || status >= 500;
            (code, retryable)
        }
        SdkError::TimeoutError(_) => ("TimeoutError".to_owned(), true),
        SdkError::DispatchFailure(_) => ("DispatchFailure".to_owned(), true),
        SdkError::ResponseError(_) => ("ResponseError".to_owned(), true),
        SdkError::ConstructionFailure(_) => ("ConstructionFailure".to_owned(), false),
        _ => ("Unknown".to_owned(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(sizes: &[usize]) -> Vec<String> {
        sizes.iter().map(|&size| "x".repeat(size)).collect()
    }

    fn all(bodies: &[String]) -> Vec<usize> {
        (0..bodies.len()).collect()
    }

    #[test]
    fn batches_cap_entry_count() {
        let bodies = bodies(&[1; 25]);
        let batches = batches(&bodies, &all(&bodies));
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![10, 10, 5]);
    }

    #[test]
    fn batches_cap_total_bytes() {
        let bodies = bodies(&[100_000, 100_000, 100_000, 10]);
        let batches = batches(&bodies, &all(&bodies));
        assert_eq!(batches, vec![vec![0, 1], vec![2, 3]]);
    }

    #[test]
    fn batches_fit_body_of_exact_limit() {
        let bodies = bodies(&[MAX_BATCH_BYTES, 1]);
        let batches = batches(&bodies, &all(&bodies));
        assert_eq!(batches, vec![vec![0], vec![1]]);
    }

    #[test]
    fn batches_keep_only_pending_in_order() {
        let bodies = bodies(&[1; 6]);
        let batches = batches(&bodies, &[5, 1, 3]);
        assert_eq!(batches, vec![vec![5, 1, 3]]);
    }

    #[test]
    fn batches_of_nothing_are_empty() {
        assert!(batches(&[], &[]).is_empty());
    }

    fn sender() -> SqsSender {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .build();
        SqsSender::new(aws_sdk_sqs::Client::from_conf(config), "http://127.0.0.1:1/q", 3)
            .with_backoff(Duration::from_millis(100), Duration::from_millis(300))
    }

    #[test]
    fn backoff_stays_under_cap() {
        let sender = sender();
        for attempt in 1..=40 {
            assert!(sender.backoff(attempt) <= Duration::from_millis(300));
        }
    }

    #[test]
    fn backoff_first_wait_under_base() {
        let sender = sender();
        for _ in 0..50 {
            assert!(sender.backoff(1) <= Duration::from_millis(100));
        }
    }

    #[test]
    fn new_makes_at_least_one_attempt() {
        assert_eq!(sender().max_attempts, 3);
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .build();
        let zero = SqsSender::new(aws_sdk_sqs::Client::from_conf(config), "q", 0);
        assert_eq!(zero.max_attempts, 1);
    }

    #[tokio::test]
    async fn send_rejects_oversized_body_before_sending() {
        let bodies = bodies(&[10, MAX_BATCH_BYTES + 1]);
        let error = sender().send(&bodies).await.unwrap_err();
        assert!(matches!(error, SendError::BodyTooLarge { index: 1, .. }));
        assert_eq!(error.failed(), 2);
    }

    #[tokio::test]
    async fn send_of_nothing_sends_nothing() {
        assert_eq!(sender().send(&[]).await.unwrap(), 0);
    }
}
