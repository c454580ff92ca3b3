//! Ingestion: turning stored deliveries (store webhooks, event batches) into Wafa data.
//!
//! The HTTP side (`http/ingest.rs`) only verifies and stores; everything here runs in the
//! background processor, from the stored body, so it can be retried, replayed and recovered
//! after a crash. Platform payloads are mapped by `wafa_ingest::webhooks` (pure); this module
//! validates the mapped inputs (dropping an unparseable phone or email instead of losing the
//! order) and hands platform-neutral operations to the store.

use crate::error::AppError;
use crate::store::{
    ApplyError, CartOp, IngestOp, IngestSource, OrderOp, PendingDelivery, Processing, Store,
};
use crate::validate::{self, ValidCustomer};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use wafa_domain::{Currency, Region};
use wafa_ingest::webhooks::{self, Change, MapContext, Platform};
use wafa_model::{CustomerInput, ProductInput};

/// Deliveries are retried this many times (with growing delays) before they are dead-lettered.
pub const MAX_ATTEMPTS: i64 = 8;

/// Validate a customer from a platform, dropping identities that do not parse (a store's
/// `555-555-SHIP` phone must not cost us the order).
pub fn lenient_customer(
    input: &CustomerInput,
    region: Region,
    now: i64,
) -> Result<ValidCustomer, AppError> {
    match validate::customer(input, region, now) {
        Ok(v) => Ok(v),
        Err(_) => {
            let mut c = input.clone();
            if c.email
                .as_deref()
                .map(|e| wafa_domain::Email::parse(e).is_err())
                .unwrap_or(false)
            {
                c.email = None;
            }
            if c.phone
                .as_deref()
                .map(|p| wafa_domain::Phone::parse(p, region).is_err())
                .unwrap_or(false)
            {
                c.phone = None;
            }
            c.identities
                .retain(|i| validate::identity(i, region).is_ok());
            c.birthday = c.birthday.filter(|b| validate::birthday(Some(b)).is_ok());
            c.language = c.language.filter(|l| validate::language(Some(l)).is_ok());
            c.country = c.country.filter(|l| validate::country(Some(l)).is_ok());
            c.gender = c.gender.filter(|l| validate::gender(Some(l)).is_ok());
            validate::customer(&c, region, now)
        }
    }
}

fn products(list: &[Option<ProductInput>]) -> Vec<Option<ProductInput>> {
    list.iter()
        .map(|p| {
            p.as_ref()
                .and_then(|p| validate::product(p).ok().map(|(_, v)| v))
        })
        .collect()
}

/// Mapped changes → validated operations.
pub fn ops_from_changes(
    changes: Vec<Change>,
    region: Region,
    now: i64,
) -> Result<Vec<IngestOp>, AppError> {
    let mut ops = Vec::with_capacity(changes.len());
    for ch in changes {
        ops.push(match ch {
            Change::UpsertCustomer { customer, .. } => {
                IngestOp::Customer(lenient_customer(&customer, region, now)?)
            }
            Change::UpsertOrder(o) => {
                let mut order = validate::order(&o.order, now)?;
                order.refunded_minor = o.refunded_minor;
                order.return_reason = o.return_reason.clone();
                IngestOp::Order(Box::new(OrderOp {
                    customer: lenient_customer(&o.customer, region, now)?,
                    order,
                    products: products(&o.line_products),
                    history: o.history.iter().map(|h| (h.status, h.at)).collect(),
                    source_updated_at: o.updated_at,
                }))
            }
            Change::OrderStatus {
                order_external_id,
                status,
                at,
                reason,
                return_reason,
            } => IngestOp::Status {
                order_external_id,
                status,
                at,
                reason,
                return_reason,
            },
            Change::OrderDeleted {
                order_external_id,
                at,
            } => IngestOp::OrderDeleted {
                order_external_id,
                at: at.unwrap_or(now),
            },
            Change::Refund {
                order_external_id,
                refund_external_id,
                amount_minor,
                at,
                reason,
                ..
            } => IngestOp::Refund {
                order_external_id,
                refund_key: refund_external_id,
                amount_minor,
                at,
                reason,
            },
            Change::UpsertCart {
                customer,
                cart,
                line_products,
            } => {
                let currency = Currency::parse(&cart.currency)?;
                let lines = validate::order_lines(&cart.lines)?;
                let at =
                    validate::timestamp("updated_at", cart.updated_at.as_deref())?.unwrap_or(now);
                let customer = customer
                    .as_ref()
                    .map(|c| lenient_customer(c, region, now))
                    .transpose()?;
                IngestOp::Cart(Box::new(CartOp {
                    customer,
                    cart,
                    currency,
                    lines,
                    products: products(&line_products),
                    at,
                }))
            }
            Change::CartConverted {
                cart_external_id, ..
            } => IngestOp::CartConverted { cart_external_id },
            Change::Review {
                customer,
                product_external_id,
                order_external_id,
                rating,
                text,
                at,
            } => {
                let content_key = format!(
                    "{}|{}|{}|{}",
                    customer
                        .as_ref()
                        .and_then(|c| c.email.clone())
                        .unwrap_or_default(),
                    product_external_id.clone().unwrap_or_default(),
                    order_external_id.clone().unwrap_or_default(),
                    at
                );
                IngestOp::Review {
                    customer: customer
                        .as_ref()
                        .map(|c| lenient_customer(c, region, now))
                        .transpose()?,
                    product_external_id,
                    order_external_id,
                    rating: rating as i64,
                    text: validate::text("text", text.as_deref(), 10_000)?,
                    at,
                    content_key,
                }
            }
            Change::Event {
                customer,
                name,
                properties,
                at,
            } => IngestOp::Event {
                customer: lenient_customer(&customer, region, now)?,
                name,
                properties,
                at,
            },
        });
    }
    Ok(ops)
}

/// Why a delivery could not be turned into operations: (code, message).
type Refusal = (String, String);

async fn ops_for(
    source: Option<IngestSource>,
    d: &PendingDelivery,
) -> Result<Vec<IngestOp>, Refusal> {
    let source = source.ok_or_else(|| {
        (
            "source_gone".to_owned(),
            "the source was deleted".to_owned(),
        )
    })?;
    let now = crate::store::now_ms();
    if d.platform == "events" {
        return crate::segment::ops_for_batch(
            &d.body,
            source.id,
            source.region,
            &source.default_currency,
            now,
        )
        .map_err(|e| (e.code.as_str().to_owned(), e.detail));
    }
    let platform = Platform::parse(&d.platform).ok_or_else(|| {
        (
            "unknown_platform".to_owned(),
            format!("platform {}", d.platform),
        )
    })?;
    let ctx = MapContext {
        source_id: Some(source.id),
        default_currency: Some(source.default_currency.clone()),
    };
    let changes = webhooks::map(platform, &d.topic, &d.body, &ctx)
        .map_err(|e| (e.code.as_str().to_owned(), e.message))?;
    ops_from_changes(changes, source.region, now)
        .map_err(|e| (e.code.as_str().to_owned(), format!("{e}")))
}

/// Deliveries mapped ahead of the one being applied.
const MAP_AHEAD: usize = 3;

/// Process every due delivery once. Returns how many were handled.
///
/// Mapping a delivery (parsing, validating: CPU) and applying it (the database) are
/// pipelined: the next few deliveries are mapped on other tasks while one is applied, so the
/// writer is not idle while the processor parses. Deliveries are applied in id order, each
/// atomically with its mark, a few per transaction (see [`crate::store::Processing`]); the
/// transaction is committed rather than held while the next delivery is still being mapped.
pub async fn process_due(store: &Store) -> Result<usize, AppError> {
    let mut handled = 0;
    let mut sources: HashMap<i64, Option<IngestSource>> = HashMap::new();
    loop {
        let due = store.due_deliveries(200).await?;
        if due.is_empty() {
            return Ok(handled);
        }
        let n = due.len();
        for d in &due {
            if let std::collections::hash_map::Entry::Vacant(e) = sources.entry(d.source_id) {
                e.insert(store.ingest_source(d.source_id).await?);
            }
        }
        let mut ahead: VecDeque<MapTask> = VecDeque::with_capacity(MAP_AHEAD + 1);
        let mut queue = due.into_iter();
        let mut open: Option<Processing<'_>> = None;
        loop {
            while ahead.len() <= MAP_AHEAD {
                let Some(d) = queue.next() else { break };
                let source = sources.get(&d.source_id).cloned().flatten();
                let id = d.id;
                ahead.push_back((
                    id,
                    tokio::spawn(async move {
                        let ops = ops_for(source, &d).await;
                        (d, ops)
                    }),
                ));
            }
            let Some((id, task)) = ahead.pop_front() else {
                break;
            };
            // Mapped before taking the writer: it is never held while a delivery is parsed.
            let mapped = task.await;
            handled += 1;
            let p = match open.as_mut() {
                Some(p) => p,
                None => open.insert(store.begin_processing().await?),
            };
            match mapped {
                // A payload that makes the mapping panic is dead-lettered, not retried forever.
                Err(e) => {
                    p.fail(id, "internal", &format!("mapping failed: {e}"))
                        .await?
                }
                Ok((_, Err((code, msg)))) => p.fail(id, &code, &msg).await?,
                Ok((d, Ok(ops))) => match p.apply(d.id, d.workspace_id, d.source_id, &ops).await {
                    Ok(()) => {}
                    Err(ApplyError::Retry(why)) if d.attempts + 1 < MAX_ATTEMPTS => {
                        // 1 s, 2 s, 4 s … about 4 minutes in all.
                        p.retry(d.id, "waiting", &why, 1000 << d.attempts.min(10))
                            .await?
                    }
                    Err(ApplyError::Retry(why)) => p.fail(d.id, "gave_up", &why).await?,
                    Err(ApplyError::Fail(e)) if e.code == wafa_domain::ErrorCode::Unavailable => {
                        return Err(e)
                    }
                    Err(ApplyError::Fail(e)) => {
                        p.fail(d.id, e.code.as_str(), &e.to_string()).await?
                    }
                },
            }
            let next_ready = ahead.front().map(|(_, t)| t.is_finished()).unwrap_or(false);
            if !next_ready || p.should_commit() {
                if let Some(p) = open.take() {
                    p.commit().await?;
                }
            }
        }
        if let Some(p) = open.take() {
            p.commit().await?;
        }
        if n < 200 {
            return Ok(handled);
        }
    }
}

type MapTask = (
    i64,
    tokio::task::JoinHandle<(PendingDelivery, Result<Vec<IngestOp>, Refusal>)>,
);

/// Run the processor: at start (crash recovery), whenever notified, and every second for
/// retries that come due.
pub fn spawn_processor(store: Store) -> Arc<Notify> {
    let notify = Arc::new(Notify::new());
    let n = notify.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = process_due(&store).await {
                tracing::warn!(error = %e, "delivery processing paused");
            }
            tokio::select! {
                _ = n.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    });
    notify
}
