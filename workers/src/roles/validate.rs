//! The validate stage: takes a received request into validation and passes it on to decide.

use shared::broker::consumer::{Handler, HandlerError};
use shared::lifecycle::RequestState;
use shared::messages::{Stage, WorkMessage};
use shared::outbox::OutboxMessage;
use shared::transition::{self, Transition, TransitionError};
use sqlx::PgPool;

pub struct Validate {
    pool: PgPool,
}

impl Validate {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

impl Handler for Validate {
    async fn handle(&self, message: WorkMessage) -> Result<(), HandlerError> {
        let mut tx = self.pool.begin().await?;
        if !transition::first_delivery(&mut tx, "validate", message.message_id).await? {
            return Ok(());
        }
        let (state, version) = match transition::lock_state(&mut tx, message.request_id).await {
            Ok(found) => found,
            Err(TransitionError::NotFound(id)) => {
                return Err(HandlerError::Permanent(anyhow::anyhow!(
                    "request {id} does not exist"
                )));
            }
            Err(e) => return Err(HandlerError::Transient(e.into())),
        };
        if state != RequestState::Received {
            // Already taken further by an earlier delivery or another worker: nothing to do.
            tx.commit().await?;
            return Ok(());
        }
        let decide = WorkMessage::new(Stage::Decide, message.request_id).with_version(version + 1);
        transition::apply(
            &mut tx,
            &Transition {
                request_id: message.request_id,
                expected_version: version,
                from: RequestState::Received,
                to: RequestState::Validating,
                actor: "worker:validate",
                reason: Some("application received; checking what the policy requires"),
                details: serde_json::json!({}),
            },
            &[OutboxMessage::from(decide)],
        )
        .await
        .map_err(|e| HandlerError::Transient(e.into()))?;
        tx.commit().await?;
        Ok(())
    }
}
