//! `GET /v1/sla`: SLA figures per merchant and policy pack. Open requests now (at risk,
//! breached), and the refunds of the last 30 days: how long they took (hours, and working days
//! on the pack's calendar) and what share reached the customer by the due date. The dashboard
//! draws the same figures. A key of one merchant sees that merchant's figures only.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use shared::api_keys::{ApiRole, MerchantScope};
use shared::lifecycle::RequestState;
use utoipa::ToSchema;

use super::ApiContext;
use super::auth::Authenticated;
use super::problem::{ApiError, KeyProblems};

/// Roles that may read SLA figures.
pub const SLA_READERS: [ApiRole; 3] = [ApiRole::Viewer, ApiRole::Supervisor, ApiRole::Support];

/// How far back refunds are counted.
pub const WINDOW_DAYS: u32 = 30;

pub fn router() -> Router<ApiContext> {
    Router::new().route("/v1/sla", get(report))
}

/// SLA figures per merchant and policy pack.
#[derive(Serialize, ToSchema)]
pub struct SlaReport {
    /// When the figures were computed.
    pub generated_at: DateTime<Utc>,
    /// The refunds counted in `refunded`, `time_to_refund` and `within_sla_share`: those
    /// that reached `refunded` inside this window.
    pub window: SlaWindow,
    /// Every configured merchant and pack, then any other merchant and pack that has requests.
    pub items: Vec<SlaFigures>,
}

#[derive(Serialize, ToSchema)]
pub struct SlaWindow {
    /// Length of the window in days (30).
    pub days: u32,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// One merchant under one policy pack.
#[derive(Serialize, ToSchema)]
pub struct SlaFigures {
    /// Merchant id; null for requests not matched to a merchant.
    pub merchant: Option<String>,
    /// The merchant's name, when the merchant is configured.
    pub merchant_name: Option<String>,
    /// Policy pack id; null for requests not matched to a payment yet.
    pub policy: Option<String>,
    /// Country whose working-day calendar the pack uses (`BY`, `KZ`, `LV`, `RU`), when the
    /// pack is loaded.
    pub calendar: Option<String>,
    /// Requests not yet ended (neither refunded, rejected nor withdrawn).
    pub open: i64,
    /// Open requests with one working day or less left before their due date.
    pub at_risk: i64,
    /// Open requests past their due date.
    pub breached: i64,
    /// Requests refunded inside the window.
    pub refunded: i64,
    /// Of those, refunded on or before their due date (the refund's local date on the pack's
    /// time zone compared with `due_on`).
    pub refunded_within_sla: i64,
    /// `refunded_within_sla` over the refunds in the window that have a due date (0 to 1);
    /// null when there are none.
    pub within_sla_share: Option<f64>,
    pub time_to_refund: TimeToRefund,
}

/// From receipt (`received_at`) to refund, over the refunds in the window. Percentiles
/// interpolate linearly between the nearest ranks; null when nothing was refunded.
#[derive(Serialize, ToSchema)]
pub struct TimeToRefund {
    pub median_hours: Option<f64>,
    pub p90_hours: Option<f64>,
    /// Working days on the pack's calendar after the received date up to and including the
    /// refund date (both local dates): refunded on the day received is 0.
    pub median_working_days: Option<f64>,
    pub p90_working_days: Option<f64>,
}

/// A refund inside the window, judged against its due date.
pub(super) struct JudgedRefund {
    pub merchant: Option<String>,
    pub policy: Option<String>,
    pub refunded_at: DateTime<Utc>,
    pub hours: f64,
    pub working_days: Option<i64>,
    /// Whether it was refunded by the due date; none without a due date.
    pub within_sla: Option<bool>,
}

/// What the report and the dashboard are drawn from.
pub(super) struct SlaData {
    pub report: SlaReport,
    pub refunds: Vec<JudgedRefund>,
}

/// SLA figures: open requests by SLA state, and how refunds fared over the last 30 days.
#[utoipa::path(get, path = "/v1/sla", operation_id = "sla_figures", tag = "sla",
    security(("api_key" = [])),
    responses(
        (status = 200, body = SlaReport),
        KeyProblems,
    ))]
pub async fn report(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
) -> Result<Json<SlaReport>, ApiError> {
    let caller = caller.require(&SLA_READERS, "read SLA figures")?;
    Ok(Json(load(&ctx, &caller.scope, Utc::now()).await?.report))
}

/// The figures as of `now`, of the merchants in `scope` (with an all-merchants scope, also of
/// requests not matched to a merchant).
pub(super) async fn load(
    ctx: &ApiContext,
    scope: &MerchantScope,
    now: DateTime<Utc>,
) -> Result<SlaData, ApiError> {
    let from = now - Duration::days(i64::from(WINDOW_DAYS));
    let final_states: Vec<&str> = RequestState::ALL
        .iter()
        .copied()
        .filter(|s| s.is_final())
        .map(RequestState::as_str)
        .collect();
    let open: Vec<OpenCounts> = sqlx::query_as!(
        OpenCounts,
        r#"SELECT merchant, policy_id, count(*) AS "open!",
                count(*) FILTER (WHERE sla_state = 'at_risk') AS "at_risk!",
                count(*) FILTER (WHERE sla_state = 'breached') AS "breached!"
           FROM refund_requests
          WHERE ended_at IS NULL AND NOT (state = ANY($1))
            AND ($2::text IS NULL OR merchant = $2)
          GROUP BY merchant, policy_id"#,
        &final_states as &[&str],
        scope.merchant()
    )
    .fetch_all(&ctx.db)
    .await?;
    // A refunded request ends in the transaction that refunds it, so `ended_at` is the
    // refund's time; the audit event stands in for rows that lack it.
    let rows: Vec<RefundRow> = sqlx::query_as!(
        RefundRow,
        r#"SELECT merchant, policy_id, received_at, due_on, refunded_at AS "refunded_at!" FROM (
             SELECT r.merchant, r.policy_id, r.received_at, r.due_on,
                    COALESCE(r.ended_at,
                             (SELECT min(e.at) FROM request_events e
                               WHERE e.request_id = r.id AND e.to_state = 'refunded'))
                        AS refunded_at
               FROM refund_requests r
              WHERE r.state = 'refunded' AND ($3::text IS NULL OR r.merchant = $3)) refunds
          WHERE refunded_at >= $1 AND refunded_at <= $2"#,
        from,
        now,
        scope.merchant()
    )
    .fetch_all(&ctx.db)
    .await?;
    let refunds: Vec<JudgedRefund> = rows.into_iter().map(|r| judge(ctx, r)).collect();

    // Every configured merchant and pack first, so a quiet merchant still shows.
    let mut groups: BTreeMap<(Option<String>, Option<String>), Group> = BTreeMap::new();
    let mut order: Vec<(Option<String>, Option<String>)> = Vec::new();
    for m in ctx.merchants.all().filter(|m| scope.covers(Some(&m.id))) {
        for p in &m.policies {
            let key = (Some(m.id.clone()), Some(p.clone()));
            order.push(key.clone());
            groups.entry(key).or_default();
        }
    }
    let configured = order.len();
    for c in open {
        let g = groups.entry((c.merchant, c.policy_id)).or_default();
        g.open = c.open;
        g.at_risk = c.at_risk;
        g.breached = c.breached;
    }
    for r in &refunds {
        groups
            .entry((r.merchant.clone(), r.policy.clone()))
            .or_default()
            .refunds
            .push(r);
    }
    let mut others: Vec<_> = groups
        .keys()
        .filter(|k| !order[..configured].contains(k))
        .cloned()
        .collect();
    others.sort();
    order.extend(others);

    let items = order
        .into_iter()
        .map(|key| {
            let g = &groups[&key];
            let (merchant, policy) = key;
            figures(ctx, merchant, policy, g)
        })
        .collect();
    Ok(SlaData {
        report: SlaReport {
            generated_at: now,
            window: SlaWindow {
                days: WINDOW_DAYS,
                from,
                to: now,
            },
            items,
        },
        refunds,
    })
}

struct OpenCounts {
    merchant: Option<String>,
    policy_id: Option<String>,
    open: i64,
    at_risk: i64,
    breached: i64,
}

struct RefundRow {
    merchant: Option<String>,
    policy_id: Option<String>,
    received_at: DateTime<Utc>,
    due_on: Option<NaiveDate>,
    refunded_at: DateTime<Utc>,
}

#[derive(Default)]
struct Group<'a> {
    open: i64,
    at_risk: i64,
    breached: i64,
    refunds: Vec<&'a JudgedRefund>,
}

fn figures(
    ctx: &ApiContext,
    merchant: Option<String>,
    policy: Option<String>,
    g: &Group<'_>,
) -> SlaFigures {
    let mut hours: Vec<f64> = g.refunds.iter().map(|r| r.hours).collect();
    hours.sort_by(f64::total_cmp);
    let mut days: Vec<f64> = g
        .refunds
        .iter()
        .filter_map(|r| r.working_days)
        .map(|d| d as f64)
        .collect();
    days.sort_by(f64::total_cmp);
    let judged = g.refunds.iter().filter(|r| r.within_sla.is_some()).count();
    let within = g
        .refunds
        .iter()
        .filter(|r| r.within_sla == Some(true))
        .count();
    SlaFigures {
        merchant_name: merchant
            .as_deref()
            .and_then(|m| ctx.merchants.get(m))
            .map(|m| m.name.clone()),
        calendar: policy
            .as_deref()
            .and_then(|p| ctx.packs.get(p))
            .map(|p| p.country().code().to_string()),
        merchant,
        policy,
        open: g.open,
        at_risk: g.at_risk,
        breached: g.breached,
        refunded: g.refunds.len() as i64,
        refunded_within_sla: within as i64,
        within_sla_share: share(within, judged),
        time_to_refund: TimeToRefund {
            median_hours: percentile(&hours, 0.5).map(round2),
            p90_hours: percentile(&hours, 0.9).map(round2),
            median_working_days: percentile(&days, 0.5).map(round2),
            p90_working_days: percentile(&days, 0.9).map(round2),
        },
    }
}

/// A refund's duration and whether it met its due date, on its pack's local dates (UTC
/// dates when the pack is not loaded; no working days then).
fn judge(ctx: &ApiContext, r: RefundRow) -> JudgedRefund {
    let RefundRow {
        merchant,
        policy_id: policy,
        received_at,
        due_on,
        refunded_at,
    } = r;
    let pack = policy.as_deref().and_then(|p| ctx.packs.get(p));
    let refunded_on = match pack {
        Some(p) => refunded_at.with_timezone(&p.timezone()).date_naive(),
        None => refunded_at.date_naive(),
    };
    let working_days = ctx
        .working_days_between(policy.as_deref(), received_at, refunded_at)
        .and_then(|days| {
            days.inspect_err(
                |e| tracing::warn!(error = %e, "time to refund in working days unknown"),
            )
            .ok()
        });
    JudgedRefund {
        merchant,
        policy,
        refunded_at,
        hours: (refunded_at - received_at).num_seconds() as f64 / 3600.0,
        working_days,
        within_sla: due_on.map(|due| refunded_on <= due),
    }
}

/// `part / whole` rounded to four decimals; none when `whole` is 0.
pub(super) fn share(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The `p`-quantile (0 to 1) of sorted values, interpolating linearly between the nearest
/// ranks (as Postgres `percentile_cont` does).
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = p * last as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let v = [10.0, 20.0, 30.0, 40.0, 100.0];
        assert_eq!(percentile(&v, 0.5), Some(30.0));
        assert_eq!(percentile(&v, 0.9), Some(76.0));
        assert_eq!(percentile(&[10.0, 20.0], 0.5), Some(15.0));
        assert_eq!(percentile(&[7.0], 0.9), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn shares_round_to_four_decimals() {
        assert_eq!(share(2, 3), Some(0.6667));
        assert_eq!(share(0, 0), None);
    }
}
