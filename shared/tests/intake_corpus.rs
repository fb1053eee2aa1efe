//! The email corpus (`tests/corpus/emails/*.eml`) against its expected outcomes
//! (`tests/corpus/expected.toml`): decoding, classification, extraction, threading, payment
//! matching, what is missing, and the auto-reply each email would get.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use shared::cards::contains_card_number;
use shared::identity::file::{FileLimits, inspect_with};
use shared::intake::{
    CandidatePayment, InboundEmail, MailKind, PaymentMatch, RequestRef, RequestTag, answerable,
    auto_reply, match_payment, missing_for_application, parse, referenced_request,
};
use shared::money::{Currency, Money};
use uuid::Uuid;

#[derive(Deserialize)]
struct Expected {
    payment: Vec<PaymentRow>,
    email: Vec<EmailCase>,
}

#[derive(Deserialize)]
struct PaymentRow {
    name: String,
    id: Uuid,
    gateway_transaction_id: String,
    customer_email: Option<String>,
    amount: String,
    currency: String,
    paid_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailCase {
    file: String,
    kind: String,
    language: String,
    /// The header value, or "sha256" for a message without one.
    message_id: String,
    from_address: Option<String>,
    subject: Option<String>,
    /// A request UUID (from our Message-ID) or a tag like RF-1A2B3C4D.
    request: Option<String>,
    payment_reference: Option<String>,
    amount: Option<String>,
    currency: Option<String>,
    reason: Option<String>,
    customer_name: Option<String>,
    customer_email: Option<String>,
    #[serde(default)]
    card_number_masked: bool,
    #[serde(rename = "match")]
    matched: Option<String>,
    #[serde(default)]
    payments: Vec<String>,
    missing: Option<Vec<String>>,
    /// "content/type filename" per attachment, in order.
    #[serde(default)]
    attachments: Vec<String>,
    #[serde(default)]
    body_contains: Vec<String>,
    #[serde(default)]
    body_excludes: Vec<String>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn expected() -> Expected {
    let text = std::fs::read_to_string(corpus_dir().join("expected.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

fn candidates(rows: &[PaymentRow]) -> (Vec<CandidatePayment>, HashMap<String, Uuid>) {
    let names = rows.iter().map(|r| (r.name.clone(), r.id)).collect();
    let candidates = rows
        .iter()
        .map(|r| CandidatePayment {
            id: r.id,
            gateway_transaction_id: r.gateway_transaction_id.clone(),
            customer_email: r.customer_email.clone(),
            amount: Money::parse(&r.amount, r.currency.parse().unwrap()).unwrap(),
            paid_at: r.paid_at,
        })
        .collect();
    (candidates, names)
}

fn load(file: &str) -> (Vec<u8>, InboundEmail) {
    let raw = std::fs::read(corpus_dir().join("emails").join(file)).unwrap();
    let email = parse(&raw).unwrap_or_else(|e| panic!("{file}: {e}"));
    (raw, email)
}

#[test]
fn corpus_has_every_case_and_enough_of_them() {
    let listed: BTreeSet<String> = expected().email.into_iter().map(|e| e.file).collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(corpus_dir().join("emails"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    assert_eq!(
        listed, on_disk,
        "expected.toml and emails/ must list the same files"
    );
    assert!(
        on_disk.len() >= 30,
        "the corpus has {} emails",
        on_disk.len()
    );
}

#[test]
fn every_email_parses_to_its_expected_outcome() {
    let expected = expected();
    let (candidates, names) = candidates(&expected.payment);
    let mut failures = Vec::new();
    for case in &expected.email {
        let (raw, email) = load(&case.file);
        if let Err(problems) = check(case, &raw, &email, &candidates, &names) {
            failures.push(format!("{}:\n  {}", case.file, problems.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn check(
    case: &EmailCase,
    raw: &[u8],
    email: &InboundEmail,
    candidates: &[CandidatePayment],
    names: &HashMap<String, Uuid>,
) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let mut expect = |what: &str, got: String, want: String| {
        if got != want {
            problems.push(format!("{what}: got {got}, expected {want}"));
        }
    };
    expect("kind", email.kind.as_str().into(), case.kind.clone());
    expect(
        "language",
        email.language.code().into(),
        case.language.clone(),
    );
    let message_id = if case.message_id == "sha256" {
        format!("sha256:{}", hex::encode(Sha256::digest(raw)))
    } else {
        case.message_id.clone()
    };
    expect("message id", email.message_id.clone(), message_id);
    expect(
        "from",
        format!("{:?}", email.from_address),
        format!("{:?}", case.from_address),
    );
    expect(
        "card number masked",
        email.card_number_masked.to_string(),
        case.card_number_masked.to_string(),
    );
    if let Some(subject) = &case.subject {
        expect("subject", email.subject.clone(), subject.clone());
    }
    let request = referenced_request(email).map(|r| match r {
        RequestRef::Id(id) => id.to_string(),
        RequestRef::Tag(tag) => tag.to_string(),
    });
    expect(
        "request",
        format!("{request:?}"),
        format!("{:?}", case.request),
    );
    let attachments: Vec<String> = email
        .attachments
        .iter()
        .map(|a| format!("{} {}", a.content_type, a.filename.as_deref().unwrap_or("")))
        .collect();
    if email.kind.from_a_person() || !case.attachments.is_empty() {
        expect(
            "attachments",
            format!("{attachments:?}"),
            format!("{:?}", case.attachments),
        );
    }
    for needle in &case.body_contains {
        if !email.body_text.contains(needle.as_str()) {
            problems.push(format!("body lacks {needle:?}:\n{}", email.body_text));
        }
    }
    for needle in &case.body_excludes {
        if email.body_text.contains(needle.as_str()) {
            problems.push(format!("body still has {needle:?}"));
        }
    }

    if email.kind.from_a_person() {
        let x = &email.extracted;
        let mut expect = |what: &str, got: String, want: String| {
            if got != want {
                problems.push(format!("{what}: got {got}, expected {want}"));
            }
        };
        expect(
            "payment reference",
            format!("{:?}", x.payment_reference),
            format!("{:?}", case.payment_reference),
        );
        let amount = x.amount.as_ref().map(|(a, _)| a.clone());
        let currency = x.amount.as_ref().and_then(|(_, c)| c.map(Currency::code));
        expect(
            "amount",
            format!("{amount:?}"),
            format!("{:?}", case.amount),
        );
        expect(
            "currency",
            format!("{currency:?}"),
            format!("{:?}", case.currency.as_deref()),
        );
        expect(
            "reason",
            format!("{:?}", x.reading.reason.map(shared::policy::Reason::name)),
            format!("{:?}", case.reason.as_deref()),
        );
        expect(
            "customer name",
            format!("{:?}", x.customer_name),
            format!("{:?}", case.customer_name),
        );
        expect(
            "customer email",
            format!("{:?}", x.customer_email),
            format!("{:?}", case.customer_email),
        );

        let matched = match_payment(email, candidates);
        let want_ids: Vec<Uuid> = case.payments.iter().map(|n| names[n]).collect();
        let want = match (case.matched.as_deref(), want_ids.as_slice()) {
            (Some("by_reference"), [id]) => PaymentMatch::ByReference(*id),
            (Some("by_sender_and_amount"), [id]) => PaymentMatch::BySenderAndAmount(*id),
            (Some("by_sender"), [id]) => PaymentMatch::BySender(*id),
            (Some("ambiguous"), ids) => PaymentMatch::Ambiguous(ids.to_vec()),
            (Some("none"), []) => PaymentMatch::None,
            other => panic!("{}: bad match expectation {other:?}", case.file),
        };
        expect("match", format!("{matched:?}"), format!("{want:?}"));

        if email.kind == MailKind::Application {
            let missing: Vec<String> = missing_for_application(email, &matched)
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect();
            let want = case
                .missing
                .clone()
                .unwrap_or_else(|| panic!("{}: applications list `missing`", case.file));
            expect("missing", format!("{missing:?}"), format!("{want:?}"));
        }
    } else if case.payment_reference.is_some() || case.matched.is_some() {
        problems.push("machine mail is not checked for extraction; remove those keys".into());
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[test]
fn nothing_parsed_contains_a_card_number() {
    for case in expected().email {
        let (_, email) = load(&case.file);
        let x = &email.extracted;
        let texts = [
            Some(email.subject.as_str()),
            Some(email.body_text.as_str()),
            email.from_name.as_deref(),
            x.customer_name.as_deref(),
            x.payment_reference.as_deref(),
        ];
        for text in texts.into_iter().flatten() {
            assert!(!contains_card_number(text), "{}: {text:?}", case.file);
        }
        for a in &email.attachments {
            if let Some(name) = &a.filename {
                assert!(!contains_card_number(name), "{}: {name}", case.file);
            }
        }
    }
}

#[test]
fn scans_are_real_jpeg_png_and_pdf_files() {
    let permissive = FileLimits {
        max_bytes: 1024 * 1024,
        max_pdf_pages: 5,
        min_short_side: 1,
        min_long_side: 1,
    };
    let mut seen = BTreeSet::new();
    for case in expected().email {
        let (_, email) = load(&case.file);
        for a in email.attachments.iter().filter(|a| {
            ["image/jpeg", "image/png", "application/pdf"].contains(&a.content_type.as_str())
        }) {
            let info = inspect_with(&a.bytes, &permissive)
                .unwrap_or_else(|p| panic!("{} {:?}: {p:?}", case.file, a.filename));
            assert_eq!(info.kind.mime_type(), a.content_type, "{}", case.file);
            seen.insert(a.content_type.clone());
        }
    }
    assert_eq!(
        seen.len(),
        3,
        "the corpus carries all three scan formats: {seen:?}"
    );
}

#[test]
fn machine_mail_is_never_answered_and_people_are() {
    for case in expected().email {
        let (_, email) = load(&case.file);
        assert_eq!(
            answerable(&email),
            email.kind.from_a_person(),
            "{}",
            case.file
        );
    }
}

#[test]
fn auto_replies_ask_in_the_customer_language_for_exactly_what_is_missing() {
    let expected = expected();
    let (candidates, _) = candidates(&expected.payment);
    let tag: RequestTag = "RF-0A1B2C3D".parse().unwrap();
    // A phrase of each language's list item, so the test sees which items were asked for.
    let asks = |language: &str, item: &str| -> &'static str {
        match (language, item) {
            ("ru", "payment_reference") => "номер заказа или номер транзакции",
            ("ru", "payment_choice") => "какой из ваших платежей",
            ("ru", "reason") => "почему вы просите вернуть деньги",
            ("ru", "customer_name") => "ваши фамилию и имя",
            ("kk", "payment_reference") => "тапсырыс нөмірі немесе",
            ("kk", "payment_choice") => "қай төлеміңіз туралы",
            ("kk", "reason") => "неліктен қайтаруды",
            ("kk", "customer_name") => "тегіңіз бен атыңызды",
            ("lv", "payment_reference") => "pasūtījuma numuru vai darījuma numuru",
            ("lv", "payment_choice") => "par kuru no jūsu maksājumiem",
            ("lv", "reason") => "kāpēc vēlaties atgūt naudu",
            ("lv", "customer_name") => "savu vārdu un uzvārdu",
            ("en", "payment_reference") => "the order number, or the transaction number",
            ("en", "payment_choice") => "which of your payments",
            ("en", "reason") => "why you are asking",
            ("en", "customer_name") => "your full name",
            other => panic!("no phrase for {other:?}"),
        }
    };
    let card_warning = |language: &str| match language {
        "ru" => "Никогда не отправляйте номер карты",
        "kk" => "Карта нөмірін ешқашан",
        "lv" => "Nekad nesūtiet kartes numuru",
        _ => "Never send your card number",
    };
    let all_items = [
        "payment_reference",
        "payment_choice",
        "reason",
        "customer_name",
    ];
    let mut answered = 0;
    for case in expected.email.iter().filter(|c| c.kind == "application") {
        let (_, email) = load(&case.file);
        let missing = missing_for_application(&email, &match_payment(&email, &candidates));
        let (subject, text) = auto_reply(&email, &missing, None, "Webshop", &tag);
        let language = email.language.code();
        assert!(
            subject.starts_with("[RF-0A1B2C3D] "),
            "{}: {subject}",
            case.file
        );
        let asked: Vec<&str> = missing.iter().map(|m| m.as_str()).collect();
        for item in all_items {
            assert_eq!(
                text.contains(asks(language, item)),
                asked.contains(&item),
                "{}: item {item} in\n{text}",
                case.file
            );
        }
        assert_eq!(
            text.contains(card_warning(language)),
            email.card_number_masked,
            "{}: card warning in\n{text}",
            case.file
        );
        if !missing.is_empty() {
            assert!(
                text.contains("RF-0A1B2C3D"),
                "{}: the tag is explained",
                case.file
            );
        }
        answered += 1;
    }
    assert!(answered >= 20);
}

#[test]
fn the_same_bytes_give_the_same_dedup_key_and_a_changed_byte_another() {
    let (raw, first) = load("30_no_message_id.eml");
    let again = parse(&raw).unwrap();
    assert_eq!(first.message_id, again.message_id);
    let mut changed = raw.clone();
    let last = changed.len() - 3;
    changed[last] = b'!';
    assert_ne!(parse(&changed).unwrap().message_id, first.message_id);
    // A message with a Message-ID keeps it whatever else differs (a redelivery with other
    // Received headers is the same email).
    let (raw, with_id) = load("01_ru_utf8_qp_order.eml");
    let mut redelivered =
        b"Received: from mx2.example.com by imap; Fri, 20 Mar 2026 10:16:00 +0300\r\n".to_vec();
    redelivered.extend_from_slice(&raw);
    assert_eq!(parse(&redelivered).unwrap().message_id, with_id.message_id);
}
