//! Aforo's shared library: the domain types, the metering event schema, and the
//! DynamoDB and SQS adapters that every function uses.
//!
//! The functions stay thin: they translate a Lambda event into calls on this
//! crate, so the same logic runs in Lambda, in the local demo and in tests.
#![warn(missing_docs)]

pub mod adapters;
pub mod aws;
pub mod cache;
pub mod catalog;
pub mod config;
pub mod cwl;
pub mod envelope;
pub mod event;
pub mod gateway;
pub mod keys;
pub mod ledger;
pub mod logging;
pub mod period;
pub mod route;
pub mod sqs;
pub mod store;
pub mod usage;
