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

#[cfg(test)]
mod tests {
    use super::mask_document_number;

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
