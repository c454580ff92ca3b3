//! Zid (merchant webhooks; the body is the resource object, sometimes wrapped in
//! `data`/`order`/`cart`/`customer`).
//!
//! Zid does not put the event name in every body: the server registers one target URL per
//! event with `?event=<name>&token=<secret>` and [`super::delivery`] reads it from there.
//!
//! | `order_status.code` | Wafa |
//! |---|---|
//! | `new`, `preparing` | placed; paid when `payment_status` is `paid` |
//! | `ready`, `processed` | fulfilled |
//! | `inDelivery` / `indelivery` | shipped |
//! | `delivered` | delivered |
//! | `cancelled`/`canceled`, `denied`, `failed`, `expired`, `voided` | cancelled |
//! | `refunded`, `reversed`, `chargeback` | refunded |
//! | `reverse_in_progress` / `processingReverse` | returned |
//! | `canceledReversal` | as `new` (the reversal was called off) |
//!
//! Cash on delivery: `payment.method.code` `zid_cod` or `cod`, `payment.method.type` `cod`,
//! or a method name meaning cash on delivery. Zid times without an offset
//! (`2024-12-05 12:27:15`) are read as Asia/Riyadh (+03:00).

use super::common::{has_identity, history, line, payment, placed, s, split_name, Person};
use super::json::{array, at, currency, id, money_rounded, req_id, text};
use super::{Change, MapContext, MapError, OrderChange, StatusAt};
use serde_json::Value;
use wafa_domain::time::parse_timestamp_ms;
use wafa_domain::{Currency, OrderStatus};
use wafa_model::{CartInput, CustomerInput, OrderInput};

pub(crate) const TOPICS: &[&str] = &[
    "order.create",
    "order.status.update",
    "order.payment_status.update",
    "abandoned_cart.created",
    "abandoned_cart.completed",
    "customer.create",
    "customer.update",
    "customer.merchant.update",
    "customer.login",
];

/// The object a Zid delivery is about: the body itself, or its `data`/`order`/`cart`
/// /`customer` member.
pub(crate) fn payload_object(v: &Value) -> &Value {
    if v.get("id").is_some_and(|i| !i.is_null()) {
        return v;
    }
    for k in ["data", "order", "cart", "customer"] {
        if let Some(o) = v.get(k).filter(|o| o.is_object()) {
            return o;
        }
    }
    v
}

pub(crate) fn map(topic: &str, v: &Value, ctx: &MapContext) -> Result<Vec<Change>, MapError> {
    let o = payload_object(v);
    match topic {
        "order.create" | "order.status.update" | "order.payment_status.update" => {
            Ok(vec![Change::UpsertOrder(Box::new(order(o, ctx)?))])
        }
        "customer.create" | "customer.update" | "customer.merchant.update" | "customer.login" => {
            let c = customer(o, ctx)?;
            if !has_identity(&c) {
                return Err(MapError::missing("id"));
            }
            let updated = zid_time(at(o, &["updated_at"]), "updated_at")?;
            let mut out = vec![Change::UpsertCustomer {
                customer: c.clone(),
                updated_at: updated,
            }];
            if topic == "customer.login" {
                out.push(Change::Event {
                    customer: CustomerInput {
                        identities: c.identities,
                        ..Default::default()
                    },
                    name: "customer_login".into(),
                    properties: Default::default(),
                    at: updated.ok_or_else(|| MapError::missing("updated_at"))?,
                });
            }
            Ok(out)
        }
        "abandoned_cart.created" => cart(o, ctx),
        "abandoned_cart.completed" => {
            let at_ms = zid_time(at(o, &["updated_at"]), "updated_at")?
                .or(zid_time(at(o, &["created_at"]), "created_at")?)
                .ok_or_else(|| MapError::missing("updated_at"))?;
            Ok(vec![Change::CartConverted {
                cart_external_id: cart_id(o)?,
                order_external_id: id(at(o, &["order_id"]), "order_id")?,
                at: at_ms,
            }])
        }
        _ => Err(MapError::unknown_topic(super::Platform::Zid, topic)),
    }
}

/// A Zid time; without an offset it is Riyadh time.
fn zid_time(v: Option<&Value>, field: &str) -> Result<Option<i64>, MapError> {
    let Some(t) = text(v) else { return Ok(None) };
    let naive = t.len() == 19 && t.as_bytes().get(10) == Some(&b' ');
    let parsed = if naive {
        parse_timestamp_ms(&format!("{t} +0300"))
    } else {
        parse_timestamp_ms(&t)
    };
    parsed
        .map(Some)
        .ok_or_else(|| MapError::invalid(field, format!("{t:?} is not a date")))
}

fn customer(c: &Value, ctx: &MapContext) -> Result<CustomerInput, MapError> {
    let (first, last) = split_name(s(at(c, &["name"])));
    let mut out = Person {
        external_id: id(at(c, &["id"]), "customer.id")?,
        first_name: first,
        last_name: last,
        email: s(at(c, &["email"])),
        email_verified: false,
        phone: s(at(c, &["mobile"])),
    }
    .into_input(ctx);
    out.city = s(at(c, &["city", "name"])).or_else(|| s(at(c, &["city"])));
    out.gender = s(at(c, &["gender"]));
    if let Some(b) = s(at(c, &["birth_date"])) {
        out.birthday = b.get(..10).map(str::to_owned);
    }
    if let Some(ms) = zid_time(at(c, &["created_at"]), "customer.created_at")? {
        out.created_at = placed(ms);
    }
    Ok(out)
}

fn status_of(code: &str, paid: bool) -> Option<OrderStatus> {
    let l = code.trim().to_ascii_lowercase();
    Some(match l.as_str() {
        "new" | "preparing" | "canceledreversal" | "pending" if paid => OrderStatus::Paid,
        "new" | "preparing" | "canceledreversal" | "pending" => OrderStatus::Placed,
        "ready" | "processed" => OrderStatus::Fulfilled,
        "indelivery" | "in_delivery" => OrderStatus::Shipped,
        "delivered" => OrderStatus::Delivered,
        "cancelled" | "canceled" | "denied" | "failed" | "expired" | "voided" => {
            OrderStatus::Cancelled
        }
        "refunded" | "reversed" | "chargeback" => OrderStatus::Refunded,
        "reverse_in_progress" | "processingreverse" => OrderStatus::Returned,
        _ => return None,
    })
}

fn is_cod(o: &Value) -> bool {
    let code = s(at(o, &["payment", "method", "code"]))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let kind = s(at(o, &["payment", "method", "type"]))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let name = s(at(o, &["payment", "method", "name"])).unwrap_or_default();
    code == "zid_cod"
        || code == "cod"
        || kind == "cod"
        || name.contains("الدفع عند الاستلام")
        || name.to_ascii_lowercase().contains("cash on delivery")
}

fn order_currency(o: &Value, ctx: &MapContext) -> Result<Currency, MapError> {
    if let Some(c) = currency(at(o, &["currency_code"]), "currency_code")? {
        return Ok(c);
    }
    if let Some(c) = currency(
        at(o, &["currency", "order_currency", "code"]),
        "currency.order_currency.code",
    )? {
        return Ok(c);
    }
    match &ctx.default_currency {
        Some(c) => Currency::parse(c).map_err(|e| MapError::invalid("currency", e.detail)),
        None => Err(MapError::missing("currency_code")),
    }
}

fn order(o: &Value, ctx: &MapContext) -> Result<OrderChange, MapError> {
    let external_id = req_id(at(o, &["id"]), "id")?;
    let cur = order_currency(o, ctx)?;
    let created = zid_time(at(o, &["created_at"]), "created_at")?
        .ok_or_else(|| MapError::missing("created_at"))?;
    let updated = zid_time(at(o, &["updated_at"]), "updated_at")?;
    let cust = customer(
        at(o, &["customer"]).ok_or_else(|| MapError::missing("customer"))?,
        ctx,
    )?;
    if !has_identity(&cust) {
        return Err(MapError::missing("customer (no id, email or mobile)"));
    }

    let mut lines = Vec::new();
    let mut products = Vec::new();
    for (i, p) in array(at(o, &["products"])).iter().enumerate() {
        let f = format!("products[{i}]");
        let qty = at(p, &["quantity"]);
        // Zid sends computed decimals ("114.99999999999999"): round on the digits.
        let unit = money_rounded(at(p, &["price"]), cur, &format!("{f}.price"))?.unwrap_or(0);
        let unit_v = Value::String(cur.format_amount(unit));
        let (l, prod) = line(
            ctx,
            cur,
            &f,
            s(at(p, &["name"])),
            s(at(p, &["sku"])),
            qty,
            Some(&unit_v),
            id(at(p, &["id"]), &format!("{f}.id"))?
                .or(id(at(p, &["product_id"]), &format!("{f}.product_id"))?),
        )?;
        // A line of no items (removed in an edit) is dropped, not refused.
        if l.quantity > 0 {
            lines.push(l);
            products.push(prod);
        }
    }

    // Invoice lines: shipping (+ COD fee), VAT, discounts.
    let (mut shipping, mut tax, mut discount) = (0i64, 0i64, 0i64);
    for (i, inv) in array(at(o, &["payment", "invoice"])).iter().enumerate() {
        let code = s(at(inv, &["code"]))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let val = || -> Result<i64, MapError> {
            Ok(money_rounded(
                at(inv, &["value"]),
                cur,
                &format!("payment.invoice[{i}].value"),
            )?
            .unwrap_or(0))
        };
        match code.as_str() {
            "shipping" | "cod" | "cash_on_delivery" => shipping = shipping.saturating_add(val()?),
            "vat" | "tax" => tax = tax.saturating_add(val()?),
            c if c.contains("discount") || c.contains("coupon") => {
                discount = discount.saturating_add(val()?.abs())
            }
            _ => {}
        }
    }
    let total = money_rounded(at(o, &["order_total"]), cur, "order_total")?;

    let cod = is_cod(o);
    let method = s(at(o, &["payment", "method", "code"]));
    let kind = s(at(o, &["payment", "method", "type"])).unwrap_or_default();
    let payment_method = if cod {
        Some("cash_on_delivery".to_owned())
    } else {
        method.as_deref().map(|m| match m {
            // ZidPay (mada, cards) and any method of type "cc" → card.
            "zidpay" | "zid_pay" => "card".to_owned(),
            "zid_bank_transfer" | "bank_transfer" => "bank_transfer".to_owned(),
            _ if kind == "cc" => "card".to_owned(),
            other => payment(other),
        })
    };
    let payment_status = s(at(o, &["payment_status"]))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let paid = payment_status == "paid";
    let code = s(at(o, &["order_status", "code"]))
        .or_else(|| {
            s(at(o, &["order_status"]))
                .filter(|_| at(o, &["order_status"]).is_some_and(Value::is_string))
        })
        .ok_or_else(|| MapError::missing("order_status.code"))?;
    let mut status = status_of(&code, paid).ok_or_else(|| {
        MapError::invalid(
            "order_status.code",
            format!("unknown Zid order status {code:?}"),
        )
    })?;
    if payment_status == "refunded" && status.rank() < OrderStatus::Refunded.rank() {
        status = OrderStatus::Refunded;
    }
    let status_at = if status == OrderStatus::Placed {
        created
    } else {
        updated.unwrap_or(created)
    };
    let points = vec![StatusAt {
        status: OrderStatus::Placed,
        at: created,
    }];
    let refunded = if status == OrderStatus::Refunded {
        total.unwrap_or(0)
    } else {
        0
    };
    let order = OrderInput {
        customer_id: 0,
        source_id: ctx.source_id,
        external_id: Some(external_id),
        number: s(at(o, &["code"])),
        currency: cur.code().to_owned(),
        status: Some(status.as_str().to_owned()),
        payment_method,
        placed_at: placed(created),
        lines,
        discount_minor: discount,
        shipping_minor: shipping,
        tax_minor: tax,
        total_minor: total,
        city: s(at(o, &["shipping", "address", "city", "name"])),
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
        updated_at: updated,
    })
}

fn cart_id(o: &Value) -> Result<String, MapError> {
    id(at(o, &["cart_id"]), "cart_id")?
        .or(id(at(o, &["id"]), "id")?)
        .ok_or_else(|| MapError::missing("id"))
}

fn cart(o: &Value, ctx: &MapContext) -> Result<Vec<Change>, MapError> {
    let cid = cart_id(o)?;
    let cur = order_currency(o, ctx)?;
    let cust = match at(o, &["customer"]).filter(|c| c.is_object()) {
        Some(c) => customer(c, ctx)?,
        None => {
            let (first, last) = split_name(s(at(o, &["customer_name"])));
            Person {
                external_id: id(at(o, &["customer_id"]), "customer_id")?,
                first_name: first,
                last_name: last,
                email: s(at(o, &["customer_email"])),
                email_verified: false,
                phone: s(at(o, &["customer_mobile"])),
            }
            .into_input(ctx)
        }
    };
    let mut lines = Vec::new();
    let mut products = Vec::new();
    for (i, p) in array(at(o, &["products"])).iter().enumerate() {
        let f = format!("products[{i}]");
        let unit = money_rounded(at(p, &["price"]), cur, &format!("{f}.price"))?.unwrap_or(0);
        let unit_v = Value::String(cur.format_amount(unit));
        let (l, prod) = line(
            ctx,
            cur,
            &f,
            s(at(p, &["name"])),
            s(at(p, &["sku"])),
            at(p, &["quantity"]),
            Some(&unit_v),
            id(at(p, &["product_id"]), &format!("{f}.product_id"))?
                .or(id(at(p, &["id"]), &format!("{f}.id"))?),
        )?;
        // A line of no items (removed in an edit) is dropped, not refused.
        if l.quantity > 0 {
            lines.push(l);
            products.push(prod);
        }
    }
    let updated = zid_time(at(o, &["updated_at"]), "updated_at")?
        .or(zid_time(at(o, &["created_at"]), "created_at")?);
    Ok(vec![Change::UpsertCart {
        customer: has_identity(&cust).then_some(cust),
        cart: CartInput {
            customer_id: None,
            source_id: ctx.source_id,
            external_id: Some(cid),
            currency: cur.code().to_owned(),
            lines,
            status: Some("abandoned".into()),
            checkout_url: s(at(o, &["url"])).or_else(|| s(at(o, &["cart_url"]))),
            updated_at: updated.and_then(placed),
        },
        line_products: products,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_table() {
        use OrderStatus::*;
        for (code, paid, want) in [
            ("new", false, Placed),
            ("new", true, Paid),
            ("preparing", false, Placed),
            ("ready", false, Fulfilled),
            ("inDelivery", false, Shipped),
            ("indelivery", false, Shipped),
            ("delivered", false, Delivered),
            ("cancelled", false, Cancelled),
            ("canceled", false, Cancelled),
            ("denied", false, Cancelled),
            ("refunded", false, Refunded),
            ("reversed", false, Refunded),
            ("reverse_in_progress", false, Returned),
            ("canceledReversal", true, Paid),
        ] {
            assert_eq!(status_of(code, paid), Some(want), "{code}");
        }
        assert_eq!(status_of("lost", false), None);
    }

    #[test]
    fn wrapped_payloads_and_times() {
        let inner = json!({"id": 1});
        assert_eq!(payload_object(&json!({"order": inner.clone()})), &inner);
        assert_eq!(payload_object(&json!({"data": inner.clone()})), &inner);
        let top = json!({"id": 2, "customer": {"id": 3}});
        assert_eq!(payload_object(&top), &top);
        assert_eq!(
            zid_time(Some(&json!("2024-12-05 12:27:15")), "t").unwrap(),
            wafa_domain::time::parse_timestamp_ms("2024-12-05T09:27:15Z")
        );
        assert_eq!(
            zid_time(Some(&json!("2024-12-05T12:27:15Z")), "t").unwrap(),
            wafa_domain::time::parse_timestamp_ms("2024-12-05T12:27:15Z")
        );
        assert!(zid_time(Some(&json!("05-12-2024 | 03:27 م")), "t").is_err());
    }

    #[test]
    fn refunded_payment_status_and_card_method() {
        let v = json!({"order": {
            "id": 10, "currency_code": "SAR", "order_status": {"code": "delivered"},
            "payment_status": "refunded", "order_total": "50.00",
            "created_at": "2024-12-05 12:00:00", "updated_at": "2024-12-09 12:00:00",
            "customer": {"id": 4, "name": "Ali"},
            "payment": {"method": {"code": "zidpay", "type": "cc"}}
        }});
        let out = map("order.payment_status.update", &v, &MapContext::default()).unwrap();
        let Change::UpsertOrder(o) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(o.status, OrderStatus::Refunded);
        assert_eq!(o.refunded_minor, 5000);
        assert_eq!(o.order.payment_method.as_deref(), Some("card"));
        assert_eq!(o.customer.first_name.as_deref(), Some("Ali"));
    }
}
