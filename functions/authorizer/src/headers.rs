//! Reading one identity header from an authorizer event.
//!
//! Header names are matched case-insensitively because HTTP APIs lower-case
//! them and clients spell them freely. A header whose value is ambiguous is
//! rejected rather than guessed at: a second value in `multiValueHeaders`, two
//! spellings with different values, or a comma, which is how HTTP APIs join a
//! repeated header into one value.

use std::collections::HashMap;

/// Single-value headers of an event (`headers`); a null value counts as absent.
pub type Headers = HashMap<String, Option<String>>;

/// Multi-value headers of a REST event (`multiValueHeaders`).
pub type MultiValueHeaders = HashMap<String, Option<Vec<String>>>;

/// Problem that makes a header value unusable for identifying the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// The header was sent more than once (`multiValueHeaders` lists several values).
    Repeated,
    /// Two spellings of the header name carry different values.
    Conflicting,
    /// The value contains a comma, so it is several values joined into one.
    Joined,
    /// The value is empty or only whitespace.
    Empty,
}

impl HeaderError {
    /// Code used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            HeaderError::Repeated => "repeated_header",
            HeaderError::Conflicting => "conflicting_header_values",
            HeaderError::Joined => "joined_header_values",
            HeaderError::Empty => "empty_header",
        }
    }
}

/// Finds the one value of header `name` in `headers` and `multi_value_headers`.
///
/// Returns `Ok(None)` when no spelling of the header is present, and the value
/// with surrounding whitespace removed otherwise.
pub fn single_value(
    headers: &Headers,
    multi_value_headers: &MultiValueHeaders,
    name: &str,
) -> Result<Option<String>, HeaderError> {
    let mut values: Vec<&str> = headers
        .iter()
        .filter(|(key, _)| key.eq_ignore_ascii_case(name))
        .filter_map(|(_, value)| value.as_deref())
        .collect();

    for (_, list) in multi_value_headers.iter().filter(|(key, _)| key.eq_ignore_ascii_case(name)) {
        let list = list.as_deref().unwrap_or_default();
        if list.len() > 1 {
            return Err(HeaderError::Repeated);
        }
        values.extend(list.iter().map(String::as_str));
    }

    let Some(first) = values.first().map(|value| value.trim()) else {
        return Ok(None);
    };
    if values.iter().any(|value| value.trim() != first) {
        return Err(HeaderError::Conflicting);
    }
    if first.is_empty() {
        return Err(HeaderError::Empty);
    }
    if first.contains(',') {
        return Err(HeaderError::Joined);
    }
    Ok(Some(first.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, Option<&str>)]) -> Headers {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.map(str::to_owned)))
            .collect()
    }

    fn multi(pairs: &[(&str, &[&str])]) -> MultiValueHeaders {
        pairs
            .iter()
            .map(|(key, values)| ((*key).to_owned(), Some(values.iter().map(|v| (*v).to_owned()).collect())))
            .collect()
    }

    #[test]
    fn header_name_matches_any_case() {
        let found = single_value(&headers(&[("x-TENANT-id", Some("acme"))]), &multi(&[]), "X-Tenant-Id");
        assert_eq!(found, Ok(Some("acme".to_owned())));
    }

    #[test]
    fn header_absent_returns_none() {
        let found = single_value(&headers(&[("Accept", Some("*/*"))]), &multi(&[]), "X-Tenant-Id");
        assert_eq!(found, Ok(None));
    }

    #[test]
    fn header_null_value_counts_absent() {
        let found = single_value(&headers(&[("X-Tenant-Id", None)]), &multi(&[]), "X-Tenant-Id");
        assert_eq!(found, Ok(None));
    }

    #[test]
    fn header_value_trimmed() {
        let found = single_value(&headers(&[("X-Tenant-Id", Some(" acme "))]), &multi(&[]), "X-Tenant-Id");
        assert_eq!(found, Ok(Some("acme".to_owned())));
    }

    #[test]
    fn header_spellings_agreeing_accepted() {
        let found = single_value(
            &headers(&[("X-Tenant-Id", Some("acme")), ("x-tenant-id", Some("acme"))]),
            &multi(&[("X-Tenant-Id", &["acme"])]),
            "X-Tenant-Id",
        );
        assert_eq!(found, Ok(Some("acme".to_owned())));
    }

    #[test]
    fn header_spellings_differing_rejected() {
        let found = single_value(
            &headers(&[("X-Tenant-Id", Some("acme")), ("x-tenant-id", Some("globex"))]),
            &multi(&[]),
            "X-Tenant-Id",
        );
        assert_eq!(found, Err(HeaderError::Conflicting));
    }

    #[test]
    fn header_multi_value_differing_rejected() {
        let found = single_value(
            &headers(&[("X-Tenant-Id", Some("acme"))]),
            &multi(&[("x-tenant-id", &["globex"])]),
            "X-Tenant-Id",
        );
        assert_eq!(found, Err(HeaderError::Conflicting));
    }

    #[test]
    fn header_repeated_value_rejected() {
        let found = single_value(
            &headers(&[("X-Tenant-Id", Some("acme"))]),
            &multi(&[("X-Tenant-Id", &["acme", "acme"])]),
            "X-Tenant-Id",
        );
        assert_eq!(found, Err(HeaderError::Repeated));
    }

    #[test]
    fn header_joined_value_rejected() {
        let found = single_value(&headers(&[("x-tenant-id", Some("acme,globex"))]), &multi(&[]), "X-Tenant-Id");
        assert_eq!(found, Err(HeaderError::Joined));
    }

    #[test]
    fn header_empty_value_rejected() {
        let found = single_value(&headers(&[("X-Tenant-Id", Some("  "))]), &multi(&[]), "X-Tenant-Id");
        assert_eq!(found, Err(HeaderError::Empty));
    }
}
