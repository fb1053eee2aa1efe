//! Masking of document and personal numbers for messages, logs and Debug output: enough
//! to tell two numbers apart in a conversation, never enough to reuse one.

/// Masks a document or personal number: `N0123423` → `N0***23`.
///
/// Eight or more characters keep the first two and the last two; five to seven keep one at
/// each end; four or fewer are masked entirely. The middle is always exactly `***`, so the
/// mask does not reveal the length. Surrounding whitespace and trailing MRZ fillers (`<`)
/// are ignored.
pub fn mask_document_number(number: &str) -> String {
    let chars: Vec<char> = number.trim().trim_end_matches('<').chars().collect();
    let keep = match chars.len() {
        0..=4 => 0,
        5..=7 => 1,
        _ => 2,
    };
    if keep == 0 {
        return "***".to_owned();
    }
    let head: String = chars[..keep].iter().collect();
    let tail: String = chars[chars.len() - keep..].iter().collect();
    format!("{head}***{tail}")
}

/// Byte ranges of personal (national identity) numbers in free text, each valid by its own
/// country's rules so that ordinary numbers are left alone: a Kazakh IIN (12 digits, date and
/// check digit), a Belarusian identification number (`3010190A001PB7`), a Latvian personal
/// code (`010190-12345`, check digit; the 2017 form `32xxxx-xxxxx`).
pub fn find_personal_numbers(text: &str) -> Vec<std::ops::Range<usize>> {
    use std::sync::LazyLock;

    use super::national::{ByPersonalNumber, Iin, LvPersonalCode};
    static CANDIDATES: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"(?i)\b(?:\d{7}[a-zа-я]\d{3}[a-zа-я]{2}\d|\d{6}-\d{5}|\d{12}|\d{11})\b")
            .expect("valid regex")
    });
    CANDIDATES
        .find_iter(text)
        .filter(|m| {
            let t = m.as_str();
            match t.chars().count() {
                14 => ByPersonalNumber::parse(&t.to_uppercase()).is_ok(),
                12 if t.contains('-') => LvPersonalCode::parse(t).is_ok(),
                12 => Iin::parse(t).is_ok(),
                11 => LvPersonalCode::parse(t).is_ok(),
                _ => false,
            }
        })
        .map(|m| m.range())
        .collect()
}

/// `text` with every personal number masked like a document number (`90***23`), and
/// whether any was found. Emails and free-text fields pass through this before they are
/// stored, as they pass through the card-number mask.
pub fn mask_personal_numbers(text: &str) -> (String, bool) {
    let found = find_personal_numbers(text);
    if found.is_empty() {
        return (text.to_owned(), false);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for r in found {
        out.push_str(&text[last..r.start]);
        out.push_str(&mask_document_number(&text[r.clone()]));
        last = r.end;
    }
    out.push_str(&text[last..]);
    (out, true)
}

#[cfg(test)]
mod tests {
    use super::{mask_document_number, mask_personal_numbers};

    #[test]
    fn personal_numbers_in_free_text_are_masked_and_other_numbers_kept() {
        // Valid by their countries' rules (the identity module's test numbers).
        let text = "ИИН 900512400127, личный номер 3310589A012PB2, personas kods 121282-11210? \
                    Order 123456789012 of 450.00, phone 29123456.";
        let (masked, any) = mask_personal_numbers(text);
        assert!(any);
        for gone in ["900512400127", "3310589A012PB2", "121282-11210"] {
            assert!(!masked.contains(gone), "{masked}");
        }
        assert!(masked.contains("90***27"), "{masked}");
        assert!(
            masked.contains("450.00") && masked.contains("29123456"),
            "{masked}"
        );
        // Belarusian numbers are often typed with Cyrillic letters.
        let (masked, _) = mask_personal_numbers("номер 3310589а012РВ2.");
        assert!(!masked.contains("012"), "{masked}");
        let (same, any) = mask_personal_numbers("nothing personal: 2026-03-20, 59.90 BYN");
        assert!(!any);
        assert_eq!(same, "nothing personal: 2026-03-20, 59.90 BYN");
    }

    #[test]
    fn long_numbers_keep_two_characters_at_each_end() {
        assert_eq!(mask_document_number("N0123423"), "N0***23");
        assert_eq!(mask_document_number("L898902C3"), "L8***C3");
        assert_eq!(mask_document_number("900512400123"), "90***23");
    }

    #[test]
    fn short_numbers_reveal_less_or_nothing() {
        assert_eq!(mask_document_number("AB1234"), "A***4");
        assert_eq!(mask_document_number("1234"), "***");
        assert_eq!(mask_document_number(""), "***");
    }

    #[test]
    fn fillers_and_whitespace_are_not_part_of_the_number() {
        assert_eq!(mask_document_number(" D23145890<<< "), "D2***90");
    }

    #[test]
    fn non_ascii_input_does_not_panic() {
        assert_eq!(mask_document_number("АБ123456"), "АБ***56");
    }
}
