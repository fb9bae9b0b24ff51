//! Lambda entry point: reads the configuration, builds the DynamoDB client once
//! and serves API Gateway authorizer events.

use authorizer::{from_sdk, Config};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    aforo::logging::init();
    let config = Config::from_env()?;
    let sdk = aforo::aws::load_sdk_config().await;
    let authorizer = from_sdk(&sdk, &config);

    // Boxing the handler's future keeps the runtime's future type shallow
    // enough for the compiler's default query depth limit.
    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        Box::pin(authorizer.handle(event.payload))
    }))
    .await
}
