//! Money races and facts the engine would refuse: approvals on one payment never pass what
//! was captured, and a fact the policy cannot use is refused where it is typed.

use serde_json::{Value, json};
use shared::api_keys::ApiRole;

use crate::helpers::{as_role, client, payment_body, problem, set_state};
use e2e::TestApp;

/// Registers a payment of `amount` BYN; returns its id.
async fn payment_of(app: &TestApp, txn: &str, amount: &str) -> String {
    let mut body = payment_body(txn);
    body["amount"] = json!(amount);
    let r = as_role(
        app,
        client().post(app.url("/v1/payments")).json(&body),
        ApiRole::Intake,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn apply(app: &TestApp, payment: &str, facts: Value) -> reqwest::Response {
    as_role(
        app,
        client().post(app.url("/v1/refund-requests")).json(&json!({
            "payment": {"id": payment},
            "reason": "withdrawal",
            "facts": facts,
            "received_at": "2026-03-20T12:00:00+03:00"
        })),
        ApiRole::Support,
    )
    .send()
    .await
    .unwrap()
}

/// Four supervisors confirm 30.00 each, at the same moment, on four requests of one 59.90
/// payment: at most one is approved (two would be 60.00 > 59.90); the others are told how
/// much is left, and the approved sum never passes what was captured.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_confirms_never_approve_more_than_was_captured() {
    let app = TestApp::spawn().await;
    let payment = payment_of(&app, "tx-race", "59.90").await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        let r = apply(&app, &payment, json!({"access_started_at": "2026-03-02"})).await;
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
        ids.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    for id in &ids {
        set_state(&app, id, "manual_review").await;
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(ids.len()));
    let confirms = ids.iter().map(|id| {
        let rb = as_role(
            &app,
            client()
                .post(app.url(&format!("/v1/refund-requests/{id}/confirm")))
                .json(&json!({"amount": "30.00"})),
            ApiRole::Supervisor,
        );
        let barrier = barrier.clone();
        async move {
            barrier.wait().await;
            let r = rb.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    });
    let answers = futures_util::future::join_all(confirms).await;
    let approved = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(approved, 1, "exactly one fits: {answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 409, "{body}");
        assert!(
            body.contains("amount-exceeds-payment") && body.contains("29.90"),
            "the loser is told what is left: {body}"
        );
    }
    let committed: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(amount_minor), 0)::bigint FROM refund_requests
          WHERE payment_id = $1::uuid AND state = 'approved'",
    )
    .bind(&payment)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(committed, 3000);
    app.stop().await;
}

/// A fact the policy engine would refuse is refused at the API (422 naming the fact), on the
/// application and when added later; nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_the_engine_would_refuse_are_a_422_not_a_parked_message() {
    let app = TestApp::spawn().await;
    let payment = payment_of(&app, "tx-facts", "450.00").await;
    let r = apply(&app, &payment, json!({"balance": "-5.00"})).await;
    let p = problem(r, 422).await;
    assert_eq!(p["errors"][0]["field"], "facts.balance", "{p}");
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("must not be negative"),
        "{p}"
    );
    let r = apply(&app, &payment, json!({"invoiced_amount": "10.005"})).await;
    let p = problem(r, 422).await;
    assert_eq!(p["errors"][0]["field"], "facts.invoiced_amount", "{p}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM refund_requests")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "a refused application stores nothing");

    let r = apply(&app, &payment, json!({"access_started_at": "2026-03-02"})).await;
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    set_state(&app, &id, "needs_info").await;
    let patch = |facts: Value| {
        as_role(
            &app,
            client()
                .patch(app.url(&format!("/v1/refund-requests/{id}/facts")))
                .json(&facts),
            ApiRole::Support,
        )
        .send()
    };
    let p = problem(patch(json!({"balance": "-0.01"})).await.unwrap(), 422).await;
    assert_eq!(p["errors"][0]["field"], "facts.balance", "{p}");
    let facts: Value = sqlx::query_scalar("SELECT facts FROM refund_requests WHERE id = $1::uuid")
        .bind(&id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(facts.get("balance").is_none(), "{facts}");
    // A good value goes through.
    let r = patch(json!({"balance": "5.00"})).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    app.stop().await;
}
