//! MuleSoft Anypoint (Mule 4): the record that the reference custom policy in
//! `infra/gateways/mulesoft/` posts after the API's flow has returned its response.
//!
//! | record key | DataWeave expression | request field |
//! | --- | --- | --- |
//! | `correlationId` | `correlationId` | correlation id |
//! | `timestamp` | `now()` before the flow runs, as RFC 3339 with an offset | timestamp |
//! | `method` | `attributes.method` | method |
//! | `maskedRequestPath` | `attributes.maskedRequestPath` (path below the listener's `/*`) | path, when present |
//! | `requestPath` | `attributes.requestPath` | path, otherwise |
//! | `tenantId` | `attributes.headers.*'x-tenant-id'` joined with commas | tenant |
//! | `statusCode` | `attributes.statusCode` of the response | status |
//! | `contentLength` | `attributes.headers['content-length']` of the response | response bytes |
//! | `latencyMs` | milliseconds between `now()` before and after the flow | latency |
//!
//! The policy sees no APIkit route template, so the path is the concrete one.

use serde_json::{Map, Value};

use super::{fields, Format};
use crate::gateway::GatewayRequest;

/// The custom policy's record format.
pub(super) const FORMAT: Format = Format {
    gateway: "MuleSoft",
    record: "a MuleSoft policy record (an object with `correlationId`)",
    is_record,
    read,
};

fn is_record(record: &Map<String, Value>) -> bool {
    record.contains_key("correlationId")
}

fn read(record: &Map<String, Value>) -> Result<GatewayRequest, String> {
    let id = fields::required_str(fields::lookup(record, &["correlationId"]), "correlationId")?;
    let correlation_id = fields::correlation_id(id, "correlationId")?;
    let method = fields::method(fields::lookup(record, &["method"]), "method")?;
    let path = request_path(record)?;

    let tenant_header = fields::optional_str(fields::lookup(record, &["tenantId"]), "tenantId")?;
    let tenant_id = fields::tenant(tenant_header)?;
    let status = fields::status(fields::lookup(record, &["statusCode"]), "statusCode")?;
    let response_bytes = fields::optional_count(fields::lookup(record, &["contentLength"]), "contentLength")?;
    let latency_ms = fields::optional_count(fields::lookup(record, &["latencyMs"]), "latencyMs")?;
    let timestamp = fields::rfc3339_utc(fields::lookup(record, &["timestamp"]), "timestamp", false)?;

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

/// Reads the path below the listener's wildcard when Mule reports one, else
/// the full request path.
fn request_path(record: &Map<String, Value>) -> Result<String, String> {
    let masked = fields::optional_str(fields::lookup(record, &["maskedRequestPath"]), "maskedRequestPath")?;
    if let Some(masked) = masked {
        let masked = if masked.starts_with('/') {
            masked.to_owned()
        } else {
            format!("/{masked}")
        };
        return fields::path(&masked, "maskedRequestPath");
    }

    let request_path = fields::required_str(fields::lookup(record, &["requestPath"]), "requestPath")?;
    fields::path(request_path, "requestPath")
}

#[cfg(test)]
mod tests {
    
    use serde_json::json;

    use super::*;
    use crate::adapters::test_support::{at_millis, fixture, fixture_with, parse_all, parse_one};
    use crate::adapters::{parse, AdapterError};
    use crate::catalog::GatewayKind;

    const RECORD: &str = include_str!("../../../tests/fixtures/gateways/mulesoft/policy-record.json");
    const UNMASKED: &str = include_str!("../../../tests/fixtures/gateways/mulesoft/policy-record-unmasked.json");

    fn parse_mule(body: &Value) -> Vec<Result<GatewayRequest, String>> {
        parse_all(GatewayKind::Mulesoft, body)
    }

    fn parse_record(record: &Value) -> Result<GatewayRequest, String> {
        parse_one(GatewayKind::Mulesoft, record)
    }

    fn record_with(key: &str, value: Value) -> Value {
        fixture_with(RECORD, key, value)
    }

    #[test]
    fn mule_record_parsed_exactly() {
        let expected = GatewayRequest {
            correlation_id: "3f2e1d0c-9b8a-11f0-a7c6-0242ac120002".to_owned(),
            tenant_id: Some("acme".to_owned()),
            method: "GET".to_owned(),
            path: "/pets/42".to_owned(),
            status: 200,
            response_bytes: Some(512),
            latency_ms: Some(35),
            timestamp: at_millis(1_796_119_200_123),
        };
        assert_eq!(parse_mule(&fixture(RECORD)), vec![Ok(expected)]);
    }

    #[test]
    fn mule_unmasked_record_parsed_exactly() {
        let expected = GatewayRequest {
            correlation_id: "7c6b5a49-9b8a-11f0-a7c6-0242ac120002".to_owned(),
            tenant_id: None,
            method: "POST".to_owned(),
            path: "/orders".to_owned(),
            status: 503,
            response_bytes: None,
            latency_ms: Some(30012),
            timestamp: at_millis(1_796_119_201_456),
        };
        assert_eq!(parse_mule(&fixture(UNMASKED)), vec![Ok(expected)]);
    }

    #[test]
    fn mule_array_of_records_parsed_in_order() {
        let results = parse_mule(&json!([fixture(RECORD), fixture(UNMASKED)]));
        assert_eq!(results.len(), 2);
        assert_eq!(results[0], parse_record(&fixture(RECORD)));
        assert_eq!(results[1], parse_record(&fixture(UNMASKED)));
    }

    #[test]
    fn mule_masked_path_without_slash_prefixed() {
        let request = parse_record(&record_with("maskedRequestPath", json!("pets/42"))).expect("record parses");
        assert_eq!(request.path, "/pets/42");
    }

    #[test]
    fn mule_comma_joined_tenant_rejected() {
        let reason = parse_record(&record_with("tenantId", json!("acme,globex"))).unwrap_err();
        assert!(reason.contains("X-Tenant-Id"), "{reason}");
    }

    #[test]
    fn mule_dash_or_empty_tenant_absent() {
        for value in ["-", ""] {
            let request = parse_record(&record_with("tenantId", json!(value))).expect("record parses");
            assert_eq!(request.tenant_id, None, "value {value:?}");
        }
    }

    #[test]
    fn mule_invalid_records_rejected_at_index() {
        let mut no_paths = record_with("maskedRequestPath", json!(null));
        no_paths.as_object_mut().expect("record object").remove("requestPath");

        let body = json!([
            fixture(RECORD),
            record_with("correlationId", json!(null)),
            record_with("timestamp", json!("2026-12-01T10:00:00")),
            record_with("statusCode", json!("OK")),
            no_paths,
            record_with("method", json!("")),
            fixture(UNMASKED),
        ]);
        let results = parse_mule(&body);

        assert_eq!(results.len(), 7);
        assert!(results[0].is_ok(), "{:?}", results[0]);
        assert_eq!(results[1], Err("correlationId is missing".to_owned()));
        assert!(
            results[2]
                .as_ref()
                .is_err_and(|reason| reason.starts_with("timestamp must be an RFC 3339")),
            "{:?}",
            results[2]
        );
        assert_eq!(
            results[3],
            Err("statusCode must be an integer from 100 to 599, got \"OK\"".to_owned())
        );
        assert_eq!(results[4], Err("requestPath is missing".to_owned()));
        assert_eq!(results[5], Err("method is empty".to_owned()));
        assert!(results[6].is_ok(), "{:?}", results[6]);
    }

    #[test]
    fn mule_object_without_correlation_id_invalid_shape() {
        let mut record = fixture(RECORD);
        record.as_object_mut().expect("record object").remove("correlationId");
        let result = parse(GatewayKind::Mulesoft, &record);
        assert!(
            matches!(
                result,
                Err(AdapterError::InvalidShape {
                    gateway: "MuleSoft",
                    ..
                })
            ),
            "{result:?}"
        );
    }
}
