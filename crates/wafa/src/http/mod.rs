//! The HTTP API: routing, shared state, and the OpenAPI document.
//!
//! Handlers are thin: extract and authorise, validate through [`crate::validate`], call the
//! [`Store`], shape the response. Routes are registered through `utoipa_axum`'s `routes!`,
//! which records each handler's OpenAPI operation as it mounts it, so the served
//! `/openapi.json` cannot drift from the routes that exist.

pub mod account;
pub mod analytics;
pub mod commerce;
pub mod customers;
pub mod extract;
pub mod imports;
pub mod ingest;
pub mod pagination;

use crate::error::AppError;
use crate::store::Store;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wafa_domain::ErrorCode;

/// JSON request bodies above this are refused with 413.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Config {
    pub allow_signup: bool,
    /// How the outside world reaches this server (for webhook URLs, reset links).
    pub public_url: String,
    /// Outgoing e-mail (password-reset links); `None` when no SMTP server is configured.
    pub mailer: Option<crate::web::Mailer>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            allow_signup: true,
            public_url: "http://127.0.0.1:8080".into(),
            mailer: None,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub login_limiter: Arc<LoginLimiter>,
    /// Wakes the delivery processor when something was stored.
    pub ingest: Arc<tokio::sync::Notify>,
    pub mailer: Option<crate::web::Mailer>,
    /// Console CSV imports running in the background, by job number.
    pub import_progress: Arc<Mutex<HashMap<u64, ImportJob>>>,
}

/// A console import job: progress while it runs, then the import record's id or the error.
#[derive(Debug, Clone)]
pub struct ImportJob {
    pub workspace_id: i64,
    pub done: u64,
    pub total: u64,
    pub result: Option<Result<i64, (ErrorCode, String)>>,
}

impl AppState {
    /// Also starts the delivery processor (which first processes whatever is pending).
    pub fn new(store: Store, config: Config) -> Self {
        let ingest = crate::ingest::spawn_processor(store.clone());
        AppState {
            store,
            mailer: config.mailer.clone(),
            import_progress: Arc::new(Mutex::new(HashMap::new())),
            config: Arc::new(config),
            login_limiter: Arc::new(LoginLimiter::default()),
            ingest,
        }
    }
}

/// Failed sign-ins per (email, client): after `MAX_FAILURES` within `WINDOW`, further tries
/// are refused until the window passes. In memory: a restart forgets, which is acceptable for
/// slowing down guessing (passwords are Argon2-hashed anyway).
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    const MAX_FAILURES: u32 = 10;
    const WINDOW: Duration = Duration::from_secs(15 * 60);

    pub fn check(&self, key: &str) -> Result<(), AppError> {
        let mut m = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((n, since)) = m.get(key) {
            if since.elapsed() > Self::WINDOW {
                m.remove(key);
            } else if *n >= Self::MAX_FAILURES {
                return Err(AppError::new(
                    ErrorCode::RateLimited,
                    "too many failed sign-ins; wait 15 minutes",
                ));
            }
        }
        Ok(())
    }
    pub fn fail(&self, key: &str) {
        let mut m = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() > 100_000 {
            m.retain(|_, (_, since)| since.elapsed() <= Self::WINDOW);
        }
        let e = m.entry(key.to_owned()).or_insert((0, Instant::now()));
        e.0 += 1;
    }
    pub fn succeed(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Wafa API", description = "Self-hosted CRM and customer retention for online stores. Errors: `{\"error\": {\"code\", \"message\", \"message_ar\", \"detail\", \"field\"}}` with stable codes.", license(name = "AGPL-3.0-or-later")),
    modifiers(&BearerAuth),
    tags((name = "account"), (name = "customers"), (name = "commerce"), (name = "imports"), (name = "analytics"), (name = "ingestion"), (name = "system"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("A session token from /v1/auth/login (wafa_ses_…) or an API key (wafa_sk_…)")).build()));
    }
}

/// Liveness and readiness: 200 once migrations ran and the database answers.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200), (status = 503)))]
async fn healthz(State(st): State<AppState>) -> Result<Json<serde_json::Value>, AppError> {
    st.store.ping().await?;
    Ok(Json(serde_json::json!({"status": "ok"})))
}

async fn not_found() -> AppError {
    AppError::new(ErrorCode::NotFound, "no such route")
}

async fn method_not_allowed(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let resp = next.run(req).await;
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            Json(AppError::new(ErrorCode::BadRequest, "method not allowed on this route").body()),
        )
            .into_response();
    }
    resp
}

/// Build the API router and its OpenAPI document.
pub fn api(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(account::signup))
        .routes(routes!(account::login))
        .routes(routes!(account::logout))
        .routes(routes!(account::me))
        .routes(routes!(account::get_workspace, account::update_workspace))
        .routes(routes!(account::list_users, account::add_user))
        .routes(routes!(account::set_user_role))
        .routes(routes!(account::remove_user))
        .routes(routes!(account::list_keys, account::create_key))
        .routes(routes!(account::revoke_key))
        .routes(routes!(account::list_sources, account::create_source))
        .routes(routes!(account::audit_log))
        .routes(routes!(
            customers::list_customers,
            customers::upsert_customer
        ))
        .routes(routes!(customers::get_customer, customers::patch_customer))
        .routes(routes!(customers::timeline))
        .routes(routes!(customers::list_notes, customers::add_note))
        .routes(routes!(customers::add_event))
        .routes(routes!(customers::merge_preview))
        .routes(routes!(customers::merge))
        .routes(routes!(customers::list_merges))
        .routes(routes!(customers::undo_merge))
        .routes(routes!(
            customers::list_companies,
            customers::create_company
        ))
        .routes(routes!(customers::get_company))
        .routes(routes!(commerce::list_products, commerce::upsert_product))
        .routes(routes!(commerce::get_product))
        .routes(routes!(commerce::list_orders, commerce::create_order))
        .routes(routes!(commerce::get_order))
        .routes(routes!(commerce::change_status))
        .routes(routes!(commerce::list_carts, commerce::upsert_cart))
        .routes(routes!(commerce::get_cart))
        .routes(routes!(analytics::customer_prediction))
        .routes(routes!(analytics::overview))
        .routes(routes!(analytics::recompute_now))
        .routes(routes!(analytics::sentiment))
        .routes(routes!(analytics::tag))
        .routes(routes!(ingest::deliveries))
        .routes(routes!(ingest::source_stats))
        .routes(routes!(ingest::replay))
        .routes(routes!(ingest::set_secret))
        .routes(routes!(imports::list_imports))
        .routes(routes!(imports::get_import))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(imports::create_import))
                .layer(DefaultBodyLimit::max(imports::IMPORT_BODY_LIMIT)),
        )
        // Ingestion reads its bodies itself, with limits that count refusals per source.
        .merge(
            OpenApiRouter::new()
                .routes(routes!(ingest::webhook))
                .routes(routes!(ingest::segment_batch))
                .routes(routes!(ingest::segment_track))
                .routes(routes!(ingest::segment_identify))
                .routes(routes!(ingest::segment_page))
                .routes(routes!(ingest::segment_screen))
                .routes(routes!(ingest::segment_alias))
                .routes(routes!(ingest::segment_group))
                .layer(DefaultBodyLimit::disable()),
        )
        .split_for_parts();
    let doc = openapi.clone();
    let router = router
        .route("/openapi.json", get(move || async move { Json(doc) }))
        .merge(crate::web::router().layer(DefaultBodyLimit::max(imports::IMPORT_BODY_LIMIT)))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(method_not_allowed))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .with_state(state);
    (router, openapi)
}

/// Serve until ctrl-c / SIGTERM. `on_ready` is called with the bound address.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let (router, _) = api(state);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
