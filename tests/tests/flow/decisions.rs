//! Decisions through the pipeline: the worked examples of POLICIES.md as a support agent
//! would submit them, and the confirmation step of the subscription pack.

use std::time::Duration;

use serde_json::{Value, json};
use shared::api_keys::ApiRole;

use e2e::{Pipeline, TestApp, TestBroker, wait_for_state};

async fn post(app: &TestApp, path: &str, role: ApiRole, body: Value) -> Value {
    app.post_ok(path, app.key(role), body).await
}

async fn get(app: &TestApp, id: &str) -> Value {
    reqwest::Client::new()
        .get(app.url(&format!("/v1/refund-requests/{id}")))
        .bearer_auth(app.key(ApiRole::Support))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worked_examples_are_decided_to_the_cent_and_the_day() {
    let app = TestApp::spawn().await;
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let pipeline = Pipeline::start(&app.db, &broker).await;

    // by-online-courses: 450.00 BYN, progress 35 % → 90.00 BYN due 2026-05-05.
    let course = post(
        &app,
        "/v1/payments",
        ApiRole::Intake,
        json!({
            "merchant": "byskills", "policy": "by-online-courses", "gateway": "sandbox",
            "gateway_transaction_id": "wp-1", "amount": "450.00", "currency": "BYN",
            "paid_at": "2026-03-02T10:15:00+03:00", "cardholder_name": "IVAN IVANOV",
            "customer": {"email": "ivan@example.by", "language": "ru"}
        }),
    )
    .await;
    let a = post(
        &app,
        "/v1/refund-requests",
        ApiRole::Support,
        json!({
            "payment": {"id": course["id"]}, "reason": "withdrawal",
            "facts": {"access_started_at": "2026-03-02", "progress_percent": 35},
            "received_at": "2026-03-20T12:00:00+03:00"
        }),
    )
    .await;
    let a = a["id"].as_str().unwrap().to_string();

    // kz-saas-subscription: 60 000.00 KZT → 57 391.30 KZT, after support confirms.
    let saas = post(
        &app,
        "/v1/payments",
        ApiRole::Intake,
        json!({
            "merchant": "saas-kz", "policy": "kz-saas-subscription", "gateway": "sandbox",
            "gateway_transaction_id": "rk-1", "amount": "60000.00", "currency": "KZT",
            "paid_at": "2026-03-02T09:00:00+05:00",
            "customer": {"email": "client@example.kz", "language": "ru"}
        }),
    )
    .await;
    let b = post(
        &app,
        "/v1/refund-requests",
        ApiRole::Support,
        json!({
            "payment": {"id": saas["id"]}, "reason": "withdrawal",
            "facts": {"access_started_at": "2026-03-02", "reason_text": "сервис не подошёл"},
            "received_at": "2026-03-10T12:00:00+05:00"
        }),
    )
    .await;
    let b = b["id"].as_str().unwrap().to_string();

    // The same subscription without the written reason: the customer is asked for it.
    let c = post(
        &app,
        "/v1/refund-requests",
        ApiRole::Support,
        json!({
            "payment": {"id": saas["id"]}, "reason": "withdrawal",
            "facts": {"access_started_at": "2026-03-02"},
            "received_at": "2026-03-10T12:00:00+05:00"
        }),
    )
    .await;
    let c = c["id"].as_str().unwrap().to_string();

    wait_for_state(&app.db.pool, &a, "approved").await;
    let course_request = get(&app, &a).await;
    assert_eq!(course_request["amount"], "90.00");
    assert_eq!(course_request["due_on"], "2026-05-05");
    assert_eq!(course_request["policy_version"].as_str().unwrap().len(), 16);
    assert!(
        course_request["decision"]["clause"]
            .as_str()
            .unwrap()
            .contains("§11")
    );
    assert!(
        course_request["decision"]["clause_translations"]["ru"]
            .as_str()
            .unwrap()
            .starts_with("Пункт 11 б)")
    );
    let effects = &course_request["decision"]["effects"];
    assert_eq!(effects[0]["kind"], "access_revocation");
    assert_eq!(effects[0]["due_by"], "2026-03-23");
    let states: Vec<&str> = course_request["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["to"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["received", "validating", "approved"]);

    wait_for_state(&app.db.pool, &c, "needs_info").await;
    let asking = get(&app, &c).await["decision"].clone();
    assert_eq!(asking["missing"], json!(["reason_text"]));
    // The clause asking for it, in English and in the pack's Russian (§8.3 of seed 001).
    assert!(asking["clause"].as_str().unwrap().starts_with("§8.3:"));
    assert!(
        asking["clause_translations"]["ru"]
            .as_str()
            .unwrap()
            .starts_with("Пункт 8.3:")
    );

    wait_for_state(&app.db.pool, &b, "awaiting_confirmation").await;
    assert_eq!(get(&app, &b).await["amount"], "57391.30");
    let confirmed = post(
        &app,
        // §8.4's administrator: support confirms (the pack's default `confirm_roles`).
        &format!("/v1/refund-requests/{b}/confirm"),
        ApiRole::Support,
        json!({}),
    )
    .await;
    assert_eq!(confirmed["state"], "approved");
    assert_eq!(confirmed["amount"], "57391.30");

    // The missing reason arrives: validated again and decided. Both requests are on the same
    // payment: the second can only get what is left of it.
    let r = reqwest::Client::new()
        .patch(app.url(&format!("/v1/refund-requests/{c}/facts")))
        .bearer_auth(app.key(ApiRole::Support))
        .json(&json!({"reason_text": "не пользуюсь"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_for_state(&app.db.pool, &c, "awaiting_confirmation").await;
    let second = get(&app, &c).await;
    assert_eq!(
        second["amount"], "2608.70",
        "capped at what is left: 60 000.00 − 57 391.30"
    );
    assert_eq!(second["decision"]["capped"], true);

    pipeline.stop().await;
    broker.cleanup().await;
    app.stop().await;
}
