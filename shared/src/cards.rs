//! Card numbers must never enter the system. This finds anything that looks like a full card
//! number (13-19 digits, possibly grouped by spaces or dashes, passing the Luhn check) so it
//! can be refused or masked before anything is stored or logged.

/// Luhn check over ASCII digits.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Byte ranges of card-number-like runs in `text`.
pub fn find_card_numbers(text: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && bytes[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        // A run of digits with single spaces or dashes between groups.
        let start = i;
        let mut digits = Vec::new();
        let mut end = i;
        let mut j = i;
        while j < bytes.len() {
            if bytes[j].is_ascii_digit() {
                digits.push(bytes[j]);
                j += 1;
                end = j;
            } else if (bytes[j] == b' ' || bytes[j] == b'-')
                && j + 1 < bytes.len()
                && bytes[j + 1].is_ascii_digit()
                && !digits.is_empty()
            {
                j += 1;
            } else {
                break;
            }
            if digits.len() > 19 {
                break;
            }
        }
        // Try the longest window of 13-19 digits starting here that passes Luhn.
        if (13..=19).contains(&digits.len()) && luhn_valid(&digits) {
            found.push(start..end);
            i = end;
        } else {
            i = end.max(i + 1);
        }
    }
    found
}

/// True when `text` contains something that looks like a full card number.
pub fn contains_card_number(text: &str) -> bool {
    !find_card_numbers(text).is_empty()
}

/// Replaces every card-number-like run with `**** **** **** 1234` (its last four digits).
/// Returns the masked text and whether anything was masked.
pub fn mask_card_numbers(text: &str) -> (String, bool) {
    let ranges = find_card_numbers(text);
    if ranges.is_empty() {
        return (text.to_string(), false);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for r in ranges {
        out.push_str(&text[last..r.start]);
        let digits: String = text[r.clone()]
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        out.push_str("**** **** **** ");
        out.push_str(&digits[digits.len() - 4..]);
        last = r.end;
    }
    out.push_str(&text[last..]);
    (out, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_grouped_and_plain_card_numbers() {
        assert!(contains_card_number("card 4111 1111 1111 1111 please"));
        assert!(contains_card_number("4111-1111-1111-1111"));
        assert!(contains_card_number("5555555555554444"));
        assert!(!contains_card_number("4111 1111 1111 1112"), "fails Luhn");
        assert!(!contains_card_number("order 123456789012"), "12 digits");
        assert!(!contains_card_number("IIN 900101300123"), "12 digits");
    }

    #[test]
    fn masks_keeping_the_last_four() {
        let (masked, any) = mask_card_numbers("my card is 4111 1111 1111 1111, refund it");
        assert!(any);
        assert_eq!(masked, "my card is **** **** **** 1111, refund it");
        let (same, any) = mask_card_numbers("order 42, 90.00 BYN");
        assert!(!any);
        assert_eq!(same, "order 42, 90.00 BYN");
    }
}
