//! The demo's printed report.

use std::fmt::Write;

use aforo::period::Granularity;

use super::DemoReport;
use crate::report;

/// Renders the report of a demo run.
pub fn render(report: &DemoReport) -> String {
    let mut out = String::new();
    let decisions = &report.decisions;
    let denied: usize = decisions.denied.values().sum();
    let reasons: Vec<String> = decisions.denied.iter().map(|(reason, n)| format!("{reason} {n}")).collect();

    let _ = writeln!(out, "== Authorizer");
    let _ = writeln!(
        out,
        "{} requests: {} allowed, {} denied ({}), {} unauthorized",
        report.requests.len(),
        decisions.allowed,
        denied,
        reasons.join(", "),
        decisions.unauthorized
    );

    let decoder = &report.decoder;
    let _ = writeln!(out, "\n== Log decoder");
    let _ = writeln!(
        out,
        "{} deliveries, {} lines: {} usage events, {} unattributed, {} rejected lines, {} not billable",
        decoder.deliveries, decoder.lines, decoder.usage, decoder.unattributed, decoder.rejected, decoder.non_billable
    );
    for (label, error) in &decoder.failed_deliveries {
        let _ = writeln!(out, "rejected delivery ({label}): {error}");
    }

    let ingest = &report.ingest.summary;
    let _ = writeln!(out, "\n== Ingest");
    let _ = writeln!(
        out,
        "{} SQS batches, {} messages, {} records: {} accepted ({} usage, {} unattributed, {} rejected lines), {} duplicates dropped, {} failed messages",
        report.ingest.batches,
        ingest.messages,
        ingest.records,
        ingest.accepted,
        ingest.usage,
        ingest.unattributed,
        ingest.rejected,
        ingest.duplicates,
        ingest.failed_messages
    );
    let _ = writeln!(
        out,
        "malformed public SQS sample (handled outside the queue): {} messages reported as batch item failures: {}",
        report.malformed_messages.len(),
        report.malformed_messages.join(", ")
    );

    let _ = writeln!(out, "\n== Other gateways: POST /v1/ingest");
    for send in &report.gateways {
        let replayed = send.report.batches.iter().filter(|batch| batch.replayed).count();
        let _ = writeln!(
            out,
            "{:<16} {:<11} {:>3} events: {} accepted, {} duplicates, {} rejected, {} not metered, {} not billable{}",
            send.integration_id,
            send.format,
            send.requests.len(),
            send.report.accepted,
            send.report.duplicates,
            send.report.rejected,
            send.report.not_metered,
            send.report.not_billable,
            if replayed > 0 { " (replayed)" } else { "" }
        );
    }

    out.push_str(&rollup(report));

    let periods = [Granularity::Month, Granularity::Day];
    let _ = writeln!(out, "\n== Usage per tenant");
    out.push_str(&report::usage_table(&report.rows, &periods));
    let _ = writeln!(out, "\n== Unattributed usage per source");
    out.push_str(&report::unattributed_table(&report.rows, &[Granularity::Month]));
    let _ = writeln!(out, "\n== Rejected lines per source");
    out.push_str(&report::rejected_table(&report.rows, &[Granularity::Month]));

    let replayed_batches: usize = report
        .replay_gateways
        .iter()
        .flat_map(|send| &send.report.batches)
        .filter(|batch| batch.replayed)
        .count();
    let gateway_batches: usize = report.replay_gateways.iter().map(|send| send.report.batches.len()).sum();
    let replay = &report.replay_ingest.summary;
    let unchanged = report.rows == report.replay_rows;
    let _ = writeln!(out, "\n== Replay of every delivery against the same store");
    let _ = writeln!(
        out,
        "{} lines decoded again and {} of {} gateway requests replayed from their Idempotency-Key: {} accepted, {} duplicates dropped; totals unchanged: {}",
        report.replay_decoder.lines,
        replayed_batches,
        gateway_batches,
        replay.accepted,
        replay.duplicates,
        if unchanged { "yes" } else { "NO" }
    );
    out
}

/// Renders billable requests per tenant, product and month, by gateway, next
/// to the one rolled-up usage record the usage table holds.
fn rollup(report: &DemoReport) -> String {
    let by_source = super::requests_by_source(report);
    let sources: Vec<&String> = {
        let mut names: Vec<&String> = by_source.keys().map(|(_, source)| source).collect();
        names.sort();
        names.dedup();
        names
    };
    let totals = report::pivot(&report.rows, "TENANT#", &[Granularity::Month]);

    let mut out = String::new();
    let _ = writeln!(out, "\n== Rollup: billable requests per tenant, product and month, by gateway");
    let _ = write!(out, "{:<10} {:<8} {:<8}", "tenant", "product", "month");
    for source in &sources {
        let _ = write!(out, " {:>17}", source);
    }
    let _ = writeln!(out, " {:>8} {:>11}", "sum", "usage row");
    let mut earlier_runs = false;

    for ((tenant, product, granularity, start), totals) in &totals {
        let _ = granularity;
        let key = (tenant.clone(), product.clone(), start.clone());
        let _ = write!(out, "{tenant:<10} {product:<8} {start:<8}");
        let mut sum = 0;
        for source in &sources {
            let count = by_source
                .get(&(key.clone(), (*source).clone()))
                .copied()
                .unwrap_or(0);
            sum += count;
            let _ = write!(out, " {count:>17}");
        }
        let marker = if sum == totals.requests {
            ""
        } else {
            earlier_runs = true;
            "  *"
        };
        let _ = writeln!(out, " {sum:>8} {:>11}{marker}", totals.requests);
    }
    if earlier_runs {
        out.push_str(
            "* the usage row also holds requests of an earlier demo run on this store, which the \
             authorizer now denies because those quotas are spent\n",
        );
    }
    out
}
