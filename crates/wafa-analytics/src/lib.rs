//! wip
pub mod models;
pub mod optimize;
pub mod special;
pub mod summary;
