//! Local operations for Aforo: creating the tables and queues of
//! `template.yaml` on the emulator, loading the seed catalog, operator
//! reports, feature flags, the end-to-end demo, `aforo send` and a local
//! HTTP endpoint for the ingest API.
#![warn(missing_docs)]

pub mod bootstrap;
pub mod demo;
pub mod flags;
pub mod report;
pub mod seed;
pub mod send;
pub mod serve;
pub mod template;
