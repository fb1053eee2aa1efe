//! Facts read from a customer's words: the payment reference (order or invoice number,
//! gateway transaction id), the amount and the customer's name, in Russian,
//! Kazakh, Latvian and English. Runs on text whose card numbers are already masked, so a card
//! number can never be taken for a reference. Only the customer's own text and forwarded
//! blocks are read; quoted replies (usually our own mail) are not. The reason and the facts
//! the customer states are read by `reading`, from the customer's own words only.

use std::sync::LazyLock;

use regex::Regex;

use chrono::NaiveDate;

use super::Extracted;
use super::language::{own_words, starts_quoted_block};
use super::reading::read_on;
use crate::money::Currency;

/// Extracts everything from `subject` and `body`; `from_name` is the sender's display name,
/// used for the customer's name when the text gives none; `forwarded_from` is the original
/// sender of a forwarded message.
pub(super) fn extract(
    subject: &str,
    body: &str,
    from_name: Option<&str>,
    forwarded_from: Option<&str>,
    from_address: Option<&str>,
    written_on: Option<NaiveDate>,
) -> Extracted {
    let text = format!("{subject}\n{}", without_quoted_replies(body));
    let reading = read_on(subject, body, written_on);
    Extracted {
        payment_reference: payment_reference(&text),
        amount: amount(&text),
        reading,
        customer_name: name_in_text(&text)
            .or_else(|| signature_line(&own_words(body)))
            .or_else(|| from_name.and_then(plausible_name)),
        customer_email: forwarded_from
            .filter(|f| Some(*f) != from_address)
            .map(str::to_owned),
    }
}

/// The body without `>`-quoted lines and without anything after an "On ... wrote:"
/// attribution or an "Original message" banner. Forwarded blocks are kept: a customer
/// forwarding the shop's receipt is giving us the order number.
fn without_quoted_replies(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    for line in body.lines() {
        let trimmed = line.trim();
        let lower = trimmed.to_lowercase();
        if starts_quoted_block(trimmed)
            && !lower.contains("forward")
            && !lower.contains("пересыл")
            && !lower.contains("пересланное")
            && !lower.contains("pārsūtīt")
            && !lower.contains("қайта жіберілген")
        {
            break;
        }
        if trimmed.starts_with('>') {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

// ---- payment reference ----------------------------------------------------------------

/// A keyword naming an order, invoice, payment or transaction, then an optional "number"
/// word and `№`/`#`/`:`, then the reference itself.
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)
        \b(?:
            order | invoice | transaction | txn | payment | receipt
          | заказ[аеуы]? | сч[её]т[аеу]? | сч\. | инвойс[аеу]? | транзакци[яиюей] | плат[её]ж[ау]?
          | квитанци[яиюей] | чек[аеу]?
          | тапсырыс\w* | шот\w* | төлем\w* | транзакция\w*
          | pas[uū]t[iī]jum[sau] | r[eē][kķ]in[sau] | dar[iī]jum[sau] | maks[aā]jum[sau]
        )
        (?:\s+(?:id|no|nr|number|num|номер|нөмірі|numurs)\.?)?
        \s*[:\#№]?\s*(?:id\s*[:\#]?\s*)?
        ([A-Za-z0-9][A-Za-z0-9_/\-]{2,39})",
    )
    .expect("reference pattern")
});

/// Gateway transaction ids that are recognisable on their own (Stripe-style `pi_...`).
static GATEWAY_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b((?:pi|ch|py|re|txn)_[A-Za-z0-9]{8,40})\b").expect("gateway id pattern")
});

static DATE_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4})$")
        .expect("date pattern")
});

fn payment_reference(text: &str) -> Option<String> {
    let keyword_ref = REFERENCE.captures_iter(text).find_map(|c| {
        let token = c.get(1)?.as_str().trim_end_matches(['-', '/', '_']);
        let has_digit = token.bytes().any(|b| b.is_ascii_digit());
        let is_tag = token.len() == 11 && token[..3].eq_ignore_ascii_case("rf-");
        (has_digit && token.len() >= 3 && !DATE_LIKE.is_match(token) && !is_tag)
            .then(|| token.to_owned())
    });
    keyword_ref.or_else(|| GATEWAY_ID.captures(text).map(|c| c[1].to_owned()))
}

// ---- amount ---------------------------------------------------------------------------

const NUMBER: &str = r"(\d{1,3}(?:[ \u{a0}\u{202f},]\d{3})+|\d+)(?:[.,](\d{1,2}))?";
const CURRENCY: &str = r"(BYN|KZT|EUR|RUB|USD|бел\.?\s*руб\w*\.?|белорусских\s+рубл\w*|руб\w*\.?|р\.|₽|тг\.?|тенге|теңге|₸|€|евро|eiro|euro|\$|долл\w*\.?|dollars?)";

static AMOUNT_THEN_CURRENCY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)(?:^|[^\d.,\w]){NUMBER}\s?{CURRENCY}(?:$|[^\w])"
    ))
    .expect("amount pattern")
});
static CURRENCY_THEN_AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)(€|\$|EUR|BYN|KZT|USD|RUB)\s?{NUMBER}(?:$|[^\d\w])"
    ))
    .expect("amount pattern")
});
static AMOUNT_AFTER_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\b(?:сумм[аеуы]|amount|total|summa|summu|сомасы|kopā|итого)\s*:?\s*{NUMBER}(?:$|[^\d\w])"
    ))
    .expect("amount pattern")
});

fn amount(text: &str) -> Option<(String, Option<Currency>)> {
    let after = AMOUNT_THEN_CURRENCY.captures(text).and_then(|c| {
        let start = c.get(1)?.start();
        Some((
            start,
            decimal(&c[1], c.get(2).map(|m| m.as_str()))?,
            currency(&c[3]),
        ))
    });
    let before = CURRENCY_THEN_AMOUNT.captures(text).and_then(|c| {
        let start = c.get(1)?.start();
        Some((
            start,
            decimal(&c[2], c.get(3).map(|m| m.as_str()))?,
            currency(&c[1]),
        ))
    });
    // The first amount written with its currency wins; a bare "amount: 90" comes last.
    let with_currency = match (after, before) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    with_currency
        .map(|(_, value, currency)| (value, currency))
        .or_else(|| {
            let c = AMOUNT_AFTER_WORD.captures(text)?;
            Some((decimal(&c[1], c.get(2).map(|m| m.as_str()))?, None))
        })
}

/// `"60 000"`, `"1,000"` and `"450"` with an optional fraction of one or two digits, as
/// `"60000.00"`. `None` for zero or absurdly long numbers.
fn decimal(whole: &str, fraction: Option<&str>) -> Option<String> {
    let whole: String = whole.chars().filter(char::is_ascii_digit).collect();
    let whole = whole.trim_start_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    if whole.len() > 12 {
        return None;
    }
    let fraction = format!("{:0<2}", fraction.unwrap_or(""));
    if whole == "0" && fraction == "00" {
        return None;
    }
    Some(format!("{whole}.{fraction}"))
}

fn currency(word: &str) -> Option<Currency> {
    let w = word.to_lowercase();
    let w = w.trim_end_matches('.');
    if w.starts_with("бел") || w == "byn" {
        Some(Currency::BYN)
    } else if w == "kzt" || w.starts_with("тг") || w == "тенге" || w == "теңге" || w == "₸"
    {
        Some(Currency::KZT)
    } else if ["eur", "€", "евро", "eiro", "euro"].contains(&w) {
        Some(Currency::EUR)
    } else if w == "rub" || w == "₽" {
        Some(Currency::RUB)
    } else if w == "usd" || w == "$" || w.starts_with("долл") || w.starts_with("dollar") {
        Some(Currency::USD)
    } else {
        // "руб." alone is Russian or Belarusian roubles: the payment decides.
        None
    }
}

// ---- customer name ----------------------------------------------------------------------

/// "My name is X", "ФИО: X" and the like, with the name on the same line.
static NAME_PHRASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?im)(?:меня зовут|фио\s*:|ф\.и\.о\.\s*:|менің атым|аты-жөні\s*:|mani sauc|vārds,?\s*uzvārds\s*:|my name is|full name\s*:|name\s*:)[ \t]*([^\n,.;]{2,60})",
    )
    .expect("name pattern")
});

/// A closing line after which the next line (or the rest of this one) is the name.
const CLOSINGS: [&str; 14] = [
    "с уважением",
    "с уважением и благодарностью",
    "спасибо",
    "құрметпен",
    "рахмет",
    "ar cieņu",
    "ar cienu",
    "paldies",
    "regards",
    "best regards",
    "kind regards",
    "sincerely",
    "thanks",
    "thank you",
];

fn name_in_text(text: &str) -> Option<String> {
    if let Some(name) = NAME_PHRASE
        .captures_iter(text)
        .find_map(|c| plausible_name(c[1].trim()))
    {
        return Some(name);
    }
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        let lower = line.to_lowercase();
        let Some(closing) = CLOSINGS.iter().find(|c| {
            lower.starts_with(*c)
                && lower[c.len()..]
                    .chars()
                    .next()
                    .is_none_or(|ch| !ch.is_alphabetic())
        }) else {
            continue;
        };
        // "С уважением, Иван Петров" on one line, or the name on the next non-empty line.
        let rest = line
            .get(closing.len()..)
            .unwrap_or("")
            .trim_start_matches([',', '!', '.', ' ', '\t']);
        let candidate = if rest.is_empty() {
            lines[i + 1..].iter().find(|l| !l.is_empty()).copied()
        } else {
            Some(rest)
        };
        if let Some(name) = candidate.and_then(plausible_name) {
            return Some(name);
        }
    }
    None
}

/// A name standing alone on the last line the sender wrote (a signature without a closing).
/// At least two words, so a lone "Thanks" or "Иван" is not taken for a full name.
fn signature_line(own: &str) -> Option<String> {
    let last = own.lines().map(str::trim).rfind(|l| !l.is_empty())?;
    let lower = last.to_lowercase();
    if CLOSINGS.iter().any(|c| lower.starts_with(c)) || last.split_whitespace().count() < 2 {
        return None;
    }
    plausible_name(last)
}

/// A person's name: one to four words of letters (hyphens and apostrophes allowed), each
/// starting with a capital, no digits, no address.
pub(super) fn plausible_name(text: &str) -> Option<String> {
    let text = text.trim().trim_matches('"').trim();
    let words: Vec<&str> = text.split_whitespace().collect();
    let ok = (1..=4).contains(&words.len())
        && text.chars().count() <= 60
        && words.iter().all(|w| {
            w.chars().next().is_some_and(char::is_uppercase)
                && w.chars()
                    .all(|c| c.is_alphabetic() || c == '-' || c == '\'' || c == '.')
        });
    ok.then(|| words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_in_four_languages() {
        assert_eq!(
            payment_reference("Номер заказа: 20418").as_deref(),
            Some("20418")
        );
        assert_eq!(
            payment_reference("заказ № A-1042 от 2 марта").as_deref(),
            Some("A-1042")
        );
        assert_eq!(
            payment_reference("Тапсырыс нөмірі: KZ-7781").as_deref(),
            Some("KZ-7781")
        );
        assert_eq!(
            payment_reference("Pasūtījuma nr. LV-20418").as_deref(),
            Some("LV-20418")
        );
        assert_eq!(
            payment_reference("order #12345, thanks").as_deref(),
            Some("12345")
        );
        assert_eq!(
            payment_reference("Invoice INV-2026-0042 attached").as_deref(),
            Some("INV-2026-0042")
        );
        assert_eq!(
            payment_reference("the charge pi_3Nx8Yz2eZvKYlo2C0a1b2c3d").as_deref(),
            Some("pi_3Nx8Yz2eZvKYlo2C0a1b2c3d")
        );
        assert_eq!(payment_reference("order placed on 2026-03-02"), None);
        assert_eq!(payment_reference("Заказ сделан 02.03.2026"), None);
        assert_eq!(payment_reference("card **** **** **** 1111"), None);
    }

    #[test]
    fn amounts_with_currencies() {
        assert_eq!(
            amount("оплатил 90,00 BYN"),
            Some(("90.00".into(), Some(Currency::BYN)))
        );
        assert_eq!(
            amount("60 000 тг"),
            Some(("60000.00".into(), Some(Currency::KZT)))
        );
        assert_eq!(
            amount("paid €45.5 on"),
            Some(("45.50".into(), Some(Currency::EUR)))
        );
        assert_eq!(amount("сумма 450 руб."), Some(("450.00".into(), None)));
        assert_eq!(amount("Amount: 12.99"), Some(("12.99".into(), None)));
        assert_eq!(
            amount("450 бел. руб."),
            Some(("450.00".into(), Some(Currency::BYN)))
        );
        assert_eq!(amount("order 2026 placed"), None);
    }

    #[test]
    fn names_from_phrases_and_signatures() {
        assert_eq!(
            name_in_text("Меня зовут Иван Петров, я купил").as_deref(),
            Some("Иван Петров")
        );
        assert_eq!(
            name_in_text("Ar cieņu,\nJānis Bērziņš\n+371 2000").as_deref(),
            Some("Jānis Bērziņš")
        );
        assert_eq!(
            name_in_text("Regards, John Smith").as_deref(),
            Some("John Smith")
        );
        assert_eq!(name_in_text("thanks in advance for help"), None);
        assert_eq!(plausible_name("ivan@example.com"), None);
    }
}
