//! The log decoder against the emulator: subscription deliveries in, metering
//! envelopes out on the test stack's queue, with SendMessageBatch failures
//! injected by an SDK interceptor.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aforo::catalog::{DynamoCatalog, FeatureFlags, GatewayKind, Integration, Product, Route, Status, Tenant};
use aforo::cwl::{self, LogEvent, LogsData};
use aforo::envelope;
use aforo::event::{
    MeteringEvent, MeteringRecord, RejectReason, RejectedLine, UnattributedReason, METRIC_LATENCY_MS,
    METRIC_REQUESTS, METRIC_RESPONSE_BYTES,
};
use aforo::keys::idempotency_key;
use aforo::route::RouteKey;
use aforo::sqs::{SendError, SqsSender};
use aforo_tests::Stack;
use aws_sdk_sqs::config::retry::RetryConfig;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchInput;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeSerializationInterceptorContextMut,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use chrono::{DateTime, TimeZone, Utc};
use log_decoder::{Config, DecodeSummary, Decoder, DecoderError};
use serde_json::{json, Value};

const LOG_GROUP: &str = "/aforo/test/api-access";
const REST_API: &str = "a1b2c3d4e5";
const HTTP_API: &str = "h7t7p6a5i4";
const UNMETERED_API: &str = "n0m3t3r1ng";

/// 2026-03-15T10:00:00Z in milliseconds.
const REQUEST_TIME_MS: i64 = 1_773_568_800_000;

// ---------------------------------------------------------------- catalog

fn integration(id: &str, kind: GatewayKind, api_id: &str, metering: bool) -> Integration {
    Integration {
        id: id.to_owned(),
        kind,
        api_id: Some(api_id.to_owned()),
        status: Status::Active,
        flags: FeatureFlags {
            metering,
            ..FeatureFlags::default()
        },
    }
}

fn route(integration_id: &str, method: &str, path: &str, product_id: &str) -> Route {
    Route {
        integration_id: integration_id.to_owned(),
        route: RouteKey::new(method, path),
        product_id: product_id.to_owned(),
    }
}

/// Seeds two metered integrations (REST with the pets routes, HTTP with the
/// orders routes), one unmetered integration, and tenants acme and globex.
async fn seed_catalog(stack: &Stack) -> DynamoCatalog {
    let catalog = DynamoCatalog::new(stack.dynamodb.clone(), stack.deployment.catalog_table());

    let integrations = [
        integration("aws-rest-petstore", GatewayKind::AwsRest, REST_API, true),
        integration("aws-http-orders", GatewayKind::AwsHttp, HTTP_API, true),
        integration("aws-rest-internal", GatewayKind::AwsRest, UNMETERED_API, false),
    ];
    for integration in &integrations {
        catalog.put_integration(integration).await.unwrap();
    }

    for (id, name) in [("pets", "Pets"), ("orders", "Orders")] {
        let product = Product {
            id: id.to_owned(),
            name: name.to_owned(),
        };
        catalog.put_product(&product).await.unwrap();
    }

    let routes = [
        route("aws-rest-petstore", "GET", "/pets", "pets"),
        route("aws-rest-petstore", "POST", "/pets", "pets"),
        route("aws-rest-petstore", "GET", "/pets/{petId}", "pets"),
        route("aws-http-orders", "GET", "/orders", "orders"),
        route("aws-http-orders", "GET", "/orders/{orderId}", "orders"),
        route("aws-rest-internal", "GET", "/pets", "pets"),
    ];
    for route in &routes {
        catalog.put_route(route).await.unwrap();
    }

    for id in ["acme", "globex"] {
        let tenant = Tenant {
            id: id.to_owned(),
            name: id.to_owned(),
            status: Status::Active,
        };
        catalog.put_tenant(&tenant).await.unwrap();
    }

    catalog
}

// ---------------------------------------------------------------- deliveries

/// Builds a REST access-log line in the template's format.
fn rest_line(n: usize, api_id: &str, method: &str, resource_path: &str, status: u16, tenant: &str) -> Value {
    json!({
        "requestId": format!("req-{n}"),
        "extendedRequestId": format!("ext-{n}"),
        "requestTimeEpoch": (REQUEST_TIME_MS + n as i64).to_string(),
        "httpMethod": method,
        "resourcePath": resource_path,
        "path": resource_path.replace("{petId}", "7"),
        "status": status.to_string(),
        "responseLength": "120",
        "responseLatency": "15",
        "tenantId": tenant,
        "apiId": api_id,
        "stage": "prod",
        "errorResponseType": "-"
    })
}

/// Builds an HTTP API access-log line: `routeKey` instead of `resourcePath`, no `extendedRequestId`.
fn http_line(n: usize, route_key: &str, tenant: &str) -> Value {
    json!({
        "requestId": format!("http-req-{n}"),
        "requestTimeEpoch": (REQUEST_TIME_MS + n as i64).to_string(),
        "httpMethod": "GET",
        "routeKey": route_key,
        "path": "/orders",
        "status": "200",
        "responseLength": "-",
        "responseLatency": "9",
        "tenantId": tenant,
        "apiId": HTTP_API,
        "stage": "$default",
        "errorResponseType": "-"
    })
}

fn event_id(n: usize) -> String {
    format!("{:056}", 38_172_249_568_174_324_u64 + n as u64)
}

/// Builds a subscription delivery of `messages`, one log event each.
fn delivery(messages: Vec<String>) -> Value {
    delivery_of_type("DATA_MESSAGE", messages)
}

/// Builds a subscription delivery with `messageType` set to `message_type`.
fn delivery_of_type(message_type: &str, messages: Vec<String>) -> Value {
    let data = LogsData {
        message_type: message_type.to_owned(),
        owner: "123456789012".to_owned(),
        log_group: LOG_GROUP.to_owned(),
        log_stream: "stream-1".to_owned(),
        subscription_filters: vec!["test-filter".to_owned()],
        log_events: messages
            .into_iter()
            .enumerate()
            .map(|(n, message)| LogEvent {
                id: event_id(n),
                timestamp: REQUEST_TIME_MS + 500,
                message,
            })
            .collect(),
    };
    json!({ "awslogs": { "data": cwl::encode(&data) } })
}

fn lines(values: Vec<Value>) -> Vec<String> {
    values.iter().map(Value::to_string).collect()
}

// ---------------------------------------------------------------- decoder and queue

fn config(stack: &Stack, max_message_bytes: usize) -> Config {
    Config {
        catalog_table: stack.deployment.catalog_table().to_owned(),
        queue_url: stack.deployment.metering_queue_url().to_owned(),
        cache_ttl: Duration::ZERO,
        billable_status_classes: vec![2, 3, 4],
        max_message_bytes,
        send_max_attempts: 3,
    }
}

/// Builds a decoder whose sender uses `sqs` (which may carry an interceptor) and short backoffs.
fn decoder(
    stack: &Stack,
    catalog: DynamoCatalog,
    sqs: aws_sdk_sqs::Client,
    max_message_bytes: usize,
) -> Decoder<DynamoCatalog> {
    let config = config(stack, max_message_bytes);
    let sender = SqsSender::new(sqs, &config.queue_url, config.send_max_attempts)
        .with_backoff(Duration::from_millis(1), Duration::from_millis(10));
    Decoder::new(catalog, sender, &config)
}

/// Builds an SQS client with `interceptor` and without the SDK's own
/// retries, so every retry seen is the sender's.
fn faulty_sqs(stack: &Stack, interceptor: FaultInjector) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::config::Builder::from(&stack.sdk)
        .interceptor(interceptor)
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// Receives and deletes every message on the stack's queue.
async fn drain_queue(stack: &Stack) -> Vec<String> {
    let queue_url = stack.deployment.metering_queue_url();
    let mut bodies = Vec::new();

    loop {
        let output = stack
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let messages = output.messages();
        if messages.is_empty() {
            return bodies;
        }

        for message in messages {
            bodies.push(message.body().unwrap().to_owned());
            stack
                .sqs
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

fn records_of(bodies: &[String]) -> Vec<MeteringRecord> {
    bodies
        .iter()
        .flat_map(|body| envelope::decode(body).unwrap().records)
        .collect()
}

fn unique_keys(records: &[MeteringRecord]) -> BTreeSet<String> {
    records
        .iter()
        .map(|record| record.idempotency_key().to_owned())
        .collect()
}

fn time(n: usize) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(REQUEST_TIME_MS + n as i64).unwrap()
}

// ---------------------------------------------------------------- fault injection

/// What the interceptor does to a faulty SendMessageBatch call.
#[derive(Debug, Clone)]
enum Fault {
    /// Removes the last `count` entries from the request, so SQS never
    /// receives them, and reports them in `Failed` with `code`.
    FailEntries {
        count: usize,
        sender_fault: bool,
        code: &'static str,
    },
    /// Removes every entry and returns 503, as an overloaded SQS would.
    ServiceUnavailable,
}

#[derive(Debug, Default)]
struct FaultState {
    calls: AtomicUsize,
    /// Ids sent and ids withheld by the call in progress (calls are sequential).
    current: Mutex<Option<(Vec<String>, Vec<String>)>>,
}

/// Tampers with the first `faulty_calls` SendMessageBatch calls.
#[derive(Debug, Clone)]
struct FaultInjector {
    fault: Fault,
    faulty_calls: usize,
    state: Arc<FaultState>,
}

impl FaultInjector {
    fn new(fault: Fault, faulty_calls: usize) -> Self {
        Self {
            fault,
            faulty_calls,
            state: Arc::default(),
        }
    }

    fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    fn batch_result(&self, sent_ids: &[String], withheld_ids: &[String]) -> Response {
        match &self.fault {
            Fault::FailEntries {
                sender_fault, code, ..
            } => {
                let successful: Vec<Value> = sent_ids
                    .iter()
                    .map(|id| json!({ "Id": id, "MessageId": format!("injected-{id}"), "MD5OfMessageBody": "0" }))
                    .collect();
                let failed: Vec<Value> = withheld_ids
                    .iter()
                    .map(|id| json!({ "Id": id, "SenderFault": sender_fault, "Code": code, "Message": "injected failure" }))
                    .collect();
                let body = json!({ "Successful": successful, "Failed": failed });
                json_response(200, &body)
            }
            Fault::ServiceUnavailable => {
                let body =
                    json!({ "__type": "com.amazonaws.sqs#ServiceUnavailable", "message": "injected 503" });
                json_response(503, &body)
            }
        }
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut response = Response::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(body.to_string()),
    );
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    response
}

impl Intercept for FaultInjector {
    fn name(&self) -> &'static str {
        "FaultInjector"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(input) = context.input_mut().downcast_mut::<SendMessageBatchInput>() else {
            return Ok(());
        };
        let call = self.state.calls.fetch_add(1, Ordering::SeqCst);
        if call >= self.faulty_calls {
            return Ok(());
        }

        let entries = input.entries.get_or_insert_with(Vec::new);
        let withhold = match self.fault {
            Fault::FailEntries { count, .. } => count.min(entries.len()),
            Fault::ServiceUnavailable => entries.len(),
        };
        let withheld = entries.split_off(entries.len() - withhold);
        let ids = |entries: &[aws_sdk_sqs::types::SendMessageBatchRequestEntry]| {
            entries
                .iter()
                .map(|entry| entry.id().to_owned())
                .collect::<Vec<_>>()
        };
        *self.state.current.lock().unwrap() = Some((ids(entries), ids(&withheld)));
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The real response is replaced whole because its body is still a
        // stream here. SQS did receive the entries that were not withheld.
        if let Some((sent_ids, withheld_ids)) = self.state.current.lock().unwrap().take() {
            *context.response_mut() = self.batch_result(&sent_ids, &withheld_ids);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn decoder_sends_exact_usage_records() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let decoder = decoder(&stack, catalog, stack.sqs.clone(), 262_144);

    let event = delivery(lines(vec![
        rest_line(1, REST_API, "GET", "/pets", 200, "acme"),
        rest_line(2, REST_API, "GET", "/pets/{petId}", 200, "acme"),
        rest_line(3, REST_API, "POST", "/pets", 201, "globex"),
        rest_line(4, REST_API, "GET", "/pets", 200, "-"),
    ]));
    let summary = decoder.handle(event).await.unwrap();

    let expected_summary = DecodeSummary {
        lines: 4,
        usage: 3,
        unattributed: 1,
        messages_sent: 1,
        ..DecodeSummary::default()
    };
    assert_eq!(summary, expected_summary);

    let bodies = drain_queue(&stack).await;
    assert_eq!(bodies.len(), 1);
    let records = records_of(&bodies);
    assert_eq!(records.len(), 4);

    let expected_first = MeteringRecord::Usage(MeteringEvent {
        idempotency_key: idempotency_key("aws-rest-petstore", "ext-1"),
        source: "aws-rest-petstore".to_owned(),
        correlation_id: "ext-1".to_owned(),
        tenant_id: "acme".to_owned(),
        product_id: "pets".to_owned(),
        route: "/pets".to_owned(),
        method: "GET".to_owned(),
        status: 200,
        timestamp: time(1),
        metrics: BTreeMap::from([
            (METRIC_REQUESTS.to_owned(), 1),
            (METRIC_RESPONSE_BYTES.to_owned(), 120),
            (METRIC_LATENCY_MS.to_owned(), 15),
        ]),
    });
    assert_eq!(records[0], expected_first);

    let MeteringRecord::Usage(second) = &records[1] else {
        panic!("expected usage, got {:?}", records[1]);
    };
    assert_eq!(second.route, "/pets/{petId}");
    assert_eq!(second.product_id, "pets");

    let MeteringRecord::Usage(third) = &records[2] else {
        panic!("expected usage, got {:?}", records[2]);
    };
    assert_eq!(third.tenant_id, "globex");
    assert_eq!(third.method, "POST");
    assert_eq!(third.status, 201);

    let MeteringRecord::Unattributed(fourth) = &records[3] else {
        panic!("expected unattributed, got {:?}", records[3]);
    };
    assert_eq!(fourth.reason, UnattributedReason::MissingTenant);
    assert_eq!(fourth.tenant_id, None);
    assert_eq!(fourth.source, "aws-rest-petstore");
    assert_eq!(
        fourth.idempotency_key,
        idempotency_key("aws-rest-petstore", "ext-4")
    );
}

#[tokio::test]
async fn decoder_attributes_http_api_line() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let decoder = decoder(&stack, catalog, stack.sqs.clone(), 262_144);

    let summary = decoder
        .handle(delivery(lines(vec![http_line(
            1,
            "GET /orders/{orderId}",
            "globex",
        )])))
        .await
        .unwrap();
    assert_eq!(summary.usage, 1);

    let records = records_of(&drain_queue(&stack).await);
    let MeteringRecord::Usage(event) = &records[0] else {
        panic!("expected usage, got {:?}", records[0]);
    };
    assert_eq!(event.source, "aws-http-orders");
    assert_eq!(event.correlation_id, "http-req-1");
    assert_eq!(
        event.idempotency_key,
        idempotency_key("aws-http-orders", "http-req-1")
    );
    assert_eq!(event.product_id, "orders");
    assert_eq!(event.route, "/orders/{orderId}");
    assert_eq!(event.metrics.get(METRIC_RESPONSE_BYTES), None);
    assert_eq!(event.metrics.get(METRIC_LATENCY_MS), Some(&9));
}

#[tokio::test]
async fn decoder_records_unattributed_reasons() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let decoder = decoder(&stack, catalog, stack.sqs.clone(), 262_144);

    let event = delivery(lines(vec![
        rest_line(1, REST_API, "GET", "/pets", 200, "umbrella"),
        rest_line(2, REST_API, "GET", "/stores", 200, "acme"),
        rest_line(3, "unknown0api", "GET", "/pets", 200, "acme"),
        rest_line(4, "-", "GET", "/pets", 200, "acme"),
    ]));
    let summary = decoder.handle(event).await.unwrap();
    assert_eq!(summary.unattributed, 4);

    let records = records_of(&drain_queue(&stack).await);
    let reasons: Vec<_> = records
        .iter()
        .map(|record| match record {
            MeteringRecord::Unattributed(event) => Some((event.reason, event.source.clone())),
            _ => None,
        })
        .collect();
    let loggroup = format!("loggroup:{LOG_GROUP}");
    assert_eq!(
        reasons[0],
        Some((UnattributedReason::UnknownTenant, "aws-rest-petstore".to_owned()))
    );
    assert_eq!(
        reasons[1],
        Some((UnattributedReason::UnknownRoute, "aws-rest-petstore".to_owned()))
    );
    assert_eq!(
        reasons[2],
        Some((UnattributedReason::UnknownIntegration, loggroup.clone()))
    );
    assert_eq!(
        reasons[3],
        Some((UnattributedReason::UnknownIntegration, loggroup.clone()))
    );
    assert_eq!(records[2].idempotency_key(), idempotency_key(&loggroup, "ext-3"));

    let MeteringRecord::Unattributed(unknown_tenant) = &records[0] else {
        panic!("expected unattributed, got {:?}", records[0]);
    };
    assert_eq!(unknown_tenant.tenant_id.as_deref(), Some("umbrella"));
    assert_eq!(unknown_tenant.route.as_deref(), Some("/pets"));
    assert_eq!(unknown_tenant.method.as_deref(), Some("GET"));
    assert_eq!(unknown_tenant.status, Some(200));
    assert_eq!(unknown_tenant.timestamp, time(1));
    assert_eq!(unknown_tenant.metrics.get(METRIC_REQUESTS), Some(&1));
}

#[tokio::test]
async fn decoder_skips_unbillable_and_unmetered() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let decoder = decoder(&stack, catalog, stack.sqs.clone(), 262_144);

    let mut denied = rest_line(2, REST_API, "GET", "/pets", 403, "-");
    denied["errorResponseType"] = json!("ACCESS_DENIED");
    let event = delivery(lines(vec![
        rest_line(1, REST_API, "GET", "/pets", 502, "acme"),
        denied,
        rest_line(3, UNMETERED_API, "GET", "/pets", 200, "acme"),
    ]));
    let summary = decoder.handle(event).await.unwrap();

    let expected = DecodeSummary {
        lines: 3,
        non_billable: 2,
        not_metered: 1,
        ..DecodeSummary::default()
    };
    assert_eq!(summary, expected);
    assert!(drain_queue(&stack).await.is_empty());
}

#[tokio::test]
async fn mixed_delivery_keeps_good_lines() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let decoder = decoder(&stack, catalog, stack.sqs.clone(), 262_144);

    let mut bad_status = rest_line(3, REST_API, "GET", "/pets", 200, "acme");
    bad_status["status"] = json!("OK");
    let messages = vec![
        rest_line(0, REST_API, "GET", "/pets", 200, "acme").to_string(),
        "REPORT RequestId: 6234bffe-149a-b642-81ff-2e8e376d8aff\tDuration: 46.84 ms".to_owned(),
        r#"{"level":"info","msg":"started"}"#.to_owned(),
        bad_status.to_string(),
        rest_line(4, REST_API, "GET", "/pets/{petId}", 200, "globex").to_string(),
    ];
    let summary = decoder.handle(delivery(messages)).await.unwrap();

    let expected = DecodeSummary {
        lines: 5,
        usage: 2,
        rejected: 3,
        messages_sent: 1,
        ..DecodeSummary::default()
    };
    assert_eq!(summary, expected);

    let records = records_of(&drain_queue(&stack).await);
    assert_eq!(records.len(), 5);
    assert!(matches!(records[0], MeteringRecord::Usage(_)));
    assert!(matches!(records[4], MeteringRecord::Usage(_)));

    let rejected: Vec<_> = records
        .iter()
        .filter_map(|record| match record {
            MeteringRecord::Rejected(line) => Some(line),
            _ => None,
        })
        .collect();
    let reasons: Vec<_> = rejected.iter().map(|line| line.reason).collect();
    assert_eq!(
        reasons,
        vec![
            RejectReason::NotJson,
            RejectReason::NotAccessLog,
            RejectReason::InvalidField
        ]
    );

    let loggroup = format!("loggroup:{LOG_GROUP}");
    assert_eq!(rejected[0].source, loggroup);
    assert_eq!(
        rejected[0].idempotency_key,
        idempotency_key(&loggroup, &format!("cwl:{}", event_id(1)))
    );
    assert_eq!(rejected[0].log_event_id, event_id(1));
    assert_eq!(rejected[0].log_group, LOG_GROUP);
    assert_eq!(rejected[0].log_stream, "stream-1");

    // The line with a bad status still names its API, so it is kept under the integration.
    assert_eq!(rejected[2].source, "aws-rest-petstore");
    assert_eq!(
        rejected[2].idempotency_key,
        idempotency_key("aws-rest-petstore", &format!("cwl:{}", event_id(3)))
    );
    assert!(rejected[2].detail.contains("status"));
}

#[tokio::test]
async fn large_delivery_splits_messages() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let max_message_bytes = 4_096;
    let decoder = decoder(&stack, catalog, stack.sqs.clone(), max_message_bytes);

    let count = 300;
    let values = (0..count)
        .map(|n| rest_line(n, REST_API, "GET", "/pets/{petId}", 200, "acme"))
        .collect();
    let summary = decoder.handle(delivery(lines(values))).await.unwrap();
    assert_eq!(summary.usage, count);

    let bodies = drain_queue(&stack).await;
    assert!(bodies.len() > 1);
    assert_eq!(bodies.len(), summary.messages_sent);
    for body in &bodies {
        assert!(body.len() <= max_message_bytes, "message of {} bytes", body.len());
    }

    let records = records_of(&bodies);
    assert_eq!(records.len(), count);
    assert_eq!(unique_keys(&records).len(), count);
}

#[tokio::test]
async fn partial_batch_failure_is_retried() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let fault = Fault::FailEntries {
        count: 3,
        sender_fault: false,
        code: "InternalError",
    };
    let injector = FaultInjector::new(fault, 1);
    let decoder = decoder(&stack, catalog, faulty_sqs(&stack, injector.clone()), 2_048);

    let count = 60;
    let values = (0..count)
        .map(|n| rest_line(n, REST_API, "GET", "/pets", 200, "acme"))
        .collect();
    let summary = decoder.handle(delivery(lines(values))).await.unwrap();

    let bodies = drain_queue(&stack).await;
    assert!(
        summary.messages_sent > 10,
        "needs several batches, got {}",
        summary.messages_sent
    );
    assert_eq!(bodies.len(), summary.messages_sent);

    let records = records_of(&bodies);
    assert_eq!(records.len(), count);
    assert_eq!(unique_keys(&records).len(), count);

    // First attempt: one call per batch; second attempt: one call for the three retried entries.
    let batches = summary.messages_sent.div_ceil(10);
    assert_eq!(injector.calls(), batches + 1);
}

#[tokio::test]
async fn service_unavailable_is_retried() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let injector = FaultInjector::new(Fault::ServiceUnavailable, 1);
    let decoder = decoder(&stack, catalog, faulty_sqs(&stack, injector.clone()), 262_144);

    let values = (0..5)
        .map(|n| rest_line(n, REST_API, "GET", "/pets", 200, "acme"))
        .collect();
    let summary = decoder.handle(delivery(lines(values))).await.unwrap();
    assert_eq!(summary.messages_sent, 1);
    assert_eq!(injector.calls(), 2);

    let records = records_of(&drain_queue(&stack).await);
    assert_eq!(records.len(), 5);
}

#[tokio::test]
async fn persistent_failure_fails_delivery() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let fault = Fault::FailEntries {
        count: usize::MAX,
        sender_fault: false,
        code: "InternalError",
    };
    let injector = FaultInjector::new(fault, usize::MAX);
    let decoder = decoder(&stack, catalog, faulty_sqs(&stack, injector.clone()), 262_144);

    let values = (0..4)
        .map(|n| rest_line(n, REST_API, "GET", "/pets", 200, "acme"))
        .collect();
    let error = decoder.handle(delivery(lines(values))).await.unwrap_err();

    let DecoderError::Send(SendError::Failed {
        total,
        failed,
        attempts,
        codes,
        retryable,
        ..
    }) = &error
    else {
        panic!("expected a send failure, got {error:?}");
    };
    assert_eq!(*total, 1);
    assert_eq!(*failed, 1);
    assert_eq!(*attempts, 3);
    assert_eq!(codes, &vec!["InternalError".to_owned()]);
    assert!(*retryable);
    assert_eq!(injector.calls(), 3);
    assert!(drain_queue(&stack).await.is_empty());
}

#[tokio::test]
async fn sender_fault_fails_at_once() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let fault = Fault::FailEntries {
        count: 1,
        sender_fault: true,
        code: "InvalidMessageContents",
    };
    let injector = FaultInjector::new(fault, 1);
    let decoder = decoder(&stack, catalog, faulty_sqs(&stack, injector.clone()), 262_144);

    let values = (0..3)
        .map(|n| rest_line(n, REST_API, "GET", "/pets", 200, "acme"))
        .collect();
    let error = decoder.handle(delivery(lines(values))).await.unwrap_err();

    let DecoderError::Send(SendError::Failed {
        attempts,
        codes,
        retryable,
        ..
    }) = &error
    else {
        panic!("expected a send failure, got {error:?}");
    };
    assert_eq!(*attempts, 1);
    assert_eq!(codes, &vec!["InvalidMessageContents".to_owned()]);
    assert!(!*retryable);
    assert_eq!(injector.calls(), 1);
}

#[tokio::test]
async fn from_sdk_decodes_sample_event() {
    let stack = Stack::new().await;
    seed_catalog(&stack).await;
    let decoder = log_decoder::from_sdk(&stack.sdk, &config(&stack, 262_144));

    let path = aforo_tests::workspace_root().join("functions/log-decoder/events/access-logs.json");
    let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let summary = decoder.handle(event).await.unwrap();

    let expected = DecodeSummary {
        lines: 4,
        usage: 3,
        unattributed: 1,
        messages_sent: 1,
        ..DecodeSummary::default()
    };
    assert_eq!(summary, expected);

    let records = records_of(&drain_queue(&stack).await);
    let tenants: Vec<_> = records
        .iter()
        .filter_map(|record| match record {
            MeteringRecord::Usage(event) => Some(event.tenant_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(tenants, vec!["acme", "acme", "acme"]);
}

// ---------------------------------------------------------------- bad input

fn rejected_lines(records: &[MeteringRecord]) -> Vec<&RejectedLine> {
    records
        .iter()
        .filter_map(|record| match record {
            MeteringRecord::Rejected(line) => Some(line),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn oversize_fields_reject_only_their_lines() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let decoder = decoder(&stack, catalog, stack.sqs.clone(), 262_144);

    let mut huge_id = rest_line(1, REST_API, "GET", "/pets", 200, "acme");
    huge_id["extendedRequestId"] = json!("e".repeat(300_000));
    let mut long_tenant = rest_line(2, REST_API, "GET", "/pets", 200, "acme");
    long_tenant["tenantId"] = json!("t".repeat(3_000));
    let mut long_path = rest_line(3, REST_API, "GET", "/pets", 200, "acme");
    long_path["resourcePath"] = json!(format!("/{}", "p".repeat(3_000)));
    let event = delivery(lines(vec![
        rest_line(0, REST_API, "GET", "/pets", 200, "acme"),
        huge_id,
        long_tenant,
        long_path,
    ]));

    let summary = decoder.handle(event).await.unwrap();

    assert_eq!(summary.usage, 1);
    assert_eq!(summary.rejected, 3);
    let records = records_of(&drain_queue(&stack).await);
    let rejected = rejected_lines(&records);
    let details: Vec<_> = rejected.iter().map(|line| line.detail.as_str()).collect();
    assert!(details[0].starts_with("line is "), "{}", details[0]);
    assert_eq!(details[1], "tenantId is 3000 bytes, over the 128-byte limit");
    assert_eq!(details[2], "resourcePath is 3001 bytes, over the 2048-byte limit");
    assert_eq!(rejected[0].reason, RejectReason::NotAccessLog);
    assert_eq!(rejected[1].reason, RejectReason::InvalidField);
    assert_eq!(rejected[1].source, "aws-rest-petstore");
    assert_eq!(rejected[1].log_event_id, event_id(2));
}

#[tokio::test]
async fn oversize_record_becomes_rejected_line() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let max_message_bytes = 1_024;
    let decoder = decoder(&stack, catalog, stack.sqs.clone(), max_message_bytes);

    // Within the parser's bounds, but the record does not fit into 1,024 bytes.
    let mut long_path = rest_line(1, REST_API, "GET", "/pets", 200, "acme");
    long_path["resourcePath"] = json!(format!("/{}", "p".repeat(1_500)));
    let event = delivery(lines(vec![long_path, rest_line(2, REST_API, "GET", "/pets", 200, "acme")]));

    let summary = decoder.handle(event).await.unwrap();

    assert_eq!(summary.usage, 1);
    assert_eq!(summary.unattributed, 0);
    assert_eq!(summary.rejected, 1);
    let bodies = drain_queue(&stack).await;
    assert!(bodies.iter().all(|body| body.len() <= max_message_bytes));
    let records = records_of(&bodies);
    let rejected = rejected_lines(&records);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].reason, RejectReason::InvalidField);
    assert!(
        rejected[0].detail.ends_with("bytes, over the 1024-byte message limit"),
        "{}",
        rejected[0].detail
    );
    assert_eq!(rejected[0].source, "aws-rest-petstore");
    assert_eq!(rejected[0].log_event_id, event_id(0));
}

#[tokio::test]
async fn invalid_metrics_left_out_and_billed() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let decoder = decoder(&stack, catalog, stack.sqs.clone(), 262_144);

    let values = ["-5", "18446744073709551616", "1e3"]
        .iter()
        .enumerate()
        .map(|(n, value)| {
            let mut line = rest_line(n, REST_API, "GET", "/pets", 200, "acme");
            line["responseLength"] = json!(value);
            line
        })
        .collect();
    let mut bad_latency = rest_line(3, REST_API, "GET", "/pets", 200, "acme");
    bad_latency["responseLatency"] = json!("-5");
    let mut lines_in = lines(values);
    lines_in.push(bad_latency.to_string());

    let summary = decoder.handle(delivery(lines_in)).await.unwrap();

    assert_eq!(summary.usage, 4);
    assert_eq!(summary.rejected, 0);
    assert_eq!(summary.invalid_metrics, 4);
    let records = records_of(&drain_queue(&stack).await);
    for record in &records[0..3] {
        let MeteringRecord::Usage(event) = record else {
            panic!("expected usage, got {record:?}");
        };
        assert_eq!(event.metrics.get(METRIC_RESPONSE_BYTES), None);
        assert_eq!(event.metrics.get(METRIC_REQUESTS), Some(&1));
        assert_eq!(event.metrics.get(METRIC_LATENCY_MS), Some(&15));
    }
    let MeteringRecord::Usage(last) = &records[3] else {
        panic!("expected usage, got {:?}", records[3]);
    };
    assert_eq!(last.metrics.get(METRIC_LATENCY_MS), None);
    assert_eq!(last.metrics.get(METRIC_RESPONSE_BYTES), Some(&120));
}

#[tokio::test]
async fn decimal_status_stays_invalid_field() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let decoder = decoder(&stack, catalog, stack.sqs.clone(), 262_144);
    let mut line = rest_line(1, REST_API, "GET", "/pets", 200, "acme");
    line["status"] = json!("200.0");

    let summary = decoder.handle(delivery(lines(vec![line]))).await.unwrap();

    assert_eq!(summary.usage, 0);
    assert_eq!(summary.rejected, 1);
    let records = records_of(&drain_queue(&stack).await);
    assert_eq!(rejected_lines(&records)[0].reason, RejectReason::InvalidField);
}

#[tokio::test]
async fn out_of_range_times_rejected() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let decoder = decoder(&stack, catalog, stack.sqs.clone(), 262_144);
    // 1969-12-31T23:59:59Z and 10000-01-01T00:00:00Z.
    let values = ["-1000", "253402300800000"]
        .iter()
        .enumerate()
        .map(|(n, epoch)| {
            let mut line = rest_line(n, REST_API, "GET", "/pets", 200, "acme");
            line["requestTimeEpoch"] = json!(epoch);
            line
        })
        .collect();

    let summary = decoder.handle(delivery(lines(values))).await.unwrap();

    assert_eq!(summary.usage, 0);
    assert_eq!(summary.rejected, 2);
    let records = records_of(&drain_queue(&stack).await);
    for line in rejected_lines(&records) {
        assert_eq!(line.reason, RejectReason::InvalidField);
        assert!(line.detail.starts_with("requestTimeEpoch is outside"), "{}", line.detail);
    }
}

#[tokio::test]
async fn unknown_message_type_fails_delivery() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let decoder = decoder(&stack, catalog, stack.sqs.clone(), 262_144);
    let event = delivery_of_type(
        "SURPRISE_MESSAGE",
        lines(vec![rest_line(1, REST_API, "GET", "/pets", 200, "acme")]),
    );

    let error = decoder.handle(event).await.unwrap_err();

    assert!(matches!(error, DecoderError::UnknownMessageType { .. }), "{error:?}");
    assert_eq!(error.kind(), "UnknownMessageType");
    assert!(error.to_string().contains("\"SURPRISE_MESSAGE\""), "{error}");
    assert!(drain_queue(&stack).await.is_empty());
}

#[tokio::test]
async fn control_message_sends_nothing() {
    let stack = Stack::new().await;
    let catalog = seed_catalog(&stack).await;
    let decoder = decoder(&stack, catalog, stack.sqs.clone(), 262_144);
    let event = delivery_of_type(
        "CONTROL_MESSAGE",
        lines(vec![rest_line(1, REST_API, "GET", "/pets", 200, "acme")]),
    );

    let summary = decoder.handle(event).await.unwrap();

    assert_eq!(summary, DecodeSummary::default());
    assert!(drain_queue(&stack).await.is_empty());
}

#[tokio::test]
async fn catalog_failure_names_cause_once() {
    let stack = Stack::new().await;
    let catalog = DynamoCatalog::new(stack.dynamodb.clone(), "no-such-catalog-table");
    let decoder = decoder(&stack, catalog, stack.sqs.clone(), 262_144);
    let event = delivery(lines(vec![rest_line(1, REST_API, "GET", "/pets", 200, "acme")]));

    let error = decoder.handle(event).await.unwrap_err();

    let message = error.to_string();
    assert_eq!(error.kind(), "CatalogUnavailable");
    assert_eq!(message.matches("ResourceNotFoundException").count(), 1, "{message}");
    assert!(message.contains(&event_id(0)), "{message}");
    assert!(std::error::Error::source(&error).is_none());
}
