//! Turning outside data into Wafa inputs.
//!
//! Why a separate, pure crate: imports are where untrusted, messy data (Excel exports in
//! Windows-1256, Shopify's `'+966…` phone cells, three-decimal Kuwaiti dinars) meets the
//! domain. Keeping the parsing free of file, network and database I/O lets it be tested
//! exhaustively and benchmarked on its own; the server hands in bytes or a reader and stores
//! what comes out.
//!
//! - [`csv_import`]: decode a CSV file's bytes, detect its format, and stream Shopify customer
//!   exports and the generic orders CSV ([`csv_import::CustomerCsv`], [`csv_import::OrderCsv`]).
//! - [`demo`]: a deterministic, realistic Gulf/Egyptian demo store.
//! - [`synth`]: a fast, deterministic writer of huge CSV files for the import benchmark.

pub mod csv_import;
pub mod demo;
pub mod rng;
pub mod synth;
pub mod webhooks;
