//! Applications: accepted once per idempotency key, listed page by page, and moved by the
//! decisions people make.

use std::collections::HashSet;

use serde_json::{Value, json};
use shared::api_keys::ApiRole;

use crate::helpers::{application, as_role, client, problem, register_payment, set_state, submit};
use e2e::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_is_stored_with_its_history_and_outbox_messages() {
    let app = TestApp::spawn().await;
    let payment = register_payment(&app, "tx-a").await;
    let id = submit(&app, &payment).await;
    let r: Value = as_role(
        &app,
        client().get(app.url(&format!("/v1/refund-requests/{id}"))),
        ApiRole::Support,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(r["state"], "received");
    assert_eq!(r["merchant"], "byskills");
    assert_eq!(r["policy"], "by-online-courses");
    assert_eq!(
        r["contact_email"], "ivan@example.com",
        "taken from the payment"
    );
    assert_eq!(r["language"], "ru");
    assert_eq!(r["facts"]["progress_percent"], 35);
    assert_eq!(r["received_at"], "2026-03-20T09:00:00Z");
    assert_eq!(r["history"][0]["to"], "received");
    assert_eq!(r["history"][0]["actor"], "support:test-support");
    let keys: Vec<String> = sqlx::query_scalar("SELECT routing_key FROM outbox ORDER BY id")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(keys, ["request.validate"]);
    // The `received` email: its row, due at once (sent from it, with no message).
    let emails: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT event, status, due_at IS NOT NULL FROM notifications
          WHERE request_id = $1::uuid",
    )
    .bind(r["id"].as_str().unwrap())
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(emails, [("received".into(), "pending".into(), true)]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_idempotency_key_gives_the_same_answer_and_another_body_a_conflict() {
    let app = TestApp::spawn().await;
    let payment = register_payment(&app, "tx-idem").await;
    let send = |body: Value| {
        as_role(
            &app,
            client()
                .post(app.url("/v1/refund-requests"))
                .header("idempotency-key", "order-77-refund")
                .json(&body),
            ApiRole::Support,
        )
        .send()
    };
    let first = send(application(&payment)).await.unwrap();
    assert_eq!(first.status(), 202);
    let location = first.headers()["location"].to_str().unwrap().to_string();
    let first: Value = first.json().await.unwrap();
    assert_eq!(location, first["status_url"]);

    // The same body with keys in another order is the same application.
    let mut reordered = serde_json::Map::new();
    for (k, v) in application(&payment).as_object().unwrap().iter().rev() {
        reordered.insert(k.clone(), v.clone());
    }
    let again = send(Value::Object(reordered)).await.unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(
        again.json::<Value>().await.unwrap(),
        first,
        "the same answer"
    );

    let mut other = application(&payment);
    other["reason"] = json!("not_delivered");
    let p = problem(send(other).await.unwrap(), 409).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains(first["id"].as_str().unwrap())
    );

    // Concurrent replays of one key still make one application.
    let futures: Vec<_> = (0..8)
        .map(|_| {
            as_role(
                &app,
                client()
                    .post(app.url("/v1/refund-requests"))
                    .header("idempotency-key", "burst")
                    .json(&application(&payment)),
                ApiRole::Support,
            )
            .send()
        })
        .collect();
    let mut ids = HashSet::new();
    for r in futures_util::future::join_all(futures).await {
        let r = r.unwrap();
        assert_eq!(r.status(), 202);
        ids.insert(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(ids.len(), 1);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM refund_requests")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 2, "one per key");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_cover_every_request_once_even_while_new_ones_arrive() {
    let app = TestApp::spawn().await;
    let payment = register_payment(&app, "tx-pages").await;
    let mut created = Vec::new();
    for _ in 0..7 {
        created.push(submit(&app, &payment).await);
    }
    let page = |cursor: Option<String>| {
        let mut url = app.url("/v1/refund-requests?limit=3&merchant=byskills");
        if let Some(c) = cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        as_role(&app, client().get(url), ApiRole::Support).send()
    };
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let body: Value = page(cursor.clone()).await.unwrap().json().await.unwrap();
        pages += 1;
        for item in body["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_string());
        }
        if pages == 1 {
            // A new application arrives between pages: it does not shift the pages.
            submit(&app, &payment).await;
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    created.reverse();
    assert_eq!(seen, created, "newest first, each once");

    let body: Value = as_role(
        &app,
        client().get(app.url("/v1/refund-requests?state=withdrawn")),
        ApiRole::Support,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_confirms_with_the_policy_amount_and_due_date() {
    let app = TestApp::spawn().await;
    let payment = register_payment(&app, "tx-confirm").await;
    let id = submit(&app, &payment).await;
    set_state(&app, &id, "awaiting_confirmation").await;
    let r = as_role(
        &app,
        client().post(app.url(&format!("/v1/refund-requests/{id}/confirm"))),
        ApiRole::Supervisor,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["state"], "approved");
    assert_eq!(body["amount"], "90.00");
    assert!(
        body["decision"]["clause"]
            .as_str()
            .unwrap()
            .starts_with("§11")
    );
    let last = body["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["actor"], "supervisor:test-supervisor");
    assert_eq!(last["to"], "approved");
    let payout: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE routing_key = 'request.payout'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(payout, 1);

    // Confirming twice is refused: the request is no longer awaiting confirmation.
    let r = as_role(
        &app,
        client().post(app.url(&format!("/v1/refund-requests/{id}/confirm"))),
        ApiRole::Supervisor,
    )
    .send()
    .await
    .unwrap();
    problem(r, 409).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_review_needs_an_amount_within_what_is_left_of_the_payment() {
    let app = TestApp::spawn().await;
    let payment = register_payment(&app, "tx-manual").await;
    let id = submit(&app, &payment).await;
    set_state(&app, &id, "manual_review").await;
    let url = app.url(&format!("/v1/refund-requests/{id}/confirm"));
    let r = as_role(&app, client().post(&url), ApiRole::Supervisor)
        .send()
        .await
        .unwrap();
    let p = problem(r, 422).await;
    assert_eq!(p["errors"][0]["field"], "amount");
    let r = as_role(
        &app,
        client().post(&url).json(&json!({"amount": "450.01"})),
        ApiRole::Supervisor,
    )
    .send()
    .await
    .unwrap();
    let p = problem(r, 409).await;
    assert!(p["detail"].as_str().unwrap().contains("450.00"), "{p}");
    let r = as_role(
        &app,
        client()
            .post(&url)
            .json(&json!({"amount": "450.00", "note": "goodwill"})),
        ApiRole::Supervisor,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["amount"], "450.00");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawal_before_payout_only_and_facts_resume_a_request_waiting_for_them() {
    let app = TestApp::spawn().await;
    let payment = register_payment(&app, "tx-w").await;
    let id = submit(&app, &payment).await;
    let withdraw = |id: String| {
        as_role(
            &app,
            client().post(app.url(&format!("/v1/refund-requests/{id}/withdraw"))),
            ApiRole::Support,
        )
        .send()
    };
    let r = withdraw(id.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "withdrawn");

    let paying = submit(&app, &payment).await;
    set_state(&app, &paying, "payout_pending").await;
    let p = problem(withdraw(paying).await.unwrap(), 409).await;
    assert!(p["detail"].as_str().unwrap().contains("payout_pending"));

    let waiting = submit(&app, &payment).await;
    set_state(&app, &waiting, "needs_info").await;
    let r = as_role(
        &app,
        client()
            .patch(app.url(&format!("/v1/refund-requests/{waiting}/facts")))
            .json(&json!({"progress_percent": 60})),
        ApiRole::Support,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["state"], "validating");
    assert_eq!(body["facts"]["progress_percent"], 60);
    assert_eq!(
        body["facts"]["access_started_at"], "2026-03-02",
        "earlier facts kept"
    );

    let r = as_role(
        &app,
        client()
            .patch(app.url(&format!("/v1/refund-requests/{waiting}/facts")))
            .json(&json!({"progress_percent": 101})),
        ApiRole::Support,
    )
    .send()
    .await
    .unwrap();
    let p = problem(r, 400).await;
    assert_eq!(p["errors"][0]["field"], "progress_percent");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_has_no_side_effects() {
    let app = TestApp::spawn().await;
    let quote = json!({
        "policy": "kz-saas-subscription",
        "payment": {"amount": "60000.00", "currency": "KZT", "paid_at": "2026-03-02T10:00:00+05:00"},
        "received_at": "2026-03-10T12:00:00+05:00",
        "reason": "withdrawal",
        "facts": {"access_started_at": "2026-03-02", "reason_text": "не подошло"}
    });
    let r = as_role(
        &app,
        client().post(app.url("/v1/quotes")).json(&quote),
        ApiRole::Support,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["amount"], "57391.30");
    assert_eq!(d["requires_confirmation"], true);
    assert!(d["clause"].as_str().unwrap().starts_with("§8.3-§8.4"));
    assert!(
        d["clause_translations"]["ru"]
            .as_str()
            .unwrap()
            .starts_with("Пункты 8.3–8.4")
    );
    let mut bad = quote.clone();
    bad["payment"]["currency"] = json!("EUR");
    let r = as_role(
        &app,
        client().post(app.url("/v1/quotes")).json(&bad),
        ApiRole::Support,
    )
    .send()
    .await
    .unwrap();
    problem(r, 422).await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    app.stop().await;
}
