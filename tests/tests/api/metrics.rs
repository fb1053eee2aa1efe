//! `GET /metrics`: requests in various states, payouts, emails and inbound mail in the
//! database, messages and a consumer on the broker; the scrape is parsed as Prometheus parses
//! it and every figure checked. A broker that is down leaves the queue figures out.

use std::collections::HashMap;
use std::time::Duration;

use e2e::{TestApp, TestBroker, insert_request};
use lapin::BasicProperties;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use prometheus_parse::{HistogramCount, Scrape, Value};
use shared::api_keys::ApiRole;
use shared::lifecycle::RequestState;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::client;

/// A request of `merchant` under its pack, in `state`, with `sla` set that many minutes ago.
async fn request(
    pool: &PgPool,
    state: RequestState,
    merchant: &str,
    sla: Option<(&str, i32)>,
) -> Uuid {
    let id = insert_request(pool, state).await;
    let policy = match merchant {
        "byskills" => "by-online-courses",
        "saas-kz" => "kz-saas-subscription",
        other => panic!("no pack for {other} in this test"),
    };
    sqlx::query(
        "UPDATE refund_requests
            SET merchant = $2, policy_id = $3, sla_state = $4,
                sla_checked_at = now() - make_interval(mins => $5),
                ended_at = CASE WHEN $6 THEN now() END
          WHERE id = $1",
    )
    .bind(id)
    .bind(merchant)
    .bind(policy)
    .bind(sla.map(|s| s.0))
    .bind(sla.map_or(0, |s| s.1))
    .bind(state.is_final())
    .execute(pool)
    .await
    .unwrap();
    id
}

/// A request of byskills refunded: received and refunded at these times (RFC 3339).
async fn refunded(pool: &PgPool, received: &str, refunded: &str) -> Uuid {
    let id = request(pool, RequestState::Refunded, "byskills", None).await;
    sqlx::query(
        "UPDATE refund_requests SET received_at = $2::timestamptz, ended_at = $3::timestamptz
          WHERE id = $1",
    )
    .bind(id)
    .bind(received)
    .bind(refunded)
    .execute(pool)
    .await
    .unwrap();
    id
}

async fn payout_attempt(pool: &PgPool, request: Uuid, status: &str) {
    sqlx::query(
        "INSERT INTO payout_attempts (id, request_id, payment_id, idempotency_key, gateway,
                                      amount_minor, currency, status)
         SELECT $1, id, payment_id, $1::text, 'sandbox', 45000, 'BYN', $3
           FROM refund_requests WHERE id = $2",
    )
    .bind(Uuid::now_v7())
    .bind(request)
    .bind(status)
    .execute(pool)
    .await
    .unwrap();
}

async fn notification(pool: &PgPool, request: Uuid, event: &str, status: &str) {
    sqlx::query(
        "INSERT INTO notifications (id, request_id, event, recipient, status)
         VALUES ($1, $2, $3, 'ivan@example.com', $4)",
    )
    .bind(Uuid::now_v7())
    .bind(request)
    .bind(event)
    .bind(status)
    .execute(pool)
    .await
    .unwrap();
}

async fn inbound(pool: &PgPool, source: &str, outcome: &str) {
    sqlx::query(
        "INSERT INTO inbound_emails (id, message_id, source, outcome) VALUES ($1, $1::text, $2, $3)",
    )
    .bind(Uuid::now_v7())
    .bind(source)
    .bind(outcome)
    .execute(pool)
    .await
    .unwrap();
}

async fn scrape(app: &TestApp, role: ApiRole) -> Scrape {
    let r = client()
        .get(app.url("/metrics"))
        .bearer_auth(app.key(role))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = r.text().await.unwrap();
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text format")
}

/// The samples of `name`, by their labels.
fn series(scrape: &Scrape, name: &str) -> Vec<(HashMap<String, String>, Value)> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .map(|s| ((*s.labels).clone(), s.value.clone()))
        .collect()
}

/// The value of the sample of `name` with exactly these labels.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: HashMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    series(scrape, name)
        .into_iter()
        .find(|(l, _)| *l == wanted)
        .map(|(_, v)| match v {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            other => panic!("{name} is not a single value: {other:?}"),
        })
}

/// The cumulative buckets of histogram `name` for `merchant`.
fn buckets(scrape: &Scrape, name: &str, merchant: &str) -> Vec<HistogramCount> {
    let found = series(scrape, name)
        .into_iter()
        .find(|(l, _)| l.get("merchant").map(String::as_str) == Some(merchant));
    match found {
        Some((_, Value::Histogram(b))) => b,
        other => panic!("{name} for {merchant}: {other:?}"),
    }
}

/// How many observations fall at or below `le`.
fn at_most(buckets: &[HistogramCount], le: f64) -> f64 {
    buckets
        .iter()
        .find(|b| b.less_than == le)
        .unwrap_or_else(|| panic!("no bucket le={le} in {buckets:?}"))
        .count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_report_every_figure_from_the_database_and_the_broker() {
    let broker = TestBroker::new(&[Duration::from_secs(5)]);
    broker.declare().await;
    let app = TestApp::spawn_with(|ctx| {
        ctx.amqp_url = broker.url.clone();
        ctx.topology = broker.topology.clone();
    })
    .await;
    let pool = &app.db.pool;

    // Open requests: two at risk (one for two hours), one breached, one not yet checked.
    use RequestState::*;
    let at_risk = request(pool, Approved, "byskills", Some(("at_risk", 120))).await;
    request(pool, Approved, "byskills", Some(("at_risk", 10))).await;
    let breached = request(pool, PayoutSent, "byskills", Some(("breached", 5))).await;
    request(pool, Validating, "saas-kz", None).await;
    request(pool, Rejected, "saas-kz", None).await;
    // Refunded Monday 2 March 2026 09:00 Minsk → Friday 6 March 15:00: 102 hours, 4 working days.
    let done = refunded(
        pool,
        "2026-03-02T09:00:00+03:00",
        "2026-03-06T15:00:00+03:00",
    )
    .await;

    payout_attempt(pool, done, "declined").await;
    payout_attempt(pool, done, "succeeded").await;
    payout_attempt(pool, breached, "unknown").await;
    notification(pool, done, "received", "sent").await;
    notification(pool, done, "refunded", "sent").await;
    notification(pool, breached, "approved", "failed").await;
    notification(pool, at_risk, "approved", "pending").await;
    inbound(pool, "api", "created").await;
    inbound(pool, "imap", "attached").await;
    // Two daily reconciliations of one merchant: the latest counts; one still running does not.
    sqlx::query(
        "INSERT INTO reconciliations (merchant, day, finished_at, differences, report)
         VALUES ('byskills', '2026-04-18', now(), 0, '{}'), ('byskills', '2026-04-19', now(), 3, '{}'),
                ('app-studio', '2026-04-19', NULL, NULL, NULL)",
    )
    .execute(pool)
    .await
    .unwrap();
    inbound(pool, "imap", "attached").await;
    inbound(pool, "imap", "ignored").await;
    inbound(pool, "api", "failed").await;

    // Two messages wait for validate; decide has a consumer.
    let conn = shared::broker::connect(&broker.url, "metrics test")
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let validate = broker
        .topology
        .stage_queue(shared::messages::Stage::Validate);
    for _ in 0..2 {
        ch.basic_publish(
            "",
            &validate,
            BasicPublishOptions::default(),
            b"{}",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    let decide = broker.topology.stage_queue(shared::messages::Stage::Decide);
    let _consumer = ch
        .basic_consume(
            &decide,
            "metrics-test",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    // Confirmed messages are counted; a few scrapes leave room for a slow broker anyway.
    let mut m = scrape(&app, ApiRole::Viewer).await;
    for _ in 0..50 {
        if value(&m, "refundd_queue_messages", &[("stage", "validate")]) == Some(2.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        m = scrape(&app, ApiRole::Viewer).await;
    }

    // Open requests by state, merchant and SLA state; ended ones are not open.
    let open = |state, merchant, sla| {
        value(
            &m,
            "refundd_open_requests",
            &[("state", state), ("merchant", merchant), ("sla", sla)],
        )
    };
    assert_eq!(open("approved", "byskills", "at_risk"), Some(2.0));
    assert_eq!(open("payout_sent", "byskills", "breached"), Some(1.0));
    assert_eq!(open("validating", "saas-kz", "none"), Some(1.0));
    assert_eq!(series(&m, "refundd_open_requests").len(), 3);
    let longest = value(
        &m,
        "refundd_sla_at_risk_longest_seconds",
        &[("merchant", "byskills")],
    )
    .unwrap();
    assert!((7200.0..7500.0).contains(&longest), "{longest}");
    assert_eq!(series(&m, "refundd_sla_at_risk_longest_seconds").len(), 1);

    // Time to refund, in seconds and in working days on the Belarusian calendar.
    let seconds = buckets(&m, "refundd_time_to_refund_seconds", "byskills");
    assert_eq!(at_most(&seconds, 3.0 * 86400.0), 0.0);
    assert_eq!(at_most(&seconds, 5.0 * 86400.0), 1.0);
    let labels = [("merchant", "byskills")];
    assert_eq!(
        value(&m, "refundd_time_to_refund_seconds_sum", &labels),
        Some(102.0 * 3600.0)
    );
    assert_eq!(
        value(&m, "refundd_time_to_refund_seconds_count", &labels),
        Some(1.0)
    );
    let days = buckets(&m, "refundd_time_to_refund_working_days", "byskills");
    assert_eq!(at_most(&days, 3.0), 0.0);
    assert_eq!(at_most(&days, 5.0), 1.0);
    assert_eq!(
        value(&m, "refundd_time_to_refund_working_days_sum", &labels),
        Some(4.0)
    );
    // Merchants without refunds have empty histograms.
    assert_eq!(
        value(
            &m,
            "refundd_time_to_refund_seconds_count",
            &[("merchant", "saas-kz")]
        ),
        Some(0.0)
    );

    // Queues of every stage and parking.
    assert_eq!(value(&m, "refundd_broker_up", &[]), Some(1.0));
    for stage in [
        "validate", "decide", "payout", "notify", "webhook", "parking",
    ] {
        let expected = if stage == "validate" { 2.0 } else { 0.0 };
        let consumers = if stage == "decide" { 1.0 } else { 0.0 };
        assert_eq!(
            value(&m, "refundd_queue_messages", &[("stage", stage)]),
            Some(expected),
            "{stage}"
        );
        assert_eq!(
            value(&m, "refundd_queue_consumers", &[("stage", stage)]),
            Some(consumers),
            "{stage}"
        );
    }

    // Payouts: ended ones counted, the unknown one in flight.
    let payouts = |status| {
        value(
            &m,
            "refundd_payouts_total",
            &[("gateway", "sandbox"), ("status", status)],
        )
    };
    assert_eq!(payouts("succeeded"), Some(1.0));
    assert_eq!(payouts("declined"), Some(1.0));
    assert_eq!(
        value(
            &m,
            "refundd_payouts_in_flight",
            &[("gateway", "sandbox"), ("status", "unknown")]
        ),
        Some(1.0)
    );

    // Emails by event and status; every known event starts at zero.
    let emails = |event, status| {
        value(
            &m,
            "refundd_emails_total",
            &[("event", event), ("status", status)],
        )
    };
    assert_eq!(emails("received", "sent"), Some(1.0));
    assert_eq!(emails("refunded", "sent"), Some(1.0));
    assert_eq!(emails("approved", "failed"), Some(1.0));
    assert_eq!(emails("sla_breached", "sent"), Some(0.0));
    assert_eq!(value(&m, "refundd_emails_pending", &[]), Some(1.0));

    // The latest reconciliation's differences per merchant.
    assert_eq!(
        value(
            &m,
            "refundd_reconciliation_differences",
            &[("merchant", "byskills")]
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            &m,
            "refundd_reconciliation_differences",
            &[("merchant", "app-studio")]
        ),
        None
    );

    // Intake by source and outcome.
    let intake = |source, outcome| {
        value(
            &m,
            "refundd_intake_messages_total",
            &[("source", source), ("outcome", outcome)],
        )
    };
    assert_eq!(intake("api", "created"), Some(1.0));
    assert_eq!(intake("imap", "attached"), Some(2.0));
    assert_eq!(intake("imap", "ignored"), Some(1.0));
    assert_eq!(intake("api", "failed"), Some(1.0));
    assert_eq!(intake("imap", "created"), Some(0.0));
    assert_eq!(intake("api", "unverified"), Some(0.0));

    // Every metric says what it is.
    for name in [
        "refundd_open_requests",
        "refundd_time_to_refund_seconds",
        "refundd_queue_messages",
        "refundd_payouts_total",
        "refundd_emails_total",
        "refundd_intake_messages_total",
    ] {
        assert!(m.docs.contains_key(name), "no HELP for {name}");
    }

    // A later refund is observed once, however often Prometheus scrapes; earlier ones are not
    // observed again. A supervisor may scrape too.
    let later = refunded(
        pool,
        "2026-11-20T09:00:00+03:00",
        "2026-11-20T11:00:00+03:00",
    )
    .await;
    // Refunded now, as the payout role would.
    sqlx::query("UPDATE refund_requests SET ended_at = now() WHERE id = $1")
        .bind(later)
        .execute(pool)
        .await
        .unwrap();
    for _ in 0..2 {
        let m = scrape(&app, ApiRole::Supervisor).await;
        assert_eq!(
            value(&m, "refundd_time_to_refund_seconds_count", &labels),
            Some(2.0)
        );
    }

    conn.close(200, "done").await.ok();
    app.stop().await;
    broker.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_is_down_leaves_queue_figures_out_and_the_rest_in() {
    let app = TestApp::spawn_with(|ctx| {
        // Nothing listens on port 1.
        ctx.amqp_url = "amqp://guest:guest@127.0.0.1:1/%2f".into();
    })
    .await;
    request(&app.db.pool, RequestState::Approved, "byskills", None).await;
    let m = scrape(&app, ApiRole::Viewer).await;
    assert_eq!(value(&m, "refundd_broker_up", &[]), Some(0.0));
    assert!(series(&m, "refundd_queue_messages").is_empty());
    assert!(series(&m, "refundd_queue_consumers").is_empty());
    assert_eq!(
        value(
            &m,
            "refundd_open_requests",
            &[
                ("state", "approved"),
                ("merchant", "byskills"),
                ("sla", "none")
            ]
        ),
        Some(1.0)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_no_worker_declared_have_no_figures_and_the_broker_is_up() {
    let broker = TestBroker::new(&[Duration::from_secs(5)]);
    let app = TestApp::spawn_with(|ctx| {
        ctx.amqp_url = broker.url.clone();
        ctx.topology = broker.topology.clone();
    })
    .await;
    for _ in 0..2 {
        let m = scrape(&app, ApiRole::Viewer).await;
        assert_eq!(value(&m, "refundd_broker_up", &[]), Some(1.0));
        assert!(series(&m, "refundd_queue_messages").is_empty());
    }
    app.stop().await;
}

/// Where the pipeline's time goes: how long each worker stage's requests spent in the state
/// it works on (each move observed once, an event that moves nothing not at all), how long
/// the oldest work has waited for each stage, and how far the outbox is behind. A key of one
/// merchant sees none of it (the pipeline carries every merchant's work).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_figures_show_where_the_time_goes() {
    let app = TestApp::spawn().await;
    let pool = &app.db.pool;
    let moved = request(pool, RequestState::Approved, "byskills", None).await;
    sqlx::query(
        "INSERT INTO request_events (request_id, at, actor, from_state, to_state) VALUES
           ($1, now() - interval '10 s', 'api', NULL, 'received'),
           ($1, now() - interval '9 s', 'worker:validate', 'received', 'validating'),
           ($1, now() - interval '8 s', 'worker:notify', 'validating', 'validating'),
           ($1, now() - interval '6.5 s', 'worker:decide', 'validating', 'approved')",
    )
    .bind(moved)
    .execute(pool)
    .await
    .unwrap();
    let waiting = request(pool, RequestState::Received, "byskills", None).await;
    sqlx::query("UPDATE refund_requests SET updated_at = now() - interval '30 s' WHERE id = $1")
        .bind(waiting)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO outbox (message_id, routing_key, payload, created_at, published_at) VALUES
           (gen_random_uuid(), 'request.validate', '{}', now() - interval '20 s', NULL),
           (gen_random_uuid(), 'request.notify', '{}', now() - interval '41 s', now() - interval '40 s')",
    )
    .execute(pool)
    .await
    .unwrap();

    for _ in 0..2 {
        let m = scrape(&app, ApiRole::Viewer).await;
        let stage = |stage: &str, part: &str| {
            value(
                &m,
                &format!("refundd_stage_seconds_{part}"),
                &[("stage", stage)],
            )
        };
        // Observed once, however many scrapes: 1 s in `received`, 2.5 s in `validating`.
        assert_eq!(stage("validate", "count"), Some(1.0));
        assert!((stage("validate", "sum").unwrap() - 1.0).abs() < 0.01);
        assert_eq!(stage("decide", "count"), Some(1.0));
        assert!((stage("decide", "sum").unwrap() - 2.5).abs() < 0.01);
        assert_eq!(
            stage("notify", "count"),
            None,
            "an email event moves nothing"
        );

        let oldest = |stage: &str| {
            value(
                &m,
                "refundd_stage_oldest_waiting_seconds",
                &[("stage", stage)],
            )
            .unwrap()
        };
        assert!(
            (30.0..60.0).contains(&oldest("validate")),
            "{}",
            oldest("validate")
        );
        assert!(
            (40.0..70.0).contains(&oldest("notify")),
            "{}",
            oldest("notify")
        );
        assert_eq!(oldest("decide"), 0.0);
        assert_eq!(oldest("payout"), 0.0);
        let lag = value(&m, "refundd_outbox_lag_seconds", &[]).unwrap();
        assert!((20.0..50.0).contains(&lag), "{lag}");
    }
    // A customer's email due 90 s ago and not sent (its row, no message): notify's oldest.
    sqlx::query(
        "INSERT INTO notifications (id, request_id, event, seq, recipient, status,
                                    email_message_id, due_at)
         VALUES (gen_random_uuid(), $1, 'received', 1, '', 'pending', '<m@refundd>',
                 now() - interval '90 s')",
    )
    .bind(waiting)
    .execute(pool)
    .await
    .unwrap();
    let m = scrape(&app, ApiRole::Viewer).await;
    let notify = value(
        &m,
        "refundd_stage_oldest_waiting_seconds",
        &[("stage", "notify")],
    )
    .unwrap();
    assert!((90.0..120.0).contains(&notify), "{notify}");

    let one = app.merchant_key(ApiRole::Viewer, "byskills").await;
    let r = client()
        .get(app.url("/metrics"))
        .bearer_auth(one)
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    for name in [
        "refundd_stage_seconds_count",
        "refundd_stage_oldest_waiting_seconds{",
        "refundd_outbox_lag_seconds ",
    ] {
        assert!(
            !text.contains(name),
            "{name} shown to one merchant's key:\n{text}"
        );
    }
    app.stop().await;
}
