//! Which registered payment an email is about. First by reference (the gateway transaction
//! id written in the email), then by sender and amount together, then by the sender alone
//! when the sender has exactly one payment. When more than one payment
//! fits at the same step the answer is [`PaymentMatch::Ambiguous`]: a person or the customer
//! decides, the intake never guesses.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::InboundEmail;
use crate::money::{DecimalAmount, Money};

/// A registered payment the email may be about (the merchant's payments, loaded by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidatePayment {
    /// The payment's id.
    pub id: Uuid,
    /// The gateway's transaction id; the email may give it as its reference or in its text.
    pub gateway_transaction_id: String,
    /// The address the payment was registered with, compared with the sender's.
    pub customer_email: Option<String>,
    /// The captured amount, in integer minor units of its currency.
    pub amount: Money,
    /// When the payment was captured; several matches are listed newest first.
    pub paid_at: DateTime<Utc>,
}

/// The outcome of matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentMatch {
    /// The one payment whose gateway transaction id the email names.
    ByReference(Uuid),
    /// The one payment of the sender's for the amount the email names.
    BySenderAndAmount(Uuid),
    /// The sender's only registered payment (the email names no reference or amount that
    /// picks one).
    BySender(Uuid),
    /// Several payments fit equally well, newest first.
    Ambiguous(Vec<Uuid>),
    /// No payment fits.
    None,
}

impl PaymentMatch {
    /// The payment when exactly one was found.
    pub fn payment(&self) -> Option<Uuid> {
        match self {
            PaymentMatch::ByReference(id)
            | PaymentMatch::BySenderAndAmount(id)
            | PaymentMatch::BySender(id) => Some(*id),
            PaymentMatch::Ambiguous(_) | PaymentMatch::None => None,
        }
    }
}

/// Transaction ids shorter than this are only matched against the extracted reference, never
/// searched for in free text (a short id like `4512` turns up in phone numbers and dates).
const MIN_ID_IN_TEXT: usize = 6;

/// Matches `email` against `candidates`. Pure.
pub fn match_payment(email: &InboundEmail, candidates: &[CandidatePayment]) -> PaymentMatch {
    let text = SearchText {
        reference: email
            .extracted
            .payment_reference
            .as_deref()
            .map(normalise_reference),
        subject: email.subject.to_lowercase(),
        body: email.body_text.to_lowercase(),
    };
    let by_reference: Vec<&CandidatePayment> = candidates
        .iter()
        .filter(|c| text.names(&c.gateway_transaction_id))
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
    let senders_payments: Vec<&CandidatePayment> = candidates
        .iter()
        .filter(|c| {
            c.customer_email
                .as_deref()
                .is_some_and(|e| senders.contains(&e.trim().to_lowercase()))
        })
        .collect();
    if let Some((amount_text, currency)) = &email.extracted.amount
        && let Ok(amount) = DecimalAmount::parse(amount_text)
    {
        let by_amount: Vec<&CandidatePayment> = senders_payments
            .iter()
            .copied()
            .filter(|c| currency.is_none_or(|cur| cur == c.amount.currency()))
            .filter(|c| amount.in_currency(c.amount.currency()) == Ok(c.amount))
            .collect();
        if let Some(found) = single_or_ambiguous(by_amount, PaymentMatch::BySenderAndAmount) {
            return found;
        }
    }
    // The sender has one payment with us: that is the one (an amount that differs, such as a
    // balance the customer computed, does not make it another).
    match senders_payments.as_slice() {
        [one] => PaymentMatch::BySender(one.id),
        _ => PaymentMatch::None,
    }
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

/// The email's reference and text, lower-cased once for all candidates.
struct SearchText {
    reference: Option<String>,
    subject: String,
    body: String,
}

impl SearchText {
    /// Whether the email names this gateway transaction id: as its extracted reference, or
    /// standing alone anywhere in the subject or body.
    fn names(&self, transaction_id: &str) -> bool {
        let id = normalise_reference(transaction_id);
        if id.is_empty() {
            return false;
        }
        if self.reference.as_deref() == Some(id.as_str()) {
            return true;
        }
        id.chars().count() >= MIN_ID_IN_TEXT
            && (stands_alone_in(&self.subject, &id) || stands_alone_in(&self.body, &id))
    }
}

fn normalise_reference(reference: &str) -> String {
    reference
        .trim()
        .trim_start_matches(['#', '№'])
        .to_lowercase()
}

/// `needle` occurs in `hay` with no letter or digit glued to either side (both lower-case).
fn stands_alone_in(hay: &str, needle: &str) -> bool {
    let glued = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    hay.match_indices(needle).any(|(at, _)| {
        !glued(hay[..at].chars().next_back()) && !glued(hay[at + needle.len()..].chars().next())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::parse;
    use crate::money::Currency;

    fn payment(
        n: u128,
        txn: &str,
        email: &str,
        minor: i64,
        currency: Currency,
    ) -> CandidatePayment {
        CandidatePayment {
            id: Uuid::from_u128(n),
            gateway_transaction_id: txn.into(),
            customer_email: Some(email.into()),
            amount: Money::from_minor(minor, currency),
            paid_at: DateTime::from_timestamp(1_772_000_000 + n as i64, 0).unwrap(),
        }
    }

    fn email(body: &str) -> InboundEmail {
        parse(format!("From: a@b.lv\r\nSubject: refund\r\n\r\n{body}\r\n").as_bytes()).unwrap()
    }

    #[test]
    fn an_id_inside_a_longer_number_is_not_named() {
        let candidates = [payment(1, "884120077", "x@y.by", 100, Currency::BYN)];
        let e = email("my phone is 88412007712, please call");
        assert_eq!(match_payment(&e, &candidates), PaymentMatch::None);
        let e = email("payment went through as 884120077 yesterday");
        assert_eq!(
            match_payment(&e, &candidates),
            PaymentMatch::ByReference(Uuid::from_u128(1))
        );
    }

    #[test]
    fn the_named_currency_and_the_exact_amount_must_fit() {
        let candidates = [
            payment(1, "T-1", "a@b.lv", 4550, Currency::EUR),
            payment(2, "T-2", "a@b.lv", 4550, Currency::USD),
        ];
        assert_eq!(
            match_payment(&email("paid 45.50 EUR"), &candidates),
            PaymentMatch::BySenderAndAmount(Uuid::from_u128(1))
        );
        assert_eq!(
            match_payment(&email("paid 45.50 yesterday"), &candidates),
            PaymentMatch::None,
            "no amount with a currency or an amount word"
        );
        assert_eq!(
            match_payment(&email("amount: 45.50"), &candidates),
            PaymentMatch::Ambiguous(vec![Uuid::from_u128(2), Uuid::from_u128(1)]),
            "no currency named: both fit, neither is chosen"
        );
        assert_eq!(
            match_payment(&email("paid 45.51 EUR"), &candidates),
            PaymentMatch::None
        );
        let stranger = [payment(3, "T-3", "other@b.lv", 4550, Currency::EUR)];
        assert_eq!(
            match_payment(&email("paid 45.50 EUR"), &stranger),
            PaymentMatch::None
        );
    }
}
