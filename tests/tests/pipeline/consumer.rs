//! The consumer runtime: redelivery changes nothing, transient failures come back after the
//! retry delays, permanent failures and garbage are parked with a reason, shutdown finishes
//! the message in flight.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::broker::consumer::{self, ConsumerConfig, HandlerError};
use shared::broker::{HEADER_REASON, header_str};
use shared::lifecycle::RequestState;
use shared::messages::{Stage, WorkMessage};
use tokio_util::sync::CancellationToken;

use crate::support::{RecordingHandler, drain_parking, effect_rows, publish, publish_raw};
use e2e::{TestBroker, TestDb, eventually, insert_request};

fn config(broker: &TestBroker, stage: Stage) -> ConsumerConfig {
    ConsumerConfig {
        amqp_url: broker.url.clone(),
        topology: broker.topology.clone(),
        stage,
        prefetch: 8,
        shutdown_grace: std::time::Duration::from_secs(8),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_message_delivered_twice_is_applied_once() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let id = insert_request(&db.pool, RequestState::Received).await;

    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(consumer::run(
        config(&broker, Stage::Validate),
        Arc::new(workers::roles::validate::Validate::new(
            db.pool.clone(),
            Arc::new(shared::policy::PolicyPacks::builtin().clone()),
            Arc::new(shared::calendar::Calendars::builtin()),
            shared::documents::DocumentKeys::development(),
        )),
        shutdown.clone(),
    ));
    let message = WorkMessage::new(Stage::Validate, id);
    publish(&broker, &message).await;
    publish(&broker, &message).await;

    let pool = db.pool.clone();
    assert!(
        eventually(Duration::from_secs(10), || {
            let pool = pool.clone();
            async move {
                let n: i64 = sqlx::query_scalar("SELECT count(*) FROM processed_messages")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                n == 1
            }
        })
        .await
    );
    // Give the duplicate time to arrive and be ignored.
    assert!(
        eventually(Duration::from_secs(10), || async {
            broker
                .queue_depth(&broker.topology.stage_queue(Stage::Validate))
                .await
                == 0
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    shutdown.cancel();
    worker.await.unwrap();

    let (state, version): (String, i32) =
        sqlx::query_as("SELECT state, version FROM refund_requests WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    // Validated and decided once, in one transaction: received → validating → approved.
    assert_eq!((state.as_str(), version), ("approved", 3));
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM request_events WHERE request_id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(events, 2);
    let payout_messages: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE routing_key = 'request.payout'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(payout_messages, 1, "one payout message, not two");
    broker.cleanup().await;
    db.drop_database().await;
}

/// A stage that takes batches: messages waiting together are applied in one transaction; a
/// message that fails has only its own work undone and comes back through a retry tier; every
/// message's effect is there exactly once and every message is acked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_commits_together_and_a_failing_message_is_undone_alone() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let messages: Vec<WorkMessage> = (0..12)
        .map(|_| WorkMessage::new(Stage::Validate, uuid::Uuid::now_v7()))
        .collect();
    let failing = messages[5].message_id;
    let handler = crate::support::BatchingHandler::new(
        RecordingHandler::new(
            db.pool.clone(),
            Arc::new(move |m: &WorkMessage, n: u32| {
                if m.message_id == failing && n == 1 {
                    Err(HandlerError::Transient(anyhow::anyhow!("scripted failure")))
                } else {
                    Ok(())
                }
            }),
        )
        .await,
        4,
    );
    // Waiting together before the consumer starts.
    for m in &messages {
        publish(&broker, m).await;
    }
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(consumer::run(
        config(&broker, Stage::Validate),
        Arc::new(handler.clone()),
        shutdown.clone(),
    ));
    assert!(
        eventually(Duration::from_secs(10), || async {
            effect_rows(&db.pool).await == (12, 12)
        })
        .await,
        "{:?}",
        effect_rows(&db.pool).await
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            broker
                .queue_depth(&broker.topology.stage_queue(Stage::Validate))
                .await
                == 0
        })
        .await
    );
    shutdown.cancel();
    worker.await.unwrap();

    let batches = handler.batches.lock().unwrap().clone();
    assert!(batches.iter().all(|&n| n <= 4), "{batches:?}");
    assert!(
        batches.iter().any(|&n| n > 1),
        "waiting messages were taken together: {batches:?}"
    );
    assert_eq!(
        handler.inner.delivery_count(failing),
        2,
        "failed once, then applied"
    );
    for m in messages.iter().filter(|m| m.message_id != failing) {
        assert_eq!(handler.inner.delivery_count(m.message_id), 1);
    }
    // The failing message's effect was undone with its savepoint and written once later.
    let processed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM processed_messages WHERE consumer = 'test'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(processed, 12);
    broker.cleanup().await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_is_retried_after_the_retry_delays() {
    let db = TestDb::new().await;
    let delays = [
        Duration::from_millis(400),
        Duration::from_millis(800),
        Duration::from_secs(3),
    ];
    let broker = TestBroker::new(&delays);
    broker.declare().await;
    let handler = RecordingHandler::new(
        db.pool.clone(),
        Arc::new(|_, n| {
            if n <= 2 {
                Err(HandlerError::Transient(anyhow::anyhow!(
                    "gateway timed out ({n})"
                )))
            } else {
                Ok(())
            }
        }),
    )
    .await;
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(consumer::run(
        config(&broker, Stage::Payout),
        Arc::new(handler.clone()),
        shutdown.clone(),
    ));
    let message = WorkMessage::new(Stage::Payout, uuid::Uuid::now_v7());
    publish(&broker, &message).await;
    assert!(
        eventually(Duration::from_secs(15), || async {
            effect_rows(&db.pool).await.0 == 1
        })
        .await,
        "processed in the end"
    );
    shutdown.cancel();
    worker.await.unwrap();

    let times = handler.deliveries.lock().unwrap()[&message.message_id].clone();
    assert_eq!(times.len(), 3, "two failures, then success");
    let first_wait = times[1] - times[0];
    let second_wait = times[2] - times[1];
    assert!(first_wait >= Duration::from_millis(400), "{first_wait:?}");
    assert!(second_wait >= Duration::from_millis(800), "{second_wait:?}");
    assert!(
        second_wait < Duration::from_secs(3),
        "tier 2, not tier 3: {second_wait:?}"
    );
    assert!(drain_parking(&broker).await.is_empty());
    broker.cleanup().await;
    db.drop_database().await;
}

/// A database outage longer than the retry tiers parks nothing: the message waits at the last
/// tier again and again and is handled once the database is back (a 30-second outage once
/// parked 97 messages and left their requests stuck).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_database_is_retried_at_the_last_tier_and_never_parked() {
    let db = TestDb::new().await;
    let delays = [Duration::from_millis(200), Duration::from_millis(400)];
    let broker = TestBroker::new(&delays);
    broker.declare().await;
    let handler = RecordingHandler::new(
        db.pool.clone(),
        Arc::new(|_, n| {
            if n <= 5 {
                // What a handler's `?` makes of a pool that cannot reach the database.
                Err(HandlerError::from(sqlx::Error::PoolTimedOut))
            } else {
                Ok(())
            }
        }),
    )
    .await;
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(consumer::run(
        config(&broker, Stage::Validate),
        Arc::new(handler.clone()),
        shutdown.clone(),
    ));
    let message = WorkMessage::new(Stage::Validate, uuid::Uuid::now_v7());
    publish(&broker, &message).await;
    assert!(
        eventually(Duration::from_secs(20), || async {
            effect_rows(&db.pool).await.0 == 1
        })
        .await,
        "handled once the database was back"
    );
    shutdown.cancel();
    worker.await.unwrap();
    let times = handler.deliveries.lock().unwrap()[&message.message_id].clone();
    assert_eq!(
        times.len(),
        6,
        "five failures (more than the two tiers), then success"
    );
    // After the tiers are used up, every wait is the last tier's.
    for pair in times.windows(2).skip(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(400), "{times:?}");
    }
    assert!(drain_parking(&broker).await.is_empty(), "nothing parked");
    broker.cleanup().await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failures_and_garbage_are_parked_with_a_reason_and_the_consumer_goes_on() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&[Duration::from_millis(100), Duration::from_millis(200)]);
    broker.declare().await;
    let poison = WorkMessage::new(Stage::Notify, uuid::Uuid::now_v7());
    let flaky = WorkMessage::new(Stage::Notify, uuid::Uuid::now_v7());
    let good = WorkMessage::new(Stage::Notify, uuid::Uuid::now_v7());
    let (poison_id, flaky_id) = (poison.message_id, flaky.message_id);
    let handler = RecordingHandler::new(
        db.pool.clone(),
        Arc::new(move |m, _| {
            if m.message_id == poison_id {
                Err(HandlerError::Permanent(anyhow::anyhow!(
                    "template missing for event"
                )))
            } else if m.message_id == flaky_id {
                Err(HandlerError::Transient(anyhow::anyhow!("SMTP server busy")))
            } else {
                Ok(())
            }
        }),
    )
    .await;
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(consumer::run(
        config(&broker, Stage::Notify),
        Arc::new(handler.clone()),
        shutdown.clone(),
    ));
    publish_raw(
        &broker,
        &Stage::Notify.routing_key(),
        b"{not json",
        "garbage-1",
    )
    .await;
    publish(&broker, &poison).await;
    publish(&broker, &flaky).await;
    publish(&broker, &good).await;

    assert!(
        eventually(Duration::from_secs(10), || async {
            effect_rows(&db.pool).await.0 == 1
        })
        .await,
        "the good message after the bad ones is processed"
    );
    let mut parked = Vec::new();
    for _ in 0..100 {
        parked.extend(drain_parking(&broker).await);
        if parked.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        parked.len(),
        3,
        "garbage, poison and the flaky one are parked"
    );
    shutdown.cancel();
    worker.await.unwrap();

    let mut reasons: Vec<String> = parked
        .iter()
        .map(|m| {
            header_str(m.delivery.properties.headers().as_ref(), HEADER_REASON).unwrap_or_default()
        })
        .collect();
    reasons.sort();
    assert!(
        reasons[0].starts_with("gave up after 3 attempts; last error: SMTP server busy"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].starts_with("permanent failure: template missing"),
        "{reasons:?}"
    );
    assert!(reasons[2].starts_with("unparseable message"), "{reasons:?}");
    assert_eq!(
        handler.delivery_count(flaky_id),
        3,
        "first try and one per retry tier"
    );
    assert_eq!(
        handler.delivery_count(poison_id),
        1,
        "a permanent failure is not retried"
    );
    broker.cleanup().await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_message_in_flight_and_acks_it() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&[Duration::from_millis(100)]);
    broker.declare().await;
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let started_tx = std::sync::Mutex::new(started_tx);
    let handler = RecordingHandler::new(
        db.pool.clone(),
        Arc::new(move |_, _| {
            started_tx.lock().unwrap().send(()).unwrap();
            // A slow handler: shutdown arrives while it works.
            std::thread::sleep(Duration::from_millis(1500));
            Ok(())
        }),
    )
    .await;
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(consumer::run(
        config(&broker, Stage::Decide),
        Arc::new(handler.clone()),
        shutdown.clone(),
    ));
    let message = WorkMessage::new(Stage::Decide, uuid::Uuid::now_v7());
    publish(&broker, &message).await;
    tokio::task::spawn_blocking(move || started_rx.recv_timeout(Duration::from_secs(10)).unwrap())
        .await
        .unwrap();
    let asked = Instant::now();
    shutdown.cancel();
    worker.await.unwrap();
    assert!(
        asked.elapsed() >= Duration::from_millis(1000),
        "waited for the handler"
    );
    assert_eq!(
        effect_rows(&db.pool).await,
        (1, 1),
        "the in-flight message completed"
    );
    // Acked: nothing is left for the next consumer.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        broker
            .queue_depth(&broker.topology.stage_queue(Stage::Decide))
            .await,
        0
    );
    assert_eq!(handler.total_deliveries(), 1);
    broker.cleanup().await;
    db.drop_database().await;
}

/// Acks go several at a time (`basic.ack` with `multiple`), which acks every open delivery up to
/// the one named: a message still being handled must never be acked with the ones after it.
/// The first message hangs while six after it finish together; the consumer is then stopped
/// with a short grace, abandoning it. RabbitMQ must deliver it again, and only it: the six
/// were acked, it was not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_still_in_flight_is_never_acked_with_the_ones_after_it() {
    /// Records what it is given; a message named `hang` never finishes.
    #[derive(Clone, Default)]
    struct Hanging {
        hang: Option<uuid::Uuid>,
        seen: Arc<std::sync::Mutex<Vec<uuid::Uuid>>>,
    }
    impl consumer::Handler for Hanging {
        async fn handle(&self, message: WorkMessage) -> Result<(), HandlerError> {
            self.seen.lock().unwrap().push(message.message_id);
            if Some(message.message_id) == self.hang {
                std::future::pending::<()>().await;
            }
            Ok(())
        }
    }
    let broker = TestBroker::new(&[Duration::from_millis(100)]);
    broker.declare().await;
    let queue = broker.topology.stage_queue(Stage::Decide);
    let slow = WorkMessage::new(Stage::Decide, uuid::Uuid::now_v7());
    let fast: Vec<WorkMessage> = (0..6)
        .map(|_| WorkMessage::new(Stage::Decide, uuid::Uuid::now_v7()))
        .collect();
    // All waiting before the consumer starts, the hanging one first: the six finish together,
    // so their acks go as one.
    publish(&broker, &slow).await;
    for message in &fast {
        publish(&broker, message).await;
    }
    let first = Hanging {
        hang: Some(slow.message_id),
        ..Hanging::default()
    };
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(consumer::run(
        ConsumerConfig {
            shutdown_grace: Duration::from_millis(300),
            ..config(&broker, Stage::Decide)
        },
        Arc::new(first.clone()),
        shutdown.clone(),
    ));
    assert!(
        eventually(Duration::from_secs(10), || async {
            first.seen.lock().unwrap().len() == 7
        })
        .await,
        "all seven delivered"
    );
    // Longer than the acks wait for each other.
    tokio::time::sleep(Duration::from_millis(300)).await;
    shutdown.cancel();
    worker.await.unwrap();

    let second = Hanging::default();
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(consumer::run(
        config(&broker, Stage::Decide),
        Arc::new(second.clone()),
        shutdown.clone(),
    ));
    assert!(
        eventually(Duration::from_secs(10), || async {
            !second.seen.lock().unwrap().is_empty()
        })
        .await,
        "the abandoned message is delivered again"
    );
    // Time for anything else to come wrongly.
    tokio::time::sleep(Duration::from_millis(500)).await;
    shutdown.cancel();
    worker.await.unwrap();
    assert_eq!(
        second.seen.lock().unwrap().as_slice(),
        [slow.message_id],
        "only the abandoned message came back: the six were acked once, it was not"
    );
    assert_eq!(broker.queue_depth(&queue).await, 0);
    broker.cleanup().await;
}
