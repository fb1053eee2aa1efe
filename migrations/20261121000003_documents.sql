-- Documents: what kind of document the customer sent (identity document, application form,
-- receipt), and the time the request ended, for the retention purge.
ALTER TABLE refund_requests ADD COLUMN ended_at timestamptz;
CREATE INDEX documents_unpurged_idx ON documents (request_id) WHERE purged_at IS NULL;
