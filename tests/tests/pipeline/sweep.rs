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
    db.drop_database().await;
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
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_payout_message_is_published_again_and_never_doubled_by_the_recheck() {
    use shared::messages::{Stage, WorkMessage};
    use workers::roles::payout::recheck_stuck;
    use workers::roles::sweep::sweep_messages;

    let db = TestDb::new().await;
    let id = insert_request(&db.pool, RequestState::PayoutPending).await;
    // The gateway's answer was lost two hours ago, and the payout message that would ask
    // again went round the tiers and was parked: published long ago, never settled.
    sqlx::query(
        "INSERT INTO payout_attempts (id, request_id, payment_id, idempotency_key, gateway,
                                      amount_minor, currency, status, created_at, updated_at)
         SELECT $1, r.id, r.payment_id, 'rf-' || r.id || '-1', 'sandbox', 45000, 'BYN',
                'unknown', now() - interval '3 hours', now() - interval '2 hours'
           FROM refund_requests r WHERE r.id = $2",
    )
    .bind(Uuid::now_v7())
    .bind(id)
    .execute(&db.pool)
    .await
    .unwrap();
    let message = WorkMessage::new(Stage::Payout, id);
    let mut tx = db.pool.begin().await.unwrap();
    shared::outbox::enqueue(&mut tx, &[(&message).into()])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let publish = |ago: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query(&format!(
                "UPDATE outbox SET published_at = now() - interval '{ago}' WHERE message_id = $1"
            ))
            .bind(message.message_id)
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    publish("2 hours").await;

    // While that message is open, the recheck queues no second one.
    let asked = recheck_stuck(&db.pool, Duration::from_secs(1800))
        .await
        .unwrap();
    assert!(asked.is_empty(), "{asked:?}");
    // The message sweep hands it back to the relay, as it was.
    let swept = sweep_messages(&db.pool, STALL).await.unwrap();
    assert_eq!(
        swept
            .iter()
            .map(|m| (m.message_id, m.resent))
            .collect::<Vec<_>>(),
        [(message.message_id, 0)]
    );
    let (published, resent): (Option<chrono::DateTime<chrono::Utc>>, i32) =
        sqlx::query_as("SELECT published_at, resent FROM outbox WHERE message_id = $1")
            .bind(message.message_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        (published, resent),
        (None, 1),
        "for the relay to publish again"
    );
    assert_eq!(
        queued(&db, id).await,
        ["payout"],
        "the same row, no new one"
    );

    // Backoff: after one re-publish, two stall periods.
    publish("20 minutes").await;
    assert!(sweep_messages(&db.pool, STALL).await.unwrap().is_empty());
    publish("31 minutes").await;
    assert_eq!(sweep_messages(&db.pool, STALL).await.unwrap().len(), 1);

    // Escalation once, after ESCALATE_AFTER re-publishes.
    sqlx::query("UPDATE outbox SET resent = $2 WHERE message_id = $1")
        .bind(message.message_id)
        .bind(ESCALATE_AFTER - 1)
        .execute(&db.pool)
        .await
        .unwrap();
    publish("1 day").await;
    assert_eq!(sweep_messages(&db.pool, STALL).await.unwrap().len(), 1);
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT reason FROM request_events WHERE request_id = $1 AND actor = 'worker:sweeper'",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].contains("payout message") && events[0].contains("a person must look"),
        "{events:?}"
    );

    // Once its handler settles it, the recheck may ask again; the sweep leaves it alone.
    shared::outbox::settle(&db.pool, message.message_id)
        .await
        .unwrap();
    publish("1 day").await;
    assert!(sweep_messages(&db.pool, STALL).await.unwrap().is_empty());
    assert_eq!(
        recheck_stuck(&db.pool, Duration::from_secs(1800))
            .await
            .unwrap(),
        [id]
    );
    db.drop_database().await;
}
