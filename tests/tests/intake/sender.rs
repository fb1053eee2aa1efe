//! Who the sender is: an email acts on a payment only from the payment's customer address, and
//! on a request only from its contact. A stranger quoting someone's transaction id, or forging
//! In-Reply-To, References or the RF- tag, opens nothing and changes nothing, and hears nothing
//! about the payment; the payer is asked by email and only their reply opens the request;
//! support lists what waits and may accept it, under its own name.

use std::collections::HashMap;
use std::time::Duration;

use mail_parser::MessageParser;
use serde_json::Value;
use shared::api_keys::ApiRole;
use shared::broker::consumer::Handler;
use shared::gateway::ConfiguredGateway;
use shared::gateway::sandbox::server::Faults;
use shared::gateway::sandbox::{CardStatus, SandboxGateway};
use shared::messages::WorkMessage;
use shared::money::{Currency, Money};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use e2e::smtp_sink::{Delivered, SmtpSink};
use e2e::{Pipeline, TestApp, TestBroker, eventually, notify_worker, wait_for_state};

use super::api::{count, request, take};

const TXN: &str = "BPC-7731904512";
const STRANGER: &str = "mallory@evil.example";
const PAYER: &str = "ivan.petrov@mail.ru";

/// 450.00 BYN for a course, paid yesterday with Visa ••••4242 by Ivan (Russian), registered
/// with his address in mixed case.
async fn course_payment(pool: &PgPool) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO payments (id, merchant, policy_id, gateway, gateway_txn_id, amount_minor,
                               currency, paid_at, customer_email, customer_language, card_brand,
                               card_last4, cardholder_name)
         VALUES ($1, 'byskills', 'by-online-courses', 'sandbox', $2, 45000, 'BYN',
                 now() - interval '1 day', ' Ivan.Petrov@Mail.ru', 'ru', 'visa', '4242',
                 'IVAN PETROV')",
    )
    .bind(id)
    .bind(TXN)
    .execute(pool)
    .await
    .unwrap();
    id
}

/// A stranger's email quoting the payment's transaction id.
fn strangers_claim(from: &str, n: u32) -> Vec<u8> {
    format!(
        "From: Someone <{from}>\r\nTo: refunds@byskills.example\r\nSubject: Refund please\r\n\
         Message-ID: <claim-{n}@evil.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Hello, I paid for the course, transaction {TXN}, and I changed my mind.\r\n\
         Please refund me.\r\nMallory Evil\r\n"
    )
    .into_bytes()
}

/// The decoded subject, text and HTML of a delivered email.
fn readable(d: &Delivered) -> String {
    let m = MessageParser::default().parse(&d.data).unwrap();
    format!(
        "{}\n{}\n{}",
        m.subject().unwrap_or_default(),
        m.body_text(0).unwrap_or_default(),
        m.body_html(0).unwrap_or_default()
    )
}

fn to(sink: &SmtpSink, address: &str) -> Vec<Delivered> {
    sink.delivered()
        .into_iter()
        .filter(|d| d.rcpt_to.iter().any(|r| r == address))
        .collect()
}

async fn sandbox(shutdown: &CancellationToken) -> String {
    e2e::sandbox_gateway(Faults::default(), shutdown).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_email_quoting_a_transaction_id_opens_nothing_until_the_payer_replies() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let sink = SmtpSink::start().await;
    let shutdown = CancellationToken::new();
    let gateway_url = sandbox(&shutdown).await;
    let ledger = SandboxGateway::at(&gateway_url, Duration::from_secs(5)).unwrap();
    ledger
        .register_payment(
            TXN,
            Money::from_minor(45_000, Currency::BYN),
            CardStatus::Active,
        )
        .await
        .unwrap();
    let pipeline = Pipeline::start_with_notify(&app.db, &broker, &sink).await;
    let gateways = HashMap::from([(
        "byskills".to_string(),
        ConfiguredGateway::Sandbox(
            SandboxGateway::at(&gateway_url, Duration::from_secs(2)).unwrap(),
        ),
    )]);
    let payout = e2e::payout_worker(&broker, &pool, gateways, &shutdown);
    let payment = course_payment(&pool).await;

    // The stranger quotes the transaction id: taken in, nothing opened.
    let (status, answer) = take(&app, &strangers_claim(STRANGER, 1)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "unverified");
    assert_eq!(answer["request_id"], Value::Null);
    assert_eq!(answer["reply_queued"], true);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await,
        0
    );
    let (outcome, claimed, merchant): (String, Option<Uuid>, Option<String>) = sqlx::query_as(
        "SELECT i.outcome, i.claimed_payment_id, p.merchant
           FROM inbound_emails i LEFT JOIN payments p ON p.id = i.claimed_payment_id
          WHERE i.id = $1::uuid",
    )
    .bind(answer["inbound_id"].as_str().unwrap())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (outcome.as_str(), claimed, merchant.as_deref()),
        ("unverified", Some(payment), Some("byskills"))
    );

    // Two emails: a generic answer to the stranger, and a question to the payer's own address.
    assert!(
        eventually(Duration::from_secs(20), || async {
            sink.delivered().len() >= 2
        })
        .await,
        "expected the answer and the confirmation request, got {}",
        sink.delivered().len()
    );
    let answers = to(&sink, STRANGER);
    assert_eq!(answers.len(), 1);
    let text = readable(&answers[0]);
    for leaked in [
        TXN,
        "450",
        "4242",
        "Visa",
        "RF-",
        "Байскилз",
        "byskills",
        "ivan",
        "Ivan",
    ] {
        assert!(
            !text.contains(leaked),
            "the stranger was told {leaked:?}: {text}"
        );
    }
    assert!(text.contains("asked the payer"), "{text}");
    let asked = to(&sink, PAYER);
    assert_eq!(asked.len(), 1, "the payer is asked once");
    let question = MessageParser::default().parse(&asked[0].data).unwrap();
    let confirmation_id = question.message_id().unwrap().to_owned();
    assert!(
        confirmation_id.starts_with("rf-") && confirmation_id.ends_with("-sender_check-1@refundd"),
        "{confirmation_id}"
    );
    assert_eq!(
        question.header_raw("Content-Language").map(str::trim),
        Some("ru")
    );
    let text = readable(&asked[0]);
    assert!(text.contains(STRANGER), "{text}");
    assert!(text.contains("450,00"), "{text}");

    // Nothing paid: no request, no payout attempt, the sandbox ledger untouched.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await,
        0
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM payout_attempts").await,
        0
    );
    let book = ledger.ledger(Some(TXN)).await.unwrap();
    assert!(book.refunds.is_empty(), "{book:?}");
    assert_eq!(book.transactions[0].refunded, "0.00");

    // The stranger cannot answer the question for the payer, even quoting its Message-ID.
    let forged = format!(
        "From: {STRANGER}\r\nTo: refunds@byskills.example\r\nSubject: Re: confirm\r\n\
         Message-ID: <forged-confirm@evil.example>\r\nIn-Reply-To: <{confirmation_id}>\r\n\r\n\
         Yes, I confirm.\r\n"
    );
    let (_, forged) = take(&app, forged.as_bytes()).await;
    assert_eq!(forged["outcome"], "unverified", "{forged}");
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await,
        0
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM sender_confirmations").await,
        1,
        "the payer is not asked twice"
    );

    // The payer answers from their own address (another case): the request opens for them.
    let reply = format!(
        "From: Ivan Petrov <IVAN.PETROV@MAIL.RU>\r\nTo: refunds@byskills.example\r\n\
         Subject: Re: confirm\r\nMessage-ID: <yes-it-was-me@mail.ru>\r\n\
         In-Reply-To: <{confirmation_id}>\r\nReferences: <{confirmation_id}>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nДа, это я, подтверждаю.\r\n"
    );
    let (status, opened) = take(&app, reply.as_bytes()).await;
    assert_eq!(status, 201, "{opened}");
    assert_eq!(opened["outcome"], "created");
    let id = opened["request_id"].as_str().unwrap().to_string();
    let r = request(&pool, &id).await;
    assert_eq!(r["payment_id"], payment.to_string());
    assert_eq!(r["contact_email"], PAYER);
    assert_eq!(r["channel"], "email");
    assert_eq!(r["language"], "ru");
    assert_eq!(r["reason"], "withdrawal", "the claim's reason: {r}");
    assert_eq!(
        r["facts"]["customer_name"], "Ivan Petrov",
        "the payer's name, not the claim's signature: {r}"
    );
    assert!(
        r["facts"]["reason_text"]
            .as_str()
            .unwrap()
            .contains("changed my mind"),
        "{r}"
    );
    let (resolution, resolved): (Option<String>, Option<Uuid>) = sqlx::query_as(
        "SELECT resolution, resolved_request_id FROM inbound_emails WHERE id = $1::uuid",
    )
    .bind(answer["inbound_id"].as_str().unwrap())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(resolution.as_deref(), Some("confirmed"));
    assert_eq!(resolved.map(|u| u.to_string()), Some(id.clone()));

    // Within 7 days of payment the pack refunds in full, to the payer's card.
    wait_for_state(&pool, &id, "refunded").await;
    let book = ledger.ledger(Some(TXN)).await.unwrap();
    assert_eq!(book.transactions[0].refunded, "450.00");
    // Every email about the request went to the payer; the stranger heard nothing more than
    // the two generic answers.
    let strangers = to(&sink, STRANGER);
    assert_eq!(strangers.len(), 2);
    for d in &strangers {
        let text = readable(d);
        for leaked in [TXN, "450", "4242", "RF-"] {
            assert!(!text.contains(leaked), "{leaked:?}: {text}");
        }
    }
    // Each email's recipient is written when it goes out: wait for the last one.
    assert!(
        e2e::eventually(Duration::from_secs(20), || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM notifications
                  WHERE request_id = $1::uuid AND status = 'pending'",
            )
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap()
                == 0
        })
        .await
    );
    let recipients: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT recipient FROM notifications WHERE request_id = $1::uuid",
    )
    .bind(&id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(recipients, [PAYER]);

    shutdown.cancel();
    payout.await.ok();
    pipeline.stop().await;
    broker.cleanup().await;
    app.stop().await;
}

/// Everything a forged reply must not change on the victim's request.
async fn snapshot(pool: &PgPool, id: &str) -> Value {
    sqlx::query_scalar(
        "SELECT jsonb_build_object(
                    'state', r.state, 'version', r.version, 'reason', r.reason,
                    'facts', r.facts, 'payment_id', r.payment_id,
                    'documents', (SELECT count(*) FROM documents d WHERE d.request_id = r.id),
                    'events', (SELECT count(*) FROM request_events e WHERE e.request_id = r.id),
                    'work', (SELECT count(*) FROM outbox o WHERE o.payload->>'request_id' = r.id::text))
           FROM refund_requests r WHERE r.id = $1::uuid",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

fn with_pdf(headers: &str, text: &str) -> Vec<u8> {
    format!(
        "{headers}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
         --b\r\nContent-Type: application/pdf; name=\"receipt.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"receipt.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IKJSVFT0YK\r\n--b--\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_in_reply_to_references_and_tags_change_nothing_on_the_victims_request() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    sqlx::query(
        "INSERT INTO payments (id, merchant, policy_id, gateway, gateway_txn_id, amount_minor,
                               currency, paid_at, customer_email)
         VALUES ($1, 'webshop-lv', 'lv-webshop', 'sandbox', 'LV-ORD-55210', 4990, 'EUR',
                 now() - interval '2 days', 'anna.ozola@gmail.com')",
    )
    .bind(Uuid::now_v7())
    .execute(&pool)
    .await
    .unwrap();
    // Anna's own application: opened as always, her address the contact.
    let own = "From: Anna Ozola <anna.ozola@gmail.com>\r\nTo: atmaksa@webshop-lv.example\r\n\
               Subject: Pasutijums LV-ORD-55210\r\nMessage-ID: <anna-1@gmail.com>\r\n\r\n\
               Labdien, pasutijums LV-ORD-55210.\r\nAnna Ozola\r\n";
    let (status, opened) = take(&app, own.as_bytes()).await;
    assert_eq!(status, 201, "{opened}");
    let id = opened["request_id"].as_str().unwrap().to_string();
    assert_eq!(
        request(&pool, &id).await["contact_email"],
        "anna.ozola@gmail.com"
    );
    // Waiting for her answer, as after validation asked for the reason.
    sqlx::query("UPDATE refund_requests SET state = 'needs_info' WHERE id = $1::uuid")
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    let before = snapshot(&pool, &id).await;
    assert_eq!(before["reason"], Value::Null, "{before}");
    let tag = format!("RF-{}", id[id.len() - 8..].to_uppercase());

    let forgeries = [
        with_pdf(
            &format!(
                "From: {STRANGER}\r\nSubject: Re: your application\r\n\
                 Message-ID: <forged-1@evil.example>\r\n\
                 In-Reply-To: <rf-{id}-needs_info-1@refundd>"
            ),
            "I changed my mind, refund it. Mallory Evil",
        ),
        with_pdf(
            &format!(
                "From: {STRANGER}\r\nSubject: Re: [{tag}] Atmaksas pieteikums\r\n\
                 Message-ID: <forged-2@evil.example>"
            ),
            "I withdraw from the purchase. Mallory Evil",
        ),
        with_pdf(
            &format!(
                "From: Anna Ozola <anna.ozola@gmail.com.evil.example>\r\nSubject: Re: Atmaksa\r\n\
                 Message-ID: <forged-3@evil.example>\r\n\
                 References: <a@b.c> <rf-{id}-intake_reply-1@refundd>"
            ),
            "I changed my mind. Anna Ozola",
        ),
    ];
    for (n, raw) in forgeries.iter().enumerate() {
        let (status, answer) = take(&app, raw).await;
        assert_eq!(status, 200, "forgery {n}: {answer}");
        assert_eq!(answer["outcome"], "unverified", "forgery {n}: {answer}");
        assert_eq!(answer["request_id"], Value::Null, "forgery {n}");
        assert_eq!(
            snapshot(&pool, &id).await,
            before,
            "forgery {n} changed the request"
        );
    }
    let claims: Vec<(Option<Uuid>, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT i.claimed_request_id, r.merchant, i.reply_text
           FROM inbound_emails i LEFT JOIN refund_requests r ON r.id = i.claimed_request_id
          WHERE i.outcome = 'unverified' ORDER BY i.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(claims.len(), 3);
    for (claimed, merchant, reply) in &claims {
        assert_eq!(claimed.map(|c| c.to_string()), Some(id.clone()));
        assert_eq!(merchant.as_deref(), Some("webshop-lv"));
        let reply = reply.as_deref().unwrap_or_default();
        assert!(!reply.contains(&tag) && !reply.contains(&id), "{reply}");
    }
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await,
        1
    );
    // A claim on a request belongs to the request's merchant, read when asked: its staff list
    // the three, another merchant's staff none and cannot accept one.
    let client = reqwest::Client::new();
    for (merchant, seen) in [("webshop-lv", 3), ("goods-kz", 0)] {
        let key = app.merchant_key(ApiRole::Support, merchant).await;
        let page: Value = client
            .get(app.url("/v1/unverified-emails"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), seen, "{merchant}: {page}");
        assert!(
            items.iter().all(|i| i["merchant"] == "webshop-lv"),
            "{page}"
        );
        if seen == 0 {
            let claim: Uuid = sqlx::query_scalar(
                "SELECT id FROM inbound_emails WHERE outcome = 'unverified' LIMIT 1",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            let r = client
                .post(app.url(&format!("/v1/unverified-emails/{claim}/accept")))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404);
        }
    }

    // Anna herself, replying the same way (her address in capitals): joined as always.
    let (status, attached) = take(
        &app,
        &with_pdf(
            &format!(
                "From: ANNA.OZOLA@GMAIL.COM\r\nSubject: Re: your application\r\n\
                 Message-ID: <anna-2@gmail.com>\r\nIn-Reply-To: <rf-{id}-needs_info-1@refundd>"
            ),
            "I changed my mind. Anna Ozola",
        ),
    )
    .await;
    assert_eq!(status, 200, "{attached}");
    assert_eq!(attached["outcome"], "attached");
    assert_eq!(attached["request_state"], "validating");
    let after = snapshot(&pool, &id).await;
    assert_eq!(after["documents"], 1);
    assert_eq!(after["reason"], "withdrawal");

    // The forgeries' sealed copies go on the documents' retention schedule.
    let sealed = "SELECT count(*) FROM inbound_emails WHERE sealed_raw IS NOT NULL";
    assert_eq!(count(&pool, sealed).await, 3);
    shared::inbound_emails::purge(&pool, 0).await.unwrap();
    assert_eq!(count(&pool, sealed).await, 0);
    app.stop().await;
}

async fn get(app: &TestApp, path: &str, role: ApiRole) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(app.url(path))
        .bearer_auth(app.key(role))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn accept(app: &TestApp, id: &str, role: ApiRole) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(app.url(&format!("/v1/unverified-emails/{id}/accept")))
        .bearer_auth(app.key(role))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_lists_unverified_emails_and_accepts_one_once_under_its_own_name() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let payment = course_payment(&pool).await;
    let (_, first) = take(&app, &strangers_claim(STRANGER, 1)).await;
    let (_, second) = take(&app, &strangers_claim("eve@other.example", 2)).await;
    assert_eq!(first["outcome"], "unverified");
    assert_eq!(second["outcome"], "unverified");

    let (status, page) = get(&app, "/v1/unverified-emails", ApiRole::Support).await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], second["inbound_id"], "newest first");
    let item = &items[1];
    assert_eq!(item["sender"], STRANGER);
    assert_eq!(item["subject"], "Refund please");
    assert_eq!(item["claimed_payment_id"], payment.to_string());
    assert_eq!(item["claimed_transaction_id"], TXN);
    assert_eq!(item["merchant"], "byskills");
    assert_eq!(item["status"], "waiting");
    assert_eq!(item["confirmation"], "pending");
    assert_eq!(
        items[0]["confirmation"],
        Value::Null,
        "the payer is asked once"
    );
    assert!(item.get("body_text").is_none() && item.get("body").is_none());
    // Page by page.
    let (_, one) = get(&app, "/v1/unverified-emails?limit=1", ApiRole::Supervisor).await;
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    let cursor = one["next_cursor"].as_str().unwrap();
    let (_, next) = get(
        &app,
        &format!("/v1/unverified-emails?limit=1&cursor={cursor}"),
        ApiRole::Supervisor,
    )
    .await;
    assert_eq!(next["items"][0]["id"], first["inbound_id"]);
    assert_eq!(next["next_cursor"], Value::Null);
    let (status, _) = get(&app, "/v1/unverified-emails?status=bogus", ApiRole::Support).await;
    assert_eq!(status, 422);

    // Viewers and the mail provider's key may not look or accept.
    let claim = first["inbound_id"].as_str().unwrap();
    assert_eq!(
        get(&app, "/v1/unverified-emails", ApiRole::Viewer).await.0,
        403
    );
    for role in [ApiRole::Viewer, ApiRole::Intake] {
        let (status, problem) = accept(&app, claim, role).await;
        assert_eq!(status, 403, "{role}: {problem}");
    }
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await,
        0
    );

    // Another merchant's staff neither see nor accept it (404, as for an unknown id); the
    // payment's merchant's staff do.
    let other = app.merchant_key(ApiRole::Support, "goods-kz").await;
    let own = app.merchant_key(ApiRole::Support, "byskills").await;
    let client = reqwest::Client::new();
    let list = |key: &str, query: &str| {
        client
            .get(app.url(&format!("/v1/unverified-emails{query}")))
            .bearer_auth(key.to_owned())
            .send()
    };
    for query in ["", "?merchant=byskills"] {
        let page: Value = list(&other, query).await.unwrap().json().await.unwrap();
        assert_eq!(page["items"], serde_json::json!([]), "{query}: {page}");
    }
    let page: Value = list(&own, "").await.unwrap().json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "{page}");
    let r = client
        .post(app.url(&format!("/v1/unverified-emails/{claim}/accept")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await,
        0
    );

    // Support accepts: the request opens on the payment, audited under the key's name.
    let (status, accepted) = accept(&app, claim, ApiRole::Support).await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["resolved_by"], "support:test-support");
    assert_eq!(accepted["confirmation"], "accepted");
    let id = accepted["request_id"].as_str().unwrap().to_string();
    let r = request(&pool, &id).await;
    assert_eq!(r["payment_id"], payment.to_string());
    assert_eq!(r["contact_email"], STRANGER);
    assert_eq!(r["channel"], "email");
    let audited: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT actor, reason FROM request_events WHERE request_id = $1::uuid ORDER BY id",
    )
    .bind(&id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        audited
            .iter()
            .all(|(actor, _)| actor == "support:test-support")
            && audited.iter().any(|(_, why)| {
                why.as_deref() == Some("an email from another address, accepted by support")
            }),
        "{audited:?}"
    );
    assert_eq!(
        count(
            &pool,
            &format!(
                "SELECT count(*) FROM notifications WHERE request_id = '{id}'
                    AND event = 'received' AND due_at IS NOT NULL"
            )
        )
        .await,
        1
    );

    // Once: a second accept is refused and opens nothing.
    let (status, problem) = accept(&app, claim, ApiRole::Supervisor).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains(&id),
        "{problem}"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await,
        1
    );
    let (status, _) = accept(&app, &Uuid::now_v7().to_string(), ApiRole::Support).await;
    assert_eq!(status, 404);
    let (status, _) = accept(&app, "not-an-id", ApiRole::Support).await;
    assert_eq!(status, 400);
    let (_, waiting) = get(
        &app,
        "/v1/unverified-emails?status=waiting",
        ApiRole::Support,
    )
    .await;
    assert_eq!(waiting["items"].as_array().unwrap().len(), 1);
    // The accepted email's sealed copy is forgotten; the waiting one keeps its own.
    let sealed: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM inbound_emails WHERE sealed_raw IS NOT NULL")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        sealed.iter().map(Uuid::to_string).collect::<Vec<_>>(),
        [second["inbound_id"].as_str().unwrap()]
    );
    // Past retention, the confirmation asked of the payer (it quotes the claim) goes with the
    // claim's text.
    let quoted = "SELECT count(*) FROM sender_confirmations WHERE body_text <> '' OR subject <> ''";
    assert_eq!(count(&pool, quoted).await, 1);
    shared::inbound_emails::purge(&pool, 0).await.unwrap();
    assert_eq!(count(&pool, quoted).await, 0);
    app.stop().await;
}

/// The notify message queued for `event`, as the relay would deliver it.
async fn queued(pool: &PgPool, event: &str) -> Vec<WorkMessage> {
    let payloads: Vec<Value> =
        sqlx::query_scalar("SELECT payload FROM outbox WHERE payload->>'event' = $1 ORDER BY id")
            .bind(event)
            .fetch_all(pool)
            .await
            .unwrap();
    payloads
        .into_iter()
        .map(|p| serde_json::from_value(p).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_own_request_cannot_take_someone_elses_payment_and_the_payer_is_written_only_at_the_payments_address()
 {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let sink = SmtpSink::start().await;
    let notify = notify_worker(&app.db, sink.mailer());
    let payment = course_payment(&pool).await;

    // The stranger's own application names no payment: opened for them, as always.
    let own = format!(
        "From: {STRANGER}\r\nSubject: refund\r\nMessage-ID: <own@evil.example>\r\n\r\n\
         I want my money back, I changed my mind.\r\n"
    );
    let (status, opened) = take(&app, own.as_bytes()).await;
    assert_eq!(status, 201, "{opened}");
    let id = opened["request_id"].as_str().unwrap().to_string();
    let tag = format!("RF-{}", id[id.len() - 8..].to_uppercase());
    // Their reply, on their own request, names Ivan's transaction: it ties nothing.
    let reply = format!(
        "From: {STRANGER}\r\nSubject: Re: [{tag}] Refund application\r\n\
         Message-ID: <own-2@evil.example>\r\n\r\nThe transaction is {TXN}.\r\n"
    );
    let before = snapshot(&pool, &id).await;
    let (status, answer) = take(&app, reply.as_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "unverified", "{answer}");
    assert_eq!(snapshot(&pool, &id).await, before);
    assert_eq!(request(&pool, &id).await["payment_id"], Value::Null);
    let claimed: Option<Uuid> =
        sqlx::query_scalar("SELECT claimed_payment_id FROM inbound_emails WHERE id = $1::uuid")
            .bind(answer["inbound_id"].as_str().unwrap())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(claimed, Some(payment));

    // The generic answer goes to the stranger, in reply to their email, signed by nobody in
    // particular.
    let answers = queued(&pool, "unverified_reply").await;
    assert_eq!(answers.len(), 1);
    notify.handle(answers[0].clone()).await.unwrap();
    let delivered = sink.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].rcpt_to, [STRANGER]);
    let sent = MessageParser::default().parse(&delivered[0].data).unwrap();
    assert_eq!(sent.in_reply_to().as_text(), Some("own-2@evil.example"));
    assert_eq!(
        sent.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-replied")
    );
    let from = sent.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Refunds"));
    assert!(!from.address().unwrap().contains("byskills"), "{from:?}");

    // The payment's address changed before the question went out: it goes nowhere.
    sqlx::query("UPDATE payments SET customer_email = 'ivan.new@mail.ru' WHERE id = $1")
        .bind(payment)
        .execute(&pool)
        .await
        .unwrap();
    let questions = queued(&pool, "sender_check").await;
    assert_eq!(questions.len(), 1);
    notify.handle(questions[0].clone()).await.unwrap();
    assert_eq!(sink.delivered().len(), 1, "nothing more was sent");
    let (status, error): (String, Option<String>) =
        sqlx::query_as("SELECT status, error FROM notifications WHERE event = 'sender_check'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    assert!(error.unwrap().contains("changed"));

    // A payment registered without a customer address: nobody can be asked; support decides.
    sqlx::query(
        "INSERT INTO payments (id, merchant, policy_id, gateway, gateway_txn_id, amount_minor,
                               currency, paid_at)
         VALUES ($1, 'byskills', 'by-online-courses', 'sandbox', 'NOADDR-4410772', 9900, 'BYN',
                 now() - interval '1 day')",
    )
    .bind(Uuid::now_v7())
    .execute(&pool)
    .await
    .unwrap();
    let claim = "From: eve@other.example\r\nSubject: refund\r\nMessage-ID: <noaddr@x>\r\n\r\n\
                 Refund transaction NOADDR-4410772, I changed my mind.\r\n";
    let (_, answer) = take(&app, claim.as_bytes()).await;
    assert_eq!(answer["outcome"], "unverified", "{answer}");
    let text: String =
        sqlx::query_scalar("SELECT reply_text FROM inbound_emails WHERE id = $1::uuid")
            .bind(answer["inbound_id"].as_str().unwrap())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        text.contains("support team") && !text.contains("NOADDR"),
        "{text}"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM sender_confirmations").await,
        1
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await,
        1
    );
    app.stop().await;
}
