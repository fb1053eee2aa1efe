//! The outbox relay: publishes committed outbox rows to RabbitMQ, in id order, with publisher
//! confirms and `mandatory` (a message no queue would take is an error, not a silent ack),
//! then deletes them, or marks them published when their stage is tracked until its handler
//! settles them (notify, payout: [`crate::outbox::TRACKED`]). Rows are claimed with
//! `FOR UPDATE SKIP LOCKED`, so several relays run side by side without publishing a row
//! twice. A crash between publishing and that commit publishes a row again: consumers treat
//! redelivery as normal.

use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::publisher_confirm::Confirmation;
use lapin::{BasicProperties, Channel};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Backoff, Topology, connect};

/// How the relay runs.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// The RabbitMQ URL to connect to.
    pub amqp_url: String,
    /// The exchanges and queues to declare; rows are published to its work exchange.
    pub topology: Topology,
    /// The most outbox rows claimed and published in one batch.
    pub batch_size: i64,
    /// How long to wait for new rows when there is nothing to publish, unless this process
    /// writes some first ([`crate::outbox::WAKE`]).
    pub poll_interval: Duration,
    /// After a batch that was not full, how long from its start the relay lets new rows
    /// gather before it claims again (a full batch is followed at once). Under a steady load
    /// it would otherwise publish a few rows at a time, back to back, and RabbitMQ's CPU a
    /// message is about twice as high for messages published one to three at a time as for
    /// groups of ten (`docs/PERFORMANCE.md`, 25). Each hop waits at most this much longer.
    pub gather: Duration,
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Runs until `shutdown` fires, reconnecting to the broker (and waiting out Postgres) with
/// backoff. Returns once the batch in flight is finished.
pub async fn run(pool: PgPool, config: RelayConfig, shutdown: CancellationToken) {
    let mut backoff = Backoff::default();
    while !shutdown.is_cancelled() {
        match connected(&pool, &config, &shutdown, &mut backoff).await {
            Ok(()) => break,
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "relay lost its connection; reconnecting");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    tracing::info!("relay stopped");
}

async fn connected(
    pool: &PgPool,
    config: &RelayConfig,
    shutdown: &CancellationToken,
    backoff: &mut Backoff,
) -> Result<(), RelayError> {
    let connection = connect(&config.amqp_url, "refundd relay").await?;
    let channel = connection.create_channel().await?;
    config.topology.declare(&channel).await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    tracing::info!("relay connected");
    loop {
        if shutdown.is_cancelled() {
            let _ = connection.close(200, "shutting down").await;
            return Ok(());
        }
        let started = tokio::time::Instant::now();
        let published = publish_batch(pool, &channel, config).await?;
        backoff.reset();
        if published > 0 {
            if i64::try_from(published).unwrap_or(i64::MAX) < config.batch_size {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = tokio::time::sleep_until(started + config.gather) => {}
                }
            }
            continue;
        }
        // Nothing to do: wait for rows written in this process (then for their commit), the
        // poll interval, or shutdown.
        let woken = crate::outbox::WAKE.notified();
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = woken => tokio::time::sleep(crate::outbox::WAKE_SETTLE).await,
            () = tokio::time::sleep(config.poll_interval) => {}
        }
    }
}

struct Row {
    id: i64,
    message_id: Uuid,
    routing_key: String,
    payload: serde_json::Value,
}

/// Publishes one batch; returns how many rows it marked published.
async fn publish_batch(
    pool: &PgPool,
    channel: &Channel,
    config: &RelayConfig,
) -> Result<usize, RelayError> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT id, message_id, routing_key, payload
             FROM outbox
            WHERE published_at IS NULL
            ORDER BY id
            LIMIT $1
              FOR UPDATE SKIP LOCKED"#,
        config.batch_size
    )
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }

    let exchange = config.topology.work_exchange();
    let mut confirms = Vec::with_capacity(rows.len());
    for row in &rows {
        let body = serde_json::to_vec(&row.payload).expect("json values serialize");
        let props = BasicProperties::default()
            .with_message_id(row.message_id.to_string().into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2);
        let confirm = channel
            .basic_publish(
                &exchange,
                &row.routing_key,
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &body,
                props,
            )
            .await?;
        confirms.push(confirm);
    }

    // Confirmed rows: done (deleted) unless their stage is tracked until settled.
    let (mut done, mut open) = (Vec::with_capacity(rows.len()), Vec::new());
    let mut failed: Vec<(i64, String)> = Vec::new();
    for (row, confirm) in rows.iter().zip(confirms) {
        match confirm.await? {
            Confirmation::Ack(None) if crate::outbox::is_tracked(&row.routing_key) => {
                open.push(row.id);
            }
            Confirmation::Ack(None) => done.push(row.id),
            Confirmation::Ack(Some(returned)) => failed.push((
                row.id,
                format!(
                    "unroutable: no queue is bound to {:?} on {exchange} ({})",
                    row.routing_key, returned.reply_text
                ),
            )),
            Confirmation::Nack(_) => failed.push((row.id, "broker refused (nack)".into())),
            Confirmation::NotRequested => {
                unreachable!("the relay channel is in confirm mode")
            }
        }
    }

    crate::outbox::mark_published(&mut tx, &done, &open).await?;
    let published = done.len() + open.len();
    for (id, error) in &failed {
        tracing::error!(outbox_id = id, error = %error, "outbox message not published");
        crate::outbox::mark_failed(&mut tx, *id, error).await?;
    }
    tx.commit().await?;
    if !failed.is_empty() && published == 0 {
        // Only failures: don't spin on them.
        tokio::time::sleep(config.poll_interval).await;
    }
    tracing::debug!(published, "outbox batch published");
    Ok(published)
}
