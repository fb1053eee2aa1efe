//! Requests the API tests send again and again.

use e2e::TestApp;
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{Value, json};
use shared::api_keys::ApiRole;

pub fn client() -> Client {
    Client::new()
}

pub fn as_role(app: &TestApp, rb: RequestBuilder, role: ApiRole) -> RequestBuilder {
    rb.bearer_auth(app.key(role))
}

pub fn payment_body(txn: &str) -> Value {
    json!({
        "merchant": "byskills",
        "policy": "by-online-courses",
        "gateway": "sandbox",
        "gateway_transaction_id": txn,
        "amount": "450.00",
        "currency": "BYN",
        "paid_at": "2026-03-02T10:15:00+03:00",
        "card": {"brand": "visa", "last4": "4242"},
        "cardholder_name": "IVAN IVANOV",
        "customer": {"email": "ivan@example.com", "language": "ru"}
    })
}

/// Registers a payment as the intake role; returns its id.
pub async fn register_payment(app: &TestApp, txn: &str) -> String {
    register_payment_as(app, &payment_body(txn)).await
}

/// Registers the payment `body` as the intake role; returns its id.
pub async fn register_payment_as(app: &TestApp, body: &Value) -> String {
    let r = as_role(
        app,
        client().post(app.url("/v1/payments")).json(body),
        ApiRole::Intake,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn application(payment_id: &str) -> Value {
    json!({
        "payment": {"id": payment_id},
        "reason": "withdrawal",
        "facts": {"access_started_at": "2026-03-02", "progress_percent": 35},
        "received_at": "2026-03-20T12:00:00+03:00"
    })
}

/// Submits an application as support; returns its id.
pub async fn submit(app: &TestApp, payment_id: &str) -> String {
    let r = as_role(
        app,
        client()
            .post(app.url("/v1/refund-requests"))
            .json(&application(payment_id)),
        ApiRole::Support,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A problem+json answer: checks the content type and returns the body.
pub async fn problem(r: Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status);
    let ct = r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(ct, "application/problem+json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["type"].as_str().unwrap().starts_with("/problems/"));
    assert!(!body["detail"].as_str().unwrap().is_empty());
    body
}

pub async fn set_state(app: &TestApp, id: &str, state: &str) {
    sqlx::query("UPDATE refund_requests SET state = $2 WHERE id = $1::uuid")
        .bind(id)
        .bind(state)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

/// A request inserted directly with the dates and SLA state a test needs (no payment, no
/// pipeline): open unless `ended_at` is given.
pub struct Seed<'a> {
    pub merchant: &'a str,
    pub policy: &'a str,
    pub state: &'a str,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub due_on: Option<chrono::NaiveDate>,
    pub sla_state: Option<&'a str>,
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl<'a> Seed<'a> {
    /// An approved request of byskills under by-online-courses, received now, due `due_on`.
    pub fn open(sla_state: &'a str, due_on: Option<chrono::NaiveDate>) -> Self {
        Self {
            merchant: "byskills",
            policy: "by-online-courses",
            state: "approved",
            received_at: chrono::Utc::now(),
            due_on,
            sla_state: Some(sla_state),
            ended_at: None,
        }
    }
}

pub async fn seed(app: &TestApp, s: Seed<'_>) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO refund_requests (id, merchant, policy_id, state, channel, reason,
                                      received_at, due_on, sla_state, ended_at)
         VALUES ($1, $2, $3, $4, 'api', 'withdrawal', $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(s.merchant)
    .bind(s.policy)
    .bind(s.state)
    .bind(s.received_at)
    .bind(s.due_on)
    .bind(s.sla_state)
    .bind(s.ended_at)
    .execute(&app.db.pool)
    .await
    .unwrap();
    id
}
