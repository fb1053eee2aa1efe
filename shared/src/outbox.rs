//! The transactional outbox: a message is written in the same transaction as the change it
//! announces, and the relay publishes it after commit. Nothing is published for a change that
//! rolled back; nothing committed stays unpublished.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::messages::WorkMessage;

/// Wakes the relays of this process when rows are written (`refundd all` runs the API, the
/// workers and the relay in one process). The rows are not committed yet when it fires, so a
/// woken relay waits [`WAKE_SETTLE`] before it looks; what it still misses, and every row
/// written by another process, it finds at its next poll (`relay_poll_interval`). A hint, not
/// a guarantee: the outbox rows are the guarantee. It replaces a `NOTIFY` trigger whose
/// cluster-wide lock serialised every commit that wrote outbox rows.
pub static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// How long a woken relay waits for the writer's commit.
pub const WAKE_SETTLE: std::time::Duration = std::time::Duration::from_millis(3);

/// A message waiting in the outbox.
#[derive(Clone, Debug)]
pub struct OutboxMessage {
    /// The work message's id, published as the AMQP `message_id`.
    pub message_id: Uuid,
    /// The routing key on the work exchange, e.g. `request.validate`.
    pub routing_key: String,
    /// The work message as JSON, the body to publish.
    pub payload: serde_json::Value,
}

impl From<&WorkMessage> for OutboxMessage {
    fn from(m: &WorkMessage) -> Self {
        Self {
            message_id: m.message_id,
            routing_key: m.stage.routing_key(),
            payload: serde_json::to_value(m).expect("a work message always serializes"),
        }
    }
}

impl From<WorkMessage> for OutboxMessage {
    fn from(m: WorkMessage) -> Self {
        OutboxMessage::from(&m)
    }
}

/// Adds messages to the outbox inside the caller's transaction.
pub async fn enqueue(conn: &mut PgConnection, messages: &[OutboxMessage]) -> sqlx::Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    // Not yet committed: the relay this wakes waits a moment before it looks (see `WAKE`).
    WAKE.notify_waiters();
    let ids: Vec<Uuid> = messages.iter().map(|m| m.message_id).collect();
    let keys: Vec<String> = messages.iter().map(|m| m.routing_key.clone()).collect();
    let payloads: Vec<serde_json::Value> = messages.iter().map(|m| m.payload.clone()).collect();
    sqlx::query!(
        r#"INSERT INTO outbox (message_id, routing_key, payload)
           SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::jsonb[])"#,
        &ids,
        &keys,
        &payloads
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The rows the broker confirmed. A row of an untracked stage is done and deleted; a tracked
/// one ([`TRACKED`]) is marked published and stays open until its handler settles it
/// ([`settle`]). One statement, both by primary key.
pub async fn mark_published(
    conn: &mut PgConnection,
    done: &[i64],
    open: &[i64],
) -> sqlx::Result<()> {
    if done.is_empty() && open.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "WITH done AS (DELETE FROM outbox WHERE id = ANY($1))
         UPDATE outbox SET published_at = now() WHERE id = ANY($2)",
        done,
        open
    )
    .execute(conn)
    .await
    .map(drop)
}

/// A row the broker refused or could not route: counted and kept for the next batch.
pub async fn mark_failed(conn: &mut PgConnection, id: i64, error: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
        id,
        error
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The stages whose messages stay open from publishing until their handler settles them
/// ([`settle`]); the sweeper publishes open ones again ([`open_stalled`], [`republish`]).
/// Every other stage's row is deleted as soon as the broker confirmed it ([`mark_published`]).
/// The SQL below and the migration's partial indexes name the same routing keys.
pub const TRACKED: [crate::messages::Stage; 2] = [
    crate::messages::Stage::Notify,
    crate::messages::Stage::Payout,
];

/// Whether messages with this routing key are tracked until settled ([`TRACKED`]).
pub fn is_tracked(routing_key: &str) -> bool {
    routing_key
        .strip_prefix("request.")
        .and_then(|stage| stage.parse::<crate::messages::Stage>().ok())
        .is_some_and(|stage| TRACKED.contains(&stage))
}

/// The handler is done with message `message_id` (finished, or parked for good): its row is
/// deleted, so the sweeper leaves it alone from now on. Only the notify and payout stages
/// call it. A row still locked by the relay (the handler was quicker than the relay's
/// commit) is deleted once the relay commits; one the relay never marked (it stopped after
/// the broker's confirm) is deleted all the same, so it is not published again.
///
/// The row is found by its unique `message_id` alone. Naming the routing keys too would
/// match the predicate of the sweeper's partial index (`outbox_open_idx`), and a planner
/// whose statistics are behind a growing table takes that index and filters every open
/// message: 4 ms and 1,700 blocks a call under load instead of 2 blocks (`scripts/bench-e2e`
/// with `PROFILE=1`, docs/PERFORMANCE.md).
///
/// By `= $1`, not [`settle_many`]'s `= ANY($1)`: Postgres plans a statement taking an array
/// again on every call (its generic plan guesses ten elements and always looks dearer), while
/// this one's cached plan is reused (docs/PERFORMANCE.md 31).
pub async fn settle(conn: impl sqlx::PgExecutor<'_>, message_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM outbox WHERE message_id = $1", message_id)
        .execute(conn)
        .await
        .map(drop)
}

/// [`settle`] for the messages of a batch, by one statement (found by `message_id` alone,
/// as [`settle`] says why).
pub async fn settle_many(
    conn: impl sqlx::PgExecutor<'_>,
    message_ids: &[Uuid],
) -> sqlx::Result<()> {
    if message_ids.is_empty() {
        return Ok(());
    }
    sqlx::query!("DELETE FROM outbox WHERE message_id = ANY($1)", message_ids)
        .execute(conn)
        .await
        .map(drop)
}

/// Settles a tracked message after its handler ran, unless the outcome sends it round
/// again (a retry tier). A message parked for good is settled too: publishing it again would
/// only park a copy. The handler's result is returned unchanged; a failure to settle is
/// logged (the sweeper then publishes the message once more, which its handler takes as a
/// redelivery).
pub async fn settle_after<E>(
    pool: &sqlx::PgPool,
    message_id: Uuid,
    result: Result<(), E>,
    retried: impl Fn(&E) -> bool,
) -> Result<(), E> {
    let settle_it = match &result {
        Ok(()) => true,
        Err(e) => !retried(e),
    };
    if settle_it && let Err(e) = settle(pool, message_id).await {
        tracing::warn!(%message_id, error = %e, "could not mark the message settled; the sweeper may publish it again");
    }
    result
}

/// A tracked message published a while ago and not settled.
#[derive(Clone, Debug)]
pub struct OpenMessage {
    /// The outbox row.
    pub id: i64,
    /// The work message's id.
    pub message_id: Uuid,
    /// Its routing key (`request.notify` or `request.payout`).
    pub routing_key: String,
    /// The request it is about, when it names one.
    pub request_id: Option<Uuid>,
    /// How many times it was published again before.
    pub resent: i32,
}

/// Open tracked messages published more than `stall_after_seconds · 2^min(resent, 6)` ago,
/// oldest first, locked for the caller's transaction.
pub async fn open_stalled(
    conn: &mut PgConnection,
    stall_after_seconds: f64,
    limit: i64,
) -> sqlx::Result<Vec<OpenMessage>> {
    sqlx::query_as!(
        OpenMessage,
        r#"SELECT id, message_id, routing_key,
                  (payload->>'request_id')::uuid AS request_id, resent
             FROM outbox
            WHERE published_at IS NOT NULL
              AND routing_key IN ('request.notify', 'request.payout')
              AND published_at < now() - make_interval(secs => $1)
              AND published_at < now() - make_interval(secs => $1 * power(2, least(resent, 6)))
            ORDER BY published_at
            LIMIT $2
              FOR UPDATE SKIP LOCKED"#,
        stall_after_seconds,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Hands rows back to the relay, which publishes them again as they were (same message id,
/// so each handler takes the copy as a redelivery), and counts it.
pub async fn republish(conn: &mut PgConnection, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE outbox SET published_at = NULL, resent = resent + 1 WHERE id = ANY($1)",
        ids
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Whether a payout message for `request` is still open (waiting, or published and not
/// settled: its row is there):
/// one payout message at a time, so a person's retry or the recheck queues none while one is.
pub async fn payout_open(conn: &mut PgConnection, request: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM outbox o
                           WHERE o.routing_key = 'request.payout'
                             AND o.payload->>'request_id' = $1::text) AS "open!""#,
        request.to_string()
    )
    .fetch_one(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::TRACKED;

    /// The SQL here and the migration's partial indexes name the tracked stages' routing keys
    /// as literals (a partial index can only be used with literals): they must be these.
    #[test]
    fn the_tracked_stages_are_the_ones_the_sql_names() {
        let migration =
            include_str!("../../migrations/20261205000400_outbox_rows_deleted_when_done.sql");
        let here = include_str!("outbox.rs");
        let keys: Vec<String> = TRACKED.iter().map(|s| s.routing_key()).collect();
        assert_eq!(keys, ["request.notify", "request.payout"]);
        let listed = format!("routing_key IN ('{}', '{}')", keys[0], keys[1]);
        assert!(
            migration.contains(&listed),
            "the migration's index names {listed}"
        );
        assert!(here.contains(&listed), "open_stalled names {listed}");
        for key in &keys {
            assert!(super::is_tracked(key), "{key} is tracked");
        }
        for key in [
            "request.validate",
            "request.decide",
            "request.webhook",
            "request.nowhere",
            "notify",
        ] {
            assert!(!super::is_tracked(key), "{key} is not tracked");
        }
    }
}
