//! The body formats of `POST /v1/ingest`, chosen in this order:
//!
//! 1. `Content-Type: application/cloudevents-batch+json`: a CloudEvents batch.
//! 2. A JSON object with `"schema": "aforo.ingest.v1"`: the generic batch.
//! 3. Any other JSON: the native log format of the integration's gateway,
//!    read by [`aforo::adapters::parse`].
//!
//! Each format yields one result per event, in order, so one bad event is
//! rejected alone. A body that is not the chosen format at all fails whole.

mod cloudevents;
mod fields;
mod ingest_v1;

use aforo::catalog::GatewayKind;
use aforo::gateway::GatewayRequest;
use serde_json::Value;

use crate::IngestApiError;

/// One result per event of a request: the request, or why it was rejected.
pub(crate) type EventResults = Vec<Result<GatewayRequest, String>>;

/// The format a body was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// CloudEvents JSON batch.
    CloudEvents,
    /// `aforo.ingest.v1`.
    IngestV1,
    /// The gateway's native log format.
    Native,
}

impl Format {
    /// Name used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::CloudEvents => "cloudevents",
            Format::IngestV1 => "aforo.ingest.v1",
            Format::Native => "native",
        }
    }
}

/// Reads the events of a payload, checked and normalized.
pub(crate) fn parse_events(
    content_type: Option<&str>,
    payload: &[u8],
    kind: GatewayKind,
    max_events: usize,
) -> Result<(Format, EventResults), IngestApiError> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestApiError::InvalidBody(
            "request body is empty; send a JSON batch of events".to_owned(),
        ));
    }
    let body: Value = serde_json::from_slice(payload).map_err(IngestApiError::InvalidJson)?;

    let (format, results) = if content_type.map(media_type).as_deref() == Some(cloudevents::BATCH_MEDIA_TYPE) {
        (Format::CloudEvents, cloudevents::parse(&body, max_events)?)
    } else if let Some(object) = ingest_v1_object(&body)? {
        (Format::IngestV1, ingest_v1::parse(object, max_events)?)
    } else {
        let results = aforo::adapters::parse(kind, &body)?;
        check_count(results.len(), max_events)?;
        let results = results.into_iter().map(|result| result.map_err(fields::bounded_reason)).collect();
        (Format::Native, results)
    };

    let results = results
        .into_iter()
        .map(|result| result.and_then(fields::normalize))
        .collect();
    Ok((format, results))
}

/// Returns the body as an `aforo.ingest.v1` object, `None` when it names no
/// schema, and an error when it names another `aforo.ingest` schema.
fn ingest_v1_object(body: &Value) -> Result<Option<&serde_json::Map<String, Value>>, IngestApiError> {
    let Value::Object(object) = body else {
        return Ok(None);
    };
    match object.get("schema").and_then(Value::as_str) {
        Some(ingest_v1::SCHEMA) => Ok(Some(object)),
        Some(other) if other.starts_with("aforo.") => Err(IngestApiError::InvalidBody(format!(
            "schema {other:?} is not supported; send {:?}",
            ingest_v1::SCHEMA
        ))),
        _ => Ok(None),
    }
}

/// Fails when a request carries more than `max_events` events.
fn check_count(count: usize, max_events: usize) -> Result<(), IngestApiError> {
    if count > max_events {
        return Err(IngestApiError::TooManyEvents {
            count,
            limit: max_events,
        });
    }
    Ok(())
}

/// Returns the lower-case media type of a `Content-Type` value, without parameters.
pub(crate) fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ingest_v1_body(events: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"schema": "aforo.ingest.v1", "events": events})).unwrap()
    }

    fn event(id: &str, status: u16) -> Value {
        json!({"id": id, "tenant_id": "acme", "method": "get", "path": "/pets", "status": status,
               "timestamp": "2026-12-01T10:00:00Z"})
    }

    #[test]
    fn parse_events_reads_ingest_v1() {
        let body = ingest_v1_body(json!([event("a", 200), event("b", 700)]));

        let (format, results) = parse_events(Some("application/json"), &body, GatewayKind::Kong, 10).unwrap();

        assert_eq!(format, Format::IngestV1);
        assert_eq!(results[0].as_ref().unwrap().method, "GET");
        assert_eq!(results[1].as_ref().unwrap_err(), "status must be an integer from 100 to 599");
    }

    #[test]
    fn parse_events_reads_cloudevents_by_content_type() {
        let batch = json!([{
            "specversion": "1.0", "id": "1", "source": "s", "type": "io.aforo.request.v1",
            "data": {"method": "GET", "path": "/pets", "status": 200, "timestamp": "2026-12-01T10:00:00Z"}
        }]);
        let body = serde_json::to_vec(&batch).unwrap();

        let content_type = Some("Application/CloudEvents-Batch+JSON; charset=utf-8");
        let (format, results) = parse_events(content_type, &body, GatewayKind::Kong, 10).unwrap();

        assert_eq!(format, Format::CloudEvents);
        assert!(results[0].is_ok());
    }

    #[test]
    fn parse_events_rejects_empty_body() {
        let error = parse_events(Some("application/json"), b"  ", GatewayKind::Kong, 10).unwrap_err();
        assert!(matches!(error, IngestApiError::InvalidBody(_)));
    }

    #[test]
    fn parse_events_rejects_invalid_json() {
        let error = parse_events(None, b"{not json", GatewayKind::Kong, 10).unwrap_err();
        assert!(matches!(error, IngestApiError::InvalidJson(_)));
    }

    #[test]
    fn parse_events_rejects_unknown_aforo_schema() {
        let body = br#"{"schema":"aforo.ingest.v2","events":[]}"#;
        let error = parse_events(None, body, GatewayKind::Kong, 10).unwrap_err();
        assert!(matches!(error, IngestApiError::InvalidBody(_)));
    }

    #[test]
    fn parse_events_sends_other_json_to_adapter() {
        // AWS gateways report through access logs, so no native adapter reads them.
        let error = parse_events(None, br#"{"request":{}}"#, GatewayKind::AwsRest, 10).unwrap_err();
        assert!(matches!(error, IngestApiError::Adapter(_)));
    }

    #[test]
    fn media_type_drops_parameters() {
        assert_eq!(media_type(" Application/JSON ; charset=UTF-8"), "application/json");
    }
}
