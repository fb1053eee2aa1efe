//! Lost answers at each outside gateway, through the payout stage itself: the gateway (a
//! wiremock stand-in keeping its own ledger, speaking the published protocol as the adapter
//! tests' fixtures do, see `shared/tests/gateway_adapters.rs` for each source) books or does
//! not book the refund, and its answer is lost (a timeout) or is a finished 500. Each
//! delivery of the payout message is one `handle` call, as a redelivery would be. The ledger
//! never holds two refunds, and the refund never stays unknown when the gateway can tell us.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::broker::consumer::Handler;
use shared::gateway::{self, ConfiguredGateway};
use shared::lifecycle::RequestState;
use shared::merchants::{GatewayConfig, GatewayKind};
use shared::messages::{Stage, WorkMessage};
use sqlx::PgPool;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use e2e::TestDb;

pub(super) const CLIENT_TIMEOUT: Duration = Duration::from_millis(300);
/// Longer than the client waits: the answer is lost.
pub(super) const LOST: Duration = Duration::from_millis(900);

/// What the stand-in gateway booked: (its refund id, the key it was sent under, amount text).
type Ledger = Arc<Mutex<Vec<(String, String, String)>>>;

fn env(name: &str) -> Option<String> {
    Some(
        match name {
            "GW_STORE_ID" => "5500",
            "GW_LOGIN" => "shop",
            "GW_PASSWORD" => "secret",
            "GW_PUBLIC_ID" => "pk_test",
            "GW_API_SECRET" => "cp-secret",
            "GW_SECRET_KEY" => "sk_test",
            "GW_PASSWORD3" => "pw3",
            _ => return None,
        }
        .to_string(),
    )
}

pub(super) fn build(kind: GatewayKind, base_url: String) -> ConfiguredGateway {
    gateway::build_with_timeout(
        &GatewayConfig {
            base_url: Some(base_url),
            credentials_env: Some("GW".into()),
            ..GatewayConfig::new(kind)
        },
        &env,
        CLIENT_TIMEOUT,
    )
    .unwrap()
}

/// An approved request of 60.00 BYN on a payment of 100.00 captured at `gateway` as `txn`,
/// order number ORD-1.
pub(super) async fn approved(pool: &PgPool, gateway: &str, txn: &str) -> Uuid {
    let payment = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO payments (id, merchant, policy_id, gateway, gateway_txn_id, amount_minor, currency,
                               paid_at, order_number)
         VALUES ($1, 'byskills', 'by-online-courses', $2, $3, 10000, 'BYN', now() - interval '2 days', 'ORD-1')",
    )
    .bind(payment)
    .bind(gateway)
    .bind(txn)
    .execute(pool)
    .await
    .unwrap();
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO refund_requests (id, payment_id, merchant, state, channel, reason, received_at,
                                      amount_minor, currency, policy_id)
         VALUES ($1, $2, 'byskills', 'approved', 'api', 'withdrawal', now(), 6000, 'BYN', 'by-online-courses')",
    )
    .bind(id)
    .bind(payment)
    .execute(pool)
    .await
    .unwrap();
    id
}

pub(super) async fn state_of(pool: &PgPool, id: Uuid) -> String {
    sqlx::query_scalar("SELECT state FROM refund_requests WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Delivers the request's payout message up to `deliveries` times, stopping once it is
/// refunded; returns the final state.
pub(super) async fn deliver(
    gateway: ConfiguredGateway,
    pool: &PgPool,
    id: Uuid,
    deliveries: usize,
) -> String {
    let payout = workers::roles::payout::Payout::new(
        pool.clone(),
        HashMap::from([("byskills".to_string(), gateway)]),
    );
    for _ in 0..deliveries {
        let _ = payout.handle(WorkMessage::new(Stage::Payout, id)).await;
        if state_of(pool, id).await == RequestState::Refunded.as_str() {
            break;
        }
    }
    state_of(pool, id).await
}

pub(super) fn header(request: &Request, name: &str) -> String {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn body(request: &Request) -> String {
    String::from_utf8_lossy(&request.body).into_owned()
}

// --- Stripe: docs.stripe.com/api/idempotent_requests replays "the status code and body of
// the first request ... including 500 errors" for the same Idempotency-Key; refunds are
// listed by charge with their metadata (stripe-go refund.go).

struct StripeRefunds {
    ledger: Ledger,
    /// Keys whose first answer was a 500: replayed.
    failed_keys: Arc<Mutex<Vec<String>>>,
    /// Whether the first call books the refund before its 500.
    book_before_500: bool,
}

impl Respond for StripeRefunds {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let key = header(request, "Idempotency-Key");
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let ours = form["metadata[idempotency_key]"].clone();
        let mut failed = self.failed_keys.lock().unwrap();
        if failed.contains(&key) {
            return ResponseTemplate::new(500).set_body_string(
                r#"{"error":{"type":"api_error","message":"An unknown error occurred"}}"#,
            );
        }
        let mut ledger = self.ledger.lock().unwrap();
        if ledger.is_empty() && failed.is_empty() {
            failed.push(key.clone());
            if self.book_before_500 {
                ledger.push(("re_1".into(), ours, form["amount"].clone()));
            }
            return ResponseTemplate::new(500).set_body_string(
                r#"{"error":{"type":"api_error","message":"An unknown error occurred"}}"#,
            );
        }
        let id = format!("re_{}", ledger.len() + 1);
        ledger.push((id.clone(), ours.clone(), form["amount"].clone()));
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": id, "object": "refund", "amount": form["amount"].parse::<i64>().unwrap(),
            "charge": form["charge"], "currency": "byn", "status": "succeeded",
            "metadata": {"idempotency_key": ours}
        }))
    }
}

struct StripeList(Ledger);

impl Respond for StripeList {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let data: Vec<_> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|(id, key, amount)| {
                serde_json::json!({"id": id, "object": "refund", "status": "succeeded",
                    "amount": amount.parse::<i64>().unwrap(), "metadata": {"idempotency_key": key}})
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"object": "list", "data": data, "has_more": false, "url": "/v1/refunds"}),
        )
    }
}

async fn stripe(book_before_500: bool) -> (MockServer, Ledger) {
    let server = MockServer::start().await;
    let ledger: Ledger = Arc::default();
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(StripeRefunds {
            ledger: ledger.clone(),
            failed_keys: Arc::default(),
            book_before_500,
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/refunds"))
        .respond_with(StripeList(ledger.clone()))
        .mount(&server)
        .await;
    (server, ledger)
}

#[tokio::test]
async fn stripe_a_replayed_500_is_resent_under_a_derived_key_once_the_list_proves_no_refund() {
    let db = TestDb::new().await;
    let id = approved(&db.pool, "stripe", "ch_3Nabc").await;
    let (server, ledger) = stripe(false).await;
    let state = deliver(build(GatewayKind::Stripe, server.uri()), &db.pool, id, 4).await;
    assert_eq!(state, "refunded");
    let booked = ledger.lock().unwrap().clone();
    assert_eq!(booked.len(), 1, "{booked:?}");
    // Booked under our attempt's key (metadata), sent under the derived header key.
    assert_eq!(booked[0].1, format!("rf-{id}-1"));
    let keys: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| header(r, "Idempotency-Key"))
        .collect();
    assert_eq!(keys, [format!("rf-{id}-1"), format!("rf-{id}-1.2")]);
    let (sends, request_key): (i32, String) =
        sqlx::query_as("SELECT sends, request_key FROM payout_attempts WHERE request_id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((sends, request_key), (2, format!("rf-{id}-1.2")));
    db.drop_database().await;
}

#[tokio::test]
async fn stripe_a_500_after_booking_is_found_by_the_list_and_never_resent() {
    let db = TestDb::new().await;
    let id = approved(&db.pool, "stripe", "ch_3Nabd").await;
    let (server, ledger) = stripe(true).await;
    let state = deliver(build(GatewayKind::Stripe, server.uri()), &db.pool, id, 4).await;
    assert_eq!(state, "refunded");
    assert_eq!(ledger.lock().unwrap().len(), 1);
    let posts = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 1, "the booked refund was never sent again");
    db.drop_database().await;
}

// --- CloudPayments: a repeat with the same X-Request-ID within the hour is answered with the
// stored result and not processed again (API docs, "Идемпотентность API").

struct CloudPaymentsRefund {
    ledger: Ledger,
    answers: Arc<Mutex<HashMap<String, serde_json::Value>>>,
}

impl Respond for CloudPaymentsRefund {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let key = header(request, "X-Request-ID");
        let mut answers = self.answers.lock().unwrap();
        if let Some(stored) = answers.get(&key) {
            return ResponseTemplate::new(200).set_body_json(stored.clone());
        }
        let mut ledger = self.ledger.lock().unwrap();
        let refund_id = 568 + ledger.len() as i64;
        let amount = serde_json::from_slice::<serde_json::Value>(&request.body).unwrap()["Amount"]
            .to_string();
        ledger.push((refund_id.to_string(), key.clone(), amount));
        let answer = serde_json::json!({"Model": {"TransactionId": refund_id}, "Success": true, "Message": null});
        answers.insert(key, answer.clone());
        // The first answer is lost on the way back.
        let first = ledger.len() == 1;
        let template = ResponseTemplate::new(200).set_body_json(answer);
        if first {
            template.set_delay(LOST)
        } else {
            template
        }
    }
}

#[tokio::test]
async fn cloudpayments_a_lost_answer_is_recovered_by_its_request_id_and_booked_once() {
    let db = TestDb::new().await;
    let id = approved(&db.pool, "cloudpayments", "455").await;
    let server = MockServer::start().await;
    let ledger: Ledger = Arc::default();
    Mock::given(method("POST"))
        .and(path("/payments/refund"))
        .respond_with(CloudPaymentsRefund {
            ledger: ledger.clone(),
            answers: Arc::default(),
        })
        .mount(&server)
        .await;
    let state = deliver(
        build(GatewayKind::Cloudpayments, server.uri()),
        &db.pool,
        id,
        4,
    )
    .await;
    assert_eq!(state, "refunded");
    assert_eq!(ledger.lock().unwrap().len(), 1);
    let gateway_ref: Option<String> =
        sqlx::query_scalar("SELECT gateway_ref FROM payout_attempts WHERE request_id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(gateway_ref.as_deref(), Some("568"));
    db.drop_database().await;
}

// --- WEBPAY: no idempotency key; GetTransactionStatus lists the order's transactions
// (wsb-api-sdk GetTransactionStatusRequest.php, TransactionStatusStruct.php).

struct Webpay {
    ledger: Ledger,
    wsdl: String,
    /// The first refund call: booked (its answer lost) or refused with a 503 (never booked).
    book_first: bool,
    calls: Arc<Mutex<usize>>,
}

fn field<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = xml.find(&open).map(|i| i + open.len()).unwrap_or(0);
    let end = xml[start..].find('<').map(|i| start + i).unwrap_or(start);
    &xml[start..end]
}

impl Respond for Webpay {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if request.method.as_str() == "GET" {
            return ResponseTemplate::new(200).set_body_string(self.wsdl.clone());
        }
        let xml = body(request);
        let envelope = |inner: String, op: &str| {
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><ns1:{op}Response xmlns:ns1="urn:stand-in:wsbapi">{inner}</ns1:{op}Response></SOAP-ENV:Body></SOAP-ENV:Envelope>"#
            )
        };
        let mut ledger = self.ledger.lock().unwrap();
        if xml.contains("GetTransactionStatus") {
            let mut transactions = format!(
                "<transaction><transaction_id>{}</transaction_id><status>Completed</status><amount>100.00</amount><currency>BYN</currency></transaction>",
                "956424424"
            );
            for (id, _, amount) in ledger.iter() {
                transactions.push_str(&format!(
                    "<transaction><transaction_id>{id}</transaction_id><status>Refunded</status><amount>{amount}</amount><currency>BYN</currency></transaction>"
                ));
            }
            return ResponseTemplate::new(200).set_body_string(envelope(
                format!("<error_code>0</error_code><error_comment/>{transactions}"),
                "GetTransactionStatus",
            ));
        }
        let mut calls = self.calls.lock().unwrap();
        *calls += 1;
        if *calls == 1 && !self.book_first {
            return ResponseTemplate::new(503);
        }
        let id = format!("95642450{}", ledger.len());
        ledger.push((id.clone(), String::new(), field(&xml, "amount").to_string()));
        let template = ResponseTemplate::new(200).set_body_string(envelope(
            format!(
                "<error_code>0</error_code><error_comment/><transaction_id>{id}</transaction_id>"
            ),
            "TransactionRefund",
        ));
        if *calls == 1 {
            template.set_delay(LOST)
        } else {
            template
        }
    }
}

async fn webpay(book_first: bool) -> (MockServer, Ledger) {
    let server = MockServer::start().await;
    let ledger: Ledger = Arc::default();
    let wsdl = format!(
        r#"<?xml version="1.0"?><definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" targetNamespace="urn:stand-in:wsbapi"><binding name="B"><operation name="TransactionRefund"><soap:operation soapAction="urn:stand-in:wsbapi#TransactionRefund"/></operation><operation name="GetTransactionStatus"><soap:operation soapAction="urn:stand-in:wsbapi#GetTransactionStatus"/></operation></binding><service name="S"><port name="P" binding="B"><soap:address location="{}/soap"/></port></service></definitions>"#,
        server.uri()
    );
    Mock::given(wiremock::matchers::any())
        .respond_with(Webpay {
            ledger: ledger.clone(),
            wsdl,
            book_first,
            calls: Arc::default(),
        })
        .mount(&server)
        .await;
    (server, ledger)
}

#[tokio::test]
async fn webpay_a_lost_answer_is_found_in_the_order_listing_and_never_resent() {
    let db = TestDb::new().await;
    let id = approved(&db.pool, "webpay", "956424424").await;
    let (server, ledger) = webpay(true).await;
    let state = deliver(
        build(GatewayKind::Webpay, format!("{}/WSBApi", server.uri())),
        &db.pool,
        id,
        4,
    )
    .await;
    assert_eq!(state, "refunded");
    let booked = ledger.lock().unwrap().clone();
    assert_eq!(booked.len(), 1, "{booked:?}");
    assert_eq!(booked[0].2, "60.00");
    db.drop_database().await;
}

#[tokio::test]
async fn webpay_a_refund_that_never_arrived_is_proven_absent_and_sent_once() {
    let db = TestDb::new().await;
    let id = approved(&db.pool, "webpay", "956424424").await;
    let (server, ledger) = webpay(false).await;
    let state = deliver(
        build(GatewayKind::Webpay, format!("{}/WSBApi", server.uri())),
        &db.pool,
        id,
        4,
    )
    .await;
    assert_eq!(state, "refunded");
    assert_eq!(ledger.lock().unwrap().len(), 1);
    db.drop_database().await;
}

// --- Robokassa: no idempotency key, and refunds are found only by the requestId it returns
// (docs.robokassa.ru/ru/refund-api). A lost answer cannot be recovered by asking: the payout
// waits for a person and is never re-sent blind.

#[tokio::test]
async fn robokassa_a_lost_answer_waits_for_a_person_and_is_never_resent() {
    let db = TestDb::new().await;
    let id = approved(
        &db.pool,
        "robokassa",
        "0005F891-8CCD-434B-8455-816AFFFDBF37-0VOisWikFF",
    )
    .await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/RefundService/Refund/Create"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(
                    r#"{"success": true, "message": null, "requestId": "68cd7fa6-1338-4745-ba5c-28d16cbcdb3d"}"#,
                )
                .set_delay(LOST),
        )
        .mount(&server)
        .await;
    let state = deliver(build(GatewayKind::Robokassa, server.uri()), &db.pool, id, 3).await;
    assert_eq!(state, "payout_pending");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    let status: String =
        sqlx::query_scalar("SELECT status FROM payout_attempts WHERE request_id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(status, "unknown");
    db.drop_database().await;
}
