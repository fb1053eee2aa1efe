-- #19: each column that holds a name from a list (a state, a language, ...) or an amount that
-- must not be negative is now of its domain's type, and the tables' CHECK constraints that
-- cast to the domains (20261205000600) are gone. Same rules, same error class (check_violation,
-- 23514).
--
-- Why: Postgres reads a table's CHECK constraints from their stored text again on every INSERT
-- or UPDATE statement, plans and compiles each (ExecRelCheck: stringToNode,
-- expression_planner, ExecInitExpr), whether the statement changed the column or not.
-- `perf` on Postgres during the closed loop: ExecConstraints 3 % of all the machine's CPU,
-- about 0.2 ms a refund, four fifths of it reading and planning the checks, not evaluating
-- them. A column of a domain type is checked where a value is written to it, by the
-- domain's check, which each connection reads once and keeps. pgbench, one client, UPDATE of
-- one refund_requests row a transaction: 5,218-5,758/s with the seven checks, 6,421-6,821/s
-- with the columns of their domains and no check (docs/PERFORMANCE.md, 33).
--
-- The code still binds and reads text and integers: a domain column reads as its base type,
-- and a value bound as text or bigint is checked when it is stored. Upgrading rewrites each of
-- these tables once (a column's type changes to a domain with a check), under a lock that
-- stops reads and writes of the table while it runs: on the 2-core machine, 5.7 s for a
-- million requests, 3.2 s for a million audit events.

CREATE DOMAIN row_version AS integer CONSTRAINT row_version_positive CHECK (VALUE > 0);
CREATE DOMAIN minor_units AS bigint CONSTRAINT minor_units_not_negative CHECK (VALUE >= 0);
CREATE DOMAIN positive_minor_units AS bigint
    CONSTRAINT positive_minor_units_positive CHECK (VALUE > 0);

ALTER TABLE refund_requests
    DROP CONSTRAINT refund_requests_state,
    DROP CONSTRAINT refund_requests_language,
    DROP CONSTRAINT refund_requests_reason,
    DROP CONSTRAINT refund_requests_channel,
    DROP CONSTRAINT refund_requests_sla_state,
    DROP CONSTRAINT refund_requests_version_check,
    DROP CONSTRAINT refund_requests_amount_minor_check,
    ALTER COLUMN state TYPE request_state,
    ALTER COLUMN language TYPE language_code,
    ALTER COLUMN reason TYPE refund_reason,
    ALTER COLUMN channel TYPE request_channel,
    ALTER COLUMN sla_state TYPE sla_standing,
    ALTER COLUMN version TYPE row_version,
    ALTER COLUMN amount_minor TYPE minor_units;

-- `from_state` had no check (a state the row was in); it is of the same domain now.
ALTER TABLE request_events
    DROP CONSTRAINT request_events_to_state,
    ALTER COLUMN from_state TYPE request_state,
    ALTER COLUMN to_state TYPE request_state;

-- `notifications_about_check` (what an email is about: a request, an inbound email or a
-- reconciliation) names three columns and stays a table check.
ALTER TABLE notifications
    DROP CONSTRAINT notifications_language,
    DROP CONSTRAINT notifications_status,
    ALTER COLUMN language TYPE language_code,
    ALTER COLUMN status TYPE notification_status;

ALTER TABLE payout_attempts
    DROP CONSTRAINT payout_attempts_status,
    DROP CONSTRAINT payout_attempts_amount_minor_check,
    ALTER COLUMN status TYPE payout_status,
    ALTER COLUMN amount_minor TYPE positive_minor_units;

-- Written once a payment, an inbound email, a confirmation: of their domains all the same, so
-- every column holding one of these names is.
ALTER TABLE payments
    DROP CONSTRAINT payments_customer_language,
    DROP CONSTRAINT payments_amount_minor_check,
    ALTER COLUMN customer_language TYPE language_code,
    ALTER COLUMN amount_minor TYPE positive_minor_units;

ALTER TABLE inbound_emails
    DROP CONSTRAINT inbound_emails_language,
    ALTER COLUMN language TYPE language_code;

ALTER TABLE sender_confirmations
    DROP CONSTRAINT sender_confirmations_language,
    ALTER COLUMN language TYPE language_code;
