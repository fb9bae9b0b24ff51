//! The OpenAPI description `infra/openapi/ingest-v1.yaml` against the real
//! ingest function, served over HTTP by the local endpoint on the emulator.
//!
//! Every response is checked against the description: its status must be
//! documented, documented required headers must be present, and its headers
//! and body must match their schemas (JSON Schema 2020-12, as OpenAPI 3.1 uses).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use aforo::catalog::{
    CachedCatalog, DynamoCatalog, FeatureFlags, GatewayKind, Integration, IntegrationKey, Product, Route, Status,
    Tenant,
};
use aforo::keys::api_key_hash;
use aforo::route::RouteKey;
use aforo::sqs::SqsSender;
use aforo::store::{n, s};
use aforo_cli::serve;
use aforo_client::{Client, ClientConfig, ClientError, EventStatus, IngestEvent};
use aforo_tests::{workspace_root, Stack};
use flate2::write::GzEncoder;
use flate2::Compression;
use ingest_api::{Config, IngestApi};
use jsonschema::Draft;
use serde_json::{json, Value};

const KONG: &str = "kong-edge";
const KONG_KEY: &str = "ik_kong_5d2a8c41e7f9";
const RETIRED_KEY: &str = "ik_kong_retired_0f0f0f0f";
const UNMETERED: &str = "kong-unmetered";
const UNMETERED_KEY: &str = "ik_kong_unmetered_5e5e5e5e";
const TIMESTAMP: &str = "2026-12-01T10:00:00Z";

// ---------------------------------------------------------------- the description

/// The OpenAPI document as JSON.
struct Spec {
    document: Value,
}

/// A response as the client received it.
struct Observed {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Observed {
    async fn read(response: reqwest::Response) -> Self {
        Self {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| panic!("HTTP {} body is not JSON: {err}", self.status))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl Spec {
    fn load() -> Self {
        let path = workspace_root().join("infra/openapi/ingest-v1.yaml");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("failed to read {}: {err}", path.display()));
        let document: Value =
            serde_yaml::from_str(&text).unwrap_or_else(|err| panic!("{} is not YAML: {err}", path.display()));
        Self { document }
    }

    fn operation(&self) -> &Value {
        &self.document["paths"]["/v1/ingest"]["post"]
    }

    /// Follows a local `$ref` such as `#/components/headers/RetryAfter`.
    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("non-local $ref {reference}"));
                self.document
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("$ref {reference} points at nothing"))
            }
            None => value,
        }
    }

    /// Returns the validation errors of `instance` against `schema`, which may refer to
    /// `#/components/schemas/...`.
    fn schema_errors(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let root = json!({ "components": self.document["components"], "allOf": [schema] });
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|err| panic!("schema {schema} does not compile: {err}"));
        validator
            .iter_errors(instance)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect()
    }

    fn assert_matches(&self, schema: &Value, instance: &Value, what: &str) {
        let errors = self.schema_errors(schema, instance);
        assert!(
            errors.is_empty(),
            "{what} does not match its schema: {errors:#?}\n{instance:#}"
        );
    }

    /// Returns the documented response of `status`, failing the test for an undocumented status.
    fn response(&self, status: u16) -> &Value {
        let responses = &self.operation()["responses"];
        let response = responses
            .get(status.to_string())
            .unwrap_or_else(|| panic!("HTTP {status} is not documented in ingest-v1.yaml"));
        self.resolve(response)
    }

    /// Checks a response's status, headers and body against the description.
    fn check(&self, observed: &Observed) {
        let documented = self.response(observed.status);
        let status = observed.status;

        let headers = documented
            .get("headers")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (name, header) in &headers {
            let header = self.resolve(header);
            let value = observed.header(name);
            let required = header.get("required").and_then(Value::as_bool).unwrap_or(false);
            assert!(
                !required || value.is_some(),
                "HTTP {status} lacks the required header {name}"
            );

            if let Some(value) = value {
                self.assert_matches(
                    &header["schema"],
                    &json!(value),
                    &format!("HTTP {status} header {name}"),
                );
            }
        }

        let content_type = observed.header("content-type").unwrap_or_default();
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        let content = documented["content"]
            .get(media_type)
            .unwrap_or_else(|| panic!("HTTP {status} with Content-Type {content_type:?} is not documented"));

        let body = observed.json();
        self.assert_matches(&content["schema"], &body, &format!("HTTP {status} body"));

        if media_type == "application/problem+json" {
            assert_eq!(
                body["status"],
                json!(status),
                "problem status differs from the HTTP status"
            );
        }
    }

    /// Checks a request body against the documented schema of its media type.
    fn check_request(&self, media_type: &str, body: &Value) {
        let content = &self.operation()["requestBody"]["content"][media_type];
        assert!(content.is_object(), "request media type {media_type} is not documented");
        self.assert_matches(&content["schema"], body, &format!("{media_type} request"));
    }

    /// Checks a body that the client parsed, by its JSON form, against the schema of `status`.
    fn check_parsed(&self, status: u16, media_type: &str, body: &Value) {
        let schema = &self.response(status)["content"][media_type]["schema"];
        assert!(schema.is_object(), "HTTP {status} {media_type} is not documented");
        self.assert_matches(schema, body, &format!("HTTP {status} body read by the client"));
    }

    fn component(&self, name: &str) -> Value {
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }
}

// ---------------------------------------------------------------- catalog and endpoint

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

/// Seeds kong-edge with the pets routes, the suspended kong-retired, the
/// unmetered kong-unmetered, their ingest keys, and the tenant acme.
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

    let product = Product {
        id: "pets".to_owned(),
        name: "Pets".to_owned(),
    };
    catalog.put_product(&product).await.unwrap();

    for integration_id in [KONG, UNMETERED] {
        for (method, path) in [("GET", "/pets"), ("POST", "/pets"), ("GET", "/pets/{petId}")] {
            let route = Route {
                integration_id: integration_id.to_owned(),
                route: RouteKey::new(method, path),
                product_id: "pets".to_owned(),
            };
            catalog.put_route(&route).await.unwrap();
        }
    }

    let tenant = Tenant {
        id: "acme".to_owned(),
        name: "ACME".to_owned(),
        status: Status::Active,
    };
    catalog.put_tenant(&tenant).await.unwrap();
}

/// A seeded stack with the function behind the local endpoint.
struct Harness {
    stack: Stack,
    config: Config,
    spec: Spec,
    http: reqwest::Client,
    endpoint: String,
}

async fn harness() -> Harness {
    let stack = Stack::new().await;
    seed_catalog(&stack).await;

    let config = Config::with_names(
        stack.deployment.catalog_table(),
        stack.deployment.dedupe_table(),
        stack.deployment.table("IdempotencyTable"),
        stack.deployment.metering_queue_url(),
    );
    let endpoint = start_endpoint(ingest_api::from_sdk(&stack.sdk, &config)).await;

    Harness {
        stack,
        config,
        spec: Spec::load(),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        endpoint,
    }
}

/// Serves `api` on a free port of 127.0.0.1 and returns the URL of `/v1/ingest`.
async fn start_endpoint(api: IngestApi<CachedCatalog<DynamoCatalog>>) -> String {
    let listener = serve::bind_local(0).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(serve::serve(listener, Arc::new(api)));
    format!("http://{address}/v1/ingest")
}

impl Harness {
    fn client(&self, key: &str) -> Client {
        let mut config = ClientConfig::new(&self.endpoint, key);
        config.base_delay = Duration::from_millis(10);
        config.max_delay = Duration::from_secs(1);
        config.max_attempts = 2;
        Client::new(config).unwrap()
    }

    /// POSTs `body` with the kong-edge key and the given extra headers.
    async fn post(&self, content_type: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Observed {
        let mut request = self
            .http
            .post(&self.endpoint)
            .bearer_auth(KONG_KEY)
            .header("content-type", content_type)
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Observed::read(request.send().await.unwrap()).await
    }

    /// A handler on the same tables whose sender writes to a queue that does not exist.
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

// ---------------------------------------------------------------- bodies

/// Extra request headers, name and value.
type Headers<'a> = Vec<(&'a str, &'a str)>;

fn event(id: &str, tenant: Option<&str>, path: &str, status: u16) -> Value {
    json!({"id": id, "tenant_id": tenant, "method": "GET", "path": path, "status": status,
           "response_bytes": 512, "latency_ms": 35, "timestamp": TIMESTAMP})
}

fn batch(events: Vec<Value>) -> Value {
    json!({"schema": "aforo.ingest.v1", "events": events})
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn client_events(count: usize) -> Vec<IngestEvent> {
    (0..count)
        .map(|index| IngestEvent {
            id: format!("client-{index}"),
            tenant_id: Some("acme".to_owned()),
            method: "GET".to_owned(),
            path: format!("/pets/{index}"),
            status: 200,
            response_bytes: Some(128),
            latency_ms: Some(12),
            timestamp: TIMESTAMP.parse().unwrap(),
        })
        .collect()
}

// ---------------------------------------------------------------- the description itself

#[test]
fn spec_examples_match_schemas() {
    let spec = Spec::load();
    let operation = spec.operation();

    for (media_type, content) in operation["requestBody"]["content"].as_object().unwrap() {
        spec.assert_matches(
            &content["schema"],
            &content["example"],
            &format!("{media_type} request example"),
        );
    }

    for (status, response) in operation["responses"].as_object().unwrap() {
        for (media_type, content) in spec.resolve(response)["content"].as_object().unwrap() {
            if let Some(example) = content.get("example") {
                spec.assert_matches(
                    &content["schema"],
                    example,
                    &format!("HTTP {status} {media_type} example"),
                );
            }
        }
    }
}

#[test]
fn spec_documents_limits_and_security() {
    let spec = Spec::load();
    let description = spec.document["info"]["description"].as_str().unwrap();

    for limit in [
        "1048576",
        "8388608",
        "1000",
        "MAX_BODY_BYTES",
        "MAX_DECOMPRESSED_BYTES",
        "MAX_EVENTS",
    ] {
        assert!(description.contains(limit), "limit {limit} is not documented");
    }
    assert_eq!(spec.document["openapi"], "3.1.0");
    assert_eq!(
        spec.document["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
}

#[test]
fn response_schema_rejects_wrong_shapes() {
    let spec = Spec::load();
    let schema = spec.component("IngestResponse");

    let missing_reason = json!({"accepted": 0, "duplicates": 0, "rejected": 1, "not_metered": 0,
                                "results": [{"index": 0, "status": "rejected"}]});
    assert!(!spec.schema_errors(&schema, &missing_reason).is_empty());

    let unknown_status = json!({"accepted": 0, "duplicates": 0, "rejected": 0, "not_metered": 0,
                                "results": [{"index": 0, "status": "lost"}]});
    assert!(!spec.schema_errors(&schema, &unknown_status).is_empty());

    let accepted_without_key = json!({"accepted": 1, "duplicates": 0, "rejected": 0, "not_metered": 0,
                                      "results": [{"index": 0, "status": "accepted", "attribution": "usage"}]});
    assert!(!spec.schema_errors(&schema, &accepted_without_key).is_empty());

    let not_billable_without_key = json!({"accepted": 0, "duplicates": 0, "rejected": 0, "not_metered": 0,
                                          "not_billable": 1, "results": [{"index": 0, "status": "not_billable"}]});
    assert!(!spec.schema_errors(&schema, &not_billable_without_key).is_empty());

    let not_billable_with_attribution = json!({"accepted": 0, "duplicates": 0, "rejected": 0, "not_metered": 0,
        "not_billable": 1, "results": [{"index": 0, "status": "not_billable", "idempotency_key": "0".repeat(64),
                                        "attribution": "usage"}]});
    assert!(!spec.schema_errors(&schema, &not_billable_with_attribution).is_empty());

    let negative_not_billable = json!({"accepted": 0, "duplicates": 0, "rejected": 0, "not_metered": 0,
                                       "not_billable": -1, "results": []});
    assert!(!spec.schema_errors(&schema, &negative_not_billable).is_empty());
}

#[test]
fn response_schema_accepts_pre_1_1_replay() {
    let spec = Spec::load();
    let schema = spec.component("IngestResponse");
    let stored_before_not_billable = json!({"accepted": 1, "duplicates": 0, "rejected": 0, "not_metered": 0,
        "results": [{"index": 0, "status": "accepted", "idempotency_key": "0".repeat(64), "attribution": "usage"}]});

    assert_eq!(spec.schema_errors(&schema, &stored_before_not_billable), Vec::<String>::new());
}

#[test]
fn spec_documents_billable_status_classes() {
    let spec = Spec::load();
    let description = spec.document["info"]["description"].as_str().unwrap();
    let statuses = &spec.document["components"]["schemas"]["EventResult"]["properties"]["status"]["enum"];

    assert!(description.contains("BILLABLE_STATUS_CLASSES"), "the setting is not documented");
    assert!(description.contains("2xx,3xx,4xx"), "the default classes are not documented");
    assert!(statuses.as_array().unwrap().contains(&json!("not_billable")), "status not_billable is missing");
}

// ---------------------------------------------------------------- 200

#[tokio::test]
async fn ingest_batch_matches_200_schema() {
    let harness = harness().await;
    let body = batch(vec![
        event("req-1", Some("acme"), "/pets/42", 200),
        event("req-2", None, "/pets", 200),
        event("req-3", Some("acme"), "/unknown", 200),
        event("req-4", Some("acme"), "/pets", 700),
        event("req-1", Some("acme"), "/pets/42", 200),
    ]);

    let observed = harness
        .post("application/json", gzip(&bytes(&body)), &[("content-encoding", "gzip")])
        .await;

    assert_eq!(observed.status, 200);
    harness.spec.check(&observed);
    let response = observed.json();
    let statuses: Vec<&str> = response["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| result["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["accepted", "accepted", "accepted", "rejected", "duplicate"]);
    assert_eq!(response["results"][1]["reason"], "missing_tenant");
    assert_eq!(response["results"][2]["reason"], "unknown_route");
}

#[tokio::test]
async fn valid_requests_match_request_schemas() {
    let harness = harness().await;
    let ingest = batch(vec![event("req-1", Some("acme"), "/pets/42", 200)]);
    let cloudevents = json!([{"specversion": "1.0", "id": "ce-1", "source": "kong://edge", "type": "io.aforo.request.v1",
        "time": TIMESTAMP, "datacontenttype": "application/json",
        "data": {"tenant_id": "acme", "method": "GET", "path": "/pets", "status": 200, "timestamp": TIMESTAMP}}]);

    harness.spec.check_request("application/json", &ingest);
    harness
        .spec
        .check_request("application/cloudevents-batch+json", &cloudevents);

    let first = harness.post("application/json", bytes(&ingest), &[]).await;
    let second = harness
        .post("application/cloudevents-batch+json", bytes(&cloudevents), &[])
        .await;

    assert_eq!(first.status, 200);
    assert_eq!(first.json()["accepted"], 1);
    harness.spec.check(&first);
    assert_eq!(second.status, 200);
    assert_eq!(second.json()["accepted"], 1);
    harness.spec.check(&second);
}

#[tokio::test]
async fn client_send_matches_200_schema() {
    let harness = harness().await;
    let mut config = ClientConfig::new(&harness.endpoint, KONG_KEY);
    config.max_events_per_request = 2;
    let client = Client::new(config).unwrap();

    let report = client.send_events(&client_events(3)).await.unwrap();

    assert_eq!(report.accepted, 3);
    assert_eq!(report.batches.len(), 2);
    for batch in &report.batches {
        let body = serde_json::to_value(&batch.response).unwrap();
        harness.spec.check_parsed(200, "application/json", &body);
    }
}

#[tokio::test]
async fn client_rerun_is_replayed() {
    let harness = harness().await;
    let client = harness.client(KONG_KEY);

    let first = client.send_events(&client_events(2)).await.unwrap();
    let second = client.send_events(&client_events(2)).await.unwrap();

    assert!(!first.batches[0].replayed);
    assert!(second.batches[0].replayed);
    assert_eq!(second.accepted, 2);
    assert_eq!(first.batches[0].response, second.batches[0].response);
}

#[tokio::test]
async fn replayed_response_matches_200_schema() {
    let harness = harness().await;
    let body = bytes(&batch(vec![event("req-1", Some("acme"), "/pets/42", 200)]));
    let headers = [("idempotency-key", "replay-1")];

    let first = harness.post("application/json", body.clone(), &headers).await;
    let second = harness
        .post(
            "application/json",
            gzip(&body),
            &[headers[0], ("content-encoding", "gzip")],
        )
        .await;

    assert_eq!(second.status, 200);
    harness.spec.check(&second);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(second.body, first.body);
}

#[tokio::test]
async fn not_metered_matches_200_schema() {
    let harness = harness().await;
    let body = bytes(&batch(vec![event("req-1", Some("acme"), "/pets/42", 200)]));

    let response = harness
        .http
        .post(&harness.endpoint)
        .bearer_auth(UNMETERED_KEY)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let observed = Observed::read(response).await;

    assert_eq!(observed.status, 200);
    harness.spec.check(&observed);
    assert_eq!(observed.json()["results"][0]["status"], "not_metered");
}

#[tokio::test]
async fn not_billable_matches_200_schema() {
    let harness = harness().await;
    let body = batch(vec![
        event("req-200", Some("acme"), "/pets/42", 200),
        event("req-503", Some("acme"), "/pets/43", 503),
        event("req-404", Some("acme"), "/pets/44", 404),
    ]);

    let observed = harness.post("application/json", bytes(&body), &[]).await;

    assert_eq!(observed.status, 200);
    harness.spec.check(&observed);
    let response = observed.json();
    assert_eq!(response["results"][1]["status"], "not_billable");
    assert_eq!(response["not_billable"], 1);
    assert_eq!(response["accepted"], 2);
}

#[tokio::test]
async fn client_report_sums_not_billable() {
    let harness = harness().await;
    let mut config = ClientConfig::new(&harness.endpoint, KONG_KEY);
    config.max_events_per_request = 2;
    let client = Client::new(config).unwrap();
    let mut events = client_events(4);
    events[1].status = 500;
    events[3].status = 503;

    let report = client.send_events(&events).await.unwrap();

    assert_eq!(report.batches.len(), 2);
    assert_eq!(report.not_billable, 2);
    assert_eq!(report.accepted, 2);
    let statuses: Vec<EventStatus> = report.results().map(|(_, result)| result.status).collect();
    assert_eq!(
        statuses,
        [EventStatus::Accepted, EventStatus::NotBillable, EventStatus::Accepted, EventStatus::NotBillable]
    );
    for batch in &report.batches {
        let body = serde_json::to_value(&batch.response).unwrap();
        harness.spec.check_parsed(200, "application/json", &body);
    }
}

// ---------------------------------------------------------------- 4xx

#[tokio::test]
async fn unreadable_bodies_match_400_schema() {
    let harness = harness().await;
    let mut corrupt_gzip = vec![0x1f, 0x8b, 0x08, 0x00];
    corrupt_gzip.extend_from_slice(b"not deflate data at all");
    let long_key = "k".repeat(256);

    let cases: Vec<(&str, Vec<u8>, Headers)> = vec![
        ("corrupt gzip", corrupt_gzip, vec![("content-encoding", "gzip")]),
        ("invalid JSON", b"{\"schema\":".to_vec(), Vec::new()),
        ("not a Kong payload", b"\"hello\"".to_vec(), Vec::new()),
        (
            "long Idempotency-Key",
            b"{}".to_vec(),
            vec![("idempotency-key", long_key.as_str())],
        ),
    ];

    for (case, body, headers) in cases {
        let observed = harness.post("application/json", body, &headers).await;
        assert_eq!(observed.status, 400, "{case}");
        harness.spec.check(&observed);
    }
}

#[tokio::test]
async fn missing_key_matches_401_schema() {
    let harness = harness().await;

    let response = harness
        .http
        .post(&harness.endpoint)
        .header("content-type", "application/json")
        .body(bytes(&batch(Vec::new())))
        .send()
        .await
        .unwrap();
    let observed = Observed::read(response).await;

    assert_eq!(observed.status, 401);
    harness.spec.check(&observed);
    assert_eq!(observed.header("www-authenticate"), Some("Bearer"));
}

#[tokio::test]
async fn client_with_wrong_key_gets_401() {
    let harness = harness().await;

    let result = harness.client("ik_unknown_key").send_events(&client_events(1)).await;

    let Err(ClientError::BatchFailed { source, .. }) = result else {
        panic!("expected BatchFailed, got {result:?}");
    };
    let ClientError::Rejected(failure) = *source else {
        panic!("expected Rejected, got {source:?}");
    };
    assert_eq!(failure.status, 401);
    let problem = serde_json::to_value(failure.problem.unwrap()).unwrap();
    harness.spec.check_parsed(401, "application/problem+json", &problem);
}

#[tokio::test]
async fn inactive_integration_matches_403_schema() {
    let harness = harness().await;

    let response = harness
        .http
        .post(&harness.endpoint)
        .header("x-api-key", RETIRED_KEY)
        .header("content-type", "application/json")
        .body(bytes(&batch(vec![event("req-1", Some("acme"), "/pets", 200)])))
        .send()
        .await
        .unwrap();
    let observed = Observed::read(response).await;

    assert_eq!(observed.status, 403);
    harness.spec.check(&observed);
}

#[tokio::test]
async fn key_in_progress_matches_409_schema() {
    let harness = harness().await;
    let body = bytes(&batch(vec![event("req-1", Some("acme"), "/pets", 200)]));
    let now = chrono::Utc::now().timestamp();

    // Hold the key as a running request would: an in-progress record with a live lease.
    harness
        .stack
        .dynamodb
        .put_item()
        .table_name(harness.stack.deployment.table("IdempotencyTable"))
        .item("pk", s(format!("{KONG}#held-1")))
        .item("state", s("in_progress"))
        .item("fingerprint", s(ingest_api::fingerprint("application/json", &body)))
        .item("owner", s("another-request"))
        .item("lease_expires_at", n(now + 60))
        .item("expires_at", n(now + 3600))
        .send()
        .await
        .unwrap();

    let observed = harness
        .post("application/json", body.clone(), &[("idempotency-key", "held-1")])
        .await;

    assert_eq!(observed.status, 409);
    harness.spec.check(&observed);
    let retry_after: u64 = observed.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");

    // The client honours Retry-After, so a wait beyond its max_delay (1 s) ends the retries.
    let result = harness
        .client(KONG_KEY)
        .send_raw("application/json", body, Some("held-1"))
        .await;
    assert!(
        matches!(result, Err(ClientError::RetryAfterTooLong { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn oversized_requests_match_413_schema() {
    let harness = harness().await;
    let too_many = batch(
        (0..1001)
            .map(|index| event(&format!("req-{index}"), Some("acme"), "/pets", 200))
            .collect(),
    );
    let padding = "x".repeat(1_100_000);
    let too_large = bytes(&json!({"schema": "aforo.ingest.v1", "events": [], "padding": padding}));
    let bomb = gzip(&vec![b' '; 9 * 1024 * 1024]);

    let cases = [
        ("1000", bytes(&too_many), false),
        ("1048576", too_large, false),
        ("8388608", bomb, true),
    ];

    for (limit, body, compressed) in cases {
        let headers: &[(&str, &str)] = if compressed {
            &[("content-encoding", "gzip")]
        } else {
            &[]
        };
        let observed = harness.post("application/json", body, headers).await;

        assert_eq!(observed.status, 413, "limit {limit}");
        harness.spec.check(&observed);
        let detail = observed.json()["detail"].as_str().unwrap_or_default().to_owned();
        assert!(detail.contains(limit), "detail {detail:?} does not name {limit}");
    }
}

#[tokio::test]
async fn unknown_encoding_matches_415_schema() {
    let harness = harness().await;

    let observed = harness
        .post("application/json", b"{}".to_vec(), &[("content-encoding", "br")])
        .await;

    assert_eq!(observed.status, 415);
    harness.spec.check(&observed);
}

#[tokio::test]
async fn reused_key_matches_422_schema() {
    let harness = harness().await;
    let headers = [("idempotency-key", "reused-1")];
    let first = bytes(&batch(vec![event("req-1", Some("acme"), "/pets", 200)]));
    let second = bytes(&batch(vec![event("req-2", Some("acme"), "/pets", 200)]));

    let accepted = harness.post("application/json", first, &headers).await;
    let observed = harness.post("application/json", second, &headers).await;

    assert_eq!(accepted.status, 200);
    assert_eq!(observed.status, 422);
    harness.spec.check(&observed);
}

// ---------------------------------------------------------------- 5xx and routing

#[tokio::test]
async fn queue_failure_matches_503_schema() {
    let harness = harness().await;
    let endpoint = start_endpoint(harness.api_with_missing_queue()).await;

    let response = harness
        .http
        .post(&endpoint)
        .bearer_auth(KONG_KEY)
        .header("content-type", "application/json")
        .body(bytes(&batch(vec![event("req-1", Some("acme"), "/pets", 200)])))
        .send()
        .await
        .unwrap();
    let observed = Observed::read(response).await;

    assert_eq!(observed.status, 503);
    harness.spec.check(&observed);
}

#[tokio::test]
async fn other_routes_get_gateway_404() {
    let harness = harness().await;
    let other_path = harness.endpoint.replace("/v1/ingest", "/v1/other");

    let wrong_method = harness.http.get(&harness.endpoint).send().await.unwrap();
    let wrong_path = harness.http.post(&other_path).body("{}").send().await.unwrap();

    assert_eq!(wrong_method.status(), 404);
    assert_eq!(wrong_path.status(), 404);
    let observed = Observed::read(wrong_path).await;
    assert_eq!(observed.json(), json!({"message": "Not Found"}));
}
