//! The decide stage: applies the merchant's policy to a complete request as of its received
//! date, stores the decision (pack id, pack version, clause, the facts it used) and moves the
//! request to approved (on to payout), awaiting confirmation (a supervisor confirms),
//! manual review or rejected. Side effects the pack names (such as revoking course access
//! within a working day) are recorded with the decision and in the history.
//!
//! The validate stage decides a complete request itself, in its own transaction, with
//! `decide`; the decide role takes the decide messages still queued (from before, or sent
//! by hand) and decides them the same way.

use std::sync::Arc;

use serde_json::json;
use shared::broker::consumer::{Handler, HandlerError};
use shared::calendar::Calendars;
use shared::lifecycle::RequestState;
use shared::messages::{Stage, WorkMessage};
use shared::policy::{DecisionKind, PolicyPacks};
use shared::transition::{self, Transition};
use sqlx::{PgConnection, PgPool};

use super::assessment::{Assessment, assess, locked};
use super::validate::{Entering, to_handler_error};

pub struct Decide {
    pool: PgPool,
    packs: Arc<PolicyPacks>,
    calendars: Arc<Calendars>,
}

impl Decide {
    pub fn new(pool: PgPool, packs: Arc<PolicyPacks>, calendars: Arc<Calendars>) -> Self {
        Self {
            pool,
            packs,
            calendars,
        }
    }
}

impl Handler for Decide {
    async fn handle(&self, message: WorkMessage) -> Result<(), HandlerError> {
        let id = message.request_id;
        let mut tx = self.pool.begin().await?;
        if !transition::first_delivery(&mut tx, "decide", message.message_id).await? {
            return Ok(());
        }
        let record = locked(&mut tx, id).await?;
        let version = record.version;
        if record.state != RequestState::Validating {
            tx.commit().await?;
            return Ok(());
        }
        let a = assess(&mut tx, record, &self.packs, &self.calendars).await?;
        decide(
            &mut tx,
            &Entering(None),
            version,
            a,
            &self.packs,
            &self.calendars,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Decides a complete request in `validating`, locked by the caller's transaction at
/// `version` (or about to enter it: `entering`, written with the decision's move), from its
/// assessment: stores the decision and makes the move, in the caller's transaction (the validate stage calls it in its own, so a request that needs nothing read
/// from a document is validated and decided in one transaction).
pub(super) async fn decide(
    tx: &mut PgConnection,
    entering: &Entering<'_>,
    version: i32,
    mut a: Assessment,
    packs: &PolicyPacks,
    calendars: &Calendars,
) -> Result<(), HandlerError> {
    let id = a.record.id;
    let state = RequestState::Validating;
    let Some(decision) = a.decision.take() else {
        return Err(HandlerError::Permanent(anyhow::anyhow!(
            "request {id} reached decide without a payment"
        )));
    };
    // An application read from an email is decided automatically only on a certain
    // reading (see `guess`); otherwise a person decides.
    let pack = a.payment.as_ref().and_then(|p| packs.get(&p.policy));
    let automatic = matches!(decision.decision, DecisionKind::Reject)
        || (decision.decision == DecisionKind::Approve && !decision.requires_confirmation);
    let guess = if automatic {
        super::guess::doubt(tx, &a.record, pack, &decision).await?
    } else {
        None
    };
    // The customer's email follows from the new state (`transition::apply_steps`).
    let (to, messages, why) = match decision.decision {
        _ if guess.is_some() => (
            RequestState::ManualReview,
            Vec::new(),
            "read from an email, and the reading is not certain: a person decides",
        ),
        DecisionKind::Approve if decision.requires_confirmation => (
            RequestState::AwaitingConfirmation,
            Vec::new(),
            "the policy approves; a supervisor must confirm",
        ),
        DecisionKind::Approve => (
            RequestState::Approved,
            vec![
                WorkMessage::new(Stage::Payout, id)
                    .with_version(version + entering.moves() + 1)
                    .into(),
            ],
            "approved under the policy",
        ),
        DecisionKind::Reject => (
            RequestState::Rejected,
            Vec::new(),
            "rejected under the policy",
        ),
        DecisionKind::ManualReview => (
            RequestState::ManualReview,
            Vec::new(),
            "the policy is silent; a person decides",
        ),
        DecisionKind::NeedsInfo => (
            RequestState::NeedsInfo,
            Vec::new(),
            "information is missing",
        ),
    };
    // A request a person decides is due like any other: a refusal read from an uncertain
    // email has no due date of its own, so it takes the pack's default.
    let due_on = match (&guess, decision.refund_due_by) {
        (Some(_), None) => a.default_due(packs, calendars),
        (_, due) => due,
    };
    // Stored by the move's own UPDATE.
    let stored = shared::policy::StoredDecision::from_engine(&decision);
    let decided = shared::requests::Decided {
        decision: &stored,
        amount_minor: decision.amount.map(shared::money::Money::minor),
        due_on,
        complete_at: a.record.complete_at,
    };
    entering
        .then_deciding(
            tx,
            Transition {
                request_id: id,
                expected_version: version,
                from: state,
                to,
                actor: "worker:decide",
                reason: Some(why),
                details: {
                    let mut details = json!({
                        "policy": decision.policy,
                        "policy_version": decision.policy_version,
                        "rule": decision.rule,
                        "clause": decision.clause,
                        "clause_translations": decision.clause_translations,
                        "amount": decision.amount,
                        "refund_due_by": decision.refund_due_by,
                        "effects": decision.effects,
                    });
                    if let Some(doubt) = &guess {
                        details["not_automatic"] = doubt.clone();
                    }
                    details
                },
            },
            true,
            &messages,
            Some(&decided),
        )
        .await
        .map_err(to_handler_error)?;
    tracing::info!(request_id = %id, decision = ?decision.decision, state = %to, "request decided");
    Ok(())
}
