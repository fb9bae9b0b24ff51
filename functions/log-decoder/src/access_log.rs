//! Parses one API Gateway access-log line in the template's JSON format.
//!
//! Every value arrives as a quoted string. API Gateway prints `-` for a value
//! it does not have, so such a value is absent here: never `0` and never a
//! tenant named `-`. REST API lines carry `resourcePath` and
//! `extendedRequestId`, while HTTP API lines carry `routeKey` instead.

use std::borrow::Cow;
use std::collections::BTreeMap;

use aforo::event::{RejectReason, METRIC_LATENCY_MS, METRIC_REQUESTS, METRIC_RESPONSE_BYTES};
use aforo::route::RouteKey;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// `$context.requestTime` format, such as `09/Jun/2023:12:54:08 +0000`.
const CLF_TIME_FORMAT: &str = "%d/%b/%Y:%H:%M:%S %z";

/// The API flavour that wrote a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKind {
    /// REST API (`resourcePath`, `extendedRequestId`).
    Rest,
    /// HTTP API (`routeKey`).
    Http,
}

/// One access-log line, with `-` values already turned into `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogLine {
    /// API flavour that wrote the line.
    pub kind: ApiKind,
    /// `extendedRequestId` on REST lines (or `requestId` when absent),
    /// `requestId` on HTTP API lines.
    pub correlation_id: String,
    /// API Gateway API id (`apiId`).
    pub api_id: Option<String>,
    /// When the gateway received the request, in UTC.
    pub timestamp: DateTime<Utc>,
    /// HTTP method (`httpMethod`).
    pub method: Option<String>,
    /// Resource path template (`resourcePath`), the path of `routeKey`, or `$default`.
    pub route: Option<String>,
    /// HTTP status returned to the client.
    pub status: u16,
    /// Tenant id from the authorizer context (`tenantId`).
    pub tenant_id: Option<String>,
    /// Gateway error response type (`errorResponseType`), such as `UNAUTHORIZED`.
    pub error_response_type: Option<String>,
    /// `requests = 1`, plus `response_bytes` and `latency_ms` when logged.
    pub metrics: BTreeMap<String, u64>,
}

/// A line that is not a readable access-log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRejection {
    /// Reason the line was rejected.
    pub reason: RejectReason,
    /// The field and what was wrong with it; never the line's content.
    pub detail: String,
    /// `apiId` of the line, when it is JSON and has one, so the rejection is
    /// recorded under the integration.
    pub api_id: Option<String>,
}

/// Parses one log line.
pub fn parse_line(message: &str) -> Result<AccessLogLine, LineRejection> {
    let Ok(value) = serde_json::from_str::<Value>(message) else {
        return Err(rejection(RejectReason::NotJson, "line is not JSON", None));
    };
    let Value::Object(fields) = value else {
        return Err(rejection(
            RejectReason::NotAccessLog,
            "line is JSON but not an object",
            None,
        ));
    };

    let api_id = text(&fields, "apiId").ok().flatten().map(Cow::into_owned);
    parse_fields(&fields).map_err(|mut rejected| {
        rejected.api_id = api_id;
        rejected
    })
}

fn parse_fields(fields: &Map<String, Value>) -> Result<AccessLogLine, LineRejection> {
    let has_id = fields.contains_key("requestId") || fields.contains_key("extendedRequestId");
    if !has_id && !fields.contains_key("status") {
        return Err(rejection(
            RejectReason::NotAccessLog,
            "line has no requestId, extendedRequestId or status field",
            None,
        ));
    }

    let kind = if fields.contains_key("routeKey") {
        ApiKind::Http
    } else {
        ApiKind::Rest
    };
    let correlation_id = correlation_id(fields, kind)?;
    let timestamp = request_time(fields)?;
    let status = status(fields)?;
    let (route, route_method) = route(fields, kind)?;
    let method = text(fields, "httpMethod")?.map(Cow::into_owned).or(route_method);

    let mut metrics = BTreeMap::from([(METRIC_REQUESTS.to_owned(), 1)]);
    if let Some(bytes) = number(fields, "responseLength")? {
        metrics.insert(METRIC_RESPONSE_BYTES.to_owned(), bytes);
    }
    if let Some(latency) = number(fields, "responseLatency")? {
        metrics.insert(METRIC_LATENCY_MS.to_owned(), latency);
    }

    Ok(AccessLogLine {
        kind,
        correlation_id,
        api_id: owned(text(fields, "apiId")?),
        timestamp,
        method,
        route,
        status,
        tenant_id: owned(text(fields, "tenantId")?),
        error_response_type: owned(text(fields, "errorResponseType")?),
        metrics,
    })
}

fn correlation_id(fields: &Map<String, Value>, kind: ApiKind) -> Result<String, LineRejection> {
    let request_id = text(fields, "requestId")?;
    let id = match kind {
        ApiKind::Http => request_id,
        // NOTE: clients can override requestId on REST APIs, so it is a weaker
        // key. It is used only for lines whose format lacks extendedRequestId.
        ApiKind::Rest => text(fields, "extendedRequestId")?.or(request_id),
    };

    id.map(Cow::into_owned).ok_or_else(|| {
        rejection(
            RejectReason::MissingField,
            "line has no correlation id: requestId and extendedRequestId are missing or -",
            None,
        )
    })
}

/// Reads `requestTimeEpoch` (milliseconds), else `requestTime` (CLF with offset).
fn request_time(fields: &Map<String, Value>) -> Result<DateTime<Utc>, LineRejection> {
    if let Some(epoch) = text(fields, "requestTimeEpoch")? {
        return epoch
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(|| invalid("requestTimeEpoch is not a time in milliseconds since the Unix epoch"));
    }

    if let Some(time) = text(fields, "requestTime")? {
        return DateTime::parse_from_str(&time, CLF_TIME_FORMAT)
            .map(|time| time.with_timezone(&Utc))
            .map_err(|_| invalid("requestTime is not in the format 09/Jun/2023:12:54:08 +0000"));
    }

    Err(rejection(
        RejectReason::MissingField,
        "line has no request time: requestTimeEpoch and requestTime are missing or -",
        None,
    ))
}

fn status(fields: &Map<String, Value>) -> Result<u16, LineRejection> {
    let Some(status) = text(fields, "status")? else {
        return Err(rejection(
            RejectReason::MissingField,
            "status is missing or -",
            None,
        ));
    };
    status
        .parse::<u16>()
        .ok()
        .filter(|code| (100..=599).contains(code))
        .ok_or_else(|| invalid("status is not an HTTP status code between 100 and 599"))
}

/// Reads the route template and, on HTTP API lines, the method named in `routeKey`.
fn route(
    fields: &Map<String, Value>,
    kind: ApiKind,
) -> Result<(Option<String>, Option<String>), LineRejection> {
    if kind == ApiKind::Rest {
        return Ok((owned(text(fields, "resourcePath")?), None));
    }

    let Some(route_key) = text(fields, "routeKey")? else {
        return Ok((None, None));
    };
    let parsed = RouteKey::from_route_key(&route_key)
        .ok_or_else(|| invalid("routeKey is neither $default nor a method and a path, such as GET /pets"))?;
    let method = (parsed.method != "ANY").then_some(parsed.method);
    Ok((Some(parsed.resource_path), method))
}

fn number(fields: &Map<String, Value>, name: &str) -> Result<Option<u64>, LineRejection> {
    let Some(value) = text(fields, name)? else {
        return Ok(None);
    };
    value
        .parse::<u64>()
        .map(Some)
        .map_err(|_| invalid(&format!("{name} is not a whole non-negative number")))
}

/// Reads a field as text: a string, or a number as written. A missing field,
/// `null`, an empty string and `-` are all absent.
fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<Option<Cow<'a, str>>, LineRejection> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => {
            let value = value.trim();
            Ok((!value.is_empty() && value != "-").then_some(Cow::Borrowed(value)))
        }
        Some(Value::Number(value)) => Ok(Some(Cow::Owned(value.to_string()))),
        Some(_) => Err(invalid(&format!("{name} is neither a string nor a number"))),
    }
}

fn owned(value: Option<Cow<'_, str>>) -> Option<String> {
    value.map(Cow::into_owned)
}

fn invalid(detail: &str) -> LineRejection {
    rejection(RejectReason::InvalidField, detail, None)
}

fn rejection(reason: RejectReason, detail: &str, api_id: Option<String>) -> LineRejection {
    LineRejection {
        reason,
        detail: detail.to_owned(),
        api_id,
    }
}

#[cfg(test)]
#[path = "access_log_tests.rs"]
mod tests;
