//! The wire shapes of the API: what clients send (`*Input`) and what they get back.
//!
//! Why separate from the domain crate: these are wire formats (serde + OpenAPI schemas) and
//! change with the API; the domain crate's rules do not. Raw strings from outside (phones,
//! emails, amounts) are kept as strings here and parsed into domain newtypes by
//! the validation layer of the server before anything is stored.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// One identity to attach to a customer.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdentityInput {
    /// `email`, `phone` or `external`.
    pub kind: String,
    /// The email, the phone in any common format, or the external id.
    pub value: String,
    /// For `external`: the source (store) the id belongs to.
    #[serde(default)]
    pub source_id: Option<i64>,
    /// A verified email/phone resolves identity: another record with it is the same customer.
    #[serde(default)]
    pub verified: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// `email`, `sms`, `whatsapp` or `push`.
    pub channel: String,
    /// `granted`, `revoked` or `unknown`.
    pub state: String,
    #[serde(default)]
    pub source: Option<String>,
}

/// Create (or resolve to) a customer. Unknown fields are rejected so typos are not lost silently.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    /// Shorthand for an unverified `email` identity (verified when `email_verified`).
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    /// Shorthand for a `phone` identity, any common format; read in the workspace's region.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub phone_verified: bool,
    #[serde(default)]
    pub identities: Vec<IdentityInput>,
    /// `ar` or `en`.
    #[serde(default)]
    pub language: Option<String>,
    /// `YYYY-MM-DD` or `--MM-DD` when the year is unknown.
    #[serde(default)]
    pub birthday: Option<String>,
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub company_id: Option<i64>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    #[serde(default)]
    pub consents: Vec<ConsentInput>,
    /// When the customer first appeared at the source (RFC 3339); defaults to now.
    #[serde(default)]
    pub created_at: Option<String>,
}

/// Change some fields of a customer; absent fields stay as they are, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub first_name: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub last_name: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub language: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub birthday: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub gender: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub city: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub country: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub company_id: Option<Option<i64>>,
    /// Replaces the tag list when present.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Merged into the attributes; a `null` value removes that key.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
    /// Sets these channels' consent.
    #[serde(default)]
    pub consents: Option<Vec<ConsentInput>>,
    /// Identities to add.
    #[serde(default)]
    pub add_identities: Vec<IdentityInput>,
}

/// serde helper: distinguishes an absent field from an explicit `null`.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Ok(Some(Option::deserialize(d)?))
    }
    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Identity {
    pub id: i64,
    pub kind: String,
    pub value: String,
    pub source_id: Option<i64>,
    pub verified: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ConsentView {
    pub channel: String,
    pub state: String,
    pub updated_at: String,
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct MoneyView {
    pub currency: String,
    pub amount_minor: i64,
    /// The amount as a decimal string with the currency's decimals (`"12.345"` for KWD).
    pub amount: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct CustomerStats {
    pub orders_count: i64,
    pub first_order_at: Option<String>,
    pub last_order_at: Option<String>,
    /// Paid, not refunded; cash on delivery once delivered. One entry per currency.
    pub net_revenue: Vec<MoneyView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Customer {
    pub id: i64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub full_name: String,
    pub identities: Vec<Identity>,
    pub language: Option<String>,
    pub birthday: Option<String>,
    pub gender: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub company_id: Option<i64>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    pub consents: Vec<ConsentView>,
    pub created_at: String,
    pub updated_at: String,
    /// Set when this record was merged into another; reads should follow it.
    pub merged_into: Option<i64>,
    pub stats: Option<CustomerStats>,
    /// The latest analytics for this customer (absent until it has a paid order and the
    /// workspace's predictions have been computed).
    pub prediction: Option<Prediction>,
}

/// Outcome of `POST /v1/customers`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerUpsert {
    /// `created`, or how an existing customer was found: `external_id`, `email`, `phone`.
    pub resolution: String,
    pub customer: Customer,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OrderLineInput {
    #[serde(default)]
    pub product_id: Option<i64>,
    #[serde(default)]
    pub sku: Option<String>,
    pub title: String,
    pub quantity: i64,
    /// Price of one unit in minor units of the order's currency.
    pub unit_price_minor: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    pub customer_id: i64,
    #[serde(default)]
    pub source_id: Option<i64>,
    /// The order's id at its source; unique per source.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The number shown to the customer (`#1042`).
    #[serde(default)]
    pub number: Option<String>,
    /// ISO 4217.
    pub currency: String,
    /// Defaults to `placed`.
    #[serde(default)]
    pub status: Option<String>,
    /// `card`, `cash_on_delivery`, `bank_transfer`, `wallet`, `bnpl`, `store_credit`, `other`
    /// (common names such as `cod`, `mada`, `tabby` are understood).
    #[serde(default)]
    pub payment_method: Option<String>,
    /// RFC 3339; defaults to now.
    #[serde(default)]
    pub placed_at: Option<String>,
    #[serde(default)]
    pub lines: Vec<OrderLineInput>,
    #[serde(default)]
    pub discount_minor: i64,
    #[serde(default)]
    pub shipping_minor: i64,
    #[serde(default)]
    pub tax_minor: i64,
    /// Defaults to lines + shipping + tax − discount.
    #[serde(default)]
    pub total_minor: Option<i64>,
    #[serde(default)]
    pub city: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct OrderLine {
    pub product_id: Option<i64>,
    pub sku: Option<String>,
    pub title: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub total_minor: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct StatusChange {
    pub status: String,
    pub at: String,
    pub note: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub source_id: Option<i64>,
    pub external_id: Option<String>,
    pub number: Option<String>,
    pub currency: String,
    pub status: String,
    pub payment_method: String,
    pub placed_at: String,
    pub lines: Vec<OrderLine>,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub shipping_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub refunded_minor: i64,
    pub total: String,
    pub return_reason: Option<String>,
    pub city: Option<String>,
    pub status_history: Vec<StatusChange>,
}

/// Move an order along its lifecycle.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderStatusInput {
    pub status: String,
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// For `returned`: `damaged`, `wrong_item`, `not_as_described`, `size_or_fit`,
    /// `changed_mind`, `late_delivery`, `other`.
    #[serde(default)]
    pub reason: Option<String>,
    /// For `refunded`: how much; defaults to the whole remaining total.
    #[serde(default)]
    pub refund_minor: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    #[serde(default)]
    pub source_id: Option<i64>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub sku: Option<String>,
    pub title: String,
    #[serde(default)]
    pub title_ar: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    pub price_minor: i64,
    pub currency: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Product {
    pub id: i64,
    pub source_id: Option<i64>,
    pub external_id: Option<String>,
    pub sku: Option<String>,
    pub title: String,
    pub title_ar: Option<String>,
    pub category: Option<String>,
    pub price_minor: i64,
    pub currency: String,
    pub url: Option<String>,
    pub image_url: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CartInput {
    #[serde(default)]
    pub customer_id: Option<i64>,
    #[serde(default)]
    pub source_id: Option<i64>,
    #[serde(default)]
    pub external_id: Option<String>,
    pub currency: String,
    #[serde(default)]
    pub lines: Vec<OrderLineInput>,
    /// `open`, `abandoned`, `converted`; defaults to `open`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub checkout_url: Option<String>,
    /// RFC 3339; defaults to now.
    #[serde(default)]
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Cart {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub source_id: Option<i64>,
    pub external_id: Option<String>,
    pub currency: String,
    pub lines: Vec<OrderLine>,
    pub total_minor: i64,
    pub status: String,
    pub checkout_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CompanyInput {
    pub name: String,
    #[serde(default)]
    pub domain: Option<String>,
    /// Commercial registration / VAT number, as merchants record B2B buyers.
    #[serde(default)]
    pub registration_number: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Company {
    pub id: i64,
    pub name: String,
    pub domain: Option<String>,
    pub registration_number: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    pub body: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Note {
    pub id: i64,
    pub customer_id: i64,
    pub body: String,
    pub author_user_id: Option<i64>,
    pub created_at: String,
}

/// A behaviour or business event on the timeline of a customer.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub properties: Map<String, Value>,
    #[serde(default)]
    pub occurred_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct TimelineEntry {
    pub id: i64,
    /// `order_placed`, `order_status`, `note`, `event`, `message`, `merge`, `cart`, …
    pub kind: String,
    pub occurred_at: String,
    /// Human summary (English).
    pub summary: String,
    /// The record behind the entry (order id, note id, …).
    pub ref_id: Option<i64>,
    #[schema(value_type = Object)]
    pub data: Value,
}

/// A page of a list, newest first. `next_cursor` is absent on the last page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A customer's predictions, as stored and served.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Prediction {
    pub customer_id: i64,
    pub model_version: String,
    pub computed_at: String,
    pub currency: String,
    /// Expected discounted revenue over the next 12 months, minor units.
    pub clv_minor: i64,
    pub p_alive: f64,
    pub churn_risk: f64,
    pub expected_orders_90d: f64,
    /// Expected date of the next order (absent for customers more likely gone than active).
    pub expected_next_order: Option<String>,
    pub rfm_recency: i64,
    pub rfm_frequency: i64,
    pub rfm_monetary: i64,
    /// champions, loyal, potential_loyalist, new, promising, need_attention, about_to_sleep,
    /// at_risk, cannot_lose_them, hibernating, lost.
    pub rfm_segment: String,
    pub explanation_en: String,
    pub explanation_ar: String,
}
