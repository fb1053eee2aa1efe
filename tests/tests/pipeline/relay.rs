//! The outbox relay: every committed row is published, effects happen exactly once, across
//! relay crashes and broker connections closed under it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use shared::broker::consumer::{self, ConsumerConfig};
use shared::broker::relay::{self, RelayConfig};
use shared::lifecycle::RequestState;
use shared::messages::{Stage, WorkMessage};
use shared::transition::{self, Transition};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::support::{RecordingHandler, effect_rows};
use e2e::{TestBroker, TestDb, eventually, insert_request, refundd, terminate, wait_exit};

/// Moves each request received → validating → needs_info, each move with one outbox
/// message for the decide stage: two transitions per request.
async fn run_transitions(pool: PgPool, ids: Vec<Uuid>, committed: Arc<AtomicUsize>) {
    for (from, to) in [
        (RequestState::Received, RequestState::Validating),
        (RequestState::Validating, RequestState::NeedsInfo),
    ] {
        for (i, id) in ids.iter().enumerate() {
            let mut tx = pool.begin().await.unwrap();
            let (_, version) = transition::lock_state(&mut tx, *id).await.unwrap();
            let msg = WorkMessage::new(Stage::Decide, *id).with_version(version + 1);
            // Without the customer's email for `needs_info`: the outbox holds exactly the
            // messages this test counts.
            transition::apply_without_email(
                &mut tx,
                &Transition {
                    request_id: *id,
                    expected_version: version,
                    from,
                    to,
                    actor: "test",
                    reason: None,
                    details: json!({}),
                },
                &[(&msg).into()],
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            committed.fetch_add(1, Ordering::SeqCst);
            if i % 25 == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Outbox rows still waiting to be published. A decide message's row is deleted once the broker
/// confirmed it (its stage is not tracked until settled), so none left means every one went.
async fn unpublished(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn wait_for(committed: &AtomicUsize, n: usize) {
    while committed.load(Ordering::SeqCst) < n {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_transitions_survive_two_relay_crashes_and_apply_exactly_once() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let mut ids = Vec::new();
    for _ in 0..500 {
        ids.push(insert_request(&db.pool, RequestState::Received).await);
    }
    let handler = RecordingHandler::new(db.pool.clone(), RecordingHandler::succeed()).await;
    let shutdown = CancellationToken::new();
    let consumer_task = tokio::spawn(consumer::run(
        ConsumerConfig {
            amqp_url: broker.url.clone(),
            topology: broker.topology.clone(),
            stage: Stage::Decide,
            prefetch: 32,
            shutdown_grace: std::time::Duration::from_secs(8),
        },
        Arc::new(handler.clone()),
        shutdown.clone(),
    ));

    let committed = Arc::new(AtomicUsize::new(0));
    let mut relay_process = refundd(&db, &broker, &["worker", "relay"]);
    let writer = tokio::spawn(run_transitions(db.pool.clone(), ids, committed.clone()));

    for at in [300, 650] {
        wait_for(&committed, at).await;
        relay_process.kill().unwrap(); // SIGKILL: no chance to finish a batch
        relay_process.wait().unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        relay_process = refundd(&db, &broker, &["worker", "relay"]);
    }
    writer.await.unwrap();
    assert_eq!(committed.load(Ordering::SeqCst), 1000);

    assert!(
        eventually(Duration::from_secs(60), || async {
            unpublished(&db.pool).await == 0
        })
        .await,
        "every outbox row is published (unpublished: {})",
        unpublished(&db.pool).await
    );
    assert!(
        eventually(Duration::from_secs(60), || async {
            effect_rows(&db.pool).await.0 == 1000
        })
        .await,
        "every message is applied (applied: {:?})",
        effect_rows(&db.pool).await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        effect_rows(&db.pool).await,
        (1000, 1000),
        "each effect exactly once"
    );
    assert!(handler.total_deliveries() >= 1000);

    terminate(&relay_process);
    let status =
        wait_exit(&mut relay_process, Duration::from_secs(10)).expect("relay exits on SIGTERM");
    assert!(status.success(), "{status:?}");
    shutdown.cancel();
    consumer_task.await.unwrap();
    broker.cleanup().await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_and_consumer_reconnect_after_the_broker_closes_their_connections() {
    let db = TestDb::new().await;
    let broker = TestBroker::with_vhost(&[Duration::from_millis(200)]);
    broker.declare().await;
    let mut ids = Vec::new();
    for _ in 0..150 {
        ids.push(insert_request(&db.pool, RequestState::Received).await);
    }
    let handler = RecordingHandler::new(db.pool.clone(), RecordingHandler::succeed()).await;
    let shutdown = CancellationToken::new();
    let consumer_task = tokio::spawn(consumer::run(
        ConsumerConfig {
            amqp_url: broker.url.clone(),
            topology: broker.topology.clone(),
            stage: Stage::Decide,
            prefetch: 16,
            shutdown_grace: std::time::Duration::from_secs(8),
        },
        Arc::new(handler.clone()),
        shutdown.clone(),
    ));
    let relay_task = tokio::spawn(relay::run(
        db.pool.clone(),
        RelayConfig {
            amqp_url: broker.url.clone(),
            topology: broker.topology.clone(),
            batch_size: 20,
            poll_interval: Duration::from_millis(100),
            gather: shared::config::Settings::default().relay_gather,
        },
        shutdown.clone(),
    ));
    let committed = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn(run_transitions(db.pool.clone(), ids, committed.clone()));
    for at in [80, 200] {
        wait_for(&committed, at).await;
        tokio::task::block_in_place(|| broker.close_all_connections());
    }
    writer.await.unwrap();
    assert!(
        eventually(Duration::from_secs(60), || async {
            effect_rows(&db.pool).await.0 == 300
        })
        .await,
        "nothing lost after forced closes (applied: {:?}, unpublished: {})",
        effect_rows(&db.pool).await,
        unpublished(&db.pool).await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(effect_rows(&db.pool).await, (300, 300));
    assert_eq!(unpublished(&db.pool).await, 0);
    shutdown.cancel();
    relay_task.await.unwrap();
    consumer_task.await.unwrap();
    broker.cleanup().await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unroutable_message_is_an_error_not_a_silent_ack() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let good = WorkMessage::new(Stage::Validate, Uuid::now_v7());
    // A tracked stage's message stays, marked published, until its handler settles it.
    let tracked = WorkMessage::new(Stage::Notify, Uuid::now_v7()).with_event("received");
    let mut conn = db.pool.acquire().await.unwrap();
    shared::outbox::enqueue(
        &mut conn,
        &[
            shared::outbox::OutboxMessage {
                message_id: Uuid::now_v7(),
                routing_key: "request.nowhere".into(),
                payload: json!({"nothing": "binds this"}),
            },
            (&good).into(),
            (&tracked).into(),
        ],
    )
    .await
    .unwrap();
    drop(conn);
    let shutdown = CancellationToken::new();
    let relay_task = tokio::spawn(relay::run(
        db.pool.clone(),
        RelayConfig {
            amqp_url: broker.url.clone(),
            topology: broker.topology.clone(),
            batch_size: 10,
            poll_interval: Duration::from_millis(100),
            gather: shared::config::Settings::default().relay_gather,
        },
        shutdown.clone(),
    ));
    assert!(
        eventually(Duration::from_secs(10), || async {
            let err: Option<String> = sqlx::query_scalar(
                "SELECT last_error FROM outbox WHERE routing_key = 'request.nowhere'",
            )
            .fetch_one(&db.pool)
            .await
            .unwrap();
            err.is_some()
        })
        .await
    );
    shutdown.cancel();
    relay_task.await.unwrap();
    let (published_at, error): (Option<chrono::DateTime<chrono::Utc>>, Option<String>) =
        sqlx::query_as(
            "SELECT published_at, last_error FROM outbox WHERE routing_key = 'request.nowhere'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(published_at.is_none(), "not marked published");
    assert!(error.unwrap().contains("unroutable"));
    for stage in [Stage::Validate, Stage::Notify] {
        assert_eq!(
            broker
                .queue_depth(&broker.topology.stage_queue(stage))
                .await,
            1,
            "the routable {stage} message went out"
        );
    }
    let left: Vec<(Uuid, bool)> = sqlx::query_as(
        "SELECT message_id, published_at IS NOT NULL FROM outbox
          WHERE routing_key <> 'request.nowhere' ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        left,
        [(tracked.message_id, true)],
        "the validate message's row is done and deleted; the notify one stays open, published"
    );
    broker.cleanup().await;
    db.drop_database().await;
}
