//! Customers, identities, search, notes, events, timeline, merges and companies.

use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use super::pagination::{page, PageParams};
use super::AppState;
use crate::error::{AppError, AppResult};
use crate::store::{CustomerFilter, MergePreview, MergeRecord};
use crate::validate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use wafa_domain::Permission;
use wafa_model::{
    Company, CompanyInput, Customer, CustomerInput, CustomerPatch, CustomerUpsert, EventInput,
    Note, NoteInput, Page, TimelineEntry,
};

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct CustomerQuery {
    /// Name (Arabic or English, any hamza/alef/taa-marbuta spelling), email, phone in any
    /// common format, or external id.
    pub q: Option<String>,
    pub tag: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub company_id: Option<i64>,
    pub source_id: Option<i64>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// List and search customers, newest first.
#[utoipa::path(get, path = "/v1/customers", tag = "customers", params(CustomerQuery), responses((status = 200, body = Page<Customer>)), security(("bearer" = [])))]
pub async fn list_customers(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<CustomerQuery>,
) -> AppResult<Json<Page<Customer>>> {
    p.require(Permission::CustomersRead)?;
    let pg = PageParams {
        cursor: q.cursor.clone(),
        limit: q.limit,
    };
    let limit = pg.limit()?;
    if q.q
        .as_deref()
        .map(|s| s.chars().count() > 200)
        .unwrap_or(false)
    {
        return Err(AppError::validation("q", "at most 200 characters"));
    }
    let f = CustomerFilter {
        q: q.q,
        tag: q.tag,
        city: q.city,
        country: q.country,
        company_id: q.company_id,
        source_id: q.source_id,
        before_id: pg.before_id()?,
        limit: limit + 1,
    };
    let rows = st
        .store
        .list_customers(p.workspace_id, p.region, &f)
        .await?;
    Ok(Json(page(rows, limit, |c| vec![c.id])))
}

/// Create a customer, or resolve to the existing one that has the same external id or
/// verified email/phone (then the given fields are merged into it).
#[utoipa::path(post, path = "/v1/customers", tag = "customers", request_body = CustomerInput,
    responses((status = 201, body = CustomerUpsert, description = "created"), (status = 200, body = CustomerUpsert, description = "resolved to an existing customer"), (status = 409, description = "identities belong to different customers")),
    security(("bearer" = [])))]
pub async fn upsert_customer(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<CustomerInput>,
) -> AppResult<(StatusCode, Json<CustomerUpsert>)> {
    p.require(Permission::CustomersWrite)?;
    let v = validate::customer(&input, p.region, crate::store::now_ms())?;
    let out = st
        .store
        .upsert_customer(p.workspace_id, &p.actor, &v)
        .await?;
    let customer = st
        .store
        .get_customer(p.workspace_id, out.customer_id)
        .await?;
    let status = if out.resolution == "created" {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(CustomerUpsert {
            resolution: out.resolution.to_owned(),
            customer,
        }),
    ))
}

#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)), responses((status = 200, body = Customer), (status = 404)), security(("bearer" = [])))]
pub async fn get_customer(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Customer>> {
    p.require(Permission::CustomersRead)?;
    Ok(Json(st.store.get_customer(p.workspace_id, id).await?))
}

/// Change fields; absent fields stay, `null` clears.
#[utoipa::path(patch, path = "/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)), request_body = CustomerPatch, responses((status = 200, body = Customer)), security(("bearer" = [])))]
pub async fn patch_customer(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<CustomerPatch>,
) -> AppResult<Json<Customer>> {
    p.require(Permission::CustomersWrite)?;
    let v = validate::patch(&input, p.region, crate::store::now_ms())?;
    st.store
        .patch_customer(p.workspace_id, &p.actor, id, v)
        .await?;
    Ok(Json(st.store.get_customer(p.workspace_id, id).await?))
}

/// Everything that happened to the customer, newest first.
#[utoipa::path(get, path = "/v1/customers/{id}/timeline", tag = "customers", params(("id" = i64, Path), PageParams), responses((status = 200, body = Page<TimelineEntry>)), security(("bearer" = [])))]
pub async fn timeline(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(pg): ApiQuery<PageParams>,
) -> AppResult<Json<Page<TimelineEntry>>> {
    p.require(Permission::CustomersRead)?;
    let limit = pg.limit()?;
    st.store.customer_exists(p.workspace_id, id).await?;
    let rows = st
        .store
        .timeline(p.workspace_id, id, pg.before_pair()?, limit + 1)
        .await?;
    let pg = page(rows, limit, |(e, at)| vec![*at, e.id]);
    Ok(Json(Page {
        items: pg.items.into_iter().map(|(e, _)| e).collect(),
        next_cursor: pg.next_cursor,
    }))
}

#[utoipa::path(get, path = "/v1/customers/{id}/notes", tag = "customers", params(("id" = i64, Path), PageParams), responses((status = 200, body = Page<Note>)), security(("bearer" = [])))]
pub async fn list_notes(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(pg): ApiQuery<PageParams>,
) -> AppResult<Json<Page<Note>>> {
    p.require(Permission::CustomersRead)?;
    let limit = pg.limit()?;
    st.store.customer_exists(p.workspace_id, id).await?;
    let rows = st
        .store
        .list_notes(p.workspace_id, id, pg.before_id()?, limit + 1)
        .await?;
    Ok(Json(page(rows, limit, |n| vec![n.id])))
}

#[utoipa::path(post, path = "/v1/customers/{id}/notes", tag = "customers", params(("id" = i64, Path)), request_body = NoteInput, responses((status = 201, body = Note)), security(("bearer" = [])))]
pub async fn add_note(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<NoteInput>,
) -> AppResult<(StatusCode, Json<Note>)> {
    p.require(Permission::NotesWrite)?;
    Ok((
        StatusCode::CREATED,
        Json(
            st.store
                .add_note(p.workspace_id, &p.actor, p.user_id, id, &input.body)
                .await?,
        ),
    ))
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

/// Record an event on the customer's timeline.
#[utoipa::path(post, path = "/v1/customers/{id}/events", tag = "customers", params(("id" = i64, Path)), request_body = EventInput, responses((status = 201, body = Created)), security(("bearer" = [])))]
pub async fn add_event(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<EventInput>,
) -> AppResult<(StatusCode, Json<Created>)> {
    p.require(Permission::CustomersWrite)?;
    let at = validate::timestamp("occurred_at", input.occurred_at.as_deref())?
        .unwrap_or_else(crate::store::now_ms);
    let id = st
        .store
        .add_event(
            p.workspace_id,
            &p.actor,
            id,
            &input.name,
            &input.properties,
            at,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PreviewQuery {
    /// The customer that would be merged into this one.
    pub other_id: i64,
}

/// What merging `other_id` into this customer would do, and whether consents conflict.
#[utoipa::path(get, path = "/v1/customers/{id}/merge-preview", tag = "customers", params(("id" = i64, Path), PreviewQuery), responses((status = 200, body = MergePreview)), security(("bearer" = [])))]
pub async fn merge_preview(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<PreviewQuery>,
) -> AppResult<Json<MergePreview>> {
    p.require(Permission::CustomersRead)?;
    Ok(Json(
        st.store
            .merge_preview(p.workspace_id, id, q.other_id, &Map::new())
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    /// The customer to merge into this one; it is kept, marked `merged_into`.
    pub other_id: i64,
    /// Required where consents conflict: channel → `granted` | `revoked` | `unknown`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub consent_resolution: Map<String, Value>,
}

/// Merge another customer into this one. Undo with `POST /v1/merges/{id}/undo`.
#[utoipa::path(post, path = "/v1/customers/{id}/merge", tag = "customers", params(("id" = i64, Path)), request_body = MergeInput,
    responses((status = 201, body = MergeRecord), (status = 409, description = "consent conflict or already merged")), security(("bearer" = [])))]
pub async fn merge(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<MergeInput>,
) -> AppResult<(StatusCode, Json<MergeRecord>)> {
    p.require(Permission::CustomersMerge)?;
    Ok((
        StatusCode::CREATED,
        Json(
            st.store
                .merge_customers(
                    p.workspace_id,
                    &p.actor,
                    id,
                    input.other_id,
                    &input.consent_resolution,
                )
                .await?,
        ),
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct MergeQuery {
    pub customer_id: Option<i64>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/merges", tag = "customers", params(MergeQuery), responses((status = 200, body = Page<MergeRecord>)), security(("bearer" = [])))]
pub async fn list_merges(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<MergeQuery>,
) -> AppResult<Json<Page<MergeRecord>>> {
    p.require(Permission::CustomersRead)?;
    let pg = PageParams {
        cursor: q.cursor,
        limit: q.limit,
    };
    let limit = pg.limit()?;
    let rows = st
        .store
        .list_merges(p.workspace_id, q.customer_id, pg.before_id()?, limit + 1)
        .await?;
    Ok(Json(page(rows, limit, |m| vec![m.id])))
}

/// Undo a merge: the rows that moved go back and the survivor's profile is restored.
#[utoipa::path(post, path = "/v1/merges/{id}/undo", tag = "customers", params(("id" = i64, Path)), responses((status = 200, body = MergeRecord), (status = 409, description = "not undoable")), security(("bearer" = [])))]
pub async fn undo_merge(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<MergeRecord>> {
    p.require(Permission::CustomersMerge)?;
    Ok(Json(
        st.store.undo_merge(p.workspace_id, &p.actor, id).await?,
    ))
}

#[utoipa::path(get, path = "/v1/companies", tag = "customers", params(PageParams), responses((status = 200, body = Page<Company>)), security(("bearer" = [])))]
pub async fn list_companies(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiQuery(pg): ApiQuery<PageParams>,
) -> AppResult<Json<Page<Company>>> {
    p.require(Permission::CustomersRead)?;
    let limit = pg.limit()?;
    let rows = st
        .store
        .list_companies(p.workspace_id, pg.before_id()?, limit + 1)
        .await?;
    Ok(Json(page(rows, limit, |c| vec![c.id])))
}

/// A B2B buyer; link contacts with a customer's `company_id`.
#[utoipa::path(post, path = "/v1/companies", tag = "customers", request_body = CompanyInput, responses((status = 201, body = Company)), security(("bearer" = [])))]
pub async fn create_company(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<CompanyInput>,
) -> AppResult<(StatusCode, Json<Company>)> {
    p.require(Permission::CustomersWrite)?;
    Ok((
        StatusCode::CREATED,
        Json(
            st.store
                .create_company(p.workspace_id, &p.actor, &input)
                .await?,
        ),
    ))
}

#[utoipa::path(get, path = "/v1/companies/{id}", tag = "customers", params(("id" = i64, Path)), responses((status = 200, body = Company)), security(("bearer" = [])))]
pub async fn get_company(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Company>> {
    p.require(Permission::CustomersRead)?;
    Ok(Json(st.store.get_company(p.workspace_id, id).await?))
}
