//! The generic `aforo.ingest.v1` batch:
//! `{"schema":"aforo.ingest.v1","events":[{"id":"...","tenant_id":"acme","method":"GET",
//! "path":"/pets/42","status":200,"response_bytes":512,"latency_ms":35,"timestamp":"..."}]}`.
//!
//! The gateway's request id (`id`, 1 to 256 characters) is the correlation id.

use serde_json::{Map, Value};

use super::fields::request_from_fields;
use super::{check_count, EventResults};
use crate::IngestApiError;

/// Value of the top-level `schema` field of this format.
pub(crate) const SCHEMA: &str = "aforo.ingest.v1";

/// Maximum `id` length, in characters.
const MAX_ID_CHARS: usize = 256;

/// Reads the events of an `aforo.ingest.v1` object.
pub(crate) fn parse(body: &Map<String, Value>, max_events: usize) -> Result<EventResults, IngestApiError> {
    let Some(Value::Array(events)) = body.get("events") else {
        return Err(IngestApiError::InvalidBody(format!(
            "{SCHEMA} body must have an events array"
        )));
    };
    check_count(events.len(), max_events)?;

    Ok(events.iter().map(parse_event).collect())
}

fn parse_event(event: &Value) -> Result<aforo::gateway::GatewayRequest, String> {
    let Value::Object(fields) = event else {
        return Err("event must be a JSON object".to_owned());
    };

    let id = fields
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| (1..=MAX_ID_CHARS).contains(&id.chars().count()))
        .ok_or_else(|| format!("id must be a string of 1 to {MAX_ID_CHARS} characters"))?;

    request_from_fields(fields, id.to_owned(), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(events: Value) -> Map<String, Value> {
        let Value::Object(map) = json!({"schema": SCHEMA, "events": events}) else {
            panic!("not an object");
        };
        map
    }

    fn event(id: Value) -> Value {
        json!({"id": id, "tenant_id": "acme", "method": "GET", "path": "/pets", "status": 200,
               "timestamp": "2026-12-01T10:00:00Z"})
    }

    #[test]
    fn parse_reads_events_in_order() {
        let results = parse(&body(json!([event(json!("a")), event(json!("b"))])), 10).unwrap();

        assert_eq!(results.len(), 2);
        assert_eq!(results[0].as_ref().unwrap().correlation_id, "a");
        assert_eq!(results[1].as_ref().unwrap().correlation_id, "b");
    }

    #[test]
    fn parse_rejects_missing_events() {
        let Value::Object(map) = json!({"schema": SCHEMA}) else { unreachable!() };
        assert!(matches!(parse(&map, 10), Err(IngestApiError::InvalidBody(_))));
    }

    #[test]
    fn parse_rejects_too_many_events() {
        let events = json!([event(json!("a")), event(json!("b"))]);
        assert!(matches!(
            parse(&body(events), 1),
            Err(IngestApiError::TooManyEvents { count: 2, limit: 1 })
        ));
    }

    #[test]
    fn parse_rejects_bad_id_alone() {
        let events = json!([event(json!("")), event(json!("x".repeat(257))), event(json!(7)), event(json!("ok"))]);

        let results = parse(&body(events), 10).unwrap();

        for result in &results[..3] {
            assert_eq!(result.as_ref().unwrap_err(), "id must be a string of 1 to 256 characters");
        }
        assert!(results[3].is_ok());
    }

    #[test]
    fn parse_rejects_non_object_event() {
        let results = parse(&body(json!([42])), 10).unwrap();
        assert_eq!(results[0].as_ref().unwrap_err(), "event must be a JSON object");
    }
}
