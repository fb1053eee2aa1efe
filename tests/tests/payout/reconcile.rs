//! Reconciliation (`shared::reconcile`, `refundd reconcile`, the sla role's daily run): the
//! sandbox gateway's refunds of a day against our attempts, with one difference of each kind
//! made on purpose; a clean day reports nothing; the CLI exits 1 on differences.

use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use shared::gateway::sandbox::server::Faults;
use shared::gateway::sandbox::{CardStatus, SandboxGateway};
use shared::gateway::{ConfiguredGateway, Gateway, RefundOrder, RefundOutcome};
use shared::money::{Currency, Money};
use shared::reconcile::{self, Kind};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::lost_answers::{approved, deliver};

fn tz() -> chrono_tz::Tz {
    chrono_tz::Europe::Minsk
}

fn today() -> NaiveDate {
    Utc::now().with_timezone(&tz()).date_naive()
}

// Multi-threaded: the sandbox gateway keeps answering while the CLI runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_is_reconciled_with_the_gateway_and_each_kind_of_difference_is_reported() {
    let db = e2e::TestDb::new().await;
    let pool = &db.pool;
    let shutdown = CancellationToken::new();
    let url = e2e::sandbox_gateway(Faults::default(), &shutdown).await;
    let sandbox = SandboxGateway::at(&url, Duration::from_secs(5)).unwrap();
    let gateway =
        || ConfiguredGateway::Sandbox(SandboxGateway::at(&url, Duration::from_secs(5)).unwrap());
    // Three refunds through the payout stage: booked at the gateway and here.
    let mut ids = Vec::new();
    for txn in ["rc-1", "rc-2", "rc-3"] {
        let id = approved(pool, "sandbox", txn).await;
        sandbox
            .register_payment(
                txn,
                Money::from_minor(10_000, Currency::BYN),
                CardStatus::Active,
            )
            .await
            .unwrap();
        assert_eq!(deliver(gateway(), pool, id, 2).await, "refunded");
        ids.push(id);
    }
    let clean = reconcile::run(
        &mut pool.acquire().await.unwrap(),
        &gateway(),
        "byskills",
        today(),
        tz(),
    )
    .await
    .unwrap();
    assert_eq!((clean.at_gateway, clean.ours), (3, 3));
    assert!(clean.differences.is_empty(), "{:?}", clean.differences);

    // Ours says 70.00 where the gateway booked 60.00.
    sqlx::query("UPDATE payout_attempts SET amount_minor = 7000 WHERE request_id = $1")
        .bind(ids[0])
        .execute(pool)
        .await
        .unwrap();
    // Ours holds a refund the gateway never made.
    sqlx::query("UPDATE payout_attempts SET gateway_ref = 'sbx_re_ghost', idempotency_key = 'rf-ghost', request_key = 'rf-ghost' WHERE request_id = $1")
        .bind(ids[1])
        .execute(pool)
        .await
        .unwrap();
    // The gateway made a refund nobody here asked for (in its cabinet, say).
    sandbox
        .register_payment(
            "rc-4",
            Money::from_minor(10_000, Currency::BYN),
            CardStatus::Active,
        )
        .await
        .unwrap();
    let outside = RefundOrder {
        gateway_transaction_id: "rc-4",
        amount: Money::from_minor(2_500, Currency::BYN),
        full: false,
        idempotency_key: "cabinet-1",
        request_key: "cabinet-1",
        payment_id: Uuid::now_v7(),
        request_id: Uuid::now_v7(),
        gateway_ref: None,
        order_number: None,
        paid_at: Utc::now(),
        attempted_at: Utc::now(),
        other_refs: &[],
    };
    assert!(matches!(
        gateway().refund(&outside).await,
        RefundOutcome::Succeeded { .. }
    ));

    let report = reconcile::run(
        &mut pool.acquire().await.unwrap(),
        &gateway(),
        "byskills",
        today(),
        tz(),
    )
    .await
    .unwrap();
    let mut kinds: Vec<(Kind, Option<String>, Option<String>)> = report
        .differences
        .iter()
        .map(|d| (d.kind, d.ours.clone(), d.theirs.clone()))
        .collect();
    kinds.sort_by_key(|k| format!("{:?}", k.0));
    assert_eq!(
        kinds,
        [
            (
                Kind::AmountDiffers,
                Some("70.00".into()),
                Some("60.00".into())
            ),
            (Kind::MissingAtGateway, Some("60.00".into()), None),
            // rc-2's real refund: its attempt no longer names it.
            (Kind::MissingHere, None, Some("60.00".into())),
            (Kind::MissingHere, None, Some("25.00".into())),
        ],
        "{:#?}",
        report.differences
    );
    // Yesterday has nothing.
    let yesterday = today().pred_opt().unwrap();
    let empty = reconcile::run(
        &mut pool.acquire().await.unwrap(),
        &gateway(),
        "byskills",
        yesterday,
        tz(),
    )
    .await
    .unwrap();
    assert!(empty.differences.is_empty() && empty.ours == 0 && empty.at_gateway == 0);

    // The CLI prints the differences and exits 1.
    let out = std::process::Command::new(e2e::refundd_bin())
        .args([
            "reconcile",
            "--merchant",
            "byskills",
            "--date",
            &today().to_string(),
        ])
        .env("DATABASE_URL", &db.url)
        .env("REFUNDD_SANDBOX_GATEWAY", url.trim_start_matches("http://"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("4 difference(s)"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("missing at the gateway") && stdout.contains("amount differs"),
        "{stdout}"
    );
    let out = std::process::Command::new(e2e::refundd_bin())
        .args([
            "reconcile",
            "--merchant",
            "byskills",
            "--date",
            &yesterday.to_string(),
        ])
        .env("DATABASE_URL", &db.url)
        .env("REFUNDD_SANDBOX_GATEWAY", url.trim_start_matches("http://"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The sla role's daily run reconciles yesterday once per merchant and keeps the report.
    let monitor = workers::roles::sla::SlaMonitor {
        pool: pool.clone(),
        packs: std::sync::Arc::new(shared::policy::PolicyPacks::builtin().clone()),
        calendars: std::sync::Arc::new(shared::calendar::Calendars::builtin()),
        interval: Duration::from_secs(60),
        retention_days: 90,
        payout_recheck_after: Duration::from_secs(1800),
        stall_after: Duration::from_secs(900),
        sweep_after_outage: Duration::from_secs(660),
        reconcile: vec![workers::roles::sla::Reconciler {
            merchant: "byskills".into(),
            gateway: gateway(),
            tz: tz(),
            support_email: "support@byskills.example".into(),
            language: "ru".into(),
        }],
    };
    let tomorrow_2am = tz()
        .from_local_datetime(&today().succ_opt().unwrap().and_hms_opt(2, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc);
    monitor.reconcile_yesterday(tomorrow_2am).await;
    monitor.reconcile_yesterday(tomorrow_2am).await;
    let stored: Vec<(NaiveDate, Option<i32>)> =
        sqlx::query_as("SELECT day, differences FROM reconciliations WHERE merchant = 'byskills'")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(stored, [(today(), Some(4))]);
    // Escalated once, by email to the merchant's support address through the notify stage.
    let queued: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE routing_key = 'request.notify' AND payload->>'event' = 'reconciliation_differences'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(queued.len(), 1);
    let sink = e2e::smtp_sink::SmtpSink::start().await;
    let notify = e2e::notify_worker(&db, sink.mailer());
    for _ in 0..2 {
        shared::broker::consumer::Handler::handle(
            &notify,
            serde_json::from_value(queued[0].clone()).unwrap(),
        )
        .await
        .unwrap();
    }
    let sent = sink.delivered();
    assert_eq!(sent.len(), 1, "sent once, however often delivered");
    assert_eq!(sent[0].rcpt_to, ["support@byskills.example"]);
    let email = mail_parser::MessageParser::default()
        .parse(&sent[0].data)
        .unwrap();
    let subject = email.subject().unwrap_or_default().to_string();
    assert!(subject.contains("4 difference(s)"), "{subject}");
    let body = email.body_text(0).unwrap_or_default().to_string();
    assert!(
        body.contains("missing at the gateway") && body.contains("amount differs"),
        "{body}"
    );
    assert!(body.contains("Ежедневная сверка"), "{body}");
    shutdown.cancel();
    db.drop_database().await;
}
