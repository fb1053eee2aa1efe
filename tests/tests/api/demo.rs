//! `refundd demo`, the first thing a newcomer runs: the real binary against a test API and a
//! sandbox gateway; and a failed run, which must say what the API refused and leave no key.

use std::process::{Command, Output, Stdio};

use e2e::{TestApp, TestDb, refundd_bin};
use serde_json::{Value, json};
use shared::gateway::sandbox::server::{Faults, SandboxConfig};
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// `refundd demo --api-url <api>` against `db`, with the sandbox gateway at `sandbox` (or
/// none), run to its end.
async fn run_demo(db: &TestDb, api: &str, sandbox: Option<&str>) -> Output {
    let mut cmd = Command::new(refundd_bin());
    cmd.args(["demo", "--api-url", api])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &db.url)
        .env("REFUNDD_DEV_MODE", "1")
        .env("REFUNDD_SANDBOX_GATEWAY", sandbox.unwrap_or("off"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    tokio::task::spawn_blocking(move || cmd.output().expect("run refundd demo"))
        .await
        .unwrap()
}

/// Active keys named `demo-...`.
async fn active_demo_keys(db: &TestDb) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM api_keys WHERE name LIKE 'demo-%' AND revoked_at IS NULL",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn demo_registers_and_submits_every_sample_run_after_run() {
    let app = TestApp::spawn().await;
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox_addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(shared::gateway::sandbox::server::serve(
        listener,
        SandboxConfig {
            ledger_path: None,
            faults: Faults::default(),
        },
        shutdown.clone(),
    ));

    // Several runs: each must go through (the old timestamp ids failed one run in ten).
    for run in 0..3 {
        let out = run_demo(&app.db, &app.address, Some(&sandbox_addr)).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "run {run}: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        );
        assert!(stdout.contains("Submitted 5 applications:"), "{stdout}");
        assert!(!stderr.contains("did not take payment"), "{stderr}");
    }
    let payments: Vec<String> =
        sqlx::query_scalar("SELECT gateway_txn_id FROM payments ORDER BY gateway_txn_id")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(payments.len(), 15, "{payments:?}");
    let requests: i64 = sqlx::query_scalar("SELECT count(*) FROM refund_requests")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(requests, 15);
    // The sandbox knows every demo payment, so their refunds can be paid.
    let ledger: Value = reqwest::get(format!("http://{sandbox_addr}/ledger"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut known: Vec<String> = ledger["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["transaction_id"].as_str().unwrap().to_string())
        .collect();
    known.sort();
    assert_eq!(known, payments);
    for txn in &payments {
        assert!(!shared::cards::contains_card_number(txn), "{txn}");
    }
    // A successful run keeps its key (the output shows it for trying the API).
    assert_eq!(active_demo_keys(&app.db).await, 3);
    shutdown.cancel();
    app.stop().await;
}

#[tokio::test]
async fn a_failed_demo_names_the_problem_and_revokes_its_key() {
    let db = TestDb::new().await;
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/healthz"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&api)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payments"))
        .respond_with(
            ResponseTemplate::new(422)
                .insert_header("content-type", "application/problem+json")
                .set_body_json(json!({
                    "type": "/problems/validation",
                    "title": "Invalid request",
                    "status": 422,
                    "detail": "the request body has problems",
                    "errors": [{"field": "gateway_transaction_id",
                                "message": "must not contain a card number"}]
                })),
        )
        .mount(&api)
        .await;

    let out = run_demo(&db, &api.uri(), None).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "422 Invalid request: the request body has problems (gateway_transaction_id: must not contain a card number)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("was revoked"), "{stderr}");
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys WHERE name LIKE 'demo-%'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(keys, 1, "the run made its key");
    assert_eq!(active_demo_keys(&db).await, 0, "and revoked it");
    db.drop_database().await;
}
