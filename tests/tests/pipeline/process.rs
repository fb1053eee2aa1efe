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

/// `refundd all` gives the API a pool of its own: with the workers' one connection stuck on a
/// lock (the outbox held by another session), a support agent's read is answered at once,
/// where a shared pool made it wait 5 s and fail. `pg_stat_activity` names both pools.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refundd_all_answers_the_api_while_every_worker_connection_waits_on_a_lock() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let id = insert_request(&db.pool, RequestState::Received).await;
    let key = e2e::all_merchants_key(&db.pool, shared::api_keys::ApiRole::Supervisor).await;
    let spool = std::env::temp_dir().join(format!("refundd-all-{}", uuid::Uuid::new_v4()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");

    // Every worker statement on the outbox (the relay's first look) waits behind this lock.
    let mut blocker = db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();

    let mut all = refundd_with(
        &db,
        &broker,
        &["all"],
        &[
            ("REFUNDD_DB_POOL", "all=1,api=2"),
            ("REFUNDD_API_BIND", &bind),
            ("REFUNDD_SANDBOX_GATEWAY", "off"),
            ("REFUNDD_SPOOL_DIR", spool.to_str().unwrap()),
        ],
    );
    let waiting = |name: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND application_name = $1
                    AND wait_event_type = 'Lock'",
            )
            .bind(name)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert!(
        eventually(Duration::from_secs(30), || async {
            waiting("refundd all: workers").await == 1
        })
        .await,
        "the workers' only connection waits on the outbox's lock"
    );

    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    let answer = client
        .get(format!("http://{bind}/v1/refund-requests/{id}"))
        .bearer_auth(&key)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    assert!(
        took < Duration::from_secs(3),
        "answered from the API's own pool in {took:?}, not after the 5 s wait for a connection"
    );
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT application_name FROM pg_stat_activity
          WHERE datname = current_database() AND application_name LIKE 'refundd%'
          ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(names, ["refundd all: api", "refundd all: workers"]);
    assert_eq!(waiting("refundd all: api").await, 0);

    blocker.rollback().await.unwrap();
    terminate(&all);
    let status = tokio::task::block_in_place(|| wait_exit(&mut all, Duration::from_secs(30)))
        .expect("exits once the lock is gone");
    assert!(status.success(), "exit status {status:?}");
    std::fs::remove_dir_all(&spool).ok();
    broker.cleanup().await;
    db.drop_database().await;
}

/// On the database's own machine refundd connects through Postgres' Unix socket when its URL
/// names the socket's folder (`?host=/var/run/postgresql`, README: Configuration): a worker so
/// configured does its work, and its connections are the socket's (no client port).
/// `scripts/bench-e2e` connects so by default (docs/PERFORMANCE.md, 32).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_reaches_postgres_through_its_unix_socket() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let id = insert_request(&db.pool, RequestState::Received).await;
    let (folders, port): (String, String) = sqlx::query_as(
        "SELECT current_setting('unix_socket_directories'), current_setting('port')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let folder = folders.split(',').next().unwrap().trim();
    assert!(!folder.is_empty(), "the server listens on a Unix socket");
    let url = format!(
        "postgres://postgres@localhost:{port}/{}?host={folder}",
        db.name
    );

    let mut worker = refundd_with(
        &db,
        &broker,
        &["worker", "validate"],
        &[("DATABASE_URL", &url)],
    );
    publish(&broker, &WorkMessage::new(Stage::Validate, id)).await;
    assert!(
        eventually(Duration::from_secs(20), || async {
            state_of(&db, id).await == "approved"
        })
        .await,
        "validated and decided by the worker on the socket"
    );
    // A connection through a Unix socket has no client port (-1).
    let (on_socket, by_tcp): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE client_port = -1), count(*) FILTER (WHERE client_port <> -1)
           FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'refundd%'",
    )
    .bind(&db.name)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(on_socket > 0, "the worker's connections are the socket's");
    assert_eq!(by_tcp, 0, "and none by TCP");

    terminate(&worker);
    let status = tokio::task::block_in_place(|| wait_exit(&mut worker, Duration::from_secs(15)))
        .expect("exits");
    assert!(status.success(), "exit status {status:?}");
    broker.cleanup().await;
    db.drop_database().await;
}

/// The pool checks a connection that sat idle longer than `CHECK_IDLE_AFTER` before handing it
/// out (one used more recently was checked as it was released and goes out unchecked: the
/// round trip docs/PERFORMANCE.md 34 saves): a connection the server ended while it sat idle
/// is replaced, and the caller never sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_connection_the_server_ended_while_idle_is_replaced_unseen() {
    let db = TestDb::new().await;
    let pool = shared::db::connect(&db.url, 1).await.unwrap();
    let pid = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let first = pid(pool.clone()).await;
    // Used again at once: the same connection.
    assert_eq!(pid(pool.clone()).await, first);

    // Idle past the check, then ended by the server (an administrator, a restart).
    tokio::time::sleep(shared::db::CHECK_IDLE_AFTER + Duration::from_millis(300)).await;
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(first)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(ended);
    // The server needs a moment to end it; the pool's check then finds it gone.
    assert!(
        eventually(Duration::from_secs(5), || async {
            sqlx::query_scalar::<_, bool>(
                "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)",
            )
            .bind(first)
            .fetch_one(&db.pool)
            .await
            .unwrap()
        })
        .await,
        "the server ended backend {first}"
    );
    let second = pid(pool.clone()).await;
    assert_ne!(second, first, "a new connection, no error");
    pool.close().await;
    db.drop_database().await;
}
