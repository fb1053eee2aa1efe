//! RabbitMQ: connecting, and the topology every role declares (idempotently) at start.
//!
//! Names, all under one configurable prefix `P` so parallel systems and tests never meet:
//! - `P.work`: topic exchange; each stage queue `P.<stage>` is bound with `request.<stage>`.
//!   Stage queues are durable quorum queues with an explicit delivery limit; what exceeds
//!   it is dead-lettered to parking.
//! - `P.retry.<delay>`: one fanout exchange and one queue per retry tier; the queue holds a
//!   message for `<delay>` (queue TTL) and dead-letters it back to `P.work` with its original
//!   routing key.
//! - `P.parking`: fanout exchange and quorum queue for messages a person must look at; each
//!   carries its reason in the `x-refundd-reason` header.

pub mod consumer;
pub mod parking;
pub mod relay;

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

use crate::config::{Settings, format_duration};
use crate::messages::Stage;

/// Header naming why a message was parked.
pub const HEADER_REASON: &str = "x-refundd-reason";
/// Header naming the stage a parked message came from.
pub const HEADER_STAGE: &str = "x-refundd-stage";
/// Header counting the transient failures a message has been through.
pub const HEADER_ATTEMPT: &str = "x-refundd-attempt";

/// The names and limits of one system's exchanges and queues.
#[derive(Clone, Debug)]
pub struct Topology {
    /// The prefix `P` that every exchange and queue name starts with.
    pub prefix: String,
    /// How many deliveries a stage queue allows a message (`x-delivery-limit`) before it is
    /// dead-lettered to parking.
    pub delivery_limit: u32,
    /// How long each retry tier holds a message, in tier order; one tier per delay.
    pub retry_delays: Vec<Duration>,
}

impl Topology {
    /// The topology the settings name (`queue_prefix`, `delivery_limit`, `retry_delays`).
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            prefix: s.queue_prefix.clone(),
            delivery_limit: s.delivery_limit,
            retry_delays: s.retry_delays.clone(),
        }
    }

    /// `P.work`: the topic exchange the stage queues are bound to.
    pub fn work_exchange(&self) -> String {
        format!("{}.work", self.prefix)
    }

    /// `P.<stage>`: the queue a stage's consumers take messages from.
    pub fn stage_queue(&self, stage: Stage) -> String {
        format!("{}.{}", self.prefix, stage.as_str())
    }

    /// `P.parking`: the exchange and queue for messages a person must look at.
    pub fn parking(&self) -> String {
        format!("{}.parking", self.prefix)
    }

    /// The exchange (and queue) of retry tier `tier` (0-based).
    pub fn retry_tier(&self, tier: usize) -> Option<String> {
        self.retry_delays
            .get(tier)
            .map(|d| format!("{}.retry.{}", self.prefix, format_duration(*d)))
    }

    /// Tier `tier`, or the last one once the tiers are used up (`None` only without tiers):
    /// where a message waits that must never be parked.
    pub fn retry_tier_or_last(&self, tier: usize) -> Option<String> {
        self.retry_tier(tier.min(self.retry_delays.len().saturating_sub(1)))
    }

    /// Every queue this topology declares.
    pub fn queues(&self) -> Vec<String> {
        let mut names: Vec<String> = Stage::ALL.iter().map(|s| self.stage_queue(*s)).collect();
        names.extend((0..self.retry_delays.len()).filter_map(|t| self.retry_tier(t)));
        names.push(self.parking());
        names
    }

    /// Every exchange this topology declares.
    pub fn exchanges(&self) -> Vec<String> {
        let mut names = vec![self.work_exchange(), self.parking()];
        names.extend((0..self.retry_delays.len()).filter_map(|t| self.retry_tier(t)));
        names
    }

    /// Declares everything; safe to repeat, from any number of processes.
    pub async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        let durable_exchange = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let durable_queue = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .exchange_declare(
                &self.work_exchange(),
                ExchangeKind::Topic,
                durable_exchange,
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(
                &self.parking(),
                ExchangeKind::Fanout,
                durable_exchange,
                FieldTable::default(),
            )
            .await?;
        let mut parking_args = FieldTable::default();
        parking_args.insert("x-queue-type".into(), long_string("quorum"));
        channel
            .queue_declare(&self.parking(), durable_queue, parking_args)
            .await?;
        channel
            .queue_bind(
                &self.parking(),
                &self.parking(),
                "",
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;

        for &stage in Stage::ALL {
            let queue = self.stage_queue(stage);
            let mut args = FieldTable::default();
            args.insert("x-queue-type".into(), long_string("quorum"));
            args.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongInt(self.delivery_limit as i32),
            );
            args.insert(
                "x-dead-letter-exchange".into(),
                long_string(&self.parking()),
            );
            channel.queue_declare(&queue, durable_queue, args).await?;
            channel
                .queue_bind(
                    &queue,
                    &self.work_exchange(),
                    &stage.routing_key(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }

        for (tier, delay) in self.retry_delays.iter().enumerate() {
            let name = self.retry_tier(tier).expect("tier exists");
            channel
                .exchange_declare(
                    &name,
                    ExchangeKind::Fanout,
                    durable_exchange,
                    FieldTable::default(),
                )
                .await?;
            let mut args = FieldTable::default();
            args.insert(
                "x-message-ttl".into(),
                AMQPValue::LongLongInt(delay.as_millis() as i64),
            );
            args.insert(
                "x-dead-letter-exchange".into(),
                long_string(&self.work_exchange()),
            );
            channel.queue_declare(&name, durable_queue, args).await?;
            channel
                .queue_bind(
                    &name,
                    &name,
                    "",
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }
}

fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

/// Opens a connection on the tokio runtime, named so operators can find it in the broker.
/// `url` may list several nodes of a cluster separated by commas: the first that answers is
/// used, starting each time at the next one.
pub async fn connect(url: &str, name: &str) -> lapin::Result<Connection> {
    // Each attempt starts at another node, so clients spread over a cluster and a node that
    // is down is not everybody's first try.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let urls: Vec<&str> = url
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    let start = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut last = None;
    for i in 0..urls.len().max(1) {
        let one = urls
            .get((start + i) % urls.len().max(1))
            .copied()
            .unwrap_or(url);
        let props = ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio)
            .with_connection_name(LongString::from(name));
        match Connection::connect(one, props).await {
            Ok(connection) => return Ok(connection),
            Err(e) => {
                if urls.len() > 1 {
                    tracing::warn!(node = %crate::config::redact_url(one), error = %e, "broker node unreachable; trying the next");
                }
                last = Some(e);
            }
        }
    }
    Err(last.expect("at least one attempt"))
}

/// Backoff for reconnecting: from 100 ms, doubling up to 5 s, each delay with random jitter
/// (so workers that lost the broker together do not come back in step), and back to the start
/// after a healthy session ([`Backoff::reset`]). Built on the `backon` crate.
#[derive(Debug)]
pub struct Backoff {
    delays: backon::ExponentialBackoff,
}

impl Default for Backoff {
    fn default() -> Self {
        use backon::BackoffBuilder;
        Self {
            delays: backon::ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(100))
                .with_max_delay(Duration::from_secs(5))
                .with_factor(2.0)
                .with_jitter()
                .without_max_times()
                .build(),
        }
    }
}

impl Backoff {
    /// The next delay (never ending: a consumer keeps trying until it is stopped).
    pub fn next_delay(&mut self) -> Duration {
        self.delays.next().unwrap_or(Duration::from_secs(5))
    }

    /// Back to the shortest delay, after a session that worked.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Publishes a copy of `delivery` (same body and message id, with `headers`) to `exchange`
/// under `routing_key`, mandatory and persistent, and waits for the broker's confirm: whether
/// the broker took it. The consumer's retries and parking and the operators' parking tools all
/// move messages this way, acknowledging the original only after a `true`.
pub async fn publish_copy(
    channel: &Channel,
    delivery: &lapin::message::Delivery,
    exchange: &str,
    routing_key: &str,
    headers: FieldTable,
) -> lapin::Result<bool> {
    let mut props = lapin::BasicProperties::default()
        .with_headers(headers)
        .with_delivery_mode(2)
        .with_content_type("application/json".into());
    if let Some(id) = delivery.properties.message_id() {
        props = props.with_message_id(id.clone());
    }
    let confirm = channel
        .basic_publish(
            exchange,
            routing_key,
            lapin::options::BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            &delivery.data,
            props,
        )
        .await?
        .await?;
    Ok(matches!(
        confirm,
        lapin::publisher_confirm::Confirmation::Ack(None)
            | lapin::publisher_confirm::Confirmation::NotRequested
    ))
}

/// Reads a header as an integer, whatever integer type the sender used.
pub fn header_int(headers: Option<&FieldTable>, name: &str) -> Option<i64> {
    let value = headers?.inner().get(name)?;
    match value {
        AMQPValue::ShortShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::LongInt(v) => Some(i64::from(*v)),
        AMQPValue::LongUInt(v) => Some(i64::from(*v)),
        AMQPValue::LongLongInt(v) => Some(*v),
        _ => None,
    }
}

/// Reads a header as text.
pub fn header_str(headers: Option<&FieldTable>, name: &str) -> Option<String> {
    match headers?.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix() {
        let t = Topology {
            prefix: "t1".into(),
            delivery_limit: 5,
            retry_delays: vec![Duration::from_secs(5), Duration::from_secs(60)],
        };
        assert_eq!(t.stage_queue(Stage::Payout), "t1.payout");
        assert_eq!(t.retry_tier(1).as_deref(), Some("t1.retry.1m"));
        assert_eq!(t.retry_tier(2), None);
        assert!(t.queues().iter().all(|q| q.starts_with("t1.")));
        assert_eq!(t.queues().len(), Stage::ALL.len() + 2 + 1);
    }

    #[test]
    fn backoff_grows_with_jitter_caps_and_resets() {
        let mut b = Backoff::default();
        let delays: Vec<_> = (0..12).map(|_| b.next_delay()).collect();
        // Jitter adds up to one more delay: the first is 100-200 ms, the second 200-400 ms.
        assert!((100..=200).contains(&delays[0].as_millis()), "{delays:?}");
        assert!((200..=400).contains(&delays[1].as_millis()), "{delays:?}");
        // Capped (the cap plus its jitter) and never ending.
        assert!(
            delays[8..].iter().all(|d| *d >= Duration::from_secs(5)),
            "{delays:?}"
        );
        assert!(
            delays.iter().all(|d| *d <= Duration::from_secs(10)),
            "{delays:?}"
        );
        // Jitter: not every run of delays is the same.
        let again: Vec<_> = {
            let mut c = Backoff::default();
            (0..12).map(|_| c.next_delay()).collect()
        };
        assert_ne!(delays, again);
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(200));
    }
}
