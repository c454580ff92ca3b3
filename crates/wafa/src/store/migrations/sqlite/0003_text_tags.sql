-- Language, sentiment and intent of every inbound text (notes now; messages, reviews and
-- survey comments as they arrive), for per-customer sentiment trends.
CREATE TABLE text_tags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    ref_id BIGINT,
    at BIGINT NOT NULL,
    lang TEXT NOT NULL,
    sentiment TEXT NOT NULL,
    sentiment_milli BIGINT NOT NULL,
    intent TEXT NOT NULL,
    intent_milli BIGINT NOT NULL
);
CREATE INDEX text_tags_customer ON text_tags(customer_id, at);
