//! AWS SDK configuration shared by every function and tool.

/// Loads the SDK configuration from the environment.
///
/// `AWS_ENDPOINT_URL` (set for local runs against the emulator) is honoured by
/// the SDK itself, so deployed and local code take the same path.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
