//! Bulk loads (imports of at least [`DEFAULT_BULK_LOAD_MIN_ROWS`] rows): written in larger
//! batches ([`DEFAULT_BULK_LOAD_BATCH_ROWS`]), and on SQLite three secondary indexes are
//! built once at the end of a large order import instead of being kept in step row by row.
//!
//! Why: an imported order lands at a random place in `timeline_customer` (by customer) and
//! `orders_ws_dashboard` (by currency and date), and the counter recount at the end moves
//! most customers' entries in `customers_ws_last_order`, so every transaction dirtied most
//! of their pages and wrote them all again at its commit. Measured on the 1M-customer /
//! 5M-line benchmark: the orders file took 127-130 s instead of 158-180 s, including
//! building the three afterwards (a sort each, written once: ~13 s). None is read by the
//! import itself.
//!
//! The price: while such an import runs, customer timelines, the console's order dashboards
//! and the customer list sorted by last order read without these indexes (slower, still
//! correct), in every workspace of the database. So only imports at least as large as what is already stored defer them (a first
//! load, a migration from another system), never the everyday ones.
//!
//! Crash safety: the indexes' definitions are saved in `deferred_indexes` in the same
//! transaction that drops them. The import builds them again when it ends, also when it
//! fails, and so does every `Store::connect` (before migrating), so an import that stopped
//! half-way leaves nothing missing after the next start. Building an index that is already
//! there is skipped, so two imports, or an import and a starting server, can both restore.
//!
//! PostgreSQL keeps its indexes: it is the backend for concurrent traffic, where dropping an
//! index takes a lock that stops every query on the table.

use super::{now_ms, Backend, Store};
use crate::error::AppResult;
use sqlx::{AssertSqlSafe, Row};

/// The indexes an order import may defer: read by timelines, dashboards and the customer
/// list's sort by last order, never by the import. `customers_ws_last_order` because the
/// counter recount at the end of the import moves most customers' entries in it (random
/// pages); building it after the recount is one sort. `orders_customer`, equally random,
/// stays: every one-row order write (webhooks, the import's own slow path) recounts its
/// customer through it.
const DEFERRABLE: [&str; 3] = [
    "timeline_customer",
    "orders_ws_dashboard",
    "customers_ws_last_order",
];

/// Imports of fewer CSV rows than this always keep the indexes in step.
pub const DEFAULT_BULK_LOAD_MIN_ROWS: u64 = 100_000;

/// Rows per batch of a bulk load (an import of at least [`DEFAULT_BULK_LOAD_MIN_ROWS`] rows);
/// everyday imports use `import::BATCH` (2,000).
///
/// Why larger: a batch's fixed costs (its lookup statements, whose `IN` lists differ in
/// length from batch to batch and are prepared anew, the last, shorter statement of each
/// table, and the idle moments while the first statement of a batch is built and after its
/// last one has run) are paid a quarter as often. Measured at 1M customers / 5M order lines
/// (SQLite, one machine, one session): 34,473–41,406 rows/s end to end in four runs,
/// against 28,637–31,413 in four runs with batches of 2,000; 20,000 rows gave 38,553.
/// PostgreSQL (200k / 1M): 8,655 and 10,374 against 9,007, no measurable change.
/// The price: an acknowledgement that waits for the writer during a bulk load waits for the
/// current batch, up to ~0.4 s for a customers file, instead of under 0.1 s.
pub const DEFAULT_BULK_LOAD_BATCH_ROWS: usize = 8000;

impl Store {
    /// The smallest import (in CSV rows) that is a bulk load: it is written in larger
    /// batches ([`bulk_load_batch_rows`](Self::bulk_load_batch_rows)) and, for an order
    /// import on SQLite, defers index maintenance (see the module documentation). Tests
    /// lower it to exercise both with small files.
    pub fn set_bulk_load_min_rows(&mut self, rows: u64) {
        self.bulk_load_min_rows = rows;
    }

    /// Rows per batch of a bulk load ([`DEFAULT_BULK_LOAD_BATCH_ROWS`] unless set). Tests
    /// lower it so that small files still span several batches.
    pub fn set_bulk_load_batch_rows(&mut self, rows: usize) {
        self.bulk_load_batch_rows = rows.max(1);
    }

    pub fn bulk_load_batch_rows(&self) -> usize {
        self.bulk_load_batch_rows
    }

    /// Whether an import of `incoming_rows` CSV rows is a bulk load (see
    /// [`set_bulk_load_min_rows`](Self::set_bulk_load_min_rows)), on either backend.
    pub fn is_bulk_load(&self, incoming_rows: u64) -> bool {
        incoming_rows >= self.bulk_load_min_rows
    }

    /// Drop the deferrable indexes for an order import of about `incoming_rows` CSV rows, if
    /// it is a bulk load: SQLite, at least the minimum, and at least as many rows as the
    /// timeline already holds. Whether they were deferred.
    pub async fn defer_indexes_for_order_import(&self, incoming_rows: u64) -> AppResult<bool> {
        if self.backend != Backend::Sqlite || !self.is_bulk_load(incoming_rows) {
            return Ok(false);
        }
        let stored: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) AS n FROM timeline")
            .fetch_one(&self.read)
            .await?
            .try_get("n")?;
        if incoming_rows < stored.max(0) as u64 {
            return Ok(false);
        }
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let mut dropped = 0;
        for name in DEFERRABLE {
            let found =
                sqlx::query("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = $1")
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(row) = found else { continue };
            let definition: String = row.try_get("sql")?;
            sqlx::query("INSERT INTO deferred_indexes (name, definition, deferred_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(&definition)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            sqlx::raw_sql(AssertSqlSafe(format!("DROP INDEX {name}")))
                .execute(&mut *tx)
                .await?;
            dropped += 1;
        }
        tx.commit().await?;
        if dropped > 0 {
            tracing::info!(dropped, incoming_rows, "bulk load: indexes deferred");
        }
        Ok(dropped > 0)
    }

    /// Build every index in `deferred_indexes` again, one transaction each; how many were
    /// built. Cheap when there are none (one read of an empty table).
    pub async fn restore_deferred_indexes(&self) -> AppResult<usize> {
        if self.backend != Backend::Sqlite {
            return Ok(0);
        }
        let table: Option<i64> = sqlx::query(
            "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'deferred_indexes'",
        )
        .fetch_optional(&self.write)
        .await?
        .map(|r| r.get("x"));
        if table.is_none() {
            return Ok(0); // a database from before migration 8
        }
        // Read outside a write transaction first: this runs at every start, and nearly
        // always finds nothing, which needs no write lock.
        let pending = sqlx::query("SELECT 1 AS x FROM deferred_indexes LIMIT 1")
            .fetch_optional(&self.write)
            .await?;
        if pending.is_none() {
            return Ok(0);
        }
        // Why a 1 GiB cache while building: SQLite sorts an index's entries in memory up to
        // the page cache's size and merges sorted runs beyond it; with the writer's 64 MB
        // the 5M-entry timeline index was sorted in runs. Measured at 1M/5M: the three
        // builds 13.3 s instead of 14.7-16.0 s (timeline_customer 5.4 s instead of 7.2-7.7).
        let mut conn = self.write.acquire().await?;
        sqlx::raw_sql("PRAGMA cache_size=-1048576")
            .execute(&mut *conn)
            .await?;
        let built = self.build_deferred_indexes(&mut conn).await;
        sqlx::raw_sql(super::WRITER_SETTINGS)
            .execute(&mut *conn)
            .await?;
        built
    }

    async fn build_deferred_indexes(&self, conn: &mut sqlx::AnyConnection) -> AppResult<usize> {
        use sqlx::Connection;
        let mut built = 0;
        loop {
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
            let Some(row) =
                sqlx::query("SELECT name, definition FROM deferred_indexes ORDER BY name LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await?
            else {
                return Ok(built);
            };
            let name: String = row.try_get("name")?;
            let definition: String = row.try_get("definition")?;
            let exists =
                sqlx::query("SELECT 1 AS x FROM sqlite_master WHERE type = 'index' AND name = $1")
                    .bind(&name)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
            if !exists {
                let t = std::time::Instant::now();
                sqlx::raw_sql(AssertSqlSafe(definition))
                    .execute(&mut *tx)
                    .await?;
                tracing::info!(index = %name, secs = t.elapsed().as_secs_f64(), "bulk load: index built");
                built += 1;
            }
            sqlx::query("DELETE FROM deferred_indexes WHERE name = $1")
                .bind(&name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
    }
}
