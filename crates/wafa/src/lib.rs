//! Wafa: a self-hosted CRM and customer-retention platform for online stores.
//!
//! The crate is the server and CLI; see `ARCHITECTURE.md` at the repository root for the map.

pub mod auth;
pub mod bench;
pub mod bootstrap;
pub mod error;
pub mod http;
pub mod import;
pub mod ingest;
pub mod predict;
pub mod segment;
pub mod sources;
pub mod store;
pub mod validate;
pub mod web;
