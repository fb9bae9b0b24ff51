//! Turning the delivered body into the bytes of the payload: base64 when API
//! Gateway flagged it, then gzip when `Content-Encoding` names it, within the
//! size limits.
//!
//! Decompression stops one byte past the limit, so a small gzip bomb cannot
//! make the function inflate more than `max_decompressed_bytes + 1` bytes.

use std::io::Read;

use base64::Engine;
use flate2::read::MultiGzDecoder;

use crate::request::HttpRequest;
use crate::IngestApiError;

/// The first two bytes of every gzip member (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Size limits of one request body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    /// Maximum body size in bytes as sent, before decompression.
    pub max_body_bytes: usize,
    /// Maximum body size in bytes after decompression.
    pub max_decompressed_bytes: usize,
}

/// Returns the payload bytes of a request.
pub(crate) fn payload(request: &HttpRequest, limits: BodyLimits) -> Result<Vec<u8>, IngestApiError> {
    let body = raw_body(request, limits.max_body_bytes)?;

    if !is_gzip_encoded(request.header("content-encoding"))? {
        // No JSON text starts with these bytes, so the header was forgotten.
        if body.starts_with(&GZIP_MAGIC) {
            return Err(IngestApiError::InvalidBody(
                "body is gzip-compressed but Content-Encoding does not name gzip; send Content-Encoding: gzip".to_owned(),
            ));
        }
        return within_decompressed_limit(body, limits.max_decompressed_bytes);
    }

    // A proxy may have inflated the body already and left the header in place.
    if !body.starts_with(&GZIP_MAGIC) {
        return within_decompressed_limit(body, limits.max_decompressed_bytes);
    }
    gunzip(&body, limits.max_decompressed_bytes)
}

/// Returns the body as sent, base64-decoded when API Gateway flagged it.
fn raw_body(request: &HttpRequest, max_body_bytes: usize) -> Result<Vec<u8>, IngestApiError> {
    let too_large = || IngestApiError::BodyTooLarge { limit: max_body_bytes };

    if !request.is_base64_encoded {
        if request.body.len() > max_body_bytes {
            return Err(too_large());
        }
        return Ok(request.body.as_bytes().to_vec());
    }

    // Every 4 base64 characters carry at most 3 bytes, so a longer text is
    // too large whatever it decodes to, and is not decoded at all.
    let max_encoded = max_body_bytes.div_ceil(3).saturating_mul(4);
    if request.body.len() > max_encoded {
        return Err(too_large());
    }

    let body = base64::engine::general_purpose::STANDARD
        .decode(request.body.trim())
        .map_err(IngestApiError::InvalidBase64)?;
    if body.len() > max_body_bytes {
        return Err(too_large());
    }
    Ok(body)
}

/// Whether `Content-Encoding` names gzip. `identity` and an absent header
/// mean no encoding, and any other coding is unsupported.
fn is_gzip_encoded(header: Option<&str>) -> Result<bool, IngestApiError> {
    let codings: Vec<String> = header
        .unwrap_or_default()
        .split(',')
        .map(|coding| coding.trim().to_ascii_lowercase())
        .filter(|coding| !coding.is_empty() && coding != "identity")
        .collect();

    match codings.as_slice() {
        [] => Ok(false),
        [coding] if coding == "gzip" || coding == "x-gzip" => Ok(true),
        _ => Err(IngestApiError::UnsupportedEncoding(header.unwrap_or_default().to_owned())),
    }
}

/// Inflates every gzip member of `body`, reading at most `limit + 1` bytes.
fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, IngestApiError> {
    let mut inflated = Vec::new();
    let read_limit = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);

    MultiGzDecoder::new(body)
        .take(read_limit)
        .read_to_end(&mut inflated)
        .map_err(IngestApiError::CorruptGzip)?;

    within_decompressed_limit(inflated, limit)
}

fn within_decompressed_limit(payload: Vec<u8>, limit: usize) -> Result<Vec<u8>, IngestApiError> {
    if payload.len() > limit {
        return Err(IngestApiError::DecompressedTooLarge { limit });
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::*;

    const LIMITS: BodyLimits = BodyLimits {
        max_body_bytes: 1_000,
        max_decompressed_bytes: 10_000,
    };

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn base64_request(body: &[u8], encoding: Option<&str>) -> HttpRequest {
        let mut request = HttpRequest {
            body: base64::engine::general_purpose::STANDARD.encode(body),
            is_base64_encoded: true,
            ..HttpRequest::default()
        };
        if let Some(encoding) = encoding {
            request.headers.insert("content-encoding".to_owned(), encoding.to_owned());
        }
        request
    }

    #[test]
    fn payload_reads_plain_body() {
        let request = HttpRequest {
            body: "{}".to_owned(),
            ..HttpRequest::default()
        };
        assert_eq!(payload(&request, LIMITS).unwrap(), b"{}");
    }

    #[test]
    fn payload_inflates_gzip() {
        let request = base64_request(&gzip(b"hello"), Some("gzip"));
        assert_eq!(payload(&request, LIMITS).unwrap(), b"hello");
    }

    #[test]
    fn payload_inflates_every_member() {
        let mut body = gzip(b"first ");
        body.extend(gzip(b"second"));
        let request = base64_request(&body, Some("GZIP"));

        assert_eq!(payload(&request, LIMITS).unwrap(), b"first second");
    }

    #[test]
    fn payload_keeps_inflated_body_under_gzip_header() {
        let request = base64_request(b"{\"a\":1}", Some("gzip"));
        assert_eq!(payload(&request, LIMITS).unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn payload_rejects_corrupt_gzip() {
        let mut body = gzip(b"hello world");
        body.truncate(body.len() - 6);
        let request = base64_request(&body, Some("gzip"));

        assert!(matches!(payload(&request, LIMITS), Err(IngestApiError::CorruptGzip(_))));
    }

    #[test]
    fn payload_rejects_gzip_without_header() {
        let request = base64_request(&gzip(b"{}"), None);
        assert!(matches!(payload(&request, LIMITS), Err(IngestApiError::InvalidBody(_))));
    }

    #[test]
    fn payload_rejects_invalid_base64() {
        let request = HttpRequest {
            body: "not base64!".to_owned(),
            is_base64_encoded: true,
            ..HttpRequest::default()
        };
        assert!(matches!(payload(&request, LIMITS), Err(IngestApiError::InvalidBase64(_))));
    }

    #[test]
    fn payload_rejects_unknown_encoding() {
        let request = base64_request(b"{}", Some("br"));
        assert!(matches!(payload(&request, LIMITS), Err(IngestApiError::UnsupportedEncoding(_))));
    }

    #[test]
    fn payload_accepts_identity_encoding() {
        let request = base64_request(b"{}", Some("identity"));
        assert_eq!(payload(&request, LIMITS).unwrap(), b"{}");
    }

    #[test]
    fn payload_rejects_large_plain_body() {
        let request = HttpRequest {
            body: "x".repeat(1_001),
            ..HttpRequest::default()
        };
        assert!(matches!(
            payload(&request, LIMITS),
            Err(IngestApiError::BodyTooLarge { limit: 1_000 })
        ));
    }

    #[test]
    fn payload_rejects_large_decoded_body() {
        let request = base64_request(&[b'x'; 1_001], None);
        assert!(matches!(
            payload(&request, LIMITS),
            Err(IngestApiError::BodyTooLarge { limit: 1_000 })
        ));
    }

    #[test]
    fn payload_accepts_body_at_limit() {
        let request = base64_request(&[b'x'; 1_000], None);
        assert_eq!(payload(&request, LIMITS).unwrap().len(), 1_000);
    }

    #[test]
    fn payload_stops_inflating_at_limit() {
        let request = base64_request(&gzip(&[0u8; 10_001]), Some("gzip"));
        assert!(matches!(
            payload(&request, LIMITS),
            Err(IngestApiError::DecompressedTooLarge { limit: 10_000 })
        ));
    }

    #[test]
    fn payload_inflates_up_to_limit() {
        let request = base64_request(&gzip(&[0u8; 10_000]), Some("gzip"));
        assert_eq!(payload(&request, LIMITS).unwrap().len(), 10_000);
    }
}
