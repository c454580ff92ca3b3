//! A large import's copy, in memory, of the workspace's identities and order external ids
//! (SQLite only).
//!
//! Why: the bulk path asks, for every batch, who holds each row's identities and which of
//! its orders are already stored. In SQLite each value is an index seek and a row fetch at
//! a random place (~7 µs); for a 5,000,000-line orders file that was ~21 s of the writer's
//! time, and the writer is the bottleneck. The copy answers the same questions from memory.
//!
//! Why the answers are the same: the copy is loaded inside the import's write transaction,
//! and it is kept only while nothing but the import's own bulk path writes:
//! - the bulk path adds every identity and order it inserts ([`LookupCache::add_identities`],
//!   [`LookupCache::add_orders`]);
//! - a row written by the one-row path (which may create, update or merge customers), or a
//!   transaction replayed after a refusal, drops the copy (the caller sets it to `None`);
//! - between two import transactions, another writer drops it: another connection is seen
//!   by `PRAGMA data_version`, the server's other writes through the same connection by
//!   `total_changes()` ([`LookupCache::still_valid`]).
//!
//! Once dropped, the import goes on with per-batch lookups and does not load it again.
//! Only workspaces whose tables are at most [`MAX_ROWS`] rows are copied, which bounds the
//! memory (~110 bytes per identity, ~70 per order).

use super::sql::{fetch_json_rows, json_rows, Val};
use super::Backend;
use crate::error::AppResult;
use crate::validate::{IdentityKind, ValidCustomer};
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// Largest table (by its highest id) an import copies into memory.
pub const MAX_ROWS: i64 = 4_000_000;

/// Rows read per query while loading (by id range).
const LOAD_PAGE: i64 = 100_000;

/// A holder of an identity value: (kind, source id, customer id, verified).
type Holder = (IdentityKind, i64, i64, bool);

#[derive(Default)]
enum Loaded<T> {
    #[default]
    NotYet,
    /// The table is larger than [`MAX_ROWS`]: per-batch lookups.
    TooLarge,
    Ready(T),
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct LookupCache {
    /// value → its holders, every kind and source.
    identities: Loaded<HashMap<Box<str>, Vec<Holder>>>,
    /// external id → (source id, order id).
    orders: Loaded<HashMap<Box<str>, Vec<(i64, i64)>>>,
    /// (data_version, total_changes()) as the import's last transaction left them.
    stamp: Option<(i64, i64)>,
}

fn kind_of(s: &str) -> Option<IdentityKind> {
    [
        IdentityKind::Email,
        IdentityKind::Phone,
        IdentityKind::External,
    ]
    .into_iter()
    .find(|k| k.as_str() == s)
}

async fn writes_stamp(conn: &mut AnyConnection) -> AppResult<(i64, i64)> {
    let r = sqlx::query(
        "SELECT data_version AS dv, total_changes() AS tc FROM pragma_data_version()",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((r.try_get("dv")?, r.try_get("tc")?))
}

/// Whether `table` is small enough to copy: its highest id is at most [`MAX_ROWS`].
async fn small_enough(conn: &mut AnyConnection, table: &str) -> AppResult<Option<i64>> {
    let max: Option<i64> = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT MAX(id) AS m FROM {table}"
    )))
    .fetch_one(&mut *conn)
    .await?
    .try_get("m")?;
    let max = max.unwrap_or(0);
    Ok((max <= MAX_ROWS).then_some(max))
}

impl LookupCache {
    /// Record the state the import's transaction leaves (call just before its `COMMIT`).
    pub async fn before_commit(&mut self, conn: &mut AnyConnection) -> AppResult<()> {
        if self.loaded() {
            self.stamp = Some(writes_stamp(conn).await?);
        }
        Ok(())
    }

    /// Whether the copy still matches the database (call just after `BEGIN IMMEDIATE`):
    /// nothing else wrote since [`before_commit`](Self::before_commit).
    pub async fn still_valid(&mut self, conn: &mut AnyConnection) -> AppResult<bool> {
        if !self.loaded() {
            return Ok(true);
        }
        Ok(self.stamp.is_some() && Some(writes_stamp(conn).await?) == self.stamp)
    }

    fn loaded(&self) -> bool {
        matches!(self.identities, Loaded::Ready(_)) || matches!(self.orders, Loaded::Ready(_))
    }

    /// The holders of `rows`' identities, as [`super::bulk`]'s per-batch lookup returns them
    /// ((kind, source id, value) → [(customer id, verified)], every source of each value);
    /// `None` if the workspace is too large to copy.
    pub async fn identity_holders(
        &mut self,
        conn: &mut AnyConnection,
        ws: i64,
        rows: &[&ValidCustomer],
    ) -> AppResult<Option<super::bulk::Holders>> {
        if matches!(self.identities, Loaded::NotYet) {
            self.identities = match small_enough(conn, "identities").await? {
                None => Loaded::TooLarge,
                Some(max) => Loaded::Ready(load_identities(conn, ws, max).await?),
            };
        }
        let Loaded::Ready(map) = &self.identities else {
            return Ok(None);
        };
        let mut out = super::bulk::Holders::new();
        for i in rows.iter().flat_map(|c| &c.identities) {
            for &(kind, source, cid, verified) in map.get(i.value.as_str()).into_iter().flatten() {
                if kind == i.kind {
                    let list = out
                        .entry((kind.as_str().to_owned(), source, i.value.clone()))
                        .or_default();
                    if !list.contains(&(cid, verified)) {
                        list.push((cid, verified));
                    }
                }
            }
        }
        Ok(Some(out))
    }

    /// The identities a bulk insert just wrote, for `customer_id`.
    pub fn add_identities(&mut self, customer_id: i64, v: &ValidCustomer) {
        if let Loaded::Ready(map) = &mut self.identities {
            for i in &v.identities {
                map.entry(i.value.as_str().into()).or_default().push((
                    i.kind,
                    i.source_id,
                    customer_id,
                    i.verified,
                ));
            }
        }
    }

    /// The stored orders among `(source id, external id)`: key → order id; `None` if the
    /// workspace is too large to copy.
    pub async fn existing_orders(
        &mut self,
        conn: &mut AnyConnection,
        ws: i64,
        keys: &[(i64, &str)],
    ) -> AppResult<Option<HashMap<(i64, String), i64>>> {
        if matches!(self.orders, Loaded::NotYet) {
            self.orders = match small_enough(conn, "orders").await? {
                None => Loaded::TooLarge,
                Some(max) => Loaded::Ready(load_orders(conn, ws, max).await?),
            };
        }
        let Loaded::Ready(map) = &self.orders else {
            return Ok(None);
        };
        let mut out = HashMap::new();
        for &(source, ext) in keys {
            if let Some(&(_, id)) = map.get(ext).into_iter().flatten().find(|(s, _)| *s == source) {
                out.insert((source, ext.to_owned()), id);
            }
        }
        Ok(Some(out))
    }

    /// Orders a bulk insert just wrote: (source id, external id, order id).
    pub fn add_orders<'a>(&mut self, written: impl Iterator<Item = (i64, &'a str, i64)>) {
        if let Loaded::Ready(map) = &mut self.orders {
            for (source, ext, id) in written {
                map.entry(ext.into()).or_default().push((source, id));
            }
        }
    }
}

async fn load_identities(
    conn: &mut AnyConnection,
    ws: i64,
    max_id: i64,
) -> AppResult<HashMap<Box<str>, Vec<Holder>>> {
    let mut map: HashMap<Box<str>, Vec<Holder>> = HashMap::new();
    let mut from = 0;
    while from < max_id {
        let mut q = json_rows(Backend::Sqlite, "kind, source_id, value, customer_id, verified");
        q.push("FROM identities WHERE id > ")
            .val(Val::I(from))
            .push(" AND id <= ")
            .val(Val::I(from + LOAD_PAGE))
            .push(" AND workspace_id = ")
            .val(Val::I(ws));
        let rows: Vec<(String, i64, String, i64, i64)> = fetch_json_rows(conn, q).await?;
        for (kind, source, value, cid, verified) in rows {
            if let Some(kind) = kind_of(&kind) {
                map.entry(value.into_boxed_str())
                    .or_default()
                    .push((kind, source, cid, verified != 0));
            }
        }
        from += LOAD_PAGE;
    }
    Ok(map)
}

async fn load_orders(
    conn: &mut AnyConnection,
    ws: i64,
    max_id: i64,
) -> AppResult<HashMap<Box<str>, Vec<(i64, i64)>>> {
    let mut map: HashMap<Box<str>, Vec<(i64, i64)>> = HashMap::new();
    let mut from = 0;
    while from < max_id {
        let mut q = json_rows(Backend::Sqlite, "source_id, external_id, id");
        q.push("FROM orders WHERE id > ")
            .val(Val::I(from))
            .push(" AND id <= ")
            .val(Val::I(from + LOAD_PAGE))
            .push(" AND workspace_id = ")
            .val(Val::I(ws))
            .push(" AND external_id IS NOT NULL");
        let rows: Vec<(i64, String, i64)> = fetch_json_rows(conn, q).await?;
        for (source, ext, id) in rows {
            map.entry(ext.into_boxed_str()).or_default().push((source, id));
        }
        from += LOAD_PAGE;
    }
    Ok(map)
}
