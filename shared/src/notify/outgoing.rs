//! An email ready to go ([`OutgoingEmail`]): addresses, threading headers and the rendered
//! parts, and how it becomes a MIME message.
//!
//! Threading: every email has a stable Message-ID derived from the request, the event and a
//! sequence number ([`message_id`]), so a redelivered notify job produces the same id (and
//! the same spool file). A reply to a customer's own email carries `In-Reply-To` and
//! `References` of that email ([`OutgoingEmail::in_reply_to_customer`]); `Reply-To` is the
//! intake mailbox, and the subject starts with the request tag, so the customer's answer
//! attaches to the request.

use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use uuid::Uuid;

use super::event::Event;
use super::templates::RenderedEmail;

/// One email to one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// The customer's address (`anna@example.com` or `Anna <anna@example.com>`).
    pub to: String,
    /// The merchant's name and the sending address (see [`named_address`]).
    pub from: String,
    /// The intake mailbox, where replies are read.
    pub reply_to: String,
    /// `<rf-{request}-{event}-{seq}@refundd>`, see [`message_id`].
    pub message_id: String,
    /// The Message-ID of the customer's email this one answers.
    pub in_reply_to: Option<String>,
    /// The thread so far, oldest first, ending with the customer's email.
    pub references: Vec<String>,
    /// The subject and the text and HTML parts.
    pub rendered: RenderedEmail,
    /// An automatic answer to the customer's own message (RFC 3834 `Auto-Submitted:
    /// auto-replied`); otherwise a message about an event (`auto-generated`).
    pub auto_replied: bool,
}

/// Why an [`OutgoingEmail`] cannot become a message. Permanent: sending again will not help.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// An address does not parse as an email address.
    #[error("the {field} address `{value}` is not a valid email address: {reason}")]
    InvalidAddress {
        /// The header the address is for: `from`, `reply-to` or `to`.
        field: &'static str,
        /// The address as given.
        value: String,
        /// Why it is not valid.
        reason: String,
    },
    /// lettre could not build the message.
    #[error("the email could not be built: {0}")]
    Build(#[from] lettre::error::Error),
}

/// The stable Message-ID of the `seq`-th email about `event` for a request:
/// `<rf-0196a3f2-7c1d-7b2e-9f00-123456789abc-needs_info-1@refundd>`.
pub fn message_id(request_id: Uuid, event: Event, seq: u32) -> String {
    named_message_id(request_id, event.as_str(), seq)
}

/// The stable Message-ID of the `seq`-th email named `name` (an [`Event`] or an
/// escalation such as `sla_at_risk`) for a request, in the form of [`message_id`].
pub fn named_message_id(request_id: Uuid, name: &str, seq: u32) -> String {
    format!("<rf-{}-{name}-{seq}@refundd>", request_id.hyphenated())
}

/// `"Name" <address>` as a From or To header value, quoting and encoding the name as needed
/// (`Online Courses, LLC` and Cyrillic names included).
pub fn named_address(name: &str, address: &str) -> Result<String, MessageError> {
    let address = address
        .trim()
        .parse()
        .map_err(
            |e: lettre::address::AddressError| MessageError::InvalidAddress {
                field: "from",
                value: address.to_owned(),
                reason: e.to_string(),
            },
        )?;
    let name = name.trim();
    let name = (!name.is_empty()).then(|| name.to_owned());
    Ok(Mailbox::new(name, address).to_string())
}

/// A Message-ID in angle brackets, as headers carry it (mail parsers often drop them).
pub fn bracketed_id(id: &str) -> String {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    format!("<{id}>")
}

impl OutgoingEmail {
    /// Makes this email a reply to the customer's email `customer_message_id`, whose own
    /// `References` were `customer_references` (RFC 5322 §3.6.4: the parent's references
    /// followed by the parent's id).
    pub fn in_reply_to_customer(
        mut self,
        customer_message_id: &str,
        customer_references: &[String],
    ) -> Self {
        let parent = bracketed_id(customer_message_id);
        let mut references: Vec<String> = customer_references
            .iter()
            .map(|id| bracketed_id(id))
            .filter(|id| id != "<>")
            .collect();
        references.retain(|id| *id != parent);
        references.push(parent.clone());
        self.in_reply_to = Some(parent);
        self.references = references;
        self
    }

    /// The MIME message: `multipart/alternative` with the text part first, then HTML.
    pub fn to_message(&self) -> Result<Message, MessageError> {
        let mailbox = |field: &'static str, value: &str| {
            value
                .trim()
                .parse::<Mailbox>()
                .map_err(|e| MessageError::InvalidAddress {
                    field,
                    value: value.to_owned(),
                    reason: e.to_string(),
                })
        };
        let mut builder = Message::builder()
            .from(mailbox("from", &self.from)?)
            .reply_to(mailbox("reply-to", &self.reply_to)?)
            .to(mailbox("to", &self.to)?)
            .subject(self.rendered.subject.clone())
            .message_id(Some(bracketed_id(&self.message_id)))
            // RFC 3834: tells vacation responders and mailing lists not to answer.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                if self.auto_replied {
                    "auto-replied"
                } else {
                    "auto-generated"
                }
                .to_owned(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Content-Language"),
                self.rendered.language.code().to_owned(),
            ));
        if let Some(parent) = &self.in_reply_to {
            builder = builder.in_reply_to(bracketed_id(parent));
        }
        if !self.references.is_empty() {
            let references: Vec<String> = self.references.iter().map(|r| bracketed_id(r)).collect();
            builder = builder.references(references.join(" "));
        }
        let parts = MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(self.rendered.text.clone()),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(self.rendered.html.clone()),
            );
        Ok(builder.multipart(parts)?)
    }

    /// A file name for this email in a spool folder, from its Message-ID: the same email
    /// always lands in the same file, so a redelivered job overwrites instead of duplicating.
    pub fn spool_file_name(&self) -> String {
        let id = bracketed_id(&self.message_id);
        let id = &id[1..id.len() - 1];
        let safe: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{safe}.eml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::event::Language;

    fn email() -> OutgoingEmail {
        let request = Uuid::parse_str("0196a3f2-7c1d-7b2e-9f00-123456789abc").unwrap();
        OutgoingEmail {
            to: "Анна Петрова <anna@example.com>".into(),
            from: named_address("Online Courses, LLC", "refunds@courses.example").unwrap(),
            reply_to: "refunds-intake@courses.example".into(),
            message_id: message_id(request, Event::NeedsInfo, 2),
            in_reply_to: None,
            references: Vec::new(),
            rendered: RenderedEmail {
                language: Language::Ru,
                subject: "[RF-56789ABC] Online Courses: нужны сведения".into(),
                text: "Здравствуйте!\n".into(),
                html: "<p>Здравствуйте!</p>\n".into(),
            },
            auto_replied: false,
        }
    }

    #[test]
    fn message_id_is_stable_and_names_request_event_and_sequence() {
        let request = Uuid::parse_str("0196a3f2-7c1d-7b2e-9f00-123456789abc").unwrap();
        let id = message_id(request, Event::NeedsInfo, 2);
        assert_eq!(
            id,
            "<rf-0196a3f2-7c1d-7b2e-9f00-123456789abc-needs_info-2@refundd>"
        );
        assert_eq!(id, message_id(request, Event::NeedsInfo, 2));
        assert_ne!(id, message_id(request, Event::NeedsInfo, 3));
        assert_ne!(id, message_id(request, Event::Approved, 2));
    }

    /// Message ids in a parsed header, without angle brackets.
    fn ids(value: &mail_parser::HeaderValue<'_>) -> Vec<String> {
        match (value.as_text_list(), value.as_text()) {
            (Some(list), _) => list.iter().map(ToString::to_string).collect(),
            (None, Some(id)) => vec![id.to_owned()],
            (None, None) => Vec::new(),
        }
    }

    #[test]
    fn reply_carries_the_customer_thread() {
        let reply = email().in_reply_to_customer(
            "CAF=abc@mail.example.com",
            &[
                "<first@mail.example.com>".into(),
                "second@mail.example.com".into(),
            ],
        );
        assert_eq!(
            reply.in_reply_to.as_deref(),
            Some("<CAF=abc@mail.example.com>")
        );
        assert_eq!(
            reply.references,
            vec![
                "<first@mail.example.com>",
                "<second@mail.example.com>",
                "<CAF=abc@mail.example.com>"
            ]
        );
        let bytes = reply.to_message().unwrap().formatted();
        let parsed = mail_parser::MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(ids(parsed.in_reply_to()), vec!["CAF=abc@mail.example.com"]);
        assert_eq!(
            ids(parsed.references()),
            vec![
                "first@mail.example.com",
                "second@mail.example.com",
                "CAF=abc@mail.example.com"
            ]
        );
    }

    #[test]
    fn message_headers_and_parts() {
        let bytes = email().to_message().unwrap().formatted();
        let parsed = mail_parser::MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(
            parsed.message_id(),
            Some("rf-0196a3f2-7c1d-7b2e-9f00-123456789abc-needs_info-2@refundd")
        );
        let from = parsed.from().and_then(|a| a.first()).unwrap();
        assert_eq!(from.name(), Some("Online Courses, LLC"));
        assert_eq!(from.address(), Some("refunds@courses.example"));
        let to = parsed.to().and_then(|a| a.first()).unwrap();
        assert_eq!(to.name(), Some("Анна Петрова"));
        let reply_to = parsed.reply_to().and_then(|a| a.first()).unwrap();
        assert_eq!(reply_to.address(), Some("refunds-intake@courses.example"));
        assert_eq!(
            parsed.subject(),
            Some("[RF-56789ABC] Online Courses: нужны сведения")
        );
        assert_eq!(
            parsed.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-generated")
        );
        assert_eq!(
            parsed.header_raw("Content-Language").map(str::trim),
            Some("ru")
        );
        assert!(ids(parsed.in_reply_to()).is_empty());
        assert_eq!(parsed.body_text(0).as_deref(), Some("Здравствуйте!\r\n"));
        assert_eq!(
            parsed.body_html(0).as_deref(),
            Some("<p>Здравствуйте!</p>\r\n")
        );
        let raw = String::from_utf8(bytes).unwrap();
        let text_at = raw.find("Content-Type: text/plain").unwrap();
        let html_at = raw.find("Content-Type: text/html").unwrap();
        assert!(text_at < html_at, "text part first, HTML (preferred) last");
    }

    #[test]
    fn bad_addresses_are_named() {
        let mut bad = email();
        bad.to = "not an address".into();
        let err = bad.to_message().unwrap_err().to_string();
        assert!(err.contains("the to address `not an address`"), "{err}");
        assert!(named_address("Shop", "nope").is_err());
    }

    #[test]
    fn spool_file_name_is_safe_and_stable() {
        assert_eq!(
            email().spool_file_name(),
            "rf-0196a3f2-7c1d-7b2e-9f00-123456789abc-needs_info-2@refundd.eml"
        );
        let mut odd = email();
        odd.message_id = "<../../etc/passwd@x>".into();
        assert_eq!(odd.spool_file_name(), ".._.._etc_passwd@x.eml");
    }
}
