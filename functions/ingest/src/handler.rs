//! The SQS batch handler: decode each message, commit its records to the
//! ledger, and report the messages that must be redelivered.

use aforo::event::MeteringRecord;
use aforo::ledger::{CommitOutcome, LedgerEntry, LedgerStore};
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse};
use chrono::{DateTime, Utc};
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
    /// Records that did not match the schema or failed validation. Each is
    /// written as rejected input under `REJECTED#ingest` instead, and is not
    /// counted in `records`, `accepted`, `duplicates` or `rejected`.
    pub invalid_records: usize,
}

impl IngestSummary {
    fn count(&mut self, kind: EntryKind, outcome: &CommitOutcome) {
        // Invalid records are counted once, in `invalid_records`, whatever their outcome.
        if kind == EntryKind::InvalidRecord {
            return;
        }

        match outcome {
            CommitOutcome::Accepted => {
                self.accepted += 1;
                match kind {
                    EntryKind::Usage => self.usage += 1,
                    EntryKind::Unattributed => self.unattributed += 1,
                    EntryKind::Rejected => self.rejected += 1,
                    EntryKind::InvalidRecord => {}
                }
            }
            CommitOutcome::Duplicate => self.duplicates += 1,
            CommitOutcome::Failed(_) => {}
        }
    }
}

/// Origin of a ledger entry of the batch: a record of one kind, or an invalid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    Usage,
    Unattributed,
    Rejected,
    /// A record that could not be read or validated.
    InvalidRecord,
}

impl EntryKind {
    fn of(record: &MeteringRecord) -> Self {
        match record {
            MeteringRecord::Usage(_) => EntryKind::Usage,
            MeteringRecord::Unattributed(_) => EntryKind::Unattributed,
            MeteringRecord::Rejected(_) => EntryKind::Rejected,
        }
    }
}

/// The ingest handler over a ledger store.
#[derive(Debug)]
pub struct Ingest<L: LedgerStore> {
    ledger: L,
}

/// The messages of a batch, split into their ledger entries and their errors.
#[derive(Default)]
struct Batch {
    /// `messageId` per message.
    ids: Vec<Option<String>>,
    /// The first error per message, `None` while the message succeeds.
    errors: Vec<Option<IngestError>>,
    /// The entry of every record, valid or not.
    entries: Vec<LedgerEntry>,
    /// Aligned with `entries`: the position of the entry's message and what the entry was made from.
    owners: Vec<(usize, EntryKind)>,
    /// Valid records.
    records: usize,
    /// Records that could not be read or validated.
    invalid_records: usize,
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
        let mut batch = split(read_batch(event)?, Utc::now())?;
        let mut summary = IngestSummary {
            messages: batch.ids.len(),
            records: batch.records,
            invalid_records: batch.invalid_records,
            ..IngestSummary::default()
        };

        let outcomes = self.ledger.commit(&batch.entries).await;

        let mut commit_failures = vec![CommitFailures::default(); batch.ids.len()];
        for (index, (position, kind)) in batch.owners.iter().enumerate() {
            // A store that returns too few outcomes must not get records acknowledged.
            let outcome = outcomes.get(index).cloned().unwrap_or_else(|| {
                CommitOutcome::Failed("the ledger returned no outcome for the record".to_owned())
            });
            summary.count(*kind, &outcome);
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
            invalid_records = summary.invalid_records,
            "ingested SQS batch"
        );
        Ok((response, summary))
    }
}

/// Splits messages into ledger entries and errors. An invalid record becomes
/// an entry of rejected input, processed at `processed_at`. A message that
/// failed already, or has an invalid record, and has no id fails the batch
/// here, before anything is written.
fn split(messages: Vec<Message>, processed_at: DateTime<Utc>) -> Result<Batch, IngestError> {
    let mut batch = Batch::default();

    for (position, message) in messages.into_iter().enumerate() {
        match message.records {
            Ok(records) => {
                for (index, record) in records.into_iter().enumerate() {
                    batch.add(position, message.id.as_deref(), index, record, processed_at)?;
                }
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

impl Batch {
    /// Adds the entry of record `index` of the message at `position`.
    fn add(
        &mut self,
        position: usize,
        message_id: Option<&str>,
        index: usize,
        record: Result<MeteringRecord, String>,
        processed_at: DateTime<Utc>,
    ) -> Result<(), IngestError> {
        let reason = match record {
            Ok(record) => {
                self.entries.push(LedgerEntry::from_record(&record));
                self.owners.push((position, EntryKind::of(&record)));
                self.records += 1;
                return Ok(());
            }
            Err(reason) => reason,
        };

        // The message id keys the rejected input, so without one it cannot be recorded once.
        let Some(message_id) = message_id else {
            return Err(IngestError::MissingMessageId {
                index: position,
                reason: Box::new(IngestError::InvalidRecord { index, reason }),
            });
        };

        tracing::warn!(
            message_id = %message_id,
            record_index = index,
            reason = %reason,
            "invalid metering record, recorded as rejected input"
        );
        self.entries.push(LedgerEntry::invalid_record(message_id, index, processed_at));
        self.owners.push((position, EntryKind::InvalidRecord));
        self.invalid_records += 1;
        Ok(())
    }
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
