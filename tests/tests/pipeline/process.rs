//! The real `refundd` process: SIGTERM while a message is in flight lets it finish.

use std::time::Duration;

use shared::lifecycle::RequestState;
use shared::messages::{Stage, WorkMessage};

use crate::support::publish;
use e2e::{
    TestBroker, TestDb, eventually, insert_request, refundd, refundd_with, terminate, wait_exit,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_a_message_is_in_flight_completes_it_and_exits_zero() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let id = insert_request(&db.pool, RequestState::Received).await;

    // Hold the request's row lock so the worker's handler blocks mid-transaction.
    let blocker = lock_request(&db, id).await;

    let mut worker = refundd(&db, &broker, &["worker", "validate"]);
    publish(&broker, &WorkMessage::new(Stage::Validate, id)).await;
    assert!(
        a_handler_waits_on_a_lock(&db).await,
        "the worker's handler is in flight"
    );

    terminate(&worker);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        worker.try_wait().unwrap().is_none(),
        "still finishing the message in flight"
    );
    blocker.rollback().await.unwrap();

    let status = tokio::task::block_in_place(|| wait_exit(&mut worker, Duration::from_secs(15)))
        .expect("exits after finishing");
    assert!(status.success(), "exit status {status:?}");
    let state: String = sqlx::query_scalar("SELECT state FROM refund_requests WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    // Validated and decided in the message's one transaction.
    assert_eq!(state, "approved", "the in-flight message was applied");
    assert_eq!(
        broker
            .queue_depth(&broker.topology.stage_queue(Stage::Validate))
            .await,
        0,
        "and acked"
    );
    broker.cleanup().await;
    db.drop_database().await;
}

/// A handler stuck on a lock does not hold a stopping worker: after the shutdown grace it
/// exits, the message unacked; RabbitMQ delivers it again, and the next worker applies it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_worker_within_the_grace_even_when_a_handler_waits_on_a_lock() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let id = insert_request(&db.pool, RequestState::Received).await;
    let blocker = lock_request(&db, id).await;

    let mut worker = refundd_with(
        &db,
        &broker,
        &["worker", "validate"],
        &[("REFUNDD_SHUTDOWN_GRACE", "1s")],
    );
    publish(&broker, &WorkMessage::new(Stage::Validate, id)).await;
    assert!(
        a_handler_waits_on_a_lock(&db).await,
        "the worker's handler waits on the lock"
    );
    let asked = std::time::Instant::now();
    terminate(&worker);
    let status = tokio::task::block_in_place(|| wait_exit(&mut worker, Duration::from_secs(10)))
        .expect("exits although the handler never finished");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(6),
        "bounded by the 1 s grace: {:?}",
        asked.elapsed()
    );
    // The lock is still held: nothing was applied, and the message waits for redelivery.
    assert_eq!(state_of(&db, id).await, "received");
    blocker.rollback().await.unwrap();
    let mut next = refundd(&db, &broker, &["worker", "validate"]);
    assert!(
        eventually(Duration::from_secs(20), || async {
            state_of(&db, id).await != "received"
        })
        .await,
        "the redelivered message was applied by the next worker"
    );
    terminate(&next);
    tokio::task::block_in_place(|| wait_exit(&mut next, Duration::from_secs(15)));
    broker.cleanup().await;
    db.drop_database().await;
}

async fn state_of(db: &TestDb, id: uuid::Uuid) -> String {
    sqlx::query_scalar("SELECT state FROM refund_requests WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// Holds request `id`'s row lock until the transaction ends, so a worker's handler blocks
/// mid-transaction.
async fn lock_request(db: &TestDb, id: uuid::Uuid) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut blocker = db.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM refund_requests WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *blocker)
        .await
        .unwrap();
    blocker
}

/// Whether, within 15 s, some connection to the test's database waits on a lock.
async fn a_handler_waits_on_a_lock(db: &TestDb) -> bool {
    eventually(Duration::from_secs(15), || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
        )
        .bind(&db.name)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        waiting > 0
    })
    .await
}
