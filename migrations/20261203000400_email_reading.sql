-- What was read from the customer's email that opened a request: the reason (if one), whether
-- the reading is certain by the reader's stated rule, the doubts, the evidence (the phrases)
-- and the facts the customer stated. The decide stage pays or refuses such a request
-- automatically only on a certain reading (workers/src/roles/guess.rs); support and the audit
-- see why.
ALTER TABLE refund_requests ADD COLUMN email_reading jsonb;
