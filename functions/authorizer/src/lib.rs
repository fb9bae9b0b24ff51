//! The Lambda authorizer: decides, in the request path, whether a tenant may
//! call an API Gateway route.
//!
//! [`Authorizer::handle`] takes any of the four event formats API Gateway sends:
//! REST `TOKEN` and `REQUEST`, and HTTP API payload 1.0 and 2.0. It checks the
//! tenant's API key, subscription and quota in the catalog and usage tables.
//! Then it returns the response in the form API Gateway expects for that event.
#![warn(missing_docs)]

mod authorizer;
mod config;
mod decision;
mod entitlement;
mod error;
mod headers;
mod quota;
mod request;
mod response;

#[cfg(test)]
mod testing;

use aforo::catalog::{CachedCatalog, DynamoCatalog};
use aforo::usage::DynamoUsage;

pub use authorizer::Authorizer;
pub use config::Config;
pub use decision::DenyReason;
pub use error::AuthorizerError;

/// Builds the production authorizer: the DynamoDB catalog behind a per-container
/// cache of `config.cache_ttl`, and the DynamoDB usage table.
pub fn from_sdk(
    sdk: &aws_config::SdkConfig,
    config: &Config,
) -> Authorizer<CachedCatalog<DynamoCatalog>, DynamoUsage> {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let catalog = CachedCatalog::new(
        DynamoCatalog::new(client.clone(), &config.catalog_table),
        config.cache_ttl,
    );
    let usage = DynamoUsage::new(client, &config.usage_table);
    Authorizer::new(catalog, usage, config)
}
