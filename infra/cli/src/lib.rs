//! Local operations for Aforo: creating the tables and queues of
//! `template.yaml` on the emulator, loading the seed catalog, operator
//! reports, and the end-to-end demo.
#![warn(missing_docs)]

pub mod bootstrap;
pub mod demo;
pub mod report;
pub mod seed;
pub mod template;
