//! The sweeper: a parked, dropped or lost message is never the end of a request. On each pass
//! of the sla role it finds requests whose stage has made no progress for `stall_after` and
//! queues the stage's message again through the outbox (each stage's handler is safe to run
//! twice). It backs off per request (`stall_after · 2^sweeps`, up to 64 times) and, after
//! [`ESCALATE_AFTER`] sweeps in one state, writes an audit event saying a person must look,
//! and keeps sweeping at the longest interval.
//!
//! What it sweeps, by state:
//! - `received`, `validating`: the validate stage (it validates and queues the decision);
//! - `approved`: the payout stage (which sends the refund or asks for bank details).
//!
//! Payouts already at the gateway (`payout_pending`, `payout_sent`) are asked about again by
//! [`super::payout::recheck_stuck`], so the sweeper never queues a second payout message
//! for them. States that wait on a person or the customer are not stalls.
//!
//! Messages, too ([`sweep_messages`]): a notify or payout message stays open in the outbox
//! from publishing until its handler is done with it and deletes its row
//! ([`shared::outbox::settle`]). One open
//! for `stall_after` (parked after the retry tiers, say, while SMTP was down; dropped at the
//! delivery limit; lost with a broker node) is handed back to the relay and published again
//! as it was, same id, so its handler takes it for a redelivery: an email whose row is
//! `pending` goes out once with its Message-ID, one never handled is handled. Same backoff
//! and escalation, counted per message.
//!
//! The sla role sweeps only once the database has answered it for longer than the longest
//! retry tier ([`SlaMonitor`](super::sla::SlaMonitor)): after an outage the messages waiting
//! in the tiers come back by themselves, and publishing them again would only race them.

use std::time::Duration;

use serde_json::json;
use shared::lifecycle::RequestState;
use shared::messages::{Stage, WorkMessage};
use shared::outbox::{self, OpenMessage, OutboxMessage};
use shared::requests::{self, Stalled};
use shared::transition;
use sqlx::PgPool;

/// Sweeps of one request in one state before a person is asked to look.
pub const ESCALATE_AFTER: i32 = 5;

/// The most requests one pass re-queues (the rest wait for the next pass).
const BATCH: i64 = 500;

/// The stage whose message moves a request on from `state`, for the states the sweeper
/// watches.
pub fn stage_for(state: RequestState) -> Option<Stage> {
    match state {
        RequestState::Received | RequestState::Validating => Some(Stage::Validate),
        RequestState::Approved => Some(Stage::Payout),
        _ => None,
    }
}

/// One pass: the requests whose stage message was queued again (with the sweeps before this
/// one), in one transaction with their outbox rows.
pub async fn sweep(pool: &PgPool, stall_after: Duration) -> sqlx::Result<Vec<Stalled>> {
    // The watched states are those with a stage to queue.
    let watched: Vec<RequestState> = RequestState::ALL
        .iter()
        .copied()
        .filter(|&state| stage_for(state).is_some())
        .collect();
    let mut tx = pool.begin().await?;
    let stalled = requests::stalled(&mut tx, &watched, stall_after.as_secs_f64(), BATCH).await?;
    if stalled.is_empty() {
        return Ok(stalled);
    }
    let messages: Vec<OutboxMessage> = stalled
        .iter()
        .filter_map(|s| stage_for(s.state).map(|stage| WorkMessage::new(stage, s.id).into()))
        .collect();
    outbox::enqueue(&mut tx, &messages).await?;
    let ids: Vec<uuid::Uuid> = stalled.iter().map(|s| s.id).collect();
    requests::record_sweeps(&mut tx, &ids).await?;
    for s in stalled.iter().filter(|s| s.sweeps + 1 == ESCALATE_AFTER) {
        let stage = stage_for(s.state).map_or("", Stage::as_str);
        tracing::error!(request_id = %s.id, state = %s.state, stage, sweeps = ESCALATE_AFTER,
            "request makes no progress although its stage message was queued again; a person must look");
        transition::record_event(
            &mut tx,
            s.id,
            "worker:sweeper",
            Some(s.state),
            s.state,
            Some(&format!(
                "no progress in {} after {ESCALATE_AFTER} re-queued {stage} messages; a person must look (the parking queue and the logs say why)",
                s.state
            )),
            &json!({ "sweeps": ESCALATE_AFTER, "stage": stage }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(stalled)
}

/// One pass over open messages: those published again, with their count before this one.
pub async fn sweep_messages(
    pool: &PgPool,
    stall_after: Duration,
) -> sqlx::Result<Vec<OpenMessage>> {
    let mut tx = pool.begin().await?;
    let open = outbox::open_stalled(&mut tx, stall_after.as_secs_f64(), BATCH).await?;
    if open.is_empty() {
        return Ok(open);
    }
    let ids: Vec<i64> = open.iter().map(|m| m.id).collect();
    outbox::republish(&mut tx, &ids).await?;
    for m in open.iter().filter(|m| m.resent + 1 == ESCALATE_AFTER) {
        tracing::error!(message_id = %m.message_id, routing_key = %m.routing_key,
            request_id = ?m.request_id, resent = ESCALATE_AFTER,
            "message never finished although it was published again; a person must look");
        let Some(request_id) = m.request_id else {
            continue;
        };
        let Some(state) = requests::state_of(&mut tx, request_id).await? else {
            continue;
        };
        transition::record_event(
            &mut tx,
            request_id,
            "worker:sweeper",
            Some(state),
            state,
            Some(&format!(
                "the {} message {} never finished after being published {ESCALATE_AFTER} more times; a person must look (the parking queue and the logs say why)",
                m.routing_key.trim_start_matches("request."),
                m.message_id
            )),
            &json!({ "resent": ESCALATE_AFTER, "message_id": m.message_id, "routing_key": m.routing_key }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(open)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_is_swept_by_the_stage_that_moves_it_on_and_nothing_else_is_a_stall() {
        assert_eq!(stage_for(RequestState::Received), Some(Stage::Validate));
        assert_eq!(stage_for(RequestState::Validating), Some(Stage::Validate));
        assert_eq!(stage_for(RequestState::Approved), Some(Stage::Payout));
        // What waits on a person or the customer, or is finished, is no stall.
        for state in [
            RequestState::NeedsInfo,
            RequestState::ManualReview,
            RequestState::AwaitingConfirmation,
            RequestState::NeedsBankDetails,
            RequestState::ManualPayout,
            RequestState::Refunded,
            // Already at the gateway: the payout recheck asks about those.
            RequestState::PayoutPending,
            RequestState::PayoutSent,
        ] {
            assert_eq!(stage_for(state), None, "{state}");
        }
    }
}
