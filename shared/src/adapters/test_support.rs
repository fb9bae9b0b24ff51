//! Helpers shared by the adapters' unit tests.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::parse;
use crate::catalog::GatewayKind;
use crate::gateway::GatewayRequest;

/// Parses a fixture file's text.
pub(super) fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is valid JSON")
}

/// Converts milliseconds since the Unix epoch to a UTC time.
pub(super) fn at_millis(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis).single().expect("valid test time")
}

/// Parses a body that must have the shape of `kind`'s payload.
pub(super) fn parse_all(kind: GatewayKind, body: &Value) -> Vec<Result<GatewayRequest, String>> {
    parse(kind, body).unwrap_or_else(|err| panic!("body is not a {kind:?} payload: {err}"))
}

/// Parses a single record and returns its only result.
pub(super) fn parse_one(kind: GatewayKind, record: &Value) -> Result<GatewayRequest, String> {
    let mut results = parse_all(kind, record);
    assert_eq!(results.len(), 1);
    results.remove(0)
}

/// Returns the fixture record with one top-level field replaced.
pub(super) fn fixture_with(text: &str, key: &str, value: Value) -> Value {
    let mut record = fixture(text);
    record[key] = value;
    record
}
