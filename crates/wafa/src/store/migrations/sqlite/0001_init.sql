-- Wafa schema, SQLite flavour. Keep in step with ../postgres/0001_init.sql: same tables,
-- columns and indexes; only types and auto-increment syntax differ.
-- Conventions: ids are 64-bit integers; timestamps are BIGINT milliseconds since the epoch
-- (UTC); money is BIGINT minor units next to a currency column; booleans are BIGINT 0/1
-- (portable through sqlx::Any); JSON is TEXT.

CREATE TABLE workspaces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    default_currency TEXT NOT NULL,
    default_region TEXT NOT NULL,
    timezone TEXT NOT NULL,
    language TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    name TEXT,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_by BIGINT,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_keys_ws ON api_keys(workspace_id, id);

CREATE TABLE sources (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    platform TEXT NOT NULL,
    name TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX sources_ws ON sources(workspace_id, id);

CREATE TABLE companies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    domain TEXT,
    registration_number TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX companies_ws ON companies(workspace_id, id);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    first_name TEXT,
    last_name TEXT,
    language TEXT,
    birthday TEXT,
    gender TEXT,
    city TEXT,
    country TEXT,
    company_id BIGINT REFERENCES companies(id),
    tags TEXT NOT NULL DEFAULT '[]',
    attributes TEXT NOT NULL DEFAULT '{}',
    consents TEXT NOT NULL DEFAULT '[]',
    orders_count BIGINT NOT NULL DEFAULT 0,
    first_order_at BIGINT,
    last_order_at BIGINT,
    merged_into BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX customers_ws ON customers(workspace_id, id);
CREATE INDEX customers_ws_last_order ON customers(workspace_id, last_order_at);
CREATE INDEX customers_company ON customers(company_id);

-- One row per distinct normalised name word; prefix search walks (workspace_id, term).
CREATE TABLE customer_search_terms (
    workspace_id BIGINT NOT NULL,
    term TEXT NOT NULL,
    customer_id BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, term, customer_id)
) WITHOUT ROWID;
CREATE INDEX customer_search_terms_customer ON customer_search_terms(customer_id);

CREATE TABLE customer_tags (
    workspace_id BIGINT NOT NULL,
    tag TEXT NOT NULL,
    customer_id BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, tag, customer_id)
) WITHOUT ROWID;
CREATE INDEX customer_tags_customer ON customer_tags(customer_id);

-- kind: email | phone | external. source_id is 0 for email/phone (not NULL, so the unique
-- index below applies). A verified identity belongs to at most one customer.
CREATE TABLE identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    source_id BIGINT NOT NULL DEFAULT 0,
    verified BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX identities_verified_unique ON identities(workspace_id, kind, source_id, value) WHERE verified = 1;
CREATE INDEX identities_lookup ON identities(workspace_id, kind, value);
CREATE INDEX identities_customer ON identities(customer_id);

CREATE TABLE products (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    source_id BIGINT NOT NULL DEFAULT 0,
    external_id TEXT,
    sku TEXT,
    title TEXT NOT NULL,
    title_ar TEXT,
    category TEXT,
    price_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    url TEXT,
    image_url TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX products_external ON products(workspace_id, source_id, external_id);
CREATE INDEX products_ws ON products(workspace_id, id);
CREATE INDEX products_sku ON products(workspace_id, sku);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    source_id BIGINT NOT NULL DEFAULT 0,
    external_id TEXT,
    number TEXT,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    payment_method TEXT NOT NULL,
    placed_at BIGINT NOT NULL,
    subtotal_minor BIGINT NOT NULL,
    discount_minor BIGINT NOT NULL,
    shipping_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    refunded_minor BIGINT NOT NULL DEFAULT 0,
    return_reason TEXT,
    city TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX orders_external ON orders(workspace_id, source_id, external_id);
CREATE INDEX orders_ws ON orders(workspace_id, id);
CREATE INDEX orders_customer ON orders(customer_id, placed_at);

CREATE TABLE order_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    workspace_id BIGINT NOT NULL,
    product_id BIGINT,
    sku TEXT,
    title TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL
);
CREATE INDEX order_lines_order ON order_lines(order_id);
CREATE INDEX order_lines_product ON order_lines(workspace_id, product_id);

CREATE TABLE order_status_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    workspace_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    at BIGINT NOT NULL,
    note TEXT,
    reason TEXT
);
CREATE INDEX order_status_history_order ON order_status_history(order_id, at);

CREATE TABLE carts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    customer_id BIGINT,
    source_id BIGINT NOT NULL DEFAULT 0,
    external_id TEXT,
    currency TEXT NOT NULL,
    lines TEXT NOT NULL DEFAULT '[]',
    total_minor BIGINT NOT NULL,
    status TEXT NOT NULL,
    checkout_url TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX carts_external ON carts(workspace_id, source_id, external_id);
CREATE INDEX carts_ws ON carts(workspace_id, id);
CREATE INDEX carts_customer ON carts(customer_id);

CREATE TABLE notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    body TEXT NOT NULL,
    author_user_id BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX notes_customer ON notes(customer_id, id);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    name TEXT NOT NULL,
    properties TEXT NOT NULL DEFAULT '{}',
    occurred_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_customer ON events(customer_id, occurred_at);

-- The unified timeline: one row per thing that happened to a customer, written together with
-- the record it describes. Paginated newest first by (occurred_at, id).
CREATE TABLE timeline (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    ref_id BIGINT,
    summary TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX timeline_customer ON timeline(customer_id, occurred_at, id);

CREATE TABLE merges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL,
    survivor_id BIGINT NOT NULL,
    merged_id BIGINT NOT NULL,
    actor TEXT NOT NULL,
    moved TEXT NOT NULL,
    survivor_before TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    undone_at BIGINT
);
CREATE INDEX merges_ws ON merges(workspace_id, id);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id BIGINT,
    details TEXT NOT NULL DEFAULT '{}',
    at BIGINT NOT NULL
);
CREATE INDEX audit_log_ws ON audit_log(workspace_id, id);

CREATE TABLE imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    file_name TEXT,
    encoding TEXT,
    status TEXT NOT NULL,
    rows_total BIGINT NOT NULL DEFAULT 0,
    rows_created BIGINT NOT NULL DEFAULT 0,
    rows_updated BIGINT NOT NULL DEFAULT 0,
    rows_unchanged BIGINT NOT NULL DEFAULT 0,
    rows_failed BIGINT NOT NULL DEFAULT 0,
    errors TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX imports_ws ON imports(workspace_id, id);
