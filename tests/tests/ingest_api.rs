//! The ingest API (`POST /v1/ingest`) against the emulator: payload 2.0
//! events in, metering envelopes out on the test stack's queue, with
//! `Idempotency-Key` records in the stack's IdempotencyTable and, for
//! end-to-end totals, ingest run on the messages that reached the queue.

use std::io::Write;
use std::time::Duration;

use aforo::catalog::{
    CachedCatalog, DynamoCatalog, FeatureFlags, GatewayKind, Integration, IntegrationKey, Product, Route, Status,
    Tenant,
};
use aforo::envelope;
use aforo::event::MeteringRecord;
use aforo::keys::{api_key_hash, idempotency_key, usage_pk};
use aforo::period::Granularity;
use aforo::route::RouteKey;
use aforo::sqs::SqsSender;
use aforo::store::{n, s};
use aforo::usage::DynamoUsage;
use aforo_tests::Stack;
use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use aws_sdk_sqs::types::QueueAttributeName;
use base64::Engine;
use flate2::write::GzEncoder;
use flate2::Compression;
use ingest_api::{Config, IngestApi};
use serde_json::{json, Value};

const KONG: &str = "kong-edge";
const KONG_KEY: &str = "ik_kong_5d2a8c41e7f9";
const RETIRED_KEY: &str = "ik_kong_retired_0f0f0f0f";
const UNMETERED: &str = "kong-unmetered";
const UNMETERED_KEY: &str = "ik_kong_unmetered_5e5e5e5e";
const TIMESTAMP: &str = "2026-12-01T10:00:00Z";

// ---------------------------------------------------------------- catalog

fn kong_integration(id: &str, status: Status, metering: bool) -> Integration {
    Integration {
        id: id.to_owned(),
        kind: GatewayKind::Kong,
        api_id: None,
        status,
        flags: FeatureFlags {
            metering,
            ..FeatureFlags::default()
        },
    }
}

/// Seeds kong-edge with the pets and orders routes, the suspended
/// kong-retired, the unmetered kong-unmetered, their ingest keys, and the
/// tenants acme and globex.
async fn seed_catalog(stack: &Stack) {
    let catalog = DynamoCatalog::new(stack.dynamodb.clone(), stack.deployment.catalog_table());

    let integrations = [
        (kong_integration(KONG, Status::Active, true), KONG_KEY),
        (kong_integration("kong-retired", Status::Suspended, true), RETIRED_KEY),
        (kong_integration(UNMETERED, Status::Active, false), UNMETERED_KEY),
    ];
    for (integration, key) in &integrations {
        catalog.put_integration(integration).await.unwrap();
        let key = IntegrationKey {
            key_hash: api_key_hash(key),
            integration_id: integration.id.clone(),
            status: Status::Active,
        };
        catalog.put_integration_key(&key).await.unwrap();
    }

    for id in ["pets", "orders"] {
        let product = Product {
            id: id.to_owned(),
            name: id.to_owned(),
        };
        catalog.put_product(&product).await.unwrap();
    }

    let routes = [
        ("GET", "/pets", "pets"),
        ("POST", "/pets", "pets"),
        ("GET", "/pets/{petId}", "pets"),
        ("GET", "/orders", "orders"),
        ("POST", "/orders", "orders"),
        ("GET", "/orders/{orderId}", "orders"),
    ];
    for integration_id in [KONG, UNMETERED] {
        for (method, path, product_id) in routes {
            let route = Route {
                integration_id: integration_id.to_owned(),
                route: RouteKey::new(method, path),
                product_id: product_id.to_owned(),
            };
            catalog.put_route(&route).await.unwrap();
        }
    }

    for id in ["acme", "globex"] {
        let tenant = Tenant {
            id: id.to_owned(),
            name: id.to_owned(),
            status: Status::Active,
        };
        catalog.put_tenant(&tenant).await.unwrap();
    }
}

// ---------------------------------------------------------------- set-up

struct Harness {
    stack: Stack,
    config: Config,
    api: IngestApi<CachedCatalog<DynamoCatalog>>,
}

async fn harness() -> Harness {
    harness_with(|_| {}).await
}

/// Builds a harness whose configuration `adjust` changes from the defaults.
async fn harness_with(adjust: impl FnOnce(&mut Config)) -> Harness {
    let stack = Stack::new().await;
    seed_catalog(&stack).await;

    let mut config = Config::with_names(
        stack.deployment.catalog_table(),
        stack.deployment.dedupe_table(),
        stack.deployment.table("IdempotencyTable"),
        stack.deployment.metering_queue_url(),
    );
    adjust(&mut config);
    let api = ingest_api::from_sdk(&stack.sdk, &config);
    Harness { stack, config, api }
}

impl Harness {
    fn idempotency_table(&self) -> &str {
        self.stack.deployment.table("IdempotencyTable")
    }

    /// Builds a handler on the same tables whose sender writes to a queue that does not exist.
    fn api_with_missing_queue(&self) -> IngestApi<CachedCatalog<DynamoCatalog>> {
        let catalog = CachedCatalog::new(
            DynamoCatalog::new(self.stack.dynamodb.clone(), self.stack.deployment.catalog_table()),
            Duration::ZERO,
        );
        let missing_queue = format!("{}-missing", self.stack.deployment.metering_queue_url());
        let sender = SqsSender::new(self.stack.sqs.clone(), missing_queue, 1);
        IngestApi::new(catalog, self.stack.dynamodb.clone(), sender, &self.config)
    }
}

// ---------------------------------------------------------------- requests

/// Builds one `aforo.ingest.v1` event of 2026-12-01T10:00:00Z.
fn event(id: &str, tenant: Option<&str>, method: &str, path: &str, status: u16) -> Value {
    json!({
        "id": id,
        "tenant_id": tenant,
        "method": method,
        "path": path,
        "status": status,
        "response_bytes": 512,
        "latency_ms": 35,
        "timestamp": TIMESTAMP
    })
}

fn batch(events: Vec<Value>) -> Value {
    json!({"schema": "aforo.ingest.v1", "events": events})
}

/// Builds `count` valid events of acme on GET /pets/{n}, ids `<prefix>-<n>`.
fn acme_events(prefix: &str, count: usize) -> Vec<Value> {
    (0..count)
        .map(|n| event(&format!("{prefix}-{n}"), Some("acme"), "GET", &format!("/pets/{n}"), 200))
        .collect()
}

fn gzip(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), level);
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Builds a payload 2.0 event of `POST /v1/ingest`.
fn http_event(headers: &[(&str, &str)], body: &str, is_base64_encoded: bool) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| (name.to_string(), json!(value)))
        .collect();
    json!({
        "version": "2.0",
        "routeKey": "POST /v1/ingest",
        "rawPath": "/v1/ingest",
        "headers": headers,
        "requestContext": {"http": {"method": "POST", "path": "/v1/ingest"}, "requestId": "test"},
        "body": body,
        "isBase64Encoded": is_base64_encoded
    })
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

/// Builds a plain JSON request authenticated with `key`.
fn json_request(key: &str, payload: &Value) -> Value {
    let authorization = bearer(key);
    let headers = [("authorization", authorization.as_str()), ("content-type", "application/json")];
    http_event(&headers, &payload.to_string(), false)
}

/// Builds a gzip request, base64-encoded as API Gateway delivers binary
/// bodies, with extra headers such as `Idempotency-Key`.
fn gzip_request(key: &str, compressed: &[u8], extra: &[(&str, &str)]) -> Value {
    let authorization = bearer(key);
    let mut headers = vec![
        ("Authorization", authorization.as_str()),
        ("Content-Type", "application/json"),
        ("Content-Encoding", "gzip"),
    ];
    headers.extend_from_slice(extra);
    http_event(&headers, &base64(compressed), true)
}

// ---------------------------------------------------------------- responses

fn body_json(response: &ApiGatewayV2httpResponse) -> Value {
    match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text).expect("the response body is JSON"),
        other => panic!("the response has no text body: {other:?}"),
    }
}

fn body_text(response: &ApiGatewayV2httpResponse) -> String {
    match &response.body {
        Some(Body::Text(text)) => text.clone(),
        other => panic!("the response has no text body: {other:?}"),
    }
}

fn header<'a>(response: &'a ApiGatewayV2httpResponse, name: &str) -> Option<&'a str> {
    response.headers.get(name).and_then(|value| value.to_str().ok())
}

fn statuses(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results array")
        .iter()
        .map(|result| result["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

// ---------------------------------------------------------------- queue and totals

/// Receives and deletes every message on the stack's queue, as the SQS event
/// source does once ingest succeeded, and returns their bodies.
async fn take_all(stack: &Stack) -> Vec<String> {
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
        let messages = output.messages.unwrap_or_default();
        if messages.is_empty() {
            return bodies;
        }

        for message in messages {
            if let Some(handle) = &message.receipt_handle {
                stack
                    .sqs
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .unwrap();
            }
            bodies.extend(message.body);
        }
    }
}

fn records_of(bodies: &[String]) -> Vec<MeteringRecord> {
    bodies
        .iter()
        .flat_map(|body| envelope::decode(body).expect("a metering envelope").records)
        .collect()
}

async fn queued_records(stack: &Stack) -> Vec<MeteringRecord> {
    records_of(&take_all(stack).await)
}

/// Counts the messages on the queue, visible or in flight.
async fn queue_depth(stack: &Stack) -> usize {
    let output = stack
        .sqs
        .get_queue_attributes()
        .queue_url(stack.deployment.metering_queue_url())
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attributes = output.attributes.unwrap_or_default();
    [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|name| attributes.get(name).and_then(|value| value.parse::<usize>().ok()).unwrap_or(0))
    .sum()
}

/// Runs ingest on message bodies, as the SQS event source would.
async fn run_ingest(stack: &Stack, bodies: &[String]) {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(n, body)| json!({"messageId": format!("m-{n}"), "body": body, "eventSource": "aws:sqs"}))
        .collect();
    let config = ingest::Config {
        dedupe_table: stack.deployment.dedupe_table().to_owned(),
        usage_table: stack.deployment.usage_table().to_owned(),
        dedupe_window: Duration::from_secs(35 * 86_400),
        write_max_attempts: 8,
    };

    let (response, _) = ingest::from_sdk(&stack.sdk, &config)
        .handle(json!({ "Records": records }))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty(), "ingest failed messages");
}

/// Sums the requests of acme to pets in December 2026 from the usage table.
async fn acme_pets_requests(stack: &Stack) -> u64 {
    let usage = DynamoUsage::new(stack.dynamodb.clone(), stack.deployment.usage_table());
    usage
        .rows(&usage_pk("acme"))
        .await
        .unwrap()
        .into_iter()
        .filter(|row| row.granularity == Granularity::Month && row.period_start == "2026-12")
        .filter(|row| row.subject == "pets" && row.metric == "requests")
        .map(|row| row.value)
        .sum()
}

// ---------------------------------------------------------------- idempotency records

async fn idempotency_item(harness: &Harness, key: &str) -> Option<aforo::store::Item> {
    harness
        .stack
        .dynamodb
        .get_item()
        .table_name(harness.idempotency_table())
        .key("pk", s(format!("{KONG}#{key}")))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

/// Writes an in-progress record for `payload` whose lease ends `lease_seconds` from now.
async fn put_in_progress(harness: &Harness, key: &str, payload: &[u8], lease_seconds: i64) {
    let now = chrono::Utc::now().timestamp();
    harness
        .stack
        .dynamodb
        .put_item()
        .table_name(harness.idempotency_table())
        .item("pk", s(format!("{KONG}#{key}")))
        .item("state", s("in_progress"))
        .item("fingerprint", s(ingest_api::fingerprint("application/json", payload)))
        .item("owner", s("crashed-request"))
        .item("lease_expires_at", n(now + lease_seconds))
        .item("expires_at", n(now + 86_400))
        .send()
        .await
        .unwrap();
}

// ================================================================ tests: authentication

#[tokio::test]
async fn missing_key_gets_401() {
    let harness = harness().await;
    let event = http_event(&[("content-type", "application/json")], &batch(acme_events("a", 1)).to_string(), false);

    let response = harness.api.handle(event).await;

    assert_eq!(response.status_code, 401);
    assert_eq!(header(&response, "www-authenticate"), Some("Bearer"));
    assert_eq!(header(&response, "content-type"), Some("application/problem+json"));
    assert_eq!(body_json(&response)["status"], 401);
    assert_eq!(queue_depth(&harness.stack).await, 0);
}

#[tokio::test]
async fn unknown_key_gets_401() {
    let harness = harness().await;

    let response = harness.api.handle(json_request("ik_not_a_key", &batch(acme_events("a", 1)))).await;

    assert_eq!(response.status_code, 401);
    assert_eq!(header(&response, "www-authenticate"), Some("Bearer"));
    assert!(!body_text(&response).contains("ik_not_a_key"), "the response echoes the key");
}

#[tokio::test]
async fn suspended_integration_gets_403() {
    let harness = harness().await;

    let response = harness.api.handle(json_request(RETIRED_KEY, &batch(acme_events("a", 1)))).await;

    assert_eq!(response.status_code, 403);
    assert_eq!(body_json(&response)["title"], "Forbidden");
    assert_eq!(queue_depth(&harness.stack).await, 0);
}

#[tokio::test]
async fn api_key_header_authenticates() {
    let harness = harness().await;
    let headers = [("X-Api-Key", KONG_KEY), ("Content-Type", "application/json")];
    let event = http_event(&headers, &batch(acme_events("a", 1)).to_string(), false);

    let response = harness.api.handle(event).await;

    assert_eq!(response.status_code, 200);
    assert_eq!(body_json(&response)["accepted"], 1);
}

#[tokio::test]
async fn get_method_gets_405() {
    let harness = harness().await;
    let mut event = json_request(KONG_KEY, &batch(acme_events("a", 1)));
    event["requestContext"]["http"]["method"] = json!("GET");

    let response = harness.api.handle(event).await;

    assert_eq!(response.status_code, 405);
    assert_eq!(header(&response, "allow"), Some("POST"));
}

// ================================================================ tests: formats

#[tokio::test]
async fn json_batch_accepted_and_queued() {
    let harness = harness().await;

    let response = harness.api.handle(json_request(KONG_KEY, &batch(acme_events("req", 2)))).await;
    let body = body_json(&response);
    let records = queued_records(&harness.stack).await;

    assert_eq!(response.status_code, 200);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    assert_eq!(body["accepted"], 2);
    assert_eq!(body["duplicates"], 0);
    assert_eq!(body["rejected"], 0);
    assert_eq!(body["not_metered"], 0);
    assert_eq!(body["results"][0]["index"], 0);
    assert_eq!(body["results"][0]["attribution"], "usage");
    assert_eq!(body["results"][0]["idempotency_key"], idempotency_key(KONG, "req-0"));
    assert_eq!(body["results"][1]["idempotency_key"], idempotency_key(KONG, "req-1"));

    let keys: Vec<&str> = records.iter().map(MeteringRecord::idempotency_key).collect();
    assert_eq!(keys, [idempotency_key(KONG, "req-0"), idempotency_key(KONG, "req-1")]);
    let MeteringRecord::Usage(usage) = &records[0] else {
        panic!("the first record is not usage: {:?}", records[0]);
    };
    assert_eq!(usage.source, KONG);
    assert_eq!(usage.tenant_id, "acme");
    assert_eq!(usage.product_id, "pets");
    assert_eq!(usage.route, "/pets/{petId}");
}

#[tokio::test]
async fn cloudevents_batch_keyed_by_source_and_id() {
    let harness = harness().await;
    let cloud_event = |source: &str, id: &str| {
        json!({
            "specversion": "1.0",
            "id": id,
            "source": source,
            "type": "io.aforo.request.v1",
            "time": TIMESTAMP,
            "datacontenttype": "application/json",
            "data": {"tenant_id": "acme", "method": "GET", "path": "/orders/7", "status": 200, "response_bytes": 64}
        })
    };
    // The same id from two sources is two events.
    let events = json!([cloud_event("//kong/edge-1", "e-1"), cloud_event("//kong/edge-2", "e-1")]);
    let authorization = bearer(KONG_KEY);
    let headers = [
        ("authorization", authorization.as_str()),
        ("content-type", "application/cloudevents-batch+json"),
    ];

    let response = harness.api.handle(http_event(&headers, &events.to_string(), false)).await;
    let body = body_json(&response);
    let records = queued_records(&harness.stack).await;

    let first = idempotency_key(KONG, r#"["//kong/edge-1","e-1"]"#);
    let second = idempotency_key(KONG, r#"["//kong/edge-2","e-1"]"#);
    assert_eq!(response.status_code, 200);
    assert_eq!(body["accepted"], 2);
    assert_eq!(body["results"][0]["idempotency_key"], first.as_str());
    assert_eq!(body["results"][1]["idempotency_key"], second.as_str());
    assert_eq!(records.len(), 2);
    let MeteringRecord::Usage(usage) = &records[0] else {
        panic!("the first record is not usage: {:?}", records[0]);
    };
    assert_eq!(usage.product_id, "orders");
    assert_eq!(usage.timestamp.to_rfc3339(), "2026-12-01T10:00:00+00:00");
}

#[tokio::test]
async fn kong_http_log_read_natively() {
    let harness = harness().await;
    let entries: Value = serde_json::from_str(&aforo_tests::fixture("gateways/kong/http-log-batch.json")).unwrap();
    let count = entries.as_array().expect("a batch of entries").len();

    let response = harness.api.handle(json_request(KONG_KEY, &entries)).await;
    let body = body_json(&response);
    let records = queued_records(&harness.stack).await;

    assert_eq!(response.status_code, 200, "{body}");
    assert_eq!(body["results"].as_array().map(Vec::len), Some(count));
    assert_eq!(body["accepted"].as_u64(), Some(records.len() as u64));
    assert!(!records.is_empty(), "no Kong entry reached the queue");
    assert!(records.iter().all(|record| record.source() == KONG));
}

#[tokio::test]
async fn gzip_body_accepted() {
    let harness = harness().await;
    let payload = batch(acme_events("gz", 3)).to_string();

    let response = harness.api.handle(gzip_request(KONG_KEY, &gzip(payload.as_bytes(), Compression::default()), &[])).await;

    assert_eq!(response.status_code, 200);
    assert_eq!(body_json(&response)["accepted"], 3);
    assert_eq!(queued_records(&harness.stack).await.len(), 3);
}

#[tokio::test]
async fn multi_member_gzip_counts_every_member() {
    let harness = harness().await;
    let payload = batch(acme_events("mm", 4)).to_string();
    let (head, tail) = payload.as_bytes().split_at(payload.len() / 2);
    let mut compressed = gzip(head, Compression::default());
    compressed.extend(gzip(tail, Compression::default()));

    let response = harness.api.handle(gzip_request(KONG_KEY, &compressed, &[])).await;

    assert_eq!(response.status_code, 200, "{}", body_text(&response));
    assert_eq!(body_json(&response)["accepted"], 4);
    assert_eq!(queued_records(&harness.stack).await.len(), 4);
}

#[tokio::test]
async fn gzip_header_with_inflated_body_accepted() {
    let harness = harness().await;
    let authorization = bearer(KONG_KEY);
    let headers = [
        ("authorization", authorization.as_str()),
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    let event = http_event(&headers, &batch(acme_events("plain", 2)).to_string(), false);

    let response = harness.api.handle(event).await;

    assert_eq!(response.status_code, 200, "{}", body_text(&response));
    assert_eq!(body_json(&response)["accepted"], 2);
}

#[tokio::test]
async fn base64_flagged_body_decoded() {
    let harness = harness().await;
    let authorization = bearer(KONG_KEY);
    let headers = [("authorization", authorization.as_str()), ("content-type", "application/json")];
    let payload = batch(acme_events("b64", 2)).to_string();

    let response = harness.api.handle(http_event(&headers, &base64(payload.as_bytes()), true)).await;

    assert_eq!(response.status_code, 200, "{}", body_text(&response));
    assert_eq!(body_json(&response)["accepted"], 2);
}

#[tokio::test]
async fn corrupt_gzip_gets_400_and_sends_nothing() {
    let harness = harness().await;
    let mut compressed = gzip(batch(acme_events("bad", 2)).to_string().as_bytes(), Compression::default());
    let middle = compressed.len() / 2;
    compressed[middle..].iter_mut().for_each(|byte| *byte = !*byte);

    let response = harness.api.handle(gzip_request(KONG_KEY, &compressed, &[])).await;

    assert_eq!(response.status_code, 400);
    assert_eq!(header(&response, "content-type"), Some("application/problem+json"));
    assert!(body_json(&response)["detail"].as_str().unwrap_or_default().contains("gzip"));
    assert_eq!(queue_depth(&harness.stack).await, 0);
}

// ================================================================ tests: limits

#[tokio::test]
async fn oversized_body_gets_413() {
    let harness = harness().await;
    let mut payload = batch(acme_events("big", 1));
    payload["padding"] = json!("x".repeat(1_048_576));

    let response = harness.api.handle(json_request(KONG_KEY, &payload)).await;
    let body = body_json(&response);

    assert_eq!(response.status_code, 413);
    assert_eq!(body["title"], "Payload Too Large");
    assert_eq!(body["detail"], "body exceeds the 1048576-byte limit");
    assert_eq!(queue_depth(&harness.stack).await, 0);
}

#[tokio::test]
async fn too_many_events_gets_413() {
    let harness = harness().await;
    let payload = batch(acme_events("many", 1_001)).to_string();

    let response = harness.api.handle(gzip_request(KONG_KEY, &gzip(payload.as_bytes(), Compression::fast()), &[])).await;
    let detail = body_json(&response)["detail"].as_str().unwrap_or_default().to_owned();

    assert_eq!(response.status_code, 413);
    assert!(detail.contains("1000-event limit"), "detail: {detail}");
    assert_eq!(queue_depth(&harness.stack).await, 0);
}

#[tokio::test]
async fn gzip_bomb_stopped_at_limit() {
    let harness = harness().await;
    // 50 members of 1 MiB of zeros each: about 50 KB that inflate to 50 MiB.
    let member = gzip(&vec![0u8; 1_048_576], Compression::best());
    let bomb: Vec<u8> = member.iter().copied().cycle().take(member.len() * 50).collect();
    assert!(bomb.len() < 1_048_576, "the bomb must pass the compressed limit");

    let response = harness.api.handle(gzip_request(KONG_KEY, &bomb, &[])).await;
    let body = body_json(&response);

    assert_eq!(response.status_code, 413);
    assert_eq!(body["detail"], "decompressed body exceeds the 8388608-byte limit");
    assert_eq!(queue_depth(&harness.stack).await, 0);
}

// ================================================================ tests: per-event results

#[tokio::test]
async fn events_ingest_would_drop_rejected() {
    let harness = harness().await;
    let mut too_old = event("too-old", Some("acme"), "GET", "/pets", 200);
    too_old["timestamp"] = json!("1970-01-01T00:00:00Z");
    let mut huge = event("huge", Some("acme"), "GET", "/pets", 200);
    huge["response_bytes"] = json!(u64::MAX);
    let events = vec![
        event("ok-1", Some("acme"), "GET", "/pets", 200),
        too_old,
        huge,
        event("separator", Some("ac#me"), "GET", "/pets", 200),
        event("control", Some("ac\nme"), "GET", "/pets", 200),
        event("ok-2", Some("globex"), "POST", "/orders", 201),
    ];

    let response = harness.api.handle(json_request(KONG_KEY, &batch(events))).await;
    let body = body_json(&response);
    let records = queued_records(&harness.stack).await;

    assert_eq!(response.status_code, 200);
    assert_eq!(
        statuses(&body),
        ["accepted", "rejected", "rejected", "rejected", "rejected", "accepted"]
    );
    let results = &body["results"];
    assert!(results[1]["reason"].as_str().unwrap().contains("timestamp"), "{}", results[1]);
    assert!(results[2]["reason"].as_str().unwrap().contains("response_bytes"), "{}", results[2]);
    assert!(results[3]["reason"].as_str().unwrap().contains("tenant_id"), "{}", results[3]);
    assert!(results[4]["reason"].as_str().unwrap().contains("tenant_id"), "{}", results[4]);
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|record| record.validate().is_ok()));
}

#[tokio::test]
async fn bad_event_rejected_among_good_ones() {
    let harness = harness().await;
    let events = vec![
        event("ok-1", Some("acme"), "GET", "/pets", 200),
        event("no-tenant", None, "GET", "/pets", 200),
        event("bad-status", Some("acme"), "GET", "/pets", 700),
        event("stranger", Some("initrode"), "GET", "/pets", 200),
        event("no-route", Some("acme"), "DELETE", "/admin", 200),
        json!({"id": "no-time", "tenant_id": "acme", "method": "GET", "path": "/pets", "status": 200}),
        event("ok-2", Some("globex"), "POST", "/orders", 201),
    ];

    let response = harness.api.handle(json_request(KONG_KEY, &batch(events))).await;
    let body = body_json(&response);
    let records = queued_records(&harness.stack).await;

    assert_eq!(response.status_code, 200);
    assert_eq!(
        statuses(&body),
        ["accepted", "accepted", "rejected", "accepted", "accepted", "rejected", "accepted"]
    );
    assert_eq!(body["accepted"], 5);
    assert_eq!(body["rejected"], 2);
    let results = &body["results"];
    assert_eq!(results[1]["attribution"], "unattributed");
    assert_eq!(results[1]["reason"], "missing_tenant");
    assert_eq!(results[2]["index"], 2);
    assert_eq!(results[2]["reason"], "status must be an integer from 100 to 599");
    assert!(results[2].get("idempotency_key").is_none(), "a rejected event has no key");
    assert_eq!(results[3]["reason"], "unknown_tenant");
    assert_eq!(results[4]["reason"], "unknown_route");
    assert!(results[5]["reason"].as_str().unwrap_or_default().starts_with("timestamp"));
    assert_eq!(results[6]["attribution"], "usage");
    assert_eq!(records.len(), 5);
}

#[tokio::test]
async fn repeated_id_in_request_is_duplicate() {
    let harness = harness().await;
    let events = vec![
        event("same", Some("acme"), "GET", "/pets", 200),
        event("other", Some("acme"), "GET", "/pets", 200),
        event("same", Some("acme"), "GET", "/pets", 200),
    ];

    let response = harness.api.handle(json_request(KONG_KEY, &batch(events))).await;
    let body = body_json(&response);

    assert_eq!(statuses(&body), ["accepted", "accepted", "duplicate"]);
    assert_eq!(body["duplicates"], 1);
    assert_eq!(body["results"][2]["idempotency_key"], idempotency_key(KONG, "same"));
    assert_eq!(queued_records(&harness.stack).await.len(), 2);
}

#[tokio::test]
async fn repeated_request_after_ingest_is_duplicate() {
    let harness = harness().await;
    let request = json_request(KONG_KEY, &batch(acme_events("twice", 3)));

    let first = body_json(&harness.api.handle(request.clone()).await);
    run_ingest(&harness.stack, &take_all(&harness.stack).await).await;
    let second = harness.api.handle(request).await;
    let second_body = body_json(&second);

    assert_eq!(first["accepted"], 3);
    assert_eq!(second.status_code, 200);
    assert_eq!(second_body["accepted"], 0);
    assert_eq!(second_body["duplicates"], 3);
    assert_eq!(statuses(&second_body), ["duplicate", "duplicate", "duplicate"]);
    assert_eq!(queue_depth(&harness.stack).await, 0);
    assert_eq!(acme_pets_requests(&harness.stack).await, 3);
}

#[tokio::test]
async fn redelivered_events_count_once() {
    let harness = harness().await;
    let request = json_request(KONG_KEY, &batch(acme_events("redo", 2)));

    // Both requests run before ingest, so both queue the events, and ingest dedupes them.
    harness.api.handle(request.clone()).await;
    harness.api.handle(request).await;
    let bodies = take_all(&harness.stack).await;
    run_ingest(&harness.stack, &bodies).await;

    assert_eq!(records_of(&bodies).len(), 4);
    assert_eq!(acme_pets_requests(&harness.stack).await, 2);
}

#[tokio::test]
async fn unmetered_integration_reports_not_metered() {
    let harness = harness().await;
    let events = vec![
        event("u-1", Some("acme"), "GET", "/pets", 200),
        event("u-2", Some("acme"), "GET", "/pets", 999),
    ];

    let response = harness.api.handle(json_request(UNMETERED_KEY, &batch(events))).await;
    let body = body_json(&response);

    assert_eq!(response.status_code, 200);
    assert_eq!(statuses(&body), ["not_metered", "rejected"]);
    assert_eq!(body["not_metered"], 1);
    assert_eq!(body["accepted"], 0);
    assert_eq!(body["results"][0]["idempotency_key"], idempotency_key(UNMETERED, "u-1"));
    assert_eq!(queue_depth(&harness.stack).await, 0);
}

// ================================================================ tests: billable status classes

#[tokio::test]
async fn server_error_event_not_billable() {
    let harness = harness().await;
    let events = vec![
        event("ok-200", Some("acme"), "GET", "/pets", 200),
        event("failed-503", Some("acme"), "GET", "/pets/7", 503),
        event("created-201", Some("globex"), "POST", "/orders", 201),
        event("missing-404", Some("acme"), "GET", "/pets/404", 404),
        event("invalid-700", Some("acme"), "GET", "/pets", 700),
        event("failed-503", Some("acme"), "GET", "/pets/7", 503),
    ];

    let response = harness.api.handle(json_request(KONG_KEY, &batch(events))).await;
    let body = body_json(&response);
    let bodies = take_all(&harness.stack).await;
    let records = records_of(&bodies);

    assert_eq!(response.status_code, 200);
    assert_eq!(
        statuses(&body),
        ["accepted", "not_billable", "accepted", "accepted", "rejected", "not_billable"]
    );
    assert_eq!(body["accepted"], 3);
    assert_eq!(body["not_billable"], 2);
    assert_eq!(body["rejected"], 1);
    assert_eq!(body["duplicates"], 0);
    assert_eq!(body["not_metered"], 0);

    let not_billable = &body["results"][1];
    assert_eq!(not_billable["index"], 1);
    assert_eq!(not_billable["idempotency_key"], idempotency_key(KONG, "failed-503"));
    assert!(not_billable.get("attribution").is_none(), "a not-billable event has no attribution");
    assert!(not_billable.get("reason").is_none(), "a not-billable event has no reason");
    assert_eq!(body["results"][5]["idempotency_key"], idempotency_key(KONG, "failed-503"));

    let keys: Vec<&str> = records.iter().map(MeteringRecord::idempotency_key).collect();
    assert_eq!(keys.len(), 3);
    assert!(!keys.contains(&idempotency_key(KONG, "failed-503").as_str()), "the 503 event was queued");

    run_ingest(&harness.stack, &bodies).await;
    assert_eq!(acme_pets_requests(&harness.stack).await, 2);
}

#[tokio::test]
async fn configured_5xx_class_is_billed() {
    let harness = harness_with(|config| config.billable_status_classes = vec![2, 3, 4, 5]).await;
    let events = vec![
        event("ok-200", Some("acme"), "GET", "/pets", 200),
        event("failed-503", Some("acme"), "GET", "/pets/7", 503),
    ];

    let response = harness.api.handle(json_request(KONG_KEY, &batch(events))).await;
    let body = body_json(&response);
    let records = queued_records(&harness.stack).await;

    assert_eq!(response.status_code, 200);
    assert_eq!(statuses(&body), ["accepted", "accepted"]);
    assert_eq!(body["accepted"], 2);
    assert_eq!(body["not_billable"], 0);
    assert_eq!(body["results"][1]["attribution"], "usage");

    let keys: Vec<&str> = records.iter().map(MeteringRecord::idempotency_key).collect();
    assert_eq!(keys, [idempotency_key(KONG, "ok-200"), idempotency_key(KONG, "failed-503")]);
}

#[tokio::test]
async fn configured_classes_skip_client_errors() {
    let harness = harness_with(|config| config.billable_status_classes = vec![2]).await;
    let events = vec![
        event("ok-200", Some("acme"), "GET", "/pets", 200),
        event("moved-301", Some("acme"), "GET", "/pets", 301),
        event("missing-404", Some("acme"), "GET", "/pets/404", 404),
    ];

    let response = harness.api.handle(json_request(KONG_KEY, &batch(events))).await;
    let body = body_json(&response);

    assert_eq!(statuses(&body), ["accepted", "not_billable", "not_billable"]);
    assert_eq!(body["not_billable"], 2);
    assert_eq!(queued_records(&harness.stack).await.len(), 1);
}

#[tokio::test]
async fn not_metered_wins_over_not_billable() {
    let harness = harness().await;
    let events = vec![event("u-503", Some("acme"), "GET", "/pets", 503)];

    let response = harness.api.handle(json_request(UNMETERED_KEY, &batch(events))).await;
    let body = body_json(&response);

    assert_eq!(statuses(&body), ["not_metered"]);
    assert_eq!(body["not_metered"], 1);
    assert_eq!(body["not_billable"], 0);
    assert_eq!(queue_depth(&harness.stack).await, 0);
}

#[tokio::test]
async fn not_billable_native_kong_entry() {
    let harness = harness().await;
    let entries: Value = serde_json::from_str(&aforo_tests::fixture("gateways/kong/http-log-batch.json")).unwrap();
    let mut entries = entries.as_array().cloned().expect("the Kong fixture is an array");
    entries[0]["response"]["status"] = json!(502);

    let response = harness.api.handle(json_request(KONG_KEY, &Value::Array(entries))).await;
    let body = body_json(&response);
    let records = queued_records(&harness.stack).await;

    assert_eq!(response.status_code, 200, "{body}");
    assert_eq!(body["results"][0]["status"], "not_billable");
    assert_eq!(body["not_billable"], 1);
    assert_eq!(body["accepted"].as_u64(), Some(records.len() as u64));
    let not_billable_key = body["results"][0]["idempotency_key"].as_str().expect("a not-billable event has a key");
    assert!(
        records.iter().all(|record| record.idempotency_key() != not_billable_key),
        "the 502 entry was queued"
    );
}

// ================================================================ tests: Idempotency-Key

#[tokio::test]
async fn idempotency_key_replays_recompressed_request() {
    let harness = harness().await;
    let payload = batch(acme_events("idem", 2)).to_string();
    let fast = gzip(payload.as_bytes(), Compression::fast());
    let best = gzip(payload.as_bytes(), Compression::best());
    let key = [("Idempotency-Key", "batch-0001")];

    let first = harness.api.handle(gzip_request(KONG_KEY, &fast, &key)).await;
    let second = harness.api.handle(gzip_request(KONG_KEY, &best, &key)).await;
    let item = idempotency_item(&harness, "batch-0001").await.expect("a stored record");

    assert_eq!(first.status_code, 200);
    assert_eq!(header(&first, "idempotent-replayed"), None);
    assert_eq!(second.status_code, 200);
    assert_eq!(header(&second, "idempotent-replayed"), Some("true"));
    assert_eq!(body_text(&second), body_text(&first));
    assert_eq!(queued_records(&harness.stack).await.len(), 2);
    assert_eq!(item["state"].as_s().ok().map(String::as_str), Some("completed"));
}

#[tokio::test]
async fn idempotency_key_with_other_body_gets_422() {
    let harness = harness().await;
    let key = [("Idempotency-Key", "batch-0002")];
    let first_payload = batch(acme_events("one", 1)).to_string();
    let other_payload = batch(acme_events("two", 1)).to_string();

    harness
        .api
        .handle(gzip_request(KONG_KEY, &gzip(first_payload.as_bytes(), Compression::default()), &key))
        .await;
    let response = harness
        .api
        .handle(gzip_request(KONG_KEY, &gzip(other_payload.as_bytes(), Compression::default()), &key))
        .await;

    assert_eq!(response.status_code, 422);
    assert_eq!(header(&response, "content-type"), Some("application/problem+json"));
    assert_eq!(queued_records(&harness.stack).await.len(), 1);
}

#[tokio::test]
async fn idempotency_key_in_progress_gets_409() {
    let harness = harness().await;
    let payload = batch(acme_events("busy", 1)).to_string();
    put_in_progress(&harness, "batch-0003", payload.as_bytes(), 20).await;

    let key = [("Idempotency-Key", "batch-0003")];
    let response = harness
        .api
        .handle(gzip_request(KONG_KEY, &gzip(payload.as_bytes(), Compression::default()), &key))
        .await;
    let retry_after: u64 = header(&response, "retry-after").and_then(|value| value.parse().ok()).unwrap_or(0);

    assert_eq!(response.status_code, 409);
    assert!((1..=20).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(queue_depth(&harness.stack).await, 0);
}

#[tokio::test]
async fn idempotency_key_expired_lease_taken_over() {
    let harness = harness().await;
    let payload = batch(acme_events("crashed", 2)).to_string();
    put_in_progress(&harness, "batch-0004", payload.as_bytes(), -5).await;

    let key = [("Idempotency-Key", "batch-0004")];
    let response = harness
        .api
        .handle(gzip_request(KONG_KEY, &gzip(payload.as_bytes(), Compression::default()), &key))
        .await;
    let item = idempotency_item(&harness, "batch-0004").await.expect("a stored record");

    assert_eq!(response.status_code, 200, "{}", body_text(&response));
    assert_eq!(body_json(&response)["accepted"], 2);
    assert_eq!(item["state"].as_s().ok().map(String::as_str), Some("completed"));
    assert_eq!(item["status_code"].as_n().ok().map(String::as_str), Some("200"));
}

#[tokio::test]
async fn idempotency_key_replays_client_error() {
    let harness = harness().await;
    let authorization = bearer(KONG_KEY);
    let headers = [
        ("authorization", authorization.as_str()),
        ("content-type", "application/json"),
        ("idempotency-key", "batch-0005"),
    ];
    let event = http_event(&headers, "{not json", false);

    let first = harness.api.handle(event.clone()).await;
    let second = harness.api.handle(event).await;

    assert_eq!(first.status_code, 400);
    assert_eq!(second.status_code, 400);
    assert_eq!(header(&second, "idempotent-replayed"), Some("true"));
    assert_eq!(header(&second, "content-type"), Some("application/problem+json"));
    assert_eq!(body_text(&second), body_text(&first));
}

#[tokio::test]
async fn invalid_idempotency_key_gets_400() {
    let harness = harness().await;
    let long_key = "k".repeat(256);
    let key = [("Idempotency-Key", long_key.as_str())];
    let payload = batch(acme_events("long", 1)).to_string();

    let response = harness
        .api
        .handle(gzip_request(KONG_KEY, &gzip(payload.as_bytes(), Compression::default()), &key))
        .await;

    assert_eq!(response.status_code, 400);
    assert_eq!(queue_depth(&harness.stack).await, 0);
}

// ================================================================ tests: durability

#[tokio::test]
async fn queue_failure_gets_503_and_releases_key() {
    let harness = harness().await;
    let payload = batch(acme_events("lost", 2)).to_string();
    let compressed = gzip(payload.as_bytes(), Compression::default());
    let key = [("Idempotency-Key", "batch-0006")];

    let failed = harness.api_with_missing_queue().handle(gzip_request(KONG_KEY, &compressed, &key)).await;
    let record_after_failure = idempotency_item(&harness, "batch-0006").await;
    let retried = harness.api.handle(gzip_request(KONG_KEY, &compressed, &key)).await;

    assert_eq!(failed.status_code, 503);
    assert!(header(&failed, "retry-after").is_some(), "503 without Retry-After");
    assert_eq!(header(&failed, "content-type"), Some("application/problem+json"));
    assert!(record_after_failure.is_none(), "the failed request kept its Idempotency-Key record");
    assert_eq!(retried.status_code, 200);
    assert_eq!(header(&retried, "idempotent-replayed"), None);
    assert_eq!(body_json(&retried)["accepted"], 2);
}

#[tokio::test]
async fn sample_event_accepted_with_seed_key() {
    let harness = harness().await;
    let sample: Value =
        serde_json::from_str(include_str!("../../functions/ingest-api/events/ingest-request.json")).unwrap();

    let response = harness.api.handle(sample).await;
    let body = body_json(&response);

    assert_eq!(response.status_code, 200, "{body}");
    assert_eq!(body["accepted"], 3);
    assert_eq!(body["results"][2]["reason"], "missing_tenant");
}
