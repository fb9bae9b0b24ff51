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
    MeteringEvent, MeteringRecord, UnattributedEvent, UnattributedReason, METRIC_LATENCY_MS,
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
    /// Route template when the gateway knows it (`/pets/{petId}`), else the request path.
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
