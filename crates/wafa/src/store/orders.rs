//! Products, orders (with lines and status history) and carts.
//!
//! An order's `(source_id, external_id)` is unique per workspace, which is what makes
//! re-imports and platform retries idempotent: writing the same order twice finds the first.
//! Every order write refreshes its customer's denormalised order stats in the same
//! transaction, so list filters ("last order before …") never disagree with the orders.

use super::customers::{ensure_source, live_customer, money_view, Sql};
use super::timeline::{insert_timeline, TimelineWrite};
use super::{audit, json_col, now_ms, Store};
use crate::error::{AppError, AppResult};
use crate::validate::{ValidLine, ValidOrder};
use serde_json::json;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use wafa_domain::time::format_ms;
use wafa_domain::{Currency, ErrorCode, OrderStatus, ReturnReason};
use wafa_model::{Cart, CartInput, Order, OrderLine, Product, ProductInput, StatusChange};

/// What `insert_order` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderWrite {
    Created(i64),
    /// The same (source, external id) exists already; nothing was written.
    Existing(i64),
}

impl OrderWrite {
    pub fn id(self) -> i64 {
        match self {
            OrderWrite::Created(i) | OrderWrite::Existing(i) => i,
        }
    }
}

pub(crate) async fn refresh_customer_stats(
    conn: &mut AnyConnection,
    customer_id: i64,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE customers SET orders_count = (SELECT COUNT(*) FROM orders o WHERE o.customer_id = $1 AND o.status <> 'cancelled'), \
         first_order_at = (SELECT MIN(placed_at) FROM orders o WHERE o.customer_id = $1 AND o.status <> 'cancelled'), \
         last_order_at = (SELECT MAX(placed_at) FROM orders o WHERE o.customer_id = $1 AND o.status <> 'cancelled') WHERE id = $1",
    )
    .bind(customer_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn return_reason(s: &str) -> Option<ReturnReason> {
    use ReturnReason::*;
    [
        Damaged,
        WrongItem,
        NotAsDescribed,
        SizeOrFit,
        ChangedMind,
        LateDelivery,
        Other,
    ]
    .into_iter()
    .find(|r| r.as_str() == s)
}

/// The status history an order gets when created directly in a later state: the path a
/// real order would have taken, so the timeline and analytics see the payment step.
pub(crate) fn implied_history(status: OrderStatus, cod: bool) -> Vec<OrderStatus> {
    use OrderStatus::*;
    let prepaid = [Placed, Paid, Fulfilled, Shipped, Delivered];
    let cash = [Placed, Fulfilled, Shipped, Delivered, Paid];
    let path: &[OrderStatus] = if cod { &cash } else { &prepaid };
    match status {
        Cancelled => vec![Placed, Cancelled],
        Returned => [path, &[Returned]].concat(),
        Refunded => [&prepaid[..2], &[Refunded]].concat(),
        s => {
            let end = path.iter().position(|x| *x == s).unwrap_or(0);
            path[..=end].to_vec()
        }
    }
}

/// Insert an order unless its (source, external id) exists. Caller's transaction.
pub(crate) async fn insert_order(
    conn: &mut AnyConnection,
    workspace_id: i64,
    actor: &str,
    o: &ValidOrder,
    history: Option<&[(OrderStatus, i64, Option<String>)]>,
    quiet: bool,
) -> AppResult<OrderWrite> {
    live_customer(conn, workspace_id, o.customer_id)
        .await
        .map_err(|e| e.at("customer_id"))?;
    if let Some(ext) = &o.external_id {
        let r = sqlx::query(
            "SELECT id FROM orders WHERE workspace_id = $1 AND source_id = $2 AND external_id = $3",
        )
        .bind(workspace_id)
        .bind(o.source_id)
        .bind(ext)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(r) = r {
            return Ok(OrderWrite::Existing(r.get("id")));
        }
    }
    if o.source_id != 0 {
        ensure_source(&mut *conn, workspace_id, o.source_id).await?;
    }
    for (i, l) in o.lines.iter().enumerate() {
        if let Some(pid) = l.product_id {
            let ok = sqlx::query("SELECT id FROM products WHERE id = $1 AND workspace_id = $2")
                .bind(pid)
                .bind(workspace_id)
                .fetch_optional(&mut *conn)
                .await?;
            if ok.is_none() {
                return Err(AppError::field(
                    ErrorCode::ValidationFailed,
                    format!("lines[{i}].product_id"),
                    "no such product in this workspace",
                ));
            }
        }
    }
    let now = now_ms();
    let id: i64 = sqlx::query(
        "INSERT INTO orders (workspace_id, customer_id, source_id, external_id, number, currency, status, payment_method, placed_at, subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor, refunded_minor, city, created_at, updated_at, return_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $17, $15, $16, $16, $18) RETURNING id",
    )
    .bind(workspace_id)
    .bind(o.customer_id)
    .bind(o.source_id)
    .bind(&o.external_id)
    .bind(&o.number)
    .bind(o.currency.code())
    .bind(o.status.as_str())
    .bind(o.payment_method.as_str())
    .bind(o.placed_at)
    .bind(o.subtotal_minor)
    .bind(o.discount_minor)
    .bind(o.shipping_minor)
    .bind(o.tax_minor)
    .bind(o.total_minor)
    .bind(&o.city)
    .bind(now)
    .bind(o.refunded_minor.clamp(0, o.total_minor))
    .bind(&o.return_reason)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    insert_lines(conn, workspace_id, id, &o.lines).await?;
    let hist: Vec<(OrderStatus, i64, Option<String>)> = match history {
        Some(h) if !h.is_empty() => h.to_vec(),
        _ => implied_history(
            o.status,
            o.payment_method == wafa_domain::PaymentMethod::CashOnDelivery,
        )
        .into_iter()
        .map(|s| (s, o.placed_at, None))
        .collect(),
    };
    for (s, at, reason) in &hist {
        sqlx::query("INSERT INTO order_status_history (order_id, workspace_id, status, at, reason) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(workspace_id)
            .bind(s.as_str())
            .bind(*at)
            .bind(reason)
            .execute(&mut *conn)
            .await?;
    }
    let total = o.currency.format_amount(o.total_minor);
    let label = o.number.clone().unwrap_or_else(|| format!("#{id}"));
    insert_timeline(conn, &TimelineWrite {
        workspace_id,
        customer_id: o.customer_id,
        occurred_at: o.placed_at,
        kind: "order_placed",
        ref_id: Some(id),
        summary: format!("Order {label} placed: {total} {}", o.currency.code()),
        data: json!({"order_id": id, "total_minor": o.total_minor, "currency": o.currency.code(), "payment_method": o.payment_method.as_str()}),
    })
    .await?;
    for (s, at, reason) in hist.iter().filter(|(s, _, _)| *s != OrderStatus::Placed) {
        insert_timeline(
            conn,
            &TimelineWrite {
                workspace_id,
                customer_id: o.customer_id,
                occurred_at: *at,
                kind: "order_status",
                ref_id: Some(id),
                summary: format!("Order {label} {}", s.as_str()),
                data: json!({"order_id": id, "status": s.as_str(), "reason": reason}),
            },
        )
        .await?;
    }
    refresh_customer_stats(conn, o.customer_id).await?;
    if !quiet {
        audit(
            conn,
            workspace_id,
            actor,
            "order.create",
            "order",
            Some(id),
            json!({"customer_id": o.customer_id}),
        )
        .await?;
    }
    Ok(OrderWrite::Created(id))
}

async fn insert_lines(
    conn: &mut AnyConnection,
    workspace_id: i64,
    order_id: i64,
    lines: &[ValidLine],
) -> AppResult<()> {
    for l in lines {
        sqlx::query("INSERT INTO order_lines (order_id, workspace_id, product_id, sku, title, quantity, unit_price_minor, total_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(order_id)
            .bind(workspace_id)
            .bind(l.product_id)
            .bind(&l.sku)
            .bind(&l.title)
            .bind(l.quantity)
            .bind(l.unit_price_minor)
            .bind(l.total_minor)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A requested status change.
#[derive(Clone, Copy)]
pub struct StatusUpdate<'a> {
    pub to: OrderStatus,
    pub at: i64,
    pub note: Option<&'a str>,
    /// Return reason (for `returned`).
    pub reason: Option<&'a str>,
    /// Amount to refund now (partial refunds keep the status).
    pub refund_minor: Option<i64>,
}

/// Apply a status change with its side effects (refund amount, return reason, timeline).
pub(crate) async fn change_status_tx(
    conn: &mut AnyConnection,
    workspace_id: i64,
    actor: &str,
    order_id: i64,
    u: &StatusUpdate<'_>,
) -> AppResult<()> {
    let r = sqlx::query("SELECT customer_id, status, total_minor, refunded_minor, currency, number FROM orders WHERE id = $1 AND workspace_id = $2")
        .bind(order_id)
        .bind(workspace_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AppError::not_found("order"))?;
    let StatusUpdate {
        to,
        at,
        note,
        reason,
        refund_minor,
    } = *u;
    let from = OrderStatus::parse(&r.get::<String, _>("status")).unwrap_or(OrderStatus::Placed);
    let partial_refund = to == from && to != OrderStatus::Refunded && refund_minor.is_some();
    if !partial_refund && !from.can_move_to(to) {
        return Err(AppError::new(
            ErrorCode::InvalidStatusTransition,
            format!(
                "cannot move an order from {} to {}",
                from.as_str(),
                to.as_str()
            ),
        )
        .with_extra(json!({"from": from.as_str(), "to": to.as_str()})));
    }
    let total: i64 = r.get("total_minor");
    let refunded: i64 = r.get("refunded_minor");
    let mut new_refunded = refunded;
    if let Some(amount) = refund_minor {
        if amount <= 0 || refunded + amount > total {
            return Err(AppError::field(
                ErrorCode::InvalidAmount,
                "refund_minor",
                format!(
                    "refund must be between 1 and the remaining {}",
                    total - refunded
                ),
            ));
        }
        new_refunded = refunded + amount;
    } else if to == OrderStatus::Refunded {
        new_refunded = total;
    }
    let reason = match (to, reason) {
        (OrderStatus::Returned, Some(s)) => Some(
            return_reason(s)
                .ok_or_else(|| {
                    AppError::validation("reason", format!("unknown return reason {s:?}"))
                })?
                .as_str()
                .to_owned(),
        ),
        (OrderStatus::Returned, None) => Some(ReturnReason::Other.as_str().to_owned()),
        (_, r) => r.map(str::to_owned),
    };
    // A partial refund that reaches the total is a full refund.
    let final_status = if new_refunded == total
        && total > 0
        && refund_minor.is_some()
        && from.can_move_to(OrderStatus::Refunded)
    {
        OrderStatus::Refunded
    } else {
        to
    };
    sqlx::query("UPDATE orders SET status = $2, refunded_minor = $3, return_reason = COALESCE($4, return_reason), updated_at = $5 WHERE id = $1")
        .bind(order_id)
        .bind(final_status.as_str())
        .bind(new_refunded)
        .bind(if to == OrderStatus::Returned { reason.clone() } else { None })
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO order_status_history (order_id, workspace_id, status, at, note, reason) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(order_id)
        .bind(workspace_id)
        .bind(final_status.as_str())
        .bind(at)
        .bind(note)
        .bind(&reason)
        .execute(&mut *conn)
        .await?;
    let customer_id: i64 = r.get("customer_id");
    let label = r
        .get::<Option<String>, _>("number")
        .unwrap_or_else(|| format!("#{order_id}"));
    let summary = if partial_refund {
        let cur = Currency::parse(&r.get::<String, _>("currency")).ok();
        let amt = cur
            .map(|c| format!("{} {}", c.format_amount(new_refunded - refunded), c.code()))
            .unwrap_or_default();
        format!("Order {label} partially refunded: {amt}")
    } else {
        format!("Order {label} {}", final_status.as_str())
    };
    insert_timeline(conn, &TimelineWrite {
        workspace_id,
        customer_id,
        occurred_at: at,
        kind: "order_status",
        ref_id: Some(order_id),
        summary,
        data: json!({"order_id": order_id, "from": from.as_str(), "status": final_status.as_str(), "reason": reason, "note": note, "refunded_minor": new_refunded}),
    })
    .await?;
    refresh_customer_stats(conn, customer_id).await?;
    audit(
        conn,
        workspace_id,
        actor,
        "order.status",
        "order",
        Some(order_id),
        json!({"from": from.as_str(), "to": final_status.as_str()}),
    )
    .await?;
    Ok(())
}

fn product_from_row(r: &sqlx::any::AnyRow) -> Product {
    Product {
        id: r.get("id"),
        source_id: Some(r.get::<i64, _>("source_id")).filter(|s| *s != 0),
        external_id: r.get("external_id"),
        sku: r.get("sku"),
        title: r.get("title"),
        title_ar: r.get("title_ar"),
        category: r.get("category"),
        price_minor: r.get("price_minor"),
        currency: r.get("currency"),
        url: r.get("url"),
        image_url: r.get("image_url"),
        created_at: format_ms(r.get("created_at")),
    }
}

const PRODUCT_COLS: &str = "id, source_id, external_id, sku, title, title_ar, category, price_minor, currency, url, image_url, created_at";
const ORDER_COLS: &str = "id, customer_id, source_id, external_id, number, currency, status, payment_method, placed_at, subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor, refunded_minor, return_reason, city";

pub(crate) async fn upsert_product_tx(
    conn: &mut AnyConnection,
    workspace_id: i64,
    actor: &str,
    p: &ProductInput,
) -> AppResult<(i64, bool)> {
    let source_id = p.source_id.unwrap_or(0);
    if source_id != 0 {
        ensure_source(&mut *conn, workspace_id, source_id).await?;
    }
    let now = now_ms();
    if let Some(ext) = &p.external_id {
        let existing = sqlx::query("SELECT id FROM products WHERE workspace_id = $1 AND source_id = $2 AND external_id = $3")
            .bind(workspace_id)
            .bind(source_id)
            .bind(ext)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(r) = existing {
            let id: i64 = r.get("id");
            sqlx::query("UPDATE products SET sku = $2, title = $3, title_ar = $4, category = $5, price_minor = $6, currency = $7, url = $8, image_url = $9, updated_at = $10 WHERE id = $1")
                .bind(id)
                .bind(&p.sku)
                .bind(&p.title)
                .bind(&p.title_ar)
                .bind(&p.category)
                .bind(p.price_minor)
                .bind(&p.currency)
                .bind(&p.url)
                .bind(&p.image_url)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            return Ok((id, false));
        }
    }
    let id: i64 = sqlx::query("INSERT INTO products (workspace_id, source_id, external_id, sku, title, title_ar, category, price_minor, currency, url, image_url, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id")
        .bind(workspace_id)
        .bind(source_id)
        .bind(&p.external_id)
        .bind(&p.sku)
        .bind(&p.title)
        .bind(&p.title_ar)
        .bind(&p.category)
        .bind(p.price_minor)
        .bind(&p.currency)
        .bind(&p.url)
        .bind(&p.image_url)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?
        .get("id");
    audit(
        conn,
        workspace_id,
        actor,
        "product.create",
        "product",
        Some(id),
        json!({"title": p.title}),
    )
    .await?;
    Ok((id, true))
}

pub(crate) async fn upsert_cart_tx(
    conn: &mut AnyConnection,
    workspace_id: i64,
    actor: &str,
    c: &CartInput,
    currency: Currency,
    lines: &[ValidLine],
    updated_at: i64,
) -> AppResult<i64> {
    let status = c.status.as_deref().unwrap_or("open");
    if !["open", "abandoned", "converted"].contains(&status) {
        return Err(AppError::validation(
            "status",
            format!("unknown cart status {status:?} (open, abandoned, converted)"),
        ));
    }
    if let Some(cid) = c.customer_id {
        live_customer(conn, workspace_id, cid)
            .await
            .map_err(|e| e.at("customer_id"))?;
    }
    let source_id = c.source_id.unwrap_or(0);
    if source_id != 0 {
        ensure_source(&mut *conn, workspace_id, source_id).await?;
    }
    let total: i64 = lines.iter().map(|l| l.total_minor).sum();
    let lines_json = serde_json::to_string(&lines.iter().map(line_view).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into());
    let existing = match &c.external_id {
        Some(ext) => sqlx::query(
            "SELECT id FROM carts WHERE workspace_id = $1 AND source_id = $2 AND external_id = $3",
        )
        .bind(workspace_id)
        .bind(source_id)
        .bind(ext)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.get::<i64, _>("id")),
        None => None,
    };
    let id = match existing {
        Some(id) => {
            sqlx::query("UPDATE carts SET customer_id = COALESCE($2, customer_id), currency = $3, lines = $4, total_minor = $5, status = $6, checkout_url = $7, updated_at = $8 WHERE id = $1")
                .bind(id)
                .bind(c.customer_id)
                .bind(currency.code())
                .bind(&lines_json)
                .bind(total)
                .bind(status)
                .bind(&c.checkout_url)
                .bind(updated_at)
                .execute(&mut *conn)
                .await?;
            id
        }
        None => sqlx::query("INSERT INTO carts (workspace_id, customer_id, source_id, external_id, currency, lines, total_minor, status, checkout_url, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id")
            .bind(workspace_id)
            .bind(c.customer_id)
            .bind(source_id)
            .bind(&c.external_id)
            .bind(currency.code())
            .bind(&lines_json)
            .bind(total)
            .bind(status)
            .bind(&c.checkout_url)
            .bind(updated_at)
            .fetch_one(&mut *conn)
            .await?
            .get("id"),
    };
    if let (Some(cid), "abandoned") = (c.customer_id, status) {
        insert_timeline(
            conn,
            &TimelineWrite {
                workspace_id,
                customer_id: cid,
                occurred_at: updated_at,
                kind: "cart_abandoned",
                ref_id: Some(id),
                summary: format!(
                    "Cart abandoned: {} {}",
                    currency.format_amount(total),
                    currency.code()
                ),
                data: json!({"cart_id": id, "total_minor": total, "currency": currency.code()}),
            },
        )
        .await?;
    }
    audit(
        conn,
        workspace_id,
        actor,
        "cart.upsert",
        "cart",
        Some(id),
        json!({"status": status}),
    )
    .await?;
    Ok(id)
}

fn line_view(l: &ValidLine) -> OrderLine {
    OrderLine {
        product_id: l.product_id,
        sku: l.sku.clone(),
        title: l.title.clone(),
        quantity: l.quantity,
        unit_price_minor: l.unit_price_minor,
        total_minor: l.total_minor,
    }
}

fn cart_from_row(r: &sqlx::any::AnyRow) -> Cart {
    Cart {
        id: r.get("id"),
        customer_id: r.get("customer_id"),
        source_id: Some(r.get::<i64, _>("source_id")).filter(|s| *s != 0),
        external_id: r.get("external_id"),
        currency: r.get("currency"),
        lines: json_col(r, "lines"),
        total_minor: r.get("total_minor"),
        status: r.get("status"),
        checkout_url: r.get("checkout_url"),
        created_at: format_ms(r.get("created_at")),
        updated_at: format_ms(r.get("updated_at")),
    }
}

const CART_COLS: &str = "id, customer_id, source_id, external_id, currency, lines, total_minor, status, checkout_url, created_at, updated_at";

/// Filters for the order list.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub customer_id: Option<i64>,
    pub status: Option<OrderStatus>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

impl Store {
    pub async fn create_order(
        &self,
        workspace_id: i64,
        actor: &str,
        o: &ValidOrder,
    ) -> AppResult<OrderWrite> {
        let mut tx = self.write.begin().await?;
        let w = insert_order(&mut tx, workspace_id, actor, o, None, false).await?;
        tx.commit().await?;
        Ok(w)
    }

    pub async fn get_order(&self, workspace_id: i64, id: i64) -> AppResult<Order> {
        let mut conn = self.read.acquire().await?;
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ORDER_COLS} FROM orders WHERE id = $1 AND workspace_id = $2"
        )))
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AppError::not_found("order"))?;
        let lines = sqlx::query("SELECT product_id, sku, title, quantity, unit_price_minor, total_minor FROM order_lines WHERE order_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
        let hist = sqlx::query("SELECT status, at, note, reason FROM order_status_history WHERE order_id = $1 ORDER BY at, id")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
        let mut o = order_from_row(&r);
        o.lines = lines
            .iter()
            .map(|l| OrderLine {
                product_id: l.get("product_id"),
                sku: l.get("sku"),
                title: l.get("title"),
                quantity: l.get("quantity"),
                unit_price_minor: l.get("unit_price_minor"),
                total_minor: l.get("total_minor"),
            })
            .collect();
        o.status_history = hist
            .iter()
            .map(|h| StatusChange {
                status: h.get("status"),
                at: format_ms(h.get("at")),
                note: h.get("note"),
                reason: h.get("reason"),
            })
            .collect();
        Ok(o)
    }

    /// Orders newest first (by id); lines and history are on the single-order read.
    pub async fn list_orders(&self, workspace_id: i64, f: &OrderFilter) -> AppResult<Vec<Order>> {
        let mut q = Sql::new(&format!(
            "SELECT {ORDER_COLS} FROM orders WHERE workspace_id = "
        ));
        q.int(workspace_id);
        if let Some(c) = f.customer_id {
            q.push(" AND customer_id = ").int(c);
        }
        if let Some(s) = f.status {
            q.push(" AND status = ").text(s.as_str());
        }
        if let Some(b) = f.before_id {
            q.push(" AND id < ").int(b);
        }
        q.push(" ORDER BY id DESC LIMIT ").int(f.limit);
        let rows = q.query().fetch_all(&self.read).await?;
        Ok(rows.iter().map(order_from_row).collect())
    }

    pub async fn change_order_status(
        &self,
        workspace_id: i64,
        actor: &str,
        order_id: i64,
        u: &StatusUpdate<'_>,
    ) -> AppResult<()> {
        let mut tx = self.write.begin().await?;
        change_status_tx(&mut tx, workspace_id, actor, order_id, u).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn upsert_product(
        &self,
        workspace_id: i64,
        actor: &str,
        p: &ProductInput,
    ) -> AppResult<(i64, bool)> {
        let mut tx = self.write.begin().await?;
        let out = upsert_product_tx(&mut tx, workspace_id, actor, p).await?;
        tx.commit().await?;
        Ok(out)
    }

    pub async fn get_product(&self, workspace_id: i64, id: i64) -> AppResult<Product> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PRODUCT_COLS} FROM products WHERE id = $1 AND workspace_id = $2"
        )))
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| AppError::not_found("product"))?;
        Ok(product_from_row(&r))
    }

    pub async fn list_products(
        &self,
        workspace_id: i64,
        before_id: Option<i64>,
        limit: i64,
    ) -> AppResult<Vec<Product>> {
        let rows = sqlx::query(AssertSqlSafe(format!("SELECT {PRODUCT_COLS} FROM products WHERE workspace_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3")))
            .bind(workspace_id)
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        Ok(rows.iter().map(product_from_row).collect())
    }

    pub async fn upsert_cart(
        &self,
        workspace_id: i64,
        actor: &str,
        c: &CartInput,
        currency: Currency,
        lines: &[ValidLine],
        updated_at: i64,
    ) -> AppResult<i64> {
        let mut tx = self.write.begin().await?;
        let id =
            upsert_cart_tx(&mut tx, workspace_id, actor, c, currency, lines, updated_at).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn get_cart(&self, workspace_id: i64, id: i64) -> AppResult<Cart> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CART_COLS} FROM carts WHERE id = $1 AND workspace_id = $2"
        )))
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| AppError::not_found("cart"))?;
        Ok(cart_from_row(&r))
    }

    pub async fn list_carts(
        &self,
        workspace_id: i64,
        status: Option<&str>,
        before_id: Option<i64>,
        limit: i64,
    ) -> AppResult<Vec<Cart>> {
        let mut q = Sql::new(&format!(
            "SELECT {CART_COLS} FROM carts WHERE workspace_id = "
        ));
        q.int(workspace_id);
        if let Some(s) = status {
            q.push(" AND status = ").text(s);
        }
        if let Some(b) = before_id {
            q.push(" AND id < ").int(b);
        }
        q.push(" ORDER BY id DESC LIMIT ").int(limit);
        let rows = q.query().fetch_all(&self.read).await?;
        Ok(rows.iter().map(cart_from_row).collect())
    }
}

fn order_from_row(r: &sqlx::any::AnyRow) -> Order {
    let currency: String = r.get("currency");
    let total: i64 = r.get("total_minor");
    Order {
        id: r.get("id"),
        customer_id: r.get("customer_id"),
        source_id: Some(r.get::<i64, _>("source_id")).filter(|s| *s != 0),
        external_id: r.get("external_id"),
        number: r.get("number"),
        total: money_view(&currency, total).amount,
        currency,
        status: r.get("status"),
        payment_method: r.get("payment_method"),
        placed_at: format_ms(r.get("placed_at")),
        lines: Vec::new(),
        subtotal_minor: r.get("subtotal_minor"),
        discount_minor: r.get("discount_minor"),
        shipping_minor: r.get("shipping_minor"),
        tax_minor: r.get("tax_minor"),
        total_minor: total,
        refunded_minor: r.get("refunded_minor"),
        return_reason: r.get("return_reason"),
        city: r.get("city"),
        status_history: Vec::new(),
    }
}
