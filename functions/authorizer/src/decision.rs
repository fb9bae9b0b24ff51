//! The authorizer's decision, independent of the response form.

use crate::request::CredentialsError;

/// Reason an identified tenant is denied, so API Gateway returns 403. The code
/// is sent as `reason` in the authorizer context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyReason {
    /// The tenant has no subscription to the product that owns the route.
    NotSubscribed,
    /// The subscription is suspended, cancelled, not started or ended.
    SubscriptionInactive,
    /// The plan's request quota for the current period is used up.
    QuotaExhausted,
    /// No catalog route of the API matches the request.
    UnknownRoute,
    /// The API id belongs to no integration in the catalog.
    UnknownApi,
    /// The tenant is suspended or cancelled.
    TenantSuspended,
    /// The API's integration is suspended or cancelled.
    IntegrationDisabled,
    /// The catalog or usage table could not be read.
    EntitlementUnavailable,
}

impl DenyReason {
    /// Code sent in the authorizer context and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::NotSubscribed => "not_subscribed",
            DenyReason::SubscriptionInactive => "subscription_inactive",
            DenyReason::QuotaExhausted => "quota_exhausted",
            DenyReason::UnknownRoute => "unknown_route",
            DenyReason::UnknownApi => "unknown_api",
            DenyReason::TenantSuspended => "tenant_suspended",
            DenyReason::IntegrationDisabled => "integration_disabled",
            DenyReason::EntitlementUnavailable => "entitlement_unavailable",
        }
    }
}

/// Reason a caller gets `Unauthorized`, recorded in logs only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The event is none of the four authorizer formats.
    UnknownEventShape,
    /// The event lacks a valid method or route ARN, or a field has the wrong type.
    MalformedEvent,
    /// The credentials are missing or ambiguous.
    Credentials(CredentialsError),
    /// No API key with this hash is in the catalog.
    UnknownApiKey,
    /// The API key is suspended or cancelled.
    InactiveApiKey,
    /// The API key belongs to a tenant other than `X-Tenant-Id`.
    ApiKeyOfOtherTenant,
    /// The key's tenant is not in the catalog.
    UnknownTenant,
}

impl Rejection {
    /// Code used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::UnknownEventShape => "unknown_event_shape",
            Rejection::MalformedEvent => "malformed_event",
            Rejection::Credentials(CredentialsError::MissingTenant) => "missing_tenant_id",
            Rejection::Credentials(CredentialsError::MissingApiKey) => "missing_api_key",
            Rejection::Credentials(CredentialsError::InvalidTenantHeader(_)) => "invalid_tenant_header",
            Rejection::Credentials(CredentialsError::InvalidApiKeyHeader(_)) => "invalid_api_key_header",
            Rejection::UnknownApiKey => "unknown_api_key",
            Rejection::InactiveApiKey => "inactive_api_key",
            Rejection::ApiKeyOfOtherTenant => "api_key_of_other_tenant",
            Rejection::UnknownTenant => "unknown_tenant",
        }
    }

    /// Returns what is wrong with an invalid header.
    pub fn header_problem(self) -> Option<&'static str> {
        match self {
            Rejection::Credentials(
                CredentialsError::InvalidTenantHeader(error) | CredentialsError::InvalidApiKeyHeader(error),
            ) => Some(error.as_str()),
            _ => None,
        }
    }
}

/// Context `reason` of an HTTP API deny that stands for `Unauthorized`.
pub const UNAUTHORIZED_REASON: &str = "unauthorized";

/// Principal id when no tenant has been verified.
pub const ANONYMOUS_PRINCIPAL: &str = "anonymous";

/// Outcome of one authorization, before it is put in the event's response form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Tenant whose API key was verified; only a verified tenant goes into the
    /// context, because the access log bills usage to it.
    pub tenant_id: Option<String>,
    /// Whether this call may proceed.
    pub authorized: bool,
    /// Context `reason`, on denies only.
    pub reason: Option<&'static str>,
    /// Method ARN patterns to allow.
    pub allow: Vec<String>,
    /// Method ARN patterns to deny.
    pub deny: Vec<String>,
    /// Whether the call was allowed without checking, because DynamoDB was unreachable.
    pub fail_open: bool,
}

impl Decision {
    /// Allows `allow`, which covers this call.
    pub fn allow(tenant_id: &str, allow: Vec<String>) -> Self {
        Self {
            tenant_id: Some(tenant_id.to_owned()),
            authorized: true,
            reason: None,
            allow,
            deny: Vec::new(),
            fail_open: false,
        }
    }

    /// Denies `method_arn` for `reason`, keeping `allow` for the tenant's other
    /// routes so a cached policy stays right for them.
    pub fn deny(tenant_id: Option<&str>, reason: &'static str, method_arn: &str, allow: Vec<String>) -> Self {
        Self {
            tenant_id: tenant_id.map(str::to_owned),
            authorized: false,
            reason: Some(reason),
            allow,
            deny: vec![method_arn.to_owned()],
            fail_open: false,
        }
    }

    /// Allows only `method_arn` without any check, because DynamoDB could not
    /// be reached and fail-open is configured.
    pub fn fail_open(tenant_id: Option<&str>, method_arn: &str) -> Self {
        Self {
            tenant_id: tenant_id.map(str::to_owned),
            authorized: true,
            reason: None,
            allow: vec![method_arn.to_owned()],
            deny: Vec::new(),
            fail_open: true,
        }
    }

    /// Returns the IAM principal id: the verified tenant, else a fixed placeholder.
    pub fn principal_id(&self) -> &str {
        self.tenant_id.as_deref().unwrap_or(ANONYMOUS_PRINCIPAL)
    }
}
