//! Properties of the email intake over generated input: the parser never panics, a card
//! number never survives parsing whatever its spacing or transfer encoding, and a payment
//! match is never a guess between equals.

use std::path::Path;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use shared::cards::{contains_card_number, luhn_valid};
use shared::intake::{CandidatePayment, PaymentMatch, match_payment, parse};
use shared::money::{Currency, Money};
use uuid::Uuid;

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/emails");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// A Luhn-valid card number of `len` digits starting with `prefix` digits.
fn card_number(prefix: &[u8], len: usize) -> String {
    let mut digits: Vec<u8> = prefix.iter().map(|d| b'0' + d % 10).collect();
    digits.truncate(len - 1);
    while digits.len() < len - 1 {
        digits.push(b'0' + (digits.len() as u8 * 7) % 10);
    }
    for check in b'0'..=b'9' {
        digits.push(check);
        if luhn_valid(&digits) {
            return String::from_utf8(digits).unwrap();
        }
        digits.pop();
    }
    unreachable!("one check digit always completes a Luhn number")
}

/// The digits in groups of four joined by `separator` ("" for none).
fn grouped(number: &str, separator: &str) -> String {
    number
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(separator)
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&raw);
    }

    #[test]
    fn parse_never_panics_on_damaged_corpus_mail(
        pick in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..16),
    ) {
        let corpus = corpus();
        let mut raw = pick.get(&corpus).clone();
        for (at, byte) in flips {
            let i = at.index(raw.len());
            raw[i] = byte;
        }
        let keep = cut.index(raw.len() + 1);
        raw.truncate(keep);
        let _ = parse(&raw);
    }

    #[test]
    fn card_numbers_never_survive_parsing(
        prefix in proptest::collection::vec(0u8..10, 1..6),
        len in 13usize..=19,
        separator in prop::sample::select(vec!["", " ", "-"]),
        in_base64 in any::<bool>(),
    ) {
        let number = card_number(&prefix, len);
        let written = grouped(&number, separator);
        let body = format!("Здравствуйте! Верните деньги на карту {written}, заказ 884120077.\r\n");
        let (encoding, encoded) = if in_base64 {
            ("base64", base64(body.as_bytes()))
        } else {
            ("8bit", body.clone())
        };
        let raw = format!(
            "From: a@b.by\r\nSubject: card {written}\r\nMessage-ID: <p@b.by>\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n{encoded}\r\n"
        );
        let email = parse(raw.as_bytes()).unwrap();
        prop_assert!(email.card_number_masked);
        prop_assert!(!contains_card_number(&email.subject), "{}", email.subject);
        prop_assert!(!contains_card_number(&email.body_text), "{}", email.body_text);
        prop_assert!(email.body_text.contains(&number[len - 4..]), "the last four stay");
        prop_assert_eq!(email.extracted.payment_reference.as_deref(), Some("884120077"));
    }

    #[test]
    fn an_equal_second_payment_makes_any_match_ambiguous(
        amount_minor in 1i64..10_000_000,
        by_reference in any::<bool>(),
    ) {
        let amount = Money::from_minor(amount_minor, Currency::EUR);
        let text_amount = amount.amount_text();
        let paid_at: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().unwrap();
        let reference = if by_reference { "Order EVP-77001." } else { "" };
        let raw = format!(
            "From: Anna Ozola <anna@example.lv>\r\nSubject: atmaksa\r\nMessage-ID: <m@x>\r\n\r\n\
             Lūdzu atmaksu {text_amount} EUR. {reference}\r\n"
        );
        let email = parse(raw.as_bytes()).unwrap();
        let first = CandidatePayment {
            id: Uuid::from_u128(1),
            gateway_transaction_id: "EVP-77001".into(),
            customer_email: Some("anna@example.lv".into()),
            amount,
            paid_at,
        };
        let alone = match_payment(&email, std::slice::from_ref(&first));
        prop_assert_eq!(alone.payment(), Some(first.id));
        // The same transaction id twice (a registry mistake) or a second equal payment from
        // the same sender: both fit, so neither is chosen.
        let twin = CandidatePayment { id: Uuid::from_u128(2), paid_at: paid_at + chrono::Duration::days(1), ..first.clone() };
        let both = match_payment(&email, &[first.clone(), twin.clone()]);
        prop_assert_eq!(both, PaymentMatch::Ambiguous(vec![twin.id, first.id]));
    }
}

/// Inputs that once crashed the parser (found by `cargo fuzz run intake_parse`): each must
/// come back as an answer, never a panic.
#[test]
fn messages_that_crashed_the_parser_are_answered() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/crashers");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let raw = std::fs::read(entry.unwrap().path()).unwrap();
        let _ = parse(&raw);
        seen += 1;
    }
    assert!(
        seen >= 1,
        "the crashers folder holds the inputs fuzzing found"
    );
}
