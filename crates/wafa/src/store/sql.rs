//! Building statements whose shape depends on the input: optional filters, `IN` lists and
//! multi-row `INSERT`s, with every value bound as a parameter (never spliced into the text).

use super::sqlite_native::{self, HandleCache};
use crate::error::AppResult;
use sqlx::{AnyConnection, AssertSqlSafe};

/// A bound value.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    I(i64),
    S(String),
    NI(Option<i64>),
    NS(Option<String>),
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::I(v)
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::S(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::S(v.to_owned())
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        Val::NI(v)
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        Val::NS(v)
    }
}

/// SQL text plus its parameters, numbered `$1…` as they are appended.
#[derive(Clone)]
pub(crate) struct Sql {
    pub sql: String,
    args: Vec<Val>,
    /// Emit `?` instead of `$n` (SQLite only; see [`insert_rows`]).
    positional: bool,
}

impl Sql {
    pub fn new(s: &str) -> Self {
        Sql {
            sql: s.to_owned(),
            args: Vec::new(),
            positional: false,
        }
    }
    /// A statement for `backend`: on SQLite parameters are `?` (see [`MAX_PARAMS`]).
    pub fn for_backend(s: &str, backend: super::Backend) -> Self {
        let mut q = Sql::new(s);
        q.positional = backend == super::Backend::Sqlite;
        q
    }
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }
    /// Append `$n` bound to `v`.
    pub fn val(&mut self, v: impl Into<Val>) -> &mut Self {
        self.args.push(v.into());
        if self.positional {
            self.sql.push('?');
        } else {
            let n = self.args.len();
            self.sql.push('$');
            self.sql.push_str(&n.to_string());
        }
        self
    }
    pub fn int(&mut self, v: i64) -> &mut Self {
        self.val(v)
    }
    pub fn text(&mut self, v: impl Into<String>) -> &mut Self {
        self.val(Val::S(v.into()))
    }
    /// Append `($a, $b, …)` for a list (which must not be empty).
    pub fn list<V: Into<Val>>(&mut self, items: impl IntoIterator<Item = V>) -> &mut Self {
        self.sql.push('(');
        for (i, v) in items.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.val(v);
        }
        self.sql.push(')');
        self
    }
    /// The statement, its text and values moved into it (no copies).
    pub fn into_query(self) -> AnyQuery {
        let mut q = sqlx::query(AssertSqlSafe(self.sql));
        for a in self.args {
            q = match a {
                Val::I(v) => q.bind(v),
                Val::S(v) => q.bind(v),
                Val::NI(v) => q.bind(v),
                Val::NS(v) => q.bind(v),
            };
        }
        q
    }
    /// The statement, for a caller that keeps the builder (a copy of its text and values;
    /// [`into_query`](Self::into_query) moves them).
    pub fn query(&self) -> AnyQuery {
        self.clone().into_query()
    }
}

/// The head of a query whose result rows come back as one JSON array of arrays (`cols` in
/// order), queued with [`Pipe::fetch`] and read by [`parse_json_rows`]; the caller appends `FROM …`.
/// An `ORDER BY` or `LIMIT` belongs in a subquery (`FROM (SELECT … LIMIT n) AS t`): at this
/// level it would apply to the one aggregated row.
///
/// Why: a result row crosses from SQLite's worker thread one at a time (a channel send and a
/// wake-up each) and each value is copied twice on the way; for the thousands of rows a bulk
/// lookup returns that was ~20% of the worker's time and ~15% of the caller's. One text
/// value per query costs a JSON parse instead.
pub(crate) fn json_rows(backend: super::Backend, cols: &str) -> Sql {
    Sql::for_backend(
        &match backend {
            super::Backend::Sqlite => format!("SELECT json_group_array(json_array({cols})) AS j "),
            super::Backend::Postgres => {
                format!("SELECT COALESCE(json_agg(json_build_array({cols})), '[]')::text AS j ")
            }
        },
        backend,
    )
}

/// A [`json_rows`] query's one value, undecoded.
async fn fetch_json_text(conn: &mut AnyConnection, q: AnyQuery) -> AppResult<String> {
    use sqlx::Row;
    Ok(q.fetch_one(&mut *conn).await?.try_get("j")?)
}

/// The rows of a [`json_rows`] result, each decoded from a JSON array.
pub(crate) fn parse_json_rows<T: serde::de::DeserializeOwned>(text: &str) -> AppResult<Vec<T>> {
    serde_json::from_str(text)
        .map_err(|e| crate::error::AppError::internal(format!("bulk lookup result: {e}")))
}

/// A statement with its values, ready to run.
pub(crate) type AnyQuery = sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>;

/// Work on the connection that needs more than one statement (a row through the one-row
/// path, finding or creating a company), queued in order with the statements around it. It
/// hands its own result back (through a channel it captured); an `Err` stops the queue like
/// a failed statement.
pub(crate) type ConnWork = Box<
    dyn for<'c> FnOnce(&'c mut AnyConnection) -> futures_util::future::BoxFuture<'c, AppResult<()>>
        + Send,
>;

/// What a [`Pipe`] queues: a statement whose result is not needed, a [`json_rows`] query whose
/// one value is sent back, or [`ConnWork`].
pub(crate) enum Cmd {
    Exec(AnyQuery),
    /// A multi-row insert on SQLite, run through SQLite's C API (see `sqlite_native`).
    Insert(InsertRows),
    Fetch(AnyQuery, tokio::sync::oneshot::Sender<String>),
    Work(ConnWork),
}

/// Rows for one table, inserted by [`run_cmd`].
pub(crate) struct InsertRows {
    table: &'static str,
    cols: &'static [&'static str],
    rows: Vec<Vec<Val>>,
}

/// Run one command; `Err` stops the queue (see [`pipelined`] and [`Executor`]).
async fn run_cmd(conn: &mut AnyConnection, cmd: Cmd, native: &mut HandleCache) -> AppResult<()> {
    match cmd {
        Cmd::Exec(q) => {
            q.execute(&mut *conn).await?;
        }
        Cmd::Insert(ins) => match native.get(conn).await {
            Some(h) => sqlite_native::insert_rows(conn, h, ins.table, ins.cols, &ins.rows).await?,
            None => {
                let chunks =
                    InsertChunks::new(super::Backend::Sqlite, ins.table, ins.cols, ins.rows);
                for q in chunks {
                    q.into_query().execute(&mut *conn).await?;
                }
            }
        },
        Cmd::Fetch(q, reply) => {
            let text = fetch_json_text(conn, q).await?;
            // The asker may have given up (a failure elsewhere); nothing to do then.
            let _ = reply.send(text);
        }
        Cmd::Work(work) => work(conn).await?,
    }
    Ok(())
}

/// Statements and other work for one connection, run in order while the caller builds the
/// next ones: by [`pipelined`] on a borrowed connection, or by an [`Executor`]. Not `Clone`:
/// the queue ends when its one `Pipe` is dropped, which is how [`Executor::finish`] waits.
pub(crate) struct Pipe {
    tx: tokio::sync::mpsc::Sender<Cmd>,
    backend: super::Backend,
}

/// Raised by a [`Pipe`] once the queue has stopped: the database's own error is the one
/// [`pipelined`] or [`Executor::finish`] returns.
fn stopped() -> crate::error::AppError {
    crate::error::AppError::internal("pipelined statement failed")
}

impl Pipe {
    pub fn backend(&self) -> super::Backend {
        self.backend
    }

    pub async fn send(&self, cmd: Cmd) -> AppResult<()> {
        self.tx.send(cmd).await.map_err(|_| stopped())?;
        // Let the executor hand the statement to the database before building the next one;
        // a send into a channel with room completes without yielding.
        tokio::task::yield_now().await;
        Ok(())
    }

    /// Queue `q`. Fails once an earlier command has failed.
    pub async fn exec(&self, q: AnyQuery) -> AppResult<()> {
        self.send(Cmd::Exec(q)).await
    }

    /// Queue a [`json_rows`] query; its value arrives on the receiver once it has run.
    pub async fn fetch(&self, q: Sql) -> AppResult<Reply<String>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Cmd::Fetch(q.into_query(), tx)).await?;
        Ok(Reply(rx))
    }

    /// [`insert_rows`] through the pipe: on SQLite one command (see `sqlite_native`), on
    /// PostgreSQL one statement per chunk, chunk k+1 built while chunk k runs.
    pub async fn insert_rows(
        &self,
        table: &'static str,
        cols: &'static [&'static str],
        rows: Vec<Vec<Val>>,
    ) -> AppResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        if self.backend == super::Backend::Sqlite {
            return self
                .send(Cmd::Insert(InsertRows { table, cols, rows }))
                .await;
        }
        for q in InsertChunks::new(self.backend, table, cols, rows) {
            self.exec(q.into_query()).await?;
        }
        Ok(())
    }
}

/// A result that a queued command sends back.
pub(crate) struct Reply<T>(pub tokio::sync::oneshot::Receiver<T>);

impl<T> Reply<T> {
    /// The value, or the placeholder error when the queue stopped before sending it.
    pub async fn get(self) -> AppResult<T> {
        self.0.await.map_err(|_| stopped())
    }
}

/// Run `produce`, which queues statements on a [`Pipe`], while executing them on `conn` in
/// order: the database works on one statement while the caller builds the next.
///
/// Why: a bulk write's statements were built and executed in turn, so the caller's thread
/// (building values and binding thousands of parameters) and the database (SQLite's worker
/// thread, or the PostgreSQL server) each idled while the other worked. Statements are only
/// queued, never reordered; after a failure the rest are dropped, the producer's next
/// `exec` fails, and the first database error is returned, so the caller's transaction or
/// savepoint is rolled back as before.
pub(crate) async fn pipelined<F, Fut, R>(
    conn: &mut AnyConnection,
    backend: super::Backend,
    produce: F,
) -> AppResult<R>
where
    F: FnOnce(Pipe) -> Fut,
    Fut: std::future::Future<Output = AppResult<R>>,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Cmd>(2);
    let execute = async move {
        let mut native = HandleCache::default();
        while let Some(cmd) = rx.recv().await {
            if let Err(e) = run_cmd(conn, cmd, &mut native).await {
                rx.close();
                return Err(e);
            }
        }
        Ok(())
    };
    let (executed, produced) = tokio::join!(execute, produce(Pipe { tx, backend }));
    executed?;
    produced
}

/// A connection moved onto a task of its own that runs what a [`Pipe`] queues, until
/// [`finish`](Self::finish) gives it back.
///
/// Why a task rather than [`pipelined`]: there the queue is only served when the producer
/// yields, so the database idled whenever it finished a statement while the next one was
/// being built, and a batch's lookups could not run while the previous batch was being
/// prepared. On its own task the queue is served as soon as the database is done, and a
/// producer can queue the next batch's lookups ahead of this batch's inserts (see
/// `imports::ImportWriter`).
pub(crate) struct Executor<C> {
    pipe: Pipe,
    task: tokio::task::JoinHandle<(C, AppResult<()>)>,
}

impl<C> Executor<C>
where
    C: std::ops::DerefMut<Target = AnyConnection> + Send + 'static,
{
    pub fn start(mut conn: C, backend: super::Backend) -> Self {
        // Room for a batch's lookups and the first statements of its inserts.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Cmd>(64);
        let task = tokio::spawn(async move {
            let mut result = Ok(());
            let mut native = HandleCache::default();
            while let Some(cmd) = rx.recv().await {
                if let Err(e) = run_cmd(&mut conn, cmd, &mut native).await {
                    // Stop: the commands still queued are dropped, so their replies fail
                    // and the producer's next send fails.
                    result = Err(e);
                    rx.close();
                    while rx.recv().await.is_some() {}
                    break;
                }
            }
            (conn, result)
        });
        Executor {
            pipe: Pipe { tx, backend },
            task,
        }
    }

    pub fn pipe(&self) -> &Pipe {
        &self.pipe
    }

    /// Wait for everything queued, and take the connection back with the first error (`Err`
    /// only if the task itself died: the connection went with it, and was closed on drop,
    /// which rolled its transaction back).
    pub async fn finish(self) -> AppResult<(C, AppResult<()>)> {
        drop(self.pipe);
        self.task
            .await
            .map_err(|e| crate::error::AppError::internal(format!("writer task stopped: {e}")))
    }
}

/// Parameters per multi-row statement.
///
/// Why SQLite gets `?` here: SQLite resolves a `$N` parameter's name by a linear walk of the
/// statement's name list, and sqlx asks for every parameter's name while binding, so a
/// statement with n `$N` parameters costs O(n²) to bind (measured: 20% of an import's CPU
/// at 300 parameters; 176 ms for one 6,000-parameter insert). Anonymous `?` parameters have
/// no names to walk. The builder appends parameters in order, so `?` binds correctly.
pub(crate) const MAX_PARAMS: usize = 3000;

/// `INSERT INTO table (cols) VALUES (…), (…), …` in as few statements as the parameter limit
/// allows.
///
/// On SQLite the statement is `INSERT OR FAIL`: a refused row stops the statement but does
/// not undo the rows it already inserted. Why: a plain multi-row `INSERT` inside a
/// transaction keeps a statement journal (a copy of every page it touches, to undo just that
/// statement), which cost ~8% of an import's CPU. Every caller propagates the error to a
/// transaction or savepoint that is rolled back, so the statement-level undo is never needed.
pub(crate) async fn insert_rows(
    conn: &mut AnyConnection,
    backend: super::Backend,
    table: &str,
    cols: &[&str],
    rows: Vec<Vec<Val>>,
) -> AppResult<()> {
    if backend == super::Backend::Sqlite && !rows.is_empty() {
        if let Some(h) = sqlite_native::handle(conn).await {
            return sqlite_native::insert_rows(conn, h, table, cols, &rows).await;
        }
    }
    for q in InsertChunks::new(backend, table, cols, rows) {
        q.into_query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The statements of a multi-row insert, as many rows each as [`MAX_PARAMS`] allows.
struct InsertChunks {
    head: String,
    per: usize,
    backend: super::Backend,
    rows: std::iter::Peekable<std::vec::IntoIter<Vec<Val>>>,
}

impl InsertChunks {
    fn new(backend: super::Backend, table: &str, cols: &[&str], rows: Vec<Vec<Val>>) -> Self {
        let verb = match backend {
            super::Backend::Sqlite => "INSERT OR FAIL",
            super::Backend::Postgres => "INSERT",
        };
        InsertChunks {
            head: format!("{verb} INTO {table} ({}) VALUES ", cols.join(", ")),
            per: (MAX_PARAMS / cols.len()).max(1),
            backend,
            rows: rows.into_iter().peekable(),
        }
    }
}

impl Iterator for InsertChunks {
    type Item = Sql;
    fn next(&mut self) -> Option<Sql> {
        self.rows.peek()?;
        let mut q = Sql::for_backend(&self.head, self.backend);
        for (i, row) in self.rows.by_ref().take(self.per).enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.list(row);
        }
        Some(q)
    }
}
