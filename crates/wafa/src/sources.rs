//! Connecting a source (a store, the events API, a CSV feed): shared by the API and the CLI.

use crate::error::{AppError, AppResult};
use crate::store::{SourceRecord, Store};
use serde::Serialize;
use utoipa::ToSchema;

pub const PLATFORMS: [&str; 7] = [
    "salla",
    "zid",
    "shopify",
    "woocommerce",
    "events",
    "csv",
    "api",
];
pub const WRITE_KEY_PREFIX: &str = "wafa_wk_";

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceCreated {
    pub source: SourceRecord,
    /// For store platforms: the URL to paste into the platform's webhook settings.
    pub webhook_url: Option<String>,
    /// For `events`: the write key (HTTP Basic user of the Segment-style API). Shown once.
    pub write_key: Option<String>,
}

pub async fn add_source(
    store: &Store,
    workspace_id: i64,
    actor: &str,
    platform: &str,
    name: &str,
    secret: Option<&str>,
    public_url: &str,
) -> AppResult<SourceCreated> {
    let platform = platform.trim().to_ascii_lowercase();
    if !PLATFORMS.contains(&platform.as_str()) {
        return Err(AppError::validation(
            "platform",
            format!("{platform:?}: use one of {}", PLATFORMS.join(", ")),
        ));
    }
    let name = crate::validate::text("name", Some(name), 200)?
        .ok_or_else(|| AppError::validation("name", "required"))?;
    let secret = secret.map(str::trim).filter(|s| !s.is_empty());
    if secret.map(|s| s.len() > 512).unwrap_or(false) {
        return Err(AppError::validation("secret", "at most 512 characters"));
    }
    let is_store = ["salla", "zid", "shopify", "woocommerce"].contains(&platform.as_str());
    if is_store && secret.is_none() {
        return Err(AppError::validation(
            "secret",
            "a store source needs the webhook secret (or token) from the platform",
        ));
    }
    let source = store
        .create_source(workspace_id, actor, &platform, &name)
        .await?;
    let mut write_key = None;
    if is_store {
        store
            .set_source_credentials(workspace_id, actor, source.id, secret, None)
            .await?;
    } else if platform == "events" {
        let key = crate::auth::new_token(WRITE_KEY_PREFIX);
        store
            .set_source_credentials(
                workspace_id,
                actor,
                source.id,
                None,
                Some(&crate::auth::token_hash(&key)),
            )
            .await?;
        write_key = Some(key);
    }
    let base = public_url.trim_end_matches('/');
    let webhook_url = is_store.then(|| match platform.as_str() {
        // Zid signs nothing: the URL carries the token (see wafa-ingest webhooks README).
        "zid" => format!(
            "{base}/webhooks/{}?token={}",
            source.id,
            secret.unwrap_or("")
        ),
        _ => format!("{base}/webhooks/{}", source.id),
    });
    Ok(SourceCreated {
        source,
        webhook_url,
        write_key,
    })
}
