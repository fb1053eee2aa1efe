//! Template behaviour a customer would notice: tags, escaping, card masking, missing items.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use uuid::Uuid;

use super::*;
use crate::money::Currency;

fn context(event: Event, language: Language) -> EmailContext {
    let request_id = Uuid::parse_str("0196a3f2-7c1d-7b2e-9f00-123456789abc").unwrap();
    EmailContext {
        event,
        language,
        request_id,
        request_tag: request_tag(request_id),
        customer_name: Some("Anna".into()),
        merchant_name: "Online Courses".into(),
        merchant_signature: "Support team\nsupport@courses.example".into(),
        amount: Some(Money::parse("90.00", Currency::BYN).unwrap()),
        due_date: NaiveDate::from_ymd_opt(2026, 5, 5),
        clause: Some(Clause::english("§11 d): nothing is returned.")),
        merchant_language: None,
        missing: vec!["progress_percent".into()],
        refund_channel: Some(card("Visa", "4242")),
        amount_reason: None,
    }
}

fn card(brand: &str, last4: &str) -> RefundChannel {
    RefundChannel::Card {
        brand: Some(brand.into()),
        last4: last4.into(),
    }
}

#[test]
fn request_tag_is_rf_and_the_first_eight_hex_digits_uppercased() {
    let id = Uuid::parse_str("0196a3f2-7c1d-7b2e-9f00-123456789abc").unwrap();
    assert_eq!(request_tag(id), "RF-56789ABC");
}

#[test]
fn subject_carries_the_tag_and_the_merchant_in_every_language() {
    for &language in Language::ALL {
        for &event in Event::ALL {
            let email = render(&context(event, language));
            assert!(
                email.subject.starts_with("[RF-56789ABC] Online Courses: "),
                "{event} {language}: {}",
                email.subject
            );
            assert!(email.text.contains("RF-56789ABC"), "{event} {language}");
            assert!(email.html.contains("RF-56789ABC"), "{event} {language}");
            assert!(email.html.contains(&format!("<html lang=\"{language}\">")));
        }
    }
}

#[test]
fn merchant_name_on_several_lines_cannot_break_the_subject() {
    let mut ctx = context(Event::Received, Language::En);
    ctx.merchant_name = "Online\r\nBcc: victim@example.com".into();
    let email = render(&ctx);
    assert_eq!(
        email.subject,
        "[RF-56789ABC] Online Bcc: victim@example.com: refund request received"
    );
}

#[test]
fn values_from_people_are_escaped_in_html() {
    let mut ctx = context(Event::Rejected, Language::Ru);
    ctx.customer_name = Some("<b>Anna</b>".into());
    ctx.merchant_name = "Tom & Jerry".into();
    ctx.clause = Some(Clause::new(
        "<script>x</script>",
        BTreeMap::from([(Language::Ru, "<script>y</script>".to_owned())]),
    ));
    ctx.merchant_signature = "<img src=x>".into();
    let email = render(&ctx);
    assert!(
        email
            .html
            .contains("Здравствуйте, &lt;b&gt;Anna&lt;/b&gt;!")
    );
    assert!(email.html.contains("Tom &amp; Jerry"));
    assert!(email.html.contains("&lt;script&gt;y&lt;/script&gt;"));
    assert!(email.html.contains("&lt;img src=x&gt;"));
    assert!(!email.html.contains("<script>") && !email.html.contains("<img"));
    // The plain-text part shows them as written.
    assert!(email.text.contains("Здравствуйте, <b>Anna</b>!"));
}

/// §8.5 of seed 001 as the pack has it: English and the merchant's Russian only.
fn russian_only_clause() -> Clause {
    Clause::new(
        "§8.5: if the terms of the agreement are violated, prepaid money is not returned.",
        BTreeMap::from([(
            Language::Ru,
            "Пункт 8.5: в случае нарушения условий Договора предоплаченные денежные средства не \
             возвращаются."
                .to_owned(),
        )]),
    )
}

/// The one line the rejection quotes (the quote is indented in the text part).
fn quoted(email: &RenderedEmail) -> &str {
    email
        .text
        .lines()
        .find(|line| line.starts_with("    "))
        .map(str::trim)
        .unwrap_or_default()
}

#[test]
fn a_rejection_quotes_the_clause_in_the_customers_language() {
    let clause = Clause::new(
        "Item 7: no difference to return.",
        BTreeMap::from([
            (Language::Ru, "Пункт 7: разницы нет.".to_owned()),
            (Language::Lv, "7. punkts: starpības nav.".to_owned()),
        ]),
    );
    for (language, expected) in [
        (Language::Ru, "Пункт 7: разницы нет."),
        (Language::Lv, "7. punkts: starpības nav."),
        (Language::En, "Item 7: no difference to return."),
    ] {
        let mut ctx = context(Event::Rejected, language);
        ctx.clause = Some(clause.clone());
        // The merchant writes in Latvian: that changes nothing when the customer's own
        // language is there.
        ctx.merchant_language = Some(Language::Lv);
        let email = render(&ctx);
        assert_eq!(quoted(&email), expected, "{language}");
        assert!(email.html.contains(expected), "{language}");
    }
}

#[test]
fn a_clause_missing_in_the_customers_language_is_quoted_in_the_merchants_then_english() {
    // A Kazakh customer of a merchant writing in Russian reads the Russian clause...
    let mut ctx = context(Event::Rejected, Language::Kk);
    ctx.clause = Some(russian_only_clause());
    ctx.merchant_language = Some(Language::Ru);
    assert!(
        quoted(&render(&ctx)).starts_with("Пункт 8.5: в случае нарушения"),
        "{}",
        render(&ctx).text
    );
    // ...a Latvian customer of a merchant writing in Latvian, with no Latvian text, the
    // English; as does anyone when the merchant's language is unknown.
    for (language, merchant) in [(Language::Lv, Some(Language::Lv)), (Language::Kk, None)] {
        let mut ctx = context(Event::Rejected, language);
        ctx.clause = Some(russian_only_clause());
        ctx.merchant_language = merchant;
        assert!(
            quoted(&render(&ctx)).starts_with("§8.5: if the terms"),
            "{language}"
        );
    }
}

#[test]
fn only_four_digits_of_a_card_are_ever_shown() {
    let mut ctx = context(Event::Refunded, Language::En);
    ctx.refund_channel = Some(card("Visa", "4111111111111111"));
    let email = render(&ctx);
    assert!(!email.text.contains("4111"));
    assert!(!email.html.contains("4111"));
    assert!(email.text.contains("to the account you gave us"));

    ctx.refund_channel = Some(RefundChannel::Card {
        brand: None,
        last4: "4242".into(),
    });
    let email = render(&ctx);
    assert!(
        email
            .text
            .contains("We have refunded BYN\u{a0}90.00 to your card •••• 4242.")
    );
}

#[test]
fn needs_info_names_each_missing_item_in_the_customer_language() {
    let mut ctx = context(Event::NeedsInfo, Language::Ru);
    ctx.missing = vec![
        "progress_percent".into(),
        "bank_details".into(),
        "progress_percent".into(),
        "loyalty_card".into(),
    ];
    let email = render(&ctx);
    assert!(
        email
            .text
            .contains("- какую часть курса вы прошли (в процентах): число от 0 до 100\n")
    );
    assert!(email.text.contains("- банковские реквизиты для перевода"));
    assert!(email.text.contains("- сведения «loyalty_card»"));
    assert_eq!(email.text.matches("какую часть курса").count(), 1);
    assert!(!email.text.contains("progress_percent"));
}

#[test]
fn needs_info_without_items_still_tells_the_customer_what_to_do() {
    let mut ctx = context(Event::NeedsInfo, Language::En);
    ctx.missing.clear();
    let email = render(&ctx);
    assert!(
        email
            .text
            .contains("we need some more information. Please reply to this email")
    );
    assert!(!email.text.contains("\n- "));
}

#[test]
fn bank_details_email_asks_for_bank_details_when_nothing_else_is_named() {
    let mut ctx = context(Event::BankDetailsNeeded, Language::Lv);
    ctx.missing.clear();
    let email = render(&ctx);
    assert!(
        email
            .text
            .contains("- bankas rekvizītus pārskaitījumam: saņēmēja vārdu un uzvārdu")
    );
}

#[test]
fn emails_without_amount_date_or_name_still_read_well() {
    for &language in Language::ALL {
        for &event in Event::ALL {
            let mut ctx = context(event, language);
            ctx.amount = None;
            ctx.due_date = None;
            ctx.customer_name = Some("  ".into());
            ctx.clause = None;
            let email = render(&ctx);
            assert!(!email.text.contains(": \n"), "{event} {language}");
            assert!(
                !email.text.contains("  "),
                "{event} {language}: double space"
            );
            assert!(!email.text.contains(" ,"), "{event} {language}");
        }
    }
}

#[test]
fn problems_asking_for_the_same_thing_are_listed_once() {
    let mut ctx = context(Event::NeedsInfo, Language::En);
    ctx.missing = vec![
        "mrz_check_digit".into(),
        "mrz_date".into(),
        "identity_document".into(),
        "identity_document_verified".into(),
    ];
    let email = render(&ctx);
    assert_eq!(email.text.matches("machine-readable zone").count(), 1);
    assert_eq!(
        email
            .text
            .matches("a copy of your identity document")
            .count(),
        1
    );
    assert_eq!(email.text.matches("\n- ").count(), 2);
}

#[test]
fn plain_text_answers_keep_paragraphs_and_lists_and_escape_html() {
    let email = render_plain(
        Language::Lv,
        "[RF-56789ABC] Atmaksas pieteikums",
        "Labdien, <Anna>!\n\nLūdzu, atsūtiet:\n\n- pasūtījuma numuru\n- iemeslu\n\nAr cieņu\nVeikals\n",
    );
    assert_eq!(email.subject, "[RF-56789ABC] Atmaksas pieteikums");
    assert_eq!(
        email.text,
        "Labdien, <Anna>!\n\nLūdzu, atsūtiet:\n\n- pasūtījuma numuru\n- iemeslu\n\nAr cieņu\nVeikals\n"
    );
    assert!(
        email.html.contains("Labdien, &lt;Anna&gt;!"),
        "{}",
        email.html
    );
    assert!(
        email
            .html
            .contains("<li style=\"margin:0 0 6px\">iemeslu</li>"),
        "{}",
        email.html
    );
    assert!(
        email.html.contains("Ar cieņu<br>\nVeikals"),
        "{}",
        email.html
    );
    assert!(email.html.contains("lang=\"lv\""));
}

#[test]
fn a_bank_transfer_names_the_account_never_a_card() {
    let expected = [
        (
            Language::Ru,
            "Мы отправили 90,00\u{a0}BYN банковским переводом на ваш счёт, номер которого \
             оканчивается на 5001.",
        ),
        (
            Language::Kk,
            "90,00\u{a0}BYN сомасын банктік аударыммен нөмірі 5001 деп аяқталатын банк \
             шотыңызға аудардық.",
        ),
        (
            Language::Lv,
            "Esam pārskaitījuši 90,00\u{a0}BYN ar bankas pārskaitījumu uz Jūsu kontu, kura \
             numurs beidzas ar 5001.",
        ),
        (
            Language::En,
            "We have sent BYN\u{a0}90.00 by bank transfer to your account ending in 5001.",
        ),
    ];
    for (language, sentence) in expected {
        let mut ctx = context(Event::Refunded, language);
        ctx.refund_channel = RefundChannel::bank_account("LV80BANK0000435195001");
        let email = render(&ctx);
        assert!(email.text.contains(sentence), "{language}: {}", email.text);
        assert!(!email.text.contains("4242"), "{language}");
        assert!(!email.text.contains("Visa"), "{language}");
    }
}

#[test]
fn the_account_is_read_from_bank_details_as_customers_write_them() {
    let last4 = |details: &str| match RefundChannel::bank_account(details) {
        Some(RefundChannel::BankAccount { last4 }) => Some(last4),
        _ => None,
    };
    assert_eq!(last4("LV80BANK0000435195001").as_deref(), Some("5001"));
    assert_eq!(
        last4("BY20 OLMP 3135 0000 0010 0000 0933, \"Belarusbank\"").as_deref(),
        Some("0933")
    );
    // The IBAN in it (checked) is the account; a stray letter typed after it is not.
    assert_eq!(
        last4("JANIS BERZINS; IBAN: lv80 bank 0000 4351 9500 1x; Swedbank").as_deref(),
        Some("5001")
    );
    // An account number that is no IBAN: its last four, in capitals.
    assert_eq!(
        last4("JANIS BERZINS; account 1234 5678 ab; Swedbank").as_deref(),
        Some("78AB")
    );
    assert_eq!(last4("Swedbank, ask me"), None);
    // An IBAN followed by its bank's name without a comma: the IBAN's last four, not "BANK".
    assert_eq!(
        last4("LV80 BANK 0000 4351 9500 1 Swedbank").as_deref(),
        Some("5001")
    );
}

#[test]
fn a_bank_account_shows_four_characters_at_most() {
    let mut ctx = context(Event::Refunded, Language::En);
    ctx.refund_channel = Some(RefundChannel::BankAccount {
        last4: "LV80BANK0000435195001".into(),
    });
    let email = render(&ctx);
    assert!(!email.text.contains("LV80"));
    assert!(email.text.contains("to the account you gave us"));
}
