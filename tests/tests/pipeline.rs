//! End to end: demo traffic through the real authorizer, decoder, SQS and
//! ingest on the emulator, checked against totals computed from the traffic
//! itself.

use std::collections::BTreeMap;

use aforo::catalog::DynamoCatalog;
use aforo::period::Granularity;
use aforo_cli::demo::traffic::{Decision, Request};
use aforo_client::{Attribution, EventStatus};
use aforo_cli::demo::{self, DemoReport};
use aforo_cli::report::{pivot, Totals};
use aforo_cli::seed::{self, Seed};
use aforo_tests::Stack;

async fn run_demo() -> (Stack, DemoReport) {
    let stack = Stack::new().await;
    let seed = Seed::from_file(&seed::default_path()).unwrap();
    let catalog = DynamoCatalog::new(stack.dynamodb.clone(), stack.deployment.catalog_table());
    seed::load(&catalog, &seed).await.unwrap();

    let report = demo::run(&stack.sdk, &stack.deployment, &seed).await.unwrap();
    (stack, report)
}

fn product_of(request: &Request) -> String {
    request.resource.trim_start_matches('/').split('/').next().unwrap().to_owned()
}

/// Billable usage per (tenant, product, month) computed from what was sent,
/// independently of the pipeline: AWS requests the authorizer allowed with a
/// status below 500, and gateway events the ingest API accepted as usage.
fn expected_usage(report: &DemoReport) -> BTreeMap<(String, String, String), Totals> {
    let mut expected: BTreeMap<(String, String, String), Totals> = BTreeMap::new();
    let mut add = |tenant: &str, request: &Request| {
        let month = Granularity::Month.period_start(request.at);
        let totals = expected.entry((tenant.to_owned(), product_of(request), month)).or_default();
        totals.requests += 1;
        totals.bytes += request.response_length;
    };

    for (request, decision) in &report.requests {
        if let Decision::Allow { tenant_id } = decision {
            if request.backend_status < 500 {
                add(tenant_id, request);
            }
        }
    }
    for send in &report.gateways {
        for (index, result) in send.report.results() {
            if result.status == EventStatus::Accepted && result.attribution == Some(Attribution::Usage) {
                let request = &send.requests[index];
                add(request.caller.tenant_header.as_deref().unwrap(), request);
            }
        }
    }
    expected
}

fn gateway_unattributed(report: &DemoReport) -> u64 {
    report
        .gateways
        .iter()
        .flat_map(|send| send.report.results())
        .filter(|(_, result)| result.attribution == Some(Attribution::Unattributed))
        .count() as u64
}

fn actual_usage(rows: &[aforo::usage::AggregateRow], granularity: Granularity) -> BTreeMap<(String, String, String), Totals> {
    let mut actual: BTreeMap<(String, String, String), Totals> = BTreeMap::new();
    for ((tenant, product, _, start), totals) in pivot(rows, "TENANT#", &[granularity]) {
        let month = start[..7].to_owned();
        let sum = actual.entry((tenant, product, month)).or_default();
        sum.requests += totals.requests;
        sum.bytes += totals.bytes;
    }
    actual
}

#[tokio::test]
async fn pipeline_totals_match_allowed_traffic() {
    let (_stack, report) = run_demo().await;

    let expected = expected_usage(&report);
    assert!(!expected.is_empty());
    assert_eq!(actual_usage(&report.rows, Granularity::Month), expected);
    assert_eq!(actual_usage(&report.rows, Granularity::Day), expected);
    assert_eq!(actual_usage(&report.rows, Granularity::Hour), expected);
}

#[tokio::test]
async fn pipeline_replay_changes_no_total() {
    let (_stack, report) = run_demo().await;

    assert_eq!(report.replay_rows, report.rows);
    assert_eq!(report.replay_ingest.summary.accepted, 0);
    assert!(report.replay_ingest.summary.duplicates > 0);
}

#[tokio::test]
async fn pipeline_counts_duplicates_once() {
    let (_stack, report) = run_demo().await;
    let ingest = &report.ingest.summary;

    let billable_requests: u64 = expected_usage(&report).values().map(|t| t.requests).sum();

    // The first wave is delivered twice and one SQS batch is handled twice.
    assert!(ingest.duplicates > 0);
    assert_eq!(ingest.usage as u64, billable_requests);
    assert_eq!(ingest.accepted + ingest.duplicates, ingest.records);
}

#[tokio::test]
async fn pipeline_keeps_unattributed_and_rejected() {
    let (_stack, report) = run_demo().await;
    let unattributed = pivot(&report.rows, "UNATTRIBUTED#", &[Granularity::Month]);
    let rejected = pivot(&report.rows, "REJECTED#", &[Granularity::Month]);

    // Eleven public access-log lines carry no known API; three sample lines are not access logs.
    let expected_unattributed = 11 + gateway_unattributed(&report);
    let unattributed_requests: u64 = unattributed.values().map(|t| t.requests).sum();
    let rejected_lines: u64 = rejected.values().map(|t| t.requests).sum();
    assert!(gateway_unattributed(&report) > 0);
    assert_eq!(unattributed_requests, expected_unattributed);
    assert_eq!(rejected_lines, 3);
    assert_eq!(report.ingest.summary.unattributed as u64, expected_unattributed);
    assert_eq!(report.ingest.summary.rejected, 3);
}

#[tokio::test]
async fn pipeline_rolls_up_gateways_into_one_record() {
    let (_stack, report) = run_demo().await;
    let by_source = aforo_cli::demo::requests_by_source(&report);
    let key = ("acme".to_owned(), "pets".to_owned(), "2026-11".to_owned());

    let sources: Vec<&str> = by_source
        .iter()
        .filter(|((row, _), count)| *row == key && **count > 0)
        .map(|((_, source), _)| source.as_str())
        .collect();
    for source in ["aws-rest-petstore", "kong-edge", "azure-apim-west"] {
        assert!(sources.contains(&source), "acme's pets usage has no requests from {source}: {sources:?}");
    }

    let sum: u64 = by_source.iter().filter(|((row, _), _)| *row == key).map(|(_, count)| count).sum();
    let rows = pivot(&report.rows, "TENANT#", &[Granularity::Month]);
    let usage_row = rows[&(key.0.clone(), key.1.clone(), Granularity::Month, key.2.clone())];
    assert_eq!(usage_row.requests, sum);
}

#[tokio::test]
async fn pipeline_replays_gateway_requests() {
    let (_stack, report) = run_demo().await;

    let batches: Vec<_> = report.replay_gateways.iter().flat_map(|send| &send.report.batches).collect();
    assert!(!batches.is_empty());
    assert!(batches.iter().all(|batch| batch.replayed), "every gateway request replays its stored response");
}

#[tokio::test]
async fn pipeline_rejects_malformed_samples() {
    let (_stack, report) = run_demo().await;

    assert_eq!(report.decoder.failed_deliveries.len(), 1);
    assert_eq!(report.decoder.failed_deliveries[0].0, "zlib payload");
    assert!(report.decoder.failed_deliveries[0].1.contains("not gzip"));
    assert_eq!(
        report.malformed_messages,
        ["059f36b4-87a3-44ab-83d2-661975830a7d", "2e1424d4-f796-459a-8184-9c92662be6da"]
    );
}

#[tokio::test]
async fn pipeline_enforces_entitlements() {
    let (_stack, report) = run_demo().await;
    let denied = &report.decisions.denied;

    assert!(denied.get("not_subscribed").copied().unwrap_or(0) > 0);
    assert!(denied.get("quota_exhausted").copied().unwrap_or(0) > 0);
    assert!(report.decisions.unauthorized >= 7);
    for (request, decision) in &report.requests {
        if request.caller.tenant_header.as_deref() == Some("hooli") {
            assert!(matches!(decision, Decision::Deny { .. }), "hooli's subscription has not started");
        }
    }
}
