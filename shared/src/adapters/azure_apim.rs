//! Azure API Management: the record that the reference policy fragment in
//! `infra/gateways/azure-apim/` sends with `send-one-way-request`.
//!
//! | record key | policy expression | request field |
//! | --- | --- | --- |
//! | `request_id` | `context.RequestId` (a GUID) | correlation id |
//! | `timestamp` | `context.Timestamp.ToString("o")` (UTC; may print without a zone) | timestamp |
//! | `method` | `context.Request.Method` | method |
//! | `api_path` | `context.Api.Path` (the API URL suffix) | stripped from `path` |
//! | `url_template` | `context.Operation.UrlTemplate`, or `null` when no operation matched | path, when it has no wildcard |
//! | `path` | `context.Request.OriginalUrl.Path` | path, otherwise |
//! | `tenant_id` | `context.Request.Headers.GetValueOrDefault("X-Tenant-Id", "")` (repeated values comma-joined) | tenant |
//! | `status` | `context.Response.StatusCode` | status |
//! | `response_content_length` | `context.Response.Headers.GetValueOrDefault("Content-Length", "")` | response bytes |
//! | `elapsed_ms` | `context.Elapsed.TotalMilliseconds` | latency |
//!
//! Operation URL templates use the same `{name}` parameters as the catalog, so
//! a matched operation reports its template (`/pets/{petId}`).

use serde_json::{Map, Value};

use super::{fields, Format};
use crate::gateway::GatewayRequest;

/// The policy fragment's record format.
pub(super) const FORMAT: Format = Format {
    gateway: "Azure API Management",
    record: "an Azure API Management policy record (an object with `request_id`)",
    is_record,
    read,
};

fn is_record(record: &Map<String, Value>) -> bool {
    record.contains_key("request_id")
}

fn read(record: &Map<String, Value>) -> Result<GatewayRequest, String> {
    let request_id = fields::required_str(fields::lookup(record, &["request_id"]), "request_id")?;
    let correlation_id = fields::correlation_id(request_id, "request_id")?;
    let method = fields::method(fields::lookup(record, &["method"]), "method")?;
    let path = route_path(record)?;

    let tenant_header = fields::optional_str(fields::lookup(record, &["tenant_id"]), "tenant_id")?;
    let tenant_id = fields::tenant(tenant_header)?;
    let status = fields::status(fields::lookup(record, &["status"]), "status")?;
    let response_bytes = fields::optional_count(
        fields::lookup(record, &["response_content_length"]),
        "response_content_length",
    )?;
    let latency_ms = fields::optional_count(fields::lookup(record, &["elapsed_ms"]), "elapsed_ms")?;

    // context.Timestamp is UTC, but a DateTime without a UTC kind prints no zone.
    let timestamp = fields::rfc3339_utc(fields::lookup(record, &["timestamp"]), "timestamp", true)?;

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

/// Returns the operation's URL template when one matched and it has no
/// wildcard, else the concrete path relative to the API URL suffix.
fn route_path(record: &Map<String, Value>) -> Result<String, String> {
    let template = fields::optional_str(fields::lookup(record, &["url_template"]), "url_template")?;
    if let Some(template) = template.filter(|template| !template.contains('*')) {
        // Templates may carry query parameters ("/pets?status={status}"), which path() drops.
        let template = if template.starts_with('/') {
            template.to_owned()
        } else {
            format!("/{template}")
        };
        return fields::path(&template, "url_template");
    }

    let path = fields::path(fields::required_str(fields::lookup(record, &["path"]), "path")?, "path")?;
    let api_path = fields::optional_str(fields::lookup(record, &["api_path"]), "api_path")?;
    Ok(strip_api_path(&path, api_path.unwrap_or("")))
}

/// Removes the API URL suffix (`petstore` in `/petstore/pets/42`), which the
/// catalog's route templates do not contain. APIM matches the suffix without
/// regard to case.
fn strip_api_path(path: &str, api_path: &str) -> String {
    let api_path = api_path.trim_matches('/');
    if api_path.is_empty() {
        return path.to_owned();
    }

    let prefix_len = api_path.len() + 1;
    let has_prefix = path
        .get(1..prefix_len)
        .is_some_and(|segment| segment.eq_ignore_ascii_case(api_path));
    match path.get(prefix_len..) {
        Some("") if has_prefix => "/".to_owned(),
        Some(rest) if has_prefix && rest.starts_with('/') => rest.to_owned(),
        _ => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::adapters::test_support::{at_millis, fixture, fixture_with, parse_all, parse_one};
    use crate::adapters::{parse, AdapterError};
    use crate::catalog::GatewayKind;

    const OUTBOUND: &str = include_str!("../../../tests/fixtures/gateways/azure-apim/outbound-record.json");
    const ON_ERROR: &str = include_str!("../../../tests/fixtures/gateways/azure-apim/on-error-record.json");

    fn parse_apim(body: &Value) -> Vec<Result<GatewayRequest, String>> {
        parse_all(GatewayKind::AzureApim, body)
    }

    fn parse_record(record: &Value) -> Result<GatewayRequest, String> {
        parse_one(GatewayKind::AzureApim, record)
    }

    fn record_with(key: &str, value: Value) -> Value {
        fixture_with(OUTBOUND, key, value)
    }

    #[test]
    fn apim_outbound_record_parsed_exactly() {
        let expected = GatewayRequest {
            correlation_id: "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b".to_owned(),
            tenant_id: Some("acme".to_owned()),
            method: "GET".to_owned(),
            path: "/pets/{petId}".to_owned(),
            status: 200,
            response_bytes: Some(512),
            latency_ms: Some(35),
            timestamp: at_millis(1_796_119_200_123),
        };
        assert_eq!(parse_apim(&fixture(OUTBOUND)), vec![Ok(expected)]);
    }

    #[test]
    fn apim_on_error_record_parsed_exactly() {
        let expected = GatewayRequest {
            correlation_id: "0d9c8b7a-6f5e-4d3c-9b2a-1f0e9d8c7b6a".to_owned(),
            tenant_id: Some("globex".to_owned()),
            method: "DELETE".to_owned(),
            path: "/pets/42/photos".to_owned(),
            status: 404,
            response_bytes: None,
            latency_ms: Some(1),
            timestamp: at_millis(1_796_119_202_789),
        };
        assert_eq!(parse_apim(&fixture(ON_ERROR)), vec![Ok(expected)]);
    }

    #[test]
    fn apim_array_of_records_parsed_in_order() {
        let results = parse_apim(&json!([fixture(OUTBOUND), fixture(ON_ERROR)]));
        assert_eq!(results.len(), 2);
        assert_eq!(results[0], parse_record(&fixture(OUTBOUND)));
        assert_eq!(results[1], parse_record(&fixture(ON_ERROR)));
    }

    #[test]
    fn apim_wildcard_template_uses_path() {
        let request = parse_record(&record_with("url_template", json!("/*"))).expect("record parses");
        assert_eq!(request.path, "/pets/42");
    }

    #[test]
    fn apim_template_query_dropped() {
        let request =
            parse_record(&record_with("url_template", json!("/pets?status={status}"))).expect("record parses");
        assert_eq!(request.path, "/pets");
    }

    #[test]
    fn apim_api_path_prefix_case_insensitive() {
        let mut record = record_with("url_template", json!(null));
        record["path"] = json!("/PetStore/pets/42");
        let request = parse_record(&record).expect("record parses");
        assert_eq!(request.path, "/pets/42");
    }

    #[test]
    fn apim_api_path_only_strips_whole_segment() {
        let mut record = record_with("url_template", json!(null));
        record["path"] = json!("/petstores/pets/42");
        let request = parse_record(&record).expect("record parses");
        assert_eq!(request.path, "/petstores/pets/42");
    }

    #[test]
    fn apim_api_root_path_is_slash() {
        let mut record = record_with("url_template", json!(null));
        record["path"] = json!("/petstore");
        let request = parse_record(&record).expect("record parses");
        assert_eq!(request.path, "/");
    }

    #[test]
    fn apim_empty_api_path_keeps_path() {
        let mut record = record_with("url_template", json!(null));
        record["api_path"] = json!("");
        record["path"] = json!("/pets/42");
        let request = parse_record(&record).expect("record parses");
        assert_eq!(request.path, "/pets/42");
    }

    #[test]
    fn apim_timestamp_offset_converted() {
        let request =
            parse_record(&record_with("timestamp", json!("2026-12-01T11:00:00.123+01:00"))).expect("record parses");
        assert_eq!(request.timestamp, at_millis(1_796_119_200_123));
    }

    #[test]
    fn apim_comma_joined_tenant_rejected() {
        let reason = parse_record(&record_with("tenant_id", json!("acme,globex"))).unwrap_err();
        assert!(reason.contains("acme,globex"), "{reason}");
    }

    #[test]
    fn apim_dash_or_empty_tenant_absent() {
        for value in ["-", ""] {
            let request = parse_record(&record_with("tenant_id", json!(value))).expect("record parses");
            assert_eq!(request.tenant_id, None, "value {value:?}");
        }
    }

    #[test]
    fn apim_invalid_records_rejected_at_index() {
        let mut no_template_no_path = record_with("url_template", json!(null));
        no_template_no_path
            .as_object_mut()
            .expect("record object")
            .remove("path");

        let body = json!([
            fixture(OUTBOUND),
            record_with("request_id", json!(42)),
            record_with("timestamp", json!("01/12/2026 10:00:00")),
            record_with("status", json!(1000)),
            no_template_no_path,
            record_with("elapsed_ms", json!(-0.5)),
            fixture(ON_ERROR),
        ]);
        let results = parse_apim(&body);

        assert_eq!(results.len(), 7);
        assert!(results[0].is_ok(), "{:?}", results[0]);
        assert_eq!(results[1], Err("request_id must be a string, got 42".to_owned()));
        assert!(
            results[2]
                .as_ref()
                .is_err_and(|reason| reason.starts_with("timestamp must be an RFC 3339")),
            "{:?}",
            results[2]
        );
        assert_eq!(
            results[3],
            Err("status must be an integer from 100 to 599, got 1000".to_owned())
        );
        assert_eq!(results[4], Err("path is missing".to_owned()));
        assert!(
            results[5]
                .as_ref()
                .is_err_and(|reason| reason.starts_with("elapsed_ms")),
            "{:?}",
            results[5]
        );
        assert!(results[6].is_ok(), "{:?}", results[6]);
    }

    #[test]
    fn apim_object_without_request_id_invalid_shape() {
        let mut record = fixture(OUTBOUND);
        record.as_object_mut().expect("record object").remove("request_id");
        let result = parse(GatewayKind::AzureApim, &record);
        assert!(
            matches!(
                result,
                Err(AdapterError::InvalidShape {
                    gateway: "Azure API Management",
                    ..
                })
            ),
            "{result:?}"
        );
    }
}
