-- Lines that name a catalogue product are indexed by it (for product reports and
-- recommendations). Lines imported from files usually name none (a title and a SKU only), and
-- indexing their NULLs cost an index insert per line that no query reads.
DROP INDEX order_lines_product;
CREATE INDEX order_lines_product ON order_lines(workspace_id, product_id) WHERE product_id IS NOT NULL;
