//! The support console over plain HTTP (issue #21): the session cookie, sign-out, forged and
//! foreign forms, one merchant's key never seeing another's requests on any page, and a form
//! sent twice making one request. The same pages driven by a real browser:
//! `console_browser.rs`.

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use shared::api_keys::ApiRole;
use shared::lifecycle::RequestState;
use sqlx::PgPool;
use uuid::Uuid;

use e2e::TestApp;

/// A browser's view of the console: its session cookie and the CSRF token of its pages.
pub struct Console {
    http: reqwest::Client,
    base: String,
    pub cookie: String,
    pub csrf: String,
}

/// The `name="csrf" value="…"` of a page.
fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_string())
}

impl Console {
    /// Signs in with `key` through the form, as a browser would (same Origin).
    pub async fn sign_in(app: &TestApp, key: &str) -> Console {
        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap();
        let r = http
            .post(app.url("/console/sign-in"))
            .header("origin", &app.address)
            .form(&[("key", key), ("language", "en"), ("next", "/console")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "{}",
            r.text().await.unwrap()
        );
        let set = r
            .headers()
            .get("set-cookie")
            .expect("a session cookie")
            .to_str()
            .unwrap()
            .to_string();
        let cookie = set.split(';').next().unwrap().to_string();
        let mut console = Console {
            http,
            base: app.address.clone(),
            cookie,
            csrf: String::new(),
        };
        let (status, page) = console.get("/console").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        console.csrf = csrf_of(&page).expect("the queue carries the CSRF token");
        console
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// Posts a form with this session's cookie, the given fields and `Origin`.
    pub async fn post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> (StatusCode, String) {
        let mut r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(fields);
        if let Some(origin) = origin {
            r = r.header("origin", origin);
        }
        let r = r.send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    }
}

async fn state(pool: &PgPool, id: Uuid) -> String {
    sqlx::query_scalar("SELECT state FROM refund_requests WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A request of `merchant` in `state` on a payment of its own (transaction id `txn`).
async fn request_of(
    pool: &PgPool,
    merchant: &str,
    policy: &str,
    txn: &str,
    s: RequestState,
) -> (Uuid, Uuid) {
    let payment = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO payments (id, merchant, policy_id, gateway, gateway_txn_id, amount_minor,
                               currency, paid_at, customer_email)
         VALUES ($1, $2, $3, 'sandbox', $4, 1899000, 'KZT', now() - interval '2 days',
                 'buyer@example.kz')",
    )
    .bind(payment)
    .bind(merchant)
    .bind(policy)
    .bind(txn)
    .execute(pool)
    .await
    .unwrap();
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO refund_requests (id, payment_id, merchant, policy_id, state, channel, reason,
                                      received_at, amount_minor, currency, contact_email)
         VALUES ($1, $2, $3, $4, $5, 'api', 'withdrawal', now(), 1000000, 'KZT', 'buyer@example.kz')",
    )
    .bind(id)
    .bind(payment)
    .bind(merchant)
    .bind(policy)
    .bind(s.as_str())
    .execute(pool)
    .await
    .unwrap();
    (id, payment)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_http_only_strict_and_ends_at_sign_out() {
    let app = TestApp::spawn().await;
    let key = app.merchant_key(ApiRole::Support, "goods-kz").await;
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();

    // Without a session every page sends the browser to sign in, and back after.
    let r = http.get(app.url("/console/new?q=x")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        "/console/sign-in?next=%2Fconsole%2Fnew%3Fq%3Dx"
    );

    // A wrong key: the form again, saying so; no cookie.
    let r = http
        .post(app.url("/console/sign-in"))
        .form(&[("key", "rfd_0000"), ("language", "ru")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("set-cookie").is_none());
    assert!(r.text().await.unwrap().contains("Этот ключ недействителен"));

    // A viewer key does not open the console, and says what does.
    let viewer = app.key(ApiRole::Viewer).to_string();
    let r = http
        .post(app.url("/console/sign-in"))
        .form(&[("key", viewer.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("needs a support or supervisor key")
    );

    // Over HTTPS (as a proxy says) the cookie is also Secure.
    let r = http
        .post(app.url("/console/sign-in"))
        .header("x-forwarded-proto", "https")
        .form(&[("key", key.as_str())])
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");

    let console = Console::sign_in(&app, &key).await;
    let set = {
        let r = http
            .post(app.url("/console/sign-in"))
            .form(&[("key", key.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/console");
        r.headers()["set-cookie"].to_str().unwrap().to_string()
    };
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age="] {
        assert!(set.contains(attribute), "{set} lacks {attribute}");
    }
    assert!(!set.contains("; Secure"), "plain HTTP: {set}");
    assert!(
        !set.contains(&key),
        "the cookie is a session token, never the key"
    );
    // Only the token's hash is stored.
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM console_sessions")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    let token = console.cookie.split_once('=').unwrap().1.to_string();
    assert!(stored.iter().all(|h| !h.contains(&token) && h.len() == 64));

    // The page is not cached and loads nothing from elsewhere.
    let r = http
        .get(app.url("/console"))
        .header("cookie", &console.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("form-action 'self'"),
        "{csp}"
    );

    // Sign-out without the token changes nothing; with it, the cookie opens nothing after.
    let (status, _) = console
        .post("/console/sign-out", &[], Some(&app.address))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(console.get("/console").await.0, StatusCode::OK);
    let (status, _) = console
        .post(
            "/console/sign-out",
            &[("csrf", &console.csrf)],
            Some(&app.address),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(console.get("/console").await.0, StatusCode::SEE_OTHER);

    // Revoking the key ends its sessions at once.
    let again = Console::sign_in(&app, &key).await;
    let name: String = sqlx::query_scalar(
        "SELECT k.name FROM console_sessions s JOIN api_keys k ON k.id = s.api_key_id LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(shared::api_keys::revoke(&app.db.pool, &name).await.unwrap());
    assert_eq!(again.get("/console").await.0, StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_the_token_or_from_another_site_changes_nothing() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let (id, _) = request_of(
        &pool,
        "goods-kz",
        "kz-goods-store",
        "t-csrf",
        RequestState::NeedsInfo,
    )
    .await;
    let key = app.merchant_key(ApiRole::Supervisor, "goods-kz").await;
    let console = Console::sign_in(&app, &key).await;
    let withdraw = format!("/console/requests/{id}/withdraw");

    let (status, page) = console
        .post(&withdraw, &[("note", "forged")], Some(&app.address))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Nothing was changed"), "{page}");
    assert_eq!(state(&pool, id).await, "needs_info");

    let (status, _) = console
        .post(
            &withdraw,
            &[
                ("csrf", "0123456789abcdef0123456789abcdef"),
                ("note", "guessed"),
            ],
            Some(&app.address),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(state(&pool, id).await, "needs_info");

    // The right token, but the browser says the form came from another site.
    let (status, _) = console
        .post(
            &withdraw,
            &[("csrf", &console.csrf), ("note", "foreign")],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(state(&pool, id).await, "needs_info");

    // Signing in from another site's form is refused too (it would sign the person in as
    // the attacker), and no session is made.
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM console_sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .post(app.url("/console/sign-in"))
        .header("origin", "https://evil.example")
        .form(&[("key", key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM console_sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(before, after);

    // From its own page it is done, and the next page says so.
    let (status, _) = console
        .post(
            &withdraw,
            &[("csrf", &console.csrf), ("note", "the customer called")],
            Some(&app.address),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(state(&pool, id).await, "withdrawn");
    let (_, page) = console.get(&format!("/console/requests/{id}")).await;
    assert!(
        page.contains("Withdrawn. The request is now: withdrawn."),
        "{page}"
    );
    // The answer is shown once.
    let (_, page) = console.get(&format!("/console/requests/{id}")).await;
    assert!(!page.contains("id=\"flash\""));

    // A made-up id with a line break in it is answered in words, not with a broken header.
    let (status, _) = console
        .post(
            "/console/requests/x%0D%0ASet-Cookie:%20a=b/withdraw",
            &[("csrf", &console.csrf)],
            Some(&app.address),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page) = console.get("/console").await;
    assert!(page.contains("is not a valid id (a UUID)"), "{page}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_of_one_merchant_never_sees_another_merchants_requests_on_any_page() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let (mine, _) = request_of(
        &pool,
        "goods-kz",
        "kz-goods-store",
        "t-mine",
        RequestState::ManualReview,
    )
    .await;
    let (theirs, their_payment) = request_of(
        &pool,
        "saas-kz",
        "kz-saas-subscription",
        "t-theirs",
        RequestState::ManualReview,
    )
    .await;
    let doc = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO documents (id, request_id, kind, content_type, size_bytes, sha256, fields)
         VALUES ($1, $2, 'payment_receipt', 'image/png', 1, 'x', '{}')",
    )
    .bind(doc)
    .bind(theirs)
    .execute(&pool)
    .await
    .unwrap();
    let key = app.merchant_key(ApiRole::Supervisor, "goods-kz").await;
    let console = Console::sign_in(&app, &key).await;
    let theirs_text = theirs.to_string();

    let (status, queue) = console.get("/console").await;
    assert_eq!(status, StatusCode::OK);
    assert!(queue.contains(&mine.to_string()), "{queue}");
    assert!(
        !queue.contains(&theirs_text) && !queue.contains("saas-kz"),
        "{queue}"
    );
    // Asking for the other merchant's queue shows nothing of it.
    let (status, page) = console.get("/console?merchant=saas-kz").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!page.contains(&theirs_text));

    for path in [
        format!("/console/requests/{theirs}"),
        format!("/console/requests/{theirs}/emails/{}", Uuid::now_v7()),
        format!("/console/requests/{theirs}/documents/{doc}"),
        format!("/console/new?payment={their_payment}"),
    ] {
        let (status, page) = console.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {page}");
        assert!(
            !page.contains("t-theirs") && !page.contains("buyer@example.kz"),
            "{path}: {page}"
        );
    }
    let (status, page) = console.get("/console/new?q=t-theirs").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"no-payment\"") && !page.contains(&their_payment.to_string()));
    let (_, page) = console.get("/console/new?q=t-mine").await;
    assert!(
        page.contains("data-payment="),
        "my own payment is found: {page}"
    );

    // Acting on it is refused as "not found", and changes nothing.
    let (status, _) = console
        .post(
            &format!("/console/requests/{theirs}/reject"),
            &[("csrf", &console.csrf), ("reason", "no")],
            Some(&app.address),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(state(&pool, theirs).await, "manual_review");
    let (_, page) = console.get("/console").await;
    assert!(
        page.contains(&format!("Not done: no refund request {theirs}")),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_application_form_sent_twice_makes_one_request() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let (_, payment) = request_of(
        &pool,
        "goods-kz",
        "kz-goods-store",
        "t-twice",
        RequestState::Refunded,
    )
    .await;
    let key = app.merchant_key(ApiRole::Support, "goods-kz").await;
    let console = Console::sign_in(&app, &key).await;
    let (_, form) = console
        .get(&format!("/console/new?payment={payment}"))
        .await;
    let marker = "name=\"idempotency_key\" value=\"";
    let at = form.find(marker).unwrap() + marker.len();
    let idem = form[at..].split('"').next().unwrap().to_string();
    assert_eq!(idem.len(), 36, "a UUID made with the form");
    let payment = payment.to_string();
    let fields = [
        ("csrf", console.csrf.as_str()),
        ("payment", payment.as_str()),
        ("idempotency_key", idem.as_str()),
        ("reason", "not_delivered"),
        ("fact.reason_text", "the parcel never came"),
        ("contact_email", "buyer@example.kz"),
        ("intent", "submit"),
    ];
    let (first, _) = console
        .post("/console/new", &fields, Some(&app.address))
        .await;
    let (second, _) = console
        .post("/console/new", &fields, Some(&app.address))
        .await;
    assert_eq!(
        (first, second),
        (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER)
    );
    let made: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refund_requests WHERE payment_id = $1::uuid AND reason = 'not_delivered'",
    )
    .bind(&payment)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(made, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_typed_in_the_console_reach_the_request_as_their_kinds() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let (id, payment) = request_of(
        &pool,
        "goods-kz",
        "kz-goods-store",
        "t-facts",
        RequestState::NeedsInfo,
    )
    .await;
    let key = app.merchant_key(ApiRole::Support, "goods-kz").await;
    let console = Console::sign_in(&app, &key).await;
    let (status, _) = console
        .post(
            &format!("/console/requests/{id}/facts"),
            &[
                ("csrf", &console.csrf),
                ("fact.goods_intact", "yes"),
                ("fact.goods_received_at", "2026-12-01"),
                ("fact.reason_text", "the box was empty"),
                ("fact.personalized", ""),
            ],
            Some(&app.address),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let facts: serde_json::Value =
        sqlx::query_scalar("SELECT facts FROM refund_requests WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(facts["goods_intact"], true);
    assert_eq!(facts["goods_received_at"], "2026-12-01");
    assert_eq!(facts["reason_text"], "the box was empty");
    assert!(
        facts.get("personalized").is_none(),
        "a blank field states nothing: {facts}"
    );
    let (_, page) = console.get(&format!("/console/requests/{id}")).await;
    assert!(page.contains("The facts are added"), "{page}");

    // Without the script, "Show the decision" answers with the policy's decision in the page.
    let payment = payment.to_string();
    let idem = Uuid::new_v4().to_string();
    let (status, page) = console
        .post(
            "/console/new",
            &[
                ("csrf", &console.csrf),
                ("payment", &payment),
                ("idempotency_key", &idem),
                ("reason", "not_delivered"),
                ("fact.reason_text", "never came"),
                ("contact_email", "buyer@example.kz"),
                ("intent", "quote"),
            ],
            Some(&app.address),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("id=\"quote\"") && page.contains("data-decision="),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_the_customer_waits_for_them_with_exactly_what_was_chosen() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let (id, _) = request_of(
        &pool,
        "goods-kz",
        "kz-goods-store",
        "t-ask",
        RequestState::ManualReview,
    )
    .await;
    sqlx::query("UPDATE refund_requests SET decision = $2 WHERE id = $1")
        .bind(id)
        .bind(
            serde_json::json!({"decision": "manual_review", "clause": "§5", "amount": "10000.00",
                                 "facts_used": {"goods_received_at": "2026-12-01"}}),
        )
        .execute(&pool)
        .await
        .unwrap();
    let key = app.merchant_key(ApiRole::Support, "goods-kz").await;
    let console = Console::sign_in(&app, &key).await;
    let (_, page) = console.get(&format!("/console/requests/{id}")).await;
    assert!(
        page.contains("name=\"ask.goods_received_at\""),
        "the decision's facts are offered: {page}"
    );

    // Something that cannot be asked for is refused with the list of what can.
    let (status, _) = console
        .post(
            &format!("/console/requests/{id}/ask"),
            &[("csrf", &console.csrf), ("ask.loyalty_card", "yes")],
            Some(&app.address),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(state(&pool, id).await, "manual_review");
    let (_, page) = console.get(&format!("/console/requests/{id}")).await;
    assert!(
        page.contains("&quot;loyalty_card&quot; is not something the customer can be asked for"),
        "{page}"
    );

    let (status, _) = console
        .post(
            &format!("/console/requests/{id}/ask"),
            &[
                ("csrf", &console.csrf),
                ("ask.identity_document", "yes"),
                ("ask.goods_received_at", "yes"),
                ("note", "the photo is unreadable"),
            ],
            Some(&app.address),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(state(&pool, id).await, "needs_info");
    let decision: serde_json::Value =
        sqlx::query_scalar("SELECT decision FROM refund_requests WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    let mut missing: Vec<String> = serde_json::from_value(decision["missing"].clone()).unwrap();
    missing.sort();
    assert_eq!(missing, ["goods_received_at", "identity_document"]);
    assert_eq!(decision["decision"], "needs_info");
    assert!(
        decision.get("amount").is_none() && decision.get("clause").is_none(),
        "{decision}"
    );
    // The customer's needs-info email is claimed by the move, and the history names the asker.
    let emails: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM notifications WHERE request_id = $1 AND event = 'needs_info'",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(emails, 1);
    let (actor, reason): (String, String) = sqlx::query_as(
        "SELECT actor, reason FROM request_events WHERE request_id = $1 AND to_state = 'needs_info'",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(actor.starts_with("support:goods-kz-support"), "{actor}");
    assert_eq!(reason, "the photo is unreadable");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_page_offers_only_the_actions_its_state_allows() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let key = app.merchant_key(ApiRole::Supervisor, "goods-kz").await;
    let console = Console::sign_in(&app, &key).await;
    let forms = |page: &str| -> Vec<&'static str> {
        [
            "confirm-form",
            "ask-form",
            "reject-form",
            "withdraw-form",
            "upload-form",
            "facts-form",
            "bank-details-form",
            "mark-paid-form",
            "retry-form",
            "bank-transfer-form",
            "record-external-form",
        ]
        .into_iter()
        .filter(|f| page.contains(&format!("id=\"{f}\"")))
        .collect()
    };
    let page_of = |state: RequestState, txn: &'static str| {
        let pool = pool.clone();
        let console = &console;
        async move {
            let (id, _) = request_of(&pool, "goods-kz", "kz-goods-store", txn, state).await;
            (id, console.get(&format!("/console/requests/{id}")).await.1)
        }
    };

    // Approved: only withdrawal is left to a person (facts no longer change the decision).
    let (_, page) = page_of(RequestState::Approved, "t-approved").await;
    assert_eq!(forms(&page), ["withdraw-form", "upload-form"]);
    // Waiting for the customer: facts, and withdrawal.
    let (_, page) = page_of(RequestState::NeedsInfo, "t-waiting").await;
    assert_eq!(forms(&page), ["withdraw-form", "upload-form", "facts-form"]);
    // Manual review: the decisions a person makes.
    let (_, page) = page_of(RequestState::ManualReview, "t-review").await;
    assert_eq!(
        forms(&page),
        [
            "confirm-form",
            "ask-form",
            "reject-form",
            "withdraw-form",
            "upload-form"
        ]
    );
    // A payout just started needs no one; a declined one offers what payout_person offers.
    let (_, page) = page_of(RequestState::PayoutPending, "t-pending").await;
    assert_eq!(forms(&page), ["upload-form"]);
    let (declined, _) = page_of(RequestState::PayoutFailed, "t-declined").await;
    sqlx::query(
        "INSERT INTO payout_attempts (id, request_id, payment_id, idempotency_key, gateway,
                                      amount_minor, currency, status)
         SELECT $2, r.id, r.payment_id, 'k-declined', 'sandbox', 1000000, 'KZT', 'declined'
           FROM refund_requests r WHERE r.id = $1",
    )
    .bind(declined)
    .bind(Uuid::now_v7())
    .execute(&pool)
    .await
    .unwrap();
    let (_, page) = console.get(&format!("/console/requests/{declined}")).await;
    assert_eq!(
        forms(&page),
        [
            "upload-form",
            "retry-form",
            "bank-transfer-form",
            "record-external-form"
        ]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_after_its_idle_and_absolute_limits_and_is_purged_a_day_later() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let key = app.merchant_key(ApiRole::Support, "goods-kz").await;
    let age = |column: &'static str, by: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query(&format!(
                "UPDATE console_sessions SET {column} = now() - interval '{by}'"
            ))
            .execute(&pool)
            .await
            .unwrap();
        }
    };

    // 29 minutes without a page: still signed in (and seen again now).
    let console = Console::sign_in(&app, &key).await;
    age("last_seen_at", "29 minutes").await;
    assert_eq!(console.get("/console").await.0, StatusCode::OK);
    // 31 minutes: signed out by the idle limit.
    age("last_seen_at", "31 minutes").await;
    assert_eq!(console.get("/console").await.0, StatusCode::SEE_OTHER);

    // A busy session still ends 12 hours after sign-in.
    sqlx::query("DELETE FROM console_sessions")
        .execute(&pool)
        .await
        .unwrap();
    let console = Console::sign_in(&app, &key).await;
    age("created_at", "11 hours 59 minutes").await;
    assert_eq!(console.get("/console").await.0, StatusCode::OK);
    age("created_at", "12 hours 1 minute").await;
    assert_eq!(console.get("/console").await.0, StatusCode::SEE_OTHER);

    // A day after its last page a session is deleted; a fresh one stays.
    age("last_seen_at", "25 hours").await;
    let _fresh = Console::sign_in(&app, &key).await;
    assert_eq!(shared::console_sessions::purge(&pool).await.unwrap(), 1);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM console_sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 1);
    app.stop().await;
}
