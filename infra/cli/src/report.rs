//! Plain-text tables of aggregated usage, for the demo and operators.

use std::collections::BTreeMap;
use std::fmt::Write;

use aforo::event::{METRIC_LINES, METRIC_REQUESTS, METRIC_RESPONSE_BYTES};
use aforo::period::Granularity;
use aforo::usage::AggregateRow;

/// Requests and bytes of one subject in one period.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Requests (or lines, for rejected input).
    pub requests: u64,
    /// Response bytes.
    pub bytes: u64,
}

/// `(owner, subject, granularity, period start)` → totals, where the owner is
/// the partition key without its prefix (a tenant or a source).
pub type Pivot = BTreeMap<(String, String, Granularity, String), Totals>;

/// Groups rows whose partition key starts with `prefix` (`TENANT#`,
/// `UNATTRIBUTED#`, `REJECTED#`), keeping only `granularities`.
pub fn pivot(rows: &[AggregateRow], prefix: &str, granularities: &[Granularity]) -> Pivot {
    let mut pivot = Pivot::new();
    for row in rows {
        let Some(owner) = row.pk.strip_prefix(prefix) else {
            continue;
        };
        if !granularities.contains(&row.granularity) {
            continue;
        }

        let key = (owner.to_owned(), row.subject.clone(), row.granularity, row.period_start.clone());
        let totals = pivot.entry(key).or_default();
        match row.metric.as_str() {
            METRIC_REQUESTS | METRIC_LINES => totals.requests += row.value,
            METRIC_RESPONSE_BYTES => totals.bytes += row.value,
            _ => {}
        }
    }
    pivot
}

/// Renders a pivot as an aligned table with the given column titles.
pub fn render(pivot: &Pivot, owner_title: &str, subject_title: &str, with_bytes: bool) -> String {
    let mut out = String::new();
    let _ = write!(out, "{owner_title:<40} {subject_title:<20} {:<6} {:<14} {:>9}", "period", "start", "requests");
    if with_bytes {
        let _ = write!(out, " {:>12}", "bytes");
    }
    out.push('\n');

    for ((owner, subject, granularity, start), totals) in pivot {
        let _ = write!(
            out,
            "{owner:<40} {subject:<20} {:<6} {start:<14} {:>9}",
            granularity.as_str(),
            totals.requests
        );
        if with_bytes {
            let _ = write!(out, " {:>12}", totals.bytes);
        }
        out.push('\n');
    }
    if pivot.is_empty() {
        out.push_str("(none)\n");
    }
    out
}

/// Per-tenant billable usage (tenant, product, period, requests, bytes).
pub fn usage_table(rows: &[AggregateRow], granularities: &[Granularity]) -> String {
    render(&pivot(rows, "TENANT#", granularities), "tenant", "product", true)
}

/// Unattributed usage per source and reason.
pub fn unattributed_table(rows: &[AggregateRow], granularities: &[Granularity]) -> String {
    render(&pivot(rows, "UNATTRIBUTED#", granularities), "source", "reason", true)
}

/// Rejected lines per source and reason.
pub fn rejected_table(rows: &[AggregateRow], granularities: &[Granularity]) -> String {
    render(&pivot(rows, "REJECTED#", granularities), "source", "reason", false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pk: &str, granularity: Granularity, metric: &str, value: u64) -> AggregateRow {
        AggregateRow {
            pk: pk.to_owned(),
            granularity,
            period_start: "2026-12".to_owned(),
            subject: "pets".to_owned(),
            metric: metric.to_owned(),
            value,
        }
    }

    #[test]
    fn pivot_joins_requests_and_bytes() {
        let rows = [
            row("TENANT#acme", Granularity::Month, "requests", 3),
            row("TENANT#acme", Granularity::Month, "response_bytes", 300),
            row("TENANT#acme", Granularity::Month, "latency_ms", 50),
        ];
        let pivot = pivot(&rows, "TENANT#", &[Granularity::Month]);
        let totals = pivot[&("acme".to_owned(), "pets".to_owned(), Granularity::Month, "2026-12".to_owned())];
        assert_eq!(totals, Totals { requests: 3, bytes: 300 });
    }

    #[test]
    fn pivot_filters_prefix_and_granularity() {
        let rows = [
            row("TENANT#acme", Granularity::Day, "requests", 3),
            row("UNATTRIBUTED#src", Granularity::Month, "requests", 4),
        ];
        assert!(pivot(&rows, "TENANT#", &[Granularity::Month]).is_empty());
        assert_eq!(pivot(&rows, "UNATTRIBUTED#", &[Granularity::Month]).len(), 1);
    }
}
