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

fuzz_target!(|data: &[u8]| {
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
