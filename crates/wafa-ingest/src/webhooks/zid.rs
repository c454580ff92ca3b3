use super::{Change, MapContext, MapError};
use serde_json::Value;

pub(crate) const TOPICS: &[&str] = &[];

pub(crate) fn map(topic: &str, _v: &Value, _ctx: &MapContext) -> Result<Vec<Change>, MapError> {
    Err(MapError::unknown_topic(super::Platform::Zid, topic))
}

/// The object a Zid delivery is about: the body itself, or its `data`/`order`/`cart` member.
pub(crate) fn payload_object(v: &Value) -> &Value {
    for k in ["data", "order", "cart", "customer"] {
        if let Some(o) = v.get(k).filter(|o| o.is_object()) {
            return o;
        }
    }
    v
}
