//! Nothing stuck: a request whose stage message was lost (parked, dropped at the delivery
//! limit, never published) is found by the sweeper and moves on, with backoff and an
//! escalation when sweeping does not help.

use std::time::Duration;

use e2e::{Pipeline, TestBroker, TestDb, eventually, insert_request};
use shared::lifecycle::RequestState;
use uuid::Uuid;
use workers::roles::sweep::{ESCALATE_AFTER, sweep};

const STALL: Duration = Duration::from_secs(15 * 60);

async fn set(db: &TestDb, id: Uuid, sql: &str) {
    sqlx::query(&format!("UPDATE refund_requests SET {sql} WHERE id = $1"))
        .bind(id)
        .execute(&db.pool)
        .await
        .unwrap();
}

async fn queued(db: &TestDb, id: Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT payload->>'stage' FROM outbox WHERE payload->>'request_id' = $1::text ORDER BY id",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

async fn state(db: &TestDb, id: Uuid) -> String {
    sqlx::query_scalar("SELECT state FROM refund_requests WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_message_was_lost_is_swept_and_moves_on() {
    let db = TestDb::new().await;
    // Lost an hour ago in `received` (no message anywhere); one that just arrived; one
    // waiting on the customer; one lost in `approved` with its payout never asked for.
    let lost = insert_request(&db.pool, RequestState::Received).await;
    set(&db, lost, "updated_at = now() - interval '1 hour'").await;
    let fresh = insert_request(&db.pool, RequestState::Received).await;
    let waiting = insert_request(&db.pool, RequestState::NeedsInfo).await;
    set(&db, waiting, "updated_at = now() - interval '1 hour'").await;
    let approved = insert_request(&db.pool, RequestState::Approved).await;
    set(&db, approved, "updated_at = now() - interval '1 hour'").await;

    let swept = sweep(&db.pool, STALL).await.unwrap();
    let mut ids: Vec<Uuid> = swept.iter().map(|s| s.id).collect();
    ids.sort();
    let mut expected = vec![lost, approved];
    expected.sort();
    assert_eq!(ids, expected, "only the stalled ones in watched states");
    assert_eq!(queued(&db, lost).await, ["validate"]);
    assert_eq!(queued(&db, approved).await, ["payout"]);
    assert!(queued(&db, fresh).await.is_empty());
    assert!(queued(&db, waiting).await.is_empty());

    // Backoff: not again at once, nor after one stall period; after two (2^1) it is.
    assert!(sweep(&db.pool, STALL).await.unwrap().is_empty());
    set(&db, lost, "swept_at = now() - interval '20 minutes'").await;
    assert!(sweep(&db.pool, STALL).await.unwrap().is_empty());
    set(&db, lost, "swept_at = now() - interval '31 minutes'").await;
    let again = sweep(&db.pool, STALL).await.unwrap();
    assert_eq!(
        again.iter().map(|s| (s.id, s.sweeps)).collect::<Vec<_>>(),
        [(lost, 1)]
    );

    // The re-queued message moves the request on: the pipeline takes it from the outbox.
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let pipeline = Pipeline::start(&db, &broker).await;
    assert!(
        eventually(Duration::from_secs(30), || async {
            state(&db, lost).await != "received"
        })
        .await,
        "the swept request never moved"
    );
    let sweeps: i32 = sqlx::query_scalar("SELECT sweeps FROM refund_requests WHERE id = $1")
        .bind(lost)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(sweeps, 0, "a move starts the count again");
    pipeline.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeping_that_does_not_help_asks_a_person_once_and_goes_on() {
    let db = TestDb::new().await;
    let id = insert_request(&db.pool, RequestState::Validating).await;
    set(
        &db,
        id,
        &format!(
            "updated_at = now() - interval '1 day', sweeps = {}, swept_at = now() - interval '1 day'",
            ESCALATE_AFTER - 1
        ),
    )
    .await;
    assert_eq!(sweep(&db.pool, STALL).await.unwrap().len(), 1);
    let events: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, reason FROM request_events WHERE request_id = $1 AND actor = 'worker:sweeper'",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(events[0].1.contains("a person must look"), "{events:?}");
    // It keeps sweeping (at the longest interval), and does not escalate twice.
    set(&db, id, "swept_at = now() - interval '1 day'").await;
    assert_eq!(sweep(&db.pool, STALL).await.unwrap().len(), 1);
    let escalations: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM request_events WHERE request_id = $1 AND actor = 'worker:sweeper'",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(escalations, 1);
    assert_eq!(queued(&db, id).await, ["validate", "validate"]);
}
