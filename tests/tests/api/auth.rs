//! Who may do what: every role against every endpoint, missing and bad keys, revoked keys,
//! and the limit on failed attempts.

use reqwest::Method;
use serde_json::{Value, json};
use shared::api_keys::ApiRole;

use crate::helpers::{
    application, client, payment_body, problem, register_payment, set_state, submit,
};
use e2e::TestApp;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Allowed,
    Forbidden,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_against_every_endpoint() {
    use ApiRole::*;
    use Expect::*;
    let app = TestApp::spawn().await;
    let payment = register_payment(&app, "tx-matrix").await;
    let request = submit(&app, &payment).await;
    let quote = json!({
        "policy": "by-online-courses",
        "payment": {"amount": "450.00", "currency": "BYN", "paid_at": "2026-03-02T10:15:00+03:00"},
        "received_at": "2026-03-20T12:00:00+03:00",
        "reason": "withdrawal",
        "facts": {"access_started_at": "2026-03-02", "progress_percent": 35}
    });
    let mut n = 0;
    // (method, path, body, [support, supervisor, intake, viewer])
    let cases: Vec<(Method, String, Option<Value>, [Expect; 4])> = vec![
        (
            Method::GET,
            "/v1/merchants".into(),
            None,
            [Allowed, Allowed, Allowed, Allowed],
        ),
        (
            Method::POST,
            "/v1/payments".into(),
            Some(Value::Null),
            [Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            Method::GET,
            format!("/v1/payments/{payment}"),
            None,
            [Allowed, Allowed, Allowed, Forbidden],
        ),
        (
            Method::POST,
            "/v1/refund-requests".into(),
            Some(application(&payment)),
            [Allowed, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            "/v1/refund-requests".into(),
            None,
            [Allowed, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            format!("/v1/refund-requests/{request}"),
            None,
            [Allowed, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::PATCH,
            format!("/v1/refund-requests/{request}/facts"),
            Some(json!({"reason_text": "changed my mind"})),
            [Allowed, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::POST,
            format!("/v1/refund-requests/{request}/confirm"),
            None,
            [Forbidden, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::POST,
            format!("/v1/refund-requests/{request}/reject"),
            Some(json!({"reason": "no"})),
            [Forbidden, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::POST,
            format!("/v1/refund-requests/{request}/withdraw"),
            None,
            [Allowed, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::POST,
            "/v1/quotes".into(),
            Some(quote),
            [Allowed, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::POST,
            format!("/v1/refund-requests/{request}/documents"),
            Some(json!({})),
            [Allowed, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            "/v1/payouts/manual".into(),
            None,
            [Forbidden, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            format!("/v1/refund-requests/{request}/documents"),
            None,
            [Allowed, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            format!(
                "/v1/refund-requests/{request}/documents/{}",
                uuid::Uuid::nil()
            ),
            None,
            [Allowed, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::POST,
            format!("/v1/refund-requests/{request}/bank-details"),
            Some(json!({"bank_details": "LV80BANK0000435195001"})),
            [Allowed, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::POST,
            format!("/v1/refund-requests/{request}/mark-paid"),
            Some(json!({"reference": "PP-1"})),
            [Forbidden, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::POST,
            "/v1/intake/email".into(),
            Some(json!("From: a@example.com")),
            [Forbidden, Forbidden, Allowed, Forbidden],
        ),
        (
            Method::GET,
            "/v1/unverified-emails".into(),
            None,
            [Allowed, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::POST,
            format!("/v1/unverified-emails/{}/accept", uuid::Uuid::nil()),
            None,
            [Allowed, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            "/v1/sla".into(),
            None,
            [Allowed, Allowed, Forbidden, Allowed],
        ),
        (
            Method::GET,
            "/dashboard".into(),
            None,
            [Forbidden, Allowed, Forbidden, Allowed],
        ),
        (
            Method::GET,
            "/metrics".into(),
            None,
            [Forbidden, Allowed, Forbidden, Allowed],
        ),
    ];
    for (method, path, body, expectations) in cases {
        for (role, expect) in [Support, Supervisor, Intake, Viewer]
            .into_iter()
            .zip(expectations)
        {
            // Each allowed write gets fresh material so earlier cases do not change later answers.
            let body = match (&body, path.as_str()) {
                (Some(Value::Null), _) => {
                    n += 1;
                    Some(payment_body(&format!("tx-matrix-{n}")))
                }
                (b, _) => b.clone(),
            };
            let mut rb = client()
                .request(method.clone(), app.url(&path))
                .bearer_auth(app.key(role));
            if let Some(b) = &body {
                rb = rb.json(b);
            }
            let r = rb.send().await.unwrap();
            let status = r.status().as_u16();
            match expect {
                Forbidden => {
                    let p = problem(r, 403).await;
                    assert!(p["detail"].as_str().unwrap().contains(role.as_str()), "{p}");
                }
                Allowed => assert!(
                    status != 401 && status != 403 && status < 500,
                    "{role} {method} {path}: {status} {}",
                    r.text().await.unwrap()
                ),
            }
            // Put the request back where the state-changing cases expect it.
            set_state(&app, &request, "awaiting_confirmation").await;
        }
        // Without a key, every endpoint answers 401 and says how to authenticate.
        let mut rb = client().request(method.clone(), app.url(&path));
        if let Some(b) = &body {
            rb = rb.json(b);
        }
        let r = rb.send().await.unwrap();
        assert!(r.headers().contains_key("www-authenticate"));
        let p = problem(r, 401).await;
        assert!(p["detail"].as_str().unwrap().contains("Bearer"), "{p}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_or_unknown_key_is_refused() {
    let app = TestApp::spawn().await;
    let r = client()
        .get(app.url("/v1/merchants"))
        .bearer_auth("rfd_0000")
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
    assert!(
        shared::api_keys::revoke(&app.db.pool, "test-viewer")
            .await
            .unwrap()
    );
    let r = client()
        .get(app.url("/v1/merchants"))
        .bearer_auth(app.key(ApiRole::Viewer))
        .send()
        .await
        .unwrap();
    let p = problem(r, 401).await;
    assert!(p["detail"].as_str().unwrap().contains("revoked"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attempts_are_rate_limited() {
    let app = TestApp::spawn().await;
    for _ in 0..10 {
        let r = client()
            .get(app.url("/v1/merchants"))
            .bearer_auth("rfd_guess")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    // Even the right key waits now: the address is guessing.
    let r = client()
        .get(app.url("/v1/merchants"))
        .bearer_auth(app.key(ApiRole::Viewer))
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("retry-after"));
    problem(r, 429).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_needs_no_key_and_docs_describe_every_endpoint() {
    let app = TestApp::spawn().await;
    let r = client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200, "Postgres and RabbitMQ are up in tests");
    let doc: Value = client()
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/merchants",
        "/v1/payments",
        "/v1/payments/{id}",
        "/v1/refund-requests",
        "/v1/refund-requests/{id}",
        "/v1/refund-requests/{id}/facts",
        "/v1/refund-requests/{id}/confirm",
        "/v1/refund-requests/{id}/reject",
        "/v1/refund-requests/{id}/withdraw",
        "/v1/refund-requests/{id}/documents",
        "/v1/refund-requests/{id}/documents/{document_id}",
        "/v1/quotes",
        "/v1/unverified-emails",
        "/v1/unverified-emails/{id}/accept",
        "/v1/sla",
        "/dashboard",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    let page = client()
        .get(app.url("/docs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for p in paths.keys() {
        assert!(page.contains(p.as_str()), "{p} missing from /docs");
    }
    assert!(page.contains("NewRefundRequest"));
    app.stop().await;
}
