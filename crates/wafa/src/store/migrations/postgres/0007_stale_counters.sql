-- Customers whose order counters (orders_count, first/last_order_at) a bulk import has not
-- brought up to date yet. The bulk path adds a customer here in the same transaction as its
-- new orders; `Store::refresh_stale_counters` recounts and removes them in order of id at the
-- end of the import, and at every start, so an import that stopped half-way is finished.
CREATE TABLE customer_counters_stale (
    customer_id BIGINT PRIMARY KEY
);
