//! The ingest API: `POST /v1/ingest` behind an API Gateway HTTP API, where
//! Kong, Apigee, Azure API Management and MuleSoft report the requests they
//! served.
//!
//! A request is authenticated by its integration ingest key. Its body is read
//! as a CloudEvents batch, an `aforo.ingest.v1` batch or the gateway's native
//! log format. Each event is attributed through the catalog into the same
//! metering records that the log decoder produces. Those go to the metering
//! queue, so ingest deduplicates and aggregates usage of every gateway in one place.
//! The response reports each event by index: accepted, duplicate, rejected,
//! not metered, or not billable when its status class is not billed (5xx by
//! default, as in the log decoder). An `Idempotency-Key` header makes a whole
//! request replayable.
#![warn(missing_docs)]

mod auth;
mod body;
mod config;
mod dedupe;
mod error;
mod formats;
mod handler;
mod idempotency;
mod meter;
mod reply;
mod request;
mod results;

use aforo::catalog::{CachedCatalog, DynamoCatalog};
use aforo::sqs::SqsSender;

pub use config::Config;
pub use error::IngestApiError;
pub use handler::IngestApi;
pub use idempotency::fingerprint;
pub use results::{Attribution, EventResult, EventStatus, IngestResponse};

/// Builds a handler on the tables and queue named in `config`, with the
/// catalog cached for `config.cache_ttl`.
pub fn from_sdk(sdk: &aws_config::SdkConfig, config: &Config) -> IngestApi<CachedCatalog<DynamoCatalog>> {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let catalog = CachedCatalog::new(
        DynamoCatalog::new(dynamodb.clone(), &config.catalog_table),
        config.cache_ttl,
    );
    let sender = SqsSender::new(
        aws_sdk_sqs::Client::new(sdk),
        &config.queue_url,
        config.send_max_attempts,
    );
    IngestApi::new(catalog, dynamodb, sender, config)
}

#[cfg(test)]
mod sample_tests {
    use super::*;
    use crate::request::HttpRequest;

    /// `events/ingest-request.json` stays a gzip, base64 `aforo.ingest.v1`
    /// request of three valid events with the kong-edge seed key.
    #[test]
    fn sample_event_is_gzip_ingest_v1_batch() {
        let event: serde_json::Value =
            serde_json::from_str(include_str!("../events/ingest-request.json")).unwrap();
        let request = HttpRequest::from_event(&event);
        let limits = body::BodyLimits {
            max_body_bytes: config::DEFAULT_MAX_BODY_BYTES,
            max_decompressed_bytes: config::DEFAULT_MAX_DECOMPRESSED_BYTES,
        };

        let payload = body::payload(&request, limits).unwrap();
        let (format, events) = formats::parse_events(
            request.header("content-type"),
            &payload,
            aforo::catalog::GatewayKind::Kong,
            config::DEFAULT_MAX_EVENTS,
        )
        .unwrap();

        assert_eq!(auth::presented_key(&request), Some("ik_kong_5d2a8c41e7f9"));
        assert!(request.is_base64_encoded);
        assert_eq!(request.header("content-encoding"), Some("gzip"));
        assert_eq!(format, formats::Format::IngestV1);
        assert_eq!(events.len(), 3);
        assert!(events.iter().all(Result::is_ok));
    }
}
