//! Raw MIME to [`InboundEmail`]: decoding (charsets, base64, quoted-printable, RFC 2047
//! headers) is mail-parser's; this module chooses the parts, reduces HTML to text, unfolds
//! forwarded messages, masks card numbers everywhere and assembles the result.

use std::sync::LazyLock;

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};
use regex::Regex;
use sha2::{Digest, Sha256};

use super::classify::{Envelope, classify};
use super::extract::extract;
use super::language::{Language, own_words};
use super::thread::tag_in_subject;
use super::{Attachment, InboundEmail, IntakeError};
use crate::cards::mask_card_numbers;
use crate::identity::masking::mask_personal_numbers;

/// The largest message the intake reads (the usual mailbox limit plus MIME overhead).
pub const MAX_RAW_BYTES: usize = 40 * 1024 * 1024;

/// Forwarded messages inside forwarded messages are unfolded this deep, no deeper.
const MAX_NESTING: usize = 4;

/// What one email may carry (`REFUNDD_INTAKE_MAX_ATTACHMENTS`; the per-file limit is the
/// one for uploaded documents).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntakeLimits {
    /// The most attachments one email may carry (20 by default).
    pub max_attachments: usize,
    /// The largest one attachment may be, in bytes (by default the limit for uploaded documents).
    pub max_attachment_bytes: usize,
}

impl Default for IntakeLimits {
    fn default() -> Self {
        Self {
            max_attachments: 20,
            max_attachment_bytes: crate::identity::file::FileLimits::default().max_bytes,
        }
    }
}

/// Parses one raw message under the default [`IntakeLimits`].
pub fn parse(raw: &[u8]) -> Result<InboundEmail, IntakeError> {
    parse_with(raw, &IntakeLimits::default())
}

/// Parses one raw message. Never panics; any byte string gives a result or an error.
/// mail-parser 0.11 can panic on some malformed MIME trees (found by fuzzing: "Invalid part
/// ID, could not find multipart"); such a message is answered as unreadable instead of
/// taking the intake down (and being retried for ever).
pub fn parse_with(raw: &[u8], limits: &IntakeLimits) -> Result<InboundEmail, IntakeError> {
    std::panic::catch_unwind(|| parse_unguarded(raw, limits))
        .unwrap_or(Err(IntakeError::Unreadable))
}

fn parse_unguarded(raw: &[u8], limits: &IntakeLimits) -> Result<InboundEmail, IntakeError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(IntakeError::Empty);
    }
    if raw.len() > MAX_RAW_BYTES {
        return Err(IntakeError::TooLarge {
            size: raw.len(),
            limit: MAX_RAW_BYTES,
        });
    }
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(IntakeError::NotAnEmail)?;
    if message.headers().is_empty() {
        return Err(IntakeError::NotAnEmail);
    }

    let message_id = message
        .message_id()
        .map(|id| {
            id.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim()
        })
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(raw))));

    let sender = message.from().and_then(|a| a.first());
    let from_address = sender
        .and_then(|a| a.address())
        .map(|a| a.trim().to_lowercase())
        .filter(|a| !a.is_empty());
    let mut masked_any = false;
    let mut mask = |text: &str| {
        let (masked, any) = mask_card_numbers(text);
        masked_any |= any;
        mask_personal_numbers(&masked).0
    };
    let from_name = sender
        .and_then(|a| a.name())
        .map(|n| mask(n.trim()))
        .filter(|n| !n.is_empty());
    let subject = mask(message.subject().unwrap_or("").trim());

    let in_reply_to = message
        .in_reply_to()
        .as_text_list()
        .and_then(|l| l.first().map(ToString::to_string))
        .or_else(|| message.in_reply_to().as_text().map(str::to_owned));
    let references: Vec<String> = match message.references().as_text_list() {
        Some(list) => list.iter().map(ToString::to_string).collect(),
        None => message
            .references()
            .as_text()
            .map(|s| vec![s.to_owned()])
            .unwrap_or_default(),
    };

    let mut content = Content::default();
    content.read(&message, 0);
    if content.attachments.len() > limits.max_attachments {
        return Err(IntakeError::TooManyAttachments {
            count: content.attachments.len(),
            limit: limits.max_attachments,
        });
    }
    if let Some(big) = content
        .attachments
        .iter()
        .find(|a| a.bytes.len() > limits.max_attachment_bytes)
    {
        return Err(IntakeError::AttachmentTooLarge {
            name: big
                .filename
                .as_deref()
                .map(|f| mask_card_numbers(f).0)
                .unwrap_or_else(|| big.content_type.clone()),
            size: big.bytes.len(),
            limit: limits.max_attachment_bytes,
        });
    }
    let body_text = mask(content.text.trim());
    let forwarded_from = content.forwarded_from.clone();
    let attachments: Vec<Attachment> = content
        .attachments
        .into_iter()
        .map(|mut a| {
            a.filename = a.filename.map(|f| mask(&f));
            if a.content_type.starts_with("text/") {
                let text = String::from_utf8_lossy(&a.bytes).into_owned();
                a.bytes = mask(&text).into_bytes();
            }
            a
        })
        .collect();

    let kind = classify(
        &message,
        &Envelope {
            from_address: from_address.as_deref(),
            subject: &subject,
            in_reply_to: in_reply_to.as_deref(),
            references: &references,
        },
    );
    let own = own_words(&body_text);
    let language = if own.chars().any(char::is_alphabetic) {
        Language::guess("", &body_text)
    } else {
        Language::guess(&subject, &body_text)
    };
    let written_on = message.date().and_then(|d| {
        chrono::NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
    });
    let extracted = extract(
        &subject,
        &body_text,
        from_name.as_deref(),
        forwarded_from.as_deref(),
        from_address.as_deref(),
        written_on,
    );

    Ok(InboundEmail {
        message_id,
        from_address,
        from_name,
        request_tag: tag_in_subject(&subject),
        subject,
        body_text,
        language,
        in_reply_to,
        references,
        attachments,
        card_number_masked: masked_any,
        kind,
        extracted,
        written_on,
    })
}

/// Text and files gathered from a message and the messages forwarded inside it.
#[derive(Default)]
struct Content {
    text: String,
    attachments: Vec<Attachment>,
    /// The sender of the first forwarded message.
    forwarded_from: Option<String>,
}

impl Content {
    fn read(&mut self, message: &Message<'_>, depth: usize) {
        for &id in &message.text_body {
            if let Some(part) = message.parts.get(id as usize) {
                let text = match &part.body {
                    PartType::Text(text) => text.to_string(),
                    PartType::Html(html) => html_to_text(html),
                    _ => continue,
                };
                self.push_text(&text);
            }
        }
        for &id in &message.attachments {
            if message.text_body.contains(&id) {
                continue;
            }
            let Some(part) = message.parts.get(id as usize) else {
                continue;
            };
            match &part.body {
                PartType::Message(nested) if depth < MAX_NESTING => {
                    self.read_forwarded(nested, depth + 1);
                }
                PartType::Message(nested) => self.attachments.push(Attachment {
                    filename: part.attachment_name().map(str::to_owned),
                    content_type: "message/rfc822".to_owned(),
                    bytes: nested.raw_message().to_vec(),
                }),
                PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
                    self.attachments.push(Attachment {
                        filename: part.attachment_name().map(str::to_owned),
                        content_type: content_type(part),
                        bytes: bytes.to_vec(),
                    });
                }
                PartType::Text(text) => self.attachments.push(Attachment {
                    filename: part.attachment_name().map(str::to_owned),
                    content_type: content_type(part),
                    bytes: text.as_bytes().to_vec(),
                }),
                PartType::Html(html) => self.attachments.push(Attachment {
                    filename: part.attachment_name().map(str::to_owned),
                    content_type: content_type(part),
                    bytes: html.as_bytes().to_vec(),
                }),
                PartType::Multipart(_) => {}
            }
        }
    }

    /// A message attached as `message/rfc822`: its text joins the body under a forwarded
    /// banner (the way mail clients show it), its files join the attachments.
    fn read_forwarded(&mut self, nested: &Message<'_>, depth: usize) {
        let sender = nested.from().and_then(|a| a.first());
        let address = sender
            .and_then(|a| a.address())
            .map(|a| a.trim().to_lowercase());
        if self.forwarded_from.is_none() {
            self.forwarded_from = address.clone();
        }
        let mut banner = String::from("---------- Forwarded message ----------\n");
        if let Some(address) = &address {
            match sender.and_then(|a| a.name()) {
                Some(name) => banner.push_str(&format!("From: {name} <{address}>\n")),
                None => banner.push_str(&format!("From: {address}\n")),
            }
        }
        if let Some(subject) = nested.subject() {
            banner.push_str(&format!("Subject: {subject}\n"));
        }
        self.push_text(&banner);
        self.read(nested, depth);
    }

    fn push_text(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if !self.text.is_empty() {
            self.text.push_str("\n\n");
        }
        self.text.push_str(text);
    }
}

fn content_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None => "application/octet-stream".to_owned(),
    }
}

/// Block-level tags end a line in the rendered mail; mail-parser's reduction only breaks at
/// `<br>` and `</p>`, so the others are turned into `<br>` first.
static BLOCK_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)</(?:div|tr|li|h[1-6]|table|blockquote|ul|ol)\s*>|<(?:li|tr|hr)\b[^>]*>")
        .expect("block tag pattern")
});

fn html_to_text(html: &str) -> String {
    let with_breaks = BLOCK_END.replace_all(html, "$0<br>");
    let text = mail_parser::decoders::html::html_to_text(&with_breaks);
    // Collapse the blank lines that nested blocks leave behind.
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_blocks_become_lines() {
        let text = html_to_text(
            "<html><head><style>p{}</style></head><body><div>Hello&nbsp;there</div><div>Order &#8470; 42</div></body></html>",
        );
        assert_eq!(text.trim(), "Hello\u{a0}there\nOrder № 42");
    }

    #[test]
    fn refuses_what_is_not_mail() {
        assert_eq!(parse(b""), Err(IntakeError::Empty));
        assert_eq!(parse(b" \r\n"), Err(IntakeError::Empty));
    }
}
