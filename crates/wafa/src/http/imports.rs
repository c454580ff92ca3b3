//! CSV imports over HTTP (the CLI's `wafa import` does the same with a progress bar).

use super::extract::{ApiPath, ApiQuery, Auth};
use super::pagination::{page, PageParams};
use super::AppState;
use crate::error::{AppError, AppResult};
use crate::import::{import_csv, ImportRequest, ImportRowError};
use crate::store::ImportRecord;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wafa_domain::{ErrorCode, Permission};
use wafa_model::Page;

/// Import bodies may be large exports.
pub const IMPORT_BODY_LIMIT: usize = 512 * 1024 * 1024;

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ImportQuery {
    /// `customers` (Shopify customer export) or `orders` (Wafa orders CSV); detected from the
    /// header when absent.
    pub kind: Option<String>,
    /// The source the file's ids belong to; default a source per format.
    pub source_id: Option<i64>,
    pub file_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    pub import: ImportRecord,
    /// Every rejected row with its line number.
    pub errors: Vec<ImportRowError>,
}

/// Import a CSV file sent as the request body. Good rows import even when some rows are bad;
/// re-sending the same file changes nothing.
#[utoipa::path(post, path = "/v1/imports", tag = "imports", params(ImportQuery), request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = ImportResult), (status = 422, description = "unreadable encoding or unsupported header")), security(("bearer" = [])))]
pub async fn create_import(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Bytes,
) -> AppResult<(StatusCode, Json<ImportResult>)> {
    p.require(Permission::Import)?;
    let expect = crate::import::expected_format(q.kind.as_deref())?;
    if body.is_empty() {
        return Err(AppError::new(
            ErrorCode::BadRequest,
            "send the CSV file as the request body",
        ));
    }
    let req = ImportRequest {
        workspace_id: p.workspace_id,
        actor: &p.actor,
        region: p.region,
        expect,
        source_id: q.source_id,
        file_name: q.file_name.as_deref(),
    };
    let out = import_csv(&st.store, req, body.to_vec(), &|_, _| {}).await?;
    // New orders change the predictions; recompute in the background.
    if out.record.rows_created + out.record.rows_updated > 0 {
        let (store, ws) = (st.store.clone(), p.workspace_id);
        tokio::spawn(async move {
            if let Err(e) = crate::predict::recompute(&store, ws).await {
                tracing::warn!(workspace = ws, error = %e, "predictions not recomputed after import");
            }
        });
    }
    Ok((
        StatusCode::CREATED,
        Json(ImportResult {
            import: out.record,
            errors: out.errors,
        }),
    ))
}

#[utoipa::path(get, path = "/v1/imports", tag = "imports", params(PageParams), responses((status = 200, body = Page<ImportRecord>)), security(("bearer" = [])))]
pub async fn list_imports(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiQuery(pg): ApiQuery<PageParams>,
) -> AppResult<Json<Page<ImportRecord>>> {
    p.require(Permission::Import)?;
    let limit = pg.limit()?;
    let rows = st
        .store
        .list_imports(p.workspace_id, pg.before_id()?, limit + 1)
        .await?;
    Ok(Json(page(rows, limit, |r| vec![r.id])))
}

#[utoipa::path(get, path = "/v1/imports/{id}", tag = "imports", params(("id" = i64, Path)), responses((status = 200, body = ImportRecord)), security(("bearer" = [])))]
pub async fn get_import(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ImportRecord>> {
    p.require(Permission::Import)?;
    Ok(Json(st.store.get_import(p.workspace_id, id).await?))
}
