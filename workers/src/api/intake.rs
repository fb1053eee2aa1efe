//! `POST /v1/intake/email`: a raw RFC 5322 message from a mail provider's inbound webhook,
//! taken in exactly as the IMAP reader takes a message from the mailbox.

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use shared::api_keys::{ApiRole, MerchantScope};
use shared::intake::MAX_RAW_BYTES;

use super::ApiContext;
use super::auth::Authenticated;
use super::limits::BodyDeadline;
use super::problem::{ApiError, KeyProblems, Problem};
use crate::intake::{IntakeOutcome, Source};

pub fn router() -> Router<ApiContext> {
    // The handler reads the raw body itself, to MAX_RAW_BYTES, after the role check.
    Router::new().route("/v1/intake/email", post(take_email))
}

/// The raw message, exactly as received (documentation only).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct RawEmail(Vec<u8>);

/// Takes in one raw email: a new application, a reply to an open request, or machine mail.
/// The refunds mailbox is every merchant's, so this needs an intake key created for
/// `all-merchants`; a key of one merchant registers that merchant's payments only.
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
        (status = 422, description = "over the intake's limits (too many attachments, or one larger than the upload limit): refused whole, only the reason kept", body = IntakeOutcome),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        KeyProblems,
        (status = 413, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn take_email(
    State(ctx): State<ApiContext>,
    caller: Authenticated,
    deadline: Option<axum::Extension<BodyDeadline>>,
    body: Body,
) -> Result<(StatusCode, Json<IntakeOutcome>), ApiError> {
    let caller = caller.require(&[ApiRole::Intake], "submit raw emails")?;
    // What an email opens or answers is decided by its sender and the payment it names, for
    // any merchant, as for the mailbox; a key of one merchant must not reach the others.
    if caller.scope != MerchantScope::AllMerchants {
        return Err(ApiError::forbidden(format!(
            "an intake key of merchant {} may not submit raw emails: the refunds mailbox serves every merchant; that needs an intake key created with --merchant {}",
            caller.scope,
            MerchantScope::ALL_MERCHANTS
        )));
    }
    // The role first, the body after: only an intake key gets to send megabytes.
    let body = axum::body::to_bytes(body, MAX_RAW_BYTES)
        .await
        .map_err(|e| {
            if let Some(late) = BodyDeadline::timed_out(deadline.as_deref()) {
                late
            } else if std::error::Error::source(&e).is_some_and(
                <dyn std::error::Error + 'static>::is::<http_body_util::LengthLimitError>,
            ) {
                ApiError::too_large(format!(
                    "the message is over the {MAX_RAW_BYTES}-byte limit for the refunds mailbox"
                ))
            } else {
                ApiError::malformed(format!("the body could not be read: {e}"), None)
            }
        })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::malformed(
            "the body is empty; send the raw message (RFC 5322) as the request body",
            None,
        ));
    }
    let outcome = ctx
        .intake
        .take(&body, Source::Api)
        .await
        .map_err(ApiError::internal)?;
    let status = match outcome.outcome.as_str() {
        "created" => StatusCode::CREATED,
        "failed" => StatusCode::ACCEPTED,
        "refused" => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    Ok((status, Json(outcome)))
}
