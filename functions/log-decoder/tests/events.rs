//! The sample events in `events/` (for `cargo lambda invoke` and `sam local
//! invoke`) decode to the deliveries defined here.
//!
//! After changing a delivery, rewrite the files with
//! `cargo test -p log-decoder --test events -- --ignored`.

use std::path::PathBuf;

use aforo::cwl::{self, LogEvent, LogsData};
use log_decoder::access_log::parse_line;
use serde_json::{json, Value};

/// 2026-03-15T10:00:00Z in milliseconds; inside every seed subscription's dates.
const REQUEST_TIME_MS: i64 = 1_773_568_800_000;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events")
}

fn access_line(index: i64, method: &str, resource_path: &str, path: &str, tenant: &str) -> String {
    json!({
        "requestId": format!("6f1c0d2e-0000-4000-8000-00000000000{index}"),
        "extendedRequestId": format!("Xk3pQF{index}oAMEbQw="),
        "requestTimeEpoch": (REQUEST_TIME_MS + index * 1000).to_string(),
        "httpMethod": method,
        "resourcePath": resource_path,
        "path": path,
        "status": "200",
        "responseLength": (180 + index).to_string(),
        "responseLatency": (20 + index).to_string(),
        "tenantId": tenant,
        "apiId": "a1b2c3d4e5",
        "stage": "prod",
        "errorResponseType": "-"
    })
    .to_string()
}

fn log_event(index: i64, message: String) -> LogEvent {
    LogEvent {
        id: format!("3817224956817432409165043520183561940264859930912736{index:04}"),
        timestamp: REQUEST_TIME_MS + index * 1000 + 400,
        message,
    }
}

/// Three requests of tenant acme and one without a tenant.
fn access_logs() -> LogsData {
    LogsData {
        message_type: "DATA_MESSAGE".to_owned(),
        owner: "123456789012".to_owned(),
        log_group: "/aforo/aforo-local/api-access".to_owned(),
        log_stream: "a1b2c3d4e5_prod".to_owned(),
        subscription_filters: vec!["aforo-local-AccessLogSubscription".to_owned()],
        log_events: vec![
            log_event(1, access_line(1, "GET", "/pets", "/pets", "acme")),
            log_event(2, access_line(2, "GET", "/pets/{petId}", "/pets/7", "acme")),
            log_event(3, access_line(3, "GET", "/pets/{petId}", "/pets/12", "acme")),
            log_event(4, access_line(4, "GET", "/pets", "/pets", "-")),
        ],
    }
}

fn control_message() -> LogsData {
    LogsData {
        message_type: "CONTROL_MESSAGE".to_owned(),
        owner: "CloudwatchLogs".to_owned(),
        log_group: String::new(),
        log_stream: String::new(),
        subscription_filters: vec![],
        log_events: vec![LogEvent {
            id: String::new(),
            timestamp: REQUEST_TIME_MS,
            message: "CWL CONTROL MESSAGE: Checking health of destination Lambda Function.".to_owned(),
        }],
    }
}

fn subscription_event(data: &LogsData) -> Value {
    json!({ "awslogs": { "data": cwl::encode(data) } })
}

fn read_event(name: &str) -> LogsData {
    let path = events_dir().join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    let event: Value = serde_json::from_str(&text).unwrap();
    cwl::decode(event["awslogs"]["data"].as_str().unwrap()).unwrap()
}

#[test]
fn access_logs_event_matches_definition() {
    assert_eq!(read_event("access-logs.json"), access_logs());
}

#[test]
fn control_message_event_matches_definition() {
    let decoded = read_event("control-message.json");
    assert_eq!(decoded, control_message());
    assert!(decoded.is_control_message());
}

#[test]
fn access_logs_lines_parse() {
    let lines: Vec<_> = access_logs()
        .log_events
        .iter()
        .map(|event| parse_line(&event.message).unwrap())
        .collect();

    let tenants: Vec<_> = lines.iter().map(|line| line.tenant_id.as_deref()).collect();
    assert_eq!(tenants, vec![Some("acme"), Some("acme"), Some("acme"), None]);
    assert!(lines
        .iter()
        .all(|line| line.api_id.as_deref() == Some("a1b2c3d4e5")));
}

#[test]
#[ignore = "rewrites events/; run with --ignored after changing a delivery"]
fn write_event_files() {
    for (name, data) in [
        ("access-logs.json", access_logs()),
        ("control-message.json", control_message()),
    ] {
        let text = serde_json::to_string_pretty(&subscription_event(&data)).unwrap() + "\n";
        std::fs::write(events_dir().join(name), text).unwrap();
    }
}
