//! The SQS batch handler: decode each message, commit its records to the
//! ledger, and report the messages that must be redelivered.

use aforo::event::MeteringRecord;
use aforo::ledger::{CommitOutcome, LedgerEntry, LedgerStore};
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse};
use serde_json::Value;

use crate::batch::{read_batch, Message};
use crate::IngestError;

/// Counts of one handled batch.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IngestSummary {
    /// SQS messages in the batch.
    pub messages: usize,
    /// Metering records decoded from the messages.
    pub records: usize,
    /// Records counted now.
    pub accepted: usize,
    /// Records counted before (also repeats within the batch).
    pub duplicates: usize,
    /// Messages reported as failed, for SQS to redeliver.
    pub failed_messages: usize,
    /// Accepted billable usage records.
    pub usage: usize,
    /// Accepted unattributed records.
    pub unattributed: usize,
    /// Accepted rejected-line records.
    pub rejected: usize,
}

impl IngestSummary {
    fn count(&mut self, record: &MeteringRecord, outcome: &CommitOutcome) {
        match outcome {
            CommitOutcome::Accepted => {
                self.accepted += 1;
                match record {
                    MeteringRecord::Usage(_) => self.usage += 1,
                    MeteringRecord::Unattributed(_) => self.unattributed += 1,
                    MeteringRecord::Rejected(_) => self.rejected += 1,
                }
            }
            CommitOutcome::Duplicate => self.duplicates += 1,
            CommitOutcome::Failed(_) => {}
        }
    }
}

/// The ingest handler over a ledger store.
#[derive(Debug)]
pub struct Ingest<L: LedgerStore> {
    ledger: L,
}

/// The messages of a batch, split into their records and their errors.
struct Batch {
    /// `messageId` per message.
    ids: Vec<Option<String>>,
    /// The first error per message, `None` while the message succeeds.
    errors: Vec<Option<IngestError>>,
    /// Every readable record with the position of its message.
    records: Vec<(usize, MeteringRecord)>,
}

impl<L: LedgerStore> Ingest<L> {
    /// Creates a handler that commits to `ledger`.
    pub fn new(ledger: L) -> Self {
        Self { ledger }
    }

    /// Handles one SQS batch (raw event JSON). Returns the partial-batch
    /// response (only failed message ids) and counts.
    ///
    /// Errs when the event has no `Records` array, or when a failed record's
    /// `messageId` cannot be read: then no per-item failure can be reported
    /// and the whole batch must be retried.
    pub async fn handle(
        &self,
        event: Value,
    ) -> Result<(SqsBatchResponse, IngestSummary), IngestError> {
        let mut batch = split(read_batch(event)?)?;
        let mut summary = IngestSummary {
            messages: batch.ids.len(),
            records: batch.records.len(),
            ..IngestSummary::default()
        };

        let entries: Vec<_> = batch
            .records
            .iter()
            .map(|(_, record)| LedgerEntry::from_record(record))
            .collect();
        let outcomes = self.ledger.commit(&entries).await;

        let mut commit_failures = vec![CommitFailures::default(); batch.ids.len()];
        for (index, (position, record)) in batch.records.iter().enumerate() {
            // A store that returns too few outcomes must not get records acknowledged.
            let outcome = outcomes.get(index).cloned().unwrap_or_else(|| {
                CommitOutcome::Failed("the ledger returned no outcome for the record".to_owned())
            });
            summary.count(record, &outcome);
            if let CommitOutcome::Failed(reason) = outcome {
                commit_failures[*position].add(reason);
            }
        }

        for (error, failures) in batch.errors.iter_mut().zip(commit_failures) {
            if error.is_none() {
                *error = failures.into_error();
            }
        }

        let response = report(batch, &mut summary)?;
        tracing::info!(
            messages = summary.messages,
            records = summary.records,
            accepted = summary.accepted,
            duplicates = summary.duplicates,
            failed_messages = summary.failed_messages,
            usage = summary.usage,
            unattributed = summary.unattributed,
            rejected = summary.rejected,
            "ingested SQS batch"
        );
        Ok((response, summary))
    }
}

/// Splits messages into records and errors. A message that failed already and
/// has no id fails the batch here, before anything is written.
fn split(messages: Vec<Message>) -> Result<Batch, IngestError> {
    let mut batch = Batch {
        ids: Vec::with_capacity(messages.len()),
        errors: Vec::with_capacity(messages.len()),
        records: Vec::new(),
    };

    for (position, message) in messages.into_iter().enumerate() {
        match message.records {
            Ok(records) => {
                batch.records.extend(records.into_iter().map(|record| (position, record)));
                batch.errors.push(None);
            }
            Err(reason) if message.id.is_none() => {
                return Err(IngestError::MissingMessageId {
                    index: position,
                    reason: Box::new(reason),
                });
            }
            Err(reason) => batch.errors.push(Some(reason)),
        }
        batch.ids.push(message.id);
    }
    Ok(batch)
}

/// Builds the partial-batch response from the failed messages and logs each.
fn report(batch: Batch, summary: &mut IngestSummary) -> Result<SqsBatchResponse, IngestError> {
    let mut response = SqsBatchResponse::default();

    for (position, (id, error)) in batch.ids.into_iter().zip(batch.errors).enumerate() {
        let Some(error) = error else {
            continue;
        };
        let Some(id) = id else {
            return Err(IngestError::MissingMessageId {
                index: position,
                reason: Box::new(error),
            });
        };

        tracing::warn!(
            message_id = %id,
            error_kind = error.kind(),
            error = %error,
            "SQS message failed and will be redelivered"
        );
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
        summary.failed_messages += 1;
    }
    Ok(response)
}

/// The failed records of one message.
#[derive(Debug, Clone, Default)]
struct CommitFailures {
    failed: usize,
    first_reason: Option<String>,
}

impl CommitFailures {
    fn add(&mut self, reason: String) {
        self.failed += 1;
        self.first_reason.get_or_insert(reason);
    }

    fn into_error(self) -> Option<IngestError> {
        let reason = self.first_reason?;
        Some(IngestError::CommitFailed {
            failed: self.failed,
            reason,
        })
    }
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
