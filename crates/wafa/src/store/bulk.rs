//! Fast paths for bulk imports: multi-row statements for the rows that need no decision.
//!
//! Why: writing a customer row by row costs ~15 statements (resolution lookups, the row, its
//! identities, search terms, tags, timeline). For a batch, the identity lookups are done in
//! one query and every *new* customer (none of its identities known, none shared with an
//! earlier row of the batch) is written with multi-row INSERTs; orders whose customer
//! resolves unambiguously likewise. Every other row goes through the ordinary one-row path
//! (`upsert_customer_mode`, `insert_order`) afterwards, so the results equal writing the
//! rows one by one in file order.

use super::imports::{CustomerImportRow, ImportBatch, OrderImportRow, RowOutcome};
use super::orders::implied_history;
use super::sql::{json_rows, parse_json_rows, pipelined, Cmd, ConnWork, Pipe, Reply, Sql, Val};
use super::{now_ms, Backend};
use crate::error::AppResult;
use crate::validate::{IdentityKind, ValidCustomer, ValidIdentity};
use serde_json::{json, Value};
use sqlx::AnyConnection;
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

/// `n` fresh ids for `table`, on a connection with nothing queued (see [`queue_ids`]).
pub(crate) async fn reserve_ids(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &'static str,
    n: usize,
) -> AppResult<Vec<i64>> {
    pipelined(conn, backend, |pipe| async move {
        let reply = queue_ids(&pipe, backend, table, n).await?.map(|(_, r)| r);
        IdBlock::new(reply, backend, table, &Overlay::default())
            .await?
            .take(n)
    })
    .await
}

/// What a batch's bulk write learns from the database before it is planned: the replies of
/// the queries [`queue_lookups`] queued.
///
/// Why queued rather than asked: the import writer queues the next batch's lookups ahead of
/// this batch's inserts, so the database answers them while this batch is being prepared
/// and inserted, and the next batch is planned while these inserts run (see
/// `imports::ImportWriter`). What the lookups cannot see yet (the rows the batches planned
/// in between write) the [`Overlay`] adds.
pub(crate) struct Lookups {
    companies: Option<Reply<HashMap<String, i64>>>,
    identities: Vec<(IdentityKind, Reply<String>)>,
    existing: Vec<(i64, Reply<String>)>,
    ids: Vec<(&'static str, Reply<String>)>,
}

/// What the batches planned in the open transaction write, which a lookup may not see (one
/// queued on the writer before their inserts, or one on another connection, which sees
/// committed rows only), and (SQLite) the next free id of each table after them.
#[derive(Default)]
pub(crate) struct Overlay {
    /// The new customers' identities planned in the open transaction.
    holders: Holders,
    /// The orders planned in the open transaction: (source, external id) → id.
    orders: HashMap<(i64, String), i64>,
    /// SQLite: the first id after the rows planned so far, per table.
    next_ids: HashMap<&'static str, i64>,
}

impl Overlay {
    /// Forget the planned rows (they are committed, or rolled back); the id counters stay,
    /// since a lookup also reads the stored maximum.
    pub(crate) fn forget_planned(&mut self) {
        self.holders.clear();
        self.orders.clear();
    }
}

/// Queue the query reserving ids for up to `n` new rows of `table`.
///
/// SQLite: the first id after the stored maximum (and `sqlite_sequence`); the writer
/// connection is the only writer, so the ids after it are ours, and the [`Overlay`] adds the
/// rows planned but not yet inserted. PostgreSQL: `n` values drawn from the table's
/// sequence, an upper bound (the rows not written leave a gap, as any rolled-back insert
/// does).
async fn queue_ids(
    pipe: &Pipe,
    backend: Backend,
    table: &'static str,
    n: usize,
) -> AppResult<Option<(&'static str, Reply<String>)>> {
    if n == 0 {
        return Ok(None);
    }
    let q = match backend {
        Backend::Sqlite => {
            let mut q = json_rows(backend, "f");
            q.push(&format!(
                "FROM (SELECT MAX(COALESCE((SELECT MAX(id) FROM {table}), 0), \
                 COALESCE((SELECT MAX(seq) FROM sqlite_sequence WHERE name = "
            ))
            .text(table)
            .push("), 0)) + 1 AS f) AS t");
            q
        }
        Backend::Postgres => {
            let mut q = json_rows(
                backend,
                &format!("nextval(pg_get_serial_sequence('{table}', 'id'))"),
            );
            q.push("FROM generate_series(1, ").int(n as i64).push(")");
            q
        }
    };
    Ok(Some((table, pipe.fetch(q).await?)))
}

/// Ids reserved by [`queue_ids`], handed out in order.
enum IdBlock {
    /// SQLite: the next free id.
    Next(i64),
    /// PostgreSQL: values drawn from the sequence.
    Drawn(std::collections::VecDeque<i64>),
}

impl IdBlock {
    async fn new(
        reply: Option<Reply<String>>,
        backend: Backend,
        table: &'static str,
        overlay: &Overlay,
    ) -> AppResult<IdBlock> {
        let values: Vec<i64> = match reply {
            Some(r) => parse_json_rows::<(i64,)>(&r.get().await?)?
                .into_iter()
                .map(|(v,)| v)
                .collect(),
            None => Vec::new(),
        };
        Ok(match backend {
            Backend::Sqlite => {
                let stored = values.first().copied().unwrap_or(1);
                IdBlock::Next(stored.max(overlay.next_ids.get(table).copied().unwrap_or(1)))
            }
            Backend::Postgres => IdBlock::Drawn(values.into()),
        })
    }

    fn take(&mut self, n: usize) -> AppResult<Vec<i64>> {
        match self {
            IdBlock::Next(next) => {
                let ids = (*next..*next + n as i64).collect();
                *next += n as i64;
                Ok(ids)
            }
            IdBlock::Drawn(d) if d.len() >= n => Ok(d.drain(..n).collect()),
            IdBlock::Drawn(_) => Err(crate::error::AppError::internal(
                "bulk write: fewer ids reserved than rows to write",
            )),
        }
    }

    /// Record in `overlay` where the next batch's ids start (SQLite).
    fn keep(&self, table: &'static str, overlay: &mut Overlay) {
        if let IdBlock::Next(next) = self {
            overlay.next_ids.insert(table, *next);
        }
    }
}

fn take_reply(
    ids: &mut Vec<(&'static str, Reply<String>)>,
    table: &'static str,
) -> Option<Reply<String>> {
    let k = ids.iter().position(|(t, _)| *t == table)?;
    Some(ids.swap_remove(k).1)
}

/// Queue the identity lookups of `rows` (those `pick` selects): one query per kind and
/// [`LOOKUP_CHUNK`] values, so each walks the (workspace_id, kind, value) index. A value
/// looked up has all its holders in the result, whatever their source.
async fn queue_identity_lookups(
    pipe: &Pipe,
    backend: Backend,
    ws: i64,
    rows: &[&ValidCustomer],
    pick: impl Fn(&ValidIdentity) -> bool,
) -> AppResult<Vec<(IdentityKind, Reply<String>)>> {
    let mut out = Vec::new();
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
            out.push((kind, pipe.fetch(q).await?));
        }
    }
    Ok(out)
}

/// The holders the replies of [`queue_identity_lookups`] name, added to `out`.
async fn read_holders(
    replies: Vec<(IdentityKind, Reply<String>)>,
    out: &mut Holders,
) -> AppResult<()> {
    for (kind, reply) in replies {
        let found: Vec<(i64, String, i64, i64)> = parse_json_rows(&reply.get().await?)?;
        for (source_id, value, customer_id, verified) in found {
            out.entry((kind.as_str().to_owned(), source_id, value))
                .or_default()
                .push((customer_id, verified != 0));
        }
    }
    Ok(())
}

/// Add the overlay's holders of `customers`' identities (rows planned in the open
/// transaction, which the lookups may not see) to `holders`. A holder both stored and
/// planned appears twice, which no decision minds: each counts distinct customers.
fn add_planned<'c>(
    holders: &mut Holders,
    overlay: &Overlay,
    customers: impl Iterator<Item = &'c ValidCustomer>,
) {
    if overlay.holders.is_empty() {
        return;
    }
    let mut added: HashSet<(String, i64, String)> = HashSet::new();
    for i in customers.flat_map(|c| c.identities.iter()) {
        let k = (i.kind.as_str().to_owned(), i.source_id, i.value.clone());
        if let Some(hs) = overlay.holders.get(&k) {
            if added.insert(k.clone()) {
                holders.entry(k).or_default().extend(hs.iter().copied());
            }
        }
    }
}

/// Queue what the bulk write of `batch` needs to know (see [`Lookups`]).
///
/// `reader`: a connection other than the writer's, for the identity and order lookups (see
/// `imports::ImportWriter`); without one they are queued on `pipe`, the writer's.
pub(crate) async fn queue_lookups(
    pipe: &Pipe,
    reader: Option<&Pipe>,
    backend: Backend,
    ws: i64,
    batch: &ImportBatch,
) -> AppResult<Lookups> {
    let lookup = reader.unwrap_or(pipe);
    let mut out = Lookups {
        companies: None,
        identities: Vec::new(),
        existing: Vec::new(),
        ids: Vec::new(),
    };
    match batch {
        ImportBatch::Customers(rows) => {
            let mut names: Vec<String> = rows.iter().filter_map(|r| r.company.clone()).collect();
            names.sort();
            names.dedup();
            if !names.is_empty() {
                // Finding a company may create it: work on the connection, queued in order.
                let (tx, rx) = tokio::sync::oneshot::channel();
                let work: ConnWork = Box::new(move |conn| {
                    Box::pin(async move {
                        let mut found = HashMap::new();
                        for name in names {
                            let id = super::imports::company_id(conn, ws, &name).await?;
                            found.insert(name, id);
                        }
                        let _ = tx.send(found);
                        Ok(())
                    })
                });
                pipe.send(Cmd::Work(work)).await?;
                out.companies = Some(Reply(rx));
            }
            let customers: Vec<&ValidCustomer> = rows.iter().map(|r| &r.customer).collect();
            out.identities =
                queue_identity_lookups(lookup, backend, ws, &customers, |_| true).await?;
            out.ids
                .extend(queue_ids(pipe, backend, "customers", rows.len()).await?);
            let notes = rows.iter().filter(|r| r.note.is_some()).count();
            out.ids
                .extend(queue_ids(pipe, backend, "notes", notes).await?);
        }
        ImportBatch::Orders(rows) => {
            // Orders already stored, per source.
            let mut by_source: HashMap<i64, Vec<String>> = HashMap::new();
            for r in rows.iter() {
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
                    out.existing.push((src, lookup.fetch(q).await?));
                }
            }
            // Decisive identities first (an order's customer external id, usually): a row
            // they settle needs no other lookup, which halved the lookups of an orders file
            // whose rows name the customer by external id and email. The others are looked
            // up when the batch is planned, only for the rows left.
            let customers: Vec<&ValidCustomer> = rows
                .iter()
                .filter(|r| r.customer_id.is_none())
                .map(|r| &r.customer)
                .collect();
            out.identities =
                queue_identity_lookups(lookup, backend, ws, &customers, decisive).await?;
            out.ids
                .extend(queue_ids(pipe, backend, "orders", rows.len()).await?);
        }
    }
    Ok(out)
}

/// A batch as planned: the rows the bulk path writes, with their ids, and the rows left for
/// the one-row path.
pub(crate) struct Plan {
    /// Row index → outcome, for the rows decided at planning (bulk-written or already stored).
    outcomes: Vec<Option<(RowOutcome, i64)>>,
    /// (row index, id, customer id): customers (customer id = id) or orders to bulk-write.
    fast: Vec<(usize, i64, i64)>,
    /// (row index, note id) of new customers with a note.
    notes: Vec<(usize, i64)>,
    companies: HashMap<String, i64>,
}

impl Plan {
    /// Whether every row is decided without the one-row path: then the next batch's lookups
    /// may run before this batch's inserts (see [`Lookups`]).
    pub(crate) fn is_bulk_only(&self) -> bool {
        self.outcomes.iter().all(Option::is_some)
    }
}

/// Decide each row of `batch` from its lookups and the overlay, and reserve the bulk rows'
/// ids; the overlay then also holds what this batch writes. `reader` as for
/// [`queue_lookups`], for the lookups planning finds it needs.
pub(crate) async fn plan(
    pipe: &Pipe,
    reader: Option<&Pipe>,
    backend: Backend,
    ws: i64,
    batch: &ImportBatch,
    looked: Lookups,
    overlay: &mut Overlay,
) -> AppResult<Plan> {
    let Lookups {
        companies,
        identities,
        existing,
        mut ids,
    } = looked;
    let companies = match companies {
        Some(r) => r.get().await?,
        None => HashMap::new(),
    };
    let mut holders: Holders = HashMap::new();
    read_holders(identities, &mut holders).await?;
    match batch {
        ImportBatch::Customers(rows) => {
            add_planned(&mut holders, overlay, rows.iter().map(|r| &r.customer))
        }
        ImportBatch::Orders(rows) => {
            add_planned(&mut holders, overlay, rows.iter().map(|r| &r.customer))
        }
    }
    match batch {
        ImportBatch::Customers(rows) => {
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
            let mut block = IdBlock::new(
                take_reply(&mut ids, "customers"),
                backend,
                "customers",
                overlay,
            )
            .await?;
            let cids = block.take(new_rows.len())?;
            block.keep("customers", overlay);
            let with_note: Vec<(usize, i64)> = new_rows
                .iter()
                .zip(&cids)
                .filter(|(i, _)| rows[**i].note.is_some())
                .map(|(i, id)| (*i, *id))
                .collect();
            let mut block =
                IdBlock::new(take_reply(&mut ids, "notes"), backend, "notes", overlay).await?;
            let nids = block.take(with_note.len())?;
            block.keep("notes", overlay);
            let mut outcomes = vec![None; rows.len()];
            let mut fast = Vec::with_capacity(new_rows.len());
            for (&i, &id) in new_rows.iter().zip(&cids) {
                outcomes[i] = Some((RowOutcome::Created, id));
                fast.push((i, id, id));
                for x in &rows[i].customer.identities {
                    overlay
                        .holders
                        .entry((x.kind.as_str().to_owned(), x.source_id, x.value.clone()))
                        .or_default()
                        .push((id, x.verified));
                }
            }
            let notes = with_note
                .iter()
                .zip(&nids)
                .map(|(&(i, _), &n)| (i, n))
                .collect();
            Ok(Plan {
                outcomes,
                fast,
                notes,
                companies,
            })
        }
        ImportBatch::Orders(rows) => {
            let mut stored: HashMap<(i64, String), i64> = HashMap::new();
            for (src, reply) in existing {
                let found: Vec<(i64, String)> = parse_json_rows(&reply.get().await?)?;
                for (id, external_id) in found {
                    stored.insert((src, external_id), id);
                }
            }
            for r in rows.iter() {
                if let Some(e) = &r.order.external_id {
                    let k = (r.order.source_id, e.clone());
                    if let Some(id) = overlay.orders.get(&k) {
                        stored.insert(k, *id);
                    }
                }
            }
            let customers: Vec<&ValidCustomer> = rows
                .iter()
                .filter(|r| r.customer_id.is_none())
                .map(|r| &r.customer)
                .collect();
            let unsettled: Vec<&ValidCustomer> = customers
                .iter()
                .copied()
                .filter(|c| named_customers(c, &holders).is_empty())
                .collect();
            if !unsettled.is_empty() {
                // Queued behind whatever runs now; the overlay still applies, since the rows
                // it adds are the same whether or not their inserts ran first.
                let more =
                    queue_identity_lookups(reader.unwrap_or(pipe), backend, ws, &unsettled, |i| {
                        !decisive(i)
                    })
                    .await?;
                read_holders(more, &mut holders).await?;
            }
            let mut outcomes = vec![None; rows.len()];
            let mut fast: Vec<(usize, i64)> = Vec::new();
            let mut seen_ext: HashSet<(i64, String)> = HashSet::new();
            for (i, r) in rows.iter().enumerate() {
                if let Some(e) = &r.order.external_id {
                    let k = (r.order.source_id, e.clone());
                    if let Some(id) = stored.get(&k) {
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
            let mut block =
                IdBlock::new(take_reply(&mut ids, "orders"), backend, "orders", overlay).await?;
            let oids = block.take(fast.len())?;
            block.keep("orders", overlay);
            let mut out = Vec::with_capacity(fast.len());
            for (&(i, cid), &id) in fast.iter().zip(&oids) {
                outcomes[i] = Some((RowOutcome::Created, id));
                out.push((i, id, cid));
                if let Some(e) = &rows[i].order.external_id {
                    overlay
                        .orders
                        .insert((rows[i].order.source_id, e.clone()), id);
                }
            }
            Ok(Plan {
                outcomes,
                fast: out,
                notes: Vec::new(),
                companies,
            })
        }
    }
}

/// A batch whose writes are queued: the outcomes decided at planning, and the one-row
/// path's, which arrive once it has run.
pub(crate) struct Queued {
    outcomes: Vec<Option<(RowOutcome, i64)>>,
    slow: Option<SlowReply>,
}

/// The one-row path's outcomes: (row index, outcome).
type SlowReply = Reply<Vec<(usize, (RowOutcome, i64))>>;

impl Queued {
    /// Every row's outcome, in row order (waits for the one-row path's).
    pub(crate) async fn outcomes(self) -> AppResult<Vec<(RowOutcome, i64)>> {
        let mut outcomes = self.outcomes;
        if let Some(slow) = self.slow {
            for (i, o) in slow.get().await? {
                outcomes[i] = Some(o);
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or((RowOutcome::Unchanged, 0)))
            .collect())
    }
}

/// Queue the inserts of `plan`, then the rows it left for the one-row path, in row order.
pub(crate) async fn queue_writes(
    pipe: &Pipe,
    ws: i64,
    actor: &str,
    batch: &ImportBatch,
    plan: Plan,
) -> AppResult<Queued> {
    let now = now_ms();
    let Plan {
        outcomes,
        fast,
        notes,
        companies,
    } = plan;
    match batch {
        ImportBatch::Customers(rows) => {
            queue_customers(pipe, ws, actor, rows, &fast, &notes, &companies, now).await?
        }
        ImportBatch::Orders(rows) => queue_orders(pipe, ws, rows, &fast, now).await?,
    }
    let slow: Vec<usize> = (0..outcomes.len())
        .filter(|i| outcomes[*i].is_none())
        .collect();
    if slow.is_empty() {
        return Ok(Queued {
            outcomes,
            slow: None,
        });
    }
    // The rows left for the one-row path, as a batch of their own (customers with the
    // company their file names resolved), written in row order after the inserts.
    let slow_batch = match batch {
        ImportBatch::Customers(rows) => ImportBatch::Customers(
            slow.iter()
                .map(|&i| {
                    let r = &rows[i];
                    let mut customer = r.customer.clone();
                    customer.company_id = company_of(&companies, &r.company, customer.company_id);
                    CustomerImportRow {
                        line: r.line,
                        customer,
                        company: None,
                        note: r.note.clone(),
                    }
                })
                .collect(),
        ),
        ImportBatch::Orders(rows) => {
            ImportBatch::Orders(slow.iter().map(|&i| rows[i].clone()).collect())
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let actor = actor.to_owned();
    let work: ConnWork = Box::new(move |conn| {
        Box::pin(async move {
            let mut out = Vec::with_capacity(slow.len());
            for (k, &i) in slow.iter().enumerate() {
                let outcome = super::imports::write_one(conn, ws, &actor, &slow_batch, k).await?;
                out.push((i, outcome));
            }
            let _ = tx.send(out);
            Ok(())
        })
    });
    pipe.send(Cmd::Work(work)).await?;
    let slow = Some(Reply(rx));
    Ok(Queued { outcomes, slow })
}

/// A row's company: the one its file names, else the one it was given.
fn company_of(
    companies: &HashMap<String, i64>,
    name: &Option<String>,
    given: Option<i64>,
) -> Option<i64> {
    name.as_ref()
        .and_then(|n| companies.get(n).copied())
        .or(given)
}

/// The new customers of a plan, with their notes.
#[allow(clippy::too_many_arguments)]
async fn queue_customers(
    pipe: &Pipe,
    ws: i64,
    actor: &str,
    rows: &[CustomerImportRow],
    fast: &[(usize, i64, i64)],
    notes: &[(usize, i64)],
    companies: &HashMap<String, i64>,
    now: i64,
) -> AppResult<()> {
    let mut created_rows = NewCustomers::default();
    for &(i, id, _) in fast {
        let v = &rows[i].customer;
        let company = company_of(companies, &rows[i].company, v.company_id);
        created_rows.push(ws, id, v, company, now, actor);
    }
    created_rows.queue(pipe).await?;
    // Notes of new customers, with their text tags and timeline entries, in bulk too.
    let (mut n_rows, mut tag_rows, mut ntl_rows) = (Vec::new(), Vec::new(), Vec::new());
    let customer_of: HashMap<usize, i64> = fast.iter().map(|&(i, id, _)| (i, id)).collect();
    for &(i, nid) in notes {
        let cid = customer_of.get(&i).copied().unwrap_or_default();
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
}

/// The orders of a plan, with their lines, status history, timeline entries and counter
/// marks.
async fn queue_orders(
    pipe: &Pipe,
    ws: i64,
    rows: &[OrderImportRow],
    fast: &[(usize, i64, i64)],
    now: i64,
) -> AppResult<()> {
    let backend = pipe.backend();
    // Each table's rows are built while the previous table's statements run.
    let orders = || fast.iter().map(|&(i, id, cid)| (&rows[i], cid, id));
    {
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
        pipe.insert_rows("timeline", &TIMELINE_COLS, tl_rows)
            .await?;
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
            Backend::Sqlite => {
                "INSERT OR IGNORE INTO customer_counters_stale (customer_id) VALUES "
            }
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
    }
}
