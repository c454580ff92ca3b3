//! Salla (webhooks v2: `{event, merchant, created_at, data}`).
//!
//! Order status by `data.status.slug` (custom statuses keep their parent's slug), else by
//! the Arabic name:
//!
//! | slug | name | Wafa |
//! |---|---|---|
//! | `payment_pending` | بانتظار الدفع | placed |
//! | `under_review` | بانتظار المراجعة | placed |
//! | `in_progress` | قيد التنفيذ | paid (placed when cash on delivery) |
//! | `completed` | تم التنفيذ | fulfilled |
//! | `delivering` | جاري التوصيل | shipped |
//! | `shipped` | تم الشحن | shipped |
//! | `delivered` | تم التوصيل | delivered |
//! | `canceled` / `cancelled` | ملغي | cancelled |
//! | `restoring` | قيد الاسترجاع | returned |
//! | `restored` | مسترجع | returned |
//! | `refunded` | مسترد | refunded |
//!
//! `order.cancelled` and `order.refunded` force cancelled/refunded whatever the slug says.
//! Dates: the envelope's `created_at` is a JavaScript date string (`Sun Jun 26 2022 12:21:48
//! GMT+0300`); `data.date` is a PHP date object `{date, timezone}` read with the zone's fixed
//! offset (Gulf zones only; others fall back to the envelope time).

use super::common::{
    has_identity, history, line, line_minor, payment, placed, s, split_name, Person,
};
use super::json::{array, at, bool_of, currency, id, money, money0, quantity, req_id, text, time};
use super::{Change, MapContext, MapError, OrderChange, StatusAt};
use serde_json::{Map, Value};
use wafa_domain::time::parse_timestamp_ms;
use wafa_domain::{Currency, OrderStatus};
use wafa_model::{CartInput, CustomerInput, OrderInput};

pub(crate) const TOPICS: &[&str] = &[
    "order.created",
    "order.updated",
    "order.status.updated",
    "order.payment.updated",
    "order.products.updated",
    "order.total.price.updated",
    "order.coupon.updated",
    "order.shipping.address.updated",
    "order.customer.updated",
    "order.cancelled",
    "order.refunded",
    "order.deleted",
    "order.shipment.creating",
    "order.shipment.created",
    "order.shipment.cancelled",
    "order.shipment.return.creating",
    "order.shipment.return.created",
    "order.shipment.return.cancelled",
    "shipment.creating",
    "shipment.created",
    "shipment.updated",
    "shipment.cancelled",
    "customer.created",
    "customer.updated",
    "customer.login",
    "abandoned.cart",
    "abandoned.cart.updated",
    "abandoned.cart.status.changed",
    "abandoned.cart.purchased",
    "review.added",
];

pub(crate) fn map(topic: &str, v: &Value, ctx: &MapContext) -> Result<Vec<Change>, MapError> {
    if !TOPICS.contains(&topic) {
        return Err(MapError::unknown_topic(super::Platform::Salla, topic));
    }
    let data = at(v, &["data"])
        .filter(|d| d.is_object())
        .ok_or_else(|| MapError::missing("data"))?;
    let event_at = time(at(v, &["created_at"]), "created_at")?;
    let now = || event_at.ok_or_else(|| MapError::missing("created_at"));
    match topic {
        "order.deleted" => Ok(vec![Change::OrderDeleted {
            order_external_id: req_id(at(data, &["id"]), "data.id")?,
            at: event_at,
        }]),
        "order.shipment.creating"
        | "order.shipment.cancelled"
        | "order.shipment.return.creating"
        | "order.shipment.return.cancelled"
        | "shipment.creating"
        | "shipment.cancelled" => Ok(vec![]),
        "order.shipment.created" | "order.shipment.return.created" => {
            let status = if topic == "order.shipment.created" {
                OrderStatus::Shipped
            } else {
                OrderStatus::Returned
            };
            let order_id = id(at(data, &["order_id"]), "data.order_id")?
                .or(id(at(data, &["order", "id"]), "data.order.id")?)
                .or(if is_order(data) {
                    id(at(data, &["id"]), "data.id")?
                } else {
                    None
                })
                .ok_or_else(|| MapError::missing("data.order_id"))?;
            Ok(vec![Change::OrderStatus {
                order_external_id: order_id,
                status,
                at: now()?,
                reason: None,
                return_reason: None,
            }])
        }
        "shipment.created" | "shipment.updated" => {
            let st = s(at(data, &["status"]))
                .unwrap_or_default()
                .to_ascii_lowercase();
            let status = match st.as_str() {
                "delivered" => OrderStatus::Delivered,
                "shipped" | "in_transit" | "delivering" | "in_progress" => OrderStatus::Shipped,
                "returned" => OrderStatus::Returned,
                _ => return Ok(vec![]),
            };
            let Some(order_id) = id(at(data, &["order_id"]), "data.order_id")? else {
                return Ok(vec![]);
            };
            Ok(vec![Change::OrderStatus {
                order_external_id: order_id,
                status,
                at: now()?,
                reason: None,
                return_reason: None,
            }])
        }
        t if t.starts_with("order.") => {
            // `order.status.updated` wraps the order: `{id: <history id>, status: "<label,
            // possibly a merchant's custom one>", order: {id, status: {slug…}, …}}`. The
            // outer id is not the order's; the order's slug wins over the outer label.
            let wrapped = at(data, &["order"]).filter(|o| o.is_object());
            let order_obj = wrapped.unwrap_or(data);
            let statuses = [
                at(order_obj, &["status"]),
                wrapped.and_then(|_| at(data, &["status"])),
            ];
            let forced = match t {
                "order.cancelled" => Some(OrderStatus::Cancelled),
                "order.refunded" => Some(OrderStatus::Refunded),
                _ => None,
            };
            if is_order(order_obj) {
                Ok(vec![Change::UpsertOrder(Box::new(order(
                    order_obj,
                    event_at,
                    &statuses,
                    forced,
                    wrapped.and_then(|_| s(at(data, &["note"]))),
                    ctx,
                )?))])
            } else {
                // Only an id and a status.
                let order_id = match wrapped {
                    Some(w) => req_id(at(w, &["id"]), "data.order.id")?,
                    None => id(at(data, &["order_id"]), "data.order_id")?
                        .or(id(at(data, &["id"]), "data.id")?)
                        .ok_or_else(|| MapError::missing("data.id"))?,
                };
                let status = match forced {
                    Some(f) => f,
                    None => status_from(&statuses, false)?
                        .ok_or_else(|| MapError::missing("data.status"))?,
                };
                Ok(vec![Change::OrderStatus {
                    order_external_id: order_id,
                    status,
                    at: now()?,
                    reason: s(at(data, &["note"])),
                    return_reason: None,
                }])
            }
        }
        "customer.created" | "customer.updated" | "customer.login" => {
            let c = customer(data, ctx)?;
            if !has_identity(&c) {
                return Err(MapError::missing("data.id"));
            }
            let updated = salla_date(at(data, &["updated_at"])).or(event_at);
            let mut out = vec![Change::UpsertCustomer {
                customer: c.clone(),
                updated_at: updated,
            }];
            if topic == "customer.login" {
                let mut props = Map::new();
                for k in ["device", "ip"] {
                    if let Some(x) = s(at(data, &["source", k])) {
                        props.insert(k.into(), Value::String(x));
                    }
                }
                out.push(Change::Event {
                    customer: identities_only(&c),
                    name: "customer_login".into(),
                    properties: props,
                    at: now()?,
                });
            }
            Ok(out)
        }
        "abandoned.cart" | "abandoned.cart.updated" | "abandoned.cart.status.changed" => {
            let st = s(at(data, &["status"]))
                .unwrap_or_default()
                .to_ascii_lowercase();
            if st == "purchased" {
                return Ok(vec![converted(data, now()?)?]);
            }
            cart(data, event_at, ctx)
        }
        "abandoned.cart.purchased" => Ok(vec![converted(data, now()?)?]),
        "review.added" => review(data, event_at, ctx),
        _ => Err(MapError::unknown_topic(super::Platform::Salla, topic)),
    }
}

/// The first known status among several candidates; unknown ones are an error only when
/// none is known.
fn status_from(candidates: &[Option<&Value>], cod: bool) -> Result<Option<OrderStatus>, MapError> {
    let mut first_err = None;
    for c in candidates.iter().flatten() {
        match status_of_value(Some(c), cod) {
            Ok(Some(st)) => return Ok(Some(st)),
            Ok(None) => {}
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

fn is_order(o: &Value) -> bool {
    o.get("items").is_some() || o.get("amounts").is_some() || o.get("customer").is_some()
}

fn norm_ar(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            'إ' | 'أ' | 'آ' => 'ا',
            'ى' => 'ي',
            'ة' => 'ه',
            c => c,
        })
        .filter(|c| *c != '\u{0640}')
        .collect()
}

/// A status slug or Arabic name → Wafa status; `None` for an unknown one.
fn status_of(slug_or_name: &str, cod: bool) -> Option<OrderStatus> {
    let l = slug_or_name.trim().to_ascii_lowercase().replace('-', "_");
    let st = match l.as_str() {
        "payment_pending" | "pending" | "under_review" => OrderStatus::Placed,
        "in_progress" if cod => OrderStatus::Placed,
        "in_progress" => OrderStatus::Paid,
        "completed" => OrderStatus::Fulfilled,
        "delivering" | "shipped" => OrderStatus::Shipped,
        "delivered" => OrderStatus::Delivered,
        "canceled" | "cancelled" => OrderStatus::Cancelled,
        "restoring" | "restored" => OrderStatus::Returned,
        "refunded" => OrderStatus::Refunded,
        _ => match norm_ar(slug_or_name).as_str() {
            "بانتظار الدفع" | "بانتظار المراجعه" => OrderStatus::Placed,
            "قيد التنفيذ" if cod => OrderStatus::Placed,
            "قيد التنفيذ" => OrderStatus::Paid,
            "تم التنفيذ" => OrderStatus::Fulfilled,
            "جاري التوصيل" | "تم الشحن" => OrderStatus::Shipped,
            "تم التوصيل" => OrderStatus::Delivered,
            "ملغي" | "ملغى" => OrderStatus::Cancelled,
            "قيد الاسترجاع" | "مسترجع" => OrderStatus::Returned,
            "مسترد" => OrderStatus::Refunded,
            _ => return None,
        },
    };
    Some(st)
}

/// A status given as `{slug, name}` or a string; an unknown one is an error.
fn status_of_value(v: Option<&Value>, cod: bool) -> Result<Option<OrderStatus>, MapError> {
    let Some(v) = v else { return Ok(None) };
    let candidates: Vec<String> = match v {
        Value::Object(_) => [
            s(at(v, &["slug"])),
            s(at(v, &["customized", "slug"])),
            s(at(v, &["name"])),
            s(at(v, &["customized", "name"])),
        ]
        .into_iter()
        .flatten()
        .collect(),
        other => text(Some(other)).into_iter().collect(),
    };
    if candidates.is_empty() {
        return Ok(None);
    }
    for c in &candidates {
        if let Some(st) = status_of(c, cod) {
            return Ok(Some(st));
        }
    }
    Err(MapError::invalid(
        "status",
        format!("unknown Salla order status {:?}", candidates[0]),
    ))
}

/// Fixed offsets of the zones Salla stores use (no daylight saving).
fn zone_offset(tz: &str) -> Option<&'static str> {
    Some(match tz {
        "Asia/Riyadh" | "Asia/Kuwait" | "Asia/Qatar" | "Asia/Bahrain" | "Asia/Baghdad"
        | "Asia/Aden" => "+0300",
        "Asia/Dubai" | "Asia/Muscat" => "+0400",
        "UTC" | "Etc/UTC" | "GMT" | "Z" => "+0000",
        _ => return None,
    })
}

/// A Salla date: `{date: "2022-06-26 12:21:45.000000", timezone: "Asia/Riyadh"}` or a string.
pub(crate) fn salla_date(v: Option<&Value>) -> Option<i64> {
    let v = v?;
    if let Some(d) = s(at(v, &["date"])) {
        let tz = s(at(v, &["timezone"])).unwrap_or_else(|| "UTC".into());
        let off = match zone_offset(&tz) {
            Some(o) => o.to_owned(),
            // timezone_type 1: the zone is an offset such as "+03:00".
            None if tz.starts_with('+') || tz.starts_with('-') => tz.replace(':', ""),
            None => return None,
        };
        return parse_timestamp_ms(&format!("{d} {off}"));
    }
    text(Some(v)).and_then(|t| parse_timestamp_ms(&t))
}

/// `mobile` (number or string) with `mobile_code` → "+9665…".
fn phone(mobile: Option<&Value>, code: Option<&Value>) -> Option<String> {
    let m = text(mobile)?;
    let m = m.trim();
    if m.starts_with('+') {
        return Some(m.to_owned());
    }
    if let Some(rest) = m.strip_prefix("00") {
        return Some(format!("+{rest}"));
    }
    let code = text(code).unwrap_or_default();
    let digits = code.trim_start_matches('+');
    if digits.is_empty() {
        return Some(m.to_owned());
    }
    if m.starts_with(digits) && m.len() >= digits.len() + 8 {
        return Some(format!("+{m}"));
    }
    Some(format!("+{digits}{}", m.trim_start_matches('0')))
}

fn customer(c: &Value, ctx: &MapContext) -> Result<CustomerInput, MapError> {
    let (first, last) = match (s(at(c, &["first_name"])), s(at(c, &["last_name"]))) {
        (None, None) => split_name(s(at(c, &["name"]))),
        fl => fl,
    };
    let mut out = Person {
        external_id: id(at(c, &["id"]), "customer.id")?,
        first_name: first,
        last_name: last,
        email: s(at(c, &["email"])),
        email_verified: false,
        phone: phone(at(c, &["mobile"]), at(c, &["mobile_code"])),
    }
    .into_input(ctx);
    out.city = s(at(c, &["city"]));
    out.country = s(at(c, &["country_code"])).filter(|x| x.len() == 2);
    out.gender = s(at(c, &["gender"]));
    if let Some(b) = s(at(c, &["birthday", "date"])).or_else(|| s(at(c, &["birthday"]))) {
        out.birthday = b.get(..10).map(str::to_owned);
    }
    if let Some(n) = bool_of(at(c, &["is_notifications_enabled"])) {
        out.attributes
            .insert("salla_notifications_enabled".into(), Value::Bool(n));
    }
    // Salla sends no marketing consent: none is recorded.
    Ok(out)
}

fn identities_only(c: &CustomerInput) -> CustomerInput {
    CustomerInput {
        identities: c.identities.clone(),
        ..Default::default()
    }
}

fn order_currency(o: &Value, ctx: &MapContext) -> Result<Currency, MapError> {
    if let Some(c) = currency(at(o, &["currency"]), "currency")? {
        return Ok(c);
    }
    if let Some(c) = currency(
        at(o, &["amounts", "total", "currency"]),
        "amounts.total.currency",
    )? {
        return Ok(c);
    }
    if let Some(c) = currency(at(o, &["total", "currency"]), "total.currency")? {
        return Ok(c);
    }
    match &ctx.default_currency {
        Some(c) => Currency::parse(c).map_err(|e| MapError::invalid("currency", e.detail)),
        None => Err(MapError::missing("currency")),
    }
}

fn order(
    o: &Value,
    event_at: Option<i64>,
    statuses: &[Option<&Value>],
    forced: Option<OrderStatus>,
    status_reason: Option<String>,
    ctx: &MapContext,
) -> Result<OrderChange, MapError> {
    let external_id = req_id(at(o, &["id"]), "data.id")?;
    let cur = order_currency(o, ctx)?;
    let placed_at = salla_date(at(o, &["date"]))
        .or(event_at)
        .ok_or_else(|| MapError::missing("data.date"))?;
    let cust_v = at(o, &["customer"]).ok_or_else(|| MapError::missing("data.customer"))?;
    let cust = customer(cust_v, ctx)?;
    if !has_identity(&cust) {
        return Err(MapError::missing("data.customer (no id, email or mobile)"));
    }

    let mut lines = Vec::new();
    let mut products = Vec::new();
    for (i, it) in array(at(o, &["items"])).iter().enumerate() {
        let f = format!("items[{i}]");
        let (l, p) = line(
            ctx,
            cur,
            &f,
            s(at(it, &["name"])).or_else(|| s(at(it, &["product", "name"]))),
            s(at(it, &["sku"])),
            at(it, &["quantity"]),
            at(it, &["amounts", "price_without_tax", "amount"])
                .or(at(it, &["product", "price", "amount"])),
            id(at(it, &["product", "id"]), &format!("{f}.product.id"))?
                .or(id(at(it, &["product_id"]), &format!("{f}.product_id"))?),
        )?;
        // A line of no items (removed in an edit) is dropped, not refused.
        if l.quantity > 0 {
            lines.push(l);
            products.push(p);
        }
    }
    let a = |p: &[&str]| {
        let mut full = vec!["amounts"];
        full.extend_from_slice(p);
        at(o, &full).cloned()
    };
    let mut discount = 0i64;
    for (i, d) in array(at(o, &["amounts", "discounts"])).iter().enumerate() {
        discount = discount.saturating_add(
            money0(
                at(d, &["discount"]),
                cur,
                &format!("amounts.discounts[{i}].discount"),
            )?
            .abs(),
        );
    }
    // The cash-on-delivery fee is counted with shipping so that the parts add up to the total.
    let shipping = money0(
        a(&["shipping_cost", "amount"]).as_ref(),
        cur,
        "amounts.shipping_cost",
    )?
    .saturating_add(money0(
        a(&["cash_on_delivery", "amount"]).as_ref(),
        cur,
        "amounts.cash_on_delivery",
    )?);
    let tax = money0(
        a(&["tax", "amount", "amount"]).as_ref(),
        cur,
        "amounts.tax.amount",
    )?;
    let total = money(a(&["total", "amount"]).as_ref(), cur, "amounts.total")?;

    let method = s(at(o, &["payment_method"]));
    let payment_method = method.as_deref().map(payment);
    let cod = payment_method.as_deref() == Some("cash_on_delivery");
    let status = match forced {
        Some(st) => st,
        None => status_from(statuses, cod)?.unwrap_or(OrderStatus::Placed),
    };
    let status_at = if status == OrderStatus::Placed {
        placed_at
    } else {
        event_at.unwrap_or(placed_at)
    };
    let points = vec![StatusAt {
        status: OrderStatus::Placed,
        at: placed_at,
    }];
    let refunded = if status == OrderStatus::Refunded {
        total.unwrap_or(0)
    } else {
        0
    };
    let city = s(at(o, &["shipping", "address", "city"])).or_else(|| s(at(cust_v, &["city"])));
    let order = OrderInput {
        customer_id: 0,
        source_id: ctx.source_id,
        external_id: Some(external_id),
        number: s(at(o, &["reference_id"])),
        currency: cur.code().to_owned(),
        status: Some(status.as_str().to_owned()),
        payment_method,
        placed_at: placed(placed_at),
        lines,
        discount_minor: discount,
        shipping_minor: shipping,
        tax_minor: tax,
        total_minor: total,
        city,
    };
    Ok(OrderChange {
        customer: cust,
        order,
        line_products: products,
        status,
        status_at,
        history: history(points, status, status_at),
        status_reason,
        refunded_minor: refunded,
        return_reason: None,
        updated_at: salla_date(at(o, &["updated_at"])).or(event_at),
    })
}

fn cart(d: &Value, event_at: Option<i64>, ctx: &MapContext) -> Result<Vec<Change>, MapError> {
    let cart_id = req_id(at(d, &["id"]), "data.id")?;
    let cur = order_currency(d, ctx)?;
    let cust = match at(d, &["customer"]) {
        Some(c) => Some(customer(c, ctx)?).filter(has_identity),
        None => None,
    };
    let mut lines = Vec::new();
    let mut products = Vec::new();
    for (i, it) in array(at(d, &["items"])).iter().enumerate() {
        let f = format!("items[{i}]");
        let qty = quantity(at(it, &["quantity"]), &format!("{f}.quantity"))?;
        // Unit price: price_without_tax, else the line total / quantity when exact.
        let unit = match money(
            at(it, &["amounts", "price_without_tax", "amount"])
                .or(at(it, &["price", "amount"]))
                .or(at(it, &["price"]).filter(|p| !p.is_object())),
            cur,
            &format!("{f}.price"),
        )? {
            Some(u) => u,
            None => match money(
                at(it, &["amounts", "total", "amount"]),
                cur,
                &format!("{f}.amounts.total"),
            )? {
                Some(t) if qty > 0 && t % qty == 0 => t / qty,
                _ => 0,
            },
        };
        let (l, p) = line_minor(
            ctx,
            cur,
            s(at(it, &["name"])).or_else(|| s(at(it, &["product", "name"]))),
            s(at(it, &["sku"])),
            qty,
            unit,
            id(at(it, &["product_id"]), &format!("{f}.product_id"))?
                .or(id(at(it, &["product", "id"]), &format!("{f}.product.id"))?),
        )?;
        // A line of no items (removed in an edit) is dropped, not refused.
        if l.quantity > 0 {
            lines.push(l);
            products.push(p);
        }
    }
    let updated = salla_date(at(d, &["updated_at"])).or(event_at);
    Ok(vec![Change::UpsertCart {
        customer: cust,
        cart: CartInput {
            customer_id: None,
            source_id: ctx.source_id,
            external_id: Some(cart_id),
            currency: cur.code().to_owned(),
            lines,
            status: Some("abandoned".into()),
            checkout_url: s(at(d, &["checkout_url"])),
            updated_at: updated.and_then(placed),
        },
        line_products: products,
    }])
}

fn converted(d: &Value, at_ms: i64) -> Result<Change, MapError> {
    Ok(Change::CartConverted {
        cart_external_id: req_id(at(d, &["id"]), "data.id")?,
        order_external_id: id(at(d, &["order_id"]), "data.order_id")?,
        at: at_ms,
    })
}

fn review(d: &Value, event_at: Option<i64>, ctx: &MapContext) -> Result<Vec<Change>, MapError> {
    let rating = match at(d, &["rating"]) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(x)) => x.trim().parse::<u64>().ok(),
        _ => None,
    }
    .ok_or_else(|| MapError::missing("data.rating"))?;
    if !(1..=5).contains(&rating) {
        return Err(MapError::invalid(
            "data.rating",
            format!("{rating} is not 1..5"),
        ));
    }
    let cust = match at(d, &["customer"]) {
        Some(c) => Some(customer(c, ctx)?).filter(has_identity),
        None => None,
    };
    let when = salla_date(at(d, &["created_at"]))
        .or(event_at)
        .ok_or_else(|| MapError::missing("created_at"))?;
    Ok(vec![Change::Review {
        customer: cust,
        product_external_id: id(at(d, &["product", "id"]), "data.product.id")?
            .or(id(at(d, &["product_id"]), "data.product_id")?),
        order_external_id: id(at(d, &["order_id"]), "data.order_id")?,
        rating: rating as u8,
        text: s(at(d, &["content"])).or_else(|| s(at(d, &["comment"]))),
        at: when,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> MapContext {
        MapContext {
            source_id: Some(3),
            default_currency: Some("SAR".into()),
        }
    }

    #[test]
    fn status_table() {
        use OrderStatus::*;
        for (slug, cod, want) in [
            ("payment_pending", false, Placed),
            ("under_review", false, Placed),
            ("in_progress", false, Paid),
            ("in_progress", true, Placed),
            ("completed", false, Fulfilled),
            ("delivering", false, Shipped),
            ("shipped", false, Shipped),
            ("delivered", true, Delivered),
            ("canceled", false, Cancelled),
            ("restoring", false, Returned),
            ("restored", false, Returned),
            ("refunded", false, Refunded),
            ("بإنتظار المراجعة", false, Placed),
            ("قيد التنفيذ", false, Paid),
            ("تم التنفيذ", false, Fulfilled),
            ("جاري التوصيل", false, Shipped),
            ("تم التوصيل", false, Delivered),
            ("ملغي", false, Cancelled),
            ("مسترجع", false, Returned),
        ] {
            assert_eq!(status_of(slug, cod), Some(want), "{slug}");
        }
        assert_eq!(status_of("teleported", false), None);
    }

    #[test]
    fn phones_and_dates() {
        let p = |m: Value, c: &str| phone(Some(&m), Some(&json!(c)));
        assert_eq!(
            p(json!(501806978), "+966").as_deref(),
            Some("+966501806978")
        );
        assert_eq!(
            p(json!("0501806978"), "+966").as_deref(),
            Some("+966501806978")
        );
        assert_eq!(
            p(json!("966501806978"), "+966").as_deref(),
            Some("+966501806978")
        );
        assert_eq!(
            p(json!("+971501960991"), "+966").as_deref(),
            Some("+971501960991")
        );
        assert_eq!(
            p(json!("00201012345678"), "+20").as_deref(),
            Some("+201012345678")
        );
        let d = json!({"date": "2022-06-26 12:21:45.000000", "timezone_type": 3, "timezone": "Asia/Riyadh"});
        assert_eq!(
            salla_date(Some(&d)),
            parse_timestamp_ms("2022-06-26T09:21:45Z")
        );
        let d =
            json!({"date": "2022-06-26 12:21:45.000000", "timezone_type": 1, "timezone": "+04:00"});
        assert_eq!(
            salla_date(Some(&d)),
            parse_timestamp_ms("2022-06-26T08:21:45Z")
        );
        let d = json!({"date": "2022-06-26 12:21:45.000000", "timezone": "Africa/Cairo"});
        assert_eq!(
            salla_date(Some(&d)),
            None,
            "zones with daylight saving are not guessed"
        );
    }

    #[test]
    fn status_only_wrapper_uses_the_order_id() {
        let v = json!({
            "event": "order.status.updated",
            "created_at": "Thu Mar 07 2024 21:05:10 GMT+0300",
            "data": {"id": 198290473, "status": "تم التجهيز للشحن (مخصص)",
                     "order": {"id": 629263027, "status": {"slug": "completed", "name": "done"}}}
        });
        let out = map("order.status.updated", &v, &ctx()).unwrap();
        assert_eq!(
            out,
            vec![Change::OrderStatus {
                order_external_id: "629263027".into(),
                status: OrderStatus::Fulfilled,
                at: parse_timestamp_ms("2024-03-07T18:05:10Z").unwrap(),
                reason: None,
                return_reason: None,
            }]
        );
        // A bare id + slug.
        let v = json!({"event": "order.status.updated", "created_at": "2024-03-07T18:05:10Z",
                       "data": {"id": 5, "status": {"slug": "delivering"}}});
        let out = map("order.status.updated", &v, &ctx()).unwrap();
        assert!(
            matches!(&out[..], [Change::OrderStatus { order_external_id, status: OrderStatus::Shipped, .. }] if order_external_id == "5")
        );
        // order.cancelled forces cancelled whatever the slug.
        let v = json!({"event": "order.cancelled", "created_at": "2024-03-07T18:05:10Z",
                       "data": {"id": 5, "status": {"slug": "under_review"}}});
        let out = map("order.cancelled", &v, &ctx()).unwrap();
        assert!(matches!(
            &out[..],
            [Change::OrderStatus {
                status: OrderStatus::Cancelled,
                ..
            }]
        ));
        // Shipments.
        let v = json!({"event": "shipment.updated", "created_at": "2024-03-07T18:05:10Z",
                       "data": {"id": 77, "order_id": 5, "status": "delivered"}});
        let out = map("shipment.updated", &v, &ctx()).unwrap();
        assert!(matches!(
            &out[..],
            [Change::OrderStatus {
                status: OrderStatus::Delivered,
                ..
            }]
        ));
        let v = json!({"event": "order.shipment.return.created", "created_at": "2024-03-07T18:05:10Z",
                       "data": {"id": 78, "order_id": 5}});
        let out = map("order.shipment.return.created", &v, &ctx()).unwrap();
        assert!(matches!(
            &out[..],
            [Change::OrderStatus {
                status: OrderStatus::Returned,
                ..
            }]
        ));
        assert!(map("order.shipment.creating", &v, &ctx())
            .unwrap()
            .is_empty());
        // No data, unknown topic.
        let e = map("order.created", &json!({"event": "order.created"}), &ctx()).unwrap_err();
        assert_eq!(e.code, super::super::MapErrorCode::MissingField);
        let e = map("app.installed", &json!({"data": {}}), &ctx()).unwrap_err();
        assert_eq!(e.code, super::super::MapErrorCode::UnknownTopic);
    }

    #[test]
    fn refunded_order_counts_its_total_as_refunded() {
        let v = json!({
            "event": "order.refunded", "created_at": "2024-03-10T10:00:00Z",
            "data": {"id": 9, "currency": "SAR", "payment_method": "mada",
                     "date": {"date": "2024-03-01 10:00:00.000000", "timezone": "Asia/Riyadh"},
                     "status": {"slug": "restored"},
                     "amounts": {"total": {"amount": 99.5, "currency": "SAR"}},
                     "customer": {"id": 1, "mobile": 501234567, "mobile_code": "+966"},
                     "items": []}
        });
        let out = map("order.refunded", &v, &ctx()).unwrap();
        let Change::UpsertOrder(o) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(o.status, OrderStatus::Refunded);
        assert_eq!(o.refunded_minor, 9950);
        assert_eq!(o.order.payment_method.as_deref(), Some("card"));
    }
}
