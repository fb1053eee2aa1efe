//! `GET /dashboard`: the SLA page for people, rendered on the server. A tile per merchant,
//! the requests at risk or breached by due date, and two charts of the last 30 days (requests
//! received, share refunded within SLA). No script and nothing fetched from elsewhere, so it
//! works offline; it reloads itself every minute. A key of one merchant sees that merchant's
//! tile, requests and charts only.
//!
//! A browser cannot add our `Authorization: Bearer` header, so the page also takes the API key
//! as the password of HTTP Basic (any user name): without a key it answers 401 with a Basic
//! challenge and the browser asks for it.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Days, NaiveDate, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use shared::api_keys::ApiRole;
use uuid::Uuid;

use super::ApiContext;
use super::auth::Authenticated;
use super::charts::{Point, Style, daily_chart};
use super::problem::{ApiError, KeyProblems};
use super::sla::{self, SlaData, WINDOW_DAYS, share};

/// Roles that may open the dashboard.
pub const DASHBOARD_VIEWERS: [ApiRole; 2] = [ApiRole::Viewer, ApiRole::Supervisor];

/// Rows of the at-risk table at most; the API lists the rest.
const TABLE_LIMIT: i64 = 500;

const STYLE: &str = "\
body{font:15px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#1d2433;background:#f6f7f9}\
h1{margin:0 0 .2em}h2{margin:1.4em 0 .5em;font-size:1.15em}\
.meta{color:#5b6475;margin:0}\
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:12px}\
.tile{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:.7em 1em}\
.tile h3{margin:0;font-size:1.05em}.tile .ids{color:#5b6475;font-size:.85em;margin:0 0 .4em}\
.tile dl{display:grid;grid-template-columns:auto auto;margin:0;gap:2px 12px}.tile dd{margin:0;text-align:right;font-weight:600}\
dd.at-risk.some{color:#b26b00}dd.breached.some{color:#c0262d}\
table{border-collapse:collapse;width:100%;background:#fff}\
td,th{border:1px solid #dde1e8;padding:3px 8px;text-align:left}th{background:#eef0f4}\
tr.breached td.sla{color:#c0262d;font-weight:600}tr.at_risk td.sla{color:#b26b00;font-weight:600}\
code{font-size:.9em}\
.chart{width:100%;height:auto;background:#fff;border:1px solid #dde1e8;border-radius:8px}\
.chart .grid{stroke:#e3e6ec}.chart .axis{font-size:11px;fill:#5b6475}\
.chart .bar{fill:#3f6fd8}.chart .line{fill:none;stroke:#1f9d55;stroke-width:2}.chart .dot{fill:#1f9d55}";

pub fn router() -> Router<ApiContext> {
    Router::new().route("/dashboard", get(page))
}

/// The caller of a page a browser opens: as [`Authenticated`], and a 401 also carries a
/// Basic challenge so the browser asks for the key.
pub struct BrowserCaller(pub Authenticated);

impl<S> FromRequestParts<S> for BrowserCaller
where
    ApiContext: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Authenticated::from_request_parts(parts, state).await {
            Ok(caller) => Ok(BrowserCaller(caller)),
            Err(e) if e.status() == axum::http::StatusCode::UNAUTHORIZED => {
                let detail = format!(
                    "{}; in a browser, give any user name and the API key as the password",
                    e.problem().detail
                );
                let mut response = ApiError::unauthorized(detail).into_response();
                let headers = response.headers_mut();
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"refundd\", charset=\"UTF-8\""),
                );
                headers.append(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"refundd\""),
                );
                Err(response)
            }
            Err(e) => Err(e.into_response()),
        }
    }
}

/// The SLA dashboard: an HTML page for a browser (see the module's notes on signing in).
#[utoipa::path(get, path = "/dashboard", operation_id = "sla_dashboard", tag = "sla",
    security(("api_key" = []), ("browser_basic" = [])),
    responses(
        (status = 200, description = "The dashboard page (reloads itself every minute)", content_type = "text/html", body = String),
        KeyProblems,
    ))]
pub async fn page(
    State(ctx): State<ApiContext>,
    BrowserCaller(caller): BrowserCaller,
) -> Result<Response, ApiError> {
    let caller = caller.require(&DASHBOARD_VIEWERS, "open the dashboard")?;
    let scope = caller.scope.merchant();
    let now = Utc::now();
    let data = sla::load(&ctx, &caller.scope, now).await?;
    let urgent: Vec<Urgent> = sqlx::query_as!(
        Urgent,
        r#"SELECT id, merchant, policy_id, state, sla_state, due_on, received_at
           FROM refund_requests
          WHERE ended_at IS NULL AND sla_state IN ('at_risk', 'breached')
            AND ($2::text IS NULL OR merchant = $2)
          ORDER BY due_on ASC NULLS LAST, id ASC
          LIMIT $1"#,
        TABLE_LIMIT + 1,
        scope
    )
    .fetch_all(&ctx.db)
    .await?;
    let first_day = now.date_naive() - Days::new(u64::from(WINDOW_DAYS) - 1);
    let received: BTreeMap<NaiveDate, i64> = sqlx::query!(
        r#"SELECT (received_at AT TIME ZONE 'UTC')::date AS "day!", count(*) AS "count!"
           FROM refund_requests
          WHERE received_at >= $1::date::timestamp AT TIME ZONE 'UTC'
            AND ($2::text IS NULL OR merchant = $2)
          GROUP BY 1"#,
        first_day,
        scope
    )
    .fetch_all(&ctx.db)
    .await?
    .into_iter()
    .map(|row| (row.day, row.count))
    .collect();
    let html = render(&ctx, now, &data, &urgent, &received);
    let mut response = Html(html.into_string()).into_response();
    let headers = response.headers_mut();
    // Nothing but this page's own styles and inline drawings may load.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src data:"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// An open request at risk or breached.
struct Urgent {
    id: Uuid,
    merchant: Option<String>,
    policy_id: Option<String>,
    state: String,
    sla_state: Option<String>,
    due_on: Option<NaiveDate>,
    received_at: DateTime<Utc>,
}

/// One merchant's tile: its packs' figures added up.
#[derive(Default)]
struct Tile {
    name: Option<String>,
    policies: Vec<String>,
    open: i64,
    at_risk: i64,
    breached: i64,
    judged: usize,
    within: usize,
}

fn render(
    ctx: &ApiContext,
    now: DateTime<Utc>,
    data: &SlaData,
    urgent: &[Urgent],
    received: &BTreeMap<NaiveDate, i64>,
) -> Markup {
    let report = &data.report;
    let minute = "%Y-%m-%d %H:%M";

    // Tiles, in the report's order (configured merchants first).
    let mut order: Vec<Option<String>> = Vec::new();
    let mut tiles: BTreeMap<Option<String>, Tile> = BTreeMap::new();
    for item in &report.items {
        if !tiles.contains_key(&item.merchant) {
            order.push(item.merchant.clone());
        }
        let tile = tiles.entry(item.merchant.clone()).or_default();
        tile.name = item.merchant_name.clone();
        if let Some(p) = &item.policy {
            tile.policies.push(p.clone());
        }
        tile.open += item.open;
        tile.at_risk += item.at_risk;
        tile.breached += item.breached;
    }
    for r in &data.refunds {
        if let (Some(tile), Some(within)) = (tiles.get_mut(&r.merchant), r.within_sla) {
            tile.judged += 1;
            tile.within += usize::from(within);
        }
    }
    let some = |n: i64| if n > 0 { " some" } else { "" };

    // The last 30 days, one point per UTC date.
    let first = now.date_naive() - Days::new(u64::from(WINDOW_DAYS) - 1);
    let days: Vec<NaiveDate> = first.iter_days().take(WINDOW_DAYS as usize).collect();
    let volume: Vec<Point> = days
        .iter()
        .map(|d| {
            let n = received.get(d).copied().unwrap_or(0);
            Point {
                day: *d,
                value: Some(n as f64),
                note: format!("{d}: {n} received"),
            }
        })
        .collect();
    let most = volume.iter().filter_map(|p| p.value).fold(0.0, f64::max);
    let mut by_day: BTreeMap<NaiveDate, (usize, usize)> = BTreeMap::new();
    for r in &data.refunds {
        if let Some(within) = r.within_sla {
            let e = by_day.entry(r.refunded_at.date_naive()).or_default();
            e.0 += 1;
            e.1 += usize::from(within);
        }
    }
    let compliance: Vec<Point> = days
        .iter()
        .map(|d| match by_day.get(d) {
            Some(&(judged, within)) => {
                let s = share(within, judged).unwrap_or(0.0);
                Point {
                    day: *d,
                    value: Some(s),
                    note: format!("{d}: {} within SLA ({within} of {judged})", percent(s)),
                }
            }
            None => Point {
                day: *d,
                value: None,
                note: String::new(),
            },
        })
        .collect();

    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content="60";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "refundd SLA dashboard" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "SLA dashboard" }
                p class="meta" {
                    "As of " (now.format(minute)) " UTC; reloads every minute. Refunds counted from "
                    (report.window.from.format(minute)) " to " (report.window.to.format(minute))
                    " UTC (" (WINDOW_DAYS) " days). Figures as JSON: "
                    a href="/v1/sla" { "/v1/sla" } "."
                }

                h2 { "Merchants" }
                div class="tiles" id="merchants" {
                    @for merchant in &order {
                        @let t = &tiles[merchant];
                        @let id = merchant.as_deref().unwrap_or("(no merchant)");
                        div class="tile" data-merchant=(id) {
                            h3 { (t.name.as_deref().unwrap_or(id)) }
                            p class="ids" { (id) " · " (t.policies.join(", ")) }
                            dl {
                                dt { "Open" }
                                dd class="open" { (t.open) }
                                dt { "At risk" }
                                dd class=(format!("at-risk{}", some(t.at_risk))) { (t.at_risk) }
                                dt { "Breached" }
                                dd class=(format!("breached{}", some(t.breached))) { (t.breached) }
                                dt { "Within SLA, " (WINDOW_DAYS) " days" }
                                dd class="within" {
                                    @match share(t.within, t.judged) {
                                        Some(s) => { (percent(s)) " (" (t.within) " of " (t.judged) ")" }
                                        None => { "no refunds" }
                                    }
                                }
                            }
                        }
                    }
                }

                // The requests that need someone now, most urgent first.
                h2 { "At risk and breached" }
                table id="at-risk" {
                    thead {
                        tr {
                            th { "Request" } th { "Merchant" } th { "Policy" } th { "State" }
                            th { "SLA" } th { "Due" } th { "Received (UTC)" }
                        }
                    }
                    tbody {
                        @for r in urgent.iter().take(TABLE_LIMIT as usize) {
                            @let sla = r.sla_state.as_deref().unwrap_or("");
                            @let merchant = r.merchant.as_deref().unwrap_or("");
                            @let merchant = ctx.merchants.get(merchant).map_or(merchant, |m| m.name.as_str());
                            tr class=(sla) data-request-id=(r.id) {
                                td { a href=(format!("/v1/refund-requests/{}", r.id)) { code { (r.id) } } }
                                td { (merchant) }
                                td { (r.policy_id.as_deref().unwrap_or("")) }
                                td { (r.state) }
                                td class="sla" { (sla.replace('_', " ")) }
                                td { @if let Some(due) = r.due_on { (due) } }
                                td { (r.received_at.format(minute)) }
                            }
                        }
                        @if urgent.is_empty() {
                            tr { td colspan="7" { "No request is at risk or breached." } }
                        }
                    }
                }
                @if urgent.len() > TABLE_LIMIT as usize {
                    p class="meta" {
                        "Only the first " (TABLE_LIMIT) " are shown; "
                        code { "GET /v1/refund-requests?sla=breached" } " and "
                        code { "?sla=at_risk" } " list them all."
                    }
                }

                h2 { "Requests received per day (UTC)" }
                (daily_chart("Requests received per day", &volume, nice_ceiling(most), |v| format!("{v:.0}"), Style::Bars))
                h2 { "Refunds within SLA per day (UTC date of the refund)" }
                (daily_chart("Share of the day's refunds made by their due date", &compliance, 1.0, percent, Style::Line))
            }
        }
    }
}

fn percent(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

/// The top of a count axis: at least 2 (so half of it is a whole number), even.
fn nice_ceiling(max: f64) -> f64 {
    let top = max.ceil().max(2.0);
    top + top % 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_axes_end_on_an_even_number() {
        assert_eq!(nice_ceiling(0.0), 2.0);
        assert_eq!(nice_ceiling(7.0), 8.0);
        assert_eq!(nice_ceiling(8.0), 8.0);
    }
}
