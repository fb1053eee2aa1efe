//! The transactional outbox: a message is written in the same transaction as the change it
//! announces, and the relay publishes it after commit. Nothing is published for a change that
//! rolled back; nothing committed stays unpublished.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::messages::WorkMessage;

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

/// The rows the broker confirmed: published, never sent again.
pub async fn mark_published(conn: &mut PgConnection, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE outbox SET published_at = now() WHERE id = ANY($1)",
        ids
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
