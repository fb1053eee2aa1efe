//! The sla role: every interval (a minute by default), the SLA state of every open request on
//! its pack's calendar. A change of SLA state is an audit event; reaching at-risk and reaching
//! breached each send one escalation to the merchant (through the notify stage). Each pass
//! also asks the payout stage again about payouts the retry tiers gave up on (no gateway news
//! for `payout_recheck_after`), and sweeps requests whose stage made no progress for
//! `stall_after` ([`super::sweep`]), once the database has answered for longer than the
//! longest retry tier. Once a day it purges the bytes of documents past their
//! retention, and reconciles each merchant's previous day with its gateway
//! (`shared::reconcile`, once the merchant's clock is past 01:00): differences are logged
//! at ERROR, kept in `reconciliations`, raised on `/metrics`
//! (`refundd_reconciliation_differences`) and escalated by email to the merchant's support
//! address (through the notify stage).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use shared::calendar::Calendars;
use shared::lifecycle::RequestState;
use shared::messages::{Stage, WorkMessage};
use shared::policy::PolicyPacks;
use shared::sla::{SlaState, sla_state};
use shared::transition;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub struct SlaMonitor {
    pub pool: PgPool,
    pub packs: Arc<PolicyPacks>,
    pub calendars: Arc<Calendars>,
    pub interval: Duration,
    pub retention_days: u32,
    /// Payouts with no gateway news for this long are asked about again
    /// ([`super::payout::recheck_stuck`]).
    pub payout_recheck_after: Duration,
    /// Requests with no progress for this long have their stage message queued again
    /// ([`super::sweep::sweep`]).
    pub stall_after: Duration,
    /// How long the database must have answered, after a start or an outage, before the
    /// sweeps and the payout recheck run: the longest retry tier and a pass, so that what
    /// waits in the tiers has come back by itself first.
    pub sweep_after_outage: Duration,
    /// Each merchant's gateway, time zone and support address, for the daily reconciliation.
    pub reconcile: Vec<Reconciler>,
}

/// What the daily reconciliation of one merchant needs.
pub struct Reconciler {
    /// The merchant's id.
    pub merchant: String,
    /// Its gateway.
    pub gateway: shared::gateway::ConfiguredGateway,
    /// The time zone its days are counted in.
    pub tz: chrono_tz::Tz,
    /// Where differences are escalated (the merchant's support address).
    pub support_email: String,
    /// The merchant's language, for the escalation's second language.
    pub language: String,
}

/// What one pass changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub checked: usize,
    pub changed: usize,
    pub escalated: usize,
}

struct Open {
    id: Uuid,
    state: String,
    due_on: NaiveDate,
    sla_state: Option<String>,
    policy_id: Option<String>,
}

impl SlaMonitor {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut last_purge: Option<Instant> = None;
        // Since when the database has answered every pass without a break.
        let mut answering_since: Option<Instant> = None;
        loop {
            match self.pass(Utc::now()).await {
                Ok(p) => {
                    if p.changed > 0 {
                        tracing::info!(?p, "SLA states updated");
                    }
                    answering_since.get_or_insert_with(Instant::now);
                }
                Err(e) => {
                    answering_since = None;
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "SLA pass failed; next pass retries"
                    );
                }
            }
            // After an outage (or a start), what waits in the retry tiers comes back by
            // itself within the longest tier: sweeping before then would only race it.
            if answering_since.is_some_and(|t| t.elapsed() >= self.sweep_after_outage) {
                self.sweep_and_recheck().await;
            }
            if answering_since.is_some() {
                self.reconcile_yesterday(Utc::now()).await;
            }
            if last_purge.is_none_or(|t| t.elapsed() >= Duration::from_secs(24 * 3600)) {
                // Done for the day only when both purges went through; a failed one is
                // tried again on the next pass.
                let documents = shared::documents::purge(&self.pool, self.retention_days).await;
                let emails = shared::inbound_emails::purge(&self.pool, self.retention_days).await;
                match &documents {
                    Ok(n) if *n > 0 => {
                        tracing::info!(purged = n, "document bytes past retention purged");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "document purge failed"),
                }
                match &emails {
                    Ok(n) if *n > 0 => {
                        tracing::info!(purged = n, "email texts past retention purged");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "email purge failed"),
                }
                // Console sessions that ended a day ago are of no use to anyone.
                match shared::console_sessions::purge(&self.pool).await {
                    Ok(n) if n > 0 => tracing::info!(purged = n, "ended console sessions deleted"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "console session purge failed"),
                }
                if documents.is_ok() && emails.is_ok() {
                    last_purge = Some(Instant::now());
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
        tracing::info!("sla monitor stopped");
    }

    /// Each merchant's previous day, once its clock is past 01:00, reconciled once (claimed in
    /// `reconciliations`, so several copies of the role run it once); a run the gateway did not
    /// answer gives its claim back for the next pass.
    pub async fn reconcile_yesterday(&self, now: DateTime<Utc>) {
        use chrono::Timelike;
        for r in &self.reconcile {
            let (merchant, gateway, tz) = (&r.merchant, &r.gateway, &r.tz);
            let local = now.with_timezone(tz);
            if local.hour() < 1 {
                continue;
            }
            let Some(day) = local.date_naive().pred_opt() else {
                continue;
            };
            let Ok(mut conn) = self.pool.acquire().await else {
                return;
            };
            match shared::reconcile::claim(&mut conn, merchant, day).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, merchant, "reconciliation claim failed");
                    continue;
                }
            }
            match shared::reconcile::run(&mut conn, gateway, merchant, day, *tz).await {
                Ok(report) => {
                    // The report and its escalation in one transaction: escalated once.
                    let stored = async {
                        let mut tx = self.pool.begin().await?;
                        shared::reconcile::store(&mut tx, &report).await?;
                        if !report.differences.is_empty() {
                            shared::reconcile::escalate(
                                &mut tx,
                                &report,
                                &r.support_email,
                                &r.language,
                            )
                            .await?;
                        }
                        tx.commit().await
                    }
                    .await;
                    if let Err(e) = stored {
                        tracing::warn!(error = %e, merchant, "reconciliation not stored; next pass retries");
                        let _ = shared::reconcile::release(&mut conn, merchant, day).await;
                        continue;
                    }
                    if report.differences.is_empty() {
                        tracing::info!(merchant, %day, at_gateway = report.at_gateway, ours = report.ours, unsupported = report.unsupported, "reconciled with the gateway");
                    } else {
                        for d in &report.differences {
                            tracing::warn!(merchant, %day, difference = %d, "reconciliation difference");
                        }
                        tracing::error!(
                            merchant,
                            %day,
                            differences = report.differences.len(),
                            "the gateway and our payouts differ: see `refundd reconcile --merchant {merchant} --date {day}`"
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, merchant, %day, "reconciliation failed; next pass retries");
                    let _ = shared::reconcile::release(&mut conn, merchant, day).await;
                }
            }
        }
    }

    /// Requests and messages with no progress are queued again; payouts the retry tiers gave
    /// up on are asked about again. Each is tried again on the next pass if it fails.
    async fn sweep_and_recheck(&self) {
        match super::sweep::sweep(&self.pool, self.stall_after).await {
            Ok(swept) if !swept.is_empty() => tracing::warn!(
                requests = swept.len(),
                first = %swept[0].id,
                state = %swept[0].state,
                "requests with no progress: their stage message was queued again"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweep failed; next pass retries"),
        }
        match super::sweep::sweep_messages(&self.pool, self.stall_after).await {
            Ok(open) if !open.is_empty() => tracing::warn!(
                messages = open.len(),
                first = %open[0].message_id,
                routing_key = %open[0].routing_key,
                "messages never finished: published again"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "message sweep failed; next pass retries"),
        }
        match super::payout::recheck_stuck(&self.pool, self.payout_recheck_after).await {
            Ok(ids) if !ids.is_empty() => tracing::warn!(
                requests = ids.len(),
                first = %ids[0],
                "payouts with no gateway answer for a while: asking the gateway again"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "payout recheck failed; next pass retries"),
        }
    }

    /// One pass over every open request with a due date, as of `now`.
    pub async fn pass(&self, now: DateTime<Utc>) -> anyhow::Result<Pass> {
        let open: Vec<Open> = sqlx::query_as!(
            Open,
            r#"SELECT id, state, due_on AS "due_on!", sla_state, policy_id
                 FROM refund_requests
                WHERE ended_at IS NULL AND due_on IS NOT NULL"#
        )
        .fetch_all(&self.pool)
        .await?;
        let mut pass = Pass {
            checked: open.len(),
            ..Pass::default()
        };
        for r in open {
            let Some(pack) = r.policy_id.as_deref().and_then(|p| self.packs.get(p)) else {
                continue;
            };
            let state: RequestState = r.state.parse()?;
            let today = now.with_timezone(&pack.timezone()).date_naive();
            let new = match sla_state(state, r.due_on, today, self.calendars.get(pack.country())) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(request_id = %r.id, error = %e, "SLA state cannot be computed");
                    continue;
                }
            };
            if r.sla_state.as_deref() == Some(new.as_str()) {
                continue;
            }
            let escalated = self
                .record(r.id, state, r.sla_state.as_deref(), new, r.due_on)
                .await?;
            pass.changed += 1;
            pass.escalated += usize::from(escalated);
        }
        Ok(pass)
    }

    /// Stores a change of SLA state with its audit event and, for at-risk and breached, an
    /// escalation. Returns whether it escalated.
    async fn record(
        &self,
        id: Uuid,
        state: RequestState,
        old: Option<&str>,
        new: SlaState,
        due: NaiveDate,
    ) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
        // Only if nobody changed it meanwhile (another sla role, or the request moved on).
        if !shared::requests::set_sla_state(&mut tx, id, state, old, new.as_str()).await? {
            return Ok(false);
        }
        let reason = match new {
            SlaState::OnTrack => format!("SLA on track: due {due}"),
            SlaState::AtRisk => format!("SLA at risk: one working day or less left before {due}"),
            SlaState::Breached => format!("SLA breached: the refund was due by {due}"),
            SlaState::Paused => "SLA paused: waiting on the customer".to_string(),
        };
        transition::record_event(
            &mut tx,
            id,
            "worker:sla",
            Some(state),
            state,
            Some(&reason),
            &json!({"sla_from": old, "sla_to": new.as_str(), "due_on": due}),
        )
        .await?;
        let escalation = match new {
            SlaState::AtRisk => Some("sla_at_risk"),
            SlaState::Breached => Some("sla_breached"),
            _ => None,
        };
        if let Some(event) = escalation {
            shared::outbox::enqueue(
                &mut tx,
                &[WorkMessage::new(Stage::Notify, id).with_event(event).into()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(escalation.is_some())
    }
}
