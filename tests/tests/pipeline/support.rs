//! Handlers and probes shared by the pipeline tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use lapin::BasicProperties;
use lapin::message::BasicGetMessage;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use shared::broker::consumer::{Handler, HandlerError};
use shared::messages::WorkMessage;
use sqlx::PgPool;
use uuid::Uuid;

use e2e::TestBroker;

/// What a test handler does with the n-th delivery (1-based) of a message.
pub type Script = Arc<dyn Fn(&WorkMessage, u32) -> Result<(), HandlerError> + Send + Sync>;

/// Records every delivery, applies each message's effect once (an `effects` row, guarded by
/// `processed_messages` in the same transaction), and follows a script for failures.
#[derive(Clone)]
pub struct RecordingHandler {
    pub pool: PgPool,
    pub deliveries: Arc<Mutex<HashMap<Uuid, Vec<Instant>>>>,
    pub script: Script,
}

impl RecordingHandler {
    pub async fn new(pool: PgPool, script: Script) -> Self {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS effects (message_id uuid NOT NULL, request_id uuid NOT NULL)",
        )
        .execute(&pool)
        .await
        .unwrap();
        Self {
            pool,
            deliveries: Arc::default(),
            script,
        }
    }

    pub fn succeed() -> Script {
        Arc::new(|_, _| Ok(()))
    }

    pub fn delivery_count(&self, id: Uuid) -> usize {
        self.deliveries.lock().unwrap().get(&id).map_or(0, Vec::len)
    }

    pub fn total_deliveries(&self) -> usize {
        self.deliveries.lock().unwrap().values().map(Vec::len).sum()
    }
}

impl Handler for RecordingHandler {
    async fn handle(&self, message: WorkMessage) -> Result<(), HandlerError> {
        let n = {
            let mut d = self.deliveries.lock().unwrap();
            let list = d.entry(message.message_id).or_default();
            list.push(Instant::now());
            list.len() as u32
        };
        (self.script)(&message, n)?;
        let mut tx = self.pool.begin().await?;
        if shared::transition::first_delivery(&mut tx, "test", message.message_id).await? {
            sqlx::query("INSERT INTO effects (message_id, request_id) VALUES ($1, $2)")
                .bind(message.message_id)
                .bind(message.request_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

pub async fn effect_rows(pool: &PgPool) -> (i64, i64) {
    sqlx::query_as("SELECT count(*), count(DISTINCT message_id) FROM effects")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Publishes raw bytes to the work exchange, as a misbehaving producer might.
pub async fn publish_raw(broker: &TestBroker, routing_key: &str, body: &[u8], message_id: &str) {
    let conn = shared::broker::connect(&broker.url, "test publisher")
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    ch.basic_publish(
        &broker.topology.work_exchange(),
        routing_key,
        BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        },
        body,
        BasicProperties::default().with_message_id(message_id.into()),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    conn.close(200, "done").await.ok();
}

pub async fn publish(broker: &TestBroker, message: &WorkMessage) {
    let body = serde_json::to_vec(message).unwrap();
    publish_raw(
        broker,
        &message.stage.routing_key(),
        &body,
        &message.message_id.to_string(),
    )
    .await;
}

/// Takes every message out of the parking queue.
pub async fn drain_parking(broker: &TestBroker) -> Vec<BasicGetMessage> {
    let conn = shared::broker::connect(&broker.url, "test parking reader")
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let mut out = Vec::new();
    while let Some(msg) = ch
        .basic_get(&broker.topology.parking(), BasicGetOptions::default())
        .await
        .unwrap()
    {
        msg.delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .unwrap();
        out.push(msg);
    }
    conn.close(200, "done").await.ok();
    out
}
