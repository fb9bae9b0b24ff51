//! The ledger: what ingest writes for each record, exactly once.
//!
//! Each record becomes a [`LedgerEntry`]: a dedupe record keyed by the
//! record's idempotency key plus the aggregate increments it causes. A store
//! writes the dedupe record and the increments atomically, so an entry is
//! either fully counted or not at all. [`DynamoLedger`] is that store in
//! DynamoDB.

mod dynamo;

pub use dynamo::DynamoLedger;

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, Utc};

use crate::event::{MeteringRecord, METRIC_LINES};
use crate::keys;
use crate::period::Granularity;

/// Source under which ingest records the records it could not read or validate.
pub const INVALID_RECORD_SOURCE: &str = "ingest";

/// Subject (the reason part of the usage sort key) of records ingest could not read or validate.
pub const INVALID_RECORD_SUBJECT: &str = "invalid_record";

/// One `ADD` on an aggregate item of the usage table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Increment {
    /// Partition key of the aggregate item.
    pub pk: String,
    /// Sort key of the aggregate item.
    pub sk: String,
    /// Amount added to the item's `value`.
    pub delta: u64,
}

/// Everything one record writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Key of the dedupe record.
    pub idempotency_key: String,
    /// Record kind: `usage`, `unattributed` or `rejected`.
    pub kind: &'static str,
    /// Source of the record.
    pub source: String,
    /// Time of the event the record describes.
    pub event_time: DateTime<Utc>,
    /// Increments applied when the record is new.
    pub increments: Vec<Increment>,
}

impl LedgerEntry {
    /// Derives the entry for a record: one increment per metric with a
    /// non-zero value and per period (hour, day, month) of the event's UTC time.
    pub fn from_record(record: &MeteringRecord) -> Self {
        match record {
            MeteringRecord::Usage(event) => Self {
                idempotency_key: event.idempotency_key.clone(),
                kind: "usage",
                source: event.source.clone(),
                event_time: event.timestamp,
                increments: increments(
                    &keys::usage_pk(&event.tenant_id),
                    &event.product_id,
                    event.timestamp,
                    &event.metrics,
                ),
            },
            MeteringRecord::Unattributed(event) => Self {
                idempotency_key: event.idempotency_key.clone(),
                kind: "unattributed",
                source: event.source.clone(),
                event_time: event.timestamp,
                increments: increments(
                    &keys::unattributed_pk(&event.source),
                    event.reason.as_str(),
                    event.timestamp,
                    &event.metrics,
                ),
            },
            MeteringRecord::Rejected(line) => Self {
                idempotency_key: line.idempotency_key.clone(),
                kind: "rejected",
                source: line.source.clone(),
                event_time: line.timestamp,
                increments: increments(
                    &keys::rejected_pk(&line.source),
                    line.reason.as_str(),
                    line.timestamp,
                    &BTreeMap::from([(METRIC_LINES.to_owned(), 1)]),
                ),
            },
        }
    }

    /// Builds the entry of a record that ingest could not read or validate:
    /// one rejected line under [`INVALID_RECORD_SOURCE`], with subject
    /// [`INVALID_RECORD_SUBJECT`], in the periods of `processed_at`.
    ///
    /// The record has no trustworthy id or time of its own, so it is keyed by
    /// its SQS message id and its position in the message. A redelivery of the
    /// message therefore finds the same dedupe record and counts it once.
    pub fn invalid_record(message_id: &str, record_index: usize, processed_at: DateTime<Utc>) -> Self {
        let key_id = format!("{message_id}#{record_index}");
        Self {
            idempotency_key: keys::idempotency_key("sqs", &key_id),
            kind: "rejected",
            source: INVALID_RECORD_SOURCE.to_owned(),
            event_time: processed_at,
            increments: increments(
                &keys::rejected_pk(INVALID_RECORD_SOURCE),
                INVALID_RECORD_SUBJECT,
                processed_at,
                &BTreeMap::from([(METRIC_LINES.to_owned(), 1)]),
            ),
        }
    }
}

fn increments(
    pk: &str,
    subject: &str,
    at: DateTime<Utc>,
    metrics: &BTreeMap<String, u64>,
) -> Vec<Increment> {
    let mut increments = Vec::new();
    for granularity in Granularity::ALL {
        let period_start = granularity.period_start(at);
        for (metric, value) in metrics.iter().filter(|(_, value)| **value > 0) {
            increments.push(Increment {
                pk: pk.to_owned(),
                sk: keys::usage_sk(granularity.as_str(), &period_start, subject, metric),
                delta: *value,
            });
        }
    }
    increments
}

/// Outcome of committing one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Written now: counted exactly once.
    Accepted,
    /// A live dedupe record already existed: counted before, skipped now.
    Duplicate,
    /// Not written after all retries; the caller must report the message as failed.
    Failed(String),
}

/// Atomic dedupe-and-aggregate writes.
pub trait LedgerStore: Send + Sync {
    /// Commits entries and returns one outcome per entry, in input order.
    fn commit(&self, entries: &[LedgerEntry]) -> impl Future<Output = Vec<CommitOutcome>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{MeteringEvent, METRIC_REQUESTS, METRIC_RESPONSE_BYTES};
    use chrono::TimeZone;

    fn usage_record(bytes: u64) -> MeteringRecord {
        MeteringRecord::Usage(MeteringEvent {
            idempotency_key: "k".to_owned(),
            source: "aws-rest-demo".to_owned(),
            correlation_id: "c".to_owned(),
            tenant_id: "acme".to_owned(),
            product_id: "pets".to_owned(),
            route: "/pets".to_owned(),
            method: "GET".to_owned(),
            status: 200,
            timestamp: Utc.with_ymd_and_hms(2026, 12, 4, 19, 30, 0).unwrap(),
            metrics: BTreeMap::from([
                (METRIC_REQUESTS.to_owned(), 1),
                (METRIC_RESPONSE_BYTES.to_owned(), bytes),
            ]),
        })
    }

    #[test]
    fn usage_entry_covers_every_period_and_metric() {
        let entry = LedgerEntry::from_record(&usage_record(100));
        let sort_keys: Vec<_> = entry.increments.iter().map(|i| i.sk.as_str()).collect();
        assert_eq!(
            sort_keys,
            [
                "USAGE#hour#2026-12-04T19#pets#requests",
                "USAGE#hour#2026-12-04T19#pets#response_bytes",
                "USAGE#day#2026-12-04#pets#requests",
                "USAGE#day#2026-12-04#pets#response_bytes",
                "USAGE#month#2026-12#pets#requests",
                "USAGE#month#2026-12#pets#response_bytes",
            ]
        );
        assert!(entry.increments.iter().all(|i| i.pk == "TENANT#acme"));
    }

    #[test]
    fn invalid_record_entry_counts_each_period() {
        let processed_at = Utc.with_ymd_and_hms(2026, 12, 4, 19, 30, 0).unwrap();

        let entry = LedgerEntry::invalid_record("m-1", 2, processed_at);

        assert_eq!(entry.idempotency_key, keys::idempotency_key("sqs", "m-1#2"));
        assert_eq!(entry.kind, "rejected");
        assert_eq!(entry.source, "ingest");
        let keys: Vec<_> = entry.increments.iter().map(|i| (i.pk.as_str(), i.sk.as_str(), i.delta)).collect();
        assert_eq!(
            keys,
            [
                ("REJECTED#ingest", "USAGE#hour#2026-12-04T19#invalid_record#lines", 1),
                ("REJECTED#ingest", "USAGE#day#2026-12-04#invalid_record#lines", 1),
                ("REJECTED#ingest", "USAGE#month#2026-12#invalid_record#lines", 1),
            ]
        );
    }

    #[test]
    fn invalid_record_entries_differ_by_index() {
        let processed_at = Utc.with_ymd_and_hms(2026, 12, 4, 19, 30, 0).unwrap();
        let first = LedgerEntry::invalid_record("m-1", 0, processed_at);
        let second = LedgerEntry::invalid_record("m-1", 1, processed_at);
        assert_ne!(first.idempotency_key, second.idempotency_key);
    }

    #[test]
    fn usage_entry_skips_zero_metrics() {
        let entry = LedgerEntry::from_record(&usage_record(0));
        assert_eq!(entry.increments.len(), 3);
    }
}
