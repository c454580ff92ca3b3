//! Request extractors that fail with Wafa's error shape instead of axum's plain-text ones.
//!
//! Why: a client sending a malformed body, a wrong type or a non-numeric id must get the same
//! `{"error": {"code": …}}` document as any other failure, with a stable code.

use crate::error::AppError;
use crate::http::AppState;
use crate::store::Principal;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use wafa_domain::ErrorCode;

/// JSON body.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;
    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(AppError::new(
                ErrorCode::UnsupportedMediaType,
                "send Content-Type: application/json",
            )),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(AppError::new(
                    ErrorCode::PayloadTooLarge,
                    "request body too large",
                ))
            }
            Err(JsonRejection::JsonDataError(e)) => {
                Err(AppError::new(ErrorCode::InvalidJson, e.body_text()))
            }
            Err(e) => Err(AppError::new(ErrorCode::InvalidJson, e.body_text())),
        }
    }
}

/// Path parameters.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(e @ PathRejection::FailedToDeserializePathParams(_)) => {
                Err(AppError::new(ErrorCode::NotFound, e.body_text()))
            }
            Err(e) => Err(AppError::new(ErrorCode::BadRequest, e.body_text())),
        }
    }
}

/// Query string.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e @ QueryRejection::FailedToDeserializeQueryString(_)) => {
                Err(AppError::new(ErrorCode::BadRequest, e.body_text()))
            }
            Err(e) => Err(AppError::new(ErrorCode::BadRequest, e.body_text())),
        }
    }
}

/// The authenticated caller. Credentials: `Authorization: Bearer <token>` where the token is
/// a session token (`wafa_ses_…`, from sign-in) or an API key (`wafa_sk_…`), or the console's
/// session cookie.
pub struct Auth(pub Principal);

pub const SESSION_PREFIX: &str = "wafa_ses_";
pub const KEY_PREFIX: &str = "wafa_sk_";
pub const SESSION_COOKIE: &str = "wafa_session";

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    for c in headers.get_all(axum::http::header::COOKIE) {
        let Ok(c) = c.to_str() else { continue };
        for kv in c.split(';') {
            if let Some((k, v)) = kv.trim().split_once('=') {
                if k == name {
                    return Some(v.to_owned());
                }
            }
        }
    }
    None
}

pub fn bearer_or_cookie(parts: &Parts) -> Option<String> {
    if let Some(h) = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let h = h.trim();
        let token = h
            .strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
            .unwrap_or(h);
        return Some(token.trim().to_owned());
    }
    // The console's cookie is accepted for reads only: a cookie rides along on requests
    // other sites trigger, so anything that changes data needs an explicit credential (the
    // console's own forms carry a CSRF token instead).
    if !(parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD) {
        return None;
    }
    cookie(&parts.headers, SESSION_COOKIE)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = bearer_or_cookie(parts)
            .ok_or_else(|| AppError::new(ErrorCode::Unauthenticated, "missing credentials"))?;
        let hash = crate::auth::token_hash(&token);
        let principal = if token.starts_with(KEY_PREFIX) {
            state.store.key_principal(&hash).await?
        } else if token.starts_with(SESSION_PREFIX) {
            state.store.session_principal(&hash).await?
        } else {
            None
        };
        principal.map(Auth).ok_or_else(|| {
            AppError::new(ErrorCode::Unauthenticated, "invalid or expired credentials")
        })
    }
}
