//! Predictions and the analytics overview.

use super::extract::{ApiPath, Auth};
use super::AppState;
use crate::error::{AppError, AppResult};
use crate::predict::{recompute, RecomputeSummary};
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use wafa_domain::{ErrorCode, Permission};
use wafa_model::Prediction;

/// The customer's latest predictions with their explanations.
#[utoipa::path(get, path = "/v1/customers/{id}/predictions", tag = "analytics", params(("id" = i64, Path)),
    responses((status = 200, body = Prediction), (status = 404, description = "no such customer, or no prediction yet")), security(("bearer" = [])))]
pub async fn customer_prediction(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Prediction>> {
    p.require(Permission::CustomersRead)?;
    st.store.customer_exists(p.workspace_id, id).await?;
    st.store
        .prediction(p.workspace_id, id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::new(ErrorCode::NotFound, "no prediction yet: the customer has no paid order, or predictions were not computed yet"))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentCount {
    pub segment: String,
    pub customers: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelInfo {
    pub currency: String,
    pub customers: i64,
    pub computed_at: String,
    /// The fitted purchase and spend models with parameters, notes on any fallback.
    #[schema(value_type = Object)]
    pub fit: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsOverview {
    pub segments: Vec<SegmentCount>,
    pub models: Vec<ModelInfo>,
}

/// Customers per RFM segment and the fitted models behind the predictions.
#[utoipa::path(get, path = "/v1/analytics/overview", tag = "analytics", responses((status = 200, body = AnalyticsOverview)), security(("bearer" = [])))]
pub async fn overview(
    State(st): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<AnalyticsOverview>> {
    p.require(Permission::CustomersRead)?;
    let (segments, models) = st.store.prediction_overview(p.workspace_id).await?;
    Ok(Json(AnalyticsOverview {
        segments: segments
            .into_iter()
            .map(|(segment, customers)| SegmentCount { segment, customers })
            .collect(),
        models: models
            .into_iter()
            .map(|(currency, customers, computed_at, fit)| ModelInfo {
                currency,
                customers,
                computed_at,
                fit,
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Recomputed {
    pub customers: usize,
    pub seconds: f64,
}

/// Recompute the workspace's predictions now (they are also recomputed on a schedule and
/// after imports).
#[utoipa::path(post, path = "/v1/analytics/recompute", tag = "analytics", responses((status = 200, body = Recomputed)), security(("bearer" = [])))]
pub async fn recompute_now(
    State(st): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Recomputed>> {
    p.require(Permission::CustomersWrite)?;
    let RecomputeSummary {
        customers, seconds, ..
    } = recompute(&st.store, p.workspace_id).await?;
    Ok(Json(Recomputed { customers, seconds }))
}

/// The customer's sentiment over time, from every tagged text (notes, messages, reviews).
#[utoipa::path(get, path = "/v1/customers/{id}/sentiment", tag = "analytics", params(("id" = i64, Path)), responses((status = 200, body = crate::store::SentimentTrend)), security(("bearer" = [])))]
pub async fn sentiment(
    State(st): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<crate::store::SentimentTrend>> {
    p.require(Permission::CustomersRead)?;
    st.store.customer_exists(p.workspace_id, id).await?;
    Ok(Json(st.store.sentiment_trend(p.workspace_id, id).await?))
}

#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagInput {
    /// Up to 1 MB of text (Arabic, Arabizi, English, mixed).
    pub text: String,
}

/// Tag a text: language, sentiment (−1 … 1) and e-commerce intent.
#[utoipa::path(post, path = "/v1/text/tag", tag = "analytics", request_body = TagInput, responses((status = 200, body = Object)), security(("bearer" = [])))]
pub async fn tag(
    Auth(_p): Auth,
    super::extract::ApiJson(input): super::extract::ApiJson<TagInput>,
) -> AppResult<Json<serde_json::Value>> {
    Ok(Json(
        serde_json::to_value(wafa_text::tagger().tag(&input.text)).unwrap_or_default(),
    ))
}
