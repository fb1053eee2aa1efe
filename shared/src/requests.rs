//! Refund requests as stored: creating one (with its first audit event and outbox rows in the
//! same transaction), reading one with its history, and listing them page by page.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::lifecycle::RequestState;
use crate::outbox::{self, OutboxMessage};
use crate::transition;

/// How an application reached us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Api,
    Email,
}

impl Channel {
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
    pub id: Uuid,
    pub payment_id: Option<Uuid>,
    pub merchant: Option<String>,
    pub channel: Channel,
    pub reason: Option<String>,
    pub facts: Value,
    pub policy_id: Option<String>,
    pub currency: Option<String>,
    pub received_at: DateTime<Utc>,
    pub contact_email: Option<String>,
    pub language: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
}

/// A stored request.
#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    pub id: Uuid,
    pub payment_id: Option<Uuid>,
    pub merchant: Option<String>,
    pub state: String,
    pub version: i32,
    pub channel: String,
    pub reason: Option<String>,
    pub facts: Value,
    pub policy_id: Option<String>,
    pub policy_version: Option<String>,
    pub decision: Option<Value>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub received_at: DateTime<Utc>,
    pub complete_at: Option<DateTime<Utc>>,
    pub due_on: Option<NaiveDate>,
    pub contact_email: Option<String>,
    pub language: Option<String>,
    pub request_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `on_track`, `at_risk`, `breached` or `paused`, once the request has a due date.
    pub sla_state: Option<String>,
}

impl RequestRecord {
    /// The stored decision, read as its type (`None` when there is none yet).
    pub fn stored_decision(&self) -> Option<crate::policy::StoredDecision> {
        self.decision
            .as_ref()
            .and_then(crate::policy::StoredDecision::read)
    }

    pub fn state(&self) -> RequestState {
        self.state
            .parse()
            .expect("states in the database are valid")
    }
}

/// One audit event.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub from: Option<String>,
    pub to: String,
    pub reason: Option<String>,
    pub details: Value,
}

/// Inserts a request in `received` with its first audit event and `messages`.
pub async fn create(
    conn: &mut PgConnection,
    r: &NewRequest,
    actor: &str,
    messages: &[OutboxMessage],
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO refund_requests (id, payment_id, merchant, state, channel, reason, facts,
                                        policy_id, currency, received_at, contact_email, language,
                                        idempotency_key, request_hash)
           VALUES ($1, $2, $3, 'received', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"#,
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
    .execute(&mut *conn)
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
    outbox::enqueue(conn, messages).await
}

pub async fn find(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<RequestRecord>> {
    sqlx::query_as!(
        RequestRecord,
        r#"SELECT id, payment_id, merchant, state, version, channel, reason, facts, policy_id,
                  policy_version, decision, amount_minor, currency AS "currency?: String",
                  received_at, complete_at, due_on, contact_email, language, request_hash,
                  created_at, updated_at, sla_state
             FROM refund_requests WHERE id = $1"#,
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
        r#"SELECT id, payment_id, merchant, state, version, channel, reason, facts, policy_id,
                  policy_version, decision, amount_minor, currency AS "currency?: String",
                  received_at, complete_at, due_on, contact_email, language, request_hash,
                  created_at, updated_at, sla_state
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
        r#"SELECT id, payment_id, merchant, state, version, channel, reason, facts, policy_id,
                  policy_version, decision, amount_minor, currency AS "currency?: String",
                  received_at, complete_at, due_on, contact_email, language, request_hash,
                  created_at, updated_at, sla_state
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
    pub due_on: Option<NaiveDate>,
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
        r#"SELECT id, payment_id, merchant, state, version, channel, reason, facts, policy_id,
                  policy_version, decision, amount_minor, currency AS "currency?: String",
                  received_at, complete_at, due_on, contact_email, language, request_hash,
                  created_at, updated_at, sla_state
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

pub async fn history(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Vec<Event>> {
    sqlx::query_as!(
        Event,
        r#"SELECT at, actor, from_state AS "from", to_state AS "to", reason, details
             FROM request_events WHERE request_id = $1 ORDER BY id"#,
        id
    )
    .fetch_all(conn)
    .await
}

/// Key under which the contact's name is kept with a request's facts.
pub const CUSTOMER_NAME: &str = "customer_name";

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
    use crate::policy::{DateOrTimestamp, PaymentInput, QuoteInput, Reason};
    let reason: Reason = serde_json::from_value(Value::String(
        record.reason.clone().ok_or("the request has no reason")?,
    ))
    .map_err(|e| format!("reason: {e}"))?;
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
