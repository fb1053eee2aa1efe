//! Refund policies: the pack format merchants write their terms in ([`pack`]), the vocabulary
//! of reasons and facts requests use ([`facts`]), and the engine that turns a request into a
//! decision under a pack ([`mod@decide`]). The shipped packs live in `shared/data/policies/`.

pub mod clause;
pub mod decide;
pub mod facts;
pub mod pack;
pub mod stored;

pub use clause::Clause;
pub use decide::{
    Calculation, Decision, Effect, PaymentInput, QuoteError, QuoteInput, decide, default_due,
};
pub use facts::{DateOrTimestamp, DocumentKind, FactKind, FactName, Facts, Percent, Reason};
pub use pack::{DecisionKind, PackError, PayoutMethod, PolicyId, PolicyPack, PolicyPacks};
pub use stored::{STORED_DECISION_VERSION, StoredDecision};

#[cfg(test)]
mod tests;
