//! The real handlers wired together as Lambda would run them: the authorizer
//! on each request, the log decoder on each subscription delivery, and ingest
//! on each batch the SQS event source mapping would hand it.

use std::time::Duration;

use aforo::catalog::{CachedCatalog, DynamoCatalog};
use aforo::ledger::DynamoLedger;
use aforo::usage::DynamoUsage;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::{json, Value};

use crate::bootstrap::Deployment;

/// The three functions and the queue between them.
pub struct Pipeline {
    /// The Lambda authorizer.
    pub authorizer: authorizer::Authorizer<CachedCatalog<DynamoCatalog>, DynamoUsage>,
    /// The log decoder.
    pub decoder: log_decoder::Decoder<CachedCatalog<DynamoCatalog>>,
    /// The SQS-triggered ingest.
    pub ingest: ingest::Ingest<DynamoLedger>,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
}

/// Totals of the ingest batches one drain of the queue handled.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DrainTotals {
    /// SQS batches handed to ingest.
    pub batches: usize,
    /// Ingest's counts, summed over the batches.
    pub summary: ingest::IngestSummary,
}

impl DrainTotals {
    /// Adds another drain's totals to these.
    pub fn merge(&mut self, other: &DrainTotals) {
        self.batches += other.batches;
        self.add_summary(&other.summary);
    }

    fn add(&mut self, summary: &ingest::IngestSummary) {
        self.batches += 1;
        self.add_summary(summary);
    }

    fn add_summary(&mut self, summary: &ingest::IngestSummary) {
        let total = &mut self.summary;
        total.messages += summary.messages;
        total.records += summary.records;
        total.accepted += summary.accepted;
        total.duplicates += summary.duplicates;
        total.failed_messages += summary.failed_messages;
        total.usage += summary.usage;
        total.unattributed += summary.unattributed;
        total.rejected += summary.rejected;
    }
}

/// A queue operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// An SQS call failed.
    #[error("SQS {operation} failed: {source}")]
    Sqs {
        /// SDK operation.
        operation: &'static str,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Ingest could not report per-message failures for a batch.
    #[error("ingest failed the whole batch: {0}")]
    Ingest(String),
}

fn sqs_error<E: std::error::Error + Send + Sync + 'static>(operation: &'static str, err: E) -> PipelineError {
    PipelineError::Sqs {
        operation,
        source: Box::new(err),
    }
}

impl Pipeline {
    /// Wires the handlers to the deployment's tables and queue, with the
    /// functions' default settings.
    pub fn new(sdk: &aws_config::SdkConfig, deployment: &Deployment) -> Self {
        let authorizer_config = authorizer::Config {
            catalog_table: deployment.catalog_table().to_owned(),
            usage_table: deployment.usage_table().to_owned(),
            // The demo checks quotas right after each wave lands, so it reads them uncached.
            cache_ttl: Duration::ZERO,
            fail_open: false,
            simple_responses: false,
        };
        let decoder_config = log_decoder::Config {
            catalog_table: deployment.catalog_table().to_owned(),
            queue_url: deployment.metering_queue_url().to_owned(),
            cache_ttl: Duration::from_secs(30),
            billable_status_classes: vec![2, 3, 4],
            max_message_bytes: aforo::envelope::DEFAULT_MAX_MESSAGE_BYTES,
            send_max_attempts: 5,
        };
        let ingest_config = ingest::Config {
            dedupe_table: deployment.dedupe_table().to_owned(),
            usage_table: deployment.usage_table().to_owned(),
            dedupe_window: Duration::from_secs(35 * 24 * 3600),
            write_max_attempts: 8,
        };
        let queue = &deployment.queues["MeteringQueue"];

        Self {
            authorizer: authorizer::from_sdk(sdk, &authorizer_config),
            decoder: log_decoder::from_sdk(sdk, &decoder_config),
            ingest: ingest::from_sdk(sdk, &ingest_config),
            sqs: aws_sdk_sqs::Client::new(sdk),
            queue_url: queue.url.clone(),
            queue_arn: queue.arn.clone(),
        }
    }

    /// Receives up to ten messages and wraps them in the event Lambda's SQS
    /// event source mapping would send.
    async fn receive_batch(&self) -> Result<(Value, Vec<(String, String)>), PipelineError> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|err| sqs_error("ReceiveMessage", err))?;

        let mut records = Vec::new();
        let mut handles = Vec::new();
        for message in output.messages() {
            let message_id = message.message_id().unwrap_or_default().to_owned();
            let receipt = message.receipt_handle().unwrap_or_default().to_owned();
            let attributes: serde_json::Map<String, Value> = message
                .attributes()
                .map(|attributes| {
                    attributes
                        .iter()
                        .map(|(name, value)| (name.as_str().to_owned(), json!(value)))
                        .collect()
                })
                .unwrap_or_default();

            records.push(json!({
                "messageId": message_id,
                "receiptHandle": receipt,
                "body": message.body().unwrap_or_default(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": message.md5_of_body().unwrap_or_default(),
                "eventSource": "aws:sqs",
                "eventSourceARN": self.queue_arn,
                "awsRegion": "us-east-1",
            }));
            handles.push((message_id, receipt));
        }
        Ok((json!({ "Records": records }), handles))
    }

    /// Runs ingest on queue batches until the queue is empty, deleting the
    /// messages ingest accepted, as the event source mapping does.
    /// With `redeliver_first`, the first batch is handled twice before its
    /// messages are deleted, as when a Lambda times out after writing.
    pub async fn drain(&self, redeliver_first: bool) -> Result<DrainTotals, PipelineError> {
        let mut totals = DrainTotals::default();
        let mut redeliver = redeliver_first;

        loop {
            let (event, handles) = self.receive_batch().await?;
            if handles.is_empty() {
                return Ok(totals);
            }

            if redeliver {
                let (_, summary) = self
                    .ingest
                    .handle(event.clone())
                    .await
                    .map_err(|err| PipelineError::Ingest(err.to_string()))?;
                totals.add(&summary);
                redeliver = false;
            }

            let (response, summary) = self
                .ingest
                .handle(event)
                .await
                .map_err(|err| PipelineError::Ingest(err.to_string()))?;
            totals.add(&summary);

            let failed: Vec<_> = response
                .batch_item_failures
                .iter()
                .map(|failure| failure.item_identifier.clone())
                .collect();
            for (message_id, receipt) in handles {
                if failed.contains(&message_id) {
                    // Left on the queue: it returns after its visibility
                    // timeout and, after maxReceiveCount, moves to the DLQ.
                    continue;
                }
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .map_err(|err| sqs_error("DeleteMessage", err))?;
            }
        }
    }
}
