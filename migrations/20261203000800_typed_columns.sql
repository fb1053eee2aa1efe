-- Every text column that holds one of a fixed set of names says which: a state, a language
-- or a reason the code does not know can no longer be stored (the code's own lists:
-- RequestState::ALL, Language::ALL, Reason::ALL; `e2e::pipeline audit::the_database_refuses_
-- names_the_code_does_not_know` checks they agree).
ALTER TABLE refund_requests
    ADD CONSTRAINT refund_requests_state CHECK (state IN (
        'received', 'validating', 'needs_info', 'approved', 'awaiting_confirmation',
        'manual_review', 'rejected', 'payout_pending', 'payout_sent', 'refunded',
        'payout_failed', 'needs_bank_details', 'manual_payout', 'withdrawn')),
    ADD CONSTRAINT refund_requests_language CHECK (language IN ('ru', 'kk', 'lv', 'en')),
    ADD CONSTRAINT refund_requests_reason CHECK (reason IN (
        'withdrawal', 'not_delivered', 'force_majeure', 'erroneous_charge',
        'out_of_stock_difference', 'advance_balance'));

ALTER TABLE request_events
    ADD CONSTRAINT request_events_to_state CHECK (to_state IN (
        'received', 'validating', 'needs_info', 'approved', 'awaiting_confirmation',
        'manual_review', 'rejected', 'payout_pending', 'payout_sent', 'refunded',
        'payout_failed', 'needs_bank_details', 'manual_payout', 'withdrawn'));

ALTER TABLE payments
    ADD CONSTRAINT payments_customer_language CHECK (customer_language IN ('ru', 'kk', 'lv', 'en'));

ALTER TABLE notifications
    ADD CONSTRAINT notifications_language CHECK (language IN ('ru', 'kk', 'lv', 'en'));

ALTER TABLE inbound_emails
    ADD CONSTRAINT inbound_emails_language CHECK (language IN ('ru', 'kk', 'lv', 'en'));

ALTER TABLE sender_confirmations
    ADD CONSTRAINT sender_confirmations_language CHECK (language IN ('ru', 'kk', 'lv', 'en'));
