//! Every mistake a person can make gets a problem+json answer naming it, and nothing is
//! half-stored.

use serde_json::json;
use shared::api_keys::ApiRole;

use crate::helpers::{
    application, as_role, client, payment_body, problem, register_payment, submit,
};
use e2e::TestApp;

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_named_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let post = |body: String, ct: &'static str| {
        as_role(
            &app,
            client()
                .post(app.url("/v1/payments"))
                .header("content-type", ct)
                .body(body),
            ApiRole::Intake,
        )
        .send()
    };
    let p = problem(
        post("{\"merchant\": ".into(), "application/json")
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(
        p["detail"].as_str().unwrap().contains("not valid JSON"),
        "{p}"
    );

    let p = problem(post("{}".into(), "text/plain").await.unwrap(), 415).await;
    assert!(
        p["detail"].as_str().unwrap().contains("application/json"),
        "{p}"
    );

    let mut body = payment_body("tx-1");
    body["surprise"] = json!(true);
    let p = problem(
        post(body.to_string(), "application/json").await.unwrap(),
        400,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "surprise");

    let mut body = payment_body("tx-1");
    body.as_object_mut().unwrap().remove("amount");
    let p = problem(
        post(body.to_string(), "application/json").await.unwrap(),
        400,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("amount"), "{p}");

    let mut body = payment_body("tx-1");
    body["amount"] = json!(450.0);
    let p = problem(
        post(body.to_string(), "application/json").await.unwrap(),
        400,
    )
    .await;
    assert_eq!(
        p["errors"][0]["field"], "amount",
        "amounts are strings, never floats: {p}"
    );

    let big = "x".repeat(200 * 1024);
    let r = post(format!("{{\"merchant\": \"{big}\"}}"), "application/json")
        .await
        .unwrap();
    let p = problem(r, 413).await;
    assert_eq!(
        p["detail"], "the body is over the 65536-byte (64 KiB) limit for JSON requests",
        "a 413 names the limit: {p}"
    );

    assert_eq!(count(&app, "payments").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_card_number_is_refused_and_never_stored() {
    let app = TestApp::spawn().await;
    let mut body = payment_body("tx-card");
    body["cardholder_name"] = json!("4111 1111 1111 1111");
    let r = as_role(
        &app,
        client().post(app.url("/v1/payments")).json(&body),
        ApiRole::Intake,
    )
    .send()
    .await
    .unwrap();
    let p = problem(r, 422).await;
    assert_eq!(p["errors"][0]["field"], "cardholder_name");
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("last 4 digits")
    );
    assert!(
        !p.to_string().contains("4111 1111 1111 1111"),
        "the number is not echoed"
    );
    assert_eq!(count(&app, "payments").await, 0);
    app.stop().await;
}

/// Support submits `body` as an application.
async fn post_application(app: &TestApp, body: &serde_json::Value) -> reqwest::Response {
    as_role(
        app,
        client().post(app.url("/v1/refund-requests")).json(body),
        ApiRole::Support,
    )
    .send()
    .await
    .unwrap()
}

/// Support adds `facts` to request `id`.
async fn patch_facts(app: &TestApp, id: &str, facts: serde_json::Value) -> reqwest::Response {
    as_role(
        app,
        client()
            .patch(app.url(&format!("/v1/refund-requests/{id}/facts")))
            .json(&facts),
        ApiRole::Support,
    )
    .send()
    .await
    .unwrap()
}

/// A card number written as bank details (or in any other fact), on the application or
/// added later, is refused naming the field, never stored and never echoed (it once was, in
/// full, from `facts.bank_details`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_number_in_any_fact_is_refused_on_create_and_on_patch() {
    let app = TestApp::spawn().await;
    let payment = register_payment(&app, "tx-card-fact").await;
    let card = "4111 1111 1111 1111";
    let mut body = application(&payment);
    body["facts"]["bank_details"] = json!(format!("refund to card {card} please"));
    let p = problem(post_application(&app, &body).await, 422).await;
    assert_eq!(p["errors"][0]["field"], "facts.bank_details", "{p}");
    assert!(!p.to_string().contains("4111"), "not echoed: {p}");
    assert_eq!(count(&app, "refund_requests").await, 0);

    let id = submit(&app, &payment).await;
    for (fact, value) in [
        ("bank_details", format!("card {card}")),
        ("reason_text", format!("my card is {card}")),
        ("account_holder", card.to_owned()),
    ] {
        let p = problem(patch_facts(&app, &id, json!({ fact: value })).await, 422).await;
        assert_eq!(p["errors"][0]["field"], fact, "{p}");
        assert!(!p.to_string().contains("4111"), "not echoed: {p}");
    }
    let stored: String =
        sqlx::query_scalar("SELECT facts::text FROM refund_requests WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(!stored.contains("4111"), "{stored}");
    app.stop().await;
}

/// A personal number in free text (the customer's words, a note) is stored masked, on the
/// application and when facts are added; the rest of the text is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_numbers_in_free_text_are_stored_masked() {
    let app = TestApp::spawn().await;
    let payment = register_payment(&app, "tx-iin-text").await;
    let mut body = application(&payment);
    body["facts"]["reason_text"] = json!("Мой ИИН 900101300126, верните деньги");
    let r = post_application(&app, &body).await;
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reason_text = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT facts->>'reason_text' FROM refund_requests WHERE id = $1::uuid",
        )
        .bind(&id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
    };
    assert_eq!(reason_text().await, "Мой ИИН 90***26, верните деньги");

    let r = patch_facts(
        &app,
        &id,
        json!({"reason_text": "personas kods 010190-12349"}),
    )
    .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    assert_eq!(reason_text().await, "personas kods 01***49");
    let everything: String = sqlx::query_scalar(
        "SELECT string_agg(facts::text || coalesce(details::text, ''), ' ')
           FROM refund_requests r LEFT JOIN request_events e ON e.request_id = r.id",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(
        !everything.contains("900101300126") && !everything.contains("010190-12349"),
        "{everything}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inconsistent_payments_name_every_field_at_fault() {
    let app = TestApp::spawn().await;
    let mut body = payment_body("tx-x");
    body["merchant"] = json!("goods-kz");
    body["currency"] = json!("EUR");
    body["card"]["last4"] = json!("42");
    body["customer"]["language"] = json!("de");
    let r = as_role(
        &app,
        client().post(app.url("/v1/payments")).json(&body),
        ApiRole::Intake,
    )
    .send()
    .await
    .unwrap();
    let p = problem(r, 422).await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["policy", "currency", "card.last4", "customer.language"] {
        assert!(fields.contains(&f), "{f} not named: {p}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_a_payment_is_idempotent_on_the_gateway_transaction() {
    let app = TestApp::spawn().await;
    let id = register_payment(&app, "tx-same").await;
    let r = as_role(
        &app,
        client()
            .post(app.url("/v1/payments"))
            .json(&payment_body("tx-same")),
        ApiRole::Intake,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["id"],
        id.as_str()
    );
    let mut other = payment_body("tx-same");
    other["amount"] = json!("451.00");
    let r = as_role(
        &app,
        client().post(app.url("/v1/payments")).json(&other),
        ApiRole::Intake,
    )
    .send()
    .await
    .unwrap();
    let p = problem(r, 409).await;
    assert!(p["detail"].as_str().unwrap().contains("tx-same"));
    assert_eq!(count(&app, "payments").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_ids_and_query_values_are_clear() {
    let app = TestApp::spawn().await;
    let get = |path: &str| as_role(&app, client().get(app.url(path)), ApiRole::Support).send();
    problem(get("/v1/nothing").await.unwrap(), 404).await;
    let p = problem(get("/v1/refund-requests/not-a-uuid").await.unwrap(), 400).await;
    assert!(p["detail"].as_str().unwrap().contains("not-a-uuid"));
    problem(
        get("/v1/refund-requests/00000000-0000-7000-8000-000000000000")
            .await
            .unwrap(),
        404,
    )
    .await;
    let p = problem(get("/v1/refund-requests?state=paid").await.unwrap(), 422).await;
    assert_eq!(p["errors"][0]["field"], "state");
    let p = problem(get("/v1/refund-requests?limit=0").await.unwrap(), 422).await;
    assert_eq!(p["errors"][0]["field"], "limit");
    problem(get("/v1/refund-requests?colour=red").await.unwrap(), 400).await;
    app.stop().await;
}
