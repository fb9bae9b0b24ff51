//! The public CloudWatch Logs fixtures: two gzip payloads whose lines are not
//! access logs, and one zlib payload that must fail clearly.

use std::path::PathBuf;

use aforo::catalog::{ApiKey, CatalogStore, Integration, Plan, Route, Subscription, Tenant};
use aforo::cwl::{self, CwlError};
use aforo::event::RejectReason;
use aforo::sqs::SqsSender;
use aforo::store::StoreError;
use log_decoder::access_log::parse_line;
use log_decoder::{Config, DecodeSummary, Decoder, DecoderError};
use serde_json::Value;

/// An empty catalog, because these tests need no catalog facts.
struct EmptyCatalog;

impl CatalogStore for EmptyCatalog {
    async fn api_key(&self, _: &str) -> Result<Option<ApiKey>, StoreError> {
        Ok(None)
    }
    async fn tenant(&self, _: &str) -> Result<Option<Tenant>, StoreError> {
        Ok(None)
    }
    async fn integration(&self, _: &str) -> Result<Option<Integration>, StoreError> {
        Ok(None)
    }
    async fn integration_for_api(&self, _: &str) -> Result<Option<Integration>, StoreError> {
        Ok(None)
    }
    async fn routes(&self, _: &str) -> Result<Vec<Route>, StoreError> {
        Ok(vec![])
    }
    async fn subscriptions(&self, _: &str) -> Result<Vec<Subscription>, StoreError> {
        Ok(vec![])
    }
    async fn plan(&self, _: &str) -> Result<Option<Plan>, StoreError> {
        Ok(None)
    }
}

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/public")
        .join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn data(event: &Value) -> &str {
    event["awslogs"]["data"].as_str().unwrap()
}

/// A decoder whose queue is a closed local port: these tests must fail or
/// finish before anything is sent.
fn decoder() -> Decoder<EmptyCatalog> {
    let sqs_config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let config = Config {
        catalog_table: "unused".to_owned(),
        queue_url: "http://127.0.0.1:9/123456789012/unused".to_owned(),
        cache_ttl: std::time::Duration::ZERO,
        billable_status_classes: vec![2, 3, 4],
        max_message_bytes: 262_144,
        send_max_attempts: 1,
    };
    let sender = SqsSender::new(aws_sdk_sqs::Client::from_conf(sqs_config), &config.queue_url, 1);
    Decoder::new(EmptyCatalog, sender, &config)
}

#[test]
fn lambda_events_fixture_lines_are_not_json() {
    let logs = cwl::decode(data(&fixture("cwl_event_aws_lambda_events_fixture.json"))).unwrap();

    assert_eq!(logs.log_group, "testLogGroup");
    assert_eq!(logs.log_events.len(), 2);
    for event in &logs.log_events {
        assert_eq!(
            parse_line(&event.message).unwrap_err().reason,
            RejectReason::NotJson
        );
    }
}

#[test]
fn echo_fixture_report_line_is_not_json() {
    let logs = cwl::decode(data(&fixture(
        "cwl_event_aws_lambda_events_inline_echo_nodejs.json",
    )))
    .unwrap();

    assert_eq!(logs.log_group, "/aws/lambda/echo-nodejs");
    assert_eq!(logs.log_events.len(), 1);
    assert!(logs.log_events[0].message.starts_with("REPORT RequestId"));
    assert_eq!(
        parse_line(&logs.log_events[0].message).unwrap_err().reason,
        RejectReason::NotJson
    );
}

#[test]
fn zlib_fixture_fails_decode() {
    // 78 da is the zlib header at the best compression level.
    let error = cwl::decode(data(&fixture("cwl_event_powertools_policylevel_ZLIB.json"))).unwrap_err();
    assert!(matches!(&error, CwlError::NotGzip { first_bytes } if first_bytes == "78da"));
}

#[tokio::test]
async fn handle_rejects_zlib_fixture() {
    let error = decoder()
        .handle(fixture("cwl_event_powertools_policylevel_ZLIB.json"))
        .await
        .unwrap_err();

    assert!(matches!(error, DecoderError::Payload(CwlError::NotGzip { .. })));
    assert!(error.to_string().contains("not gzip"));
}

#[tokio::test]
async fn handle_rejects_event_without_awslogs() {
    let error = decoder()
        .handle(serde_json::json!({ "Records": [] }))
        .await
        .unwrap_err();
    assert!(matches!(error, DecoderError::InvalidEvent(_)));
}

#[tokio::test]
async fn handle_rejects_invalid_base64() {
    let event = serde_json::json!({ "awslogs": { "data": "not base64!" } });
    let error = decoder().handle(event).await.unwrap_err();
    assert!(matches!(error, DecoderError::Payload(CwlError::Base64(_))));
}

#[tokio::test]
async fn handle_accepts_control_message() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events/control-message.json");
    let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();

    let summary = decoder().handle(event).await.unwrap();
    assert_eq!(summary, DecodeSummary::default());
}
