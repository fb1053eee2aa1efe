//! Merchants with a webhook hear about every decision and its side effects, signed, and
//! again after their server fails.

use std::sync::Arc;
use std::time::Duration;

use shared::broker::consumer::{self, ConsumerConfig};
use shared::lifecycle::RequestState;
use shared::merchants::Merchants;
use shared::messages::Stage;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use workers::roles::webhook::{Webhook, signature};

use e2e::{TestBroker, TestDb, eventually, insert_request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_reaches_the_merchants_webhook_signed_even_after_a_failure() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&[Duration::from_millis(100), Duration::from_millis(200)]);
    broker.declare().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/refunds"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hooks/refunds"))
        .and(header_exists("x-refundd-signature"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let merchants = Merchants::from_toml(
        &shared::merchants::DEMO_MERCHANTS.replace(
            "signature = \"Команда Байскилз\"",
            &format!(
                "signature = \"Команда Байскилз\"\nwebhook_url = \"{}/hooks/refunds\"\nwebhook_secret_env = \"BYSKILLS_WEBHOOK_SECRET\"",
                server.uri()
            ),
        ),
        "test",
    )
    .unwrap();
    shared::merchants::record_webhooks(&db.pool, &merchants)
        .await
        .unwrap();
    let id = insert_request(&db.pool, RequestState::Received).await;
    sqlx::query(
        "UPDATE refund_requests SET state = 'validating', merchant = 'byskills', policy_id = 'by-online-courses',
                decision = '{\"version\": 1, \"decision\": \"approve\", \"amount\": \"90.00\", \"clause\": \"§11\", \"clause_translations\": {\"ru\": \"п. 11\"}, \"effects\": [{\"kind\": \"access_revocation\", \"due_by\": \"2026-03-23\"}]}'
          WHERE id = $1",
    )
    .bind(id)
    .execute(&db.pool)
    .await
    .unwrap();
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(consumer::run(
        ConsumerConfig {
            amqp_url: broker.url.clone(),
            topology: broker.topology.clone(),
            stage: Stage::Webhook,
            prefetch: 4,
            shutdown_grace: std::time::Duration::from_secs(8),
        },
        Arc::new(Webhook::new(
            db.pool.clone(),
            Arc::new(merchants),
            Box::new(|name: &str| {
                (name == "BYSKILLS_WEBHOOK_SECRET").then(|| "whsec-test".to_string())
            }),
        )),
        shutdown.clone(),
    ));
    // The decision itself is what tells the merchant: no message is asked for here, the
    // transition into `approved` writes the webhook message.
    let mut tx = db.pool.begin().await.unwrap();
    let (state, version) = shared::transition::lock_state(&mut tx, id).await.unwrap();
    shared::transition::apply(
        &mut tx,
        &shared::transition::Transition {
            request_id: id,
            expected_version: version,
            from: state,
            to: RequestState::Approved,
            actor: "worker:decide",
            reason: Some("approved under the policy"),
            details: serde_json::json!({}),
        },
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let relay = tokio::spawn(shared::broker::relay::run(
        db.pool.clone(),
        shared::broker::relay::RelayConfig {
            amqp_url: broker.url.clone(),
            topology: broker.topology.clone(),
            batch_size: 10,
            poll_interval: Duration::from_millis(100),
            gather: shared::config::Settings::default().relay_gather,
        },
        shutdown.clone(),
    ));
    assert!(
        eventually(Duration::from_secs(15), || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM request_events WHERE actor = 'worker:webhook'",
            )
            .fetch_one(&db.pool)
            .await
            .unwrap()
                == 1
        })
        .await
    );
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 2, "one failure, one retry");
    let last = received.last().unwrap();
    let body: serde_json::Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(body["event"], "refund.approved");
    assert_eq!(body["state"], "approved");
    assert_eq!(body["clause"], "§11");
    assert_eq!(body["clause_translations"]["ru"], "п. 11");
    assert_eq!(body["effects"][0]["kind"], "access_revocation");
    assert_eq!(body["effects"][0]["due_by"], "2026-03-23");
    let sig = last
        .headers
        .get("x-refundd-signature")
        .unwrap()
        .to_str()
        .unwrap();
    let t: i64 = sig
        .split(',')
        .next()
        .unwrap()
        .trim_start_matches("t=")
        .parse()
        .unwrap();
    assert_eq!(
        sig,
        signature("whsec-test", t, &last.body),
        "verifiable with the merchant's secret"
    );
    assert_eq!(
        received[0].headers.get("x-refundd-delivery"),
        last.headers.get("x-refundd-delivery"),
        "the same delivery id on the retry"
    );
    shutdown.cancel();
    worker.await.unwrap();
    relay.await.unwrap();
    broker.cleanup().await;
    db.drop_database().await;
}
