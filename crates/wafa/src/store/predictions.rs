//! Stored predictions: read the revenue log for the analytics, write their results back.
//!
//! Probabilities are stored as integers (parts per million) and expected counts in
//! thousandths, keeping the schema to the BIGINT/TEXT types both backends share.

use super::sql::{insert_rows, Val};
use super::{now_ms, Store};
use crate::error::AppResult;
use sqlx::Row;
use wafa_model::Prediction;

/// One order as the analytics see it.
pub struct RevenueRow {
    pub customer_id: i64,
    pub placed_at: i64,
    pub currency: String,
    pub status: String,
    pub payment_method: String,
    pub total_minor: i64,
    pub refunded_minor: i64,
}

/// A prediction to write (raw numbers).
pub struct NewPrediction {
    pub customer_id: i64,
    pub currency: String,
    pub clv_minor: i64,
    pub p_alive: f64,
    pub expected_orders_90d: f64,
    pub next_order_at: Option<i64>,
    pub rfm: (u8, u8, u8),
    pub rfm_segment: String,
    pub explanation_en: String,
    pub explanation_ar: String,
}

fn from_row(r: &sqlx::any::AnyRow) -> Prediction {
    let p_alive = r.get::<i64, _>("p_alive_ppm") as f64 / 1e6;
    Prediction {
        customer_id: r.get("customer_id"),
        model_version: r.get("model_version"),
        computed_at: wafa_domain::time::format_ms(r.get("computed_at")),
        currency: r.get("currency"),
        clv_minor: r.get("clv_minor"),
        p_alive,
        churn_risk: ((1.0 - p_alive) * 1e6).round() / 1e6,
        expected_orders_90d: r.get::<i64, _>("expected_orders_90d_milli") as f64 / 1e3,
        expected_next_order: r
            .get::<Option<i64>, _>("next_order_at")
            .map(wafa_domain::time::format_ms),
        rfm_recency: r.get("rfm_recency"),
        rfm_frequency: r.get("rfm_frequency"),
        rfm_monetary: r.get("rfm_monetary"),
        rfm_segment: r.get("rfm_segment"),
        explanation_en: r.get("explanation_en"),
        explanation_ar: r.get("explanation_ar"),
    }
}

const COLS: &str = "customer_id, model_version, computed_at, currency, clv_minor, p_alive_ppm, expected_orders_90d_milli, next_order_at, rfm_recency, rfm_frequency, rfm_monetary, rfm_segment, explanation_en, explanation_ar";

impl Store {
    /// Every order of the workspace's live customers, oldest first.
    pub async fn revenue_rows(&self, workspace_id: i64) -> AppResult<Vec<RevenueRow>> {
        let rows = sqlx::query(
            "SELECT o.customer_id, o.placed_at, o.currency, o.status, o.payment_method, o.total_minor, o.refunded_minor FROM orders o \
             JOIN customers c ON c.id = o.customer_id WHERE o.workspace_id = $1 AND c.merged_into IS NULL ORDER BY o.placed_at",
        )
        .bind(workspace_id)
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .iter()
            .map(|r| RevenueRow {
                customer_id: r.get("customer_id"),
                placed_at: r.get("placed_at"),
                currency: r.get("currency"),
                status: r.get("status"),
                payment_method: r.get("payment_method"),
                total_minor: r.get("total_minor"),
                refunded_minor: r.get("refunded_minor"),
            })
            .collect())
    }

    /// Replace the workspace's predictions and fitted models in one transaction.
    pub async fn replace_predictions(
        &self,
        workspace_id: i64,
        model_version: &str,
        predictions: Vec<NewPrediction>,
        models: Vec<(String, i64, String)>,
    ) -> AppResult<()> {
        let now = now_ms();
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM customer_predictions WHERE workspace_id = $1")
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM workspace_models WHERE workspace_id = $1")
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
        let rows = predictions
            .into_iter()
            .map(|p| {
                vec![
                    Val::I(p.customer_id),
                    Val::I(workspace_id),
                    Val::S(model_version.to_owned()),
                    Val::I(now),
                    Val::S(p.currency),
                    Val::I(p.clv_minor),
                    Val::I((p.p_alive.clamp(0.0, 1.0) * 1e6).round() as i64),
                    Val::I((p.expected_orders_90d.max(0.0) * 1e3).round() as i64),
                    Val::NI(p.next_order_at),
                    Val::I(p.rfm.0 as i64),
                    Val::I(p.rfm.1 as i64),
                    Val::I(p.rfm.2 as i64),
                    Val::S(p.rfm_segment),
                    Val::S(p.explanation_en),
                    Val::S(p.explanation_ar),
                ]
            })
            .collect();
        insert_rows(
            &mut tx,
            self.backend,
            "customer_predictions",
            &[
                "customer_id",
                "workspace_id",
                "model_version",
                "computed_at",
                "currency",
                "clv_minor",
                "p_alive_ppm",
                "expected_orders_90d_milli",
                "next_order_at",
                "rfm_recency",
                "rfm_frequency",
                "rfm_monetary",
                "rfm_segment",
                "explanation_en",
                "explanation_ar",
            ],
            rows,
        )
        .await?;
        let models = models
            .into_iter()
            .map(|(cur, n, fit)| {
                vec![
                    Val::I(workspace_id),
                    Val::S(cur),
                    Val::S(model_version.to_owned()),
                    Val::I(now),
                    Val::I(n),
                    Val::S(fit),
                ]
            })
            .collect();
        insert_rows(
            &mut tx,
            self.backend,
            "workspace_models",
            &[
                "workspace_id",
                "currency",
                "model_version",
                "computed_at",
                "customers",
                "fit",
            ],
            models,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn prediction(
        &self,
        workspace_id: i64,
        customer_id: i64,
    ) -> AppResult<Option<Prediction>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM customer_predictions WHERE customer_id = $1 AND workspace_id = $2"
        )))
        .bind(customer_id)
        .bind(workspace_id)
        .fetch_optional(&self.read)
        .await?;
        Ok(r.as_ref().map(from_row))
    }

    /// Customers per RFM segment, and the fitted models.
    pub async fn prediction_overview(
        &self,
        workspace_id: i64,
    ) -> AppResult<(
        Vec<(String, i64)>,
        Vec<(String, i64, String, serde_json::Value)>,
    )> {
        let seg = sqlx::query("SELECT rfm_segment, COUNT(*) AS n FROM customer_predictions WHERE workspace_id = $1 GROUP BY rfm_segment ORDER BY rfm_segment")
            .bind(workspace_id)
            .fetch_all(&self.read)
            .await?;
        let models = sqlx::query("SELECT currency, customers, computed_at, fit FROM workspace_models WHERE workspace_id = $1 ORDER BY currency")
            .bind(workspace_id)
            .fetch_all(&self.read)
            .await?;
        Ok((
            seg.iter()
                .map(|r| (r.get("rfm_segment"), r.get("n")))
                .collect(),
            models
                .iter()
                .map(|r| {
                    (
                        r.get("currency"),
                        r.get("customers"),
                        wafa_domain::time::format_ms(r.get("computed_at")),
                        serde_json::from_str(&r.get::<String, _>("fit")).unwrap_or_default(),
                    )
                })
                .collect(),
        ))
    }
}
