//! Applying a lifecycle transition to a stored request: the new state, an audit event and the
//! outbox rows, in the caller's transaction, guarded by the row's version so a stale writer
//! fails instead of overwriting someone else's change.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::lifecycle::{IllegalTransition, RequestState, check_transition};
use crate::messages::{Stage, WorkMessage};
use crate::outbox::{self, OutboxMessage};

/// Who moved a request: a worker role, an API key's name, or the customer.
pub type Actor<'a> = &'a str;

/// One move of one request.
#[derive(Clone, Debug)]
pub struct Transition<'a> {
    /// The request to move.
    pub request_id: Uuid,
    /// The version the writer read; the write fails if the row has moved on since.
    pub expected_version: i32,
    /// The state the writer read; the write fails if the row is no longer in it.
    pub from: RequestState,
    /// The state to enter.
    pub to: RequestState,
    /// Who makes the move.
    pub actor: Actor<'a>,
    /// Why, in words a person reading the history understands.
    pub reason: Option<&'a str>,
    /// Structured details for the audit event, kept as JSON in `request_events.details`.
    pub details: Value,
}

/// Why a transition was not written.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    /// The lifecycle does not allow the move.
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    /// The request changed (its version or state) since the writer read it.
    #[error(
        "request {request_id} changed since it was read (expected version {expected_version} in state {expected_state}); reload and try again"
    )]
    Stale {
        /// The request.
        request_id: Uuid,
        /// The version the writer read.
        expected_version: i32,
        /// The state the writer read.
        expected_state: RequestState,
    },
    /// No request has this id.
    #[error("request {0} does not exist")]
    NotFound(Uuid),
    /// A chain of moves with no move in it.
    #[error("no move to make")]
    Empty,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Writes the transition, its audit event and `messages` to the outbox, and the side effects
/// that follow from the new state itself: the customer's email when the state is news for them
/// ([`RequestState::tells_customer`]: its pending `notifications` row and a notify message
/// with that event), and a webhook message when it is news for the merchant
/// ([`RequestState::tells_merchant`]; only for merchants that configured a webhook). Callers
/// never name either. Returns the new version. The caller commits (or rolls back) the
/// transaction.
pub async fn apply(
    conn: &mut PgConnection,
    t: &Transition<'_>,
    messages: &[OutboxMessage],
) -> Result<i32, TransitionError> {
    apply_steps(conn, &[(t.clone(), true)], messages).await
}

/// [`apply`] without the customer's email for the new state, for the two moves whose email
/// another one says better: a payout failure that goes straight on to asking for bank
/// details (that email says it all), and a question the intake's answer already asked.
pub async fn apply_without_email(
    conn: &mut PgConnection,
    t: &Transition<'_>,
    messages: &[OutboxMessage],
) -> Result<i32, TransitionError> {
    apply_steps(conn, &[(t.clone(), false)], messages).await
}

/// Several moves made one after the other in one transaction (received → validating →
/// approved; payout_pending → payout_sent → refunded), written as [`apply`] writes each —
/// every move legal, its audit event, its email (when its flag says so and its state tells
/// the customer) and webhook — with one UPDATE of the row: from the first move's state and
/// version to the last move's state, the version counting every move. Each step's
/// `expected_version` after the first is not read. Returns the new version.
pub async fn apply_steps(
    conn: &mut PgConnection,
    steps: &[(Transition<'_>, bool)],
    messages: &[OutboxMessage],
) -> Result<i32, TransitionError> {
    apply_steps_deciding(conn, steps, messages, None).await
}

/// [`apply_steps`] for moves an engine's decision causes: `decided` is stored by the same
/// UPDATE of the row (one row version, not two).
pub async fn apply_steps_deciding(
    conn: &mut PgConnection,
    steps: &[(Transition<'_>, bool)],
    messages: &[OutboxMessage],
    decided: Option<&crate::requests::Decided<'_>>,
) -> Result<i32, TransitionError> {
    let (Some((first, _)), Some((last, _))) = (steps.first(), steps.last()) else {
        return Err(TransitionError::Empty);
    };
    let mut at = first.from;
    for (t, _) in steps {
        if t.from != at || t.request_id != first.request_id {
            return Err(IllegalTransition { from: at, to: t.to }.into());
        }
        check_transition(t.from, t.to)?;
        at = t.to;
    }
    let moves = i32::try_from(steps.len()).unwrap_or(i32::MAX);
    let updated = crate::requests::move_state(
        conn,
        first.request_id,
        first.expected_version,
        first.from,
        last.to,
        moves,
        decided,
    )
    .await?;
    let Some((version, takes_webhooks)) = updated else {
        let exists = sqlx::query_scalar!(
            "SELECT 1 AS \"one!\" FROM refund_requests WHERE id = $1",
            first.request_id
        )
        .fetch_optional(&mut *conn)
        .await?;
        return Err(match exists {
            Some(_) => TransitionError::Stale {
                request_id: first.request_id,
                expected_version: first.expected_version,
                expected_state: first.from,
            },
            None => TransitionError::NotFound(first.request_id),
        });
    };
    record_moves(conn, steps.iter().map(|(t, _)| t)).await?;
    // One INSERT for everything the moves send: the caller's messages and the merchant's
    // webhooks when the merchant takes webhooks. A customer's email is its row, due at once:
    // the notify stage claims it, sends it and marks it.
    let mut all = messages.to_vec();
    for (t, email) in steps {
        if let Some(event) = t.to.tells_customer().filter(|_| *email) {
            crate::notifications::queue_for_move(conn, t.request_id, event.as_str()).await?;
        }
        if t.to.tells_merchant() && takes_webhooks {
            let webhook = WorkMessage::new(Stage::Webhook, t.request_id).with_event(t.to.as_str());
            all.push(webhook.into());
        }
    }
    outbox::enqueue(conn, &all).await?;
    Ok(version)
}

/// Appends one audit event. Used by [`apply`], and on creation (no `from` state).
pub async fn record_event(
    conn: &mut PgConnection,
    request_id: Uuid,
    actor: Actor<'_>,
    from: Option<RequestState>,
    to: RequestState,
    reason: Option<&str>,
    details: &Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO request_events (request_id, actor, from_state, to_state, reason, details)
           VALUES ($1, $2, $3::text, $4::text, $5, $6)"#,
        request_id,
        actor,
        from.map(RequestState::as_str),
        to.as_str(),
        reason,
        details
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The audit events of a chain of moves of one request, in their order: one INSERT.
async fn record_moves<'a, 'b: 'a>(
    conn: &mut PgConnection,
    moves: impl Iterator<Item = &'a Transition<'b>>,
) -> sqlx::Result<()> {
    let mut request_id = None;
    let (mut actors, mut froms, mut tos, mut reasons, mut details) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for t in moves {
        request_id = Some(t.request_id);
        actors.push(t.actor.to_owned());
        froms.push(t.from.as_str().to_owned());
        tos.push(t.to.as_str().to_owned());
        reasons.push(t.reason.map(str::to_owned));
        details.push(t.details.clone());
    }
    let Some(request_id) = request_id else {
        return Ok(());
    };
    // Ids (the history's order) follow the moves' order.
    sqlx::query!(
        r#"INSERT INTO request_events (request_id, actor, from_state, to_state, reason, details)
           SELECT $1, actor, from_state, to_state, reason, details
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
                  WITH ORDINALITY AS m(actor, from_state, to_state, reason, details, n)
            ORDER BY n"#,
        request_id,
        &actors,
        &froms,
        &tos,
        &reasons as &[Option<String>],
        &details
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends an audit event that changes no state (an email sent, a payout retried), in the
/// request's current state, read by the same statement.
pub async fn record_note(
    conn: &mut PgConnection,
    request_id: Uuid,
    actor: Actor<'_>,
    reason: &str,
    details: &Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO request_events (request_id, actor, from_state, to_state, reason, details)
           SELECT id, $2, state, state, $3, $4 FROM refund_requests WHERE id = $1"#,
        request_id,
        actor,
        reason,
        details
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The state and version of a request, locked for the rest of the transaction.
pub async fn lock_state(
    conn: &mut PgConnection,
    request_id: Uuid,
) -> Result<(RequestState, i32), TransitionError> {
    let row = sqlx::query!(
        "SELECT state, version FROM refund_requests WHERE id = $1 FOR UPDATE",
        request_id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(TransitionError::NotFound(request_id))?;
    let state = row
        .state
        .parse()
        .map_err(|e: crate::lifecycle::UnknownState| sqlx::Error::Decode(Box::new(e)))?;
    Ok((state, row.version))
}

/// Records that `consumer` applied `message_id`, in the caller's transaction. Returns false
/// when it had already been applied: the caller then does nothing (redelivery is normal).
pub async fn first_delivery(
    conn: &mut PgConnection,
    consumer: &str,
    message_id: Uuid,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query!(
        r#"INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2)
           ON CONFLICT DO NOTHING"#,
        consumer,
        message_id
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}
