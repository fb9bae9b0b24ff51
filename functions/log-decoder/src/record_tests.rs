use std::collections::BTreeMap;

use aforo::event::{RejectReason, METRIC_REQUESTS, METRIC_RESPONSE_BYTES};
use chrono::{TimeZone, Utc};

use super::*;
use crate::access_log::{parse_line, ApiKind};

const DEFAULT_CLASSES: [u16; 3] = [2, 3, 4];

fn line() -> AccessLogLine {
    AccessLogLine {
        kind: ApiKind::Rest,
        correlation_id: "ext-1".to_owned(),
        api_id: Some("a1b2c3d4e5".to_owned()),
        timestamp: Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 0).unwrap(),
        method: Some("GET".to_owned()),
        route: Some("/pets/{petId}".to_owned()),
        status: 200,
        tenant_id: Some("acme".to_owned()),
        error_response_type: None,
        metrics: BTreeMap::from([
            (METRIC_REQUESTS.to_owned(), 1),
            (METRIC_RESPONSE_BYTES.to_owned(), 512),
        ]),
        invalid_metrics: Vec::new(),
    }
}

/// When the decoder received the delivery, after every log event's timestamp.
fn received_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 5).unwrap()
}

fn known() -> CatalogFacts {
    CatalogFacts {
        integration_id: Some("aws-rest-petstore".to_owned()),
        tenant_known: true,
        product_id: Some("pets".to_owned()),
    }
}

fn unattributed_reason(record: &MeteringRecord) -> Option<UnattributedReason> {
    match record {
        MeteringRecord::Unattributed(event) => Some(event.reason),
        _ => None,
    }
}

#[test]
fn status_2xx_is_billable() {
    assert_eq!(non_billable(&line(), &DEFAULT_CLASSES), None);
}

#[test]
fn status_4xx_is_billable_by_default() {
    let line = AccessLogLine {
        status: 404,
        ..line()
    };
    assert_eq!(non_billable(&line, &DEFAULT_CLASSES), None);
}

#[test]
fn status_5xx_is_not_billable_by_default() {
    let line = AccessLogLine {
        status: 502,
        ..line()
    };
    assert_eq!(
        non_billable(&line, &DEFAULT_CLASSES),
        Some(NonBillable::StatusClass(5))
    );
}

#[test]
fn status_4xx_not_billable_when_excluded() {
    let line = AccessLogLine {
        status: 429,
        ..line()
    };
    assert_eq!(non_billable(&line, &[2]), Some(NonBillable::StatusClass(4)));
}

#[test]
fn status_5xx_billable_when_included() {
    let line = AccessLogLine {
        status: 500,
        ..line()
    };
    assert_eq!(non_billable(&line, &[2, 5]), None);
}

#[test]
fn authorizer_rejections_are_not_billable() {
    for error_type in AUTHORIZER_REJECTIONS {
        let line = AccessLogLine {
            status: 403,
            error_response_type: Some(error_type.to_owned()),
            ..line()
        };
        assert_eq!(
            non_billable(&line, &DEFAULT_CLASSES),
            Some(NonBillable::AuthorizerRejection(error_type.to_owned())),
            "{error_type}"
        );
    }
}

#[test]
fn throttled_request_is_billable() {
    let line = AccessLogLine {
        status: 429,
        error_response_type: Some("THROTTLED".to_owned()),
        ..line()
    };
    assert_eq!(non_billable(&line, &DEFAULT_CLASSES), None);
}

#[test]
fn known_facts_give_usage() {
    let record = access_record(&line(), &known(), "api-logs");
    let MeteringRecord::Usage(event) = record else {
        panic!("expected usage, got {record:?}");
    };

    assert_eq!(event.source, "aws-rest-petstore");
    assert_eq!(
        event.idempotency_key,
        idempotency_key("aws-rest-petstore", "ext-1")
    );
    assert_eq!(event.correlation_id, "ext-1");
    assert_eq!(event.tenant_id, "acme");
    assert_eq!(event.product_id, "pets");
    assert_eq!(event.route, "/pets/{petId}");
    assert_eq!(event.method, "GET");
    assert_eq!(event.status, 200);
    assert_eq!(
        event.timestamp,
        Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 0).unwrap()
    );
    assert_eq!(event.metrics, line().metrics);
}

#[test]
fn unknown_integration_uses_log_group_source() {
    let record = access_record(&line(), &CatalogFacts::default(), "api-logs");

    assert_eq!(
        unattributed_reason(&record),
        Some(UnattributedReason::UnknownIntegration)
    );
    assert_eq!(record.source(), "loggroup:api-logs");
    assert_eq!(
        record.idempotency_key(),
        idempotency_key("loggroup:api-logs", "ext-1")
    );
}

#[test]
fn missing_tenant_is_unattributed() {
    let line = AccessLogLine {
        tenant_id: None,
        ..line()
    };
    let record = access_record(&line, &known(), "api-logs");

    assert_eq!(
        unattributed_reason(&record),
        Some(UnattributedReason::MissingTenant)
    );
    assert_eq!(record.source(), "aws-rest-petstore");
}

#[test]
fn unknown_tenant_is_unattributed() {
    let facts = CatalogFacts {
        tenant_known: false,
        ..known()
    };
    let record = access_record(&line(), &facts, "api-logs");
    assert_eq!(
        unattributed_reason(&record),
        Some(UnattributedReason::UnknownTenant)
    );
}

#[test]
fn unknown_route_is_unattributed() {
    let facts = CatalogFacts {
        product_id: None,
        ..known()
    };
    let record = access_record(&line(), &facts, "api-logs");
    assert_eq!(
        unattributed_reason(&record),
        Some(UnattributedReason::UnknownRoute)
    );
}

#[test]
fn missing_method_is_unknown_route() {
    let line = AccessLogLine {
        method: None,
        ..line()
    };
    let record = access_record(&line, &known(), "api-logs");
    assert_eq!(
        unattributed_reason(&record),
        Some(UnattributedReason::UnknownRoute)
    );
}

#[test]
fn unattributed_keeps_known_values() {
    let facts = CatalogFacts {
        tenant_known: false,
        ..known()
    };
    let MeteringRecord::Unattributed(event) = access_record(&line(), &facts, "api-logs") else {
        panic!("expected an unattributed record");
    };

    assert_eq!(event.tenant_id.as_deref(), Some("acme"));
    assert_eq!(event.route.as_deref(), Some("/pets/{petId}"));
    assert_eq!(event.method.as_deref(), Some("GET"));
    assert_eq!(event.status, Some(200));
    assert_eq!(event.correlation_id, "ext-1");
    assert_eq!(event.metrics, line().metrics);
}

#[test]
fn fixture_lines_without_integration_are_unknown_integration() {
    let fixture = include_str!("../../../tests/fixtures/public/apigw_access_rest_json_elastic.jsonl");
    for message in fixture.lines() {
        let line = parse_line(message).unwrap();
        let record = access_record(&line, &CatalogFacts::default(), "api-logs");
        assert_eq!(
            unattributed_reason(&record),
            Some(UnattributedReason::UnknownIntegration)
        );
    }
}

#[test]
fn fixture_lines_with_integration_lack_tenant() {
    let fixture = include_str!("../../../tests/fixtures/public/apigw_access_httpapi_json_elastic.jsonl");
    for message in fixture.lines() {
        let line = parse_line(message).unwrap();
        let record = access_record(&line, &known(), "api-logs");
        assert_eq!(
            unattributed_reason(&record),
            Some(UnattributedReason::MissingTenant)
        );
    }
}

fn log_event() -> LogEvent {
    LogEvent {
        id: "34622316099697884706540976068822859012661220141643892546".to_owned(),
        timestamp: 1_552_518_348_220,
        message: "REPORT RequestId: 6234bffe".to_owned(),
    }
}

#[test]
fn rejected_record_keys_on_event_id() {
    let rejection = parse_line(&log_event().message).unwrap_err();
    let record = rejected_record(
        &rejection,
        None,
        "/aws/lambda/echo-nodejs",
        "stream-1",
        &log_event(),
        received_at(),
    );
    let MeteringRecord::Rejected(line) = record else {
        panic!("expected a rejected record");
    };

    let source = "loggroup:/aws/lambda/echo-nodejs";
    let expected_key = idempotency_key(
        source,
        "cwl:34622316099697884706540976068822859012661220141643892546",
    );
    assert_eq!(line.idempotency_key, expected_key);
    assert_eq!(line.source, source);
    assert_eq!(line.reason, RejectReason::NotJson);
    assert_eq!(line.log_group, "/aws/lambda/echo-nodejs");
    assert_eq!(line.log_stream, "stream-1");
    assert_eq!(line.log_event_id, log_event().id);
    assert_eq!(
        line.timestamp,
        DateTime::from_timestamp_millis(1_552_518_348_220).unwrap()
    );
}

#[test]
fn rejected_record_uses_integration_source() {
    let rejection = parse_line(r#"{"requestId":"-","status":"200","apiId":"a1b2c3d4e5"}"#).unwrap_err();
    let record = rejected_record(
        &rejection,
        Some("aws-rest-petstore"),
        "api-logs",
        "s",
        &log_event(),
        received_at(),
    );
    assert_eq!(record.source(), "aws-rest-petstore");
}

#[test]
fn rejected_record_leaves_out_line() {
    let event = LogEvent {
        message: "Authorization: Bearer sk_live_123".to_owned(),
        ..log_event()
    };
    let rejection = parse_line(&event.message).unwrap_err();
    let record = rejected_record(&rejection, None, "g", "s", &event, received_at());
    let json = serde_json::to_string(&record).unwrap();
    assert!(!json.contains("sk_live_123"));
}

#[test]
fn rejected_record_replaces_time_out_of_range() {
    for timestamp in [-1_000, 0, 4_102_444_800_000, i64::MAX] {
        let event = LogEvent {
            timestamp,
            ..log_event()
        };
        let rejection = parse_line(&event.message).unwrap_err();

        let MeteringRecord::Rejected(line) = rejected_record(&rejection, None, "g", "s", &event, received_at()) else {
            panic!("expected a rejected record");
        };

        assert_eq!(line.timestamp, received_at(), "CloudWatch Logs timestamp {timestamp}");
    }
}

#[test]
fn rejected_record_passes_validation() {
    let rejection = parse_line(&log_event().message).unwrap_err();
    let record = rejected_record(&rejection, None, "/aws/lambda/echo", "s", &log_event(), received_at());
    assert_eq!(record.validate(), Ok(()));
}

#[test]
fn usage_record_passes_validation() {
    assert_eq!(access_record(&line(), &known(), "api-logs").validate(), Ok(()));
}
