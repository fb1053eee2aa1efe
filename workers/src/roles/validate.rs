//! The validate stage: takes a received request into validation and checks what its policy
//! requires (facts, documents and their validity, the payment it refers to). An incomplete
//! request goes to `needs_info` with a precise list of what is missing; a complete one gets
//! its complete date (the SLA clock starts there) and is decided in the same transaction
//! (`super::decide::decide`): one transaction, no decide message.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use shared::broker::consumer::{Handler, HandlerError, TransactionalWork, in_one_transaction};
use shared::calendar::Calendars;
use shared::lifecycle::RequestState;
use shared::messages::WorkMessage;
use shared::policy::{DecisionKind, PolicyPacks, StoredDecision};
use shared::transition::{self, Transition, TransitionError};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::assessment::{assess, locked};
use super::scans::Scans;

pub struct Validate {
    pool: PgPool,
    packs: Arc<PolicyPacks>,
    calendars: Arc<Calendars>,
    scans: Scans,
}

impl Validate {
    pub fn new(
        pool: PgPool,
        packs: Arc<PolicyPacks>,
        calendars: Arc<Calendars>,
        keys: shared::documents::DocumentKeys,
    ) -> Self {
        Self {
            pool,
            packs,
            calendars,
            scans: Scans::new(keys),
        }
    }

    /// Reads the request's pending pictures (outside any transaction), then applies the
    /// message again in a transaction of its own.
    async fn after_reading(&self, message: WorkMessage) -> Result<(), HandlerError> {
        self.scans
            .read_pending(&self.pool, &self.packs, message.request_id)
            .await
            .map_err(HandlerError::Transient)?;
        let mut tx = self.pool.begin().await?;
        self.apply(&mut tx, message).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What `apply` answers when the request has a picture still to be read: the handler reads
/// it with no transaction open and applies the message again.
#[derive(Debug, thiserror::Error)]
#[error("request {0} has an identity document still to be read from its picture")]
struct ScanPending(Uuid);

fn scan_pending(result: &Result<(), HandlerError>) -> bool {
    matches!(result, Err(HandlerError::Transient(e)) if e.is::<ScanPending>())
}

pub(super) fn to_handler_error(e: TransitionError) -> HandlerError {
    match e {
        TransitionError::NotFound(id) => {
            HandlerError::Permanent(anyhow::anyhow!("request {id} does not exist"))
        }
        TransitionError::Illegal(e) => HandlerError::Permanent(e.into()),
        // A database that is down is unavailable, not the message's fault.
        TransitionError::Database(e) => e.into(),
        other => HandlerError::Transient(other.into()),
    }
}

/// The move into `validating` a message makes first when the request was just received; it
/// is written together with the move the message ends in.
pub(super) struct Entering<'a>(pub(super) Option<Transition<'a>>);

impl Entering<'_> {
    /// Writes `t` (with the customer's email when `email` and its state tells them), after
    /// the move into validating when there is one: one UPDATE of the row for both
    /// (`transition::apply_steps`). The new version.
    pub(super) async fn then(
        &self,
        conn: &mut PgConnection,
        t: Transition<'_>,
        email: bool,
        messages: &[shared::outbox::OutboxMessage],
    ) -> Result<i32, TransitionError> {
        self.then_deciding(conn, t, email, messages, None).await
    }

    /// [`Entering::then`] for the move a decision causes, the decision stored by the same
    /// UPDATE (`transition::apply_steps_deciding`).
    pub(super) async fn then_deciding(
        &self,
        conn: &mut PgConnection,
        t: Transition<'_>,
        email: bool,
        messages: &[shared::outbox::OutboxMessage],
        decided: Option<&shared::requests::Decided<'_>>,
    ) -> Result<i32, TransitionError> {
        let mut steps = Vec::with_capacity(2);
        if let Some(entering) = &self.0 {
            steps.push((entering.clone(), true));
        }
        steps.push((t, email));
        transition::apply_steps_deciding(conn, &steps, messages, decided).await
    }

    /// How many moves it adds to the version.
    pub(super) fn moves(&self) -> i32 {
        i32::from(self.0.is_some())
    }
}

/// The date the last required item arrived: when the request last left `needs_info`, or
/// when it was received.
async fn complete_at(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!(
        "SELECT max(at) FROM request_events
          WHERE request_id = $1 AND from_state = 'needs_info' AND to_state <> 'needs_info'",
        id
    )
    .fetch_one(conn)
    .await
}

impl Handler for Validate {
    async fn handle(&self, message: WorkMessage) -> Result<(), HandlerError> {
        let mut tx = self.pool.begin().await?;
        let result = self.apply(&mut tx, message.clone()).await;
        if scan_pending(&result) {
            drop(tx);
            return self.after_reading(message).await;
        }
        result?;
        tx.commit().await?;
        Ok(())
    }

    /// Requests waiting together are validated (and decided) in one transaction.
    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn handle_batch(&self, messages: Vec<WorkMessage>) -> Vec<Result<(), HandlerError>> {
        let mut results = in_one_transaction(&self.pool, self, messages.clone()).await;
        // Requests with a picture to read were rolled back to their savepoints: read, then
        // each on its own.
        for (message, result) in messages.into_iter().zip(results.iter_mut()) {
            if scan_pending(result) {
                *result = self.after_reading(message).await;
            }
        }
        results
    }
}

/// The most messages validated in one transaction.
const BATCH: usize = 8;

impl TransactionalWork for Validate {
    async fn apply(&self, tx: &mut PgConnection, message: WorkMessage) -> Result<(), HandlerError> {
        let id = message.request_id;
        if !transition::first_delivery(tx, "validate", message.message_id).await? {
            return Ok(());
        }
        let record = locked(&mut *tx, id).await?;
        let (state, version) = (record.state, record.version);
        // The move into validating, written together with the move this message ends in
        // (one UPDATE of the row: `Entering::then`).
        let entering = Entering((state == RequestState::Received).then(|| Transition {
            request_id: id,
            expected_version: version,
            from: state,
            to: RequestState::Validating,
            actor: "worker:validate",
            reason: Some("checking what the policy requires"),
            details: json!({}),
        }));
        let state = if entering.0.is_some() {
            RequestState::Validating
        } else {
            state
        };
        if state != RequestState::Validating {
            // Decided, withdrawn, or waiting for the customer: an old message.
            return Ok(());
        }

        let mut a = assess(&mut *tx, record, &self.packs, &self.calendars).await?;
        if a.documents
            .iter()
            .any(shared::documents::DocumentSummary::scan_pending)
        {
            return Err(HandlerError::Transient(ScanPending(id).into()));
        }
        let (missing, problems, engine) = match &a.decision {
            None => {
                let mut missing = Vec::new();
                if a.record.payment_id.is_none() {
                    missing.push("payment_reference".to_string());
                }
                if a.record.reason.is_none() {
                    missing.push("reason".to_string());
                }
                if missing.is_empty() {
                    // The payment row is gone: nothing the customer can send fixes that.
                    missing.push("payment_reference".to_string());
                }
                (missing, Vec::new(), None)
            }
            Some(d) if d.decision == DecisionKind::NeedsInfo => {
                (d.missing.clone(), a.document_problems(), Some(d))
            }
            Some(_) => (Vec::new(), Vec::new(), None),
        };
        if !missing.is_empty()
            && last_question(&mut *tx, id)
                .await?
                .is_some_and(|(m, p)| same_items(&m, &missing) && same_items(&p, &problems))
        {
            // Never the same question twice in a row: the answer (a reply, support's facts)
            // left exactly what was asked, so a person takes over instead of a second
            // identical email. The request is due by the pack's default SLA.
            let due_on = a.default_due(&self.packs, &self.calendars);
            let summary = StoredDecision::waiting(
                DecisionKind::ManualReview,
                missing.clone(),
                problems.clone(),
                engine,
                due_on,
            );
            shared::requests::record_waiting(&mut *tx, id, &summary, due_on).await?;
            entering
                .then(
                    &mut *tx,
                    Transition {
                        request_id: id,
                        expected_version: version,
                        from: state,
                        to: RequestState::ManualReview,
                        actor: "worker:validate",
                        reason: Some(
                            "the answer left exactly what was asked before; a person reads it \
                         instead of the same question being sent again",
                        ),
                        details: json!({"missing": missing, "problems": problems}),
                    },
                    true,
                    &[],
                )
                .await
                .map_err(to_handler_error)?;
            tracing::info!(request_id = %id, ?missing, "same question again; to a person");
            return Ok(());
        }
        if !missing.is_empty() {
            let summary = StoredDecision::waiting(
                DecisionKind::NeedsInfo,
                missing.clone(),
                problems.clone(),
                engine,
                None,
            );
            shared::requests::record_waiting(&mut *tx, id, &summary, None).await?;
            // An emailed application whose automatic answer already asked for all of this
            // gets no second email saying the same (only for the first time it waits).
            let asked_by_intake = problems.is_empty()
                && intake_asked(&mut *tx, id)
                    .await?
                    .is_some_and(|asked| shared::intake::already_asked(&asked, &missing));
            let to_needs_info = Transition {
                request_id: id,
                expected_version: version,
                from: state,
                to: RequestState::NeedsInfo,
                actor: "worker:validate",
                reason: Some("information or documents are missing"),
                details: json!({
                    "missing": missing,
                    "problems": problems,
                    "asked_by_intake_reply": asked_by_intake,
                }),
            };
            entering
                .then(&mut *tx, to_needs_info, !asked_by_intake, &[])
                .await
                .map_err(to_handler_error)?;
            tracing::info!(request_id = %id, ?missing, "request needs information");
            return Ok(());
        }

        // A request still `received` a moment ago was never asked anything (no move leads
        // back into `received`): complete when received, without reading its history.
        let complete = if entering.0.is_some() {
            a.record.received_at
        } else {
            complete_at(&mut *tx, id)
                .await?
                .unwrap_or(a.record.received_at)
        };
        // Decided in the same transaction: nothing must be read from a document first. The
        // decision counts from the complete date, stored with it (`requests::Decided`).
        a.record.complete_at = Some(complete);
        a.evaluate(&self.packs, &self.calendars)?;
        tracing::info!(request_id = %id, "request complete; deciding");
        super::decide::decide(
            &mut *tx,
            &entering,
            version,
            a,
            &self.packs,
            &self.calendars,
        )
        .await?;
        Ok(())
    }
}

/// What the request was last asked for (`missing`, `problems` of its last move to
/// `needs_info`; the events of its emails stay in the state and do not count), if it ever
/// was.
async fn last_question(
    conn: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<(Vec<serde_json::Value>, Vec<serde_json::Value>)>> {
    let details: Option<serde_json::Value> = sqlx::query_scalar!(
        "SELECT details FROM request_events
          WHERE request_id = $1 AND to_state = 'needs_info'
            AND from_state IS DISTINCT FROM 'needs_info'
          ORDER BY id DESC LIMIT 1",
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(details.map(|d| {
        let list = |key: &str| d[key].as_array().cloned().unwrap_or_default();
        (list("missing"), list("problems"))
    }))
}

/// The same items, in any order.
fn same_items<T: serde::Serialize>(before: &[serde_json::Value], now: &[T]) -> bool {
    let key = |v: &serde_json::Value| v.to_string();
    let mut a: Vec<String> = before.iter().map(key).collect();
    let mut b: Vec<String> = now
        .iter()
        .filter_map(|v| serde_json::to_value(v).ok())
        .map(|v| key(&v))
        .collect();
    a.sort();
    b.sort();
    a == b
}

/// What the intake's automatic answer to the email that opened the request asked for, while
/// the request has never waited on the customer before; `None` otherwise.
async fn intake_asked(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Vec<String>>> {
    sqlx::query_scalar!(
        "SELECT i.reply_asked FROM inbound_emails i
          WHERE i.request_id = $1 AND i.reply_message_id IS NOT NULL
            AND i.reply_asked IS NOT NULL AND i.outcome = 'created'
            AND NOT EXISTS (SELECT 1 FROM request_events e
                             WHERE e.request_id = $1 AND e.to_state = 'needs_info')",
        id
    )
    .fetch_optional(conn)
    .await
    .map(Option::flatten)
}
