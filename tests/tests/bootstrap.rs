//! The bootstrap creates the template's tables and queues on the emulator.

use aforo_tests::Stack;
use aws_sdk_sqs::types::QueueAttributeName;

#[tokio::test]
async fn bootstrap_creates_tables_with_ttl() {
    let stack = Stack::new().await;

    let ttl = stack
        .dynamodb
        .describe_time_to_live()
        .table_name(stack.deployment.dedupe_table())
        .send()
        .await
        .unwrap();
    let description = ttl.time_to_live_description.unwrap();
    assert_eq!(description.attribute_name(), Some("expires_at"));

    let catalog = stack
        .dynamodb
        .describe_table()
        .table_name(stack.deployment.catalog_table())
        .send()
        .await
        .unwrap();
    assert_eq!(catalog.table.unwrap().key_schema().len(), 2);
}

#[tokio::test]
async fn bootstrap_sets_redrive_policy() {
    let stack = Stack::new().await;

    let attributes = stack
        .sqs
        .get_queue_attributes()
        .queue_url(stack.deployment.metering_queue_url())
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let policy: serde_json::Value =
        serde_json::from_str(&attributes[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(policy["maxReceiveCount"].as_u64(), Some(5));
    assert!(policy["deadLetterTargetArn"].as_str().unwrap().ends_with("MeteringDeadLetterQueue"));
}

#[tokio::test]
async fn bootstrap_runs_twice_without_error() {
    let stack = Stack::new().await;
    let definitions = aforo_cli::template::load(&aforo_cli::template::default_path()).unwrap();
    let prefix = stack.deployment.catalog_table().trim_end_matches("CatalogTable").to_owned();

    let again = aforo_cli::bootstrap::create(&stack.sdk, &definitions, &prefix).await.unwrap();
    assert_eq!(again, stack.deployment);
}
