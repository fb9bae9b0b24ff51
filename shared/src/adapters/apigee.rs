//! Apigee (X, hybrid and Edge): the record that the reference JavaScript
//! policy in `infra/gateways/apigee/` posts from the PostClientFlow.
//!
//! Each key contains one flow variable:
//!
//! | record key | Apigee flow variable | request field |
//! | --- | --- | --- |
//! | `messageid` | `messageid` | correlation id |
//! | `verb` | `request.verb` | method |
//! | `pathsuffix` | `proxy.pathsuffix` (path after the proxy base path; empty means `/`) | path |
//! | `tenant_id` | `request.header.X-Tenant-Id.values.string` (every value, comma-joined) | tenant |
//! | `status_code` | `response.status.code` | status |
//! | `content_length` | `response.header.Content-Length` | response bytes |
//! | `client_received_start_timestamp` | `client.received.start.timestamp` (Unix milliseconds) | timestamp |
//! | `client_sent_end_timestamp` | `client.sent.end.timestamp` (Unix milliseconds, `-1` until the response is sent) | latency = end − start |
//!
//! Apigee conditional flows match paths with patterns, not templates such as
//! `/pets/{petId}`, so the path is always the concrete path suffix.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{fields, Format};
use crate::gateway::GatewayRequest;

/// The PostClientFlow record format.
pub(super) const FORMAT: Format = Format {
    gateway: "Apigee",
    record: "an Apigee PostClientFlow record (an object with `messageid`)",
    is_record,
    read,
};

fn is_record(record: &Map<String, Value>) -> bool {
    record.contains_key("messageid")
}

fn read(record: &Map<String, Value>) -> Result<GatewayRequest, String> {
    let message_id = fields::required_str(fields::lookup(record, &["messageid"]), "messageid")?;
    let correlation_id = fields::correlation_id(message_id, "messageid")?;
    let method = fields::method(fields::lookup(record, &["verb"]), "verb")?;

    let path = match fields::optional_str(fields::lookup(record, &["pathsuffix"]), "pathsuffix")? {
        Some(suffix) => fields::path(suffix, "pathsuffix")?,
        None => "/".to_owned(),
    };

    let tenant_header = fields::optional_str(fields::lookup(record, &["tenant_id"]), "tenant_id")?;
    let tenant_id = fields::tenant(tenant_header)?;
    let status = fields::status(fields::lookup(record, &["status_code"]), "status_code")?;
    let response_bytes = fields::optional_count(fields::lookup(record, &["content_length"]), "content_length")?;

    let start_name = "client_received_start_timestamp";
    let timestamp = fields::epoch_millis(fields::lookup(record, &[start_name]), start_name)?;
    let latency_ms = latency(record, timestamp)?;

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

/// Milliseconds from receiving the request to sending the last response byte.
/// Apigee sets `client.sent.end.timestamp` only in the PostClientFlow and
/// reports `-1` elsewhere, so a value of zero or less means no latency.
fn latency(record: &Map<String, Value>, start: DateTime<Utc>) -> Result<Option<u64>, String> {
    let name = "client_sent_end_timestamp";
    let Some(value) = fields::lookup(record, &[name]) else {
        return Ok(None);
    };
    if value.as_f64().is_some_and(|millis| millis <= 0.0) {
        return Ok(None);
    }

    let end = fields::epoch_millis(Some(value), name)?;
    let elapsed = end.signed_duration_since(start).num_milliseconds();
    u64::try_from(elapsed)
        .map(Some)
        .map_err(|_| format!("{name} is earlier than client_received_start_timestamp"))
}

#[cfg(test)]
mod tests {
    
    use serde_json::json;

    use super::*;
    use crate::adapters::test_support::{at_millis, fixture, fixture_with, parse_all, parse_one};
    use crate::adapters::{parse, AdapterError};
    use crate::catalog::GatewayKind;

    const RECORD: &str = include_str!("../../../tests/fixtures/gateways/apigee/postclientflow-record.json");
    const FAULT_RECORD: &str = include_str!("../../../tests/fixtures/gateways/apigee/postclientflow-fault-record.json");

    fn parse_apigee(body: &Value) -> Vec<Result<GatewayRequest, String>> {
        parse_all(GatewayKind::Apigee, body)
    }

    fn parse_record(record: &Value) -> Result<GatewayRequest, String> {
        parse_one(GatewayKind::Apigee, record)
    }

    fn record_with(key: &str, value: Value) -> Value {
        fixture_with(RECORD, key, value)
    }

    #[test]
    fn apigee_record_parsed_exactly() {
        let expected = GatewayRequest {
            correlation_id: "rrt-0a2f6b3c9e41d7c58-b-ew-13584-1098765-1".to_owned(),
            tenant_id: Some("acme".to_owned()),
            method: "GET".to_owned(),
            path: "/pets/42".to_owned(),
            status: 200,
            response_bytes: Some(512),
            latency_ms: Some(35),
            timestamp: at_millis(1_796_119_200_123),
        };
        assert_eq!(parse_apigee(&fixture(RECORD)), vec![Ok(expected)]);
    }

    #[test]
    fn apigee_fault_record_parsed_exactly() {
        let expected = GatewayRequest {
            correlation_id: "rrt-0a2f6b3c9e41d7c58-b-ew-13584-1098771-1".to_owned(),
            tenant_id: Some("initech".to_owned()),
            method: "POST".to_owned(),
            path: "/orders".to_owned(),
            status: 429,
            response_bytes: None,
            latency_ms: None,
            timestamp: at_millis(1_796_119_201_456),
        };
        assert_eq!(parse_apigee(&fixture(FAULT_RECORD)), vec![Ok(expected)]);
    }

    #[test]
    fn apigee_array_of_records_parsed_in_order() {
        let results = parse_apigee(&json!([fixture(RECORD), fixture(FAULT_RECORD)]));
        assert_eq!(results.len(), 2);
        assert_eq!(results[0], parse_record(&fixture(RECORD)));
        assert_eq!(results[1], parse_record(&fixture(FAULT_RECORD)));
    }

    #[test]
    fn apigee_text_numbers_accepted() {
        let mut record = fixture(RECORD);
        record["status_code"] = json!("200");
        record["client_received_start_timestamp"] = json!("1796119200123");
        record["client_sent_end_timestamp"] = json!("1796119200158");
        assert_eq!(parse_record(&record), parse_record(&fixture(RECORD)));
    }

    #[test]
    fn apigee_empty_pathsuffix_is_root() {
        let request = parse_record(&record_with("pathsuffix", json!(""))).expect("record parses");
        assert_eq!(request.path, "/");
    }

    #[test]
    fn apigee_comma_joined_tenant_rejected() {
        let reason = parse_record(&record_with("tenant_id", json!("acme, globex"))).unwrap_err();
        assert!(reason.contains("X-Tenant-Id"), "{reason}");
    }

    #[test]
    fn apigee_dash_empty_or_null_tenant_absent() {
        for value in [json!("-"), json!(""), json!(null)] {
            let request = parse_record(&record_with("tenant_id", value.clone())).expect("record parses");
            assert_eq!(request.tenant_id, None, "value {value}");
        }
    }

    #[test]
    fn apigee_end_before_start_rejected() {
        let reason = parse_record(&record_with("client_sent_end_timestamp", json!(1_796_119_200_000_i64))).unwrap_err();
        assert_eq!(
            reason,
            "client_sent_end_timestamp is earlier than client_received_start_timestamp"
        );
    }

    #[test]
    fn apigee_invalid_records_rejected_at_index() {
        let mut no_verb = fixture(RECORD);
        no_verb.as_object_mut().expect("record object").remove("verb");

        let body = json!([
            fixture(RECORD),
            record_with("messageid", json!("")),
            no_verb,
            record_with("status_code", json!(0)),
            record_with("client_received_start_timestamp", json!(null)),
            record_with("content_length", json!("many")),
            fixture(FAULT_RECORD),
        ]);
        let results = parse_apigee(&body);

        assert_eq!(results.len(), 7);
        assert!(results[0].is_ok(), "{:?}", results[0]);
        assert_eq!(results[1], Err("messageid is empty".to_owned()));
        assert_eq!(results[2], Err("verb is missing".to_owned()));
        assert_eq!(
            results[3],
            Err("status_code must be an integer from 100 to 599, got 0".to_owned())
        );
        assert_eq!(results[4], Err("client_received_start_timestamp is missing".to_owned()));
        assert!(
            results[5]
                .as_ref()
                .is_err_and(|reason| reason.starts_with("content_length")),
            "{:?}",
            results[5]
        );
        assert!(results[6].is_ok(), "{:?}", results[6]);
    }

    #[test]
    fn apigee_object_without_messageid_invalid_shape() {
        let mut record = fixture(RECORD);
        record.as_object_mut().expect("record object").remove("messageid");
        let result = parse(GatewayKind::Apigee, &record);
        assert!(
            matches!(result, Err(AdapterError::InvalidShape { gateway: "Apigee", .. })),
            "{result:?}"
        );
    }
}
