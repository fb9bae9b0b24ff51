use chrono::{Datelike, TimeZone};
use serde_json::json;

use super::*;

const REST_FIXTURE: &str =
    include_str!("../../../tests/fixtures/public/apigw_access_rest_json_elastic.jsonl");
const HTTP_FIXTURE: &str =
    include_str!("../../../tests/fixtures/public/apigw_access_httpapi_json_elastic.jsonl");
const MOJ_FIXTURE: &str =
    include_str!("../../../tests/fixtures/public/apigw_access_rest_json_moj_pr3807.json");

/// Builds a REST line in the template's format, with every field set.
fn template_line() -> Value {
    json!({
        "requestId": "req-1",
        "extendedRequestId": "ext-1",
        "requestTimeEpoch": "1773568800000",
        "httpMethod": "GET",
        "resourcePath": "/pets/{petId}",
        "path": "/pets/42",
        "status": "200",
        "responseLength": "512",
        "responseLatency": "37",
        "tenantId": "acme",
        "apiId": "a1b2c3d4e5",
        "stage": "prod",
        "errorResponseType": "-"
    })
}

fn with(mut line: Value, name: &str, value: Value) -> String {
    line[name] = value;
    line.to_string()
}

fn without(mut line: Value, name: &str) -> String {
    if let Value::Object(fields) = &mut line {
        fields.remove(name);
    }
    line.to_string()
}

fn rejected(message: &str) -> LineRejection {
    parse_line(message).unwrap_err()
}

#[test]
fn template_line_parses_every_field() {
    let line = parse_line(&template_line().to_string()).unwrap();

    assert_eq!(line.kind, ApiKind::Rest);
    assert_eq!(line.correlation_id, "ext-1");
    assert_eq!(line.api_id.as_deref(), Some("a1b2c3d4e5"));
    assert_eq!(
        line.timestamp,
        Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 0).unwrap()
    );
    assert_eq!(line.method.as_deref(), Some("GET"));
    assert_eq!(line.route.as_deref(), Some("/pets/{petId}"));
    assert_eq!(line.status, 200);
    assert_eq!(line.tenant_id.as_deref(), Some("acme"));
    assert_eq!(line.error_response_type, None);
    assert_eq!(line.metrics[METRIC_REQUESTS], 1);
    assert_eq!(line.metrics[METRIC_RESPONSE_BYTES], 512);
    assert_eq!(line.metrics[METRIC_LATENCY_MS], 37);
}

#[test]
fn rest_fixture_lines_parse_without_tenant() {
    let lines: Vec<_> = REST_FIXTURE
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 5);

    for message in lines {
        let line = parse_line(message).unwrap();
        assert_eq!(line.kind, ApiKind::Rest);
        assert_eq!(line.tenant_id, None);
        assert_eq!(line.method.as_deref(), Some("GET"));
        assert_eq!(line.status, 200);
        assert_eq!(line.metrics[METRIC_REQUESTS], 1);
        assert!(line.metrics.contains_key(METRIC_RESPONSE_BYTES));
        assert!(!line.metrics.contains_key(METRIC_LATENCY_MS));
    }
}

#[test]
fn rest_fixture_first_line_values() {
    let line = parse_line(REST_FIXTURE.lines().next().unwrap()).unwrap();

    // No extendedRequestId in these lines, so requestId is the correlation id.
    assert_eq!(line.correlation_id, "48752d0f-c99d-4cfa-a5a7-f3c6834d19e5");
    assert_eq!(line.route.as_deref(), Some("/pets"));
    assert_eq!(
        line.timestamp,
        Utc.with_ymd_and_hms(2023, 6, 10, 15, 36, 28).unwrap()
    );
    assert_eq!(line.metrics[METRIC_RESPONSE_BYTES], 184);
    assert_eq!(line.api_id, None);
}

#[test]
fn rest_fixture_line_keeps_api_id() {
    let line = parse_line(REST_FIXTURE.lines().nth(3).unwrap()).unwrap();
    assert_eq!(line.api_id.as_deref(), Some("asad15n3p0"));
    assert_eq!(line.route.as_deref(), Some("/pets/{petId}"));
    assert_eq!(line.metrics[METRIC_RESPONSE_BYTES], 48);
}

#[test]
fn http_fixture_lines_parse_route_key() {
    let lines: Vec<_> = HTTP_FIXTURE
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 5);

    for message in lines {
        let line = parse_line(message).unwrap();
        assert_eq!(line.kind, ApiKind::Http);
        assert_eq!(line.route.as_deref(), Some("/"));
        assert_eq!(line.method.as_deref(), Some("GET"));
        assert_eq!(line.tenant_id, None);
        assert_eq!(line.status, 200);
    }
}

#[test]
fn http_fixture_line_values() {
    let first = parse_line(HTTP_FIXTURE.lines().next().unwrap()).unwrap();
    assert_eq!(first.correlation_id, "GQIVriFLIAMEMsA=");
    assert_eq!(first.api_id, None);
    assert_eq!(
        first.timestamp,
        Utc.with_ymd_and_hms(2023, 6, 9, 12, 54, 8).unwrap()
    );
    assert_eq!(first.metrics[METRIC_RESPONSE_BYTES], 47140);

    let fourth = parse_line(HTTP_FIXTURE.lines().nth(3).unwrap()).unwrap();
    assert_eq!(fourth.api_id.as_deref(), Some("1ax3mj7iqf"));
}

#[test]
fn moj_fixture_uses_epoch_time() {
    let line = parse_line(MOJ_FIXTURE).unwrap();

    assert_eq!(line.kind, ApiKind::Rest);
    assert_eq!(line.correlation_id, "a4188e34-1104-424e-9907-eebbf55dd662");
    assert_eq!(
        line.timestamp,
        DateTime::from_timestamp_millis(1_698_414_057_744).unwrap()
    );
    assert_eq!(line.status, 400);
    assert_eq!(
        line.route.as_deref(),
        Some("/data-product/{data-product-name}/table/{table-name}/schema")
    );
    assert_eq!(line.metrics[METRIC_RESPONSE_BYTES], 87);
    assert_eq!(line.api_id, None);
}

#[test]
fn moj_fixture_method_field_is_not_template() {
    // The line names its method `method`, not the template's `httpMethod`.
    let line = parse_line(MOJ_FIXTURE).unwrap();
    assert_eq!(line.method, None);
}

#[test]
fn dash_tenant_is_no_tenant() {
    let line = parse_line(&with(template_line(), "tenantId", json!("-"))).unwrap();
    assert_eq!(line.tenant_id, None);
}

#[test]
fn empty_tenant_is_no_tenant() {
    let line = parse_line(&with(template_line(), "tenantId", json!(""))).unwrap();
    assert_eq!(line.tenant_id, None);
}

#[test]
fn dash_response_length_is_left_out() {
    let line = parse_line(&with(template_line(), "responseLength", json!("-"))).unwrap();
    assert!(!line.metrics.contains_key(METRIC_RESPONSE_BYTES));
    assert_eq!(line.metrics[METRIC_LATENCY_MS], 37);
}

#[test]
fn dash_latency_is_left_out() {
    let line = parse_line(&with(template_line(), "responseLatency", json!("-"))).unwrap();
    assert!(!line.metrics.contains_key(METRIC_LATENCY_MS));
    assert_eq!(line.metrics[METRIC_REQUESTS], 1);
}

#[test]
fn dash_api_id_is_absent() {
    let line = parse_line(&with(template_line(), "apiId", json!("-"))).unwrap();
    assert_eq!(line.api_id, None);
}

#[test]
fn dash_error_type_is_absent() {
    let line = parse_line(&template_line().to_string()).unwrap();
    assert_eq!(line.error_response_type, None);
}

#[test]
fn error_type_is_kept() {
    let line = parse_line(&with(
        template_line(),
        "errorResponseType",
        json!("ACCESS_DENIED"),
    ))
    .unwrap();
    assert_eq!(line.error_response_type.as_deref(), Some("ACCESS_DENIED"));
}

#[test]
fn dash_resource_path_is_no_route() {
    let line = parse_line(&with(template_line(), "resourcePath", json!("-"))).unwrap();
    assert_eq!(line.route, None);
}

#[test]
fn rest_prefers_extended_request_id() {
    let line = parse_line(&template_line().to_string()).unwrap();
    assert_eq!(line.correlation_id, "ext-1");
}

#[test]
fn rest_falls_back_to_request_id() {
    let line = parse_line(&with(template_line(), "extendedRequestId", json!("-"))).unwrap();
    assert_eq!(line.correlation_id, "req-1");
}

#[test]
fn http_uses_request_id() {
    let mut line = template_line();
    line["routeKey"] = json!("GET /pets/{petId}");
    let line = parse_line(&without(line, "resourcePath")).unwrap();

    assert_eq!(line.kind, ApiKind::Http);
    assert_eq!(line.correlation_id, "req-1");
    assert_eq!(line.route.as_deref(), Some("/pets/{petId}"));
}

#[test]
fn http_default_route_key() {
    let mut line = template_line();
    line["routeKey"] = json!("$default");
    let line = parse_line(&without(line, "resourcePath")).unwrap();

    assert_eq!(line.route.as_deref(), Some("$default"));
    assert_eq!(line.method.as_deref(), Some("GET"));
}

#[test]
fn http_method_falls_back_to_route_key() {
    let mut line = template_line();
    line["routeKey"] = json!("POST /orders");
    let line = parse_line(&without(
        without(line, "resourcePath").parse().unwrap(),
        "httpMethod",
    ))
    .unwrap();
    assert_eq!(line.method.as_deref(), Some("POST"));
}

#[test]
fn http_dash_route_key_is_no_route() {
    let line = parse_line(&with(template_line(), "routeKey", json!("-"))).unwrap();
    assert_eq!(line.kind, ApiKind::Http);
    assert_eq!(line.route, None);
}

#[test]
fn http_invalid_route_key_rejected() {
    let rejection = rejected(&with(template_line(), "routeKey", json!("pets")));
    assert_eq!(rejection.reason, RejectReason::InvalidField);
    assert!(rejection.detail.contains("routeKey"));
}

#[test]
fn clf_time_converts_offset_to_utc() {
    let line = without(template_line(), "requestTimeEpoch");
    let line = parse_line(&with(
        line.parse().unwrap(),
        "requestTime",
        json!("15/Mar/2026:12:30:00 +0200"),
    ))
    .unwrap();
    assert_eq!(
        line.timestamp,
        Utc.with_ymd_and_hms(2026, 3, 15, 10, 30, 0).unwrap()
    );
}

#[test]
fn epoch_time_wins_over_clf_time() {
    let line = with(
        template_line(),
        "requestTime",
        json!("09/Jun/2023:12:54:08 +0000"),
    );
    let line = parse_line(&line).unwrap();
    assert_eq!(
        line.timestamp,
        Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 0).unwrap()
    );
}

#[test]
fn dash_epoch_falls_back_to_clf_time() {
    let mut line = template_line();
    line["requestTimeEpoch"] = json!("-");
    line["requestTime"] = json!("09/Jun/2023:12:54:08 +0000");
    let line = parse_line(&line.to_string()).unwrap();
    assert_eq!(
        line.timestamp,
        Utc.with_ymd_and_hms(2023, 6, 9, 12, 54, 8).unwrap()
    );
}

#[test]
fn numbers_written_unquoted_are_read() {
    let mut line = template_line();
    line["status"] = json!(201);
    line["responseLength"] = json!(7);
    line["requestTimeEpoch"] = json!(1_773_568_800_000_i64);
    let line = parse_line(&line.to_string()).unwrap();

    assert_eq!(line.status, 201);
    assert_eq!(line.metrics[METRIC_RESPONSE_BYTES], 7);
    assert_eq!(
        line.timestamp,
        Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 0).unwrap()
    );
}

#[test]
fn missing_correlation_id_rejected() {
    let mut line = template_line();
    line["extendedRequestId"] = json!("-");
    line["requestId"] = json!("-");
    let rejection = rejected(&line.to_string());

    assert_eq!(rejection.reason, RejectReason::MissingField);
    assert!(rejection.detail.contains("requestId"));
}

#[test]
fn missing_time_rejected() {
    let rejection = rejected(&without(template_line(), "requestTimeEpoch"));
    assert_eq!(rejection.reason, RejectReason::MissingField);
    assert!(rejection.detail.contains("requestTime"));
}

#[test]
fn missing_status_rejected() {
    let rejection = rejected(&with(template_line(), "status", json!("-")));
    assert_eq!(rejection.reason, RejectReason::MissingField);
    assert!(rejection.detail.contains("status"));
}

#[test]
fn rejection_keeps_api_id() {
    let rejection = rejected(&with(template_line(), "status", json!("-")));
    assert_eq!(rejection.api_id.as_deref(), Some("a1b2c3d4e5"));
}

#[test]
fn non_numeric_status_rejected() {
    let rejection = rejected(&with(template_line(), "status", json!("OK")));
    assert_eq!(rejection.reason, RejectReason::InvalidField);
    assert!(rejection.detail.contains("status"));
}

#[test]
fn out_of_range_status_rejected() {
    let rejection = rejected(&with(template_line(), "status", json!("600")));
    assert_eq!(rejection.reason, RejectReason::InvalidField);
}

#[test]
fn bad_epoch_rejected() {
    let rejection = rejected(&with(template_line(), "requestTimeEpoch", json!("soon")));
    assert_eq!(rejection.reason, RejectReason::InvalidField);
    assert!(rejection.detail.contains("requestTimeEpoch"));
}

#[test]
fn bad_clf_time_rejected() {
    let line = without(template_line(), "requestTimeEpoch");
    let rejection = rejected(&with(
        line.parse().unwrap(),
        "requestTime",
        json!("2026-03-15 10:00"),
    ));
    assert_eq!(rejection.reason, RejectReason::InvalidField);
    assert!(rejection.detail.contains("requestTime"));
}

#[test]
fn invalid_response_length_is_left_out() {
    let invalid = [
        json!("12kb"),
        json!("-5"),
        json!("18446744073709551616"),
        json!("1e3"),
        json!(1e3),
        json!(-5),
        json!("1000000000000001"),
        json!({"bytes": 5}),
    ];
    for value in invalid {
        let line = parse_line(&with(template_line(), "responseLength", value.clone())).unwrap();

        assert!(!line.metrics.contains_key(METRIC_RESPONSE_BYTES), "{value}");
        assert_eq!(line.metrics[METRIC_REQUESTS], 1, "{value}");
        assert_eq!(line.metrics[METRIC_LATENCY_MS], 37, "{value}");
        assert_eq!(line.invalid_metrics, ["responseLength"], "{value}");
    }
}

#[test]
fn invalid_latency_is_left_out() {
    let line = parse_line(&with(template_line(), "responseLatency", json!("-5"))).unwrap();

    assert!(!line.metrics.contains_key(METRIC_LATENCY_MS));
    assert_eq!(line.metrics[METRIC_RESPONSE_BYTES], 512);
    assert_eq!(line.invalid_metrics, ["responseLatency"]);
}

#[test]
fn metric_at_bound_is_kept() {
    let line = parse_line(&with(template_line(), "responseLength", json!("1000000000000000"))).unwrap();
    assert_eq!(line.metrics[METRIC_RESPONSE_BYTES], 1_000_000_000_000_000);
    assert!(line.invalid_metrics.is_empty());
}

#[test]
fn dash_metric_is_not_invalid() {
    let line = parse_line(&with(template_line(), "responseLength", json!("-"))).unwrap();
    assert!(line.invalid_metrics.is_empty());
}

#[test]
fn decimal_status_rejected() {
    for value in [json!("200.0"), json!(200.0), json!("abc")] {
        let rejection = rejected(&with(template_line(), "status", value.clone()));
        assert_eq!(rejection.reason, RejectReason::InvalidField, "{value}");
        assert!(rejection.detail.contains("status"), "{value}");
    }
}

#[test]
fn epoch_before_2000_rejected() {
    for epoch in ["-1000", "0", "946684799999"] {
        let rejection = rejected(&with(template_line(), "requestTimeEpoch", json!(epoch)));
        assert_eq!(rejection.reason, RejectReason::InvalidField, "{epoch}");
        assert!(rejection.detail.starts_with("requestTimeEpoch is outside"), "{epoch}: {}", rejection.detail);
    }
}

#[test]
fn epoch_from_2100_rejected() {
    // 2100-01-01T00:00:00Z and 10000-01-01T00:00:00Z.
    for epoch in ["4102444800000", "253402300800000"] {
        let rejection = rejected(&with(template_line(), "requestTimeEpoch", json!(epoch)));
        assert_eq!(rejection.reason, RejectReason::InvalidField, "{epoch}");
        assert!(rejection.detail.contains("requestTimeEpoch"), "{epoch}");
    }
}

#[test]
fn epoch_at_range_ends_accepted() {
    for (epoch, year) in [("946684800000", 2000), ("4102444799999", 2099)] {
        let line = parse_line(&with(template_line(), "requestTimeEpoch", json!(epoch))).unwrap();
        assert_eq!(line.timestamp.year(), year);
    }
}

#[test]
fn clf_time_before_2000_rejected() {
    let line = without(template_line(), "requestTimeEpoch");
    let rejection = rejected(&with(
        line.parse().unwrap(),
        "requestTime",
        json!("31/Dec/1969:23:59:59 +0000"),
    ));
    assert_eq!(rejection.reason, RejectReason::InvalidField);
    assert!(rejection.detail.starts_with("requestTime is outside"), "{}", rejection.detail);
}

#[test]
fn long_line_rejected_before_parsing() {
    let message = format!("{{\"path\":\"{}\"", "a".repeat(MAX_LINE_BYTES));

    let rejection = rejected(&message);

    assert_eq!(rejection.reason, RejectReason::NotAccessLog);
    assert_eq!(
        rejection.detail,
        format!("line is {} bytes, over the 262144-byte limit", message.len())
    );
}

#[test]
fn oversize_fields_rejected() {
    let cases = [
        ("extendedRequestId", 1_025, "extendedRequestId is 1025 bytes, over the 1024-byte limit"),
        ("requestId", 1_025, "requestId is 1025 bytes, over the 1024-byte limit"),
        ("resourcePath", 2_049, "resourcePath is 2049 bytes, over the 2048-byte limit"),
        ("httpMethod", 17, "httpMethod is 17 bytes, over the 16-byte limit"),
        ("tenantId", 129, "tenantId is 129 bytes, over the 128-byte limit"),
        ("apiId", 129, "apiId is 129 bytes, over the 128-byte limit"),
    ];
    for (field, length, detail) in cases {
        let rejection = rejected(&with(template_line(), field, json!("x".repeat(length))));

        assert!(rejection.detail.starts_with(detail), "{field}: {}", rejection.detail);
        assert!(!rejection.detail.contains("xxxx"), "{field}: {}", rejection.detail);
    }
}

#[test]
fn oversize_field_is_invalid_field() {
    let rejection = rejected(&with(template_line(), "tenantId", json!("t".repeat(3_000))));
    assert_eq!(rejection.reason, RejectReason::InvalidField);
}

#[test]
fn fields_at_limits_accepted() {
    let mut line = template_line();
    line["extendedRequestId"] = json!("e".repeat(1_024));
    line["resourcePath"] = json!(format!("/{}", "p".repeat(2_047)));
    line["tenantId"] = json!("t".repeat(128));
    line["apiId"] = json!("a".repeat(128));

    let line = parse_line(&line.to_string()).unwrap();

    assert_eq!(line.correlation_id.len(), 1_024);
    assert_eq!(line.route.as_ref().map(String::len), Some(2_048));
    assert_eq!(line.tenant_id.as_ref().map(String::len), Some(128));
}

#[test]
fn rejection_drops_oversize_api_id() {
    let mut line = template_line();
    line["apiId"] = json!("a".repeat(129));
    let rejection = rejected(&line.to_string());
    assert_eq!(rejection.api_id, None);
}

#[test]
fn tenant_with_separator_rejected() {
    let rejection = rejected(&with(template_line(), "tenantId", json!("acme#pets")));
    assert_eq!(rejection.reason, RejectReason::InvalidField);
    assert!(rejection.detail.starts_with("tenantId contains '#'"), "{}", rejection.detail);
}

#[test]
fn tenant_with_control_character_rejected() {
    let rejection = rejected(&with(template_line(), "tenantId", json!("ac\u{7}me")));
    assert_eq!(rejection.detail, "tenantId contains a control character");
}

#[test]
fn oversize_route_key_rejected() {
    let mut line = template_line();
    line["routeKey"] = json!(format!("GET /{}", "p".repeat(2_048)));
    let rejection = rejected(&without(line, "resourcePath"));

    assert_eq!(rejection.reason, RejectReason::InvalidField);
    assert!(rejection.detail.starts_with("routeKey path is 2049 bytes"), "{}", rejection.detail);
}

#[test]
fn object_value_rejected() {
    let rejection = rejected(&with(template_line(), "tenantId", json!({"id": "acme"})));
    assert_eq!(rejection.reason, RejectReason::InvalidField);
    assert!(rejection.detail.contains("tenantId"));
}

#[test]
fn rejection_detail_leaves_out_values() {
    let rejection = rejected(&with(template_line(), "status", json!("Bearer sk_live_123")));
    assert!(!rejection.detail.contains("sk_live_123"));
}

#[test]
fn plain_text_is_not_json() {
    let rejection = rejected("[ERROR] First test message");
    assert_eq!(rejection.reason, RejectReason::NotJson);
    assert_eq!(rejection.api_id, None);
}

#[test]
fn json_array_is_not_access_log() {
    assert_eq!(rejected("[1, 2]").reason, RejectReason::NotAccessLog);
}

#[test]
fn other_json_object_is_not_access_log() {
    let rejection = rejected(r#"{"level":"info","msg":"started","apiId":"a1b2c3d4e5"}"#);
    assert_eq!(rejection.reason, RejectReason::NotAccessLog);
    assert_eq!(rejection.api_id.as_deref(), Some("a1b2c3d4e5"));
}
