//! Bank details as customers write them: the IBANs in them (found by shape and checked with
//! ISO 13616 mod-97). The API's card-number guard leaves IBANs out, and the refund email names
//! the account by the last four characters of its IBAN.

use std::ops::Range;
use std::sync::LazyLock;

/// `text` with every IBAN in it blanked out: a run shaped like one (two letters, two check
/// digits, 11-30 letters and digits, spaces allowed) whose ISO 13616 mod-97 check holds. Its
/// long digit runs must not be mistaken for a card number, while a card number written next
/// to it ("IBAN …, or my card 4111 …") still is one.
pub fn without_ibans(text: &str) -> String {
    let mut out = text.to_owned();
    for range in ibans(text) {
        let len = range.len();
        out.replace_range(range, &" ".repeat(len));
    }
    out
}

/// Where the IBANs in `text` are: runs shaped like one (two letters, two check digits, 11-30
/// letters and digits, spaces allowed), each cut to its longest prefix whose ISO 13616 mod-97
/// check holds (a bank name may follow without a comma).
pub fn ibans(text: &str) -> Vec<Range<usize>> {
    static CANDIDATE: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"(?i)\b[a-z]{2}\d{2}(?: ?[a-z0-9]){11,30}").expect("iban pattern")
    });
    CANDIDATE
        .find_iter(text)
        .filter_map(|m| {
            let run = m.as_str();
            // A country whose IBAN length is known takes exactly that many characters (the
            // mod-97 check alone passes one longer run in 97 by chance).
            let length = country_length(&run[..2]);
            (0..=run.len())
                .rev()
                .filter(|&end| run.is_char_boundary(end) && !run[..end].ends_with(' '))
                .find(|&end| {
                    let candidate = &run[..end];
                    length.is_none_or(|n| compact_len(candidate) == n)
                        && looks_like_iban(candidate)
                        && iban_checks(candidate)
                })
                .map(|end| m.start()..m.start() + end)
        })
        .collect()
}

fn compact_len(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// The IBAN length of a country in the SWIFT IBAN registry, for the countries our merchants'
/// customers bank in and their neighbours; `None` for others (then the longest run that
/// checks is taken).
fn country_length(country: &str) -> Option<usize> {
    let length = match country.to_ascii_uppercase().as_str() {
        "BY" | "PL" | "HU" | "CY" => 28,
        "LV" | "CH" | "LI" => 21,
        "KZ" | "LT" | "EE" | "AT" => 20,
        "DE" | "GB" | "IE" | "BG" | "GE" => 22,
        "FI" | "DK" | "NL" => 18,
        "FR" | "IT" | "MC" => 27,
        "ES" | "SE" | "CZ" | "SK" | "RO" => 24,
        "UA" => 29,
        "AZ" => 28,
        "BE" => 16,
        "NO" => 15,
        "PT" => 25,
        "LU" => 20,
        "SI" => 19,
        "HR" => 21,
        "GR" => 27,
        "TR" => 26,
        _ => return None,
    };
    Some(length)
}

/// The ISO 13616 check: the first four characters moved to the end, letters read as 10-35,
/// the number mod 97 is 1.
fn iban_checks(text: &str) -> bool {
    let compact: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() < 5 {
        return false;
    }
    let mut remainder: u32 = 0;
    for c in compact[4..].iter().chain(&compact[..4]) {
        let Some(value) = c.to_digit(36) else {
            return false;
        };
        remainder = if value < 10 {
            (remainder * 10 + value) % 97
        } else {
            (remainder * 100 + value) % 97
        };
    }
    remainder == 1
}

/// Two letters, two check digits, then 11-30 letters and digits (spaces allowed): the
/// shape of an IBAN.
fn looks_like_iban(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let b = compact.as_bytes();
    (15..=34).contains(&b.len())
        && b[0].is_ascii_alphabetic()
        && b[1].is_ascii_alphabetic()
        && b[2].is_ascii_digit()
        && b[3].is_ascii_digit()
        && b.iter().all(u8::is_ascii_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_are_not_card_numbers() {
        assert!(looks_like_iban("BY20 OLMP 3135 0000 0010 0000 0933"));
        assert!(looks_like_iban("LV80BANK0000435195001"));
        assert!(!looks_like_iban("4111 1111 1111 1111"));
        // A bank name after the IBAN, with or without a comma, leaves no card number behind;
        // a card number next to an IBAN is still found.
        for details in [
            "BY20 OLMP 3135 0000 0010 0000 0933, \"Belarusbank\"",
            "LV80BANK0000435195001 Swedbank",
            "KZ86125KZT5004100100 Halyk",
        ] {
            assert!(
                !crate::cards::contains_card_number(&without_ibans(details)),
                "{details}"
            );
        }
        assert!(crate::cards::contains_card_number(&without_ibans(
            "LV80BANK0000435195001 or my card 4111 1111 1111 1111"
        )));
        // A wrong check digit is no IBAN.
        assert!(!iban_checks("LV81BANK0000435195001"));
    }

    #[test]
    fn ibans_are_found_where_they_stand() {
        let text = "Janis Berzins, LV80 BANK 0000 4351 9500 1 Swedbank";
        let found: Vec<&str> = ibans(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(found, ["LV80 BANK 0000 4351 9500 1"]);
        assert_eq!(
            ibans("no account here, 4111 1111 1111 1111"),
            Vec::<Range<usize>>::new()
        );
    }
}
