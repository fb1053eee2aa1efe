//! Which registered payment an email is about. First by reference (the gateway transaction
//! id written in the email), then by sender and amount together. When more than one payment
//! fits at the same step the answer is [`PaymentMatch::Ambiguous`]: a person or the customer
//! decides, the intake never guesses.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::InboundEmail;
use crate::money::{DecimalAmount, Money};

/// A registered payment the email may be about (the merchant's payments, loaded by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidatePayment {
    pub id: Uuid,
    pub gateway_transaction_id: String,
    pub customer_email: Option<String>,
    pub amount: Money,
    pub paid_at: DateTime<Utc>,
}

/// The outcome of matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentMatch {
    ByReference(Uuid),
    BySenderAndAmount(Uuid),
    /// Several payments fit equally well, newest first.
    Ambiguous(Vec<Uuid>),
    None,
}

impl PaymentMatch {
    /// The payment when exactly one was found.
    pub fn payment(&self) -> Option<Uuid> {
        match self {
            PaymentMatch::ByReference(id) | PaymentMatch::BySenderAndAmount(id) => Some(*id),
            PaymentMatch::Ambiguous(_) | PaymentMatch::None => None,
        }
    }
}

/// Transaction ids shorter than this are only matched against the extracted reference, never
/// searched for in free text (a short id like `4512` turns up in phone numbers and dates).
const MIN_ID_IN_TEXT: usize = 6;

/// Matches `email` against `candidates`. Pure.
pub fn match_payment(email: &InboundEmail, candidates: &[CandidatePayment]) -> PaymentMatch {
    let by_reference: Vec<&CandidatePayment> = candidates
        .iter()
        .filter(|c| reference_names(email, &c.gateway_transaction_id))
        .collect();
    if let Some(found) = single_or_ambiguous(by_reference, PaymentMatch::ByReference) {
        return found;
    }

    let senders: Vec<String> = email
        .from_address
        .iter()
        .chain(email.extracted.customer_email.iter())
        .map(|a| a.trim().to_lowercase())
        .collect();
    let Some((amount_text, currency)) = &email.extracted.amount else {
        return PaymentMatch::None;
    };
    let Ok(amount) = DecimalAmount::parse(amount_text) else {
        return PaymentMatch::None;
    };
    let by_sender: Vec<&CandidatePayment> = candidates
        .iter()
        .filter(|c| {
            c.customer_email
                .as_deref()
                .is_some_and(|e| senders.contains(&e.trim().to_lowercase()))
        })
        .filter(|c| currency.is_none_or(|cur| cur == c.amount.currency()))
        .filter(|c| amount.in_currency(c.amount.currency()) == Ok(c.amount))
        .collect();
    single_or_ambiguous(by_sender, PaymentMatch::BySenderAndAmount).unwrap_or(PaymentMatch::None)
}

fn single_or_ambiguous(
    mut found: Vec<&CandidatePayment>,
    single: fn(Uuid) -> PaymentMatch,
) -> Option<PaymentMatch> {
    found.sort_by(|a, b| b.paid_at.cmp(&a.paid_at).then(a.id.cmp(&b.id)));
    found.dedup_by_key(|c| c.id);
    match found.as_slice() {
        [] => None,
        [one] => Some(single(one.id)),
        many => Some(PaymentMatch::Ambiguous(many.iter().map(|c| c.id).collect())),
    }
}

/// Whether the email names this gateway transaction id: as its extracted reference, or
/// standing alone anywhere in the subject or body.
fn reference_names(email: &InboundEmail, transaction_id: &str) -> bool {
    let id = transaction_id.trim();
    if id.is_empty() {
        return false;
    }
    let normalise = |s: &str| s.trim().trim_start_matches(['#', '№']).to_lowercase();
    if email
        .extracted
        .payment_reference
        .as_deref()
        .is_some_and(|r| normalise(r) == normalise(id))
    {
        return true;
    }
    id.chars().count() >= MIN_ID_IN_TEXT
        && (stands_alone_in(&email.subject, id) || stands_alone_in(&email.body_text, id))
}

/// `needle` occurs in `haystack` (any case) with no letter or digit glued to either side.
fn stands_alone_in(haystack: &str, needle: &str) -> bool {
    let hay = haystack.to_lowercase();
    let needle = needle.to_lowercase();
    let glued = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    hay.match_indices(&needle).any(|(at, _)| {
        !glued(hay[..at].chars().next_back()) && !glued(hay[at + needle.len()..].chars().next())
    })
}
