//! Snapshots of every customer email: each event in each language, text and HTML parts,
//! plus one `needs_info` email per language that lists every item the policy engine and the
//! identity checks can ask for. Review changes with `cargo insta review`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use shared::identity::ProblemCode;
use shared::money::{Currency, Money};
use shared::notify::{
    AmountReason, EmailContext, Event, Language, RefundChannel, render, request_tag,
};
use shared::policy::{Clause, DocumentKind, FactName};
use uuid::Uuid;

/// A customer of a merchant in each language's country, with that merchant's currency.
fn customer(language: Language) -> (Option<&'static str>, &'static str, &'static str, Money) {
    match language {
        Language::Ru => (
            Some("Анна"),
            "Онлайн-курсы «Старт»",
            "Служба поддержки «Старт»\nsupport@start-courses.by\n+375 17 000-00-00",
            Money::parse("90.00", Currency::BYN).unwrap(),
        ),
        Language::Kk => (
            Some("Айгүл"),
            "CloudSoft",
            "CloudSoft қолдау қызметі\nhelp@cloudsoft.kz",
            Money::parse("57391.30", Currency::KZT).unwrap(),
        ),
        Language::Lv => (
            Some("Līga"),
            "Veikals.lv",
            "Veikals.lv klientu apkalpošana\natbalsts@veikals.lv",
            Money::parse("29.95", Currency::EUR).unwrap(),
        ),
        Language::En => (
            None,
            "Gadget Store",
            "Gadget Store customer care\ncare@gadgets.example",
            Money::parse("1234.50", Currency::EUR).unwrap(),
        ),
    }
}

/// The language each merchant writes its terms in: the Kazakh customer's merchant writes in
/// Russian (like the SaaS pack of seed 001).
fn merchant_language(customer: Language) -> Language {
    match customer {
        Language::Kk => Language::Ru,
        other => other,
    }
}

/// A clause as the shipped packs write it: §8.5 of seed 001 (English and Russian) for the
/// Russian, Kazakh and English customers, item 7 of seed 004 (English and Latvian) for the
/// Latvian one. The Kazakh customer is quoted the Russian: the pack has no Kazakh text.
fn rejection_clause(customer: Language) -> Clause {
    match customer {
        Language::Lv => Clause::new(
            "Item 7: the invoice is not lower than the amount paid, so there is no difference \
             to return.",
            BTreeMap::from([(
                Language::Lv,
                "7. punkts: rēķina summa nav mazāka par samaksāto summu, tāpēc nav starpības, \
                 ko atdot."
                    .to_owned(),
            )]),
        ),
        _ => Clause::new(
            "§8.5: if the terms of the agreement are violated, prepaid money is not returned.",
            BTreeMap::from([(
                Language::Ru,
                "Пункт 8.5: в случае нарушения условий Договора предоплаченные денежные средства \
                 не возвращаются."
                    .to_owned(),
            )]),
        ),
    }
}

/// What each event's email typically carries.
fn context(event: Event, language: Language) -> EmailContext {
    let request_id = Uuid::parse_str("0196a3f2-7c1d-7b2e-9f00-123456789abc").unwrap();
    let (name, merchant, signature, amount) = customer(language);
    let shows_amount = matches!(
        event,
        Event::Approved
            | Event::AwaitingConfirmation
            | Event::Refunded
            | Event::PayoutDelayed
            | Event::RefundReversed
            | Event::BankDetailsNeeded
    );
    let missing: Vec<String> = match event {
        Event::NeedsInfo => match language {
            Language::Ru => vec!["progress_percent".into(), "bank_details".into()],
            Language::Kk => vec!["reason_text".into(), "document_expired".into()],
            Language::Lv => vec!["identity_document".into(), "file_heic".into()],
            Language::En => vec![
                "proof_of_purchase".into(),
                "mrz_check_digit".into(),
                "loyalty_card".into(),
            ],
        },
        Event::BankDetailsNeeded => vec!["bank_details".into()],
        _ => Vec::new(),
    };
    EmailContext {
        event,
        language,
        request_id,
        request_tag: request_tag(request_id),
        customer_name: name.map(str::to_owned),
        merchant_name: merchant.into(),
        merchant_signature: signature.into(),
        amount: shows_amount.then_some(amount),
        due_date: matches!(event, Event::Approved | Event::PayoutDelayed)
            .then(|| NaiveDate::from_ymd_opt(2026, 5, 5).unwrap()),
        clause: (event == Event::Rejected).then(|| rejection_clause(language)),
        merchant_language: Some(merchant_language(language)),
        missing,
        refund_channel: (event == Event::Refunded).then(|| RefundChannel::Card {
            brand: Some("Visa".to_owned()),
            last4: "4242".to_owned(),
        }),
        amount_reason: None,
    }
}

#[test]
fn every_event_in_every_language() {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for &language in Language::ALL {
            for &event in Event::ALL {
                let email = render(&context(event, language));
                let name = format!("{}_{}", event.as_str(), language.code());
                insta::assert_snapshot!(
                    format!("{name}_text"),
                    format!("Subject: {}\n\n{}", email.subject, email.text)
                );
                insta::assert_snapshot!(format!("{name}_html"), email.html);
            }
        }
    });
}

/// The `refunded` email of a refund paid by bank transfer (the card could not take it, or the
/// pack pays by bank): it names the account, never the payment's card.
#[test]
fn refunded_by_bank_transfer_in_every_language() {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for &language in Language::ALL {
            let mut ctx = context(Event::Refunded, language);
            ctx.refund_channel = RefundChannel::bank_account("LV80 BANK 0000 4351 9500 1");
            let email = render(&ctx);
            let name = format!("refunded_bank_transfer_{}", language.code());
            insta::assert_snapshot!(
                format!("{name}_text"),
                format!("Subject: {}\n\n{}", email.subject, email.text)
            );
            insta::assert_snapshot!(format!("{name}_html"), email.html);
        }
    });
}

/// The `approved` email of a partial refund says why: the clause and the calculation, in the
/// customer's language. A course 35 % done (20 % of 450.00 BYN back) and a subscription
/// withdrawn after 8 of 184 days (60 000.00 KZT less 2 608.70), from decisions as the engine
/// stores them.
#[test]
fn approved_partial_refunds_explain_the_amount_in_every_language() {
    let tier = serde_json::json!({
        "decision": "approve", "amount": "90.00", "currency": "BYN",
        "clause": "§11 c): after 30 % and up to 50 % of the course, 20 % of the price is returned.",
        "clause_translations": {"ru": "§11 в): после 30 % и до 50 % курса возвращается 20 % стоимости."},
        "calculation": {"kind": "tier", "fact": "progress_percent", "value": 35, "percent": 20, "paid": "450.00"}
    });
    let pro_rata = serde_json::json!({
        "decision": "approve", "amount": "57391.30", "currency": "KZT",
        "clause": "§8.3: the price less the days of service used is returned.",
        "clause_translations": {"ru": "§8.3: возвращается стоимость за вычетом дней использования."},
        "calculation": {"kind": "pro_rata_days", "paid": "60000.00", "term_days": 184, "used_days": 8, "rendered": "2608.70"}
    });
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for &language in Language::ALL {
            for (name, decision, amount) in [
                ("tier", &tier, Money::parse("90.00", Currency::BYN).unwrap()),
                (
                    "pro_rata",
                    &pro_rata,
                    Money::parse("57391.30", Currency::KZT).unwrap(),
                ),
            ] {
                let mut ctx = context(Event::Approved, language);
                ctx.amount = Some(amount);
                ctx.clause = Clause::from_decision(decision);
                ctx.merchant_language = Some(Language::Ru);
                ctx.amount_reason = AmountReason::from_decision(decision, amount);
                assert!(ctx.amount_reason.is_some(), "{name}");
                let email = render(&ctx);
                let snap = format!("approved_partial_{name}_{}", language.code());
                insta::assert_snapshot!(
                    format!("{snap}_text"),
                    format!("Subject: {}\n\n{}", email.subject, email.text)
                );
                insta::assert_snapshot!(format!("{snap}_html"), email.html);
            }
        }
    });
}

#[test]
fn a_full_refund_or_an_amount_a_person_chose_has_no_calculation() {
    let full = serde_json::json!({
        "amount": "450.00",
        "calculation": {"kind": "full", "paid": "450.00"}
    });
    let byn = |text: &str| Money::parse(text, Currency::BYN).unwrap();
    assert_eq!(AmountReason::from_decision(&full, byn("450.00")), None);
    let tier = serde_json::json!({
        "amount": "90.00",
        "calculation": {"kind": "tier", "fact": "progress_percent", "value": 35, "percent": 20, "paid": "450.00"}
    });
    assert!(AmountReason::from_decision(&tier, byn("90.00")).is_some());
    // A supervisor approved 50.00 instead: the policy's calculation does not explain it.
    assert_eq!(AmountReason::from_decision(&tier, byn("50.00")), None);
    let mut ctx = context(Event::Approved, Language::En);
    ctx.amount_reason = None;
    assert!(!render(&ctx).text.contains("Calculation"));
    // A calculation without a clause: no intro left pointing at a clause that is not there.
    ctx.amount = Some(byn("90.00"));
    ctx.amount_reason = AmountReason::from_decision(&tier, byn("90.00"));
    ctx.clause = None;
    let text = render(&ctx).text;
    assert!(text.contains("Calculation"), "{text}");
    assert!(!text.contains("under this clause"), "{text}");
}

#[test]
fn needs_info_explains_every_known_item() {
    let documents = [
        DocumentKind::RefundApplication,
        DocumentKind::IdentityDocument,
        DocumentKind::PaymentReceipt,
    ];
    let problems = [
        ProblemCode::MrzLayout,
        ProblemCode::MrzCheckDigit,
        ProblemCode::MrzDate,
        ProblemCode::MrzNotFound,
        ProblemCode::MrzUnclear,
        ProblemCode::IinControlDigit,
        ProblemCode::IinBirthDate,
        ProblemCode::IinCenturyDigit,
        ProblemCode::PersonalNumberFormat,
        ProblemCode::PersonalNumberCheck,
        ProblemCode::PersonalNumberBirthDate,
        ProblemCode::PersonalNumberMismatch,
        ProblemCode::DocumentNumberFormat,
        ProblemCode::DocumentNumberMismatch,
        ProblemCode::DocumentExpired,
        ProblemCode::ExpiryDateMismatch,
        ProblemCode::BirthDateMismatch,
        ProblemCode::SexMismatch,
        ProblemCode::NameMismatch,
        ProblemCode::HolderNameMismatch,
        ProblemCode::FileEmpty,
        ProblemCode::FileTypeUnsupported,
        ProblemCode::FileHeic,
        ProblemCode::FileTooLarge,
        ProblemCode::FileDamaged,
        ProblemCode::PdfEncrypted,
        ProblemCode::PdfTooManyPages,
        ProblemCode::ImageTooSmall,
    ];
    let mut names: Vec<String> = FactName::ALL.iter().map(|f| f.name().to_owned()).collect();
    names.extend(documents.iter().map(|d| d.name().to_owned()));
    names.extend(problems.iter().map(|p| p.as_str().to_owned()));
    names.push("loyalty_card".to_owned());

    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for &language in Language::ALL {
            let mut ctx = context(Event::NeedsInfo, language);
            ctx.missing = names.clone();
            let email = render(&ctx);
            // Only the unknown item falls back to quoting its code; every known one is
            // explained in words.
            for name in &names {
                let quoted = [
                    format!("«{name}»"),
                    format!("„{name}“"),
                    format!("“{name}”"),
                ];
                let fell_back = quoted.iter().any(|q| email.text.contains(q.as_str()));
                assert_eq!(fell_back, name == "loyalty_card", "{language}: `{name}`");
            }
            insta::assert_snapshot!(
                format!("needs_info_every_item_{}_text", language.code()),
                email.text
            );
        }
    });
}
