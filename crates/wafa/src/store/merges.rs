//! Merging two customers, and undoing it.
//!
//! A merge moves everything that hangs off the merged customer (identities, orders, carts,
//! notes, events, timeline entries) to the survivor, and records exactly which rows moved
//! and what the survivor's profile looked like before. Undo moves those rows back and
//! restores the profile, so a mistaken merge costs nothing. The merged record is kept (with
//! `merged_into`) rather than deleted, so old links and exports still resolve.
//!
//! Consent is never merged silently: if one record said "yes" and the other "no" on a
//! channel, the merge is refused until the person merging chooses.

use super::customers::write_indexes;
use super::orders::refresh_customer_stats;
use super::timeline::{insert_timeline, TimelineWrite};
use super::{audit, json_col, now_ms, Store};
use crate::error::{AppError, AppResult};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use utoipa::ToSchema;
use wafa_domain::customer::{conflicting_channels, merge_consents};
use wafa_domain::{Channel, Consent, ConsentState, ErrorCode};

/// Tables whose rows follow a customer through a merge.
const MOVED_TABLES: [&str; 9] = [
    "identities",
    "orders",
    "carts",
    "notes",
    "events",
    "timeline",
    "text_tags",
    "track_events",
    "reviews",
];

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MergeRecord {
    pub id: i64,
    pub survivor_id: i64,
    pub merged_id: i64,
    pub actor: String,
    /// Rows moved per table.
    #[schema(value_type = Object)]
    pub moved_counts: Value,
    pub created_at: String,
    pub undone_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MergePreview {
    pub survivor_id: i64,
    pub merged_id: i64,
    /// Channels where one record granted and the other revoked consent: a choice is needed.
    pub consent_conflicts: Vec<String>,
    /// Rows that would move, per table.
    #[schema(value_type = Object)]
    pub moves: Value,
    /// The survivor's profile after the merge.
    #[schema(value_type = Object)]
    pub result: Value,
}

struct Side {
    row: sqlx::any::AnyRow,
}

impl Side {
    fn s(&self, col: &str) -> Option<String> {
        self.row.get(col)
    }
    fn consents(&self) -> Vec<Consent> {
        json_col(&self.row, "consents")
    }
}

const COLS: &str = "id, workspace_id, first_name, last_name, language, birthday, gender, city, country, company_id, tags, attributes, consents, merged_into";

async fn load_live(conn: &mut AnyConnection, workspace_id: i64, id: i64) -> AppResult<Side> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLS} FROM customers WHERE id = $1 AND workspace_id = $2"
    )))
    .bind(id)
    .bind(workspace_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| AppError::not_found("customer"))?;
    if let Some(into) = row.get::<Option<i64>, _>("merged_into") {
        return Err(AppError::new(
            ErrorCode::AlreadyMerged,
            format!("customer {id} was merged into {into}"),
        )
        .with_extra(json!({"merged_into": into})));
    }
    Ok(Side { row })
}

/// The merged profile: the survivor's values win; gaps are filled from the other record.
fn merged_profile(a: &Side, b: &Side, resolution: &[(Channel, ConsentState)]) -> Value {
    let pick = |col: &str| a.s(col).or_else(|| b.s(col));
    let mut tags: Vec<String> = json_col(&a.row, "tags");
    for t in json_col::<Vec<String>>(&b.row, "tags") {
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    let mut attrs: Map<String, Value> = json_col(&b.row, "attributes");
    for (k, v) in json_col::<Map<String, Value>>(&a.row, "attributes") {
        attrs.insert(k, v);
    }
    json!({
        "first_name": pick("first_name"),
        "last_name": pick("last_name"),
        "language": pick("language"),
        "birthday": pick("birthday"),
        "gender": pick("gender"),
        "city": pick("city"),
        "country": pick("country"),
        "company_id": a.row.get::<Option<i64>, _>("company_id").or_else(|| b.row.get::<Option<i64>, _>("company_id")),
        "tags": tags,
        "attributes": attrs,
        "consents": merge_consents(&a.consents(), &b.consents(), resolution),
    })
}

fn profile_snapshot(a: &Side) -> Value {
    json!({
        "first_name": a.s("first_name"),
        "last_name": a.s("last_name"),
        "language": a.s("language"),
        "birthday": a.s("birthday"),
        "gender": a.s("gender"),
        "city": a.s("city"),
        "country": a.s("country"),
        "company_id": a.row.get::<Option<i64>, _>("company_id"),
        "tags": json_col::<Vec<String>>(&a.row, "tags"),
        "attributes": json_col::<Map<String, Value>>(&a.row, "attributes"),
        "consents": a.consents(),
    })
}

async fn write_profile(
    conn: &mut AnyConnection,
    workspace_id: i64,
    id: i64,
    p: &Value,
) -> AppResult<()> {
    let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
    let tags: Vec<String> = serde_json::from_value(p["tags"].clone()).unwrap_or_default();
    sqlx::query("UPDATE customers SET first_name = $2, last_name = $3, language = $4, birthday = $5, gender = $6, city = $7, country = $8, company_id = $9, tags = $10, attributes = $11, consents = $12, updated_at = $13 WHERE id = $1")
        .bind(id)
        .bind(s("first_name"))
        .bind(s("last_name"))
        .bind(s("language"))
        .bind(s("birthday"))
        .bind(s("gender"))
        .bind(s("city"))
        .bind(s("country"))
        .bind(p.get("company_id").and_then(Value::as_i64))
        .bind(serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()))
        .bind(p.get("attributes").cloned().unwrap_or_else(|| json!({})).to_string())
        .bind(p.get("consents").cloned().unwrap_or_else(|| json!([])).to_string())
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    write_indexes(
        conn,
        workspace_id,
        id,
        s("first_name").as_deref(),
        s("last_name").as_deref(),
        &tags,
    )
    .await
}

async fn ids_of(conn: &mut AnyConnection, table: &str, customer_id: i64) -> AppResult<Vec<i64>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT id FROM {table} WHERE customer_id = $1 ORDER BY id"
    )))
    .bind(customer_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().map(|r| r.get("id")).collect())
}

/// Move the listed rows of `table` from one customer to another, in chunks.
async fn move_rows(
    conn: &mut AnyConnection,
    table: &str,
    ids: &[i64],
    from: i64,
    to: i64,
) -> AppResult<()> {
    for chunk in ids.chunks(500) {
        let list = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {table} SET customer_id = $1 WHERE customer_id = $2 AND id IN ({list})"
        )))
        .bind(to)
        .bind(from)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn parse_resolution(resolution: &Map<String, Value>) -> AppResult<Vec<(Channel, ConsentState)>> {
    let mut out = Vec::new();
    for (k, v) in resolution {
        let ch = Channel::parse(k).ok_or_else(|| {
            AppError::validation("consent_resolution", format!("unknown channel {k:?}"))
        })?;
        let st = v.as_str().and_then(ConsentState::parse).ok_or_else(|| {
            AppError::validation(
                "consent_resolution",
                format!("{k}: use granted, revoked or unknown"),
            )
        })?;
        out.push((ch, st));
    }
    Ok(out)
}

fn merge_from_row(r: &sqlx::any::AnyRow) -> MergeRecord {
    let moved: Map<String, Value> = json_col(r, "moved");
    let counts: Map<String, Value> = moved
        .iter()
        .map(|(k, v)| (k.clone(), json!(v.as_array().map(Vec::len).unwrap_or(0))))
        .collect();
    MergeRecord {
        id: r.get("id"),
        survivor_id: r.get("survivor_id"),
        merged_id: r.get("merged_id"),
        actor: r.get("actor"),
        moved_counts: Value::Object(counts),
        created_at: wafa_domain::time::format_ms(r.get("created_at")),
        undone_at: r
            .get::<Option<i64>, _>("undone_at")
            .map(wafa_domain::time::format_ms),
    }
}

impl Store {
    pub async fn merge_preview(
        &self,
        workspace_id: i64,
        survivor: i64,
        merged: i64,
        resolution: &Map<String, Value>,
    ) -> AppResult<MergePreview> {
        if survivor == merged {
            return Err(AppError::validation(
                "other_id",
                "cannot merge a customer with itself",
            ));
        }
        let resolution = parse_resolution(resolution)?;
        let mut conn = self.read.acquire().await?;
        let a = load_live(&mut conn, workspace_id, survivor).await?;
        let b = load_live(&mut conn, workspace_id, merged).await?;
        let conflicts = conflicting_channels(&a.consents(), &b.consents());
        let mut moves = Map::new();
        for t in MOVED_TABLES {
            let n: i64 = sqlx::query(AssertSqlSafe(format!(
                "SELECT COUNT(*) AS n FROM {t} WHERE customer_id = $1"
            )))
            .bind(merged)
            .fetch_one(&mut *conn)
            .await?
            .get("n");
            moves.insert(t.to_owned(), json!(n));
        }
        Ok(MergePreview {
            survivor_id: survivor,
            merged_id: merged,
            consent_conflicts: conflicts.iter().map(|c| c.as_str().to_owned()).collect(),
            moves: Value::Object(moves),
            result: merged_profile(&a, &b, &resolution),
        })
    }

    pub async fn merge_customers(
        &self,
        workspace_id: i64,
        actor: &str,
        survivor: i64,
        merged: i64,
        resolution: &Map<String, Value>,
    ) -> AppResult<MergeRecord> {
        if survivor == merged {
            return Err(AppError::validation(
                "other_id",
                "cannot merge a customer with itself",
            ));
        }
        let resolution = parse_resolution(resolution)?;
        let mut tx = self.write.begin().await?;
        let a = load_live(&mut tx, workspace_id, survivor).await?;
        let b = load_live(&mut tx, workspace_id, merged).await?;
        let conflicts = conflicting_channels(&a.consents(), &b.consents());
        let unresolved: Vec<&str> = conflicts
            .iter()
            .filter(|c| !resolution.iter().any(|(r, _)| r == *c))
            .map(|c| c.as_str())
            .collect();
        if !unresolved.is_empty() {
            return Err(AppError::new(
                ErrorCode::ConsentConflict,
                format!(
                    "consents conflict on {}; pass consent_resolution",
                    unresolved.join(", ")
                ),
            )
            .with_extra(json!({"channels": unresolved})));
        }
        let before = profile_snapshot(&a);
        let profile = merged_profile(&a, &b, &resolution);
        let mut moved = Map::new();
        for t in MOVED_TABLES {
            let ids = ids_of(&mut tx, t, merged).await?;
            move_rows(&mut tx, t, &ids, merged, survivor).await?;
            moved.insert(t.to_owned(), json!(ids));
        }
        write_profile(&mut tx, workspace_id, survivor, &profile).await?;
        let now = now_ms();
        // The merged record leaves the search and tag indexes (undo writes them back).
        sqlx::query("DELETE FROM customer_search_terms WHERE customer_id = $1")
            .bind(merged)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM customer_tags WHERE customer_id = $1")
            .bind(merged)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE customers SET merged_into = $2, updated_at = $3 WHERE id = $1")
            .bind(merged)
            .bind(survivor)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        refresh_customer_stats(&mut tx, survivor).await?;
        refresh_customer_stats(&mut tx, merged).await?;
        let row = sqlx::query("INSERT INTO merges (workspace_id, survivor_id, merged_id, actor, moved, survivor_before, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, survivor_id, merged_id, actor, moved, created_at, undone_at")
            .bind(workspace_id)
            .bind(survivor)
            .bind(merged)
            .bind(actor)
            .bind(Value::Object(moved).to_string())
            .bind(before.to_string())
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        let record = merge_from_row(&row);
        insert_timeline(
            &mut tx,
            &TimelineWrite {
                workspace_id,
                customer_id: survivor,
                occurred_at: now,
                kind: "merge",
                ref_id: Some(record.id),
                summary: format!("Customer {merged} merged into this profile"),
                data: json!({"merge_id": record.id, "merged_id": merged, "by": actor}),
            },
        )
        .await?;
        audit(&mut tx, workspace_id, actor, "customer.merge", "customer", Some(survivor), json!({"merge_id": record.id, "merged_id": merged, "consent_resolution": resolution.iter().map(|(c, s)| (c.as_str(), s.as_str())).collect::<Vec<_>>(), "moved": record.moved_counts})).await?;
        tx.commit().await?;
        Ok(record)
    }

    pub async fn undo_merge(
        &self,
        workspace_id: i64,
        actor: &str,
        merge_id: i64,
    ) -> AppResult<MergeRecord> {
        let mut tx = self.write.begin().await?;
        let m = sqlx::query("SELECT id, survivor_id, merged_id, actor, moved, survivor_before, created_at, undone_at FROM merges WHERE id = $1 AND workspace_id = $2")
            .bind(merge_id)
            .bind(workspace_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| AppError::not_found("merge"))?;
        if m.get::<Option<i64>, _>("undone_at").is_some() {
            return Err(AppError::new(
                ErrorCode::MergeNotUndoable,
                "this merge was already undone",
            ));
        }
        let survivor: i64 = m.get("survivor_id");
        let merged: i64 = m.get("merged_id");
        let state = sqlx::query("SELECT id, merged_into FROM customers WHERE id IN ($1, $2)")
            .bind(survivor)
            .bind(merged)
            .fetch_all(&mut *tx)
            .await?;
        let into = |id: i64| {
            state
                .iter()
                .find(|r| r.get::<i64, _>("id") == id)
                .and_then(|r| r.get::<Option<i64>, _>("merged_into"))
        };
        if into(survivor).is_some() {
            return Err(AppError::new(
                ErrorCode::MergeNotUndoable,
                "the surviving customer was itself merged since; undo that merge first",
            ));
        }
        if into(merged) != Some(survivor) {
            return Err(AppError::new(
                ErrorCode::MergeNotUndoable,
                "the merged customer is no longer merged into the survivor",
            ));
        }
        let moved: Map<String, Value> = json_col(&m, "moved");
        for t in MOVED_TABLES {
            let ids: Vec<i64> = moved
                .get(t)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            move_rows(&mut tx, t, &ids, survivor, merged).await?;
        }
        let before: Value = json_col(&m, "survivor_before");
        write_profile(&mut tx, workspace_id, survivor, &before).await?;
        let now = now_ms();
        sqlx::query("UPDATE customers SET merged_into = NULL, updated_at = $2 WHERE id = $1")
            .bind(merged)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let b = sqlx::query("SELECT first_name, last_name, tags FROM customers WHERE id = $1")
            .bind(merged)
            .fetch_one(&mut *tx)
            .await?;
        let b_tags: Vec<String> = json_col(&b, "tags");
        write_indexes(
            &mut tx,
            workspace_id,
            merged,
            b.get::<Option<String>, _>("first_name").as_deref(),
            b.get::<Option<String>, _>("last_name").as_deref(),
            &b_tags,
        )
        .await?;
        refresh_customer_stats(&mut tx, survivor).await?;
        refresh_customer_stats(&mut tx, merged).await?;
        sqlx::query("UPDATE merges SET undone_at = $2 WHERE id = $1")
            .bind(merge_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        insert_timeline(
            &mut tx,
            &TimelineWrite {
                workspace_id,
                customer_id: survivor,
                occurred_at: now,
                kind: "merge_undone",
                ref_id: Some(merge_id),
                summary: format!("Merge with customer {merged} undone"),
                data: json!({"merge_id": merge_id, "merged_id": merged, "by": actor}),
            },
        )
        .await?;
        audit(
            &mut tx,
            workspace_id,
            actor,
            "customer.unmerge",
            "customer",
            Some(survivor),
            json!({"merge_id": merge_id, "merged_id": merged}),
        )
        .await?;
        let row = sqlx::query("SELECT id, survivor_id, merged_id, actor, moved, created_at, undone_at FROM merges WHERE id = $1").bind(merge_id).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(merge_from_row(&row))
    }

    pub async fn list_merges(
        &self,
        workspace_id: i64,
        customer_id: Option<i64>,
        before_id: Option<i64>,
        limit: i64,
    ) -> AppResult<Vec<MergeRecord>> {
        let rows = sqlx::query("SELECT id, survivor_id, merged_id, actor, moved, created_at, undone_at FROM merges WHERE workspace_id = $1 AND id < $2 AND ($3 = 0 OR survivor_id = $3 OR merged_id = $3) ORDER BY id DESC LIMIT $4")
            .bind(workspace_id)
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(customer_id.unwrap_or(0))
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        Ok(rows.iter().map(merge_from_row).collect())
    }
}
