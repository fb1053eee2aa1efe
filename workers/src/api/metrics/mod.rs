//! `GET /metrics`: the figures SLA dashboards and alerts watch, in the Prometheus text format,
//! for a `viewer` or `supervisor` key.
//!
//! Roles may run in other processes, so nothing is counted as it happens: every figure is
//! derived at scrape time from Postgres (and RabbitMQ for the queues), and the API's answer is
//! complete whichever process did the work. Gauges and counters are set to what the tables say
//! now, on a recorder built for the scrape (a series that no longer exists disappears); the
//! time-to-refund histograms live on a recorder kept between scrapes and observe each request
//! refunded since the previous scrape (all of them on the first).
//!
//! A key of one merchant sees that merchant's figures only: its requests, and the payouts,
//! emails and intake messages of its requests; the histograms narrowed to its label; no queue
//! figures (the queues carry every merchant's work).

pub mod figures;
pub mod queues;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, TimeDelta, Utc};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use shared::api_keys::{ApiRole, MerchantScope};
use shared::notify::{Escalation, Event};
use tokio::sync::Mutex;
use uuid::Uuid;

use self::figures::{Figures, Refunded};
use self::queues::{BrokerProbe, QueueFigures};
use super::ApiContext;
use super::auth::Authenticated;
use super::problem::{ApiError, Problem};
use shared::payouts::AttemptStatus;

/// Who may read the figures: dashboards (viewer) and the people who act on them.
const READERS: [ApiRole; 2] = [ApiRole::Viewer, ApiRole::Supervisor];

/// The content type of the Prometheus text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub const OPEN_REQUESTS: &str = "refundd_open_requests";
pub const AT_RISK_LONGEST: &str = "refundd_sla_at_risk_longest_seconds";
pub const TIME_TO_REFUND_SECONDS: &str = "refundd_time_to_refund_seconds";
pub const TIME_TO_REFUND_WORKING_DAYS: &str = "refundd_time_to_refund_working_days";
pub const QUEUE_MESSAGES: &str = "refundd_queue_messages";
pub const QUEUE_CONSUMERS: &str = "refundd_queue_consumers";
pub const BROKER_UP: &str = "refundd_broker_up";
pub const PAYOUTS: &str = "refundd_payouts_total";
pub const PAYOUTS_IN_FLIGHT: &str = "refundd_payouts_in_flight";
pub const EMAILS: &str = "refundd_emails_total";
pub const EMAILS_PENDING: &str = "refundd_emails_pending";
/// Differences found by each merchant's latest daily reconciliation with its gateway.
pub const RECONCILIATION_DIFFERENCES: &str = "refundd_reconciliation_differences";
pub const INTAKE: &str = "refundd_intake_messages_total";
/// Time a worker stage's requests spent in the state it works on: waiting and working.
pub const STAGE_SECONDS: &str = "refundd_stage_seconds";
/// How long the oldest work waiting for a stage has waited.
pub const STAGE_OLDEST_WAITING: &str = "refundd_stage_oldest_waiting_seconds";
/// How long the oldest unpublished outbox row has waited for the relay.
pub const OUTBOX_LAG: &str = "refundd_outbox_lag_seconds";
/// Every metric `/metrics` serves.
pub const NAMES: [&str; 15] = [
    OPEN_REQUESTS,
    AT_RISK_LONGEST,
    TIME_TO_REFUND_SECONDS,
    TIME_TO_REFUND_WORKING_DAYS,
    QUEUE_MESSAGES,
    QUEUE_CONSUMERS,
    BROKER_UP,
    PAYOUTS,
    PAYOUTS_IN_FLIGHT,
    EMAILS,
    EMAILS_PENDING,
    INTAKE,
    STAGE_SECONDS,
    STAGE_OLDEST_WAITING,
    OUTBOX_LAG,
];

const HOUR: f64 = 3600.0;
const DAY: f64 = 24.0 * HOUR;
/// Time to refund buckets: hours up to a day, then days up to two months.
const SECONDS_BUCKETS: [f64; 14] = [
    HOUR,
    4.0 * HOUR,
    8.0 * HOUR,
    DAY,
    2.0 * DAY,
    3.0 * DAY,
    5.0 * DAY,
    7.0 * DAY,
    10.0 * DAY,
    14.0 * DAY,
    21.0 * DAY,
    30.0 * DAY,
    45.0 * DAY,
    60.0 * DAY,
];
/// Working-day buckets around the packs' SLA terms (5 to 30 working days).
const WORKING_DAY_BUCKETS: [f64; 12] = [
    0.0, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// Stage time buckets: a healthy pipeline moves in milliseconds; a backlog in seconds to
/// minutes; an outage in hours.
const STAGE_BUCKETS: [f64; 14] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
];

/// Events commit out of id order; each scrape looks back this many event ids for moves
/// committed after the previous scrape read past them.
const MOVES_LOOKBACK: i64 = 20_000;

/// A refund's `ended_at` is the start of the transaction that refunded it, which may commit
/// after a scrape that already looked past that time; each scrape looks back this far and
/// skips the refunds it has already observed.
const LOOKBACK: TimeDelta = TimeDelta::minutes(15);

/// Payout attempt statuses that are final (a counter); the others are in flight (a gauge).
fn payout_outcomes() -> impl Iterator<Item = &'static str> {
    AttemptStatus::ALL
        .iter()
        .filter(|status| !status.is_unsettled())
        .map(|status| status.as_str())
}
const INTAKE_SOURCES: [&str; 2] = ["imap", "api"];
const INTAKE_OUTCOMES: [&str; 5] = ["created", "attached", "ignored", "unverified", "failed"];
const EMAIL_OUTCOMES: [&str; 2] = ["sent", "failed"];

/// What `/metrics` keeps between scrapes. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    /// Only the time-to-refund histograms, which accumulate across scrapes.
    history: PrometheusRecorder,
    /// Held for the whole scrape: one scrape at a time observes new refunds (and moves).
    refunds: Mutex<Observed>,
    broker: BrokerProbe,
}

/// Which refunds the histograms have observed: every one refunded before `cutoff`, and those in
/// `recent` (refunded after it, with when).
#[derive(Default)]
struct Observed {
    cutoff: Option<DateTime<Utc>>,
    recent: HashMap<Uuid, DateTime<Utc>>,
    /// Stage moves: every event id up to `moves_cutoff` observed, and those in `moves`.
    moves_cutoff: Option<i64>,
    moves: std::collections::HashSet<i64>,
}

impl Observed {
    /// True the first time a refund is seen.
    fn first_time(&mut self, r: &Refunded) -> bool {
        self.recent.insert(r.id, r.refunded_at).is_none()
    }

    /// The next scrape reads refunds from `LOOKBACK` before this one, and moves from
    /// `MOVES_LOOKBACK` event ids before the last one there was.
    fn advance(&mut self, now: DateTime<Utc>, last_event: Option<i64>) {
        let cutoff = now - LOOKBACK;
        self.recent.retain(|_, at| *at > cutoff);
        self.cutoff = Some(cutoff);
        if let Some(last) = last_event {
            let cutoff = last - MOVES_LOOKBACK;
            self.moves.retain(|id| *id > cutoff);
            self.moves_cutoff = Some(cutoff);
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let history = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(TIME_TO_REFUND_SECONDS.into()),
                &SECONDS_BUCKETS,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(TIME_TO_REFUND_WORKING_DAYS.into()),
                    &WORKING_DAY_BUCKETS,
                )
            })
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(STAGE_SECONDS.into()), &STAGE_BUCKETS)
            })
            .expect("buckets are not empty")
            .build_recorder();
        metrics::with_local_recorder(&history, || {
            describe_histogram!(
                TIME_TO_REFUND_SECONDS,
                "Time from receiving a request to refunding it, by merchant (refunds observed by this API process)"
            );
            describe_histogram!(
                TIME_TO_REFUND_WORKING_DAYS,
                "Working days on the pack's country calendar from receiving a request to refunding it, by merchant"
            );
            describe_histogram!(
                STAGE_SECONDS,
                "Seconds a request spent in the state a worker stage works on, from the move into it to the stage's move out (waiting in the queue and working), by stage; moves observed by this API process"
            );
        });
        Self {
            inner: Arc::new(Inner {
                history,
                refunds: Mutex::new(Observed::default()),
                broker: BrokerProbe::default(),
            }),
        }
    }
}

pub fn router() -> Router<ApiContext> {
    Router::new().route("/metrics", get(scrape))
}

/// The figures for Prometheus: open requests by state, merchant and SLA state, time to refund,
/// queues, payouts, emails and intake (README: Monitoring). A `viewer` or `supervisor` key.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "metrics",
    security(("api_key" = [])),
    responses(
        (status = 200, body = String, content_type = "text/plain",
            description = "Prometheus text exposition format (version 0.0.4)"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn scrape(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
) -> Result<impl IntoResponse, ApiError> {
    let caller = caller.require(&READERS, "read metrics")?;
    let text = ctx.metrics.render(&ctx, &caller.scope).await?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text))
}

impl Metrics {
    /// Reads every figure of the merchants in `scope` and renders them.
    pub async fn render(&self, ctx: &ApiContext, scope: &MerchantScope) -> sqlx::Result<String> {
        let mut observed = self.inner.refunds.lock().await;
        let figures = figures::read(
            &ctx.db,
            scope.merchant(),
            observed.cutoff,
            observed.moves_cutoff,
        )
        .await?;
        let queues = match scope {
            MerchantScope::AllMerchants => {
                Some(self.inner.broker.probe(&ctx.amqp_url, &ctx.topology).await)
            }
            MerchantScope::Merchant(_) => None,
        };

        metrics::with_local_recorder(&self.inner.history, || {
            // Every merchant has its histograms (registered, so rendered), refunded or not yet.
            for m in ctx.merchants.all() {
                let _ = histogram!(TIME_TO_REFUND_SECONDS, "merchant" => m.id.clone());
                let _ = histogram!(TIME_TO_REFUND_WORKING_DAYS, "merchant" => m.id.clone());
            }
            for r in &figures.refunded {
                if observed.first_time(r) {
                    observe_refund(ctx, r);
                }
            }
            for m in figures.pipeline.iter().flat_map(|p| &p.moves) {
                if observed.moves.insert(m.id) {
                    histogram!(STAGE_SECONDS, "stage" => m.stage.clone())
                        .record(m.seconds.max(0.0));
                }
            }
        });
        observed.advance(figures.now, figures.pipeline.as_ref().map(|p| p.last_event));
        drop(observed);

        let current = PrometheusBuilder::new().build_recorder();
        metrics::with_local_recorder(&current, || {
            record_current(ctx, scope, &figures, queues);
        });
        let history = self.inner.history.handle().render();
        let mut text = match scope.merchant() {
            None => history,
            Some(merchant) => only_merchant(&history, merchant),
        };
        text.push_str(&current.handle().render());
        Ok(text)
    }
}

fn observe_refund(ctx: &ApiContext, r: &Refunded) {
    let seconds = (r.refunded_at - r.received_at).num_milliseconds().max(0) as f64 / 1000.0;
    histogram!(TIME_TO_REFUND_SECONDS, "merchant" => r.merchant.clone()).record(seconds);
    match ctx.working_days_between(r.policy_id.as_deref(), r.received_at, r.refunded_at) {
        None => {}
        Some(Ok(days)) => histogram!(TIME_TO_REFUND_WORKING_DAYS, "merchant" => r.merchant.clone())
            .record(days.max(0) as f64),
        Some(Err(e)) => tracing::warn!(
            request_id = %r.id,
            error = %e,
            "metrics: working days to refund cannot be counted"
        ),
    }
}

/// The series of a rendered exposition labelled with `merchant`, with every comment line
/// (HELP, TYPE). Merchant ids are lowercase letters, digits and '-', so the label is matched
/// exactly as the exporter writes it.
fn only_merchant(text: &str, merchant: &str) -> String {
    let label = format!("merchant=\"{merchant}\"");
    text.lines()
        .filter(|line| line.starts_with('#') || line.trim().is_empty() || line.contains(&label))
        .flat_map(|line| [line, "\n"])
        .collect()
}

/// Sets every gauge and counter of this scrape on the current local recorder. `queues` is
/// `None` for a key of one merchant (no queue figures at all), `Some(None)` when RabbitMQ did
/// not answer.
fn record_current(
    ctx: &ApiContext,
    scope: &MerchantScope,
    figures: &Figures,
    queues: Option<Option<Vec<QueueFigures>>>,
) {
    describe_gauge!(
        OPEN_REQUESTS,
        "Open refund requests by state, merchant and SLA state (none: no SLA state yet)"
    );
    describe_gauge!(
        AT_RISK_LONGEST,
        "Seconds the request at risk longest has been at risk, by merchant (absent when none is)"
    );
    if queues.is_some() {
        describe_gauge!(
            BROKER_UP,
            "1 when RabbitMQ answered this scrape's queue questions, else 0 (queue figures absent)"
        );
        describe_gauge!(
            QUEUE_MESSAGES,
            "Messages ready in each stage queue (and parking)"
        );
        describe_gauge!(
            QUEUE_CONSUMERS,
            "Consumers attached to each stage queue (and parking)"
        );
    }
    describe_counter!(
        PAYOUTS,
        "Payout attempts that ended, by gateway and status (succeeded, declined)"
    );
    describe_gauge!(
        PAYOUTS_IN_FLIGHT,
        "Payout attempts not ended, by gateway and status (started, pending, unknown: the gateway is asked before any retry)"
    );
    describe_counter!(
        EMAILS,
        "Emails to customers and merchants, by event and status (sent, failed)"
    );
    describe_gauge!(EMAILS_PENDING, "Emails claimed and not yet sent or failed");
    describe_counter!(
        INTAKE,
        "Inbound emails taken in, by source (imap, api) and outcome (created, attached, ignored, failed)"
    );

    let mut at_risk_longest: HashMap<&str, f64> = HashMap::new();
    for g in &figures.open {
        gauge!(OPEN_REQUESTS,
            "state" => g.state.clone(), "merchant" => g.merchant.clone(), "sla" => g.sla.clone())
        .set(g.count as f64);
        if g.sla == "at_risk"
            && let Some(s) = g.longest_seconds
        {
            let longest = at_risk_longest.entry(&g.merchant).or_insert(s);
            *longest = longest.max(s);
        }
    }
    for (merchant, seconds) in at_risk_longest {
        gauge!(AT_RISK_LONGEST, "merchant" => merchant.to_owned()).set(seconds.max(0.0));
    }

    if let Some(queues) = queues {
        gauge!(BROKER_UP).set(if queues.is_some() { 1.0 } else { 0.0 });
        for q in queues.unwrap_or_default() {
            gauge!(QUEUE_MESSAGES, "stage" => q.stage).set(q.messages);
            gauge!(QUEUE_CONSUMERS, "stage" => q.stage).set(q.consumers);
        }
    }

    // Counters start at zero for every label set known in advance, so the first refund,
    // email or message of a kind shows as an increase.
    for m in ctx.merchants.all().filter(|m| scope.covers(Some(&m.id))) {
        for outcome in payout_outcomes() {
            counter!(PAYOUTS, "gateway" => m.gateway.kind.as_str(), "status" => outcome)
                .absolute(0);
        }
    }
    let events = Event::ALL
        .iter()
        .map(|e| e.as_str())
        .chain(Escalation::ALL.iter().map(|e| e.as_str()));
    for event in events {
        for outcome in EMAIL_OUTCOMES {
            counter!(EMAILS, "event" => event, "status" => outcome).absolute(0);
        }
    }
    for source in INTAKE_SOURCES {
        for outcome in INTAKE_OUTCOMES {
            counter!(INTAKE, "source" => source, "outcome" => outcome).absolute(0);
        }
    }
    gauge!(EMAILS_PENDING).set(0.0);

    for t in &figures.payouts {
        let (gateway, status) = (t.first.clone(), t.second.clone());
        if payout_outcomes().any(|outcome| outcome == status) {
            counter!(PAYOUTS, "gateway" => gateway, "status" => status).absolute(t.count as u64);
        } else {
            gauge!(PAYOUTS_IN_FLIGHT, "gateway" => gateway, "status" => status).set(t.count as f64);
        }
    }
    let mut pending = 0;
    for t in &figures.emails {
        if t.second == "pending" {
            pending += t.count;
        } else {
            counter!(EMAILS, "event" => t.first.clone(), "status" => t.second.clone())
                .absolute(t.count as u64);
        }
    }
    gauge!(EMAILS_PENDING).set(pending as f64);
    for t in &figures.intake {
        counter!(INTAKE, "source" => t.first.clone(), "outcome" => t.second.clone())
            .absolute(t.count as u64);
    }
    describe_gauge!(
        RECONCILIATION_DIFFERENCES,
        "Differences between the gateway and our payouts found by each merchant's latest daily reconciliation; see `refundd reconcile`"
    );
    for t in &figures.reconciliation {
        gauge!(RECONCILIATION_DIFFERENCES, "merchant" => t.first.clone()).set(t.count as f64);
    }
    if let Some(pipeline) = &figures.pipeline {
        describe_gauge!(
            OUTBOX_LAG,
            "Seconds the oldest outbox row has waited to be published (0 when none waits)"
        );
        describe_gauge!(
            STAGE_OLDEST_WAITING,
            "Seconds the oldest work waiting for a stage has waited: validate and decide by request state, payout and notify by their open messages (0 when none waits)"
        );
        gauge!(OUTBOX_LAG).set(pipeline.outbox_lag_seconds.max(0.0));
        for w in &pipeline.waiting {
            gauge!(STAGE_OLDEST_WAITING, "stage" => w.stage).set(w.oldest_seconds);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merchants_histograms_keep_only_its_series() {
        let text = "# HELP refundd_time_to_refund_seconds Time\n\
                    # TYPE refundd_time_to_refund_seconds histogram\n\
                    refundd_time_to_refund_seconds_bucket{merchant=\"byskills\",le=\"3600\"} 1\n\
                    refundd_time_to_refund_seconds_bucket{merchant=\"byskills-2\",le=\"3600\"} 4\n\
                    refundd_time_to_refund_seconds_sum{merchant=\"goods-kz\"} 9\n\
                    refundd_time_to_refund_seconds_count{merchant=\"byskills\"} 1\n";
        let only = only_merchant(text, "byskills");
        assert_eq!(
            only,
            "# HELP refundd_time_to_refund_seconds Time\n\
             # TYPE refundd_time_to_refund_seconds histogram\n\
             refundd_time_to_refund_seconds_bucket{merchant=\"byskills\",le=\"3600\"} 1\n\
             refundd_time_to_refund_seconds_count{merchant=\"byskills\"} 1\n"
        );
    }
}
