//! Authentication of the sending gateway by its integration ingest key.
//!
//! The key is read from `Authorization: Bearer <key>` or, failing that, from
//! `x-api-key`. The catalog stores only its SHA-256 hash, and the key decides
//! the integration, which is the `source` of every event in the request.

use aforo::catalog::{CatalogStore, Integration, Status};
use aforo::keys::api_key_hash;

use crate::request::HttpRequest;
use crate::IngestApiError;

/// Returns the ingest key the request presents, if any.
pub(crate) fn presented_key(request: &HttpRequest) -> Option<&str> {
    let bearer = request
        .header("authorization")
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());

    bearer
        .filter(|token| !token.is_empty())
        .or_else(|| request.header("x-api-key").filter(|key| !key.is_empty()))
}

/// Finds the active integration that the request's key belongs to.
pub(crate) async fn authenticate<C: CatalogStore>(
    catalog: &C,
    request: &HttpRequest,
) -> Result<Integration, IngestApiError> {
    let key = presented_key(request).ok_or(IngestApiError::MissingKey)?;

    let found = catalog
        .integration_key(&api_key_hash(key))
        .await
        .map_err(IngestApiError::Catalog)?;
    let Some(key) = found.filter(|key| key.status == Status::Active) else {
        return Err(IngestApiError::InvalidKey);
    };

    let integration = catalog
        .integration(&key.integration_id)
        .await
        .map_err(IngestApiError::Catalog)?;
    let Some(integration) = integration else {
        tracing::warn!(
            integration_id = %key.integration_id,
            "an active ingest key names an integration that is not in the catalog"
        );
        return Err(IngestApiError::InvalidKey);
    };

    if integration.status != Status::Active {
        return Err(IngestApiError::IntegrationInactive {
            integration_id: integration.id,
        });
    }
    Ok(integration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> HttpRequest {
        let mut request = HttpRequest::default();
        for (name, value) in headers {
            request.headers.insert(name.to_ascii_lowercase(), (*value).to_owned());
        }
        request
    }

    #[test]
    fn presented_key_reads_bearer_token() {
        let request = request(&[("Authorization", "Bearer ik_1")]);
        assert_eq!(presented_key(&request), Some("ik_1"));
    }

    #[test]
    fn presented_key_ignores_scheme_case() {
        let request = request(&[("authorization", "bearer  ik_1 ")]);
        assert_eq!(presented_key(&request), Some("ik_1"));
    }

    #[test]
    fn presented_key_falls_back_to_api_key_header() {
        let request = request(&[("Authorization", "Basic dXNlcjpwYXNz"), ("X-Api-Key", "ik_2")]);
        assert_eq!(presented_key(&request), Some("ik_2"));
    }

    #[test]
    fn presented_key_missing_without_headers() {
        assert_eq!(presented_key(&request(&[])), None);
    }

    #[test]
    fn presented_key_rejects_empty_bearer() {
        assert_eq!(presented_key(&request(&[("authorization", "Bearer ")])), None);
    }
}
