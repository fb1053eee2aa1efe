//! The sla role: SLA states on the country's calendar (working Saturdays and holidays
//! included), one audit event and one escalation per change, the clock stopped while the
//! customer is asked for something, and the API's `sla=` filter.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use shared::api_keys::ApiRole;
use shared::lifecycle::RequestState;
use workers::roles::sla::{Pass, SlaMonitor};

use e2e::{TestApp, insert_request};

async fn request(app: &TestApp, state: &str, policy: &str, due: &str) -> String {
    let id = insert_request(&app.db.pool, RequestState::Received).await;
    sqlx::query(
        "UPDATE refund_requests SET state = $2, policy_id = $3, due_on = $4::date WHERE id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(policy)
    .bind(due)
    .execute(&app.db.pool)
    .await
    .unwrap();
    id.to_string()
}

async fn sla_of(app: &TestApp, id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT sla_state FROM refund_requests WHERE id = $1::uuid")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

fn at(ts: &str) -> DateTime<Utc> {
    ts.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_states_follow_each_countrys_calendar_and_escalate_once() {
    let app = TestApp::spawn().await;
    let monitor = SlaMonitor {
        pool: app.db.pool.clone(),
        packs: Arc::new(shared::policy::PolicyPacks::builtin().clone()),
        calendars: Arc::new(shared::calendar::Calendars::builtin()),
        interval: Duration::from_secs(60),
        retention_days: 90,
        payout_recheck_after: Duration::from_secs(1800),
        stall_after: Duration::from_secs(900),
        sweep_after_outage: Duration::from_secs(660),
        reconcile: Vec::new(),
    };
    // BY, Friday 2026-04-24: the next working days are Saturday 25 April (decreed) and
    // Monday 27. Due Monday: two working days left, on track.
    let by_on_track = request(&app, "approved", "by-online-courses", "2026-04-27").await;
    // Due Saturday 25 April (a working Saturday): one working day left, at risk.
    let by_at_risk = request(&app, "approved", "by-online-courses", "2026-04-25").await;
    // KZ, Thursday 2026-03-19, just before Nauryz (21-23 March; 21 and 22 are a weekend, so
    // 24 and 25 are off too): a request due on 26 March has Friday 20 and Thursday 26 left.
    let kz_before_nauryz = request(
        &app,
        "awaiting_confirmation",
        "kz-saas-subscription",
        "2026-03-26",
    )
    .await;
    // Overdue, but waiting for the customer's bank details: paused, not breached.
    let paused = request(&app, "needs_bank_details", "kz-goods-store", "2026-03-01").await;
    // Overdue and ours to do: breached.
    let breached = request(&app, "payout_pending", "by-online-courses", "2026-04-20").await;

    // 2026-04-24 05:00 UTC is 08:00 in Minsk and 10:00 in Almaty.
    let first = monitor.pass(at("2026-04-24T05:00:00Z")).await.unwrap();
    assert_eq!(
        first,
        Pass {
            checked: 5,
            changed: 5,
            escalated: 3
        }
    );
    assert_eq!(
        sla_of(&app, &by_on_track).await.as_deref(),
        Some("on_track")
    );
    assert_eq!(sla_of(&app, &by_at_risk).await.as_deref(), Some("at_risk"));
    assert_eq!(sla_of(&app, &paused).await.as_deref(), Some("paused"));
    assert_eq!(sla_of(&app, &breached).await.as_deref(), Some("breached"));
    // The KZ request was due weeks before 24 April: breached too.
    assert_eq!(
        sla_of(&app, &kz_before_nauryz).await.as_deref(),
        Some("breached")
    );

    // Nothing changed: nothing is recorded or sent again.
    let again = monitor.pass(at("2026-04-24T05:01:00Z")).await.unwrap();
    assert_eq!(
        again,
        Pass {
            checked: 5,
            changed: 0,
            escalated: 0
        }
    );
    let escalations: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE payload->>'event' IN ('sla_at_risk', 'sla_breached')",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(escalations, 3);
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM request_events WHERE actor = 'worker:sla'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(events, 5, "one audit event per change");

    let page: Value = reqwest::Client::new()
        .get(app.url("/v1/refund-requests?sla=breached"))
        .bearer_auth(app.key(ApiRole::Support))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [kz_before_nauryz.as_str(), breached.as_str()],
        "earliest due date first (26 March, then 20 April)"
    );

    // The KZ request on 19 March: Friday 20 March and Thursday 26 March are left.
    sqlx::query("UPDATE refund_requests SET sla_state = NULL WHERE id = $1::uuid")
        .bind(&kz_before_nauryz)
        .execute(&app.db.pool)
        .await
        .unwrap();
    monitor.pass(at("2026-03-19T05:00:00Z")).await.unwrap();
    assert_eq!(
        sla_of(&app, &kz_before_nauryz).await.as_deref(),
        Some("on_track")
    );
    // On Friday 20 March only Thursday 26 is left: at risk over the whole holiday.
    monitor.pass(at("2026-03-20T05:00:00Z")).await.unwrap();
    assert_eq!(
        sla_of(&app, &kz_before_nauryz).await.as_deref(),
        Some("at_risk")
    );

    app.stop().await;
}

/// The clock stops while an approved request waits for the customer's bank details: when they
/// arrive, the due date moves later by the working days the wait took, and the history says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_due_date_moves_by_the_working_days_spent_waiting_for_bank_details() {
    let app = TestApp::spawn().await;
    let due = "2026-12-01";
    let id = request(&app, "needs_bank_details", "by-online-courses", due).await;
    // Asked for the bank details ten days ago.
    let asked_at = Utc::now() - chrono::Duration::days(10);
    sqlx::query(
        "INSERT INTO request_events (request_id, at, actor, from_state, to_state, reason)
         VALUES ($1::uuid, $2, 'worker:payout', 'payout_failed', 'needs_bank_details',
                 'the card cannot take the refund')",
    )
    .bind(&id)
    .bind(asked_at)
    .execute(&app.db.pool)
    .await
    .unwrap();

    let r = reqwest::Client::new()
        .post(app.url(&format!("/v1/refund-requests/{id}/bank-details")))
        .bearer_auth(app.key(ApiRole::Support))
        .json(&serde_json::json!({"bank_details": "BY20 OLMP 3135 0000 0010 0000 0933"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let by = shared::calendar::WorkingDayCalendar::builtin(shared::calendar::Country::BY);
    let minsk = shared::calendar::Country::BY.timezone();
    let paused_on = asked_at.with_timezone(&minsk).date_naive();
    let today = Utc::now().with_timezone(&minsk).date_naive();
    let lost = by.working_days_between(paused_on, today).unwrap();
    assert!(
        lost >= 6,
        "ten calendar days hold at least six working days ({lost})"
    );
    let due: chrono::NaiveDate = due.parse().unwrap();
    let expected = by.add_working_days(due, lost as u32).unwrap();
    let (new_due, state): (chrono::NaiveDate, String) =
        sqlx::query_as("SELECT due_on, state FROM refund_requests WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(state, "manual_payout");
    assert_eq!(new_due, expected);
    let details: Value = sqlx::query_scalar(
        "SELECT details FROM request_events
          WHERE request_id = $1::uuid AND to_state = 'manual_payout'",
    )
    .bind(&id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(details["due_on_extended"]["from"], "2026-12-01");
    assert_eq!(
        details["due_on_extended"]["to"],
        expected.to_string().as_str()
    );
    assert_eq!(details["due_on_extended"]["paused_working_days"], lost);
    app.stop().await;
}

/// The clock does not run while the customer is asked for something before the decision: the
/// due date counts from the day the application became complete, not from the day it arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_starts_when_the_missing_information_arrives() {
    let app = TestApp::spawn().await;
    let broker = e2e::TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let pipeline = e2e::Pipeline::start(&app.db, &broker).await;
    let client = reqwest::Client::new();
    let send = |method: reqwest::Method, path: String, role: ApiRole, body: Value| {
        let request = client
            .request(method, app.url(&path))
            .bearer_auth(app.key(role))
            .json(&body);
        async move {
            let r = request.send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
            r.json::<Value>().await.unwrap()
        }
    };
    let payment = send(
        reqwest::Method::POST,
        "/v1/payments".into(),
        ApiRole::Intake,
        serde_json::json!({
            "merchant": "byskills", "policy": "by-online-courses", "gateway": "sandbox",
            "gateway_transaction_id": "wp-clock", "amount": "450.00", "currency": "BYN",
            "paid_at": "2026-03-02T10:15:00+03:00",
            "customer": {"email": "ivan@example.by", "language": "ru"}
        }),
    )
    .await;
    // Received on 20 March 2026 without the course progress the policy needs.
    let accepted = send(
        reqwest::Method::POST,
        "/v1/refund-requests".into(),
        ApiRole::Support,
        serde_json::json!({
            "payment": {"id": payment["id"]}, "reason": "withdrawal",
            "facts": {"access_started_at": "2026-03-02"},
            "received_at": "2026-03-20T12:00:00+03:00"
        }),
    )
    .await;
    let id = accepted["id"].as_str().unwrap().to_string();
    e2e::wait_for_state(&app.db.pool, &id, "needs_info").await;
    let due: Option<chrono::NaiveDate> =
        sqlx::query_scalar("SELECT due_on FROM refund_requests WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(due, None, "no clock while the customer is asked");

    // The progress arrives today: 30 BY working days from today (§13), not from 20 March.
    let minsk = shared::calendar::Country::BY.timezone();
    let before = Utc::now().with_timezone(&minsk).date_naive();
    send(
        reqwest::Method::PATCH,
        format!("/v1/refund-requests/{id}/facts"),
        ApiRole::Support,
        serde_json::json!({"progress_percent": 35}),
    )
    .await;
    e2e::wait_for_state(&app.db.pool, &id, "approved").await;
    let after = Utc::now().with_timezone(&minsk).date_naive();
    let by = shared::calendar::WorkingDayCalendar::builtin(shared::calendar::Country::BY);
    let due: chrono::NaiveDate =
        sqlx::query_scalar("SELECT due_on FROM refund_requests WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let expected = [
        by.add_working_days(before, 30).unwrap(),
        by.add_working_days(after, 30).unwrap(),
    ];
    assert!(expected.contains(&due), "due {due}, expected {expected:?}");
    let from_receipt = by
        .add_working_days("2026-03-20".parse().unwrap(), 30)
        .unwrap();
    assert_ne!(due, from_receipt);
    pipeline.stop().await;
    broker.cleanup().await;
    app.stop().await;
}

/// Issue 16: a request a person must decide (lv-webshop, a withdrawal its terms are silent
/// about) is due all the same by the pack's default SLA; the SLA monitor watches it, `/v1/sla`,
/// `/metrics` and the dashboard count it; a supervisor's approval keeps the due date, and one
/// of a request without a due date (from before) sets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_manual_review_is_due_watched_and_keeps_its_date_when_approved() {
    use e2e::{Pipeline, TestBroker, wait_for_state};
    use serde_json::json;

    let app = TestApp::spawn().await;
    let broker = TestBroker::new(&[Duration::from_millis(200), Duration::from_millis(500)]);
    broker.declare().await;
    let pipeline = Pipeline::start(&app.db, &broker).await;
    let client = reqwest::Client::new();
    let post = |path: String, role: ApiRole, body: Value| {
        let rb = client
            .post(app.url(&path))
            .bearer_auth(app.key(role))
            .json(&body);
        async move {
            let r = rb.send().await.unwrap();
            let status = r.status();
            let body: Value = r.json().await.unwrap();
            assert!(status.is_success(), "{path}: {status} {body}");
            body
        }
    };
    let mut ids = Vec::new();
    for n in 0..2 {
        let payment = post(
            "/v1/payments".into(),
            ApiRole::Intake,
            json!({
                "merchant": "webshop-lv", "policy": "lv-webshop", "gateway": "sandbox",
                "gateway_transaction_id": format!("lv-review-{n}"), "amount": "59.90",
                "currency": "EUR", "paid_at": "2026-03-20T10:00:00+02:00",
                "card": {"brand": "visa", "last4": "4242"},
                "customer": {"email": "janis@example.lv", "language": "lv"}
            }),
        )
        .await;
        let accepted = post(
            "/v1/refund-requests".into(),
            ApiRole::Support,
            json!({
                "payment": {"id": payment["id"]}, "reason": "withdrawal",
                "received_at": "2026-04-04T10:00:00+03:00"
            }),
        )
        .await;
        ids.push(accepted["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        wait_for_state(&app.db.pool, id, "manual_review").await;
    }
    let due_of = |id: String| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<chrono::NaiveDate>>(
                "SELECT due_on FROM refund_requests WHERE id = $1::uuid",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    // The pack's `[sla]`: 14 calendar days from the complete date (4 April).
    let due = chrono::NaiveDate::from_ymd_opt(2026, 4, 18).unwrap();
    assert_eq!(due_of(ids[0].clone()).await, Some(due));
    assert_eq!(due_of(ids[1].clone()).await, Some(due));

    // Watched: on 20 April it is breached, and every figure counts it.
    let monitor = SlaMonitor {
        pool: app.db.pool.clone(),
        packs: Arc::new(shared::policy::PolicyPacks::builtin().clone()),
        calendars: Arc::new(shared::calendar::Calendars::builtin()),
        interval: Duration::from_secs(60),
        retention_days: 90,
        payout_recheck_after: Duration::from_secs(1800),
        stall_after: Duration::from_secs(900),
        sweep_after_outage: Duration::from_secs(660),
        reconcile: Vec::new(),
    };
    monitor.pass(at("2026-04-20T06:00:00Z")).await.unwrap();
    assert_eq!(sla_of(&app, &ids[0]).await.as_deref(), Some("breached"));
    let report: Value = client
        .get(app.url("/v1/sla"))
        .bearer_auth(app.key(ApiRole::Viewer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let item = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["merchant"] == "webshop-lv" && i["policy"] == "lv-webshop")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(
        (&item["open"], &item["breached"]),
        (&json!(2), &json!(2)),
        "{item:#}"
    );
    let metrics = client
        .get(app.url("/metrics"))
        .bearer_auth(app.key(ApiRole::Viewer))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("refundd_open_requests{")
                && l.contains("state=\"manual_review\"")
                && l.contains("sla=\"breached\"")
                && l.ends_with(" 2")),
        "{metrics}"
    );
    let dashboard = client
        .get(app.url("/dashboard"))
        .basic_auth("viewer", Some(app.key(ApiRole::Viewer)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(dashboard.contains(&ids[0]), "the dashboard lists it");

    // A supervisor approves 50.00: the due date stays.
    let approved = post(
        format!("/v1/refund-requests/{}/confirm", ids[0]),
        ApiRole::Supervisor,
        json!({"amount": "50.00"}),
    )
    .await;
    assert_eq!(approved["state"], "approved");
    assert_eq!(approved["due_on"], "2026-04-18");
    assert_eq!(due_of(ids[0].clone()).await, Some(due));

    // A request in review without a due date (decided before packs dated them) gets the
    // pack's default when approved.
    sqlx::query("UPDATE refund_requests SET due_on = NULL WHERE id = $1::uuid")
        .bind(&ids[1])
        .execute(&app.db.pool)
        .await
        .unwrap();
    let approved = post(
        format!("/v1/refund-requests/{}/confirm", ids[1]),
        ApiRole::Supervisor,
        json!({"amount": "50.00"}),
    )
    .await;
    assert_eq!(approved["due_on"], "2026-04-18");
    assert_eq!(due_of(ids[1].clone()).await, Some(due));

    pipeline.stop().await;
    app.stop().await;
}
