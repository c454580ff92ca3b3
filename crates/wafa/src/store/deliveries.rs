//! Deliveries: raw webhook bodies and event batches, stored before they are acknowledged.
//!
//! Why store-then-process: a platform retries a delivery it did not get a 2xx for, and a
//! crash between "acknowledged" and "applied" must lose nothing. So the request handler only
//! verifies and inserts the raw body (one statement, unique per source and delivery id, so
//! retries are recognised as duplicates); a processor applies pending deliveries afterwards
//! and marks each processed in the same transaction as its effects. On start-up whatever is
//! still pending is processed. A delivery that cannot be mapped is kept as `failed` with its
//! reason (the dead letter) and can be replayed once the cause is fixed.
//!
//! One processor runs per server process and takes pending rows in id order; running several
//! servers against one PostgreSQL database would need row claiming (`FOR UPDATE SKIP LOCKED`).

use super::sql::Sql;
use super::{audit, now_ms, Store};
use crate::error::{AppError, AppResult};
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;
use wafa_domain::ErrorCode;

/// What the ingestion endpoints need to know about a source.
#[derive(Debug, Clone)]
pub struct IngestSource {
    pub id: i64,
    pub workspace_id: i64,
    pub platform: String,
    pub secret: Option<String>,
    pub default_currency: String,
    pub region: wafa_domain::Region,
}

pub struct NewDelivery<'a> {
    pub source: &'a IngestSource,
    pub topic: &'a str,
    pub delivery_key: &'a str,
    pub content_key: Option<&'a str>,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New(i64),
    Duplicate,
}

/// A delivery as the processor and the delivery log see it.
#[derive(Debug, Clone)]
pub struct PendingDelivery {
    pub id: i64,
    pub workspace_id: i64,
    pub source_id: i64,
    pub platform: String,
    pub topic: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub attempts: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryRecord {
    pub id: i64,
    pub source_id: i64,
    pub topic: String,
    /// pending, processed, failed.
    pub status: String,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub attempts: i64,
    pub received_at: String,
    pub processed_at: Option<String>,
    /// The first 2 KiB of the body, for looking at in the log.
    pub body_preview: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceStats {
    pub source_id: i64,
    pub pending: i64,
    pub processed: i64,
    pub failed: i64,
    /// Deliveries recognised as repeats of one already stored.
    pub duplicate: i64,
    /// Refused: bad or missing signature.
    pub rejected_signature: i64,
    /// Refused: body too large.
    pub rejected_oversize: i64,
}

/// A delivery to insert, owned, so it can wait for the writer task.
struct DeliveryRow {
    workspace_id: i64,
    source_id: i64,
    platform: String,
    topic: String,
    delivery_key: String,
    content_key: Option<String>,
    headers: String,
    body: Vec<u8>,
    received_at: i64,
}

struct AckJob {
    row: DeliveryRow,
    reply: tokio::sync::oneshot::Sender<AppResult<Stored>>,
}

/// Group commit for acknowledgements.
///
/// Why: on SQLite there is one writer connection, shared with the processor. If every
/// request queued for it separately, a burst of acknowledgements would each wait for the
/// writer in turn (and each pay a commit). Instead one task owns the acknowledgement side:
/// it takes every delivery that is waiting, inserts them all in one transaction, commits,
/// and only then answers each request — so a request is still acknowledged only once its own
/// row is durable, and N concurrent requests cost one turn at the writer and one commit.
/// There is no batching window: the batch is whatever arrived while the previous one was
/// being written (or while the processor held the writer), so an idle server adds no delay.
/// The processor keeps its transactions short and commits as soon as [`AckQueue::waiting`]
/// says acknowledgements wait (see `Processing`), and the writer pool is first come, first
/// served, so an acknowledgement waits at most for one short processor transaction.
#[derive(Clone, Default)]
pub(crate) struct AckQueue(std::sync::Arc<AckQueueInner>);

#[derive(Default)]
struct AckQueueInner {
    sender: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<AckJob>>,
    /// Deliveries handed to the writer task and not yet answered.
    /// (Shared with the writer task, which must not hold the sender: the queue closes, and
    /// the task ends, when the last `Store` handle is dropped.)
    waiting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// Deliveries per acknowledgement transaction at most.
const ACK_BATCH: usize = 256;

impl AckQueue {
    /// The queue, starting its writer task on first use (`None` outside a Tokio runtime).
    fn sender(&self, write: &sqlx::AnyPool) -> Option<&tokio::sync::mpsc::UnboundedSender<AckJob>> {
        if let Some(s) = self.0.sender.get() {
            return Some(s);
        }
        let rt = tokio::runtime::Handle::try_current().ok()?;
        Some(self.0.sender.get_or_init(|| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            rt.spawn(ack_writer(write.clone(), rx, self.0.waiting.clone()));
            tx
        }))
    }

    /// Whether acknowledgements are waiting for the writer (the processor then yields it).
    pub(crate) fn waiting(&self) -> bool {
        self.0.waiting.load(std::sync::atomic::Ordering::Relaxed) > 0
    }
}

async fn ack_writer(
    write: sqlx::AnyPool,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<AckJob>,
    waiting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let mut jobs: Vec<AckJob> = Vec::with_capacity(ACK_BATCH);
    while rx.recv_many(&mut jobs, ACK_BATCH).await > 0 {
        let n = jobs.len();
        match insert_all(&write, &jobs).await {
            Ok(results) => {
                for (job, r) in jobs.drain(..).zip(results) {
                    let _ = job.reply.send(Ok(r));
                }
            }
            // One transaction per delivery, so one bad row fails only its own request.
            Err(_) => {
                for job in jobs.drain(..) {
                    let r = async {
                        let mut tx = write.begin().await?;
                        let r = insert_delivery(&mut tx, &job.row).await?;
                        tx.commit().await?;
                        Ok(r)
                    }
                    .await;
                    let _ = job.reply.send(r);
                }
            }
        }
        waiting.fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn insert_all(write: &sqlx::AnyPool, jobs: &[AckJob]) -> AppResult<Vec<Stored>> {
    if let [job] = jobs {
        // Alone: the insert commits by itself (one round trip to the writer, not three).
        let mut conn = write.acquire().await?;
        return Ok(vec![insert_delivery(&mut conn, &job.row).await?]);
    }
    let mut tx = write.begin().await?;
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        out.push(insert_delivery(&mut tx, &job.row).await?);
    }
    tx.commit().await?;
    Ok(out)
}

pub(crate) async fn fail_delivery(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    code: &str,
    reason: &str,
) -> AppResult<()> {
    sqlx::query("UPDATE deliveries SET status = 'failed', error_code = $2, error = $3, attempts = attempts + 1, processed_at = $4 WHERE id = $1")
        .bind(id)
        .bind(code)
        .bind(reason)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) async fn retry_delivery(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    code: &str,
    reason: &str,
    delay_ms: i64,
) -> AppResult<()> {
    sqlx::query("UPDATE deliveries SET error_code = $2, error = $3, attempts = attempts + 1, next_attempt_at = $4 WHERE id = $1")
        .bind(id)
        .bind(code)
        .bind(reason)
        .bind(now_ms() + delay_ms)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Insert one delivery (a repeated delivery id is counted as a duplicate).
async fn insert_delivery(conn: &mut sqlx::AnyConnection, d: &DeliveryRow) -> AppResult<Stored> {
    let r = sqlx::query(
        "INSERT INTO deliveries (workspace_id, source_id, platform, topic, delivery_key, content_key, headers, body, received_at, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending') ON CONFLICT (source_id, delivery_key) DO NOTHING RETURNING id",
    )
    .bind(d.workspace_id)
    .bind(d.source_id)
    .bind(d.platform.as_str())
    .bind(d.topic.as_str())
    .bind(d.delivery_key.as_str())
    .bind(d.content_key.as_deref())
    .bind(d.headers.as_str())
    .bind(d.body.as_slice())
    .bind(d.received_at)
    .fetch_optional(&mut *conn)
    .await?;
    match r {
        Some(r) => Ok(Stored::New(r.get("id"))),
        None => {
            sqlx::query("INSERT INTO source_counters (source_id, counter, value) VALUES ($1, 'duplicate', 1) ON CONFLICT (source_id, counter) DO UPDATE SET value = source_counters.value + 1")
                .bind(d.source_id)
                .execute(&mut *conn)
                .await?;
            Ok(Stored::Duplicate)
        }
    }
}

fn ingest_source(r: &sqlx::any::AnyRow) -> IngestSource {
    IngestSource {
        id: r.get("id"),
        workspace_id: r.get("workspace_id"),
        platform: r.get("platform"),
        secret: r.get("secret"),
        default_currency: r.get("default_currency"),
        region: wafa_domain::Region::parse(&r.get::<String, _>("default_region"))
            .unwrap_or_default(),
    }
}

const SOURCE_COLS: &str =
    "s.id, s.workspace_id, s.platform, s.secret, w.default_currency, w.default_region";

impl Store {
    pub async fn ingest_source(&self, source_id: i64) -> AppResult<Option<IngestSource>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SOURCE_COLS} FROM sources s JOIN workspaces w ON w.id = s.workspace_id WHERE s.id = $1")))
            .bind(source_id)
            .fetch_optional(&self.read)
            .await?;
        Ok(r.as_ref().map(ingest_source))
    }

    pub async fn source_by_write_key(&self, key_hash: &str) -> AppResult<Option<IngestSource>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SOURCE_COLS} FROM sources s JOIN workspaces w ON w.id = s.workspace_id WHERE s.write_key_hash = $1")))
            .bind(key_hash)
            .fetch_optional(&self.read)
            .await?;
        Ok(r.as_ref().map(ingest_source))
    }

    /// Set a source's webhook secret and/or write-key hash.
    pub async fn set_source_credentials(
        &self,
        workspace_id: i64,
        actor: &str,
        source_id: i64,
        secret: Option<&str>,
        write_key_hash: Option<&str>,
    ) -> AppResult<()> {
        let mut tx = self.write.begin().await?;
        let n = sqlx::query("UPDATE sources SET secret = COALESCE($3, secret), write_key_hash = COALESCE($4, write_key_hash) WHERE id = $1 AND workspace_id = $2")
            .bind(source_id)
            .bind(workspace_id)
            .bind(secret)
            .bind(write_key_hash)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(AppError::not_found("source"));
        }
        audit(
            &mut tx,
            workspace_id,
            actor,
            "source.credentials",
            "source",
            Some(source_id),
            serde_json::json!({"secret": secret.is_some(), "write_key": write_key_hash.is_some()}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn bump_counter(&self, source_id: i64, counter: &str) -> AppResult<()> {
        sqlx::query("INSERT INTO source_counters (source_id, counter, value) VALUES ($1, $2, 1) ON CONFLICT (source_id, counter) DO UPDATE SET value = source_counters.value + 1")
            .bind(source_id)
            .bind(counter)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Store a delivery durably; a repeat of a stored delivery id is a duplicate.
    ///
    /// Returns once the row is committed: the caller may acknowledge then. The insert is
    /// group-committed with whatever other deliveries arrive meanwhile (see [`AckQueue`]).
    pub async fn store_delivery(&self, d: NewDelivery<'_>) -> AppResult<Stored> {
        // The same content under a new delivery id (WooCommerce retries get fresh ids).
        if let Some(ck) = d.content_key {
            let seen = sqlx::query(
                "SELECT id FROM deliveries WHERE source_id = $1 AND content_key = $2 LIMIT 1",
            )
            .bind(d.source.id)
            .bind(ck)
            .fetch_optional(&self.read)
            .await?;
            if seen.is_some() {
                self.bump_counter(d.source.id, "duplicate").await?;
                return Ok(Stored::Duplicate);
            }
        }
        let row = DeliveryRow {
            workspace_id: d.source.workspace_id,
            source_id: d.source.id,
            platform: d.source.platform.clone(),
            topic: d.topic.to_owned(),
            delivery_key: d.delivery_key.to_owned(),
            content_key: d.content_key.map(str::to_owned),
            headers: serde_json::to_string(d.headers).unwrap_or_else(|_| "[]".into()),
            body: d.body.to_vec(),
            received_at: now_ms(),
        };
        let Some(queue) = self.acks.sender(&self.write) else {
            // No runtime to run the writer task on: insert directly.
            let mut tx = self.write.begin().await?;
            let r = insert_delivery(&mut tx, &row).await?;
            tx.commit().await?;
            return Ok(r);
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        // If the writer task is gone (its runtime ended), the request is refused unacknowledged
        // and the sender retries; a retry of a delivery that did commit is a duplicate.
        let stopped = || AppError::new(ErrorCode::Unavailable, "the delivery writer stopped");
        self.acks
            .0
            .waiting
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if queue.send(AckJob { row, reply }).is_err() {
            self.acks
                .0
                .waiting
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            return Err(stopped());
        }
        answer.await.map_err(|_| stopped())?
    }

    /// Pending deliveries due now, oldest first.
    pub async fn due_deliveries(&self, limit: i64) -> AppResult<Vec<PendingDelivery>> {
        let rows = sqlx::query("SELECT id, workspace_id, source_id, platform, topic, headers, body, attempts FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY id LIMIT $2")
            .bind(now_ms())
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        Ok(rows
            .iter()
            .map(|r| PendingDelivery {
                id: r.get("id"),
                workspace_id: r.get("workspace_id"),
                source_id: r.get("source_id"),
                platform: r.get("platform"),
                topic: r.get("topic"),
                headers: serde_json::from_str(&r.get::<String, _>("headers")).unwrap_or_default(),
                body: r.get("body"),
                attempts: r.get("attempts"),
            })
            .collect())
    }

    /// Dead-letter a delivery with its reason.
    pub async fn fail_delivery(&self, id: i64, code: &str, reason: &str) -> AppResult<()> {
        let mut conn = self.write.acquire().await?;
        fail_delivery(&mut conn, id, code, reason).await
    }

    /// Try again later (e.g. a status update that arrived before its order).
    pub async fn retry_delivery(
        &self,
        id: i64,
        code: &str,
        reason: &str,
        delay_ms: i64,
    ) -> AppResult<()> {
        let mut conn = self.write.acquire().await?;
        retry_delivery(&mut conn, id, code, reason, delay_ms).await
    }

    /// Put a failed delivery back in the queue.
    pub async fn replay_delivery(&self, workspace_id: i64, actor: &str, id: i64) -> AppResult<()> {
        let mut tx = self.write.begin().await?;
        let n = sqlx::query("UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = 0, error_code = NULL, error = NULL WHERE id = $1 AND workspace_id = $2 AND status = 'failed'")
            .bind(id)
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            let exists =
                sqlx::query("SELECT status FROM deliveries WHERE id = $1 AND workspace_id = $2")
                    .bind(id)
                    .bind(workspace_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(match exists {
                None => AppError::not_found("delivery"),
                Some(r) => AppError::new(
                    ErrorCode::Conflict,
                    format!(
                        "only failed deliveries can be replayed; this one is {}",
                        r.get::<String, _>("status")
                    ),
                ),
            });
        }
        audit(
            &mut tx,
            workspace_id,
            actor,
            "delivery.replay",
            "delivery",
            Some(id),
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_deliveries(
        &self,
        workspace_id: i64,
        source_id: i64,
        status: Option<&str>,
        before_id: Option<i64>,
        limit: i64,
    ) -> AppResult<Vec<DeliveryRecord>> {
        let mut q = Sql::new("SELECT id, source_id, topic, status, error_code, error, attempts, received_at, processed_at, body FROM deliveries WHERE workspace_id = ");
        q.int(workspace_id).push(" AND source_id = ").int(source_id);
        if let Some(s) = status {
            q.push(" AND status = ").text(s);
        }
        if let Some(b) = before_id {
            q.push(" AND id < ").int(b);
        }
        q.push(" ORDER BY id DESC LIMIT ").int(limit);
        let rows = q.query().fetch_all(&self.read).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let body: Vec<u8> = r.get("body");
                let cut = body.len().min(2048);
                DeliveryRecord {
                    id: r.get("id"),
                    source_id: r.get("source_id"),
                    topic: r.get("topic"),
                    status: r.get("status"),
                    error_code: r.get("error_code"),
                    error: r.get("error"),
                    attempts: r.get("attempts"),
                    received_at: wafa_domain::time::format_ms(r.get("received_at")),
                    processed_at: r
                        .get::<Option<i64>, _>("processed_at")
                        .map(wafa_domain::time::format_ms),
                    body_preview: String::from_utf8_lossy(&body[..cut]).into_owned(),
                }
            })
            .collect())
    }

    pub async fn source_stats(&self, workspace_id: i64, source_id: i64) -> AppResult<SourceStats> {
        if !self.source_exists(workspace_id, source_id).await? {
            return Err(AppError::not_found("source"));
        }
        let mut s = SourceStats {
            source_id,
            pending: 0,
            processed: 0,
            failed: 0,
            duplicate: 0,
            rejected_signature: 0,
            rejected_oversize: 0,
        };
        for r in sqlx::query(
            "SELECT status, COUNT(*) AS n FROM deliveries WHERE source_id = $1 GROUP BY status",
        )
        .bind(source_id)
        .fetch_all(&self.read)
        .await?
        {
            let n: i64 = r.get("n");
            match r.get::<String, _>("status").as_str() {
                "pending" => s.pending = n,
                "processed" => s.processed = n,
                "failed" => s.failed = n,
                _ => {}
            }
        }
        for r in sqlx::query("SELECT counter, value FROM source_counters WHERE source_id = $1")
            .bind(source_id)
            .fetch_all(&self.read)
            .await?
        {
            let n: i64 = r.get("value");
            match r.get::<String, _>("counter").as_str() {
                "duplicate" => s.duplicate = n,
                "rejected_signature" => s.rejected_signature = n,
                "rejected_oversize" => s.rejected_oversize = n,
                _ => {}
            }
        }
        Ok(s)
    }

    /// For the crash test: stored track events, distinct message ids, timeline event rows.
    pub async fn crash_counts(&self, workspace_id: i64) -> AppResult<(i64, i64, i64)> {
        let r = sqlx::query("SELECT COUNT(*) AS n, COUNT(DISTINCT message_id) AS d FROM track_events WHERE workspace_id = $1").bind(workspace_id).fetch_one(&self.read).await?;
        let t = sqlx::query(
            "SELECT COUNT(*) AS n FROM timeline WHERE workspace_id = $1 AND kind = 'event'",
        )
        .bind(workspace_id)
        .fetch_one(&self.read)
        .await?;
        Ok((r.get("n"), r.get("d"), t.get("n")))
    }
}
