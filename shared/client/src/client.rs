//! The client: batching, sending with retries, and reading responses.

use chrono::Utc;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::{Response, Url};
use tracing::{debug, warn};

use crate::body::{self, PreparedRequest, CLOUDEVENTS_BATCH_CONTENT_TYPE, INGEST_CONTENT_TYPE};
use crate::config::ClientConfig;
use crate::error::{AttemptError, ClientError, HttpFailure};
use crate::model::{BatchReport, IngestEvent, IngestResponse, Problem, SendReport};
use crate::retry::{classify, parse_retry_after, Backoff, StatusClass};

/// Response header that marks a response replayed from an earlier request with the same `Idempotency-Key`.
const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Request header naming the request for the server's replay store.
const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// `User-Agent` of every request.
const CLIENT_USER_AGENT: &str = concat!("aforo-client/", env!("CARGO_PKG_VERSION"));

/// A client for `POST /v1/ingest`. Cheap to clone; clones share connections.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: Url,
    /// `Bearer <key>`, marked sensitive so `Debug` does not print it.
    authorization: HeaderValue,
    gzip: bool,
    max_events_per_request: usize,
    max_attempts: u32,
    backoff: Backoff,
}

/// A 200 response and how it was obtained.
struct Delivered {
    response: IngestResponse,
    attempts: u32,
    replayed: bool,
}

/// Outcome of one attempt that did not fail in a retryable way.
enum Settled {
    Delivered { response: IngestResponse, replayed: bool },
    Rejected(HttpFailure),
}

impl Client {
    /// Validates the settings and builds the HTTP client (rustls, no redirects).
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let endpoint = parse_endpoint(&config.endpoint)?;
        let authorization = bearer(&config.integration_key)?;

        if config.max_events_per_request == 0 {
            return Err(ClientError::InvalidConfig(
                "max_events_per_request must be at least 1".to_owned(),
            ));
        }
        if config.max_attempts == 0 {
            return Err(ClientError::InvalidConfig("max_attempts must be at least 1".to_owned()));
        }
        if config.timeout.is_zero() {
            return Err(ClientError::InvalidConfig(
                "timeout must be longer than zero".to_owned(),
            ));
        }

        // A redirect of a POST may turn into a GET without body; the endpoint URL must be the final one.
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ClientError::BuildHttpClient)?;

        Ok(Self {
            http,
            endpoint,
            authorization,
            gzip: config.gzip,
            max_events_per_request: config.max_events_per_request,
            max_attempts: config.max_attempts,
            backoff: Backoff {
                base_delay: config.base_delay,
                max_delay: config.max_delay,
            },
        })
    }

    /// Sends events in the `aforo.ingest.v1` format.
    ///
    /// Splits the events into batches of `max_events_per_request`, gzips each
    /// body when configured, and sends each batch with an `Idempotency-Key`
    /// derived from its content, so a re-run of the same input reuses it.
    /// Retries with exponential backoff and full jitter on 5xx, 429 and 409
    /// (honouring `Retry-After`), timeouts and connection errors, and never on
    /// other 4xx. Stops at the first batch that fails, reporting the batches
    /// that completed in [`ClientError::BatchFailed`].
    pub async fn send_events(&self, events: &[IngestEvent]) -> Result<SendReport, ClientError> {
        self.send_batches(events, INGEST_CONTENT_TYPE, body::ingest_body).await
    }

    /// Sends CloudEvents 1.0 (structured JSON, type `io.aforo.request.v1`) as
    /// `application/cloudevents-batch+json`, with the same batching and retry
    /// rules as [`Client::send_events`]. The events are sent as given; the
    /// server rejects invalid ones one by one.
    pub async fn send_cloudevents(&self, events: &[serde_json::Value]) -> Result<SendReport, ClientError> {
        self.send_batches(events, CLOUDEVENTS_BATCH_CONTENT_TYPE, body::cloudevents_body)
            .await
    }

    /// Sends a gateway's native payload as is, in one request, for the
    /// integration's adapter to read. Gzips the body when configured and
    /// retries like [`Client::send_events`]. Without an `idempotency_key` the
    /// key is derived from the content type and body.
    pub async fn send_raw(
        &self,
        content_type: &str,
        body: Vec<u8>,
        idempotency_key: Option<&str>,
    ) -> Result<IngestResponse, ClientError> {
        let report = self.send_raw_batch(content_type, body, idempotency_key).await?;
        Ok(report.response)
    }

    /// Sends a native payload like [`Client::send_raw`] and also returns the
    /// key, attempts and replay flag. `first_index` is 0 and `events` is the
    /// number of results, because only the server's adapter reads the records.
    pub async fn send_raw_batch(
        &self,
        content_type: &str,
        body: Vec<u8>,
        idempotency_key: Option<&str>,
    ) -> Result<BatchReport, ClientError> {
        let request = body::prepare(content_type, body, self.gzip, idempotency_key)?;
        let delivered = self.deliver(&request).await?;

        Ok(BatchReport {
            first_index: 0,
            events: delivered.response.results.len(),
            idempotency_key: request.idempotency_key,
            attempts: delivered.attempts,
            replayed: delivered.replayed,
            response: delivered.response,
        })
    }

    async fn send_batches<T>(
        &self,
        items: &[T],
        content_type: &str,
        encode: fn(&[T]) -> Result<Vec<u8>, ClientError>,
    ) -> Result<SendReport, ClientError> {
        let batches = items.len().div_ceil(self.max_events_per_request);
        let mut report = SendReport::default();

        for (batch, chunk) in items.chunks(self.max_events_per_request).enumerate() {
            let first_index = batch * self.max_events_per_request;

            let outcome = match encode(chunk) {
                Ok(body) => self.send_batch(content_type, body, first_index, chunk.len()).await,
                Err(err) => Err(err),
            };

            match outcome {
                Ok(batch_report) => report.push(batch_report),
                Err(err) => {
                    return Err(ClientError::BatchFailed {
                        batch,
                        batches,
                        first_index,
                        completed: Box::new(report),
                        source: Box::new(err),
                    })
                }
            }
        }
        Ok(report)
    }

    async fn send_batch(
        &self,
        content_type: &str,
        body: Vec<u8>,
        first_index: usize,
        events: usize,
    ) -> Result<BatchReport, ClientError> {
        let request = body::prepare(content_type, body, self.gzip, None)?;
        let delivered = self.deliver(&request).await?;

        Ok(BatchReport {
            first_index,
            events,
            idempotency_key: request.idempotency_key,
            attempts: delivered.attempts,
            replayed: delivered.replayed,
            response: delivered.response,
        })
    }

    /// Sends one request until it succeeds, fails for good, or runs out of attempts.
    async fn deliver(&self, request: &PreparedRequest) -> Result<Delivered, ClientError> {
        let mut attempts = 0;
        loop {
            attempts += 1;

            let failure = match self.attempt(request).await {
                Ok(Settled::Delivered { response, replayed }) => {
                    debug!(
                        attempts,
                        accepted = response.accepted,
                        replayed,
                        "ingest request delivered"
                    );
                    return Ok(Delivered {
                        response,
                        attempts,
                        replayed,
                    });
                }
                Ok(Settled::Rejected(failure)) => return Err(ClientError::Rejected(Box::new(failure))),
                Err(AttemptOutcome::Invalid(err)) => return Err(err),
                Err(AttemptOutcome::Retryable(failure)) => failure,
            };

            if attempts >= self.max_attempts {
                return Err(ClientError::RetriesExhausted {
                    attempts,
                    last: Box::new(failure),
                });
            }

            let delay = match failure.retry_after() {
                Some(retry_after) if retry_after > self.backoff.max_delay => {
                    return Err(ClientError::RetryAfterTooLong {
                        retry_after,
                        max_delay: self.backoff.max_delay,
                        attempts,
                        last: Box::new(failure),
                    });
                }
                Some(retry_after) => retry_after,
                None => self.backoff.delay(attempts),
            };

            warn!(
                attempt = attempts,
                max_attempts = self.max_attempts,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %failure,
                "ingest request failed, retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// Makes one attempt.
    async fn attempt(&self, request: &PreparedRequest) -> Result<Settled, AttemptOutcome> {
        let mut builder = self
            .http
            .post(self.endpoint.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, request.content_type.as_str())
            .header(USER_AGENT, CLIENT_USER_AGENT)
            .header(IDEMPOTENCY_KEY_HEADER, request.idempotency_key.as_str())
            .body(request.body.clone());
        if request.gzip {
            builder = builder.header(CONTENT_ENCODING, "gzip");
        }

        let response = builder.send().await.map_err(transport)?;
        let status = response.status();

        match classify(status) {
            StatusClass::Success => read_success(response).await,
            StatusClass::Retryable => Err(AttemptOutcome::Retryable(AttemptError::Status(
                read_failure(response).await,
            ))),
            StatusClass::Final => Ok(Settled::Rejected(read_failure(response).await)),
        }
    }
}

/// An attempt that did not settle the request.
enum AttemptOutcome {
    /// May succeed on retry.
    Retryable(AttemptError),
    /// Cannot succeed, for example a 200 whose body is not an ingest response.
    Invalid(ClientError),
}

fn transport(err: reqwest::Error) -> AttemptOutcome {
    AttemptOutcome::Retryable(AttemptError::Transport(err))
}

async fn read_success(response: Response) -> Result<Settled, AttemptOutcome> {
    let status = response.status().as_u16();
    let replayed = response
        .headers()
        .get(REPLAYED_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("true"));

    // A connection that breaks while the body is read is a transport failure, so it is retried.
    let bytes = response.bytes().await.map_err(transport)?;
    let response: IngestResponse = serde_json::from_slice(&bytes)
        .map_err(|source| AttemptOutcome::Invalid(ClientError::InvalidResponse { status, source }))?;

    Ok(Settled::Delivered { response, replayed })
}

/// Reads a failed response's status, `Retry-After` and problem details. A body
/// that cannot be read or is not problem details leaves `problem` empty.
async fn read_failure(response: Response) -> HttpFailure {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, Utc::now()));

    let problem = match response.bytes().await {
        Ok(bytes) => serde_json::from_slice::<Problem>(&bytes).ok(),
        Err(_) => None,
    };

    HttpFailure {
        status,
        problem,
        retry_after,
    }
}

fn parse_endpoint(endpoint: &str) -> Result<Url, ClientError> {
    let url = Url::parse(endpoint)
        .map_err(|err| ClientError::InvalidConfig(format!("endpoint {endpoint:?} is not a valid URL: {err}")))?;

    if !matches!(url.scheme(), "http" | "https") {
        return Err(ClientError::InvalidConfig(format!(
            "endpoint {endpoint:?} must be an http or https URL"
        )));
    }
    Ok(url)
}

fn bearer(integration_key: &str) -> Result<HeaderValue, ClientError> {
    let key = integration_key.trim();
    let valid = !key.is_empty() && key.bytes().all(|byte| byte.is_ascii_graphic());
    if !valid {
        return Err(ClientError::InvalidConfig(
            "integration_key must be non-empty printable ASCII without spaces".to_owned(),
        ));
    }

    let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
        .map_err(|_| ClientError::InvalidConfig("integration_key is not a valid header value".to_owned()))?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ClientConfig {
        ClientConfig::new("http://127.0.0.1:9/v1/ingest", "ik_test_key")
    }

    #[test]
    fn client_rejects_non_http_endpoint() {
        let mut config = config();
        config.endpoint = "ftp://127.0.0.1/v1/ingest".to_owned();
        assert!(matches!(Client::new(config), Err(ClientError::InvalidConfig(_))));
    }

    #[test]
    fn client_rejects_relative_endpoint() {
        let mut config = config();
        config.endpoint = "/v1/ingest".to_owned();
        assert!(matches!(Client::new(config), Err(ClientError::InvalidConfig(_))));
    }

    #[test]
    fn client_rejects_empty_key() {
        let mut config = config();
        config.integration_key = "  ".to_owned();
        assert!(matches!(Client::new(config), Err(ClientError::InvalidConfig(_))));
    }

    #[test]
    fn client_rejects_zero_batch_size() {
        let mut config = config();
        config.max_events_per_request = 0;
        assert!(matches!(Client::new(config), Err(ClientError::InvalidConfig(_))));
    }

    #[test]
    fn client_rejects_zero_attempts() {
        let mut config = config();
        config.max_attempts = 0;
        assert!(matches!(Client::new(config), Err(ClientError::InvalidConfig(_))));
    }

    #[test]
    fn client_debug_hides_key() {
        let client = Client::new(config()).unwrap();
        assert!(!format!("{client:?}").contains("ik_test_key"));
    }

    #[test]
    fn config_error_does_not_echo_key() {
        let mut config = config();
        config.integration_key = "ik secret".to_owned();
        let message = Client::new(config).unwrap_err().to_string();
        assert!(!message.contains("secret"));
    }
}
