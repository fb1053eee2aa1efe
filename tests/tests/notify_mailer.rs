//! The mailer against a real SMTP conversation (the e2e crate's [`SmtpSink`]) and a real
//! spool folder.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use e2e::smtp_sink::{Answer, SmtpSink};
use mail_parser::{HeaderValue, MessageParser};
use shared::money::{Currency, Money};
use shared::notify::{
    EmailContext, Event, Language, Mailer, OutgoingEmail, RefundChannel, SendError, message_id,
    named_address, render, request_tag,
};
use tokio::net::TcpListener;
use uuid::Uuid;

fn request_id() -> Uuid {
    Uuid::parse_str("0196a3f2-7c1d-7b2e-9f00-123456789abc").unwrap()
}

fn refunded_email() -> OutgoingEmail {
    let ctx = EmailContext {
        event: Event::Refunded,
        language: Language::Ru,
        request_id: request_id(),
        request_tag: request_tag(request_id()),
        customer_name: Some("Анна".into()),
        merchant_name: "Онлайн-курсы «Старт»".into(),
        merchant_signature: "Служба поддержки «Старт»".into(),
        amount: Some(Money::parse("90.00", Currency::BYN).unwrap()),
        due_date: NaiveDate::from_ymd_opt(2026, 5, 5),
        clause: None,
        merchant_language: Some(Language::Ru),
        missing: Vec::new(),
        refund_channel: Some(RefundChannel::Card {
            brand: Some("Visa".into()),
            last4: "4242".into(),
        }),
        amount_reason: None,
    };
    OutgoingEmail {
        to: "Анна Петрова <anna@example.com>".into(),
        from: named_address("Онлайн-курсы «Старт»", "refunds@start-courses.by").unwrap(),
        reply_to: "refunds-intake@start-courses.by".into(),
        message_id: message_id(request_id(), Event::Refunded, 1),
        in_reply_to: None,
        references: Vec::new(),
        rendered: render(&ctx),
        auto_replied: false,
    }
    .in_reply_to_customer(
        "<CAHx7-customer-1@mail.example.com>",
        &["<CAHx7-customer-0@mail.example.com>".into()],
    )
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match (value.as_text_list(), value.as_text()) {
        (Some(list), _) => list.iter().map(ToString::to_string).collect(),
        (None, Some(id)) => vec![id.to_owned()],
        (None, None) => Vec::new(),
    }
}

/// Checks a delivered or spooled message against the email it was made from.
fn assert_message_matches(raw: &[u8], email: &OutgoingEmail) {
    let parsed = MessageParser::default()
        .parse(raw)
        .expect("a parsable message");
    assert_eq!(
        parsed.message_id(),
        Some("rf-0196a3f2-7c1d-7b2e-9f00-123456789abc-refunded-1@refundd")
    );
    assert_eq!(
        parsed.subject(),
        Some("[RF-56789ABC] Онлайн-курсы «Старт»: деньги возвращены")
    );
    let from = parsed.from().and_then(|a| a.first()).unwrap();
    assert_eq!(from.name(), Some("Онлайн-курсы «Старт»"));
    assert_eq!(from.address(), Some("refunds@start-courses.by"));
    let to = parsed.to().and_then(|a| a.first()).unwrap();
    assert_eq!(to.name(), Some("Анна Петрова"));
    assert_eq!(to.address(), Some("anna@example.com"));
    let reply_to = parsed.reply_to().and_then(|a| a.first()).unwrap();
    assert_eq!(reply_to.address(), Some("refunds-intake@start-courses.by"));
    assert_eq!(
        ids(parsed.in_reply_to()),
        vec!["CAHx7-customer-1@mail.example.com"]
    );
    assert_eq!(
        ids(parsed.references()),
        vec![
            "CAHx7-customer-0@mail.example.com",
            "CAHx7-customer-1@mail.example.com"
        ]
    );
    assert_eq!(
        parsed.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    let text = parsed.body_text(0).unwrap().replace("\r\n", "\n");
    assert_eq!(text, email.rendered.text);
    assert!(text.contains("Мы вернули 90,00\u{a0}BYN на карту Visa •••• 4242."));
    let html = parsed.body_html(0).unwrap().replace("\r\n", "\n");
    assert_eq!(html, email.rendered.html);
}

#[tokio::test]
async fn smtp_delivers_headers_threading_and_both_parts() {
    let sink = SmtpSink::start().await;
    let mailer = sink.mailer();
    let email = refunded_email();

    mailer.send(&email).await.unwrap();

    let delivered = sink.delivered();
    assert_eq!(delivered.len(), 1);
    let message = &delivered[0];
    assert!(!message.helo.is_empty());
    assert_eq!(message.mail_from, "refunds@start-courses.by");
    assert_eq!(message.rcpt_to, vec!["anna@example.com"]);
    assert_message_matches(&message.data, &email);

    // The pooled connection carries the next emails too: no new connection, no check first.
    for _ in 0..4 {
        mailer.send(&email).await.unwrap();
    }
    assert_eq!(sink.delivered().len(), 5);
    assert_eq!(sink.connections(), 1);
}

/// A connection kept open that the server closed meanwhile (it restarted, or dropped an idle
/// one) is not an error for the next email: nothing of it reached the server, so it goes on a
/// new connection, once (`shared::notify::smtp`, which checks no connection before using it).
#[tokio::test]
async fn a_kept_connection_the_server_closed_is_replaced_and_the_email_goes_once() {
    let mut sink = SmtpSink::start().await;
    let mailer = sink.mailer();
    mailer.send(&refunded_email()).await.unwrap();
    assert_eq!(sink.connections(), 1);

    sink.restart().await;
    mailer.send(&refunded_email()).await.unwrap();

    let delivered = sink.delivered();
    assert_eq!(delivered.len(), 2, "each email once");
    assert_eq!(sink.connections(), 2);
    assert_eq!(
        sink.rcpt_attempts(),
        2,
        "the second email was not half-sent on the old one"
    );
    assert_message_matches(&delivered[1].data, &refunded_email());
}

/// The same when the server answers the next command with 421 as it closes a kept connection
/// (an idle timeout, a shutdown): the email goes on a new connection, once.
#[tokio::test]
async fn a_kept_connection_the_server_answers_421_on_is_replaced_and_the_email_goes_once() {
    let sink = SmtpSink::start().await;
    let mailer = sink.mailer();
    mailer.send(&refunded_email()).await.unwrap();

    sink.close_open_sessions_with_421();
    mailer.send(&refunded_email()).await.unwrap();

    assert_eq!(sink.delivered().len(), 2, "each email once");
    assert_eq!(sink.connections(), 2);
    assert_eq!(sink.rcpt_attempts(), 2);

    // Replaced once only: what the new connection answers is the answer (here 451 on RCPT, a
    // transient failure the notify stage tries again later).
    sink.close_open_sessions_with_421();
    sink.answer_rcpt(Answer::Transient);
    let error = mailer.send(&refunded_email()).await.unwrap_err();
    assert!(
        matches!(&error, SendError::Transient(text) if text.contains("451")),
        "{error:?}"
    );
    assert_eq!(sink.connections(), 3);
    assert_eq!(sink.delivered().len(), 2);
}

/// Lines of the message that start with a dot arrive as written: the DATA block doubles them
/// and the server takes one away (RFC 5321 4.5.2); a line of a lone dot does not end the email.
#[tokio::test]
async fn lines_starting_with_a_dot_arrive_whole() {
    let sink = SmtpSink::start().await;
    let mailer = sink.mailer();
    let mut email = refunded_email();
    email.rendered.text = ".first line\n..\n.\nlast line\n".to_owned();
    mailer.send(&email).await.unwrap();
    let delivered = sink.delivered();
    assert_eq!(delivered.len(), 1);
    let parsed = MessageParser::default()
        .parse(&delivered[0].data)
        .expect("a parsable message");
    let text = parsed.body_text(0).unwrap().replace("\r\n", "\n");
    assert_eq!(text, email.rendered.text);
    let html = parsed.body_html(0).unwrap().replace("\r\n", "\n");
    assert_eq!(html, email.rendered.html);
}

#[tokio::test]
async fn smtp_4xx_on_rcpt_is_transient_and_a_later_retry_succeeds() {
    let sink = SmtpSink::start().await;
    let mailer = sink.mailer();
    sink.answer_rcpt(Answer::Transient);

    let error = mailer.send(&refunded_email()).await.unwrap_err();
    assert!(
        matches!(&error, SendError::Transient(text) if text.contains("451")),
        "{error:?}"
    );
    assert!(sink.delivered().is_empty());

    sink.answer_rcpt(Answer::Accept);
    mailer.send(&refunded_email()).await.unwrap();
    assert_eq!(sink.delivered().len(), 1);
}

#[tokio::test]
async fn smtp_550_on_rcpt_is_permanent() {
    let sink = SmtpSink::start().await;
    let mailer = sink.mailer();
    sink.answer_rcpt(Answer::Permanent);

    let error = mailer.send(&refunded_email()).await.unwrap_err();
    assert!(
        matches!(&error, SendError::Permanent(text) if text.contains("550")),
        "{error:?}"
    );
    assert!(sink.delivered().is_empty());
}

#[tokio::test]
async fn smtp_answers_to_data_are_classified_too() {
    let sink = SmtpSink::start().await;
    let mailer = sink.mailer();

    sink.answer_data(Answer::Transient);
    let error = mailer.send(&refunded_email()).await.unwrap_err();
    assert!(
        matches!(&error, SendError::Transient(text) if text.contains("452")),
        "{error:?}"
    );

    sink.answer_data(Answer::Permanent);
    let error = mailer.send(&refunded_email()).await.unwrap_err();
    assert!(
        matches!(&error, SendError::Permanent(text) if text.contains("554")),
        "{error:?}"
    );
    assert!(sink.delivered().is_empty());
}

#[tokio::test]
async fn unreachable_server_is_transient() {
    // A port that was just free: nothing listens there any more.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mailer =
        Mailer::from_url(Some(&format!("smtp://{addr}")), Path::new("/nonexistent")).unwrap();
    let error = mailer.send(&refunded_email()).await.unwrap_err();
    assert!(matches!(error, SendError::Transient(_)), "{error:?}");
}

#[tokio::test]
async fn invalid_recipient_is_permanent_before_any_connection() {
    let sink = SmtpSink::start().await;
    let mailer = sink.mailer();
    let mut email = refunded_email();
    email.to = "anna at example dot com".into();
    let error = mailer.send(&email).await.unwrap_err();
    assert!(
        matches!(&error, SendError::Permanent(text) if text.contains("the to address")),
        "{error:?}"
    );
    assert!(sink.delivered().is_empty());
}

/// A fresh folder under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("refundd-spool-test-{}", Uuid::new_v4()));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn spool_writes_an_eml_that_parses_back() {
    let temp = TempDir::new();
    let spool = temp.0.join("outbox");
    let mailer = Mailer::from_url(None, &spool).unwrap();
    let email = refunded_email();

    mailer.send(&email).await.unwrap();
    // At-least-once delivery of the notify job: the same email lands in the same file.
    mailer.send(&email).await.unwrap();

    let files: Vec<PathBuf> = std::fs::read_dir(&spool)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(
        files,
        vec![spool.join("rf-0196a3f2-7c1d-7b2e-9f00-123456789abc-refunded-1@refundd.eml")]
    );
    let raw = std::fs::read(&files[0]).unwrap();
    assert_message_matches(&raw, &email);
}

#[tokio::test]
async fn spool_that_cannot_be_written_is_transient() {
    let temp = TempDir::new();
    std::fs::create_dir_all(&temp.0).unwrap();
    let blocker = temp.0.join("a-file");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let mailer = Mailer::from_url(None, &blocker.join("outbox")).unwrap();
    let error = mailer.send(&refunded_email()).await.unwrap_err();
    assert!(matches!(error, SendError::Transient(_)), "{error:?}");
}
