-- #19: the lists of names a column may hold (a request's state, a language, ...) are domains,
-- and each column's CHECK casts to its domain. Same rule, same error class (check_violation,
-- 23514), one copy of each list instead of one a table (the languages were in five).
--
-- Why: Postgres re-reads a table's CHECK expressions from their stored text on every INSERT or
-- UPDATE statement (ExecRelCheck parses `pg_constraint.conbin` for each new executor; a
-- prepared statement does not keep it). `state IN (<14 names>)` is 3 KB of node text;
-- refund_requests' seven checks were 8.3 KB, parsed by each of a refund's four statements on
-- it, request_events' 3 KB by each of its inserts. `perf` on Postgres during the closed loop:
-- ExecConstraints 7 % of its CPU, most of it `stringToNode`. A domain's check is parsed once
-- per backend and cached (typcache), so `col::domain` costs about what no check costs: 14-name
-- UPDATE of one row, pgbench, one client, 3 runs each: no check 10,300-11,200/s, `IN` list
-- 8,900-9,100/s, cast to the domain 10,300-11,000/s (docs/PERFORMANCE.md, 27).
--
-- The columns stay `text` (the code binds and reads text); `col::domain = col` is true for a
-- known name, NULL (allowed, as before) for NULL, and raises the domain's check_violation for
-- anything else. The code's own lists are RequestState::ALL, Language::ALL, Reason::ALL;
-- `e2e::pipeline audit::the_database_refuses_names_the_code_does_not_know` checks they agree.
--
-- Each new check is added NOT VALID and then validated: validating takes a lock that lets
-- writes go on, so a large table is not blocked while its rows are checked.

CREATE DOMAIN request_state AS text CONSTRAINT request_state_known CHECK (VALUE IN (
    'received', 'validating', 'needs_info', 'approved', 'awaiting_confirmation',
    'manual_review', 'rejected', 'payout_pending', 'payout_sent', 'refunded',
    'payout_failed', 'needs_bank_details', 'manual_payout', 'withdrawn'));
CREATE DOMAIN language_code AS text CONSTRAINT language_code_known
    CHECK (VALUE IN ('ru', 'kk', 'lv', 'en'));
CREATE DOMAIN refund_reason AS text CONSTRAINT refund_reason_known CHECK (VALUE IN (
    'withdrawal', 'not_delivered', 'force_majeure', 'erroneous_charge',
    'out_of_stock_difference', 'advance_balance'));
CREATE DOMAIN request_channel AS text CONSTRAINT request_channel_known
    CHECK (VALUE IN ('api', 'email'));
CREATE DOMAIN sla_standing AS text CONSTRAINT sla_standing_known
    CHECK (VALUE IN ('on_track', 'at_risk', 'breached', 'paused'));
CREATE DOMAIN payout_status AS text CONSTRAINT payout_status_known
    CHECK (VALUE IN ('started', 'pending', 'succeeded', 'declined', 'unknown'));
CREATE DOMAIN notification_status AS text CONSTRAINT notification_status_known
    CHECK (VALUE IN ('pending', 'sent', 'failed'));

ALTER TABLE refund_requests
    DROP CONSTRAINT refund_requests_state,
    DROP CONSTRAINT refund_requests_language,
    DROP CONSTRAINT refund_requests_reason,
    DROP CONSTRAINT refund_requests_channel_check,
    DROP CONSTRAINT refund_requests_sla_state_check,
    ADD CONSTRAINT refund_requests_state CHECK (state::request_state = state) NOT VALID,
    ADD CONSTRAINT refund_requests_language CHECK (language::language_code = language) NOT VALID,
    ADD CONSTRAINT refund_requests_reason CHECK (reason::refund_reason = reason) NOT VALID,
    ADD CONSTRAINT refund_requests_channel CHECK (channel::request_channel = channel) NOT VALID,
    ADD CONSTRAINT refund_requests_sla_state CHECK (sla_state::sla_standing = sla_state) NOT VALID;
ALTER TABLE refund_requests VALIDATE CONSTRAINT refund_requests_state;
ALTER TABLE refund_requests VALIDATE CONSTRAINT refund_requests_language;
ALTER TABLE refund_requests VALIDATE CONSTRAINT refund_requests_reason;
ALTER TABLE refund_requests VALIDATE CONSTRAINT refund_requests_channel;
ALTER TABLE refund_requests VALIDATE CONSTRAINT refund_requests_sla_state;

ALTER TABLE request_events
    DROP CONSTRAINT request_events_to_state,
    ADD CONSTRAINT request_events_to_state CHECK (to_state::request_state = to_state) NOT VALID;
ALTER TABLE request_events VALIDATE CONSTRAINT request_events_to_state;

ALTER TABLE notifications
    DROP CONSTRAINT notifications_language,
    DROP CONSTRAINT notifications_status_check,
    ADD CONSTRAINT notifications_language CHECK (language::language_code = language) NOT VALID,
    ADD CONSTRAINT notifications_status CHECK (status::notification_status = status) NOT VALID;
ALTER TABLE notifications VALIDATE CONSTRAINT notifications_language;
ALTER TABLE notifications VALIDATE CONSTRAINT notifications_status;

ALTER TABLE payout_attempts
    DROP CONSTRAINT payout_attempts_status_check,
    ADD CONSTRAINT payout_attempts_status CHECK (status::payout_status = status) NOT VALID;
ALTER TABLE payout_attempts VALIDATE CONSTRAINT payout_attempts_status;

ALTER TABLE payments
    DROP CONSTRAINT payments_customer_language,
    ADD CONSTRAINT payments_customer_language
        CHECK (customer_language::language_code = customer_language) NOT VALID;
ALTER TABLE payments VALIDATE CONSTRAINT payments_customer_language;

ALTER TABLE inbound_emails
    DROP CONSTRAINT inbound_emails_language,
    ADD CONSTRAINT inbound_emails_language CHECK (language::language_code = language) NOT VALID;
ALTER TABLE inbound_emails VALIDATE CONSTRAINT inbound_emails_language;

ALTER TABLE sender_confirmations
    DROP CONSTRAINT sender_confirmations_language,
    ADD CONSTRAINT sender_confirmations_language
        CHECK (language::language_code = language) NOT VALID;
ALTER TABLE sender_confirmations VALIDATE CONSTRAINT sender_confirmations_language;
