//! Errors the authorizer returns to the Lambda runtime.

use lambda_runtime::Diagnostic;

/// Error the authorizer returns instead of a policy.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizerError {
    /// The caller is not identified: missing, invalid or foreign credentials,
    /// or an event of unknown shape. API Gateway REST APIs return 401 when the
    /// Lambda error message is exactly `Unauthorized`.
    #[error("Unauthorized")]
    Unauthorized,

    /// The response could not be serialized to JSON.
    #[error("failed to serialize the authorizer response: {source}")]
    Response {
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
}

impl From<AuthorizerError> for Diagnostic {
    fn from(error: AuthorizerError) -> Self {
        let error_type = match error {
            AuthorizerError::Unauthorized => "Unauthorized",
            AuthorizerError::Response { .. } => "ResponseError",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthorized_diagnostic_message_exact() {
        let diagnostic = Diagnostic::from(AuthorizerError::Unauthorized);
        assert_eq!(diagnostic.error_message, "Unauthorized");
    }
}
