//! What an email is about ([`Event`]) and which language it is written in ([`Language`],
//! the one language type of the workspace, re-exported here).

use std::str::FromStr;

use crate::names::Named;
use serde::{Deserialize, Serialize};

pub use crate::language::Language;

/// A step of a request that the customer is told about by email.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The application reached us and was registered.
    Received,
    /// Something is missing; the email says exactly what and how to send it.
    NeedsInfo,
    /// The refund is approved (amount, due date).
    Approved,
    /// The refund fits the policy but a person must confirm it first.
    AwaitingConfirmation,
    /// The refund is refused (the clause that forbids it).
    Rejected,
    /// The money went back (amount, card brand and last 4, how long banks take).
    Refunded,
    /// The payout did not go through; a person is looking at it.
    PayoutDelayed,
    /// A refund the gateway had booked was later reported failed by the gateway (Stripe
    /// `refund.failed`); a person is looking at it.
    RefundReversed,
    /// The card cannot take the refund; bank details are needed.
    BankDetailsNeeded,
    /// The customer withdrew the application.
    Withdrawn,
}

impl Event {
    /// Every variant, in declaration order.
    pub const ALL: &'static [Event] = <Event as strum::VariantArray>::VARIANTS;

    /// The stable snake_case name, as serialized (also part of every Message-ID).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A name that is not one of the [`Event`]s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown email event `{0}` (expected one of received, needs_info, approved, awaiting_confirmation, rejected, refunded, payout_delayed, refund_reversed, bank_details_needed, withdrawn)"
)]
pub struct UnknownEvent(pub String);

impl FromStr for Event {
    type Err = UnknownEvent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Event::from_name(s).ok_or_else(|| UnknownEvent(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_their_names() {
        for &event in Event::ALL {
            assert_eq!(event.as_str().parse::<Event>(), Ok(event));
            let json = serde_json::to_string(&event).unwrap();
            assert_eq!(json, format!("\"{}\"", event.as_str()));
            assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
        }
        assert!("refund".parse::<Event>().is_err());
    }
}
