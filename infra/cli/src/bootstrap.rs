//! Creates the template's tables and queues on the emulator.
//!
//! Names are `<prefix><LogicalId>`, so tests can create isolated copies on one
//! emulator and the demo uses a fixed prefix. Creating what already exists is
//! not an error, so the bootstrap can run again on a running emulator.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::template::{Definitions, QueueDefinition, TableDefinition};

/// Prefix of the resources the demo and the CLI use.
pub const DEFAULT_PREFIX: &str = "aforo-local-";

/// A resource that could not be created.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// An SDK call failed.
    #[error("{operation} for {resource} failed: {source}")]
    Aws {
        /// SDK operation.
        operation: &'static str,
        /// Resource name.
        resource: String,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The template refers to a queue it does not declare.
    #[error("queue {queue} names dead-letter queue {target}, which is not declared before it")]
    UnknownDeadLetterQueue {
        /// Queue with the redrive policy.
        queue: String,
        /// The missing target.
        target: String,
    },
}

/// A created queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    /// Queue URL.
    pub url: String,
    /// Queue ARN.
    pub arn: String,
}

/// Names of the created resources by logical id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Deployment {
    /// Table logical id to table name.
    pub tables: BTreeMap<String, String>,
    /// Queue logical id to URL and ARN.
    pub queues: BTreeMap<String, QueueInfo>,
}

impl Deployment {
    /// Table name of a logical id; panics when the template lacks it, which
    /// only a broken checkout can cause.
    pub fn table(&self, logical_id: &str) -> &str {
        self.tables
            .get(logical_id)
            .unwrap_or_else(|| panic!("template.yaml declares no table {logical_id}"))
    }

    /// Queue URL of a logical id; panics like [`Deployment::table`].
    pub fn queue_url(&self, logical_id: &str) -> &str {
        &self
            .queues
            .get(logical_id)
            .unwrap_or_else(|| panic!("template.yaml declares no queue {logical_id}"))
            .url
    }

    /// Returns the catalog table name.
    pub fn catalog_table(&self) -> &str {
        self.table("CatalogTable")
    }

    /// Returns the usage table name.
    pub fn usage_table(&self) -> &str {
        self.table("UsageTable")
    }

    /// Returns the dedupe table name.
    pub fn dedupe_table(&self) -> &str {
        self.table("DedupeTable")
    }

    /// Returns the metering queue URL.
    pub fn metering_queue_url(&self) -> &str {
        self.queue_url("MeteringQueue")
    }

    /// Returns the metering dead-letter queue URL.
    pub fn dead_letter_queue_url(&self) -> &str {
        self.queue_url("MeteringDeadLetterQueue")
    }
}

fn aws_error<E>(operation: &'static str, resource: &str, source: E) -> BootstrapError
where
    E: std::error::Error + Send + Sync + 'static,
{
    BootstrapError::Aws {
        operation,
        resource: resource.to_owned(),
        source: Box::new(source),
    }
}

/// Creates every table and queue of `definitions` with names `<prefix><LogicalId>`.
pub async fn create(
    sdk: &aws_config::SdkConfig,
    definitions: &Definitions,
    prefix: &str,
) -> Result<Deployment, BootstrapError> {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut deployment = Deployment::default();

    for table in &definitions.tables {
        let name = format!("{prefix}{}", table.logical_id);
        create_table(&dynamodb, table, &name).await?;
        deployment.tables.insert(table.logical_id.clone(), name);
    }

    for queue in &definitions.queues {
        let name = format!("{prefix}{}", queue.logical_id);
        let info = create_queue(&sqs, queue, &name, &deployment).await?;
        deployment.queues.insert(queue.logical_id.clone(), info);
    }

    Ok(deployment)
}

async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &TableDefinition,
    name: &str,
) -> Result<(), BootstrapError> {
    let attributes = table
        .attributes
        .iter()
        .map(|(attribute, kind)| {
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()
                .map_err(|err| aws_error("CreateTable", name, err))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let key_schema = table
        .key_schema
        .iter()
        .map(|key| {
            KeySchemaElement::builder()
                .attribute_name(&key.name)
                .key_type(KeyType::from(key.key_type.as_str()))
                .build()
                .map_err(|err| aws_error("CreateTable", name, err))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let created = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema))
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(err) => return Err(aws_error("CreateTable", name, err)),
    }

    if let Some(ttl_attribute) = &table.ttl_attribute {
        let specification = TimeToLiveSpecification::builder()
            .attribute_name(ttl_attribute)
            .enabled(true)
            .build()
            .map_err(|err| aws_error("UpdateTimeToLive", name, err))?;
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(specification)
            .send()
            .await
            .map_err(|err| aws_error("UpdateTimeToLive", name, err))?;
    }
    Ok(())
}

async fn create_queue(
    client: &aws_sdk_sqs::Client,
    queue: &QueueDefinition,
    name: &str,
    deployment: &Deployment,
) -> Result<QueueInfo, BootstrapError> {
    let mut request = client.create_queue().queue_name(name);
    for (attribute, value) in &queue.attributes {
        request = request.attributes(QueueAttributeName::from(attribute.as_str()), value);
    }

    if let Some((target, max_receive_count)) = &queue.redrive {
        let target_arn = &deployment
            .queues
            .get(target)
            .ok_or_else(|| BootstrapError::UnknownDeadLetterQueue {
                queue: queue.logical_id.clone(),
                target: target.clone(),
            })?
            .arn;
        let policy = serde_json::json!({
            "deadLetterTargetArn": target_arn,
            "maxReceiveCount": max_receive_count,
        });
        request = request.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
    }

    let url = request
        .send()
        .await
        .map_err(|err| aws_error("CreateQueue", name, err))?
        .queue_url
        .unwrap_or_default();

    let arn = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|err| aws_error("GetQueueAttributes", name, err))?
        .attributes
        .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
        .unwrap_or_default();

    Ok(QueueInfo { url, arn })
}
