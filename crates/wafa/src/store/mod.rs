//! The storage layer: the only place in Wafa with SQL.
//!
//! Why one code path over `sqlx::Any`: SQLite (the embedded default) and PostgreSQL (the
//! scale-out backend) run the *same* statements, so a query tested on one is the query run on
//! the other, and every store test runs on both. The schema keeps to types both drivers carry
//! through `Any` (BIGINT, TEXT; booleans as 0/1, timestamps as epoch milliseconds, JSON as
//! TEXT). Statements use `$1`-style placeholders, which both engines accept. Where the
//! dialects really differ (migrations, connection setup) [`Backend`] says which one we are on.
//!
//! SQLite allows one writer at a time; rather than retrying on `SQLITE_BUSY`, writes go through
//! a one-connection pool there, and reads through a separate pool (WAL mode lets them run
//! alongside the writer). On PostgreSQL both pools are the same.

mod apply;
mod bulk;
mod console;
mod customers;
mod deferred_indexes;
mod deliveries;
mod imports;
mod merges;
mod orders;
mod predictions;
mod sql;
mod sqlite_native;
mod tenancy;
mod texts;
mod timeline;

pub use apply::{ApplyError, CartOp, IngestOp, OrderOp, Processing, TrackCommerce, TrackOp};
pub use console::{
    ConsoleCustomer, ConsoleCustomerQuery, CustomerSort, DashboardBuckets, UserAccount,
};
pub use customers::{CustomerFilter, UpsertOutcome};
pub use deliveries::{
    DeliveryRecord, IngestSource, NewDelivery, PendingDelivery, SourceStats, Stored,
};
pub use imports::{
    CustomerImportRow, ImportBatch, ImportRecord, ImportWriter, OrderImportRow, RowFailure,
    RowOutcome, RowResult,
};
pub use merges::{MergePreview, MergeRecord};
pub use orders::{OrderFilter, OrderWrite, StatusUpdate};
pub use predictions::{NewPrediction, RevenueRow};
pub use tenancy::{
    ApiKeyRecord, AuditRecord, MemberRecord, NewWorkspace, Principal, SessionRecord, SourceRecord,
    WorkspaceRecord,
};
pub use texts::{SentimentMonth, SentimentTrend, TaggedText};
pub use timeline::TimelineWrite;

use crate::error::AppError;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Row};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle to Wafa's database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    read: AnyPool,
    write: AnyPool,
    /// Where acknowledgements' delivery inserts are group-committed (see `deliveries.rs`).
    acks: deliveries::AckQueue,
    /// The smallest import that is a bulk load: larger batches, and on SQLite an order
    /// import defers index maintenance (see `deferred_indexes.rs`).
    bulk_load_min_rows: u64,
    /// Rows per batch of a bulk load.
    bulk_load_batch_rows: usize,
    /// Whether `read` has connections of its own (not an in-memory SQLite database, whose
    /// one connection is the writer): an import may then look up on one of them while the
    /// writer inserts (see `imports::ImportWriter`).
    separate_reader: bool,
}

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sqlite: include_str!("migrations/sqlite/0001_init.sql"),
        postgres: include_str!("migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "predictions",
        sqlite: include_str!("migrations/sqlite/0002_predictions.sql"),
        postgres: include_str!("migrations/postgres/0002_predictions.sql"),
    },
    Migration {
        version: 3,
        name: "text_tags",
        sqlite: include_str!("migrations/sqlite/0003_text_tags.sql"),
        postgres: include_str!("migrations/postgres/0003_text_tags.sql"),
    },
    Migration {
        version: 4,
        name: "ingestion",
        sqlite: include_str!("migrations/sqlite/0004_ingestion.sql"),
        postgres: include_str!("migrations/postgres/0004_ingestion.sql"),
    },
    Migration {
        version: 5,
        name: "console",
        sqlite: include_str!("migrations/sqlite/0005_console.sql"),
        postgres: include_str!("migrations/postgres/0005_console.sql"),
    },
    Migration {
        version: 6,
        name: "import_lean",
        sqlite: include_str!("migrations/sqlite/0006_import_lean.sql"),
        postgres: include_str!("migrations/postgres/0006_import_lean.sql"),
    },
    Migration {
        version: 7,
        name: "stale_counters",
        sqlite: include_str!("migrations/sqlite/0007_stale_counters.sql"),
        postgres: include_str!("migrations/postgres/0007_stale_counters.sql"),
    },
    Migration {
        version: 8,
        name: "deferred_indexes",
        sqlite: include_str!("migrations/sqlite/0008_deferred_indexes.sql"),
        postgres: include_str!("migrations/postgres/0008_deferred_indexes.sql"),
    },
];

/// Turn `wafa.db`, `./data/wafa.db` or `sqlite://…` into an sqlx SQLite URL that creates the
/// file if needed; leave `postgres://` URLs as they are.
pub fn normalize_url(url: &str) -> Result<(Backend, String), AppError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_owned()));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() {
        return Err(AppError::config("empty database URL"));
    }
    if path == ":memory:" {
        return Ok((Backend::Sqlite, "sqlite::memory:".to_owned()));
    }
    if url.contains("://") && !url.starts_with("sqlite://") {
        return Err(AppError::config(format!(
            "unsupported database URL {url:?}: use a file path, sqlite://… or postgres://…"
        )));
    }
    let sep = if path.contains('?') { '&' } else { '?' };
    let with_mode = if path.contains("mode=") {
        path.to_owned()
    } else {
        format!("{path}{sep}mode=rwc")
    };
    Ok((Backend::Sqlite, format!("sqlite://{with_mode}")))
}

impl Store {
    /// Connect by URL and bring the schema up to date.
    pub async fn connect(url: &str) -> Result<Store, AppError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = normalize_url(url)?;
        let opts = AnyConnectOptions::from_str(&url)
            .map_err(|e| AppError::config(format!("bad database URL: {e}")))?;
        let store = match backend {
            Backend::Sqlite => {
                sqlite_native::register_handle_function();
                let in_memory = url.contains(":memory:");
                // The one writer is handed from waiter to waiter as it is: pinging it first
                // would put a round trip to its thread in front of every write.
                let write = AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .test_before_acquire(false)
                    .after_connect(sqlite_writer_setup)
                    .connect_with(opts.clone())
                    .await
                    .map_err(AppError::db_connect)?;
                let read = if in_memory {
                    write.clone()
                } else {
                    AnyPoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(Duration::from_secs(30))
                        .after_connect(sqlite_setup)
                        .connect_with(opts)
                        .await
                        .map_err(AppError::db_connect)?
                };
                if !in_memory {
                    spawn_checkpointer(read.clone());
                }
                Store {
                    backend,
                    read,
                    write,
                    separate_reader: !in_memory,
                    acks: Default::default(),
                    bulk_load_min_rows: deferred_indexes::DEFAULT_BULK_LOAD_MIN_ROWS,
                    bulk_load_batch_rows: deferred_indexes::DEFAULT_BULK_LOAD_BATCH_ROWS,
                }
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts)
                    .await
                    .map_err(AppError::db_connect)?;
                Store {
                    backend,
                    read: pool.clone(),
                    write: pool,
                    separate_reader: true,
                    acks: Default::default(),
                    bulk_load_min_rows: deferred_indexes::DEFAULT_BULK_LOAD_MIN_ROWS,
                    bulk_load_batch_rows: deferred_indexes::DEFAULT_BULK_LOAD_BATCH_ROWS,
                }
            }
        };
        // Indexes a bulk import that stopped half-way left unbuilt, before any migration
        // might refer to them (see `deferred_indexes.rs`).
        store.restore_deferred_indexes().await?;
        store.migrate().await?;
        // Order counters an import left stale when it stopped half-way (see
        // `refresh_stale_counters`); nothing to do, one indexed read, on a normal start.
        store.refresh_stale_counters().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Apply pending migrations, each in its own transaction.
    async fn migrate(&self) -> Result<(), AppError> {
        sqlx::query("CREATE TABLE IF NOT EXISTS wafa_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
            .execute(&self.write)
            .await?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM wafa_migrations")
            .fetch_all(&self.write)
            .await?
            .iter()
            .map(|r| r.get::<i64, _>("version"))
            .collect();
        for m in MIGRATIONS {
            if applied.contains(&m.version) {
                continue;
            }
            let sql = match self.backend {
                Backend::Sqlite => m.sqlite,
                Backend::Postgres => m.postgres,
            };
            let mut tx = self.write.begin().await?;
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO wafa_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(m.version)
            .bind(m.name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::info!(version = m.version, name = m.name, "applied migration");
        }
        Ok(())
    }

    /// Refresh the query planner's statistics. After a bulk import the planner would otherwise
    /// still see the tables as they were (empty, for a first import) and, on PostgreSQL, stop
    /// using the identity index for `IN` lists: measured 10 ms instead of 0.04 ms per lookup.
    pub async fn refresh_statistics(&self) -> Result<(), AppError> {
        let sql = match self.backend {
            Backend::Postgres => "ANALYZE customers, identities, customer_search_terms, customer_tags, orders, order_lines, order_status_history, timeline, notes",
            Backend::Sqlite => "PRAGMA optimize",
        };
        sqlx::raw_sql(sql).execute(&self.write).await?;
        Ok(())
    }

    /// Cheap liveness check used by `/healthz`.
    pub async fn ping(&self) -> Result<(), AppError> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// Checkpoint the SQLite WAL in the background, off the writer connection.
///
/// Why: SQLite checkpoints automatically in the connection that commits past
/// `wal_autocheckpoint` pages — our one writer — and a checkpoint of a large WAL (copying
/// the pages back, fsyncing WAL and database) held the writer for ~50 ms, stalling every
/// acknowledgement queued behind it (the webhook p99). A PASSIVE checkpoint from another
/// connection copies the frames alongside the writer without blocking it, so when the writer
/// reaches the threshold only the last few frames are left to copy (and it then restarts the
/// WAL from the start, which a checkpoint racing a busy writer cannot).
fn spawn_checkpointer(pool: AnyPool) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    rt.spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if pool.is_closed() {
                return;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_all(&pool)
                .await
            {
                tracing::debug!(error = %e, "background checkpoint");
            }
        }
    });
}

type SetupFuture<'c> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'c>>;

/// Per-connection SQLite settings. WAL lets readers run while the writer writes; NORMAL sync
/// survives application crashes (the WAL is in the OS) and is much faster than FULL;
/// foreign keys are off by default in SQLite and must be switched on per connection.
fn sqlite_setup(
    conn: &mut AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> SetupFuture<'_> {
    Box::pin(async move {
        sqlx::raw_sql("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY; PRAGMA mmap_size=68719476736; PRAGMA wal_autocheckpoint=20000;")
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// What the writer connection sets over [`sqlite_setup`] (and an import transaction restores
/// when it commits; see `imports::ImportWriter`).
const WRITER_SETTINGS: &str = "PRAGMA cache_size=-65536; PRAGMA foreign_keys=ON;";

/// The writer connection: [`sqlite_setup`] with a smaller page cache.
///
/// Why smaller: when a B-tree page split reorders pages, SQLite renumbers them through a
/// temporary page number at the 1 GiB mark, so the cache's highest key jumps there and the
/// commit's truncation of "pages past the end" walks the cache's whole hash table instead of
/// a few slots. With a 256 MB cache that walk was ~9% of the CPU of event ingestion; the
/// hash table scales with the pages the cache holds. The writer mostly needs its dirty pages
/// (clean ones come from the memory map); measured: imports unchanged, the walk ~1.5%.
/// 64 MB rather than 16: measured when SQLite's build capped the memory map at 2 GB, below
/// a store of a million customers, so index pages past it were read through this cache (16 MB
/// halved order-import throughput). The cap is now raised (`.cargo/config.toml`).
fn sqlite_writer_setup(
    conn: &mut AnyConnection,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> SetupFuture<'_> {
    Box::pin(async move {
        sqlite_setup(&mut *conn, meta).await?;
        sqlx::raw_sql(WRITER_SETTINGS).execute(conn).await?;
        Ok(())
    })
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Append an audit record inside the caller's transaction, so the record exists exactly when
/// the change it describes does.
pub(crate) async fn audit(
    conn: &mut AnyConnection,
    workspace_id: i64,
    actor: &str,
    action: &str,
    target_type: &str,
    target_id: Option<i64>,
    details: serde_json::Value,
) -> Result<(), AppError> {
    sqlx::query("INSERT INTO audit_log (workspace_id, actor, action, target_type, target_id, details, at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(workspace_id)
        .bind(actor)
        .bind(action)
        .bind(target_type)
        .bind(target_id)
        .bind(details.to_string())
        .bind(now_ms())
        .execute(conn)
        .await?;
    Ok(())
}

/// Read a JSON TEXT column, tolerating legacy garbage as the default value.
pub(crate) fn json_col<T: serde::de::DeserializeOwned + Default>(
    row: &sqlx::any::AnyRow,
    col: &str,
) -> T {
    row.try_get::<String, _>(col)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}
