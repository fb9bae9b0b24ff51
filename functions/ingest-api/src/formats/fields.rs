//! Reading the request fields that the `aforo.ingest.v1` events and the
//! CloudEvents `data` objects share, and the checks every request passes,
//! whatever format it came in.

use aforo::gateway::GatewayRequest;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Maximum correlation id length, in bytes. A CloudEvents id is a JSON array of the
/// event's `source` and `id`, so this leaves room for both.
const MAX_CORRELATION_ID_BYTES: usize = 2_048;

/// Maximum tenant id length, in characters.
const MAX_TENANT_ID_CHARS: usize = 256;

/// Maximum method name length, in characters.
const MAX_METHOD_CHARS: usize = 32;

/// Maximum path length, in bytes. Many HTTP servers reject longer request lines,
/// and the bound keeps each record far below the 256 KiB SQS message limit.
const MAX_PATH_BYTES: usize = 8_192;

/// Maximum length of a rejection reason sent back, in characters.
const MAX_REASON_CHARS: usize = 256;

/// Builds a request from the fields of one event object.
///
/// `fallback_time` is used when the object has no `timestamp`, as a CloudEvent
/// whose `time` attribute carries it.
pub(crate) fn request_from_fields(
    fields: &Map<String, Value>,
    correlation_id: String,
    fallback_time: Option<DateTime<Utc>>,
) -> Result<GatewayRequest, String> {
    let tenant_id = match fields.get("tenant_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(tenant)) => Some(tenant.clone()),
        Some(_) => return Err("tenant_id must be a string or null".to_owned()),
    };

    let method = fields
        .get("method")
        .and_then(Value::as_str)
        .ok_or("method must be a string such as GET")?;
    let path = fields
        .get("path")
        .and_then(Value::as_str)
        .ok_or("path must be a string that starts with /")?;
    let status = fields
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|status| u16::try_from(status).ok())
        .ok_or("status must be an integer from 100 to 599")?;

    let response_bytes = optional_count(fields, "response_bytes")?;
    let latency_ms = optional_count(fields, "latency_ms")?;

    let timestamp = match fields.get("timestamp") {
        None | Some(Value::Null) => fallback_time,
        Some(Value::String(text)) => parse_time(text),
        Some(_) => None,
    }
    .ok_or("timestamp must be an RFC 3339 date-time such as 2026-12-01T10:00:00Z")?;

    Ok(GatewayRequest {
        correlation_id,
        tenant_id,
        method: method.to_owned(),
        path: path.to_owned(),
        status,
        response_bytes,
        latency_ms,
        timestamp,
    })
}

/// Parses an RFC 3339 date-time into UTC.
pub(crate) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

fn optional_count(fields: &Map<String, Value>, name: &str) -> Result<Option<u64>, String> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("{name} must be a non-negative integer or null")),
    }
}

/// Checks a request from any format and puts it into the form the catalog
/// matches: upper-case method, path without query or fragment, no empty tenant.
pub(crate) fn normalize(mut request: GatewayRequest) -> Result<GatewayRequest, String> {
    if request.correlation_id.is_empty() || request.correlation_id.len() > MAX_CORRELATION_ID_BYTES {
        return Err(format!(
            "the request id must be 1 to {MAX_CORRELATION_ID_BYTES} bytes long"
        ));
    }

    request.tenant_id = request
        .tenant_id
        .map(|tenant| tenant.trim().to_owned())
        .filter(|tenant| !tenant.is_empty());
    if request
        .tenant_id
        .as_ref()
        .is_some_and(|tenant| tenant.chars().count() > MAX_TENANT_ID_CHARS)
    {
        return Err(format!("tenant_id must be at most {MAX_TENANT_ID_CHARS} characters"));
    }

    let method_is_token = !request.method.is_empty()
        && request.method.len() <= MAX_METHOD_CHARS
        && request.method.bytes().all(is_token_byte);
    if !method_is_token {
        return Err("method must be an HTTP method name such as GET".to_owned());
    }
    request.method = request.method.to_ascii_uppercase();

    // Routes are matched on the path alone.
    let end = request.path.find(['?', '#']).unwrap_or(request.path.len());
    request.path.truncate(end);
    if !request.path.starts_with('/') || request.path.len() > MAX_PATH_BYTES {
        return Err(format!(
            "path must start with / and be at most {MAX_PATH_BYTES} bytes long"
        ));
    }

    if !(100..=599).contains(&request.status) {
        return Err("status must be an integer from 100 to 599".to_owned());
    }
    Ok(request)
}

/// Whether a byte may appear in an HTTP method (`tchar` of RFC 9110).
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Shortens a rejection reason from an adapter to a bounded length.
pub(crate) fn bounded_reason(reason: String) -> String {
    if reason.chars().count() <= MAX_REASON_CHARS {
        return reason;
    }
    let mut shortened: String = reason.chars().take(MAX_REASON_CHARS - 3).collect();
    shortened.push_str("...");
    shortened
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(value: Value) -> Map<String, Value> {
        let Value::Object(map) = value else { panic!("not an object") };
        map
    }

    fn sample() -> Value {
        json!({
            "tenant_id": "acme",
            "method": "get",
            "path": "/pets/42?verbose=1",
            "status": 200,
            "response_bytes": 512,
            "latency_ms": 35,
            "timestamp": "2026-12-01T10:00:00+01:00"
        })
    }

    fn read(value: Value) -> Result<GatewayRequest, String> {
        request_from_fields(&fields(value), "r-1".to_owned(), None).and_then(normalize)
    }

    #[test]
    fn request_reads_every_field() {
        let request = read(sample()).unwrap();

        assert_eq!(request.correlation_id, "r-1");
        assert_eq!(request.tenant_id.as_deref(), Some("acme"));
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/pets/42");
        assert_eq!(request.status, 200);
        assert_eq!(request.response_bytes, Some(512));
        assert_eq!(request.latency_ms, Some(35));
        assert_eq!(request.timestamp, parse_time("2026-12-01T09:00:00Z").unwrap());
    }

    #[test]
    fn request_treats_empty_tenant_as_missing() {
        let mut event = sample();
        event["tenant_id"] = json!("  ");
        assert_eq!(read(event).unwrap().tenant_id, None);
    }

    #[test]
    fn request_allows_missing_optional_counts() {
        let mut event = sample();
        event.as_object_mut().unwrap().remove("response_bytes");
        event["latency_ms"] = Value::Null;

        let request = read(event).unwrap();

        assert_eq!(request.response_bytes, None);
        assert_eq!(request.latency_ms, None);
    }

    #[test]
    fn request_rejects_status_out_of_range() {
        for status in [json!(99), json!(600), json!(70_000), json!("200"), json!(-1)] {
            let mut event = sample();
            event["status"] = status.clone();
            assert_eq!(
                read(event).unwrap_err(),
                "status must be an integer from 100 to 599",
                "status {status}"
            );
        }
    }

    #[test]
    fn request_rejects_negative_bytes() {
        let mut event = sample();
        event["response_bytes"] = json!(-5);
        assert_eq!(read(event).unwrap_err(), "response_bytes must be a non-negative integer or null");
    }

    #[test]
    fn request_rejects_invalid_timestamp() {
        let mut event = sample();
        event["timestamp"] = json!("yesterday");
        assert!(read(event).unwrap_err().starts_with("timestamp must be"));
    }

    #[test]
    fn request_uses_fallback_time() {
        let mut event = sample();
        event.as_object_mut().unwrap().remove("timestamp");
        let time = parse_time("2026-01-02T03:04:05Z");

        let request = request_from_fields(&fields(event), "r-1".to_owned(), time).unwrap();

        assert_eq!(Some(request.timestamp), time);
    }

    #[test]
    fn request_rejects_relative_path() {
        let mut event = sample();
        event["path"] = json!("pets");
        assert!(read(event).unwrap_err().starts_with("path must start with /"));
    }

    #[test]
    fn request_rejects_method_with_space() {
        let mut event = sample();
        event["method"] = json!("GET /pets");
        assert_eq!(read(event).unwrap_err(), "method must be an HTTP method name such as GET");
    }

    #[test]
    fn normalize_rejects_long_tenant() {
        let mut event = sample();
        event["tenant_id"] = json!("t".repeat(257));
        assert_eq!(read(event).unwrap_err(), "tenant_id must be at most 256 characters");
    }

    #[test]
    fn bounded_reason_shortens_long_text() {
        let reason = bounded_reason("x".repeat(1_000));
        assert_eq!(reason.chars().count(), 256);
        assert!(reason.ends_with("..."));
    }
}
