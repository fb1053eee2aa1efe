//! Handlers and probes shared by the pipeline tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use lapin::BasicProperties;
use lapin::message::BasicGetMessage;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use shared::broker::consumer::{Handler, HandlerError, TransactionalWork};
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

/// A [`RecordingHandler`] that takes batches of up to `most` messages, applied in one
/// transaction (`consumer::in_one_transaction`). Each message's effect is written before its
/// script runs, so a scripted failure shows that its savepoint undoes only its own work.
#[derive(Clone)]
pub struct BatchingHandler {
    pub inner: RecordingHandler,
    pub most: usize,
    /// The size of every batch handed to the handler.
    pub batches: Arc<Mutex<Vec<usize>>>,
}

impl BatchingHandler {
    pub fn new(inner: RecordingHandler, most: usize) -> Self {
        Self {
            inner,
            most,
            batches: Arc::default(),
        }
    }
}

impl TransactionalWork for BatchingHandler {
    async fn apply(
        &self,
        conn: &mut sqlx::PgConnection,
        message: WorkMessage,
    ) -> Result<(), HandlerError> {
        let n = {
            let mut d = self.inner.deliveries.lock().unwrap();
            let list = d.entry(message.message_id).or_default();
            list.push(Instant::now());
            list.len() as u32
        };
        if shared::transition::first_delivery(conn, "test", message.message_id).await? {
            sqlx::query("INSERT INTO effects (message_id, request_id) VALUES ($1, $2)")
                .bind(message.message_id)
                .bind(message.request_id)
                .execute(&mut *conn)
                .await?;
        }
        (self.inner.script)(&message, n)
    }
}

impl Handler for BatchingHandler {
    async fn handle(&self, message: WorkMessage) -> Result<(), HandlerError> {
        self.batches.lock().unwrap().push(1);
        let mut tx = self.inner.pool.begin().await?;
        self.apply(&mut tx, message).await?;
        tx.commit().await?;
        Ok(())
    }

    fn batch_size(&self) -> usize {
        self.most
    }

    async fn handle_batch(&self, messages: Vec<WorkMessage>) -> Vec<Result<(), HandlerError>> {
        self.batches.lock().unwrap().push(messages.len());
        shared::broker::consumer::in_one_transaction(&self.inner.pool, self, messages).await
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
