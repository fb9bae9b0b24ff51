//! The main job, end to end on the emulator. Realistic traffic of several
//! tenants goes through the real authorizer. The access-log lines of that
//! traffic go as CloudWatch Logs subscription deliveries through the real
//! decoder, SQS and the real ingest. Then the same input is replayed.

pub mod gateways;
pub mod pipeline;
pub mod print;
pub mod traffic;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aforo::cwl::{LogEvent, LogsData};
use aforo::usage::{AggregateRow, DynamoUsage};
use serde_json::{json, Value};

use crate::bootstrap::Deployment;
use crate::seed::Seed;
use pipeline::{DrainTotals, Pipeline, PipelineError};
use traffic::{Decision, Request};

/// Requests per subscription delivery; API Gateway batches access logs similarly.
const WAVE_SIZE: usize = 40;
/// Seed of the traffic generator, fixed so every run sends the same input.
const TRAFFIC_SEED: u64 = 20_261_204;
/// Log group the sample API's access logs go to.
pub const ACCESS_LOG_GROUP: &str = "/aws/apigateway/aforo-petstore-prod-access";

/// A demo step that failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The queue or ingest failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),

    /// The usage table could not be read.
    #[error(transparent)]
    Store(#[from] aforo::store::StoreError),

    /// A fixture file is missing or invalid.
    #[error("fixture {path}: {reason}")]
    Fixture {
        /// File path.
        path: String,
        /// The problem found.
        reason: String,
    },

    /// A delivery of the demo's own traffic failed in the decoder.
    #[error("log decoder failed on a delivery of demo traffic: {0}")]
    Decoder(String),

    /// Sending the other gateways' traffic to the local ingest endpoint failed.
    #[error("sending gateway traffic to /v1/ingest failed: {0}")]
    Gateway(String),
}

/// Authorizer decisions, counted by outcome.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DecisionCounts {
    /// Allowed requests.
    pub allowed: usize,
    /// Denied requests by reason.
    pub denied: BTreeMap<String, usize>,
    /// Requests that got `Unauthorized`.
    pub unauthorized: usize,
}

/// Sums of the decoder's per-delivery summaries.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DecoderTotals {
    /// Deliveries decoded.
    pub deliveries: usize,
    /// Log lines seen.
    pub lines: usize,
    /// Billable usage records sent.
    pub usage: usize,
    /// Unattributed records sent.
    pub unattributed: usize,
    /// Rejected-line records sent.
    pub rejected: usize,
    /// Lines not billable (authorizer rejections, 5xx).
    pub non_billable: usize,
    /// Deliveries the decoder rejected whole, with the error.
    pub failed_deliveries: Vec<(String, String)>,
}

impl DecoderTotals {
    fn add(&mut self, summary: &log_decoder::DecodeSummary) {
        self.deliveries += 1;
        self.lines += summary.lines;
        self.usage += summary.usage;
        self.unattributed += summary.unattributed;
        self.rejected += summary.rejected;
        self.non_billable += summary.non_billable;
    }
}

/// Everything one demo run observed.
#[derive(Debug, Default, Clone)]
pub struct DemoReport {
    /// The generated requests with the authorizer's decision on each.
    pub requests: Vec<(Request, Decision)>,
    /// Authorizer outcomes.
    pub decisions: DecisionCounts,
    /// Decoder totals of the first pass.
    pub decoder: DecoderTotals,
    /// Ingest totals of the first pass.
    pub ingest: DrainTotals,
    /// Message ids of malformed SQS messages ingest reported as failed.
    pub malformed_messages: Vec<String>,
    /// Requests the other gateways sent to `/v1/ingest`, with the responses.
    pub gateways: Vec<gateways::GatewaySend>,
    /// The same gateway traffic sent again in the replay.
    pub replay_gateways: Vec<gateways::GatewaySend>,
    /// Aggregates after the first pass.
    pub rows: Vec<AggregateRow>,
    /// Decoder totals of the replay.
    pub replay_decoder: DecoderTotals,
    /// Ingest totals of the replay.
    pub replay_ingest: DrainTotals,
    /// Aggregates after the replay.
    pub replay_rows: Vec<AggregateRow>,
}

/// The fixture folder of public sample events.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/public")
}

fn read_fixture(name: &str) -> Result<String, DemoError> {
    let path = fixtures_dir().join(name);
    std::fs::read_to_string(&path).map_err(|err| DemoError::Fixture {
        path: path.display().to_string(),
        reason: err.to_string(),
    })
}

fn parse_fixture(name: &str) -> Result<Value, DemoError> {
    serde_json::from_str(&read_fixture(name)?).map_err(|err| DemoError::Fixture {
        path: name.to_owned(),
        reason: err.to_string(),
    })
}

/// Wraps log lines in a subscription delivery as CloudWatch Logs sends it.
pub fn subscription_event(log_group: &str, first_event_id: u64, lines: &[(i64, String)]) -> Value {
    let data = LogsData {
        message_type: "DATA_MESSAGE".to_owned(),
        owner: traffic::ACCOUNT_ID.to_owned(),
        log_group: log_group.to_owned(),
        log_stream: format!("{}_{}", traffic::API_ID, traffic::STAGE),
        subscription_filters: vec!["aforo-access-logs".to_owned()],
        log_events: lines
            .iter()
            .enumerate()
            .map(|(index, (timestamp, message))| LogEvent {
                // CloudWatch Logs event ids are 56-digit strings; any unique digits do here.
                id: format!("{:056}", first_event_id + index as u64),
                timestamp: *timestamp,
                message: message.clone(),
            })
            .collect(),
    };
    json!({ "awslogs": { "data": aforo::cwl::encode(&data) } })
}

/// Builds the control message CloudWatch Logs sends when a subscription is created.
pub fn control_message() -> Value {
    let data = LogsData {
        message_type: "CONTROL_MESSAGE".to_owned(),
        owner: "CloudwatchLogs".to_owned(),
        log_group: String::new(),
        log_stream: String::new(),
        subscription_filters: vec![],
        log_events: vec![LogEvent {
            id: format!("{:056}", 0),
            timestamp: 1_764_540_000_000,
            message: "CWL CONTROL MESSAGE: Checking health of destination Lambda function.".to_owned(),
        }],
    };
    json!({ "awslogs": { "data": aforo::cwl::encode(&data) } })
}

/// Builds one delivery of the public API Gateway access-log lines.
fn public_lines_event() -> Result<Value, DemoError> {
    let mut lines = Vec::new();
    for name in ["apigw_access_rest_json_elastic.jsonl", "apigw_access_httpapi_json_elastic.jsonl"] {
        lines.extend(read_fixture(name)?.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned));
    }

    // The pretty-printed sample is one record, so it goes into CloudWatch Logs as one line.
    let pretty = parse_fixture("apigw_access_rest_json_moj_pr3807.json")?;
    lines.push(pretty.to_string());

    let timestamped: Vec<(i64, String)> = lines.into_iter().map(|line| (1_690_000_000_000, line)).collect();
    Ok(subscription_event("/aws/apigateway/public-samples", 9_000_000, &timestamped))
}

/// Runs the demo on `deployment` with the seed catalog already loaded.
pub async fn run(sdk: &aws_config::SdkConfig, deployment: &Deployment, seed: &Seed) -> Result<DemoReport, DemoError> {
    let pipeline = Pipeline::new(sdk, deployment);
    let usage = DynamoUsage::new(aws_sdk_dynamodb::Client::new(sdk), deployment.usage_table());
    let mut report = DemoReport::default();

    let keys = |tenant: &str| seed.api_key_for(tenant).map(str::to_owned);
    let requests = traffic::generate(&traffic::Mix::demo(&keys), TRAFFIC_SEED);
    let mut deliveries = Vec::new();

    // Traffic goes in waves. The authorizer reads the usage of earlier waves only
    // after they went through the pipeline, so quota enforcement lags as in production.
    for (wave, chunk) in requests.chunks(WAVE_SIZE).enumerate() {
        let mut lines = Vec::new();
        for request in chunk {
            let decision = authorize(&pipeline, request).await;
            count_decision(&mut report.decisions, &decision);
            lines.push((request.at.timestamp_millis(), traffic::access_log_line(request, &decision)));
            report.requests.push((request.clone(), decision));
        }

        let event = subscription_event(ACCESS_LOG_GROUP, (wave * WAVE_SIZE) as u64, &lines);
        deliver(&pipeline, &event, &mut report.decoder, "demo traffic").await?;
        // The second wave's first batch is handled twice, as after a Lambda timeout.
        report.ingest.merge(&pipeline.drain(wave == 1).await?);
        deliveries.push(event);
    }

    // CloudWatch Logs delivers at least once: the first wave arrives again.
    deliver(&pipeline, &deliveries[0], &mut report.decoder, "duplicate delivery").await?;
    deliver(&pipeline, &control_message(), &mut report.decoder, "control message").await?;
    report.ingest.merge(&pipeline.drain(false).await?);

    let mut extra = vec![
        ("public access-log lines".to_owned(), public_lines_event()?),
        ("sample log events".to_owned(), parse_fixture("cwl_event_aws_lambda_events_fixture.json")?),
        ("Lambda REPORT line".to_owned(), parse_fixture("cwl_event_aws_lambda_events_inline_echo_nodejs.json")?),
        ("zlib payload".to_owned(), parse_fixture("cwl_event_powertools_policylevel_ZLIB.json")?),
    ];
    for (label, event) in &extra {
        match pipeline.decoder.handle(event.clone()).await {
            Ok(summary) => report.decoder.add(&summary),
            Err(err) => report.decoder.failed_deliveries.push((label.clone(), err.to_string())),
        }
    }
    report.ingest.merge(&pipeline.drain(false).await?);

    // An SQS batch with a message attribute that is not valid base64.
    let bad_batch = parse_fixture("sqs_event_powertools_BADBASE64.json")?;
    match pipeline.ingest.handle(bad_batch).await {
        Ok((response, _)) => report
            .malformed_messages
            .extend(response.batch_item_failures.into_iter().map(|f| f.item_identifier)),
        Err(err) => return Err(DemoError::Pipeline(PipelineError::Ingest(err.to_string()))),
    }

    // Kong, Azure API Management, Apigee and MuleSoft send the same tenants' traffic.
    report.gateways = gateways::send_all(sdk, deployment, seed).await?;
    report.ingest.merge(&pipeline.drain(false).await?);

    report.rows = usage.scan_all().await?;

    // Replay every delivery of this run against the same store.
    deliveries.append(&mut extra.drain(..).map(|(_, event)| event).collect());
    for event in &deliveries {
        match pipeline.decoder.handle(event.clone()).await {
            Ok(summary) => report.replay_decoder.add(&summary),
            Err(err) => report.replay_decoder.failed_deliveries.push(("replay".to_owned(), err.to_string())),
        }
    }
    report.replay_gateways = gateways::send_all(sdk, deployment, seed).await?;
    report.replay_ingest = pipeline.drain(false).await?;
    report.replay_rows = usage.scan_all().await?;

    Ok(report)
}

/// Billable requests per ((tenant, product, month), source) as the demo sent
/// them: AWS requests the authorizer allowed with a status below 500, and
/// gateway events the ingest API accepted as usage. The pipeline's own
/// totals are checked against this.
pub fn requests_by_source(report: &DemoReport) -> BTreeMap<((String, String, String), String), u64> {
    let mut counts = BTreeMap::new();
    let product_of = |request: &Request| {
        request.resource.trim_start_matches('/').split('/').next().unwrap_or_default().to_owned()
    };
    let month_of = |request: &Request| aforo::period::Granularity::Month.period_start(request.at);

    for (request, decision) in &report.requests {
        if let Decision::Allow { tenant_id } = decision {
            if request.backend_status < 500 {
                let key = (tenant_id.clone(), product_of(request), month_of(request));
                *counts.entry((key, "aws-rest-petstore".to_owned())).or_default() += 1;
            }
        }
    }

    for send in &report.gateways {
        for (index, result) in send.report.results() {
            let usage = result.status == aforo_client::EventStatus::Accepted
                && result.attribution == Some(aforo_client::Attribution::Usage);
            let (Some(request), true) = (send.requests.get(index), usage) else {
                continue;
            };
            let Some(tenant) = &request.caller.tenant_header else {
                continue;
            };
            let key = (tenant.clone(), product_of(request), month_of(request));
            *counts.entry((key, send.integration_id.clone())).or_default() += 1;
        }
    }
    counts
}

async fn authorize(pipeline: &Pipeline, request: &Request) -> Decision {
    match pipeline.authorizer.handle(traffic::authorizer_event(request)).await {
        Ok(response) => traffic::decision(request, &response),
        Err(_) => Decision::Unauthorized,
    }
}

fn count_decision(counts: &mut DecisionCounts, decision: &Decision) {
    match decision {
        Decision::Allow { .. } => counts.allowed += 1,
        Decision::Deny { reason, .. } => *counts.denied.entry(reason.clone()).or_default() += 1,
        Decision::Unauthorized => counts.unauthorized += 1,
    }
}

async fn deliver(pipeline: &Pipeline, event: &Value, totals: &mut DecoderTotals, label: &str) -> Result<(), DemoError> {
    let summary = pipeline
        .decoder
        .handle(event.clone())
        .await
        .map_err(|err| DemoError::Decoder(format!("{label}: {err}")))?;
    totals.add(&summary);
    Ok(())
}
