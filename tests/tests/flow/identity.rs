//! Seed 003 demands a copy of an identity document: without one the request waits; an
//! expired one keeps it waiting with `document_expired`; a valid one moves it on.

use std::time::Duration;

use chrono::{Duration as Days, Utc};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use shared::api_keys::ApiRole;
use shared::identity::mrz::check_digit;

use e2e::{Pipeline, TestApp, TestBroker, wait_for_state};

fn digit(s: &str) -> char {
    char::from(b'0' + check_digit(s).unwrap())
}

/// A Kazakh passport's MRZ (TD3) for SEITKALI AIGERIM expiring on `expiry` (YYMMDD).
fn passport_mrz(expiry: &str) -> String {
    let line1 = format!("{:<<44}", "P<KAZSEITKALI<<AIGERIM");
    let number = "N12345678";
    let birth = "900515";
    let optional = "<<<<<<<<<<<<<<";
    let part1 = format!("{number}{}", digit(number));
    let part2 = format!("{birth}{}", digit(birth));
    let part3 = format!("{expiry}{}", digit(expiry));
    let part4 = format!("{optional}{}", digit(optional));
    let composite = digit(&format!("{part1}{part2}{part3}{part4}"));
    let line2 = format!("{part1}KAZ{part2}F{part3}{part4}{composite}");
    assert_eq!(line2.len(), 44);
    format!("{line1}\n{line2}")
}

async fn upload(app: &TestApp, id: &str, kind: &str, fields: Value) -> Value {
    let form = Form::new()
        .text("kind", kind.to_string())
        .text("fields", fields.to_string())
        .part(
            "file",
            Part::bytes(e2e::scan_png())
                .file_name("scan.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let r = reqwest::Client::new()
        .post(app.url(&format!("/v1/refund-requests/{id}/documents")))
        .bearer_auth(app.key(ApiRole::Support))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

async fn get(app: &TestApp, id: &str) -> Value {
    reqwest::Client::new()
        .get(app.url(&format!("/v1/refund-requests/{id}")))
        .bearer_auth(app.key(ApiRole::Support))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_goods_store_refund_waits_for_a_valid_identity_document() {
    let app = TestApp::spawn().await;
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let pipeline = Pipeline::start(&app.db, &broker).await;
    let client = reqwest::Client::new();

    let paid_at = (Utc::now() - Days::days(5)).to_rfc3339();
    let payment: Value = client
        .post(app.url("/v1/payments"))
        .bearer_auth(app.key(ApiRole::Intake))
        .json(&json!({
            "merchant": "goods-kz", "policy": "kz-goods-store", "gateway": "sandbox",
            "gateway_transaction_id": "cp-100", "amount": "25990.00", "currency": "KZT",
            "paid_at": paid_at, "card": {"brand": "mastercard", "last4": "5100"},
            "cardholder_name": "SEITKALI AIGERIM",
            "customer": {"email": "aigerim@example.kz", "language": "kk"}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let received = (Utc::now() - Days::days(2)).date_naive().to_string();
    let accepted: Value = client
        .post(app.url("/v1/refund-requests"))
        .bearer_auth(app.key(ApiRole::Support))
        .json(&json!({
            "payment": {"id": payment["id"]},
            "reason": "withdrawal",
            "facts": {"goods_received_at": received, "goods_intact": true, "proof_of_purchase": true}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = accepted["id"].as_str().unwrap().to_string();

    wait_for_state(&app.db.pool, &id, "needs_info").await;
    let before = get(&app, &id).await;
    let missing: Vec<&str> = before["decision"]["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(missing.contains(&"identity_document"), "{missing:?}");
    assert!(missing.contains(&"refund_application"), "{missing:?}");
    assert!(
        !missing.contains(&"identity_document_verified"),
        "{missing:?}"
    );

    // The application form, and a passport that expired last year.
    upload(&app, &id, "refund_application", json!({})).await;
    wait_for_state(&app.db.pool, &id, "needs_info").await;
    let expired = upload(
        &app,
        &id,
        "identity_document",
        json!({"mrz": passport_mrz("250101"), "country": "KZ"}),
    )
    .await;
    assert_eq!(expired["valid"], false);
    assert!(
        expired["problems"].to_string().contains("document_expired"),
        "{expired}"
    );
    // It is validated again and stays waiting, naming the problem.
    tokio::time::sleep(Duration::from_millis(300)).await;
    wait_for_state(&app.db.pool, &id, "needs_info").await;
    let waiting = get(&app, &id).await;
    assert!(
        waiting["decision"]["problems"]
            .to_string()
            .contains("document_expired"),
        "{}",
        waiting["decision"]
    );
    assert_eq!(waiting["decision"]["missing"], json!(["identity_document"]));

    // A valid passport moves it on: approved, full amount; nothing else changed.
    let valid = upload(
        &app,
        &id,
        "identity_document",
        json!({"mrz": passport_mrz("340101"), "country": "KZ", "holder_name": "Сейткали Айгерим"}),
    )
    .await;
    assert_eq!(valid["valid"], true, "{valid}");
    wait_for_state(&app.db.pool, &id, "approved").await;
    let after = get(&app, &id).await;
    assert_eq!(after["amount"], "25990.00");
    assert_eq!(after["facts"], before["facts"]);
    assert_eq!(after["payment_id"], before["payment_id"]);
    assert_eq!(after["received_at"], before["received_at"]);
    assert_eq!(after["decision"]["policy"], "kz-goods-store");
    assert!(after["due_on"].is_string());
    let stored: Vec<(String, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT kind, ciphertext FROM documents WHERE request_id = $1::uuid")
            .bind(&id)
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(stored.len(), 3);
    for (_, sealed) in stored {
        let sealed = sealed.unwrap();
        assert!(!sealed.windows(4).any(|w| w == b"IHDR"), "stored encrypted");
    }
    let numbers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM documents WHERE fields::text LIKE '%N12345678%'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(numbers, 0, "document numbers are not stored in clear");

    pipeline.stop().await;
    broker.cleanup().await;
    app.stop().await;
}
