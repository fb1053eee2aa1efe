//! The parking queue for operators: what is in it and why (`refundd parking list`), and
//! putting messages back to work (`refundd parking replay`). A message the consumer parked
//! carries its reason and stage in headers; one RabbitMQ dropped at a stage queue's delivery
//! limit carries neither, only `x-death`, and is recognised from it.
//!
//! Reading the queue takes every message (unacknowledged, so a crash returns them) and puts
//! back a fresh copy of each one not replayed, so each is seen once per run and looking never
//! counts as a failed delivery.

use lapin::Channel;
use lapin::message::BasicGetMessage;
use lapin::options::{BasicAckOptions, BasicGetOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use uuid::Uuid;

use super::{
    HEADER_ATTEMPT, HEADER_REASON, HEADER_STAGE, Topology, connect, header_int, header_str,
    publish_copy,
};
use crate::messages::{Stage, WorkMessage};

/// One parked message as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked {
    /// The work message's id, when the body could be read.
    pub message_id: Option<Uuid>,
    /// The stage it was for (from the header, else the body).
    pub stage: Option<Stage>,
    /// The request it was about.
    pub request_id: Option<Uuid>,
    /// Attempts made before it was parked.
    pub attempt: i64,
    /// Why it is here: the consumer's reason, or what RabbitMQ's `x-death` says.
    pub reason: String,
}

/// Which parked messages an operation takes.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only messages for this stage.
    pub stage: Option<Stage>,
    /// Only messages whose reason contains this text (any case).
    pub reason: Option<String>,
}

impl Filter {
    fn takes(&self, parked: &Parked) -> bool {
        self.stage.is_none_or(|s| parked.stage == Some(s))
            && self
                .reason
                .as_deref()
                .is_none_or(|r| parked.reason.to_lowercase().contains(&r.to_lowercase()))
    }
}

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// Put back on their stage queue.
    pub replayed: Vec<Parked>,
    /// Dropped: their request has finished, so there is nothing left to do.
    pub dropped: Vec<Parked>,
    /// Left in parking (outside the filter, or unreadable).
    pub kept: usize,
}

/// Why RabbitMQ dead-lettered a message, from its `x-death` header (`delivery_limit` at a
/// quorum queue's delivery limit), with the queue and the count.
fn death_reason(headers: Option<&FieldTable>) -> Option<String> {
    let AMQPValue::FieldArray(deaths) = headers?.inner().get("x-death")? else {
        return None;
    };
    let AMQPValue::FieldTable(first) = deaths.as_slice().first()? else {
        return None;
    };
    let reason = header_str(Some(first), "reason").unwrap_or_else(|| "unknown".into());
    let queue = header_str(Some(first), "queue").unwrap_or_default();
    let count = header_int(Some(first), "count");
    Some(match reason.as_str() {
        "delivery_limit" => format!(
            "dropped by RabbitMQ at the delivery limit of {queue}: the consumer kept failing or \
             crashing on it (no reason was recorded)"
        ),
        other => format!(
            "dead-lettered by RabbitMQ from {queue} ({other}{})",
            count.map(|c| format!(", {c} times")).unwrap_or_default()
        ),
    })
}

fn describe(message: &BasicGetMessage) -> Parked {
    let headers = message.delivery.properties.headers().as_ref();
    let body: Option<WorkMessage> = serde_json::from_slice(&message.delivery.data).ok();
    let stage = header_str(headers, HEADER_STAGE)
        .and_then(|s| s.parse().ok())
        .or(body.as_ref().map(|m| m.stage));
    let reason = header_str(headers, HEADER_REASON)
        .or_else(|| death_reason(headers))
        .unwrap_or_else(|| "no reason recorded".into());
    Parked {
        message_id: body.as_ref().map(|m| m.message_id),
        stage,
        request_id: body.as_ref().map(|m| m.request_id),
        attempt: header_int(headers, HEADER_ATTEMPT).unwrap_or(0),
        reason,
    }
}

/// A channel with publisher confirms on a broker that has the parking queue; a broker without
/// one is told plainly (no worker has declared the topology there yet, or the prefix names
/// another system) rather than as an AMQP error.
async fn open(amqp_url: &str, topology: &Topology) -> anyhow::Result<(lapin::Connection, Channel)> {
    let connection = connect(amqp_url, "refundd-parking").await?;
    let probe = connection.create_channel().await?;
    let exists = probe
        .queue_declare(
            &topology.parking(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await;
    if exists.is_err() {
        let _ = connection.close(200, "no parking queue").await;
        anyhow::bail!(
            "there is no queue {} on this broker: no refundd worker has declared its queues here \
             yet (start `refundd all` or a worker once), or REFUNDD_QUEUE_PREFIX ({}) names \
             another system",
            topology.parking(),
            topology.prefix
        );
    }
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok((connection, channel))
}

/// Takes every message in parking (unacknowledged) on `channel`.
async fn take_all(channel: &Channel, topology: &Topology) -> lapin::Result<Vec<BasicGetMessage>> {
    let mut taken = Vec::new();
    while let Some(message) = channel
        .basic_get(&topology.parking(), BasicGetOptions { no_ack: false })
        .await?
    {
        taken.push(message);
    }
    Ok(taken)
}

/// Returns a message to parking as a fresh copy (same body, id and headers), acknowledging
/// the one taken only once the broker confirmed the copy. Requeueing it instead would count a
/// delivery each time someone looks, and quorum queues drop a message at their delivery limit.
async fn hand_back(
    channel: &Channel,
    topology: &Topology,
    message: &BasicGetMessage,
) -> anyhow::Result<()> {
    let headers = message
        .delivery
        .properties
        .headers()
        .clone()
        .unwrap_or_default();
    let parking = topology.parking();
    let key = message.delivery.routing_key.as_str();
    if !publish_copy(channel, &message.delivery, &parking, key, headers).await? {
        // Not acknowledged: the broker returns the original when the channel closes.
        anyhow::bail!("the broker did not take a message back into parking; it stays there");
    }
    message
        .delivery
        .acker
        .ack(BasicAckOptions::default())
        .await?;
    Ok(())
}

/// The parked messages the filter takes, oldest first; the queue is left as it was.
pub async fn list(
    amqp_url: &str,
    topology: &Topology,
    filter: &Filter,
) -> anyhow::Result<Vec<Parked>> {
    let (connection, channel) = open(amqp_url, topology).await?;
    let taken = take_all(&channel, topology).await?;
    let mut listed = Vec::new();
    for message in &taken {
        let parked = describe(message);
        if filter.takes(&parked) {
            listed.push(parked);
        }
        hand_back(&channel, topology, message).await?;
    }
    let _ = connection.close(200, "listed").await;
    Ok(listed)
}

/// Puts the parked messages the filter takes back on their stage queue (attempts counted
/// from zero again, reason headers removed) and acknowledges them once the broker confirmed
/// the copy; drops those whose request is among what `finished` answers for the requests
/// of all of them at once (nothing left to do, so no alert for nothing). Everything else goes
/// back to parking.
pub async fn replay<F, Fut>(
    amqp_url: &str,
    topology: &Topology,
    filter: &Filter,
    finished: F,
) -> anyhow::Result<Replayed>
where
    F: FnOnce(Vec<Uuid>) -> Fut,
    Fut: std::future::Future<Output = sqlx::Result<std::collections::HashSet<Uuid>>>,
{
    let (connection, channel) = open(amqp_url, topology).await?;
    let taken = take_all(&channel, topology).await?;
    let described: Vec<Parked> = taken.iter().map(describe).collect();
    let requests = described
        .iter()
        .filter(|p| p.stage.is_some() && filter.takes(p))
        .filter_map(|p| p.request_id)
        .collect();
    let finished = finished(requests).await?;
    let mut done = Replayed::default();
    for (message, parked) in taken.iter().zip(described) {
        let (Some(stage), Some(request_id)) = (parked.stage, parked.request_id) else {
            done.kept += 1;
            hand_back(&channel, topology, message).await?;
            continue;
        };
        if !filter.takes(&parked) {
            done.kept += 1;
            hand_back(&channel, topology, message).await?;
            continue;
        }
        if finished.contains(&request_id) {
            message
                .delivery
                .acker
                .ack(BasicAckOptions::default())
                .await?;
            done.dropped.push(parked);
            continue;
        }
        let mut headers = FieldTable::default();
        headers.insert(HEADER_ATTEMPT.into(), AMQPValue::LongLongInt(0));
        let work = topology.work_exchange();
        let key = stage.routing_key();
        if !publish_copy(&channel, &message.delivery, &work, &key, headers).await? {
            anyhow::bail!(
                "the broker did not take the replayed copy for {stage}; it stays in parking, try again"
            );
        }
        message
            .delivery
            .acker
            .ack(BasicAckOptions::default())
            .await?;
        done.replayed.push(parked);
    }
    let _ = connection.close(200, "replayed").await;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use lapin::types::{FieldArray, LongString, ShortString};

    use super::*;

    #[test]
    fn a_message_dropped_at_the_delivery_limit_is_recognised_from_x_death() {
        let mut death = FieldTable::default();
        death.insert(
            ShortString::from("reason"),
            AMQPValue::LongString(LongString::from("delivery_limit")),
        );
        death.insert(
            ShortString::from("queue"),
            AMQPValue::LongString(LongString::from("refundd.payout")),
        );
        death.insert(ShortString::from("count"), AMQPValue::LongLongInt(1));
        let mut headers = FieldTable::default();
        headers.insert(
            ShortString::from("x-death"),
            AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(death)])),
        );
        let reason = death_reason(Some(&headers)).unwrap();
        assert!(
            reason.contains("delivery limit of refundd.payout"),
            "{reason}"
        );
        assert_eq!(death_reason(Some(&FieldTable::default())), None);
    }
}
