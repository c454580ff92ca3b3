//! The Segment spec (identify, track, page, screen, alias, group, batch) mapped to Wafa.
//!
//! Why the Segment spec: merchants' sites and apps already send it (analytics.js,
//! `@segment/analytics-node`, mobile SDKs), so pointing an existing client at Wafa feeds it
//! unchanged. A batch is stored raw by the HTTP handler; this module turns it into
//! operations in the processor. Standard e-commerce events (v2 spec: Product Added, Checkout
//! Started, Order Completed, Order Refunded, Order Cancelled, …) also update carts and orders.

use crate::error::{AppError, AppResult};
use crate::store::{IngestOp, TrackCommerce, TrackOp};
use crate::validate;
use serde_json::{Map, Value};
use wafa_domain::{Currency, ErrorCode, OrderStatus, Region};
use wafa_model::{CustomerInput, IdentityInput, OrderInput, OrderLineInput, ProductInput};

fn s(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn obj(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_object).cloned().unwrap_or_default()
}

/// An amount (number or string) in minor units, exactly.
fn amount(v: Option<&Value>, cur: Currency) -> Option<i64> {
    let raw = s(v)?;
    cur.parse_amount(&raw).ok().or_else(|| {
        // Floats like 19.999999999 from JavaScript: round on the decimal digits.
        let f: f64 = raw.parse().ok()?;
        if !f.is_finite() {
            return None;
        }
        cur.parse_amount(&format!("{:.*}", cur.decimals() as usize, f))
            .ok()
    })
}

/// The customer a message is about, as identities (the store resolves them).
fn customer_of(
    msg: &Map<String, Value>,
    source_id: i64,
    traits: &Map<String, Value>,
) -> CustomerInput {
    let mut c = CustomerInput::default();
    if let Some(uid) = s(msg.get("userId")) {
        c.identities.push(IdentityInput {
            kind: "external".into(),
            value: uid,
            source_id: Some(source_id),
            verified: true,
        });
    }
    let get = |k: &[&str]| k.iter().find_map(|k| s(traits.get(*k)));
    c.email = get(&["email"]);
    // A logged-in user's email, sent by the merchant's own site, identifies them.
    c.email_verified = c.email.is_some() && !c.identities.is_empty();
    c.phone = get(&["phone", "mobile"]);
    c.first_name = get(&["firstName", "first_name"]);
    c.last_name = get(&["lastName", "last_name"]);
    if c.first_name.is_none() {
        if let Some(name) = get(&["name"]) {
            let mut parts = name.splitn(2, ' ');
            c.first_name = parts.next().map(str::to_owned);
            c.last_name = parts.next().map(str::to_owned);
        }
    }
    c.birthday = get(&["birthday"]).map(|b| b.chars().take(10).collect());
    c.gender = get(&["gender"]);
    let address = obj(traits.get("address"));
    c.city = s(address.get("city")).or_else(|| get(&["city"]));
    c.country = s(address.get("country"))
        .filter(|x| x.len() == 2)
        .or_else(|| get(&["country"]).filter(|x| x.len() == 2));
    c.language = get(&["language", "locale"]).map(|l| l.chars().take(2).collect());
    for (k, v) in traits {
        if ![
            "email",
            "phone",
            "mobile",
            "firstName",
            "first_name",
            "lastName",
            "last_name",
            "name",
            "birthday",
            "gender",
            "address",
            "city",
            "country",
            "language",
            "locale",
            "createdAt",
            "created_at",
        ]
        .contains(&k.as_str())
            && k.chars().count() <= 64
        {
            c.attributes.insert(k.clone(), v.clone());
        }
    }
    c
}

fn products_of(
    props: &Map<String, Value>,
    cur: Currency,
    source_id: i64,
) -> (Vec<OrderLineInput>, Vec<Option<ProductInput>>) {
    let list: Vec<Map<String, Value>> = match props.get("products").and_then(Value::as_array) {
        Some(a) => a.iter().filter_map(|p| p.as_object().cloned()).collect(),
        None if props.contains_key("product_id") || props.contains_key("sku") => {
            vec![props.clone()]
        }
        None => Vec::new(),
    };
    let mut lines = Vec::new();
    let mut prods = Vec::new();
    for p in list {
        let price = amount(p.get("price"), cur).unwrap_or(0).max(0);
        let qty = p
            .get("quantity")
            .and_then(Value::as_i64)
            .filter(|q| *q > 0)
            .unwrap_or(1);
        let title =
            s(p.get("name")).unwrap_or_else(|| s(p.get("sku")).unwrap_or_else(|| "—".into()));
        let ext = s(p.get("product_id"));
        lines.push(OrderLineInput {
            product_id: None,
            sku: s(p.get("sku")),
            title: title.clone(),
            quantity: qty,
            unit_price_minor: price,
        });
        prods.push(ext.map(|e| ProductInput {
            source_id: Some(source_id),
            external_id: Some(e),
            sku: s(p.get("sku")),
            title,
            title_ar: None,
            category: s(p.get("category")),
            price_minor: price,
            currency: cur.code().to_owned(),
            url: s(p.get("url")),
            image_url: s(p.get("image_url")),
        }));
    }
    (lines, prods)
}

/// One message → its operation.
fn op_for(
    msg: &Map<String, Value>,
    batch_ctx: &Map<String, Value>,
    source_id: i64,
    region: Region,
    default_currency: &str,
    now: i64,
) -> AppResult<IngestOp> {
    let kind = s(msg.get("type"))
        .unwrap_or_else(|| "track".into())
        .to_ascii_lowercase();
    if !["identify", "track", "page", "screen", "alias", "group"].contains(&kind.as_str()) {
        return Err(AppError::validation(
            "type",
            format!("unknown message type {kind:?}"),
        ));
    }
    let user_id = s(msg.get("userId"));
    let anonymous_id = s(msg.get("anonymousId"));
    if user_id.is_none() && anonymous_id.is_none() {
        return Err(AppError::validation(
            "userId",
            "a message needs a userId or an anonymousId",
        ));
    }
    let at = ["timestamp", "originalTimestamp", "sentAt"]
        .iter()
        .find_map(|k| s(msg.get(*k)).and_then(|t| wafa_domain::time::parse_timestamp_ms(&t)))
        .unwrap_or(now);
    let mut context = obj(batch_ctx.get("context"));
    context.extend(obj(msg.get("context")));
    let mut traits = obj(context.get("traits"));
    traits.extend(obj(msg.get("traits")));
    let props = obj(msg.get("properties"));
    let message_id = s(msg.get("messageId")).unwrap_or_else(|| {
        // Without a messageId, the message's content is its identity.
        use sha2::Digest;
        let d = sha2::Sha256::digest(Value::Object(msg.clone()).to_string().as_bytes());
        format!(
            "sha256:{}",
            d.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    });
    if message_id.len() > 200 {
        return Err(AppError::validation(
            "messageId",
            "longer than 200 characters",
        ));
    }
    let name = match kind.as_str() {
        "track" => Some(
            s(msg.get("event"))
                .ok_or_else(|| AppError::validation("event", "a track call needs an event name"))?,
        ),
        "page" | "screen" => s(msg.get("name")).or_else(|| s(props.get("path"))),
        _ => None,
    };
    let customer_input = customer_of(msg, source_id, &traits);
    let customer = crate::ingest::lenient_customer(&customer_input, region, now)?;
    let cur =
        Currency::parse(&s(props.get("currency")).unwrap_or_else(|| default_currency.to_owned()))
            .or_else(|_| Currency::parse(default_currency))?;
    let commerce = match (kind.as_str(), name.as_deref()) {
        ("track", Some("Order Completed")) => {
            let order_id = s(props.get("order_id")).or_else(|| s(props.get("checkout_id")));
            order_id
                .map(|order_id| -> AppResult<TrackCommerce> {
                    let (lines, products) = products_of(&props, cur, source_id);
                    let total = amount(props.get("total"), cur)
                        .or_else(|| amount(props.get("revenue"), cur));
                    let input = OrderInput {
                        customer_id: 0,
                        source_id: Some(source_id),
                        external_id: Some(order_id),
                        number: s(props.get("order_number")),
                        currency: cur.code().to_owned(),
                        status: Some("paid".into()),
                        payment_method: s(props.get("payment_method")),
                        placed_at: Some(wafa_domain::time::format_ms(at)),
                        lines,
                        discount_minor: amount(props.get("discount"), cur).unwrap_or(0).max(0),
                        shipping_minor: amount(props.get("shipping"), cur).unwrap_or(0).max(0),
                        tax_minor: amount(props.get("tax"), cur).unwrap_or(0).max(0),
                        total_minor: total.map(|t| t.max(0)),
                        city: None,
                    };
                    let mut order = validate::order(&input, now)?;
                    // Cash on delivery is not paid at checkout.
                    if order.payment_method == wafa_domain::PaymentMethod::CashOnDelivery {
                        order.status = OrderStatus::Placed;
                    }
                    Ok(TrackCommerce::Order {
                        order,
                        products,
                        cart_external_id: s(props.get("cart_id"))
                            .or_else(|| s(props.get("checkout_id"))),
                    })
                })
                .transpose()?
        }
        ("track", Some("Order Refunded")) => {
            s(props.get("order_id")).map(|order_id| TrackCommerce::Refund {
                order_external_id: order_id,
                amount_minor: amount(props.get("total"), cur)
                    .or_else(|| amount(props.get("amount"), cur)),
            })
        }
        ("track", Some("Order Cancelled")) => {
            s(props.get("order_id")).map(|order_id| TrackCommerce::Cancel {
                order_external_id: order_id,
            })
        }
        (
            "track",
            Some(ev @ ("Product Added" | "Product Removed" | "Cart Viewed" | "Checkout Started")),
        ) => {
            let (lines, products) = products_of(&props, cur, source_id);
            let valid = validate::order_lines(&lines)?;
            let cart_id = s(props.get("cart_id"))
                .or_else(|| s(props.get("checkout_id")))
                .unwrap_or_else(|| {
                    format!(
                        "segment:{}",
                        user_id.clone().or(anonymous_id.clone()).unwrap_or_default()
                    )
                });
            Some(TrackCommerce::Cart {
                cart_external_id: cart_id,
                currency: cur,
                lines: valid,
                products,
                replace: ev == "Cart Viewed" || ev == "Checkout Started",
                remove: ev == "Product Removed",
                checkout_url: s(props.get("url")),
            })
        }
        _ => None,
    };
    let group = if kind == "group" {
        let gid = s(msg.get("groupId"))
            .ok_or_else(|| AppError::validation("groupId", "a group call needs a groupId"))?;
        Some(s(traits.get("name")).unwrap_or(gid))
    } else {
        None
    };
    let previous_id = if kind == "alias" {
        Some(s(msg.get("previousId")).ok_or_else(|| {
            AppError::validation("previousId", "an alias call needs a previousId")
        })?)
    } else {
        None
    };
    let mut properties = props;
    if kind == "identify" {
        properties = traits.clone();
    }
    Ok(IngestOp::Track(Box::new(TrackOp {
        message_id,
        kind,
        name,
        user_id,
        anonymous_id,
        customer,
        properties,
        at,
        previous_id,
        group,
        commerce,
    })))
}

/// A stored events body (a batch or a single call) → operations. A message that cannot be
/// read makes the whole delivery fail (it is kept, with the reason, to be replayed).
pub fn ops_for_batch(
    body: &[u8],
    source_id: i64,
    region: Region,
    default_currency: &str,
    now: i64,
) -> AppResult<Vec<IngestOp>> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| AppError::new(ErrorCode::InvalidJson, format!("events body: {e}")))?;
    let root = v.as_object().ok_or_else(|| {
        AppError::new(ErrorCode::InvalidJson, "events body must be a JSON object")
    })?;
    let messages: Vec<&Map<String, Value>> = match root.get("batch") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        Some(_) => return Err(AppError::validation("batch", "batch must be an array")),
        None => vec![root],
    };
    let mut ops = Vec::with_capacity(messages.len());
    for (i, m) in messages.into_iter().enumerate() {
        ops.push(
            op_for(m, root, source_id, region, default_currency, now)
                .map_err(|e| e.at(&format!("batch[{i}]")))?,
        );
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_batch_with_commerce() {
        let body = br#"{"batch":[
            {"type":"identify","userId":"u1","anonymousId":"a1","traits":{"email":"Sara@Example.com","firstName":"Sara","plan":"gold"},"messageId":"m1","timestamp":"2026-01-01T10:00:00Z"},
            {"type":"track","userId":"u1","event":"Order Completed","messageId":"m2","properties":{"order_id":"O-9","total":"25.500","currency":"KWD","products":[{"product_id":"p1","sku":"OUD","name":"Oud","price":12.75,"quantity":2}]}},
            {"type":"page","anonymousId":"a2","name":"Home","messageId":"m3"}
        ]}"#;
        let ops = ops_for_batch(body, 7, Region::default(), "SAR", 0).unwrap();
        assert_eq!(ops.len(), 3);
        let IngestOp::Track(t) = &ops[1] else {
            panic!()
        };
        let Some(TrackCommerce::Order { order, .. }) = &t.commerce else {
            panic!()
        };
        assert_eq!(order.total_minor, 25_500);
        assert_eq!(order.lines[0].unit_price_minor, 12_750);
        let IngestOp::Track(t) = &ops[0] else {
            panic!()
        };
        assert_eq!(t.customer.identities.len(), 2);
        assert!(ops_for_batch(
            b"{\"batch\":[{\"type\":\"track\",\"event\":\"x\"}]}",
            7,
            Region::default(),
            "SAR",
            0
        )
        .is_err());
        assert!(ops_for_batch(b"not json", 7, Region::default(), "SAR", 0).is_err());
    }
}
