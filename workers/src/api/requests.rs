//! Refund applications: create (idempotent with `Idempotency-Key`), read with full history,
//! list page by page, add missing facts, and the decisions people make (confirm, reject,
//! withdraw). Every accepted write is one transaction with its audit event and outbox rows.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::api_keys::{ApiRole, Caller};
use shared::language::Language;
use shared::lifecycle::{RequestState, check_transition};
use shared::merchants::looks_like_email;
use shared::messages::{Stage, WorkMessage};
use shared::money::{DecimalAmount, Money};
use shared::outbox::OutboxMessage;
use shared::payments::{self, Payment};
use shared::policy::{Facts, Reason};
use shared::requests::{self, Channel, NewRequest, RequestRecord};
use shared::transition::{self, Transition, TransitionError};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::ApiContext;
use super::auth::{Authenticated, must_see};
use super::extract::{ApiJson, HashedJson, OptionalJson, PathText, TextLimits, TextShape};
use super::payments::parse_id;
use super::problem::{ApiError, FieldProblem, JsonBodyProblems, KeyProblems, Problem};
use super::schemas::{DecimalText, LanguageCode, ReasonName, StateName};

const READERS: [ApiRole; 2] = [ApiRole::Support, ApiRole::Supervisor];

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/v1/refund-requests", post(create).get(list))
        .route("/v1/refund-requests/{id}", get(read))
        .route("/v1/refund-requests/{id}/facts", patch(add_facts))
        .route("/v1/refund-requests/{id}/confirm", post(confirm))
        .route("/v1/refund-requests/{id}/reject", post(reject))
        .route("/v1/refund-requests/{id}/withdraw", post(withdraw))
}

/// The longest email address (RFC 5321's path limit).
pub const EMAIL_MAX: usize = 254;
/// The longest `reason_text` (the customer's own words).
pub const REASON_TEXT_MAX: usize = 4000;
/// The longest `bank_details` (IBAN and bank, a line or two).
pub const BANK_DETAILS_MAX: usize = 200;
/// The longest note or reason a person writes into the history.
pub const NOTE_MAX: usize = 2000;

/// Which payment the refund is for: its id, or the gateway and its transaction id.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRef {
    pub id: Option<Uuid>,
    #[schema(max_length = 200)]
    pub gateway: Option<String>,
    #[schema(max_length = 200)]
    pub transaction_id: Option<String>,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[schema(max_length = 254)]
    pub email: String,
    /// One line.
    #[schema(max_length = 200)]
    pub name: Option<String>,
}

/// A refund application.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefundRequest {
    pub payment: PaymentRef,
    /// `withdrawal`, `not_delivered`, `force_majeure`, `erroneous_charge`,
    /// `out_of_stock_difference` or `advance_balance`.
    #[schema(value_type = ReasonName)]
    pub reason: Reason,
    /// Facts the policy may need (`progress_percent`, `access_started_at`, `reason_text`, ...);
    /// unknown names are refused. `reason_text` holds at most 4000 characters and
    /// `bank_details` 200 (line breaks allowed); other text facts one line of 200.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub facts: Facts,
    /// Where to email the customer (default: the payment's customer email).
    pub contact: Option<Contact>,
    /// `ru`, `kk`, `lv` or `en` (default: the payment's, then the merchant's).
    #[schema(value_type = Option<LanguageCode>)]
    pub language: Option<String>,
    /// When the application first reached the merchant, if before now (RFC 3339).
    pub received_at: Option<DateTime<FixedOffset>>,
}

impl TextLimits for NewRefundRequest {
    const TEXT: &'static [(&'static str, usize, TextShape)] = &[
        ("contact.email", EMAIL_MAX, TextShape::Line),
        ("facts.reason_text", REASON_TEXT_MAX, TextShape::Lines),
        ("facts.bank_details", BANK_DETAILS_MAX, TextShape::Lines),
    ];
}

impl TextLimits for Facts {
    const TEXT: &'static [(&'static str, usize, TextShape)] = &[
        ("reason_text", REASON_TEXT_MAX, TextShape::Lines),
        ("bank_details", BANK_DETAILS_MAX, TextShape::Lines),
    ];
}

/// The answer to an accepted application.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub id: Uuid,
    /// Always `received`: the state the application was accepted in.
    pub state: String,
    pub status_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub from: Option<String>,
    pub to: String,
    pub reason: Option<String>,
    #[schema(value_type = Object)]
    pub details: Value,
}

#[derive(Serialize, ToSchema)]
pub struct RefundRequestView {
    pub id: Uuid,
    pub merchant: Option<String>,
    pub policy: Option<String>,
    pub policy_version: Option<String>,
    pub state: String,
    pub version: i32,
    pub channel: String,
    pub reason: Option<String>,
    #[schema(value_type = Object)]
    pub facts: Value,
    pub payment_id: Option<Uuid>,
    /// The refund amount once decided, as a decimal string.
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub received_at: DateTime<Utc>,
    pub complete_at: Option<DateTime<Utc>>,
    /// The local date the money must be back by.
    pub due_on: Option<NaiveDate>,
    /// `on_track`, `at_risk`, `breached` or `paused` (waiting on the customer).
    pub sla: Option<String>,
    /// The policy decision with its clause, as the engine gave it: `clause` in English and
    /// `clause_translations` with the pack's other languages (`{"ru": "..."}`).
    #[schema(value_type = Option<Object>)]
    pub decision: Option<Value>,
    pub contact_email: Option<String>,
    pub language: Option<String>,
    pub history: Vec<EventView>,
}

#[derive(Serialize, ToSchema)]
pub struct RefundRequestSummary {
    pub id: Uuid,
    pub merchant: Option<String>,
    pub policy: Option<String>,
    pub state: String,
    pub reason: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub received_at: DateTime<Utc>,
    pub due_on: Option<NaiveDate>,
    pub sla: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RefundRequestPage {
    pub items: Vec<RefundRequestSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn amount_text(minor: Option<i64>, currency: Option<&str>) -> Option<String> {
    let currency = currency?.parse().ok()?;
    Some(Money::from_minor(minor?, currency).amount_text())
}

fn summary(r: RequestRecord) -> RefundRequestSummary {
    RefundRequestSummary {
        amount: amount_text(r.amount_minor, r.currency.as_deref()),
        id: r.id,
        merchant: r.merchant,
        policy: r.policy_id,
        state: r.state.to_string(),
        reason: r.reason.map(|reason| reason.to_string()),
        currency: r.currency,
        received_at: r.received_at,
        due_on: r.due_on,
        sla: r.sla_state.map(|sla| sla.to_string()),
    }
}

fn field(field: &str, message: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: field.into(),
        message: message.into(),
    }
}

/// The payment an application names, when it is one of the caller's merchant's: another
/// merchant's payment gets the answer of one never registered.
async fn find_payment(
    conn: &mut PgConnection,
    caller: &Caller,
    r: &PaymentRef,
) -> Result<Payment, ApiError> {
    let found = match (r.id, &r.gateway, &r.transaction_id) {
        (Some(id), None, None) => payments::find(conn, id).await?,
        (None, Some(gateway), Some(txn)) => payments::find_by_gateway(conn, gateway, txn).await?,
        _ => {
            return Err(ApiError::field(
                "payment",
                "give either payment.id, or payment.gateway and payment.transaction_id",
            ));
        }
    };
    found
        .filter(|p| caller.sees(Some(&p.merchant)))
        .ok_or_else(|| {
            ApiError::field(
                "payment",
                "no such payment is registered; register it with POST /v1/payments first",
            )
        })
}

fn accepted(id: Uuid, replayed: bool) -> Response {
    let status_url = format!("/v1/refund-requests/{id}");
    let mut response = (
        StatusCode::ACCEPTED,
        Json(Accepted {
            id,
            state: RequestState::Received.as_str().into(),
            status_url: status_url.clone(),
        }),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&status_url) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// The `Idempotency-Key` header, scoped to the caller's key so clients cannot collide.
fn idempotency_key(headers: &HeaderMap, caller: &Caller) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .ok_or_else(|| {
            ApiError::field(
                "Idempotency-Key",
                "must be 1-200 printable ASCII characters",
            )
        })?;
    Ok(Some(format!("{}:{key}", caller.key_id)))
}

/// What a replayed key answers: the same request for the same body, 409 for another.
fn replay(existing: RequestRecord, hash: &str) -> Result<Response, ApiError> {
    if existing.request_hash.as_deref() == Some(hash) {
        Ok(accepted(existing.id, true))
    } else {
        Err(ApiError::conflict(
            "idempotency-key-reused",
            format!(
                "this Idempotency-Key was already used for a different application ({}); use a new key for a new application",
                existing.id
            ),
        ))
    }
}

/// Submits a refund application. Answers 202 with the id and where to follow it.
#[utoipa::path(post, path = "/v1/refund-requests", operation_id = "create_refund_request", tag = "refund requests",
    security(("api_key" = [])),
    request_body = NewRefundRequest,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, description = "same key and body: the same answer; same key, other body: 409")),
    responses(
        (status = 202, body = Accepted),
        JsonBodyProblems,
        KeyProblems,
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    headers: HeaderMap,
    HashedJson(body, hash): HashedJson<NewRefundRequest>,
) -> Result<Response, ApiError> {
    let caller = caller.require(&READERS, "submit refund applications")?;
    let key = idempotency_key(&headers, caller)?;
    let mut tx = ctx.db.begin().await?;
    if let Some(key) = &key
        && let Some(existing) = requests::find_by_idempotency_key(&mut tx, key).await?
    {
        return replay(existing, &hash);
    }
    let payment = find_payment(&mut tx, caller, &body.payment).await?;

    let mut errors = Vec::new();
    let email = body
        .contact
        .as_ref()
        .map(|c| c.email.trim().to_string())
        .or_else(|| payment.customer_email.clone());
    match &email {
        Some(e) if !looks_like_email(e) => errors.push(field(
            "contact.email",
            format!("{e:?} is not an email address"),
        )),
        None => errors.push(field(
            "contact.email",
            "the payment has no customer email; give contact.email",
        )),
        _ => {}
    }
    if let Some(lang) = &body.language
        && Language::exact(lang).is_none()
    {
        errors.push(field("language", Language::EXPECTED));
    }
    let now = Utc::now();
    let received_at = body
        .received_at
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    if received_at > now + chrono::Duration::minutes(5) {
        errors.push(field("received_at", "cannot be in the future"));
    }
    if received_at < payment.paid_at {
        errors.push(field(
            "received_at",
            "cannot be before the payment was made",
        ));
    }
    if let Some(c) = &body.contact
        && let Some(name) = &c.name
        && shared::cards::contains_card_number(name)
    {
        errors.push(field(
            "contact.name",
            "looks like a card number; never send card numbers",
        ));
    }
    if let Some(text) = &body.facts.reason_text
        && shared::cards::contains_card_number(text)
    {
        errors.push(field(
            "facts.reason_text",
            "contains what looks like a card number; remove it (card numbers are never needed)",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(
            format!("{} problem(s) with the application", errors.len()),
            errors,
        ));
    }
    let merchant = ctx.merchants.get(&payment.merchant);
    let language = body
        .language
        .clone()
        .or_else(|| payment.customer_language.clone())
        .or_else(|| merchant.map(|m| m.default_language.clone()));
    let mut facts = serde_json::to_value(&body.facts).expect("facts serialize");
    if let Some(name) = body.contact.as_ref().and_then(|c| c.name.clone()) {
        facts[requests::CUSTOMER_NAME] = json!(name);
    }
    let facts = strip_nulls(facts);

    let id = Uuid::now_v7();
    let new = NewRequest {
        id,
        payment_id: Some(payment.id),
        merchant: Some(payment.merchant.clone()),
        channel: Channel::Api,
        reason: Some(reason_name(body.reason)),
        facts,
        policy_id: Some(payment.policy.clone()),
        currency: Some(payment.currency.code().to_string()),
        received_at,
        contact_email: email,
        language,
        idempotency_key: key.clone(),
        request_hash: Some(hash.clone()),
    };
    let messages = [
        OutboxMessage::from(WorkMessage::new(Stage::Validate, id).with_version(1)),
        OutboxMessage::from(WorkMessage::new(Stage::Notify, id).with_event("received")),
    ];
    let created = requests::create(&mut tx, &new, &caller.actor(), &messages).await;
    match created {
        Ok(()) => {}
        Err(sqlx::Error::Database(e))
            if e.constraint() == Some("refund_requests_idempotency_key") =>
        {
            // Another call with the same key won the race: answer as a replay.
            drop(tx);
            let mut conn = ctx.db.acquire().await?;
            let existing =
                requests::find_by_idempotency_key(&mut conn, key.as_deref().unwrap_or(""))
                    .await?
                    .ok_or_else(|| {
                        ApiError::internal(anyhow::anyhow!("idempotency row vanished"))
                    })?;
            return replay(existing, &hash);
        }
        Err(e) => return Err(e.into()),
    }
    engine_accepts(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    tracing::info!(request_id = %id, merchant = payment.merchant, "refund application accepted");
    Ok(accepted(id, false))
}

/// Runs the policy engine's checks over request `id` as it stands in this transaction:
/// facts the engine would refuse (a negative balance, more decimals than the currency has, a
/// date its calendar cannot count) are a 422 for the person who typed them, not a message
/// the decide stage would have to park. Missing facts are not an error here.
async fn engine_accepts(
    ctx: &ApiContext,
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<(), ApiError> {
    let Some(record) = requests::find(conn, id).await? else {
        return Ok(());
    };
    let Some(payment) = (match record.payment_id {
        Some(p) => payments::find(conn, p).await?,
        None => None,
    }) else {
        return Ok(());
    };
    let refused = |e: shared::policy::QuoteError| {
        let field = match &e {
            shared::policy::QuoteError::BadAmount { field, .. }
            | shared::policy::QuoteError::NegativeAmount { field } => field.to_string(),
            _ => "facts".to_string(),
        };
        ApiError::field(field, format!("{e}; the policy cannot decide on it"))
    };
    let facts = requests::policy_facts(&record).map_err(|e| ApiError::field("facts", e))?;
    shared::policy::decide::check_amount_facts(&facts, payment.currency).map_err(refused)?;
    if record.reason.is_none() {
        return Ok(());
    }
    let Some(pack) = ctx.packs.get(&payment.policy) else {
        return Ok(());
    };
    let input = requests::quote_input(
        &record,
        &payment,
        Money::from_minor(0, payment.currency),
        Vec::new(),
    )
    .map_err(|e| ApiError::field("facts", e))?;
    shared::policy::decide(pack, ctx.calendars.get(pack.country()), &input)
        .map(|_| ())
        .map_err(refused)
}

fn reason_name(reason: Reason) -> String {
    reason.name().to_string()
}

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    }
}

/// One refund request: state, decision with its clause, amount, due date and full history.
#[utoipa::path(get, path = "/v1/refund-requests/{id}", operation_id = "read_refund_request", tag = "refund requests",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    responses(
        (status = 200, body = RefundRequestView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn read(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    PathText(id): PathText,
) -> Result<Json<RefundRequestView>, ApiError> {
    let caller = caller.require(&READERS, "read refund requests")?;
    let id = parse_id(&id)?;
    let mut conn = ctx.db.acquire().await?;
    Ok(Json(view(&mut conn, caller, id).await?))
}

/// The answer for a request that does not exist, or is another merchant's.
pub(super) fn no_request(id: Uuid) -> ApiError {
    ApiError::not_found(format!("no refund request {id}"))
}

/// A request the caller may see: another merchant's answers as one that does not exist.
pub(super) async fn find_visible(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<RequestRecord, ApiError> {
    let record = requests::find(conn, id)
        .await?
        .ok_or_else(|| no_request(id))?;
    must_see(caller, record.merchant.as_deref(), || no_request(id))?;
    Ok(record)
}

async fn view(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<RefundRequestView, ApiError> {
    let r = find_visible(conn, caller, id).await?;
    let history = requests::history(conn, id)
        .await?
        .into_iter()
        .map(|e| EventView {
            at: e.at,
            actor: e.actor,
            from: e.from,
            to: e.to,
            reason: e.reason,
            details: e.details,
        })
        .collect();
    Ok(RefundRequestView {
        amount: amount_text(r.amount_minor, r.currency.as_deref()),
        id: r.id,
        merchant: r.merchant,
        policy: r.policy_id,
        policy_version: r.policy_version,
        state: r.state.to_string(),
        version: r.version,
        channel: r.channel,
        reason: r.reason.map(|reason| reason.to_string()),
        facts: r.facts,
        payment_id: r.payment_id,
        currency: r.currency,
        received_at: r.received_at,
        complete_at: r.complete_at,
        due_on: r.due_on,
        sla: r.sla_state.map(|sla| sla.to_string()),
        decision: r.decision,
        contact_email: r.contact_email,
        language: r.language.map(|language| language.to_string()),
        history,
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only requests in this state.
    #[param(value_type = Option<StateName>)]
    pub state: Option<String>,
    /// Only this merchant's requests.
    pub merchant: Option<String>,
    /// Only open requests in this SLA state: `on_track`, `at_risk`, `breached` or `paused`.
    pub sla: Option<String>,
    /// `newest` (newest first) or `due_on` (earliest due date first, requests without a due
    /// date last). Default: `due_on` when `sla` is given, `newest` otherwise.
    #[param(value_type = Option<ListSort>)]
    pub sort: Option<String>,
    /// From the `next_cursor` of the previous page (with the same `sort`).
    pub cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// The order of a list of refund requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ListSort {
    /// Newest first.
    Newest,
    /// Earliest due date first; requests without a due date last.
    DueOn,
}

impl ListSort {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "newest" => Some(ListSort::Newest),
            "due_on" => Some(ListSort::DueOn),
            _ => None,
        }
    }
}

/// Where the next page starts, as the cursor text this API gives out: the last id for
/// `newest`, `due:<date or none>:<id>` for `due_on`.
enum Cursor {
    Newest(Uuid),
    DueOn(requests::DueCursor),
}

impl Cursor {
    fn of(sort: ListSort, last: &RequestRecord) -> String {
        match sort {
            ListSort::Newest => last.id.to_string(),
            ListSort::DueOn => format!(
                "due:{}:{}",
                last.due_on
                    .map_or_else(|| "none".to_string(), |d| d.to_string()),
                last.id
            ),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        if let Some(rest) = text.strip_prefix("due:") {
            let (due, id) = rest.split_once(':')?;
            let due_on = match due {
                "none" => None,
                d => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?),
            };
            let id = Uuid::parse_str(id).ok()?;
            return Some(Cursor::DueOn(requests::DueCursor { due_on, id }));
        }
        Uuid::parse_str(text).ok().map(Cursor::Newest)
    }
}

/// Refund requests page by page: newest first, or by due date (`sort=due_on`, the default
/// with an `sla` filter, so the most urgent come first). Keyset pagination: pages stay stable
/// while new requests arrive.
#[utoipa::path(get, path = "/v1/refund-requests", operation_id = "list_refund_requests", tag = "refund requests",
    security(("api_key" = [])),
    params(ListQuery),
    responses(
        (status = 200, body = RefundRequestPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RefundRequestPage>, ApiError> {
    let caller = caller.require(&READERS, "list refund requests")?;
    let Query(q) = query.map_err(|e| ApiError::malformed(e.body_text(), Some("query".into())))?;
    let mut errors = Vec::new();
    if let Some(state) = &q.state
        && state.parse::<RequestState>().is_err()
    {
        errors.push(field(
            "state",
            format!("unknown state {state:?}; states are received, validating, needs_info, approved, awaiting_confirmation, manual_review, rejected, payout_pending, payout_sent, refunded, payout_failed, needs_bank_details, manual_payout, withdrawn"),
        ));
    }
    if let Some(sla) = &q.sla
        && let Err(e) = sla.parse::<shared::sla::SlaState>()
    {
        errors.push(field("sla", e));
    }
    if let Some(merchant) = &q.merchant
        && merchant.contains('\0')
    {
        errors.push(field(
            "merchant",
            "contains a NUL character; no merchant id does",
        ));
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        errors.push(field("limit", "must be between 1 and 200"));
    }
    let sort = match q.sort.as_deref() {
        None if q.sla.is_some() => ListSort::DueOn,
        None => ListSort::Newest,
        Some(text) => ListSort::parse(text).unwrap_or_else(|| {
            errors.push(field("sort", "expected newest or due_on"));
            ListSort::Newest
        }),
    };
    let cursor = match &q.cursor {
        Some(c) => match Cursor::parse(c) {
            Some(cursor) => Some(cursor),
            None => {
                errors.push(field("cursor", "not a cursor this API gave out"));
                None
            }
        },
        None => None,
    };
    let (before, after) = match cursor {
        None => (None, None),
        Some(Cursor::Newest(id)) if sort == ListSort::Newest => (Some(id), None),
        Some(Cursor::DueOn(c)) if sort == ListSort::DueOn => (None, Some(c)),
        Some(_) => {
            errors.push(field(
                "cursor",
                "this cursor belongs to a list in another order; pass the same sort as for the previous page",
            ));
            (None, None)
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::validation("invalid query", errors));
    }
    // Another merchant asked for is an empty list, as a merchant that does not exist is.
    let Some(merchant) = caller.scope.narrow(q.merchant.as_deref()) else {
        return Ok(Json(RefundRequestPage {
            items: Vec::new(),
            next_cursor: None,
        }));
    };
    let mut conn = ctx.db.acquire().await?;
    let (state, sla) = (q.state.as_deref(), q.sla.as_deref());
    let mut rows = match sort {
        ListSort::Newest => {
            requests::list(&mut conn, state, merchant, sla, before, limit + 1).await?
        }
        ListSort::DueOn => {
            requests::list_by_due_date(&mut conn, state, merchant, sla, after, limit + 1).await?
        }
    };
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| Cursor::of(sort, r))
    } else {
        None
    };
    Ok(Json(RefundRequestPage {
        items: rows.into_iter().map(summary).collect(),
        next_cursor,
    }))
}

/// Loads and locks a request for a write by a person; another merchant's answers as one that
/// does not exist.
async fn lock(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<(RequestRecord, i32), ApiError> {
    let (_, version) = transition::lock_state(conn, id)
        .await
        .map_err(|e| match e {
            TransitionError::NotFound(_) => no_request(id),
            other => ApiError::internal(other),
        })?;
    let record = find_visible(conn, caller, id).await?;
    Ok((record, version))
}

fn illegal(record: &RequestRecord, to: RequestState, what: &str) -> ApiError {
    ApiError::conflict(
        "illegal-transition",
        format!(
            "cannot {what}: the request is {} and cannot go to {to}",
            record.state
        ),
    )
}

/// Adds facts that were missing (later values replace earlier ones). A request waiting for
/// information is validated again.
#[utoipa::path(patch, path = "/v1/refund-requests/{id}/facts", operation_id = "add_refund_request_facts", tag = "refund requests",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    request_body(content = Object, description = "facts by name, e.g. {\"progress_percent\": 35}; `reason_text` at most 4000 characters, `bank_details` 200, other text one line of 200"),
    responses(
        (status = 200, body = RefundRequestView),
        JsonBodyProblems,
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_facts(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    PathText(id): PathText,
    ApiJson(new_facts): ApiJson<Facts>,
) -> Result<Json<RefundRequestView>, ApiError> {
    let caller = caller.require(&READERS, "add facts")?;
    let id = parse_id(&id)?;
    if let Some(text) = &new_facts.reason_text
        && shared::cards::contains_card_number(text)
    {
        return Err(ApiError::field(
            "reason_text",
            "contains what looks like a card number; remove it",
        ));
    }
    let added = strip_nulls(serde_json::to_value(&new_facts).expect("facts serialize"));
    if added.as_object().is_none_or(serde_json::Map::is_empty) {
        return Err(ApiError::field("body", "give at least one fact"));
    }
    let mut tx = ctx.db.begin().await?;
    let (record, version) = lock(&mut tx, caller, id).await?;
    let state = record.state();
    let mut merged = record.facts.clone();
    if let (Some(target), Some(source)) = (merged.as_object_mut(), added.as_object()) {
        for (k, v) in source {
            target.insert(k.clone(), v.clone());
        }
    }
    requests::replace_facts(&mut tx, id, &merged).await?;
    engine_accepts(&ctx, &mut tx, id).await?;
    match state {
        RequestState::NeedsInfo => {
            let validate = WorkMessage::new(Stage::Validate, id).with_version(version + 1);
            transition::apply(
                &mut tx,
                &Transition {
                    request_id: id,
                    expected_version: version,
                    from: state,
                    to: RequestState::Validating,
                    actor: &caller.actor(),
                    reason: Some("missing facts added"),
                    details: json!({"facts_added": added}),
                },
                &[validate.into()],
            )
            .await?;
        }
        RequestState::Received | RequestState::Validating => {
            // Not decided yet: the running validation will see the new facts.
        }
        _ => {
            return Err(ApiError::conflict(
                "already-decided",
                format!(
                    "the request is {}; new facts can no longer change its decision",
                    record.state
                ),
            ));
        }
    }
    tx.commit().await?;
    let mut conn = ctx.db.acquire().await?;
    Ok(Json(view(&mut conn, caller, id).await?))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    /// Required for a request in manual review: the amount to refund (a decimal string).
    #[schema(value_type = Option<DecimalText>)]
    pub amount: Option<String>,
    /// Why, for the history.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

impl TextLimits for ConfirmBody {
    const TEXT: &'static [(&'static str, usize, TextShape)] =
        &[("note", NOTE_MAX, TextShape::Lines)];
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Why, in words the customer will read.
    #[schema(max_length = 2000)]
    pub reason: String,
}

impl TextLimits for RejectBody {
    const TEXT: &'static [(&'static str, usize, TextShape)] =
        &[("reason", NOTE_MAX, TextShape::Lines)];
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct WithdrawBody {
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

impl TextLimits for WithdrawBody {
    const TEXT: &'static [(&'static str, usize, TextShape)] =
        &[("note", NOTE_MAX, TextShape::Lines)];
}

/// Confirms a decision that awaits confirmation (a key whose role the policy pack's
/// `confirm_roles` names: support and supervisor unless the pack says fewer), or decides a
/// request in manual review with an amount (a supervisor). The request moves to approved and
/// on to payout.
#[utoipa::path(post, path = "/v1/refund-requests/{id}/confirm", operation_id = "confirm_refund_request", tag = "refund requests",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    request_body(content = Option<ConfirmBody>),
    responses(
        (status = 200, body = RefundRequestView),
        JsonBodyProblems,
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn confirm(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    PathText(id): PathText,
    OptionalJson(body): OptionalJson<ConfirmBody>,
) -> Result<Json<RefundRequestView>, ApiError> {
    let caller = caller.require(&READERS, "confirm refunds")?;
    let id = parse_id(&id)?;
    let mut tx = ctx.db.begin().await?;
    let (record, version) = lock(&mut tx, caller, id).await?;
    let state = record.state();
    check_transition(state, RequestState::Approved)
        .map_err(|_| illegal(&record, RequestState::Approved, "confirm"))?;
    let payment_id = record.payment_id.ok_or_else(|| {
        ApiError::conflict("no-payment", "the request is not matched to a payment")
    })?;
    // Approvals on one payment happen one at a time: a concurrent confirm of another request
    // on the same payment waits here and then sees this one's amount as committed.
    let payment = payments::lock(&mut tx, payment_id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("payment {payment_id} missing")))?;
    let pack = ctx
        .packs
        .get(&payment.policy)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("pack {} missing", payment.policy)))?;
    // Who confirms the engine's decision is the pack's choice (`confirm_roles`); deciding an
    // amount in manual review is a supervisor's.
    match state {
        RequestState::AwaitingConfirmation => {
            if !pack.confirm_roles().contains(&caller.role) {
                let roles: Vec<&str> = pack.confirm_roles().iter().map(|r| r.as_str()).collect();
                return Err(ApiError::forbidden(format!(
                    "a {} key may not confirm refunds under policy {}; it names {} keys \
                     (`confirm_roles`)",
                    caller.role,
                    pack.id(),
                    roles.join(" or ")
                )));
            }
        }
        _ => {
            if caller.role != ApiRole::Supervisor {
                return Err(ApiError::forbidden(format!(
                    "a {} key may not decide a request in manual review; that needs a \
                     supervisor key",
                    caller.role
                )));
            }
        }
    }
    let committed = payments::committed_refunds(&mut tx, payment_id, Some(id)).await?;
    let left = payment.amount.minor() - committed;

    let (amount_minor, due_on, decision) = match state {
        RequestState::AwaitingConfirmation => {
            // The policy counts its SLA from the confirmation date: decide again with it.
            let mut record = record.clone();
            record.facts["approved_at"] = json!(Utc::now().to_rfc3339());
            let refunded = Money::from_minor(committed, payment.currency);
            let input = requests::quote_input(&record, &payment, refunded, Vec::new())
                .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
            let decision = shared::policy::decide(pack, ctx.calendars.get(pack.country()), &input)
                .map_err(|e| ApiError::conflict("policy", e.to_string()))?;
            let amount = decision.amount.map(Money::minor).unwrap_or(0);
            (
                amount,
                decision.refund_due_by,
                Some(shared::policy::StoredDecision::from_engine(&decision)),
            )
        }
        _ => {
            let text = body.amount.as_deref().ok_or_else(|| {
                ApiError::field(
                    "amount",
                    "a request in manual review needs the amount to refund",
                )
            })?;
            let amount = DecimalAmount::parse(text)
                .and_then(|d| d.in_currency(payment.currency))
                .map_err(|e| ApiError::field("amount", e.to_string()))?;
            if amount.minor() <= 0 {
                return Err(ApiError::field("amount", "must be more than zero"));
            }
            // A person's approval keeps the due date the request has; one that has none gets
            // the pack's default SLA, so no approved request goes unwatched.
            let due_on = match record.due_on {
                Some(due) => Some(due),
                None => {
                    let refunded = Money::from_minor(committed, payment.currency);
                    let input = requests::quote_input(&record, &payment, refunded, Vec::new())
                        .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
                    let due = shared::policy::default_due(
                        pack,
                        ctx.calendars.get(pack.country()),
                        &input,
                    )
                    .map_err(|e| ApiError::conflict("policy", e.to_string()))?;
                    Some(due)
                }
            };
            // The stored decision stays: a person chose the amount.
            (amount.minor(), due_on, None)
        }
    };
    if amount_minor <= 0 {
        return Err(ApiError::conflict(
            "nothing-to-refund",
            "the policy leaves nothing to refund",
        ));
    }
    if amount_minor > left {
        return Err(ApiError::conflict(
            "amount-exceeds-payment",
            format!(
                "{} would exceed what is left of the payment ({} of {} {})",
                Money::from_minor(amount_minor, payment.currency).amount_text(),
                Money::from_minor(left.max(0), payment.currency).amount_text(),
                payment.amount.amount_text(),
                payment.currency.code()
            ),
        ));
    }
    requests::record_approval(&mut tx, id, amount_minor, due_on, decision.as_ref()).await?;
    let messages = [OutboxMessage::from(
        WorkMessage::new(Stage::Payout, id).with_version(version + 1),
    )];
    transition::apply(
        &mut tx,
        &Transition {
            request_id: id,
            expected_version: version,
            from: state,
            to: RequestState::Approved,
            actor: &caller.actor(),
            reason: Some(body.note.as_deref().unwrap_or(match caller.role {
                ApiRole::Supervisor => "confirmed by a supervisor",
                _ => "confirmed by support",
            })),
            details: json!({"amount": Money::from_minor(amount_minor, payment.currency).amount_text()}),
        },
        &messages,
    )
    .await?;
    tx.commit().await?;
    let mut conn = ctx.db.acquire().await?;
    Ok(Json(view(&mut conn, caller, id).await?))
}

/// A supervisor rejects a request (awaiting confirmation or in manual review), saying why.
#[utoipa::path(post, path = "/v1/refund-requests/{id}/reject", operation_id = "reject_refund_request", tag = "refund requests",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    request_body = RejectBody,
    responses(
        (status = 200, body = RefundRequestView),
        JsonBodyProblems,
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reject(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    PathText(id): PathText,
    ApiJson(body): ApiJson<RejectBody>,
) -> Result<Json<RefundRequestView>, ApiError> {
    let caller = caller.require(&[ApiRole::Supervisor], "reject refunds")?;
    let id = parse_id(&id)?;
    let reason = body.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::field(
            "reason",
            "say why, in words the customer will read",
        ));
    }
    move_to(
        &ctx,
        caller,
        id,
        Move::new(RequestState::Rejected, reason, "reject"),
    )
    .await
}

/// The customer withdraws the application (any time before payout).
#[utoipa::path(post, path = "/v1/refund-requests/{id}/withdraw", operation_id = "withdraw_refund_request", tag = "refund requests",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "refund request id")),
    request_body(content = Option<WithdrawBody>),
    responses(
        (status = 200, body = RefundRequestView),
        JsonBodyProblems,
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn withdraw(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    PathText(id): PathText,
    OptionalJson(body): OptionalJson<WithdrawBody>,
) -> Result<Json<RefundRequestView>, ApiError> {
    let caller = caller.require(&READERS, "withdraw applications")?;
    let id = parse_id(&id)?;
    let note = body
        .note
        .unwrap_or_else(|| "withdrawn at the customer's request".into());
    move_to(
        &ctx,
        caller,
        id,
        Move::new(RequestState::Withdrawn, &note, "withdraw"),
    )
    .await
}

/// A move a person makes on a request (reject, withdraw, the manual payout steps).
pub(super) struct Move<'a> {
    pub to: RequestState,
    /// Why, for the history.
    pub reason: &'a str,
    /// What the caller tried, for the refusal ("cannot withdraw: ...").
    pub what: &'a str,
    /// The state the request must be in, when only one will do.
    pub from: Option<RequestState>,
    pub details: Value,
    /// Facts to add to the request with the move.
    pub facts: Option<Value>,
}

impl<'a> Move<'a> {
    pub fn new(to: RequestState, reason: &'a str, what: &'a str) -> Self {
        Self {
            to,
            reason,
            what,
            from: None,
            details: json!({}),
            facts: None,
        }
    }
}

/// Applies a person's move in one transaction: lock, check, facts, transition (which queues
/// the customer's email for the new state).
/// Answers the request as it now stands.
pub(super) async fn move_to(
    ctx: &ApiContext,
    caller: &Caller,
    id: Uuid,
    m: Move<'_>,
) -> Result<Json<RefundRequestView>, ApiError> {
    let mut tx = ctx.db.begin().await?;
    let (record, version) = lock(&mut tx, caller, id).await?;
    let from = record.state();
    if m.from.is_some_and(|expected| expected != from) {
        return Err(illegal(&record, m.to, m.what));
    }
    check_transition(from, m.to).map_err(|_| illegal(&record, m.to, m.what))?;
    let mut details = m.details;
    if from.waits_on_customer()
        && !m.to.waits_on_customer()
        && let Some(extended) = extend_due_after_pause(ctx, &mut tx, &record, from).await?
    {
        details["due_on_extended"] = extended;
    }
    if let Some(facts) = &m.facts {
        requests::add_facts(&mut tx, id, facts).await?;
    }
    // The customer's email follows from the new state (`transition::apply`).
    transition::apply(
        &mut tx,
        &Transition {
            request_id: id,
            expected_version: version,
            from,
            to: m.to,
            actor: &caller.actor(),
            reason: Some(m.reason),
            details,
        },
        &[],
    )
    .await?;
    tx.commit().await?;
    let mut conn = ctx.db.acquire().await?;
    Ok(Json(view(&mut conn, caller, id).await?))
}

/// The clock stops while a decided request waits on the customer (bank details): when it goes
/// on, its due date moves later by the working days the wait took (see
/// [`shared::sla::due_after_pause`]). Returns what changed, for the audit event; `None` when
/// the request has no due date or no known calendar.
async fn extend_due_after_pause(
    ctx: &ApiContext,
    tx: &mut PgConnection,
    record: &RequestRecord,
    waiting: RequestState,
) -> Result<Option<Value>, ApiError> {
    let (Some(due), Some(pack)) = (
        record.due_on,
        record.policy_id.as_deref().and_then(|p| ctx.packs.get(p)),
    ) else {
        return Ok(None);
    };
    let since: Option<DateTime<Utc>> = sqlx::query_scalar!(
        "SELECT max(at) FROM request_events
          WHERE request_id = $1 AND to_state = $2 AND from_state IS DISTINCT FROM $2",
        record.id,
        waiting.as_str()
    )
    .fetch_one(&mut *tx)
    .await?;
    let Some(since) = since else {
        return Ok(None);
    };
    let zone = pack.timezone();
    let paused_on = since.with_timezone(&zone).date_naive();
    let resumed_on = Utc::now().with_timezone(&zone).date_naive();
    let calendar = ctx.calendars.get(pack.country());
    let (new_due, added) = shared::sla::due_after_pause(due, paused_on, resumed_on, calendar)
        .map_err(ApiError::internal)?;
    if added == 0 {
        return Ok(None);
    }
    requests::set_due_on(tx, record.id, new_due).await?;
    tracing::info!(request_id = %record.id, from = %due, to = %new_due, added, "due date extended after the wait on the customer");
    Ok(Some(json!({
        "from": due,
        "to": new_due,
        "paused_working_days": added,
        "paused_on": paused_on,
        "resumed_on": resumed_on,
    })))
}
