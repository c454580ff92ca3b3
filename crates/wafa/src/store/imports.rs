//! Bulk writes for CSV imports and the demo store, and the record of each import run.
//!
//! Why batches: one transaction per row costs a WAL commit per row on SQLite and a round trip
//! per row on PostgreSQL. Rows are written in batches of a few hundred in one transaction;
//! if anything in a batch fails at the database (a constraint the validation could not see),
//! the batch is rolled back and replayed one row per transaction, so the good rows still land
//! and the bad one is reported with its line — nothing is half-written either way.

use super::bulk;
use super::customers::{insert_note, upsert_customer_mode, UpsertMode};
use super::orders::insert_order;
use super::sql::{pipelined, Executor, Sql};
use super::{audit, now_ms, Store};
use crate::error::{AppError, AppResult};
use crate::validate::{ValidCustomer, ValidOrder};
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use utoipa::ToSchema;

/// A customer row ready to write.
#[derive(Clone)]
pub struct CustomerImportRow {
    pub line: u64,
    pub customer: ValidCustomer,
    pub company: Option<String>,
    pub note: Option<String>,
}

/// An order row ready to write: its customer is resolved (or created) first.
#[derive(Clone)]
pub struct OrderImportRow {
    pub line: u64,
    pub customer: ValidCustomer,
    /// Skip resolution: the order belongs to this customer (the demo loader knows the ids).
    pub customer_id: Option<i64>,
    pub order: ValidOrder,
    /// The real status history, when known; else the path implied by the status.
    pub history: Option<Vec<(wafa_domain::OrderStatus, i64, Option<String>)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOutcome {
    Created,
    Updated,
    Unchanged,
}

/// A row that failed at the database, with its line.
#[derive(Debug)]
pub struct RowFailure {
    pub line: u64,
    pub error: AppError,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportRecord {
    pub id: i64,
    pub kind: String,
    pub file_name: Option<String>,
    pub encoding: Option<String>,
    pub status: String,
    pub rows_total: i64,
    pub rows_created: i64,
    pub rows_updated: i64,
    pub rows_unchanged: i64,
    pub rows_failed: i64,
    /// The first failed rows (line, code, field, message); the CLI writes all of them.
    #[schema(value_type = Vec<Object>)]
    pub errors: serde_json::Value,
    pub created_at: String,
    pub finished_at: Option<String>,
}

const IMPORT_COLS: &str = "id, kind, file_name, encoding, status, rows_total, rows_created, rows_updated, rows_unchanged, rows_failed, errors, created_at, finished_at";

fn import_from_row(r: &sqlx::any::AnyRow) -> ImportRecord {
    ImportRecord {
        id: r.get("id"),
        kind: r.get("kind"),
        file_name: r.get("file_name"),
        encoding: r.get("encoding"),
        status: r.get("status"),
        rows_total: r.get("rows_total"),
        rows_created: r.get("rows_created"),
        rows_updated: r.get("rows_updated"),
        rows_unchanged: r.get("rows_unchanged"),
        rows_failed: r.get("rows_failed"),
        errors: super::json_col(r, "errors"),
        created_at: wafa_domain::time::format_ms(r.get("created_at")),
        finished_at: r
            .get::<Option<i64>, _>("finished_at")
            .map(wafa_domain::time::format_ms),
    }
}

/// Find or create a company by exact name (imports name companies, not ids).
pub(crate) async fn company_id(
    conn: &mut AnyConnection,
    workspace_id: i64,
    name: &str,
) -> AppResult<i64> {
    if let Some(r) = sqlx::query(
        "SELECT id FROM companies WHERE workspace_id = $1 AND name = $2 ORDER BY id LIMIT 1",
    )
    .bind(workspace_id)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?
    {
        return Ok(r.get("id"));
    }
    Ok(sqlx::query(
        "INSERT INTO companies (workspace_id, name, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(workspace_id)
    .bind(name)
    .bind(now_ms())
    .fetch_one(&mut *conn)
    .await?
    .get("id"))
}

pub(crate) async fn write_customer_row(
    conn: &mut AnyConnection,
    workspace_id: i64,
    actor: &str,
    row: &CustomerImportRow,
) -> AppResult<(RowOutcome, i64)> {
    let mut c = row.customer.clone();
    if let Some(name) = &row.company {
        c.company_id = Some(company_id(conn, workspace_id, name).await?);
    }
    let out = upsert_customer_mode(
        conn,
        workspace_id,
        actor,
        &c,
        UpsertMode {
            loose: true,
            quiet: true,
        },
    )
    .await?;
    if let Some(note) = &row.note {
        // A note already on the customer with the same text is the same note (re-import).
        let dup = sqlx::query("SELECT id FROM notes WHERE customer_id = $1 AND body = $2 LIMIT 1")
            .bind(out.customer_id)
            .bind(note)
            .fetch_optional(&mut *conn)
            .await?;
        if dup.is_none() {
            insert_note(
                conn,
                workspace_id,
                out.customer_id,
                note,
                None,
                c.created_at.unwrap_or_else(now_ms),
            )
            .await?;
            return Ok((
                if out.resolution == "created" {
                    RowOutcome::Created
                } else {
                    RowOutcome::Updated
                },
                out.customer_id,
            ));
        }
    }
    let outcome = match (out.resolution, out.changed) {
        ("created", _) => RowOutcome::Created,
        (_, true) => RowOutcome::Updated,
        _ => RowOutcome::Unchanged,
    };
    Ok((outcome, out.customer_id))
}

pub(crate) async fn write_order_row(
    conn: &mut AnyConnection,
    workspace_id: i64,
    actor: &str,
    row: &OrderImportRow,
) -> AppResult<(RowOutcome, i64)> {
    // Already imported: nothing to do, not even touching the customer.
    if let Some(ext) = &row.order.external_id {
        let exists = sqlx::query(
            "SELECT id FROM orders WHERE workspace_id = $1 AND source_id = $2 AND external_id = $3",
        )
        .bind(workspace_id)
        .bind(row.order.source_id)
        .bind(ext)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(r) = exists {
            return Ok((RowOutcome::Unchanged, r.get("id")));
        }
    }
    let customer_id = match row.customer_id {
        Some(id) => id,
        None => {
            upsert_customer_mode(
                conn,
                workspace_id,
                actor,
                &row.customer,
                UpsertMode {
                    loose: true,
                    quiet: true,
                },
            )
            .await?
            .customer_id
        }
    };
    let mut o = row.order.clone();
    o.customer_id = customer_id;
    Ok(
        match insert_order(conn, workspace_id, actor, &o, row.history.as_deref(), true).await? {
            super::OrderWrite::Created(id) => (RowOutcome::Created, id),
            super::OrderWrite::Existing(id) => (RowOutcome::Unchanged, id),
        },
    )
}

/// How long an import may hold the writer before it commits (unless acknowledgements are
/// waiting for the writer, which makes it commit after the current batch).
///
/// Why hold it across batches: on SQLite a commit writes every page the transaction dirtied
/// to the WAL. A batch of a few hundred rows touches pages all over the indexes (identities,
/// search words, the timeline's per-customer index, the customers' order counters), and the
/// next batch dirties most of the same pages again, so committing per batch wrote each hot
/// page once per batch. Three seconds rather than one: at a million customers most pages an
/// order touches are random (its customer's row, the per-customer indexes), and a longer
/// transaction lets more orders share them. Measured together with the larger cache below
/// and the memory map past 2 GB (the three were not measured apart): 1M customers + 5M order
/// lines at 18,600–22,700 rows/s end to end instead of 13,300–15,400 with one-second
/// transactions. The price: the delivery processor waits up to that long during an import;
/// acknowledgements do not (they make the import commit), but a CLI import against the file
/// of a running server holds SQLite's write lock that long, and that server's writes wait.
pub const IMPORT_HOLD: std::time::Duration = std::time::Duration::from_secs(3);

/// Rows ready for the writer: one batch of a customers or an orders file.
pub enum ImportBatch {
    Customers(Vec<CustomerImportRow>),
    Orders(Vec<OrderImportRow>),
}

/// A row's outcome: written (created, updated or unchanged, with its id) or refused.
pub type RowResult = Result<(RowOutcome, i64), RowFailure>;

/// An import's hold on the writer: batches are written through the bulk path in one
/// transaction, committed every [`IMPORT_HOLD`] or as soon as acknowledgements wait for the
/// writer. Outcomes are handed out by the commit that made them durable.
///
/// Why no savepoint per batch: a savepoint (and, inside a transaction, every multi-row
/// statement's own statement journal) copies each page it touches first into a sub-journal,
/// in case it is rolled back: measured ~16% of an import's CPU. The writer instead keeps the
/// batches of the open transaction; if the database refuses anything, it rolls the whole
/// transaction back, writes the earlier batches again, writes the refused batch one row per
/// savepoint (so only the bad rows fail, with their lines), and commits. Nothing is
/// half-written either way.
///
/// Why a larger page cache during the transaction (SQLite): a second of random inserts dirties
/// tens of thousands of index pages, more than the writer's usual cache holds, and a full
/// cache spills dirty pages to the WAL mid-transaction, so pages dirtied again are written
/// twice. The usual size is restored at commit (clean pages come from the memory map).
///
/// Why lookups go to a read connection of their own: on SQLite every statement on the
/// writer runs on one thread, one after another, and a large import is bound by that thread;
/// the identity and order lookups (a sixth of its time for an orders file) run on another
/// connection, and core, meanwhile. That connection sees committed rows only, so the
/// [`bulk::Overlay`] holds every row planned in the open transaction, not only the last
/// batch's; and since other writers wait for the open transaction (SQLite), or could always
/// commit between a lookup and an insert (PostgreSQL, as before), the two together see what
/// the writer would. Rows the overlay does not describe (the one-row path's, a replay's)
/// send the lookups back to the writer until the next commit. An in-memory SQLite database
/// has one connection, the writer's, which then does them all.
///
/// Why foreign keys are not checked during an import's transactions (SQLite): the bulk path
/// only references rows it has just inserted or resolved inside the same transaction, and
/// nothing else writes meanwhile (one writer), so the check (a parent lookup per foreign key
/// per row, and the statement journal it forces) cannot fail; it was ~15% of the CPU. The
/// connection gets `foreign_keys=ON` back before it returns to the pool, and is closed
/// instead if the import stops mid-transaction. PostgreSQL checks them as always, and the
/// tests run every import on both.
pub struct ImportWriter<'s> {
    store: &'s Store,
    workspace_id: i64,
    actor: &'s str,
    /// The open transaction's queue; it owns the writer connection until the commit.
    open: Option<Executor<WriterConn>>,
    opened: std::time::Instant,
    /// Batches written in the open transaction, with their outcomes.
    pending: Vec<Pending>,
    /// The open transaction was replayed (commit at the next chance).
    replayed: bool,
    /// What the batches planned in the open transaction write (see [`bulk::Lookups`]).
    overlay: bulk::Overlay,
    /// The next batch's lookups, queued ahead of the last batch's inserts, with the next
    /// batch's first line.
    prefetched: Option<(u64, bulk::Lookups)>,
    /// A read connection of the import's own, for its identity and order lookups (see
    /// [`ImportWriter`]); started when first needed.
    reader: Option<Executor<sqlx::pool::PoolConnection<sqlx::Any>>>,
    /// The open transaction holds rows the overlay does not describe (one-row writes, a
    /// replay): lookups go through the writer until it commits.
    unplanned_writes: bool,
}

/// A batch of the open transaction.
struct Pending {
    batch: ImportBatch,
    written: Written,
}

enum Written {
    /// Queued on the open transaction's executor.
    Queued(bulk::Queued),
    /// Written, with each row's result.
    Done(Vec<RowResult>),
    /// Refused while queued: written again by the replay.
    Refused,
}

/// The writer connection while an import transaction may be open on it.
struct WriterConn {
    conn: sqlx::pool::PoolConnection<sqlx::Any>,
    /// Inside a transaction (or with foreign keys off): not fit to go back to the pool.
    dirty: bool,
}

impl Drop for WriterConn {
    fn drop(&mut self) {
        if self.dirty {
            // Closing the connection rolls the transaction back; the pool opens a fresh one.
            self.conn.close_on_drop();
        }
    }
}

impl std::ops::Deref for WriterConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for WriterConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

/// `BEGIN` for an import transaction: on SQLite it takes the write lock at once.
fn begin_sql(backend: super::Backend) -> &'static str {
    match backend {
        super::Backend::Sqlite => "BEGIN IMMEDIATE",
        super::Backend::Postgres => "BEGIN",
    }
}

async fn exec(conn: &mut AnyConnection, sql: &'static str) -> AppResult<()> {
    sqlx::raw_sql(sql).execute(&mut *conn).await?;
    Ok(())
}

/// A batch through the bulk path on `conn`, with nothing queued ahead of it (the replay's
/// way): its lookups, its plan, its writes.
async fn write_bulk(
    conn: &mut AnyConnection,
    backend: super::Backend,
    ws: i64,
    actor: &str,
    batch: &ImportBatch,
) -> AppResult<Vec<RowResult>> {
    let queued = pipelined(conn, backend, |pipe| async move {
        let looked = bulk::queue_lookups(&pipe, None, backend, ws, batch).await?;
        let mut overlay = bulk::Overlay::default();
        let plan = bulk::plan(&pipe, None, backend, ws, batch, looked, &mut overlay).await?;
        bulk::queue_writes(&pipe, ws, actor, batch, plan).await
    })
    .await?;
    Ok(queued.outcomes().await?.into_iter().map(Ok).collect())
}

/// Row `i` of `batch` through the one-row path (the API's code).
pub(crate) async fn write_one(
    conn: &mut AnyConnection,
    ws: i64,
    actor: &str,
    batch: &ImportBatch,
    i: usize,
) -> AppResult<(RowOutcome, i64)> {
    match batch {
        ImportBatch::Customers(rows) => write_customer_row(conn, ws, actor, &rows[i]).await,
        ImportBatch::Orders(rows) => write_order_row(conn, ws, actor, &rows[i]).await,
    }
}

/// One row per savepoint: a row the database refuses is reported, the others are written.
async fn write_rows(
    conn: &mut AnyConnection,
    ws: i64,
    actor: &str,
    batch: &ImportBatch,
) -> AppResult<Vec<RowResult>> {
    let mut out = Vec::with_capacity(batch.len());
    for (i, line) in batch.lines().into_iter().enumerate() {
        exec(conn, "SAVEPOINT import_row").await?;
        match write_one(conn, ws, actor, batch, i).await {
            Ok(o) => {
                exec(conn, "RELEASE SAVEPOINT import_row").await?;
                out.push(Ok(o));
            }
            Err(error) => {
                exec(conn, "ROLLBACK TO SAVEPOINT import_row").await?;
                exec(conn, "RELEASE SAVEPOINT import_row").await?;
                out.push(Err(RowFailure { line, error }));
            }
        }
    }
    Ok(out)
}

impl ImportBatch {
    pub fn len(&self) -> usize {
        match self {
            ImportBatch::Customers(rows) => rows.len(),
            ImportBatch::Orders(rows) => rows.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn lines(&self) -> Vec<u64> {
        match self {
            ImportBatch::Customers(rows) => rows.iter().map(|r| r.line).collect(),
            ImportBatch::Orders(rows) => rows.iter().map(|r| r.line).collect(),
        }
    }
    fn first_line(&self) -> Option<u64> {
        match self {
            ImportBatch::Customers(rows) => rows.first().map(|r| r.line),
            ImportBatch::Orders(rows) => rows.first().map(|r| r.line),
        }
    }
}

impl ImportWriter<'_> {
    async fn begin(&mut self) -> AppResult<()> {
        if self.open.is_some() {
            return Ok(());
        }
        let mut w = WriterConn {
            conn: self.store.write.acquire().await?,
            dirty: true,
        };
        if self.store.backend == super::Backend::Sqlite {
            exec(
                &mut w.conn,
                "PRAGMA cache_size=-1048576; PRAGMA foreign_keys=OFF",
            )
            .await?;
        }
        exec(&mut w.conn, begin_sql(self.store.backend)).await?;
        self.open = Some(Executor::start(w, self.store.backend));
        self.opened = std::time::Instant::now();
        Ok(())
    }

    fn commit_due(&self) -> bool {
        self.replayed || self.opened.elapsed() >= IMPORT_HOLD || self.store.acks.waiting()
    }

    /// Write a batch in the open transaction (see [`ImportWriter`]). `next`, the batch that
    /// will be written after it if the caller already has it, lets its lookups run ahead.
    pub async fn write(&mut self, batch: ImportBatch, next: Option<&ImportBatch>) -> AppResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.begin().await?;
        match self.queue(&batch, next).await {
            Ok(queued) => {
                self.pending.push(Pending {
                    batch,
                    written: Written::Queued(queued),
                });
                Ok(())
            }
            Err(e) => {
                tracing::debug!(error = %e, "batch refused; replaying");
                self.pending.push(Pending {
                    batch,
                    written: Written::Refused,
                });
                self.replay().await
            }
        }
    }

    /// Plan `batch` and queue its writes; if every row is decided without the one-row path
    /// and the transaction goes on, queue `next`'s lookups before them, so the database
    /// answers those while this batch is prepared, and `next` is planned while this batch's
    /// inserts run. The [`bulk::Overlay`] supplies what those lookups cannot see yet.
    async fn queue(
        &mut self,
        batch: &ImportBatch,
        next: Option<&ImportBatch>,
    ) -> AppResult<bulk::Queued> {
        let (backend, ws) = (self.store.backend, self.workspace_id);
        let commit_due = self.commit_due();
        if self.reader.is_none() && self.store.separate_reader && !self.unplanned_writes {
            let conn = self.store.read.acquire().await?;
            self.reader = Some(Executor::start(conn, backend));
        }
        let pipe = self.open.as_ref().expect("begun above").pipe();
        let reader = match self.unplanned_writes {
            false => self.reader.as_ref().map(|r| r.pipe()),
            true => None,
        };
        let looked = match self.prefetched.take() {
            Some((line, looked)) if Some(line) == batch.first_line() => looked,
            _ => bulk::queue_lookups(pipe, reader, backend, ws, batch).await?,
        };
        let plan = bulk::plan(pipe, reader, backend, ws, batch, looked, &mut self.overlay).await?;
        if plan.is_bulk_only() && !commit_due {
            if let Some((line, next)) = next.and_then(|n| Some((n.first_line()?, n))) {
                let looked = bulk::queue_lookups(pipe, reader, backend, ws, next).await?;
                self.prefetched = Some((line, looked));
            }
        }
        if !plan.is_bulk_only() {
            self.unplanned_writes = true;
        }
        bulk::queue_writes(pipe, ws, self.actor, batch, plan).await
    }

    /// After a refusal: take the connection back, write the transaction's batches again
    /// (see [`rewrite`](Self::rewrite)) and go on in the same transaction; the next
    /// [`after_batch`](Self::after_batch) commits, so a later refusal does not replay this
    /// work again.
    async fn replay(&mut self) -> AppResult<()> {
        self.prefetched = None;
        // The rewrite writes through the one-row path too; and a failed lookup may be what
        // brought us here, which ends the reader's queue (a fresh one starts after the
        // commit).
        self.unplanned_writes = true;
        self.reader = None;
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        // The first error is the refusal that brought us here, or one queued after it.
        let (mut w, _) = open.finish().await?;
        self.rewrite(&mut w).await?;
        self.open = Some(Executor::start(w, self.store.backend));
        self.replayed = true;
        Ok(())
    }

    /// Roll back and write every batch of the transaction again, each in a savepoint: in
    /// bulk, or, if the database refuses that, one row per savepoint, so only the bad rows
    /// fail, with their lines.
    async fn rewrite(&mut self, w: &mut WriterConn) -> AppResult<()> {
        let backend = self.store.backend;
        let (ws, actor) = (self.workspace_id, self.actor);
        exec(w, "ROLLBACK").await?;
        exec(w, begin_sql(backend)).await?;
        self.overlay.forget_planned();
        for p in &mut self.pending {
            exec(w, "SAVEPOINT import_batch").await?;
            let out = match write_bulk(w, backend, ws, actor, &p.batch).await {
                Ok(out) => {
                    exec(w, "RELEASE SAVEPOINT import_batch").await?;
                    out
                }
                Err(_) => {
                    exec(w, "ROLLBACK TO SAVEPOINT import_batch").await?;
                    exec(w, "RELEASE SAVEPOINT import_batch").await?;
                    write_rows(w, ws, actor, &p.batch).await?
                }
            };
            p.written = Written::Done(out);
        }
        Ok(())
    }

    /// Commit if the writer has been held for [`IMPORT_HOLD`] or acknowledgements are
    /// waiting for it; the committed rows' outcomes (line, result), else nothing.
    pub async fn after_batch(&mut self) -> AppResult<Vec<(u64, RowResult)>> {
        if self.open.is_some() && self.commit_due() {
            return self.commit().await;
        }
        Ok(Vec::new())
    }

    /// Commit what is written so far and release the writer; the committed rows' outcomes
    /// (line, result) in the order written.
    pub async fn commit(&mut self) -> AppResult<Vec<(u64, RowResult)>> {
        let Some(open) = self.open.take() else {
            return Ok(Vec::new());
        };
        // Lookups queued for the next batch saw this transaction; the next one asks again.
        self.prefetched = None;
        let (mut w, ran) = open.finish().await?;
        let settled = match ran {
            Ok(()) => self.settle().await,
            Err(e) => Err(e),
        };
        if let Err(e) = settled {
            tracing::debug!(error = %e, "batch refused; replaying");
            self.rewrite(&mut w).await?;
        }
        exec(&mut w, "COMMIT").await?;
        if self.store.backend == super::Backend::Sqlite {
            exec(&mut w, super::WRITER_SETTINGS).await?;
        }
        w.dirty = false;
        drop(w);
        self.replayed = false;
        self.unplanned_writes = false;
        self.overlay.forget_planned();
        let mut out = Vec::new();
        for p in self.pending.drain(..) {
            if let Written::Done(results) = p.written {
                out.extend(p.batch.lines().into_iter().zip(results));
            }
        }
        Ok(out)
    }

    /// The outcomes of the queued batches, once their queue has run without a refusal.
    async fn settle(&mut self) -> AppResult<()> {
        for p in &mut self.pending {
            // On an error the batch is left `Refused`: the caller writes them all again.
            p.written = match std::mem::replace(&mut p.written, Written::Refused) {
                Written::Queued(q) => {
                    Written::Done(q.outcomes().await?.into_iter().map(Ok).collect())
                }
                settled => settled,
            };
        }
        Ok(())
    }
}

impl Store {
    /// Start writing an import's batches (see [`ImportWriter`]).
    pub fn import_writer<'s>(&'s self, workspace_id: i64, actor: &'s str) -> ImportWriter<'s> {
        ImportWriter {
            store: self,
            workspace_id,
            actor,
            open: None,
            opened: std::time::Instant::now(),
            pending: Vec::new(),
            replayed: false,
            overlay: bulk::Overlay::default(),
            prefetched: None,
            reader: None,
            unplanned_writes: false,
        }
    }

    /// Recount the order counters (count, first and last order) of the customers a bulk
    /// import marked in `customer_counters_stale`, in order of id, 20,000 per transaction;
    /// the number recounted. Run at the end of every import and at start-up (an
    /// import that stopped half-way leaves its marks); running it at any other time is
    /// harmless, since a recount is exact whenever it runs.
    pub async fn refresh_stale_counters(&self) -> AppResult<u64> {
        // Why 20,000: each recounted customer moves its entry in the index by last order, a
        // random page, and a transaction writes each page it dirtied once. Measured on 847k
        // stale customers (SQLite): 2,000 per transaction 41 s, 20,000 per transaction 13 s,
        // each transaction holding the writer ~0.3 s.
        const CHUNK: i64 = 20_000;
        let mut done = 0u64;
        loop {
            // The next range of marks, read outside the write transaction: the recount reads
            // the orders as they are when it runs, so a mark added meanwhile is recounted too.
            let range = sqlx::query(
                "SELECT MIN(customer_id) AS first, MAX(customer_id) AS last, COUNT(*) AS n \
                 FROM (SELECT customer_id FROM customer_counters_stale ORDER BY customer_id LIMIT $1) AS t",
            )
            .bind(CHUNK)
            .fetch_one(&self.write)
            .await?;
            let (Some(first), Some(last)) = (
                range.try_get::<Option<i64>, _>("first")?,
                range.try_get::<Option<i64>, _>("last")?,
            ) else {
                return Ok(done);
            };
            let n: i64 = range.try_get("n")?;
            // The recount joins the marks themselves; every mark in the range is recounted
            // and removed in the same write transaction.
            let mut update = Sql::for_backend(
                "UPDATE customers SET orders_count = s.n, first_order_at = s.f, last_order_at = s.l \
                 FROM (SELECT st.customer_id AS cid, COUNT(o.id) AS n, MIN(o.placed_at) AS f, MAX(o.placed_at) AS l \
                 FROM customer_counters_stale st \
                 LEFT JOIN orders o ON o.customer_id = st.customer_id AND o.status <> 'cancelled' \
                 WHERE st.customer_id BETWEEN ",
                self.backend,
            );
            update
                .int(first)
                .push(" AND ")
                .int(last)
                .push(" GROUP BY st.customer_id) AS s WHERE customers.id = s.cid");
            let mut delete = Sql::for_backend(
                "DELETE FROM customer_counters_stale WHERE customer_id BETWEEN ",
                self.backend,
            );
            delete.int(first).push(" AND ").int(last);
            let mut tx = self.write.begin().await?;
            update.into_query().execute(&mut *tx).await?;
            delete.into_query().execute(&mut *tx).await?;
            tx.commit().await?;
            done += n as u64;
            if n < CHUNK {
                return Ok(done);
            }
        }
    }

    /// Write one batch and commit it; outcomes in row order (the demo loader's path).
    pub async fn import_batch(
        &self,
        workspace_id: i64,
        actor: &str,
        batch: ImportBatch,
    ) -> AppResult<Vec<RowResult>> {
        let mut w = self.import_writer(workspace_id, actor);
        w.write(batch, None).await?;
        let out = w.commit().await?.into_iter().map(|(_, r)| r).collect();
        self.refresh_stale_counters().await?;
        Ok(out)
    }

    pub async fn start_import(
        &self,
        workspace_id: i64,
        kind: &str,
        file_name: Option<&str>,
        encoding: &str,
    ) -> AppResult<i64> {
        Ok(sqlx::query("INSERT INTO imports (workspace_id, kind, file_name, encoding, status, created_at) VALUES ($1, $2, $3, $4, 'running', $5) RETURNING id")
            .bind(workspace_id)
            .bind(kind)
            .bind(file_name)
            .bind(encoding)
            .bind(now_ms())
            .fetch_one(&self.write)
            .await?
            .get("id"))
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn finish_import(
        &self,
        workspace_id: i64,
        actor: &str,
        id: i64,
        status: &str,
        counts: [i64; 5],
        errors: &serde_json::Value,
    ) -> AppResult<ImportRecord> {
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE imports SET status = $2, rows_total = $3, rows_created = $4, rows_updated = $5, rows_unchanged = $6, rows_failed = $7, errors = $8, finished_at = $9 WHERE id = $1")
            .bind(id)
            .bind(status)
            .bind(counts[0])
            .bind(counts[1])
            .bind(counts[2])
            .bind(counts[3])
            .bind(counts[4])
            .bind(errors.to_string())
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, workspace_id, actor, "import.finish", "import", Some(id), json!({"status": status, "total": counts[0], "created": counts[1], "updated": counts[2], "unchanged": counts[3], "failed": counts[4]})).await?;
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {IMPORT_COLS} FROM imports WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(import_from_row(&r))
    }

    pub async fn get_import(&self, workspace_id: i64, id: i64) -> AppResult<ImportRecord> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {IMPORT_COLS} FROM imports WHERE id = $1 AND workspace_id = $2"
        )))
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| AppError::not_found("import"))?;
        Ok(import_from_row(&r))
    }

    pub async fn list_imports(
        &self,
        workspace_id: i64,
        before_id: Option<i64>,
        limit: i64,
    ) -> AppResult<Vec<ImportRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!("SELECT {IMPORT_COLS} FROM imports WHERE workspace_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3")))
            .bind(workspace_id)
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        Ok(rows.iter().map(import_from_row).collect())
    }
}
