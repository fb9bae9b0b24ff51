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
        "malformed SQS messages reported as batch item failures: {}",
        report.malformed_messages.join(", ")
    );

    let periods = [Granularity::Month, Granularity::Day];
    let _ = writeln!(out, "\n== Usage per tenant");
    out.push_str(&report::usage_table(&report.rows, &periods));
    let _ = writeln!(out, "\n== Unattributed usage per source");
    out.push_str(&report::unattributed_table(&report.rows, &[Granularity::Month]));
    let _ = writeln!(out, "\n== Rejected lines per source");
    out.push_str(&report::rejected_table(&report.rows, &[Granularity::Month]));

    let replay = &report.replay_ingest.summary;
    let unchanged = report.rows == report.replay_rows;
    let _ = writeln!(out, "\n== Replay of every delivery against the same store");
    let _ = writeln!(
        out,
        "{} lines decoded again: {} accepted, {} duplicates dropped; totals unchanged: {}",
        report.replay_decoder.lines,
        replay.accepted,
        replay.duplicates,
        if unchanged { "yes" } else { "NO" }
    );
    out
}
