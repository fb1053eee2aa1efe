//! How amounts and dates are written in each email language.
//!
//! Amounts follow the CLDR currency patterns of each language. Russian, Kazakh and Latvian
//! write `#,##0.00 ¤`: the decimal separator is a comma, thousands are grouped with a
//! **no-break space (U+00A0)**, and a no-break space separates the amount from the currency
//! sign (`57 391,30 ₸`, `90,00 BYN`, `29,95 €`). U+00A0 is CLDR's grouping symbol for these
//! three languages (French uses the narrow U+202F; these do not), and every mail client
//! renders it, which is not true of U+202F in older ones. English writes `¤#,##0.00`:
//! `€29.95`, `$10.00`, and an ISO code with a no-break space (`KZT 57,391.30`), since CLDR
//! English has no symbol of its own for tenge, roubles or Belarusian roubles.
//!
//! Dates are the CLDR long forms: `5 мая 2026 г.`, `2026 жылғы 5 мамыр`,
//! `2026. gada 5. maijs`, `5 May 2026`.

use chrono::{Datelike, NaiveDate};

use super::event::Language;
use crate::money::{Currency, Money};

/// The no-break space used between digit groups and before a currency sign.
pub const NO_BREAK_SPACE: char = '\u{00A0}';

/// `money` as a customer reading `language` expects it: `57 391,30 ₸` (ru, kk, lv; no-break
/// spaces), `KZT 57,391.30` or `€29.95` (en).
pub fn format_money(money: Money, language: Language) -> String {
    let currency = money.currency();
    let scale = 10_u64.pow(currency.exponent());
    let minor = money.minor().unsigned_abs();
    let (whole, fraction) = (minor / scale, minor % scale);
    let width = currency.exponent() as usize;
    let sign = if money.is_negative() { "-" } else { "" };
    match language {
        Language::Ru | Language::Kk | Language::Lv => {
            let whole = group_thousands(whole, NO_BREAK_SPACE);
            let symbol = local_symbol(currency);
            format!("{sign}{whole},{fraction:0width$}{NO_BREAK_SPACE}{symbol}")
        }
        Language::En => {
            let whole = group_thousands(whole, ',');
            match english_symbol(currency) {
                Some(symbol) => format!("{sign}{symbol}{whole}.{fraction:0width$}"),
                None => format!(
                    "{sign}{}{NO_BREAK_SPACE}{whole}.{fraction:0width$}",
                    currency.code()
                ),
            }
        }
    }
}

/// The sign Russian, Kazakh and Latvian texts use. The Belarusian rouble is written `BYN`:
/// that is what Belarusian banks and receipts print in Russian, and `Br` is unfamiliar
/// outside Belarusian-language texts.
fn local_symbol(currency: Currency) -> &'static str {
    match currency {
        Currency::KZT => "₸",
        Currency::EUR => "€",
        Currency::USD => "$",
        Currency::RUB => "₽",
        Currency::BYN => "BYN",
    }
}

fn english_symbol(currency: Currency) -> Option<&'static str> {
    match currency {
        Currency::EUR => Some("€"),
        Currency::USD => Some("$"),
        Currency::KZT | Currency::RUB | Currency::BYN => None,
    }
}

fn group_thousands(mut n: u64, separator: char) -> String {
    let mut groups = Vec::new();
    loop {
        if n < 1000 {
            groups.push(n.to_string());
            break;
        }
        groups.push(format!("{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join(&separator.to_string())
}

/// `date` in the long local form: `5 мая 2026 г.`, `2026 жылғы 5 мамыр`,
/// `2026. gada 5. maijs`, `5 May 2026`.
pub fn format_date(date: NaiveDate, language: Language) -> String {
    let (day, month, year) = (date.day(), date.month0() as usize, date.year());
    match language {
        Language::Ru => format!("{day} {} {year} г.", RU_MONTHS_GENITIVE[month]),
        Language::Kk => format!("{year} жылғы {day} {}", KK_MONTHS[month]),
        Language::Lv => format!("{year}. gada {day}. {}", LV_MONTHS[month]),
        Language::En => format!("{day} {} {year}", EN_MONTHS[month]),
    }
}

const RU_MONTHS_GENITIVE: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];

const KK_MONTHS: [&str; 12] = [
    "қаңтар",
    "ақпан",
    "наурыз",
    "сәуір",
    "мамыр",
    "маусым",
    "шілде",
    "тамыз",
    "қыркүйек",
    "қазан",
    "қараша",
    "желтоқсан",
];

const LV_MONTHS: [&str; 12] = [
    "janvāris",
    "februāris",
    "marts",
    "aprīlis",
    "maijs",
    "jūnijs",
    "jūlijs",
    "augusts",
    "septembris",
    "oktobris",
    "novembris",
    "decembris",
];

const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn money(text: &str, currency: Currency) -> Money {
        Money::parse(text, currency).unwrap()
    }

    #[test]
    fn local_amounts_use_comma_and_no_break_spaces() {
        let tenge = money("57391.30", Currency::KZT);
        assert_eq!(format_money(tenge, Language::Ru), "57\u{a0}391,30\u{a0}₸");
        assert_eq!(format_money(tenge, Language::Kk), "57\u{a0}391,30\u{a0}₸");
        assert_eq!(
            format_money(money("90.00", Currency::BYN), Language::Ru),
            "90,00\u{a0}BYN"
        );
        assert_eq!(
            format_money(money("29.95", Currency::EUR), Language::Lv),
            "29,95\u{a0}€"
        );
        assert_eq!(
            format_money(money("1234567.05", Currency::RUB), Language::Ru),
            "1\u{a0}234\u{a0}567,05\u{a0}₽"
        );
        assert_eq!(
            format_money(money("0.07", Currency::EUR), Language::Lv),
            "0,07\u{a0}€"
        );
        assert_eq!(
            format_money(money("1000", Currency::KZT), Language::Kk),
            "1\u{a0}000,00\u{a0}₸"
        );
        // No narrow no-break space, no ordinary space: the amount never wraps.
        let text = format_money(tenge, Language::Ru);
        assert!(!text.contains('\u{202f}') && !text.contains(' '));
    }

    #[test]
    fn english_amounts_put_the_sign_first() {
        assert_eq!(
            format_money(money("29.95", Currency::EUR), Language::En),
            "€29.95"
        );
        assert_eq!(
            format_money(money("57391.30", Currency::KZT), Language::En),
            "KZT\u{a0}57,391.30"
        );
        assert_eq!(
            format_money(money("90", Currency::BYN), Language::En),
            "BYN\u{a0}90.00"
        );
        assert_eq!(
            format_money(money("1000000", Currency::USD), Language::En),
            "$1,000,000.00"
        );
    }

    #[test]
    fn negative_amounts_keep_their_sign() {
        assert_eq!(
            format_money(money("-2608.70", Currency::KZT), Language::Ru),
            "-2\u{a0}608,70\u{a0}₸"
        );
        assert_eq!(
            format_money(money("-5", Currency::EUR), Language::En),
            "-€5.00"
        );
    }

    #[test]
    fn long_dates_in_each_language() {
        let may5 = NaiveDate::from_ymd_opt(2026, 5, 5).unwrap();
        assert_eq!(format_date(may5, Language::Ru), "5 мая 2026 г.");
        assert_eq!(format_date(may5, Language::Kk), "2026 жылғы 5 мамыр");
        assert_eq!(format_date(may5, Language::Lv), "2026. gada 5. maijs");
        assert_eq!(format_date(may5, Language::En), "5 May 2026");
        let dec31 = NaiveDate::from_ymd_opt(2027, 12, 31).unwrap();
        assert_eq!(format_date(dec31, Language::Ru), "31 декабря 2027 г.");
        assert_eq!(format_date(dec31, Language::Kk), "2027 жылғы 31 желтоқсан");
        assert_eq!(format_date(dec31, Language::Lv), "2027. gada 31. decembris");
        assert_eq!(format_date(dec31, Language::En), "31 December 2027");
        let jan1 = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        assert_eq!(format_date(jan1, Language::Ru), "1 января 2026 г.");
        assert_eq!(format_date(jan1, Language::Lv), "2026. gada 1. janvāris");
    }
}
