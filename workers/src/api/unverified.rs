//! Unverified emails: messages that named a payment or a request that is not their sender's
//! (see the intake's claims). Support and supervisors list them (`GET /v1/unverified-emails`,
//! newest first, page by page: sender, subject, what each claimed; never the body) and accept
//! one (`POST /v1/unverified-emails/{id}/accept`), which takes it in as if its sender were the
//! payer or the request's contact, with an audit event naming who accepted it.

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::api_keys::ApiRole;
use shared::names::Named;
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::ApiContext;
use super::auth::Authenticated;
use super::extract::PathText;
use super::payments::parse_id;
use super::problem::{ApiError, FieldProblem, KeyProblems, Problem};
use crate::intake::AcceptRefused;

const READERS: [ApiRole; 2] = [ApiRole::Support, ApiRole::Supervisor];

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/v1/unverified-emails", get(list))
        .route("/v1/unverified-emails/{id}/accept", post(accept))
}

/// An email that named a payment or request that is not its sender's. It changed nothing.
#[derive(Serialize, ToSchema)]
pub struct UnverifiedEmail {
    pub id: Uuid,
    pub received_at: DateTime<Utc>,
    /// The From address (not verified: anyone can write any From).
    pub sender: Option<String>,
    /// The subject, card numbers masked.
    pub subject: Option<String>,
    pub language: Option<String>,
    /// The registered payment it named, whose customer address is another.
    pub claimed_payment_id: Option<Uuid>,
    /// That payment's gateway transaction id.
    pub claimed_transaction_id: Option<String>,
    /// The request it named (by our Message-ID or its RF- tag), whose contact is another.
    pub claimed_request_id: Option<Uuid>,
    /// The merchant of what it claimed.
    pub merchant: Option<String>,
    /// The email asking the payment's customer address to confirm this one: `pending`,
    /// `confirmed`, `accepted` or `expired`; absent when none was written for it (the payment
    /// has no customer address, a confirmation for an earlier claim was still waiting, or it
    /// named a request).
    pub confirmation: Option<String>,
    /// `waiting`, `confirmed` (the payer replied from the payment's address) or `accepted`
    /// (by support).
    #[schema(value_type = UnverifiedStatus)]
    pub status: String,
    /// The request it opened or joined once confirmed or accepted.
    pub request_id: Option<Uuid>,
    /// Who confirmed or accepted it (`intake:email` for the payer's reply, else the API key).
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Where an unverified email stands.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, ToSchema, strum::IntoStaticStr, strum::VariantArray,
)]
#[schema(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum UnverifiedStatus {
    /// Neither confirmed nor accepted yet.
    Waiting,
    /// The payer replied to the confirmation email from the payment's address.
    Confirmed,
    /// Support accepted it.
    Accepted,
}

impl UnverifiedStatus {
    fn parse(text: &str) -> Option<Self> {
        Self::from_name(text)
    }

    fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Serialize, ToSchema)]
pub struct UnverifiedEmailPage {
    pub items: Vec<UnverifiedEmail>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UnverifiedQuery {
    /// Only emails in this state (default: all).
    #[param(value_type = Option<UnverifiedStatus>)]
    pub status: Option<String>,
    /// Only emails claiming this merchant's payments or requests.
    pub merchant: Option<String>,
    /// From the `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Which unverified emails a page shows.
pub struct UnverifiedFilter<'a> {
    pub status: Option<UnverifiedStatus>,
    pub merchant: Option<&'a str>,
    /// Ids below this one (the previous page's last).
    pub before: Option<Uuid>,
    pub limit: i64,
    /// Only this email.
    pub id: Option<Uuid>,
}

/// Unverified emails, newest first (with `id`, that one email, if it is unverified).
pub async fn page(
    conn: &mut PgConnection,
    filter: &UnverifiedFilter<'_>,
) -> sqlx::Result<Vec<UnverifiedEmail>> {
    sqlx::query_as!(
        UnverifiedEmail,
        r#"SELECT i.id, i.received_at, i.sender, i.subject, i.language,
                  i.claimed_payment_id, p.gateway_txn_id AS "claimed_transaction_id?",
                  i.claimed_request_id, coalesce(p.merchant, r.merchant) AS merchant,
                  c.status AS "confirmation?",
                  coalesce(i.resolution, 'waiting') AS "status!",
                  i.resolved_request_id AS request_id, i.resolved_by, i.resolved_at
             FROM inbound_emails i
             LEFT JOIN payments p ON p.id = i.claimed_payment_id
             LEFT JOIN refund_requests r ON r.id = i.claimed_request_id
             LEFT JOIN sender_confirmations c ON c.inbound_email_id = i.id
            WHERE i.outcome = 'unverified'
              AND ($1::text IS NULL OR coalesce(i.resolution, 'waiting') = $1)
              AND ($2::text IS NULL OR coalesce(p.merchant, r.merchant) = $2)
              AND ($3::uuid IS NULL OR i.id < $3)
              AND ($5::uuid IS NULL OR i.id = $5)
            ORDER BY i.id DESC LIMIT $4"#,
        filter.status.map(UnverifiedStatus::as_str),
        filter.merchant,
        filter.before,
        filter.limit,
        filter.id
    )
    .fetch_all(conn)
    .await
}

async fn one(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<UnverifiedEmail>> {
    let mut found = page(
        conn,
        &UnverifiedFilter {
            status: None,
            merchant: None,
            before: None,
            limit: 1,
            id: Some(id),
        },
    )
    .await?;
    Ok(found.pop())
}

fn field(field: &str, message: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: field.into(),
        message: message.into(),
    }
}

/// Emails that named a payment or request that is not their sender's, newest first, page by
/// page. The body is not shown; open a claim by accepting it.
#[utoipa::path(get, path = "/v1/unverified-emails", operation_id = "list_unverified_emails", tag = "intake",
    security(("api_key" = [])),
    params(UnverifiedQuery),
    responses(
        (status = 200, body = UnverifiedEmailPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    query: Result<Query<UnverifiedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UnverifiedEmailPage>, ApiError> {
    let caller = caller.require(&READERS, "list unverified emails")?;
    let Query(q) = query.map_err(|e| ApiError::malformed(e.body_text(), Some("query".into())))?;
    let mut errors = Vec::new();
    let status = match q.status.as_deref() {
        None => None,
        Some(text) => UnverifiedStatus::parse(text).or_else(|| {
            errors.push(field("status", "expected waiting, confirmed or accepted"));
            None
        }),
    };
    if let Some(merchant) = &q.merchant
        && merchant.contains('\0')
    {
        errors.push(field(
            "merchant",
            "contains a NUL character; no merchant id does",
        ));
    }
    let before = match q.cursor.as_deref() {
        None => None,
        Some(text) => Uuid::parse_str(text).ok().or_else(|| {
            errors.push(field("cursor", "not a cursor this API gave out"));
            None
        }),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        errors.push(field("limit", "must be between 1 and 200"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation("invalid query", errors));
    }
    // A key of one merchant sees that merchant's emails only; asking for another is an
    // empty list, as for a merchant that does not exist.
    let Some(merchant) = caller.scope.narrow(q.merchant.as_deref()) else {
        return Ok(Json(UnverifiedEmailPage {
            items: Vec::new(),
            next_cursor: None,
        }));
    };
    let mut conn = ctx.db.acquire().await?;
    let mut items = page(
        &mut conn,
        &UnverifiedFilter {
            status,
            merchant,
            before,
            limit: limit + 1,
            id: None,
        },
    )
    .await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|e| e.id.to_string())
    } else {
        None
    };
    Ok(Json(UnverifiedEmailPage { items, next_cursor }))
}

/// Accepts an unverified email as if its sender were verified: a claim on a payment opens a
/// request on it (the sender becomes its contact and gets its emails), a claim on a request
/// joins it (documents, what it says, validated again). Accept only when you know the sender
/// speaks for the payer. The request's history names your key; a second accept is 409.
#[utoipa::path(post, path = "/v1/unverified-emails/{id}/accept", operation_id = "accept_unverified_email", tag = "intake",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "unverified email id")),
    responses(
        (status = 200, body = UnverifiedEmail, description = "accepted; `request_id` is the request it opened or joined"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn accept(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    PathText(id): PathText,
) -> Result<Json<UnverifiedEmail>, ApiError> {
    let caller = caller.require(&READERS, "accept unverified emails")?;
    let id = parse_id(&id)?;
    let not_found = || ApiError::not_found(format!("no unverified email {id}"));
    // Another merchant's email answers as one that does not exist (the intake checks the
    // scope under the row's lock).
    let accepted = ctx
        .intake
        .accept(id, caller.scope.merchant(), &caller.actor())
        .await
        .map_err(ApiError::internal)?;
    match accepted {
        Ok(_) => {}
        Err(AcceptRefused::NotFound) => return Err(not_found()),
        Err(AcceptRefused::Resolved {
            resolution,
            request_id,
        }) => {
            let request = request_id.map_or_else(String::new, |r| format!(" (request {r})"));
            return Err(ApiError::conflict(
                "already-resolved",
                format!("this email was {resolution} before{request}; nothing was done again"),
            ));
        }
        Err(AcceptRefused::Unreadable) => {
            return Err(ApiError::conflict(
                "unreadable",
                "the email's stored copy can no longer be read; ask the sender to write from the payment's address",
            ));
        }
    }
    let mut conn = ctx.db.acquire().await?;
    let view = one(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unverified email {id} vanished")))?;
    Ok(Json(view))
}
