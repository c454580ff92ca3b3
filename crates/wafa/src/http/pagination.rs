//! Keyset pagination with opaque cursors.
//!
//! Why keyset and not OFFSET: pages stay fast at any depth (a 1M-customer list's last page
//! costs the same as its first) and stay stable while new rows arrive. The cursor is opaque
//! to clients (base64 of the sort key) so we may change the key without breaking them.

use crate::error::AppError;
use base64::Engine;
use serde::Deserialize;
use utoipa::IntoParams;
use wafa_domain::ErrorCode;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct PageParams {
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 200; default 50.
    pub limit: Option<i64>,
}

impl PageParams {
    pub fn limit(&self) -> Result<i64, AppError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(l) if (1..=MAX_LIMIT).contains(&l) => Ok(l),
            Some(l) => Err(AppError::field(
                ErrorCode::ValidationFailed,
                "limit",
                format!("{l}: use 1 to {MAX_LIMIT}"),
            )),
        }
    }
    /// A cursor holding one id.
    pub fn before_id(&self) -> Result<Option<i64>, AppError> {
        self.cursor
            .as_deref()
            .map(|c| decode(c).and_then(|v| v.first().copied().ok_or_else(bad)))
            .transpose()
    }
    /// A cursor holding (timestamp, id).
    pub fn before_pair(&self) -> Result<Option<(i64, i64)>, AppError> {
        self.cursor
            .as_deref()
            .map(|c| {
                let v = decode(c)?;
                match v.as_slice() {
                    [a, b] => Ok((*a, *b)),
                    _ => Err(bad()),
                }
            })
            .transpose()
    }
}

fn bad() -> AppError {
    AppError::new(
        ErrorCode::InvalidCursor,
        "the cursor is not one this server issued",
    )
}

pub fn encode(parts: &[i64]) -> String {
    let s = parts
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(".");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

fn decode(c: &str) -> Result<Vec<i64>, AppError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .map_err(|_| bad())?;
    let s = String::from_utf8(bytes).map_err(|_| bad())?;
    s.split('.')
        .map(|p| p.parse::<i64>().map_err(|_| bad()))
        .collect()
}

/// Build a page from `limit + 1` fetched rows: the extra row only says there is more.
pub fn page<T>(mut items: Vec<T>, limit: i64, key: impl Fn(&T) -> Vec<i64>) -> wafa_model::Page<T> {
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_cursor = if more {
        items.last().map(|l| encode(&key(l)))
    } else {
        None
    };
    wafa_model::Page { items, next_cursor }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let p = PageParams {
            cursor: Some(encode(&[5, 7])),
            limit: None,
        };
        assert_eq!(p.before_pair().unwrap(), Some((5, 7)));
        let p = PageParams {
            cursor: Some("!!".into()),
            limit: Some(10),
        };
        assert_eq!(p.before_id().unwrap_err().code, ErrorCode::InvalidCursor);
        assert!(PageParams {
            cursor: None,
            limit: Some(0)
        }
        .limit()
        .is_err());
        let pg = page(vec![1, 2, 3], 2, |x| vec![*x as i64]);
        assert_eq!(pg.items, vec![1, 2]);
        assert_eq!(pg.next_cursor, Some(encode(&[2])));
    }
}
