//! Lambda entry point of the log decoder.

use lambda_runtime::{service_fn, LambdaEvent};
use log_decoder::Config;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    aforo::logging::init();

    let config = Config::from_env()?;
    let sdk = aforo::aws::load_sdk_config().await;
    let decoder = log_decoder::from_sdk(&sdk, &config);

    // Boxing the handler future keeps the runtime's future type shallow
    // enough for the compiler's default recursion limit.
    let decoder = &decoder;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        Box::pin(decoder.handle(event.payload))
    }))
    .await
}
