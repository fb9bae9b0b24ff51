//! Native gateway adapters: each turns a gateway's own log record into
//! [`GatewayRequest`]s, so Kong, Apigee, Azure API Management and MuleSoft
//! feed `POST /v1/ingest` with their standard logging and no application
//! changes.
//!
//! A body is one record (a JSON object) or a batch (an array of records). The
//! reference configurations under `infra/gateways/` produce exactly the
//! records read here.

mod apigee;
mod azure_apim;
mod fields;
mod kong;
mod mulesoft;
#[cfg(test)]
mod test_support;

use serde_json::{Map, Value};

use crate::catalog::GatewayKind;
use crate::gateway::GatewayRequest;

/// A body that no record can be read from.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The integration's gateway kind has no native adapter.
    #[error("gateway kind {0:?} has no native log adapter; send the aforo.ingest.v1 or CloudEvents format")]
    Unsupported(GatewayKind),

    /// The body is JSON but not the shape this gateway sends.
    #[error("body is not a log payload of {gateway}: {reason}")]
    InvalidShape {
        /// Gateway name.
        gateway: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Parses a gateway's native log payload into one result per record, in
/// order. A record that cannot be read gives `Err` with the reason.
///
/// The outer `Err` means the body as a whole is not this gateway's payload: it
/// is not an object or array, it is an empty array, or no record in it has the
/// fields that identify the gateway's format.
pub fn parse(kind: GatewayKind, body: &Value) -> Result<Vec<Result<GatewayRequest, String>>, AdapterError> {
    let format = match kind {
        GatewayKind::Kong => &kong::FORMAT,
        GatewayKind::Apigee => &apigee::FORMAT,
        GatewayKind::AzureApim => &azure_apim::FORMAT,
        GatewayKind::Mulesoft => &mulesoft::FORMAT,
        GatewayKind::AwsRest | GatewayKind::AwsHttp => return Err(AdapterError::Unsupported(kind)),
    };
    format.parse(body)
}

/// The record format of one gateway.
struct Format {
    /// Gateway name, for error messages.
    gateway: &'static str,
    /// Description of a record, completing the sentence "no element of the array is …".
    record: &'static str,
    /// Whether an object has the fields that identify this gateway's record.
    is_record: fn(&Map<String, Value>) -> bool,
    /// Reads one record.
    read: fn(&Map<String, Value>) -> Result<GatewayRequest, String>,
}

impl Format {
    fn parse(&self, body: &Value) -> Result<Vec<Result<GatewayRequest, String>>, AdapterError> {
        match body {
            Value::Object(record) if (self.is_record)(record) => Ok(vec![(self.read)(record)]),
            Value::Object(_) => Err(self.invalid_shape(format!("the object is not {}", self.record))),
            Value::Array(items) if items.is_empty() => Err(self.invalid_shape("the array is empty".to_owned())),
            Value::Array(items) => {
                let has_record = items
                    .iter()
                    .any(|item| item.as_object().is_some_and(|record| (self.is_record)(record)));
                if !has_record {
                    return Err(self.invalid_shape(format!("no element of the array is {}", self.record)));
                }
                Ok(items.iter().map(|item| self.read_item(item)).collect())
            }
            other => Err(self.invalid_shape(format!(
                "expected a JSON object or an array of objects, got {}",
                fields::json_type(other)
            ))),
        }
    }

    /// Reads one element of a batch. An element that is not an object is
    /// rejected on its own, like any other unreadable record.
    fn read_item(&self, item: &Value) -> Result<GatewayRequest, String> {
        match item {
            Value::Object(record) => (self.read)(record),
            other => Err(format!("the record is {}, not a JSON object", fields::json_type(other))),
        }
    }

    fn invalid_shape(&self, reason: String) -> AdapterError {
        AdapterError::InvalidShape {
            gateway: self.gateway,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NATIVE_KINDS: [GatewayKind; 4] = [
        GatewayKind::Kong,
        GatewayKind::Apigee,
        GatewayKind::AzureApim,
        GatewayKind::Mulesoft,
    ];

    fn is_invalid_shape(result: &Result<Vec<Result<GatewayRequest, String>>, AdapterError>) -> bool {
        matches!(result, Err(AdapterError::InvalidShape { .. }))
    }

    #[test]
    fn parse_aws_kinds_unsupported() {
        for kind in [GatewayKind::AwsRest, GatewayKind::AwsHttp] {
            let result = parse(kind, &json!({}));
            assert!(
                matches!(result, Err(AdapterError::Unsupported(k)) if k == kind),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn parse_scalar_bodies_invalid_shape() {
        for kind in NATIVE_KINDS {
            for body in [json!(null), json!(true), json!(42), json!("GET /pets")] {
                assert!(is_invalid_shape(&parse(kind, &body)), "{kind:?} accepted {body}");
            }
        }
    }

    #[test]
    fn parse_empty_array_invalid_shape() {
        for kind in NATIVE_KINDS {
            assert!(is_invalid_shape(&parse(kind, &json!([]))), "{kind:?}");
        }
    }

    #[test]
    fn parse_generic_format_invalid_shape() {
        let generic = json!({
            "schema": "aforo.ingest.v1",
            "events": [{"id": "r-1", "tenant_id": "acme", "method": "GET", "path": "/pets",
                        "status": 200, "timestamp": "2026-12-01T10:00:00Z"}]
        });
        for kind in NATIVE_KINDS {
            assert!(is_invalid_shape(&parse(kind, &generic)), "{kind:?}");
        }
    }

    #[test]
    fn parse_array_of_scalars_invalid_shape() {
        for kind in NATIVE_KINDS {
            assert!(is_invalid_shape(&parse(kind, &json!([1, "two", null]))), "{kind:?}");
        }
    }

    #[test]
    fn parse_shape_error_names_gateway() {
        let error = parse(GatewayKind::Kong, &json!("text")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "body is not a log payload of Kong: expected a JSON object or an array of objects, got a string"
        );
    }
}
