//! Client for Aforo's multi-gateway ingest endpoint `POST /v1/ingest`.
//!
//! Gateways other than AWS API Gateway (Kong, Apigee, Azure API Management,
//! MuleSoft, or a custom exporter) report requests through this client. It
//! splits events into batches, gzips each body, authenticates with the
//! integration's ingest key, and retries with exponential backoff and full
//! jitter. Each batch carries an `Idempotency-Key` derived from its content, so
//! the server replays its stored response to a retry or a re-run of the same
//! input. The server also deduplicates every event by its gateway request id,
//! so no event is counted twice.
//!
//! ```no_run
//! # async fn example() -> Result<(), aforo_client::ClientError> {
//! use aforo_client::{Client, ClientConfig, IngestEvent};
//!
//! let config = ClientConfig::new("https://api.example.com/v1/ingest", "ik_example_key");
//! let client = Client::new(config)?;
//! let events: Vec<IngestEvent> = Vec::new();
//! let report = client.send_events(&events).await?;
//! println!("accepted {} duplicates {}", report.accepted, report.duplicates);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod body;
mod client;
mod config;
mod error;
mod model;
mod retry;

pub use body::{derive_idempotency_key, CLOUDEVENTS_BATCH_CONTENT_TYPE, INGEST_CONTENT_TYPE, INGEST_SCHEMA};
pub use client::Client;
pub use config::ClientConfig;
pub use error::{AttemptError, ClientError, HttpFailure};
pub use model::{Attribution, BatchReport, EventResult, EventStatus, IngestEvent, IngestResponse, Problem, SendReport};
