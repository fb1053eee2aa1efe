//! Customer emails through the real pipeline to a real SMTP server (the e2e crate's
//! `SmtpSink`): each language through a request's whole life, the server down for a while,
//! a permanent refusal, redeliveries, and escalations to the merchant.

use std::collections::BTreeMap;
use std::time::Duration;

use mail_parser::MessageParser;
use serde_json::{Value, json};
use shared::api_keys::ApiRole;
use shared::broker::consumer::Handler;
use shared::lifecycle::RequestState;
use shared::messages::{Stage, WorkMessage};
use shared::money::{Currency, Money};
use shared::notify::{Language, Mailer, format_date, format_money, request_tag};
use shared::transition::{self, Transition};
use uuid::Uuid;

use e2e::smtp_sink::{Answer, SmtpSink};
use e2e::{Pipeline, TestApp, TestBroker, eventually, notify_worker, wait_for_state};

async fn post(app: &TestApp, path: &str, role: ApiRole, body: Value) -> Value {
    app.post_ok(path, app.key(role), body).await
}

async fn patch_facts(app: &TestApp, id: &str, facts: Value) {
    let r = reqwest::Client::new()
        .patch(app.url(&format!("/v1/refund-requests/{id}/facts")))
        .bearer_auth(app.key(ApiRole::Support))
        .json(&facts)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
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

/// A payment and an application on it; returns the request id.
async fn apply(app: &TestApp, payment: Value, request: Value) -> String {
    let payment = post(app, "/v1/payments", ApiRole::Intake, payment).await;
    let mut request = request;
    request["payment"] = json!({"id": payment["id"]});
    let accepted = post(app, "/v1/refund-requests", ApiRole::Support, request).await;
    accepted["id"].as_str().unwrap().to_string()
}

/// One email as the server received it.
#[derive(Debug, Clone)]
struct Received {
    message_id: String,
    to: String,
    reply_to: String,
    subject: String,
    language: String,
    in_reply_to: Option<String>,
    text: String,
}

fn received(sink: &SmtpSink) -> Vec<Received> {
    sink.delivered()
        .iter()
        .map(|d| {
            let m = MessageParser::default().parse(&d.data).expect("parsable");
            Received {
                message_id: m.message_id().unwrap_or_default().to_owned(),
                to: d.rcpt_to.join(","),
                reply_to: m
                    .reply_to()
                    .and_then(|a| a.first())
                    .and_then(|a| a.address())
                    .unwrap_or_default()
                    .to_owned(),
                subject: m.subject().unwrap_or_default().to_owned(),
                language: m
                    .header_raw("Content-Language")
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
                in_reply_to: m.in_reply_to().as_text().map(str::to_owned),
                text: m.body_text(0).unwrap_or_default().replace("\r\n", "\n"),
            }
        })
        .collect()
}

/// The pending `event` email of request `id` made what a move wrote before migration
/// `20261205000900` was: a row sent when its notify message comes (no `due_at`), and that
/// message, as the relay published it (its id is the row's). Rows and messages of that kind
/// are still in the outbox and the queues when a system upgrades.
async fn message_for_row(pool: &sqlx::PgPool, id: Uuid, event: &str) -> WorkMessage {
    let row: Uuid = sqlx::query_scalar(
        "UPDATE notifications SET due_at = NULL
          WHERE request_id = $1 AND event = $2 AND status = 'pending'
      RETURNING id",
    )
    .bind(id)
    .bind(event)
    .fetch_one(pool)
    .await
    .unwrap();
    let mut message = WorkMessage::new(Stage::Notify, id).with_event(event);
    message.message_id = row;
    message
}

/// Whether a request's history has an event with this reason.
fn has_reason(history: &Value, reason: &str) -> bool {
    history
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["reason"] == reason)
}

fn mid(id: &str, event: &str, seq: u32) -> String {
    format!("rf-{id}-{event}-{seq}@refundd")
}

/// How many emails of each Message-ID the server has received.
fn counts(sink: &SmtpSink) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for email in received(sink) {
        *counts.entry(email.message_id).or_default() += 1;
    }
    counts
}

/// Waits until the server has received `expected` (each exactly once, nothing else), then a
/// little longer to see that nothing more arrives.
async fn assert_received_exactly(sink: &SmtpSink, expected: &[String]) {
    let want: BTreeMap<String, usize> = expected.iter().map(|id| (id.clone(), 1)).collect();
    let arrived = eventually(Duration::from_secs(30), || async {
        let now = counts(sink);
        expected.iter().all(|id| now.contains_key(id))
    })
    .await;
    assert!(
        arrived,
        "expected {want:#?}, the server has {:#?}",
        counts(sink)
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(counts(sink), want, "each email once, and nothing else");
}

fn email<'a>(all: &'a [Received], id: &str, event: &str, seq: u32) -> &'a Received {
    let wanted = mid(id, event, seq);
    all.iter()
        .find(|e| e.message_id == wanted)
        .unwrap_or_else(|| panic!("no email {wanted}"))
}

fn tag(id: &str) -> String {
    format!("[{}] ", request_tag(id.parse().unwrap()))
}

/// What the payout worker does once the gateway has paid: the payout attempt the gateway
/// booked, approved → payout_pending → payout_sent → refunded, and the `refunded` email.
async fn pay_out(pool: &sqlx::PgPool, id: &str) {
    let id: Uuid = id.parse().unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO payout_attempts (id, request_id, payment_id, idempotency_key, gateway,
                                      amount_minor, currency, status, gateway_ref)
         SELECT $2, r.id, r.payment_id, 'test-' || r.id, p.gateway, r.amount_minor, p.currency,
                'succeeded', 'sandbox-test'
           FROM refund_requests r JOIN payments p ON p.id = r.payment_id
          WHERE r.id = $1",
    )
    .bind(id)
    .bind(Uuid::now_v7())
    .execute(&mut *tx)
    .await
    .unwrap();
    let (mut from, mut version) = transition::lock_state(&mut tx, id).await.unwrap();
    for to in [
        RequestState::PayoutPending,
        RequestState::PayoutSent,
        RequestState::Refunded,
    ] {
        let messages: Vec<shared::outbox::OutboxMessage> = if to == RequestState::Refunded {
            vec![
                WorkMessage::new(Stage::Notify, id)
                    .with_event("refunded")
                    .into(),
            ]
        } else {
            Vec::new()
        };
        version = transition::apply(
            &mut tx,
            &Transition {
                request_id: id,
                expected_version: version,
                from,
                to,
                actor: "test:payout",
                reason: Some("paid by the sandbox gateway"),
                details: json!({}),
            },
            &messages,
        )
        .await
        .unwrap();
        from = to;
    }
    tx.commit().await.unwrap();
}

/// A request's email rows by event and sequence (emails about events that happen together,
/// such as `received` and a quick decision, are claimed in either order).
async fn notifications(pool: &sqlx::PgPool, id: &str) -> Vec<(String, i32, String)> {
    sqlx::query_as(
        "SELECT event, seq, status FROM notifications WHERE request_id = $1::uuid
          ORDER BY event, seq",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_language_gets_every_email_of_a_requests_life_once() {
    let app = TestApp::spawn().await;
    let broker = TestBroker::new(&[Duration::from_millis(200), Duration::from_millis(500)]);
    broker.declare().await;
    let sink = SmtpSink::start().await;
    let pipeline = Pipeline::start_with_notify(&app.db, &broker, &sink).await;

    // ru: the course progress is missing twice, then given: 90.00 BYN, paid back to the
    // Visa card.
    let ru = apply(
        &app,
        json!({
            "merchant": "byskills", "policy": "by-online-courses", "gateway": "sandbox",
            "gateway_transaction_id": "wp-ru", "amount": "450.00", "currency": "BYN",
            "paid_at": "2026-03-02T10:15:00+03:00", "card": {"brand": "visa", "last4": "4242"},
            "customer": {"email": "ivan@example.by", "language": "ru"}
        }),
        json!({
            "reason": "withdrawal", "contact": {"email": "ivan@example.by", "name": "Иван"},
            "facts": {"access_started_at": "2026-03-02"},
            "received_at": "2026-03-20T12:00:00+03:00"
        }),
    )
    .await;
    // kk: the subscription, confirmed by a supervisor: 57 391.30 KZT.
    let kk = apply(
        &app,
        json!({
            "merchant": "saas-kz", "policy": "kz-saas-subscription", "gateway": "sandbox",
            "gateway_transaction_id": "rk-kk", "amount": "60000.00", "currency": "KZT",
            "paid_at": "2026-03-02T09:00:00+05:00",
            "customer": {"email": "aigerim@example.kz"}
        }),
        json!({
            "reason": "withdrawal", "language": "kk",
            "facts": {"access_started_at": "2026-03-02", "reason_text": "сервис не подошёл"},
            "received_at": "2026-03-10T12:00:00+05:00"
        }),
    )
    .await;
    // lv: goods out of stock, the difference approved, then the customer withdraws.
    let lv = apply(
        &app,
        json!({
            "merchant": "webshop-lv", "policy": "lv-webshop", "gateway": "sandbox",
            "gateway_transaction_id": "st-lv", "amount": "100.00", "currency": "EUR",
            "paid_at": "2026-03-02T09:00:00+02:00",
            "customer": {"email": "janis@example.lv", "language": "lv"}
        }),
        json!({
            "reason": "out_of_stock_difference", "facts": {"invoiced_amount": "80.00"},
            "received_at": "2026-03-10T12:00:00+02:00"
        }),
    )
    .await;
    // en: an app order already accepted: declined, quoting the policy.
    let en = apply(
        &app,
        json!({
            "merchant": "app-studio", "policy": "by-app-studio", "gateway": "sandbox",
            "gateway_transaction_id": "wp-en", "amount": "120.00", "currency": "BYN",
            "paid_at": "2026-03-02T10:15:00+03:00",
            "customer": {"email": "john@example.com", "language": "en"}
        }),
        json!({
            "reason": "withdrawal", "facts": {"order_accepted": true},
            "received_at": "2026-03-05T12:00:00+03:00"
        }),
    )
    .await;

    wait_for_state(&app.db.pool, &ru, "needs_info").await;
    // Asked for the progress once (the same question is never sent twice in a row: an
    // answer that leaves it open goes to a person, see `e2e::intake api::a_reply_that_answers_
    // nothing_goes_to_a_person_not_the_same_question_again`).
    assert!(
        eventually(Duration::from_secs(15), || async {
            counts(&sink).contains_key(&mid(&ru, "needs_info", 1))
        })
        .await
    );
    patch_facts(&app, &ru, json!({"progress_percent": 35})).await;
    wait_for_state(&app.db.pool, &ru, "approved").await;
    pay_out(&app.db.pool, &ru).await;

    wait_for_state(&app.db.pool, &kk, "awaiting_confirmation").await;
    post(
        &app,
        &format!("/v1/refund-requests/{kk}/confirm"),
        ApiRole::Supervisor,
        json!({}),
    )
    .await;

    wait_for_state(&app.db.pool, &lv, "approved").await;
    post(
        &app,
        &format!("/v1/refund-requests/{lv}/withdraw"),
        ApiRole::Support,
        json!({}),
    )
    .await;

    wait_for_state(&app.db.pool, &en, "rejected").await;

    let expected = [
        mid(&ru, "received", 1),
        mid(&ru, "needs_info", 1),
        mid(&ru, "approved", 1),
        mid(&ru, "refunded", 1),
        mid(&kk, "received", 1),
        mid(&kk, "awaiting_confirmation", 1),
        mid(&kk, "approved", 1),
        mid(&lv, "received", 1),
        mid(&lv, "approved", 1),
        mid(&lv, "withdrawn", 1),
        mid(&en, "received", 1),
        mid(&en, "rejected", 1),
    ];
    assert_received_exactly(&sink, &expected).await;
    let all = received(&sink);

    // Every email: the customer's address, the request tag first in the subject, the
    // merchant's refunds mailbox as Reply-To, the language of the request.
    for (id, to, reply_to, language) in [
        (&ru, "ivan@example.by", "refunds@byskills.example", "ru"),
        (&kk, "aigerim@example.kz", "refunds@saas-kz.example", "kk"),
        (&lv, "janis@example.lv", "atmaksa@webshop-lv.example", "lv"),
        (&en, "john@example.com", "refunds@app-studio.example", "en"),
    ] {
        let mine: Vec<&Received> = all
            .iter()
            .filter(|e| e.message_id.contains(id.as_str()))
            .collect();
        assert!(!mine.is_empty());
        for e in mine {
            assert_eq!(e.to, to, "{}", e.message_id);
            assert!(e.subject.starts_with(&tag(id)), "{}", e.subject);
            assert_eq!(e.reply_to, reply_to, "{}", e.message_id);
            assert_eq!(e.language, language, "{}", e.message_id);
            assert_eq!(e.in_reply_to, None, "applications by API answer no email");
            assert!(
                !e.text.contains("4111") && !e.text.contains("450.00"),
                "{}",
                e.text
            );
        }
    }

    // ru: amounts and dates in Russian.
    let approved = email(&all, &ru, "approved", 1);
    assert!(
        approved.subject.ends_with(": возврат одобрен"),
        "{}",
        approved.subject
    );
    assert!(
        approved.text.contains("Здравствуйте, Иван!"),
        "{}",
        approved.text
    );
    assert!(
        approved.text.contains("90,00\u{a0}BYN"),
        "{}",
        approved.text
    );
    // Complete when the progress arrived (today): 30 BY working days from then.
    let due: chrono::NaiveDate = get(&app, &ru).await["due_on"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        approved.text.contains(&format!(
            "Срок возврата: не позднее {}",
            format_date(due, Language::Ru)
        )),
        "{}",
        approved.text
    );
    // A partial refund says why: the clause and the calculation (issue 16).
    assert!(
        approved.text.contains(
            "Расчёт: прогресс 35\u{a0}% → возвращается 20\u{a0}% от 450,00\u{a0}BYN = \
             90,00\u{a0}BYN"
        ),
        "{}",
        approved.text
    );
    assert!(
        approved
            .text
            .contains("Сумма меньше оплаченной по пункту условий возврата:"),
        "{}",
        approved.text
    );
    let refunded = email(&all, &ru, "refunded", 1);
    assert!(
        refunded
            .text
            .contains("90,00\u{a0}BYN на карту Visa •••• 4242"),
        "{}",
        refunded.text
    );
    let asked = email(&all, &ru, "needs_info", 1);
    assert!(
        asked.text.contains("процент"),
        "asks for the course progress: {}",
        asked.text
    );

    // kk: the confirmed amount, and the due date counted from the confirmation.
    let kzt = Money::parse("57391.30", Currency::KZT).unwrap();
    let waiting = email(&all, &kk, "awaiting_confirmation", 1);
    assert!(
        waiting.text.contains(&format_money(kzt, Language::Kk)),
        "{}",
        waiting.text
    );
    let due: chrono::NaiveDate = get(&app, &kk).await["due_on"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let approved = email(&all, &kk, "approved", 1);
    assert!(
        approved.text.contains(&format_money(kzt, Language::Kk)),
        "{}",
        approved.text
    );
    assert!(
        approved.text.contains(&format_date(due, Language::Kk)),
        "{}",
        approved.text
    );
    assert!(
        approved
            .text
            .contains("Есеп: 60\u{a0}000,00\u{a0}₸ − 2\u{a0}608,70\u{a0}₸ пайдаланылған күндер үшін (8/184 күн) = 57\u{a0}391,30\u{a0}₸"),
        "{}",
        approved.text
    );

    // lv: the difference and the date, in Latvian.
    let lv_view = get(&app, &lv).await;
    assert_eq!(lv_view["amount"], "20.00");
    let due: chrono::NaiveDate = lv_view["due_on"].as_str().unwrap().parse().unwrap();
    let approved = email(&all, &lv, "approved", 1);
    let eur = Money::parse("20.00", Currency::EUR).unwrap();
    assert!(
        approved.text.contains(&format_money(eur, Language::Lv)),
        "{}",
        approved.text
    );
    assert!(
        approved.text.contains(&format_date(due, Language::Lv)),
        "{}",
        approved.text
    );
    assert!(approved.text.contains("Aprēķins: "), "{}", approved.text);

    // en: the clause that declines it.
    let clause = get(&app, &en).await["decision"]["clause"]
        .as_str()
        .unwrap()
        .to_string();
    let rejected = email(&all, &en, "rejected", 1);
    assert!(
        rejected.subject.ends_with(": refund declined"),
        "{}",
        rejected.subject
    );
    assert!(
        rejected.text.contains(clause.lines().next().unwrap()),
        "{}",
        rejected.text
    );

    // The history says what was sent, once per email. (The `received` email and the first
    // `needs_info` one are sent at the same moment, so either may be written first.)
    let history = get(&app, &ru).await["history"].clone();
    let mut sent: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "worker:notify")
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    sent.sort_unstable();
    assert_eq!(
        sent,
        [
            "email sent: approved",
            "email sent: needs_info",
            "email sent: received",
            "email sent: refunded"
        ]
    );
    assert!(
        notifications(&app.db.pool, &ru)
            .await
            .iter()
            .all(|(_, _, status)| status == "sent")
    );

    pipeline.stop().await;
    broker.cleanup().await;
    app.stop().await;
}

/// The Russian of item 4 of seed 000, as the by-app-studio pack quotes it.
const ITEM_4_RU: &str = "Пункт 4: после принятия заказа денежные средства возврату не подлежат.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_quotes_the_merchants_terms_in_the_customers_language_or_the_merchants() {
    let app = TestApp::spawn().await;
    let broker = TestBroker::new(&[Duration::from_millis(200), Duration::from_millis(500)]);
    broker.declare().await;
    let sink = SmtpSink::start().await;
    let pipeline = Pipeline::start_with_notify(&app.db, &broker, &sink).await;

    // Orders already accepted at the app studio (a Belarusian merchant writing in Russian):
    // declined under item 4, for a Russian and a Kazakh customer.
    let mut ids = Vec::new();
    for language in ["ru", "kk"] {
        ids.push(
            apply(
                &app,
                json!({
                    "merchant": "app-studio", "policy": "by-app-studio", "gateway": "sandbox",
                    "gateway_transaction_id": format!("wp-clause-{language}"),
                    "amount": "120.00", "currency": "BYN", "paid_at": "2026-03-02T10:15:00+03:00",
                    "customer": {"email": format!("{language}@example.com"), "language": language}
                }),
                json!({
                    "reason": "withdrawal", "facts": {"order_accepted": true},
                    "received_at": "2026-03-05T12:00:00+03:00"
                }),
            )
            .await,
        );
    }
    let (ru, kk) = (&ids[0], &ids[1]);
    for id in [ru, kk] {
        wait_for_state(&app.db.pool, id, "rejected").await;
    }
    // The decision keeps the English clause and adds the pack's Russian.
    let decision = get(&app, ru).await["decision"].clone();
    assert_eq!(
        decision["clause"],
        "Item 4: after the order is accepted the money is not refundable."
    );
    assert_eq!(decision["clause_translations"], json!({"ru": ITEM_4_RU}));

    assert_received_exactly(
        &sink,
        &[
            mid(ru, "received", 1),
            mid(ru, "rejected", 1),
            mid(kk, "received", 1),
            mid(kk, "rejected", 1),
        ],
    )
    .await;
    let all = received(&sink);
    // The Russian customer reads the merchant's own words; so does the Kazakh one, in a
    // Kazakh email: the pack has no Kazakh text, and the merchant writes in Russian.
    for (id, language) in [(ru, "ru"), (kk, "kk")] {
        let rejected = email(&all, id, "rejected", 1);
        assert_eq!(rejected.language, language);
        assert!(rejected.text.contains(ITEM_4_RU), "{}", rejected.text);
        assert!(!rejected.text.contains("Item 4"), "{}", rejected.text);
    }

    pipeline.stop().await;
    broker.cleanup().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_for_a_while_loses_nothing_and_sends_nothing_twice() {
    let app = TestApp::spawn().await;
    // Retry tiers long enough together (about 9 s) to outlast the outage.
    let broker = TestBroker::new(&[
        Duration::from_millis(500),
        Duration::from_secs(1),
        Duration::from_secs(2),
        Duration::from_secs(5),
    ]);
    broker.declare().await;
    let mut sink = SmtpSink::start().await;
    let pipeline = Pipeline::start_with_notify(&app.db, &broker, &sink).await;

    // One email first, so the pool holds a connection the outage then breaks.
    let first = apply(
        &app,
        json!({
            "merchant": "app-studio", "policy": "by-app-studio", "gateway": "sandbox",
            "gateway_transaction_id": "wp-0", "amount": "120.00", "currency": "BYN",
            "paid_at": "2026-03-02T10:15:00+03:00",
            "customer": {"email": "first@example.com", "language": "en"}
        }),
        json!({"reason": "withdrawal", "facts": {"order_accepted": true},
               "received_at": "2026-03-05T12:00:00+03:00"}),
    )
    .await;
    wait_for_state(&app.db.pool, &first, "rejected").await;
    assert_received_exactly(
        &sink,
        &[mid(&first, "received", 1), mid(&first, "rejected", 1)],
    )
    .await;

    sink.stop().await;
    let ids = three_refused(&app, "wp", "c").await;
    // While the server is down: every email is claimed, none is sent, and the row says why.
    let pending = eventually(Duration::from_secs(10), || async {
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT status, error FROM notifications WHERE request_id <> $1::uuid")
                .bind(&first)
                .fetch_all(&app.db.pool)
                .await
                .unwrap();
        rows.len() == 6
            && rows
                .iter()
                .all(|(status, error)| status == "pending" && error.is_some())
    })
    .await;
    assert!(pending, "six emails pending with their transient error");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        received(&sink).len(),
        2,
        "nothing sent while the server is down"
    );

    sink.restart().await;
    let mut expected = vec![mid(&first, "received", 1), mid(&first, "rejected", 1)];
    for id in &ids {
        expected.push(mid(id, "received", 1));
        expected.push(mid(id, "rejected", 1));
    }
    assert_received_exactly(&sink, &expected).await;
    for id in &ids {
        assert_eq!(
            notifications(&app.db.pool, id).await,
            [
                ("received".to_string(), 1, "sent".to_string()),
                ("rejected".to_string(), 1, "sent".to_string())
            ]
        );
    }

    pipeline.stop().await;
    broker.cleanup().await;
    app.stop().await;
}

/// Three App Studio applications refused under the policy (two emails each: received and
/// rejected), with transaction ids `{txn}-1..3` and customers `{mail}1..3@example.com`; waits
/// until each is rejected.
async fn three_refused(app: &TestApp, txn: &str, mail: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 1..=3 {
        let id = apply(
            app,
            json!({
                "merchant": "app-studio", "policy": "by-app-studio", "gateway": "sandbox",
                "gateway_transaction_id": format!("{txn}-{n}"), "amount": "120.00",
                "currency": "BYN", "paid_at": "2026-03-02T10:15:00+03:00",
                "customer": {"email": format!("{mail}{n}@example.com"), "language": "en"}
            }),
            json!({"reason": "withdrawal", "facts": {"order_accepted": true},
                   "received_at": "2026-03-05T12:00:00+03:00"}),
        )
        .await;
        wait_for_state(&app.db.pool, &id, "rejected").await;
        ids.push(id);
    }
    ids
}

/// Open notify messages: in the outbox until the notify stage settles them (deletes the row).
async fn open_notify_messages(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE routing_key = 'request.notify'")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The customers' emails are sent from their rows when due: an outage of the SMTP server
/// longer than the retry tiers gives up nothing (each row is due again at the last tier, over
/// and over, its attempts counted, never parked), storms nothing (the attempts follow the
/// tiers), and when the server is back each email goes out once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_longer_than_the_retry_tiers_parks_nothing_for_good() {
    let app = TestApp::spawn().await;
    // Tiers that are used up in well under a second: the outage outlasts them.
    let broker = TestBroker::new(&[Duration::from_millis(200), Duration::from_millis(400)]);
    broker.declare().await;
    let mut sink = SmtpSink::start().await;
    sink.stop().await;
    let pipeline = Pipeline::start_with_notify(&app.db, &broker, &sink).await;
    let ids = three_refused(&app, "wp-park", "p").await;
    // Past the tiers: every row still pending, tried again and again at the last tier.
    let attempts = || async {
        sqlx::query_as::<_, (String, i32, Option<String>)>(
            "SELECT status, attempts, error FROM notifications ORDER BY id",
        )
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
    };
    assert!(
        eventually(Duration::from_secs(30), || async {
            let rows = attempts().await;
            rows.len() == 6
                && rows
                    .iter()
                    .all(|(status, n, error)| status == "pending" && *n >= 4 && error.is_some())
        })
        .await,
        "six emails pending, each tried past the tiers: {:?}",
        attempts().await
    );
    let before: i32 = attempts().await.iter().map(|(_, n, _)| n).sum();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after: i32 = attempts().await.iter().map(|(_, n, _)| n).sum();
    // Two seconds at the last tier (0.4 s) and the sender's poll: about five tries an email.
    assert!(
        (6..=6 * 8).contains(&(after - before)),
        "{} tries in 2 s for six emails: the last tier paces them",
        after - before
    );
    assert_eq!(open_notify_messages(&app.db.pool).await, 0, "no message");
    let parking = format!("{}.parking", broker.topology.prefix);
    assert_eq!(broker.queue_depth(&parking).await, 0, "nothing parked");
    assert!(received(&sink).is_empty());

    sink.restart().await;
    let mut expected = Vec::new();
    for id in &ids {
        expected.push(mid(id, "received", 1));
        expected.push(mid(id, "rejected", 1));
    }
    assert_received_exactly(&sink, &expected).await;
    for id in &ids {
        assert_eq!(
            notifications(&app.db.pool, id).await,
            [
                ("received".to_string(), 1, "sent".to_string()),
                ("rejected".to_string(), 1, "sent".to_string())
            ]
        );
    }
    // Sent is sent: later passes send nothing, however long they wait.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_received_exactly(&sink, &expected).await;

    pipeline.stop().await;
    broker.cleanup().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_is_marked_failed_in_the_history_and_not_retried() {
    let app = TestApp::spawn().await;
    let broker = TestBroker::new(&[Duration::from_millis(200), Duration::from_millis(400)]);
    broker.declare().await;
    let sink = SmtpSink::start().await;
    sink.answer_rcpt(Answer::Permanent);
    let pipeline = Pipeline::start_with_notify(&app.db, &broker, &sink).await;

    let id = apply(
        &app,
        json!({
            "merchant": "app-studio", "policy": "by-app-studio", "gateway": "sandbox",
            "gateway_transaction_id": "wp-550", "amount": "120.00", "currency": "BYN",
            "paid_at": "2026-03-02T10:15:00+03:00",
            "customer": {"email": "nobody@example.com", "language": "en"}
        }),
        json!({"reason": "withdrawal", "facts": {"order_accepted": true},
               "received_at": "2026-03-05T12:00:00+03:00"}),
    )
    .await;
    wait_for_state(&app.db.pool, &id, "rejected").await;
    let failed = eventually(Duration::from_secs(15), || async {
        notifications(&app.db.pool, &id).await
            == [
                ("received".to_string(), 1, "failed".to_string()),
                ("rejected".to_string(), 1, "failed".to_string()),
            ]
    })
    .await;
    assert!(failed, "{:?}", notifications(&app.db.pool, &id).await);

    // Visible to support in the request's history, with the server's answer.
    let history = get(&app, &id).await["history"].clone();
    let failures: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "worker:notify")
        .collect();
    assert_eq!(failures.len(), 2, "{history:#}");
    for f in &failures {
        let reason = f["reason"].as_str().unwrap();
        assert!(reason.starts_with("email failed: "), "{reason}");
        assert!(reason.contains("550"), "{reason}");
        assert_eq!(f["from"], f["to"], "an email changes no state");
    }

    // One try per email, well past every retry tier: no retry storm, nothing parked.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.rcpt_attempts(), 2);
    assert!(sink.delivered().is_empty());
    let parking = broker
        .topology
        .queues()
        .into_iter()
        .find(|q| q.contains("parking"))
        .expect("a parking queue");
    assert_eq!(broker.queue_depth(&parking).await, 0);

    pipeline.stop().await;
    broker.cleanup().await;
    app.stop().await;
}

/// The notify handler called directly, as RabbitMQ would redeliver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_and_repeated_messages_send_nothing_new() {
    let app = TestApp::spawn().await;
    let sink = SmtpSink::start().await;
    let mailer = sink.mailer();
    let notify = notify_worker(&app.db, mailer);
    let id = apply(
        &app,
        json!({
            "merchant": "app-studio", "policy": "by-app-studio", "gateway": "sandbox",
            "gateway_transaction_id": "wp-r", "amount": "120.00", "currency": "BYN",
            "paid_at": "2026-03-02T10:15:00+03:00",
            "customer": {"email": "anna@example.com", "language": "en"}
        }),
        json!({"reason": "withdrawal", "received_at": "2026-03-05T12:00:00+03:00"}),
    )
    .await;
    let request: Uuid = id.parse().unwrap();
    let message = message_for_row(&app.db.pool, request, "received").await;

    notify.handle(message.clone()).await.unwrap();
    // The same message again (a lost ack), and another message about the same event.
    notify.handle(message.clone()).await.unwrap();
    notify
        .handle(WorkMessage::new(Stage::Notify, request).with_event("received"))
        .await
        .unwrap();
    assert_eq!(
        counts(&sink),
        BTreeMap::from([(mid(&id, "received", 1), 1)])
    );

    // A crash between sending and marking leaves the row pending: the next delivery sends
    // again with the same Message-ID, for the receiving side to drop.
    sqlx::query("UPDATE notifications SET status = 'pending' WHERE id = $1")
        .bind(message.message_id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    notify.handle(message.clone()).await.unwrap();
    assert_eq!(
        counts(&sink),
        BTreeMap::from([(mid(&id, "received", 1), 2)])
    );
    notify.handle(message).await.unwrap();
    assert_eq!(
        counts(&sink),
        BTreeMap::from([(mid(&id, "received", 1), 2)])
    );

    // A transient refusal is retried by the consumer's tiers: the handler says so.
    sink.answer_rcpt(Answer::Transient);
    let withdrawn = WorkMessage::new(Stage::Notify, request).with_event("withdrawn");
    let error = notify.handle(withdrawn.clone()).await.unwrap_err();
    assert!(
        matches!(error, shared::broker::consumer::HandlerError::Transient(_)),
        "{error:?}"
    );
    sink.answer_rcpt(Answer::Accept);
    notify.handle(withdrawn).await.unwrap();
    assert_eq!(counts(&sink)[&mid(&id, "withdrawn", 1)], 1);

    // Nonsense is parked, not retried.
    let error = notify
        .handle(WorkMessage::new(Stage::Notify, request).with_event("refund_maybe"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, shared::broker::consumer::HandlerError::Permanent(_)),
        "{error:?}"
    );
    app.stop().await;
}

/// The sla role's escalations reach the merchant's support address, in English and the
/// merchant's language; a request with no customer address fails visibly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalations_go_to_the_merchant_and_missing_addresses_fail_visibly() {
    let app = TestApp::spawn().await;
    let temp = std::env::temp_dir().join(format!("refundd-spool-{}", Uuid::new_v4()));
    let mailer = Mailer::from_url(None, &temp).unwrap();
    let notify = notify_worker(&app.db, mailer);
    let id = e2e::insert_request(&app.db.pool, RequestState::Approved).await;
    sqlx::query(
        "UPDATE refund_requests SET merchant = 'byskills', due_on = '2026-04-20',
                amount_minor = 9000, currency = 'BYN', sla_state = 'breached' WHERE id = $1",
    )
    .bind(id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let mut conn = app.db.pool.acquire().await.unwrap();
    transition::record_event(
        &mut conn,
        id,
        "worker:sla",
        Some(RequestState::Approved),
        RequestState::Approved,
        Some("SLA breached"),
        &json!({"sla_to": "breached"}),
    )
    .await
    .unwrap();
    drop(conn);

    let breached = WorkMessage::new(Stage::Notify, id).with_event("sla_breached");
    notify.handle(breached.clone()).await.unwrap();
    notify.handle(breached).await.unwrap();
    let files: Vec<_> = std::fs::read_dir(&temp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        files,
        [temp.join(format!("rf-{id}-sla_breached-1@refundd.eml"))]
    );
    let raw = std::fs::read(&files[0]).unwrap();
    let parsed = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        parsed
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("support@byskills.example")
    );
    let subject = parsed.subject().unwrap();
    assert!(
        subject.starts_with(&tag(&id.to_string())) && subject.contains("SLA breached / "),
        "{subject}"
    );
    let text = parsed.body_text(0).unwrap();
    assert!(text.contains("by 20 April 2026"), "{text}");
    assert!(text.contains("20 апреля 2026 г."), "{text}");

    // The test request has no customer address: the email fails at once, in the history.
    notify
        .handle(WorkMessage::new(Stage::Notify, id).with_event("approved"))
        .await
        .unwrap();
    let status: String = sqlx::query_scalar(
        "SELECT status FROM notifications WHERE request_id = $1 AND event = 'approved'",
    )
    .bind(id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(status, "failed");
    let history = get(&app, &id.to_string()).await["history"].clone();
    assert!(
        has_reason(
            &history,
            "email failed: approved: the request has no customer email address"
        ),
        "{history:#}"
    );
    let _ = std::fs::remove_dir_all(&temp);
    app.stop().await;
}

/// The request's history says its `received` email failed for want of an address.
async fn assert_failed_for_no_address(app: &TestApp, id: &str) {
    let history = get(app, id).await["history"].clone();
    assert!(
        has_reason(
            &history,
            "email failed: received: the request has no customer email address"
        ),
        "{history:#}"
    );
}

/// Four App Studio applications (transaction ids `{txn}-0..3`, customers
/// `{mail}0..3@example.com`), each with its `received` email pending; the last request then
/// loses every address before its email goes out.
async fn four_the_last_with_no_address(app: &TestApp, txn: &str, mail: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..4 {
        let id = apply(
            app,
            json!({
                "merchant": "app-studio", "policy": "by-app-studio", "gateway": "sandbox",
                "gateway_transaction_id": format!("{txn}-{n}"), "amount": "120.00",
                "currency": "BYN", "paid_at": "2026-03-02T10:15:00+03:00",
                "customer": {"email": format!("{mail}{n}@example.com"), "language": "en"}
            }),
            json!({"reason": "withdrawal", "received_at": "2026-03-05T12:00:00+03:00"}),
        )
        .await;
        ids.push(id);
    }
    sqlx::query(
        "UPDATE payments SET customer_email = NULL
          WHERE id = (SELECT payment_id FROM refund_requests WHERE id = $1::uuid)",
    )
    .bind(&ids[3])
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE refund_requests SET contact_email = NULL WHERE id = $1::uuid")
        .bind(&ids[3])
        .execute(&app.db.pool)
        .await
        .unwrap();
    ids
}

/// Emails waiting together go out together (`Handler::handle_batch`): each once, each row
/// marked sent and its message settled in the batch's one transaction; an email that cannot
/// go out fails alone, visibly; the same batch delivered again sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_taken_together_go_out_once_each_and_a_failure_stays_alone() {
    let app = TestApp::spawn().await;
    let sink = SmtpSink::start().await;
    let notify = notify_worker(&app.db, sink.mailer());
    let ids = four_the_last_with_no_address(&app, "wp-batch", "anna").await;
    let mut messages = Vec::new();
    for id in &ids {
        messages.push(message_for_row(&app.db.pool, id.parse().unwrap(), "received").await);
    }

    let results = notify.handle_batch(messages.clone()).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let expected: BTreeMap<String, usize> = ids[..3]
        .iter()
        .map(|id| (mid(id, "received", 1), 1))
        .collect();
    assert_eq!(counts(&sink), expected);
    for (n, id) in ids.iter().enumerate() {
        // Settled: its outbox row is gone.
        let (status, settled): (String, bool) = sqlx::query_as(
            "SELECT n.status, NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = n.id)
               FROM notifications n
              WHERE n.request_id = $1::uuid AND n.event = 'received'",
        )
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        let expected = if n == 3 { "failed" } else { "sent" };
        assert_eq!((status.as_str(), settled), (expected, true), "request {n}");
    }
    assert_failed_for_no_address(&app, &ids[3]).await;

    // Delivered again (a lost ack): nothing new.
    let again = notify.handle_batch(messages).await;
    assert!(again.iter().all(Result::is_ok), "{again:?}");
    assert_eq!(counts(&sink), expected);
    app.stop().await;
}

/// The customers' emails about moves are sent from their rows when due, with no message: a
/// batch claimed, sent at once and marked in one transaction; an email that cannot go out
/// fails alone, visibly; a failure that passes leaves the row due again after the next retry
/// tier, its attempt counted; a row sent and left pending (a crash between sending and
/// marking) goes out once more with the same Message-ID; two senders at once send each
/// email once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_emails_go_out_once_each_and_a_failure_stays_alone() {
    let app = TestApp::spawn().await;
    let sink = SmtpSink::start().await;
    let notify = notify_worker(&app.db, sink.mailer())
        .retrying_after(vec![Duration::from_secs(60), Duration::from_secs(600)]);
    let ids = four_the_last_with_no_address(&app, "wp-due", "due").await;
    // No notify message for any of them: the rows are the work.
    let messages: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE routing_key = 'request.notify'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(messages, 0);

    assert_eq!(
        notify.send_due().await.unwrap(),
        4,
        "one batch claims all four"
    );
    let expected: BTreeMap<String, usize> = ids[..3]
        .iter()
        .map(|id| (mid(id, "received", 1), 1))
        .collect();
    assert_eq!(counts(&sink), expected);
    for (n, id) in ids.iter().enumerate() {
        let expected = if n == 3 { "failed" } else { "sent" };
        assert_eq!(
            notifications(&app.db.pool, id).await,
            [("received".to_string(), 1, expected.to_string())],
            "request {n}"
        );
    }
    assert_failed_for_no_address(&app, &ids[3]).await;
    // Nothing is due any more: nothing new.
    assert_eq!(notify.send_due().await.unwrap(), 0);
    assert_eq!(counts(&sink), expected);

    // A crash between sending and marking leaves the row pending and due: it goes out once
    // more with the same Message-ID (for the receiving side to drop), then never again, even
    // with two senders at once.
    sqlx::query(
        "UPDATE notifications SET status = 'pending', sent_at = NULL, due_at = now()
          WHERE request_id = $1::uuid",
    )
    .bind(&ids[0])
    .execute(&app.db.pool)
    .await
    .unwrap();
    let other = notify_worker(&app.db, sink.mailer());
    let (a, b) = tokio::join!(notify.send_due(), other.send_due());
    assert_eq!(
        a.unwrap() + b.unwrap(),
        1,
        "the row is claimed by one of the two"
    );
    assert_eq!(counts(&sink)[&mid(&ids[0], "received", 1)], 2);
    assert_eq!(notify.send_due().await.unwrap(), 0);
    assert_eq!(counts(&sink)[&mid(&ids[0], "received", 1)], 2);

    // A failure that passes: the row stays pending with the server's answer, due again
    // after the first retry tier (60 s here), the attempt counted; not claimed before then.
    sink.answer_rcpt(Answer::Transient);
    let later = apply(
        &app,
        json!({
            "merchant": "app-studio", "policy": "by-app-studio", "gateway": "sandbox",
            "gateway_transaction_id": "wp-due-later", "amount": "120.00",
            "currency": "BYN", "paid_at": "2026-03-02T10:15:00+03:00",
            "customer": {"email": "later@example.com", "language": "en"}
        }),
        json!({"reason": "withdrawal", "received_at": "2026-03-05T12:00:00+03:00"}),
    )
    .await;
    assert_eq!(notify.send_due().await.unwrap(), 1);
    let (status, attempts, wait, error): (String, i32, f64, Option<String>) = sqlx::query_as(
        "SELECT status, attempts, EXTRACT(EPOCH FROM due_at - now())::float8, error
           FROM notifications WHERE request_id = $1::uuid",
    )
    .bind(&later)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), attempts), ("pending", 1));
    assert!((50.0..=60.0).contains(&wait), "due again in {wait} s");
    assert!(
        error.is_some_and(|e| e.contains("451")),
        "the server's answer kept"
    );
    assert_eq!(notify.send_due().await.unwrap(), 0, "not due yet");
    // The second failure waits the second tier, and every one after it the last.
    for (n, tier) in [(2, 600.0), (3, 600.0)] {
        sqlx::query("UPDATE notifications SET due_at = now() WHERE request_id = $1::uuid")
            .bind(&later)
            .execute(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(notify.send_due().await.unwrap(), 1);
        let (attempts, wait): (i32, f64) = sqlx::query_as(
            "SELECT attempts, EXTRACT(EPOCH FROM due_at - now())::float8
               FROM notifications WHERE request_id = $1::uuid",
        )
        .bind(&later)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        assert_eq!(attempts, n);
        assert!(
            (tier - 10.0..=tier).contains(&wait),
            "attempt {n}: due again in {wait} s"
        );
    }
    sink.answer_rcpt(Answer::Accept);
    sqlx::query("UPDATE notifications SET due_at = now() WHERE request_id = $1::uuid")
        .bind(&later)
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(notify.send_due().await.unwrap(), 1);
    assert_eq!(counts(&sink)[&mid(&later, "received", 1)], 1);
    app.stop().await;
}

/// An application that came by email is answered in the customer's thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_to_an_emailed_application_join_the_customers_thread() {
    let app = TestApp::spawn().await;
    let sink = SmtpSink::start().await;
    let mailer = sink.mailer();
    let notify = notify_worker(&app.db, mailer);
    let id = apply(
        &app,
        json!({
            "merchant": "webshop-lv", "policy": "lv-webshop", "gateway": "sandbox",
            "gateway_transaction_id": "st-mail", "amount": "100.00", "currency": "EUR",
            "paid_at": "2026-03-02T09:00:00+02:00",
            "customer": {"email": "liga@example.lv", "language": "lv"}
        }),
        json!({"reason": "withdrawal", "received_at": "2026-03-05T12:00:00+02:00"}),
    )
    .await;
    let request: Uuid = id.parse().unwrap();
    // As the email intake stores it: the channel, and the customer's messages.
    sqlx::query("UPDATE refund_requests SET channel = 'email' WHERE id = $1")
        .bind(request)
        .execute(&app.db.pool)
        .await
        .unwrap();
    for (n, message_id) in ["<first@mail.example.lv>", "<second@mail.example.lv>"]
        .iter()
        .enumerate()
    {
        sqlx::query(
            "INSERT INTO inbound_emails (id, message_id, source, sender, subject, request_id,
                                         outcome, received_at)
             VALUES ($1, $2, 'imap', 'liga@example.lv', 'Atmaksa', $3, 'attached',
                     now() - make_interval(mins => $4))",
        )
        .bind(Uuid::now_v7())
        .bind(message_id)
        .bind(request)
        .bind(10 - n as i32)
        .execute(&app.db.pool)
        .await
        .unwrap();
    }

    assert_eq!(notify.send_due().await.unwrap(), 1);
    let delivered = sink.delivered();
    assert_eq!(delivered.len(), 1);
    let parsed = MessageParser::default().parse(&delivered[0].data).unwrap();
    assert_eq!(
        parsed.in_reply_to().as_text(),
        Some("second@mail.example.lv")
    );
    let references: Vec<String> = parsed
        .references()
        .as_text_list()
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        references,
        ["first@mail.example.lv", "second@mail.example.lv"]
    );
    assert_eq!(parsed.message_id(), Some(mid(&id, "received", 1).as_str()));
    assert!(parsed.subject().unwrap().starts_with(&tag(&id)));
    app.stop().await;
}

/// The payout worker on this test's broker, refunding the demo merchant `app-studio` through
/// the sandbox gateway at `sandbox`.
fn payout_worker(
    app: &TestApp,
    broker: &TestBroker,
    sandbox: &shared::gateway::sandbox::SandboxGateway,
    shutdown: &tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let gateways = std::collections::HashMap::from([(
        "app-studio".to_string(),
        shared::gateway::ConfiguredGateway::Sandbox(sandbox.clone()),
    )]);
    e2e::payout_worker(broker, &app.db.pool, gateways, shutdown)
}

/// Issue 16: the card has expired, so the refund goes by bank transfer (bank details, then a
/// supervisor marks it paid). The `refunded` email names the bank account the money went to,
/// never the card of the payment, in each language.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_transfer_refund_names_the_account_not_the_card_in_each_language() {
    use shared::gateway::sandbox::server::Faults;
    use shared::gateway::sandbox::{CardStatus, SandboxGateway};

    let app = TestApp::spawn().await;
    let broker = TestBroker::new(&[Duration::from_millis(200), Duration::from_millis(500)]);
    broker.declare().await;
    let mut sink = SmtpSink::start().await;
    let pipeline = Pipeline::start_with_notify(&app.db, &broker, &sink).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let sandbox_url = e2e::sandbox_gateway(Faults::default(), &shutdown).await;
    let sandbox = SandboxGateway::at(&sandbox_url, Duration::from_secs(2)).unwrap();
    let payout = payout_worker(&app, &broker, &sandbox, &shutdown);

    let paid_at = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let cases = [
        (
            "ru",
            "BY20 OLMP 3135 0000 0010 0000 0933",
            "Мы отправили 120,00\u{a0}BYN банковским переводом на ваш счёт, номер которого \
             оканчивается на 0933.",
        ),
        (
            "kk",
            "KZ86 125K ZT50 0410 0100",
            "120,00\u{a0}BYN сомасын банктік аударыммен нөмірі 0100 деп аяқталатын банк \
             шотыңызға аудардық.",
        ),
        (
            "lv",
            "LV80BANK0000435195001",
            "Esam pārskaitījuši 120,00\u{a0}BYN ar bankas pārskaitījumu uz Jūsu kontu, kura \
             numurs beidzas ar 5001.",
        ),
        (
            "en",
            "GB29 NWBK 6016 1331 9268 19",
            "We have sent BYN\u{a0}120.00 by bank transfer to your account ending in 6819.",
        ),
    ];
    let mut ids = Vec::new();
    for (language, _, _) in &cases {
        let txn = format!("bank-{language}-{}", Uuid::new_v4().simple());
        sandbox
            .register_payment(
                &txn,
                Money::parse("120.00", Currency::BYN).unwrap(),
                CardStatus::Expired,
            )
            .await
            .unwrap();
        let id = apply(
            &app,
            json!({
                "merchant": "app-studio", "policy": "by-app-studio", "gateway": "sandbox",
                "gateway_transaction_id": txn, "amount": "120.00", "currency": "BYN",
                "paid_at": paid_at, "card": {"brand": "visa", "last4": "4242"},
                "customer": {"email": format!("{language}@example.com"), "language": language}
            }),
            json!({"reason": "withdrawal", "facts": {"order_accepted": false}}),
        )
        .await;
        ids.push(id);
    }
    for ((_, details, _), id) in cases.iter().zip(&ids) {
        // The card has expired: the customer is asked for bank details.
        wait_for_state(&app.db.pool, id, "needs_bank_details").await;
        post(
            &app,
            &format!("/v1/refund-requests/{id}/bank-details"),
            ApiRole::Support,
            json!({"bank_details": details}),
        )
        .await;
        wait_for_state(&app.db.pool, id, "manual_payout").await;
        post(
            &app,
            &format!("/v1/refund-requests/{id}/mark-paid"),
            ApiRole::Supervisor,
            json!({"reference": "PP-2026-0042"}),
        )
        .await;
    }
    let expected: Vec<String> = ids.iter().map(|id| mid(id, "refunded", 1)).collect();
    let arrived = eventually(Duration::from_secs(30), || async {
        let now = counts(&sink);
        expected.iter().all(|m| now.contains_key(m))
    })
    .await;
    assert!(arrived, "{:#?}", counts(&sink));
    let all = received(&sink);
    for ((language, _, sentence), id) in cases.iter().zip(&ids) {
        let refunded = email(&all, id, "refunded", 1);
        assert_eq!(&refunded.language, language);
        assert!(
            refunded.text.contains(sentence),
            "{language}: {}",
            refunded.text
        );
        // The card's last 4 appear nowhere (the request tag, 8 random hex digits, may hold
        // "4242" by chance: it once did, RF-0CA4242E).
        let tag = shared::intake::RequestTag::for_request(id.parse().unwrap());
        assert!(
            !refunded.text.replace(tag.as_str(), "").contains("4242"),
            "{language}: {}",
            refunded.text
        );
        assert!(
            !refunded.text.contains("Visa"),
            "{language}: {}",
            refunded.text
        );
    }
    shutdown.cancel();
    payout.await.unwrap();
    pipeline.stop().await;
    sink.stop().await;
    app.stop().await;
}
