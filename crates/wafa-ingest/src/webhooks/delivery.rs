//! Delivery identity: what the server keys idempotency on, the topic and the resource.
//!
//! | platform | `delivery_id` | topic | resource id |
//! |---|---|---|---|
//! | Shopify | `X-Shopify-Webhook-Id` (kept across retries) | `X-Shopify-Topic` | body `id` |
//! | WooCommerce | `X-WC-Webhook-Delivery-ID` | `X-WC-Webhook-Topic` | body `id` (else `X-WC-Webhook-Resource`… none) |
//! | Salla | derived: `content_key` (Salla sends no delivery id) | body `event` | body `data.id` |
//! | Zid | derived: `content_key` (Zid sends no delivery id) | body `event`, else query `event` | body `id` (or `data.id`, `order.id`, `cart.id`) |
//!
//! `content_key` is, for every platform, the hex SHA-256 of (platform, topic, resource id,
//! the payload's change marker) where the marker is the event/last-modified time (Shopify
//! `updated_at`/`created_at`, WooCommerce `date_modified_gmt`, Salla envelope `created_at`
//! plus `data.updated_at`, Zid `updated_at`), or the whole body's hash when the payload has
//! neither a resource id nor a marker. Two deliveries of the same state of the same resource
//! share it, whatever their delivery ids, so the server may use it as a second dedupe key.

use super::json::{at, id, parse_body, sha256_hex, text};
use super::{MapError, MapErrorCode, Platform, Request};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub platform: Platform,
    /// Unique per delivery (the platform's, else derived as `derived:<content_key>`).
    pub delivery_id: String,
    /// Whether `delivery_id` came from the platform rather than being derived.
    pub delivery_id_from_platform: bool,
    /// The topic/event name as the platform spells it (`orders/create`, `order.created`…).
    pub topic: String,
    /// The id of the resource the delivery is about (order, customer, cart…), exact.
    pub resource_id: Option<String>,
    /// See the module docs.
    pub content_key: String,
}

/// Identify a verified delivery. Needs a JSON body (call [`super::verify`] first: a WooCommerce
/// ping is not JSON).
pub fn delivery(platform: Platform, req: &Request<'_>) -> Result<Delivery, MapError> {
    let v = parse_body(req.body)?;
    let header = |n: &str| {
        req.header(n)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let missing_topic =
        |what: &str| MapError::new(MapErrorCode::MissingTopic, format!("no topic: {what}"));
    let (platform_id, topic, resource, marker) = match platform {
        Platform::Shopify => (
            header("X-Shopify-Webhook-Id"),
            header("X-Shopify-Topic")
                .ok_or_else(|| missing_topic("X-Shopify-Topic header is absent"))?,
            id(at(&v, &["id"]), "id")?,
            text(at(&v, &["updated_at"])).or_else(|| text(at(&v, &["created_at"]))),
        ),
        Platform::WooCommerce => (
            header("X-WC-Webhook-Delivery-ID"),
            header("X-WC-Webhook-Topic")
                .ok_or_else(|| missing_topic("X-WC-Webhook-Topic header is absent"))?,
            id(at(&v, &["id"]), "id")?,
            text(at(&v, &["date_modified_gmt"])).or_else(|| text(at(&v, &["date_modified"]))),
        ),
        Platform::Salla => {
            let topic =
                text(at(&v, &["event"])).ok_or_else(|| missing_topic("body has no \"event\""))?;
            let marker = [text(at(&v, &["created_at"])), salla_updated(&v)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("|");
            (
                None,
                topic,
                id(at(&v, &["data", "id"]), "data.id")?,
                (!marker.is_empty()).then_some(marker),
            )
        }
        Platform::Zid => {
            let topic = text(at(&v, &["event"]))
                .or_else(|| {
                    req.query_param("event")
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                })
                .ok_or_else(|| missing_topic("neither body \"event\" nor query \"event\""))?;
            let obj = super::zid::payload_object(&v);
            (
                None,
                topic,
                id(at(obj, &["id"]), "id")?,
                text(at(obj, &["updated_at"])),
            )
        }
    };
    let content_key = match (&resource, &marker) {
        (None, None) => sha256_hex(&[platform.as_str().as_bytes(), topic.as_bytes(), req.body]),
        _ => sha256_hex(&[
            platform.as_str().as_bytes(),
            topic.as_bytes(),
            resource.as_deref().unwrap_or("").as_bytes(),
            marker.as_deref().unwrap_or("").as_bytes(),
        ]),
    };
    let (delivery_id, from_platform) = match platform_id {
        Some(d) => (d, true),
        None => (format!("derived:{content_key}"), false),
    };
    Ok(Delivery {
        platform,
        delivery_id,
        delivery_id_from_platform: from_platform,
        topic,
        resource_id: resource,
        content_key,
    })
}

fn salla_updated(v: &Value) -> Option<String> {
    match at(v, &["data", "updated_at"])? {
        Value::Object(_) => text(at(v, &["data", "updated_at", "date"])),
        other => text(Some(other)),
    }
}
