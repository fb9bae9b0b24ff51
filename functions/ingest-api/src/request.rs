//! Reading an API Gateway HTTP API event (payload format 2.0) leniently from
//! its raw JSON: headers, the body and the base64 flag may each be absent or
//! null, and header names are compared without regard to case.

use std::collections::HashMap;

use serde_json::Value;

/// The parts of the HTTP request that the ingest API reads.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct HttpRequest {
    /// HTTP method, when the event names one.
    pub method: Option<String>,
    /// Header values by lower-case name. Payload 2.0 joins repeated headers
    /// with commas, and payload 1.0's `multiValueHeaders` are joined the same way.
    pub headers: HashMap<String, String>,
    /// The body as API Gateway delivered it: base64 text when `is_base64_encoded`.
    pub body: String,
    /// Whether API Gateway base64-encoded the body (`isBase64Encoded`).
    pub is_base64_encoded: bool,
}

impl HttpRequest {
    /// Reads the request from a Lambda event, taking what is present.
    pub fn from_event(event: &Value) -> Self {
        Self {
            method: method(event),
            headers: headers(event),
            body: event.get("body").and_then(Value::as_str).unwrap_or_default().to_owned(),
            is_base64_encoded: flag(event.get("isBase64Encoded")),
        }
    }

    /// Returns the trimmed value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(|value| value.trim())
    }
}

/// Reads `requestContext.http.method` (payload 2.0) or `httpMethod` (payload 1.0).
fn method(event: &Value) -> Option<String> {
    event
        .pointer("/requestContext/http/method")
        .or_else(|| event.get("httpMethod"))
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase)
}

fn headers(event: &Value) -> HashMap<String, String> {
    let mut headers = HashMap::new();

    if let Some(Value::Object(multi)) = event.get("multiValueHeaders") {
        for (name, values) in multi {
            let joined: Vec<&str> = values.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            if !joined.is_empty() {
                headers.insert(name.to_ascii_lowercase(), joined.join(","));
            }
        }
    }

    // Single-value headers win, because payload 2.0 has only these.
    if let Some(Value::Object(single)) = event.get("headers") {
        for (name, value) in single {
            if let Some(value) = value.as_str() {
                headers.insert(name.to_ascii_lowercase(), value.to_owned());
            }
        }
    }
    headers
}

/// Reads a boolean that some producers send as the string `"true"`.
fn flag(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) => text.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn from_event_reads_payload_v2() {
        let event = json!({
            "requestContext": {"http": {"method": "post"}},
            "headers": {"Content-Type": "application/json", "X-Api-Key": " key "},
            "body": "{}",
            "isBase64Encoded": false
        });

        let request = HttpRequest::from_event(&event);

        assert_eq!(request.method.as_deref(), Some("POST"));
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.header("x-api-key"), Some("key"));
        assert_eq!(request.body, "{}");
        assert!(!request.is_base64_encoded);
    }

    #[test]
    fn from_event_accepts_null_parts() {
        let event = json!({"headers": null, "body": null, "isBase64Encoded": null});

        let request = HttpRequest::from_event(&event);

        assert_eq!(request, HttpRequest::default());
    }

    #[test]
    fn from_event_accepts_non_object_event() {
        assert_eq!(HttpRequest::from_event(&json!("text")), HttpRequest::default());
    }

    #[test]
    fn from_event_joins_multi_value_headers() {
        let event = json!({"multiValueHeaders": {"Accept": ["a", "b"]}, "httpMethod": "POST"});

        let request = HttpRequest::from_event(&event);

        assert_eq!(request.header("accept"), Some("a,b"));
        assert_eq!(request.method.as_deref(), Some("POST"));
    }

    #[test]
    fn from_event_reads_string_base64_flag() {
        let request = HttpRequest::from_event(&json!({"isBase64Encoded": "true"}));
        assert!(request.is_base64_encoded);
    }
}
