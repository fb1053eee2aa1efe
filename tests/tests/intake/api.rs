//! `POST /v1/intake/email` with emails from the intake corpus: one request per application,
//! nothing twice, replies joined to their request, machine mail left alone, unmatched mail
//! asked for what is missing.

use std::time::Duration;

use serde_json::Value;
use shared::api_keys::ApiRole;
use sqlx::PgPool;
use uuid::Uuid;

use e2e::smtp_sink::SmtpSink;
use e2e::{Pipeline, TestApp, TestBroker, eventually, wait_for_state};
use mail_parser::MessageParser;

fn corpus(file: &str) -> Vec<u8> {
    let path = format!(
        "{}/../shared/tests/corpus/emails/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn post_raw(app: &TestApp, raw: &[u8], role: ApiRole) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(app.url("/v1/intake/email"))
        .bearer_auth(app.key(role))
        .header("content-type", "message/rfc822")
        .body(raw.to_vec())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

pub(super) async fn take(app: &TestApp, raw: &[u8]) -> (u16, Value) {
    post_raw(app, raw, ApiRole::Intake).await
}

/// A payment as registered by the merchant.
async fn payment(
    pool: &PgPool,
    merchant: &str,
    policy: &str,
    txn: &str,
    email: &str,
    minor: i64,
    currency: &str,
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO payments (id, merchant, policy_id, gateway, gateway_txn_id, amount_minor,
                               currency, paid_at, customer_email, cardholder_name)
         VALUES ($1, $2, $3, 'sandbox', $4, $5, $6, now() - interval '3 days', $7, NULL)",
    )
    .bind(id)
    .bind(merchant)
    .bind(policy)
    .bind(txn)
    .bind(minor)
    .bind(currency)
    .bind(email)
    .execute(pool)
    .await
    .unwrap();
    id
}

pub(super) async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

pub(super) async fn request(pool: &PgPool, id: &str) -> Value {
    sqlx::query_scalar(
        "SELECT to_jsonb(r) - 'facts' || jsonb_build_object('facts', r.facts)
           FROM refund_requests r WHERE id = $1::uuid",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Notify messages with event `intake_reply` queued for a request.
async fn intake_replies(pool: &PgPool, id: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM outbox
          WHERE payload->>'request_id' = $1 AND payload->>'event' = 'intake_reply'",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matched_application_becomes_exactly_one_request_with_its_attachments() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let pid = payment(
        &pool,
        "goods-kz",
        "kz-goods-store",
        "2904418001",
        "yelena.kim@mail.kz",
        2_450_000,
        "KZT",
    )
    .await;
    let raw = corpus("15_ru_attachment_jpeg.eml");

    let (status, first) = take(&app, &raw).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["outcome"], "created");
    assert_eq!(first["kind"], "application");
    assert_eq!(first["message_id"], "ru15.yk@mail.kz");
    assert_eq!(first["missing"], serde_json::json!([]));
    assert_eq!(first["reply_queued"], true);
    let id = first["request_id"].as_str().unwrap().to_string();

    let r = request(&pool, &id).await;
    assert_eq!(r["channel"], "email");
    assert_eq!(r["state"], "received");
    assert_eq!(r["payment_id"], pid.to_string());
    assert_eq!(r["merchant"], "goods-kz");
    assert_eq!(r["policy_id"], "kz-goods-store");
    assert_eq!(r["contact_email"], "yelena.kim@mail.kz");
    assert_eq!(r["language"], "ru");
    assert_eq!(r["reason"], "withdrawal");
    assert_eq!(r["facts"]["customer_name"], "Елена Ким");
    assert!(
        r["facts"]["reason_text"]
            .as_str()
            .unwrap()
            .contains("2904418001")
    );
    let received: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(r["received_at"].clone()).unwrap();
    assert!((chrono::Utc::now() - received).num_seconds().abs() < 60);

    let docs: Vec<(String, Option<String>, Value)> = sqlx::query_as(
        "SELECT kind, content_type, fields FROM documents WHERE request_id = $1::uuid",
    )
    .bind(&id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].0, "email_attachment");
    assert_eq!(docs[0].1.as_deref(), Some("image/jpeg"));
    assert_eq!(docs[0].2["filename"], "udostoverenie.jpg");
    // Named as an identity card: suggested, for a person to read its fields.
    assert_eq!(docs[0].2["suggested_kind"], "identity_document");
    // Support sees it in the request's documents and opens the file: the very bytes the
    // customer attached, and the opening is in the history.
    let client = reqwest::Client::new();
    let listed: Value = client
        .get(app.url(&format!("/v1/refund-requests/{id}/documents")))
        .bearer_auth(app.key(ApiRole::Support))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let item = &listed["items"][0];
    assert_eq!(item["kind"], "email_attachment");
    assert_eq!(item["fields"]["filename"], "udostoverenie.jpg");
    let file = client
        .get(app.url(&format!(
            "/v1/refund-requests/{id}/documents/{}",
            item["id"].as_str().unwrap()
        )))
        .bearer_auth(app.key(ApiRole::Support))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["content-type"], "image/jpeg");
    assert_eq!(
        file.headers()["content-disposition"],
        "attachment; filename=\"udostoverenie.jpg\""
    );
    let bytes = file.bytes().await.unwrap();
    assert_eq!(bytes.len() as i64, item["size_bytes"].as_i64().unwrap());
    let sent = shared::intake::parse(&corpus("15_ru_attachment_jpeg.eml")).unwrap();
    assert_eq!(&bytes[..], &sent.attachments[0].bytes[..]);
    assert_eq!(&bytes[..3], [0xFF, 0xD8, 0xFF], "a JPEG");
    let opened = count(
        &pool,
        &format!(
            "SELECT count(*) FROM request_events WHERE request_id = '{id}'
                AND reason = 'document opened'"
        ),
    )
    .await;
    assert_eq!(opened, 1);
    let viewer = client
        .get(app.url(&format!("/v1/refund-requests/{id}/documents")))
        .bearer_auth(app.key(ApiRole::Viewer))
        .send()
        .await
        .unwrap();
    assert_eq!(
        viewer.status(),
        403,
        "identity scans are for support and supervisors"
    );
    assert_eq!(intake_replies(&pool, &id).await, 1);
    let validate: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox
          WHERE payload->>'request_id' = $1 AND payload->>'stage' = 'validate'",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(validate, 1);

    // The same email again (a retried webhook): nothing new, the first request named.
    let (status, again) = take(&app, &raw).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["outcome"], "duplicate");
    assert_eq!(again["request_id"], id.as_str());
    assert_eq!(again["inbound_id"], first["inbound_id"]);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await,
        1
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM documents").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM inbound_emails").await, 1);
    assert_eq!(intake_replies(&pool, &id).await, 1);

    // Ten copies at once: still one request.
    let raw16 = corpus("16_kk_attachments_png_pdf.eml");
    payment(
        &pool,
        "goods-kz",
        "kz-goods-store",
        "RK-7781302",
        "aigul.serik@mail.kz",
        6_000_000,
        "KZT",
    )
    .await;
    let copies = (0..10).map(|_| take(&app, &raw16));
    let answers = futures_util::future::join_all(copies).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let duplicates = answers
        .iter()
        .filter(|(_, a)| a["outcome"] == "duplicate")
        .count();
    assert_eq!((created, duplicates), (1, 9), "{answers:?}");
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await,
        2
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM documents").await, 3);
    // The Kazakh customer's application scan (`өтініш.pdf`) counts as the signed application
    // the pack asks for; the ID card scan (`куәлік.png`) waits for a person to read it.
    let kinds: Vec<(String, Value)> = sqlx::query_as(
        "SELECT d.kind, d.fields FROM documents d JOIN refund_requests r ON r.id = d.request_id
          WHERE r.contact_email = 'aigul.serik@mail.kz' ORDER BY d.kind",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert_eq!(kinds[0].0, "email_attachment");
    assert_eq!(kinds[0].1["suggested_kind"], "identity_document");
    assert_eq!(kinds[1].0, "refund_application");

    // Only the intake role may post raw mail.
    let (status, problem) = post_raw(&app, &raw, ApiRole::Support).await;
    assert_eq!(status, 403, "{problem}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_numbers_are_masked_before_anything_is_stored() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    payment(
        &pool,
        "webshop-lv",
        "lv-webshop",
        "ch_3PkEc1Kx2eZvKYlo0qR1s2T3",
        "emily.clark@yahoo.com",
        3500,
        "EUR",
    )
    .await;
    let (status, answer) = take(&app, &corpus("13_en_card_number.eml")).await;
    assert_eq!(status, 201, "{answer}");
    let stored: String = sqlx::query_scalar(
        "SELECT (SELECT string_agg(coalesce(subject,'') || coalesce(body_text,'') ||
                                   coalesce(reply_text,''), '') FROM inbound_emails)
             || (SELECT string_agg(facts::text, '') FROM refund_requests)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(stored.contains("**** **** **** 4444"), "{stored}");
    assert!(!stored.contains("5555-5555-5555-4444"));
    assert!(!stored.contains("5555 5555"));

    // Bytes that are no email are kept, card numbers masked, for a person.
    let junk = b"\x00\x01\x02 4111 1111 1111 1111 \xff\xfe";
    let (status, failed) = take(&app, junk).await;
    assert_eq!(status, 202, "{failed}");
    assert_eq!(failed["outcome"], "failed");
    assert!(
        failed["error"].as_str().unwrap().contains("no sender"),
        "{failed}"
    );
    // Sealed with the document keys: the column holds no readable bytes of the message.
    let inbound: Uuid = failed["inbound_id"].as_str().unwrap().parse().unwrap();
    let stored: Vec<u8> = sqlx::query_scalar(
        "SELECT sealed_raw FROM inbound_emails WHERE outcome = 'failed' AND id = $1",
    )
    .bind(inbound)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        !stored.windows(4).any(|w| w == b"1111"),
        "sealed, not in clear"
    );
    let mut conn = pool.acquire().await.unwrap();
    let raw = shared::inbound_emails::read_raw(
        &mut conn,
        &shared::documents::DocumentKeys::development(),
        inbound,
    )
    .await
    .unwrap()
    .expect("kept");
    drop(conn);
    assert!(!String::from_utf8_lossy(&raw).contains("4111 1111 1111 1111"));
    assert!(raw.ends_with(b"1111 \xff\xfe"));
    let (_, again) = take(&app, junk).await;
    assert_eq!(again["outcome"], "duplicate");
    assert_eq!(again["inbound_id"], failed["inbound_id"]);

    let (status, _) = take(&app, b"  \r\n").await;
    assert_eq!(status, 400);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machine_mail_opens_nothing_and_is_never_answered() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    for (file, kind) in [
        ("24_autoreply_auto_submitted.eml", "auto_reply"),
        ("25_autoreply_precedence_bulk.eml", "auto_reply"),
        ("26_bounce_mailer_daemon.eml", "bounce"),
        ("27_bounce_null_return_path.eml", "bounce"),
        ("28_list_newsletter.eml", "mailing_list"),
        ("29_list_precedence.eml", "mailing_list"),
    ] {
        let (status, answer) = take(&app, &corpus(file)).await;
        assert_eq!(status, 200, "{file}: {answer}");
        assert_eq!(answer["outcome"], "ignored", "{file}");
        assert_eq!(answer["kind"], kind, "{file}");
        assert_eq!(answer["request_id"], Value::Null, "{file}");
        assert_eq!(answer["reply_queued"], false, "{file}");
    }
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await,
        0
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM outbox").await, 0);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM inbound_emails WHERE outcome = 'ignored' AND reply_text IS NULL"
        )
        .await,
        6
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmatched_mail_waits_for_the_payment_and_a_reply_brings_it() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let sink = SmtpSink::start().await;
    let pipeline = Pipeline::start_with_notify(&app.db, &broker, &sink).await;

    // Latvian, names an order number no payment has.
    let (status, answer) = take(&app, &corpus("10_lv_ascii_unmatched.eml")).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["missing"], serde_json::json!(["payment_reference"]));
    assert_eq!(answer["reply_queued"], true);
    let id = answer["request_id"].as_str().unwrap().to_string();
    wait_for_state(&pool, &id, "needs_info").await;
    let r = request(&pool, &id).await;
    assert_eq!(r["payment_id"], Value::Null);
    assert_eq!(r["language"], "lv");
    assert_eq!(r["contact_email"], "liga.k@inbox.lv");
    assert_eq!(
        r["decision"]["missing"],
        serde_json::json!(["payment_reference"])
    );
    // The answer, in Latvian, asks for exactly that and carries the request tag.
    let (subject, text): (String, String) = sqlx::query_as(
        "SELECT reply_subject, reply_text FROM inbound_emails WHERE request_id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .unwrap();
    let tag = format!("RF-{}", id[id.len() - 8..].to_uppercase());
    assert!(subject.starts_with(&format!("[{tag}]")), "{subject}");
    assert!(text.contains("pasūtījuma numuru"), "{text}");
    assert!(
        !text.contains("kāpēc vēlaties"),
        "the reason was given: {text}"
    );
    // One answer queued: the inbound row names the notify message that sends it (the
    // message's outbox row is gone once the answer is sent).
    let replies: Vec<Uuid> = sqlx::query_scalar(
        "SELECT reply_message_id FROM inbound_emails
          WHERE request_id = $1::uuid AND reply_message_id IS NOT NULL",
    )
    .bind(&id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(replies.len(), 1, "{replies:?}");
    // The notify stage sends that answer, in reply to the customer's email; validation asked
    // for nothing more, so no second email asks for the payment reference again.
    assert!(
        eventually(Duration::from_secs(20), || async {
            !sink.delivered().is_empty()
        })
        .await,
        "the automatic answer was not sent"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let delivered = sink.delivered();
    assert_eq!(delivered.len(), 1, "one answer, not two");
    let (event, status): (String, String) =
        sqlx::query_as("SELECT event, status FROM notifications WHERE id = $1")
            .bind(replies[0])
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (event.as_str(), status.as_str()),
        ("intake_reply", "sent"),
        "the message the inbound row names is the one that sent the answer"
    );
    assert_eq!(delivered[0].rcpt_to, ["liga.k@inbox.lv"]);
    let sent = MessageParser::default().parse(&delivered[0].data).unwrap();
    assert_eq!(
        sent.message_id(),
        Some(format!("rf-{id}-intake_reply-1@refundd").as_str())
    );
    assert_eq!(sent.in_reply_to().as_text(), Some("lv10.lk@inbox.lv"));
    assert_eq!(sent.subject(), Some(subject.as_str()));
    assert_eq!(
        sent.header_raw("Content-Language").map(str::trim),
        Some("lv")
    );
    // RFC 3834: an answer to the customer's message, so responders and lists stay quiet.
    assert_eq!(
        sent.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-replied")
    );
    assert!(sent.body_text(0).unwrap().contains("pasūtījuma numuru"));
    let needs_info: Value = sqlx::query_scalar(
        "SELECT details FROM request_events WHERE request_id = $1::uuid AND to_state = 'needs_info'",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(needs_info["asked_by_intake_reply"], true);

    // The customer answers with the tag in the subject and the order number.
    payment(
        &pool,
        "webshop-lv",
        "lv-webshop",
        "LV-ORD-77120",
        "liga.k@inbox.lv",
        1999,
        "EUR",
    )
    .await;
    let reply = format!(
        "From: Liga Kalnina <liga.k@inbox.lv>\r\nTo: refunds@shop.example\r\n\
         Subject: Re: [{tag}] Atmaksas pieteikums\r\nMessage-ID: <lv10-reply@inbox.lv>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Labdien, pasutijuma numurs ir LV-ORD-77120.\r\nLiga Kalnina\r\n"
    );
    let (status, attached) = take(&app, reply.as_bytes()).await;
    assert_eq!(status, 200, "{attached}");
    assert_eq!(attached["outcome"], "attached");
    assert_eq!(attached["kind"], "reply");
    assert_eq!(attached["request_id"], id.as_str());
    assert_eq!(attached["request_state"], "validating");
    assert_eq!(attached["reply_queued"], false);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await,
        1
    );
    // Validated again, now with its payment: no longer waiting for the payment reference.
    let mut state = String::new();
    for _ in 0..100 {
        let r = request(&pool, &id).await;
        state = r["state"].as_str().unwrap().to_string();
        if state != "validating" && state != "received" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = request(&pool, &id).await;
    assert_ne!(r["payment_id"], Value::Null);
    assert_eq!(r["merchant"], "webshop-lv");
    assert!(
        !r["decision"]["missing"]
            .as_array()
            .is_some_and(|m| m.contains(&Value::from("payment_reference"))),
        "{state}: {r}"
    );
    let events: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT to_state, reason FROM request_events WHERE request_id = $1::uuid ORDER BY id",
    )
    .bind(&id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        events.iter().any(|(to, why)| to == "validating"
            && why.as_deref() == Some("the customer replied by email")),
        "{events:?}"
    );

    pipeline.stop().await;
    broker.cleanup().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_by_in_reply_to_brings_its_attachment_to_the_request() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let pipeline = Pipeline::start(&app.db, &broker).await;

    // An application without reason or order number.
    let (_, answer) = take(&app, &corpus("31_en_incomplete.eml")).await;
    assert_eq!(
        answer["missing"],
        serde_json::json!(["payment_reference", "reason", "customer_name"])
    );
    let id = answer["request_id"].as_str().unwrap().to_string();
    wait_for_state(&pool, &id, "needs_info").await;
    assert_eq!(
        request(&pool, &id).await["decision"]["missing"],
        serde_json::json!(["payment_reference", "reason"])
    );
    let sender: String =
        sqlx::query_scalar("SELECT contact_email FROM refund_requests WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();

    // The reply threads on our automatic answer and attaches a PDF named as a receipt.
    let reply = format!(
        "From: {sender}\r\nTo: refunds@shop.example\r\nSubject: Re: your email\r\n\
         Message-ID: <reply-31@example.com>\r\nIn-Reply-To: <rf-{id}-intake_reply-1@refundd>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         I want to cancel my order, I changed my mind. Receipt attached.\r\n\
         --b\r\nContent-Type: application/pdf; name=\"receipt.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"receipt.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IKJSVFT0YK\r\n--b--\r\n"
    );
    let (status, attached) = take(&app, reply.as_bytes()).await;
    assert_eq!(status, 200, "{attached}");
    assert_eq!(attached["outcome"], "attached");
    assert_eq!(attached["request_id"], id.as_str());
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await,
        1
    );
    let docs: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT kind, content_type FROM documents WHERE request_id = $1::uuid")
            .bind(&id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        docs,
        vec![(
            "payment_receipt".to_string(),
            Some("application/pdf".to_string())
        )]
    );
    // The reason it gave is kept; validation ran again and still wants the payment.
    wait_for_state(&pool, &id, "needs_info").await;
    let r = request(&pool, &id).await;
    assert_eq!(r["reason"], "withdrawal");
    assert_eq!(
        r["decision"]["missing"],
        serde_json::json!(["payment_reference"])
    );
    let needs_info: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM request_events WHERE request_id = $1::uuid AND to_state = 'needs_info'",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(needs_info, 2);

    pipeline.stop().await;
    broker.cleanup().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_to_one_sender_are_limited() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let mut queued = Vec::new();
    for n in 0..5 {
        let raw = format!(
            "From: Someone <someone@example.org>\r\nTo: refunds@shop.example\r\n\
             Subject: refund please\r\nMessage-ID: <limit-{n}@example.org>\r\n\r\n\
             I want my money back, I changed my mind. Attempt {n}.\r\n"
        );
        let (status, answer) = take(&app, raw.as_bytes()).await;
        assert_eq!(status, 201, "{answer}");
        queued.push(answer["reply_queued"].as_bool().unwrap());
    }
    // The default: three answers per sender per day; every email still becomes a request.
    assert_eq!(queued, [true, true, true, false, false]);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await,
        5
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM outbox WHERE payload->>'event' = 'intake_reply'"
        )
        .await,
        3
    );
    app.stop().await;
}

/// The emails delivered to the sink with `Message-ID`s of request `id`'s `event`.
fn sent_for(sink: &SmtpSink, id: &str, event: &str) -> Vec<String> {
    sink.delivered()
        .iter()
        .filter_map(|d| {
            let m = MessageParser::default().parse(&d.data)?;
            let mid = m.message_id()?.to_owned();
            mid.starts_with(&format!("rf-{id}-{event}-")).then_some(mid)
        })
        .collect()
}

/// An app order applied for by email: the policy must know whether the order was accepted,
/// so the customer is asked "yes or no". `reply` is what they answer, threaded on our question.
async fn asked_whether_the_order_was_accepted(
    reply: &str,
) -> (TestApp, TestBroker, Pipeline, SmtpSink, String) {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let sink = SmtpSink::start().await;
    let pipeline = Pipeline::start_with_notify(&app.db, &broker, &sink).await;
    payment(
        &pool,
        "app-studio",
        "by-app-studio",
        "WP-77120",
        "oleg@example.by",
        12_000,
        "BYN",
    )
    .await;
    let application = "From: Oleg Petrov <oleg@example.by>\r\nTo: refunds@app-studio.example\r\n\
         Subject: Возврат по заказу WP-77120\r\nMessage-ID: <oleg-1@example.by>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Здравствуйте! Передумал, прошу вернуть деньги за заказ WP-77120.\r\nОлег Петров\r\n";
    let (status, opened) = take(&app, application.as_bytes()).await;
    assert_eq!(status, 201, "{opened}");
    let id = opened["request_id"].as_str().unwrap().to_string();
    wait_for_state(&pool, &id, "needs_info").await;
    assert_eq!(
        request(&pool, &id).await["decision"]["missing"],
        serde_json::json!(["order_accepted"])
    );
    assert!(
        eventually(Duration::from_secs(20), || async {
            sent_for(&sink, &id, "needs_info").len() == 1
        })
        .await,
        "the question was not sent"
    );
    let question = format!("rf-{id}-needs_info-1@refundd");
    let raw = format!(
        "From: oleg@example.by\r\nTo: refunds@app-studio.example\r\n\
         Subject: Re: Ваше заявление\r\nMessage-ID: <oleg-2@example.by>\r\n\
         In-Reply-To: <{question}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         {reply}\r\n\r\nOn Mon, 20 Apr 2026 at 10:00, refundd <refunds@app-studio.example> wrote:\r\n\
         > был ли ваш заказ уже принят в работу (ответьте «да» или «нет»)\r\n"
    );
    let (status, attached) = take(&app, raw.as_bytes()).await;
    assert_eq!(status, 200, "{attached}");
    assert_eq!(attached["outcome"], "attached");
    (app, broker, pipeline, sink, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_answers_the_question_it_was_asked() {
    let (app, broker, pipeline, sink, id) =
        asked_whether_the_order_was_accepted("Нет, заказ не принят.").await;
    let pool = app.db.pool.clone();
    // The answer is a fact of the request, with the words and the email it came from.
    let r = request(&pool, &id).await;
    assert_eq!(r["facts"]["order_accepted"], false, "{r}");
    let understood: Value = sqlx::query_scalar(
        "SELECT details->'understood' FROM request_events
          WHERE request_id = $1::uuid AND from_state = 'needs_info' AND to_state = 'validating'",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(understood.as_array().unwrap().len(), 1, "{understood}");
    let answer = &understood[0];
    assert_eq!(answer["fact"], "order_accepted");
    assert_eq!(answer["value"], false);
    assert_eq!(answer["source"], "email");
    assert_eq!(answer["message_id"], "oleg-2@example.by");
    assert!(
        "Нет, заказ не принят.".contains(answer["words"].as_str().unwrap()),
        "the customer's own words: {answer}"
    );
    // Decided on it (before acceptance: the full amount), not asked again.
    assert!(
        eventually(Duration::from_secs(20), || async {
            let state = request(&pool, &id).await["state"].clone();
            state != "needs_info" && state != "validating" && state != "received"
        })
        .await
    );
    let r = request(&pool, &id).await;
    assert_ne!(r["state"], "manual_review", "{r}");
    assert_eq!(r["decision"]["rule"], "before_acceptance", "{r}");
    assert_eq!(r["amount_minor"], 12_000);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sent_for(&sink, &id, "needs_info").len(), 1, "asked once");

    pipeline.stop().await;
    broker.cleanup().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_answers_nothing_goes_to_a_person_not_the_same_question_again() {
    let (app, broker, pipeline, sink, id) =
        asked_whether_the_order_was_accepted("А почему вы спрашиваете? Я же всё написал.").await;
    let pool = app.db.pool.clone();
    wait_for_state(&pool, &id, "manual_review").await;
    let r = request(&pool, &id).await;
    assert_eq!(r["facts"].get("order_accepted"), None, "{r}");
    assert_eq!(
        r["decision"]["missing"],
        serde_json::json!(["order_accepted"])
    );
    assert!(
        r["due_on"].is_string(),
        "a person's request is due too: {r}"
    );
    let why: String = sqlx::query_scalar(
        "SELECT reason FROM request_events WHERE request_id = $1::uuid
            AND to_state = 'manual_review'",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(why.contains("a person reads it"), "{why}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        sent_for(&sink, &id, "needs_info").len(),
        1,
        "never the same question twice in a row"
    );

    pipeline.stop().await;
    broker.cleanup().await;
    app.stop().await;
}
