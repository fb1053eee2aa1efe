//! A person can finish every payout (`shared::payout_person`): a declined payout is listed for
//! a supervisor, retried only after the gateway is asked again, switched to bank transfer, or
//! recorded as refunded outside the system; an unknown one likewise, never switched to bank
//! transfer while the card refund may have been booked. Through the API, with a supervisor's
//! key scoped to the merchant, and the payout stage delivering each message by hand.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use shared::api_keys::ApiRole;
use shared::merchants::GatewayKind;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::lost_answers::{LOST, approved, build, deliver, header, state_of};

/// A refund the stand-in booked: (id, status, metadata key, Idempotency-Key).
type Booked = (String, String, String, String);

/// Stripe refunds that fail the first time ("declined", as a Refund object with status
/// `failed` and `failure_reason`, stripe-go refund.go) and succeed after; listed by charge.
#[derive(Clone, Default)]
struct DecliningStripe {
    refunds: Arc<Mutex<Vec<Booked>>>,
}

impl Respond for DecliningStripe {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut refunds = self.refunds.lock().unwrap();
        if request.method.as_str() == "GET" {
            let data: Vec<Value> = refunds
                .iter()
                .map(|(id, status, key, _)| {
                    json!({"id": id, "object": "refund", "status": status,
                           "failure_reason": (status == "failed").then_some("declined"),
                           "metadata": {"idempotency_key": key}})
                })
                .collect();
            return ResponseTemplate::new(200)
                .set_body_json(json!({"object": "list", "data": data, "has_more": false}));
        }
        let form: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(&request.body)
                .into_owned()
                .collect();
        let key = form["metadata[idempotency_key]"].clone();
        let status = if refunds.is_empty() {
            "failed"
        } else {
            "succeeded"
        };
        let id = format!("re_{}", refunds.len() + 1);
        refunds.push((
            id.clone(),
            status.into(),
            key.clone(),
            header(request, "Idempotency-Key"),
        ));
        ResponseTemplate::new(200).set_body_json(json!({
            "id": id, "object": "refund", "status": status,
            "failure_reason": (status == "failed").then_some("declined"),
            "metadata": {"idempotency_key": key}
        }))
    }
}

async fn post(app: &e2e::TestApp, key: &str, url: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(app.url(url))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn needing_person(app: &e2e::TestApp, key: &str) -> Value {
    reqwest::Client::new()
        .get(app.url("/v1/payouts?needs=person"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn history(pool: &sqlx::PgPool, id: Uuid) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT to_state, actor, coalesce(reason, '') FROM request_events WHERE request_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_declined_payout_is_listed_for_a_person_and_retried_only_after_the_gateway_is_asked() {
    let app = e2e::TestApp::spawn().await;
    let pool = &app.db.pool;
    let id = approved(pool, "stripe", "ch_declined").await;
    let server = MockServer::start().await;
    let stripe = DecliningStripe::default();
    Mock::given(path("/v1/refunds"))
        .respond_with(stripe.clone())
        .mount(&server)
        .await;
    let gateway = || build(GatewayKind::Stripe, server.uri());
    assert_eq!(deliver(gateway(), pool, id, 1).await, "payout_failed");

    let supervisor = app.merchant_key(ApiRole::Supervisor, "byskills").await;
    let listed = needing_person(&app, &supervisor).await;
    let item = &listed["items"][0];
    assert_eq!(item["request_id"], id.to_string(), "{listed}");
    assert_eq!(item["state"], "payout_failed");
    assert_eq!(item["attempt_status"], "declined");
    assert!(
        item["decline_reason"]
            .as_str()
            .unwrap()
            .contains("declined"),
        "{item}"
    );
    assert_eq!(
        item["actions"],
        json!(["retry", "record-external", "bank-transfer"])
    );

    // Another merchant's supervisor sees nothing and cannot act; support cannot act.
    let other = app.merchant_key(ApiRole::Supervisor, "kz-goods").await;
    assert_eq!(needing_person(&app, &other).await["items"], json!([]));
    let retry = format!("/v1/refund-requests/{id}/payout/retry");
    let (status, _) = post(&app, &other, &retry, json!({"reason": "customer called"})).await;
    assert_eq!(status, 404);
    let support = app.merchant_key(ApiRole::Support, "byskills").await;
    let (status, _) = post(&app, &support, &retry, json!({"reason": "customer called"})).await;
    assert_eq!(status, 403);
    let (status, body) = post(&app, &supervisor, &retry, json!({"reason": "  "})).await;
    assert_eq!(status, 422, "{body}");

    let (status, body) = post(
        &app,
        &supervisor,
        &retry,
        json!({"reason": "the bank fixed the card block"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["request"]["state"], "payout_pending");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("asks the gateway"),
        "{body}"
    );

    // The payout stage asks Stripe about the declined attempt (it lists a failed refund), then
    // sends a new attempt under a new key; the refund is booked once.
    assert_eq!(deliver(gateway(), pool, id, 2).await, "refunded");
    let refunds = stripe.refunds.lock().unwrap().clone();
    let keys: Vec<(&str, &str)> = refunds
        .iter()
        .map(|(_, s, k, _)| (s.as_str(), k.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("failed", format!("rf-{id}-1").as_str()),
            ("succeeded", format!("rf-{id}-2").as_str())
        ]
    );
    let asked = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .count();
    assert_eq!(
        asked, 1,
        "the gateway was asked before the new refund was sent"
    );
    let events = history(pool, id).await;
    assert!(
        events
            .iter()
            .any(|(to, actor, reason)| to == "payout_pending"
                && actor.starts_with("supervisor:")
                && reason.contains("the bank fixed the card block")),
        "{events:?}"
    );
    // Nothing is left for a person, and a finished refund cannot be retried.
    assert_eq!(needing_person(&app, &supervisor).await["items"], json!([]));
    let (status, body) = post(&app, &supervisor, &retry, json!({"reason": "again"})).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("refunded"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_declined_payout_switches_to_bank_transfer_asking_the_customer_or_with_details_given() {
    let app = e2e::TestApp::spawn().await;
    let pool = &app.db.pool;
    let server = MockServer::start().await;
    Mock::given(path("/v1/refunds"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "re_f", "object": "refund",
                "status": "failed", "failure_reason": "declined", "metadata": {}})),
        )
        .mount(&server)
        .await;
    let supervisor = app.merchant_key(ApiRole::Supervisor, "byskills").await;
    let asked = approved(pool, "stripe", "ch_bt1").await;
    let given = approved(pool, "stripe", "ch_bt2").await;
    for id in [asked, given] {
        assert_eq!(
            deliver(build(GatewayKind::Stripe, server.uri()), pool, id, 1).await,
            "payout_failed"
        );
    }
    let (status, body) = post(
        &app,
        &supervisor,
        &format!("/v1/refund-requests/{asked}/payout/bank-transfer"),
        json!({"reason": "the card keeps declining"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["request"]["state"], "needs_bank_details");
    let bank_details_emails: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM notifications
          WHERE request_id = $1 AND event = 'bank_details_needed' AND status = 'pending'",
    )
    .bind(asked)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        bank_details_emails, 1,
        "the customer is asked for bank details"
    );

    let (status, body) = post(
        &app,
        &supervisor,
        &format!("/v1/refund-requests/{given}/payout/bank-transfer"),
        json!({"reason": "the customer gave the IBAN by phone", "bank_details": "BY20 OLMP 3135 0000 0010 0000 0933", "account_holder": "Ivan Ivanov"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["request"]["state"], "manual_payout");
    let listed = needing_person(&app, &supervisor).await;
    let states: Vec<(&str, &str)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["state"].as_str().unwrap(),
                i["actions"][0].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(states, [("manual_payout", "mark-paid")], "{listed}");
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_payout_is_never_switched_to_bank_transfer_and_is_recorded_when_made_outside() {
    let app = e2e::TestApp::spawn().await;
    let pool = &app.db.pool;
    let id = approved(
        pool,
        "robokassa",
        "0005F891-8CCD-434B-8455-816AFFFDBF37-0VOisWikFF",
    )
    .await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"success": true, "message": null, "requestId": "68cd7fa6-1338-4745-ba5c-28d16cbcdb3d"}"#)
                .set_delay(LOST),
        )
        .mount(&server)
        .await;
    assert_eq!(
        deliver(build(GatewayKind::Robokassa, server.uri()), pool, id, 2).await,
        "payout_pending"
    );
    let supervisor = app.merchant_key(ApiRole::Supervisor, "byskills").await;
    // Young unknown attempts are the retry tiers' business; older ones wait on a person.
    assert_eq!(needing_person(&app, &supervisor).await["items"], json!([]));
    sqlx::query("UPDATE payout_attempts SET updated_at = now() - interval '20 minutes' WHERE request_id = $1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    let listed = needing_person(&app, &supervisor).await;
    assert_eq!(
        listed["items"][0]["actions"],
        json!(["retry", "record-external"]),
        "{listed}"
    );

    let (status, body) = post(
        &app,
        &supervisor,
        &format!("/v1/refund-requests/{id}/payout/bank-transfer"),
        json!({"reason": "no news"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("retry first"),
        "{body}"
    );

    // A retry asks the gateway now (Robokassa cannot say without its requestId: the answer
    // says what to do then); nothing is sent.
    let (status, body) = post(
        &app,
        &supervisor,
        &format!("/v1/refund-requests/{id}/payout/retry"),
        json!({"reason": "customer asks"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("record-external"),
        "{body}"
    );
    let queued: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE routing_key = 'request.payout' AND payload->>'request_id' = $1",
    )
    .bind(id.to_string())
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(queued, 1);
    let events: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, reason FROM request_events WHERE request_id = $1 AND reason LIKE 'retry requested%'",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(events.len(), 1, "audited with who and why: {events:?}");
    assert!(events[0].0.starts_with("supervisor:") && events[0].1.contains("customer asks"));
    let record = format!("/v1/refund-requests/{id}/payout/record-external");
    let (status, body) = post(
        &app,
        &supervisor,
        &record,
        json!({"reason": "seen in the cabinet", "gateway_reference": " "}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = post(
        &app,
        &supervisor,
        &record,
        json!({"reason": "seen in the Robokassa cabinet", "gateway_reference": "68cd7fa6-1338-4745-ba5c-28d16cbcdb3d"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["request"]["state"], "refunded");
    assert_eq!(state_of(pool, id).await, "refunded");
    let (status, reference): (String, Option<String>) =
        sqlx::query_as("SELECT status, gateway_ref FROM payout_attempts WHERE request_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), reference.as_deref()),
        ("succeeded", Some("68cd7fa6-1338-4745-ba5c-28d16cbcdb3d"))
    );
    let told: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM notifications
          WHERE request_id = $1 AND event = 'refunded' AND status = 'pending'",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(told, 1, "the customer is told the money was sent");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "never re-sent"
    );
    app.stop().await;
}
