//! Native gateway adapters: each turns a gateway's own log record into
//! [`GatewayRequest`]s, so Kong, Apigee, Azure API Management and MuleSoft
//! feed `POST /v1/ingest` with their standard logging and no application
//! changes.

use crate::catalog::GatewayKind;
use crate::gateway::GatewayRequest;

/// A body that no record can be read from.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The integration's gateway kind has no native adapter.
    #[error("gateway kind {0:?} has no native log adapter; send the aforo.ingest.v1 or CloudEvents format")]
    Unsupported(GatewayKind),

    /// The body is JSON but not the shape this gateway sends.
    #[error("body is not a {gateway} log payload: {reason}")]
    InvalidShape {
        /// Gateway name.
        gateway: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Parses a gateway's native log payload into one result per record, in
/// order; a record that cannot be read gives `Err` with the reason.
pub fn parse(
    kind: GatewayKind,
    body: &serde_json::Value,
) -> Result<Vec<Result<GatewayRequest, String>>, AdapterError> {
    // NOTE: replaced by the native adapters; until then every kind is unsupported.
    let _ = body;
    Err(AdapterError::Unsupported(kind))
}
