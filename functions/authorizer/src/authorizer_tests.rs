use std::sync::atomic::Ordering;
use std::time::Duration;

use aforo::catalog::Status;
use aforo::period::Granularity;
use serde_json::json;

use super::*;
use crate::testing::{FakeCatalog, FakeUsage, ACME_KEY, API_ID, GLOBEX_KEY};

const ARN_PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012";
/// 2026-12-04T12:00:00Z in milliseconds.
const REQUEST_TIME_MS: i64 = 1_796_385_600_000;

fn config(fail_open: bool, simple_responses: bool) -> Config {
    Config {
        catalog_table: "catalog".to_owned(),
        usage_table: "usage".to_owned(),
        cache_ttl: Duration::ZERO,
        fail_open,
        simple_responses,
    }
}

fn authorizer(catalog: FakeCatalog, usage: FakeUsage) -> Authorizer<FakeCatalog, FakeUsage> {
    Authorizer::new(catalog, usage, &config(false, false))
}

fn arn(method: &str, path: &str) -> String {
    format!("{ARN_PREFIX}:{API_ID}/prod/{method}{path}")
}

fn rest_event(tenant: &str, key: &str, method: &str, resource: &str, path: &str) -> Value {
    json!({
        "type": "REQUEST",
        "methodArn": arn(method, path),
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"X-Tenant-Id": tenant, "x-api-key": key},
        "multiValueHeaders": {"X-Tenant-Id": [tenant], "x-api-key": [key]},
        "requestContext": {"apiId": API_ID, "stage": "prod", "requestTimeEpoch": REQUEST_TIME_MS}
    })
}

fn v2_event(tenant: &str, key: &str, method: &str, route_key: &str, path: &str) -> Value {
    json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": arn(method, path),
        "routeKey": route_key,
        "rawPath": path,
        "headers": {"x-tenant-id": tenant, "x-api-key": key},
        "requestContext": {"apiId": API_ID, "http": {"method": method, "path": path}, "timeEpoch": REQUEST_TIME_MS}
    })
}

fn statement<'a>(response: &'a Value, effect: &str) -> Option<&'a Value> {
    response["policyDocument"]["Statement"]
        .as_array()?
        .iter()
        .find(|statement| statement["Effect"] == effect)
}

fn resources(response: &Value, effect: &str) -> Vec<String> {
    statement(response, effect)
        .and_then(|statement| statement["Resource"].as_array())
        .map(|list| list.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn rest_allow_lists_every_entitled_route() {
    let authorizer = authorizer(FakeCatalog::seed(), FakeUsage::default());
    let response = authorizer
        .handle(rest_event("acme", ACME_KEY, "GET", "/pets/{petId}", "/pets/42"))
        .await
        .unwrap();

    assert_eq!(response["principalId"], "acme");
    assert_eq!(response["context"], json!({"tenantId": "acme"}));
    assert!(statement(&response, "Deny").is_none());
    let allowed = resources(&response, "Allow");
    assert_eq!(allowed.len(), 6);
    assert!(allowed.contains(&arn("GET", "/pets/*")));
    assert!(allowed.contains(&arn("POST", "/orders")));
}

#[tokio::test]
async fn rest_deny_keeps_entitled_routes() {
    let authorizer = authorizer(FakeCatalog::seed(), FakeUsage::default());
    let response = authorizer
        .handle(rest_event("globex", GLOBEX_KEY, "GET", "/orders", "/orders"))
        .await
        .unwrap();

    assert_eq!(response["context"], json!({"tenantId": "globex", "reason": "not_subscribed"}));
    assert_eq!(resources(&response, "Deny"), vec![arn("GET", "/orders")]);
    let allowed = resources(&response, "Allow");
    assert_eq!(allowed, vec![arn("GET", "/pets"), arn("GET", "/pets/*"), arn("POST", "/pets")]);
}

#[tokio::test]
async fn token_route_from_method_arn() {
    let authorizer = authorizer(FakeCatalog::seed(), FakeUsage::default());
    let event = json!({"type": "TOKEN", "authorizationToken": format!("Bearer {GLOBEX_KEY}"), "methodArn": arn("GET", "/pets/42")});
    let response = authorizer.handle(event).await.unwrap();

    assert_eq!(response["principalId"], "globex");
    assert_eq!(response["context"]["tenantId"], "globex");
    assert!(statement(&response, "Deny").is_none());
}

#[tokio::test]
async fn token_unknown_route_denied() {
    let authorizer = authorizer(FakeCatalog::seed(), FakeUsage::default());
    let event = json!({"type": "TOKEN", "authorizationToken": ACME_KEY, "methodArn": arn("DELETE", "/pets/42")});
    let response = authorizer.handle(event).await.unwrap();
    assert_eq!(response["context"]["reason"], "unknown_route");
}

#[tokio::test]
async fn v2_default_route_resolves_raw_path() {
    let authorizer = Authorizer::new(FakeCatalog::seed(), FakeUsage::default(), &config(false, true));
    let response = authorizer
        .handle(v2_event("globex", GLOBEX_KEY, "GET", "$default", "/pets/42"))
        .await
        .unwrap();
    assert_eq!(response, json!({"isAuthorized": true, "context": {"tenantId": "globex"}}));
}

#[tokio::test]
async fn quota_exhausted_at_limit() {
    let usage = FakeUsage::with("initech", "orders", Granularity::Day, "2026-12-04", 20);
    let authorizer = authorizer(FakeCatalog::seed(), usage);
    let response = authorizer
        .handle(rest_event("initech", "ak_initech_6b9e4c2a1f3d", "GET", "/orders", "/orders"))
        .await
        .unwrap();
    assert_eq!(response["context"]["reason"], "quota_exhausted");
}

#[tokio::test]
async fn quota_below_limit_allowed() {
    let usage = FakeUsage::with("initech", "orders", Granularity::Day, "2026-12-04", 19);
    let authorizer = authorizer(FakeCatalog::seed(), usage);
    let response = authorizer
        .handle(rest_event("initech", "ak_initech_6b9e4c2a1f3d", "GET", "/orders", "/orders"))
        .await
        .unwrap();
    assert!(statement(&response, "Deny").is_none());
}

#[tokio::test]
async fn suspended_tenant_denied_everywhere() {
    let mut catalog = FakeCatalog::seed();
    catalog.add_tenant("umbrella", "ak_umbrella", Status::Suspended);
    let response = authorizer(catalog, FakeUsage::default())
        .handle(rest_event("umbrella", "ak_umbrella", "GET", "/pets", "/pets"))
        .await
        .unwrap();

    assert_eq!(response["context"]["reason"], "tenant_suspended");
    assert!(statement(&response, "Allow").is_none());
}

#[tokio::test]
async fn entitlement_flag_off_allows_stage() {
    let mut catalog = FakeCatalog::seed();
    if let Some(integration) = catalog.integrations.get_mut(API_ID) {
        integration.flags.entitlement = false;
    }
    let response = authorizer(catalog, FakeUsage::default())
        .handle(rest_event("globex", GLOBEX_KEY, "GET", "/orders", "/orders"))
        .await
        .unwrap();
    assert_eq!(resources(&response, "Allow"), vec![format!("{ARN_PREFIX}:{API_ID}/prod/*/*")]);
}

#[tokio::test]
async fn rest_unauthorized_returns_error() {
    let authorizer = authorizer(FakeCatalog::seed(), FakeUsage::default());
    let cases = [
        ("key of other tenant", rest_event("acme", GLOBEX_KEY, "GET", "/pets", "/pets")),
        ("unknown key", rest_event("acme", "ak_nope", "GET", "/pets", "/pets")),
        ("unknown shape", json!({"type": "COOKIE"})),
        ("malformed", json!({"type": "REQUEST", "methodArn": 7})),
    ];
    for (case, event) in cases {
        let result = authorizer.handle(event).await;
        assert!(matches!(result, Err(AuthorizerError::Unauthorized)), "{case}: {result:?}");
    }
}

#[tokio::test]
async fn http_unauthorized_returns_deny() {
    let authorizer = authorizer(FakeCatalog::seed(), FakeUsage::default());
    let response = authorizer
        .handle(v2_event("acme", GLOBEX_KEY, "GET", "GET /pets", "/pets"))
        .await
        .unwrap();

    assert_eq!(response["principalId"], "anonymous");
    assert_eq!(response["context"], json!({"reason": "unauthorized"}));
    assert_eq!(resources(&response, "Deny"), vec![arn("GET", "/pets")]);
}

#[tokio::test]
async fn unreachable_store_fails_closed() {
    let catalog = FakeCatalog::seed();
    catalog.unreachable.store(true, Ordering::SeqCst);
    let response = authorizer(catalog, FakeUsage::default())
        .handle(rest_event("acme", ACME_KEY, "GET", "/pets", "/pets"))
        .await
        .unwrap();

    assert_eq!(response["context"], json!({"reason": "entitlement_unavailable"}));
    assert_eq!(resources(&response, "Deny"), vec![arn("GET", "/pets")]);
}

#[tokio::test]
async fn unreachable_store_fails_open() {
    let catalog = FakeCatalog::seed();
    catalog.unreachable.store(true, Ordering::SeqCst);
    let authorizer = Authorizer::new(catalog, FakeUsage::default(), &config(true, false));
    let response = authorizer
        .handle(rest_event("acme", ACME_KEY, "GET", "/pets", "/pets"))
        .await
        .unwrap();

    assert_eq!(response["context"], json!({"failOpen": "true"}));
    assert_eq!(resources(&response, "Allow"), vec![arn("GET", "/pets")]);
}
