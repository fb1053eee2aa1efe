//! What a person (a supervisor, through the API or the CLI) can do with a payout the system
//! cannot finish alone: a refund the gateway declined (`payout_failed`), or one whose outcome
//! the gateway cannot tell us (an attempt left `unknown`). Every action is audited with who
//! and why, and the customer's email follows from the state it leads to.
//!
//! - **Retry**: the gateway is asked again before anything is sent. From `payout_failed` the
//!   request goes back to `payout_pending` and the payout stage asks the gateway whether it
//!   holds a refund for the declined attempt (where it can be asked: by our key, or by the
//!   refund's id); a new attempt is sent only when it holds none. For an `unknown` attempt the
//!   payout stage asks at once instead of at the next recheck, and re-sends only when the
//!   gateway says it never arrived.
//! - **Record a refund made outside the system** (in the gateway's cabinet, by the bank):
//!   the gateway's reference is required; the attempt is recorded as booked under it and the
//!   request is `refunded` (the customer is told).
//! - **Switch to bank transfer**, only after a decline (nothing was booked): the request asks
//!   the customer for bank details, or goes straight to `manual_payout` when they are given.
//!
//! [`needing_person`] lists what waits on a person (`GET /v1/payouts?needs=person`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::lifecycle::RequestState;
use crate::messages::{Stage, WorkMessage};
use crate::money::{Currency, Money};
use crate::outbox;
use crate::payments;
use crate::payouts::{self, AttemptStatus};
use crate::requests::RequestRecord;
use crate::transition::{self, Transition, TransitionError};

/// How long an attempt must have been `unknown` (or `started`) without news before a person
/// is asked to look at it; younger ones are the payout stage's retry tiers' business.
pub const UNKNOWN_FOR_A_PERSON_AFTER: chrono::Duration = chrono::Duration::minutes(15);

/// An action a person takes on a payout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Ask the gateway again and send a new refund only if it holds none.
    Retry,
    /// The refund was made outside the system under this gateway reference.
    RecordExternal {
        /// The gateway's (or bank's) reference of the refund.
        reference: String,
    },
    /// Pay by bank transfer instead of to the card.
    BankTransfer {
        /// The customer's IBAN (and bank), when already known.
        bank_details: Option<String>,
        /// The account holder, when given with the bank details.
        account_holder: Option<String>,
    },
}

impl Action {
    /// The action's name in the audit and in refusals (`retry`, `record-external`,
    /// `bank-transfer`).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Retry => "retry",
            Action::RecordExternal { .. } => "record-external",
            Action::BankTransfer { .. } => "bank-transfer",
        }
    }
}

/// Why an action was refused, in words for the person who asked.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The request is not in a state (or its attempt not in a status) the action applies to.
    #[error("cannot {action}: {why}")]
    NotNow {
        /// The action's name.
        action: &'static str,
        /// What stands in the way and what to do instead.
        why: String,
    },
    /// A field is missing or wrong.
    #[error("{field}: {problem}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong and what to give.
        problem: String,
    },
    /// The request moved meanwhile, or the database failed.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What an action did, in words, and the state the request is now in.
#[derive(Clone, Debug, Serialize)]
pub struct Done {
    /// The request's state after the action.
    pub state: RequestState,
    /// What happened and what happens next.
    pub message: String,
}

/// Applies `action` to the request `record`, locked by the caller at `version`, as `actor`
/// for `why`. The caller commits.
pub async fn apply(
    conn: &mut PgConnection,
    record: &RequestRecord,
    version: i32,
    actor: &str,
    why: &str,
    action: &Action,
) -> Result<Done, Refusal> {
    let why = why.trim();
    if why.is_empty() {
        return Err(Refusal::Field {
            field: "reason",
            problem: "say why, for the request's history".into(),
        });
    }
    let state = record.state;
    let latest = payouts::latest(conn, record.id).await?;
    let not_now = |why: String| Refusal::NotNow {
        action: action.name(),
        why,
    };
    let unsettled = latest.as_ref().is_some_and(|a| a.status.is_unsettled());
    let declined = state == RequestState::PayoutFailed
        && latest
            .as_ref()
            .is_some_and(|a| a.status == AttemptStatus::Declined);
    let in_flight = matches!(
        state,
        RequestState::PayoutPending | RequestState::PayoutSent
    ) && unsettled;
    let step = |to: RequestState, reason: String| (to, reason);
    match action {
        Action::Retry => {
            if declined {
                let attempt = latest.expect("checked above");
                let reason = format!(
                    "retry requested: {why}; the gateway is asked about {} before a new refund is sent",
                    attempt.idempotency_key
                );
                move_to(
                    conn,
                    record,
                    version,
                    actor,
                    &[step(RequestState::PayoutPending, reason)],
                    json!({"action": "retry", "declined_attempt": attempt.idempotency_key}),
                    &[WorkMessage::new(Stage::Payout, record.id).into()],
                )
                .await?;
                return Ok(Done {
                    state: RequestState::PayoutPending,
                    message: format!(
                        "The payout stage asks the gateway whether it holds a refund for attempt {}; it sends a new refund only if the gateway holds none, and the customer hears when the money is sent.",
                        attempt.idempotency_key
                    ),
                });
            }
            if in_flight {
                let attempt = latest.expect("checked above");
                transition::record_event(
                    conn,
                    record.id,
                    actor,
                    Some(state),
                    state,
                    Some(&format!("retry requested: {why}; the gateway is asked now")),
                    &json!({"action": "retry", "attempt": attempt.idempotency_key}),
                )
                .await?;
                if !outbox::payout_open(conn, record.id).await? {
                    outbox::enqueue(conn, &[WorkMessage::new(Stage::Payout, record.id).into()])
                        .await?;
                }
                return Ok(Done {
                    state,
                    message: format!(
                        "The payout stage asks the gateway about attempt {} now. It sends the refund again only if the gateway says it never arrived; if the gateway cannot say ({}), look the refund up in the gateway's cabinet and record it with record-external.",
                        attempt.idempotency_key,
                        "Robokassa, or CloudPayments an hour after the send"
                    ),
                });
            }
            Err(not_now(format!(
                "the request is {state}{}; only a declined payout (payout_failed) or one whose outcome is unknown can be retried",
                attempt_note(latest.as_ref())
            )))
        }
        Action::RecordExternal { reference } => {
            let reference = reference.trim();
            if reference.is_empty() || reference.chars().count() > 200 {
                return Err(Refusal::Field {
                    field: "gateway_reference",
                    problem: "give the gateway's reference of the refund (one line, up to 200 characters)".into(),
                });
            }
            if !(declined || in_flight) {
                return Err(not_now(format!(
                    "the request is {state}{}; a refund made outside the system is recorded only for a declined payout or one whose outcome is unknown",
                    attempt_note(latest.as_ref())
                )));
            }
            let attempt = latest.expect("checked above");
            let payment_id = record
                .payment_id
                .ok_or_else(|| not_now("the request has no payment".into()))?;
            let payment = payments::lock(conn, payment_id)
                .await?
                .ok_or_else(|| not_now("the request's payment vanished".into()))?;
            if in_flight {
                payouts::record_answer(
                    conn,
                    attempt.id,
                    AttemptStatus::Succeeded,
                    Some(reference),
                    None,
                    false,
                )
                .await?;
            } else {
                // The declined attempt stays declined; the refund made outside is its own
                // row, under the same cap as any refund of the payment.
                payouts::record_external(conn, record.id, &payment, attempt.amount_minor, reference)
                    .await?
                    .map_err(|others| {
                        not_now(format!(
                            "recording {} would take refunds on the payment above the captured {} (already {})",
                            Money::from_minor(attempt.amount_minor, payment.currency),
                            payment.amount,
                            Money::from_minor(others, payment.currency)
                        ))
                    })?;
            }
            move_to(
                conn,
                record,
                version,
                actor,
                &[step(
                    RequestState::Refunded,
                    format!("refunded outside the system ({reference}): {why}"),
                )],
                json!({"action": "record-external", "gateway_reference": reference,
                       "attempt": attempt.idempotency_key}),
                &[],
            )
            .await?;
            Ok(Done {
                state: RequestState::Refunded,
                message: format!(
                    "Recorded as refunded under {reference}; the customer is told the money was sent."
                ),
            })
        }
        Action::BankTransfer {
            bank_details,
            account_holder,
        } => {
            if !declined {
                return Err(not_now(format!(
                    "the request is {state}{}; only a payout the gateway declined can switch to bank transfer (while the outcome is unknown the card refund may have been booked: retry first)",
                    attempt_note(latest.as_ref())
                )));
            }
            let details = bank_details
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty());
            if let Some(d) = details
                && d.chars().count() < 8
            {
                return Err(Refusal::Field {
                    field: "bank_details",
                    problem: "give the IBAN (and bank) to send the money to".into(),
                });
            }
            let mut steps = vec![step(
                RequestState::NeedsBankDetails,
                format!("switched to bank transfer: {why}"),
            )];
            if let Some(d) = details {
                let mut facts = json!({"bank_details": d});
                if let Some(holder) = account_holder.as_deref().map(str::trim)
                    && !holder.is_empty()
                {
                    facts["account_holder"] = json!(holder);
                }
                crate::requests::add_facts(conn, record.id, &facts).await?;
                steps.push(step(
                    RequestState::ManualPayout,
                    "bank details given; to be paid by bank transfer".into(),
                ));
            }
            let to = steps.last().expect("one step at least").0;
            // With the details known the customer has nothing to give: no request for them.
            move_to(
                conn,
                record,
                version,
                actor,
                &steps,
                json!({"action": "bank-transfer"}),
                &[],
            )
            .await?;
            Ok(Done {
                state: to,
                message: if to == RequestState::ManualPayout {
                    "Switched to bank transfer with the details given; the refund waits in the manual payouts for the finance team.".into()
                } else {
                    "Switched to bank transfer; the customer is asked for bank details, and the refund goes to the manual payouts when they arrive.".into()
                },
            })
        }
    }
}

fn attempt_note(attempt: Option<&payouts::Attempt>) -> String {
    match attempt {
        Some(a) => format!(" and its latest payout attempt is {}", a.status.as_str()),
        None => " with no payout attempt".into(),
    }
}

/// Applies `steps` in order; only the last one emails the customer (the earlier ones are
/// passed through on the way).
async fn move_to(
    conn: &mut PgConnection,
    record: &RequestRecord,
    version: i32,
    actor: &str,
    steps: &[(RequestState, String)],
    details: serde_json::Value,
    messages: &[outbox::OutboxMessage],
) -> Result<(), Refusal> {
    let (mut from, mut version) = (record.state, version);
    for (i, (to, reason)) in steps.iter().enumerate() {
        let t = Transition {
            request_id: record.id,
            expected_version: version,
            from,
            to: *to,
            actor,
            reason: Some(reason),
            details: details.clone(),
        };
        let last = i + 1 == steps.len();
        let messages = if last { messages } else { &[] };
        version = if last {
            transition::apply(conn, &t, messages).await?
        } else {
            transition::apply_without_email(conn, &t, messages).await?
        };
        from = *to;
    }
    Ok(())
}

/// One payout waiting on a person.
#[derive(Clone, Debug, Serialize)]
pub struct Waiting {
    /// The request.
    pub request_id: Uuid,
    /// Its merchant.
    pub merchant: Option<String>,
    /// Its state.
    pub state: RequestState,
    /// The refund amount as decimal text.
    pub amount: Option<String>,
    /// Its currency.
    pub currency: Option<String>,
    /// The gateway of the payment.
    pub gateway: Option<String>,
    /// The latest attempt's key, status, gateway reference and decline.
    pub attempt: Option<String>,
    /// The latest attempt's status.
    pub attempt_status: Option<String>,
    /// The gateway's reference, when it gave one.
    pub gateway_ref: Option<String>,
    /// Why the gateway declined, as it said.
    pub decline_reason: Option<String>,
    /// Since when it waits (the last news of the attempt, or entering the state).
    pub since: DateTime<Utc>,
    /// Why it needs a person, in words.
    pub why: String,
    /// The actions that apply (`retry`, `record-external`, `bank-transfer`, `mark-paid`).
    pub actions: Vec<&'static str>,
}

/// Everything waiting on a person to finish its payout, oldest first, of one merchant or
/// (`None`) of all (or only request `request`): declined payouts, attempts unknown for longer than
/// [`UNKNOWN_FOR_A_PERSON_AFTER`], and manual payouts to pay by bank transfer.
pub async fn needing_person(
    conn: &mut PgConnection,
    merchant: Option<&str>,
    request: Option<Uuid>,
) -> sqlx::Result<Vec<Waiting>> {
    let cutoff = Utc::now() - UNKNOWN_FOR_A_PERSON_AFTER;
    let rows = sqlx::query!(
        r#"SELECT r.id, r.merchant, r.state AS "state: RequestState", r.amount_minor,
                  r.currency::text AS currency, p.gateway AS "gateway?",
                  a.idempotency_key AS "key?", a.status AS "status?", a.gateway_ref,
                  a.decline_reason, coalesce(a.updated_at, r.updated_at) AS "since!"
             FROM refund_requests r
             LEFT JOIN payments p ON p.id = r.payment_id
             LEFT JOIN LATERAL (SELECT idempotency_key, status, gateway_ref, decline_reason,
                                       updated_at
                                  FROM payout_attempts x WHERE x.request_id = r.id
                                 ORDER BY x.created_at DESC, x.id DESC LIMIT 1) a ON true
            WHERE ($1::text IS NULL OR r.merchant = $1)
              AND ($3::uuid IS NULL OR r.id = $3)
              AND r.ended_at IS NULL
              AND (r.state IN ('payout_failed', 'manual_payout')
                   OR (r.state IN ('payout_pending', 'payout_sent')
                       AND a.status IN ('unknown', 'started') AND a.updated_at < $2))
            ORDER BY 11, r.id"#,
        merchant,
        cutoff,
        request
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let (why, actions): (String, Vec<&'static str>) = match r.state {
                RequestState::PayoutFailed => (
                    format!(
                        "the gateway declined the refund{}",
                        r.decline_reason
                            .as_deref()
                            .map(|d| format!(" ({d})"))
                            .unwrap_or_default()
                    ),
                    vec!["retry", "record-external", "bank-transfer"],
                ),
                RequestState::ManualPayout => (
                    "to pay by bank transfer, then mark paid".into(),
                    vec!["mark-paid"],
                ),
                _ => (
                    "the gateway's answer was lost and it has not told us the outcome since".into(),
                    vec!["retry", "record-external"],
                ),
            };
            let currency = r
                .currency
                .as_deref()
                .and_then(|c| c.parse::<Currency>().ok());
            Waiting {
                request_id: r.id,
                merchant: r.merchant,
                state: r.state,
                amount: r
                    .amount_minor
                    .zip(currency)
                    .map(|(m, c)| Money::from_minor(m, c).amount_text()),
                currency: r.currency,
                gateway: r.gateway,
                attempt: r.key,
                attempt_status: r.status,
                gateway_ref: r.gateway_ref,
                decline_reason: r.decline_reason,
                since: r.since,
                why,
                actions,
            }
        })
        .collect())
}
