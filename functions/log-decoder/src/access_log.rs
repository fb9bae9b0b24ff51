//! Parses one API Gateway access-log line in the template's JSON format.
//!
//! Every value arrives as a quoted string. API Gateway prints `-` for a value
//! it does not have, so such a value is absent here: never `0` and never a
//! tenant named `-`. REST API lines carry `resourcePath` and
//! `extendedRequestId`, while HTTP API lines carry `routeKey` instead.
//!
//! Fields that end up in metering records or catalog keys are bounded here
//! with the limits of [`MeteringRecord::validate`](aforo::event::MeteringRecord::validate),
//! so that the records the decoder builds stay small and pass ingest's
//! checks. A line with an oversize field is rejected.

use std::borrow::Cow;
use std::collections::BTreeMap;

use aforo::event::{
    validate_event_time, validate_id, validate_length, RejectReason, MAX_CORRELATION_ID_BYTES, MAX_ID_BYTES,
    MAX_METHOD_BYTES, MAX_METRIC_VALUE, MAX_ROUTE_BYTES, METRIC_LATENCY_MS, METRIC_REQUESTS,
    METRIC_RESPONSE_BYTES,
};
use aforo::route::RouteKey;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// `$context.requestTime` format, such as `09/Jun/2023:12:54:08 +0000`.
const CLF_TIME_FORMAT: &str = "%d/%b/%Y:%H:%M:%S %z";

/// Maximum length of a parsed line in bytes, the 256 KiB maximum size of a
/// CloudWatch Logs event. A longer line is rejected without parsing it.
pub const MAX_LINE_BYTES: usize = 262_144;

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
    /// Optional metric fields, such as `responseLength`, whose value was
    /// invalid and left out of `metrics`. The request is still billed.
    pub invalid_metrics: Vec<&'static str>,
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
    if message.len() > MAX_LINE_BYTES {
        let detail = format!("line is {} bytes, over the {MAX_LINE_BYTES}-byte limit", message.len());
        return Err(rejection(RejectReason::NotAccessLog, &detail, None));
    }

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

    // An oversize apiId is left out, because it would be a catalog key.
    let api_id = text(&fields, "apiId")
        .ok()
        .flatten()
        .filter(|api_id| api_id.len() <= MAX_ID_BYTES)
        .map(Cow::into_owned);
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
    let method = bounded(fields, "httpMethod", MAX_METHOD_BYTES)?.map(Cow::into_owned).or(route_method);
    let api_id = owned(bounded(fields, "apiId", MAX_ID_BYTES)?);
    let tenant_id = tenant_id(fields)?;

    let mut metrics = BTreeMap::from([(METRIC_REQUESTS.to_owned(), 1)]);
    let mut invalid_metrics = Vec::new();
    if let Some(bytes) = metric(fields, "responseLength", &mut invalid_metrics) {
        metrics.insert(METRIC_RESPONSE_BYTES.to_owned(), bytes);
    }
    if let Some(latency) = metric(fields, "responseLatency", &mut invalid_metrics) {
        metrics.insert(METRIC_LATENCY_MS.to_owned(), latency);
    }

    Ok(AccessLogLine {
        kind,
        correlation_id,
        api_id,
        timestamp,
        method,
        route,
        status,
        tenant_id,
        error_response_type: owned(text(fields, "errorResponseType")?),
        metrics,
        invalid_metrics,
    })
}

fn correlation_id(fields: &Map<String, Value>, kind: ApiKind) -> Result<String, LineRejection> {
    let request_id = bounded(fields, "requestId", MAX_CORRELATION_ID_BYTES)?;
    let id = match kind {
        ApiKind::Http => request_id,
        // NOTE: clients can override requestId on REST APIs, so it is a weaker
        // key. It is used only for lines whose format lacks extendedRequestId.
        ApiKind::Rest => bounded(fields, "extendedRequestId", MAX_CORRELATION_ID_BYTES)?.or(request_id),
    };

    id.map(Cow::into_owned).ok_or_else(|| {
        rejection(
            RejectReason::MissingField,
            "line has no correlation id: requestId and extendedRequestId are missing or -",
            None,
        )
    })
}

/// Reads `requestTimeEpoch` (milliseconds), else `requestTime` (CLF with
/// offset). A time outside the years 2000 to 2099 is invalid.
fn request_time(fields: &Map<String, Value>) -> Result<DateTime<Utc>, LineRejection> {
    if let Some(epoch) = text(fields, "requestTimeEpoch")? {
        let time = epoch
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(|| invalid("requestTimeEpoch is not a time in milliseconds since the Unix epoch"))?;
        validate_event_time("requestTimeEpoch", time).map_err(|detail| invalid(&detail))?;
        return Ok(time);
    }

    if let Some(time) = text(fields, "requestTime")? {
        let time = DateTime::parse_from_str(&time, CLF_TIME_FORMAT)
            .map(|time| time.with_timezone(&Utc))
            .map_err(|_| invalid("requestTime is not in the format 09/Jun/2023:12:54:08 +0000"))?;
        validate_event_time("requestTime", time).map_err(|detail| invalid(&detail))?;
        return Ok(time);
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
        return Ok((owned(bounded(fields, "resourcePath", MAX_ROUTE_BYTES)?), None));
    }

    // The method, a space and the path.
    let max_route_key_bytes = MAX_METHOD_BYTES + 1 + MAX_ROUTE_BYTES;
    let Some(route_key) = bounded(fields, "routeKey", max_route_key_bytes)? else {
        return Ok((None, None));
    };
    let parsed = RouteKey::from_route_key(&route_key)
        .ok_or_else(|| invalid("routeKey is neither $default nor a method and a path, such as GET /pets"))?;
    validate_length("routeKey method", &parsed.method, 1, MAX_METHOD_BYTES).map_err(|detail| invalid(&detail))?;
    validate_length("routeKey path", &parsed.resource_path, 1, MAX_ROUTE_BYTES)
        .map_err(|detail| invalid(&detail))?;

    let method = (parsed.method != "ANY").then_some(parsed.method);
    Ok((Some(parsed.resource_path), method))
}

/// Reads `tenantId`, which becomes part of usage keys: at most
/// [`MAX_ID_BYTES`] bytes, without `#` and control characters.
fn tenant_id(fields: &Map<String, Value>) -> Result<Option<String>, LineRejection> {
    let Some(tenant_id) = text(fields, "tenantId")? else {
        return Ok(None);
    };
    validate_id("tenantId", &tenant_id).map_err(|detail| invalid(&detail))?;
    Ok(Some(tenant_id.into_owned()))
}

/// Reads an optional metric: a whole number from 0 to [`MAX_METRIC_VALUE`].
/// Any other value is left out and its field name added to `invalid`, so
/// that the request is still billed.
fn metric(fields: &Map<String, Value>, name: &'static str, invalid: &mut Vec<&'static str>) -> Option<u64> {
    let value = match text(fields, name) {
        Ok(Some(value)) => value,
        Ok(None) => return None,
        Err(_) => {
            invalid.push(name);
            return None;
        }
    };

    let number = value.parse::<u64>().ok().filter(|number| *number <= MAX_METRIC_VALUE);
    if number.is_none() {
        invalid.push(name);
    }
    number
}

/// Reads a field as [`text`] and rejects the line when the value is longer than `max_bytes`.
fn bounded<'a>(
    fields: &'a Map<String, Value>,
    name: &str,
    max_bytes: usize,
) -> Result<Option<Cow<'a, str>>, LineRejection> {
    let value = text(fields, name)?;
    if let Some(value) = &value {
        validate_length(name, value, 1, max_bytes).map_err(|detail| invalid(&detail))?;
    }
    Ok(value)
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
