//! Refund requests as stored: creating one (with its first audit event and outbox rows in the
//! same transaction), reading one with its history, and listing them page by page.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::language::Language;
use crate::lifecycle::RequestState;
use crate::outbox::{self, OutboxMessage};
use crate::policy::Reason;
use crate::sla::SlaState;
use crate::transition;

/// How an application reached us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Submitted through the HTTP API.
    Api,
    /// Taken in from an email by the intake.
    Email,
}

impl Channel {
    /// The channel's name as stored with the request: `api` or `email`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Api => "api",
            Channel::Email => "email",
        }
    }
}

/// A new application, checked by the caller.
#[derive(Clone, Debug)]
pub struct NewRequest {
    /// The new request's id.
    pub id: Uuid,
    /// The payment to refund; `None` for an email not yet matched to one.
    pub payment_id: Option<Uuid>,
    /// The payment's merchant, when the payment is known.
    pub merchant: Option<String>,
    /// How the application reached us.
    pub channel: Channel,
    /// The refund reason's name, when known.
    pub reason: Option<String>,
    /// The facts stated with the application, as a JSON object.
    pub facts: Value,
    /// The payment's policy pack, when the payment is known.
    pub policy_id: Option<String>,
    /// The payment's currency code, when the payment is known.
    pub currency: Option<String>,
    /// When the application reached us.
    pub received_at: DateTime<Utc>,
    /// The address our emails about the request go to.
    pub contact_email: Option<String>,
    /// The code of the language to write to the customer in.
    pub language: Option<String>,
    /// The API caller's `Idempotency-Key`, scoped to its key id; `None` for emails.
    pub idempotency_key: Option<String>,
    /// A hash of the API request body, to tell a replayed key from a reused one.
    pub request_hash: Option<String>,
}

/// A stored request.
#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    /// The request's id.
    pub id: Uuid,
    /// The payment it asks to refund; `None` until an emailed application is matched to one.
    pub payment_id: Option<Uuid>,
    /// The merchant's id, once the payment is known.
    pub merchant: Option<String>,
    /// Where the request is in its lifecycle.
    pub state: RequestState,
    /// Raised by every state change; a move applies only at the version it expects.
    pub version: i32,
    /// How the application reached us: `api` or `email`.
    pub channel: String,
    /// The refund reason, once known.
    pub reason: Option<Reason>,
    /// The stated facts as a JSON object; the contact's name is kept here too, under
    /// [`CUSTOMER_NAME`].
    pub facts: Value,
    /// The policy pack the request falls under, once the payment is known.
    pub policy_id: Option<String>,
    /// The version of the pack that made the decision.
    pub policy_version: Option<String>,
    /// The stored decision as JSON; [`RequestRecord::stored_decision`] reads it.
    pub decision: Option<Value>,
    /// The refund amount in integer minor units of `currency`, once decided or approved.
    pub amount_minor: Option<i64>,
    /// The payment's currency code, once the payment is known.
    pub currency: Option<String>,
    /// When the application reached us.
    pub received_at: DateTime<Utc>,
    /// When the last required item arrived; the SLA counts from here.
    pub complete_at: Option<DateTime<Utc>>,
    /// The merchant-local date the request is due by; a wait on the customer moves it later.
    pub due_on: Option<NaiveDate>,
    /// The address our emails about the request go to.
    pub contact_email: Option<String>,
    /// The language to write to the customer in.
    pub language: Option<Language>,
    /// A hash of the API request body that created it, to tell a replayed key from a reused one.
    pub request_hash: Option<String>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the state last changed or a payment was tied to the request.
    pub updated_at: DateTime<Utc>,
    /// `on_track`, `at_risk`, `breached` or `paused`, once the request has a due date.
    pub sla_state: Option<SlaState>,
}

impl RequestRecord {
    /// The stored decision, read as its type (`None` when there is none yet).
    pub fn stored_decision(&self) -> Option<crate::policy::StoredDecision> {
        self.decision
            .as_ref()
            .and_then(crate::policy::StoredDecision::read)
    }

    /// The request's lifecycle state.
    pub fn state(&self) -> RequestState {
        self.state
    }
}

/// One audit event.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it: a worker role, an API key's name, or the customer.
    pub actor: String,
    /// The state before; `None` for the event that created the request.
    pub from: Option<String>,
    /// The state after.
    pub to: String,
    /// Why, in words, when given.
    pub reason: Option<String>,
    /// Further details as JSON.
    pub details: Value,
}

/// Inserts a request in `received` with its first audit event and `messages`, and, with
/// `received_email`, the customer's `received` email (its `notifications` row, sent when due
/// as a move's email is: `notifications::queue_for_move`). Returns the row as stored (read by
/// the INSERT itself).
pub async fn create(
    conn: &mut PgConnection,
    r: &NewRequest,
    actor: &str,
    messages: &[OutboxMessage],
    received_email: bool,
) -> sqlx::Result<RequestRecord> {
    let record = sqlx::query_as!(
        RequestRecord,
        r#"INSERT INTO refund_requests (id, payment_id, merchant, state, channel, reason, facts,
                                        policy_id, currency, received_at, contact_email, language,
                                        idempotency_key, request_hash)
           VALUES ($1, $2, $3, 'received', $4::text, $5::text, $6, $7, $8, $9, $10, $11::text, $12, $13)
        RETURNING id, payment_id, merchant, state AS "state: RequestState", version, channel,
                  reason AS "reason: Reason", facts, policy_id, policy_version, decision,
                  amount_minor, currency AS "currency?: String", received_at, complete_at,
                  due_on, contact_email, language AS "language: Language", request_hash,
                  created_at, updated_at, sla_state AS "sla_state: SlaState""#,
        r.id,
        r.payment_id,
        r.merchant,
        r.channel.as_str(),
        r.reason,
        r.facts,
        r.policy_id,
        r.currency,
        r.received_at,
        r.contact_email,
        r.language,
        r.idempotency_key,
        r.request_hash
    )
    .fetch_one(&mut *conn)
    .await?;
    transition::record_event(
        conn,
        r.id,
        actor,
        None,
        RequestState::Received,
        Some("application received"),
        &serde_json::json!({"channel": r.channel.as_str()}),
    )
    .await?;
    if received_email {
        crate::notifications::queue_for_move(conn, r.id, "received").await?;
    }
    outbox::enqueue(conn, messages).await?;
    Ok(record)
}

/// The request with this id, if any.
pub async fn find(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<RequestRecord>> {
    sqlx::query_as!(
        RequestRecord,
        r#"SELECT id, payment_id, merchant, state AS "state: RequestState", version, channel,
                  reason AS "reason: Reason", facts, policy_id, policy_version, decision,
                  amount_minor, currency AS "currency?: String", received_at, complete_at,
                  due_on, contact_email, language AS "language: Language", request_hash,
                  created_at, updated_at, sla_state AS "sla_state: SlaState"
             FROM refund_requests WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// The request with this id and its payment (when it has one), read by one statement.
pub async fn find_with_payment(
    conn: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<(RequestRecord, Option<crate::payments::Payment>)>> {
    Ok(find_many_with_payment(conn, &[id]).await?.remove(&id))
}

/// [`find_with_payment`] for several requests, by one statement: those that exist, by id.
pub async fn find_many_with_payment(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> sqlx::Result<std::collections::HashMap<Uuid, (RequestRecord, Option<crate::payments::Payment>)>>
{
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let rows = sqlx::query!(
        r#"SELECT r.id, r.payment_id, r.merchant, r.state AS "state: RequestState", r.version,
                  r.channel, r.reason AS "reason: Reason", r.facts, r.policy_id, r.policy_version,
                  r.decision, r.amount_minor, r.currency AS "currency?: String", r.received_at,
                  r.complete_at, r.due_on, r.contact_email, r.language AS "language: Language",
                  r.request_hash, r.created_at, r.updated_at, r.sla_state AS "sla_state: SlaState",
                  p.id AS "p_id?", p.merchant AS "p_merchant?", p.policy_id AS "p_policy_id?",
                  p.gateway AS "p_gateway?", p.gateway_txn_id AS "p_gateway_txn_id?",
                  p.amount_minor AS "p_amount_minor?", p.currency AS "p_currency?",
                  p.paid_at AS "p_paid_at?", p.card_brand AS p_card_brand,
                  p.card_last4 AS "p_card_last4?", p.cardholder_name AS p_cardholder_name,
                  p.customer_email AS p_customer_email,
                  p.customer_language AS p_customer_language, p.order_number AS p_order_number
             FROM refund_requests r LEFT JOIN payments p ON p.id = r.payment_id
            WHERE r.id = ANY($1)"#,
        ids
    )
    .fetch_all(conn)
    .await?;
    let mut found = std::collections::HashMap::with_capacity(rows.len());
    for r in rows {
        let payment = match (
            r.p_id,
            r.p_merchant,
            r.p_policy_id,
            r.p_gateway,
            r.p_gateway_txn_id,
            r.p_amount_minor,
            r.p_currency,
            r.p_paid_at,
        ) {
            (
                Some(id),
                Some(merchant),
                Some(policy_id),
                Some(gateway),
                Some(gateway_txn_id),
                Some(amount_minor),
                Some(currency),
                Some(paid_at),
            ) => Some(crate::payments::Payment::try_from(crate::payments::Row {
                id,
                merchant,
                policy_id,
                gateway,
                gateway_txn_id,
                amount_minor,
                currency,
                paid_at,
                card_brand: r.p_card_brand,
                card_last4: r.p_card_last4,
                cardholder_name: r.p_cardholder_name,
                customer_email: r.p_customer_email,
                customer_language: r.p_customer_language,
                order_number: r.p_order_number,
            })?),
            _ => None,
        };
        let record = RequestRecord {
            id: r.id,
            payment_id: r.payment_id,
            merchant: r.merchant,
            state: r.state,
            version: r.version,
            channel: r.channel,
            reason: r.reason,
            facts: r.facts,
            policy_id: r.policy_id,
            policy_version: r.policy_version,
            decision: r.decision,
            amount_minor: r.amount_minor,
            currency: r.currency,
            received_at: r.received_at,
            complete_at: r.complete_at,
            due_on: r.due_on,
            contact_email: r.contact_email,
            language: r.language,
            request_hash: r.request_hash,
            created_at: r.created_at,
            updated_at: r.updated_at,
            sla_state: r.sla_state,
        };
        found.insert(record.id, (record, payment));
    }
    Ok(found)
}

/// The request with this id, locked for the rest of the transaction (the row is read as it
/// is locked: one statement), if any.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<RequestRecord>> {
    sqlx::query_as!(
        RequestRecord,
        r#"SELECT id, payment_id, merchant, state AS "state: RequestState", version, channel,
                  reason AS "reason: Reason", facts, policy_id, policy_version, decision,
                  amount_minor, currency AS "currency?: String", received_at, complete_at,
                  due_on, contact_email, language AS "language: Language", request_hash,
                  created_at, updated_at, sla_state AS "sla_state: SlaState"
             FROM refund_requests WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// The request holding an idempotency key, if any.
pub async fn find_by_idempotency_key(
    conn: &mut PgConnection,
    key: &str,
) -> sqlx::Result<Option<RequestRecord>> {
    sqlx::query_as!(
        RequestRecord,
        r#"SELECT id, payment_id, merchant, state AS "state: RequestState", version, channel,
                  reason AS "reason: Reason", facts, policy_id, policy_version, decision,
                  amount_minor, currency AS "currency?: String", received_at, complete_at,
                  due_on, contact_email, language AS "language: Language", request_hash,
                  created_at, updated_at, sla_state AS "sla_state: SlaState"
             FROM refund_requests WHERE idempotency_key = $1"#,
        key
    )
    .fetch_optional(conn)
    .await
}

/// Newest first, after `before` (the last id of the previous page).
pub async fn list(
    conn: &mut PgConnection,
    state: Option<&str>,
    merchant: Option<&str>,
    sla: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<RequestRecord>> {
    sqlx::query_as!(
        RequestRecord,
        r#"SELECT id, payment_id, merchant, state AS "state: RequestState", version, channel,
                  reason AS "reason: Reason", facts, policy_id, policy_version, decision,
                  amount_minor, currency AS "currency?: String", received_at, complete_at,
                  due_on, contact_email, language AS "language: Language", request_hash,
                  created_at, updated_at, sla_state AS "sla_state: SlaState"
             FROM refund_requests
            WHERE ($1::text IS NULL OR state = $1)
              AND ($2::text IS NULL OR merchant = $2)
              AND ($3::uuid IS NULL OR id < $3)
              AND ($5::text IS NULL OR (sla_state = $5 AND ended_at IS NULL))
            ORDER BY id DESC
            LIMIT $4"#,
        state,
        merchant,
        before,
        limit,
        sla
    )
    .fetch_all(conn)
    .await
}

/// Where a page ordered by due date ends: the last request's due date (none when it has
/// none) and id. The next page starts strictly after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DueCursor {
    /// The last request's due date; `None` when it had none.
    pub due_on: Option<NaiveDate>,
    /// The last request's id.
    pub id: Uuid,
}

/// Earliest due date first, requests without a due date last, ties by id; after `after` (the
/// last request of the previous page). Filters as in [`list`].
pub async fn list_by_due_date(
    conn: &mut PgConnection,
    state: Option<&str>,
    merchant: Option<&str>,
    sla: Option<&str>,
    after: Option<DueCursor>,
    limit: i64,
) -> sqlx::Result<Vec<RequestRecord>> {
    let (after_due, after_id) = match after {
        Some(c) => (c.due_on, Some(c.id)),
        None => (None, None),
    };
    sqlx::query_as!(
        RequestRecord,
        r#"SELECT id, payment_id, merchant, state AS "state: RequestState", version, channel,
                  reason AS "reason: Reason", facts, policy_id, policy_version, decision,
                  amount_minor, currency AS "currency?: String", received_at, complete_at,
                  due_on, contact_email, language AS "language: Language", request_hash,
                  created_at, updated_at, sla_state AS "sla_state: SlaState"
             FROM refund_requests
            WHERE ($1::text IS NULL OR state = $1)
              AND ($2::text IS NULL OR merchant = $2)
              AND ($3::text IS NULL OR (sla_state = $3 AND ended_at IS NULL))
              AND ($4::uuid IS NULL
                   OR ($5::date IS NOT NULL
                       AND (due_on > $5 OR (due_on = $5 AND id > $4) OR due_on IS NULL))
                   OR ($5::date IS NULL AND due_on IS NULL AND id > $4))
            ORDER BY due_on ASC NULLS LAST, id ASC
            LIMIT $6"#,
        state,
        merchant,
        sla,
        after_id,
        after_due,
        limit
    )
    .fetch_all(conn)
    .await
}

/// The request's history, oldest first: its audit events, and an `email sent: <event>` entry
/// (by `worker:notify`, in the state the request was in) for each email sent about it. The
/// emails are read from `notifications`, which records each one once, so the notify stage
/// writes no audit event of its own for them (three rows a refund fewer); each comes right
/// after the event that was the latest when it was sent.
pub async fn history(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Vec<Event>> {
    sqlx::query_as!(
        Event,
        r#"SELECT at AS "at!", actor AS "actor!", from_state AS "from", to_state AS "to!",
                  reason, details AS "details!"
             FROM (SELECT e.at, e.actor, e.from_state, e.to_state, e.reason, e.details,
                          e.id AS after, 0 AS source
                     FROM request_events e WHERE e.request_id = $1
                   UNION ALL
                   SELECT n.sent_at, 'worker:notify', coalesce(s.to_state, 'received'),
                          coalesce(s.to_state, 'received'), 'email sent: ' || n.event,
                          jsonb_build_object('event', n.event, 'seq', n.seq,
                                             'message_id', n.email_message_id, 'status', 'sent'),
                          coalesce(s.id, 0), 1
                     FROM notifications n
                     LEFT JOIN LATERAL (SELECT x.id, x.to_state FROM request_events x
                                         WHERE x.request_id = n.request_id AND x.at <= n.sent_at
                                         ORDER BY x.id DESC LIMIT 1) s ON true
                    WHERE n.request_id = $1 AND n.status = 'sent' AND n.sent_at IS NOT NULL) h
            ORDER BY after, source, at"#,
        id
    )
    .fetch_all(conn)
    .await
}

/// Key under which the contact's name is kept with a request's facts.
pub const CUSTOMER_NAME: &str = "customer_name";

/// What a request's identity document is checked against: the payer's name (the card's
/// holder, else the customer's name as given) and the day the request was received in the
/// merchant's time zone (a document must not have expired by then).
pub fn identity_expectation(
    record: &RequestRecord,
    payment: Option<&crate::payments::Payment>,
    packs: &crate::policy::PolicyPacks,
) -> crate::identity::Expectation {
    let zone = packs.timezone_of(payment.map(|p| p.policy.as_str()));
    crate::identity::Expectation {
        name: payment
            .and_then(|p| p.cardholder_name.clone())
            .or_else(|| record.facts[CUSTOMER_NAME].as_str().map(str::to_owned)),
        on: Some(record.received_at.with_timezone(&zone).date_naive()),
    }
}

/// The policy facts of a stored request (the contact's name travels with the facts but is
/// not a policy fact).
pub fn policy_facts(record: &RequestRecord) -> Result<crate::policy::Facts, String> {
    let mut facts = record.facts.clone();
    if let Some(map) = facts.as_object_mut() {
        map.remove(CUSTOMER_NAME);
    }
    serde_json::from_value(facts).map_err(|e| format!("facts: {e}"))
}

/// The policy engine's input for a stored request: its payment, dates, reason and facts.
/// `refunded` is what other requests have already committed on the same payment.
pub fn quote_input(
    record: &RequestRecord,
    payment: &crate::payments::Payment,
    refunded: crate::money::Money,
    documents: Vec<crate::policy::DocumentKind>,
) -> Result<crate::policy::QuoteInput, String> {
    use crate::money::DecimalAmount;
    use crate::policy::{DateOrTimestamp, PaymentInput, QuoteInput};
    let reason = record.reason.ok_or("the request has no reason")?;
    let facts = policy_facts(record)?;
    let amount = |m: crate::money::Money| {
        DecimalAmount::parse(&m.amount_text()).map_err(|e| format!("amount: {e}"))
    };
    let at = |t: DateTime<Utc>| DateOrTimestamp::Timestamp(t.fixed_offset());
    Ok(QuoteInput {
        policy: payment.policy.clone(),
        payment: PaymentInput {
            amount: amount(payment.amount)?,
            currency: payment.currency,
            paid_at: at(payment.paid_at),
            refunded: (refunded.minor() > 0)
                .then(|| amount(refunded))
                .transpose()?,
        },
        received_at: at(record.received_at),
        complete_at: record.complete_at.map(at),
        reason,
        facts,
        documents,
    })
}

// ---------- Writes: this module is the only code that writes `refund_requests` ----------
//
// The state and version change only through `transition::apply` (which calls `move_state`);
// everything else a request holds is written here, by the functions below, in the caller's
// transaction and under the caller's row lock (`transition::lock_state`).

/// Moves a request from `from` to `to` if it is still at `expected_version` in `from`, as
/// `moves` moves (a chain written at once counts each in the version): the new version and
/// whether its merchant takes webhooks (`merchant_webhooks`), or `None` when the row has
/// moved on (or does not exist). Only `transition` calls it, after checking every move is
/// legal.
pub(crate) async fn move_state(
    conn: &mut PgConnection,
    id: Uuid,
    expected_version: i32,
    from: RequestState,
    to: RequestState,
    moves: i32,
    decided: Option<&Decided<'_>>,
) -> sqlx::Result<Option<(i32, bool)>> {
    let decision = decided.map(|d| d.decision.to_value());
    let moved = sqlx::query!(
        r#"UPDATE refund_requests r
              SET state = $1::text, version = version + $6, updated_at = now(),
                  ended_at = CASE WHEN $5 THEN now() ELSE NULL END,
                  sweeps = 0, swept_at = NULL,
                  decision = CASE WHEN $7 THEN $8 ELSE decision END,
                  policy_id = CASE WHEN $7 THEN $9 ELSE policy_id END,
                  policy_version = CASE WHEN $7 THEN $10 ELSE policy_version END,
                  amount_minor = CASE WHEN $7 THEN $11 ELSE amount_minor END,
                  due_on = CASE WHEN $7 THEN $12 ELSE due_on END,
                  complete_at = CASE WHEN $7 THEN COALESCE($13, complete_at, received_at)
                                     ELSE complete_at END
            WHERE id = $2 AND version = $3 AND state = $4
        RETURNING version,
                  EXISTS (SELECT 1 FROM merchant_webhooks w WHERE w.merchant = r.merchant)
                      AS "webhook!""#,
        to.as_str(),
        id,
        expected_version,
        from.as_str(),
        to.is_final(),
        moves,
        decided.is_some(),
        decision,
        decided.and_then(|d| d.decision.policy.as_deref()),
        decided.and_then(|d| d.decision.policy_version.as_deref()),
        decided.and_then(|d| d.amount_minor),
        decided.and_then(|d| d.due_on),
        decided.and_then(|d| d.complete_at),
    )
    .fetch_optional(conn)
    .await?;
    Ok(moved.map(|m| (m.version, m.webhook)))
}

/// Replaces the request's facts (already merged and checked by the caller).
pub async fn replace_facts(conn: &mut PgConnection, id: Uuid, facts: &Value) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE refund_requests SET facts = $2 WHERE id = $1",
        id,
        facts
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Adds `facts` (a JSON object) to the request's facts, replacing those of the same name.
pub async fn add_facts(conn: &mut PgConnection, id: Uuid, facts: &Value) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE refund_requests SET facts = facts || $2 WHERE id = $1",
        id,
        facts
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The reason, when the request had none (an email that gave it later).
pub async fn set_reason(
    conn: &mut PgConnection,
    id: Uuid,
    reason: crate::policy::Reason,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE refund_requests SET reason = $2::text WHERE id = $1",
        id,
        reason.name()
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Ties a request opened without a payment to `payment`, and to its merchant, policy and
/// currency.
pub async fn set_payment(
    conn: &mut PgConnection,
    id: Uuid,
    payment: &crate::payments::Payment,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE refund_requests
            SET payment_id = $2, merchant = $3, policy_id = $4, currency = $5, updated_at = now()
          WHERE id = $1",
        id,
        payment.id,
        &payment.merchant,
        &payment.policy,
        payment.currency.code()
    )
    .execute(conn)
    .await
    .map(drop)
}

/// How the intake read the email that opened the request.
pub async fn set_email_reading(
    conn: &mut PgConnection,
    id: Uuid,
    reading: &Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE refund_requests SET email_reading = $2 WHERE id = $1",
        id,
        reading
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The engine's decision, stored by the UPDATE of the move it causes
/// (`transition::apply_steps_deciding`): its policy, amount and due date, and when the
/// request became complete (the SLA counts from there): `complete_at` when given (the
/// validate stage's date of the last required item), else as stored, else its received date.
#[derive(Clone, Copy, Debug)]
pub struct Decided<'a> {
    /// The decision as stored (its policy and version are written to their columns too).
    pub decision: &'a crate::policy::StoredDecision,
    /// The refund amount in minor units, when the decision names one.
    pub amount_minor: Option<i64>,
    /// The date the refund is due by (written as is, `None` too).
    pub due_on: Option<NaiveDate>,
    /// When the last required item arrived.
    pub complete_at: Option<DateTime<Utc>>,
}

/// What validation waits for or hands to a person; `due_on`, when given, dates it.
pub async fn record_waiting(
    conn: &mut PgConnection,
    id: Uuid,
    decision: &crate::policy::StoredDecision,
    due_on: Option<NaiveDate>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE refund_requests SET decision = $2, due_on = COALESCE($3, due_on) WHERE id = $1",
        id,
        decision.to_value(),
        due_on
    )
    .execute(conn)
    .await
    .map(drop)
}

/// A person's approval: the amount, the due date, and the engine's decision when it
/// decided again (else the stored one stays).
pub async fn record_approval(
    conn: &mut PgConnection,
    id: Uuid,
    amount_minor: i64,
    due_on: Option<NaiveDate>,
    decision: Option<&crate::policy::StoredDecision>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE refund_requests
            SET amount_minor = $2::bigint, due_on = $3, decision = COALESCE($4, decision)
          WHERE id = $1",
        id,
        amount_minor,
        due_on,
        decision.map(crate::policy::StoredDecision::to_value)
    )
    .execute(conn)
    .await
    .map(drop)
}

/// A new due date (the SLA clock paused while the request waited on the customer).
pub async fn set_due_on(conn: &mut PgConnection, id: Uuid, due_on: NaiveDate) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE refund_requests SET due_on = $2 WHERE id = $1",
        id,
        due_on
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The SLA state the monitor found, only if nobody changed it meanwhile (another monitor,
/// or the request moved on from `state`): whether it was written.
pub async fn set_sla_state(
    conn: &mut PgConnection,
    id: Uuid,
    state: RequestState,
    old: Option<&str>,
    new: &str,
) -> sqlx::Result<bool> {
    let updated = sqlx::query!(
        "UPDATE refund_requests SET sla_state = $2::text, sla_checked_at = now()
          WHERE id = $1 AND state = $3 AND sla_state IS NOT DISTINCT FROM $4",
        id,
        new,
        state.as_str(),
        old
    )
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// How a wait on the customer moved a request's due date (kept in the audit event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DueExtension {
    /// The due date before the wait.
    pub from: NaiveDate,
    /// The due date after it.
    pub to: NaiveDate,
    /// The working days the wait took, added to the due date.
    pub paused_working_days: u32,
    /// The day the wait began, in the pack's time zone.
    pub paused_on: NaiveDate,
    /// The day the request went on, in the pack's time zone.
    pub resumed_on: NaiveDate,
}

/// Why a due date could not be moved after a wait.
#[derive(Debug, thiserror::Error)]
pub enum ExtendError {
    /// A database error.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The working-day calendar could not count the days (e.g. a year it has no data for).
    #[error(transparent)]
    Calendar(#[from] crate::calendar::CalendarError),
}

/// The clock stops while a decided request waits on the customer (in `waiting`, e.g. for bank
/// details): when it goes on at `now`, its due date moves later by the working days the wait
/// took, counted in the pack's zone and calendar (see [`crate::sla::due_after_pause`]).
/// Returns what changed, for the audit event; `None` when the request has no due date, never
/// waited, or the wait took no working day.
pub async fn extend_due_after_pause(
    conn: &mut PgConnection,
    record: &RequestRecord,
    waiting: RequestState,
    pack: &crate::policy::PolicyPack,
    calendar: &crate::calendar::WorkingDayCalendar,
    now: DateTime<Utc>,
) -> Result<Option<DueExtension>, ExtendError> {
    let Some(due) = record.due_on else {
        return Ok(None);
    };
    let since: Option<DateTime<Utc>> = sqlx::query_scalar!(
        "SELECT max(at) FROM request_events
          WHERE request_id = $1 AND to_state = $2 AND from_state IS DISTINCT FROM $2",
        record.id,
        waiting.as_str()
    )
    .fetch_one(&mut *conn)
    .await?;
    let Some(since) = since else {
        return Ok(None);
    };
    let zone = pack.timezone();
    let paused_on = since.with_timezone(&zone).date_naive();
    let resumed_on = now.with_timezone(&zone).date_naive();
    let (new_due, added) = crate::sla::due_after_pause(due, paused_on, resumed_on, calendar)?;
    if added == 0 {
        return Ok(None);
    }
    set_due_on(conn, record.id, new_due).await?;
    tracing::info!(request_id = %record.id, from = %due, to = %new_due, added, "due date extended after the wait on the customer");
    Ok(Some(DueExtension {
        from: due,
        to: new_due,
        paused_working_days: added,
        paused_on,
        resumed_on,
    }))
}

/// A request the sweeper found with no progress: its id, state and how many times it was
/// swept before in this state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stalled {
    /// The request's id.
    pub id: Uuid,
    /// The state it has been in since `updated_at`.
    pub state: RequestState,
    /// Sweeps before this one, in this state.
    pub sweeps: i32,
}

/// Requests in one of `states` unchanged for longer than `stall_after` (seconds), whose last
/// sweep is further back than `stall_after · 2^sweeps` (at most 64 times): the ones to sweep
/// now. Locked (skipping those another sweeper holds) for the rest of the transaction.
pub async fn stalled(
    conn: &mut PgConnection,
    states: &[RequestState],
    stall_after_seconds: f64,
    limit: i64,
) -> sqlx::Result<Vec<Stalled>> {
    let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    sqlx::query_as!(
        Stalled,
        r#"SELECT id, state AS "state: RequestState", sweeps
             FROM refund_requests
            WHERE state = ANY($1)
              -- Open requests only (`refund_requests_open_idx`): the swept states all are.
              AND ended_at IS NULL
              AND updated_at < now() - make_interval(secs => $2)
              AND (swept_at IS NULL
                   OR swept_at < now() - make_interval(secs => $2 * power(2, least(sweeps, 6))))
              -- A payout message still open is the message sweep's (outbox::open_stalled).
              AND NOT EXISTS (SELECT 1 FROM outbox o
                               WHERE o.routing_key = 'request.payout'
                                 AND o.payload->>'request_id' = refund_requests.id::text)
            ORDER BY updated_at
            LIMIT $3
              FOR UPDATE SKIP LOCKED"#,
        &states as &[&str],
        stall_after_seconds,
        limit
    )
    .fetch_all(conn)
    .await
}

/// The request's state, if it exists.
pub async fn state_of(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<RequestState>> {
    sqlx::query_scalar!(
        r#"SELECT state AS "state: RequestState" FROM refund_requests WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// Counts a sweep of each of `ids` (the backoff and the escalation read the count).
pub async fn record_sweeps(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE refund_requests SET sweeps = sweeps + 1, swept_at = now() WHERE id = ANY($1)",
        ids
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Those of `ids` with nothing left to do: in a final state, or not existing (a message about
/// them changes nothing). One query for all of them.
pub async fn over_among(
    pool: &sqlx::PgPool,
    ids: &[Uuid],
) -> sqlx::Result<std::collections::HashSet<Uuid>> {
    let final_states: Vec<&str> = RequestState::ALL
        .iter()
        .filter(|s| s.is_final())
        .map(|s| s.as_str())
        .collect();
    let open: std::collections::HashSet<Uuid> = sqlx::query_scalar!(
        "SELECT id FROM refund_requests WHERE id = ANY($1) AND NOT (state = ANY($2))",
        ids,
        &final_states as &[&str]
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    Ok(ids
        .iter()
        .copied()
        .filter(|id| !open.contains(id))
        .collect())
}
