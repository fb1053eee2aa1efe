//! Who may do what: every role against every endpoint, missing and bad keys, revoked keys,
//! the limits on failed attempts (which never refuse a valid key), trusted proxies and the
//! bearer scheme in any case.

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
            // The shipped packs let support confirm (`confirm_roles`'s default).
            [Allowed, Allowed, Forbidden, Forbidden],
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
            format!("/v1/refund-requests/{request}/ask"),
            Some(json!({"missing": ["identity_document"]})),
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
            Method::GET,
            "/v1/payouts?needs=person".into(),
            None,
            [Forbidden, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::POST,
            format!("/v1/refund-requests/{request}/payout/retry"),
            Some(json!({"reason": "the bank fixed it"})),
            [Forbidden, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::POST,
            format!("/v1/refund-requests/{request}/payout/record-external"),
            Some(json!({"reason": "seen in the cabinet", "gateway_reference": "re_1"})),
            [Forbidden, Allowed, Forbidden, Forbidden],
        ),
        (
            Method::POST,
            format!("/v1/refund-requests/{request}/payout/bank-transfer"),
            Some(json!({"reason": "card declined"})),
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

/// Confirming the engine's decision is for the roles the pack names; deciding an amount in
/// manual review is a supervisor's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_confirms_is_the_policy_packs_choice() {
    // by-online-courses as shipped, but confirmed by supervisors only.
    let text = include_str!("../../../shared/data/policies/by-online-courses.toml").replace(
        "extend_to_working_day =",
        "confirm_roles = [\"supervisor\"]\nextend_to_working_day =",
    );
    let strict = shared::policy::PolicyPack::from_toml(&text, "by-online-courses.toml").unwrap();
    assert_eq!(strict.confirm_roles(), [ApiRole::Supervisor]);
    let mut packs = shared::policy::PolicyPacks::default();
    for pack in shared::policy::PolicyPacks::builtin().iter() {
        if pack.id().as_str() != "by-online-courses" {
            packs.insert(pack.clone()).unwrap();
        }
    }
    packs.insert(strict).unwrap();
    let app = TestApp::spawn_with(|ctx| ctx.packs = std::sync::Arc::new(packs)).await;
    let payment = register_payment(&app, "tx-confirm-roles").await;
    let request = submit(&app, &payment).await;
    let confirm = |role: ApiRole, body: Value| {
        client()
            .post(app.url(&format!("/v1/refund-requests/{request}/confirm")))
            .bearer_auth(app.key(role))
            .json(&body)
            .send()
    };

    set_state(&app, &request, "awaiting_confirmation").await;
    let p = problem(confirm(ApiRole::Support, json!({})).await.unwrap(), 403).await;
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("support")
            && detail.contains("by-online-courses")
            && detail.contains("supervisor")
            && detail.contains("confirm_roles"),
        "{p}"
    );
    // In manual review, an amount is a supervisor's decision whatever the pack says.
    set_state(&app, &request, "manual_review").await;
    let p = problem(
        confirm(ApiRole::Support, json!({"amount": "10.00"}))
            .await
            .unwrap(),
        403,
    )
    .await;
    assert!(
        p["detail"].as_str().unwrap().contains("manual review"),
        "{p}"
    );
    let state: String = sqlx::query_scalar("SELECT state FROM refund_requests WHERE id = $1::uuid")
        .bind(&request)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(state, "manual_review", "nothing moved");

    set_state(&app, &request, "awaiting_confirmation").await;
    let r = confirm(ApiRole::Supervisor, json!({})).await.unwrap();
    assert_eq!(r.status(), 200);
    let confirmed: Value = r.json().await.unwrap();
    assert_eq!(confirmed["state"], "approved", "{confirmed}");
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

/// Asks for the merchants with `key`, saying (through `X-Forwarded-For`) that the client is
/// `forwarded_for`, when given; answers the status.
async fn attempt(app: &TestApp, key: &str, forwarded_for: Option<&str>) -> u16 {
    let mut rb = client().get(app.url("/v1/merchants")).bearer_auth(key);
    if let Some(xff) = forwarded_for {
        rb = rb.header("x-forwarded-for", xff);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    if status == 429 {
        assert!(r.headers().contains_key("retry-after"));
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_keys_are_rate_limited_but_a_valid_key_gets_through() {
    let app = TestApp::spawn().await;
    for i in 0..10 {
        assert_eq!(attempt(&app, &format!("rfd_guess{i}"), None).await, 401);
    }
    // The address is over the limit: more guesses are refused...
    assert_eq!(attempt(&app, "rfd_guess10", None).await, 429);
    let r = client()
        .get(app.url("/v1/merchants"))
        .header("authorization", "Token nonsense")
        .send()
        .await
        .unwrap();
    problem(r, 429).await;
    // ... but the valid keys from the same address are not.
    for &role in ApiRole::ALL {
        let r = client()
            .get(app.url("/v1/merchants"))
            .bearer_auth(app.key(role))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{role}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_key_is_limited_from_every_address() {
    let trusted = shared::config::TrustedProxies::parse("127.0.0.1").unwrap();
    let app = TestApp::spawn_with(|ctx| ctx.trusted_proxies = trusted).await;
    // The same revoked or made-up key from ten addresses (through the trusted proxy)...
    for i in 1..=10 {
        let client = format!("198.51.100.{i}");
        assert_eq!(attempt(&app, "rfd_stolen", Some(&client)).await, 401);
    }
    // ... is refused from an eleventh, while another key from there is only wrong.
    assert_eq!(
        attempt(&app, "rfd_stolen", Some("198.51.100.11")).await,
        429
    );
    assert_eq!(attempt(&app, "rfd_other", Some("198.51.100.11")).await, 401);
    assert_eq!(
        attempt(&app, app.key(ApiRole::Viewer), Some("198.51.100.11")).await,
        200
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
    // No trusted proxy: the header is the client's own word and changes nothing.
    let app = TestApp::spawn().await;
    for i in 0..10 {
        let client = format!("198.51.100.{i}");
        assert_eq!(
            attempt(&app, &format!("rfd_guess{i}"), Some(&client)).await,
            401
        );
    }
    assert_eq!(
        attempt(&app, "rfd_guess10", Some("203.0.113.77")).await,
        429
    );
    assert_eq!(
        attempt(&app, app.key(ApiRole::Viewer), Some("203.0.113.77")).await,
        200
    );
    app.stop().await;

    // Behind a trusted proxy (the test's own address), the client is the right-most address
    // the proxy did not vouch for: one guessing client does not block the others.
    let trusted = shared::config::TrustedProxies::parse("127.0.0.0/8").unwrap();
    let app = TestApp::spawn_with(|ctx| ctx.trusted_proxies = trusted).await;
    for i in 0..10 {
        assert_eq!(
            attempt(&app, &format!("rfd_guess{i}"), Some("198.51.100.1")).await,
            401
        );
    }
    assert_eq!(
        attempt(&app, "rfd_guess10", Some("198.51.100.1")).await,
        429
    );
    assert_eq!(
        attempt(&app, "rfd_guess11", Some("198.51.100.2")).await,
        401
    );
    // What the client wrote in front of its own address does not free it...
    assert_eq!(
        attempt(&app, "rfd_guess12", Some("203.0.113.5, 198.51.100.1")).await,
        429
    );
    // ... and hops through more trusted proxies are looked past.
    assert_eq!(
        attempt(&app, "rfd_guess13", Some("198.51.100.1, 127.0.0.2")).await,
        429
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = TestApp::spawn().await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let r = client()
            .get(app.url("/v1/merchants"))
            .header(
                "authorization",
                format!("{scheme} {}", app.key(ApiRole::Viewer)),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{scheme}");
    }
    // And for writes: a payment registered with a lowercase scheme.
    let r = client()
        .post(app.url("/v1/payments"))
        .header(
            "authorization",
            format!("bearer {}", app.key(ApiRole::Intake)),
        )
        .json(&payment_body("tx-lowercase-bearer"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
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
