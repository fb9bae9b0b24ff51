//! CloudEvents 1.0 batches (`application/cloudevents-batch+json`, structured
//! JSON mode) of type `io.aforo.request.v1`, whose `data` is an
//! `aforo.ingest.v1` event without `id`.
//!
//! CloudEvents identifies an event by `source` and `id` together, so the
//! correlation id is the JSON array `["<source>","<id>"]`.

use aforo::gateway::GatewayRequest;
use serde_json::{Map, Value};

use super::fields::{parse_time, request_from_fields};
use super::{check_count, media_type, EventResults};
use crate::IngestApiError;

/// `Content-Type` of a CloudEvents JSON batch.
pub(crate) const BATCH_MEDIA_TYPE: &str = "application/cloudevents-batch+json";

/// The CloudEvents `type` of a metered request.
pub(crate) const EVENT_TYPE: &str = "io.aforo.request.v1";

/// Maximum `id` length, in characters.
const MAX_ID_CHARS: usize = 256;

/// Maximum `source` length, in characters.
const MAX_SOURCE_CHARS: usize = 1_024;

/// Reads the events of a CloudEvents batch.
pub(crate) fn parse(body: &Value, max_events: usize) -> Result<EventResults, IngestApiError> {
    let Value::Array(events) = body else {
        return Err(IngestApiError::InvalidBody(format!(
            "the body of a {BATCH_MEDIA_TYPE} request must be a JSON array of CloudEvents"
        )));
    };
    check_count(events.len(), max_events)?;

    Ok(events.iter().map(parse_event).collect())
}

fn parse_event(event: &Value) -> Result<GatewayRequest, String> {
    let Value::Object(attributes) = event else {
        return Err("event must be a JSON object".to_owned());
    };

    if attributes.get("specversion").and_then(Value::as_str) != Some("1.0") {
        return Err("specversion must be \"1.0\"".to_owned());
    }
    let id = bounded_string(attributes, "id", MAX_ID_CHARS)?;
    let source = bounded_string(attributes, "source", MAX_SOURCE_CHARS)?;
    if attributes.get("type").and_then(Value::as_str) != Some(EVENT_TYPE) {
        return Err(format!("type must be \"{EVENT_TYPE}\""));
    }

    let time = match attributes.get("time") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            value
                .as_str()
                .and_then(parse_time)
                .ok_or("time must be an RFC 3339 date-time")?,
        ),
    };

    if let Some(content_type) = attributes.get("datacontenttype") {
        let is_json = content_type.as_str().map(media_type).as_deref() == Some("application/json");
        if !is_json {
            return Err("datacontenttype must be application/json".to_owned());
        }
    }
    let Some(Value::Object(data)) = attributes.get("data") else {
        return Err("data must be a JSON object".to_owned());
    };

    // Serializing two strings cannot fail.
    let correlation_id = serde_json::to_string(&[source, id]).unwrap_or_default();
    request_from_fields(data, correlation_id, time)
}

fn bounded_string<'a>(attributes: &'a Map<String, Value>, name: &str, max_chars: usize) -> Result<&'a str, String> {
    attributes
        .get(name)
        .and_then(Value::as_str)
        .filter(|value| (1..=max_chars).contains(&value.chars().count()))
        .ok_or_else(|| format!("{name} must be a string of 1 to {max_chars} characters"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cloud_event(id: &str) -> Value {
        json!({
            "specversion": "1.0",
            "id": id,
            "source": "//kong/edge-1",
            "type": EVENT_TYPE,
            "time": "2026-12-01T10:00:00Z",
            "datacontenttype": "application/json",
            "data": {"tenant_id": "acme", "method": "GET", "path": "/pets", "status": 200}
        })
    }

    #[test]
    fn parse_keys_events_by_source_and_id() {
        let results = parse(&json!([cloud_event("e-1")]), 10).unwrap();
        let request = results[0].as_ref().unwrap();

        assert_eq!(request.correlation_id, r#"["//kong/edge-1","e-1"]"#);
        assert_eq!(Some(request.timestamp), parse_time("2026-12-01T10:00:00Z"));
    }

    #[test]
    fn parse_prefers_data_timestamp() {
        let mut event = cloud_event("e-1");
        event["data"]["timestamp"] = json!("2026-12-02T00:00:00Z");

        let results = parse(&json!([event]), 10).unwrap();

        assert_eq!(Some(results[0].as_ref().unwrap().timestamp), parse_time("2026-12-02T00:00:00Z"));
    }

    #[test]
    fn parse_rejects_wrong_type() {
        let mut event = cloud_event("e-1");
        event["type"] = json!("com.example.other");
        let results = parse(&json!([event]), 10).unwrap();
        assert_eq!(results[0].as_ref().unwrap_err(), "type must be \"io.aforo.request.v1\"");
    }

    #[test]
    fn parse_rejects_wrong_specversion() {
        let mut event = cloud_event("e-1");
        event["specversion"] = json!("0.3");
        let results = parse(&json!([event]), 10).unwrap();
        assert_eq!(results[0].as_ref().unwrap_err(), "specversion must be \"1.0\"");
    }

    #[test]
    fn parse_rejects_missing_source() {
        let mut event = cloud_event("e-1");
        event.as_object_mut().unwrap().remove("source");
        let results = parse(&json!([event]), 10).unwrap();
        assert_eq!(results[0].as_ref().unwrap_err(), "source must be a string of 1 to 1024 characters");
    }

    #[test]
    fn parse_rejects_binary_data() {
        let mut event = cloud_event("e-1");
        let attributes = event.as_object_mut().unwrap();
        attributes.remove("data");
        attributes.insert("data_base64".to_owned(), json!("e30="));

        let results = parse(&json!([event]), 10).unwrap();

        assert_eq!(results[0].as_ref().unwrap_err(), "data must be a JSON object");
    }

    #[test]
    fn parse_rejects_other_data_content_type() {
        let mut event = cloud_event("e-1");
        event["datacontenttype"] = json!("text/plain");
        let results = parse(&json!([event]), 10).unwrap();
        assert_eq!(results[0].as_ref().unwrap_err(), "datacontenttype must be application/json");
    }

    #[test]
    fn parse_rejects_object_body() {
        assert!(matches!(parse(&json!({}), 10), Err(IngestApiError::InvalidBody(_))));
    }

    #[test]
    fn parse_rejects_too_many_events() {
        let batch = json!([cloud_event("a"), cloud_event("b")]);
        assert!(matches!(parse(&batch, 1), Err(IngestApiError::TooManyEvents { count: 2, limit: 1 })));
    }
}
