//! Test harness: starts the local AWS emulator when needed and creates an
//! isolated copy of the template's tables and queues for each test.
//!
//! Every test gets its own random name prefix, so tests run in parallel on one
//! emulator without resetting it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use aforo_cli::bootstrap::{self, Deployment};
use aforo_cli::template;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

/// Emulator port when `AFORO_EMULATOR_PORT` is unset, the same default as
/// `infra/env.sh`.
const DEFAULT_PORT: &str = "4599";

/// Returns the workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Reads a file under the repository's `tests/fixtures/`.
pub fn fixture(name: &str) -> String {
    let path = workspace_root().join("tests/fixtures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("cannot read fixture {}: {err}", path.display()))
}

/// Returns the emulator endpoint on 127.0.0.1.
pub fn endpoint_url() -> String {
    let port = std::env::var("AFORO_EMULATOR_PORT").unwrap_or_else(|_| DEFAULT_PORT.to_owned());
    format!("http://127.0.0.1:{port}")
}

/// Starts the emulator once per test process (a no-op when it already runs).
fn ensure_emulator() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let script = workspace_root().join("infra/emulator.sh");
        let status = Command::new("bash")
            .arg(&script)
            .arg("start")
            .status()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", script.display()));
        assert!(status.success(), "{} start failed; see .emulator/moto.log", script.display());
    });
}

/// SDK configuration for the emulator: dummy credentials and a fixed region,
/// so the SDK never looks for real credentials or the metadata service.
pub async fn sdk_config() -> SdkConfig {
    ensure_emulator();
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint_url())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "aforo-tests"))
        .load()
        .await
}

/// An isolated copy of the template's resources on the emulator.
pub struct Stack {
    /// SDK configuration pointing at the emulator.
    pub sdk: SdkConfig,
    /// Names of the created resources.
    pub deployment: Deployment,
    /// DynamoDB client.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// SQS client.
    pub sqs: aws_sdk_sqs::Client,
}

impl Stack {
    /// Creates fresh tables and queues under a random prefix.
    pub async fn new() -> Self {
        let sdk = sdk_config().await;
        let definitions = template::load(&template::default_path()).expect("template.yaml is readable");
        let prefix = format!("t{:08x}-", rand::random::<u32>());
        let deployment = bootstrap::create(&sdk, &definitions, &prefix)
            .await
            .expect("bootstrap on the emulator succeeds");

        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            sdk,
            deployment,
        }
    }
}
