//! The authorizer against the emulator, through the real DynamoDB catalog and
//! usage tables: allows, every deny reason, every `Unauthorized` case, the
//! cache-safe policy, the catalog cache TTL, and failing closed or open.

use std::time::Duration;

use aforo::catalog::{
    ApiKey, DynamoCatalog, FeatureFlags, GatewayKind, Integration, Plan, Product, Quota, Route, Status,
    Subscription, Tenant,
};
use aforo::keys;
use aforo::period::Granularity;
use aforo::route::RouteKey;
use aforo_tests::Stack;
use authorizer::{from_sdk, AuthorizerError, Config};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};

const ARN_PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012";
const PETSTORE_API: &str = "a1b2c3d4e5";
const DISABLED_API: &str = "d1sab1ed00";
const OPEN_API: &str = "0pen0pen00";
const UNKNOWN_API: &str = "zzzzzzzzzz";

const ACME_KEY: &str = "ak_acme_4f1c2e9b7d0a";
const GLOBEX_KEY: &str = "ak_globex_8a3d5f1e2c6b";
const INITECH_KEY: &str = "ak_initech_6b9e4c2a1f3d";
const HOOLI_KEY: &str = "ak_hooli_2c7f9a1b5e8d";
const UMBRELLA_KEY: &str = "ak_umbrella_5d2e8f1a9c3b";
const SOYLENT_KEY: &str = "ak_soylent_7e1b3c9d2f4a";
const REVOKED_ACME_KEY: &str = "ak_acme_revoked_0000";
const GHOST_KEY: &str = "ak_ghost_1111";
/// A tenant id with a comma, so only the comma rule can reject it.
const COMMA_TENANT: &str = "comma,corp";
const COMMA_KEY: &str = "ak_comma_3a6c9e2b5d8f";

/// 2026-12-04T12:00:00Z, the request time of every REQUEST event here.
fn request_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap()
}

fn utc(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, 0, 0, 0).unwrap()
}

// ---- catalog set-up -------------------------------------------------------

fn integration(id: &str, api_id: &str, status: Status, entitlement: bool) -> Integration {
    Integration {
        id: id.to_owned(),
        kind: GatewayKind::AwsRest,
        api_id: Some(api_id.to_owned()),
        status,
        flags: FeatureFlags {
            entitlement,
            ..FeatureFlags::default()
        },
    }
}

async fn put_tenant(catalog: &DynamoCatalog, tenant_id: &str, status: Status) {
    let tenant = Tenant {
        id: tenant_id.to_owned(),
        name: tenant_id.to_owned(),
        status,
    };
    catalog.put_tenant(&tenant).await.unwrap();
}

async fn put_key(catalog: &DynamoCatalog, api_key: &str, tenant_id: &str, status: Status) {
    let key = ApiKey {
        key_hash: keys::api_key_hash(api_key),
        tenant_id: tenant_id.to_owned(),
        status,
    };
    catalog.put_api_key(&key).await.unwrap();
}

fn subscription(tenant_id: &str, product_id: &str, plan_id: &str) -> Subscription {
    Subscription {
        tenant_id: tenant_id.to_owned(),
        product_id: product_id.to_owned(),
        plan_id: plan_id.to_owned(),
        status: Status::Active,
        starts_at: utc(2026, 1, 1),
        ends_at: None,
    }
}

/// Writes the seed catalog plus the tenants, keys and integrations of the other cases.
async fn seed(catalog: &DynamoCatalog) {
    catalog
        .put_integration(&integration("aws-rest-petstore", PETSTORE_API, Status::Active, true))
        .await
        .unwrap();
    catalog
        .put_integration(&integration("aws-rest-disabled", DISABLED_API, Status::Suspended, true))
        .await
        .unwrap();
    catalog
        .put_integration(&integration("aws-rest-open", OPEN_API, Status::Active, false))
        .await
        .unwrap();

    for (product, resource, item) in [("pets", "/pets", "/pets/{petId}"), ("orders", "/orders", "/orders/{orderId}")] {
        let named = Product {
            id: product.to_owned(),
            name: product.to_owned(),
        };
        catalog.put_product(&named).await.unwrap();
        for (method, path) in [("GET", resource), ("POST", resource), ("GET", item)] {
            for integration_id in ["aws-rest-petstore", "aws-rest-disabled", "aws-rest-open"] {
                let route = Route {
                    integration_id: integration_id.to_owned(),
                    route: RouteKey::new(method, path),
                    product_id: product.to_owned(),
                };
                catalog.put_route(&route).await.unwrap();
            }
        }
    }

    let plans = [
        ("pets-basic", "pets", Some((1000, Granularity::Month))),
        ("pets-pro", "pets", None),
        ("orders-trial", "orders", Some((20, Granularity::Day))),
        ("orders-standard", "orders", Some((10000, Granularity::Month))),
    ];
    for (id, product, quota) in plans {
        let plan = Plan {
            id: id.to_owned(),
            product_id: product.to_owned(),
            name: id.to_owned(),
            quota: quota.map(|(requests, period)| Quota { requests, period }),
        };
        catalog.put_plan(&plan).await.unwrap();
    }

    for (tenant, key, status) in [
        ("acme", ACME_KEY, Status::Active),
        ("globex", GLOBEX_KEY, Status::Active),
        ("initech", INITECH_KEY, Status::Active),
        ("hooli", HOOLI_KEY, Status::Active),
        ("umbrella", UMBRELLA_KEY, Status::Suspended),
        ("soylent", SOYLENT_KEY, Status::Active),
        (COMMA_TENANT, COMMA_KEY, Status::Active),
    ] {
        put_tenant(catalog, tenant, status).await;
        put_key(catalog, key, tenant, Status::Active).await;
    }
    put_key(catalog, REVOKED_ACME_KEY, "acme", Status::Cancelled).await;
    // A key whose tenant is not in the catalog.
    put_key(catalog, GHOST_KEY, "ghost", Status::Active).await;

    let ended = Subscription {
        ends_at: Some(utc(2026, 6, 30)),
        ..subscription("initech", "pets", "pets-basic")
    };
    let future = Subscription {
        starts_at: utc(2027, 1, 1),
        ..subscription("hooli", "pets", "pets-basic")
    };
    let suspended = Subscription {
        status: Status::Suspended,
        ..subscription("soylent", "pets", "pets-basic")
    };
    for subscription in [
        subscription("acme", "pets", "pets-pro"),
        subscription("acme", "orders", "orders-standard"),
        subscription("globex", "pets", "pets-basic"),
        subscription("initech", "orders", "orders-trial"),
        subscription("umbrella", "pets", "pets-pro"),
        subscription(COMMA_TENANT, "pets", "pets-pro"),
        ended,
        future,
        suspended,
    ] {
        catalog.put_subscription(&subscription).await.unwrap();
    }
}

/// Creates a stack, seeds its catalog table and returns a handle on that table.
async fn seeded_stack() -> (Stack, DynamoCatalog) {
    let stack = Stack::new().await;
    let catalog = DynamoCatalog::new(stack.dynamodb.clone(), stack.deployment.catalog_table());
    seed(&catalog).await;
    (stack, catalog)
}

fn config(stack: &Stack, cache_ttl: Duration) -> Config {
    Config {
        catalog_table: stack.deployment.catalog_table().to_owned(),
        usage_table: stack.deployment.usage_table().to_owned(),
        cache_ttl,
        fail_open: false,
        simple_responses: false,
    }
}

/// Writes the `requests` aggregate of a tenant's product for one period.
async fn put_requests(stack: &Stack, tenant_id: &str, product_id: &str, granularity: Granularity, value: u64) {
    let period_start = granularity.period_start(request_time());
    stack
        .dynamodb
        .put_item()
        .table_name(stack.deployment.usage_table())
        .item("pk", AttributeValue::S(keys::usage_pk(tenant_id)))
        .item(
            "sk",
            AttributeValue::S(keys::usage_sk(granularity.as_str(), &period_start, product_id, "requests")),
        )
        .item("value", AttributeValue::N(value.to_string()))
        .send()
        .await
        .unwrap();
}

// ---- events ---------------------------------------------------------------

fn method_arn(api: &str, method: &str, path: &str) -> String {
    format!("{ARN_PREFIX}:{api}/prod/{method}{path}")
}

fn identity(tenant: &str, key: &str) -> Value {
    json!({"X-Tenant-Id": tenant, "x-api-key": key})
}

/// Lower-cases header names, as HTTP APIs send them.
fn lower_case(headers: &Value) -> Value {
    let object = headers.as_object().cloned().unwrap_or_default();
    Value::Object(object.into_iter().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect())
}

/// Builds `multiValueHeaders` with each header's single value in a list.
fn multi_value(headers: &Value) -> Value {
    let object = headers.as_object().cloned().unwrap_or_default();
    Value::Object(object.into_iter().map(|(name, value)| (name, json!([value]))).collect())
}

fn rest_request(api: &str, method: &str, resource: &str, path: &str, headers: Value) -> Value {
    json!({
        "type": "REQUEST",
        "methodArn": method_arn(api, method, path),
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "multiValueHeaders": multi_value(&headers),
        "headers": headers,
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "stage": "prod",
            "apiId": api,
            "requestTimeEpoch": request_time().timestamp_millis()
        }
    })
}

fn rest_token(api: &str, method: &str, path: &str, token: Option<&str>) -> Value {
    let mut event = json!({"type": "TOKEN", "methodArn": method_arn(api, method, path)});
    if let Some(token) = token {
        event["authorizationToken"] = json!(token);
    }
    event
}

fn http_v1(api: &str, method: &str, resource: &str, path: &str, headers: Value) -> Value {
    json!({
        "version": "1.0",
        "type": "REQUEST",
        "methodArn": method_arn(api, method, path),
        "identitySource": null,
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": lower_case(&headers),
        "queryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "apiId": api,
            "httpMethod": method,
            "stage": "prod",
            "timeEpoch": request_time().timestamp_millis()
        }
    })
}

fn http_v2(api: &str, method: &str, resource: &str, path: &str, headers: Value) -> Value {
    json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": method_arn(api, method, path),
        "identitySource": null,
        "routeKey": format!("{method} {resource}"),
        "rawPath": path,
        "headers": lower_case(&headers),
        "requestContext": {
            "apiId": api,
            "http": {"method": method, "path": path},
            "routeKey": format!("{method} {resource}"),
            "stage": "prod",
            "timeEpoch": request_time().timestamp_millis()
        }
    })
}

// ---- response helpers -----------------------------------------------------

fn context(response: &Value) -> Map<String, Value> {
    response["context"].as_object().cloned().unwrap_or_default()
}

fn reason(response: &Value) -> Option<&str> {
    response["context"]["reason"].as_str()
}

/// Lists the resources of the statements with `effect`, empty when there is none.
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

fn pets_arns(api: &str) -> Vec<String> {
    vec![
        method_arn(api, "GET", "/pets"),
        method_arn(api, "GET", "/pets/*"),
        method_arn(api, "POST", "/pets"),
    ]
}

fn orders_arns(api: &str) -> Vec<String> {
    vec![
        method_arn(api, "GET", "/orders"),
        method_arn(api, "GET", "/orders/*"),
        method_arn(api, "POST", "/orders"),
    ]
}

// ---- allow and policy -----------------------------------------------------

#[tokio::test]
async fn rest_request_allows_subscribed_tenant() {
    let (stack, _) = seeded_stack().await;
    let authorizer = from_sdk(&stack.sdk, &config(&stack, Duration::from_secs(30)));

    let event = rest_request(PETSTORE_API, "GET", "/pets/{petId}", "/pets/42", identity("acme", ACME_KEY));
    let response = authorizer.handle(event).await.unwrap();

    assert_eq!(response["principalId"], "acme");
    assert_eq!(response["policyDocument"]["Version"], "2012-10-17");
    assert_eq!(response["policyDocument"]["Statement"][0]["Action"][0], "execute-api:Invoke");
    assert!(resources(&response, "Allow").contains(&method_arn(PETSTORE_API, "GET", "/pets/*")));
    assert!(resources(&response, "Deny").is_empty());
    assert_eq!(context(&response), json!({"tenantId": "acme"}).as_object().cloned().unwrap());
}

#[tokio::test]
async fn every_format_allows_subscribed_tenant() {
    let (stack, _) = seeded_stack().await;
    let authorizer = from_sdk(&stack.sdk, &config(&stack, Duration::ZERO));
    let headers = identity("globex", GLOBEX_KEY);

    let cases = [
        ("rest token", rest_token(PETSTORE_API, "GET", "/pets/42", Some(&format!("Bearer {GLOBEX_KEY}")))),
        ("http 1.0", http_v1(PETSTORE_API, "POST", "/pets", "/pets", headers.clone())),
        ("http 2.0", http_v2(PETSTORE_API, "GET", "/pets/{petId}", "/pets/7", headers)),
    ];
    for (case, event) in cases {
        let response = authorizer.handle(event).await.unwrap();
        assert_eq!(response["principalId"], "globex", "{case}");
        assert_eq!(resources(&response, "Allow"), pets_arns(PETSTORE_API), "{case}");
        assert!(resources(&response, "Deny").is_empty(), "{case}");
        assert_eq!(response["context"]["tenantId"], "globex", "{case}");
    }
}

#[tokio::test]
async fn http_v2_simple_response_allows() {
    let (stack, _) = seeded_stack().await;
    let config = Config {
        simple_responses: true,
        ..config(&stack, Duration::ZERO)
    };
    let authorizer = from_sdk(&stack.sdk, &config);

    let allowed = http_v2(PETSTORE_API, "GET", "/pets", "/pets", identity("globex", GLOBEX_KEY));
    let response = authorizer.handle(allowed).await.unwrap();
    assert_eq!(response, json!({"isAuthorized": true, "context": {"tenantId": "globex"}}));

    let denied = http_v2(PETSTORE_API, "GET", "/orders", "/orders", identity("globex", GLOBEX_KEY));
    let response = authorizer.handle(denied).await.unwrap();
    assert_eq!(
        response,
        json!({"isAuthorized": false, "context": {"tenantId": "globex", "reason": "not_subscribed"}})
    );
}

#[tokio::test]
async fn policy_covers_all_entitled_routes() {
    let (stack, _) = seeded_stack().await;
    let authorizer = from_sdk(&stack.sdk, &config(&stack, Duration::ZERO));

    let acme = rest_request(PETSTORE_API, "GET", "/pets", "/pets", identity("acme", ACME_KEY));
    let response = authorizer.handle(acme).await.unwrap();
    let mut expected = [orders_arns(PETSTORE_API), pets_arns(PETSTORE_API)].concat();
    expected.sort();
    assert_eq!(resources(&response, "Allow"), expected);

    let globex = rest_request(PETSTORE_API, "GET", "/pets", "/pets", identity("globex", GLOBEX_KEY));
    let response = authorizer.handle(globex).await.unwrap();
    let allowed = resources(&response, "Allow");
    assert_eq!(allowed, pets_arns(PETSTORE_API));
    for orders_arn in orders_arns(PETSTORE_API) {
        assert!(!allowed.contains(&orders_arn), "{orders_arn} must not be allowed for globex");
    }
}

#[tokio::test]
async fn denied_route_keeps_entitled_routes() {
    let (stack, _) = seeded_stack().await;
    let authorizer = from_sdk(&stack.sdk, &config(&stack, Duration::ZERO));

    let event = rest_request(PETSTORE_API, "GET", "/orders/{orderId}", "/orders/5", identity("globex", GLOBEX_KEY));
    let response = authorizer.handle(event).await.unwrap();

    assert_eq!(resources(&response, "Deny"), vec![method_arn(PETSTORE_API, "GET", "/orders/5")]);
    assert_eq!(resources(&response, "Allow"), pets_arns(PETSTORE_API));
}

#[tokio::test]
async fn quota_below_limit_allows() {
    let (stack, _) = seeded_stack().await;
    put_requests(&stack, "initech", "orders", Granularity::Day, 19).await;
    let authorizer = from_sdk(&stack.sdk, &config(&stack, Duration::ZERO));

    let event = rest_request(PETSTORE_API, "GET", "/orders", "/orders", identity("initech", INITECH_KEY));
    let response = authorizer.handle(event).await.unwrap();

    assert_eq!(reason(&response), None);
    assert_eq!(resources(&response, "Allow"), orders_arns(PETSTORE_API));
}

#[tokio::test]
async fn entitlement_flag_off_allows_stage() {
    let (stack, _) = seeded_stack().await;
    let authorizer = from_sdk(&stack.sdk, &config(&stack, Duration::ZERO));

    // globex has no orders subscription, but this integration does not check entitlements.
    let event = rest_request(OPEN_API, "GET", "/orders", "/orders", identity("globex", GLOBEX_KEY));
    let response = authorizer.handle(event).await.unwrap();

    assert_eq!(resources(&response, "Allow"), vec![format!("{ARN_PREFIX}:{OPEN_API}/prod/*/*")]);
    assert_eq!(context(&response), json!({"tenantId": "globex"}).as_object().cloned().unwrap());
}

#[tokio::test]
async fn entitlement_flag_off_still_checks_key() {
    let (stack, _) = seeded_stack().await;
    let authorizer = from_sdk(&stack.sdk, &config(&stack, Duration::ZERO));

    let event = rest_request(OPEN_API, "GET", "/orders", "/orders", identity("globex", "ak_wrong"));
    let result = authorizer.handle(event).await;
    assert!(matches!(result, Err(AuthorizerError::Unauthorized)), "{result:?}");
}

#[tokio::test]
async fn sample_events_allow_acme() {
    let (stack, _) = seeded_stack().await;
    let authorizer = from_sdk(&stack.sdk, &config(&stack, Duration::ZERO));

    for name in ["rest-request.json", "rest-token.json", "http-v2.json"] {
        let path = aforo_tests::workspace_root().join("functions/authorizer/events").join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let event: Value = serde_json::from_str(&text).unwrap();

        let response = authorizer.handle(event).await.unwrap();
        assert_eq!(response["principalId"], "acme", "{name}");
        assert_eq!(reason(&response), None, "{name}");
        assert!(resources(&response, "Allow").contains(&method_arn(PETSTORE_API, "GET", "/pets")), "{name}");
    }
}

// ---- deny reasons ---------------------------------------------------------

#[tokio::test]
async fn every_deny_reason_in_context() {
    let (stack, _) = seeded_stack().await;
    put_requests(&stack, "initech", "orders", Granularity::Day, 20).await;
    let authorizer = from_sdk(&stack.sdk, &config(&stack, Duration::ZERO));

    let cases = [
        ("not_subscribed", "globex", GLOBEX_KEY, PETSTORE_API, "GET", "/orders", "/orders"),
        ("subscription_inactive", "initech", INITECH_KEY, PETSTORE_API, "GET", "/pets", "/pets"),
        ("subscription_inactive", "hooli", HOOLI_KEY, PETSTORE_API, "GET", "/pets", "/pets"),
        ("subscription_inactive", "soylent", SOYLENT_KEY, PETSTORE_API, "GET", "/pets", "/pets"),
        ("quota_exhausted", "initech", INITECH_KEY, PETSTORE_API, "POST", "/orders", "/orders"),
        ("unknown_route", "acme", ACME_KEY, PETSTORE_API, "DELETE", "/pets/{petId}", "/pets/1"),
        ("unknown_api", "acme", ACME_KEY, UNKNOWN_API, "GET", "/pets", "/pets"),
        ("tenant_suspended", "umbrella", UMBRELLA_KEY, PETSTORE_API, "GET", "/pets", "/pets"),
        ("integration_disabled", "acme", ACME_KEY, DISABLED_API, "GET", "/pets", "/pets"),
    ];
    for (expected, tenant, key, api, method, resource, path) in cases {
        let case = format!("{expected} for {tenant} {method} {path}");
        let event = rest_request(api, method, resource, path, identity(tenant, key));
        let response = authorizer.handle(event).await.unwrap();

        assert_eq!(reason(&response), Some(expected), "{case}");
        assert_eq!(response["principalId"], tenant, "{case}");
        assert_eq!(response["context"]["tenantId"], tenant, "{case}");
        assert_eq!(resources(&response, "Deny"), vec![method_arn(api, method, path)], "{case}");
    }
}

#[tokio::test]
async fn http_formats_carry_deny_reason() {
    let (stack, _) = seeded_stack().await;
    put_requests(&stack, "initech", "orders", Granularity::Day, 25).await;
    let authorizer = from_sdk(&stack.sdk, &config(&stack, Duration::ZERO));
    let headers = identity("initech", INITECH_KEY);

    let cases = [
        ("http 1.0", http_v1(PETSTORE_API, "GET", "/orders", "/orders", headers.clone())),
        ("http 2.0", http_v2(PETSTORE_API, "GET", "/orders", "/orders", headers)),
    ];
    for (case, event) in cases {
        let response = authorizer.handle(event).await.unwrap();
        assert_eq!(reason(&response), Some("quota_exhausted"), "{case}");
        assert_eq!(resources(&response, "Deny"), vec![method_arn(PETSTORE_API, "GET", "/orders")], "{case}");
    }
}

#[tokio::test]
async fn context_never_names_product() {
    let (stack, _) = seeded_stack().await;
    let authorizer = from_sdk(&stack.sdk, &config(&stack, Duration::ZERO));

    let allowed = rest_request(PETSTORE_API, "GET", "/pets", "/pets", identity("acme", ACME_KEY));
    let denied = rest_request(PETSTORE_API, "GET", "/orders", "/orders", identity("globex", GLOBEX_KEY));
    for event in [allowed, denied] {
        let context = context(&authorizer.handle(event).await.unwrap());
        for key in context.keys() {
            assert!(key == "tenantId" || key == "reason", "unexpected context key {key}");
        }
        assert!(!context.values().any(|value| value == "pets" || value == "orders"), "{context:?}");
        assert!(!context.values().any(|value| value == "pets-pro" || value == "pets-basic"), "{context:?}");
    }
}

// ---- unauthorized ---------------------------------------------------------

/// Lists header sets that must not identify a caller, each with its case name.
fn unauthorized_headers() -> Vec<(&'static str, Value)> {
    vec![
        ("missing tenant", json!({"x-api-key": ACME_KEY})),
        ("missing api key", json!({"X-Tenant-Id": "acme"})),
        ("unknown api key", identity("acme", "ak_not_in_catalog")),
        ("inactive api key", identity("acme", REVOKED_ACME_KEY)),
        ("key of another tenant", identity("acme", GLOBEX_KEY)),
        ("unknown tenant", identity("ghost", GHOST_KEY)),
        ("tenant with comma", identity(COMMA_TENANT, COMMA_KEY)),
        ("empty tenant", identity("", ACME_KEY)),
        ("empty api key", identity("acme", "")),
        (
            "two spellings differ",
            json!({"X-Tenant-Id": "acme", "x-tenant-id": "globex", "x-api-key": ACME_KEY}),
        ),
    ]
}

#[tokio::test]
async fn rest_request_unauthorized_cases() {
    let (stack, _) = seeded_stack().await;
    let authorizer = from_sdk(&stack.sdk, &config(&stack, Duration::ZERO));

    for (case, headers) in unauthorized_headers() {
        let event = rest_request(PETSTORE_API, "GET", "/pets", "/pets", headers);
        let result = authorizer.handle(event).await;
        assert!(matches!(result, Err(AuthorizerError::Unauthorized)), "{case}: {result:?}");
    }

    let mut repeated = rest_request(PETSTORE_API, "GET", "/pets", "/pets", identity("acme", ACME_KEY));
    repeated["multiValueHeaders"]["X-Tenant-Id"] = json!(["acme", "acme"]);
    let result = authorizer.handle(repeated).await;
    assert!(matches!(result, Err(AuthorizerError::Unauthorized)), "repeated header: {result:?}");
}

#[tokio::test]
async fn rest_token_unauthorized_cases() {
    let (stack, _) = seeded_stack().await;
    let authorizer = from_sdk(&stack.sdk, &config(&stack, Duration::ZERO));

    let cases = [
        ("missing token", None),
        ("empty token", Some("")),
        ("bearer without key", Some("Bearer ")),
        ("unknown key", Some("ak_not_in_catalog")),
        ("inactive key", Some(REVOKED_ACME_KEY)),
        ("unknown tenant", Some(GHOST_KEY)),
    ];
    for (case, token) in cases {
        let result = authorizer.handle(rest_token(PETSTORE_API, "GET", "/pets", token)).await;
        assert!(matches!(result, Err(AuthorizerError::Unauthorized)), "{case}: {result:?}");
    }
}

#[tokio::test]
async fn unknown_event_shapes_unauthorized() {
    let (stack, _) = seeded_stack().await;
    let authorizer = from_sdk(&stack.sdk, &config(&stack, Duration::ZERO));

    let cases = [
        ("not an object", json!("GET /pets")),
        ("empty object", json!({})),
        ("unknown type", json!({"type": "JWT", "methodArn": method_arn(PETSTORE_API, "GET", "/pets")})),
        ("rest without arn", json!({"type": "REQUEST", "headers": identity("acme", ACME_KEY)})),
    ];
    for (case, event) in cases {
        let result = authorizer.handle(event).await;
        assert!(matches!(result, Err(AuthorizerError::Unauthorized)), "{case}: {result:?}");
    }
}

#[tokio::test]
async fn http_unauthorized_cases_deny() {
    let (stack, _) = seeded_stack().await;
    let authorizer = from_sdk(&stack.sdk, &config(&stack, Duration::ZERO));

    for (case, headers) in unauthorized_headers() {
        // Lower-casing would merge the two spellings, so that case keeps its names.
        let two_spellings = case == "two spellings differ";
        let events = [
            ("http 1.0", http_v1(PETSTORE_API, "GET", "/pets", "/pets", headers.clone())),
            ("http 2.0", http_v2(PETSTORE_API, "GET", "/pets", "/pets", headers.clone())),
        ];
        for (format, mut event) in events {
            if two_spellings {
                event["headers"] = headers.clone();
            }
            let case = format!("{format}: {case}");
            let response = authorizer.handle(event).await.unwrap();

            assert_eq!(context(&response), json!({"reason": "unauthorized"}).as_object().cloned().unwrap(), "{case}");
            assert_eq!(response["principalId"], "anonymous", "{case}");
            assert_eq!(resources(&response, "Deny"), vec![method_arn(PETSTORE_API, "GET", "/pets")], "{case}");
            assert!(resources(&response, "Allow").is_empty(), "{case}");
        }
    }
}

#[tokio::test]
async fn http_v2_simple_unauthorized_denies() {
    let (stack, _) = seeded_stack().await;
    let config = Config {
        simple_responses: true,
        ..config(&stack, Duration::ZERO)
    };
    let authorizer = from_sdk(&stack.sdk, &config);

    let event = http_v2(PETSTORE_API, "GET", "/pets", "/pets", identity("acme", GLOBEX_KEY));
    let response = authorizer.handle(event).await.unwrap();
    assert_eq!(response, json!({"isAuthorized": false, "context": {"reason": "unauthorized"}}));

    let malformed = json!({"version": "2.0", "type": "REQUEST", "headers": "not a map"});
    let response = authorizer.handle(malformed).await.unwrap();
    assert_eq!(response, json!({"isAuthorized": false, "context": {"reason": "unauthorized"}}));
}

// ---- cache ----------------------------------------------------------------

async fn suspend_acme_pets(catalog: &DynamoCatalog) {
    let suspended = Subscription {
        status: Status::Suspended,
        ..subscription("acme", "pets", "pets-pro")
    };
    catalog.put_subscription(&suspended).await.unwrap();
}

#[tokio::test]
async fn catalog_change_seen_after_ttl() {
    let (stack, catalog) = seeded_stack().await;
    // The TTL leaves the emulator calls between the first and second decision
    // plenty of time on a loaded machine.
    let ttl = Duration::from_secs(5);
    let authorizer = from_sdk(&stack.sdk, &config(&stack, ttl));
    let event = || rest_request(PETSTORE_API, "GET", "/pets", "/pets", identity("acme", ACME_KEY));

    let first = authorizer.handle(event()).await.unwrap();
    assert_eq!(reason(&first), None);

    suspend_acme_pets(&catalog).await;
    let cached = authorizer.handle(event()).await.unwrap();
    assert_eq!(reason(&cached), None, "the cached subscription is used within the TTL");

    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    let refreshed = authorizer.handle(event()).await.unwrap();
    assert_eq!(reason(&refreshed), Some("subscription_inactive"));
}

#[tokio::test]
async fn zero_ttl_sees_change_at_once() {
    let (stack, catalog) = seeded_stack().await;
    let authorizer = from_sdk(&stack.sdk, &config(&stack, Duration::ZERO));
    let event = || rest_request(PETSTORE_API, "GET", "/pets", "/pets", identity("acme", ACME_KEY));

    let first = authorizer.handle(event()).await.unwrap();
    assert_eq!(reason(&first), None);

    suspend_acme_pets(&catalog).await;
    let second = authorizer.handle(event()).await.unwrap();
    assert_eq!(reason(&second), Some("subscription_inactive"));
}

// ---- DynamoDB unreachable -------------------------------------------------

/// Builds an SDK configuration for a port on 127.0.0.1 where nothing listens,
/// with retries off and short timeouts so each call fails at once.
fn unreachable_sdk(stack: &Stack) -> aws_config::SdkConfig {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);

    stack
        .sdk
        .to_builder()
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(500))
                .operation_timeout(Duration::from_secs(2))
                .build(),
        )
        .build()
}

#[tokio::test]
async fn unreachable_dynamodb_fails_closed() {
    let stack = Stack::new().await;
    let authorizer = from_sdk(&unreachable_sdk(&stack), &config(&stack, Duration::ZERO));
    let arn = method_arn(PETSTORE_API, "GET", "/pets");

    let rest = rest_request(PETSTORE_API, "GET", "/pets", "/pets", identity("acme", ACME_KEY));
    let response = authorizer.handle(rest).await.unwrap();
    assert_eq!(reason(&response), Some("entitlement_unavailable"));
    assert_eq!(resources(&response, "Deny"), vec![arn.clone()]);
    assert!(resources(&response, "Allow").is_empty());
    assert!(response["context"].get("failOpen").is_none());

    let token = rest_token(PETSTORE_API, "GET", "/pets", Some(ACME_KEY));
    let response = authorizer.handle(token).await.unwrap();
    assert_eq!(reason(&response), Some("entitlement_unavailable"));
}

#[tokio::test]
async fn unreachable_dynamodb_fails_open() {
    let stack = Stack::new().await;
    let config = Config {
        fail_open: true,
        ..config(&stack, Duration::ZERO)
    };
    let authorizer = from_sdk(&unreachable_sdk(&stack), &config);
    let arn = method_arn(PETSTORE_API, "GET", "/pets");

    let rest = rest_request(PETSTORE_API, "GET", "/pets", "/pets", identity("acme", ACME_KEY));
    let response = authorizer.handle(rest).await.unwrap();
    assert_eq!(resources(&response, "Allow"), vec![arn]);
    assert!(resources(&response, "Deny").is_empty());
    assert_eq!(response["context"]["failOpen"], "true");
    assert_eq!(reason(&response), None);

    let simple = Config {
        simple_responses: true,
        ..config
    };
    let authorizer = from_sdk(&unreachable_sdk(&stack), &simple);
    let http = http_v2(PETSTORE_API, "GET", "/pets", "/pets", identity("acme", ACME_KEY));
    let response = authorizer.handle(http).await.unwrap();
    assert_eq!(response, json!({"isAuthorized": true, "context": {"failOpen": "true"}}));
}

#[tokio::test]
async fn fail_open_keeps_missing_table_closed() {
    let stack = Stack::new().await;
    let config = Config {
        fail_open: true,
        catalog_table: format!("{}-missing", stack.deployment.catalog_table()),
        ..config(&stack, Duration::ZERO)
    };
    let authorizer = from_sdk(&stack.sdk, &config);

    let rest = rest_request(PETSTORE_API, "GET", "/pets", "/pets", identity("acme", ACME_KEY));
    let response = authorizer.handle(rest).await.unwrap();
    assert_eq!(reason(&response), Some("entitlement_unavailable"));
    assert!(resources(&response, "Allow").is_empty());
    assert!(response["context"].get("failOpen").is_none());
}

#[tokio::test]
async fn fail_open_still_rejects_missing_key() {
    let stack = Stack::new().await;
    let config = Config {
        fail_open: true,
        ..config(&stack, Duration::ZERO)
    };
    let authorizer = from_sdk(&unreachable_sdk(&stack), &config);

    let event = rest_request(PETSTORE_API, "GET", "/pets", "/pets", json!({"X-Tenant-Id": "acme"}));
    let result = authorizer.handle(event).await;
    assert!(matches!(result, Err(AuthorizerError::Unauthorized)), "{result:?}");
}
