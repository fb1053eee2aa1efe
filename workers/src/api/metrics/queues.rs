//! The queue figures of `/metrics`: messages waiting and consumers attached for each stage
//! queue (and parking), asked of RabbitMQ with a passive declare over one kept connection.
//! A broker that is down or slow gives no figures, never a failed scrape; so do queues that
//! no worker has declared yet.

use std::time::Duration;

use lapin::Connection;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use shared::broker::Topology;
use shared::messages::Stage;
use tokio::sync::Mutex;

/// The whole probe gives up after this; the scrape then reports the broker as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// One queue's figures.
pub struct QueueFigures {
    /// The stage (`validate`, ..., `webhook`) or `parking`.
    pub stage: &'static str,
    /// Messages ready for delivery.
    pub messages: u32,
    pub consumers: u32,
}

/// A connection kept between scrapes (opening one per scrape would fill the broker's log).
#[derive(Default)]
pub struct BrokerProbe {
    connection: Mutex<Option<Connection>>,
}

impl BrokerProbe {
    /// The figures of every queue that exists, or `None` when the broker cannot be asked.
    pub async fn probe(&self, url: &str, topology: &Topology) -> Option<Vec<QueueFigures>> {
        let mut connection = self.connection.lock().await;
        match tokio::time::timeout(PROBE_TIMEOUT, ask(&mut connection, url, topology)).await {
            Ok(Ok(figures)) => Some(figures),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "metrics: RabbitMQ cannot be asked for queue figures");
                *connection = None;
                None
            }
            Err(_) => {
                tracing::warn!("metrics: RabbitMQ did not answer for queue figures in time");
                *connection = None;
                None
            }
        }
    }
}

async fn ask(
    connection: &mut Option<Connection>,
    url: &str,
    topology: &Topology,
) -> lapin::Result<Vec<QueueFigures>> {
    if !connection.as_ref().is_some_and(|c| c.status().connected()) {
        *connection = Some(shared::broker::connect(url, "refundd metrics").await?);
    }
    let conn = connection.as_ref().expect("connected above");
    let queues = Stage::ALL
        .iter()
        .map(|s| (s.as_str(), topology.stage_queue(*s)))
        .chain([("parking", topology.parking())]);
    let channel = conn.create_channel().await?;
    let mut figures = Vec::new();
    for (stage, queue) in queues {
        let passive = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        match channel
            .queue_declare(&queue, passive, FieldTable::default())
            .await
        {
            Ok(q) => figures.push(QueueFigures {
                stage,
                messages: q.message_count(),
                consumers: q.consumer_count(),
            }),
            // A queue nobody declared: the broker closes the channel, not the connection.
            // Every role declares all the queues at start, so the others are missing too: no
            // worker has started yet, or this process has another queue prefix.
            Err(e) if conn.status().connected() => {
                tracing::warn!(
                    %queue,
                    error = %e,
                    "metrics: no such queue (no worker has declared the queues under this \
                     REFUNDD_QUEUE_PREFIX yet); no queue figures"
                );
                return Ok(figures);
            }
            Err(e) => return Err(e),
        }
    }
    let _ = channel.close(200, "queue figures read").await;
    Ok(figures)
}
