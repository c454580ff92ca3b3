//! Shopify (REST webhook payloads, API 2024+).
//!
//! Status: `cancelled_at` → cancelled (refunded when `financial_status` is `refunded`);
//! `financial_status` `refunded` → refunded, `voided` → cancelled; else the furthest of the
//! fulfilment evidence (`fulfillments[].status == success` → fulfilled at its `created_at`;
//! `shipment_status` `confirmed`/`in_transit`/`out_for_delivery`/`attempted_delivery` →
//! shipped, `delivered` → delivered, at its `updated_at`), `paid`/`partially_refunded`/
//! `partially_paid` → paid at `processed_at`, otherwise (`pending`, `authorized`) placed.

use super::common::{consent, has_identity, history, line, payment, placed, s, Person};
use super::json::{array, at, bool_of, currency, id, money, money0, req_id, time};
use super::{Change, MapContext, MapError, OrderChange, StatusAt};
use serde_json::Value;
use wafa_domain::{Currency, OrderStatus};
use wafa_model::{CartInput, CustomerInput, OrderInput};

pub(crate) const TOPICS: &[&str] = &[
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/fulfilled",
    "orders/partially_fulfilled",
    "orders/cancelled",
    "orders/delete",
    "refunds/create",
    "customers/create",
    "customers/update",
    "customers/enable",
    "customers/disable",
    "customers/delete",
    "checkouts/create",
    "checkouts/update",
    "checkouts/delete",
];

pub(crate) fn map(topic: &str, v: &Value, ctx: &MapContext) -> Result<Vec<Change>, MapError> {
    match topic {
        "orders/create"
        | "orders/updated"
        | "orders/paid"
        | "orders/fulfilled"
        | "orders/partially_fulfilled"
        | "orders/cancelled" => Ok(vec![Change::UpsertOrder(Box::new(order(v, ctx)?))]),
        "orders/delete" => Ok(vec![Change::OrderDeleted {
            order_external_id: req_id(at(v, &["id"]), "id")?,
            at: None,
        }]),
        "refunds/create" => refund(v, ctx),
        "customers/create" | "customers/update" | "customers/enable" | "customers/disable" => {
            let c = customer(v, ctx)?;
            if !has_identity(&c) {
                return Err(MapError::missing("id"));
            }
            Ok(vec![Change::UpsertCustomer {
                customer: c,
                updated_at: time(at(v, &["updated_at"]), "updated_at")?,
            }])
        }
        // A deletion at the store does not delete the CRM profile; checkouts expire.
        "customers/delete" | "checkouts/delete" => Ok(vec![]),
        "checkouts/create" | "checkouts/update" => checkout(v, ctx),
        _ => Err(MapError::unknown_topic(super::Platform::Shopify, topic)),
    }
}

/// Shopify's consent objects: `subscribed` → granted; `unsubscribed`/`not_subscribed` →
/// revoked (no permission); `pending`, `redacted`, `invalid` → nothing recorded.
fn consent_state(v: Option<&Value>) -> Option<bool> {
    match s(at(v?, &["state"]))?.to_ascii_lowercase().as_str() {
        "subscribed" => Some(true),
        "unsubscribed" | "not_subscribed" => Some(false),
        _ => None,
    }
}

fn customer(c: &Value, ctx: &MapContext) -> Result<CustomerInput, MapError> {
    let addr = at(c, &["default_address"]);
    let mut out = Person {
        external_id: id(at(c, &["id"]), "customer.id")?,
        first_name: s(at(c, &["first_name"])),
        last_name: s(at(c, &["last_name"])),
        email: s(at(c, &["email"])),
        email_verified: bool_of(at(c, &["verified_email"])).unwrap_or(false),
        phone: s(at(c, &["phone"])).or_else(|| addr.and_then(|a| s(at(a, &["phone"])))),
    }
    .into_input(ctx);
    if let Some(g) = consent_state(at(c, &["email_marketing_consent"])) {
        consent(&mut out, "email", g, "shopify");
    } else if let Some(b) = bool_of(at(c, &["accepts_marketing"])) {
        consent(&mut out, "email", b, "shopify");
    }
    if let Some(g) = consent_state(at(c, &["sms_marketing_consent"])) {
        consent(&mut out, "sms", g, "shopify");
    }
    if let Some(a) = addr {
        out.city = s(at(a, &["city"]));
        out.country = s(at(a, &["country_code"])).filter(|c| c.len() == 2);
    }
    if let Some(tags) = s(at(c, &["tags"])) {
        out.tags = tags
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
    }
    if let Some(note) = s(at(c, &["note"])) {
        out.attributes
            .insert("shopify_note".into(), Value::String(note));
    }
    if let Some(ms) = time(at(c, &["created_at"]), "created_at")? {
        out.created_at = placed(ms);
    }
    Ok(out)
}

fn shop_currency(v: &Value, ctx: &MapContext) -> Result<Currency, MapError> {
    currency(at(v, &["currency"]), "currency")?
        .or(currency(
            at(v, &["presentment_currency"]),
            "presentment_currency",
        )?)
        .map(Ok)
        .unwrap_or_else(|| default_currency(ctx))
}

fn default_currency(ctx: &MapContext) -> Result<Currency, MapError> {
    match &ctx.default_currency {
        Some(c) => Currency::parse(c).map_err(|e| MapError::invalid("currency", e.detail)),
        None => Err(MapError::missing("currency")),
    }
}

fn order(v: &Value, ctx: &MapContext) -> Result<OrderChange, MapError> {
    let external_id = req_id(at(v, &["id"]), "id")?;
    let cur = shop_currency(v, ctx)?;
    let created = time(at(v, &["created_at"]), "created_at")?
        .ok_or_else(|| MapError::missing("created_at"))?;
    let updated = time(at(v, &["updated_at"]), "updated_at")?;

    // Customer: the customer object, completed from the order's contact fields.
    let mut cust = match at(v, &["customer"]) {
        Some(c) => customer(c, ctx)?,
        None => CustomerInput::default(),
    };
    let billing = at(v, &["billing_address"]);
    let shipping_addr = at(v, &["shipping_address"]);
    if !cust.identities.iter().any(|i| i.kind == "email") {
        let extra = Person {
            external_id: None,
            first_name: None,
            last_name: None,
            email: s(at(v, &["email"])).or_else(|| s(at(v, &["contact_email"]))),
            email_verified: false,
            phone: None,
        }
        .into_input(ctx);
        cust.identities.extend(extra.identities);
    }
    if !cust.identities.iter().any(|i| i.kind == "phone") {
        let phone = s(at(v, &["phone"]))
            .or_else(|| billing.and_then(|b| s(at(b, &["phone"]))))
            .or_else(|| shipping_addr.and_then(|b| s(at(b, &["phone"]))));
        let extra = Person {
            external_id: None,
            first_name: None,
            last_name: None,
            email: None,
            email_verified: false,
            phone,
        }
        .into_input(ctx);
        cust.identities.extend(extra.identities);
    }
    if cust.first_name.is_none() && cust.last_name.is_none() {
        if let Some(b) = billing.or(shipping_addr) {
            cust.first_name = s(at(b, &["first_name"]));
            cust.last_name = s(at(b, &["last_name"]));
        }
    }
    if !cust.consents.iter().any(|c| c.channel == "email")
        && bool_of(at(v, &["buyer_accepts_marketing"])) == Some(true)
    {
        consent(&mut cust, "email", true, "shopify");
    }
    if !has_identity(&cust) {
        return Err(MapError::missing("customer (no id, email or phone)"));
    }

    let mut lines = Vec::new();
    let mut products = Vec::new();
    for (i, li) in array(at(v, &["line_items"])).iter().enumerate() {
        let f = format!("line_items[{i}]");
        let (l, p) = line(
            ctx,
            cur,
            &f,
            s(at(li, &["title"])).or_else(|| s(at(li, &["name"]))),
            s(at(li, &["sku"])),
            at(li, &["quantity"]),
            at(li, &["price"]),
            id(at(li, &["product_id"]), &format!("{f}.product_id"))?,
        )?;
        // A line of no items (removed in an edit) is dropped, not refused.
        if l.quantity > 0 {
            lines.push(l);
            products.push(p);
        }
    }
    let shipping = match money(
        at(v, &["total_shipping_price_set", "shop_money", "amount"]),
        cur,
        "total_shipping_price_set",
    )? {
        Some(m) => m,
        None => {
            let mut sum = 0i64;
            for (i, sl) in array(at(v, &["shipping_lines"])).iter().enumerate() {
                sum = sum.saturating_add(money0(
                    at(sl, &["price"]),
                    cur,
                    &format!("shipping_lines[{i}].price"),
                )?);
            }
            sum
        }
    };

    // Refunds so far.
    let mut refunded = 0i64;
    let mut last_refund_at = None;
    for (i, r) in array(at(v, &["refunds"])).iter().enumerate() {
        refunded = refunded.saturating_add(refund_amount(r, cur, &format!("refunds[{i}]"))?);
        let t = time(at(r, &["created_at"]), "refunds.created_at")?;
        last_refund_at = last_refund_at.max(t);
    }

    // Payment method: the gateways Wafa recognises.
    let gateways: Vec<String> = array(at(v, &["payment_gateway_names"]))
        .iter()
        .filter_map(|g| s(Some(g)))
        .chain(s(at(v, &["gateway"])))
        .collect();
    // Cash on delivery wins (it decides when revenue counts), e.g. gift card + COD.
    let methods: Vec<String> = gateways.iter().map(|g| payment(g)).collect();
    let payment_method = methods
        .iter()
        .find(|p| *p == "cash_on_delivery")
        .or_else(|| methods.iter().find(|p| *p != "other"))
        .or(methods.first())
        .cloned();

    let (status, status_at, hist) = status(v, created, updated, last_refund_at)?;
    let city = shipping_addr
        .and_then(|a| s(at(a, &["city"])))
        .or_else(|| billing.and_then(|a| s(at(a, &["city"]))));
    let order = OrderInput {
        customer_id: 0,
        source_id: ctx.source_id,
        external_id: Some(external_id),
        number: s(at(v, &["name"])).or_else(|| s(at(v, &["order_number"]))),
        currency: cur.code().to_owned(),
        status: Some(status.as_str().to_owned()),
        payment_method,
        placed_at: placed(created),
        lines,
        discount_minor: money0(at(v, &["total_discounts"]), cur, "total_discounts")?,
        shipping_minor: shipping,
        tax_minor: money0(at(v, &["total_tax"]), cur, "total_tax")?,
        total_minor: money(at(v, &["total_price"]), cur, "total_price")?,
        city,
    };
    Ok(OrderChange {
        customer: cust,
        order,
        line_products: products,
        status,
        status_at,
        history: hist,
        status_reason: s(at(v, &["cancel_reason"]))
            .filter(|_| status == OrderStatus::Cancelled || status == OrderStatus::Refunded),
        refunded_minor: refunded,
        return_reason: None,
        updated_at: updated,
    })
}

fn status(
    v: &Value,
    created: i64,
    updated: Option<i64>,
    last_refund_at: Option<i64>,
) -> Result<(OrderStatus, i64, Vec<StatusAt>), MapError> {
    let fin = s(at(v, &["financial_status"]))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let upd = updated.unwrap_or(created);
    let mut points = vec![StatusAt {
        status: OrderStatus::Placed,
        at: created,
    }];
    if matches!(
        fin.as_str(),
        "paid" | "partially_refunded" | "refunded" | "partially_paid"
    ) {
        let t = time(at(v, &["processed_at"]), "processed_at")?.unwrap_or(created);
        points.push(StatusAt {
            status: OrderStatus::Paid,
            at: t,
        });
    }
    for (i, f) in array(at(v, &["fulfillments"])).iter().enumerate() {
        let fs = s(at(f, &["status"]))
            .unwrap_or_default()
            .to_ascii_lowercase();
        if fs != "success" {
            continue;
        }
        let fc = time(
            at(f, &["created_at"]),
            &format!("fulfillments[{i}].created_at"),
        )?
        .unwrap_or(upd);
        let fu = time(
            at(f, &["updated_at"]),
            &format!("fulfillments[{i}].updated_at"),
        )?
        .unwrap_or(fc);
        points.push(StatusAt {
            status: OrderStatus::Fulfilled,
            at: fc,
        });
        match s(at(f, &["shipment_status"]))
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str()
        {
            "confirmed" | "in_transit" | "out_for_delivery" | "attempted_delivery" => {
                points.push(StatusAt {
                    status: OrderStatus::Shipped,
                    at: fu,
                })
            }
            "delivered" => points.push(StatusAt {
                status: OrderStatus::Delivered,
                at: fu,
            }),
            _ => {}
        }
    }
    if s(at(v, &["fulfillment_status"])).as_deref() == Some("fulfilled")
        && !points.iter().any(|p| p.status == OrderStatus::Fulfilled)
    {
        points.push(StatusAt {
            status: OrderStatus::Fulfilled,
            at: upd,
        });
    }
    let cancelled_at = time(at(v, &["cancelled_at"]), "cancelled_at")?;
    let (current, at_ms) = if fin == "refunded" {
        if let Some(c) = cancelled_at {
            points.push(StatusAt {
                status: OrderStatus::Cancelled,
                at: c,
            });
        }
        (OrderStatus::Refunded, last_refund_at.unwrap_or(upd))
    } else if let Some(c) = cancelled_at {
        (OrderStatus::Cancelled, c)
    } else if fin == "voided" {
        (OrderStatus::Cancelled, upd)
    } else {
        let best = points
            .iter()
            .max_by_key(|p| (p.status.rank(), p.at))
            .cloned()
            .unwrap_or(StatusAt {
                status: OrderStatus::Placed,
                at: created,
            });
        (best.status, best.at)
    };
    Ok((current, at_ms, history(points, current, at_ms)))
}

/// Money of a refund: successful `refund` transactions.
fn refund_amount(r: &Value, cur: Currency, field: &str) -> Result<i64, MapError> {
    let mut sum = 0i64;
    for (i, t) in array(at(r, &["transactions"])).iter().enumerate() {
        let kind = s(at(t, &["kind"])).unwrap_or_default();
        let st = s(at(t, &["status"])).unwrap_or_default();
        if kind == "refund" && st == "success" {
            sum = sum.saturating_add(money0(
                at(t, &["amount"]),
                cur,
                &format!("{field}.transactions[{i}].amount"),
            )?);
        }
    }
    Ok(sum)
}

fn refund(v: &Value, ctx: &MapContext) -> Result<Vec<Change>, MapError> {
    let order_id = req_id(at(v, &["order_id"]), "order_id")?;
    let txs = array(at(v, &["transactions"]));
    let mut cur = None;
    for t in txs {
        if let Some(c) = currency(at(t, &["currency"]), "transactions.currency")? {
            cur = Some(c);
            break;
        }
    }
    if cur.is_none() {
        for rl in array(at(v, &["refund_line_items"])) {
            if let Some(c) = currency(
                at(rl, &["subtotal_set", "shop_money", "currency_code"]),
                "refund_line_items.subtotal_set",
            )? {
                cur = Some(c);
                break;
            }
        }
    }
    let cur = match cur {
        Some(c) => c,
        None => default_currency(ctx)?,
    };
    let amount = refund_amount(v, cur, "refund")?;
    if amount == 0 {
        return Ok(vec![]);
    }
    let when = time(at(v, &["processed_at"]), "processed_at")?
        .or(time(at(v, &["created_at"]), "created_at")?)
        .ok_or_else(|| MapError::missing("created_at"))?;
    Ok(vec![Change::Refund {
        order_external_id: order_id,
        refund_external_id: id(at(v, &["id"]), "id")?,
        amount_minor: amount,
        currency: cur.code().to_owned(),
        at: when,
        reason: s(at(v, &["note"])),
    }])
}

/// An (abandoned) checkout → a cart; a completed one also → converted.
fn checkout(v: &Value, ctx: &MapContext) -> Result<Vec<Change>, MapError> {
    let cart_id = req_id(at(v, &["id"]), "id")?;
    let cur = match currency(at(v, &["currency"]), "currency")? {
        Some(c) => c,
        None => shop_currency(v, ctx)?,
    };
    let mut cust = match at(v, &["customer"]) {
        Some(c) => customer(c, ctx)?,
        None => CustomerInput::default(),
    };
    if cust.identities.is_empty() {
        cust = Person {
            external_id: None,
            first_name: at(v, &["billing_address"]).and_then(|b| s(at(b, &["first_name"]))),
            last_name: at(v, &["billing_address"]).and_then(|b| s(at(b, &["last_name"]))),
            email: s(at(v, &["email"])),
            email_verified: false,
            phone: s(at(v, &["phone"])),
        }
        .into_input(ctx);
    }
    if bool_of(at(v, &["buyer_accepts_marketing"])) == Some(true) {
        consent(&mut cust, "email", true, "shopify");
    }
    let mut lines = Vec::new();
    let mut products = Vec::new();
    for (i, li) in array(at(v, &["line_items"])).iter().enumerate() {
        let f = format!("line_items[{i}]");
        let (l, p) = line(
            ctx,
            cur,
            &f,
            s(at(li, &["title"])),
            s(at(li, &["sku"])),
            at(li, &["quantity"]),
            at(li, &["price"]),
            id(at(li, &["product_id"]), &format!("{f}.product_id"))?,
        )?;
        // A line of no items (removed in an edit) is dropped, not refused.
        if l.quantity > 0 {
            lines.push(l);
            products.push(p);
        }
    }
    let updated =
        time(at(v, &["updated_at"]), "updated_at")?.or(time(at(v, &["created_at"]), "created_at")?);
    let completed = time(at(v, &["completed_at"]), "completed_at")?;
    let cart = CartInput {
        customer_id: None,
        source_id: ctx.source_id,
        external_id: Some(cart_id.clone()),
        currency: cur.code().to_owned(),
        lines,
        status: Some(
            if completed.is_some() {
                "converted"
            } else {
                "open"
            }
            .into(),
        ),
        checkout_url: s(at(v, &["abandoned_checkout_url"])),
        updated_at: updated.and_then(placed),
    };
    let mut out = vec![Change::UpsertCart {
        customer: has_identity(&cust).then_some(cust),
        cart,
        line_products: products,
    }];
    if let Some(t) = completed {
        out.push(Change::CartConverted {
            cart_external_id: cart_id,
            order_external_id: id(at(v, &["order_id"]), "order_id")?,
            at: t,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wafa_domain::time::parse_timestamp_ms;

    fn base() -> Value {
        json!({
            "id": 9007199254740993u64, "currency": "SAR", "created_at": "2024-01-01T10:00:00Z",
            "updated_at": "2024-01-05T10:00:00Z", "processed_at": "2024-01-01T10:00:05Z",
            "financial_status": "paid", "email": "a@example.sa", "total_price": "100.00",
            "line_items": [{"title": "x", "quantity": 1, "price": "100.00", "product_id": 1}]
        })
    }

    #[test]
    fn consent_states() {
        assert_eq!(
            consent_state(Some(&json!({"state": "subscribed"}))),
            Some(true)
        );
        assert_eq!(
            consent_state(Some(&json!({"state": "unsubscribed"}))),
            Some(false)
        );
        assert_eq!(
            consent_state(Some(&json!({"state": "not_subscribed"}))),
            Some(false)
        );
        assert_eq!(consent_state(Some(&json!({"state": "pending"}))), None);
        assert_eq!(consent_state(None), None);
    }

    #[test]
    fn statuses_from_financial_and_fulfilment() {
        let ctx = MapContext::default();
        let t = |s: &str| parse_timestamp_ms(s).unwrap();
        let o = order(&base(), &ctx).unwrap();
        assert_eq!(
            o.order.external_id.as_deref(),
            Some("9007199254740993"),
            "2^53 + 1, exact"
        );
        assert_eq!(o.status, OrderStatus::Paid);
        assert_eq!(o.status_at, t("2024-01-01T10:00:05Z"));
        assert_eq!(o.order.payment_method, None);

        let mut v = base();
        v["fulfillments"] = json!([{"status": "success", "created_at": "2024-01-02T10:00:00Z",
                                    "updated_at": "2024-01-03T10:00:00Z", "shipment_status": "in_transit"},
                                   {"status": "cancelled", "created_at": "2024-01-02T09:00:00Z",
                                    "shipment_status": "delivered"}]);
        let o = order(&v, &ctx).unwrap();
        assert_eq!(o.status, OrderStatus::Shipped);
        assert_eq!(
            o.history.iter().map(|h| h.status).collect::<Vec<_>>(),
            vec![
                OrderStatus::Placed,
                OrderStatus::Paid,
                OrderStatus::Fulfilled,
                OrderStatus::Shipped
            ]
        );

        let mut v = base();
        v["financial_status"] = json!("partially_refunded");
        v["refunds"] = json!([{"created_at": "2024-01-04T10:00:00Z", "transactions": [
            {"kind": "refund", "status": "success", "amount": "30.00"},
            {"kind": "refund", "status": "failure", "amount": "70.00"}]}]);
        let o = order(&v, &ctx).unwrap();
        assert_eq!(o.status, OrderStatus::Paid);
        assert_eq!(o.refunded_minor, 3000);

        v["financial_status"] = json!("refunded");
        let o = order(&v, &ctx).unwrap();
        assert_eq!(o.status, OrderStatus::Refunded);
        assert_eq!(o.status_at, t("2024-01-04T10:00:00Z"));

        let mut v = base();
        v["financial_status"] = json!("pending");
        v["payment_gateway_names"] = json!(["gift_card", "Cash on Delivery (COD)"]);
        let o = order(&v, &ctx).unwrap();
        assert_eq!(o.status, OrderStatus::Placed);
        assert_eq!(o.order.payment_method.as_deref(), Some("cash_on_delivery"));
    }

    #[test]
    fn refund_needs_a_currency() {
        let v = json!({"id": 1, "order_id": 2, "created_at": "2024-01-01T00:00:00Z",
                       "transactions": [{"kind": "refund", "status": "success", "amount": "5.00"}]});
        let e = map("refunds/create", &v, &MapContext::default()).unwrap_err();
        assert_eq!(e.code, super::super::MapErrorCode::MissingField);
        let ctx = MapContext {
            source_id: None,
            default_currency: Some("AED".into()),
        };
        let out = map("refunds/create", &v, &ctx).unwrap();
        assert!(
            matches!(&out[..], [Change::Refund { amount_minor: 500, currency, .. }] if currency == "AED")
        );
    }
}
