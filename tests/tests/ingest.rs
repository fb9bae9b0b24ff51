//! Ingest and the DynamoDB ledger against the emulator: exact totals under
//! duplicates, redeliveries, injected failures, conflicts and concurrency.
//!
//! Faults are injected with an SDK interceptor on a real client, so every
//! write goes through the real SDK to the emulator.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use aforo::envelope::{self, DEFAULT_MAX_MESSAGE_BYTES};
use aforo::event::{MeteringEvent, MeteringRecord, METRIC_LATENCY_MS, METRIC_REQUESTS, METRIC_RESPONSE_BYTES};
use aforo::keys;
use aforo::ledger::{
    CommitOutcome, DynamoLedger, LedgerEntry, LedgerStore, INVALID_RECORD_SOURCE, INVALID_RECORD_SUBJECT,
};
use aforo::period::Granularity;
use aforo::usage::DynamoUsage;
use aforo_tests::Stack;
use aws_lambda_events::sqs::SqsBatchResponse;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use chrono::{DateTime, TimeZone, Utc};
use ingest::{Config, Ingest};
use serde_json::{json, Value};

const SOURCE: &str = "aws-rest-petstore";
const TRANSACT_WRITE_ITEMS: &str = "DynamoDB_20120810.TransactWriteItems";

// ---------------------------------------------------------------------------
// Records, batches and totals

fn usage(correlation_id: &str, tenant: &str, product: &str, at: DateTime<Utc>, bytes: u64, latency: u64) -> MeteringRecord {
    MeteringRecord::Usage(MeteringEvent {
        idempotency_key: keys::idempotency_key(SOURCE, correlation_id),
        source: SOURCE.to_owned(),
        correlation_id: correlation_id.to_owned(),
        tenant_id: tenant.to_owned(),
        product_id: product.to_owned(),
        route: format!("/{product}"),
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

/// `count` requests of `tenant` to `pets`, one minute apart from `start`, with
/// correlation ids `<prefix>-<n>`.
fn requests(prefix: &str, tenant: &str, start: DateTime<Utc>, count: usize) -> Vec<MeteringRecord> {
    (0..count)
        .map(|n| {
            let at = start + chrono::Duration::minutes(n as i64);
            usage(&format!("{prefix}-{n}"), tenant, "pets", at, 100 + n as u64, (n % 4) as u64 * 10)
        })
        .collect()
}

fn march(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

fn body(records: &[MeteringRecord]) -> String {
    let bodies = envelope::pack(records, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    assert_eq!(bodies.len(), 1, "test records must fit into one message");
    bodies.into_iter().next().unwrap()
}

fn sqs_record(id: &str, body: &str) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("handle-{id}"),
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:test-MeteringQueue",
        "awsRegion": "us-east-1"
    })
}

/// Builds an SQS event with one message per group of records, ids `<prefix>-<n>`.
fn batch(prefix: &str, messages: &[&[MeteringRecord]]) -> Value {
    let records: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(n, records)| sqs_record(&format!("{prefix}-{n}"), &body(records)))
        .collect();
    json!({ "Records": records })
}

/// Builds an SQS event with `per_message` records per message.
fn batch_in_chunks(prefix: &str, records: &[MeteringRecord], per_message: usize) -> Value {
    let messages: Vec<&[MeteringRecord]> = records.chunks(per_message).collect();
    batch(prefix, &messages)
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.clone())
        .collect()
}

/// Aggregate key without the partition: `<granularity>#<period>#<subject>#<metric>`.
type Totals = BTreeMap<String, u64>;

/// Sums the records of `tenant` by hand, the way the usage table should.
fn expected_totals(records: &[MeteringRecord], tenant: &str) -> Totals {
    let mut totals = Totals::new();
    for record in records {
        let MeteringRecord::Usage(event) = record else {
            continue;
        };
        if event.tenant_id != tenant {
            continue;
        }
        for granularity in Granularity::ALL {
            for (metric, value) in event.metrics.iter().filter(|(_, value)| **value > 0) {
                let key = format!(
                    "{}#{}#{}#{metric}",
                    granularity.as_str(),
                    granularity.period_start(event.timestamp),
                    event.product_id
                );
                *totals.entry(key).or_default() += value;
            }
        }
    }
    totals
}

async fn totals(stack: &Stack, tenant: &str) -> Totals {
    let usage = DynamoUsage::new(stack.dynamodb.clone(), stack.deployment.usage_table());
    usage
        .rows(&keys::usage_pk(tenant))
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            let key = format!("{}#{}#{}#{}", row.granularity.as_str(), row.period_start, row.subject, row.metric);
            (key, row.value)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Handlers

fn config(stack: &Stack, write_max_attempts: u32) -> Config {
    Config {
        dedupe_table: stack.deployment.dedupe_table().to_owned(),
        usage_table: stack.deployment.usage_table().to_owned(),
        dedupe_window: Duration::from_secs(35 * 86_400),
        write_max_attempts,
    }
}

fn handler(stack: &Stack) -> Ingest<DynamoLedger> {
    ingest::from_sdk(&stack.sdk, &config(stack, 8))
}

fn ledger_on(stack: &Stack, client: aws_sdk_dynamodb::Client, max_attempts: u32) -> DynamoLedger {
    let config = config(stack, max_attempts);
    DynamoLedger::new(client, config.dedupe_table, config.usage_table, config.dedupe_window, max_attempts)
}

fn client_with(stack: &Stack, fault: &Fault) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(&stack.sdk)
        .interceptor(fault.clone())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

fn handler_with(stack: &Stack, fault: &Fault, max_attempts: u32) -> Ingest<DynamoLedger> {
    Ingest::new(ledger_on(stack, client_with(stack, fault), max_attempts))
}

// ---------------------------------------------------------------------------
// Fault injection

/// What the interceptor does to the `TransactWriteItems` calls it faults.
#[derive(Debug, Clone, Copy)]
enum FaultKind {
    /// Nothing; the interceptor only counts calls and actions.
    None,
    /// Sends the call, then replaces its response with a 500: committed on the
    /// server but failed for the client.
    ServerErrorAfterSend,
    /// Fails the call before it is sent, so nothing is written.
    FailBeforeSend,
    /// Sends a harmless `ListTables` instead and returns a
    /// `TransactionCanceledException` whose first reason is `TransactionConflict`.
    Conflict,
    /// Like `Conflict`, but the exception carries no cancellation reasons.
    CancelledWithoutReasons,
}

/// An interceptor that faults the first `faulty_calls` `TransactWriteItems`
/// calls and records the action count of every call.
#[derive(Debug, Clone)]
struct Fault {
    kind: FaultKind,
    faulty_calls: usize,
    actions_per_call: Arc<Mutex<Vec<usize>>>,
}

impl Fault {
    fn new(kind: FaultKind, faulty_calls: usize) -> Self {
        Self {
            kind,
            faulty_calls,
            actions_per_call: Arc::default(),
        }
    }

    fn calls(&self) -> usize {
        self.actions_per_call.lock().unwrap().len()
    }

    fn actions_per_call(&self) -> Vec<usize> {
        self.actions_per_call.lock().unwrap().clone()
    }
}

/// The response that replaces the real one of the current call.
#[derive(Debug, Clone)]
struct InjectedResponse {
    status: u16,
    body: String,
}

impl Storable for InjectedResponse {
    type Storer = StoreReplace<Self>;
}

fn cancelled_body(actions: usize, with_reasons: bool) -> String {
    let mut body = json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]",
    });
    if with_reasons {
        let reasons: Vec<_> = (0..actions)
            .map(|n| match n {
                0 => json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}),
                _ => json!({"Code": "None"}),
            })
            .collect();
        body["CancellationReasons"] = json!(reasons);
    }
    body.to_string()
}

impl Intercept for Fault {
    fn name(&self) -> &'static str {
        "Fault"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        if request.headers().get("x-amz-target") != Some(TRANSACT_WRITE_ITEMS) {
            return Ok(());
        }

        let body: Value = serde_json::from_slice(request.body().bytes().unwrap_or_default())?;
        let actions = body["TransactItems"].as_array().map_or(0, Vec::len);
        let call = {
            let mut calls = self.actions_per_call.lock().unwrap();
            calls.push(actions);
            calls.len() - 1
        };
        if call >= self.faulty_calls {
            return Ok(());
        }

        let cancelled = match self.kind {
            FaultKind::None => return Ok(()),
            FaultKind::FailBeforeSend => return Err("injected failure before send".into()),
            FaultKind::ServerErrorAfterSend => {
                let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected"}"#;
                cfg.interceptor_state().store_put(InjectedResponse {
                    status: 500,
                    body: body.to_owned(),
                });
                return Ok(());
            }
            FaultKind::Conflict => cancelled_body(actions, true),
            FaultKind::CancelledWithoutReasons => cancelled_body(actions, false),
        };

        // Send a read instead, so the emulator writes nothing for this call.
        request.headers_mut().insert("x-amz-target", "DynamoDB_20120810.ListTables");
        request.headers_mut().insert("content-length", "2");
        *request.body_mut() = SdkBody::from("{}");
        cfg.interceptor_state().store_put(InjectedResponse {
            status: 400,
            body: cancelled,
        });
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(injected) = cfg.load::<InjectedResponse>().cloned() else {
            return Ok(());
        };

        let mut response = Response::new(StatusCode::try_from(injected.status)?, SdkBody::from(injected.body));
        response.headers_mut().insert("content-type", "application/x-amz-json-1.0");
        *context.response_mut() = response;
        Ok(())
    }
}

/// Writes a dedupe record as ingest would, expiring at `expires_at` (epoch seconds).
async fn put_dedupe_record(stack: &Stack, record: &MeteringRecord, expires_at: i64) {
    stack
        .dynamodb
        .put_item()
        .table_name(stack.deployment.dedupe_table())
        .item("pk", AttributeValue::S(record.idempotency_key().to_owned()))
        .item("kind", AttributeValue::S("usage".to_owned()))
        .item("source", AttributeValue::S(SOURCE.to_owned()))
        .item("expires_at", AttributeValue::N(expires_at.to_string()))
        .send()
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------
// Totals and duplicates

#[tokio::test]
async fn ingest_totals_equal_event_sums() {
    let stack = Stack::new().await;
    // Crosses an hour, a day and a month boundary, for two tenants.
    let start = Utc.with_ymd_and_hms(2026, 3, 31, 23, 40, 0).unwrap();
    let mut records = requests("acme", "acme", start, 30);
    records.extend(requests("globex", "globex", start, 12));

    let (response, summary) = handler(&stack).handle(batch_in_chunks("m", &records, 7)).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.messages, 6);
    assert_eq!(summary.records, 42);
    assert_eq!(summary.accepted, 42);
    assert_eq!(summary.usage, 42);
    assert_eq!(summary.duplicates, 0);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
    assert_eq!(totals(&stack, "globex").await, expected_totals(&records, "globex"));
}

#[tokio::test]
async fn ingest_counts_repeats_in_batch_once() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(2, 10), 2);
    let (a, b) = (records[0].clone(), records[1].clone());

    let event = batch("m", &[&[a.clone(), a, b.clone()], &[b]]);
    let (response, summary) = handler(&stack).handle(event).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.records, 4);
    assert_eq!(summary.accepted, 2);
    assert_eq!(summary.duplicates, 2);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
}

#[tokio::test]
async fn ingest_counts_repeats_across_batches_once() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(2, 10), 3);
    let ingest = handler(&stack);

    let (_, first) = ingest.handle(batch("first", &[&records[0..2]])).await.unwrap();
    let (response, second) = ingest.handle(batch("second", &[&records[1..3]])).await.unwrap();

    assert_eq!(first.accepted, 2);
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(second.accepted, 1);
    assert_eq!(second.duplicates, 1);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
}

#[tokio::test]
async fn redelivered_batch_leaves_totals_unchanged() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(3, 8), 12);
    let event = batch_in_chunks("m", &records, 5);
    let ingest = handler(&stack);

    ingest.handle(event.clone()).await.unwrap();
    let after_first = totals(&stack, "acme").await;
    let (response, summary) = ingest.handle(event).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.accepted, 0);
    assert_eq!(summary.duplicates, 12);
    assert_eq!(after_first, expected_totals(&records, "acme"));
    assert_eq!(totals(&stack, "acme").await, after_first);
}

#[tokio::test]
async fn expired_dedupe_record_counts_again() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(4, 12), 1);
    put_dedupe_record(&stack, &records[0], Utc::now().timestamp() - 60).await;

    let (_, summary) = handler(&stack).handle(batch("m", &[&records])).await.unwrap();

    assert_eq!(summary.accepted, 1);
    assert_eq!(summary.duplicates, 0);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
}

#[tokio::test]
async fn live_dedupe_record_is_duplicate() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(4, 12), 1);
    put_dedupe_record(&stack, &records[0], Utc::now().timestamp() + 3_600).await;

    let (response, summary) = handler(&stack).handle(batch("m", &[&records])).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.accepted, 0);
    assert_eq!(summary.duplicates, 1);
    assert!(totals(&stack, "acme").await.is_empty());
}

#[tokio::test]
async fn large_batch_is_chunked_and_counted() {
    let stack = Stack::new().await;
    // 250 records in one hour: 250 dedupe puts plus 9 shared aggregate updates.
    let records: Vec<_> = (0..250)
        .map(|n| usage(&format!("big-{n}"), "acme", "pets", march(5, 14) + chrono::Duration::seconds(n), 10, 1))
        .collect();
    let fault = Fault::new(FaultKind::None, 0);

    let (response, summary) = handler_with(&stack, &fault, 8)
        .handle(batch_in_chunks("m", &records, 50))
        .await
        .unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.accepted, 250);
    assert_eq!(fault.calls(), 3);
    assert!(fault.actions_per_call().iter().all(|actions| *actions <= 100));
    assert_eq!(fault.actions_per_call().iter().sum::<usize>(), 250 + 3 * 9);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
}

/// An interceptor that lets one `TransactWriteItems` call at a time reach the
/// emulator, across every client that shares it.
///
/// NOTE: moto 5.2.5 applies a transaction without a lock and, when it cancels
/// one, restores a copy of each table taken when that transaction started. A
/// concurrent transaction on the same table is then undone, which loses or
/// double-counts events (seen here without this gate). DynamoDB isolates
/// transactions serializably. The gate gives the emulator that isolation,
/// while the consumers still interleave their transactions in any order.
#[derive(Debug, Clone, Default)]
struct TransactionGate {
    busy: Arc<(Mutex<bool>, Condvar)>,
}

/// Marker of an attempt that has the gate.
#[derive(Debug, Clone)]
struct HoldsGate(bool);

impl Storable for HoldsGate {
    type Storer = StoreReplace<Self>;
}

impl Intercept for TransactionGate {
    fn name(&self) -> &'static str {
        "TransactionGate"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if context.request().headers().get("x-amz-target") != Some(TRANSACT_WRITE_ITEMS) {
            return Ok(());
        }

        // Hooks are synchronous, so the wait runs in block_in_place, which lets the
        // runtime move other tasks off this thread.
        let (busy, released) = &*self.busy;
        tokio::task::block_in_place(|| {
            let mut busy = busy.lock().unwrap();
            while *busy {
                busy = released.wait(busy).unwrap();
            }
            *busy = true;
        });
        cfg.interceptor_state().store_put(HoldsGate(true));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<HoldsGate>().is_some_and(|holds| holds.0) {
            cfg.interceptor_state().store_put(HoldsGate(false));
            let (busy, released) = &*self.busy;
            *busy.lock().unwrap() = false;
            released.notify_one();
        }
        Ok(())
    }
}

fn gated_client(stack: &Stack, gate: &TransactionGate) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(&stack.sdk)
        .interceptor(gate.clone())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

// Two worker threads at least, because the gate blocks one while it waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_handlers_count_exact_totals() {
    let stack = Stack::new().await;
    // One request every 45 minutes, so each batch needs several transactions.
    let records: Vec<_> = (0..60)
        .map(|n| {
            let at = march(6, 0) + chrono::Duration::minutes(45 * n);
            usage(&format!("c-{n}"), "acme", "pets", at, 100 + n as u64, 10)
        })
        .collect();
    let gate = TransactionGate::default();
    let first = Ingest::new(ledger_on(&stack, gated_client(&stack, &gate), 8));
    let second = Ingest::new(ledger_on(&stack, gated_client(&stack, &gate), 8));
    let first_batch = batch_in_chunks("a", &records[0..40], 5);
    // The second consumer reads its records backwards, so the two meet inside the overlap.
    let backwards: Vec<_> = records[20..60].iter().rev().cloned().collect();
    let second_batch = batch_in_chunks("b", &backwards, 5);

    let (first_result, second_result) = tokio::join!(
        tokio::spawn(async move { first.handle(first_batch).await }),
        tokio::spawn(async move { second.handle(second_batch).await }),
    );
    let (first_response, first_summary) = first_result.unwrap().unwrap();
    let (second_response, second_summary) = second_result.unwrap().unwrap();

    assert!(first_response.batch_item_failures.is_empty());
    assert!(second_response.batch_item_failures.is_empty());
    assert_eq!(first_summary.accepted + second_summary.accepted, 60);
    assert_eq!(first_summary.duplicates + second_summary.duplicates, 20);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
}

// ---------------------------------------------------------------------------
// Injected failures

#[tokio::test]
async fn lost_commit_response_is_retried_once() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(7, 10), 3);
    let fault = Fault::new(FaultKind::ServerErrorAfterSend, 1);

    let (response, summary) = handler_with(&stack, &fault, 8).handle(batch("m", &[&records])).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(fault.calls(), 2);
    // The retry finds its own dedupe records, so the records count as accepted.
    assert_eq!(summary.accepted, 3);
    assert_eq!(summary.duplicates, 0);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
}

#[tokio::test]
async fn lost_commit_response_fails_message_once() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(7, 11), 3);
    let event = batch("m", &[&records]);
    let fault = Fault::new(FaultKind::ServerErrorAfterSend, 1);
    let ingest = handler_with(&stack, &fault, 1);

    let (response, summary) = ingest.handle(event.clone()).await.unwrap();
    assert_eq!(failed_ids(&response), ["m-0"]);
    assert_eq!(summary.failed_messages, 1);
    assert_eq!(summary.accepted, 0);
    // The transaction committed on the server before its response was lost.
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));

    let (redelivery, summary) = ingest.handle(event).await.unwrap();
    assert!(redelivery.batch_item_failures.is_empty());
    assert_eq!(summary.duplicates, 3);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
}

#[tokio::test]
async fn failure_before_send_is_retried_once() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(8, 10), 2);
    let fault = Fault::new(FaultKind::FailBeforeSend, 1);

    let (response, summary) = handler_with(&stack, &fault, 8).handle(batch("m", &[&records])).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(fault.calls(), 2);
    assert_eq!(summary.accepted, 2);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
}

#[tokio::test]
async fn failure_before_send_writes_nothing() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(8, 11), 2);
    let event = batch("m", &[&records]);
    let fault = Fault::new(FaultKind::FailBeforeSend, 1);
    let ingest = handler_with(&stack, &fault, 1);

    let (response, _) = ingest.handle(event.clone()).await.unwrap();
    assert_eq!(failed_ids(&response), ["m-0"]);
    assert!(totals(&stack, "acme").await.is_empty());

    let (redelivery, summary) = ingest.handle(event).await.unwrap();
    assert!(redelivery.batch_item_failures.is_empty());
    assert_eq!(summary.accepted, 2);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
}

#[tokio::test]
async fn transaction_conflict_is_retried_not_duplicate() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(9, 10), 1);
    let fault = Fault::new(FaultKind::Conflict, 1);
    let ledger = ledger_on(&stack, client_with(&stack, &fault), 8);

    let outcomes = ledger.commit(&[LedgerEntry::from_record(&records[0])]).await;

    assert_eq!(outcomes, [CommitOutcome::Accepted]);
    assert_eq!(fault.calls(), 2);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
}

#[tokio::test]
async fn cancellation_without_reasons_is_retried() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(9, 11), 1);
    let fault = Fault::new(FaultKind::CancelledWithoutReasons, 1);
    let ledger = ledger_on(&stack, client_with(&stack, &fault), 8);

    let outcomes = ledger.commit(&[LedgerEntry::from_record(&records[0])]).await;

    assert_eq!(outcomes, [CommitOutcome::Accepted]);
    assert_eq!(fault.calls(), 2);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
}

#[tokio::test]
async fn conflict_on_every_attempt_fails_message() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(9, 12), 2);
    let fault = Fault::new(FaultKind::Conflict, usize::MAX);

    let (response, summary) = handler_with(&stack, &fault, 3).handle(batch("m", &[&records])).await.unwrap();

    assert_eq!(failed_ids(&response), ["m-0"]);
    assert_eq!(fault.calls(), 3);
    assert_eq!(summary.failed_messages, 1);
    assert_eq!(summary.accepted, 0);
    assert_eq!(summary.duplicates, 0);
    assert!(totals(&stack, "acme").await.is_empty());
}

// ---------------------------------------------------------------------------
// Invalid records and entries

/// Sums the `lines` of one granularity that ingest recorded as invalid records.
async fn invalid_record_lines(stack: &Stack, granularity: Granularity) -> u64 {
    let usage = DynamoUsage::new(stack.dynamodb.clone(), stack.deployment.usage_table());
    usage
        .rows(&keys::rejected_pk(INVALID_RECORD_SOURCE))
        .await
        .unwrap()
        .iter()
        .filter(|row| row.granularity == granularity && row.subject == INVALID_RECORD_SUBJECT)
        .map(|row| row.value)
        .sum()
}

fn raw_body(records: &[Value]) -> String {
    json!({"schema": envelope::SCHEMA, "records": records}).to_string()
}

#[tokio::test]
async fn ledger_fails_only_invalid_entries() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(12, 10), 2);
    let long_tenant = usage("long", &"t".repeat(3_000), "pets", march(12, 10), 10, 1);
    let mut empty_key = LedgerEntry::from_record(&usage("empty", "acme", "pets", march(12, 10), 10, 1));
    empty_key.idempotency_key.clear();
    let entries = [
        LedgerEntry::from_record(&records[0]),
        LedgerEntry::from_record(&long_tenant),
        empty_key,
        LedgerEntry::from_record(&records[1]),
    ];

    let outcomes = ledger_on(&stack, stack.dynamodb.clone(), 8).commit(&entries).await;

    assert_eq!(outcomes[0], CommitOutcome::Accepted);
    assert!(matches!(&outcomes[1], CommitOutcome::Failed(reason) if reason.contains("ValidationException")), "{:?}", outcomes[1]);
    assert!(matches!(&outcomes[2], CommitOutcome::Failed(reason) if reason.contains("ValidationException")), "{:?}", outcomes[2]);
    assert_eq!(outcomes[3], CommitOutcome::Accepted);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
}

#[tokio::test]
async fn ledger_retries_rejected_group_entry_by_entry() {
    let stack = Stack::new().await;
    // Two non-zero metrics (requests, response_bytes) in three periods: 6 updates.
    let records = requests("r", "acme", march(12, 11), 1);
    // Three non-zero metrics in three periods: 9 updates.
    let long_tenant = usage("long", &"t".repeat(3_000), "pets", march(12, 11), 10, 1);
    let entries = [LedgerEntry::from_record(&records[0]), LedgerEntry::from_record(&long_tenant)];
    let fault = Fault::new(FaultKind::None, 0);

    let outcomes = ledger_on(&stack, client_with(&stack, &fault), 8).commit(&entries).await;

    assert_eq!(outcomes[0], CommitOutcome::Accepted);
    assert!(matches!(outcomes[1], CommitOutcome::Failed(_)));
    // The whole group once, rejected without a write, then each entry on its own.
    assert_eq!(fault.actions_per_call(), [2 + 6 + 9, 1 + 6, 1 + 9]);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
}

#[tokio::test]
async fn ledger_error_names_cause_once() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(12, 12), 1);
    let ledger = DynamoLedger::new(stack.dynamodb.clone(), "no-such-dedupe", "no-such-usage", Duration::from_secs(60), 1);

    let outcomes = ledger.commit(&[LedgerEntry::from_record(&records[0])]).await;

    let CommitOutcome::Failed(reason) = &outcomes[0] else {
        panic!("expected a failure, got {:?}", outcomes[0]);
    };
    assert_eq!(reason.matches("ResourceNotFoundException").count(), 1, "{reason}");
}

#[tokio::test]
async fn ingest_records_invalid_beside_good_records() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(13, 10), 3);
    let mut long_tenant = serde_json::to_value(usage("long", "acme", "pets", march(13, 10), 10, 1)).unwrap();
    long_tenant["tenant_id"] = json!("t".repeat(3_000));
    let mut bad_status = serde_json::to_value(&records[2]).unwrap();
    bad_status["status"] = json!("abc");
    let first = raw_body(&[
        serde_json::to_value(&records[0]).unwrap(),
        long_tenant,
        serde_json::to_value(&records[1]).unwrap(),
    ]);
    let second = raw_body(&[bad_status, serde_json::to_value(&records[2]).unwrap()]);
    let event = json!({"Records": [sqs_record("m-0", &first), sqs_record("m-1", &second)]});
    let ingest = handler(&stack);

    let (response, summary) = ingest.handle(event.clone()).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.records, 3);
    assert_eq!(summary.accepted, 3);
    assert_eq!(summary.invalid_records, 2);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
    assert_eq!(invalid_record_lines(&stack, Granularity::Month).await, 2);
    assert_eq!(invalid_record_lines(&stack, Granularity::Hour).await, 2);

    let (redelivery, summary) = ingest.handle(event).await.unwrap();
    assert!(redelivery.batch_item_failures.is_empty());
    assert_eq!(summary.duplicates, 3);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
    assert_eq!(invalid_record_lines(&stack, Granularity::Month).await, 2);
}

#[tokio::test]
async fn ingest_records_record_with_empty_key() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(13, 11), 1);
    let mut empty_key = serde_json::to_value(&records[0]).unwrap();
    empty_key["idempotency_key"] = json!("");
    let body = raw_body(&[empty_key, serde_json::to_value(&records[0]).unwrap()]);

    let (response, summary) = handler(&stack).handle(json!({"Records": [sqs_record("m-0", &body)]})).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.accepted, 1);
    assert_eq!(summary.invalid_records, 1);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
}

// ---------------------------------------------------------------------------
// Malformed and poison messages

#[tokio::test]
async fn badbase64_fixture_fails_both_messages() {
    let stack = Stack::new().await;
    let records = requests("r", "acme", march(10, 10), 1);
    let mut event: Value = serde_json::from_str(&aforo_tests::fixture("public/sqs_event_powertools_BADBASE64.json")).unwrap();
    event["Records"].as_array_mut().unwrap().push(sqs_record("valid-1", &body(&records)));

    let (response, summary) = handler(&stack).handle(event).await.unwrap();

    assert_eq!(
        failed_ids(&response),
        ["059f36b4-87a3-44ab-83d2-661975830a7d", "2e1424d4-f796-459a-8184-9c92662be6da"]
    );
    assert_eq!(summary.messages, 3);
    assert_eq!(summary.failed_messages, 2);
    assert_eq!(summary.accepted, 1);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
}

#[tokio::test]
async fn sample_event_counts_two_usage_records() {
    let stack = Stack::new().await;
    let path = aforo_tests::workspace_root().join("functions/ingest/events/sqs-batch.json");
    let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();

    let (response, summary) = handler(&stack).handle(event).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.usage, 2);
    assert_eq!(totals(&stack, "acme").await["month#2026-03#pets#requests"], 2);
}

/// Turns messages received from SQS into the event Lambda would deliver.
fn event_from(messages: &[aws_sdk_sqs::types::Message]) -> Value {
    let records: Vec<_> = messages
        .iter()
        .map(|message| {
            json!({
                "messageId": message.message_id(),
                "receiptHandle": message.receipt_handle(),
                "body": message.body(),
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test]
async fn poison_message_moves_to_dead_letter_queue() {
    let stack = Stack::new().await;
    let queue = stack.deployment.metering_queue_url();
    let records = requests("r", "acme", march(11, 10), 2);
    stack
        .sqs
        .set_queue_attributes()
        .queue_url(queue)
        .attributes(QueueAttributeName::VisibilityTimeout, "0")
        .send()
        .await
        .unwrap();
    for message_body in ["not a metering envelope".to_owned(), body(&records)] {
        stack.sqs.send_message().queue_url(queue).message_body(message_body).send().await.unwrap();
    }
    let ingest = handler(&stack);

    let mut dead_letters = Vec::new();
    let mut accepted = 0;
    // maxReceiveCount is 5, so the poison message moves on its sixth receive.
    for _ in 0..20 {
        let received = stack
            .sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if !received.is_empty() {
            let (response, summary) = ingest.handle(event_from(&received)).await.unwrap();
            accepted += summary.accepted;
            let failed = failed_ids(&response);
            for message in received.iter().filter(|message| !failed.iter().any(|id| Some(id.as_str()) == message.message_id())) {
                let handle = message.receipt_handle().unwrap();
                stack.sqs.delete_message().queue_url(queue).receipt_handle(handle).send().await.unwrap();
            }
        }

        dead_letters = stack
            .sqs
            .receive_message()
            .queue_url(stack.deployment.dead_letter_queue_url())
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if !dead_letters.is_empty() {
            break;
        }
    }

    assert_eq!(dead_letters.len(), 1);
    assert_eq!(dead_letters[0].body(), Some("not a metering envelope"));
    assert_eq!(accepted, 2);
    assert_eq!(totals(&stack, "acme").await, expected_totals(&records, "acme"));
}
