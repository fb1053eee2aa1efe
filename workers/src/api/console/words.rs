//! The console's words in each language it speaks, and dates and amounts written the way that
//! language writes them. A text is written once with all its translations, where it is used:
//! `tr(lang, "Work queue", "Очередь")`. Kazakh and Latvian readers get Russian and English
//! respectively until the console is translated into their languages.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use shared::language::Language;
use shared::lifecycle::RequestState;
use shared::money::{Currency, Money};

/// The languages the console is written in, as offered at sign-in.
pub const CONSOLE_LANGUAGES: [Language; 2] = [Language::En, Language::Ru];

/// The language the console is shown in for a person who chose `language`.
pub fn console_language(language: Language) -> Language {
    match language {
        Language::Ru | Language::Kk => Language::Ru,
        Language::Lv | Language::En => Language::En,
    }
}

/// `en` or `ru`, by the console's language.
pub fn tr(lang: Language, en: &'static str, ru: &'static str) -> &'static str {
    match console_language(lang) {
        Language::Ru => ru,
        _ => en,
    }
}

/// The name of a language in itself, for the language switch.
pub fn language_name(language: Language) -> &'static str {
    match language {
        Language::Ru => "Русский",
        Language::Kk => "Қазақша",
        Language::Lv => "Latviešu",
        Language::En => "English",
    }
}

/// A state as a person reads it.
pub fn state(lang: Language, s: RequestState) -> &'static str {
    use RequestState::*;
    match s {
        Received => tr(lang, "received", "получена"),
        Validating => tr(lang, "being checked", "проверяется"),
        NeedsInfo => tr(lang, "waiting for the customer", "ждёт клиента"),
        Approved => tr(lang, "approved", "одобрена"),
        AwaitingConfirmation => tr(lang, "awaiting confirmation", "ждёт подтверждения"),
        ManualReview => tr(lang, "manual review", "ручная проверка"),
        Rejected => tr(lang, "rejected", "отклонена"),
        PayoutPending => tr(lang, "payout starting", "выплата начинается"),
        PayoutSent => tr(lang, "payout sent", "выплата отправлена"),
        Refunded => tr(lang, "refunded", "возвращено"),
        PayoutFailed => tr(lang, "payout failed", "выплата не прошла"),
        NeedsBankDetails => tr(lang, "needs bank details", "нужны реквизиты"),
        ManualPayout => tr(lang, "manual payout", "ручная выплата"),
        Withdrawn => tr(lang, "withdrawn", "отозвана"),
    }
}

/// An SLA state (`on_track`, `at_risk`, `breached`, `met`, ...) as a person reads it.
pub fn sla(lang: Language, s: &str) -> String {
    match s {
        "on_track" => tr(lang, "on track", "в срок"),
        "at_risk" => tr(lang, "at risk", "под угрозой"),
        "breached" => tr(lang, "breached", "просрочена"),
        "met" => tr(lang, "met", "выполнено"),
        "paused" => tr(lang, "paused", "приостановлено"),
        other => return other.replace('_', " "),
    }
    .to_string()
}

/// A policy decision (`approve`, `reject`, `needs_info`, `manual_review`) as a person reads it.
pub fn decision(lang: Language, d: &str) -> String {
    match d {
        "approve" => tr(lang, "approve", "одобрить"),
        "reject" => tr(lang, "reject", "отказать"),
        "needs_info" => tr(
            lang,
            "ask the customer for more",
            "запросить у клиента сведения",
        ),
        "manual_review" => tr(lang, "a person decides", "решает человек"),
        other => return other.replace('_', " "),
    }
    .to_string()
}

/// A kind of document (`identity_document`, ...) as a person reads it.
pub fn document_kind(lang: Language, kind: &str) -> String {
    match kind {
        "identity_document" => tr(
            lang,
            "identity document (passport, ID card)",
            "удостоверение личности (паспорт, ID-карта)",
        ),
        "refund_application" => tr(lang, "refund application", "заявление на возврат"),
        "payment_receipt" => tr(lang, "payment receipt", "чек об оплате"),
        other => return other.replace('_', " "),
    }
    .to_string()
}

/// A refund reason as a person reads it.
pub fn reason(lang: Language, r: &str) -> String {
    match r {
        "withdrawal" => tr(lang, "withdrawal (changed their mind)", "отказ от договора"),
        "not_delivered" => tr(lang, "not delivered", "не доставлено"),
        "force_majeure" => tr(lang, "force majeure", "форс-мажор"),
        "erroneous_charge" => tr(lang, "charged in error", "ошибочное списание"),
        "out_of_stock_difference" => {
            tr(lang, "out of stock (difference)", "нет в наличии (разница)")
        }
        "advance_balance" => tr(lang, "unused advance", "остаток аванса"),
        other => return other.replace('_', " "),
    }
    .to_string()
}

/// A date: `4 Dec 2026` in English, `04.12.2026` in Russian.
pub fn date(lang: Language, d: NaiveDate) -> String {
    match console_language(lang) {
        Language::Ru => d.format("%d.%m.%Y").to_string(),
        _ => d.format("%-d %b %Y").to_string(),
    }
}

/// A moment in `tz`: the date and the minute.
pub fn moment(lang: Language, at: DateTime<Utc>, tz: Tz) -> String {
    let local = at.with_timezone(&tz);
    format!(
        "{} {}",
        date(lang, local.date_naive()),
        local.format("%H:%M")
    )
}

/// An amount with its currency: `12,000.50 KZT` in English, `12 000,50 KZT` in Russian
/// (a no-break space between thousands). Exact: written from the integer minor units.
pub fn money(lang: Language, m: Money) -> String {
    let currency: Currency = m.currency();
    decimal(lang, &m.amount_text(), currency.code())
}

/// An amount in integer minor units of `currency` (a code as stored), as [`money`] writes
/// it; `None` when the currency is unknown.
pub fn money_minor(lang: Language, minor: i64, currency: &str) -> Option<String> {
    let currency: Currency = currency.trim().parse().ok()?;
    Some(money(lang, Money::from_minor(minor, currency)))
}

/// A decimal text such as `12000.50` (as the API writes amounts) with `currency`, grouped
/// and punctuated for `lang`. Text that is not a plain decimal is shown as it is.
pub fn decimal(lang: Language, text: &str, currency: &str) -> String {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return format!("{text} {currency}");
    }
    let (group, point) = match console_language(lang) {
        Language::Ru => ('\u{a0}', ','),
        _ => (',', '.'),
    };
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(c);
    }
    if fraction.is_empty() {
        format!("{sign}{grouped} {currency}")
    } else {
        format!("{sign}{grouped}{point}{fraction} {currency}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_grouped_and_pointed_as_each_language_writes_them() {
        assert_eq!(decimal(Language::En, "12000.50", "KZT"), "12,000.50 KZT");
        assert_eq!(
            decimal(Language::Ru, "12000.50", "KZT"),
            "12\u{a0}000,50 KZT"
        );
        assert_eq!(decimal(Language::En, "999.00", "EUR"), "999.00 EUR");
        assert_eq!(decimal(Language::En, "1234567", "BYN"), "1,234,567 BYN");
        assert_eq!(
            decimal(Language::Ru, "-1000.00", "EUR"),
            "-1\u{a0}000,00 EUR"
        );
        assert_eq!(decimal(Language::En, "n/a", "EUR"), "n/a EUR");
    }

    #[test]
    fn dates_are_written_as_each_language_writes_them() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        assert_eq!(date(Language::En, d), "4 Dec 2026");
        assert_eq!(date(Language::Ru, d), "04.12.2026");
        assert_eq!(date(Language::Kk, d), "04.12.2026");
    }
}
