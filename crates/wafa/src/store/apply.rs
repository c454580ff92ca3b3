//! Applying what a delivery says (platform-neutral operations) in one transaction, together
//! with marking the delivery processed: its effects and its "done" mark commit or vanish
//! together, so a crash never applies a delivery twice or half.
//!
//! Platforms deliver out of order. Orders are reconciled rather than overwritten: statuses
//! only move forward by [`OrderStatus::rank`] (every status seen is kept in the history, in
//! its own time), refunds only grow, and a delivery older than what is stored (by the
//! platform's own `updated_at`) does not overwrite totals or lines. A status or refund for an
//! order not received yet asks for a retry.

use super::customers::{live_customer, upsert_customer_mode, UpsertMode};
use super::orders::{insert_order, refresh_customer_stats, upsert_cart_tx, upsert_product_tx};
use super::sql::Val;
use super::timeline::{insert_timeline, TimelineWrite};
use super::{now_ms, Store};
use crate::error::AppError;
use crate::validate::{ValidCustomer, ValidLine, ValidOrder};
use serde_json::{json, Map, Value};
use sqlx::{AnyConnection, Row};
use wafa_domain::{Currency, OrderStatus};
use wafa_model::{CartInput, ProductInput};

pub struct OrderOp {
    pub customer: ValidCustomer,
    /// `customer_id` is filled in here; `source_id` and `external_id` must be set.
    pub order: ValidOrder,
    /// Parallel to `order.lines`.
    pub products: Vec<Option<ProductInput>>,
    /// Every status the payload shows, oldest first.
    pub history: Vec<(OrderStatus, i64)>,
    pub source_updated_at: Option<i64>,
}

pub struct CartOp {
    pub customer: Option<ValidCustomer>,
    pub cart: CartInput,
    pub currency: Currency,
    pub lines: Vec<ValidLine>,
    pub products: Vec<Option<ProductInput>>,
    pub at: i64,
}

/// What an e-commerce event (Segment spec) does besides being recorded.
pub enum TrackCommerce {
    Order {
        order: ValidOrder,
        products: Vec<Option<ProductInput>>,
        cart_external_id: Option<String>,
    },
    Refund {
        order_external_id: String,
        amount_minor: Option<i64>,
    },
    Cancel {
        order_external_id: String,
    },
    Cart {
        cart_external_id: String,
        currency: Currency,
        lines: Vec<ValidLine>,
        products: Vec<Option<ProductInput>>,
        replace: bool,
        remove: bool,
        checkout_url: Option<String>,
    },
}

/// One Segment-spec message.
pub struct TrackOp {
    pub message_id: String,
    /// identify, track, page, screen, alias, group.
    pub kind: String,
    pub name: Option<String>,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    /// The identities and traits the message carries.
    pub customer: ValidCustomer,
    pub properties: Map<String, Value>,
    pub at: i64,
    pub previous_id: Option<String>,
    /// For `group`: the company name.
    pub group: Option<String>,
    pub commerce: Option<TrackCommerce>,
}

/// One thing to apply. Inputs are validated before they get here.
pub enum IngestOp {
    Track(Box<TrackOp>),
    Customer(ValidCustomer),
    Order(Box<OrderOp>),
    Status {
        order_external_id: String,
        status: OrderStatus,
        at: i64,
        reason: Option<String>,
        return_reason: Option<String>,
    },
    OrderDeleted {
        order_external_id: String,
        at: i64,
    },
    Refund {
        order_external_id: String,
        refund_key: Option<String>,
        amount_minor: i64,
        at: i64,
        reason: Option<String>,
    },
    Cart(Box<CartOp>),
    CartConverted {
        cart_external_id: String,
    },
    Review {
        customer: Option<ValidCustomer>,
        product_external_id: Option<String>,
        order_external_id: Option<String>,
        rating: i64,
        text: Option<String>,
        at: i64,
        content_key: String,
    },
    Event {
        customer: ValidCustomer,
        name: String,
        properties: Map<String, Value>,
        at: i64,
    },
}

/// Why a delivery was not applied.
#[derive(Debug)]
pub enum ApplyError {
    /// Something it refers to has not arrived yet: try again later.
    Retry(String),
    /// It cannot be applied as it is (dead letter).
    Fail(AppError),
}

impl From<AppError> for ApplyError {
    fn from(e: AppError) -> Self {
        ApplyError::Fail(e)
    }
}

impl From<sqlx::Error> for ApplyError {
    fn from(e: sqlx::Error) -> Self {
        ApplyError::Fail(e.into())
    }
}

const MODE: UpsertMode = UpsertMode {
    loose: true,
    quiet: true,
};

struct StoredOrder {
    id: i64,
    customer_id: i64,
    status: OrderStatus,
    total_minor: i64,
    refunded_minor: i64,
    source_updated_at: Option<i64>,
    number: Option<String>,
    currency: String,
}

async fn find_order(
    conn: &mut AnyConnection,
    ws: i64,
    source_id: i64,
    external_id: &str,
) -> Result<Option<StoredOrder>, ApplyError> {
    let r = sqlx::query("SELECT id, customer_id, status, total_minor, refunded_minor, source_updated_at, number, currency FROM orders WHERE workspace_id = $1 AND source_id = $2 AND external_id = $3")
        .bind(ws)
        .bind(source_id)
        .bind(external_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(r.map(|r| StoredOrder {
        id: r.get("id"),
        customer_id: r.get("customer_id"),
        status: OrderStatus::parse(&r.get::<String, _>("status")).unwrap_or(OrderStatus::Placed),
        total_minor: r.get("total_minor"),
        refunded_minor: r.get("refunded_minor"),
        source_updated_at: r.get("source_updated_at"),
        number: r.get("number"),
        currency: r.get("currency"),
    }))
}

async fn product_ids(
    conn: &mut AnyConnection,
    ws: i64,
    actor: &str,
    products: &[Option<ProductInput>],
) -> Result<Vec<Option<i64>>, ApplyError> {
    let mut out = Vec::with_capacity(products.len());
    for p in products {
        out.push(match p {
            Some(p) => Some(upsert_product_tx(conn, ws, actor, p).await?.0),
            None => None,
        });
    }
    Ok(out)
}

/// Record the statuses the order has not had yet; move it to the furthest one.
async fn advance(
    conn: &mut AnyConnection,
    ws: i64,
    o: &StoredOrder,
    seen: &[(OrderStatus, i64, Option<String>)],
    return_reason: Option<&str>,
) -> Result<OrderStatus, ApplyError> {
    let had: Vec<String> =
        sqlx::query("SELECT status FROM order_status_history WHERE order_id = $1")
            .bind(o.id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.get("status"))
            .collect();
    let mut status = o.status;
    let label = o.number.clone().unwrap_or_else(|| format!("#{}", o.id));
    for (s, at, reason) in seen {
        if had.iter().any(|h| h == s.as_str()) {
            continue;
        }
        sqlx::query("INSERT INTO order_status_history (order_id, workspace_id, status, at, reason) VALUES ($1, $2, $3, $4, $5)").bind(o.id).bind(ws).bind(s.as_str()).bind(*at).bind(reason).execute(&mut *conn).await?;
        insert_timeline(
            conn,
            &TimelineWrite {
                workspace_id: ws,
                customer_id: o.customer_id,
                occurred_at: *at,
                kind: "order_status",
                ref_id: Some(o.id),
                summary: format!("Order {label} {}", s.as_str()),
                data: json!({"order_id": o.id, "status": s.as_str(), "reason": reason}),
            },
        )
        .await?;
        if s.rank() > status.rank() {
            status = *s;
        }
    }
    let refunded = if status == OrderStatus::Refunded {
        o.total_minor
    } else {
        o.refunded_minor
    };
    sqlx::query("UPDATE orders SET status = $2, refunded_minor = $3, return_reason = COALESCE($4, return_reason), updated_at = $5 WHERE id = $1")
        .bind(o.id)
        .bind(status.as_str())
        .bind(refunded)
        .bind(return_reason)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    Ok(status)
}

async fn apply_order(
    conn: &mut AnyConnection,
    ws: i64,
    actor: &str,
    op: &OrderOp,
    customer_id: Option<i64>,
) -> Result<(), ApplyError> {
    let ext = op.order.external_id.clone().ok_or_else(|| {
        ApplyError::Fail(AppError::validation(
            "external_id",
            "an order from a store needs its id",
        ))
    })?;
    let pids = product_ids(conn, ws, actor, &op.products).await?;
    let mut order = op.order.clone();
    for (line, pid) in order.lines.iter_mut().zip(&pids) {
        if pid.is_some() {
            line.product_id = *pid;
        }
    }
    let seen: Vec<(OrderStatus, i64, Option<String>)> = op
        .history
        .iter()
        .map(|(s, at)| {
            (
                *s,
                *at,
                if *s == OrderStatus::Returned {
                    op.order.return_reason.clone()
                } else {
                    None
                },
            )
        })
        .collect();
    match find_order(conn, ws, order.source_id, &ext).await? {
        None => {
            order.customer_id = match customer_id {
                Some(c) => c,
                None => {
                    upsert_customer_mode(conn, ws, actor, &op.customer, MODE)
                        .await?
                        .customer_id
                }
            };
            let w = insert_order(conn, ws, actor, &order, Some(&seen), true).await?;
            sqlx::query("UPDATE orders SET source_updated_at = $2 WHERE id = $1")
                .bind(w.id())
                .bind(op.source_updated_at)
                .execute(&mut *conn)
                .await?;
        }
        Some(stored) => {
            let newer = match (op.source_updated_at, stored.source_updated_at) {
                (Some(new), Some(old)) => new >= old,
                _ => true,
            };
            if newer {
                sqlx::query("UPDATE orders SET number = COALESCE($2, number), payment_method = $3, subtotal_minor = $4, discount_minor = $5, shipping_minor = $6, tax_minor = $7, total_minor = $8, refunded_minor = $9, city = COALESCE($10, city), source_updated_at = $11 WHERE id = $1")
                    .bind(stored.id)
                    .bind(&order.number)
                    .bind(order.payment_method.as_str())
                    .bind(order.subtotal_minor)
                    .bind(order.discount_minor)
                    .bind(order.shipping_minor)
                    .bind(order.tax_minor)
                    .bind(order.total_minor)
                    .bind(order.refunded_minor.max(stored.refunded_minor).min(order.total_minor))
                    .bind(&order.city)
                    .bind(op.source_updated_at)
                    .execute(&mut *conn)
                    .await?;
                if !order.lines.is_empty() {
                    sqlx::query("DELETE FROM order_lines WHERE order_id = $1")
                        .bind(stored.id)
                        .execute(&mut *conn)
                        .await?;
                    for l in &order.lines {
                        sqlx::query("INSERT INTO order_lines (order_id, workspace_id, product_id, sku, title, quantity, unit_price_minor, total_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                            .bind(stored.id)
                            .bind(ws)
                            .bind(l.product_id)
                            .bind(&l.sku)
                            .bind(&l.title)
                            .bind(l.quantity)
                            .bind(l.unit_price_minor)
                            .bind(l.total_minor)
                            .execute(&mut *conn)
                            .await?;
                    }
                }
            }
            let fresh = find_order(conn, ws, order.source_id, &ext)
                .await?
                .ok_or_else(|| ApplyError::Retry("order vanished".into()))?;
            advance(conn, ws, &fresh, &seen, op.order.return_reason.as_deref()).await?;
            refresh_customer_stats(conn, stored.customer_id).await?;
        }
    }
    Ok(())
}

async fn apply(
    conn: &mut AnyConnection,
    ws: i64,
    source_id: i64,
    actor: &str,
    op: &IngestOp,
) -> Result<(), ApplyError> {
    match op {
        IngestOp::Customer(c) => {
            upsert_customer_mode(conn, ws, actor, c, MODE).await?;
        }
        IngestOp::Order(o) => apply_order(conn, ws, actor, o, None).await?,
        IngestOp::Track(t) => apply_track(conn, ws, source_id, actor, t).await?,
        IngestOp::Status {
            order_external_id,
            status,
            at,
            reason,
            return_reason,
        } => {
            let o = find_order(conn, ws, source_id, order_external_id)
                .await?
                .ok_or_else(|| {
                    ApplyError::Retry(format!("order {order_external_id} not received yet"))
                })?;
            let rr = if *status == OrderStatus::Returned {
                return_reason.clone()
            } else {
                None
            };
            advance(
                conn,
                ws,
                &o,
                &[(*status, *at, reason.clone().or(rr.clone()))],
                rr.as_deref(),
            )
            .await?;
            refresh_customer_stats(conn, o.customer_id).await?;
        }
        IngestOp::OrderDeleted {
            order_external_id,
            at,
        } => {
            if let Some(o) = find_order(conn, ws, source_id, order_external_id).await? {
                if o.status.can_move_to(OrderStatus::Cancelled) {
                    advance(
                        conn,
                        ws,
                        &o,
                        &[(
                            OrderStatus::Cancelled,
                            *at,
                            Some("deleted at the store".into()),
                        )],
                        None,
                    )
                    .await?;
                    refresh_customer_stats(conn, o.customer_id).await?;
                }
            }
        }
        IngestOp::Refund {
            order_external_id,
            refund_key,
            amount_minor,
            at,
            reason,
        } => {
            let o = find_order(conn, ws, source_id, order_external_id)
                .await?
                .ok_or_else(|| {
                    ApplyError::Retry(format!("order {order_external_id} not received yet"))
                })?;
            if let Some(k) = refund_key {
                let fresh = sqlx::query("INSERT INTO applied_refunds (source_id, refund_key) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING refund_key")
                    .bind(source_id)
                    .bind(k)
                    .fetch_optional(&mut *conn)
                    .await?;
                if fresh.is_none() {
                    return Ok(());
                }
            }
            let refunded = (o.refunded_minor + amount_minor.max(&0)).min(o.total_minor);
            sqlx::query("UPDATE orders SET refunded_minor = $2, updated_at = $3 WHERE id = $1")
                .bind(o.id)
                .bind(refunded)
                .bind(now_ms())
                .execute(&mut *conn)
                .await?;
            let cur = Currency::parse(&o.currency).ok();
            let amount = cur
                .map(|c| format!("{} {}", c.format_amount(*amount_minor), c.code()))
                .unwrap_or_default();
            insert_timeline(
                conn,
                &TimelineWrite {
                    workspace_id: ws,
                    customer_id: o.customer_id,
                    occurred_at: *at,
                    kind: "refund",
                    ref_id: Some(o.id),
                    summary: format!(
                        "Refund of {amount} on order {}",
                        o.number.clone().unwrap_or_else(|| format!("#{}", o.id))
                    ),
                    data: json!({"order_id": o.id, "amount_minor": amount_minor, "reason": reason}),
                },
            )
            .await?;
            if refunded >= o.total_minor && o.total_minor > 0 {
                let o = find_order(conn, ws, source_id, order_external_id)
                    .await?
                    .ok_or_else(|| ApplyError::Retry("order vanished".into()))?;
                advance(
                    conn,
                    ws,
                    &o,
                    &[(OrderStatus::Refunded, *at, reason.clone())],
                    None,
                )
                .await?;
            }
            refresh_customer_stats(conn, o.customer_id).await?;
        }
        IngestOp::Cart(c) => {
            let mut cart = c.cart.clone();
            if let Some(cust) = &c.customer {
                if !cust.identities.is_empty() {
                    cart.customer_id = Some(
                        upsert_customer_mode(conn, ws, actor, cust, MODE)
                            .await?
                            .customer_id,
                    );
                }
            }
            let pids = product_ids(conn, ws, actor, &c.products).await?;
            let mut lines = c.lines.clone();
            for (l, pid) in lines.iter_mut().zip(&pids) {
                if pid.is_some() {
                    l.product_id = *pid;
                }
            }
            cart.source_id = Some(source_id);
            upsert_cart_tx(conn, ws, actor, &cart, c.currency, &lines, c.at).await?;
        }
        IngestOp::CartConverted { cart_external_id } => {
            sqlx::query("UPDATE carts SET status = 'converted', updated_at = $4 WHERE workspace_id = $1 AND source_id = $2 AND external_id = $3")
                .bind(ws)
                .bind(source_id)
                .bind(cart_external_id)
                .bind(now_ms())
                .execute(&mut *conn)
                .await?;
        }
        IngestOp::Review {
            customer,
            product_external_id,
            order_external_id,
            rating,
            text,
            at,
            content_key,
        } => {
            let cid = match customer {
                Some(c) if !c.identities.is_empty() => Some(
                    upsert_customer_mode(conn, ws, actor, c, MODE)
                        .await?
                        .customer_id,
                ),
                _ => None,
            };
            let r = sqlx::query("INSERT INTO reviews (workspace_id, source_id, customer_id, product_external_id, order_external_id, rating, body, at, content_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (source_id, content_key) DO NOTHING RETURNING id")
                .bind(ws)
                .bind(source_id)
                .bind(cid)
                .bind(product_external_id)
                .bind(order_external_id)
                .bind(*rating)
                .bind(text)
                .bind(*at)
                .bind(content_key)
                .fetch_optional(&mut *conn)
                .await?;
            if let (Some(r), Some(cid)) = (r, cid) {
                let id: i64 = r.get("id");
                if let Some(t) = text {
                    super::texts::tag_text(conn, ws, cid, "review", Some(id), *at, t).await?;
                }
                insert_timeline(
                    conn,
                    &TimelineWrite {
                        workspace_id: ws,
                        customer_id: cid,
                        occurred_at: *at,
                        kind: "review",
                        ref_id: Some(id),
                        summary: format!(
                            "Review {}/5{}",
                            rating,
                            text.as_deref()
                                .map(|t| format!(": {}", t.chars().take(120).collect::<String>()))
                                .unwrap_or_default()
                        ),
                        data: json!({"rating": rating, "product_external_id": product_external_id}),
                    },
                )
                .await?;
            }
        }
        IngestOp::Event {
            customer,
            name,
            properties,
            at,
        } => {
            let cid = upsert_customer_mode(conn, ws, actor, customer, MODE)
                .await?
                .customer_id;
            live_customer(conn, ws, cid).await?;
            let id: i64 = sqlx::query("INSERT INTO events (workspace_id, customer_id, name, properties, occurred_at, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
                .bind(ws)
                .bind(cid)
                .bind(name)
                .bind(Value::Object(properties.clone()).to_string())
                .bind(*at)
                .bind(now_ms())
                .fetch_one(&mut *conn)
                .await?
                .get("id");
            insert_timeline(
                conn,
                &TimelineWrite {
                    workspace_id: ws,
                    customer_id: cid,
                    occurred_at: *at,
                    kind: "event",
                    ref_id: Some(id),
                    summary: name.clone(),
                    data: json!({"name": name, "properties": properties}),
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// Record a Segment message, resolve its customer (user id, or an anonymous id seen with one
/// before), link earlier anonymous events once identified, and apply its commerce meaning.
async fn apply_track(
    conn: &mut AnyConnection,
    ws: i64,
    source_id: i64,
    actor: &str,
    t: &TrackOp,
) -> Result<(), ApplyError> {
    // Most messages are a known user's track/page call with nothing to change on the
    // profile: one indexed lookup finds the customer, and the event row is written with it.
    let carries_profile = t.kind == "identify"
        || t.kind == "alias"
        || t.kind == "group"
        || t.customer
            .identities
            .iter()
            .any(|i| i.kind != crate::validate::IdentityKind::External)
        || t.customer.first_name.is_some()
        || t.customer.last_name.is_some()
        || !t.customer.attributes.is_empty();
    let mut cid: Option<i64> = None;
    if !carries_profile {
        if let Some(uid) = &t.user_id {
            cid = sqlx::query("SELECT customer_id FROM identities WHERE workspace_id = $1 AND kind = 'external' AND source_id = $2 AND value = $3 AND verified = 1")
                .bind(ws)
                .bind(source_id)
                .bind(uid)
                .fetch_optional(&mut *conn)
                .await?
                .map(|r| r.get::<i64, _>("customer_id"));
        } else if let Some(anon) = &t.anonymous_id {
            cid = sqlx::query("SELECT customer_id FROM track_events WHERE workspace_id = $1 AND anonymous_id = $2 AND customer_id IS NOT NULL LIMIT 1")
                .bind(ws)
                .bind(anon)
                .fetch_optional(&mut *conn)
                .await?
                .map(|r| r.get::<i64, _>("customer_id"));
        }
    }
    let inserted = sqlx::query(
        "INSERT INTO track_events (workspace_id, source_id, message_id, type, name, user_id, anonymous_id, properties, occurred_at, received_at, customer_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (workspace_id, message_id) DO NOTHING RETURNING id",
    )
    .bind(ws)
    .bind(source_id)
    .bind(&t.message_id)
    .bind(&t.kind)
    .bind(&t.name)
    .bind(&t.user_id)
    .bind(&t.anonymous_id)
    .bind(Value::Object(t.properties.clone()).to_string())
    .bind(t.at)
    .bind(now_ms())
    .bind(cid)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = inserted else {
        return Ok(()); // the same messageId again: already applied
    };
    let event_id: i64 = row.get("id");
    let resolved_now = cid.is_none();
    if cid.is_none()
        && (t.user_id.is_some() || (t.kind == "identify" && !t.customer.identities.is_empty()))
    {
        cid = Some(
            upsert_customer_mode(conn, ws, actor, &t.customer, MODE)
                .await?
                .customer_id,
        );
    } else if cid.is_none() && carries_profile {
        if let Some(anon) = &t.anonymous_id {
            cid = sqlx::query("SELECT customer_id FROM track_events WHERE workspace_id = $1 AND anonymous_id = $2 AND customer_id IS NOT NULL LIMIT 1")
                .bind(ws)
                .bind(anon)
                .fetch_optional(&mut *conn)
                .await?
                .map(|r| r.get::<i64, _>("customer_id"));
        }
    }
    if let Some(c) = cid {
        if resolved_now {
            sqlx::query("UPDATE track_events SET customer_id = $2 WHERE id = $1")
                .bind(event_id)
                .bind(c)
                .execute(&mut *conn)
                .await?;
        }
        // Earlier anonymous events of this visitor now belong to the customer.
        if let (Some(anon), true) = (&t.anonymous_id, t.user_id.is_some() || t.kind == "identify") {
            sqlx::query("UPDATE track_events SET customer_id = $3 WHERE workspace_id = $1 AND anonymous_id = $2 AND customer_id IS NULL").bind(ws).bind(anon).bind(c).execute(&mut *conn).await?;
        }
        if t.kind == "track" || t.kind == "identify" {
            let summary = t.name.clone().unwrap_or_else(|| "Identified".into());
            insert_timeline(
                conn,
                &TimelineWrite {
                    workspace_id: ws,
                    customer_id: c,
                    occurred_at: t.at,
                    kind: "event",
                    ref_id: Some(event_id),
                    summary,
                    data: json!({"type": t.kind, "properties": t.properties}),
                },
            )
            .await?;
        }
        if let Some(prev) = &t.previous_id {
            let owned = sqlx::query("SELECT customer_id FROM identities WHERE workspace_id = $1 AND kind = 'external' AND source_id = $2 AND value = $3").bind(ws).bind(source_id).bind(prev).fetch_optional(&mut *conn).await?;
            if owned.is_none() {
                sqlx::query("INSERT INTO identities (workspace_id, customer_id, kind, value, source_id, verified, created_at) VALUES ($1, $2, 'external', $3, $4, 1, $5)").bind(ws).bind(c).bind(prev).bind(source_id).bind(now_ms()).execute(&mut *conn).await?;
            }
        }
        if let Some(name) = &t.group {
            let company = super::imports::company_id(conn, ws, name).await?;
            sqlx::query("UPDATE customers SET company_id = $2, updated_at = $3 WHERE id = $1")
                .bind(c)
                .bind(company)
                .bind(now_ms())
                .execute(&mut *conn)
                .await?;
        }
    }
    match &t.commerce {
        None => {}
        Some(TrackCommerce::Order {
            order,
            products,
            cart_external_id,
        }) => {
            let op = OrderOp {
                customer: t.customer.clone(),
                order: order.clone(),
                products: products.clone(),
                history: vec![(order.status, order.placed_at)],
                source_updated_at: None,
            };
            apply_order(conn, ws, actor, &op, cid).await?;
            if let Some(cart) = cart_external_id {
                sqlx::query("UPDATE carts SET status = 'converted', updated_at = $4 WHERE workspace_id = $1 AND source_id = $2 AND external_id = $3").bind(ws).bind(source_id).bind(cart).bind(now_ms()).execute(&mut *conn).await?;
            }
        }
        Some(TrackCommerce::Refund {
            order_external_id,
            amount_minor,
        }) => {
            let o = find_order(conn, ws, source_id, order_external_id)
                .await?
                .ok_or_else(|| {
                    ApplyError::Retry(format!("order {order_external_id} not received yet"))
                })?;
            let amount = amount_minor.unwrap_or(o.total_minor - o.refunded_minor);
            Box::pin(apply(
                conn,
                ws,
                source_id,
                actor,
                &IngestOp::Refund {
                    order_external_id: order_external_id.clone(),
                    refund_key: Some(t.message_id.clone()),
                    amount_minor: amount,
                    at: t.at,
                    reason: None,
                },
            ))
            .await?;
        }
        Some(TrackCommerce::Cancel { order_external_id }) => {
            Box::pin(apply(
                conn,
                ws,
                source_id,
                actor,
                &IngestOp::Status {
                    order_external_id: order_external_id.clone(),
                    status: OrderStatus::Cancelled,
                    at: t.at,
                    reason: None,
                    return_reason: None,
                },
            ))
            .await?;
        }
        Some(TrackCommerce::Cart {
            cart_external_id,
            currency,
            lines,
            products,
            replace,
            remove,
            checkout_url,
        }) => {
            let pids = product_ids(conn, ws, actor, products).await?;
            let mut incoming = lines.clone();
            for (l, pid) in incoming.iter_mut().zip(&pids) {
                if pid.is_some() {
                    l.product_id = *pid;
                }
            }
            let existing: Vec<wafa_model::OrderLine> = sqlx::query("SELECT lines FROM carts WHERE workspace_id = $1 AND source_id = $2 AND external_id = $3")
                .bind(ws)
                .bind(source_id)
                .bind(cart_external_id)
                .fetch_optional(&mut *conn)
                .await?
                .map(|r| super::json_col(&r, "lines"))
                .unwrap_or_default();
            let same = |a: &ValidLine, b: &wafa_model::OrderLine| {
                (a.product_id.is_some() && a.product_id == b.product_id)
                    || (a.sku.is_some() && a.sku == b.sku)
                    || a.title == b.title
            };
            let mut merged: Vec<ValidLine> = if *replace {
                incoming.clone()
            } else {
                existing
                    .iter()
                    .filter(|e| !incoming.iter().any(|i| same(i, e)))
                    .map(|e| ValidLine {
                        product_id: e.product_id,
                        sku: e.sku.clone(),
                        title: e.title.clone(),
                        quantity: e.quantity,
                        unit_price_minor: e.unit_price_minor,
                        total_minor: e.total_minor,
                    })
                    .collect()
            };
            if !*replace && !*remove {
                merged.extend(incoming);
            }
            let cart = CartInput {
                customer_id: cid,
                source_id: Some(source_id),
                external_id: Some(cart_external_id.clone()),
                currency: currency.code().to_owned(),
                lines: Vec::new(),
                status: Some("open".into()),
                checkout_url: checkout_url.clone(),
                updated_at: None,
            };
            upsert_cart_tx(conn, ws, actor, &cart, *currency, &merged, t.at).await?;
        }
    }
    Ok(())
}

/// A track/page/screen call that changes no profile and has no commerce meaning: the bulk of
/// event traffic. Returns the message and its user id.
fn plain(op: &IngestOp) -> Option<(&TrackOp, &str)> {
    let IngestOp::Track(t) = op else { return None };
    let simple = (t.kind == "track" || t.kind == "page" || t.kind == "screen")
        && t.commerce.is_none()
        && t.previous_id.is_none()
        && t.group.is_none()
        && t.customer
            .identities
            .iter()
            .all(|i| i.kind == crate::validate::IdentityKind::External)
        && t.customer.first_name.is_none()
        && t.customer.last_name.is_none()
        && t.customer.attributes.is_empty();
    if simple {
        t.user_id.as_deref().map(|u| (&**t, u))
    } else {
        None
    }
}

/// Whether the first-seen user of a plain message can be created in bulk: exactly what
/// `upsert_customer_mode` would create for it (one external identity, the message's own user
/// id; no company to check).
fn creatable(t: &TrackOp, source_id: i64) -> bool {
    matches!(t.customer.identities.as_slice(), [i]
        if i.kind == crate::validate::IdentityKind::External
            && i.source_id == source_id
            && Some(i.value.as_str()) == t.user_id.as_deref())
        && t.customer.company_id.is_none()
}

/// The bulk path for the bulk of event traffic: plain track/page calls ([`plain`]). Their
/// message ids are checked and their users looked up in one query each; users seen for the
/// first time are created as `upsert_customer_mode` would create them (customer row,
/// identity, tags, "customer created" entry) with multi-row statements; then the events and
/// timeline rows are written with multi-row statements and earlier anonymous events of their
/// visitors linked, as [`apply_track`] does one by one.
///
/// Returns, per op, whether it was handled here; the rest go through [`apply`] one by one, in
/// order, after these. That is the same as applying everything in order because a message is
/// only taken here when no *earlier* message of the batch that is not taken here shares its
/// user id, anonymous id or message id: the two touch disjoint customers, visitors and events,
/// so moving the plain one first changes nothing (later messages run after it either way).
async fn plain_tracks_in_bulk(
    conn: &mut AnyConnection,
    backend: super::Backend,
    ws: i64,
    source_id: i64,
    actor: &str,
    ops: &[IngestOp],
) -> Result<Vec<bool>, ApplyError> {
    use std::collections::{HashMap, HashSet};
    let mut done = vec![false; ops.len()];
    if !ops.iter().any(|o| plain(o).is_some()) {
        return Ok(done);
    }
    // Which plain messages may move first: nothing earlier and not plain mentions their keys.
    // Any operation other than a Segment message makes the whole batch go one by one.
    if ops.iter().any(|o| !matches!(o, IngestOp::Track(_))) {
        return Ok(done);
    }
    fn keys(t: &TrackOp) -> Vec<String> {
        let mut k = vec![format!("m:{}", t.message_id)];
        k.extend(t.user_id.iter().map(|u| format!("u:{u}")));
        k.extend(t.anonymous_id.iter().map(|a| format!("a:{a}")));
        k.extend(t.previous_id.iter().map(|p| format!("u:{p}")));
        k.extend(
            t.customer
                .identities
                .iter()
                .filter(|i| i.kind == crate::validate::IdentityKind::External)
                .map(|i| format!("u:{}", i.value)),
        );
        k
    }
    let mut blocked: HashSet<String> = HashSet::new();
    let mut candidates: Vec<(usize, &TrackOp, &str)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let IngestOp::Track(t) = op else { continue };
        match plain(op) {
            Some((t, u)) if keys(t).iter().all(|k| !blocked.contains(k)) => {
                candidates.push((i, t, u))
            }
            _ => blocked.extend(keys(t)),
        }
    }
    if candidates.is_empty() {
        return Ok(done);
    }
    // Their users: known ones in one query.
    let mut users: Vec<&str> = candidates.iter().map(|(_, _, u)| *u).collect();
    users.sort_unstable();
    users.dedup();
    let mut known: HashMap<String, i64> = HashMap::new();
    for chunk in users.chunks(250) {
        let mut q = super::sql::Sql::for_backend(
            "SELECT value, customer_id FROM identities WHERE workspace_id = ",
            backend,
        );
        q.int(ws)
            .push(" AND kind = 'external' AND verified = 1 AND source_id = ")
            .int(source_id)
            .push(" AND value IN ")
            .list(chunk.iter().map(|s| Val::S((*s).to_owned())));
        for r in q.query().fetch_all(&mut *conn).await? {
            known.insert(r.get("value"), r.get("customer_id"));
        }
    }
    for (i, _, _) in &candidates {
        done[*i] = true;
    }
    // Messages stored before (a retried batch) have no effects again. When every user is
    // known, the insert below tells which messages are new; a first-seen user must only be
    // created for a message that is new, so then they are checked first.
    let fresh = if users.iter().all(|u| known.contains_key(*u)) {
        candidates
    } else {
        let mut seen: HashSet<String> = HashSet::new();
        let mut ids: Vec<&str> = candidates
            .iter()
            .map(|(_, t, _)| t.message_id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(250) {
            let mut q = super::sql::Sql::for_backend(
                "SELECT message_id FROM track_events WHERE workspace_id = ",
                backend,
            );
            q.int(ws)
                .push(" AND message_id IN ")
                .list(chunk.iter().map(|s| Val::S((*s).to_owned())));
            for r in q.query().fetch_all(&mut *conn).await? {
                seen.insert(r.get("message_id"));
            }
        }
        candidates
            .into_iter()
            .filter(|(_, t, _)| seen.insert(t.message_id.clone()))
            .collect::<Vec<_>>()
    };
    // First-seen users, in order of first appearance, created from their first message.
    let mut new_users: Vec<&TrackOp> = Vec::new();
    let mut slow_users: HashSet<&str> = HashSet::new();
    let mut new_seen: HashSet<&str> = HashSet::new();
    for (_, t, u) in &fresh {
        if known.contains_key(*u) || slow_users.contains(u) || new_seen.contains(u) {
            continue;
        }
        if creatable(t, source_id) {
            new_seen.insert(u);
            new_users.push(t);
        } else {
            slow_users.insert(u);
        }
    }
    if !slow_users.is_empty() {
        // A first-seen user this path cannot create as the one-by-one path would (never the
        // case for Segment messages, which carry only their user id): nothing is written
        // yet, so the whole batch goes one by one.
        return Ok(vec![false; ops.len()]);
    }
    let now = now_ms();
    let ids = super::bulk::reserve_ids(conn, backend, "customers", new_users.len()).await?;
    // (Only plain first-seen users come here — an external id, no company — so their names
    // are empty and the shared rows are what this path wrote by itself before.)
    let mut created_rows = super::bulk::NewCustomers::default();
    for (t, &id) in new_users.iter().zip(&ids) {
        created_rows.push(ws, id, &t.customer, None, now, actor);
        known.insert(t.user_id.clone().unwrap_or_default(), id);
    }
    created_rows.insert(conn, backend).await?;
    let mut tl_rows = Vec::new();
    // The events, with their customers.
    let mut rows = Vec::with_capacity(fresh.len());
    // (message, customer, properties as JSON text)
    let mut batch: Vec<(&TrackOp, i64, String)> = Vec::with_capacity(fresh.len());
    for (_, t, u) in &fresh {
        let cid = known[*u];
        let props = serde_json::to_string(&t.properties).unwrap_or_else(|_| "{}".into());
        rows.push(vec![
            Val::I(ws),
            Val::I(source_id),
            Val::S(t.message_id.clone()),
            Val::S(t.kind.clone()),
            Val::NS(t.name.clone()),
            Val::NS(t.user_id.clone()),
            Val::NS(t.anonymous_id.clone()),
            Val::S(props.clone()),
            Val::I(t.at),
            Val::I(now),
            Val::I(cid),
        ]);
        batch.push((t, cid, props));
    }
    let mut event_ids: HashMap<String, i64> = HashMap::new();
    let cols = "workspace_id, source_id, message_id, type, name, user_id, anonymous_id, properties, occurred_at, received_at, customer_id";
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut q = super::sql::Sql::for_backend(
            &format!("INSERT INTO track_events ({cols}) VALUES "),
            backend,
        );
        for (k, row) in rows.by_ref().take(250).enumerate() {
            if k > 0 {
                q.push(", ");
            }
            q.list(row);
        }
        q.push(" ON CONFLICT (workspace_id, message_id) DO NOTHING RETURNING id, message_id");
        for r in q.query().fetch_all(&mut *conn).await? {
            event_ids.insert(r.get("message_id"), r.get("id"));
        }
    }
    // The messages inserted now, in order (a messageId repeated in the batch counts once).
    let inserted: Vec<(&TrackOp, i64, i64, &str)> = batch
        .iter()
        .filter_map(|(t, cid, props)| {
            Some((*t, *cid, event_ids.remove(&t.message_id)?, props.as_str()))
        })
        .collect();
    // Earlier anonymous events of these visitors now belong to their customers (the first
    // message naming a visitor decides, as it would one by one).
    let mut visitors: Vec<(&str, i64)> = Vec::new();
    for (t, cid, _, _) in &inserted {
        if let Some(a) = t.anonymous_id.as_deref() {
            if !visitors.iter().any(|(v, _)| *v == a) {
                visitors.push((a, *cid));
            }
        }
    }
    for chunk in visitors.chunks(250) {
        let mut q = super::sql::Sql::for_backend(
            "SELECT DISTINCT anonymous_id FROM track_events WHERE workspace_id = ",
            backend,
        );
        q.int(ws)
            .push(" AND customer_id IS NULL AND anonymous_id IN ")
            .list(chunk.iter().map(|(a, _)| Val::S((*a).to_owned())));
        let unlinked: HashSet<String> = q
            .query()
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.get("anonymous_id"))
            .collect();
        for (a, cid) in chunk.iter().filter(|(a, _)| unlinked.contains(*a)) {
            sqlx::query("UPDATE track_events SET customer_id = $3 WHERE workspace_id = $1 AND anonymous_id = $2 AND customer_id IS NULL")
                .bind(ws)
                .bind(*a)
                .bind(*cid)
                .execute(&mut *conn)
                .await?;
        }
    }
    for (t, cid, id, props) in inserted.iter().filter(|(t, _, _, _)| t.kind == "track") {
        tl_rows.push(vec![
            Val::I(ws),
            Val::I(*cid),
            Val::I(t.at),
            "event".into(),
            Val::I(*id),
            Val::S(t.name.clone().unwrap_or_default()),
            Val::S(event_data(&t.kind, props)),
        ]);
    }
    super::sql::insert_rows(
        conn,
        backend,
        "timeline",
        &[
            "workspace_id",
            "customer_id",
            "occurred_at",
            "kind",
            "ref_id",
            "summary",
            "data",
        ],
        tl_rows,
    )
    .await?;
    Ok(done)
}

/// An event's timeline data, `json!({"type": kind, "properties": …}).to_string()` as the
/// one-by-one path writes it (keys sorted), from the properties' JSON text already made for
/// the event row (no second copy and serialisation of the properties).
fn event_data(kind: &str, properties_json: &str) -> String {
    let kind = serde_json::to_string(kind).unwrap_or_default();
    format!("{{\"properties\":{properties_json},\"type\":{kind}}}")
}

/// Deliveries applied in one processor transaction at most.
const MAX_PER_TRANSACTION: usize = 8;
/// A processor transaction takes no new delivery after this long.
const TRANSACTION_BUDGET: std::time::Duration = std::time::Duration::from_millis(4);

/// The processor's hold on the writer: a few deliveries applied one after another in one
/// transaction, each in its own savepoint together with its "processed" (or failed, or retry)
/// mark, so each delivery still commits or vanishes whole, and a crash loses or repeats
/// nothing. One transaction per delivery would pay a commit (and, on SQLite, a WAL write of
/// every page it touched) each; a few per transaction share them. The transaction is short:
/// [`Processing::should_commit`] says to commit once a few deliveries are in, once it has
/// held the writer a few milliseconds, or as soon as acknowledgements wait for the writer.
pub struct Processing<'s> {
    store: &'s Store,
    tx: sqlx::Transaction<'static, sqlx::Any>,
    started: std::time::Instant,
    applied: usize,
}

impl Store {
    /// Start a processor transaction (waits for the writer).
    pub async fn begin_processing(&self) -> Result<Processing<'_>, AppError> {
        Ok(Processing {
            store: self,
            tx: self.write.begin().await?,
            started: std::time::Instant::now(),
            applied: 0,
        })
    }

    /// Apply one delivery's operations and mark it processed, atomically.
    pub async fn apply_delivery(
        &self,
        delivery_id: i64,
        workspace_id: i64,
        source_id: i64,
        ops: &[IngestOp],
    ) -> Result<(), ApplyError> {
        let mut p = self.begin_processing().await?;
        p.apply(delivery_id, workspace_id, source_id, ops).await?;
        p.commit().await?;
        Ok(())
    }
}

impl Processing<'_> {
    /// Apply a delivery's operations and mark it processed, in a savepoint: on an error
    /// nothing of this delivery remains (the caller then records the failure or the retry).
    pub async fn apply(
        &mut self,
        delivery_id: i64,
        workspace_id: i64,
        source_id: i64,
        ops: &[IngestOp],
    ) -> Result<(), ApplyError> {
        use sqlx::Acquire;
        let actor = format!("source:{source_id}");
        let backend = self.store.backend;
        let mut sp = (&mut self.tx).begin().await?;
        let done =
            plain_tracks_in_bulk(&mut sp, backend, workspace_id, source_id, &actor, ops).await?;
        for (op, done) in ops.iter().zip(done) {
            if !done {
                apply(&mut sp, workspace_id, source_id, &actor, op).await?;
            }
        }
        sqlx::query("UPDATE deliveries SET status = 'processed', processed_at = $2, attempts = attempts + 1, error_code = NULL, error = NULL WHERE id = $1")
            .bind(delivery_id)
            .bind(now_ms())
            .execute(&mut *sp)
            .await?;
        sp.commit().await?;
        self.applied += 1;
        Ok(())
    }

    /// Dead-letter a delivery with its reason.
    pub async fn fail(&mut self, id: i64, code: &str, reason: &str) -> Result<(), AppError> {
        super::deliveries::fail_delivery(&mut self.tx, id, code, reason).await?;
        self.applied += 1;
        Ok(())
    }

    /// Try a delivery again later.
    pub async fn retry(
        &mut self,
        id: i64,
        code: &str,
        reason: &str,
        delay_ms: i64,
    ) -> Result<(), AppError> {
        super::deliveries::retry_delivery(&mut self.tx, id, code, reason, delay_ms).await?;
        self.applied += 1;
        Ok(())
    }

    /// Whether to commit now rather than take another delivery: enough are in, the writer
    /// has been held long enough, or acknowledgements are waiting for it.
    pub fn should_commit(&self) -> bool {
        self.applied >= MAX_PER_TRANSACTION
            || self.started.elapsed() >= TRANSACTION_BUDGET
            || self.store.acks.waiting()
    }

    pub async fn commit(self) -> Result<(), AppError> {
        self.tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_event_data_is_what_the_one_by_one_path_writes() {
        let props: Map<String, Value> = serde_json::from_str(
            r#"{"zeta": 1, "alpha": {"b": [1, "x\"y", null]}, "price": 49.5, "ar": "عود"}"#,
        )
        .unwrap();
        let text = serde_json::to_string(&props).unwrap();
        for kind in ["track", "pa\"ge"] {
            assert_eq!(
                event_data(kind, &text),
                json!({"type": kind, "properties": props}).to_string()
            );
        }
    }
}
