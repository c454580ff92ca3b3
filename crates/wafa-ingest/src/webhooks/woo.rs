//! WooCommerce (REST API v3 webhook payloads).
//!
//! | Woo status | Wafa |
//! |---|---|
//! | `pending`, `on-hold`, `checkout-draft` | placed |
//! | `processing` | paid (placed when the method is cash on delivery: Woo moves COD orders to processing unpaid) |
//! | `completed` | delivered (Woo: "fulfilled and complete, requires no further action") |
//! | `cancelled`, `failed` | cancelled |
//! | `refunded` | refunded |
//! | custom (`wc-` prefix stripped) containing `ship` / `deliver` / `return` | shipped / delivered / returned; any other custom status → placed |
//!
//! Times are the `*_gmt` fields (naive UTC); the local ones are a fallback read as UTC.

use super::common::{has_identity, history, line_minor, payment, placed, s, Person};
use super::json::{array, at, currency, id, money, money0, money_rounded, quantity, req_id, time};
use super::{Change, MapContext, MapError, OrderChange, StatusAt};
use serde_json::Value;
use wafa_domain::{Currency, OrderStatus};
use wafa_model::{CustomerInput, OrderInput};

pub(crate) const TOPICS: &[&str] = &[
    "order.created",
    "order.updated",
    "order.restored",
    "order.deleted",
    "customer.created",
    "customer.updated",
    "customer.deleted",
];

pub(crate) fn map(topic: &str, v: &Value, ctx: &MapContext) -> Result<Vec<Change>, MapError> {
    match topic {
        "order.created" | "order.updated" | "order.restored" => {
            if s(at(v, &["status"])).as_deref() == Some("trash") {
                return Ok(vec![Change::OrderDeleted {
                    order_external_id: req_id(at(v, &["id"]), "id")?,
                    at: gmt(v, "date_modified")?,
                }]);
            }
            Ok(vec![Change::UpsertOrder(Box::new(order(v, ctx)?))])
        }
        "order.deleted" => Ok(vec![Change::OrderDeleted {
            order_external_id: req_id(at(v, &["id"]), "id")?,
            at: None,
        }]),
        "customer.created" | "customer.updated" => {
            let c = customer(v, ctx)?;
            if !has_identity(&c) {
                return Err(MapError::missing("id"));
            }
            Ok(vec![Change::UpsertCustomer {
                customer: c,
                updated_at: gmt(v, "date_modified")?,
            }])
        }
        // A deletion at the store does not delete the CRM profile.
        "customer.deleted" => Ok(vec![]),
        _ => Err(MapError::unknown_topic(super::Platform::WooCommerce, topic)),
    }
}

/// `<name>_gmt` (naive UTC), else `<name>` read as UTC.
fn gmt(v: &Value, name: &str) -> Result<Option<i64>, MapError> {
    let g = format!("{name}_gmt");
    match time(at(v, &[g.as_str()]), &g)? {
        Some(t) => Ok(Some(t)),
        None => time(at(v, &[name]), name),
    }
}

fn customer(v: &Value, ctx: &MapContext) -> Result<CustomerInput, MapError> {
    let billing = at(v, &["billing"]);
    let b = |k: &str| billing.and_then(|x| s(at(x, &[k])));
    let mut c = Person {
        external_id: id(at(v, &["id"]), "id")?,
        first_name: s(at(v, &["first_name"])).or_else(|| b("first_name")),
        last_name: s(at(v, &["last_name"])).or_else(|| b("last_name")),
        email: s(at(v, &["email"])).or_else(|| b("email")),
        email_verified: false,
        phone: b("phone"),
    }
    .into_input(ctx);
    c.city = b("city");
    c.country = b("country").filter(|x| x.len() == 2);
    if let Some(ms) = gmt(v, "date_created")? {
        c.created_at = placed(ms);
    }
    // WooCommerce core has no marketing-consent field: none is recorded.
    if let Some(u) = s(at(v, &["username"])) {
        c.attributes
            .insert("woocommerce_username".into(), Value::String(u));
    }
    Ok(c)
}

fn status_of(raw: &str, cod: bool) -> OrderStatus {
    let l = raw.trim().to_ascii_lowercase();
    let l = l.strip_prefix("wc-").unwrap_or(&l);
    match l {
        "pending" | "on-hold" | "checkout-draft" => OrderStatus::Placed,
        "processing" if cod => OrderStatus::Placed,
        "processing" => OrderStatus::Paid,
        "completed" => OrderStatus::Delivered,
        "cancelled" | "failed" => OrderStatus::Cancelled,
        "refunded" => OrderStatus::Refunded,
        x if x.contains("return") => OrderStatus::Returned,
        x if x.contains("deliver") => OrderStatus::Delivered,
        x if x.contains("ship") => OrderStatus::Shipped,
        _ => OrderStatus::Placed,
    }
}

fn order(v: &Value, ctx: &MapContext) -> Result<OrderChange, MapError> {
    let external_id = req_id(at(v, &["id"]), "id")?;
    let cur: Currency = match currency(at(v, &["currency"]), "currency")? {
        Some(c) => c,
        None => match &ctx.default_currency {
            Some(c) => Currency::parse(c).map_err(|e| MapError::invalid("currency", e.detail))?,
            None => return Err(MapError::missing("currency")),
        },
    };
    let created = gmt(v, "date_created")?.ok_or_else(|| MapError::missing("date_created_gmt"))?;
    let modified = gmt(v, "date_modified")?;

    let billing = at(v, &["billing"]);
    let b = |k: &str| billing.and_then(|x| s(at(x, &[k])));
    let cust = Person {
        external_id: id(at(v, &["customer_id"]), "customer_id")?,
        first_name: b("first_name"),
        last_name: b("last_name"),
        email: b("email"),
        email_verified: false,
        phone: b("phone"),
    }
    .into_input(ctx);
    if !has_identity(&cust) {
        return Err(MapError::missing(
            "customer (no customer_id, billing email or phone)",
        ));
    }

    let mut lines = Vec::new();
    let mut products = Vec::new();
    for (i, li) in array(at(v, &["line_items"])).iter().enumerate() {
        let f = format!("line_items[{i}]");
        let qty = quantity(at(li, &["quantity"]), &format!("{f}.quantity"))?;
        // The unit price before coupons: subtotal / quantity when exact, else `price`
        // (a float Woo computes as total / quantity), rounded to the currency.
        let subtotal = money(at(li, &["subtotal"]), cur, &format!("{f}.subtotal"))?;
        let unit = match subtotal {
            Some(st) if qty > 0 && st % qty == 0 => st / qty,
            _ => money_rounded(at(li, &["price"]), cur, &format!("{f}.price"))?.unwrap_or(0),
        };
        let (l, p) = line_minor(
            ctx,
            cur,
            s(at(li, &["name"])),
            s(at(li, &["sku"])),
            qty,
            unit,
            id(at(li, &["product_id"]), &format!("{f}.product_id"))?,
        )?;
        // A line of no items (removed in an edit) is dropped, not refused.
        if l.quantity > 0 {
            lines.push(l);
            products.push(p);
        }
    }

    let method = s(at(v, &["payment_method"]));
    let payment_method = method.as_deref().map(payment);
    let cod = payment_method.as_deref() == Some("cash_on_delivery");

    let mut refunded = 0i64;
    for (i, r) in array(at(v, &["refunds"])).iter().enumerate() {
        refunded = refunded
            .saturating_add(money0(at(r, &["total"]), cur, &format!("refunds[{i}].total"))?.abs());
    }

    let raw_status = s(at(v, &["status"])).ok_or_else(|| MapError::missing("status"))?;
    let status = status_of(&raw_status, cod);
    let paid = gmt(v, "date_paid")?;
    let completed = gmt(v, "date_completed")?;
    let mut points = vec![StatusAt {
        status: OrderStatus::Placed,
        at: created,
    }];
    if let Some(p) = paid {
        points.push(StatusAt {
            status: OrderStatus::Paid,
            at: p,
        });
    }
    if let Some(c) = completed {
        points.push(StatusAt {
            status: OrderStatus::Delivered,
            at: c,
        });
    }
    let status_at = match status {
        OrderStatus::Placed => created,
        OrderStatus::Paid => paid.or(modified).unwrap_or(created),
        OrderStatus::Delivered => completed.or(modified).unwrap_or(created),
        _ => modified.unwrap_or(created),
    };
    let shipping = at(v, &["shipping"]);
    let order = OrderInput {
        customer_id: 0,
        source_id: ctx.source_id,
        external_id: Some(external_id),
        number: s(at(v, &["number"])),
        currency: cur.code().to_owned(),
        status: Some(status.as_str().to_owned()),
        payment_method,
        placed_at: placed(created),
        lines,
        discount_minor: money0(at(v, &["discount_total"]), cur, "discount_total")?,
        shipping_minor: money0(at(v, &["shipping_total"]), cur, "shipping_total")?,
        tax_minor: money0(at(v, &["total_tax"]), cur, "total_tax")?,
        total_minor: money(at(v, &["total"]), cur, "total")?,
        city: shipping
            .and_then(|x| s(at(x, &["city"])))
            .or_else(|| b("city")),
    };
    Ok(OrderChange {
        customer: cust,
        order,
        line_products: products,
        status,
        status_at,
        history: history(points, status, status_at),
        status_reason: None,
        refunded_minor: refunded,
        return_reason: None,
        updated_at: modified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_table() {
        use OrderStatus::*;
        for (raw, cod, want) in [
            ("pending", false, Placed),
            ("on-hold", false, Placed),
            ("processing", false, Paid),
            ("processing", true, Placed),
            ("completed", true, Delivered),
            ("cancelled", false, Cancelled),
            ("failed", false, Cancelled),
            ("refunded", false, Refunded),
            ("wc-shipped", false, Shipped),
            ("delivered-to-customer", false, Delivered),
            ("return-requested", false, Returned),
            ("awaiting-stock", false, Placed),
        ] {
            assert_eq!(status_of(raw, cod), want, "{raw}");
        }
    }

    #[test]
    fn trash_refunds_and_guests() {
        let ctx = MapContext::default();
        let out = map("order.updated", &json!({"id": 5, "status": "trash"}), &ctx).unwrap();
        assert!(
            matches!(&out[..], [Change::OrderDeleted { order_external_id, .. }] if order_external_id == "5")
        );
        let v = json!({
            "id": 6, "status": "refunded", "currency": "KWD", "customer_id": 0,
            "date_created_gmt": "2024-01-01T10:00:00", "date_modified_gmt": "2024-01-03T10:00:00",
            "total": "12.750", "billing": {"email": "a@example.com", "phone": ""},
            "payment_method": "tap", "refunds": [{"id": 9, "reason": "", "total": "-12.750"}],
            "line_items": [{"name": "x", "quantity": 3, "subtotal": "10.000", "price": 3.3333333333333335, "product_id": 0}]
        });
        let out = map("order.updated", &v, &ctx).unwrap();
        let Change::UpsertOrder(o) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(o.status, OrderStatus::Refunded);
        assert_eq!(o.refunded_minor, 12750);
        assert_eq!(
            o.order.lines[0].unit_price_minor, 3333,
            "inexact subtotal/qty → rounded price"
        );
        assert!(o.line_products[0].is_none(), "product_id 0 is no product");
        assert_eq!(o.customer.identities.len(), 1, "guest: email only");
        assert_eq!(o.order.payment_method.as_deref(), Some("card"));
        assert_eq!(
            o.status_at,
            wafa_domain::time::parse_timestamp_ms("2024-01-03T10:00:00Z").unwrap()
        );
        let e = map("coupon.created", &json!({"id": 1}), &ctx).unwrap_err();
        assert_eq!(e.code, super::super::MapErrorCode::UnknownTopic);
    }
}
