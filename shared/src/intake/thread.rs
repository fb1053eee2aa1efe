//! Which request a message continues: the `[RF-1A2B3C4D]` tag we put in subjects, and our
//! outgoing Message-IDs (`<rf-{request-uuid}-{event}-{seq}@refundd>`) quoted back in
//! In-Reply-To or References.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use super::InboundEmail;

/// `RF-` and the last 8 hex digits of the request UUID, upper-case: what customers see.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestTag(String);

/// A string that is not a request tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a request tag like RF-1A2B3C4D")]
pub struct NotARequestTag(String);

impl RequestTag {
    /// The tag of the request with this id.
    pub fn for_request(id: Uuid) -> RequestTag {
        // The last 8 hex digits: the random end of a UUIDv7 (its first digits are a
        // timestamp, shared by every request of the same minute).
        let hex = id.simple().to_string();
        RequestTag(format!("RF-{}", hex[24..].to_ascii_uppercase()))
    }

    /// The tag as customers see it, e.g. `RF-1A2B3C4D`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 8 hex digits, lower-case, as they end the request UUID's text form.
    pub fn uuid_suffix(&self) -> String {
        self.0[3..].to_ascii_lowercase()
    }

    /// Whether the request `id` carries this tag.
    pub fn names(&self, id: Uuid) -> bool {
        RequestTag::for_request(id) == *self
    }
}

impl FromStr for RequestTag {
    type Err = NotARequestTag;

    /// Accepts `RF-1a2b3c4d` in any case; stores it upper-case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let valid = s.len() == 11
            && s[..3].eq_ignore_ascii_case("rf-")
            && s[3..].bytes().all(|b| b.is_ascii_hexdigit());
        if valid {
            Ok(RequestTag(s.to_ascii_uppercase()))
        } else {
            Err(NotARequestTag(s.to_owned()))
        }
    }
}

impl fmt::Display for RequestTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a message names the request it continues.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RequestRef {
    /// From one of our Message-IDs: the full request id.
    Id(Uuid),
    /// From the subject tag: the last 8 hex digits of the id; look it up.
    Tag(RequestTag),
}

/// The request this message continues, if any: our Message-ID in In-Reply-To first, then the
/// most recent of ours in References, then the subject tag. Answered for every kind of mail:
/// only a [`super::MailKind::Reply`] is attached to the request, but a bounce naming a request
/// tells the caller the customer's address does not receive our mail.
pub fn referenced_request(email: &InboundEmail) -> Option<RequestRef> {
    email
        .in_reply_to
        .iter()
        .chain(email.references.iter().rev())
        .find_map(|id| request_of_message_id(id))
        .map(RequestRef::Id)
        .or_else(|| email.request_tag.clone().map(RequestRef::Tag))
}

/// The request id inside one of our Message-IDs (`rf-{uuid}-{event}-{seq}@refundd`), with or
/// without angle brackets.
pub fn request_of_message_id(message_id: &str) -> Option<Uuid> {
    let id = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let (local, domain) = id.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case("refundd") {
        return None;
    }
    let rest = local.get(..3)?;
    if !rest.eq_ignore_ascii_case("rf-") {
        return None;
    }
    // A hyphenated UUID is 36 characters, followed by `-{event}-{seq}`.
    let uuid_text = local.get(3..39)?;
    if local.as_bytes().get(39) != Some(&b'-') {
        return None;
    }
    Uuid::try_parse(uuid_text).ok()
}

/// The first request tag in a subject: `RF-` and 8 hex digits standing alone (brackets,
/// spaces or punctuation around it, not letters or digits).
pub(super) fn tag_in_subject(subject: &str) -> Option<RequestTag> {
    let bytes = subject.as_bytes();
    let mut from = 0;
    while let Some(pos) = find_ignore_case(&bytes[from..], b"rf-") {
        let start = from + pos;
        let end = start + 11;
        let before_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let after_ok = bytes.get(end).is_none_or(|b| !b.is_ascii_alphanumeric());
        if before_ok
            && after_ok
            && let Some(candidate) = subject.get(start..end)
            && let Ok(tag) = candidate.parse()
        {
            return Some(tag);
        }
        from = start + 3;
    }
    None
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_read_from_subjects_in_any_case() {
        assert_eq!(
            tag_in_subject("Re: [RF-1A2B3C4D] Ваша заявка").map(|t| t.to_string()),
            Some("RF-1A2B3C4D".to_owned())
        );
        assert_eq!(
            tag_in_subject("AW: rf-1a2b3c4d").map(|t| t.to_string()),
            Some("RF-1A2B3C4D".to_owned())
        );
        assert_eq!(tag_in_subject("RF-1A2B3C4DE too long"), None);
        assert_eq!(tag_in_subject("XRF-1A2B3C4D"), None);
        assert_eq!(tag_in_subject("RF-1A2B3C4G"), None);
        assert_eq!(tag_in_subject("[RF-12]"), None);
    }

    #[test]
    fn our_message_ids_name_the_request() {
        let id = Uuid::parse_str("0f9e8d7c-5e6f-4a70-8b90-a1b21a2b3c4d").unwrap();
        assert_eq!(
            request_of_message_id(&format!("<rf-{id}-needs_info-1@refundd>")),
            Some(id)
        );
        assert_eq!(
            request_of_message_id(&format!("rf-{id}-x-2@example.com")),
            None
        );
        assert_eq!(request_of_message_id("CAF=abc@mail.gmail.com"), None);
        assert_eq!(request_of_message_id("rf-@refundd"), None);
        assert_eq!(RequestTag::for_request(id).to_string(), "RF-1A2B3C4D");
        assert!("RF-1a2b3c4d".parse::<RequestTag>().unwrap().names(id));
    }
}
