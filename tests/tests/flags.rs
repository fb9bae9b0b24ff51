//! Feature flags against the emulator: listing and setting them through the
//! CLI library and `DynamoCatalog`, and the log decoder and the authorizer
//! following a flag switched while they run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aforo::catalog::{CatalogStore, DynamoCatalog, FeatureFlags, GatewayKind, Status};
use aforo::cwl::{self, LogEvent, LogsData};
use aforo::store::StoreError;
use aforo_cli::flags::{self, Flag, FlagsError};
use aforo_cli::seed::{self, Seed};
use aforo_tests::Stack;
use aws_sdk_dynamodb::operation::scan::ScanInput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

/// API id of the seed's `aws-rest-petstore` integration.
const PETSTORE_API: &str = "a1b2c3d4e5";
const ARN_PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012";
const GLOBEX_KEY: &str = "ak_globex_8a3d5f1e2c6b";

/// 2026-03-15T10:00:00Z in milliseconds, inside every seed subscription of acme and globex.
const REQUEST_TIME_MS: i64 = 1_773_568_800_000;

/// Ids of the seed's integrations, sorted.
const SEED_INTEGRATIONS: [&str; 6] = [
    "apigee-eu",
    "aws-rest-petstore",
    "azure-apim-west",
    "kong-edge",
    "kong-retired",
    "mulesoft-core",
];

async fn seeded_stack() -> (Stack, DynamoCatalog) {
    let stack = Stack::new().await;
    let catalog = DynamoCatalog::new(stack.dynamodb.clone(), stack.deployment.catalog_table());
    let seed = Seed::from_file(&seed::default_path()).expect("infra/seed/catalog.json is a valid seed");
    seed::load(&catalog, &seed).await.expect("seed loads");
    (stack, catalog)
}

// ---- list and set -----------------------------------------------------------

#[tokio::test]
async fn flags_list_shows_seed_integrations() {
    let (_stack, catalog) = seeded_stack().await;

    let integrations = flags::list(&catalog).await.unwrap();
    let ids: Vec<&str> = integrations.iter().map(|integration| integration.id.as_str()).collect();
    assert_eq!(ids, SEED_INTEGRATIONS);

    let retired = &integrations[4];
    assert_eq!(retired.kind, GatewayKind::Kong);
    assert_eq!(retired.status, Status::Suspended);
    for integration in &integrations {
        assert_eq!(integration.flags, FeatureFlags::default(), "{}", integration.id);
    }
}

#[tokio::test]
async fn flags_list_renders_table() {
    let (_stack, catalog) = seeded_stack().await;

    let table = flags::render(&flags::list(&catalog).await.unwrap());
    let rows: Vec<Vec<&str>> = table.lines().map(|line| line.split_whitespace().collect()).collect();

    assert_eq!(rows.len(), 7, "{table}");
    assert_eq!(rows[2], ["aws-rest-petstore", "aws-rest", "active", "on", "on", "off"]);
    assert_eq!(rows[5], ["kong-retired", "kong", "suspended", "on", "on", "off"]);
}

#[tokio::test]
async fn flags_set_changes_one_flag() {
    let (_stack, catalog) = seeded_stack().await;

    let flags = flags::set(&catalog, "kong-edge", Flag::ConfigCapture, true).await.unwrap();
    let expected = FeatureFlags {
        config_capture: true,
        ..FeatureFlags::default()
    };
    assert_eq!(flags, expected);

    let stored = catalog.integration("kong-edge").await.unwrap().expect("kong-edge exists");
    assert_eq!(stored.flags, expected);

    let others = catalog.integration("apigee-eu").await.unwrap().expect("apigee-eu exists");
    assert_eq!(others.flags, FeatureFlags::default());
}

#[tokio::test]
async fn flags_set_keeps_other_attributes() {
    let (_stack, catalog) = seeded_stack().await;
    let before = catalog.integration("aws-rest-petstore").await.unwrap().expect("integration exists");

    flags::set(&catalog, "aws-rest-petstore", Flag::Metering, false).await.unwrap();

    let after = catalog.integration("aws-rest-petstore").await.unwrap().expect("integration exists");
    assert_eq!(after.kind, before.kind);
    assert_eq!(after.api_id, before.api_id);
    assert_eq!(after.status, before.status);
    assert!(!after.flags.metering);

    let mapped = catalog.integration_for_api(PETSTORE_API).await.unwrap().expect("api id is mapped");
    assert_eq!(mapped, after);
}

#[tokio::test]
async fn flags_set_twice_is_idempotent() {
    let (_stack, catalog) = seeded_stack().await;

    let first = flags::set(&catalog, "mulesoft-core", Flag::Entitlement, false).await.unwrap();
    let second = flags::set(&catalog, "mulesoft-core", Flag::Entitlement, false).await.unwrap();

    assert_eq!(first, second);
    assert!(!second.entitlement);
}

#[tokio::test]
async fn flags_set_unknown_integration_fails() {
    let (_stack, catalog) = seeded_stack().await;

    let result = flags::set(&catalog, "kong-typo", Flag::Metering, false).await;
    assert!(
        matches!(&result, Err(FlagsError::IntegrationNotFound { integration_id }) if integration_id == "kong-typo"),
        "{result:?}"
    );
    assert!(catalog.integration("kong-typo").await.unwrap().is_none());
}

#[tokio::test]
async fn set_flags_missing_integration_not_found() {
    let (stack, catalog) = seeded_stack().await;

    let result = catalog.set_flags("ghost", FeatureFlags::default()).await;
    assert!(
        matches!(&result, Err(StoreError::NotFound { entity: "integration", id, .. }) if id == "ghost"),
        "{result:?}"
    );

    // A failed condition must not leave a partial item behind.
    let item = stack
        .dynamodb
        .get_item()
        .table_name(stack.deployment.catalog_table())
        .key("pk", AttributeValue::S(aforo::keys::integration_pk("ghost")))
        .key("sk", AttributeValue::S(aforo::keys::PROFILE_SK.to_owned()))
        .send()
        .await
        .unwrap();
    assert!(item.item.is_none(), "set_flags created {:?}", item.item);
}

#[tokio::test]
async fn set_flags_missing_table_fails() {
    let stack = Stack::new().await;
    let catalog = DynamoCatalog::new(stack.dynamodb.clone(), "no-such-table");

    let result = catalog.set_flags("kong-edge", FeatureFlags::default()).await;
    assert!(matches!(&result, Err(StoreError::Dynamo { operation: "UpdateItem", .. })), "{result:?}");
}

// ---- scan pagination ----------------------------------------------------------

/// Caps every Scan at two items per page and counts the Scan calls, so a
/// small table still needs several pages.
#[derive(Debug, Clone, Default)]
struct ScanPageLimit {
    calls: Arc<AtomicUsize>,
}

impl Intercept for ScanPageLimit {
    fn name(&self) -> &'static str {
        "ScanPageLimit"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(input) = context.input_mut().downcast_mut::<ScanInput>() {
            input.limit = Some(2);
            self.calls.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

#[tokio::test]
async fn integrations_read_every_scan_page() {
    let (stack, _catalog) = seeded_stack().await;
    let limit = ScanPageLimit::default();
    let config = aws_sdk_dynamodb::config::Builder::from(&stack.sdk)
        .interceptor(limit.clone())
        .build();
    let paged = DynamoCatalog::new(aws_sdk_dynamodb::Client::from_conf(config), stack.deployment.catalog_table());

    let mut ids: Vec<String> = paged.integrations().await.unwrap().into_iter().map(|found| found.id).collect();
    ids.sort();

    assert_eq!(ids, SEED_INTEGRATIONS);
    // The seed writes about seventy items, so pages of two take dozens of Scan calls.
    assert!(limit.calls.load(Ordering::SeqCst) > 10, "only {:?} Scan calls", limit.calls);
}

#[tokio::test]
async fn integrations_empty_catalog_lists_none() {
    let stack = Stack::new().await;
    let catalog = DynamoCatalog::new(stack.dynamodb.clone(), stack.deployment.catalog_table());

    assert!(catalog.integrations().await.unwrap().is_empty());
}

// ---- metering and the log decoder ---------------------------------------------

/// Builds an access-log line of acme calling `GET /pets` on the seed's REST API.
fn access_line(n: usize) -> String {
    json!({
        "requestId": format!("req-{n}"),
        "extendedRequestId": format!("ext-{n}"),
        "requestTimeEpoch": (REQUEST_TIME_MS + n as i64).to_string(),
        "httpMethod": "GET",
        "resourcePath": "/pets",
        "path": "/pets",
        "status": "200",
        "responseLength": "64",
        "responseLatency": "12",
        "tenantId": "acme",
        "apiId": PETSTORE_API,
        "stage": "prod",
        "errorResponseType": "-"
    })
    .to_string()
}

/// Builds a subscription delivery of the access lines numbered `numbers`.
fn delivery(numbers: std::ops::Range<usize>) -> Value {
    let data = LogsData {
        message_type: "DATA_MESSAGE".to_owned(),
        owner: "123456789012".to_owned(),
        log_group: "/aforo/test/api-access".to_owned(),
        log_stream: "stream-1".to_owned(),
        subscription_filters: vec!["test-filter".to_owned()],
        log_events: numbers
            .map(|n| LogEvent {
                id: format!("{:056}", n),
                timestamp: REQUEST_TIME_MS + 500,
                message: access_line(n),
            })
            .collect(),
    };
    json!({ "awslogs": { "data": cwl::encode(&data) } })
}

/// Counts the records on the stack's queue and deletes the messages.
async fn drain_record_count(stack: &Stack) -> usize {
    let queue_url = stack.deployment.metering_queue_url();
    let mut records = 0;

    loop {
        let output = stack
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let messages = output.messages();
        if messages.is_empty() {
            return records;
        }

        for message in messages {
            let envelope = aforo::envelope::decode(message.body().unwrap_or_default()).unwrap();
            records += envelope.records.len();
            stack
                .sqs
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn metering_flag_toggles_log_decoder() {
    let (stack, catalog) = seeded_stack().await;
    let config = log_decoder::Config {
        catalog_table: stack.deployment.catalog_table().to_owned(),
        queue_url: stack.deployment.metering_queue_url().to_owned(),
        cache_ttl: Duration::ZERO,
        billable_status_classes: vec![2, 3, 4],
        max_message_bytes: 262_144,
        send_max_attempts: 3,
    };
    let decoder = log_decoder::from_sdk(&stack.sdk, &config);

    let metered = decoder.handle(delivery(0..2)).await.unwrap();
    assert_eq!(metered.usage, 2);
    assert_eq!(metered.not_metered, 0);
    assert_eq!(drain_record_count(&stack).await, 2);

    flags::set(&catalog, "aws-rest-petstore", Flag::Metering, false).await.unwrap();
    let skipped = decoder.handle(delivery(2..5)).await.unwrap();
    assert_eq!(skipped.not_metered, 3);
    assert_eq!(skipped.usage, 0);
    assert_eq!(skipped.messages_sent, 0);
    assert_eq!(drain_record_count(&stack).await, 0);

    flags::set(&catalog, "aws-rest-petstore", Flag::Metering, true).await.unwrap();
    let resumed = decoder.handle(delivery(5..7)).await.unwrap();
    assert_eq!(resumed.usage, 2);
    assert_eq!(resumed.not_metered, 0);
    assert_eq!(drain_record_count(&stack).await, 2);
}

// ---- entitlement and the authorizer -------------------------------------------

/// Builds a REST `REQUEST` authorizer event of globex calling `GET /orders`,
/// a product globex has no subscription to.
fn globex_orders_request() -> Value {
    let request_time = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
    let headers = json!({"X-Tenant-Id": "globex", "x-api-key": GLOBEX_KEY});
    json!({
        "type": "REQUEST",
        "methodArn": format!("{ARN_PREFIX}:{PETSTORE_API}/prod/GET/orders"),
        "resource": "/orders",
        "path": "/orders",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {"X-Tenant-Id": ["globex"], "x-api-key": [GLOBEX_KEY]},
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "resourcePath": "/orders",
            "httpMethod": "GET",
            "stage": "prod",
            "apiId": PETSTORE_API,
            "requestTimeEpoch": request_time.timestamp_millis()
        }
    })
}

/// Lists the resources of the policy statements with `effect`.
fn resources(response: &Value, effect: &str) -> Vec<String> {
    response["policyDocument"]["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|statement| statement["Effect"] == effect)
        .flat_map(|statement| statement["Resource"].as_array().cloned().unwrap_or_default())
        .filter_map(|resource| resource.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn entitlement_flag_toggles_authorizer() {
    let (stack, catalog) = seeded_stack().await;
    let config = authorizer::Config {
        catalog_table: stack.deployment.catalog_table().to_owned(),
        usage_table: stack.deployment.usage_table().to_owned(),
        cache_ttl: Duration::ZERO,
        fail_open: false,
        simple_responses: false,
    };
    let authorizer = authorizer::from_sdk(&stack.sdk, &config);
    let orders_arn = format!("{ARN_PREFIX}:{PETSTORE_API}/prod/GET/orders");
    let stage_arn = format!("{ARN_PREFIX}:{PETSTORE_API}/prod/*/*");

    let checked = authorizer.handle(globex_orders_request()).await.unwrap();
    assert_eq!(checked["context"]["reason"], "not_subscribed");
    assert!(resources(&checked, "Deny").contains(&orders_arn), "{checked}");

    flags::set(&catalog, "aws-rest-petstore", Flag::Entitlement, false).await.unwrap();
    let open = authorizer.handle(globex_orders_request()).await.unwrap();
    assert_eq!(resources(&open, "Allow"), std::slice::from_ref(&stage_arn));
    assert!(resources(&open, "Deny").is_empty(), "{open}");
    assert_eq!(open["context"], json!({"tenantId": "globex"}));

    flags::set(&catalog, "aws-rest-petstore", Flag::Entitlement, true).await.unwrap();
    let rechecked = authorizer.handle(globex_orders_request()).await.unwrap();
    assert_eq!(rechecked["context"]["reason"], "not_subscribed");
    assert!(!resources(&rechecked, "Allow").contains(&stage_arn), "{rechecked}");
}

#[tokio::test]
async fn config_capture_flag_ignored_by_authorizer() {
    let (stack, catalog) = seeded_stack().await;
    let config = authorizer::Config {
        catalog_table: stack.deployment.catalog_table().to_owned(),
        usage_table: stack.deployment.usage_table().to_owned(),
        cache_ttl: Duration::ZERO,
        fail_open: false,
        simple_responses: false,
    };
    let authorizer = authorizer::from_sdk(&stack.sdk, &config);

    flags::set(&catalog, "aws-rest-petstore", Flag::ConfigCapture, true).await.unwrap();
    let response = authorizer.handle(globex_orders_request()).await.unwrap();
    assert_eq!(response["context"]["reason"], "not_subscribed");
}
