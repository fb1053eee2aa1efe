//! Payouts through the real sandbox gateway: never twice, never lost, never above what was
//! captured — with injected timeouts and 5xx answers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use shared::broker::consumer::{self, ConsumerConfig};
use shared::gateway::ConfiguredGateway;
use shared::gateway::sandbox::server::Faults;
use shared::gateway::sandbox::{CardStatus, RefundStatus, SandboxGateway};
use shared::lifecycle::RequestState;
use shared::messages::{Stage, WorkMessage};
use shared::money::{Currency, Money};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use e2e::{TestBroker, TestDb, eventually};

mod lost_answers;
mod notifications;
mod person;
mod reconcile;

/// A sandbox gateway on 127.0.0.1:0 with these faults; returns its URL.
async fn sandbox(faults: Faults, shutdown: &CancellationToken) -> String {
    e2e::sandbox_gateway(faults, shutdown).await
}

/// An approved request for `amount` on a payment of `captured`, seeded in the sandbox.
async fn approved(
    pool: &PgPool,
    gateway: &SandboxGateway,
    txn: &str,
    captured: i64,
    amount: i64,
    card: CardStatus,
) -> Uuid {
    let payment = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO payments (id, merchant, policy_id, gateway, gateway_txn_id, amount_minor, currency, paid_at)
         VALUES ($1, 'byskills', 'by-online-courses', 'sandbox', $2, $3, 'BYN', now())
         ON CONFLICT ON CONSTRAINT payments_gateway_txn_key DO NOTHING",
    )
    .bind(payment)
    .bind(txn)
    .bind(captured)
    .execute(pool)
    .await
    .unwrap();
    let payment: Uuid = sqlx::query_scalar("SELECT id FROM payments WHERE gateway_txn_id = $1")
        .bind(txn)
        .fetch_one(pool)
        .await
        .unwrap();
    gateway
        .register_payment(txn, Money::from_minor(captured, Currency::BYN), card)
        .await
        .ok();
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO refund_requests (id, payment_id, merchant, state, channel, reason, received_at,
                                      amount_minor, currency, policy_id)
         VALUES ($1, $2, 'byskills', 'approved', 'api', 'withdrawal', now(), $3, 'BYN', 'by-online-courses')",
    )
    .bind(id)
    .bind(payment)
    .bind(amount)
    .execute(pool)
    .await
    .unwrap();
    id
}

async fn enqueue_payouts(pool: &PgPool, ids: &[Uuid]) {
    let mut conn = pool.acquire().await.unwrap();
    let messages: Vec<_> = ids
        .iter()
        .map(|id| WorkMessage::new(Stage::Payout, *id).into())
        .collect();
    shared::outbox::enqueue(&mut conn, &messages).await.unwrap();
}

fn start_workers(
    db: &TestDb,
    broker: &TestBroker,
    gateway_url: &str,
    shutdown: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let client_timeout = Duration::from_millis(400);
    let gateway =
        ConfiguredGateway::Sandbox(SandboxGateway::at(gateway_url, client_timeout).unwrap());
    let gateways = HashMap::from([("byskills".to_string(), gateway)]);
    vec![
        tokio::spawn(shared::broker::relay::run(
            db.pool.clone(),
            shared::broker::relay::RelayConfig {
                amqp_url: broker.url.clone(),
                topology: broker.topology.clone(),
                batch_size: 200,
                poll_interval: Duration::from_millis(100),
                gather: shared::config::Settings::default().relay_gather,
            },
            shutdown.clone(),
        )),
        tokio::spawn(consumer::run(
            ConsumerConfig {
                amqp_url: broker.url.clone(),
                topology: broker.topology.clone(),
                stage: Stage::Payout,
                prefetch: 64,
                shutdown_grace: std::time::Duration::from_secs(8),
            },
            Arc::new(workers::roles::payout::Payout::new(
                db.pool.clone(),
                gateways,
            )),
            shutdown.clone(),
        )),
    ]
}

async fn count_in(pool: &PgPool, state: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM refund_requests WHERE state = $1")
        .bind(state)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Waits until `n` requests are refunded, then checks the sandbox ledger: exactly one booked
/// refund per request, and the booked total equals the approved amounts.
async fn assert_each_refunded_once(
    pool: &PgPool,
    ledger_of: &SandboxGateway,
    n: usize,
    total: i64,
) {
    assert!(
        eventually(Duration::from_secs(240), || async {
            count_in(pool, "refunded").await == n as i64
        })
        .await,
        "refunded: {}, approved: {}, payout_pending: {}, payout_sent: {}",
        count_in(pool, "refunded").await,
        count_in(pool, "approved").await,
        count_in(pool, "payout_pending").await,
        count_in(pool, "payout_sent").await
    );
    let ledger = ledger_of.ledger(None).await.unwrap();
    let booked: Vec<_> = ledger
        .refunds
        .iter()
        .filter(|r| r.status == RefundStatus::Succeeded)
        .collect();
    let per_txn: HashSet<&str> = booked.iter().map(|r| r.transaction_id.as_str()).collect();
    assert_eq!(booked.len(), n, "exactly one refund per request");
    assert_eq!(per_txn.len(), n);
    let booked_total: i64 = booked
        .iter()
        .map(|r| Money::parse(&r.amount, Currency::BYN).unwrap().minor())
        .sum();
    assert_eq!(
        booked_total, total,
        "the ledger total is the sum of approved amounts"
    );
}

/// Many short retry tiers: a refund that keeps meeting injected faults is asked about again
/// and again instead of being parked.
fn retry_tiers() -> Vec<Duration> {
    (1..=10).map(|i| Duration::from_millis(50 * i)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_refunds_through_timeouts_and_5xx_are_each_booked_exactly_once() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&retry_tiers());
    broker.declare().await;
    let shutdown = CancellationToken::new();
    let url = sandbox(
        Faults {
            timeout_rate: 0.2,
            error_rate: 0.1,
            hang: Duration::from_millis(700),
            seed: Some(7),
            ..Faults::default()
        },
        &shutdown,
    )
    .await;
    let seeder = SandboxGateway::at(&url, Duration::from_secs(5)).unwrap();
    let mut ids = Vec::new();
    let mut expected_total = 0i64;
    for i in 0..1000 {
        let amount = 1000 + (i % 37) * 25;
        expected_total += amount;
        ids.push(
            approved(
                &db.pool,
                &seeder,
                &format!("txn-{i}"),
                50_000,
                amount,
                CardStatus::Active,
            )
            .await,
        );
    }
    let workers = start_workers(&db, &broker, &url, &shutdown);
    enqueue_payouts(&db.pool, &ids).await;

    assert_each_refunded_once(&db.pool, &seeder, 1000, expected_total).await;
    let refunded_events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM request_events WHERE to_state = 'refunded'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(refunded_events, 1000, "one refunded event per request");

    shutdown.cancel();
    for w in workers {
        w.await.unwrap();
    }
    broker.cleanup().await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_partial_refunds_never_sum_above_the_captured_amount() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&[Duration::from_millis(100)]);
    broker.declare().await;
    let shutdown = CancellationToken::new();
    let url = sandbox(Faults::default(), &shutdown).await;
    let seeder = SandboxGateway::at(&url, Duration::from_secs(5)).unwrap();
    // Ten approved partial refunds of 30.00 on one payment of 100.00: only three fit.
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(
            approved(
                &db.pool,
                &seeder,
                "txn-shared",
                10_000,
                3_000,
                CardStatus::Active,
            )
            .await,
        );
    }
    let workers = start_workers(&db, &broker, &url, &shutdown);
    enqueue_payouts(&db.pool, &ids).await;
    assert!(
        eventually(Duration::from_secs(30), || async {
            count_in(&db.pool, "refunded").await == 3
        })
        .await
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(count_in(&db.pool, "refunded").await, 3);
    let ledger = seeder.ledger(Some("txn-shared")).await.unwrap();
    assert_eq!(ledger.transactions[0].refunded, "90.00");
    let attempts: i64 = sqlx::query_scalar("SELECT count(*) FROM payout_attempts")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        attempts, 3,
        "no attempt beyond the captured amount was even started"
    );
    shutdown.cancel();
    for w in workers {
        w.await.unwrap();
    }
    broker.cleanup().await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_card_goes_to_bank_details_then_a_manual_payout_marked_paid() {
    let app = e2e::TestApp::spawn().await;
    let db = &app.db;
    let broker = TestBroker::new(&[Duration::from_millis(100)]);
    broker.declare().await;
    let shutdown = CancellationToken::new();
    let url = sandbox(Faults::default(), &shutdown).await;
    let seeder = SandboxGateway::at(&url, Duration::from_secs(5)).unwrap();
    let id = approved(
        &db.pool,
        &seeder,
        "txn-expired",
        45_000,
        9_000,
        CardStatus::Expired,
    )
    .await;
    let workers = start_workers(db, &broker, &url, &shutdown);
    enqueue_payouts(&db.pool, &[id]).await;
    assert!(
        eventually(Duration::from_secs(20), || async {
            count_in(&db.pool, RequestState::NeedsBankDetails.as_str()).await == 1
        })
        .await
    );
    let history: Vec<(String, String)> = sqlx::query_as(
        "SELECT to_state, actor FROM request_events WHERE request_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let states: Vec<&str> = history.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        states,
        ["payout_pending", "payout_failed", "needs_bank_details"]
    );
    assert!(history.iter().all(|(_, actor)| actor == "worker:payout"));
    let asked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM notifications WHERE event = 'bank_details_needed'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(asked, 1);
    let reason: Option<String> = sqlx::query_scalar("SELECT decline_reason FROM payout_attempts")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(reason.unwrap().starts_with("card_expired"));

    // The customer's bank details arrive; the finance team pays; a supervisor marks it paid.
    let client = reqwest::Client::new();
    let support = app.key(shared::api_keys::ApiRole::Support).to_string();
    let supervisor = app.key(shared::api_keys::ApiRole::Supervisor).to_string();
    let r = client
        .post(app.url(&format!("/v1/refund-requests/{id}/bank-details")))
        .bearer_auth(&support)
        .json(&serde_json::json!({"bank_details": "BY20 OLMP 3135 0000 0010 0000 0933", "account_holder": "Ivan Ivanov"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let list: serde_json::Value = client
        .get(app.url("/v1/payouts/manual"))
        .bearer_auth(&supervisor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["request_id"], id.to_string());
    assert_eq!(list["items"][0]["amount"], "90.00");
    let r = client
        .post(app.url(&format!("/v1/refund-requests/{id}/mark-paid")))
        .bearer_auth(&support)
        .json(&serde_json::json!({"reference": "PP-2026-0042"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "only a supervisor marks payouts paid");
    let r = client
        .post(app.url(&format!("/v1/refund-requests/{id}/mark-paid")))
        .bearer_auth(&supervisor)
        .json(&serde_json::json!({"reference": "PP-2026-0042"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let history: Vec<(String, String)> = sqlx::query_as(
        "SELECT to_state, actor FROM request_events WHERE request_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let steps: Vec<(&str, &str)> = history
        .iter()
        .map(|(s, a)| (s.as_str(), a.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("payout_pending", "worker:payout"),
            ("payout_failed", "worker:payout"),
            ("needs_bank_details", "worker:payout"),
            ("manual_payout", "support:test-support"),
            ("refunded", "supervisor:test-supervisor"),
        ]
    );
    shutdown.cancel();
    for w in workers {
        w.await.unwrap();
    }
    broker.cleanup().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_survive_the_payout_worker_being_killed_at_random_moments() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&retry_tiers());
    broker.declare().await;
    let shutdown = CancellationToken::new();
    let url = sandbox(
        Faults {
            timeout_rate: 0.2,
            error_rate: 0.1,
            hang: Duration::from_millis(700),
            latency: Duration::from_millis(20),
            seed: Some(11),
            ..Faults::default()
        },
        &shutdown,
    )
    .await;
    let seeder = SandboxGateway::at(&url, Duration::from_secs(5)).unwrap();
    let mut ids = Vec::new();
    let mut expected_total = 0i64;
    for i in 0..1000 {
        let amount = 500 + i * 3;
        expected_total += amount;
        ids.push(
            approved(
                &db.pool,
                &seeder,
                &format!("kill-{i}"),
                20_000,
                amount,
                CardStatus::Active,
            )
            .await,
        );
    }
    // The payout worker as its own process, its merchant's sandbox at this test's port.
    let dir = std::env::temp_dir().join(format!("refundd-payout-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let merchants = dir.join("merchants.toml");
    std::fs::write(
        &merchants,
        shared::merchants::DEMO_MERCHANTS.replace(
            "id = \"byskills\"\nname = \"ООО «Байскилз»\"\npolicies = [\"by-online-courses\"]\ngateway = { kind = \"sandbox\" }",
            &format!("id = \"byskills\"\nname = \"ООО «Байскилз»\"\npolicies = [\"by-online-courses\"]\ngateway = {{ kind = \"sandbox\", base_url = \"{url}\" }}"),
        ),
    )
    .unwrap();
    assert!(std::fs::read_to_string(&merchants).unwrap().contains(&url));
    let env = [("REFUNDD_MERCHANTS_FILE", merchants.to_str().unwrap())];
    let relay = tokio::spawn(shared::broker::relay::run(
        db.pool.clone(),
        shared::broker::relay::RelayConfig {
            amqp_url: broker.url.clone(),
            topology: broker.topology.clone(),
            batch_size: 200,
            poll_interval: Duration::from_millis(100),
            gather: shared::config::Settings::default().relay_gather,
        },
        shutdown.clone(),
    ));
    enqueue_payouts(&db.pool, &ids).await;
    let mut worker = e2e::refundd_with(&db, &broker, &["worker", "payout"], &env);
    for pause_ms in [700u64, 1100, 500, 900] {
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        worker.kill().unwrap(); // SIGKILL, mid-call or mid-transaction
        worker.wait().unwrap();
        worker = e2e::refundd_with(&db, &broker, &["worker", "payout"], &env);
    }
    assert_each_refunded_once(&db.pool, &seeder, 1000, expected_total).await;
    e2e::terminate(&worker);
    e2e::wait_exit(&mut worker, Duration::from_secs(10));
    shutdown.cancel();
    relay.await.unwrap();
    broker.cleanup().await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_the_policy_pays_by_bank_transfer_never_reaches_the_card_gateway() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&[Duration::from_millis(100)]);
    broker.declare().await;
    let shutdown = CancellationToken::new();
    let url = sandbox(Faults::default(), &shutdown).await;
    let seeder = SandboxGateway::at(&url, Duration::from_secs(5)).unwrap();
    let with_details = approved(
        &db.pool,
        &seeder,
        "txn-bank-1",
        5_990,
        2_995,
        CardStatus::Active,
    )
    .await;
    let without = approved(
        &db.pool,
        &seeder,
        "txn-bank-2",
        5_990,
        2_995,
        CardStatus::Active,
    )
    .await;
    sqlx::query(
        "UPDATE refund_requests SET decision = '{\"version\": 1, \"decision\": \"approve\", \"payout_method\": \"bank_transfer\"}'::jsonb,
                facts = CASE WHEN id = $1 THEN '{\"bank_details\": \"LV80BANK0000435195001\"}'::jsonb ELSE facts END",
    )
    .bind(with_details)
    .execute(&db.pool)
    .await
    .unwrap();
    let workers = start_workers(&db, &broker, &url, &shutdown);
    enqueue_payouts(&db.pool, &[with_details, without]).await;
    assert!(
        eventually(Duration::from_secs(20), || async {
            count_in(&db.pool, "manual_payout").await == 1
                && count_in(&db.pool, "needs_bank_details").await == 1
        })
        .await
    );
    let state_of = |id: Uuid| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT state FROM refund_requests WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(state_of(with_details).await, "manual_payout");
    assert_eq!(state_of(without).await, "needs_bank_details");
    assert!(
        seeder.ledger(None).await.unwrap().refunds.is_empty(),
        "nothing sent to the card"
    );
    let attempts: i64 = sqlx::query_scalar("SELECT count(*) FROM payout_attempts")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(attempts, 0);
    shutdown.cancel();
    for w in workers {
        w.await.unwrap();
    }
    broker.cleanup().await;
    db.drop_database().await;
}

/// The gateway booked a refund but its answer was lost, and the retry tiers gave up (the
/// message was parked): the sla role's recheck asks the gateway again, finds the refund, and
/// the request is refunded — without sending the money a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_the_retry_tiers_gave_up_on_is_asked_about_again_not_paid_twice() {
    use shared::gateway::{Gateway, RefundOrder, RefundOutcome};
    let db = TestDb::new().await;
    let broker = TestBroker::new(&retry_tiers());
    broker.declare().await;
    let shutdown = CancellationToken::new();
    let url = sandbox(Faults::default(), &shutdown).await;
    let client = SandboxGateway::at(&url, Duration::from_secs(5)).unwrap();
    let id = approved(
        &db.pool,
        &client,
        "tx-lost-answer",
        10_000,
        4_000,
        CardStatus::Active,
    )
    .await;
    let payment: Uuid = sqlx::query_scalar("SELECT payment_id FROM refund_requests WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();

    // The attempt as a lost answer leaves it: committed, sent, booked by the gateway, and
    // marked unknown two hours ago.
    let key = format!("rf-{id}-1");
    let booked = client
        .refund(&RefundOrder {
            gateway_transaction_id: "tx-lost-answer",
            amount: Money::from_minor(4_000, Currency::BYN),
            full: false,
            idempotency_key: &key,
            payment_id: payment,
            request_id: id,
            gateway_ref: None,
            request_key: &key,
            order_number: None,
            paid_at: chrono::Utc::now(),
            attempted_at: chrono::Utc::now(),
            other_refs: &[],
        })
        .await;
    assert!(
        matches!(booked, RefundOutcome::Succeeded { .. }),
        "{booked:?}"
    );
    sqlx::query(
        "INSERT INTO payout_attempts (id, request_id, payment_id, idempotency_key, gateway,
                                      amount_minor, currency, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'sandbox', 4000, 'BYN', 'unknown',
                 now() - interval '3 hours', now() - interval '2 hours')",
    )
    .bind(Uuid::now_v7())
    .bind(id)
    .bind(payment)
    .bind(&key)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE refund_requests SET state = 'payout_pending' WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await
        .unwrap();
    // A request whose attempt had news a minute ago is left to its retry tiers.
    let recent = approved(
        &db.pool,
        &client,
        "tx-recent",
        10_000,
        1_000,
        CardStatus::Active,
    )
    .await;
    sqlx::query(
        "INSERT INTO payout_attempts (id, request_id, payment_id, idempotency_key, gateway,
                                      amount_minor, currency, status, updated_at)
         SELECT $1, r.id, r.payment_id, 'rf-' || r.id || '-1', 'sandbox', 1000, 'BYN', 'unknown',
                now() - interval '1 minute'
           FROM refund_requests r WHERE r.id = $2",
    )
    .bind(Uuid::now_v7())
    .bind(recent)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE refund_requests SET state = 'payout_pending' WHERE id = $1")
        .bind(recent)
        .execute(&db.pool)
        .await
        .unwrap();

    let workers = start_workers(&db, &broker, &url, &shutdown);
    let asked = workers::roles::payout::recheck_stuck(&db.pool, Duration::from_secs(1800))
        .await
        .unwrap();
    assert_eq!(asked, [id], "only the payout quiet for over 30 minutes");
    // Asking counts as news: the next pass does not ask again at once.
    let again = workers::roles::payout::recheck_stuck(&db.pool, Duration::from_secs(1800))
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");

    assert!(
        eventually(Duration::from_secs(30), || async {
            sqlx::query_scalar::<_, String>("SELECT state FROM refund_requests WHERE id = $1")
                .bind(id)
                .fetch_one(&db.pool)
                .await
                .unwrap()
                == "refunded"
        })
        .await,
        "the lost answer was not found"
    );
    let ledger = client.ledger(None).await.unwrap();
    let booked: Vec<_> = ledger
        .refunds
        .iter()
        .filter(|r| r.transaction_id == "tx-lost-answer" && r.status == RefundStatus::Succeeded)
        .collect();
    assert_eq!(booked.len(), 1, "the money went once: {:?}", ledger.refunds);
    let status: String =
        sqlx::query_scalar("SELECT status FROM payout_attempts WHERE request_id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(status, "succeeded");

    shutdown.cancel();
    for w in workers {
        let _ = w.await;
    }
    broker.cleanup().await;
    db.drop_database().await;
}
