//! Route templates and `execute-api` ARNs.
//!
//! A route is an HTTP method (or `ANY`) and a resource path template such as
//! `/pets/{petId}`. As in API Gateway, `{name}` matches one path segment and
//! `{name+}` the rest of the path.

use serde::{Deserialize, Serialize};

/// A method and resource path template owned by a product.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RouteKey {
    /// HTTP method in upper case, or `ANY`.
    pub method: String,
    /// Resource path template, or `$default` for an HTTP API's default route.
    pub resource_path: String,
}

impl RouteKey {
    /// Creates a route key, upper-casing the method.
    pub fn new(method: &str, resource_path: &str) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            resource_path: resource_path.to_owned(),
        }
    }

    /// Parses an HTTP API route key such as `GET /pets/{id}` or `$default`.
    pub fn from_route_key(route_key: &str) -> Option<Self> {
        if route_key == "$default" {
            return Some(Self::new("ANY", "$default"));
        }
        let (method, path) = route_key.split_once(' ')?;
        path.starts_with('/').then(|| Self::new(method, path))
    }

    /// Checks whether this route serves `method` on the concrete or template `path`.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let method_matches = self.method == "ANY" || self.method.eq_ignore_ascii_case(method);
        method_matches && path_matches(&self.resource_path, path)
    }

    /// Builds the `execute-api` ARN pattern that covers this route on one API stage.
    pub fn method_arn(&self, api: &ApiStage) -> String {
        let method = if self.method == "ANY" { "*" } else { self.method.as_str() };
        let path = if self.resource_path == "$default" {
            "*".to_owned()
        } else {
            self.resource_path
                .trim_start_matches('/')
                .split('/')
                .map(|segment| if segment.starts_with('{') { "*" } else { segment })
                .collect::<Vec<_>>()
                .join("/")
        };
        format!("{}:{}/{}/{}/{}", api.arn_prefix, api.api_id, api.stage, method, path)
    }
}

impl std::fmt::Display for RouteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.resource_path)
    }
}

/// Checks whether a resource path template matches a path. A template matches itself,
/// so a logged template (`/pets/{petId}`) finds its route as well as a concrete
/// path (`/pets/42`) does.
pub fn path_matches(template: &str, path: &str) -> bool {
    if template == "$default" {
        return true;
    }
    if template == path {
        return true;
    }

    let mut template_segments = template.trim_matches('/').split('/');
    let mut path_segments = path.trim_matches('/').split('/');

    loop {
        match (template_segments.next(), path_segments.next()) {
            (None, None) => return true,
            (Some(t), _) if t.starts_with('{') && t.ends_with("+}") => return true,
            (Some(t), Some(p)) if t.starts_with('{') && t.ends_with('}') && !p.is_empty() => {}
            (Some(t), Some(p)) if t == p => {}
            _ => return false,
        }
    }
}

/// The API and stage part of an `execute-api` method ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiStage {
    /// `arn:<partition>:execute-api:<region>:<account>`.
    pub arn_prefix: String,
    /// API Gateway API id.
    pub api_id: String,
    /// Stage name.
    pub stage: String,
}

/// A parsed method ARN: `arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodArn {
    /// API and stage.
    pub api: ApiStage,
    /// HTTP method.
    pub method: String,
    /// Request path, starting with `/`.
    pub path: String,
}

impl MethodArn {
    /// Parses a method or route ARN; returns `None` when it is not one.
    pub fn parse(arn: &str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (arn_literal, partition, service, region, account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        if arn_literal != "arn" || service != "execute-api" {
            return None;
        }

        let mut resource_parts = resource.splitn(4, '/');
        let api_id = resource_parts.next().filter(|s| !s.is_empty())?;
        let stage = resource_parts.next().filter(|s| !s.is_empty())?;
        let method = resource_parts.next().filter(|s| !s.is_empty())?;
        let path = resource_parts.next().unwrap_or("");

        Some(Self {
            api: ApiStage {
                arn_prefix: format!("{arn_literal}:{partition}:{service}:{region}:{account}"),
                api_id: api_id.to_owned(),
                stage: stage.to_owned(),
            },
            method: method.to_owned(),
            path: format!("/{path}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_matches_parameter_segment() {
        assert!(path_matches("/pets/{petId}", "/pets/42"));
        assert!(!path_matches("/pets/{petId}", "/pets"));
        assert!(!path_matches("/pets/{petId}", "/pets/42/toys"));
    }

    #[test]
    fn path_matches_greedy_parameter() {
        assert!(path_matches("/files/{proxy+}", "/files/a/b/c"));
    }

    #[test]
    fn path_matches_template_itself() {
        assert!(path_matches("/pets/{petId}", "/pets/{petId}"));
    }

    #[test]
    fn route_key_parses_http_api_form() {
        assert_eq!(RouteKey::from_route_key("GET /"), Some(RouteKey::new("GET", "/")));
        assert_eq!(
            RouteKey::from_route_key("$default"),
            Some(RouteKey::new("ANY", "$default"))
        );
        assert_eq!(RouteKey::from_route_key("garbage"), None);
    }

    #[test]
    fn method_arn_parses_rest_arn() {
        let arn = MethodArn::parse("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets/42")
            .unwrap();
        assert_eq!(arn.api.api_id, "abc123");
        assert_eq!(arn.api.stage, "prod");
        assert_eq!(arn.method, "GET");
        assert_eq!(arn.path, "/pets/42");
    }

    #[test]
    fn method_arn_parses_root_path() {
        let arn = MethodArn::parse("arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*/GET/").unwrap();
        assert_eq!(arn.path, "/");
    }

    #[test]
    fn method_arn_rejects_other_service() {
        assert_eq!(MethodArn::parse("arn:aws:s3:::bucket"), None);
    }

    #[test]
    fn route_arn_replaces_parameters() {
        let arn = MethodArn::parse("arn:aws:execute-api:us-east-1:1:abc/prod/GET/pets").unwrap();
        let route = RouteKey::new("GET", "/pets/{petId}");
        assert_eq!(
            route.method_arn(&arn.api),
            "arn:aws:execute-api:us-east-1:1:abc/prod/GET/pets/*"
        );
        let any = RouteKey::new("ANY", "/orders");
        assert_eq!(any.method_arn(&arn.api), "arn:aws:execute-api:us-east-1:1:abc/prod/*/orders");
    }
}
