//! Products, orders and carts.

use super::customers::Created;
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use super::pagination::{page, PageParams};
use super::AppState;
use crate::error::{AppError, AppResult};
use crate::store::{OrderFilter, OrderWrite, StatusUpdate};
use crate::validate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use wafa_domain::{Currency, OrderStatus, Permission};
use wafa_model::{
    Cart, CartInput, Order, OrderInput, OrderStatusInput, Page, Product, ProductInput,
};

#[utoipa::path(get, path = "/v1/products", tag = "commerce", params(PageParams), responses((status = 200, body = Page<Product>)), security(("bearer" = [])))]
pub async fn list_products(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiQuery(pg): ApiQuery<PageParams>,
) -> AppResult<Json<Page<Product>>> {
    p.require(Permission::ProductsRead)?;
    let limit = pg.limit()?;
    let rows = st
        .store
        .list_products(p.workspace_id, pg.before_id()?, limit + 1)
        .await?;
    Ok(Json(page(rows, limit, |x| vec![x.id])))
}

/// Create a product, or update the one with the same (source, external id).
#[utoipa::path(post, path = "/v1/products", tag = "commerce", request_body = ProductInput, responses((status = 201, body = Product), (status = 200, body = Product)), security(("bearer" = [])))]
pub async fn upsert_product(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<ProductInput>,
) -> AppResult<(StatusCode, Json<Product>)> {
    p.require(Permission::ProductsWrite)?;
    let (_, valid) = validate::product(&input)?;
    let (id, created) = st
        .store
        .upsert_product(p.workspace_id, &p.actor, &valid)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(st.store.get_product(p.workspace_id, id).await?),
    ))
}

#[utoipa::path(get, path = "/v1/products/{id}", tag = "commerce", params(("id" = i64, Path)), responses((status = 200, body = Product)), security(("bearer" = [])))]
pub async fn get_product(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Product>> {
    p.require(Permission::ProductsRead)?;
    Ok(Json(st.store.get_product(p.workspace_id, id).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct OrderQuery {
    pub customer_id: Option<i64>,
    /// placed, paid, fulfilled, shipped, delivered, cancelled, returned, refunded.
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/orders", tag = "commerce", params(OrderQuery), responses((status = 200, body = Page<Order>)), security(("bearer" = [])))]
pub async fn list_orders(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<OrderQuery>,
) -> AppResult<Json<Page<Order>>> {
    p.require(Permission::OrdersRead)?;
    let pg = PageParams {
        cursor: q.cursor,
        limit: q.limit,
    };
    let limit = pg.limit()?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            OrderStatus::parse(s)
                .ok_or_else(|| AppError::validation("status", format!("unknown status {s:?}")))
        })
        .transpose()?;
    let f = OrderFilter {
        customer_id: q.customer_id,
        status,
        before_id: pg.before_id()?,
        limit: limit + 1,
    };
    let rows = st.store.list_orders(p.workspace_id, &f).await?;
    Ok(Json(page(rows, limit, |o| vec![o.id])))
}

/// Record an order. With an `external_id`, sending the same order again returns the first
/// (200) instead of creating a duplicate.
#[utoipa::path(post, path = "/v1/orders", tag = "commerce", request_body = OrderInput, responses((status = 201, body = Order), (status = 200, body = Order, description = "already recorded")), security(("bearer" = [])))]
pub async fn create_order(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<OrderInput>,
) -> AppResult<(StatusCode, Json<Order>)> {
    p.require(Permission::OrdersWrite)?;
    let v = validate::order(&input, crate::store::now_ms())?;
    let w = st.store.create_order(p.workspace_id, &p.actor, &v).await?;
    let status = match w {
        OrderWrite::Created(_) => StatusCode::CREATED,
        OrderWrite::Existing(_) => StatusCode::OK,
    };
    Ok((
        status,
        Json(st.store.get_order(p.workspace_id, w.id()).await?),
    ))
}

#[utoipa::path(get, path = "/v1/orders/{id}", tag = "commerce", params(("id" = i64, Path)), responses((status = 200, body = Order)), security(("bearer" = [])))]
pub async fn get_order(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Order>> {
    p.require(Permission::OrdersRead)?;
    Ok(Json(st.store.get_order(p.workspace_id, id).await?))
}

/// Move an order along its lifecycle (paid, shipped, delivered, cancelled, returned with a
/// reason, refunded in full or in part).
#[utoipa::path(post, path = "/v1/orders/{id}/status", tag = "commerce", params(("id" = i64, Path)), request_body = OrderStatusInput,
    responses((status = 200, body = Order), (status = 409, description = "transition not allowed")), security(("bearer" = [])))]
pub async fn change_status(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<OrderStatusInput>,
) -> AppResult<Json<Order>> {
    p.require(Permission::OrdersWrite)?;
    let to = OrderStatus::parse(&input.status).ok_or_else(|| {
        AppError::validation("status", format!("unknown status {:?}", input.status))
    })?;
    let at = validate::timestamp("at", input.at.as_deref())?.unwrap_or_else(crate::store::now_ms);
    let note = validate::text("note", input.note.as_deref(), 2000)?;
    let update = StatusUpdate {
        to,
        at,
        note: note.as_deref(),
        reason: input.reason.as_deref(),
        refund_minor: input.refund_minor,
    };
    st.store
        .change_order_status(p.workspace_id, &p.actor, id, &update)
        .await?;
    Ok(Json(st.store.get_order(p.workspace_id, id).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct CartQuery {
    /// open, abandoned, converted.
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/carts", tag = "commerce", params(CartQuery), responses((status = 200, body = Page<Cart>)), security(("bearer" = [])))]
pub async fn list_carts(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<CartQuery>,
) -> AppResult<Json<Page<Cart>>> {
    p.require(Permission::CartsRead)?;
    let pg = PageParams {
        cursor: q.cursor,
        limit: q.limit,
    };
    let limit = pg.limit()?;
    let rows = st
        .store
        .list_carts(
            p.workspace_id,
            q.status.as_deref(),
            pg.before_id()?,
            limit + 1,
        )
        .await?;
    Ok(Json(page(rows, limit, |c| vec![c.id])))
}

/// Create or update (by source and external id) a cart.
#[utoipa::path(post, path = "/v1/carts", tag = "commerce", request_body = CartInput, responses((status = 200, body = Created)), security(("bearer" = [])))]
pub async fn upsert_cart(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<CartInput>,
) -> AppResult<Json<Created>> {
    p.require(Permission::CartsWrite)?;
    let currency = Currency::parse(&input.currency)?;
    let lines = validate::order_lines(&input.lines)?;
    let at = validate::timestamp("updated_at", input.updated_at.as_deref())?
        .unwrap_or_else(crate::store::now_ms);
    let id = st
        .store
        .upsert_cart(p.workspace_id, &p.actor, &input, currency, &lines, at)
        .await?;
    Ok(Json(Created { id }))
}

#[utoipa::path(get, path = "/v1/carts/{id}", tag = "commerce", params(("id" = i64, Path)), responses((status = 200, body = Cart)), security(("bearer" = [])))]
pub async fn get_cart(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Cart>> {
    p.require(Permission::CartsRead)?;
    Ok(Json(st.store.get_cart(p.workspace_id, id).await?))
}
