//! The email intake never panics on any bytes, and whatever it returns carries no card number.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use shared::cards::contains_card_number;
use shared::intake::{
    CandidatePayment, RequestTag, auto_reply, match_payment, missing_for_application, parse,
    referenced_request,
};
use shared::money::{Currency, Money};
use uuid::Uuid;

/// mail-parser 0.11 checks its own MIME tree with `debug_assert!` ("Invalid part ID, could not
/// find multipart"); fuzz builds have debug assertions on, release builds do not. `parse`
/// catches that panic and answers `Unreadable` (regression input in
/// shared/tests/corpus/crashers/). libFuzzer's panic hook would abort on it before the catch, so
/// panics raised inside mail-parser are left to `parse`; every other panic still aborts.
fn tolerate_mail_parser_assertions() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_mail_parser = info
                .location()
                .is_some_and(|l| l.file().contains("mail-parser"));
            if !in_mail_parser {
                abort(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    tolerate_mail_parser_assertions();
    let Ok(email) = parse(data) else {
        return;
    };
    // Nothing the card-number detector recognises survives parsing.
    let names = [email.from_name.as_deref(), email.extracted.customer_name.as_deref()];
    for text in [Some(email.subject.as_str()), Some(email.body_text.as_str())]
        .into_iter()
        .chain(names)
        .flatten()
    {
        assert!(!contains_card_number(text), "card number left in {text:?}");
    }
    let paid_at = DateTime::<Utc>::from_timestamp(1_772_000_000, 0).unwrap();
    let candidates = [
        CandidatePayment {
            id: Uuid::from_u128(1),
            gateway_transaction_id: "884120077".into(),
            customer_email: Some("ivan.petrov@mail.ru".into()),
            amount: Money::from_minor(45_000, Currency::BYN),
            paid_at,
        },
        CandidatePayment {
            id: Uuid::from_u128(2),
            gateway_transaction_id: "RK-7781302".into(),
            customer_email: email.from_address.clone(),
            amount: Money::from_minor(6_000_000, Currency::KZT),
            paid_at,
        },
    ];
    let matched = match_payment(&email, &candidates);
    let missing = missing_for_application(&email, &matched);
    let tag = RequestTag::for_request(Uuid::from_u128(3));
    let (subject, text) = auto_reply(&email, &missing, "Webshop", &tag);
    assert!(subject.contains(tag.as_str()));
    assert!(!text.is_empty());
    let _ = referenced_request(&email);
});
