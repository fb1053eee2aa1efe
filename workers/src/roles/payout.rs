//! The payout stage: refunds the payment's original card through the merchant's gateway.
//! Never twice, never lost:
//! - an attempt row with a unique idempotency key is committed before the gateway is called,
//!   and the key goes to the gateway;
//! - a timeout, 5xx or crash leaves the attempt unknown, and the next delivery first asks the
//!   gateway what happened (`status`) — a refund is re-sent (with the same key) only when the
//!   gateway says it never arrived;
//! - refunds on one payment never sum above what was captured.
//!
//! A refund the policy pays by bank transfer never goes to the gateway: it waits in
//! `manual_payout` (or first `needs_bank_details`) for the finance team.
//!
//! Outcomes: succeeded → refunded; pending → payout_sent, asked again later; declined
//! because the card can no longer take money → needs_bank_details (the customer is asked);
//! other declines → payout_failed, for a person.

use std::collections::HashMap;

use serde_json::json;
use shared::broker::consumer::{Handler, HandlerError};
use shared::gateway::{Gateway, RefundOrder, RefundOutcome};
use shared::lifecycle::RequestState;
use shared::messages::{Stage, WorkMessage};
use shared::money::Money;
use shared::outbox::OutboxMessage;
use shared::payments::{self, Payment};
use shared::payouts::{self, Attempt, AttemptStatus};
use shared::transition::{self, Transition};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::assessment::locked;
use super::validate::to_handler_error;

/// What to ask the gateway, decided under the request's lock.
enum Call {
    Send(Attempt),
    AskStatus(Attempt),
    /// A person asked to retry a declined payout: ask about the declined attempt first (where
    /// the gateway can be asked), and send a new attempt only if the gateway holds no refund.
    Retry(Attempt),
}

pub struct Payout<G: Gateway> {
    pool: PgPool,
    /// The gateway of each merchant, by merchant id.
    gateways: HashMap<String, G>,
}

impl<G: Gateway> Payout<G> {
    pub fn new(pool: PgPool, gateways: HashMap<String, G>) -> Self {
        Self { pool, gateways }
    }
}

fn permanent(message: String) -> HandlerError {
    HandlerError::Permanent(anyhow::anyhow!(message))
}

/// Commits a new attempt for the request's amount, refusing anything that would take the
/// payment's refunds above what was captured.
async fn new_attempt(
    conn: &mut PgConnection,
    request: Uuid,
    payment: &Payment,
    amount_minor: i64,
) -> Result<Attempt, HandlerError> {
    payouts::new_attempt(conn, request, payment, amount_minor)
        .await?
        .map_err(|others| {
            permanent(format!(
                "refund of {} would take refunds on payment {} above the captured {} (already {})",
                Money::from_minor(amount_minor, payment.currency),
                payment.id,
                payment.amount,
                Money::from_minor(others, payment.currency)
            ))
        })
}

/// What the gateway is asked about `attempt` of `payment` for `request`.
fn refund_order<'a>(
    payment: &'a Payment,
    attempt: &'a Attempt,
    request: Uuid,
    other_refs: &'a [String],
) -> RefundOrder<'a> {
    RefundOrder {
        gateway_transaction_id: &payment.gateway_transaction_id,
        amount: Money::from_minor(attempt.amount_minor, payment.currency),
        // Refunds never sum above what was captured, so the whole amount means nothing else
        // was refunded.
        full: attempt.amount_minor == payment.amount.minor(),
        idempotency_key: &attempt.idempotency_key,
        request_key: &attempt.request_key,
        payment_id: payment.id,
        request_id: request,
        gateway_ref: attempt.gateway_ref.as_deref(),
        order_number: payment.order_number.as_deref(),
        paid_at: payment.paid_at,
        attempted_at: attempt.created_at,
        other_refs,
    }
}

impl<G: Gateway + 'static> Handler for Payout<G> {
    /// Settles the message's outbox row when done with it, so the sweeper publishes again only
    /// what was lost or is still going round the retry tiers: in the transaction that ends
    /// the message's work when it succeeds, on its own when it is parked.
    async fn handle(&self, message: WorkMessage) -> Result<(), HandlerError> {
        let id = message.message_id;
        match self.handle_message(message).await {
            Ok(()) => Ok(()),
            failed => {
                shared::outbox::settle_after(&self.pool, id, failed, HandlerError::is_retried).await
            }
        }
    }
}

impl<G: Gateway + 'static> Payout<G> {
    /// Every path that succeeds ends in a transaction that settles the message (`done`).
    async fn handle_message(&self, message: WorkMessage) -> Result<(), HandlerError> {
        let id = message.request_id;
        let message_id = message.message_id;

        // 1. Under the lock: what to do, and the attempt row committed before any call.
        let mut tx = self.pool.begin().await?;
        let record = locked(&mut tx, id).await?;
        let (state, version) = (record.state, record.version);
        let payment_id = record
            .payment_id
            .ok_or_else(|| permanent(format!("request {id} has no payment")))?;
        // One refund decision per payment at a time.
        let payment = payments::lock(&mut tx, payment_id)
            .await?
            .ok_or_else(|| permanent(format!("payment {payment_id} vanished")))?;
        let by_bank_transfer = record
            .stored_decision()
            .is_some_and(|d| d.pays_by_bank_transfer());
        if state == RequestState::Approved && by_bank_transfer {
            // Not a card refund: the finance team pays it by bank transfer.
            let has_details = record.facts["bank_details"]
                .as_str()
                .is_some_and(|d| !d.trim().is_empty());
            // The customer's email (asking for bank details) follows from the new state.
            let (to, why) = if has_details {
                (
                    RequestState::ManualPayout,
                    "the policy pays this refund by bank transfer",
                )
            } else {
                (
                    RequestState::NeedsBankDetails,
                    "the policy pays this refund by bank transfer; the customer is asked for bank details",
                )
            };
            transition::apply(
                &mut tx,
                &Transition {
                    request_id: id,
                    expected_version: version,
                    from: state,
                    to,
                    actor: "worker:payout",
                    reason: Some(why),
                    details: json!({"payout_method": "bank_transfer"}),
                },
                &[],
            )
            .await
            .map_err(to_handler_error)?;
            done(tx, message_id).await?;
            return Ok(());
        }
        let call = match state {
            RequestState::Approved => {
                let amount = record
                    .amount_minor
                    .filter(|a| *a > 0)
                    .ok_or_else(|| permanent(format!("approved request {id} has no amount")))?;
                let attempt = new_attempt(&mut tx, id, &payment, amount).await?;
                transition::apply(
                    &mut tx,
                    &Transition {
                        request_id: id,
                        expected_version: version,
                        from: state,
                        to: RequestState::PayoutPending,
                        actor: "worker:payout",
                        reason: Some("refund sent to the payment gateway"),
                        details: json!({
                            "idempotency_key": attempt.idempotency_key,
                            "amount": Money::from_minor(amount, payment.currency),
                            "gateway": payment.gateway,
                        }),
                    },
                    &[],
                )
                .await
                .map_err(to_handler_error)?;
                Call::Send(attempt)
            }
            RequestState::PayoutPending | RequestState::PayoutSent => {
                match payouts::latest(&mut tx, id).await? {
                    Some(a) if a.status.is_unsettled() => Call::AskStatus(a),
                    // Only a person's retry (`payout_person`) moves a declined payout back
                    // to payout_pending.
                    Some(a)
                        if a.status == AttemptStatus::Declined
                            && state == RequestState::PayoutPending =>
                    {
                        Call::Retry(a)
                    }
                    // Settled already (a redelivered message): nothing to do.
                    _ => {
                        done(tx, message_id).await?;
                        return Ok(());
                    }
                }
            }
            _ => {
                done(tx, message_id).await?;
                return Ok(());
            }
        };
        tx.commit().await?;

        // 2. The gateway call, with no transaction open.
        let gateway = self.gateways.get(&payment.merchant).ok_or_else(|| {
            permanent(format!(
                "no gateway configured for merchant {}",
                payment.merchant
            ))
        })?;
        let attempt = match &call {
            Call::Send(a) | Call::AskStatus(a) | Call::Retry(a) => a.clone(),
        };
        // Only a status call matches refunds by amount (WEBPAY) and needs the payment's other
        // refunds: the first send does without the query.
        let other_refs = match call {
            Call::Send(_) => Vec::new(),
            Call::AskStatus(_) | Call::Retry(_) => {
                let mut conn = self.pool.acquire().await?;
                payouts::other_refs(&mut conn, payment.id, attempt.id).await?
            }
        };
        let order = refund_order(&payment, &attempt, id, &other_refs);
        let outcome = match call {
            Call::Send(_) => gateway.refund(&order).await,
            Call::AskStatus(_) => match gateway.status(&order).await {
                // It never reached the gateway (or the gateway proved it booked nothing):
                // sending it now cannot pay twice. The key stays the attempt's, unless the
                // gateway replays a finished server error for it (`Attempt::resend_key`).
                RefundOutcome::NotFound => {
                    let key = attempt.resend_key();
                    {
                        let mut conn = self.pool.acquire().await?;
                        payouts::mark_sent(&mut conn, attempt.id, &key).await?;
                    }
                    gateway
                        .refund(&RefundOrder {
                            request_key: &key,
                            ..order
                        })
                        .await
                }
                other => other,
            },
            Call::Retry(_) => {
                let ask = gateway.finds_refunds_by_key() || attempt.gateway_ref.is_some();
                let answer = if ask {
                    Some(gateway.status(&order).await)
                } else {
                    // Not findable by our key: the gateway's own decline says it booked nothing.
                    None
                };
                match answer {
                    Some(
                        found @ (RefundOutcome::Succeeded { .. } | RefundOutcome::Pending { .. }),
                    ) => {
                        tracing::warn!(request_id = %id, attempt = attempt.idempotency_key, "the gateway holds a refund for an attempt it declined; recording it");
                        found
                    }
                    Some(RefundOutcome::Unknown { detail, .. }) => {
                        return Err(HandlerError::Transient(anyhow::anyhow!(
                            "retry: the gateway could not say whether it holds a refund for {} ({detail}); asking again later",
                            attempt.idempotency_key
                        )));
                    }
                    Some(RefundOutcome::NotFound | RefundOutcome::Declined { .. }) | None => {
                        return self
                            .send_new_attempt(id, message_id, &attempt, &payment, gateway)
                            .await;
                    }
                }
            }
        };
        tracing::info!(request_id = %id, attempt = attempt.idempotency_key, outcome = outcome.label(), "gateway answered");

        // 3. Record what happened.
        self.record(id, message_id, &attempt, &payment, outcome)
            .await
    }
}

impl<G: Gateway> Payout<G> {
    /// A person's retry after the gateway holds no refund for the declined attempt: a new
    /// attempt (under the payment's cap, the request still as the retry left it), sent once.
    async fn send_new_attempt(
        &self,
        id: Uuid,
        message_id: Uuid,
        declined: &Attempt,
        payment: &Payment,
        gateway: &G,
    ) -> Result<(), HandlerError> {
        let mut tx = self.pool.begin().await?;
        let (state, _) = transition::lock_state(&mut tx, id)
            .await
            .map_err(to_handler_error)?;
        let latest = payouts::latest(&mut tx, id).await?;
        if state != RequestState::PayoutPending
            || latest.as_ref().map(|a| a.id) != Some(declined.id)
        {
            // Another delivery got here first.
            done(tx, message_id).await?;
            return Ok(());
        }
        payments::lock(&mut tx, payment.id).await?;
        let attempt = new_attempt(&mut tx, id, payment, declined.amount_minor).await?;
        transition::record_event(
            &mut tx,
            id,
            "worker:payout",
            Some(state),
            state,
            Some("the gateway holds no refund for the declined attempt; a new refund is sent"),
            &json!({"declined_attempt": declined.idempotency_key, "idempotency_key": attempt.idempotency_key}),
        )
        .await?;
        tx.commit().await?;
        let order = refund_order(payment, &attempt, id, &[]);
        let outcome = gateway.refund(&order).await;
        self.record(id, message_id, &attempt, payment, outcome)
            .await
    }

    async fn record(
        &self,
        id: Uuid,
        message_id: Uuid,
        attempt: &Attempt,
        payment: &Payment,
        outcome: RefundOutcome,
    ) -> Result<(), HandlerError> {
        let mut tx = self.pool.begin().await?;
        let (mut state, version) = transition::lock_state(&mut tx, id)
            .await
            .map_err(to_handler_error)?;
        if !matches!(
            state,
            RequestState::PayoutPending | RequestState::PayoutSent
        ) {
            // Another delivery settled it meanwhile.
            done(tx, message_id).await?;
            return Ok(());
        }
        let (status, gateway_ref, decline) = match &outcome {
            RefundOutcome::Succeeded { gateway_ref } => {
                (AttemptStatus::Succeeded, Some(gateway_ref.clone()), None)
            }
            RefundOutcome::Pending { gateway_ref } => {
                (AttemptStatus::Pending, gateway_ref.clone(), None)
            }
            RefundOutcome::Declined { code, reason } => (
                AttemptStatus::Declined,
                None,
                Some(format!("{code}: {reason}")),
            ),
            RefundOutcome::NotFound | RefundOutcome::Unknown { .. } => {
                (AttemptStatus::Unknown, None, None)
            }
        };
        let server_error = matches!(
            outcome,
            RefundOutcome::Unknown {
                server_error: true,
                ..
            }
        );
        payouts::record_answer(
            &mut tx,
            attempt.id,
            status,
            gateway_ref.as_deref(),
            decline.as_deref(),
            server_error,
        )
        .await?;
        let amount = Money::from_minor(attempt.amount_minor, payment.currency);
        // The moves to make, in order: (to, why, whether the customer hears of it). Each
        // state's email follows from the state (`transition::apply`).
        let mut steps: Vec<(RequestState, String, bool)> = Vec::new();
        let result = match &outcome {
            RefundOutcome::Succeeded { gateway_ref } => {
                if state == RequestState::PayoutPending {
                    steps.push((
                        RequestState::PayoutSent,
                        format!("the gateway booked refund {gateway_ref}"),
                        true,
                    ));
                }
                steps.push((
                    RequestState::Refunded,
                    format!("refunded to the card ({gateway_ref})"),
                    true,
                ));
                Ok(())
            }
            RefundOutcome::Pending { .. } => {
                if state == RequestState::PayoutPending {
                    steps.push((
                        RequestState::PayoutSent,
                        "the gateway accepted the refund and will finish it later".into(),
                        true,
                    ));
                }
                Err(HandlerError::Transient(anyhow::anyhow!(
                    "refund pending at the gateway; asking again later"
                )))
            }
            RefundOutcome::Declined { code, reason } => {
                tracing::warn!(request_id = %id, attempt = attempt.idempotency_key, code = %code, reason, "the gateway declined the refund");
                if code.needs_bank_details() {
                    // Straight on to asking for bank details: that email says it all.
                    steps.push((
                        RequestState::PayoutFailed,
                        format!("the gateway declined: {code} ({reason})"),
                        false,
                    ));
                    steps.push((
                        RequestState::NeedsBankDetails,
                        "the card can no longer receive money; the customer is asked for bank details"
                            .into(),
                        true,
                    ));
                } else {
                    // A person looks at it; the customer hears it is delayed.
                    steps.push((
                        RequestState::PayoutFailed,
                        format!("the gateway declined: {code} ({reason})"),
                        true,
                    ));
                }
                Ok(())
            }
            RefundOutcome::NotFound | RefundOutcome::Unknown { .. } => {
                let detail = match &outcome {
                    RefundOutcome::Unknown { detail, .. } => detail.clone(),
                    _ => "the gateway does not know the refund".into(),
                };
                Err(HandlerError::Transient(anyhow::anyhow!(
                    "refund outcome unknown ({detail}); the gateway will be asked before anything is re-sent"
                )))
            }
        };
        // The moves, written at once (one UPDATE of the row).
        let mut moves = Vec::with_capacity(steps.len());
        for (to, why, told) in &steps {
            moves.push((
                Transition {
                    request_id: id,
                    expected_version: version,
                    from: state,
                    to: *to,
                    actor: "worker:payout",
                    reason: Some(why),
                    details: json!({
                        "idempotency_key": attempt.idempotency_key,
                        "amount": amount,
                    }),
                },
                *told,
            ));
            state = *to;
        }
        if !moves.is_empty() {
            transition::apply_steps(&mut tx, &moves, &[])
                .await
                .map_err(to_handler_error)?;
        }
        if result.is_ok() {
            done(tx, message_id).await?;
        } else {
            tx.commit().await?;
        }
        result
    }
}

/// Commits the transaction that ends a message's work, settling the message in it.
async fn done(mut tx: sqlx::Transaction<'_, sqlx::Postgres>, message_id: Uuid) -> sqlx::Result<()> {
    shared::outbox::settle(&mut *tx, message_id).await?;
    tx.commit().await
}

/// Payouts the retry tiers gave up on: requests in `payout_pending` or `payout_sent` whose
/// latest attempt is still `started`, `unknown` or `pending` and has had no news for
/// `quiet_for` (or that have no attempt at all and entered their state that long ago). Each
/// gets a new payout message, which asks the gateway before anything is sent again (see the
/// module docs): the money is never sent twice, and a lost answer is never left for ever.
/// Returns the requests asked about.
pub async fn recheck_stuck(
    pool: &PgPool,
    quiet_for: std::time::Duration,
) -> sqlx::Result<Vec<Uuid>> {
    let quiet = chrono::Duration::from_std(quiet_for).unwrap_or(chrono::Duration::MAX);
    let cutoff = chrono::Utc::now() - quiet;
    let mut tx = pool.begin().await?;
    let stuck: Vec<Uuid> = sqlx::query_scalar!(
        "SELECT r.id FROM refund_requests r
          LEFT JOIN LATERAL (SELECT status, updated_at FROM payout_attempts a
                              WHERE a.request_id = r.id
                              ORDER BY a.created_at DESC LIMIT 1) a ON true
          WHERE r.state IN ('payout_pending', 'payout_sent') AND r.ended_at IS NULL
            AND CASE WHEN a.status IS NULL
                     THEN (SELECT max(e.at) FROM request_events e
                            WHERE e.request_id = r.id AND e.to_state = r.state) < $1
                     ELSE a.status IN ('started', 'unknown', 'pending') AND a.updated_at < $1
                END
            -- One payout message at a time: while one is open (waiting in a retry tier, or
            -- parked until the sweeper publishes it again) nothing new is queued.
            AND NOT EXISTS (SELECT 1 FROM outbox o
                             WHERE o.routing_key = 'request.payout'
                               AND o.payload->>'request_id' = r.id::text)
          ORDER BY r.id
          LIMIT 500
          FOR UPDATE OF r SKIP LOCKED",
        cutoff
    )
    .fetch_all(&mut *tx)
    .await?;
    if stuck.is_empty() {
        return Ok(stuck);
    }
    let messages: Vec<OutboxMessage> = stuck
        .iter()
        .map(|id| WorkMessage::new(Stage::Payout, *id).into())
        .collect();
    shared::outbox::enqueue(&mut tx, &messages).await?;
    // Counted as news: the next recheck of these is `quiet_for` away, whatever the gateway says.
    payouts::touch_unfinished(&mut tx, &stuck).await?;
    tx.commit().await?;
    Ok(stuck)
}
