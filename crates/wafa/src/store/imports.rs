//! Bulk writes for CSV imports and the demo store, and the record of each import run.
//!
//! Why batches: one transaction per row costs a WAL commit per row on SQLite and a round trip
//! per row on PostgreSQL. Rows are written in batches of a few hundred in one transaction;
//! if anything in a batch fails at the database (a constraint the validation could not see),
//! the batch is rolled back and replayed one row per transaction, so the good rows still land
//! and the bad one is reported with its line — nothing is half-written either way.

use super::customers::{insert_note, upsert_customer_mode, UpsertMode};
use super::orders::insert_order;
use super::{audit, now_ms, Store};
use crate::error::{AppError, AppResult};
use crate::validate::{ValidCustomer, ValidOrder};
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use utoipa::ToSchema;

/// A customer row ready to write.
pub struct CustomerImportRow {
    pub line: u64,
    pub customer: ValidCustomer,
    pub company: Option<String>,
    pub note: Option<String>,
}

/// An order row ready to write: its customer is resolved (or created) first.
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

/// Write a batch in one transaction through the bulk path; if the database refuses anything,
/// roll back and write the rows one per transaction so only the bad ones fail.
macro_rules! batch_with_fallback {
    ($self:ident, $ws:ident, $actor:ident, $rows:ident, $bulk:path, $write:ident) => {{
        let mut tx = $self.write.begin().await?;
        match $bulk(&mut tx, $self.backend, $ws, $actor, $rows).await {
            Ok(outcomes) => {
                tx.commit().await?;
                return Ok(outcomes.into_iter().map(Ok).collect());
            }
            Err(e) => {
                tracing::debug!(error = %e, "batch refused; replaying row by row");
                tx.rollback().await?;
            }
        }
        let mut outcomes = Vec::with_capacity($rows.len());
        for r in $rows {
            let mut tx = $self.write.begin().await?;
            match $write(&mut tx, $ws, $actor, r).await {
                Ok(o) => {
                    tx.commit().await?;
                    outcomes.push(Ok(o));
                }
                Err(e) => {
                    tx.rollback().await?;
                    outcomes.push(Err(RowFailure { line: r.line, error: e }));
                }
            }
        }
        Ok(outcomes)
    }};
}

impl Store {
    pub async fn import_customers(
        &self,
        workspace_id: i64,
        actor: &str,
        rows: &[CustomerImportRow],
    ) -> AppResult<Vec<Result<(RowOutcome, i64), RowFailure>>> {
        batch_with_fallback!(
            self,
            workspace_id,
            actor,
            rows,
            super::bulk::customers,
            write_customer_row
        )
    }

    pub async fn import_orders(
        &self,
        workspace_id: i64,
        actor: &str,
        rows: &[OrderImportRow],
    ) -> AppResult<Vec<Result<(RowOutcome, i64), RowFailure>>> {
        batch_with_fallback!(
            self,
            workspace_id,
            actor,
            rows,
            super::bulk::orders,
            write_order_row
        )
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
