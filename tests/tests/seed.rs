//! The seed catalog loads into the catalog table and reads back through
//! `DynamoCatalog`, with tenant API keys and integration ingest keys stored
//! only as hashes. Invalid seeds are rejected with an error that names the
//! entry.

use std::collections::BTreeMap;

use aforo::catalog::{CatalogStore, DynamoCatalog, GatewayKind, Status};
use aforo::keys;
use aforo::period::Granularity;
use aforo_cli::seed::{self, Seed, SeedCounts, SeedError};
use aforo_tests::Stack;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

const TENANT_KEYS: [&str; 4] = [
    "ak_acme_4f1c2e9b7d0a",
    "ak_globex_8a3d5f1e2c6b",
    "ak_initech_6b9e4c2a1f3d",
    "ak_hooli_2c7f9a1b5e8d",
];

/// The four active non-AWS integrations with their kind and plaintext ingest key.
const INGEST_KEYS: [(&str, GatewayKind, &str); 4] = [
    ("kong-edge", GatewayKind::Kong, "ik_kong_5d2a8c41e7f9"),
    ("apigee-eu", GatewayKind::Apigee, "ik_apigee_9b3e1f6a2c70"),
    ("azure-apim-west", GatewayKind::AzureApim, "ik_apim_3c8d5e2f1a94"),
    ("mulesoft-core", GatewayKind::Mulesoft, "ik_mule_7e1b4a9d6c35"),
];

const RETIRED_INGEST_KEY: &str = "ik_kong_retired_0f0f0f0f";

fn project_seed() -> Seed {
    Seed::from_file(&seed::default_path()).expect("infra/seed/catalog.json is a valid seed")
}

async fn loaded_stack() -> (Stack, DynamoCatalog, SeedCounts) {
    let stack = Stack::new().await;
    let catalog = DynamoCatalog::new(stack.dynamodb.clone(), stack.deployment.catalog_table());
    let counts = seed::load(&catalog, &project_seed()).await.expect("seed loads");
    (stack, catalog, counts)
}

/// Scans every item of a table, across pages.
async fn scan_all(stack: &Stack, table: &str) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let mut items = Vec::new();
    let mut start_key = None;
    loop {
        let page = stack
            .dynamodb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start_key)
            .send()
            .await
            .expect("scan succeeds");
        items.extend(page.items.unwrap_or_default());
        start_key = page.last_evaluated_key;
        if start_key.is_none() {
            return items;
        }
    }
}

/// Collects every string inside an attribute value, including map keys.
fn attribute_strings(value: &AttributeValue, found: &mut Vec<String>) {
    match value {
        AttributeValue::S(text) | AttributeValue::N(text) => found.push(text.clone()),
        AttributeValue::Ss(texts) | AttributeValue::Ns(texts) => found.extend(texts.iter().cloned()),
        AttributeValue::B(blob) => found.push(String::from_utf8_lossy(blob.as_ref()).into_owned()),
        AttributeValue::L(values) => values.iter().for_each(|value| attribute_strings(value, found)),
        AttributeValue::M(map) => {
            for (key, value) in map {
                found.push(key.clone());
                attribute_strings(value, found);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn seed_load_counts_every_entity() {
    let (_stack, _catalog, counts) = loaded_stack().await;

    let expected = SeedCounts {
        integrations: 6,
        routes: 36,
        products: 2,
        plans: 4,
        tenants: 4,
        api_keys: 4,
        integration_keys: 5,
        subscriptions: 6,
    };
    assert_eq!(counts, expected);
}

#[tokio::test]
async fn seed_keys_found_by_hash() {
    let (_stack, catalog, _counts) = loaded_stack().await;
    let tenants = ["acme", "globex", "initech", "hooli"];

    for (plaintext, tenant_id) in TENANT_KEYS.iter().zip(tenants) {
        let api_key = catalog
            .api_key(&keys::api_key_hash(plaintext))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no API key record for tenant {tenant_id}"));
        assert_eq!(api_key.tenant_id, tenant_id);
        assert_eq!(api_key.status, Status::Active);
    }
}

#[tokio::test]
async fn seed_stores_no_plaintext_key() {
    let (stack, _catalog, _counts) = loaded_stack().await;
    let items = scan_all(&stack, stack.deployment.catalog_table()).await;
    assert!(!items.is_empty(), "the catalog table has items after loading");

    let mut stored = Vec::new();
    for item in &items {
        for (name, value) in item {
            stored.push(name.clone());
            attribute_strings(value, &mut stored);
        }
    }

    for key in TENANT_KEYS {
        let leaked = stored.iter().any(|text| text.contains(key));
        assert!(!leaked, "a catalog item contains a plaintext API key");
    }

    let ingest_keys = INGEST_KEYS.iter().map(|(_, _, key)| *key).chain([RETIRED_INGEST_KEY]);
    for key in ingest_keys {
        let leaked = stored.iter().any(|text| text.contains(key));
        assert!(!leaked, "a catalog item contains a plaintext ingest key");
    }
}

#[tokio::test]
async fn seed_ingest_keys_resolve_to_integrations() {
    let (_stack, catalog, _counts) = loaded_stack().await;

    for (integration_id, kind, plaintext) in INGEST_KEYS {
        let key = catalog
            .integration_key(&keys::api_key_hash(plaintext))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no ingest key record for integration {integration_id}"));
        assert_eq!(key.integration_id, integration_id);
        assert_eq!(key.status, Status::Active, "{integration_id}");

        let integration = catalog.integration(integration_id).await.unwrap().expect("integration exists");
        assert_eq!(integration.kind, kind, "{integration_id}");
        assert_eq!(integration.status, Status::Active, "{integration_id}");
        assert_eq!(integration.api_id, None, "{integration_id}");
    }
}

#[tokio::test]
async fn seed_unknown_ingest_key_not_found() {
    let (_stack, catalog, _counts) = loaded_stack().await;

    let unknown = catalog.integration_key(&keys::api_key_hash("ik_nobody_0000")).await.unwrap();
    assert_eq!(unknown, None);

    // A tenant API key is not an ingest key.
    let tenant_key = catalog.integration_key(&keys::api_key_hash(TENANT_KEYS[0])).await.unwrap();
    assert_eq!(tenant_key, None);
}

#[tokio::test]
async fn seed_retired_integration_is_suspended() {
    let (_stack, catalog, _counts) = loaded_stack().await;

    let retired = catalog.integration("kong-retired").await.unwrap().expect("kong-retired exists");
    assert_eq!(retired.kind, GatewayKind::Kong);
    assert_eq!(retired.status, Status::Suspended);

    // The key itself stays active, so the ingest API finds the integration and can reject it as disabled.
    let key = catalog
        .integration_key(&keys::api_key_hash(RETIRED_INGEST_KEY))
        .await
        .unwrap()
        .expect("the retired key is stored");
    assert_eq!(key.integration_id, "kong-retired");
    assert_eq!(key.status, Status::Active);
}

#[tokio::test]
async fn seed_routes_match_across_integrations() {
    let (_stack, catalog, _counts) = loaded_stack().await;
    let products_by_template = |routes: Vec<aforo::catalog::Route>| -> BTreeMap<String, String> {
        routes
            .into_iter()
            .map(|route| (route.route.to_string(), route.product_id))
            .collect()
    };

    let reference = products_by_template(catalog.routes("aws-rest-petstore").await.unwrap());
    assert_eq!(reference.len(), 6);
    assert_eq!(reference.get("GET /pets/{petId}").map(String::as_str), Some("pets"));
    assert_eq!(reference.get("POST /orders").map(String::as_str), Some("orders"));

    let integrations = catalog.integrations().await.unwrap();
    assert_eq!(integrations.len(), 6);
    for integration in integrations {
        let routes = products_by_template(catalog.routes(&integration.id).await.unwrap());
        assert_eq!(routes, reference, "routes of integration {}", integration.id);
    }
}

#[tokio::test]
async fn seed_integration_maps_api_id() {
    let (_stack, catalog, _counts) = loaded_stack().await;

    let integration = catalog.integration_for_api("a1b2c3d4e5").await.unwrap().expect("api id is mapped");
    assert_eq!(integration.id, "aws-rest-petstore");
    assert_eq!(integration.kind, GatewayKind::AwsRest);
    assert_eq!(integration.status, Status::Active);
    assert!(integration.flags.metering);
    assert!(integration.flags.entitlement);
}

#[tokio::test]
async fn seed_routes_read_back() {
    let (_stack, catalog, _counts) = loaded_stack().await;
    let routes = catalog.routes("aws-rest-petstore").await.unwrap();
    assert_eq!(routes.len(), 6);

    let pet = aforo::catalog::find_route(&routes, "GET", "/pets/42").expect("GET /pets/42 has a route");
    assert_eq!(pet.product_id, "pets");
    assert_eq!(pet.route.resource_path, "/pets/{petId}");

    let order = aforo::catalog::find_route(&routes, "POST", "/orders").expect("POST /orders has a route");
    assert_eq!(order.product_id, "orders");
}

#[tokio::test]
async fn seed_plans_read_back() {
    let (_stack, catalog, _counts) = loaded_stack().await;

    let trial = catalog.plan("orders-trial").await.unwrap().expect("orders-trial exists");
    assert_eq!(trial.product_id, "orders");
    let quota = trial.quota.expect("orders-trial has a quota");
    assert_eq!(quota.requests, 20);
    assert_eq!(quota.period, Granularity::Day);

    let basic = catalog.plan("pets-basic").await.unwrap().expect("pets-basic exists");
    assert_eq!(basic.quota.map(|quota| (quota.requests, quota.period)), Some((1000, Granularity::Month)));

    let pro = catalog.plan("pets-pro").await.unwrap().expect("pets-pro exists");
    assert_eq!(pro.quota, None);
}

#[tokio::test]
async fn seed_subscription_dates_read_back() {
    let (_stack, catalog, _counts) = loaded_stack().await;
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();

    let initech = catalog.subscriptions("initech").await.unwrap();
    let pets = initech.iter().find(|s| s.product_id == "pets").expect("initech pets subscription");
    assert_eq!(pets.plan_id, "pets-basic");
    assert_eq!(pets.starts_at, start);
    assert_eq!(pets.ends_at, Some(Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap()));

    let hooli = catalog.subscriptions("hooli").await.unwrap();
    assert_eq!(hooli.len(), 1);
    assert_eq!(hooli[0].starts_at, Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
    assert_eq!(hooli[0].ends_at, None);

    let acme = catalog.subscriptions("acme").await.unwrap();
    let mut plans: Vec<_> = acme.iter().map(|s| (s.product_id.as_str(), s.plan_id.as_str())).collect();
    plans.sort();
    assert_eq!(plans, [("orders", "orders-standard"), ("pets", "pets-pro")]);
}

#[tokio::test]
async fn seed_tenants_read_back() {
    let (_stack, catalog, _counts) = loaded_stack().await;

    for tenant_id in ["acme", "globex", "initech", "hooli"] {
        let tenant = catalog.tenant(tenant_id).await.unwrap();
        let status = tenant.map(|tenant| tenant.status);
        assert_eq!(status, Some(Status::Active), "tenant {tenant_id}");
    }
}

#[tokio::test]
async fn seed_load_twice_keeps_items() {
    let (stack, catalog, first) = loaded_stack().await;
    let before = scan_all(&stack, stack.deployment.catalog_table()).await.len();

    let second = seed::load(&catalog, &project_seed()).await.unwrap();
    let after = scan_all(&stack, stack.deployment.catalog_table()).await.len();

    assert_eq!(second, first);
    assert_eq!(after, before);
}

#[tokio::test]
async fn seed_load_into_missing_table_fails() {
    let stack = Stack::new().await;
    let catalog = DynamoCatalog::new(stack.dynamodb.clone(), "no-such-table");

    let result = seed::load(&catalog, &project_seed()).await;
    assert!(matches!(result, Err(SeedError::Store { .. })), "got {result:?}");
}

/// Builds a small valid seed that each validation case breaks in one place.
fn valid_seed() -> Value {
    json!({
        "integrations": [{
            "id": "gw",
            "kind": "aws-rest",
            "api_id": "abc123",
            "stage": "prod",
            "routes": [{ "method": "GET", "resource_path": "/pets", "product_id": "pets" }]
        }],
        "products": [{ "id": "pets", "name": "Pets" }, { "id": "orders", "name": "Orders" }],
        "plans": [
            { "id": "pets-basic", "product_id": "pets", "name": "Basic", "quota": { "requests": 10, "period": "day" } },
            { "id": "orders-basic", "product_id": "orders", "name": "Basic", "quota": null }
        ],
        "tenants": [{
            "id": "acme",
            "name": "Acme",
            "api_key": "ak_test_1",
            "subscriptions": [{ "product_id": "pets", "plan_id": "pets-basic", "starts_at": "2026-01-01T00:00:00Z" }]
        }]
    })
}

fn parse(seed: &Value) -> Result<Seed, SeedError> {
    Seed::from_json(&seed.to_string())
}

#[test]
fn valid_seed_parses() {
    let seed = parse(&valid_seed()).unwrap();
    assert_eq!(seed.api_key_for("acme"), Some("ak_test_1"));
}

#[test]
fn route_with_unknown_product_rejected() {
    let mut seed = valid_seed();
    seed["integrations"][0]["routes"][0]["product_id"] = json!("toys");

    let err = parse(&seed).unwrap_err();
    let SeedError::UnknownProduct { entry, product_id } = &err else {
        panic!("expected UnknownProduct, got {err:?}");
    };
    assert_eq!(product_id, "toys");
    assert_eq!(entry, "route GET /pets of integration gw");
}

#[test]
fn subscription_with_unknown_plan_rejected() {
    let mut seed = valid_seed();
    seed["tenants"][0]["subscriptions"][0]["plan_id"] = json!("pets-gold");

    let err = parse(&seed).unwrap_err();
    let SeedError::UnknownPlan { entry, plan_id } = &err else {
        panic!("expected UnknownPlan, got {err:?}");
    };
    assert_eq!(plan_id, "pets-gold");
    assert_eq!(entry, "subscription of tenant acme to product pets");
}

#[test]
fn subscription_plan_of_other_product_rejected() {
    let mut seed = valid_seed();
    seed["tenants"][0]["subscriptions"][0]["plan_id"] = json!("orders-basic");

    let err = parse(&seed).unwrap_err();
    let SeedError::PlanOfOtherProduct { plan_id, plan_product_id, .. } = &err else {
        panic!("expected PlanOfOtherProduct, got {err:?}");
    };
    assert_eq!(plan_id, "orders-basic");
    assert_eq!(plan_product_id, "orders");
}

#[test]
fn duplicate_tenant_id_rejected() {
    let mut seed = valid_seed();
    let mut twin = seed["tenants"][0].clone();
    twin["api_key"] = json!("ak_test_2");
    seed["tenants"].as_array_mut().unwrap().push(twin);

    let err = parse(&seed).unwrap_err();
    let SeedError::Duplicate { kind, id } = &err else {
        panic!("expected Duplicate, got {err:?}");
    };
    assert_eq!(*kind, "tenant");
    assert_eq!(id, "acme");
}

#[test]
fn duplicate_ids_of_each_kind_rejected() {
    let cases = [("products", "product"), ("plans", "plan"), ("integrations", "integration")];

    for (section, expected_kind) in cases {
        let mut seed = valid_seed();
        let first = seed[section][0].clone();
        seed[section].as_array_mut().unwrap().push(first);

        let err = parse(&seed).unwrap_err();
        assert!(
            matches!(&err, SeedError::Duplicate { kind, .. } if *kind == expected_kind),
            "{section}: got {err:?}"
        );
    }
}

#[test]
fn duplicate_route_rejected() {
    let mut seed = valid_seed();
    let routes = seed["integrations"][0]["routes"].as_array_mut().unwrap();
    routes.push(json!({ "method": "get", "resource_path": "/pets", "product_id": "orders" }));

    let err = parse(&seed).unwrap_err();
    assert!(matches!(&err, SeedError::Duplicate { kind: "route", .. }), "got {err:?}");
}

#[test]
fn shared_api_key_rejected_without_key() {
    let mut seed = valid_seed();
    let mut other = seed["tenants"][0].clone();
    other["id"] = json!("globex");
    seed["tenants"].as_array_mut().unwrap().push(other);

    let err = parse(&seed).unwrap_err();
    assert!(matches!(&err, SeedError::Duplicate { kind: "API key", .. }), "got {err:?}");
    assert!(!err.to_string().contains("ak_test_1"), "the error shows the key: {err}");
}

#[test]
fn empty_api_key_rejected() {
    let mut seed = valid_seed();
    seed["tenants"][0]["api_key"] = json!("  ");

    let err = parse(&seed).unwrap_err();
    let SeedError::Empty { entry, field } = &err else {
        panic!("expected Empty, got {err:?}");
    };
    assert_eq!(*field, "api_key");
    assert_eq!(entry, "tenant acme");
}

#[test]
fn empty_tenant_id_rejected() {
    let mut seed = valid_seed();
    seed["tenants"][0]["id"] = json!("");

    let err = parse(&seed).unwrap_err();
    assert!(matches!(&err, SeedError::Empty { field: "id", .. }), "got {err:?}");
}

#[test]
fn subscription_ending_before_start_rejected() {
    let mut seed = valid_seed();
    seed["tenants"][0]["subscriptions"][0]["ends_at"] = json!("2025-12-31T00:00:00Z");

    let err = parse(&seed).unwrap_err();
    assert!(matches!(&err, SeedError::Invalid { .. }), "got {err:?}");
}

#[test]
fn duplicate_subscription_rejected() {
    let mut seed = valid_seed();
    let first = seed["tenants"][0]["subscriptions"][0].clone();
    seed["tenants"][0]["subscriptions"].as_array_mut().unwrap().push(first);

    let err = parse(&seed).unwrap_err();
    assert!(matches!(&err, SeedError::Duplicate { kind: "subscription", .. }), "got {err:?}");
}

#[test]
fn api_gateway_integration_without_api_id_rejected() {
    let mut seed = valid_seed();
    seed["integrations"][0].as_object_mut().unwrap().remove("api_id");

    let err = parse(&seed).unwrap_err();
    let SeedError::Invalid { entry, .. } = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(entry, "integration gw");
}

#[test]
fn route_with_unknown_method_rejected() {
    let mut seed = valid_seed();
    seed["integrations"][0]["routes"][0]["method"] = json!("FETCH");

    let err = parse(&seed).unwrap_err();
    assert!(matches!(&err, SeedError::Invalid { .. }), "got {err:?}");
}

#[test]
fn route_path_without_slash_rejected() {
    let mut seed = valid_seed();
    seed["integrations"][0]["routes"][0]["resource_path"] = json!("pets");

    let err = parse(&seed).unwrap_err();
    assert!(matches!(&err, SeedError::Invalid { .. }), "got {err:?}");
}

#[test]
fn plan_with_unknown_product_rejected() {
    let mut seed = valid_seed();
    seed["plans"][0]["product_id"] = json!("toys");

    let err = parse(&seed).unwrap_err();
    let SeedError::UnknownProduct { entry, .. } = &err else {
        panic!("expected UnknownProduct, got {err:?}");
    };
    assert_eq!(entry, "plan pets-basic");
}

#[test]
fn misspelled_field_rejected() {
    let mut seed = valid_seed();
    let plan = seed["plans"][0].as_object_mut().unwrap();
    let quota = plan.remove("quota").unwrap();
    plan.insert("qouta".to_owned(), quota);

    let err = parse(&seed).unwrap_err();
    assert!(matches!(&err, SeedError::Parse { .. }), "got {err:?}");
    assert!(err.to_string().contains("qouta"), "the error names the field: {err}");
}

#[test]
fn missing_seed_file_rejected() {
    let err = Seed::from_file(std::path::Path::new("/nonexistent/catalog.json")).unwrap_err();
    assert!(matches!(&err, SeedError::Io { .. }), "got {err:?}");
}

/// Adds a Kong integration with `ingest_key` to [`valid_seed`].
fn seed_with_ingest_key(integration_id: &str, ingest_key: &str) -> Value {
    let mut seed = valid_seed();
    seed["integrations"].as_array_mut().unwrap().push(json!({
        "id": integration_id,
        "kind": "kong",
        "ingest_key": ingest_key,
        "routes": [{ "method": "GET", "resource_path": "/pets", "product_id": "pets" }]
    }));
    seed
}

#[test]
fn ingest_key_parses() {
    let seed = parse(&seed_with_ingest_key("kong", "ik_test_1")).unwrap();
    assert_eq!(seed.ingest_key_for("kong"), Some("ik_test_1"));
    assert_eq!(seed.ingest_key_for("gw"), None);
}

#[test]
fn shared_ingest_key_rejected_without_key() {
    let mut seed = seed_with_ingest_key("kong-a", "ik_test_1");
    let mut twin = seed["integrations"][1].clone();
    twin["id"] = json!("kong-b");
    seed["integrations"].as_array_mut().unwrap().push(twin);

    let err = parse(&seed).unwrap_err();
    let SeedError::Duplicate { kind, id } = &err else {
        panic!("expected Duplicate, got {err:?}");
    };
    assert_eq!(*kind, "ingest key");
    assert_eq!(id, "of integration kong-b");
    assert!(!err.to_string().contains("ik_test_1"), "the error shows the key: {err}");
}

#[test]
fn ingest_key_equal_to_tenant_key_rejected() {
    let seed = seed_with_ingest_key("kong", "ak_test_1");

    let err = parse(&seed).unwrap_err();
    let SeedError::Invalid { entry, reason } = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(entry, "integration kong");
    assert!(reason.contains("tenant acme"), "{reason}");
    assert!(!err.to_string().contains("ak_test_1"), "the error shows the key: {err}");
}

#[test]
fn empty_ingest_key_rejected() {
    let seed = seed_with_ingest_key("kong", " ");

    let err = parse(&seed).unwrap_err();
    let SeedError::Empty { entry, field } = &err else {
        panic!("expected Empty, got {err:?}");
    };
    assert_eq!(*field, "ingest_key");
    assert_eq!(entry, "integration kong");
}

#[test]
fn ingest_key_debug_is_redacted() {
    let seed = parse(&seed_with_ingest_key("kong", "ik_test_1")).unwrap();
    let printed = format!("{seed:?}");
    assert!(!printed.contains("ik_test_1"), "{printed}");
}
