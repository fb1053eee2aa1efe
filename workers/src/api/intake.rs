//! `POST /v1/intake/email`: a raw RFC 5322 message from a mail provider's inbound webhook,
//! taken in exactly as the IMAP reader takes a message from the mailbox.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use shared::api_keys::ApiRole;
use shared::intake::MAX_RAW_BYTES;

use super::ApiContext;
use super::auth::Authenticated;
use super::problem::{ApiError, KeyProblems, Problem};
use crate::roles::intake::{IntakeOutcome, Source};

pub fn router() -> Router<ApiContext> {
    Router::new().route(
        "/v1/intake/email",
        post(take_email).layer(DefaultBodyLimit::max(MAX_RAW_BYTES)),
    )
}

/// The raw message, exactly as received (documentation only).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct RawEmail(Vec<u8>);

/// Takes in one raw email: a new application, a reply to an open request, or machine mail.
///
/// The same message twice (same Message-ID, or the same bytes when it has none) is taken in
/// once: the second answer says `duplicate` with the request the first opened. Auto-replies,
/// bounces and list mail open nothing and are never answered. A message that names a payment
/// or request that is not its sender's changes nothing (outcome `unverified`, see
/// `/v1/unverified-emails`). A message that cannot be read is kept for a person (outcome
/// `failed`, 202).
#[utoipa::path(post, path = "/v1/intake/email", tag = "intake",
    security(("api_key" = [])),
    request_body(content = RawEmail, content_type = "message/rfc822"),
    responses(
        (status = 201, description = "a new request was opened", body = IntakeOutcome),
        (status = 200, description = "attached to its request, a duplicate, ignored, or unverified", body = IntakeOutcome),
        (status = 202, description = "not readable as an email; kept for a person", body = IntakeOutcome),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 413, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn take_email(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<IntakeOutcome>), ApiError> {
    caller.require(&[ApiRole::Intake], "submit raw emails")?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!(
                "the message is over the {MAX_RAW_BYTES}-byte limit for the refunds mailbox"
            ))
        } else {
            ApiError::malformed(e.body_text(), None)
        }
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::malformed(
            "the body is empty; send the raw message (RFC 5322) as the request body",
            None,
        ));
    }
    let outcome = crate::roles::intake_of(&ctx)
        .take(&body, Source::Api)
        .await
        .map_err(ApiError::internal)?;
    let status = match outcome.outcome.as_str() {
        "created" => StatusCode::CREATED,
        "failed" => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    Ok((status, Json(outcome)))
}
