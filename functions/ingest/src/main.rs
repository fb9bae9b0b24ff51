//! Lambda entry point of ingest: reads the configuration, builds the DynamoDB
//! client once and serves SQS batches with partial-batch responses.

use ingest::Config;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    aforo::logging::init();

    let config = Config::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration, not starting"))?;
    let sdk = aforo::aws::load_sdk_config().await;
    let ingest = ingest::from_sdk(&sdk, &config);

    let ingest = &ingest;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let (response, _summary) = ingest.handle(event.payload).await?;
        Ok::<_, Diagnostic>(response)
    }))
    .await
}
