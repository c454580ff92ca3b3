//! The one error type of the server, and how it is reported.
//!
//! Why one type: every failure, from a bad phone number to a lost database connection, ends
//! as the same JSON shape with a stable `code` (see [`wafa_domain::ErrorCode`]) and messages
//! in English and Arabic. Database and internal errors are logged in full but reported
//! without details, so nothing internal leaks to clients.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use wafa_domain::{DomainError, ErrorCode};

#[derive(Debug)]
pub struct AppError {
    pub code: ErrorCode,
    pub field: Option<String>,
    pub detail: String,
    /// Extra machine-readable context (e.g. the conflicting customer ids).
    pub extra: Option<Value>,
}

impl AppError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        AppError {
            code,
            field: None,
            detail: detail.into(),
            extra: None,
        }
    }
    pub fn field(code: ErrorCode, field: impl Into<String>, detail: impl Into<String>) -> Self {
        AppError {
            code,
            field: Some(field.into()),
            detail: detail.into(),
            extra: None,
        }
    }
    pub fn with_extra(mut self, extra: Value) -> Self {
        self.extra = Some(extra);
        self
    }
    pub fn not_found(what: &str) -> Self {
        AppError::new(ErrorCode::NotFound, format!("{what} not found"))
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        AppError::new(ErrorCode::Forbidden, detail)
    }
    pub fn validation(field: &str, detail: impl Into<String>) -> Self {
        AppError::field(ErrorCode::ValidationFailed, field, detail)
    }
    pub fn config(detail: impl Into<String>) -> Self {
        AppError::new(ErrorCode::Unavailable, detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        AppError::new(ErrorCode::Internal, detail)
    }
    pub fn db_connect(e: sqlx::Error) -> Self {
        AppError::new(
            ErrorCode::Unavailable,
            format!("cannot connect to the database: {e}"),
        )
    }
    /// Prefix the field path (`email` → `rows[3].email`).
    pub fn at(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field {
            Some(f) => format!("{prefix}.{f}"),
            None => prefix.to_owned(),
        });
        self
    }
    pub fn body(&self) -> Value {
        let internal = self.code == ErrorCode::Internal;
        let mut err = json!({
            "code": self.code.as_str(),
            "message": self.code.message_en(),
            "message_ar": self.code.message_ar(),
            "detail": if internal { "see the server log".to_owned() } else { self.detail.clone() },
        });
        if let Some(f) = &self.field {
            err["field"] = json!(f);
        }
        if let Some(x) = &self.extra {
            err["context"] = x.clone();
        }
        json!({ "error": err })
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)?;
        if let Some(field) = &self.field {
            write!(f, " (field {field})")?;
        }
        Ok(())
    }
}

impl std::error::Error for AppError {}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        AppError {
            code: e.code,
            field: e.field,
            detail: e.detail,
            extra: None,
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => AppError::not_found("record"),
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::error!(error = %e, "database unavailable");
                AppError::new(ErrorCode::Unavailable, "database unavailable")
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => AppError::new(
                ErrorCode::Conflict,
                "a record with the same unique key exists",
            ),
            _ => {
                tracing::error!(error = %e, "database error");
                AppError::internal(e.to_string())
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if self.code == ErrorCode::Internal {
            tracing::error!(detail = %self.detail, "internal error");
        }
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self.body())).into_response()
    }
}

pub type AppResult<T> = Result<T, AppError>;
