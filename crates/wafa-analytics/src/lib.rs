//! wip
pub mod cohort;
pub mod explain;
pub mod models;
pub mod money;
pub mod optimize;
pub mod parse;
pub mod report;
pub mod rfm;
pub mod score;
pub mod special;
pub mod summary;
pub mod svg;
pub mod validation;
