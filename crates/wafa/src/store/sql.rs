//! Building statements whose shape depends on the input: optional filters, `IN` lists and
//! multi-row `INSERT`s, with every value bound as a parameter (never spliced into the text).

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
    pub fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments> {
        let mut q = sqlx::query(AssertSqlSafe(self.sql.clone()));
        for a in &self.args {
            q = match a {
                Val::I(v) => q.bind(*v),
                Val::S(v) => q.bind(v.as_str()),
                Val::NI(v) => q.bind(*v),
                Val::NS(v) => q.bind(v.as_deref()),
            };
        }
        q
    }
}

/// Parameters per multi-row statement.
///
/// Why SQLite gets `?` here: SQLite resolves a `$N` parameter's name by a linear walk of the
/// statement's name list, and sqlx asks for every parameter's name while binding, so a
/// statement with n `$N` parameters costs O(n²) to bind (measured: 20% of an import's CPU
/// at 300 parameters; 176 ms for one 6,000-parameter insert). Anonymous `?` parameters have
/// no names to walk. The builder appends parameters in order, so `?` binds correctly.
const MAX_PARAMS: usize = 3000;

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
    if rows.is_empty() {
        return Ok(());
    }
    let per = (MAX_PARAMS / cols.len()).max(1);
    let verb = match backend {
        super::Backend::Sqlite => "INSERT OR FAIL",
        super::Backend::Postgres => "INSERT",
    };
    let head = format!("{verb} INTO {table} ({}) VALUES ", cols.join(", "));
    let mut it = rows.into_iter().peekable();
    while it.peek().is_some() {
        let mut q = Sql::for_backend(&head, backend);
        for (i, row) in it.by_ref().take(per).enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.list(row);
        }
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}
