//! Email intake, the pure part: turns one raw RFC 5322 message into an [`InboundEmail`]
//! (decoded, HTML reduced to text, card numbers masked, classified, facts extracted), matches
//! it to a registered payment, says what is missing and writes the auto-reply. No I/O: the
//! IMAP reader, the raw-MIME API endpoint and the database sit on top of these functions.
//!
//! Rules kept here, so every caller gets them:
//! - card numbers and personal (national identity) numbers are masked in everything [`parse`]
//!   returns before anyone can store or log it;
//! - a message over the limits ([`IntakeLimits`]: attachments, their sizes) is refused whole;
//! - auto-replies, bounces and list mail are recognised ([`MailKind`]) and never answered;
//! - a message is deduplicated by its Message-ID, or the SHA-256 of its bytes when it has none;
//! - a payment is matched only when exactly one candidate fits; otherwise nothing is guessed;
//! - an email acts on a payment or a request only when its sender is the payment's customer or
//!   the request's contact ([`sender_is`]); the answer to anyone else names nothing it claimed.

mod attachment_kind;
mod auto_reply;
mod classify;
mod extract;
mod language;
mod matching;
mod mime;
mod missing;
mod rate_limit;
mod reading;
mod sender;
mod thread;
mod understood;
mod unverified;

pub use attachment_kind::{AttachmentKind, attachment_kind};
pub use auto_reply::{answerable, auto_reply};
pub use language::Language;
pub use matching::{CandidatePayment, PaymentMatch, match_payment};
pub use mime::{IntakeLimits, MAX_RAW_BYTES, parse, parse_with};
pub use missing::{MissingItem, already_asked, missing_for_application};
pub use rate_limit::ReplyRateLimit;
pub use reading::{Answer, Doubt, Evidence, Reading, StatedFacts, read, read_answers, read_on};
pub use sender::{normalise_address, sender_is};
pub use thread::{NotARequestTag, request_of_message_id};
pub use thread::{RequestRef, RequestTag, referenced_request};
pub use understood::understood;
pub use unverified::{
    ConfirmationRequest, UnverifiedAnswer, confirmation_request, unverified_answer,
};

use crate::money::Currency;

/// One received email, decoded and made safe to store: card numbers in the subject, body,
/// names and text attachments are already masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEmail {
    /// The `Message-ID` without angle brackets, or `sha256:<hex of the raw bytes>` when the
    /// message has none. The deduplication key: one email never opens two requests.
    pub message_id: String,
    /// The sender's address, lower-cased.
    pub from_address: Option<String>,
    /// The sender's display name, card and personal numbers masked. Like the address, it is
    /// only what the message claims.
    pub from_name: Option<String>,
    /// The subject, trimmed, card and personal numbers masked.
    pub subject: String,
    /// Every text part (HTML parts reduced to text), forwarded messages included.
    pub body_text: String,
    /// The language guessed from the customer's own words, or the subject too when they have none.
    pub language: Language,
    /// The first message id in `In-Reply-To`, if any.
    pub in_reply_to: Option<String>,
    /// The message ids in `References`, in header order.
    pub references: Vec<String>,
    /// `RF-1A2B3C4D` when the subject carries a request tag.
    pub request_tag: Option<RequestTag>,
    /// The files that came with it, those of forwarded messages included.
    pub attachments: Vec<Attachment>,
    /// True when a card number was found and masked anywhere in the message.
    pub card_number_masked: bool,
    /// Whether a person or a machine sent it, which decides what the intake does.
    pub kind: MailKind,
    /// Facts read from the subject and body.
    pub extracted: Extracted,
    /// The day its `Date` header names (gives dates written without a year their year).
    pub written_on: Option<chrono::NaiveDate>,
}

/// What kind of message this is, which decides what the intake does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    /// A new application (or a message we cannot tie to a request).
    Application,
    /// Carries a request tag, or its In-Reply-To/References name one of our messages.
    Reply,
    /// Sent by a machine on someone's behalf (`Auto-Submitted`, `Precedence: bulk|junk`,
    /// vacation responders): never opens a request, never answered.
    AutoReply,
    /// A delivery status notification: never opens a request, never answered.
    Bounce,
    /// List or newsletter mail (`List-Id`, `Precedence: list`): never opens a request, never
    /// answered.
    MailingList,
}

impl MailKind {
    /// Whether a person wrote this message, so it may open or update a request.
    pub fn from_a_person(self) -> bool {
        matches!(self, MailKind::Application | MailKind::Reply)
    }

    /// The kind's name as stored with the inbound email.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Application => "application",
            MailKind::Reply => "reply",
            MailKind::AutoReply => "auto_reply",
            MailKind::Bounce => "bounce",
            MailKind::MailingList => "mailing_list",
        }
    }
}

/// A file that came with the message. Scans (JPEG/PNG/PDF) become documents of the request;
/// the validate stage checks what the bytes really are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name as sent (card numbers masked).
    pub filename: Option<String>,
    /// `type/subtype`, lower-case, without parameters.
    pub content_type: String,
    /// The decoded content. Text attachments are UTF-8 with card numbers masked.
    pub bytes: Vec<u8>,
}

/// Facts read from the subject and body. Each is `None` when the text does not say it
/// clearly; nothing is inferred beyond the words.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extracted {
    /// An order or invoice number, or a gateway transaction id, as written.
    pub payment_reference: Option<String>,
    /// The amount as a decimal with two places (`"90.00"`), with the currency when named.
    pub amount: Option<(String, Option<Currency>)>,
    /// How the customer's own words were read: reason, certainty, doubts, stated facts, and
    /// the evidence for each.
    pub reading: Reading,
    /// The customer's name: as the text states it, from a signature line, or else the sender's
    /// display name when it looks like a name.
    pub customer_name: Option<String>,
    /// The customer's address when it differs from the sender: the original sender of a
    /// forwarded message, or an address the text names as the one used for the order.
    pub customer_email: Option<String>,
}

/// Why a raw message could not be read at all. The caller keeps the raw bytes aside (nothing
/// is lost) and tells a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// The message is empty or only whitespace.
    #[error("the message is empty")]
    Empty,
    /// The message is over [`MAX_RAW_BYTES`].
    #[error("the message is {size} bytes, over the {limit}-byte limit for the refunds mailbox")]
    TooLarge {
        /// The message's size in bytes.
        size: usize,
        /// The largest message read, in bytes.
        limit: usize,
    },
    /// No header block could be read from the bytes.
    #[error("the bytes are not an email message (no header block could be read)")]
    NotAnEmail,
    /// The MIME structure is damaged (or made the parser panic).
    #[error("the message's MIME structure is damaged and could not be read")]
    Unreadable,
    /// The message carries more attachments than [`IntakeLimits`] allow.
    #[error(
        "the message has {count} attachments; at most {limit} are taken in one email: send the \
         documents in several emails"
    )]
    TooManyAttachments {
        /// How many attachments the message carries.
        count: usize,
        /// The most one email may carry.
        limit: usize,
    },
    /// One attachment is over the per-file size limit.
    #[error(
        "attachment {name:?} is {size} bytes, over the {limit}-byte limit for one file: send a \
         smaller scan or photo"
    )]
    AttachmentTooLarge {
        /// The file name (card numbers masked), or its content type when it has none.
        name: String,
        /// The attachment's size in bytes.
        size: usize,
        /// The largest one attachment may be, in bytes.
        limit: usize,
    },
}

impl IntakeError {
    /// Over one of the intake's limits: refused whole, nothing of it stored but the reason.
    pub fn is_over_a_limit(&self) -> bool {
        matches!(
            self,
            IntakeError::TooLarge { .. }
                | IntakeError::TooManyAttachments { .. }
                | IntakeError::AttachmentTooLarge { .. }
        )
    }
}
