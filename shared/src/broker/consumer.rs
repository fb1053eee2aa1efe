//! The consumer runtime every worker role uses: takes messages from a stage queue, runs the
//! role's handler, and acks only after the handler's transaction has committed.
//!
//! - transient failure: the message waits in the next retry tier, then comes back;
//! - a service down (the database): the message waits in the retry tiers, then at the last
//!   one again and again, never parked, until the service is back;
//! - permanent failure, or more transient failures than there are tiers: parking queue, with
//!   the reason in headers;
//! - a message that does not parse: parking queue and a log line; the consumer goes on;
//! - lost connection: reconnects with backoff; unacked messages are redelivered by RabbitMQ;
//! - acks: a message is acked once its fate is committed; the finished messages at the head of
//!   the channel's open deliveries go in one `basic.ack` with `multiple` (see `Acks`);
//! - shutdown: stops taking messages, finishes the ones in flight, acks them, returns.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use lapin::Channel;
use lapin::acker::Acker;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::{
    Backoff, HEADER_ATTEMPT, HEADER_REASON, HEADER_STAGE, Topology, connect, header_int,
    publish_copy,
};
use crate::messages::{Stage, WorkMessage};

/// Why a handler could not finish a message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth trying again later (a gateway timeout, a lock, a broker hiccup).
    #[error("transient: {0:#}")]
    Transient(anyhow::Error),
    /// Trying again changes nothing; a person must look at it.
    #[error("permanent: {0:#}")]
    Permanent(anyhow::Error),
    /// A service the stage needs is down (the database refuses or drops connections, the
    /// pool waits in vain): nothing is wrong with the message, so it is never parked; it
    /// waits at the last retry tier, again and again, until the service is back.
    #[error("unavailable: {0:#}")]
    Unavailable(anyhow::Error),
}

impl HandlerError {
    /// Whether the message goes round again (a retry tier) rather than to parking for good.
    pub fn is_retried(&self) -> bool {
        matches!(
            self,
            HandlerError::Transient(_) | HandlerError::Unavailable(_)
        )
    }
}

impl From<sqlx::Error> for HandlerError {
    /// Database trouble is never the message's fault: the transaction rolled back and can be
    /// replayed. A database that is down or refuses connections is [`HandlerError::Unavailable`]
    /// (retried for as long as it takes); anything else transient.
    fn from(e: sqlx::Error) -> Self {
        if database_unavailable(&e) {
            HandlerError::Unavailable(e.into())
        } else {
            HandlerError::Transient(e.into())
        }
    }
}

/// Whether `e` says the database cannot be reached or refuses work for now: connection and
/// pool failures, and the SQLSTATEs of a server shutting down, starting, or out of
/// connections (class 08 connection exceptions, 57P01-57P03, 53300).
pub fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// The work of one stage. Must be safe to run twice for the same message: check the request's
/// state (and version) first, and do nothing when the work is already done.
pub trait Handler: Send + Sync + 'static {
    /// Does the stage's work for one message. A transient error retries it later; a permanent
    /// one parks it.
    fn handle(&self, message: WorkMessage)
    -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// The most messages [`Handler::handle_batch`] takes at once. 1, the default: every
    /// message goes to [`Handler::handle`] on its own.
    fn batch_size(&self) -> usize {
        1
    }

    /// Does the work of several messages that were waiting at the same time, one result each,
    /// in their order. The default hands each to [`Handler::handle`]. A stage that overrides
    /// it does them in one transaction (a savepoint each, so one message's failure undoes only
    /// its own work) and answers `Ok` for a message only once that transaction has
    /// committed: the runtime acks each message after its result, as for one.
    fn handle_batch(
        &self,
        messages: Vec<WorkMessage>,
    ) -> impl Future<Output = Vec<Result<(), HandlerError>>> + Send {
        async move {
            let mut results = Vec::with_capacity(messages.len());
            for message in messages {
                results.push(self.handle(message).await);
            }
            results
        }
    }
}

/// A stage's work on one message inside a transaction the caller owns (and commits).
pub trait TransactionalWork: Send + Sync {
    /// Applies `message` on `conn`, inside the caller's transaction; commits nothing.
    fn apply(
        &self,
        conn: &mut sqlx::PgConnection,
        message: WorkMessage,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Applies each message with `work` in one transaction of `pool`, a savepoint each: a message
/// whose work fails has its own changes undone and keeps its error; the others commit
/// together. If the transaction cannot begin or commit, every message gets that error (none
/// is applied). For [`Handler::handle_batch`].
///
/// Statements saved: a savepoint that held is never released (the commit ends them all, and
/// a batch is at most a prefetch long, well under the 64 subtransactions a backend caches); a
/// batch of one takes no savepoint at all: its failure rolls the transaction back.
pub async fn in_one_transaction<W: TransactionalWork>(
    pool: &sqlx::PgPool,
    work: &W,
    messages: Vec<WorkMessage>,
) -> Vec<Result<(), HandlerError>> {
    let every = |e: &sqlx::Error| -> Vec<Result<(), HandlerError>> {
        (0..messages.len())
            .map(|_| Err(error_for_each(e)))
            .collect::<Vec<_>>()
    };
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(e) => return every(&e),
    };
    if let [message] = messages.as_slice() {
        let result = work.apply(&mut tx, message.clone()).await;
        let ended = match result {
            Ok(()) => tx.commit().await,
            Err(_) => tx.rollback().await,
        };
        return match ended {
            Ok(()) => vec![result],
            Err(e) => every(&e),
        };
    }
    let mut results = Vec::with_capacity(messages.len());
    for message in messages.iter().cloned() {
        // The most recent savepoint of this name is the one a rollback goes back to.
        if let Err(e) = sqlx::query("SAVEPOINT batch_message")
            .execute(&mut *tx)
            .await
        {
            return every(&e);
        }
        let result = work.apply(&mut tx, message).await;
        if result.is_err()
            && let Err(e) = sqlx::query("ROLLBACK TO SAVEPOINT batch_message")
                .execute(&mut *tx)
                .await
        {
            return every(&e);
        }
        results.push(result);
    }
    match tx.commit().await {
        Ok(()) => results,
        Err(e) => every(&e),
    }
}

/// The handler error `e` makes, for each of several messages it stopped.
pub fn error_for_each(e: &sqlx::Error) -> HandlerError {
    let unavailable = database_unavailable(e);
    let e = anyhow::anyhow!("{e}");
    if unavailable {
        HandlerError::Unavailable(e)
    } else {
        HandlerError::Transient(e)
    }
}

/// How one consumer runs.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    /// The RabbitMQ URL to connect to.
    pub amqp_url: String,
    /// The exchanges and queues to declare and use.
    pub topology: Topology,
    /// The stage whose queue this consumer takes messages from.
    pub stage: Stage,
    /// How many unacked messages the broker sends at once (`basic.qos`); at most this many are
    /// handled at the same time.
    pub prefetch: u16,
    /// How long a shutdown waits for the messages in flight. A handler still running then (one
    /// waiting on a lock) is abandoned: its message is not acked, so RabbitMQ delivers it again,
    /// and its transaction rolls back when the process ends.
    pub shutdown_grace: std::time::Duration,
}

/// What became of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    Retried,
    Parked,
}

/// Runs until `shutdown` fires; in-flight messages are finished and acked before it returns,
/// within `shutdown_grace` (what is still running then is left unacked, for redelivery).
pub async fn run<H: Handler>(config: ConsumerConfig, handler: Arc<H>, shutdown: CancellationToken) {
    let mut backoff = Backoff::default();
    let stage = config.stage;
    while !shutdown.is_cancelled() {
        match consume(&config, &handler, &shutdown, &mut backoff).await {
            Ok(()) => break,
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::warn!(%stage, error = %e, retry_in_ms = delay.as_millis() as u64, "consumer lost its connection; reconnecting");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    tracing::info!(%stage, "consumer stopped");
}

async fn consume<H: Handler>(
    config: &ConsumerConfig,
    handler: &Arc<H>,
    shutdown: &CancellationToken,
    backoff: &mut Backoff,
) -> lapin::Result<()> {
    let stage = config.stage;
    let connection = connect(&config.amqp_url, &format!("refundd worker {stage}")).await?;
    let channel = connection.create_channel().await?;
    config.topology.declare(&channel).await?;
    channel
        .basic_qos(config.prefetch, BasicQosOptions::default())
        .await?;
    // Retries and parking are published on a channel of their own, with confirms.
    let publisher = connection.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let queue = config.topology.stage_queue(stage);
    let tag = format!("refundd-{stage}-{}", uuid::Uuid::new_v4());
    let mut deliveries = channel
        .basic_consume(
            &queue,
            &tag,
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(%stage, queue, "consumer connected");
    backoff.reset();

    let tracker = TaskTracker::new();
    let acks = Arc::new(Acks::default());
    let most = handler
        .batch_size()
        .clamp(1, usize::from(config.prefetch.max(1)));
    let result = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            next = deliveries.next() => match next {
                Some(Ok(delivery)) => {
                    // With it, what else has already arrived, up to the handler's batch.
                    let mut batch = vec![delivery];
                    let mut ended = None;
                    while batch.len() < most {
                        match deliveries.next().now_or_never() {
                            Some(Some(Ok(delivery))) => batch.push(delivery),
                            Some(Some(Err(e))) => {
                                ended = Some(Err(e));
                                break;
                            }
                            Some(None) => {
                                ended = Some(Err(lapin::Error::InvalidChannelState(
                                    lapin::ChannelState::Closed,
                                )));
                                break;
                            }
                            None => break,
                        }
                    }
                    acks.taken(&batch).await;
                    let handler = Arc::clone(handler);
                    let publisher = publisher.clone();
                    let topology = config.topology.clone();
                    let acks = Arc::clone(&acks);
                    tracker.spawn(async move {
                        process(batch, stage, &topology, &publisher, handler.as_ref(), &acks).await;
                    });
                    if let Some(ended) = ended {
                        break ended;
                    }
                }
                Some(Err(e)) => break Err(e),
                None => break Err(lapin::Error::InvalidChannelState(lapin::ChannelState::Closed)),
            }
        }
    };
    if result.is_ok() {
        // Stop new deliveries, then let the ones in flight finish and be acked.
        let _ = channel
            .basic_cancel(&tag, BasicCancelOptions::default())
            .await;
    }
    tracker.close();
    if result.is_ok() {
        if tokio::time::timeout(config.shutdown_grace, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(%stage, in_flight = tracker.len(), grace_ms = config.shutdown_grace.as_millis() as u64,
                "messages still in flight after the shutdown grace; leaving them unacked for redelivery");
        }
        let _ = connection.close(200, "shutting down").await;
    } else {
        tracker.wait().await;
    }
    result
}

/// Handles the deliveries taken together (one, or a batch for a handler that takes batches)
/// and settles each (done, retry tier or parking) after the handler's results, then acks
/// them together.
async fn process<H: Handler>(
    deliveries: Vec<Delivery>,
    stage: Stage,
    topology: &Topology,
    publisher: &Channel,
    handler: &H,
    acks: &Acks,
) {
    let mut taken: Vec<(Delivery, WorkMessage, i64)> = Vec::with_capacity(deliveries.len());
    let mut settled = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        let attempt =
            header_int(delivery.properties.headers().as_ref(), HEADER_ATTEMPT).unwrap_or(0);
        match serde_json::from_slice(&delivery.data) {
            Ok(message) => taken.push((delivery, message, attempt)),
            Err(e) => {
                let reason = format!("unparseable message: {e}");
                tracing::error!(%stage, error = %e, bytes = delivery.data.len(), "unparseable message parked");
                let outcome = park(&delivery, stage, topology, publisher, &reason).await;
                settled.push((delivery, outcome));
            }
        }
    }
    let span = |message: &WorkMessage, attempt: i64| {
        tracing::info_span!(
            "message",
            %stage,
            message_id = %message.message_id,
            request_id = %message.request_id,
            attempt
        )
    };
    let results = match taken.as_slice() {
        [] => Vec::new(),
        [(_, message, attempt)] => vec![
            handler
                .handle(message.clone())
                .instrument(span(message, *attempt))
                .await,
        ],
        many => {
            let messages = many.iter().map(|(_, m, _)| m.clone()).collect();
            handler
                .handle_batch(messages)
                .instrument(tracing::info_span!("batch", %stage, messages = many.len()))
                .await
        }
    };
    let mut results = results.into_iter();
    for (delivery, message, attempt) in taken {
        let result = results.next().unwrap_or_else(|| {
            Err(HandlerError::Transient(anyhow::anyhow!(
                "the handler gave no result for this message"
            )))
        });
        let outcome = settle(result, &delivery, attempt, stage, topology, publisher)
            .instrument(span(&message, attempt))
            .await;
        settled.push((delivery, outcome));
    }
    acks.finish(settled).await;
}

/// Where a message goes after its handler's result: done, a retry tier, or parking.
async fn settle(
    result: Result<(), HandlerError>,
    delivery: &Delivery,
    attempt: i64,
    stage: Stage,
    topology: &Topology,
    publisher: &Channel,
) -> lapin::Result<Outcome> {
    let e = match result {
        Ok(()) => return Ok(Outcome::Done),
        Err(e) => e,
    };
    let tier = usize::try_from(attempt).unwrap_or(0);
    let retry = match &e {
        HandlerError::Transient(_) => topology.retry_tier(tier),
        // Never parked: at the last tier again and again once the others are used.
        HandlerError::Unavailable(_) => topology.retry_tier_or_last(tier),
        HandlerError::Permanent(_) => None,
    };
    match (retry, e) {
        (Some(exchange), e) => {
            tracing::warn!(error = %e, retry_exchange = exchange, "retrying later");
            republish(delivery, publisher, &exchange, attempt + 1, None).await?;
            Ok(Outcome::Retried)
        }
        // No retry tiers at all: back to the queue.
        (None, HandlerError::Unavailable(_)) => Err(lapin::Error::InvalidChannelState(
            lapin::ChannelState::Error,
        )),
        (None, e) => {
            let reason = match e {
                HandlerError::Transient(e) => {
                    format!("gave up after {} attempts; last error: {e:#}", attempt + 1)
                }
                // (`Unavailable` always has a tier or went back above.)
                HandlerError::Permanent(e) | HandlerError::Unavailable(e) => {
                    format!("permanent failure: {e:#}")
                }
            };
            tracing::error!(reason, "message parked");
            park(delivery, stage, topology, publisher, &reason).await
        }
    }
}

/// The deliveries of one channel that are neither acked nor handed back, by delivery tag, each
/// with its acker once its fate is committed (done, in a retry tier or parked).
///
/// RabbitMQ makes every `basic.ack` a command of the quorum queue's log, so a message acked
/// on its own costs the broker about a third more CPU than one acked with others
/// (`docs/PERFORMANCE.md`, 25). A finished delivery waits [`ACK_GATHER`] for others to
/// finish; then the finished deliveries at the head (no unfinished delivery before them) go
/// in one `basic.ack` with `multiple`, which acks every open delivery up to its tag, so a
/// delivery still being handled is never below it. A finished delivery still behind an
/// unfinished one then is acked on its own, so a slow message never holds the others'
/// prefetch places for longer than that. The lock is held while an ack is sent, so the acks
/// leave in the order they were decided.
#[derive(Default)]
struct Acks(tokio::sync::Mutex<BTreeMap<u64, Option<Acker>>>);

impl Acks {
    /// Deliveries taken from the channel, before their handler runs.
    async fn taken(&self, deliveries: &[Delivery]) {
        let mut open = self.0.lock().await;
        for delivery in deliveries {
            open.insert(delivery.delivery_tag, None);
        }
    }

    /// Acks the deliveries whose fate is committed somewhere, with the others that finish
    /// within [`ACK_GATHER`]; hands the rest back to the queue at once (the delivery limit
    /// stops a message from bouncing for ever).
    async fn finish(&self, settled: Vec<(Delivery, lapin::Result<Outcome>)>) {
        let mut open = self.0.lock().await;
        let mut finished = Vec::with_capacity(settled.len());
        for (delivery, outcome) in settled {
            match outcome {
                Ok(_) => {
                    if let Some(slot) = open.get_mut(&delivery.delivery_tag) {
                        *slot = Some(delivery.acker.clone());
                    }
                    finished.push(delivery.delivery_tag);
                }
                Err(e) => {
                    open.remove(&delivery.delivery_tag);
                    tracing::warn!(error = %e, "could not retry or park the message; returning it to the queue");
                    let nack = BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    };
                    lost(delivery.acker.nack(nack).await);
                }
            }
        }
        if finished.is_empty() {
            return;
        }
        drop(open);
        tokio::time::sleep(ACK_GATHER).await;
        let mut open = self.0.lock().await;
        // The finished head, acked as one by its last (another finish may have acked it).
        let (mut last, mut head) = (None, 0);
        while let Some(entry) = open.first_entry() {
            if entry.get().is_none() {
                break;
            }
            last = entry.remove();
            head += 1;
        }
        if let Some(acker) = last {
            lost(acker.ack(BasicAckOptions { multiple: head > 1 }).await);
        }
        // Finished behind an unfinished one: each on its own.
        for tag in finished {
            if let Some(Some(acker)) = open.remove(&tag) {
                lost(acker.ack(BasicAckOptions::default()).await);
            }
        }
    }
}

/// How long a finished delivery waits for others before it is acked: long enough that most
/// acks of a busy queue go several at a time, short against the time a message takes.
const ACK_GATHER: std::time::Duration = std::time::Duration::from_millis(10);

/// An ack or nack that could not be sent: the connection is gone, RabbitMQ delivers the
/// message again, and the handler is idempotent.
fn lost(result: lapin::Result<()>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "ack lost; the message will be redelivered");
    }
}

async fn park(
    delivery: &Delivery,
    stage: Stage,
    topology: &Topology,
    publisher: &Channel,
    reason: &str,
) -> lapin::Result<Outcome> {
    let attempt = header_int(delivery.properties.headers().as_ref(), HEADER_ATTEMPT).unwrap_or(0);
    let mut extra = FieldTable::default();
    extra.insert(
        HEADER_REASON.into(),
        AMQPValue::LongString(LongString::from(reason)),
    );
    extra.insert(
        HEADER_STAGE.into(),
        AMQPValue::LongString(LongString::from(stage.as_str())),
    );
    republish(
        delivery,
        publisher,
        &topology.parking(),
        attempt,
        Some(extra),
    )
    .await?;
    Ok(Outcome::Parked)
}

/// Publishes a copy of the delivery (same body, message id and routing key) to `exchange`
/// and waits for the broker's confirm.
async fn republish(
    delivery: &Delivery,
    publisher: &Channel,
    exchange: &str,
    attempt: i64,
    extra_headers: Option<FieldTable>,
) -> lapin::Result<Outcome> {
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    headers.insert(HEADER_ATTEMPT.into(), AMQPValue::LongLongInt(attempt));
    if let Some(extra) = extra_headers {
        for (k, v) in extra.inner() {
            headers.insert(k.clone(), v.clone());
        }
    }
    if publish_copy(
        publisher,
        delivery,
        exchange,
        delivery.routing_key.as_str(),
        headers,
    )
    .await?
    {
        Ok(Outcome::Retried)
    } else {
        Err(lapin::Error::InvalidChannelState(
            lapin::ChannelState::Error,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{HandlerError, database_unavailable};

    #[test]
    fn a_database_that_is_down_is_unavailable_and_other_errors_transient() {
        assert!(database_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(database_unavailable(&sqlx::Error::PoolClosed));
        assert!(database_unavailable(&sqlx::Error::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused)
        )));
        assert!(matches!(
            HandlerError::from(sqlx::Error::PoolTimedOut),
            HandlerError::Unavailable(_)
        ));
        assert!(!database_unavailable(&sqlx::Error::RowNotFound));
        assert!(matches!(
            HandlerError::from(sqlx::Error::RowNotFound),
            HandlerError::Transient(_)
        ));
    }
}
