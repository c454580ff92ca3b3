-- Ingestion: what each source sent, stored before it is acknowledged, processed after.

-- Webhook secret (or token) of a store source, and the hash of an events source's write key.
ALTER TABLE sources ADD COLUMN secret TEXT;
ALTER TABLE sources ADD COLUMN write_key_hash TEXT;
CREATE UNIQUE INDEX sources_write_key ON sources(write_key_hash);

-- status: pending (stored, not yet processed), processed, failed (dead letter: kept with the
-- reason, replayable). A delivery is unique per source by the platform's delivery id.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL,
    source_id BIGINT NOT NULL,
    platform TEXT NOT NULL,
    topic TEXT NOT NULL,
    delivery_key TEXT NOT NULL,
    content_key TEXT,
    headers TEXT NOT NULL DEFAULT '[]',
    body BLOB NOT NULL,
    received_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    error_code TEXT,
    error TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    processed_at BIGINT
);
CREATE UNIQUE INDEX deliveries_key ON deliveries(source_id, delivery_key);
CREATE INDEX deliveries_pending ON deliveries(status, next_attempt_at, id);
CREATE INDEX deliveries_source ON deliveries(source_id, id);

-- Counters for what is not stored: refused signatures, oversize bodies, duplicates.
CREATE TABLE source_counters (
    source_id BIGINT NOT NULL,
    counter TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (source_id, counter)
);

-- Behaviour events (Segment spec). customer_id is NULL until an anonymous visitor is
-- identified; message_id makes retries idempotent.
CREATE TABLE track_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL,
    source_id BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    name TEXT,
    customer_id BIGINT,
    user_id TEXT,
    anonymous_id TEXT,
    properties TEXT NOT NULL DEFAULT '{}',
    occurred_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX track_events_message ON track_events(workspace_id, message_id);
CREATE INDEX track_events_customer ON track_events(customer_id, occurred_at);
CREATE INDEX track_events_anonymous ON track_events(workspace_id, anonymous_id);

-- The platform's own last-modified time of an order: older deliveries do not overwrite newer.
ALTER TABLE orders ADD COLUMN source_updated_at BIGINT;

CREATE TABLE reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL,
    source_id BIGINT NOT NULL,
    customer_id BIGINT,
    product_external_id TEXT,
    order_external_id TEXT,
    rating BIGINT NOT NULL,
    body TEXT,
    at BIGINT NOT NULL,
    content_key TEXT NOT NULL
);
CREATE UNIQUE INDEX reviews_key ON reviews(source_id, content_key);
CREATE INDEX reviews_customer ON reviews(customer_id, at);

-- Refunds already applied, by the platform's refund id: a refund counts once however often
-- it is delivered.
CREATE TABLE applied_refunds (
    source_id BIGINT NOT NULL,
    refund_key TEXT NOT NULL,
    PRIMARY KEY (source_id, refund_key)
);
CREATE INDEX deliveries_content ON deliveries(source_id, content_key);
