-- Indexes a bulk order import dropped, to build once when it ends (see
-- `store/deferred_indexes.rs`): the definition to run again. Saved in the transaction that
-- drops the index, so an import that stops half-way leaves a record for the next start.
-- Only SQLite defers indexes; the table exists on both backends to keep the schemas alike.
CREATE TABLE deferred_indexes (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    deferred_at BIGINT NOT NULL
);
