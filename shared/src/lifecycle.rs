//! The lifecycle of a refund request: its states and the one function that says which moves
//! between them are legal. Nothing else in the system decides that.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a refund request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::Display, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
#[derive(sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum RequestState {
    /// The application is stored (from the API or an email).
    Received,
    /// The validate stage is checking it.
    Validating,
    /// Something is missing and the customer has been asked; the SLA clock is paused.
    NeedsInfo,
    /// A refund of a known amount is decided.
    Approved,
    /// The policy approves, but a person must confirm first.
    AwaitingConfirmation,
    /// A person decides: the policy is silent, or an email reading was not certain.
    ManualReview,
    /// Refused, quoting the clause. Final.
    Rejected,
    /// A payout attempt is committed and the gateway is being called.
    PayoutPending,
    /// The gateway accepted the refund and has not finished it yet.
    PayoutSent,
    /// The money went back. Final.
    Refunded,
    /// The gateway declined the refund.
    PayoutFailed,
    /// The card cannot take the money (or the policy pays by bank transfer), so the customer
    /// is asked for an IBAN; the SLA clock is paused.
    NeedsBankDetails,
    /// Waiting for the finance team's bank transfer.
    ManualPayout,
    /// The customer withdrew the request. Final.
    Withdrawn,
}

use crate::names::Named;
use RequestState::*;

impl RequestState {
    /// Every variant, in declaration order.
    pub const ALL: &'static [RequestState] = <RequestState as strum::VariantArray>::VARIANTS;

    /// The snake_case name stored in the database and shown in the API, e.g. `"needs_info"`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The request is over: rejected, refunded or withdrawn. No person or worker moves it
    /// on; the one way out is the gateway reporting later that a refund it had booked failed
    /// (`refunded → payout_failed`, see [`check_transition`]).
    pub fn is_final(self) -> bool {
        matches!(self, Rejected | Refunded | Withdrawn)
    }

    /// New facts still count: the request is not decided yet (received or being checked:
    /// the running validation reads them), or waits for them (`needs_info`: it is checked
    /// again). Once decided, facts can no longer change the decision.
    pub fn takes_new_facts(self) -> bool {
        matches!(self, Received | Validating | NeedsInfo)
    }

    /// The request is waiting on the customer: the SLA clock is stopped.
    pub fn waits_on_customer(self) -> bool {
        matches!(self, NeedsInfo | NeedsBankDetails)
    }

    /// The email the customer gets on entering this state, `None` for steps that are not
    /// news for them (checking, a person reviewing, the money on its way). `transition::apply`
    /// queues it, so no move into such a state can forget its email.
    pub fn tells_customer(self) -> Option<crate::notify::Event> {
        use crate::notify::Event;
        match self {
            NeedsInfo => Some(Event::NeedsInfo),
            Approved => Some(Event::Approved),
            AwaitingConfirmation => Some(Event::AwaitingConfirmation),
            Rejected => Some(Event::Rejected),
            Refunded => Some(Event::Refunded),
            PayoutFailed => Some(Event::PayoutDelayed),
            NeedsBankDetails => Some(Event::BankDetailsNeeded),
            Withdrawn => Some(Event::Withdrawn),
            // `received` is told when the request is created (or by the intake's answer).
            Received | Validating | ManualReview | PayoutPending | PayoutSent | ManualPayout => {
                None
            }
        }
    }

    /// Entering this state is news for the merchant's own system (a decision, its outcome, or
    /// the end of the application): it goes to the merchant's webhook, if it has one.
    pub fn tells_merchant(self) -> bool {
        matches!(
            self,
            Approved
                | AwaitingConfirmation
                | ManualReview
                | Rejected
                | Refunded
                | PayoutFailed
                | ManualPayout
                | Withdrawn
        )
    }
}

/// The error for a string that names no request state; it holds that string.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown request state {0:?}")]
pub struct UnknownState(pub String);

impl FromStr for RequestState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RequestState::from_name(s).ok_or_else(|| UnknownState(s.to_string()))
    }
}

/// A move the lifecycle does not allow.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a request cannot go from {from} to {to}")]
pub struct IllegalTransition {
    /// The state the request is in.
    pub from: RequestState,
    /// The state the move would enter.
    pub to: RequestState,
}

/// The lifecycle of ARCHITECTURE.md, in one place:
/// `received → validating → (needs_info ⇄ validating) → decided` (approved, awaiting
/// confirmation, manual review or rejected); `approved → payout_pending → payout_sent →
/// refunded`, or `payout_failed → needs_bank_details → manual_payout → refunded` (directly from
/// approved when the policy pays by bank transfer); the customer
/// may withdraw any time before payout.
pub fn check_transition(from: RequestState, to: RequestState) -> Result<(), IllegalTransition> {
    let legal = match (from, to) {
        (Received, Validating) => true,
        (Validating, NeedsInfo | Approved | AwaitingConfirmation | ManualReview | Rejected) => true,
        (NeedsInfo, Validating) => true,
        // A supervisor confirms, rejects, or (for a policy that is silent) decides by hand.
        (AwaitingConfirmation, Approved | Rejected | ManualReview) => true,
        (ManualReview, Approved | Rejected) => true,
        // A person asks the customer for something more (a document, a fact) before deciding.
        (AwaitingConfirmation | ManualReview, NeedsInfo) => true,
        // Withdrawal: any time before the money leaves.
        (
            Received | Validating | NeedsInfo | Approved | AwaitingConfirmation | ManualReview,
            Withdrawn,
        ) => true,
        (Approved, PayoutPending) => true,
        // The policy pays by bank transfer (e.g. a shop's advance balance): straight to the
        // manual payout, or first ask for the bank details.
        (Approved, ManualPayout | NeedsBankDetails) => true,
        (PayoutPending, PayoutSent | PayoutFailed) => true,
        (PayoutSent, Refunded | PayoutFailed) => true,
        (PayoutFailed, NeedsBankDetails | PayoutPending) => true,
        // A supervisor records a refund made outside the system (the gateway's cabinet)
        // after a decline or a lost answer.
        (PayoutFailed | PayoutPending, Refunded) => true,
        // The gateway reports later that a refund it had booked failed (Stripe
        // `refund.failed`): the only move out of a final state.
        (Refunded, PayoutFailed) => true,
        (NeedsBankDetails, ManualPayout) => true,
        (ManualPayout, Refunded) => true,
        _ => false,
    };
    if legal {
        Ok(())
    } else {
        Err(IllegalTransition { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path_is_legal() {
        let path = [
            Received,
            Validating,
            Approved,
            PayoutPending,
            PayoutSent,
            Refunded,
        ];
        for w in path.windows(2) {
            check_transition(w[0], w[1]).unwrap();
        }
    }

    #[test]
    fn the_manual_payout_path_is_legal() {
        let path = [
            PayoutPending,
            PayoutFailed,
            NeedsBankDetails,
            ManualPayout,
            Refunded,
        ];
        for w in path.windows(2) {
            check_transition(w[0], w[1]).unwrap();
        }
    }

    #[test]
    fn nothing_leaves_a_final_state_but_a_refund_the_gateway_reports_failed() {
        for state in [Refunded, Rejected, Withdrawn] {
            assert!(state.is_final(), "{state}");
        }
        assert!(!Approved.is_final());
        for from in [Refunded, Rejected, Withdrawn] {
            for &to in RequestState::ALL {
                let legal = check_transition(from, to).is_ok();
                assert_eq!(
                    legal,
                    (from, to) == (Refunded, PayoutFailed),
                    "{from} → {to}"
                );
            }
        }
    }

    #[test]
    fn a_person_may_ask_the_customer_only_before_deciding() {
        for from in [AwaitingConfirmation, ManualReview, Validating] {
            check_transition(from, NeedsInfo).unwrap();
        }
        for from in [
            Approved,
            PayoutPending,
            PayoutFailed,
            ManualPayout,
            Rejected,
        ] {
            assert!(check_transition(from, NeedsInfo).is_err(), "{from}");
        }
    }

    #[test]
    fn no_withdrawal_once_money_moves() {
        for from in [PayoutPending, PayoutSent, Refunded, ManualPayout] {
            assert_eq!(
                check_transition(from, Withdrawn),
                Err(IllegalTransition {
                    from,
                    to: Withdrawn
                })
            );
        }
    }

    #[test]
    fn no_payout_without_approval() {
        for from in [
            Received,
            Validating,
            NeedsInfo,
            AwaitingConfirmation,
            ManualReview,
            Rejected,
        ] {
            assert!(check_transition(from, PayoutPending).is_err(), "{from}");
        }
    }

    #[test]
    fn states_round_trip_through_text() {
        for &state in RequestState::ALL {
            assert_eq!(state.as_str().parse::<RequestState>().unwrap(), state);
            assert_eq!(
                serde_json::to_string(&state).unwrap(),
                format!("\"{}\"", state.as_str())
            );
        }
        assert!("paid".parse::<RequestState>().is_err());
    }
}
