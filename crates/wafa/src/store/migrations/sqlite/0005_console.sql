-- The web console: per-user language, password-reset links, and the indexes its screens read
-- through (dashboard ranges over orders, customer list filters and sorts).
ALTER TABLE users ADD COLUMN language TEXT;

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX password_resets_user ON password_resets(user_id, created_at);

-- Covering index: the dashboard's per-day sums are an index-only range scan.
CREATE INDEX orders_ws_dashboard ON orders(workspace_id, currency, placed_at, status, payment_method, total_minor, refunded_minor, customer_id);
CREATE INDEX orders_ws_status ON orders(workspace_id, status, id);
-- No index on customers' order counters: they change with every order, and keeping such
-- an index in step made order imports 3x slower at a million customers (measured).
-- Partial: only merged profiles (few). A full index on merged_into would lure the planner
-- into using it for every "live customers" list and sorting a million rows.
CREATE INDEX customers_ws_merged ON customers(workspace_id, merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX customer_predictions_ws_clv ON customer_predictions(workspace_id, clv_minor);

-- What the analytics screen draws (RFM grid, cohorts, CLV distribution, holdout tracking),
-- computed with the predictions so the page reads one row instead of scanning a million.
CREATE TABLE workspace_insights (
    workspace_id BIGINT NOT NULL,
    currency TEXT NOT NULL,
    computed_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (workspace_id, currency)
);
