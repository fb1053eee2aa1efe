//! Who the sender is, as far as we can tell: the From address, compared with the address a
//! payment was registered with or a request was opened from. An email acts on a payment or a
//! request only when these are the same address ([`sender_is`]); anything else is a claim
//! someone must confirm.
//!
//! We see no DKIM or SPF results, so a From header could be forged; that is why a claim from
//! another address is confirmed by writing to the registered address (a channel the sender
//! does not control), and why only a reply threaded to that email counts.

/// An address as compared: trimmed, without angle brackets, lower-cased.
pub fn normalise_address(address: &str) -> String {
    address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_lowercase()
}

/// Whether `sender` is `owner` (a payment's customer address, or a request's contact). No
/// address on either side is never a match: nobody can speak for an address we do not know.
pub fn sender_is(owner: Option<&str>, sender: Option<&str>) -> bool {
    match (owner, sender) {
        (Some(owner), Some(sender)) => {
            let (owner, sender) = (normalise_address(owner), normalise_address(sender));
            !owner.is_empty() && owner.contains('@') && owner == sender
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_address_in_another_case_or_with_spaces_is_the_sender() {
        assert!(sender_is(
            Some(" Ivan.Petrov@Mail.ru "),
            Some("ivan.petrov@mail.ru")
        ));
        assert!(sender_is(Some("<anna@x.lv>"), Some("ANNA@X.LV")));
        assert!(sender_is(Some("žanis@pasts.lv"), Some("ŽANIS@pasts.lv")));
    }

    #[test]
    fn another_address_or_none_is_not() {
        assert!(!sender_is(
            Some("ivan@mail.ru"),
            Some("ivan@mail.ru.evil.example")
        ));
        assert!(!sender_is(Some("ivan@mail.ru"), Some("van@mail.ru")));
        assert!(!sender_is(None, Some("ivan@mail.ru")));
        assert!(!sender_is(Some("ivan@mail.ru"), None));
        assert!(!sender_is(Some(""), Some("")));
        assert!(!sender_is(Some("  "), Some(" ")));
    }
}
