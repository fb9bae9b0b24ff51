//! `aforo`: local operations on the emulator. Each subcommand is a variant of
//! [`Command`] that calls into the `aforo_cli` library, so tests and the demo
//! run the same code.
//!
//! The AWS calls only go to the local emulator: every subcommand but `send`
//! exits before any AWS call unless `AWS_ENDPOINT_URL` (set by
//! `infra/env.sh`) is on 127.0.0.1 or localhost. `send` makes no AWS call; it
//! posts to the `/v1/ingest` endpoint it is given.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use aforo::catalog::DynamoCatalog;
use aforo::period::Granularity;
use aforo::store::StoreError;
use aforo::usage::DynamoUsage;
use aforo_cli::bootstrap::{self, BootstrapError, Deployment, DEFAULT_PREFIX};
use aforo_cli::demo::{self, DemoError};
use aforo_cli::flags::{self, Flag, FlagsError};
use aforo_cli::report;
use aforo_cli::send::{self, SendArgs, SendFormat};
use aforo_cli::serve;
use aforo_cli::seed::{self, Seed, SeedCounts, SeedError};
use aforo_cli::template::{self, TemplateError};
use aws_config::SdkConfig;
use clap::{Args, Parser, Subcommand};

/// Endpoint variables that the AWS SDK reads for the services this tool calls.
/// A service-specific variable overrides `AWS_ENDPOINT_URL` for that service.
const SERVICE_ENDPOINT_VARIABLES: [&str; 2] = ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS"];

/// Local operations for Aforo on the emulator (source infra/env.sh first).
#[derive(Debug, Parser)]
#[command(name = "aforo", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands. A new one is a variant here and an arm in [`run`].
#[derive(Debug, Subcommand)]
enum Command {
    /// Create the tables and queues of template.yaml on the emulator, named aforo-local-<LogicalId>.
    Bootstrap(BootstrapArgs),
    /// Load the seed catalog into the catalog table, storing API keys as SHA-256 hashes.
    Seed(SeedArgs),
    /// Run the end-to-end demo: traffic through the authorizer, decoder, SQS and ingest, then a replay.
    Demo,
    /// Print per-tenant usage (tenant, product, period, requests, bytes).
    Usage(ReportArgs),
    /// Print unattributed usage and rejected lines per source (integration or log group).
    Unattributed(ReportArgs),
    /// List or switch the feature flags of gateway integrations.
    #[command(subcommand)]
    Flags(FlagsCommand),
    /// Serve POST /v1/ingest on 127.0.0.1 with the real ingest API function, as API Gateway would.
    Serve(ServeArgs),
    /// Send events from a file to a /v1/ingest endpoint with the Rust client.
    Send(CliSendArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Port on 127.0.0.1 to listen on.
    #[arg(long, default_value_t = 8787)]
    port: u16,
}

#[derive(Debug, Args)]
struct CliSendArgs {
    /// Full URL of the endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8787/v1/ingest")]
    endpoint: String,
    /// The integration's ingest key; read from the environment so it stays out of the process list.
    #[arg(long = "integration-key", env = "AFORO_INGEST_KEY", hide_env_values = true)]
    integration_key: String,
    /// JSON or JSONL file with the events.
    #[arg(long)]
    file: PathBuf,
    /// Format of the file: aforo (aforo.ingest.v1 events), cloudevents, or native (the gateway's own records).
    #[arg(long, default_value = "aforo", value_parser = ["aforo", "cloudevents", "native"])]
    format: String,
    /// Content-Type of native payloads.
    #[arg(long, default_value = "application/json")]
    content_type: String,
    /// Send bodies uncompressed instead of gzip.
    #[arg(long)]
    no_gzip: bool,
}

#[derive(Debug, Subcommand)]
enum FlagsCommand {
    /// List every integration with its kind, status and feature flags.
    List,
    /// Switch one flag of one integration on or off.
    Set {
        /// Integration id, such as kong-edge.
        integration: String,
        /// Flag to switch.
        flag: Flag,
        /// New value: on or off.
        #[arg(value_parser = parse_switch, action = clap::ArgAction::Set)]
        value: bool,
    },
}

fn parse_switch(value: &str) -> Result<bool, String> {
    flags::parse_switch(value).map_err(|err| err.to_string())
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// Periods to show: hour, day or month (repeatable).
    #[arg(long = "period", value_name = "PERIOD", default_values_t = [Granularity::Month])]
    periods: Vec<Granularity>,
}

#[derive(Debug, Args)]
struct BootstrapArgs {
    /// SAM template to read the tables and queues from.
    #[arg(long, value_name = "PATH", default_value_os_t = template::default_path())]
    template: PathBuf,
}

#[derive(Debug, Args)]
struct SeedArgs {
    /// Seed catalog JSON file.
    #[arg(long, value_name = "PATH", default_value_os_t = seed::default_path())]
    file: PathBuf,

    /// Catalog table to write to.
    #[arg(long, value_name = "NAME", default_value_t = format!("{DEFAULT_PREFIX}CatalogTable"))]
    table: String,
}

/// A failed subcommand.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("AWS_ENDPOINT_URL is not set, but this tool only runs against the local emulator: run `. infra/env.sh` first")]
    EndpointMissing,

    #[error("{variable}={value} is not on 127.0.0.1 or localhost, but this tool only runs against the local emulator: run `. infra/env.sh` first")]
    EndpointNotLocal { variable: &'static str, value: String },

    #[error("the AWS SDK does not use AWS_ENDPOINT_URL={endpoint} (is AWS_IGNORE_CONFIGURED_ENDPOINT_URLS set?): unset the override and run `. infra/env.sh`")]
    EndpointIgnored { endpoint: String },

    #[error(transparent)]
    Template(#[from] TemplateError),

    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),

    #[error(transparent)]
    Seed(#[from] SeedError),

    #[error(transparent)]
    Demo(#[from] DemoError),

    #[error(transparent)]
    Store(#[from] StoreError),

    #[error(transparent)]
    Flags(#[from] FlagsError),

    #[error(transparent)]
    Serve(#[from] serve::ServeError),

    #[error(transparent)]
    Send(#[from] send::SendError),

    #[error("failed to listen on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),

    #[error("catalog table {table} not found on the emulator: run `aforo bootstrap` first")]
    TableNotFound { table: String },

    #[error("DescribeTable for {table} failed: {source}")]
    DescribeTable {
        table: String,
        #[source]
        source: Box<dyn Error + Send + Sync>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    aforo::logging::init_stderr();
    let cli = Cli::parse();

    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", describe(&err));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    // Sending needs no AWS access, and may target a deployed endpoint.
    if let Command::Send(args) = cli.command {
        return run_send(args).await;
    }

    let endpoint = local_endpoint(|name| std::env::var(name).ok())?;
    let sdk = aforo::aws::load_sdk_config().await;
    if sdk.endpoint_url() != Some(endpoint.as_str()) {
        return Err(CliError::EndpointIgnored { endpoint });
    }

    match cli.command {
        Command::Bootstrap(args) => run_bootstrap(&sdk, &args).await,
        Command::Seed(args) => run_seed(&sdk, &args).await,
        Command::Demo => run_demo(&sdk).await,
        Command::Usage(args) => run_report(&sdk, &args, false).await,
        Command::Unattributed(args) => run_report(&sdk, &args, true).await,
        Command::Flags(command) => run_flags(&sdk, command).await,
        Command::Serve(args) => run_serve(&sdk, &args).await,
        Command::Send(_) => unreachable!("handled before the endpoint check"),
    }
}

async fn run_bootstrap(sdk: &SdkConfig, args: &BootstrapArgs) -> Result<(), CliError> {
    let definitions = template::load(&args.template)?;
    let deployment = bootstrap::create(sdk, &definitions, DEFAULT_PREFIX).await?;
    print_deployment(&deployment);
    Ok(())
}

async fn run_demo(sdk: &SdkConfig) -> Result<(), CliError> {
    let seed = Seed::from_file(&seed::default_path())?;
    let definitions = template::load(&template::default_path())?;
    let deployment = bootstrap::create(sdk, &definitions, DEFAULT_PREFIX).await?;

    let report = demo::run(sdk, &deployment, &seed).await?;
    print!("{}", demo::print::render(&report));
    Ok(())
}

async fn run_serve(sdk: &SdkConfig, args: &ServeArgs) -> Result<(), CliError> {
    let definitions = template::load(&template::default_path())?;
    let deployment = bootstrap::create(sdk, &definitions, DEFAULT_PREFIX).await?;
    let config = ingest_api::Config::with_names(
        deployment.catalog_table(),
        deployment.dedupe_table(),
        deployment.table("IdempotencyTable"),
        deployment.metering_queue_url(),
    );

    let listener = serve::bind_local(args.port).await.map_err(CliError::Bind)?;
    println!("serving POST http://127.0.0.1:{}/v1/ingest (Ctrl-C stops)", args.port);
    serve::serve(listener, Arc::new(ingest_api::from_sdk(sdk, &config))).await?;
    Ok(())
}

async fn run_send(args: CliSendArgs) -> Result<(), CliError> {
    let format = match args.format.as_str() {
        "cloudevents" => SendFormat::CloudEvents,
        "native" => SendFormat::Native {
            content_type: args.content_type,
        },
        _ => SendFormat::Aforo,
    };
    let report = send::run(SendArgs {
        endpoint: args.endpoint,
        integration_key: args.integration_key,
        file: args.file,
        format,
        gzip: !args.no_gzip,
    })
    .await?;

    println!(
        "{} accepted, {} duplicates, {} rejected, {} not metered, {} not billable; requests sent: {}",
        report.accepted,
        report.duplicates,
        report.rejected,
        report.not_metered,
        report.not_billable,
        report.batches.len()
    );
    for (index, result) in report.results() {
        if let Some(reason) = &result.reason {
            println!("event {index}: {:?}: {reason}", result.status);
        }
    }
    Ok(())
}

async fn run_flags(sdk: &SdkConfig, command: FlagsCommand) -> Result<(), CliError> {
    let table = format!("{DEFAULT_PREFIX}CatalogTable");
    let catalog = DynamoCatalog::new(aws_sdk_dynamodb::Client::new(sdk), &table);

    match command {
        FlagsCommand::List => print!("{}", flags::render(&flags::list(&catalog).await?)),
        FlagsCommand::Set { integration, flag, value } => {
            flags::set(&catalog, &integration, flag, value).await?;
            print!("{}", flags::render(&flags::list(&catalog).await?));
        }
    }
    Ok(())
}

async fn run_report(sdk: &SdkConfig, args: &ReportArgs, unattributed: bool) -> Result<(), CliError> {
    let table = format!("{DEFAULT_PREFIX}UsageTable");
    let rows = DynamoUsage::new(aws_sdk_dynamodb::Client::new(sdk), &table).scan_all().await?;

    if unattributed {
        println!("== Unattributed usage per source");
        print!("{}", report::unattributed_table(&rows, &args.periods));
        println!("\n== Rejected lines per source");
        print!("{}", report::rejected_table(&rows, &args.periods));
    } else {
        print!("{}", report::usage_table(&rows, &args.periods));
    }
    Ok(())
}

fn print_deployment(deployment: &Deployment) {
    for (logical_id, name) in &deployment.tables {
        println!("table {logical_id}: {name}");
    }
    for (logical_id, queue) in &deployment.queues {
        println!("queue {logical_id}: {}", queue.url);
    }
}

async fn run_seed(sdk: &SdkConfig, args: &SeedArgs) -> Result<(), CliError> {
    // Validate the file before any call, so a bad seed fails without side effects.
    let seed = Seed::from_file(&args.file)?;

    let client = aws_sdk_dynamodb::Client::new(sdk);
    require_table(&client, &args.table).await?;

    let catalog = DynamoCatalog::new(client, &args.table);
    let counts = seed::load(&catalog, &seed).await?;
    print_counts(&args.table, &counts);
    Ok(())
}

async fn require_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), CliError> {
    match client.describe_table().table_name(table).send().await {
        Ok(_) => Ok(()),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {
            Err(CliError::TableNotFound { table: table.to_owned() })
        }
        Err(err) => Err(CliError::DescribeTable {
            table: table.to_owned(),
            source: Box::new(err),
        }),
    }
}

fn print_counts(table: &str, counts: &SeedCounts) {
    println!("loaded into {table}:");
    println!("  integrations:  {}", counts.integrations);
    println!("  routes:        {}", counts.routes);
    println!("  products:      {}", counts.products);
    println!("  plans:         {}", counts.plans);
    println!("  tenants:       {}", counts.tenants);
    println!("  API keys:      {}", counts.api_keys);
    println!("  ingest keys:   {}", counts.integration_keys);
    println!("  subscriptions: {}", counts.subscriptions);
}

/// Returns `AWS_ENDPOINT_URL` after checking that it and every
/// service-specific endpoint variable point at 127.0.0.1 or localhost.
fn local_endpoint(variable: impl Fn(&str) -> Option<String>) -> Result<String, CliError> {
    let set = |name: &str| variable(name).filter(|value| !value.trim().is_empty());

    let endpoint = set("AWS_ENDPOINT_URL").ok_or(CliError::EndpointMissing)?;
    require_local("AWS_ENDPOINT_URL", &endpoint)?;

    for name in SERVICE_ENDPOINT_VARIABLES {
        if let Some(value) = set(name) {
            require_local(name, &value)?;
        }
    }
    Ok(endpoint)
}

fn require_local(variable: &'static str, value: &str) -> Result<(), CliError> {
    if is_local_url(value) {
        return Ok(());
    }
    Err(CliError::EndpointNotLocal {
        variable,
        value: value.to_owned(),
    })
}

/// Checks that `url` is an http(s) URL whose host is 127.0.0.1 or localhost.
fn is_local_url(url: &str) -> bool {
    let url = url.trim().to_ascii_lowercase();
    let Some(rest) = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")) else {
        return false;
    };

    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // User information would put the real host after the `@`.
    if authority.contains('@') {
        return false;
    }

    let host = authority.split(':').next().unwrap_or_default();
    matches!(host, "127.0.0.1" | "localhost")
}

/// Joins the error and its sources into one line, skipping a source whose
/// text the message already contains (most variants print their source).
fn describe(err: &dyn Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();

    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn endpoint_from(variables: &[(&str, &str)]) -> Result<String, CliError> {
        let variables: HashMap<String, String> = variables
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        local_endpoint(|name| variables.get(name).cloned())
    }

    #[test]
    fn endpoint_accepts_loopback_address() {
        let endpoint = endpoint_from(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:4599")]).unwrap();
        assert_eq!(endpoint, "http://127.0.0.1:4599");
    }

    #[test]
    fn endpoint_accepts_localhost() {
        assert!(endpoint_from(&[("AWS_ENDPOINT_URL", "http://localhost:4599/")]).is_ok());
    }

    #[test]
    fn endpoint_rejects_unset_variable() {
        assert!(matches!(endpoint_from(&[]), Err(CliError::EndpointMissing)));
    }

    #[test]
    fn endpoint_rejects_empty_variable() {
        assert!(matches!(endpoint_from(&[("AWS_ENDPOINT_URL", " ")]), Err(CliError::EndpointMissing)));
    }

    #[test]
    fn endpoint_rejects_remote_hosts() {
        let remote = [
            "https://dynamodb.us-east-1.amazonaws.com",
            "http://127.0.0.1.example.com:4599",
            "http://localhost@example.com",
            "http://localhost.example.com",
            "127.0.0.1:4599",
        ];
        for url in remote {
            let result = endpoint_from(&[("AWS_ENDPOINT_URL", url)]);
            assert!(
                matches!(result, Err(CliError::EndpointNotLocal { .. })),
                "{url} was accepted"
            );
        }
    }

    #[test]
    fn endpoint_rejects_remote_service_override() {
        let result = endpoint_from(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4599"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "https://dynamodb.us-east-1.amazonaws.com"),
        ]);
        assert!(matches!(
            result,
            Err(CliError::EndpointNotLocal {
                variable: "AWS_ENDPOINT_URL_DYNAMODB",
                ..
            })
        ));
    }

    #[test]
    fn endpoint_error_says_to_source_env() {
        let message = CliError::EndpointMissing.to_string();
        assert!(message.contains("infra/env.sh"));
    }

    #[test]
    fn cli_parses_flags_set() {
        let cli = Cli::try_parse_from(["aforo", "flags", "set", "kong-edge", "metering", "off"]).unwrap();
        let Command::Flags(FlagsCommand::Set { integration, flag, value }) = cli.command else {
            panic!("expected flags set, got {:?}", cli.command);
        };
        assert_eq!(integration, "kong-edge");
        assert_eq!(flag, Flag::Metering);
        assert!(!value);
    }

    #[test]
    fn cli_parses_flags_set_on() {
        let cli = Cli::try_parse_from(["aforo", "flags", "set", "kong-edge", "config-capture", "on"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Flags(FlagsCommand::Set { flag: Flag::ConfigCapture, value: true, .. })
        ));
    }

    #[test]
    fn cli_parses_seed_file_option() {
        let cli = Cli::try_parse_from(["aforo", "seed", "--file", "other.json"]).unwrap();
        let Command::Seed(args) = cli.command else {
            panic!("expected the seed subcommand");
        };
        assert_eq!(args.file, PathBuf::from("other.json"));
        assert_eq!(args.table, "aforo-local-CatalogTable");
    }

    #[test]
    fn cli_parses_bootstrap_default_template() {
        let cli = Cli::try_parse_from(["aforo", "bootstrap"]).unwrap();
        let Command::Bootstrap(args) = cli.command else {
            panic!("expected the bootstrap subcommand");
        };
        assert_eq!(args.template, template::default_path());
    }
}
