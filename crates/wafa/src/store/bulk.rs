//! Fast paths for bulk imports: multi-row statements for the rows that need no decision.
//!
//! Why: writing a customer row by row costs ~15 statements (resolution lookups, the row, its
//! identities, search terms, tags, timeline). For a batch, the identity lookups are done in
//! one query and every *new* customer (none of its identities known, none shared with an
//! earlier row of the batch) is written with multi-row INSERTs; orders whose customer
//! resolves unambiguously likewise. Every other row goes through the ordinary one-row path
//! (`upsert_customer_mode`, `insert_order`) afterwards, so the results equal writing the
//! rows one by one in file order.

use super::imports::{CustomerImportRow, OrderImportRow, RowOutcome};
use super::orders::implied_history;
use super::sql::{fetch_json_rows, json_rows, pipelined, Pipe, Sql, Val};
use super::{now_ms, Backend};
use crate::error::AppResult;
use crate::validate::{IdentityKind, ValidCustomer, ValidIdentity};
use serde_json::{json, Value};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::{HashMap, HashSet};
use wafa_domain::{OrderStatus, PaymentMethod};

/// Values per `IN (…)` list of a bulk lookup: a batch's identities in a few statements.
const LOOKUP_CHUNK: usize = 1000;

/// Columns of a `timeline` row, as the bulk paths write them.
const TIMELINE_COLS: [&str; 7] = [
    "workspace_id",
    "customer_id",
    "occurred_at",
    "kind",
    "ref_id",
    "summary",
    "data",
];

type Key = (&'static str, i64, String);

/// (kind, source id, value) → [(customer id, verified)].
type Holders = HashMap<(String, i64, String), Vec<(i64, bool)>>;

fn key(kind: IdentityKind, source_id: i64, value: &str) -> Key {
    (kind.as_str(), source_id, value.to_owned())
}

/// Holders of the batch's identities that `pick` selects: key → [(customer id, verified)].
/// One query per kind, so each walks the (workspace_id, kind, value) index. A value looked
/// up has all its holders in the result, whatever their source.
async fn identity_holders(
    conn: &mut AnyConnection,
    backend: Backend,
    ws: i64,
    rows: &[&ValidCustomer],
    pick: impl Fn(&ValidIdentity) -> bool,
) -> AppResult<Holders> {
    let mut out: Holders = HashMap::new();
    for kind in [
        IdentityKind::Email,
        IdentityKind::Phone,
        IdentityKind::External,
    ] {
        let mut values: Vec<&String> = rows
            .iter()
            .flat_map(|c| {
                c.identities
                    .iter()
                    .filter(|i| i.kind == kind && pick(i))
                    .map(|i| &i.value)
            })
            .collect();
        values.sort();
        values.dedup();
        for chunk in values.chunks(LOOKUP_CHUNK) {
            let mut q = json_rows(backend, "source_id, value, customer_id, verified");
            q.push("FROM identities WHERE workspace_id = ")
                .int(ws)
                .push(" AND kind = ")
                .text(kind.as_str())
                .push(" AND value IN ")
                .list(chunk.iter().map(|s| Val::S((*s).clone())));
            let found: Vec<(i64, String, i64, i64)> = fetch_json_rows(conn, q).await?;
            for (source_id, value, customer_id, verified) in found {
                out.entry((kind.as_str().to_owned(), source_id, value))
                    .or_default()
                    .push((customer_id, verified != 0));
            }
        }
    }
    Ok(out)
}

enum Resolution {
    Existing(i64),
    New,
    Slow,
}

/// An identity that names its customer outright: an external id, or a verified email or
/// phone. Only these can settle a resolution by themselves (see [`resolve`]).
fn decisive(i: &ValidIdentity) -> bool {
    i.kind == IdentityKind::External || i.verified
}

fn holders_of<'h>(i: &ValidIdentity, holders: &'h Holders) -> Option<&'h Vec<(i64, bool)>> {
    holders.get(&(i.kind.as_str().to_owned(), i.source_id, i.value.clone()))
}

/// The customers `v`'s decisive identities name: their verified holders, without repeats.
fn named_customers(v: &ValidCustomer, holders: &Holders) -> Vec<i64> {
    let mut found: Vec<i64> = Vec::new();
    for i in v.identities.iter().filter(|i| decisive(i)) {
        for (cid, verified) in holders_of(i, holders).into_iter().flatten() {
            if *verified && !found.contains(cid) {
                found.push(*cid);
            }
        }
    }
    found
}

/// The same decision `upsert_customer_mode` (loose) makes, from preloaded holders; `Slow`
/// when only the full path can decide (or report) it. Needs the holders of every identity
/// of `v` unless its decisive ones name a customer (then only theirs are read).
fn resolve(v: &ValidCustomer, holders: &Holders) -> Resolution {
    let found = named_customers(v, holders);
    match found.len() {
        1 => return Resolution::Existing(found[0]),
        0 => {}
        _ => return Resolution::Slow,
    }
    let get = |i: &ValidIdentity| holders_of(i, holders);
    if !v.identities.iter().any(|i| get(i).is_some()) {
        return Resolution::New;
    }
    for i in v
        .identities
        .iter()
        .filter(|i| i.kind != IdentityKind::External)
    {
        if let Some(hs) = get(i) {
            let mut ids: Vec<i64> = hs.iter().map(|(c, _)| *c).collect();
            ids.sort();
            ids.dedup();
            if ids.len() == 1 {
                return Resolution::Existing(ids[0]);
            }
        }
    }
    Resolution::Slow
}

/// `n` fresh ids for `table`. SQLite: the writer connection is the only writer, so the next
/// ids after the current maximum are ours (AUTOINCREMENT follows explicit ids). PostgreSQL:
/// drawn from the table's sequence.
/// New customers' rows for multi-row inserts: the customer, its identities, name search
/// words, tags and "customer created" timeline entry — what `upsert_customer_mode` writes for
/// one new customer. Shared by imports and the events API's first-seen users.
#[derive(Default)]
pub(crate) struct NewCustomers {
    customers: Vec<Vec<Val>>,
    identities: Vec<Vec<Val>>,
    terms: Vec<Vec<Val>>,
    tags: Vec<Vec<Val>>,
    timeline: Vec<Vec<Val>>,
}

impl NewCustomers {
    pub(crate) fn push(
        &mut self,
        ws: i64,
        id: i64,
        v: &ValidCustomer,
        company: Option<i64>,
        now: i64,
        actor: &str,
    ) {
        let created = v.created_at.unwrap_or(now);
        self.customers.push(vec![
            Val::I(id),
            Val::I(ws),
            v.first_name.clone().into(),
            v.last_name.clone().into(),
            v.language.clone().into(),
            v.birthday.clone().into(),
            v.gender.clone().into(),
            v.city.clone().into(),
            v.country.clone().into(),
            company.into(),
            Val::S(serde_json::to_string(&v.tags).unwrap_or_else(|_| "[]".into())),
            Val::S(Value::Object(v.attributes.clone()).to_string()),
            Val::S(serde_json::to_string(&v.consents).unwrap_or_else(|_| "[]".into())),
            Val::I(created),
            Val::I(now),
        ]);
        for x in &v.identities {
            self.identities.push(vec![
                Val::I(ws),
                Val::I(id),
                x.kind.as_str().into(),
                Val::S(x.value.clone()),
                Val::I(x.source_id),
                Val::I(x.verified as i64),
                Val::I(now),
            ]);
        }
        let mut terms = wafa_text::normalize::search_tokens(&format!(
            "{} {}",
            v.first_name.as_deref().unwrap_or(""),
            v.last_name.as_deref().unwrap_or("")
        ));
        terms.truncate(20);
        for t in terms {
            self.terms.push(vec![Val::I(ws), Val::S(t), Val::I(id)]);
        }
        for t in &v.tags {
            self.tags
                .push(vec![Val::I(ws), Val::S(t.clone()), Val::I(id)]);
        }
        self.timeline.push(vec![
            Val::I(ws),
            Val::I(id),
            Val::I(created),
            "customer_created".into(),
            Val::I(id),
            "Customer created".into(),
            Val::S(json!({"by": actor}).to_string()),
        ]);
    }

    pub(crate) async fn insert(self, conn: &mut AnyConnection, backend: Backend) -> AppResult<()> {
        pipelined(conn, backend, |pipe| async move { self.queue(&pipe).await }).await
    }

    /// Queue the inserts on `pipe`.
    pub(crate) async fn queue(self, pipe: &Pipe) -> AppResult<()> {
        pipe.insert_rows(
            "customers",
            &[
                "id",
                "workspace_id",
                "first_name",
                "last_name",
                "language",
                "birthday",
                "gender",
                "city",
                "country",
                "company_id",
                "tags",
                "attributes",
                "consents",
                "created_at",
                "updated_at",
            ],
            self.customers,
        )
        .await?;
        pipe.insert_rows(
            "identities",
            &[
                "workspace_id",
                "customer_id",
                "kind",
                "value",
                "source_id",
                "verified",
                "created_at",
            ],
            self.identities,
        )
        .await?;
        pipe.insert_rows(
            "customer_search_terms",
            &["workspace_id", "term", "customer_id"],
            self.terms,
        )
        .await?;
        pipe.insert_rows(
            "customer_tags",
            &["workspace_id", "tag", "customer_id"],
            self.tags,
        )
        .await?;
        pipe.insert_rows("timeline", &TIMELINE_COLS, self.timeline)
            .await
    }
}

pub(crate) async fn reserve_ids(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
    n: usize,
) -> AppResult<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    match backend {
        Backend::Sqlite => {
            let first: i64 = sqlx::query(AssertSqlSafe(format!(
                "SELECT COALESCE(MAX(id), 0) + 1 AS f FROM {table}"
            )))
            .fetch_one(&mut *conn)
            .await?
            .get("f");
            let seq: i64 = sqlx::query(
                "SELECT COALESCE(MAX(seq), 0) + 1 AS f FROM sqlite_sequence WHERE name = $1",
            )
            .bind(table)
            .fetch_one(&mut *conn)
            .await?
            .get("f");
            let start = first.max(seq);
            Ok((start..start + n as i64).collect())
        }
        Backend::Postgres => {
            let mut q = json_rows(
                backend,
                &format!("nextval(pg_get_serial_sequence('{table}', 'id'))"),
            );
            q.push("FROM generate_series(1, ").int(n as i64).push(")");
            let ids: Vec<(i64,)> = fetch_json_rows(conn, q).await?;
            Ok(ids.into_iter().map(|(id,)| id).collect())
        }
    }
}

/// Customers: bulk-insert the new ones, then the rest one by one. Outcomes in row order.
pub(crate) async fn customers(
    conn: &mut AnyConnection,
    backend: Backend,
    ws: i64,
    actor: &str,
    rows: &[CustomerImportRow],
) -> AppResult<Vec<(RowOutcome, i64)>> {
    let now = now_ms();
    let mut companies: HashMap<String, i64> = HashMap::new();
    for name in rows.iter().filter_map(|r| r.company.as_ref()) {
        if !companies.contains_key(name) {
            let id = super::imports::company_id(conn, ws, name).await?;
            companies.insert(name.clone(), id);
        }
    }
    let customers: Vec<&ValidCustomer> = rows.iter().map(|r| &r.customer).collect();
    let holders = identity_holders(conn, backend, ws, &customers, |_| true).await?;
    let mut seen: HashSet<Key> = HashSet::new();
    let mut new_rows: Vec<usize> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let keys: Vec<Key> = r
            .customer
            .identities
            .iter()
            .map(|x| key(x.kind, x.source_id, &x.value))
            .collect();
        let fresh = keys.iter().all(|k| !seen.contains(k))
            && matches!(resolve(&r.customer, &holders), Resolution::New);
        seen.extend(keys);
        if fresh {
            new_rows.push(i);
        }
    }
    tracing::debug!(new = new_rows.len(), rows = rows.len(), "customer batch");
    let ids = reserve_ids(conn, backend, "customers", new_rows.len()).await?;
    let with_note: Vec<(usize, i64)> = new_rows
        .iter()
        .zip(&ids)
        .filter(|(i, _)| rows[**i].note.is_some())
        .map(|(i, id)| (*i, *id))
        .collect();
    let note_ids = reserve_ids(conn, backend, "notes", with_note.len()).await?;
    let mut outcomes: Vec<Option<(RowOutcome, i64)>> = vec![None; rows.len()];
    for (&i, &id) in new_rows.iter().zip(&ids) {
        outcomes[i] = Some((RowOutcome::Created, id));
    }
    // Borrowed into the pipelined block (which moves what it captures).
    let (companies, ids, new_rows) = (&companies, &ids, &new_rows);
    let (with_note, note_ids) = (&with_note, &note_ids);
    pipelined(conn, backend, |pipe| async move {
        let mut created_rows = NewCustomers::default();
        for (&i, &id) in new_rows.iter().zip(ids) {
            let v = &rows[i].customer;
            let company = rows[i]
                .company
                .as_ref()
                .and_then(|n| companies.get(n).copied())
                .or(v.company_id);
            created_rows.push(ws, id, v, company, now, actor);
        }
        created_rows.queue(&pipe).await?;
        // Notes of new customers, with their text tags and timeline entries, in bulk too.
        let (mut n_rows, mut tag_rows, mut ntl_rows) = (Vec::new(), Vec::new(), Vec::new());
        for (&(i, cid), &nid) in with_note.iter().zip(note_ids) {
            let note = rows[i].note.as_deref().unwrap_or("");
            let at = rows[i].customer.created_at.unwrap_or(now);
            n_rows.push(vec![
                Val::I(nid),
                Val::I(ws),
                Val::I(cid),
                Val::S(note.to_owned()),
                Val::NI(None),
                Val::I(at),
            ]);
            tag_rows.push(super::texts::tag_row(ws, cid, "note", Some(nid), at, note));
            ntl_rows.push(vec![
                Val::I(ws),
                Val::I(cid),
                Val::I(at),
                "note".into(),
                Val::I(nid),
                Val::S(note.chars().take(140).collect()),
                Val::S(json!({"author_user_id": null}).to_string()),
            ]);
        }
        pipe.insert_rows(
            "notes",
            &[
                "id",
                "workspace_id",
                "customer_id",
                "body",
                "author_user_id",
                "created_at",
            ],
            n_rows,
        )
        .await?;
        pipe.insert_rows("text_tags", &super::texts::TAG_COLS, tag_rows)
            .await?;
        pipe.insert_rows("timeline", &TIMELINE_COLS, ntl_rows).await
    })
    .await?;
    for (i, r) in rows.iter().enumerate() {
        if outcomes[i].is_none() {
            let mut row = CustomerImportRow {
                line: r.line,
                customer: r.customer.clone(),
                company: None,
                note: r.note.clone(),
            };
            row.customer.company_id = r
                .company
                .as_ref()
                .and_then(|n| companies.get(n).copied())
                .or(r.customer.company_id);
            outcomes[i] = Some(super::imports::write_customer_row(conn, ws, actor, &row).await?);
        }
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or((RowOutcome::Unchanged, 0)))
        .collect())
}

/// Orders: bulk-insert those whose customer is known and that are not yet stored; the rest
/// one by one. Outcomes in row order.
pub(crate) async fn orders(
    conn: &mut AnyConnection,
    backend: Backend,
    ws: i64,
    actor: &str,
    rows: &[OrderImportRow],
) -> AppResult<Vec<(RowOutcome, i64)>> {
    let now = now_ms();
    // Orders already stored, per source.
    let mut existing: HashMap<(i64, String), i64> = HashMap::new();
    let mut by_source: HashMap<i64, Vec<String>> = HashMap::new();
    for r in rows {
        if let Some(e) = &r.order.external_id {
            by_source
                .entry(r.order.source_id)
                .or_default()
                .push(e.clone());
        }
    }
    for (src, ext) in by_source {
        for chunk in ext.chunks(LOOKUP_CHUNK) {
            let mut q = json_rows(backend, "id, external_id");
            q.push("FROM orders WHERE workspace_id = ")
                .int(ws)
                .push(" AND source_id = ")
                .int(src)
                .push(" AND external_id IN ")
                .list(chunk.iter().cloned());
            let found: Vec<(i64, String)> = fetch_json_rows(conn, q).await?;
            for (id, external_id) in found {
                existing.insert((src, external_id), id);
            }
        }
    }
    let customers: Vec<&ValidCustomer> = rows
        .iter()
        .filter(|r| r.customer_id.is_none())
        .map(|r| &r.customer)
        .collect();
    // Decisive identities first (an order's customer external id, usually): a row they
    // settle needs no other lookup, which halved the lookups of an orders file whose rows
    // name the customer by external id and email. The others only for the rows left.
    let mut holders = identity_holders(conn, backend, ws, &customers, decisive).await?;
    let unsettled: Vec<&ValidCustomer> = customers
        .iter()
        .copied()
        .filter(|c| named_customers(c, &holders).is_empty())
        .collect();
    let others = identity_holders(conn, backend, ws, &unsettled, |i| !decisive(i)).await?;
    holders.extend(others);
    let mut outcomes: Vec<Option<(RowOutcome, i64)>> = vec![None; rows.len()];
    let mut fast: Vec<(usize, i64)> = Vec::new();
    let mut seen_ext: HashSet<(i64, String)> = HashSet::new();
    for (i, r) in rows.iter().enumerate() {
        if let Some(e) = &r.order.external_id {
            let k = (r.order.source_id, e.clone());
            if let Some(id) = existing.get(&k) {
                outcomes[i] = Some((RowOutcome::Unchanged, *id));
                continue;
            }
            if !seen_ext.insert(k) {
                continue; // the same order twice in one batch: the one-row path finds the first
            }
        }
        let cid = match r.customer_id {
            Some(c) => Some(c),
            None => match resolve(&r.customer, &holders) {
                Resolution::Existing(c) => Some(c),
                _ => None,
            },
        };
        if let Some(c) = cid {
            fast.push((i, c));
        }
    }
    tracing::debug!(fast = fast.len(), rows = rows.len(), "order batch");
    let ids = reserve_ids(conn, backend, "orders", fast.len()).await?;
    for (&(i, _), &id) in fast.iter().zip(&ids) {
        outcomes[i] = Some((RowOutcome::Created, id));
    }
    // Each table's rows are built while the previous table's statements run (see `pipelined`).
    let orders = || {
        fast.iter()
            .zip(&ids)
            .map(|(&(i, cid), &id)| (&rows[i], cid, id))
    };
    pipelined(conn, backend, |pipe| async move {
        let o_rows = orders()
            .map(|(r, cid, id)| {
                let o = &r.order;
                vec![
                    Val::I(id),
                    Val::I(ws),
                    Val::I(cid),
                    Val::I(o.source_id),
                    o.external_id.clone().into(),
                    o.number.clone().into(),
                    o.currency.code().into(),
                    o.status.as_str().into(),
                    o.payment_method.as_str().into(),
                    Val::I(o.placed_at),
                    Val::I(o.subtotal_minor),
                    Val::I(o.discount_minor),
                    Val::I(o.shipping_minor),
                    Val::I(o.tax_minor),
                    Val::I(o.total_minor),
                    Val::I(o.refunded_minor.clamp(0, o.total_minor)),
                    o.return_reason.clone().into(),
                    o.city.clone().into(),
                    Val::I(now),
                    Val::I(now),
                ]
            })
            .collect();
        pipe.insert_rows(
            "orders",
            &[
                "id",
                "workspace_id",
                "customer_id",
                "source_id",
                "external_id",
                "number",
                "currency",
                "status",
                "payment_method",
                "placed_at",
                "subtotal_minor",
                "discount_minor",
                "shipping_minor",
                "tax_minor",
                "total_minor",
                "refunded_minor",
                "return_reason",
                "city",
                "created_at",
                "updated_at",
            ],
            o_rows,
        )
        .await?;
        let l_rows = orders()
            .flat_map(|(r, _, id)| {
                r.order.lines.iter().map(move |l| {
                    vec![
                        Val::I(id),
                        Val::I(ws),
                        l.product_id.into(),
                        l.sku.clone().into(),
                        Val::S(l.title.clone()),
                        Val::I(l.quantity),
                        Val::I(l.unit_price_minor),
                        Val::I(l.total_minor),
                    ]
                })
            })
            .collect();
        pipe.insert_rows(
            "order_lines",
            &[
                "order_id",
                "workspace_id",
                "product_id",
                "sku",
                "title",
                "quantity",
                "unit_price_minor",
                "total_minor",
            ],
            l_rows,
        )
        .await?;
        let (mut h_rows, mut tl_rows) = (Vec::new(), Vec::new());
        for (r, cid, id) in orders() {
            let o = &r.order;
            let hist: Vec<(OrderStatus, i64, Option<String>)> = match &r.history {
                Some(h) if !h.is_empty() => h.clone(),
                _ => implied_history(o.status, o.payment_method == PaymentMethod::CashOnDelivery)
                    .into_iter()
                    .map(|s| (s, o.placed_at, None))
                    .collect(),
            };
            let label = o.number.clone().unwrap_or_else(|| format!("#{id}"));
            tl_rows.push(vec![
                Val::I(ws),
                Val::I(cid),
                Val::I(o.placed_at),
                "order_placed".into(),
                Val::I(id),
                Val::S(format!("Order {label} placed: {} {}", o.currency.format_amount(o.total_minor), o.currency.code())),
                Val::S(json!({"order_id": id, "total_minor": o.total_minor, "currency": o.currency.code(), "payment_method": o.payment_method.as_str()}).to_string()),
            ]);
            // Bulk-written orders are history (imports, the demo): the status history keeps
            // every step given (a file gives "placed" and the status now; see
            // `import::file_history`), the timeline shows the placement and where the order
            // ended up. One timeline row less per step halves the random index writes that
            // bound large imports.
            let last = hist.len().saturating_sub(1);
            for (k, (s, at, reason)) in hist.iter().enumerate() {
                h_rows.push(vec![
                    Val::I(id),
                    Val::I(ws),
                    s.as_str().into(),
                    Val::I(*at),
                    reason.clone().into(),
                ]);
                if *s != OrderStatus::Placed && k == last {
                    tl_rows.push(vec![
                        Val::I(ws),
                        Val::I(cid),
                        Val::I(*at),
                        "order_status".into(),
                        Val::I(id),
                        Val::S(format!("Order {label} {}", s.as_str())),
                        Val::S(
                            json!({"order_id": id, "status": s.as_str(), "reason": reason})
                                .to_string(),
                        ),
                    ]);
                }
            }
        }
        pipe.insert_rows(
            "order_status_history",
            &["order_id", "workspace_id", "status", "at", "reason"],
            h_rows,
        )
        .await?;
        pipe.insert_rows("timeline", &TIMELINE_COLS, tl_rows).await?;
        // The customers' order counters are recounted at the end of the import
        // (`Store::refresh_stale_counters`); here the customers are only marked.
        //
        // Why: at a million customers an order's customer row (and its entry in the index
        // by last order) is a random page, and each import transaction rewrote most of the
        // customers table into the WAL; advancing the counters in place was ~9% of a large
        // import and a third of its commit I/O. The mark goes to a small table in id order.
        // Until the recount, the counters of customers with new imported orders lag.
        let mut cids: Vec<i64> = orders().map(|(_, cid, _)| cid).collect();
        cids.sort_unstable();
        cids.dedup();
        let head = match backend {
            Backend::Sqlite => "INSERT OR IGNORE INTO customer_counters_stale (customer_id) VALUES ",
            Backend::Postgres => "INSERT INTO customer_counters_stale (customer_id) VALUES ",
        };
        for chunk in cids.chunks(1000) {
            let mut q = Sql::for_backend(head, backend);
            for (k, cid) in chunk.iter().enumerate() {
                if k > 0 {
                    q.push(", ");
                }
                q.list([*cid]);
            }
            if backend == Backend::Postgres {
                q.push(" ON CONFLICT DO NOTHING");
            }
            pipe.exec(q.into_query()).await?;
        }
        Ok(())
    })
    .await?;
    for (i, r) in rows.iter().enumerate() {
        if outcomes[i].is_none() {
            outcomes[i] = Some(super::imports::write_order_row(conn, ws, actor, r).await?);
        }
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or((RowOutcome::Unchanged, 0)))
        .collect())
}
