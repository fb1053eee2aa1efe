//! Merchant-scoped keys: a key of merchant A reaches A's requests, payments, documents, bank
//! details, figures and metrics, and nothing of merchant B: B's ids answer 404 exactly as ids
//! that do not exist, B is absent from every list, and nothing of B changes. `refundd api-key
//! create --merchant` refuses a merchant the merchants file does not have.

use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::api_keys::ApiRole;

use crate::helpers::{client, problem, register_payment, set_state, submit};
use e2e::TestApp;

/// Merchant A (the helpers' payments are byskills') and merchant B.
const A: &str = "byskills";
const B: &str = "goods-kz";

/// Registers a payment of merchant B and submits an application for it with the fixture
/// keys (which reach every merchant); returns (payment id, request id).
async fn b_request(app: &TestApp) -> (String, String) {
    let paid_at = (chrono::Utc::now() - chrono::Duration::days(5)).to_rfc3339();
    let r = client()
        .post(app.url("/v1/payments"))
        .bearer_auth(app.key(ApiRole::Intake))
        .json(&json!({
            "merchant": B, "policy": "kz-goods-store", "gateway": "sandbox",
            "gateway_transaction_id": "kz-b-1", "amount": "25990.00", "currency": "KZT",
            "paid_at": paid_at, "card": {"brand": "mastercard", "last4": "5100"},
            "customer": {"email": "aigerim@example.kz", "language": "kk"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let payment = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let received = (chrono::Utc::now() - chrono::Duration::days(2)).date_naive();
    let r = client()
        .post(app.url("/v1/refund-requests"))
        .bearer_auth(app.key(ApiRole::Support))
        .json(&json!({
            "payment": {"id": payment},
            "reason": "withdrawal",
            "facts": {"goods_received_at": received, "goods_intact": true, "proof_of_purchase": true}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let request = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    (payment, request)
}

async fn upload(app: &TestApp, key: &str, request: &str) -> reqwest::Response {
    let form = Form::new()
        .text("kind", "payment_receipt")
        .text("fields", "{}")
        .part(
            "file",
            Part::bytes(e2e::scan_png())
                .file_name("receipt.png")
                .mime_str("image/png")
                .unwrap(),
        );
    client()
        .post(app.url(&format!("/v1/refund-requests/{request}/documents")))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn send(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut rb = client().request(method, app.url(path)).bearer_auth(key);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    rb.send().await.unwrap()
}

async fn get_json(app: &TestApp, key: &str, path: &str) -> Value {
    let r = send(app, key, Method::GET, path, None).await;
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

/// The request as it is stored: state, version, facts and how many documents and events.
async fn stored(app: &TestApp, id: &str) -> (String, i32, Value, i64, i64) {
    sqlx::query_as(
        "SELECT state, version, facts,
                (SELECT count(*) FROM documents d WHERE d.request_id = r.id),
                (SELECT count(*) FROM request_events e WHERE e.request_id = r.id)
           FROM refund_requests r WHERE id = $1::uuid",
    )
    .bind(id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_key_answers_404_for_another_merchants_request() {
    let app = TestApp::spawn().await;
    let a_payment = register_payment(&app, "tx-scope-a").await;
    let a_request = submit(&app, &a_payment).await;
    let (b_payment, b_request) = b_request(&app).await;
    // B's document, uploaded with the fixture key, to ask for by id.
    let r = upload(&app, app.key(ApiRole::Support), &b_request).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let b_document = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    set_state(&app, &b_request, "awaiting_confirmation").await;
    let before = stored(&app, &b_request).await;

    let support = app.merchant_key(ApiRole::Support, A).await;
    let supervisor = app.merchant_key(ApiRole::Supervisor, A).await;
    let missing = uuid::Uuid::now_v7();

    // A's own request: the key works.
    let r = send(
        &app,
        &support,
        Method::GET,
        &format!("/v1/refund-requests/{a_request}"),
        None,
    )
    .await;
    assert_eq!(r.status(), 200);

    // Reading B's request answers word for word as a request that does not exist.
    for key in [&support, &supervisor] {
        let r = send(
            &app,
            key,
            Method::GET,
            &format!("/v1/refund-requests/{b_request}"),
            None,
        )
        .await;
        let p = problem(r, 404).await;
        let r = send(
            &app,
            key,
            Method::GET,
            &format!("/v1/refund-requests/{missing}"),
            None,
        )
        .await;
        let q = problem(r, 404).await;
        assert_eq!(
            p["detail"].as_str().unwrap().replace(&b_request, "ID"),
            q["detail"]
                .as_str()
                .unwrap()
                .replace(&missing.to_string(), "ID")
        );
        assert_eq!(p["type"], q["type"]);
    }

    // Every read and write on B's request, B's documents and B's payment: 404.
    let cases: Vec<(&str, Method, String, Option<Value>)> = vec![
        (
            &support,
            Method::GET,
            format!("/v1/refund-requests/{b_request}/documents"),
            None,
        ),
        (
            &support,
            Method::GET,
            format!("/v1/refund-requests/{b_request}/documents/{b_document}"),
            None,
        ),
        (
            &support,
            Method::PATCH,
            format!("/v1/refund-requests/{b_request}/facts"),
            Some(json!({"reason_text": "changed by another merchant"})),
        ),
        (
            &support,
            Method::POST,
            format!("/v1/refund-requests/{b_request}/withdraw"),
            None,
        ),
        (
            &support,
            Method::POST,
            format!("/v1/refund-requests/{b_request}/bank-details"),
            Some(json!({"bank_details": "KZ86125KZT5004100100"})),
        ),
        (
            &supervisor,
            Method::POST,
            format!("/v1/refund-requests/{b_request}/confirm"),
            None,
        ),
        (
            &supervisor,
            Method::POST,
            format!("/v1/refund-requests/{b_request}/reject"),
            Some(json!({"reason": "not ours"})),
        ),
        (
            &supervisor,
            Method::POST,
            format!("/v1/refund-requests/{b_request}/mark-paid"),
            Some(json!({"reference": "PP-1"})),
        ),
        (
            &support,
            Method::GET,
            format!("/v1/payments/{b_payment}"),
            None,
        ),
    ];
    for (key, method, path, body) in cases {
        let r = send(&app, key, method.clone(), &path, body).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    let r = upload(&app, &support, &b_request).await;
    assert_eq!(r.status(), 404, "{}", r.text().await.unwrap());

    // An application on B's payment: the answer of a payment never registered.
    let r = send(
        &app,
        &support,
        Method::POST,
        "/v1/refund-requests",
        Some(json!({"payment": {"id": b_payment}, "reason": "withdrawal"})),
    )
    .await;
    let p = problem(r, 422).await;
    assert!(
        p.to_string().contains("no such payment is registered"),
        "{p}"
    );

    // Nothing of B changed, and no document was opened (the history would say so).
    assert_eq!(stored(&app, &b_request).await, before);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_merchant_is_absent_from_lists_figures_and_exports() {
    let app = TestApp::spawn().await;
    let a_payment = register_payment(&app, "tx-scope-lists").await;
    let a_request = submit(&app, &a_payment).await;
    let (_, b_request) = b_request(&app).await;
    // Both wait for a bank transfer, with bank details, and are at risk.
    for (id, iban) in [
        (&a_request, "BY20OLMP31350000001000000933"),
        (&b_request, "KZ86125KZT5004100100"),
    ] {
        sqlx::query(
            "UPDATE refund_requests
                SET state = 'manual_payout', amount_minor = 1000, due_on = current_date + 1,
                    sla_state = 'at_risk', sla_checked_at = now(),
                    facts = facts || jsonb_build_object('bank_details', $2::text)
              WHERE id = $1::uuid",
        )
        .bind(id)
        .bind(iban)
        .execute(&app.db.pool)
        .await
        .unwrap();
    }
    let support = app.merchant_key(ApiRole::Support, A).await;
    let supervisor = app.merchant_key(ApiRole::Supervisor, A).await;
    let viewer = app.merchant_key(ApiRole::Viewer, A).await;
    let everyone =
        |key: &str| key == app.key(ApiRole::Supervisor) || key == app.key(ApiRole::Viewer);

    // Lists: the fixture key (every merchant) sees both; A's keys only A's.
    for key in [app.key(ApiRole::Support), support.as_str()] {
        let page = get_json(&app, key, "/v1/refund-requests?limit=200").await;
        let ids: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&a_request.as_str()), "{page}");
        assert_eq!(ids.contains(&b_request.as_str()), key != support, "{page}");
        for sort in ["newest", "due_on"] {
            let page = get_json(
                &app,
                key,
                &format!("/v1/refund-requests?merchant={B}&sort={sort}&sla=at_risk"),
            )
            .await;
            assert_eq!(
                page["items"].as_array().unwrap().is_empty(),
                key == support,
                "{page}"
            );
        }
    }

    // The manual payouts export: bank details of A only.
    for key in [app.key(ApiRole::Supervisor), supervisor.as_str()] {
        let text = get_json(&app, key, "/v1/payouts/manual").await.to_string();
        assert!(text.contains("BY20OLMP31350000001000000933"), "{text}");
        assert_eq!(
            text.contains("KZ86125KZT5004100100"),
            everyone(key),
            "{text}"
        );
        assert_eq!(text.contains(&b_request), everyone(key), "{text}");
    }

    // SLA figures: no item of B.
    for key in [app.key(ApiRole::Viewer), support.as_str(), viewer.as_str()] {
        let report = get_json(&app, key, "/v1/sla").await;
        let merchants: Vec<&str> = report["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["merchant"].as_str())
            .collect();
        assert!(merchants.contains(&A), "{report}");
        assert_eq!(merchants.contains(&B), everyone(key), "{report}");
        if !everyone(key) {
            assert!(merchants.iter().all(|m| *m == A), "{report}");
        }
    }

    // The dashboard: B's tile and at-risk request are not drawn for A's viewer.
    for key in [app.key(ApiRole::Viewer), viewer.as_str()] {
        let r = send(&app, key, Method::GET, "/dashboard", None).await;
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        assert!(page.contains(&a_request), "A's at-risk request is listed");
        assert_eq!(page.contains(&b_request), everyone(key));
        assert_eq!(page.contains(B), everyone(key));
    }

    // Metrics: no series labelled with B, and no queue figures (every merchant's work).
    for key in [app.key(ApiRole::Viewer), viewer.as_str()] {
        let r = send(&app, key, Method::GET, "/metrics", None).await;
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert!(text.contains(&format!("merchant=\"{A}\"")), "{text}");
        assert_eq!(
            text.contains(&format!("merchant=\"{B}\"")),
            everyone(key),
            "{text}"
        );
        for other in ["app-studio", "saas-kz", "webshop-lv"] {
            assert_eq!(
                text.contains(&format!("merchant=\"{other}\"")),
                everyone(key)
            );
        }
        assert_eq!(text.contains("refundd_broker_up"), everyone(key), "{text}");
    }

    // Quotes: under A's packs only; B's pack is unknown to A's key, and not named.
    let quote = |policy: &str, currency: &str| {
        json!({
            "policy": policy,
            "payment": {"amount": "450.00", "currency": currency, "paid_at": "2026-03-02T10:15:00+03:00"},
            "received_at": "2026-03-20T12:00:00+03:00",
            "reason": "withdrawal",
            "facts": {"access_started_at": "2026-03-02", "progress_percent": 35}
        })
    };
    let r = send(
        &app,
        &support,
        Method::POST,
        "/v1/quotes",
        Some(quote("by-online-courses", "BYN")),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = send(
        &app,
        &support,
        Method::POST,
        "/v1/quotes",
        Some(quote("kz-goods-store", "KZT")),
    )
    .await;
    let p = problem(r, 422).await.to_string();
    assert!(
        p.contains("unknown policy") && p.contains("by-online-courses"),
        "{p}"
    );
    for other in ["lv-webshop", "by-app-studio", "kz-saas-subscription"] {
        assert!(!p.contains(other), "only A's packs are named: {p}");
    }

    // The merchants list: A only.
    let list = get_json(&app, &support, "/v1/merchants").await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [A]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intake_key_registers_payments_of_its_merchant_only() {
    let app = TestApp::spawn().await;
    let intake = app.merchant_key(ApiRole::Intake, A).await;
    let mut body = crate::helpers::payment_body("tx-intake-a");
    let r = send(
        &app,
        &intake,
        Method::POST,
        "/v1/payments",
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    body["merchant"] = json!(B);
    body["policy"] = json!("kz-goods-store");
    body["currency"] = json!("KZT");
    body["gateway_transaction_id"] = json!("tx-intake-b");
    let r = send(
        &app,
        &intake,
        Method::POST,
        "/v1/payments",
        Some(body.clone()),
    )
    .await;
    let p = problem(r, 422).await;
    assert!(p.to_string().contains("unknown merchant"), "{p}");
    let b_payments: i64 = sqlx::query_scalar("SELECT count(*) FROM payments WHERE merchant = $1")
        .bind(B)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(b_payments, 0);
    // The fixture key (every merchant) may.
    let r = send(
        &app,
        app.key(ApiRole::Intake),
        Method::POST,
        "/v1/payments",
        Some(body),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    // The refunds mailbox is every merchant's: a key of one merchant cannot feed it.
    let r = client()
        .post(app.url("/v1/intake/email"))
        .bearer_auth(&intake)
        .header("content-type", "message/rfc822")
        .body("From: a@example.com\r\nSubject: refund\r\n\r\nplease refund tx-intake-b\r\n")
        .send()
        .await
        .unwrap();
    let p = problem(r, 403).await;
    assert!(
        p["detail"].as_str().unwrap().contains("all-merchants"),
        "{p}"
    );
    let emails: i64 = sqlx::query_scalar("SELECT count(*) FROM inbound_emails")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(emails, 0);
    app.stop().await;
}

/// `refundd api-key create` against the test database, with the demo merchants.
fn api_key_create(db: &e2e::TestDb, args: &[&str]) -> std::process::Output {
    std::process::Command::new(e2e::refundd_bin())
        .args(["api-key", "create"])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("run refundd")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_creates_keys_for_a_merchant_of_the_merchants_file() {
    let db = e2e::TestDb::new().await;
    for (args, says) in [
        (
            &[
                "--role",
                "support",
                "--merchant",
                "no-such-shop",
                "--name",
                "x",
            ][..],
            "no-such-shop",
        ),
        (
            &["--role", "support", "--name", "x"][..],
            "--merchant is required",
        ),
        (
            &[
                "--role",
                "support",
                "--merchant",
                "all-merchants",
                "--name",
                "x",
            ][..],
            "belongs to one merchant",
        ),
        (
            &["--role", "cashier", "--merchant", A, "--name", "x"][..],
            "cashier",
        ),
        (
            &["--role", "support", "--merchant", "Big Shop", "--name", "x"][..],
            "Big Shop",
        ),
    ] {
        let out = api_key_create(&db, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "no key printed");
    }
    let out = api_key_create(
        &db,
        &[
            "--role",
            "support",
            "--merchant",
            "no-such-shop",
            "--name",
            "x",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for known in [A, B, "all-merchants"] {
        assert!(stderr.contains(known), "the choices are named: {stderr}");
    }
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(keys, 0, "nothing was created");

    // The library refuses an all-merchants support key too, and the table a key of no scope.
    let e = shared::api_keys::create(
        &db.pool,
        ApiRole::Support,
        &shared::api_keys::MerchantScope::AllMerchants,
        "x",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            shared::api_keys::ApiKeyError::MustNameMerchant(ApiRole::Support)
        ),
        "{e}"
    );
    let e = sqlx::query(
        "INSERT INTO api_keys (id, name, role, key_hash, key_prefix)
         VALUES (gen_random_uuid(), 'unscoped', 'viewer', 'h', 'rfd_')",
    )
    .execute(&db.pool)
    .await
    .unwrap_err();
    assert!(e.to_string().contains("api_keys_scope"), "{e}");

    // A good one: printed once, and it reaches A only.
    let out = api_key_create(
        &db,
        &["--role", "support", "--merchant", A, "--name", "a-desk"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let caller = shared::api_keys::authenticate(&db.pool, &secret)
        .await
        .unwrap()
        .expect("the printed key works");
    assert_eq!(
        caller.scope,
        shared::api_keys::MerchantScope::Merchant(A.into())
    );
    let out = api_key_create(
        &db,
        &[
            "--role",
            "supervisor",
            "--merchant",
            "all-merchants",
            "--name",
            "head",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let caller = shared::api_keys::authenticate(&db.pool, &secret)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(caller.scope, shared::api_keys::MerchantScope::AllMerchants);
    db.drop_database().await;
}
