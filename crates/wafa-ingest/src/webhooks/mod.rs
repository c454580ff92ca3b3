//! Store webhooks: verify a delivery, identify it, and map it to platform-neutral changes.
//!
//! Why pure: the server receives a delivery, stores the raw body durably, then calls these
//! functions; keeping verification and mapping free of I/O lets every platform's quirks
//! (ids above 2^53, money as numbers or strings, JavaScript date strings, Arabic status
//! names) be tested on vendor payloads without a server. See `README.md` beside this file for
//! the API the server calls, the status tables and the assumptions.
//!
//! ```text
//! let req = Request::new(&headers, &query, &body);
//! match verify(platform, &req, secret)? { Verified::Ping => return 200, Verified::Verified => {} }
//! let d = delivery(platform, &req)?;            // idempotency key, topic, resource id
//! let changes = map(platform, &d.topic, &body, &MapContext { source_id: Some(7), .. })?;
//! ```

mod common;
mod delivery;
mod json;
mod salla;
mod shopify;
mod verify;
mod woo;
mod zid;

pub use delivery::{delivery, Delivery};
pub use verify::{
    hmac_base64, hmac_hex, is_woo_ping, verify, Verified, VerifyError, ZID_TOKEN_HEADER,
    ZID_TOKEN_PARAM,
};

use serde::Serialize;
use serde_json::{Map, Value};
use wafa_domain::OrderStatus;
use wafa_model::{CartInput, CustomerInput, OrderInput, ProductInput};

/// The store platforms Wafa takes webhooks from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Shopify,
    WooCommerce,
    Salla,
    Zid,
}

impl Platform {
    pub const ALL: [Platform; 4] = [
        Platform::Shopify,
        Platform::WooCommerce,
        Platform::Salla,
        Platform::Zid,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Shopify => "shopify",
            Platform::WooCommerce => "woocommerce",
            Platform::Salla => "salla",
            Platform::Zid => "zid",
        }
    }
    /// `shopify`, `woocommerce` (or `woo`), `salla`, `zid`; case-insensitive.
    pub fn parse(s: &str) -> Option<Platform> {
        match s.trim().to_ascii_lowercase().as_str() {
            "shopify" => Some(Platform::Shopify),
            "woocommerce" | "woo" => Some(Platform::WooCommerce),
            "salla" => Some(Platform::Salla),
            "zid" => Some(Platform::Zid),
            _ => None,
        }
    }
}

/// What the server received: headers and query parameters as sent (names are matched
/// case-insensitively; the first occurrence wins) and the raw body bytes.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub headers: &'a [(String, String)],
    pub query: &'a [(String, String)],
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    pub fn new(
        headers: &'a [(String, String)],
        query: &'a [(String, String)],
        body: &'a [u8],
    ) -> Self {
        Request {
            headers,
            query,
            body,
        }
    }
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// A query parameter's (already percent-decoded) value, by exact name.
    pub fn query_param(&self, name: &str) -> Option<&'a str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server knows about the source a delivery came to.
#[derive(Debug, Clone, Default)]
pub struct MapContext {
    /// The Wafa source (store) id: put on external identities, orders, carts and products.
    pub source_id: Option<i64>,
    /// The store's currency, used when a payload carries none (Salla customer events, a
    /// Shopify refund without a currency). Without it such amounts are a [`MapError`].
    pub default_currency: Option<String>,
}

/// One status an order reached, and when (UTC ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusAt {
    pub status: OrderStatus,
    pub at: i64,
}

/// A full order as the platform sent it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderChange {
    /// Identities to resolve (external id with the source, email, phone; all unverified
    /// unless the platform says otherwise), names, consents. Phones are raw strings.
    pub customer: CustomerInput,
    /// `customer_id` is 0 (the server fills it in after resolving `customer`); `status` is
    /// the current status's wire name; `payment_method` a [`wafa_domain::PaymentMethod`]
    /// wire name; amounts in minor units of `currency`; `placed_at` RFC 3339.
    pub order: OrderInput,
    /// Parallel to `order.lines`: the product each line is of, when the platform names one
    /// (`external_id` set; `price_minor` the line's unit price). Upsert these and set the
    /// line's `product_id`.
    pub line_products: Vec<Option<ProductInput>>,
    /// The current status (same as `order.status`).
    pub status: OrderStatus,
    /// When the current status was reached (UTC ms; best evidence in the payload).
    pub status_at: i64,
    /// Every status the payload shows the order reached, oldest first, ending with
    /// `status`. Apply the ones the stored order has not reached, keeping the furthest by
    /// [`OrderStatus::rank`] (deliveries arrive out of order).
    pub history: Vec<StatusAt>,
    /// The platform's reason for the current status, raw (Shopify `cancel_reason`, the note
    /// of a Salla status change).
    pub status_reason: Option<String>,
    /// Minor units refunded so far (0 if none): an absolute figure, not an increment. When
    /// the status is refunded and the payload carries no refund amount (Salla, Zid), the
    /// order total.
    pub refunded_minor: i64,
    /// A [`wafa_domain::ReturnReason`] wire value, when the payload gives one.
    pub return_reason: Option<String>,
    /// The platform's last-modified time of the order (UTC ms), to drop stale deliveries.
    pub updated_at: Option<i64>,
}

/// One thing a delivery says happened, in platform-neutral terms.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// Create or update a customer (resolve by its identities).
    UpsertCustomer {
        customer: CustomerInput,
        /// The platform's last-modified time (UTC ms), when given.
        updated_at: Option<i64>,
    },
    /// Create or update an order (and its customer).
    UpsertOrder(Box<OrderChange>),
    /// Only a status change is known (no full order in the payload).
    OrderStatus {
        order_external_id: String,
        status: OrderStatus,
        at: i64,
        /// Platform reason or note (raw text).
        reason: Option<String>,
        /// A [`wafa_domain::ReturnReason`] wire value for `returned`.
        return_reason: Option<String>,
    },
    /// The order was deleted at the platform (WooCommerce trash/delete, Salla, Shopify).
    OrderDeleted {
        order_external_id: String,
        at: Option<i64>,
    },
    /// Money went back to the customer.
    Refund {
        order_external_id: String,
        /// The refund's own id at the platform, to make repeated deliveries idempotent.
        refund_external_id: Option<String>,
        amount_minor: i64,
        currency: String,
        at: i64,
        reason: Option<String>,
    },
    /// An open/abandoned cart (Shopify checkout, Salla/Zid abandoned cart).
    UpsertCart {
        customer: Option<CustomerInput>,
        /// `customer_id` None; `status` `abandoned` or `open`.
        cart: CartInput,
        /// Parallel to `cart.lines`, as for orders.
        line_products: Vec<Option<ProductInput>>,
    },
    /// A cart became an order.
    CartConverted {
        cart_external_id: String,
        order_external_id: Option<String>,
        at: i64,
    },
    /// A product review.
    Review {
        customer: Option<CustomerInput>,
        product_external_id: Option<String>,
        order_external_id: Option<String>,
        /// 1..=5.
        rating: u8,
        text: Option<String>,
        at: i64,
    },
    /// A behaviour event for the timeline (e.g. `customer_login`).
    Event {
        customer: CustomerInput,
        name: String,
        properties: Map<String, Value>,
        at: i64,
    },
}

/// Stable codes of [`MapError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MapErrorCode {
    /// The body is not JSON (or not a JSON object).
    InvalidJson,
    /// A topic this module does not know.
    UnknownTopic,
    /// No topic could be found (header, body `event` or query `event`).
    MissingTopic,
    /// A field the mapping needs is absent.
    MissingField,
    /// A field has a value that cannot be read (an id that is a fraction, an amount with
    /// more decimals than its currency, an unknown currency, an unreadable date…).
    InvalidField,
}

impl MapErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            MapErrorCode::InvalidJson => "webhook_invalid_json",
            MapErrorCode::UnknownTopic => "webhook_unknown_topic",
            MapErrorCode::MissingTopic => "webhook_missing_topic",
            MapErrorCode::MissingField => "webhook_missing_field",
            MapErrorCode::InvalidField => "webhook_invalid_field",
        }
    }
}

/// A delivery that cannot be mapped; the server dead-letters it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapError {
    pub code: MapErrorCode,
    pub message: String,
}

impl MapError {
    pub(crate) fn new(code: MapErrorCode, message: impl Into<String>) -> Self {
        MapError {
            code,
            message: message.into(),
        }
    }
    pub(crate) fn missing(field: &str) -> Self {
        MapError::new(MapErrorCode::MissingField, format!("{field} is missing"))
    }
    pub(crate) fn invalid(field: &str, why: impl std::fmt::Display) -> Self {
        MapError::new(MapErrorCode::InvalidField, format!("{field}: {why}"))
    }
    pub(crate) fn unknown_topic(platform: Platform, topic: &str) -> Self {
        MapError::new(
            MapErrorCode::UnknownTopic,
            format!("{} topic {topic:?} is not supported", platform.as_str()),
        )
    }
}

impl std::fmt::Display for MapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}
impl std::error::Error for MapError {}

/// Map a verified delivery's body for `topic` (from [`delivery`]) to changes.
///
/// `Ok(vec![])` means a known topic with nothing for Wafa to record (e.g. a Salla
/// `order.shipment.creating`). Unknown topics and unreadable payloads are a [`MapError`].
pub fn map(
    platform: Platform,
    topic: &str,
    body: &[u8],
    ctx: &MapContext,
) -> Result<Vec<Change>, MapError> {
    let v = json::parse_body(body)?;
    let topic = topic.trim();
    match platform {
        Platform::Shopify => shopify::map(topic, &v, ctx),
        Platform::WooCommerce => woo::map(topic, &v, ctx),
        Platform::Salla => salla::map(topic, &v, ctx),
        Platform::Zid => zid::map(topic, &v, ctx),
    }
}

/// The topics [`map`] accepts for a platform (for the server's subscription set-up).
pub fn supported_topics(platform: Platform) -> &'static [&'static str] {
    match platform {
        Platform::Shopify => shopify::TOPICS,
        Platform::WooCommerce => woo::TOPICS,
        Platform::Salla => salla::TOPICS,
        Platform::Zid => zid::TOPICS,
    }
}
