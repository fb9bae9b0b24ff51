//! Field readers shared by the native adapters.
//!
//! Each reader takes the field's name as the record spells it, so a rejected
//! record's reason names the field that failed. JSON `null` counts as absent.
//! Numeric fields accept a JSON number or a string of digits, because gateways
//! that fill a template from their own variables often send numbers as text.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

/// Maximum length of a correlation id, the same bound as the generic ingest format.
pub(super) const MAX_CORRELATION_ID_CHARS: usize = 256;

/// How many characters of an invalid value a rejection reason quotes.
const EXCERPT_CHARS: usize = 40;

/// Returns the value at a path of object keys, or `None` when a step is
/// missing, not an object, or `null`.
pub(super) fn lookup<'a>(record: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut value = record.get(*first)?;
    for key in rest {
        value = value.as_object()?.get(*key)?;
    }
    (!value.is_null()).then_some(value)
}

/// Reads a required, non-empty string.
pub(super) fn required_str<'a>(value: Option<&'a Value>, name: &str) -> Result<&'a str, String> {
    match value {
        None => Err(format!("{name} is missing")),
        Some(Value::String(text)) if text.trim().is_empty() => Err(format!("{name} is empty")),
        Some(Value::String(text)) => Ok(text.trim()),
        Some(other) => Err(format!("{name} must be a string, got {}", excerpt(other))),
    }
}

/// Reads an optional string. Empty text counts as absent.
pub(super) fn optional_str<'a>(value: Option<&'a Value>, name: &str) -> Result<Option<&'a str>, String> {
    match value {
        None => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim())),
        Some(other) => Err(format!("{name} must be a string, got {}", excerpt(other))),
    }
}

/// Checks a gateway request id: 1 to 256 characters after trimming.
pub(super) fn correlation_id(id: &str, name: &str) -> Result<String, String> {
    let id = id.trim();
    let chars = id.chars().count();
    if chars == 0 {
        return Err(format!("{name} is empty"));
    }
    if chars > MAX_CORRELATION_ID_CHARS {
        return Err(format!(
            "{name} has {chars} characters; the maximum is {MAX_CORRELATION_ID_CHARS}"
        ));
    }
    Ok(id.to_owned())
}

/// Reads an HTTP method (an RFC 9110 token) and upper-cases it.
pub(super) fn method(value: Option<&Value>, name: &str) -> Result<String, String> {
    let method = required_str(value, name)?;
    let is_token = method
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte));
    if !is_token {
        return Err(format!("{name} is not an HTTP method: {}", quote(method)));
    }
    Ok(method.to_ascii_uppercase())
}

/// Reads an HTTP status code from 100 to 599.
pub(super) fn status(value: Option<&Value>, name: &str) -> Result<u16, String> {
    let Some(value) = value else {
        return Err(format!("{name} is missing"));
    };
    let code = integer(value).and_then(|code| u16::try_from(code).ok());
    match code {
        Some(code) if (100..=599).contains(&code) => Ok(code),
        _ => Err(format!(
            "{name} must be an integer from 100 to 599, got {}",
            excerpt(value)
        )),
    }
}

/// Reads an optional non-negative count such as a byte size or a latency in
/// milliseconds. Fractions are rounded to the nearest integer. Absent, empty
/// and `"-"` values give `None`.
pub(super) fn optional_count(value: Option<&Value>, name: &str) -> Result<Option<u64>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    if let Value::String(text) = value {
        let text = text.trim();
        if text.is_empty() || text == "-" {
            return Ok(None);
        }
    }
    match number(value) {
        Some(count) if count >= 0.0 && count.is_finite() => Ok(Some(count.round() as u64)),
        _ => Err(format!("{name} must be a non-negative number, got {}", excerpt(value))),
    }
}

/// Reads a required Unix time in milliseconds. Fractions of a millisecond are
/// dropped.
pub(super) fn epoch_millis(value: Option<&Value>, name: &str) -> Result<DateTime<Utc>, String> {
    let Some(value) = value else {
        return Err(format!("{name} is missing"));
    };
    number(value)
        .filter(|millis| millis.is_finite())
        .and_then(|millis| DateTime::from_timestamp_millis(millis.floor() as i64))
        .ok_or_else(|| format!("{name} must be a Unix time in milliseconds, got {}", excerpt(value)))
}

/// Reads a required RFC 3339 date-time and converts it to UTC. With
/// `naive_is_utc`, a date-time without an offset is read as UTC, for gateways
/// whose clock value is documented as UTC but printed without a zone.
pub(super) fn rfc3339_utc(value: Option<&Value>, name: &str, naive_is_utc: bool) -> Result<DateTime<Utc>, String> {
    let text = required_str(value, name)?;
    if let Ok(timestamp) = DateTime::parse_from_rfc3339(text) {
        return Ok(timestamp.with_timezone(&Utc));
    }
    if naive_is_utc {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
            return Ok(naive.and_utc());
        }
    }
    Err(format!("{name} must be an RFC 3339 date-time, got {}", quote(text)))
}

/// Reads a request path, dropping the query string and fragment.
pub(super) fn path(raw: &str, name: &str) -> Result<String, String> {
    let end = raw.find(['?', '#']).unwrap_or(raw.len());
    let path = raw[..end].trim();
    if !path.starts_with('/') {
        return Err(format!("{name} must be a path starting with /, got {}", quote(raw)));
    }
    Ok(path.to_owned())
}

/// Resolves the tenant from the values of the `X-Tenant-Id` header.
///
/// Empty values and `"-"` mean absent. More than one value, or one value that
/// joins several with commas (as gateways do for a repeated header), rejects
/// the record because billing it to either tenant would be a guess.
pub(super) fn tenant<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Option<String>, String> {
    let present: Vec<&str> = values
        .into_iter()
        .map(str::trim)
        .filter(|value| !value.is_empty() && *value != "-")
        .collect();

    match present.as_slice() {
        [] => Ok(None),
        [single] if !single.contains(',') => Ok(Some((*single).to_owned())),
        _ => Err(format!(
            "X-Tenant-Id carries several values ({}); send exactly one tenant id per request",
            quote(&present.join(", "))
        )),
    }
}

/// Values of a header that a gateway logs as a string or an array of strings.
pub(super) fn header_values(value: &Value) -> Vec<&str> {
    match value {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Names a JSON value's type, for shape errors.
pub(super) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads an integer from a JSON integer or a string of digits.
fn integer(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a number from a JSON number or a numeric string.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// Shortens a JSON value for a rejection reason.
fn excerpt(value: &Value) -> String {
    match value {
        Value::String(text) => quote(text),
        other => shorten(&other.to_string()),
    }
}

/// Quotes and shortens a string for a rejection reason.
fn quote(text: &str) -> String {
    shorten(&format!("{text:?}"))
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= EXCERPT_CHARS {
        return text.to_owned();
    }
    let head: String = text.chars().take(EXCERPT_CHARS).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn tenant_single_value_kept() {
        assert_eq!(tenant(["acme"]), Ok(Some("acme".to_owned())));
    }

    #[test]
    fn tenant_value_trimmed() {
        assert_eq!(tenant([" acme "]), Ok(Some("acme".to_owned())));
    }

    #[test]
    fn tenant_dash_is_absent() {
        assert_eq!(tenant(["-"]), Ok(None));
    }

    #[test]
    fn tenant_empty_is_absent() {
        assert_eq!(tenant([""]), Ok(None));
    }

    #[test]
    fn tenant_no_values_is_absent() {
        assert_eq!(tenant([]), Ok(None));
    }

    #[test]
    fn tenant_comma_joined_rejected() {
        let reason = tenant(["acme,globex"]).unwrap_err();
        assert!(reason.contains("X-Tenant-Id"), "{reason}");
        assert!(reason.contains("acme,globex"), "{reason}");
    }

    #[test]
    fn tenant_two_values_rejected() {
        let reason = tenant(["acme", "globex"]).unwrap_err();
        assert!(reason.contains("acme, globex"), "{reason}");
    }

    #[test]
    fn tenant_repeated_same_value_rejected() {
        assert!(tenant(["acme", "acme"]).is_err());
    }

    #[test]
    fn tenant_dash_beside_value_ignored() {
        assert_eq!(tenant(["-", "acme"]), Ok(Some("acme".to_owned())));
    }

    #[test]
    fn path_query_and_fragment_dropped() {
        assert_eq!(path("/pets/42?expand=owner#top", "uri"), Ok("/pets/42".to_owned()));
    }

    #[test]
    fn path_without_slash_rejected() {
        let reason = path("pets/42", "uri").unwrap_err();
        assert!(reason.starts_with("uri must be a path"), "{reason}");
    }

    #[test]
    fn status_bounds_checked() {
        assert_eq!(status(Some(&json!(100)), "status"), Ok(100));
        assert_eq!(status(Some(&json!(599)), "status"), Ok(599));
        assert!(status(Some(&json!(99)), "status").is_err());
        assert!(status(Some(&json!(600)), "status").is_err());
    }

    #[test]
    fn status_digit_string_accepted() {
        assert_eq!(status(Some(&json!("204")), "status"), Ok(204));
    }

    #[test]
    fn status_fraction_rejected() {
        let reason = status(Some(&json!(200.5)), "response.status").unwrap_err();
        assert_eq!(reason, "response.status must be an integer from 100 to 599, got 200.5");
    }

    #[test]
    fn status_missing_named() {
        assert_eq!(status(None, "statusCode"), Err("statusCode is missing".to_owned()));
    }

    #[test]
    fn count_absent_forms_are_none() {
        assert_eq!(optional_count(None, "size"), Ok(None));
        assert_eq!(optional_count(Some(&json!("")), "size"), Ok(None));
        assert_eq!(optional_count(Some(&json!("-")), "size"), Ok(None));
    }

    #[test]
    fn count_fraction_rounded() {
        assert_eq!(optional_count(Some(&json!(35.62)), "elapsed_ms"), Ok(Some(36)));
    }

    #[test]
    fn count_digit_string_accepted() {
        assert_eq!(optional_count(Some(&json!("512")), "content_length"), Ok(Some(512)));
    }

    #[test]
    fn count_negative_rejected() {
        assert!(optional_count(Some(&json!(-1)), "latency").is_err());
    }

    #[test]
    fn count_text_rejected() {
        let reason = optional_count(Some(&json!("lots")), "size").unwrap_err();
        assert_eq!(reason, "size must be a non-negative number, got \"lots\"");
    }

    #[test]
    fn epoch_millis_float_floored() {
        let expected = Utc.timestamp_millis_opt(1_726_783_839_538).single();
        assert_eq!(
            epoch_millis(Some(&json!(1_726_783_839_538.7)), "started_at").ok(),
            expected
        );
    }

    #[test]
    fn epoch_millis_text_rejected() {
        assert!(epoch_millis(Some(&json!("yesterday")), "started_at").is_err());
    }

    #[test]
    fn rfc3339_offset_converted_to_utc() {
        let expected = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).single();
        assert_eq!(
            rfc3339_utc(Some(&json!("2026-12-01T10:00:00+01:00")), "timestamp", false).ok(),
            expected
        );
    }

    #[test]
    fn rfc3339_naive_read_as_utc_when_allowed() {
        let expected = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).single();
        assert_eq!(
            rfc3339_utc(Some(&json!("2026-12-01T10:00:00.0000000")), "timestamp", true).ok(),
            expected
        );
    }

    #[test]
    fn rfc3339_naive_rejected_by_default() {
        assert!(rfc3339_utc(Some(&json!("2026-12-01T10:00:00")), "timestamp", false).is_err());
    }

    #[test]
    fn correlation_id_too_long_rejected() {
        let id = "x".repeat(MAX_CORRELATION_ID_CHARS + 1);
        assert!(correlation_id(&id, "messageid").is_err());
    }

    #[test]
    fn method_upper_cased() {
        assert_eq!(method(Some(&json!("get")), "method"), Ok("GET".to_owned()));
    }

    #[test]
    fn method_with_space_rejected() {
        assert!(method(Some(&json!("GET /pets")), "method").is_err());
    }

    #[test]
    fn lookup_null_is_absent() {
        let record = json!({"request": {"id": null}});
        let record = record.as_object().cloned().unwrap_or_default();
        assert_eq!(lookup(&record, &["request", "id"]), None);
    }

    #[test]
    fn excerpt_long_value_shortened() {
        let long = "a".repeat(100);
        let reason = required_str(Some(&json!([long])), "verb").unwrap_err();
        assert!(reason.ends_with('…'), "{reason}");
    }
}
