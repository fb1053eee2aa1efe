//! Issue #20's end-to-end acceptance: a kz-goods-store customer emails the refund
//! application and a photo of their passport (a made-up one, drawn by `specimens`), and the
//! request reaches `refunded` with no person involved: the validate stage reads the
//! passport's machine-readable zone, checks it against the payer and the received date, and
//! the history says "read from the scan" with the masked number. A passport whose check
//! digit is wrong is read but never accepted: the request waits, with what was read kept
//! for a person.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::NaiveDate;
use serde_json::Value;
use shared::api_keys::ApiRole;
use shared::gateway::ConfiguredGateway;
use shared::gateway::sandbox::server::Faults;
use shared::gateway::sandbox::{CardStatus, SandboxGateway};
use shared::money::{Currency, Money};
use specimens::{Country, Document, Fonts, Kind, Person, draw, page_without_mrz, pdf_of_jpeg};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use e2e::smtp_sink::SmtpSink;
use e2e::{Pipeline, TestApp, TestBroker, wait_for_state};

const PAYER: &str = "aigerim.s@mail.kz";

/// 18,990 KZT paid three days ago at the goods store, by card, by SEITKALI AIGERIM.
async fn goods_payment(pool: &PgPool, txn: &str) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO payments (id, merchant, policy_id, gateway, gateway_txn_id, amount_minor,
                               currency, paid_at, customer_email, customer_language, card_brand,
                               card_last4, cardholder_name)
         VALUES ($1, 'goods-kz', 'kz-goods-store', 'sandbox', $2, 1899000, 'KZT',
                 now() - interval '3 days', $3, 'kk', 'visa', '4242', 'SEITKALI AIGERIM')",
    )
    .bind(id)
    .bind(txn)
    .bind(PAYER)
    .execute(pool)
    .await
    .unwrap();
    id
}

/// The payer's passport (valid, or with one check digit wrong), photographed.
fn passport(valid: bool, seed: u64) -> (Document, Vec<u8>) {
    let fonts = Fonts::load();
    let mut rng = fastrand::Rng::with_seed(seed);
    let holder = Person {
        surname: "SEITKALI".into(),
        given_names: "AIGERIM".into(),
        sex: 'F',
        birth_date: NaiveDate::from_ymd_opt(1990, 5, 15).unwrap(),
    };
    let expiry = NaiveDate::from_ymd_opt(2031, 5, 14).unwrap();
    let doc = Document::new(&mut rng, Country::Kz, Kind::Td3, holder, expiry, valid);
    let photo = draw(&mut rng, &fonts, doc);
    (photo.document, photo.jpeg)
}

/// The customer's email (Kazakh: "I paid 18 990 tg on the 3rd but have not received the
/// goods yet; please refund"), with the application as a PDF and the passport photo.
fn email(message_id: &str, passport_jpeg: &[u8]) -> Vec<u8> {
    let application = pdf_of_jpeg(&page_without_mrz(&Fonts::load()));
    let wrap = |bytes: &[u8]| {
        BASE64
            .encode(bytes)
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    format!(
        "From: =?utf-8?B?{name}?= <{PAYER}>\r\nTo: refunds@shop.example\r\n\
         Subject: =?utf-8?B?{subject}?=\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{text}\r\n\
         --b1\r\nContent-Type: application/pdf; name=\"refund application.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"refund application.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{application}\r\n\
         --b1\r\nContent-Type: image/jpeg; name=\"passport.jpg\"\r\n\
         Content-Disposition: attachment; filename=\"passport.jpg\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{passport}\r\n--b1--\r\n",
        name = BASE64.encode("Айгерим Сейткали"),
        subject = BASE64.encode("Тауар жеткізілмеді"),
        text = wrap(
            "Сәлеметсіз бе.\r\n\r\nНаурыздың 3-інде 18 990 тг төледім, бірақ тауарды әлі алмадым.\r\n\
             Ақшаны қайтаруыңызды сұраймын. Өтініш пен паспортымның көшірмесі қоса беріліп отыр.\r\n\
             Айгерим Сейткали\r\n"
                .as_bytes()
        ),
        application = wrap(&application),
        passport = wrap(passport_jpeg),
    )
    .into_bytes()
}

async fn take(app: &TestApp, raw: &[u8]) -> Value {
    let r = reqwest::Client::new()
        .post(app.url("/v1/intake/email"))
        .bearer_auth(app.key(ApiRole::Intake))
        .header("content-type", "message/rfc822")
        .body(raw.to_vec())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

async fn events(pool: &PgPool, id: &str) -> Vec<(String, String, Option<String>, Value)> {
    sqlx::query_as(
        "SELECT actor, to_state, reason, details FROM request_events
          WHERE request_id = $1::uuid ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The details of the history's `read from the scan` events.
fn reads_from_the_scan(history: &[(String, String, Option<String>, Value)]) -> Vec<&Value> {
    history
        .iter()
        .filter(|(_, _, reason, _)| reason.as_deref() == Some("read from the scan"))
        .map(|(_, _, _, d)| d)
        .collect()
}

/// The emailed `passport.jpg`: its kind, fields and validation as stored.
async fn passport_document(pool: &PgPool, id: &str) -> (String, Value, Value) {
    sqlx::query_as(
        "SELECT kind, fields, validation FROM documents
          WHERE request_id = $1::uuid AND fields->>'filename' = 'passport.jpg'",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emailed_passport_photo_is_read_and_the_refund_completes_with_no_person() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let sink = SmtpSink::start().await;
    let shutdown = CancellationToken::new();
    let gateway_url = e2e::sandbox_gateway(Faults::default(), &shutdown).await;
    let txn = "cp-2026-3301";
    let ledger = SandboxGateway::at(&gateway_url, Duration::from_secs(5)).unwrap();
    ledger
        .register_payment(
            txn,
            Money::from_minor(1_899_000, Currency::KZT),
            CardStatus::Active,
        )
        .await
        .unwrap();
    let pipeline = Pipeline::start_with_notify(&app.db, &broker, &sink).await;
    let gateways = HashMap::from([(
        "goods-kz".to_string(),
        ConfiguredGateway::Sandbox(
            SandboxGateway::at(&gateway_url, Duration::from_secs(2)).unwrap(),
        ),
    )]);
    let payout = e2e::payout_worker(&broker, &pool, gateways, &shutdown);
    goods_payment(&pool, txn).await;
    let (document, jpeg) = passport(true, 11);

    let taken = take(&app, &email("kk-scan-1@mail.kz", &jpeg)).await;
    assert_eq!(taken["outcome"], "created", "{taken}");
    let id = taken["request_id"].as_str().unwrap().to_string();

    wait_for_state(&pool, &id, "refunded").await;
    let book = ledger.ledger(Some(txn)).await.unwrap();
    assert_eq!(book.transactions[0].refunded, "18990.00");

    // No person: every event is the intake's or a worker's, and the request never waited.
    let history = events(&pool, &id).await;
    for (actor, to, _, _) in &history {
        assert!(
            !actor.starts_with("api")
                && !actor.contains("support")
                && !actor.contains("supervisor"),
            "{actor} acted: {history:?}"
        );
        assert!(
            !["needs_info", "manual_review", "awaiting_confirmation"].contains(&to.as_str()),
            "{history:?}"
        );
    }
    // The history says the passport was read, with the number masked.
    let read = reads_from_the_scan(&history);
    assert_eq!(read.len(), 1, "{history:?}");
    assert_eq!(read[0]["valid"], true);
    assert_eq!(read[0]["format"], "TD3");
    let masked = read[0]["document_number"].as_str().unwrap();
    assert_eq!(
        masked,
        shared::identity::mask_document_number(&document.number)
    );
    assert_ne!(masked, document.number);
    let all = serde_json::to_string(&history).unwrap();
    assert!(
        !all.contains(&document.number),
        "the full number is in the history"
    );

    // The attachment became a valid identity document whose fields came from the scan.
    let (kind, fields, validation) = passport_document(&pool, &id).await;
    assert_eq!(kind, "identity_document");
    assert_eq!(validation["valid"], true, "{validation}");
    assert_eq!(validation["scan"], "read");
    assert_eq!(fields["read_from_scan"], true);
    assert_eq!(fields["holder_name"], "AIGERIM SEITKALI");
    assert_eq!(fields["document_number"], masked);
    assert!(!fields.to_string().contains(&document.number));

    shutdown.cancel();
    pipeline.stop().await;
    payout.await.unwrap();
    broker.cleanup().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passport_with_a_wrong_check_digit_is_read_but_never_accepted() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let pipeline = Pipeline::start(&app.db, &broker).await;
    goods_payment(&pool, "cp-2026-3302").await;
    let (document, jpeg) = passport(false, 12);
    assert!(!document.valid);

    let taken = take(&app, &email("kk-scan-2@mail.kz", &jpeg)).await;
    let id = taken["request_id"].as_str().unwrap().to_string();
    wait_for_state(&pool, &id, "needs_info").await;

    let history = events(&pool, &id).await;
    let read = reads_from_the_scan(&history);
    assert_eq!(read.len(), 1, "{history:?}");
    assert_eq!(read[0]["valid"], false);
    assert!(
        read[0]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "mrz_check_digit"),
        "{history:?}"
    );
    let (kind, _, validation) = passport_document(&pool, &id).await;
    assert_eq!(
        kind, "email_attachment",
        "not taken as an identity document"
    );
    // What was read waits for a person, the number masked.
    let suggestion = &validation["suggestion"];
    assert_eq!(suggestion["surname"], "SEITKALI", "{validation}");
    assert_eq!(
        suggestion["document_number"],
        shared::identity::mask_document_number(&document.number)
    );
    let state: Value =
        sqlx::query_scalar("SELECT decision FROM refund_requests WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(state.to_string().contains("identity_document"), "{state}");
    pipeline.stop().await;
    broker.cleanup().await;
    app.stop().await;
}

/// Support uploads the photo with no fields typed: the validate stage reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_document_uploaded_without_fields_is_read_by_the_validate_stage() {
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let pipeline = Pipeline::start(&app.db, &broker).await;
    let payment = goods_payment(&pool, "cp-2026-3303").await;
    let client = reqwest::Client::new();
    let accepted: Value = client
        .post(app.url("/v1/refund-requests"))
        .bearer_auth(app.key(ApiRole::Support))
        .json(&serde_json::json!({
            "payment": {"id": payment},
            "reason": "not_delivered",
            "facts": {"proof_of_purchase": true}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = accepted["id"].as_str().expect("created").to_string();
    wait_for_state(&pool, &id, "needs_info").await;
    let upload = |kind: &'static str, name: &'static str, bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new().text("kind", kind).part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name),
        );
        client
            .post(app.url(&format!("/v1/refund-requests/{id}/documents")))
            .bearer_auth(app.key(ApiRole::Support))
            .multipart(form)
            .send()
    };
    let r = upload(
        "refund_application",
        "application.pdf",
        pdf_of_jpeg(&page_without_mrz(&Fonts::load())),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let (document, jpeg) = passport(true, 13);
    let r = upload("identity_document", "passport.jpg", jpeg)
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let accepted: Value = r.json().await.unwrap();
    assert_eq!(
        accepted["valid"], false,
        "nothing is verified before it is read: {accepted}"
    );

    wait_for_state(&pool, &id, "approved").await;
    let (fields, validation): (Value, Value) = sqlx::query_as(
        "SELECT fields, validation FROM documents
          WHERE request_id = $1::uuid AND kind = 'identity_document'",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(validation["valid"], true, "{validation}");
    assert_eq!(fields["read_from_scan"], true);
    assert_eq!(
        fields["document_number"],
        shared::identity::mask_document_number(&document.number)
    );
    pipeline.stop().await;
    broker.cleanup().await;
    app.stop().await;
}
