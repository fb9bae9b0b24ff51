//! Requests reported by gateways other than AWS API Gateway, and their
//! attribution to a tenant and product.
//!
//! Each native adapter (Kong, Apigee, Azure API Management, MuleSoft) and the
//! generic ingest formats turn a gateway's record into a [`GatewayRequest`].
//! [`attribute`] then resolves it through the catalog into the same
//! [`MeteringRecord`] the log decoder produces, so usage of every gateway lands
//! in the same aggregates.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{find_route, CatalogStore, Integration};
use crate::event::{
    validate_event_time, MeteringEvent, MAX_METRIC_VALUE, MeteringRecord, UnattributedEvent, UnattributedReason, METRIC_LATENCY_MS,
    METRIC_REQUESTS, METRIC_RESPONSE_BYTES,
};
use crate::keys::idempotency_key;
use crate::store::StoreError;

/// One request as a gateway reports it, before catalog resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayRequest {
    /// The gateway's own request id; with the integration id it forms the idempotency key.
    pub correlation_id: String,
    /// `X-Tenant-Id` as the gateway saw it; `None` when absent or empty.
    pub tenant_id: Option<String>,
    /// HTTP method in upper case.
    pub method: String,
    /// Route template when the gateway reports one (`/pets/{petId}`), else the request path.
    pub path: String,
    /// HTTP status returned to the client.
    pub status: u16,
    /// Response body size in bytes, when reported.
    pub response_bytes: Option<u64>,
    /// Total latency in milliseconds, when reported.
    pub latency_ms: Option<u64>,
    /// When the gateway received the request (UTC).
    pub timestamp: DateTime<Utc>,
}

impl GatewayRequest {
    /// Checks the time and metrics against the bounds every metering record
    /// must meet ([`MeteringRecord::validate`]), so a request that ingest
    /// would drop is rejected before anyone reports it accepted.
    pub fn validate(&self) -> Result<(), String> {
        validate_event_time("timestamp", self.timestamp)?;

        for (field, value) in [("response_bytes", self.response_bytes), ("latency_ms", self.latency_ms)] {
            if value.is_some_and(|value| value > MAX_METRIC_VALUE) {
                return Err(format!("{field} exceeds the maximum of {MAX_METRIC_VALUE}"));
            }
        }
        Ok(())
    }

    /// Metrics of the request: one request plus the reported sizes and latency.
    pub fn metrics(&self) -> BTreeMap<String, u64> {
        let mut metrics = BTreeMap::from([(METRIC_REQUESTS.to_owned(), 1)]);
        if let Some(bytes) = self.response_bytes {
            metrics.insert(METRIC_RESPONSE_BYTES.to_owned(), bytes);
        }
        if let Some(latency) = self.latency_ms {
            metrics.insert(METRIC_LATENCY_MS.to_owned(), latency);
        }
        metrics
    }
}

/// Resolves a request of `integration` into billable or unattributed usage.
///
/// The idempotency key is derived from the integration id and the request's
/// correlation id, so a client cannot collide with another integration's keys.
pub async fn attribute<C: CatalogStore>(
    catalog: &C,
    integration: &Integration,
    request: &GatewayRequest,
) -> Result<MeteringRecord, StoreError> {
    let key = idempotency_key(&integration.id, &request.correlation_id);

    let unattributed = |reason: UnattributedReason| {
        MeteringRecord::Unattributed(UnattributedEvent {
            idempotency_key: key.clone(),
            source: integration.id.clone(),
            correlation_id: request.correlation_id.clone(),
            reason,
            tenant_id: request.tenant_id.clone(),
            route: Some(request.path.clone()),
            method: Some(request.method.clone()),
            status: Some(request.status),
            timestamp: request.timestamp,
            metrics: request.metrics(),
        })
    };

    let Some(tenant_id) = &request.tenant_id else {
        return Ok(unattributed(UnattributedReason::MissingTenant));
    };
    if catalog.tenant(tenant_id).await?.is_none() {
        return Ok(unattributed(UnattributedReason::UnknownTenant));
    }

    let routes = catalog.routes(&integration.id).await?;
    let Some(route) = find_route(&routes, &request.method, &request.path) else {
        return Ok(unattributed(UnattributedReason::UnknownRoute));
    };

    Ok(MeteringRecord::Usage(MeteringEvent {
        idempotency_key: key,
        source: integration.id.clone(),
        correlation_id: request.correlation_id.clone(),
        tenant_id: tenant_id.clone(),
        product_id: route.product_id.clone(),
        route: route.route.resource_path.clone(),
        method: request.method.clone(),
        status: request.status,
        timestamp: request.timestamp,
        metrics: request.metrics(),
    }))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn request() -> GatewayRequest {
        GatewayRequest {
            correlation_id: "req-1".to_owned(),
            tenant_id: Some("acme".to_owned()),
            method: "GET".to_owned(),
            path: "/pets".to_owned(),
            status: 200,
            response_bytes: Some(512),
            latency_ms: Some(35),
            timestamp: Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap(),
        }
    }

    #[test]
    fn validate_accepts_normal_request() {
        assert_eq!(request().validate(), Ok(()));
    }

    #[test]
    fn validate_rejects_time_before_2000() {
        let old = GatewayRequest {
            timestamp: Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
            ..request()
        };
        assert!(old.validate().unwrap_err().contains("timestamp"));
    }

    #[test]
    fn validate_rejects_oversize_metrics() {
        let bytes = GatewayRequest {
            response_bytes: Some(MAX_METRIC_VALUE + 1),
            ..request()
        };
        let latency = GatewayRequest {
            latency_ms: Some(u64::MAX),
            ..request()
        };
        assert!(bytes.validate().unwrap_err().contains("response_bytes"));
        assert!(latency.validate().unwrap_err().contains("latency_ms"));
    }
}
