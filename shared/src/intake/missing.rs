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
    /// The item's name, as recorded among what an automatic answer asked for.
    pub fn as_str(self) -> &'static str {
        match self {
            MissingItem::PaymentReference => "payment_reference",
            MissingItem::PaymentChoice => "payment_choice",
            MissingItem::Reason => "reason",
            MissingItem::CustomerName => "customer_name",
        }
    }
}

/// Whether the intake's automatic answer, which asked for `asked` (names of [`MissingItem`]s),
/// already asked for everything validation found `missing` (the validate stage's names:
/// `payment_reference`, `reason`, the policy's facts and documents). Asking which payment
/// (`payment_choice`) asks for the payment reference. When it did, a second email asking for
/// the same things is not sent.
pub fn already_asked(asked: &[String], missing: &[String]) -> bool {
    let covers = |item: &str| {
        asked.iter().any(|a| {
            a == item
                || (item == MissingItem::PaymentReference.as_str()
                    && a == MissingItem::PaymentChoice.as_str())
        })
    };
    !missing.is_empty() && missing.iter().all(|m| covers(m))
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
        PaymentMatch::ByReference(_)
        | PaymentMatch::BySenderAndAmount(_)
        | PaymentMatch::BySender(_) => {}
        PaymentMatch::Ambiguous(_) => missing.push(MissingItem::PaymentChoice),
        PaymentMatch::None => missing.push(MissingItem::PaymentReference),
    }
    if email.extracted.reading.reason.is_none() {
        missing.push(MissingItem::Reason);
    }
    if email.extracted.customer_name.is_none() {
        missing.push(MissingItem::CustomerName);
    }
    missing
}

#[cfg(test)]
mod asked_tests {
    use super::already_asked;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn an_answer_that_asked_for_everything_missing_is_not_repeated() {
        let asked = v(&["payment_reference", "reason", "customer_name"]);
        assert!(already_asked(&asked, &v(&["payment_reference", "reason"])));
        assert!(already_asked(&asked, &v(&["reason"])));
        assert!(already_asked(
            &v(&["payment_choice"]),
            &v(&["payment_reference"])
        ));
        // Something the answer did not ask for: the customer must hear about it.
        assert!(!already_asked(&asked, &v(&["reason", "passport_scan"])));
        assert!(!already_asked(&v(&[]), &v(&["payment_reference"])));
        assert!(!already_asked(&asked, &v(&[])));
    }
}
