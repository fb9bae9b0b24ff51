//! Lambda entry point of the ingest API: reads the configuration, builds the
//! SDK clients once and serves `POST /v1/ingest` requests.

use ingest_api::Config;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    aforo::logging::init();

    let config = Config::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration, not starting"))?;
    let sdk = aforo::aws::load_sdk_config().await;
    let api = ingest_api::from_sdk(&sdk, &config);

    // Boxing the handler future keeps the runtime's future type shallow
    // enough for the compiler's default recursion limit.
    let api = &api;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        Box::pin(async move { Ok::<_, Diagnostic>(api.handle(event.payload).await) })
    }))
    .await
}
