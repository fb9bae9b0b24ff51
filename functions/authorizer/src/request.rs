//! Authorizer events: which of the four formats an event is, and the parts of
//! it that the decision needs.
//!
//! `TOKEN` events are read with `aws_lambda_events`. The three `REQUEST`
//! formats are read into the lenient structs below, because the
//! `aws_lambda_events` 1.2.1 types do not fit them. Those types keep only the
//! last of two spellings of a header, so a conflict goes unseen. In HTTP API
//! payloads they reject null `headers` and an absent `requestContext.identity`
//! or `requestContext.http`. They also drop `requestTimeEpoch` and the 1.0
//! `timeEpoch`. Here every optional map or context part may be null or absent.

use std::collections::HashMap;

use aforo::route::{ApiStage, MethodArn, RouteKey};
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::headers::{self, HeaderError, Headers, MultiValueHeaders};

/// Header that names the tenant.
pub const TENANT_HEADER: &str = "X-Tenant-Id";

/// Header that carries the API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The event formats API Gateway sends to a Lambda authorizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// REST API `TOKEN` authorizer.
    RestToken,
    /// REST API `REQUEST` authorizer.
    RestRequest,
    /// HTTP API authorizer, payload format 1.0.
    HttpV1,
    /// HTTP API authorizer, payload format 2.0.
    HttpV2,
}

impl PayloadFormat {
    /// Detects the format from `version` (`2.0`, `1.0`; REST events have none)
    /// and then `type`; `None` for an event of any other shape.
    pub fn detect(event: &Value) -> Option<Self> {
        let version = event.get("version").filter(|version| !version.is_null());
        let kind = event.get("type").and_then(Value::as_str);

        match (version.map(Value::as_str), kind) {
            (Some(Some("2.0")), _) => Some(PayloadFormat::HttpV2),
            (Some(Some("1.0")), _) => Some(PayloadFormat::HttpV1),
            (None, Some("TOKEN")) => Some(PayloadFormat::RestToken),
            (None, Some("REQUEST")) => Some(PayloadFormat::RestRequest),
            _ => None,
        }
    }

    /// Checks whether the event comes from an HTTP API.
    pub fn is_http_api(self) -> bool {
        matches!(self, PayloadFormat::HttpV1 | PayloadFormat::HttpV2)
    }
}

/// Credentials the caller sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A `TOKEN` event: the API key alone; the tenant is the key's owner.
    Token {
        /// The API key.
        api_key: String,
    },
    /// A `REQUEST` event: the tenant and API key headers.
    Headers {
        /// Value of `X-Tenant-Id`.
        tenant_id: String,
        /// Value of `x-api-key`.
        api_key: String,
    },
}

/// Problem with the caller's credentials, found before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsError {
    /// No `X-Tenant-Id` header.
    MissingTenant,
    /// No `x-api-key` header or an empty token.
    MissingApiKey,
    /// The tenant header is ambiguous.
    InvalidTenantHeader(HeaderError),
    /// The API key header is ambiguous.
    InvalidApiKeyHeader(HeaderError),
}

/// Method and path of the request. The path is a resource template
/// (`/pets/{petId}`) or a concrete path (`/pets/42`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTarget {
    /// HTTP method.
    pub method: String,
    /// Resource template or request path.
    pub path: String,
}

impl RouteTarget {
    fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
        }
    }
}

impl std::fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// The parts of an authorizer event that the decision uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerRequest {
    /// Event format, which also fixes the response form.
    pub format: PayloadFormat,
    /// The caller's credentials, or why they are unusable.
    pub credentials: Result<Credentials, CredentialsError>,
    /// The method or route ARN of this call, as sent.
    pub method_arn: String,
    /// API and stage parsed from the ARN.
    pub api: ApiStage,
    /// Method and path of this call.
    pub target: RouteTarget,
    /// Time API Gateway received the request, when the event carries it.
    pub request_time: Option<DateTime<Utc>>,
}

impl AuthorizerRequest {
    /// Returns the tenant named in `X-Tenant-Id`, which is not yet verified.
    pub fn claimed_tenant(&self) -> Option<&str> {
        match &self.credentials {
            Ok(Credentials::Headers { tenant_id, .. }) => Some(tenant_id),
            _ => None,
        }
    }
}

/// The event does not have the shape of its format: no valid method or route
/// ARN, or a field of the wrong type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedEvent;

impl AuthorizerRequest {
    /// Reads an event of a known `format`.
    pub fn parse(format: PayloadFormat, event: Value) -> Result<Self, MalformedEvent> {
        match format {
            PayloadFormat::RestToken => parse_token(event),
            _ => {
                let event: RequestEvent = serde_json::from_value(event).map_err(|_| MalformedEvent)?;
                parse_request(format, event)
            }
        }
    }
}

/// The method or route ARN of an event, read without parsing the rest, so a
/// malformed HTTP API event can still be denied on its own route.
pub fn raw_method_arn(event: &Value) -> Option<String> {
    ["methodArn", "routeArn"]
        .iter()
        .find_map(|name| event.get(*name).and_then(Value::as_str))
        .map(str::to_owned)
}

fn parse_token(event: Value) -> Result<AuthorizerRequest, MalformedEvent> {
    let event: ApiGatewayCustomAuthorizerRequest = serde_json::from_value(event).map_err(|_| MalformedEvent)?;
    let method_arn = event.method_arn.ok_or(MalformedEvent)?;
    let arn = MethodArn::parse(&method_arn).ok_or(MalformedEvent)?;

    let api_key = event
        .authorization_token
        .as_deref()
        .map(strip_bearer)
        .filter(|token| !token.is_empty());
    let credentials = match api_key {
        Some(api_key) => Ok(Credentials::Token {
            api_key: api_key.to_owned(),
        }),
        None => Err(CredentialsError::MissingApiKey),
    };

    Ok(AuthorizerRequest {
        format: PayloadFormat::RestToken,
        credentials,
        target: RouteTarget::new(&arn.method, &arn.path),
        api: arn.api,
        method_arn,
        // TOKEN events carry no request time, so the clock decides.
        request_time: None,
    })
}

/// Removes an optional `Bearer` scheme (any case) and surrounding whitespace.
fn strip_bearer(token: &str) -> &str {
    let token = token.trim();
    let Some((scheme, rest)) = token.split_at_checked(6) else {
        return token;
    };
    let separated = rest.chars().next().is_none_or(char::is_whitespace);
    if scheme.eq_ignore_ascii_case("bearer") && separated {
        rest.trim()
    } else {
        token
    }
}

fn parse_request(format: PayloadFormat, event: RequestEvent) -> Result<AuthorizerRequest, MalformedEvent> {
    let method_arn = match format {
        PayloadFormat::HttpV2 => event.route_arn.clone().or_else(|| event.method_arn.clone()),
        _ => event.method_arn.clone(),
    }
    .ok_or(MalformedEvent)?;
    let arn = MethodArn::parse(&method_arn).ok_or(MalformedEvent)?;

    let target = match format {
        PayloadFormat::HttpV2 => http_v2_target(&event),
        PayloadFormat::HttpV1 => http_v1_target(&event),
        _ => rest_target(&event),
    }
    .unwrap_or_else(|| RouteTarget::new(&arn.method, &arn.path));

    let context = &event.request_context;
    let request_time = context
        .request_time_epoch
        .as_ref()
        .or(context.time_epoch.as_ref())
        .and_then(epoch_millis);

    Ok(AuthorizerRequest {
        format,
        credentials: header_credentials(&event.headers, &event.multi_value_headers),
        target,
        api: arn.api,
        method_arn,
        request_time,
    })
}

fn header_credentials(
    headers: &Headers,
    multi_value_headers: &MultiValueHeaders,
) -> Result<Credentials, CredentialsError> {
    let tenant_id = headers::single_value(headers, multi_value_headers, TENANT_HEADER)
        .map_err(CredentialsError::InvalidTenantHeader)?
        .ok_or(CredentialsError::MissingTenant)?;
    let api_key = headers::single_value(headers, multi_value_headers, API_KEY_HEADER)
        .map_err(CredentialsError::InvalidApiKeyHeader)?
        .ok_or(CredentialsError::MissingApiKey)?;
    Ok(Credentials::Headers { tenant_id, api_key })
}

/// REST: `httpMethod` and the `resource` template.
fn rest_target(event: &RequestEvent) -> Option<RouteTarget> {
    let context = &event.request_context;
    let method = event.http_method.as_deref().or(context.http_method.as_deref())?;
    let resource = event.resource.as_deref().or(context.resource_path.as_deref())?;
    Some(RouteTarget::new(method, resource))
}

/// HTTP API 1.0: `httpMethod` and `resource`, else the route key, else the
/// request path for the `$default` route.
fn http_v1_target(event: &RequestEvent) -> Option<RouteTarget> {
    let context = &event.request_context;
    let method = event
        .http_method
        .as_deref()
        .or(context.http_method.as_deref())
        .or(context.http.method.as_deref());

    if let (Some(method), Some(resource)) = (method, event.resource.as_deref()) {
        if resource != "$default" {
            return Some(RouteTarget::new(method, resource));
        }
    }
    if let Some(route) = context.route_key.as_deref().and_then(parse_route_key) {
        return Some(route);
    }

    let path = event
        .path
        .as_deref()
        .or(context.path.as_deref())
        .or(context.http.path.as_deref())?;
    Some(RouteTarget::new(method?, path))
}

/// HTTP API 2.0: `routeKey`; for `$default`, the request's method and raw path.
fn http_v2_target(event: &RequestEvent) -> Option<RouteTarget> {
    let context = &event.request_context;
    let route_key = event.route_key.as_deref().or(context.route_key.as_deref());
    if let Some(route) = route_key.and_then(parse_route_key) {
        return Some(route);
    }

    let method = context.http.method.as_deref()?;
    let path = event.raw_path.as_deref().or(context.http.path.as_deref())?;
    Some(RouteTarget::new(method, path))
}

/// Parses `GET /pets/{petId}`; `None` for `$default` and anything else.
fn parse_route_key(route_key: &str) -> Option<RouteTarget> {
    let route = RouteKey::from_route_key(route_key)?;
    (route.resource_path != "$default").then(|| RouteTarget::new(&route.method, &route.resource_path))
}

/// Milliseconds since the epoch, as a JSON number or a numeric string.
fn epoch_millis(value: &Value) -> Option<DateTime<Utc>> {
    let millis = match value {
        Value::Number(number) => number.as_i64()?,
        Value::String(text) => text.trim().parse().ok()?,
        _ => return None,
    };
    (millis > 0).then(|| DateTime::from_timestamp_millis(millis)).flatten()
}

/// Deserializes null as the type's default, so `"headers": null` reads as no headers.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The fields of the three `REQUEST` formats that the authorizer reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestEvent {
    #[serde(default)]
    method_arn: Option<String>,
    #[serde(default)]
    route_arn: Option<String>,
    #[serde(default)]
    route_key: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    raw_path: Option<String>,
    #[serde(default)]
    http_method: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    headers: HashMap<String, Option<String>>,
    #[serde(default, deserialize_with = "null_as_default")]
    multi_value_headers: HashMap<String, Option<Vec<String>>>,
    #[serde(default, deserialize_with = "null_as_default")]
    request_context: RequestContext,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext {
    #[serde(default)]
    http_method: Option<String>,
    #[serde(default)]
    resource_path: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    route_key: Option<String>,
    /// REST APIs: milliseconds since the epoch.
    #[serde(default)]
    request_time_epoch: Option<Value>,
    /// HTTP APIs: milliseconds since the epoch.
    #[serde(default)]
    time_epoch: Option<Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    http: HttpContext,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpContext {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    path: Option<String>,
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
