//! Native adapter output resolved through the seeded catalog on the emulator.
//! Each gateway's reference records become billable usage of the right tenant,
//! product and route template, or unattributed usage with its reason. The
//! idempotency key comes from the integration and the gateway's request id.

use aforo::adapters;
use aforo::catalog::{CatalogStore, DynamoCatalog, GatewayKind};
use aforo::event::{MeteringEvent, MeteringRecord, UnattributedEvent, UnattributedReason};
use aforo::gateway::attribute;
use aforo::keys::idempotency_key;
use aforo_cli::seed::{self, Seed};
use aforo_tests::{fixture, Stack};

/// Loads the project's seed catalog into a fresh stack.
async fn seeded_catalog() -> (Stack, DynamoCatalog) {
    let stack = Stack::new().await;
    let catalog = DynamoCatalog::new(stack.dynamodb.clone(), stack.deployment.catalog_table());
    let seed = Seed::from_file(&seed::default_path()).expect("infra/seed/catalog.json is a valid seed");
    seed::load(&catalog, &seed).await.expect("seed loads");
    (stack, catalog)
}

/// Parses a gateway fixture as `integration_id` sends it and attributes every
/// record through the catalog.
async fn attribute_fixture(catalog: &DynamoCatalog, integration_id: &str, name: &str) -> Vec<MeteringRecord> {
    let integration = catalog
        .integration(integration_id)
        .await
        .expect("catalog read succeeds")
        .expect("seeded integration exists");
    let body: serde_json::Value = serde_json::from_str(&fixture(name)).expect("fixture is valid JSON");

    let mut records = Vec::new();
    for parsed in adapters::parse(integration.kind, &body).expect("fixture has the gateway's shape") {
        let request = parsed.expect("fixture record is valid");
        records.push(
            attribute(catalog, &integration, &request)
                .await
                .expect("attribution succeeds"),
        );
    }
    records
}

fn usage(record: &MeteringRecord) -> &MeteringEvent {
    match record {
        MeteringRecord::Usage(event) => event,
        other => panic!("expected billable usage, got {other:?}"),
    }
}

fn unattributed(record: &MeteringRecord) -> &UnattributedEvent {
    match record {
        MeteringRecord::Unattributed(event) => event,
        other => panic!("expected unattributed usage, got {other:?}"),
    }
}

#[tokio::test]
async fn kong_batch_attributed_through_catalog() {
    let (_stack, catalog) = seeded_catalog().await;
    let integration = catalog.integration("kong-edge").await.unwrap().unwrap();
    assert_eq!(integration.kind, GatewayKind::Kong);

    let records = attribute_fixture(&catalog, "kong-edge", "gateways/kong/http-log-batch.json").await;
    assert_eq!(records.len(), 3);

    let order = usage(&records[0]);
    assert_eq!(order.tenant_id, "acme");
    assert_eq!(order.product_id, "orders");
    assert_eq!(order.route, "/orders");
    assert_eq!(order.source, "kong-edge");
    assert_eq!(
        order.idempotency_key,
        idempotency_key("kong-edge", "0f9e8d7c6b5a49382716a5b4c3d2e1f0")
    );

    let pets = usage(&records[1]);
    assert_eq!(pets.tenant_id, "globex");
    assert_eq!(pets.product_id, "pets");
    assert_eq!(
        pets.idempotency_key,
        idempotency_key("kong-edge", "6a1b2c3d4e5f40718293a4b5c6d7e8f9")
    );

    let anonymous = unattributed(&records[2]);
    assert_eq!(anonymous.reason, UnattributedReason::MissingTenant);
    assert_eq!(anonymous.status, Some(401));
}

#[tokio::test]
async fn kong_single_entry_resolves_template() {
    let (_stack, catalog) = seeded_catalog().await;

    let records = attribute_fixture(&catalog, "kong-edge", "gateways/kong/http-log-single.json").await;
    assert_eq!(records.len(), 1);

    let event = usage(&records[0]);
    assert_eq!(event.tenant_id, "acme");
    assert_eq!(event.product_id, "pets");
    assert_eq!(event.route, "/pets/{petId}");
}

#[tokio::test]
async fn apigee_records_attributed_through_catalog() {
    let (_stack, catalog) = seeded_catalog().await;

    let records = attribute_fixture(&catalog, "apigee-eu", "gateways/apigee/postclientflow-record.json").await;
    let event = usage(&records[0]);
    assert_eq!(event.tenant_id, "acme");
    assert_eq!(event.product_id, "pets");
    assert_eq!(event.route, "/pets/{petId}");
    assert_eq!(
        event.idempotency_key,
        idempotency_key("apigee-eu", "rrt-0a2f6b3c9e41d7c58-b-ew-13584-1098765-1")
    );

    let records = attribute_fixture(
        &catalog,
        "apigee-eu",
        "gateways/apigee/postclientflow-fault-record.json",
    )
    .await;
    let event = usage(&records[0]);
    assert_eq!(event.tenant_id, "initech");
    assert_eq!(event.product_id, "orders");
    assert_eq!(event.status, 429);
}

#[tokio::test]
async fn azure_records_attributed_through_catalog() {
    let (_stack, catalog) = seeded_catalog().await;

    let records = attribute_fixture(&catalog, "azure-apim-west", "gateways/azure-apim/outbound-record.json").await;
    let event = usage(&records[0]);
    assert_eq!(event.tenant_id, "acme");
    assert_eq!(event.product_id, "pets");
    assert_eq!(event.route, "/pets/{petId}");
    assert_eq!(
        event.idempotency_key,
        idempotency_key("azure-apim-west", "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b")
    );

    let records = attribute_fixture(&catalog, "azure-apim-west", "gateways/azure-apim/on-error-record.json").await;
    let unrouted = unattributed(&records[0]);
    assert_eq!(unrouted.reason, UnattributedReason::UnknownRoute);
    assert_eq!(unrouted.tenant_id.as_deref(), Some("globex"));
    assert_eq!(unrouted.route.as_deref(), Some("/pets/42/photos"));
}

#[tokio::test]
async fn mule_records_attributed_through_catalog() {
    let (_stack, catalog) = seeded_catalog().await;

    let records = attribute_fixture(&catalog, "mulesoft-core", "gateways/mulesoft/policy-record.json").await;
    let event = usage(&records[0]);
    assert_eq!(event.tenant_id, "acme");
    assert_eq!(event.product_id, "pets");
    assert_eq!(event.route, "/pets/{petId}");
    assert_eq!(
        event.idempotency_key,
        idempotency_key("mulesoft-core", "3f2e1d0c-9b8a-11f0-a7c6-0242ac120002")
    );

    let records = attribute_fixture(
        &catalog,
        "mulesoft-core",
        "gateways/mulesoft/policy-record-unmasked.json",
    )
    .await;
    let anonymous = unattributed(&records[0]);
    assert_eq!(anonymous.reason, UnattributedReason::MissingTenant);
    assert_eq!(anonymous.route.as_deref(), Some("/orders"));
}
