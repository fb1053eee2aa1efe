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

/// Byte ranges of card-number-like runs in `text`. Digits are read in groups separated by
/// single spaces or dashes (`4111 1111 1111 1111`, `4111-1111-...`); any run of whole
/// consecutive groups holding 13-19 digits that passes the Luhn check counts, so a number
/// next to other digits (`exp 11 28 4111 1111 1111 1111`) is still found.
///
/// Digits that belong to an identifier are not a card number: a UUID (`8-4-4-4-12` hex
/// digits, which can be all digits after its first groups), or digits glued to letters (a
/// hash, a hex id, `cd5-4123-...`).
pub fn find_card_numbers(text: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if let Some(end) = uuid_at(bytes, i) {
            i = end;
            continue;
        }
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        if i > 0 && bytes[i - 1].is_ascii_alphabetic() {
            // Part of an identifier: skip its digits and whatever groups hang on to them.
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric()
                    || (bytes[i] == b'-'
                        && bytes.get(i + 1).is_some_and(u8::is_ascii_alphanumeric)))
            {
                i += 1;
            }
            continue;
        }
        // Collect the groups of this run.
        let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            groups.push(start..j);
            if j + 1 < bytes.len()
                && (bytes[j] == b' ' || bytes[j] == b'-')
                && bytes[j + 1].is_ascii_digit()
            {
                j += 1;
            } else {
                break;
            }
        }
        let run_end = j;
        if bytes.get(run_end).is_some_and(u8::is_ascii_alphabetic) {
            // Digits running into letters: an identifier, not a card number.
            i = run_end;
            continue;
        }
        // Longest valid window at each starting group; then continue after it.
        let mut g = 0;
        while g < groups.len() {
            let mut best: Option<usize> = None;
            let mut digits: Vec<u8> = Vec::new();
            for (h, group) in groups.iter().enumerate().skip(g) {
                digits.extend_from_slice(&bytes[group.clone()]);
                if digits.len() > 19 {
                    break;
                }
                if digits.len() >= 13 && luhn_valid(&digits) {
                    best = Some(h);
                }
            }
            match best {
                Some(h) => {
                    found.push(groups[g].start..groups[h].end);
                    g = h + 1;
                }
                None => g += 1,
            }
        }
        i = run_end.max(i + 1);
    }
    found
}

/// The end of a UUID (`8-4-4-4-12` hex digits) starting at `i` and standing on its own.
fn uuid_at(bytes: &[u8], i: usize) -> Option<usize> {
    const DASHES: [usize; 4] = [8, 13, 18, 23];
    let end = i + 36;
    let candidate = bytes.get(i..end)?;
    let shaped = candidate.iter().enumerate().all(|(k, b)| {
        if DASHES.contains(&k) {
            *b == b'-'
        } else {
            b.is_ascii_hexdigit()
        }
    });
    let alone = (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
        && bytes.get(end).is_none_or(|b| !b.is_ascii_alphanumeric());
    (shaped && alone).then_some(end)
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

    /// Found by the chaos suite: a payment id (a UUID whose last groups happened to be all
    /// digits, passing Luhn) was refused as a card number.
    #[test]
    fn identifiers_are_not_card_numbers() {
        // The tail `8123-412345678901` holds 16 digits; find one that passes Luhn.
        let tail = (0..100_000u64)
            .map(|n| format!("{n:012}"))
            .find(|t| luhn_valid(format!("8123{t}").as_bytes()))
            .unwrap();
        for text in [
            format!("01a23cd5-4123-7123-8123-{tail}"),
            format!("01234567-4123-7123-8123-{tail}"),
            format!("{{\"id\": \"01234567-4123-7123-8123-{tail}\"}}"),
            "sha256:ab4111111111111111cd".to_owned(),
            "x4111111111111111".to_owned(),
            "4111111111111111ab".to_owned(),
        ] {
            assert!(!contains_card_number(&text), "{text}");
        }
        // The same digits standing on their own are one.
        assert!(contains_card_number(&format!("8123 {tail}")));
        assert!(contains_card_number(
            "card: 4111 1111 1111 1111, id 01a23cd5"
        ));
        assert!(
            contains_card_number("карта4111111111111111"),
            "not an ASCII identifier"
        );
    }

    #[test]
    fn finds_a_number_next_to_other_digits() {
        for text in [
            "exp 11 28 4111 1111 1111 1111",
            "сумма 90 4111 1111 1111 1111",
            "4111111111111111 12",
        ] {
            let (masked, any) = mask_card_numbers(text);
            assert!(any, "{text}");
            assert!(
                !masked.contains("4111 1111 1111 1111") && !masked.contains("4111111111111111"),
                "{masked}"
            );
        }
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
