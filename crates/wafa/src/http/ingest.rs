//! Ingestion endpoints: store webhooks and the Segment-spec events API, plus the delivery log.
//!
//! These handlers acknowledge only after the raw body is stored (see `store/deliveries.rs`);
//! the background processor does the rest. A bad signature is refused (401) and only counted;
//! an oversize body is refused (413) and counted.

use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use super::pagination::{page, PageParams};
use super::AppState;
use crate::error::{AppError, AppResult};
use crate::store::{DeliveryRecord, NewDelivery, SourceStats, Stored};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use utoipa::{IntoParams, ToSchema};
use wafa_domain::{ErrorCode, Permission};
use wafa_ingest::webhooks::{self, Platform, Verified};
use wafa_model::Page;

/// Webhook bodies above this are refused (413). Platforms send far less.
pub const WEBHOOK_BODY_LIMIT: usize = 2 * 1024 * 1024;
/// Segment's own limit for a batch is 500 KB; allow some slack.
pub const EVENTS_BODY_LIMIT: usize = 1024 * 1024;

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// `accepted` (stored, will be processed), `duplicate` (stored before), `ping`.
    pub status: String,
}

fn sha256_hex(b: &[u8]) -> String {
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn header_pairs(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), v.to_owned()))
        })
        .collect()
}

fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, ()> {
    axum::body::to_bytes(body, limit)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| ())
}

/// Receive a store webhook (Salla, Zid, Shopify, WooCommerce) for a source. Verified over the
/// raw body, stored, acknowledged; processed in the background.
#[utoipa::path(post, path = "/webhooks/{id}", tag = "ingestion", params(("id" = i64, Path, description = "source id")),
    responses((status = 200, body = Accepted), (status = 401, description = "bad or missing signature"), (status = 404, description = "no such source"), (status = 413, description = "body too large")))]
pub async fn webhook(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    req: Request,
) -> AppResult<Json<Accepted>> {
    let source = st
        .store
        .ingest_source(id)
        .await?
        .ok_or_else(|| AppError::not_found("source"))?;
    let platform =
        Platform::parse(&source.platform).ok_or_else(|| AppError::not_found("webhook source"))?;
    let headers = header_pairs(req.headers());
    let query = query_pairs(req.uri().query());
    let body = match read_body(req.into_body(), WEBHOOK_BODY_LIMIT).await {
        Ok(b) => b,
        Err(()) => {
            st.store
                .bump_counter(source.id, "rejected_oversize")
                .await?;
            return Err(AppError::new(
                ErrorCode::PayloadTooLarge,
                format!("webhook bodies are limited to {WEBHOOK_BODY_LIMIT} bytes"),
            ));
        }
    };
    let r = webhooks::Request::new(&headers, &query, &body);
    match webhooks::verify(platform, &r, source.secret.as_deref().unwrap_or("")) {
        Ok(Verified::Ping) => {
            return Ok(Json(Accepted {
                status: "ping".into(),
            }))
        }
        Ok(Verified::Verified) => {}
        Err(e) => {
            st.store
                .bump_counter(source.id, "rejected_signature")
                .await?;
            return Err(AppError::new(
                ErrorCode::Unauthenticated,
                format!("webhook refused: {}", e.code()),
            )
            .with_extra(serde_json::json!({"reason": e.code()})));
        }
    }
    // A body we cannot even identify is still kept (and dead-lettered by the processor).
    let (topic, key, content_key) = match webhooks::delivery(platform, &r) {
        Ok(d) => (d.topic, d.delivery_id, Some(d.content_key)),
        Err(_) => (
            "unknown".to_owned(),
            format!("sha256:{}", sha256_hex(&body)),
            None,
        ),
    };
    let stored = st
        .store
        .store_delivery(NewDelivery {
            source: &source,
            topic: &topic,
            delivery_key: &key,
            content_key: content_key.as_deref(),
            headers: &headers,
            body: &body,
        })
        .await?;
    st.ingest.notify_one();
    Ok(Json(Accepted {
        status: if stored == Stored::Duplicate {
            "duplicate"
        } else {
            "accepted"
        }
        .into(),
    }))
}

/// The write key of a Segment-style request from its headers: HTTP Basic (`writeKey:`) or a
/// bearer token. `Some(None)`: an Authorization header that is not a readable key.
fn header_write_key(headers: &HeaderMap) -> Option<Option<String>> {
    let h = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?;
    if let Some(b64) = h.strip_prefix("Basic ") {
        let key = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .map(|s| s.split(':').next().unwrap_or("").to_owned());
        return Some(key);
    }
    h.strip_prefix("Bearer ").map(|t| Some(t.trim().to_owned()))
}

/// The top level of an events body, read without building the messages (the processor
/// parses them later, from the stored body): `None` unless it is a JSON object.
#[derive(Default)]
struct Top {
    write_key: Option<String>,
    has_type: bool,
}

impl<'de> Deserialize<'de> for Top {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Top;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Top, A::Error> {
                let mut top = Top::default();
                while let Some(k) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                    match &*k {
                        "writeKey" => {
                            top.write_key = m
                                .next_value::<serde_json::Value>()?
                                .as_str()
                                .map(str::to_owned)
                        }
                        "type" => {
                            top.has_type = true;
                            m.next_value::<serde::de::IgnoredAny>()?;
                        }
                        _ => {
                            m.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(top)
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentOk {
    pub success: bool,
}

async fn events(st: AppState, kind: &str, req: Request) -> AppResult<Json<SegmentOk>> {
    let headers = req.headers().clone();
    let body = read_body(req.into_body(), EVENTS_BODY_LIMIT)
        .await
        .map_err(|_| {
            AppError::new(
                ErrorCode::PayloadTooLarge,
                format!("event bodies are limited to {EVENTS_BODY_LIMIT} bytes"),
            )
        })?;
    // Authenticate first: a caller without a valid write key learns nothing about its body.
    let top: Option<Top> = serde_json::from_slice(&body).ok();
    let key = match header_write_key(&headers) {
        Some(k) => k,
        None => top.as_ref().and_then(|t| t.write_key.clone()),
    }
    .ok_or_else(|| {
        AppError::new(
            ErrorCode::Unauthenticated,
            "send the source's write key (HTTP Basic user, or writeKey)",
        )
    })?;
    let source = st
        .store
        .source_by_write_key(&crate::auth::token_hash(&key))
        .await?
        .ok_or_else(|| AppError::new(ErrorCode::Unauthenticated, "unknown write key"))?;
    let top =
        top.ok_or_else(|| AppError::new(ErrorCode::InvalidJson, "the body must be a JSON object"))?;
    // Single calls carry their type in the path.
    let body = if kind != "batch" && !top.has_type {
        let mut json: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|_| AppError::new(ErrorCode::InvalidJson, "the body must be a JSON object"))?;
        json["type"] = serde_json::Value::String(kind.to_owned());
        serde_json::to_vec(&json).unwrap_or(body)
    } else {
        body
    };
    let key = format!("sha256:{}", sha256_hex(&body));
    st.store
        .store_delivery(NewDelivery {
            source: &source,
            topic: kind,
            delivery_key: &key,
            content_key: None,
            headers: &[],
            body: &body,
        })
        .await?;
    st.ingest.notify_one();
    Ok(Json(SegmentOk { success: true }))
}

macro_rules! segment_route {
    ($fn:ident, $path:literal, $kind:literal) => {
        #[doc = concat!("Segment spec `", $kind, "` (write key as HTTP Basic user). Stored, then processed.")]
        #[utoipa::path(post, path = $path, tag = "ingestion", request_body = Object, responses((status = 200, body = SegmentOk), (status = 401, description = "unknown write key")))]
        pub async fn $fn(State(st): State<AppState>, req: Request) -> AppResult<Json<SegmentOk>> {
            events(st, $kind, req).await
        }
    };
}

segment_route!(segment_batch, "/v1/batch", "batch");
segment_route!(segment_track, "/v1/track", "track");
segment_route!(segment_identify, "/v1/identify", "identify");
segment_route!(segment_page, "/v1/page", "page");
segment_route!(segment_screen, "/v1/screen", "screen");
segment_route!(segment_alias, "/v1/alias", "alias");
segment_route!(segment_group, "/v1/group", "group");

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct DeliveryQuery {
    /// pending, processed, failed.
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// What a source sent, newest first, with each delivery's status and failure reason.
#[utoipa::path(get, path = "/v1/sources/{id}/deliveries", tag = "ingestion", params(("id" = i64, Path), DeliveryQuery), responses((status = 200, body = Page<DeliveryRecord>)), security(("bearer" = [])))]
pub async fn deliveries(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> AppResult<Json<Page<DeliveryRecord>>> {
    p.require(Permission::SourcesRead)?;
    if !st.store.source_exists(p.workspace_id, id).await? {
        return Err(AppError::not_found("source"));
    }
    let pg = PageParams {
        cursor: q.cursor,
        limit: q.limit,
    };
    let limit = pg.limit()?;
    let rows = st
        .store
        .list_deliveries(
            p.workspace_id,
            id,
            q.status.as_deref(),
            pg.before_id()?,
            limit + 1,
        )
        .await?;
    Ok(Json(page(rows, limit, |d| vec![d.id])))
}

/// Counts per outcome: processed, pending, failed, duplicates, refused signatures, oversize.
#[utoipa::path(get, path = "/v1/sources/{id}/stats", tag = "ingestion", params(("id" = i64, Path)), responses((status = 200, body = SourceStats)), security(("bearer" = [])))]
pub async fn source_stats(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<SourceStats>> {
    p.require(Permission::SourcesRead)?;
    Ok(Json(st.store.source_stats(p.workspace_id, id).await?))
}

/// Process a failed delivery again (after fixing its cause).
#[utoipa::path(post, path = "/v1/deliveries/{id}/replay", tag = "ingestion", params(("id" = i64, Path)), responses((status = 202, body = Accepted), (status = 409, description = "not a failed delivery")), security(("bearer" = [])))]
pub async fn replay(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<(StatusCode, Json<Accepted>)> {
    p.require(Permission::SourcesWrite)?;
    st.store
        .replay_delivery(p.workspace_id, &p.actor, id)
        .await?;
    st.ingest.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            status: "accepted".into(),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretInput {
    /// The webhook secret (Shopify/WooCommerce/Salla signing secret, Salla/Zid token).
    pub secret: String,
}

/// Set or rotate a store source's webhook secret.
#[utoipa::path(put, path = "/v1/sources/{id}/secret", tag = "ingestion", params(("id" = i64, Path)), request_body = SecretInput, responses((status = 204)), security(("bearer" = [])))]
pub async fn set_secret(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<SecretInput>,
) -> AppResult<StatusCode> {
    p.require(Permission::SourcesWrite)?;
    let secret = input.secret.trim();
    if secret.is_empty() || secret.len() > 512 {
        return Err(AppError::validation("secret", "1 to 512 characters"));
    }
    st.store
        .set_source_credentials(p.workspace_id, &p.actor, id, Some(secret), None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
