//! The multi-gateway part of the demo: traffic of the same tenants through
//! Kong, Azure API Management, Apigee and MuleSoft, sent to `POST /v1/ingest`
//! in each gateway's native log format (and as CloudEvents) with the Rust
//! client. It goes through the real ingest API function, served on
//! 127.0.0.1, into the same queue and ingest as the AWS access logs, so each
//! tenant's usage rolls up into one record.

use std::collections::BTreeMap;
use std::sync::Arc;

use aforo_client::{Client, ClientConfig, SendReport};
use serde_json::{json, Value};

use super::traffic::{self, Caller, Mix, Request};
use super::DemoError;
use crate::bootstrap::Deployment;
use crate::seed::Seed;

/// Seed of the gateways' traffic, fixed so every run sends the same input.
const GATEWAY_TRAFFIC_SEED: u64 = 4_242;

/// Integrations of the seed catalog that send native logs, in the order
/// requests are dealt to them.
pub const GATEWAYS: [&str; 4] = ["kong-edge", "azure-apim-west", "apigee-eu", "mulesoft-core"];

/// Integration that also sends a CloudEvents batch.
const CLOUDEVENTS_INTEGRATION: &str = "apigee-eu";

/// Requests one gateway sent and the ingest API's responses.
#[derive(Debug, Clone)]
pub struct GatewaySend {
    /// Integration id.
    pub integration_id: String,
    /// Format sent: the gateway's native log format or `cloudevents`.
    pub format: &'static str,
    /// The requests sent.
    pub requests: Vec<Request>,
    /// The client's report.
    pub report: SendReport,
}

/// Builds the traffic the non-AWS gateways carry: the demo tenants, plus
/// requests without a tenant and of an unknown tenant.
pub fn gateway_traffic(seed: &Seed) -> Vec<Request> {
    let keys = |tenant: &str| seed.api_key_for(tenant).map(str::to_owned);
    let tenant = |id: &str| Caller {
        tenant_header: Some(id.to_owned()),
        api_key: keys(id),
    };
    let mix = Mix {
        callers: vec![
            (tenant("acme"), "/pets", 40),
            (tenant("acme"), "/orders", 24),
            (tenant("globex"), "/pets", 24),
            (
                Caller {
                    tenant_header: None,
                    api_key: None,
                },
                "/pets",
                4,
            ),
            (tenant("umbrella"), "/orders", 4),
        ],
    };
    traffic::generate(&mix, GATEWAY_TRAFFIC_SEED)
}

fn tenant_of(request: &Request) -> Value {
    match &request.caller.tenant_header {
        Some(tenant) => json!(tenant),
        None => json!("-"),
    }
}

/// Builds a Kong `http-log` record for `request`.
pub fn kong_record(request: &Request) -> Value {
    let mut headers = json!({"host": "api.example.com", "user-agent": "aforo-demo/1.0"});
    if let Some(tenant) = &request.caller.tenant_header {
        headers["x-tenant-id"] = json!(tenant);
    }
    let started_at = request.at.timestamp_millis();

    json!({
        "request": {
            "id": request.request_id.replace('-', ""),
            "uri": request.path,
            "url": format!("https://api.example.com:443{}", request.path),
            "method": request.method,
            "headers": headers,
            "size": 180,
        },
        "response": {"status": request.backend_status, "size": request.response_length, "headers": {}},
        "latencies": {"kong": 2, "proxy": request.latency_ms.saturating_sub(2), "request": request.latency_ms, "receive": 0},
        "client_ip": "198.51.100.7",
        "started_at": started_at,
        "upstream_uri": request.path,
    })
}

/// Builds the record of the Azure API Management policy fragment for `request`.
pub fn azure_apim_record(request: &Request) -> Value {
    let tenant = request.caller.tenant_header.clone().unwrap_or_default();
    json!({
        "request_id": request.request_id,
        "timestamp": request.at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "method": request.method,
        "api_path": "petstore",
        "url_template": request.resource,
        "path": format!("/petstore{}", request.path),
        "tenant_id": tenant,
        "status": request.backend_status,
        "response_content_length": request.response_length.to_string(),
        "elapsed_ms": request.latency_ms as f64 + 0.25,
    })
}

/// Builds the record of the Apigee PostClientFlow policy for `request`.
pub fn apigee_record(request: &Request) -> Value {
    let start = request.at.timestamp_millis();
    json!({
        "messageid": format!("rrt-{}", request.request_id),
        "verb": request.method,
        "pathsuffix": request.path,
        "tenant_id": tenant_of(request),
        "status_code": request.backend_status,
        "content_length": request.response_length.to_string(),
        "client_received_start_timestamp": start,
        "client_sent_end_timestamp": start + request.latency_ms as i64,
    })
}

/// Builds the record of the MuleSoft custom policy for `request`.
pub fn mulesoft_record(request: &Request) -> Value {
    json!({
        "correlationId": request.request_id,
        "timestamp": request.at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "method": request.method,
        "requestPath": format!("/api{}", request.path),
        "maskedRequestPath": request.path,
        "tenantId": tenant_of(request),
        "statusCode": request.backend_status,
        "contentLength": request.response_length.to_string(),
        "latencyMs": request.latency_ms,
    })
}

/// Builds a CloudEvents 1.0 event of `request`.
pub fn cloud_event(request: &Request) -> Value {
    json!({
        "specversion": "1.0",
        "id": request.request_id,
        "source": "//apigee.googleapis.com/organizations/demo/environments/prod",
        "type": "io.aforo.request.v1",
        "time": request.at.to_rfc3339(),
        "datacontenttype": "application/json",
        "data": {
            "tenant_id": request.caller.tenant_header,
            "method": request.method,
            "path": request.path,
            "status": request.backend_status,
            "response_bytes": request.response_length,
            "latency_ms": request.latency_ms,
            "timestamp": request.at.to_rfc3339(),
        },
    })
}

fn native_record(integration_id: &str, request: &Request) -> Value {
    match integration_id {
        "kong-edge" => kong_record(request),
        "azure-apim-west" => azure_apim_record(request),
        "apigee-eu" => apigee_record(request),
        _ => mulesoft_record(request),
    }
}

fn client(endpoint: &str, key: &str) -> Result<Client, DemoError> {
    let config = ClientConfig {
        gzip: true,
        ..ClientConfig::new(endpoint, key)
    };
    Client::new(config).map_err(|err| DemoError::Gateway(err.to_string()))
}

/// Sends the gateways' traffic to a local `/v1/ingest` and returns what each
/// gateway sent with the responses. The caller drains the queue afterwards.
pub async fn send_all(
    sdk: &aws_config::SdkConfig,
    deployment: &Deployment,
    seed: &Seed,
) -> Result<Vec<GatewaySend>, DemoError> {
    let config = ingest_api::Config::with_names(
        deployment.catalog_table(),
        deployment.dedupe_table(),
        deployment.table("IdempotencyTable"),
        deployment.metering_queue_url(),
    );
    let api = Arc::new(ingest_api::from_sdk(sdk, &config));
    let listener = crate::serve::bind_local(0)
        .await
        .map_err(|err| DemoError::Gateway(format!("failed to bind 127.0.0.1: {err}")))?;
    let endpoint = format!(
        "http://{}/v1/ingest",
        listener.local_addr().map_err(|err| DemoError::Gateway(err.to_string()))?
    );
    let server = tokio::spawn(crate::serve::serve(listener, api));

    let result = send_to(&endpoint, seed).await;
    server.abort();
    result
}

async fn send_to(endpoint: &str, seed: &Seed) -> Result<Vec<GatewaySend>, DemoError> {
    let requests = gateway_traffic(seed);
    let mut dealt: BTreeMap<&str, Vec<Request>> = BTreeMap::new();
    for (index, request) in requests.into_iter().enumerate() {
        dealt.entry(GATEWAYS[index % GATEWAYS.len()]).or_default().push(request);
    }

    let mut sends = Vec::new();
    for (integration_id, requests) in dealt {
        let key = seed
            .ingest_key_for(integration_id)
            .ok_or_else(|| DemoError::Gateway(format!("seed has no ingest key for {integration_id}")))?;
        let client = client(endpoint, key)?;

        // A third of the Apigee traffic goes as CloudEvents, the rest natively.
        let (cloud, native): (Vec<Request>, Vec<Request>) = if integration_id == CLOUDEVENTS_INTEGRATION {
            let split = requests.len() / 3;
            (requests[..split].to_vec(), requests[split..].to_vec())
        } else {
            (Vec::new(), requests)
        };

        let records: Vec<Value> = native.iter().map(|r| native_record(integration_id, r)).collect();
        let body = serde_json::to_vec(&records).map_err(|err| DemoError::Gateway(err.to_string()))?;
        let batch = client
            .send_raw_batch("application/json", body, None)
            .await
            .map_err(|err| DemoError::Gateway(format!("{integration_id}: {err}")))?;
        let mut report = SendReport::default();
        report.push(batch);
        sends.push(GatewaySend {
            integration_id: integration_id.to_owned(),
            format: "native",
            requests: native,
            report,
        });

        if !cloud.is_empty() {
            let events: Vec<Value> = cloud.iter().map(cloud_event).collect();
            let report = client
                .send_cloudevents(&events)
                .await
                .map_err(|err| DemoError::Gateway(format!("{integration_id}: {err}")))?;
            sends.push(GatewaySend {
                integration_id: integration_id.to_owned(),
                format: "cloudevents",
                requests: cloud,
                report,
            });
        }
    }
    Ok(sends)
}
