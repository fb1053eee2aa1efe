//! Gateway notifications in (`POST /v1/gateway-notifications/{gateway}/{merchant}`): signed
//! with the merchant's secret as each gateway documents it (see
//! `shared::gateway_notifications` for the sources), applied once, and a refund the gateway
//! later reports failed moves the request back to `payout_failed` with the customer told.
//! A bad signature answers 401 and stores nothing.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use shared::gateway::Secret;
use shared::merchants::{DEMO_MERCHANTS, GatewayKind, Merchants};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use workers::api::gateway_notifications::NotificationSecrets;

use super::lost_answers::{LOST, approved, build, deliver, state_of};

const SECRET: &str = "notification-secret";

/// The test API with merchant `byskills` on `kind` and its notification secret set.
async fn app_for(kind: &str) -> e2e::TestApp {
    let toml = DEMO_MERCHANTS.replacen(
        "gateway = { kind = \"sandbox\" }          # real: the bank's card acquiring (WEBPAY-compatible)",
        &format!("gateway = {{ kind = \"{kind}\", credentials_env = \"BYSKILLS_GW\", base_url = \"https://gateway.invalid/WSBApi\" }}"),
        1,
    );
    assert_ne!(toml, DEMO_MERCHANTS);
    let merchants = Merchants::from_toml(&toml, "test").unwrap();
    e2e::TestApp::spawn_with(move |ctx| {
        ctx.merchants = std::sync::Arc::new(merchants);
        ctx.notification_secrets = NotificationSecrets::new(HashMap::from([(
            "byskills".to_string(),
            Secret::new(SECRET),
        )]));
    })
    .await
}

async fn send(
    app: &e2e::TestApp,
    gateway: &str,
    headers: &[(&str, String)],
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(app.url(&format!("/v1/gateway-notifications/{gateway}/byskills")))
        .header("Content-Type", content_type)
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn hmac_base64(message: &str, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

async fn stored(pool: &sqlx::PgPool) -> Vec<(String, String)> {
    sqlx::query_as("SELECT event_id, effect FROM gateway_notifications ORDER BY received_at")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn events_to(pool: &sqlx::PgPool, id: Uuid, state: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM request_events
          WHERE request_id = $1 AND to_state = $2 AND from_state IS DISTINCT FROM to_state",
    )
    .bind(id)
    .bind(state)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A CloudPayments Refund notification (developers.cloudpayments.ru `#refund`: the parameter
/// table; form-encoded, the cabinet's default) settles an attempt whose answer was lost.
#[tokio::test]
async fn cloudpayments_a_refund_notification_settles_a_lost_answer_once_and_a_bad_hmac_changes_nothing()
 {
    let app = app_for("cloudpayments").await;
    let pool = &app.db.pool;
    let id = approved(pool, "cloudpayments", "455").await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(LOST * 3))
        .mount(&server)
        .await;
    // The answer is lost and, an hour later, cannot be recovered by the request id.
    assert_eq!(
        deliver(build(GatewayKind::Cloudpayments, server.uri()), pool, id, 1).await,
        "payout_pending"
    );
    let body = format!(
        "TransactionId=568&PaymentTransactionId=455&Amount=60.00&DateTime=2026-12-03%2012%3A00%3A00&OperationType=Refund&InvoiceId=ORD-1&Data=%7B%22refund_key%22%3A%22rf-{id}-1%22%7D&Email=payer%40example.by"
    );
    let form = "application/x-www-form-urlencoded";
    // No signature, a forged one: 401, nothing stored, nothing moved.
    let (status, problem) = send(&app, "cloudpayments", &[], form, &body).await;
    assert_eq!(status, 401, "{problem}");
    let forged = hmac_base64(&body, "not-the-secret");
    let (status, problem) = send(
        &app,
        "cloudpayments",
        &[("Content-HMAC", forged)],
        form,
        &body,
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was changed"),
        "{problem}"
    );
    assert!(stored(pool).await.is_empty());
    assert_eq!(state_of(pool, id).await, "payout_pending");

    let signed = [("Content-HMAC", hmac_base64(&body, SECRET))];
    let (status, answer) = send(&app, "cloudpayments", &signed, form, &body).await;
    assert_eq!((status, answer), (200, json!({"code": 0})));
    assert_eq!(state_of(pool, id).await, "refunded");
    let reference: Option<String> =
        sqlx::query_scalar("SELECT gateway_ref FROM payout_attempts WHERE request_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(reference.as_deref(), Some("568"));
    // Delivered again: answered the same, applied once.
    let (status, answer) = send(&app, "cloudpayments", &signed, form, &body).await;
    assert_eq!((status, answer), (200, json!({"code": 0})));
    assert_eq!(events_to(pool, id, "refunded").await, 1);
    let kept = stored(pool).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].0, "Refund:568");
    // The payer's email in the notification is not kept.
    let payload: String = sqlx::query_scalar("SELECT payload::text FROM gateway_notifications")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(!payload.contains("payer@example.by"), "{payload}");
    app.stop().await;
}

fn stripe_signature(body: &str, secret: &str, at: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{at}.{body}").as_bytes());
    format!("t={at},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A Stripe `refund.failed` event (stripe-go `refund.go` Refund object; the signature scheme
/// of stripe-go `webhook/client.go`) for a refund booked earlier.
#[tokio::test]
async fn stripe_a_booked_refund_reported_failed_goes_back_to_a_person_and_the_customer_is_told() {
    let app = app_for("stripe").await;
    let pool = &app.db.pool;
    let id = approved(pool, "stripe", "ch_3Nfail").await;
    let server = MockServer::start().await;
    Mock::given(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "re_3Nfail", "object": "refund", "amount": 6000, "status": "succeeded",
            "charge": "ch_3Nfail", "metadata": {"idempotency_key": format!("rf-{id}-1")}
        })))
        .mount(&server)
        .await;
    assert_eq!(
        deliver(build(GatewayKind::Stripe, server.uri()), pool, id, 1).await,
        "refunded"
    );

    let event = json!({
        "id": "evt_1Nfail", "object": "event", "type": "refund.failed",
        "data": {"object": {"id": "re_3Nfail", "object": "refund", "amount": 6000,
                            "charge": "ch_3Nfail", "status": "failed",
                            "failure_reason": "expired_or_canceled_card",
                            "metadata": {"idempotency_key": format!("rf-{id}-1")}}}
    })
    .to_string();
    let now = chrono::Utc::now().timestamp();
    let json_type = "application/json";
    for header in [
        stripe_signature(&event, "whsec_other", now),
        stripe_signature(&event, SECRET, now - 301),
        "t=abc,v1=00".to_string(),
    ] {
        let (status, _) = send(
            &app,
            "stripe",
            &[("Stripe-Signature", header)],
            json_type,
            &event,
        )
        .await;
        assert_eq!(status, 401);
    }
    assert!(stored(pool).await.is_empty());
    assert_eq!(state_of(pool, id).await, "refunded");

    let signed = [("Stripe-Signature", stripe_signature(&event, SECRET, now))];
    let (status, answer) = send(&app, "stripe", &signed, json_type, &event).await;
    assert_eq!((status, answer), (200, json!({"received": true})));
    assert_eq!(state_of(pool, id).await, "payout_failed");
    // The emails queued: as notify messages, or as rows the moves wrote, due.
    let told: Vec<String> = sqlx::query_scalar(
        "SELECT event FROM (
             SELECT payload->>'event' AS event, created_at AS at FROM outbox
              WHERE routing_key = 'request.notify' AND payload->>'request_id' = $1::text
             UNION ALL
             SELECT event, due_at FROM notifications WHERE request_id = $1 AND due_at IS NOT NULL
         ) e ORDER BY at",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        told.last().map(String::as_str),
        Some("refund_reversed"),
        "{told:?}"
    );
    assert!(
        !told.contains(&"payout_delayed".to_string()),
        "one email, the true one: {told:?}"
    );
    // The notify stage writes it as the customer reads it: the truth, in their language.
    sqlx::query(
        "UPDATE refund_requests SET contact_email = 'ivan@example.by', language = 'ru' WHERE id = $1",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
    let payload: Value = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE routing_key = 'request.notify' AND payload->>'event' = 'refund_reversed'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let sink = e2e::smtp_sink::SmtpSink::start().await;
    let notify = e2e::notify_worker(&app.db, sink.mailer());
    shared::broker::consumer::Handler::handle(&notify, serde_json::from_value(payload).unwrap())
        .await
        .unwrap();
    let sent = sink.delivered();
    assert_eq!(
        sent.len(),
        1,
        "{:?}",
        sent.iter()
            .map(|d| (
                d.rcpt_to.clone(),
                String::from_utf8_lossy(&d.data).into_owned()
            ))
            .collect::<Vec<_>>()
    );
    assert_eq!(sent[0].rcpt_to, ["ivan@example.by"]);
    let email = mail_parser::MessageParser::default()
        .parse(&sent[0].data)
        .unwrap();
    let subject = email.subject().unwrap_or_default();
    assert!(subject.contains("возврат не прошёл"), "{subject}");
    let body = email.body_text(0).unwrap_or_default();
    assert!(
        body.contains("платёжная система сообщила, что он не прошёл"),
        "{body}"
    );
    let (status, reason): (String, Option<String>) =
        sqlx::query_as("SELECT status, decline_reason FROM payout_attempts WHERE request_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(status, "declined");
    assert!(reason.unwrap().contains("expired_or_canceled_card"));
    let ended: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT ended_at FROM refund_requests WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(ended.is_none(), "the request is open again");
    // Replayed: applied once.
    let (status, _) = send(&app, "stripe", &signed, json_type, &event).await;
    assert_eq!(status, 200);
    assert_eq!(events_to(pool, id, "payout_failed").await, 1);

    // An event about a refund that is not ours is kept, for reconciliation.
    let foreign = event
        .replace("re_3Nfail", "re_other")
        .replace("evt_1Nfail", "evt_2")
        .replace(&format!("rf-{id}-1"), "someone-else");
    let signed = [("Stripe-Signature", stripe_signature(&foreign, SECRET, now))];
    let (status, _) = send(&app, "stripe", &signed, json_type, &foreign).await;
    assert_eq!(status, 200);
    let kept = stored(pool).await;
    assert_eq!(
        kept[1],
        (
            "evt_2".to_string(),
            "no matching refund of ours".to_string()
        )
    );
    app.stop().await;
}

/// A WEBPAY transaction notification (docs.webpay.by "Payment notification" fields;
/// `payment_type` 11 = Refunded, "Transaction types") for a refund whose answer was lost:
/// matched by the order number and amount.
#[tokio::test]
async fn webpay_a_refunded_notification_settles_the_attempt_of_its_order() {
    use md5::{Digest, Md5};
    let app = app_for("webpay").await;
    let pool = &app.db.pool;
    let id = approved(pool, "webpay", "956424424").await;
    sqlx::query(
        "INSERT INTO payout_attempts (id, request_id, payment_id, idempotency_key, gateway, amount_minor, currency, status)
         SELECT $1, r.id, r.payment_id, 'rf-' || r.id || '-1', 'webpay', 6000, 'BYN', 'unknown' FROM refund_requests r WHERE r.id = $2",
    )
    .bind(Uuid::now_v7())
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("UPDATE refund_requests SET state = 'payout_pending' WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    let fields = [
        ("batch_timestamp", "1764763200"),
        ("currency_id", "BYN"),
        ("amount", "60.00"),
        ("payment_method", "cc"),
        ("order_id", "7710"),
        ("site_order_id", "ORD-1"),
        ("transaction_id", "956424450"),
        ("payment_type", "11"),
        ("rrn", "533412345678"),
    ];
    let signed: String = fields.iter().map(|(_, v)| *v).collect::<String>() + SECRET;
    let signature = hex::encode(Md5::digest(signed.as_bytes()));
    let form = |signature: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .append_pair("wsb_signature", signature)
            .finish()
    };
    let content = "application/x-www-form-urlencoded";
    let (status, _) = send(&app, "webpay", &[], content, &form(&"0".repeat(32))).await;
    assert_eq!(status, 401);
    let (status, answer) = send(&app, "webpay", &[], content, &form(&signature)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(state_of(pool, id).await, "refunded");
    let reference: Option<String> =
        sqlx::query_scalar("SELECT gateway_ref FROM payout_attempts WHERE request_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(reference.as_deref(), Some("956424450"));
    app.stop().await;
}

#[tokio::test]
async fn notifications_for_robokassa_or_another_merchants_gateway_are_not_taken() {
    let app = app_for("stripe").await;
    let (status, problem) = send(&app, "robokassa", &[], "application/json", "{}").await;
    assert_eq!(status, 404);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Robokassa publishes no refund notifications")
    );
    // byskills refunds through Stripe, not CloudPayments.
    let (status, _) = send(&app, "cloudpayments", &[], "application/json", "{}").await;
    assert_eq!(status, 404);
    app.stop().await;
}
