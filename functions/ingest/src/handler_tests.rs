//! Unit tests of the batch handler over an in-memory ledger.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use aforo::envelope::{self, DEFAULT_MAX_MESSAGE_BYTES};
use aforo::event::{
    MeteringEvent, RejectReason, RejectedLine, METRIC_LATENCY_MS, METRIC_REQUESTS,
    METRIC_RESPONSE_BYTES,
};
use aforo::keys;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use super::*;

/// Accepts each key once and reports it as a duplicate after that. Fails the keys in `failing`.
#[derive(Default)]
struct MemoryLedger {
    failing: HashSet<String>,
    seen: Mutex<HashSet<String>>,
}

impl LedgerStore for MemoryLedger {
    async fn commit(&self, entries: &[LedgerEntry]) -> Vec<CommitOutcome> {
        let mut seen = self.seen.lock().unwrap();
        entries
            .iter()
            .map(|entry| {
                if self.failing.contains(&entry.idempotency_key) {
                    CommitOutcome::Failed("injected".to_owned())
                } else if seen.insert(entry.idempotency_key.clone()) {
                    CommitOutcome::Accepted
                } else {
                    CommitOutcome::Duplicate
                }
            })
            .collect()
    }
}

fn usage(correlation_id: &str, route: &str, at: DateTime<Utc>, bytes: u64, latency: u64) -> MeteringRecord {
    let source = "aws-rest-petstore";
    MeteringRecord::Usage(MeteringEvent {
        idempotency_key: keys::idempotency_key(source, correlation_id),
        source: source.to_owned(),
        correlation_id: correlation_id.to_owned(),
        tenant_id: "acme".to_owned(),
        product_id: "pets".to_owned(),
        route: route.to_owned(),
        method: "GET".to_owned(),
        status: 200,
        timestamp: at,
        metrics: BTreeMap::from([
            (METRIC_REQUESTS.to_owned(), 1),
            (METRIC_RESPONSE_BYTES.to_owned(), bytes),
            (METRIC_LATENCY_MS.to_owned(), latency),
        ]),
    })
}

fn rejected(event_id: &str) -> MeteringRecord {
    MeteringRecord::Rejected(RejectedLine {
        idempotency_key: keys::idempotency_key("loggroup:test", event_id),
        source: "loggroup:test".to_owned(),
        reason: RejectReason::NotJson,
        detail: "line is not JSON".to_owned(),
        log_group: "test".to_owned(),
        log_stream: "stream".to_owned(),
        log_event_id: event_id.to_owned(),
        timestamp: at(0),
    })
}

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 26, second).unwrap()
}

fn body(records: &[MeteringRecord]) -> String {
    envelope::pack(records, DEFAULT_MAX_MESSAGE_BYTES).unwrap().remove(0)
}

/// Builds a message body from raw record JSON, which may not match the schema.
fn raw_body(records: &[Value]) -> String {
    json!({"schema": envelope::SCHEMA, "records": records}).to_string()
}

fn raw(record: &MeteringRecord) -> Value {
    serde_json::to_value(record).unwrap()
}

fn event(messages: &[(&str, &str)]) -> Value {
    let records: Vec<_> = messages
        .iter()
        .map(|(id, body)| json!({"messageId": id, "body": body, "eventSource": "aws:sqs"}))
        .collect();
    json!({ "Records": records })
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.as_str())
        .collect()
}

/// Builds the records in `events/sqs-batch.json`: two requests of tenant acme to product pets.
fn sample_records() -> Vec<MeteringRecord> {
    let first = Utc.with_ymd_and_hms(2026, 3, 14, 9, 26, 53).unwrap() + chrono::Duration::milliseconds(418);
    let second = Utc.with_ymd_and_hms(2026, 3, 14, 9, 26, 54).unwrap() + chrono::Duration::milliseconds(102);
    vec![
        usage("Q3mZ8HkPoAMFWqA=", "/pets", first, 1432, 87),
        usage("Q3mZ9GdXIAMEn7w=", "/pets/{petId}", second, 312, 41),
    ]
}

#[tokio::test]
async fn handle_counts_records_by_kind() {
    let ingest = Ingest::new(MemoryLedger::default());
    let body = body(&[usage("a", "/pets", at(1), 10, 5), rejected("1"), rejected("2")]);

    let (response, summary) = ingest.handle(event(&[("m-1", &body)])).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.messages, 1);
    assert_eq!(summary.records, 3);
    assert_eq!(summary.accepted, 3);
    assert_eq!(summary.usage, 1);
    assert_eq!(summary.rejected, 2);
    assert_eq!(summary.unattributed, 0);
}

#[tokio::test]
async fn handle_counts_repeats_as_duplicates() {
    let ingest = Ingest::new(MemoryLedger::default());
    let body = body(&[usage("a", "/pets", at(1), 10, 5)]);

    let (_, summary) = ingest.handle(event(&[("m-1", &body), ("m-2", &body)])).await.unwrap();

    assert_eq!(summary.accepted, 1);
    assert_eq!(summary.duplicates, 1);
    assert_eq!(summary.usage, 1);
}

#[tokio::test]
async fn handle_reports_failed_commit() {
    let failing = usage("b", "/pets", at(2), 10, 5);
    let ledger = MemoryLedger {
        failing: HashSet::from([failing.idempotency_key().to_owned()]),
        ..MemoryLedger::default()
    };
    let ingest = Ingest::new(ledger);
    let good = body(&[usage("a", "/pets", at(1), 10, 5)]);
    let bad = body(&[usage("c", "/pets", at(3), 10, 5), failing]);

    let (response, summary) = ingest.handle(event(&[("m-1", &good), ("m-2", &bad)])).await.unwrap();

    assert_eq!(failed_ids(&response), ["m-2"]);
    assert_eq!(summary.failed_messages, 1);
    assert_eq!(summary.accepted, 2);
}

#[tokio::test]
async fn handle_reports_invalid_bodies() {
    let ingest = Ingest::new(MemoryLedger::default());
    let good = body(&[usage("a", "/pets", at(1), 10, 5)]);

    let (response, summary) = ingest
        .handle(event(&[("m-1", "Test message."), ("m-2", &good), ("m-3", r#"{"message": "foo1"}"#)]))
        .await
        .unwrap();

    assert_eq!(failed_ids(&response), ["m-1", "m-3"]);
    assert_eq!(summary.failed_messages, 2);
    assert_eq!(summary.accepted, 1);
}

#[tokio::test]
async fn handle_fails_batch_without_message_id() {
    let ingest = Ingest::new(MemoryLedger::default());
    let event = json!({"Records": [{"body": "Test message."}]});

    let error = ingest.handle(event).await.unwrap_err();

    assert!(matches!(error, IngestError::MissingMessageId { index: 0, .. }));
}

#[tokio::test]
async fn handle_accepts_valid_record_without_message_id() {
    let ingest = Ingest::new(MemoryLedger::default());
    let event = json!({"Records": [{"body": body(&[rejected("1")])}]});

    let (response, summary) = ingest.handle(event).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.accepted, 1);
}

#[tokio::test]
async fn handle_rejects_non_sqs_event() {
    let ingest = Ingest::new(MemoryLedger::default());
    let error = ingest.handle(json!({"awslogs": {"data": ""}})).await.unwrap_err();
    assert!(matches!(error, IngestError::InvalidEvent(_)));
}

#[tokio::test]
async fn handle_commits_records_beside_invalid_one() {
    let ledger = MemoryLedger::default();
    let ingest = Ingest::new(ledger);
    let mut long_tenant = raw(&usage("b", "/pets", at(2), 10, 5));
    long_tenant["tenant_id"] = json!("t".repeat(3_000));
    let body = raw_body(&[raw(&usage("a", "/pets", at(1), 10, 5)), long_tenant, raw(&rejected("1"))]);

    let (response, summary) = ingest.handle(event(&[("m-1", &body)])).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.records, 2);
    assert_eq!(summary.invalid_records, 1);
    assert_eq!(summary.accepted, 2);
    assert_eq!(summary.usage, 1);
    assert_eq!(summary.rejected, 1);
    let seen = ingest.ledger.seen.lock().unwrap();
    assert!(seen.contains(&keys::idempotency_key("sqs", "m-1#1")));
    assert_eq!(seen.len(), 3);
}

#[tokio::test]
async fn handle_records_unreadable_record() {
    let ingest = Ingest::new(MemoryLedger::default());
    let mut bad_status = raw(&usage("b", "/pets", at(2), 10, 5));
    bad_status["status"] = json!("abc");
    let body = raw_body(&[bad_status, raw(&usage("a", "/pets", at(1), 10, 5))]);

    let (response, summary) = ingest.handle(event(&[("m-1", &body)])).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.invalid_records, 1);
    assert_eq!(summary.usage, 1);
    assert!(ingest.ledger.seen.lock().unwrap().contains(&keys::idempotency_key("sqs", "m-1#0")));
}

#[tokio::test]
async fn handle_counts_redelivered_invalid_record_once() {
    let ingest = Ingest::new(MemoryLedger::default());
    let body = raw_body(&[json!({"type": "usage"}), raw(&usage("a", "/pets", at(1), 10, 5))]);
    let event = event(&[("m-1", &body)]);

    ingest.handle(event.clone()).await.unwrap();
    let (response, summary) = ingest.handle(event).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.invalid_records, 1);
    assert_eq!(summary.accepted, 0);
    assert_eq!(summary.duplicates, 1);
    assert_eq!(ingest.ledger.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn invalid_entry_failure_fails_message() {
    let ledger = MemoryLedger {
        failing: HashSet::from([keys::idempotency_key("sqs", "m-2#0")]),
        ..MemoryLedger::default()
    };
    let ingest = Ingest::new(ledger);
    let good = body(&[usage("a", "/pets", at(1), 10, 5)]);
    let bad = raw_body(&[json!({"type": "usage"})]);

    let (response, summary) = ingest.handle(event(&[("m-1", &good), ("m-2", &bad)])).await.unwrap();

    assert_eq!(failed_ids(&response), ["m-2"]);
    assert_eq!(summary.accepted, 1);
}

#[tokio::test]
async fn handle_fails_invalid_record_without_id() {
    let ingest = Ingest::new(MemoryLedger::default());
    let event = json!({"Records": [{"body": raw_body(&[json!({"type": "usage"})])}]});

    let error = ingest.handle(event).await.unwrap_err();

    let IngestError::MissingMessageId { index, reason } = error else {
        panic!("expected MissingMessageId, got {error:?}");
    };
    assert_eq!(index, 0);
    assert!(matches!(*reason, IngestError::InvalidRecord { index: 0, .. }));
    assert!(ingest.ledger.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn handle_fails_non_envelope_body() {
    let ingest = Ingest::new(MemoryLedger::default());

    let (response, summary) = ingest.handle(event(&[("m-1", r#"{"records": [{}]}"#)])).await.unwrap();

    assert_eq!(failed_ids(&response), ["m-1"]);
    assert_eq!(summary.invalid_records, 0);
}

/// Keeps `events/sqs-batch.json` equal to what `envelope::pack` makes of
/// [`sample_records`]; `PRINT_SAMPLE_BODY=1` prints the body to paste after a change.
#[test]
fn sample_event_matches_packed_records() {
    let sample: Value = serde_json::from_str(include_str!("../events/sqs-batch.json")).unwrap();
    let expected = body(&sample_records());
    if std::env::var_os("PRINT_SAMPLE_BODY").is_some() {
        println!("{expected}");
    }

    let records = sample["Records"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["body"].as_str(), Some(expected.as_str()));
}
