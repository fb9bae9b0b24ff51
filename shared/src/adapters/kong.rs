//! Kong Gateway 3.x: entries of the bundled `http-log` plugin.
//!
//! The plugin posts one entry as a JSON object, or an array of entries when
//! `config.queue.max_batch_size` is above 1. An entry is the table that
//! `kong.log.serialize()` builds; the fields read here are:
//!
//! | entry field | request field |
//! | --- | --- |
//! | `request.id` (Kong 3.5 and later), else the `x-kong-request-id` response or request header | correlation id |
//! | `request.headers["x-tenant-id"]` (a string, or an array when repeated) | tenant |
//! | `request.method` | method |
//! | `request.uri` without the query string, else the path of `request.url` | path |
//! | `response.status` | status |
//! | `response.size` | response bytes |
//! | `latencies.request` (milliseconds) | latency |
//! | `started_at` (Unix milliseconds) | timestamp |
//!
//! Kong routes match path prefixes or regular expressions, not templates such
//! as `/pets/{petId}`, so the path is always the concrete request path and the
//! catalog matches it against its templates.

use serde_json::{Map, Value};

use super::{fields, Format};
use crate::gateway::GatewayRequest;

/// The `http-log` entry format.
pub(super) const FORMAT: Format = Format {
    gateway: "Kong",
    record: "a Kong http-log entry (an object with a `request` object)",
    is_record,
    read,
};

const TENANT_HEADER: &str = "x-tenant-id";
const REQUEST_ID_HEADER: &str = "x-kong-request-id";

fn is_record(record: &Map<String, Value>) -> bool {
    record.get("request").is_some_and(Value::is_object)
}

fn read(record: &Map<String, Value>) -> Result<GatewayRequest, String> {
    let request_headers = fields::lookup(record, &["request", "headers"]).and_then(Value::as_object);
    let response_headers = fields::lookup(record, &["response", "headers"]).and_then(Value::as_object);

    let correlation_id = correlation_id(record, request_headers, response_headers)?;
    let method = fields::method(fields::lookup(record, &["request", "method"]), "request.method")?;
    let path = request_path(record)?;
    let tenant_id = fields::tenant(header(request_headers, TENANT_HEADER))?;
    let status = fields::status(fields::lookup(record, &["response", "status"]), "response.status")?;

    // NOTE: response.size is nginx's $bytes_sent, so it counts the status line
    // and headers as well as the body, unlike API Gateway's responseLength.
    let response_bytes = fields::optional_count(fields::lookup(record, &["response", "size"]), "response.size")?;
    let latency_ms = fields::optional_count(fields::lookup(record, &["latencies", "request"]), "latencies.request")?;
    let timestamp = fields::epoch_millis(fields::lookup(record, &["started_at"]), "started_at")?;

    Ok(GatewayRequest {
        correlation_id,
        tenant_id,
        method,
        path,
        status,
        response_bytes,
        latency_ms,
        timestamp,
    })
}

/// Reads `request.id`; Kong before 3.5 logs the id only in the
/// `x-kong-request-id` header, so the response and then the request headers
/// are the fallback.
fn correlation_id(
    record: &Map<String, Value>,
    request_headers: Option<&Map<String, Value>>,
    response_headers: Option<&Map<String, Value>>,
) -> Result<String, String> {
    if let Some(id) = fields::optional_str(fields::lookup(record, &["request", "id"]), "request.id")? {
        return fields::correlation_id(id, "request.id");
    }

    let header_id = header(response_headers, REQUEST_ID_HEADER)
        .into_iter()
        .chain(header(request_headers, REQUEST_ID_HEADER))
        .map(str::trim)
        .find(|id| !id.is_empty());
    match header_id {
        Some(id) => fields::correlation_id(id, REQUEST_ID_HEADER),
        None => Err(format!(
            "request.id is missing and neither response nor request headers contain {REQUEST_ID_HEADER}"
        )),
    }
}

/// Reads the request path from `request.uri`, or from `request.url` when the
/// URI is absent.
fn request_path(record: &Map<String, Value>) -> Result<String, String> {
    if let Some(uri) = fields::optional_str(fields::lookup(record, &["request", "uri"]), "request.uri")? {
        return fields::path(uri, "request.uri");
    }

    let Some(url) = fields::optional_str(fields::lookup(record, &["request", "url"]), "request.url")? else {
        return Err("request.uri and request.url are missing".to_owned());
    };
    let Some((_, after_scheme)) = url.split_once("://") else {
        return Err(format!("request.url is not an absolute URL: {url:?}"));
    };
    match after_scheme.find(['/', '?', '#']) {
        Some(start) if after_scheme[start..].starts_with('/') => fields::path(&after_scheme[start..], "request.url"),
        _ => Ok("/".to_owned()),
    }
}

/// Collects all values of a header, matching its name case-insensitively.
fn header<'a>(headers: Option<&'a Map<String, Value>>, name: &str) -> Vec<&'a str> {
    headers
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.eq_ignore_ascii_case(name))
        .flat_map(|(_, value)| fields::header_values(value))
        .collect()
}

#[cfg(test)]
mod tests {
    
    use serde_json::json;

    use super::*;
    use crate::adapters::test_support::{at_millis, fixture, parse_all, parse_one};
    use crate::adapters::{parse, AdapterError};
    use crate::catalog::GatewayKind;

    const SINGLE: &str = include_str!("../../../tests/fixtures/gateways/kong/http-log-single.json");
    const BATCH: &str = include_str!("../../../tests/fixtures/gateways/kong/http-log-batch.json");

    fn parse_kong(body: &Value) -> Vec<Result<GatewayRequest, String>> {
        parse_all(GatewayKind::Kong, body)
    }

    /// Parses one entry and returns its only result.
    fn parse_entry(entry: &Value) -> Result<GatewayRequest, String> {
        parse_one(GatewayKind::Kong, entry)
    }

    fn single_with_tenant_headers(headers: Value) -> Value {
        let mut entry = fixture(SINGLE);
        entry["request"]["headers"] = headers;
        entry
    }

    #[test]
    fn kong_single_entry_parsed_exactly() {
        let expected = GatewayRequest {
            correlation_id: "8b1e7c4d2f6a4e0b9c3d5a7f1e2b4c6d".to_owned(),
            tenant_id: Some("acme".to_owned()),
            method: "GET".to_owned(),
            path: "/pets/42".to_owned(),
            status: 200,
            response_bytes: Some(734),
            latency_ms: Some(35),
            timestamp: at_millis(1_796_119_200_123),
        };
        assert_eq!(parse_kong(&fixture(SINGLE)), vec![Ok(expected)]);
    }

    #[test]
    fn kong_batch_array_parsed_in_order() {
        let results = parse_kong(&fixture(BATCH));

        let expected = [
            GatewayRequest {
                correlation_id: "0f9e8d7c6b5a49382716a5b4c3d2e1f0".to_owned(),
                tenant_id: Some("acme".to_owned()),
                method: "POST".to_owned(),
                path: "/orders".to_owned(),
                status: 201,
                response_bytes: Some(402),
                latency_ms: Some(61),
                timestamp: at_millis(1_796_119_201_456),
            },
            GatewayRequest {
                correlation_id: "6a1b2c3d4e5f40718293a4b5c6d7e8f9".to_owned(),
                tenant_id: Some("globex".to_owned()),
                method: "GET".to_owned(),
                path: "/pets".to_owned(),
                status: 200,
                response_bytes: Some(1893),
                latency_ms: Some(24),
                timestamp: at_millis(1_796_119_202_789),
            },
            GatewayRequest {
                correlation_id: "c4d5e6f7a8b94c0d1e2f3a4b5c6d7e8f".to_owned(),
                tenant_id: None,
                method: "GET".to_owned(),
                path: "/pets/7".to_owned(),
                status: 401,
                response_bytes: Some(298),
                latency_ms: Some(1),
                timestamp: at_millis(1_796_119_203_012),
            },
        ];
        assert_eq!(results.len(), expected.len());
        for (index, expected) in expected.into_iter().enumerate() {
            assert_eq!(results[index], Ok(expected), "entry {index}");
        }
    }

    #[test]
    fn kong_single_and_one_element_array_agree() {
        let single = parse_kong(&fixture(SINGLE));
        let array = parse_kong(&json!([fixture(SINGLE)]));
        assert_eq!(single, array);
    }

    #[test]
    fn kong_request_id_from_response_header() {
        let mut entry = fixture(SINGLE);
        entry["request"].as_object_mut().expect("request object").remove("id");
        entry["response"]["headers"]["x-kong-request-id"] = json!("from-response-header");
        let request = parse_entry(&entry).expect("entry parses");
        assert_eq!(request.correlation_id, "from-response-header");
    }

    #[test]
    fn kong_request_id_from_request_header() {
        let mut entry = fixture(SINGLE);
        entry["request"].as_object_mut().expect("request object").remove("id");
        entry["response"]["headers"]
            .as_object_mut()
            .expect("headers object")
            .remove("x-kong-request-id");
        entry["request"]["headers"]["X-Kong-Request-Id"] = json!("from-request-header");
        let request = parse_entry(&entry).expect("entry parses");
        assert_eq!(request.correlation_id, "from-request-header");
    }

    #[test]
    fn kong_missing_correlation_id_rejected() {
        let mut entry = fixture(SINGLE);
        entry["request"].as_object_mut().expect("request object").remove("id");
        entry["response"]["headers"]
            .as_object_mut()
            .expect("headers object")
            .remove("x-kong-request-id");
        let reason = parse_entry(&entry).unwrap_err();
        assert!(reason.contains("request.id is missing"), "{reason}");
    }

    #[test]
    fn kong_tenant_header_any_case() {
        for name in ["x-tenant-id", "X-Tenant-Id", "X-TENANT-ID"] {
            let entry = single_with_tenant_headers(json!({ name: "acme" }));
            let request = parse_entry(&entry).expect("entry parses");
            assert_eq!(request.tenant_id.as_deref(), Some("acme"), "header {name}");
        }
    }

    #[test]
    fn kong_tenant_single_element_array() {
        let entry = single_with_tenant_headers(json!({ "x-tenant-id": ["acme"] }));
        let request = parse_entry(&entry).expect("entry parses");
        assert_eq!(request.tenant_id.as_deref(), Some("acme"));
    }

    #[test]
    fn kong_repeated_tenant_header_rejected() {
        let entry = single_with_tenant_headers(json!({ "x-tenant-id": ["acme", "globex"] }));
        let reason = parse_entry(&entry).unwrap_err();
        assert!(reason.contains("X-Tenant-Id"), "{reason}");
    }

    #[test]
    fn kong_comma_joined_tenant_rejected() {
        let entry = single_with_tenant_headers(json!({ "x-tenant-id": "acme,globex" }));
        let reason = parse_entry(&entry).unwrap_err();
        assert!(reason.contains("acme,globex"), "{reason}");
    }

    #[test]
    fn kong_dash_or_empty_tenant_absent() {
        for value in ["-", "", "  "] {
            let entry = single_with_tenant_headers(json!({ "x-tenant-id": value }));
            let request = parse_entry(&entry).expect("entry parses");
            assert_eq!(request.tenant_id, None, "value {value:?}");
        }
    }

    #[test]
    fn kong_path_from_url_without_uri() {
        let mut entry = fixture(SINGLE);
        entry["request"].as_object_mut().expect("request object").remove("uri");
        let request = parse_entry(&entry).expect("entry parses");
        assert_eq!(request.path, "/pets/42");
    }

    #[test]
    fn kong_path_of_bare_host_url_is_root() {
        let mut entry = fixture(SINGLE);
        entry["request"].as_object_mut().expect("request object").remove("uri");
        entry["request"]["url"] = json!("https://api.example.com:443?ping=1");
        let request = parse_entry(&entry).expect("entry parses");
        assert_eq!(request.path, "/");
    }

    #[test]
    fn kong_optional_metrics_absent() {
        let mut entry = fixture(SINGLE);
        entry["response"]
            .as_object_mut()
            .expect("response object")
            .remove("size");
        entry.as_object_mut().expect("entry object").remove("latencies");
        let request = parse_entry(&entry).expect("entry parses");
        assert_eq!(request.response_bytes, None);
        assert_eq!(request.latency_ms, None);
    }

    #[test]
    fn kong_invalid_entries_rejected_at_index() {
        let valid = fixture(SINGLE);

        let mut no_status = fixture(SINGLE);
        no_status["response"]
            .as_object_mut()
            .expect("response object")
            .remove("status");

        let mut bad_started_at = fixture(SINGLE);
        bad_started_at["started_at"] = json!("2026-12-01");

        let mut no_method = fixture(SINGLE);
        no_method["request"]
            .as_object_mut()
            .expect("request object")
            .remove("method");

        let mut negative_latency = fixture(SINGLE);
        negative_latency["latencies"]["request"] = json!(-3);

        let body = json!([
            valid,
            no_status,
            bad_started_at,
            "not an entry",
            no_method,
            negative_latency,
            valid
        ]);
        let results = parse_kong(&body);

        assert_eq!(results.len(), 7);
        assert!(results[0].is_ok(), "{:?}", results[0]);
        assert_eq!(results[1], Err("response.status is missing".to_owned()));
        assert!(
            results[2]
                .as_ref()
                .is_err_and(|reason| reason.starts_with("started_at")),
            "{:?}",
            results[2]
        );
        assert_eq!(results[3], Err("the record is a string, not a JSON object".to_owned()));
        assert_eq!(results[4], Err("request.method is missing".to_owned()));
        assert!(
            results[5]
                .as_ref()
                .is_err_and(|reason| reason.starts_with("latencies.request")),
            "{:?}",
            results[5]
        );
        assert!(results[6].is_ok(), "{:?}", results[6]);
    }

    #[test]
    fn kong_object_without_request_invalid_shape() {
        let body = json!({ "response": { "status": 200 }, "started_at": 1_796_119_200_123_i64 });
        let result = parse(GatewayKind::Kong, &body);
        assert!(
            matches!(result, Err(AdapterError::InvalidShape { gateway: "Kong", .. })),
            "{result:?}"
        );
    }

    #[test]
    fn kong_stream_entry_rejected() {
        let stream_entry = json!({
            "session": { "status": 200, "received": 10, "sent": 20 },
            "started_at": 1_796_119_200_123_i64
        });
        let results = parse_kong(&json!([fixture(SINGLE), stream_entry]));
        assert!(results[0].is_ok(), "{:?}", results[0]);
        assert!(
            results[1]
                .as_ref()
                .is_err_and(|reason| reason.starts_with("request.id is missing")),
            "{:?}",
            results[1]
        );
    }
}
