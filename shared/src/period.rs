//! Usage periods (hour, day, month) derived in UTC from an event's own time.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// Length of an aggregation or quota period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// One UTC hour.
    Hour,
    /// One UTC day.
    Day,
    /// One UTC calendar month.
    Month,
}

impl Granularity {
    /// All granularities that ingest aggregates.
    pub const ALL: [Granularity; 3] = [Granularity::Hour, Granularity::Day, Granularity::Month];

    /// Name used in keys and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
            Granularity::Month => "month",
        }
    }

    /// Start of the period holding `at`, formatted as it appears in keys:
    /// `2026-12-04T19` (hour), `2026-12-04` (day), `2026-12` (month).
    pub fn period_start(self, at: DateTime<Utc>) -> String {
        match self {
            Granularity::Hour => format!(
                "{:04}-{:02}-{:02}T{:02}",
                at.year(),
                at.month(),
                at.day(),
                at.hour()
            ),
            Granularity::Day => format!("{:04}-{:02}-{:02}", at.year(), at.month(), at.day()),
            Granularity::Month => format!("{:04}-{:02}", at.year(), at.month()),
        }
    }
}

impl std::fmt::Display for Granularity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Granularity {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "hour" => Ok(Granularity::Hour),
            "day" => Ok(Granularity::Day),
            "month" => Ok(Granularity::Month),
            other => Err(format!("unknown period {other:?}: expected hour, day or month")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn period_start_formats_each_granularity() {
        let at = Utc.with_ymd_and_hms(2026, 2, 3, 4, 5, 6).unwrap();
        assert_eq!(Granularity::Hour.period_start(at), "2026-02-03T04");
        assert_eq!(Granularity::Day.period_start(at), "2026-02-03");
        assert_eq!(Granularity::Month.period_start(at), "2026-02");
    }

    #[test]
    fn period_start_uses_utc_across_midnight() {
        let at = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(Granularity::Month.period_start(at), "2026-12");
        let next = at + chrono::Duration::seconds(1);
        assert_eq!(Granularity::Month.period_start(next), "2027-01");
    }
}
