-- Predictions per customer (analytics), replaced wholesale on each recompute of a workspace.
CREATE TABLE customer_predictions (
    customer_id BIGINT PRIMARY KEY,
    workspace_id BIGINT NOT NULL,
    model_version TEXT NOT NULL,
    computed_at BIGINT NOT NULL,
    currency TEXT NOT NULL,
    clv_minor BIGINT NOT NULL,
    p_alive_ppm BIGINT NOT NULL,
    expected_orders_90d_milli BIGINT NOT NULL,
    next_order_at BIGINT,
    rfm_recency BIGINT NOT NULL,
    rfm_frequency BIGINT NOT NULL,
    rfm_monetary BIGINT NOT NULL,
    rfm_segment TEXT NOT NULL,
    explanation_en TEXT NOT NULL,
    explanation_ar TEXT NOT NULL
);
CREATE INDEX customer_predictions_ws_segment ON customer_predictions(workspace_id, rfm_segment);
CREATE INDEX customer_predictions_ws_churn ON customer_predictions(workspace_id, p_alive_ppm);

-- The fitted models behind the predictions, one row per (workspace, currency).
CREATE TABLE workspace_models (
    workspace_id BIGINT NOT NULL,
    currency TEXT NOT NULL,
    model_version TEXT NOT NULL,
    computed_at BIGINT NOT NULL,
    customers BIGINT NOT NULL,
    fit TEXT NOT NULL,
    PRIMARY KEY (workspace_id, currency)
);
