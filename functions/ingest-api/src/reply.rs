//! HTTP responses: JSON results, RFC 9457 problem details for errors, and
//! their conversion into the API Gateway payload 2.0 response.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::header::{HeaderName, HeaderValue};
use aws_lambda_events::http::StatusCode;
use serde::Serialize;

use crate::idempotency::StoredResponse;
use crate::IngestApiError;

/// Media type of a successful response.
pub(crate) const JSON: &str = "application/json";

/// Media type of an error response (RFC 9457).
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// Seconds a client should wait after a 503 before it retries.
const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 5;

/// A response before it becomes an API Gateway response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type` of `body`.
    pub content_type: String,
    /// Response body.
    pub body: String,
    /// Headers besides `Content-Type`.
    pub headers: Vec<(&'static str, String)>,
}

/// An RFC 9457 problem details document.
#[derive(Debug, Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    problem_type: &'a str,
    title: &'a str,
    status: u16,
    detail: String,
}

impl Reply {
    /// Builds a 200 response with `value` as its JSON body.
    pub fn json(value: &impl Serialize) -> Self {
        match serde_json::to_string(value) {
            Ok(body) => Self {
                status: 200,
                content_type: JSON.to_owned(),
                body,
                headers: Vec::new(),
            },
            Err(err) => {
                tracing::error!(error = %err, "cannot serialize the response body");
                Self::problem_text(500, "the response could not be serialized".to_owned())
            }
        }
    }

    /// Builds the replay of a stored response for a repeated `Idempotency-Key`.
    pub fn replay(stored: StoredResponse) -> Self {
        Self {
            status: stored.status,
            content_type: stored.content_type,
            body: stored.body,
            headers: vec![("idempotent-replayed", "true".to_owned())],
        }
    }

    /// Builds the problem details response of `error`, with the headers its status needs.
    pub fn error(error: &IngestApiError) -> Self {
        let mut reply = Self::problem_text(error.status(), error.detail());

        match error {
            IngestApiError::MissingKey | IngestApiError::InvalidKey => {
                reply.headers.push(("www-authenticate", "Bearer".to_owned()));
            }
            IngestApiError::MethodNotAllowed(_) => reply.headers.push(("allow", "POST".to_owned())),
            IngestApiError::UnsupportedEncoding(_) => {
                reply.headers.push(("accept-encoding", "gzip".to_owned()));
            }
            IngestApiError::IdempotencyInProgress { retry_after } => {
                reply.headers.push(("retry-after", retry_after.to_string()));
            }
            _ if reply.status == 503 => {
                reply.headers.push(("retry-after", UNAVAILABLE_RETRY_AFTER_SECONDS.to_string()));
            }
            _ => {}
        }
        reply
    }

    fn problem_text(status: u16, detail: String) -> Self {
        let title = StatusCode::from_u16(status)
            .ok()
            .and_then(|code| code.canonical_reason())
            .unwrap_or("Error");
        let problem = Problem {
            problem_type: "about:blank",
            title,
            status,
            detail,
        };

        Self {
            status,
            content_type: PROBLEM_JSON.to_owned(),
            // A struct of strings and a number always serializes.
            body: serde_json::to_string(&problem).unwrap_or_default(),
            headers: Vec::new(),
        }
    }

    /// Converts into the response API Gateway sends to the client.
    pub fn into_response(self) -> ApiGatewayV2httpResponse {
        let mut response = ApiGatewayV2httpResponse::default();
        response.status_code = i64::from(self.status);
        response.body = Some(Body::Text(self.body));
        response.is_base64_encoded = false;

        let headers = std::iter::once(("content-type", self.content_type)).chain(self.headers);
        for (name, value) in headers {
            match HeaderValue::from_str(&value) {
                Ok(value) => {
                    response.headers.insert(HeaderName::from_static(name), value);
                }
                Err(err) => tracing::warn!(header = name, error = %err, "dropped a header with an invalid value"),
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(response: &ApiGatewayV2httpResponse) -> serde_json::Value {
        let Some(Body::Text(text)) = &response.body else {
            panic!("response has no text body");
        };
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn error_reply_is_problem_json() {
        let response = Reply::error(&IngestApiError::DecompressedTooLarge { limit: 8_388_608 }).into_response();
        let body = body_json(&response);

        assert_eq!(response.status_code, 413);
        assert_eq!(response.headers["content-type"], PROBLEM_JSON);
        assert_eq!(body["type"], "about:blank");
        assert_eq!(body["title"], "Payload Too Large");
        assert_eq!(body["status"], 413);
        assert_eq!(body["detail"], "decompressed body exceeds the 8388608-byte limit");
    }

    #[test]
    fn unauthorized_reply_asks_for_bearer() {
        let response = Reply::error(&IngestApiError::MissingKey).into_response();
        assert_eq!(response.status_code, 401);
        assert_eq!(response.headers["www-authenticate"], "Bearer");
    }

    #[test]
    fn in_progress_reply_has_retry_after() {
        let response = Reply::error(&IngestApiError::IdempotencyInProgress { retry_after: 7 }).into_response();
        assert_eq!(response.status_code, 409);
        assert_eq!(response.headers["retry-after"], "7");
    }

    #[test]
    fn json_reply_has_json_type() {
        let response = Reply::json(&serde_json::json!({"accepted": 1})).into_response();
        assert_eq!(response.status_code, 200);
        assert_eq!(response.headers["content-type"], JSON);
        assert_eq!(body_json(&response)["accepted"], 1);
    }
}
