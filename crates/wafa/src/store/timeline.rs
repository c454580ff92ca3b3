//! The unified customer timeline.
//!
//! Why a table of its own rather than a UNION over orders, notes, events and messages at read
//! time: a page of the newest 50 entries must be one index walk, whatever mix of sources the
//! customer has, and later capabilities (messages, tickets, surveys) add entries without
//! touching this query. Entries are written in the same transaction as the record they
//! describe, so the timeline never shows something that did not happen.

use super::{json_col, Store};
use crate::error::AppResult;
use sqlx::{AnyConnection, Row};
use wafa_model::TimelineEntry;

pub struct TimelineWrite {
    pub workspace_id: i64,
    pub customer_id: i64,
    pub occurred_at: i64,
    pub kind: &'static str,
    pub ref_id: Option<i64>,
    pub summary: String,
    pub data: serde_json::Value,
}

pub(crate) async fn insert_timeline(conn: &mut AnyConnection, t: &TimelineWrite) -> AppResult<i64> {
    let id: i64 = sqlx::query("INSERT INTO timeline (workspace_id, customer_id, occurred_at, kind, ref_id, summary, data) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
        .bind(t.workspace_id)
        .bind(t.customer_id)
        .bind(t.occurred_at)
        .bind(t.kind)
        .bind(t.ref_id)
        .bind(&t.summary)
        .bind(t.data.to_string())
        .fetch_one(&mut *conn)
        .await?
        .get("id");
    Ok(id)
}

impl Store {
    /// Newest first. `before` is the (occurred_at, id) of the last entry of the previous page.
    pub async fn timeline(
        &self,
        workspace_id: i64,
        customer_id: i64,
        before: Option<(i64, i64)>,
        limit: i64,
    ) -> AppResult<Vec<(TimelineEntry, i64)>> {
        let (at, id) = before.unwrap_or((i64::MAX, i64::MAX));
        let rows = sqlx::query(
            "SELECT id, kind, occurred_at, summary, ref_id, data FROM timeline WHERE customer_id = $1 AND workspace_id = $2 AND (occurred_at < $3 OR (occurred_at = $3 AND id < $4)) ORDER BY occurred_at DESC, id DESC LIMIT $5",
        )
        .bind(customer_id)
        .bind(workspace_id)
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let at: i64 = r.get("occurred_at");
                (
                    TimelineEntry {
                        id: r.get("id"),
                        kind: r.get("kind"),
                        occurred_at: wafa_domain::time::format_ms(at),
                        summary: r.get("summary"),
                        ref_id: r.get("ref_id"),
                        data: json_col::<serde_json::Value>(r, "data"),
                    },
                    at,
                )
            })
            .collect())
    }
}
