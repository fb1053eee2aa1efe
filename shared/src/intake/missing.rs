//! What an emailed application still lacks before it can be validated: the payment it is
//! about, why the customer wants the money back, and who they are. Documents and facts a
//! merchant's policy pack asks for are the validate stage's business, not the intake's.

use std::fmt;

use super::InboundEmail;
use super::matching::PaymentMatch;

/// One thing to ask the customer for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MissingItem {
    /// No registered payment could be found: ask for the order or transaction number.
    PaymentReference,
    /// Several payments fit: ask which one (order or transaction number, date and amount).
    PaymentChoice,
    /// No refund, return or withdrawal words and no other reason.
    Reason,
    /// Neither the text nor the sender's display name gives a name.
    CustomerName,
}

impl MissingItem {
    pub fn as_str(self) -> &'static str {
        match self {
            MissingItem::PaymentReference => "payment_reference",
            MissingItem::PaymentChoice => "payment_choice",
            MissingItem::Reason => "reason",
            MissingItem::CustomerName => "customer_name",
        }
    }
}

impl fmt::Display for MissingItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything missing, in a stable order; empty when the application is complete enough to
/// validate.
pub fn missing_for_application(email: &InboundEmail, matched: &PaymentMatch) -> Vec<MissingItem> {
    let mut missing = Vec::new();
    match matched {
        PaymentMatch::ByReference(_) | PaymentMatch::BySenderAndAmount(_) => {}
        PaymentMatch::Ambiguous(_) => missing.push(MissingItem::PaymentChoice),
        PaymentMatch::None => missing.push(MissingItem::PaymentReference),
    }
    if email.extracted.reason.is_none() {
        missing.push(MissingItem::Reason);
    }
    if email.extracted.customer_name.is_none() {
        missing.push(MissingItem::CustomerName);
    }
    missing
}
