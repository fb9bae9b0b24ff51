//! Errors of the ingest client.

use std::fmt;
use std::time::Duration;

use crate::model::{Problem, SendReport};

/// A response with a status that is not success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFailure {
    /// HTTP status code.
    pub status: u16,
    /// The problem details body, when the response had one.
    pub problem: Option<Problem>,
    /// Wait the server asked for in `Retry-After`.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;

        let problem = self.problem.as_ref();
        if let Some(title) = problem.and_then(|problem| problem.title.as_deref()) {
            write!(f, " {title}")?;
        }
        if let Some(detail) = problem.and_then(|problem| problem.detail.as_deref()) {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

/// Failure of one attempt that may succeed on retry.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    /// The request timed out, could not connect, or the connection broke.
    #[error("request failed: {0}")]
    Transport(#[source] reqwest::Error),

    /// The server returned 5xx, 429 or 409.
    #[error("{0}")]
    Status(HttpFailure),
}

impl AttemptError {
    /// Wait the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AttemptError::Transport(_) => None,
            AttemptError::Status(failure) => failure.retry_after,
        }
    }
}

/// A send that did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A setting is invalid; the message names it.
    #[error("invalid client configuration: {0}")]
    InvalidConfig(String),

    /// The HTTP client could not be built, for example because no TLS root certificates were found.
    #[error("failed to build the HTTP client")]
    BuildHttpClient(#[source] reqwest::Error),

    /// The caller's `Idempotency-Key` is not 1 to 255 printable ASCII characters.
    #[error("invalid Idempotency-Key of {length} bytes: expected 1 to 255 printable ASCII characters")]
    InvalidIdempotencyKey {
        /// Length of the key in bytes.
        length: usize,
    },

    /// The events could not be encoded as JSON.
    #[error("failed to encode the request body as JSON")]
    Encode(#[source] serde_json::Error),

    /// The body could not be compressed.
    #[error("failed to gzip the request body")]
    Compress(#[source] std::io::Error),

    /// The server rejected the request with a status that a retry cannot
    /// change (4xx other than 409 and 429, or 3xx). Fix the request or the key.
    #[error("POST /v1/ingest was rejected with {0}")]
    Rejected(Box<HttpFailure>),

    /// Every attempt failed with a retryable error.
    #[error("POST /v1/ingest failed after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// Error of the last attempt.
        #[source]
        last: Box<AttemptError>,
    },

    /// The server asked to wait longer than `max_delay`, so the client stopped
    /// instead of blocking; send again later, with the same input.
    #[error(
        "POST /v1/ingest asked to retry after {}s, longer than max_delay {}s, after {attempts} attempts: {last}",
        .retry_after.as_secs(),
        .max_delay.as_secs()
    )]
    RetryAfterTooLong {
        /// Wait from `Retry-After`.
        retry_after: Duration,
        /// The configured longest wait.
        max_delay: Duration,
        /// Attempts made.
        attempts: u32,
        /// Error of the last attempt.
        #[source]
        last: Box<AttemptError>,
    },

    /// A 2xx response whose body is not an ingest response.
    #[error("HTTP {status} response is not a valid ingest response")]
    InvalidResponse {
        /// HTTP status code.
        status: u16,
        /// Parse error of the body.
        #[source]
        source: serde_json::Error,
    },

    /// One batch of a multi-batch send failed; the batches before it completed
    /// and are in `completed`. Sending the same input again resends only what is
    /// missing, because each batch's `Idempotency-Key` is derived from its content.
    #[error("batch {} of {batches} (events from {first_index}) failed after {} batches completed: {source}", .batch + 1, .completed.batches.len())]
    BatchFailed {
        /// Zero-based position of the failed batch.
        batch: usize,
        /// Number of batches of the send.
        batches: usize,
        /// Position in the input of the failed batch's first event.
        first_index: usize,
        /// Report of the batches that completed before the failure.
        completed: Box<SendReport>,
        /// Cause of the batch failure.
        #[source]
        source: Box<ClientError>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_failure_shows_problem_detail() {
        let failure = HttpFailure {
            status: 413,
            problem: Some(Problem {
                problem_type: Some("about:blank".to_owned()),
                title: Some("Payload Too Large".to_owned()),
                status: Some(413),
                detail: Some("decompressed body exceeds the 8388608-byte limit".to_owned()),
            }),
            retry_after: None,
        };
        assert_eq!(
            failure.to_string(),
            "HTTP 413 Payload Too Large: decompressed body exceeds the 8388608-byte limit"
        );
    }

    #[test]
    fn http_failure_without_problem_shows_status() {
        let failure = HttpFailure {
            status: 502,
            problem: None,
            retry_after: None,
        };
        assert_eq!(failure.to_string(), "HTTP 502");
    }
}
