//! Customer emails: what each step of a request tells the customer, in their language, and
//! how the email leaves the system.
//!
//! - [`render`] turns an [`EmailContext`] into a subject, a text part and an HTML part, for
//!   every [`Event`] in Russian, Kazakh, Latvian and English (the fallback).
//! - [`OutgoingEmail`] adds addresses and threading headers (a stable Message-ID, and
//!   `In-Reply-To`/`References` when answering the customer's own email).
//! - [`Mailer`] sends it over SMTP (pooled, plain/STARTTLS/TLS) or, with no server
//!   configured, writes it as an `.eml` file into a spool folder.
//!
//! - [`render_escalation`] writes the escalations sent to a merchant's support address when a
//!   request's SLA is at risk or breached.
//!
//! Plural forms ([`plural`]) and local amounts and dates ([`local`]) are public so that other
//! customer-facing text can use them.

mod document;
mod escalation;
mod event;
pub mod local;
mod mailer;
mod missing;
mod outgoing;
pub mod plural;
mod smtp;
mod templates;

pub use escalation::{Escalation, EscalationContext, render_escalation};
pub use event::{Event, Language, UnknownEvent};
pub use local::{format_date, format_money};
pub use mailer::{Mailer, MailerConfigError, SendError, SmtpSecurity};
pub use missing::MissingItem;
pub use outgoing::{
    MessageError, OutgoingEmail, bracketed_id, message_id, named_address, named_message_id,
};
pub use plural::{PluralCategory, PluralForms, plural_category};
pub use smtp::SmtpPool;
pub use templates::{
    AmountReason, EmailContext, RefundChannel, RenderedEmail, render, render_plain, request_tag,
};
