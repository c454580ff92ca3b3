use super::{Change, MapContext, MapError};
use serde_json::Value;

pub(crate) const TOPICS: &[&str] = &[];

pub(crate) fn map(topic: &str, _v: &Value, _ctx: &MapContext) -> Result<Vec<Change>, MapError> {
    Err(MapError::unknown_topic(super::Platform::Salla, topic))
}
